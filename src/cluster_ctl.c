/* cluster_ctl.c - a shard's side of moving slots (see cluster_ctl.h for the verbs).
 *
 * Requests are queued by libnats's delivery thread and run on the broker thread in twin_ctl_run. Store
 * work goes through the engine: reads (export, count, kick) in a short read snapshot bounded per chunk,
 * writes (import, purge, the slot table) as writer-thread calls; a verb that must not answer before its
 * commit keeps its answer until the engine's done sequence passes it. Freezing a slot stops serving it
 * over NATS and, answered only once every earlier write is committed, makes its records final for the
 * export. The frozen set lives in memory: a restart unfreezes (the owner recorded in the store serves).
 * Must never: block the broker thread for long (chunks are bounded), or write a slot it owns from an
 * import. */
#include "cluster_ctl.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster_records.h"

#define EXPORT_BYTES (512 * 1024) /* a chunk; NATS refuses messages over 1 MB by default */
#define SCAN_LIMIT   20000        /* records looked at per chunk, to bound the broker thread's time */

struct ctl_msg { /* a queued request */
	struct ctl_msg *next;
	char *reply;
	size_t len;
	char data[]; /* NUL-terminated */
};

struct deferred { /* an answer waiting for a commit */
	struct deferred *next;
	uint64_t seq;
	char *reply;
	char text[160];
};

struct twin_ctl {
	pthread_mutex_t lock; /* guards head/tail */
	struct ctl_msg *head, *tail;
	struct twin_slot_set frozen; /* broker thread, like the rest */
	int64_t *thaw_ms;            /* by slot: when a frozen slot that moved away thaws (0: when told) */
	struct deferred *waiting;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct twin_ctl *twin_ctl_new(unsigned nslots)
{
	struct twin_ctl *c = calloc(1, sizeof(*c));
	struct twin_error err;
	if (!c || !(c->thaw_ms = calloc(nslots, sizeof(*c->thaw_ms))) ||
			twin_slot_set_parse(&c->frozen, "", nslots, &err) != TWIN_OK) {
		if (c) {
			free(c->thaw_ms);
		}
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void twin_ctl_free(struct twin_ctl *c)
{
	if (!c) {
		return;
	}
	for (struct ctl_msg *m = c->head, *next; m; m = next) {
		next = m->next;
		free(m->reply);
		free(m);
	}
	for (struct deferred *d = c->waiting, *next; d; d = next) {
		next = d->next;
		free(d->reply);
		free(d);
	}
	twin_slot_set_free(&c->frozen);
	free(c->thaw_ms);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

bool twin_ctl_queue(struct twin_ctl *c, const char *reply, const void *data, size_t len)
{
	struct ctl_msg *m = malloc(sizeof(*m) + len + 1);
	if (!m || !(m->reply = strdup(reply))) {
		free(m);
		return false;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->data, data, len);
	m->data[len] = '\0';
	pthread_mutex_lock(&c->lock);
	if (c->tail) {
		c->tail->next = m;
	} else {
		c->head = m;
	}
	c->tail = m;
	pthread_mutex_unlock(&c->lock);
	return true;
}

bool twin_ctl_frozen(struct twin_ctl *c, unsigned slot)
{
	if (!twin_slot_set_has(&c->frozen, slot)) {
		return false;
	}
	if (c->thaw_ms[slot] && mono_ms() >= c->thaw_ms[slot]) {
		twin_slot_set_put(&c->frozen, slot, false);
		c->thaw_ms[slot] = 0;
		return false;
	}
	return true;
}

/* ---- answers ---- */

static void send(const struct twin_ctl_shard *sh, const char *reply, const char *text,
		const struct twin_buf *body)
{
	size_t tlen = strlen(text), blen = body ? body->len : 0;
	char *data = malloc(tlen + 1 + blen + 1);
	if (!data) {
		return; /* the operator's tool times out and retries */
	}
	memcpy(data, text, tlen + 1);
	data[tlen] = '\n'; /* over the NUL: the first line, then the body */
	if (blen) {
		memcpy(data + tlen + 1, body->data, blen);
	}
	twin_nats_reply(sh->nats, reply, data, tlen + 1 + blen);
}

/* text once operation seq is committed (at once for 0: nothing was ever queued). */
static void defer(struct twin_ctl *c, const struct twin_ctl_shard *sh, const char *reply, uint64_t seq,
		const char *text)
{
	struct deferred *d = seq ? calloc(1, sizeof(*d)) : NULL;
	if (!d || !(d->reply = strdup(reply))) {
		free(d);
		send(sh, reply, seq ? "error out of memory; retry" : text, NULL);
		return;
	}
	d->seq = seq;
	snprintf(d->text, sizeof(d->text), "%s", text);
	d->next = c->waiting;
	c->waiting = d;
}

static void answer_committed(struct twin_ctl *c, const struct twin_ctl_shard *sh, struct twin_engine *e)
{
	for (struct deferred **p = &c->waiting, *d; (d = *p) != NULL;) {
		if (twin_engine_committed(e, d->seq)) {
			*p = d->next;
			send(sh, d->reply, d->text, NULL);
			free(d->reply);
			free(d);
		} else {
			p = &d->next;
		}
	}
}

/* ---- verbs ---- */

struct req {
	struct twin_ctl *c;
	const struct twin_ctl_shard *sh;
	struct twin_engine *e;
	const char *reply;
	unsigned slot;
	const char *arg;  /* the word after the slot, or "" */
	const char *body; /* after the first line */
	size_t body_len;
};

static void fail(const struct req *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(const struct req *q, const char *fmt, ...)
{
	char text[240];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized): va_start is above
	va_end(ap);
	send(q->sh, q->reply, text, NULL);
}

/* The writer-thread call's answer: text once committed, or busy when it could not be queued. */
static void after_call(const struct req *q, uint64_t seq, const char *text)
{
	if (!seq) {
		send(q->sh, q->reply, "busy: the shard's write queue is full; retry", NULL);
	} else {
		defer(q->c, q->sh, q->reply, seq, text);
	}
}

static bool owned(const struct req *q)
{
	return twin_slot_set_has(q->sh->slots, q->slot);
}

static void do_status(const struct req *q)
{
	char *slots = twin_slot_set_format(q->sh->slots), *frozen = twin_slot_set_format(&q->c->frozen);
	size_t n = (slots ? strlen(slots) : 0) + (frozen ? strlen(frozen) : 0) + 64;
	char *text = malloc(n);
	if (slots && frozen && text) {
		snprintf(text, n, "ok slots=%s frozen=%s", slots, frozen);
		send(q->sh, q->reply, text, NULL);
	}
	free(slots);
	free(frozen);
	free(text);
}

/* The operation whose commit says that everything queued so far is committed: a store call that writes
 * nothing (its commit wakes the broker thread at once), else, with the queue full, the newest one. */
static uint64_t barrier(const struct req *q)
{
	uint64_t seq = twin_engine_store_call(q->e, twin_slot_barrier_call, "", 0);
	return seq ? seq : twin_engine_queued_seq(q->e);
}

static void do_freeze(const struct req *q)
{
	q->c->thaw_ms[q->slot] = 0;
	if (twin_slot_set_put(&q->c->frozen, q->slot, true) && owned(q)) {
		twin_nats_serve(q->sh->nats, q->slot, false);
	}
	twin_engine_release_held(q->e); /* acknowledged readings held back by telemetry_rate: into the copy */
	defer(q->c, q->sh, q->reply, barrier(q), "ok frozen");
}

/* unfreeze SLOT [GRACE_MS]: a slot that moved away stays frozen GRACE_MS more for its telemetry, so
 * that a device which reached this shard just before HAProxy's map changed is sent to the new owner
 * (disconnected) rather than counted as foreign. */
static void do_unfreeze(const struct req *q)
{
	long long grace = *q->arg ? strtoll(q->arg, NULL, 10) : 0;
	if (!owned(q) && grace > 0 && twin_slot_set_has(&q->c->frozen, q->slot)) {
		q->c->thaw_ms[q->slot] = mono_ms() + (grace < 600000 ? grace : 600000);
	} else if (twin_slot_set_put(&q->c->frozen, q->slot, false) && owned(q)) {
		twin_nats_serve(q->sh->nats, q->slot, true);
	}
	send(q->sh, q->reply, "ok unfrozen", NULL);
}

/* The next chunk of the slot's records (of the tables from start_table to before end_table) from the
 * cursor in q->arg; false after answering an error. The cursor then says "-" when the tables are done. */
static bool read_chunk(const struct req *q, unsigned start_table, unsigned end_table,
		struct twin_slot_cursor *cur, struct twin_buf *out, size_t *records)
{
	struct twin_store *s = twin_engine_store(q->e);
	if (!twin_slot_cursor_parse(cur, q->arg)) {
		fail(q, "error slot %u: a cursor is hex from a previous answer, or 00 to begin (shard %s)", q->slot,
				q->sh->name);
		return false;
	}
	if (cur->table < start_table) {
		cur->table = start_table;
		cur->key_len = 0;
	}
	enum twin_rc rc = twin_store_read_begin(s);
	if (!rc) {
		rc = twin_slot_export(s, q->slot, q->sh->slots->nslots, end_table, cur, EXPORT_BYTES, SCAN_LIMIT,
				out, records);
		twin_store_read_end(s);
	}
	if (rc) {
		fail(q, "error slot %u: cannot read the store of shard %s; see its log, retry", q->slot, q->sh->name);
		return false;
	}
	if (cur->table >= end_table) {
		cur->table = TWIN_SLOT_N_TABLES; /* formatted as "-" */
	}
	return true;
}

static void do_export(const struct req *q)
{
	struct twin_slot_cursor cur;
	struct twin_buf out = {0};
	size_t records = 0;
	char text[2 * sizeof(cur.key) + 64], next[2 * sizeof(cur.key) + 8];
	if (!twin_ctl_frozen(q->c, q->slot)) {
		fail(q, "error slot %u is not frozen on shard %s: freeze it first, so its records stay as read", q->slot,
				q->sh->name);
		return;
	}
	if (read_chunk(q, 0, TWIN_SLOT_N_TABLES, &cur, &out, &records)) {
		twin_slot_cursor_format(&cur, next, sizeof(next));
		snprintf(text, sizeof(text), "ok %s %zu", next, records);
		send(q->sh, q->reply, text, &out);
	}
	twin_buf_free(&out);
}

/* Calls fn(q, id) for each key of a chunk of the slot's records of one table (keys: twin ids); answers
 * "ok NEXT N". */
static void each_id(const struct req *q, unsigned table, void (*fn)(const struct req *q, const char *id,
		size_t len))
{
	struct twin_slot_cursor cur;
	struct twin_buf out = {0};
	size_t records = 0, n = 0, at = 0;
	char text[2 * sizeof(cur.key) + 64], next[2 * sizeof(cur.key) + 8];
	if (!read_chunk(q, table, table + 1, &cur, &out, &records)) {
		twin_buf_free(&out);
		return;
	}
	const unsigned char *p = (const unsigned char *)out.data;
	while (at + 7 <= out.len) { /* u8 table, u16 key length, u32 value length, key, value */
		size_t kl = (size_t)p[at + 1] << 8 | p[at + 2];
		size_t vl = (size_t)p[at + 3] << 24 | (size_t)p[at + 4] << 16 | (size_t)p[at + 5] << 8 | p[at + 6];
		if (kl <= TWIN_MAX_ID_LEN) {
			fn(q, (const char *)p + at + 7, kl);
			n++;
		}
		at += 7 + kl + vl;
	}
	twin_slot_cursor_format(&cur, next, sizeof(next));
	snprintf(text, sizeof(text), "ok %s %zu", next, n);
	send(q->sh, q->reply, text, NULL);
	twin_buf_free(&out);
}

static void kick_one(const struct req *q, const char *id, size_t len)
{
	char client[TWIN_MAX_ID_LEN + 1];
	memcpy(client, id, len);
	client[len] = '\0';
	q->sh->kick(q->sh->kick_ctx, client);
}

static void do_kick(const struct req *q)
{
	each_id(q, 0, kick_one); /* the twins */
}

static void publish_desired(const struct req *q, const char *id, size_t len)
{
	twin_engine_desired_again(q->e, id, len, true);
}

static void clear_desired(const struct req *q, const char *id, size_t len)
{
	twin_engine_desired_again(q->e, id, len, false);
}

static void do_desired(const struct req *q)
{
	each_id(q, 2, publish_desired); /* the desired index: twins with a delta */
}

static void do_undesired(const struct req *q)
{
	each_id(q, 2, clear_desired);
}

static void do_count(const struct req *q)
{
	struct twin_store *s = twin_engine_store(q->e);
	size_t n[TWIN_SLOT_N_TABLES];
	enum twin_rc rc = twin_store_read_begin(s);
	if (!rc) {
		rc = twin_slot_count(s, q->slot, q->sh->slots->nslots, n);
		twin_store_read_end(s);
	}
	if (rc) {
		fail(q, "error slot %u: cannot read the store of shard %s; see its log, retry", q->slot, q->sh->name);
		return;
	}
	char text[128];
	snprintf(text, sizeof(text), "ok %zu %zu %zu %zu", n[0], n[1], n[2], n[3]);
	send(q->sh, q->reply, text, NULL);
}

static void do_purge(const struct req *q)
{
	char payload[32];
	if (owned(q)) {
		fail(q, "error shard %s owns slot %u: purge deletes only the records of a slot it does not own",
				q->sh->name, q->slot);
		return;
	}
	int n = snprintf(payload, sizeof(payload), "%u %u", q->slot, q->sh->slots->nslots);
	after_call(q, twin_engine_store_call(q->e, twin_slot_purge_call, payload, (size_t)n), "ok purged");
}

static void do_import(const struct req *q)
{
	if (owned(q)) {
		fail(q, "error shard %s owns slot %u: records are imported only before it owns the slot", q->sh->name,
				q->slot);
		return;
	}
	if (!twin_slot_records_valid(q->body, q->body_len, q->slot, q->sh->slots->nslots)) {
		fail(q, "error slot %u: the records are malformed or of another slot (shard %s)", q->slot, q->sh->name);
		return;
	}
	uint64_t seq = twin_engine_store_call(q->e, twin_slot_import_call, q->body, q->body_len);
	send(q->sh, q->reply, seq ? "ok queued" : "busy: the shard's write queue is full; retry", NULL);
}

static void do_sync(const struct req *q)
{
	defer(q->c, q->sh, q->reply, barrier(q), "ok synced");
}

/* own / drop: the table in memory at once (requests and telemetry follow it), persisted, answered once
 * on disk. */
static void do_own(const struct req *q, bool own)
{
	if (own && q->c->thaw_ms[q->slot]) { /* moved back within the grace period: serve it at once */
		twin_slot_set_put(&q->c->frozen, q->slot, false);
		q->c->thaw_ms[q->slot] = 0;
	}
	if (twin_slot_set_put(q->sh->slots, q->slot, own) && !twin_ctl_frozen(q->c, q->slot)) {
		twin_nats_serve(q->sh->nats, q->slot, own);
	}
	char *spec = twin_slot_set_format(q->sh->slots);
	size_t n = spec ? strlen(spec) + 16 : 0;
	char *payload = spec ? malloc(n) : NULL;
	if (!payload) {
		free(spec);
		send(q->sh, q->reply, "error out of memory; retry", NULL);
		return;
	}
	int len = snprintf(payload, n, "%u %s", q->sh->slots->nslots, spec);
	char text[160];
	snprintf(text, sizeof(text), "ok %s slot %u", own ? "owns" : "dropped", q->slot);
	after_call(q, twin_engine_store_call(q->e, twin_slot_persist_call, payload, (size_t)len), text);
	free(spec);
	free(payload);
}

static void do_own_slot(const struct req *q)
{
	do_own(q, true);
}

static void do_drop_slot(const struct req *q)
{
	do_own(q, false);
}

static const struct {
	const char *verb;
	bool slot; /* takes a slot */
	void (*fn)(const struct req *q);
} verbs[] = {
		{"status", false, do_status}, {"sync", false, do_sync}, {"freeze", true, do_freeze},
		{"unfreeze", true, do_unfreeze}, {"export", true, do_export}, {"count", true, do_count},
		{"purge", true, do_purge}, {"import", true, do_import}, {"own", true, do_own_slot},
		{"drop", true, do_drop_slot}, {"kick", true, do_kick}, {"desired", true, do_desired},
		{"undesired", true, do_undesired},
};

static void run_one(struct twin_ctl *c, const struct twin_ctl_shard *sh, struct twin_engine *e,
		const struct ctl_msg *m)
{
	char verb[16] = "", arg[600] = "";
	unsigned slot = 0;
	const char *nl = memchr(m->data, '\n', m->len);
	size_t line = nl ? (size_t)(nl - m->data) : m->len;
	char head[sizeof(arg) + 48];
	snprintf(head, sizeof(head), "%.*s", (int)(line < sizeof(head) ? line : sizeof(head) - 1), m->data);
	int n = sscanf(head, "%15s %u %599s", verb, &slot, arg);
	struct req q = {c, sh, e, m->reply, slot, arg, nl ? nl + 1 : m->data + m->len,
			nl ? m->len - line - 1 : 0};
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (!strcmp(verb, verbs[i].verb)) {
			if (verbs[i].slot && (n < 2 || slot >= sh->slots->nslots)) {
				fail(&q, "error a slot in 0..%u is needed (shard %s)", sh->slots->nslots - 1, sh->name);
			} else {
				verbs[i].fn(&q);
			}
			return;
		}
	}
	send(sh, m->reply,
			"error unknown verb: status, freeze, unfreeze, export, count, purge, import, sync, own, drop, kick, "
			"desired, undesired",
			NULL);
}

void twin_ctl_run(struct twin_ctl *c, const struct twin_ctl_shard *sh, struct twin_engine *e)
{
	pthread_mutex_lock(&c->lock);
	struct ctl_msg *list = c->head;
	c->head = c->tail = NULL;
	pthread_mutex_unlock(&c->lock);
	for (struct ctl_msg *next; list; list = next) {
		next = list->next;
		run_one(c, sh, e, list);
		free(list->reply);
		free(list);
	}
	if (c->waiting) {
		answer_committed(c, sh, e);
	}
}
