/* throttle.c - rate limits on the broker thread (see throttle.h). */
#include "throttle.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#define TELEMETRY_SLOTS 65536 /* devices tracked at once (24 bytes each) */
#define TWIN_SLOTS      16384
#define CLIENT_SLOTS    4096
#define RELEASE_EVERY_MS 10

/* Held messages are kept per device and sub-path: the key is the op's "id\0path" bytes, which lie side by
 * side in the op (queue.c), so a device publishing values on several sub-paths keeps the newest of each. */
struct twin_held {
	UT_hash_handle hh;
	struct twin_op *op;
	size_t key_len;
	char key[];
};

static size_t held_key_len(const struct twin_op *op)
{
	return op->id_len + 1 + op->path_len;
}

enum twin_rc twin_throttle_init(struct twin_throttle *t, const struct twin_config *cfg)
{
	memset(t, 0, sizeof(*t));
	t->cfg = cfg;
	double tr = (double)cfg->telemetry_rate, rt = (double)cfg->request_rate_per_twin,
		   rc = (double)cfg->request_rate_per_client;
	if (twin_ratelimit_init(&t->telemetry, tr, 2 * tr, TELEMETRY_SLOTS) != TWIN_OK ||
			twin_ratelimit_init(&t->per_twin, rt, 2 * rt, TWIN_SLOTS) != TWIN_OK ||
			twin_ratelimit_init(&t->per_client, rc, 2 * rc, CLIENT_SLOTS) != TWIN_OK) {
		twin_throttle_free(t);
		return TWIN_ERR_NOMEM;
	}
	return TWIN_OK;
}

static void drop_held(struct twin_throttle *t, struct twin_held *h)
{
	HASH_DEL(t->held, h);
	t->held_count--;
	free(h);
}

void twin_throttle_free(struct twin_throttle *t)
{
	struct twin_held *h, *tmp;
	HASH_ITER(hh, t->held, h, tmp)
	{
		twin_op_free(h->op);
		drop_held(t, h);
	}
	twin_ratelimit_free(&t->telemetry);
	twin_ratelimit_free(&t->per_twin);
	twin_ratelimit_free(&t->per_client);
}

/* Keeps op back as its device's newest excess message. */
static void hold(struct twin_throttle *t, struct twin_op *op)
{
	struct twin_held *h = NULL;
	size_t key_len = held_key_len(op);
	HASH_FIND(hh, t->held, op->id, key_len, h);
	if (h) {
		twin_op_free(h->op); /* superseded: never reaches the twin */
		h->op = op;
		t->limited++;
		return;
	}
	if (t->held_count >= TWIN_THROTTLE_HELD_MAX || !(h = malloc(sizeof(*h) + key_len))) {
		twin_op_free(op);
		t->limited++;
		return;
	}
	h->op = op;
	h->key_len = key_len;
	memcpy(h->key, op->id, key_len);
	HASH_ADD(hh, t->held, key, h->key_len, h);
	if (!h->hh.tbl) { /* uthash ran out of memory (HASH_NONFATAL_OOM) */
		twin_op_free(op);
		free(h);
		t->limited++;
		return;
	}
	t->held_count++;
}

struct twin_op *twin_throttle_telemetry(struct twin_throttle *t, struct twin_op *op, int64_t now_ms)
{
	int64_t retry;
	if (!twin_ratelimit_take_n(&t->telemetry, op->id, op->id_len, (double)op->readings, now_ms, &retry)) {
		hold(t, op);
		return NULL;
	}
	if (t->held_count) { /* a newer message than the held one goes through: the held one is stale */
		struct twin_held *h = NULL;
		HASH_FIND(hh, t->held, op->id, held_key_len(op), h);
		if (h) {
			twin_op_free(h->op);
			drop_held(t, h);
			t->limited++;
		}
	}
	return op;
}

void twin_throttle_release(struct twin_throttle *t, int64_t now_ms,
		void (*apply)(void *ctx, struct twin_op *op), void *ctx)
{
	if (!t->held_count || now_ms - t->released_ms < RELEASE_EVERY_MS) {
		return;
	}
	t->released_ms = now_ms;
	struct twin_held *h, *tmp;
	int64_t retry;
	HASH_ITER(hh, t->held, h, tmp)
	{
		if (twin_ratelimit_take_n(&t->telemetry, h->op->id, h->op->id_len, (double)h->op->readings, now_ms,
					&retry)) {
			struct twin_op *op = h->op;
			drop_held(t, h);
			apply(ctx, op);
		}
	}
}

void twin_throttle_release_all(struct twin_throttle *t, void (*apply)(void *ctx, struct twin_op *op),
		void *ctx)
{
	for (struct twin_held *h; (h = t->held) != NULL;) {
		/* the analyzer follows HASH_DEL freeing the table with the last entry, not its setting t->held
		 * to NULL, and takes the next entry for a freed one: a false positive */
		struct twin_op *op = h->op; // NOLINT(clang-analyzer-unix.Malloc)
		drop_held(t, h);
		apply(ctx, op);
	}
}

bool twin_throttle_request(struct twin_throttle *t, const char *client_id, const char *twin_id,
		size_t twin_id_len, int64_t now_ms, struct twin_error *err)
{
	int64_t retry = 0;
	if (!twin_ratelimit_take(&t->per_client, client_id, strlen(client_id), now_ms, &retry)) {
		twin_fail(err, TWIN_ERR_RATE_LIMITED,
				"rate limited: client '%s' sent more than request_rate_per_client=%lld requests/s; "
				"retry in %lld ms",
				client_id, (long long)t->cfg->request_rate_per_client, (long long)retry);
		err->retry_after_ms = retry;
		return false;
	}
	if (twin_id && !twin_ratelimit_take(&t->per_twin, twin_id, twin_id_len, now_ms, &retry)) {
		twin_fail(err, TWIN_ERR_RATE_LIMITED,
				"rate limited: twin '%.*s' got more than request_rate_per_twin=%lld requests/s; "
				"retry in %lld ms",
				(int)twin_id_len, twin_id, (long long)t->cfg->request_rate_per_twin, (long long)retry);
		err->retry_after_ms = retry;
		return false;
	}
	return true;
}
