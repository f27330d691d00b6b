/* cmd_cluster.c - `twinctl cluster status|move-slot`: a fleet's slots, over NATS and HAProxy's admin
 * socket (README, "Moving a slot"). Built with -DTWIN_CLUSTER=ON only.
 *
 * move-slot is a state machine whose state lives in the shards (who owns the slot, persisted in their
 * stores) and in HAProxy's map, so running it again after any failure resumes it:
 *   1 freeze on the source (its requests answer 503, its telemetry is refused unacknowledged; answered
 *     once every earlier write is committed)
 *   2 copy, while the source owns: purge the target's records of the slot, export -> import in chunks,
 *     wait for the target's commit, compare the record counts of both
 *   3 the source drops the slot (persisted): from here on the move can only go forward
 *   4 the target owns it (persisted), serves it and publishes the retained desired messages of its twins
 *     that have a delta
 *   5 HAProxy's map (runtime, then the file) points the slot at the target
 *   6 the source kicks the devices of the slot's twins (they reconnect through HAProxy to the target) and
 *     clears its retained desired messages of them
 *   7 the source unfreezes and purges its copies; for --grace-ms more it still refuses the slot's
 *     telemetry (a device that reached it on HAProxy's old route reconnects to the target)
 * At every moment exactly one shard owns the slot, or (between 3 and 4) none: requests answer 503,
 * telemetry is refused, nothing acknowledged is lost. --abort undoes a move that did not reach 3. */
#include "twinctl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "haproxy_map.h"
#include "shard_link.h"

#define ASK_TIMEOUT_MS 30000
#define TEXT_SIZE      1200

struct move {
	unsigned slot;
	const char *from, *to, *nats, *subject, *haproxy, *map, *backend;
	bool abort;
	long long grace_ms;
	struct ctl_link *link;
	char text[TEXT_SIZE];
	const void *rest;
	size_t rest_len;
	struct timespec t0;
};

static double since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static bool ask(struct move *m, const char *shard, const void *body, size_t body_len, const char *fmt, ...)
		__attribute__((format(printf, 5, 6)));
static bool ask(struct move *m, const char *shard, const void *body, size_t body_len, const char *fmt, ...)
{
	char line[800];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized): va_start is above
	va_end(ap);
	return ctl_link_ask(m->link, shard, line, body, body_len, ASK_TIMEOUT_MS, m->text, sizeof(m->text),
			&m->rest, &m->rest_len);
}

/* Whether shard owns the slot now (from its status answer); -1 after printing why. */
static int owns(struct move *m, const char *shard)
{
	if (!ask(m, shard, NULL, 0, "status")) {
		return -1;
	}
	const char *slots = strstr(m->text, "slots="), *end = strstr(m->text, " frozen=");
	if (!slots || !end) {
		return ctl_fail("shard %s gave no slot table: %s", shard, m->text), -1;
	}
	for (const char *p = slots + 6; p < end;) {
		char *e;
		unsigned long lo = strtoul(p, &e, 10), hi = lo;
		if (e == p) {
			break;
		}
		if (*e == '-') {
			hi = strtoul(e + 1, &e, 10);
		}
		if (m->slot >= lo && m->slot <= hi) {
			return 1;
		}
		p = *e == ',' ? e + 1 : e;
	}
	return 0;
}

static void step(const struct move *m, const char *what)
{
	printf("move-slot %u: %-40s %.3f s\n", m->slot, what, since(&m->t0));
	fflush(stdout);
}

/* The slot's record counts on shard, as text. */
static bool count(struct move *m, const char *shard, char *out, size_t size)
{
	if (!ask(m, shard, NULL, 0, "count %u", m->slot)) {
		return false;
	}
	snprintf(out, size, "%s", m->text + 3);
	return true;
}

static bool copy(struct move *m)
{
	char cursor[700] = "00", from_n[128], to_n[128];
	unsigned long long records = 0, bytes = 0;
	if (!ask(m, m->to, NULL, 0, "purge %u", m->slot)) {
		return false;
	}
	while (strcmp(cursor, "-")) {
		char next[700];
		unsigned long long n = 0;
		if (!ask(m, m->from, NULL, 0, "export %u %s", m->slot, cursor) || sscanf(m->text, "ok %699s %llu", next, &n) != 2) {
			return ctl_fail("export from %s failed: %s", m->from, m->text), false;
		}
		if (m->rest_len) {
			/* the answer's body is valid until the next request: import sends it on as it is */
			void *chunk = malloc(m->rest_len);
			size_t len = m->rest_len;
			if (!chunk) {
				return ctl_fail("out of memory"), false;
			}
			memcpy(chunk, m->rest, len);
			bool ok = ask(m, m->to, chunk, len, "import %u", m->slot);
			free(chunk);
			if (!ok) {
				return false;
			}
			bytes += len;
		}
		records += n;
		snprintf(cursor, sizeof(cursor), "%s", next);
	}
	if (!ask(m, m->to, NULL, 0, "sync") || !count(m, m->from, from_n, sizeof(from_n)) ||
			!count(m, m->to, to_n, sizeof(to_n))) {
		return false;
	}
	if (strcmp(from_n, to_n)) {
		return ctl_fail("the copy on %s (twins tombstones desired history: %s) differs from %s (%s); "
						"nothing was switched: run the command again", m->to, to_n, m->from, from_n), false;
	}
	printf("move-slot %u: copied %llu records (%llu bytes): twins tombstones desired history = %s\n", m->slot,
			records, bytes, to_n);
	return true;
}

/* verb (kick, desired, undesired) on shard over the whole slot, a chunk at a time; says what it did. */
static bool walk(struct move *m, const char *shard, const char *verb, const char *did)
{
	char cursor[700] = "00";
	unsigned long long total = 0;
	while (strcmp(cursor, "-")) {
		char next[700];
		unsigned long long n = 0;
		if (!ask(m, shard, NULL, 0, "%s %u %s", verb, m->slot, cursor) ||
				sscanf(m->text, "ok %699s %llu", next, &n) != 2) {
			return false;
		}
		total += n;
		snprintf(cursor, sizeof(cursor), "%s", next);
	}
	printf("move-slot %u: %s: %s %llu twins\n", m->slot, shard, did, total);
	return true;
}

static int abort_move(struct move *m, int from_owns, int to_owns)
{
	if (from_owns != 1 || to_owns != 0) {
		return ctl_fail("slot %u cannot be given back to %s (it owns: %s, %s owns: %s): the move went past "
						"the source's drop; run it again without --abort to finish it", m->slot, m->from,
				from_owns ? "yes" : "no", m->to, to_owns ? "yes" : "no");
	}
	if (!ask(m, m->from, NULL, 0, "unfreeze %u", m->slot)) {
		return CTL_FAIL;
	}
	if (!ask(m, m->to, NULL, 0, "purge %u", m->slot)) {
		printf("move-slot %u: aborted: %s serves it again; %s may keep copies of its records until a later move "
			   "to it purges them first\n", m->slot, m->from, m->to);
		return CTL_OK;
	}
	printf("move-slot %u: aborted: %s serves it again, %s holds none of its records\n", m->slot, m->from, m->to);
	return CTL_OK;
}

static int move(struct move *m)
{
	int from_owns = owns(m, m->from), to_owns = from_owns < 0 ? -1 : owns(m, m->to);
	if (from_owns < 0 || to_owns < 0) {
		return CTL_FAIL;
	}
	if (m->abort) {
		return abort_move(m, from_owns, to_owns);
	}
	if (from_owns && to_owns) {
		return ctl_fail("both %s and %s own slot %u: that is no state a move leaves; drop it on the one "
						"without its twins (twinctl cluster status)", m->from, m->to, m->slot);
	}
	if (!ask(m, m->from, NULL, 0, "freeze %u", m->slot)) {
		return CTL_FAIL;
	}
	step(m, "frozen on the source");
	if (from_owns) { /* else: copied and verified before the source dropped it */
		if (!copy(m)) {
			return CTL_FAIL;
		}
		step(m, "copied to the target");
		if (!ask(m, m->from, NULL, 0, "drop %u", m->slot)) {
			return CTL_FAIL;
		}
		step(m, "dropped by the source");
	}
	if (!to_owns) {
		if (!ask(m, m->to, NULL, 0, "own %u", m->slot)) {
			return CTL_FAIL;
		}
		step(m, "owned by the target");
	}
	if (!walk(m, m->to, "desired", "published the retained desired messages of")) {
		return CTL_FAIL;
	}
	if (m->haproxy) {
		if (!ctl_haproxy_set(m->haproxy, m->map, m->slot, m->backend) ||
				!ctl_map_file_set(m->map, m->slot, m->backend)) {
			return CTL_FAIL;
		}
		step(m, "HAProxy's map points at the target");
	}
	if (!walk(m, m->from, "kick", "disconnected the devices of") ||
			!walk(m, m->from, "undesired", "cleared the retained desired messages of")) {
		return CTL_FAIL;
	}
	step(m, "devices disconnected from the source");
	if (!ask(m, m->from, NULL, 0, "unfreeze %u %lld", m->slot, m->grace_ms) ||
			!ask(m, m->from, NULL, 0, "purge %u", m->slot)) {
		return CTL_FAIL;
	}
	step(m, "source unfrozen, its copies deleted");
	printf("move-slot %u: done: %s owns it (%.3f s)\n", m->slot, m->to, since(&m->t0));
	return CTL_OK;
}

static const char usage[] =
		"usage: twinctl cluster move-slot SLOT --from SHARD --to SHARD [--nats URLS] [--subject S]\n"
		"                 [--haproxy SOCKET --map FILE [--backend NAME]] [--grace-ms MS] [--abort]\n"
		"       twinctl cluster status SHARD... [--nats URLS] [--subject S]";

static int status(struct move *m, int n, char **shards)
{
	int rc = CTL_OK;
	for (int i = 0; i < n; i++) {
		if (ask(m, shards[i], NULL, 0, "status")) {
			printf("%s %s\n", shards[i], m->text + 3);
		} else {
			rc = CTL_FAIL;
		}
	}
	return rc;
}

int ctl_cmd_cluster(const struct ctl *c, int argc, char **argv)
{
	struct move m = {.nats = "nats://127.0.0.1:4222", .subject = "twin", .grace_ms = 10000};
	char *shards[64];
	int n_shards = 0;
	long long slot = -1;
	(void)c;
	if (argc < 2 || (strcmp(argv[1], "move-slot") && strcmp(argv[1], "status"))) {
		return ctl_usage("%s", usage);
	}
	bool moving = !strcmp(argv[1], "move-slot");
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
		/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): argv[i] with i < argc is never NULL */
		const char **opt = !strcmp(a, "--from") ? &m.from : !strcmp(a, "--to") ? &m.to
				: !strcmp(a, "--nats") ? &m.nats : !strcmp(a, "--subject") ? &m.subject
				: !strcmp(a, "--haproxy") ? &m.haproxy : !strcmp(a, "--map") ? &m.map
				: !strcmp(a, "--backend") ? &m.backend : NULL;
		if (opt && next) {
			*opt = next;
			i++;
		} else if (!strcmp(a, "--grace-ms") && next && moving && ctl_parse_int(next, 0, 600000, &m.grace_ms)) {
			i++;
		} else if (!strcmp(a, "--abort") && moving) {
			m.abort = true;
		} else if (a[0] != '-' && !opt && moving && slot < 0 && ctl_parse_int(a, 0, 65535, &slot)) {
			m.slot = (unsigned)slot;
		} else if (a[0] != '-' && !opt && !moving && n_shards < 64) {
			shards[n_shards++] = argv[i];
		} else {
			return ctl_usage("%s", usage);
		}
	}
	if (moving && (slot < 0 || !m.from || !m.to || !m.haproxy != !m.map)) {
		return ctl_usage("move-slot needs SLOT, --from and --to (and --map with --haproxy)\n%s", usage);
	}
	if (moving && !strcmp(m.from, m.to)) {
		return ctl_usage("--from and --to name the same shard, %s", m.from);
	}
	if (!moving && !n_shards) {
		return ctl_usage("%s", usage);
	}
	m.backend = m.backend ? m.backend : m.to;
	if (!(m.link = ctl_link_open(m.nats, m.subject))) {
		return CTL_FAIL;
	}
	clock_gettime(CLOCK_MONOTONIC, &m.t0);
	int rc = moving ? move(&m) : status(&m, n_shards, shards);
	if (rc && moving && !m.abort) {
		ctl_note("the move of slot %u stopped; the slot is served by one shard at most: run the same command "
				 "again to resume it%s", m.slot, " (or with --abort, if the source still owns it)");
	}
	ctl_link_close(m.link);
	return rc;
}
