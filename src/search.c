/* search.c - $twin/search (see search.h).
 *
 * Execution: one pass over the twins table in id order. Each twin is parsed, tested against the
 * requester's scope and the filter, counted, and kept if it sorts after the cursor and among the first
 * limit+1 rows (a sorted array of at most 201 rows). Ordered by id alone and without count, the scan
 * starts at the cursor and stops as soon as limit+1 rows matched; an id-prefix scope starts the scan at
 * its prefix and ends it past the prefix. The cursor is the last row's sort key (keyset pagination), so
 * a page continues correctly whatever was written between the pages.
 * Bounds: at most search_queue_size searches wait (one more is answered 503); a running search has
 * search_timeout_ms from when it starts: its wait for earlier writes takes at most half of it (then the
 * search runs anyway and its answer says "stale": true), and a scan past the deadline is answered 503
 * (a part of a sorted scan is not a correct page, and its count would be too low). At shutdown the
 * queued searches are dropped and the running one stops at its next check (every CHECK_EVERY twins).
 * Answers: $twin's (request.c): a search comes in on $twin only. Each item says `"connected":false` (unless
 * `fields` leaves it out) and the answer carries where: the broker thread, which owns presence, sets the
 * connected ones when it takes the answer (presence.h), so a page costs it one lookup per item. A shard's
 * part of a fleet's search (cluster.c) also lists each item's sort key, in the cursor's form, under
 * "keys": the asking shard merges the parts by them (search_merge.h).
 * Thread: the searcher thread; the broker thread only submits. */
#include "search.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonx.h"
#include "model_check.h"
#include "presence.h"
#include "query.h"
#include "request.h"
#include "twin.h"
#include "twin_format.h"

#define CHECK_EVERY 64 /* twins scanned between two looks at the clock and the stop flag */

struct row {
	struct twin_sort_key key;
	cJSON *doc;
};

struct scan {
	const struct twin_query *filter;
	const struct twin_sort *sort;
	const struct twin_sort_key *after; /* the cursor, or NULL */
	int limit;
	bool count_all, early_stop;
	struct row rows[TWIN_SEARCH_LIMIT_MAX + 1];
	int n_rows;
	int64_t count;
	bool oom;
	const struct twin_search_ctx *ctx;
	const struct twin_scope *scope; /* never NULL here */
	int64_t scanned;
	bool timed_out, stopped;
};

static void drop_row(struct row *r)
{
	twin_sort_key_free(&r->key);
	cJSON_Delete(r->doc);
}

static bool scan_one(void *ctx, const char *id, size_t id_len, const void *val, size_t len)
{
	struct scan *sc = ctx;
	struct row r = {0};
	if (++sc->scanned % CHECK_EVERY == 0) {
		if (sc->ctx->stop && atomic_load_explicit(sc->ctx->stop, memory_order_relaxed)) {
			sc->stopped = true;
			return false;
		}
		if (sc->ctx->deadline_ms && twin_search_clock_ms() >= sc->ctx->deadline_ms) {
			sc->timed_out = true;
			return false;
		}
	}
	if (twin_scope_past(sc->scope, id, id_len)) {
		return false; /* ids come in order: none further on is in the scope */
	}
	if (!twin_scope_admits_id(sc->scope, id, id_len)) {
		return true;
	}
	if (!(r.doc = twin_doc_load(id, id_len, val, len))) {
		return true; /* unreadable twins are skipped */
	}
	if (!twin_doc_show_model(r.doc, sc->ctx->default_model)) {
		sc->oom = true;
		cJSON_Delete(r.doc);
		return false;
	}
	if (!twin_scope_admits(sc->scope, id, id_len, r.doc) ||
			(sc->filter && !twin_query_match(sc->filter, r.doc))) {
		cJSON_Delete(r.doc);
		return true;
	}
	sc->count++;
	if (!twin_sort_key_of(sc->sort, r.doc, &r.key)) {
		sc->oom = true;
		cJSON_Delete(r.doc);
		return false;
	}
	int cap = sc->limit + 1;
	if ((sc->after && twin_sort_compare(sc->sort, &r.key, sc->after) <= 0) ||
			(sc->n_rows == cap &&
					twin_sort_compare(sc->sort, &r.key, &sc->rows[cap - 1].key) >= 0)) {
		drop_row(&r);
		return true;
	}
	int at;
	if (sc->n_rows < cap) {
		at = sc->n_rows++;
	} else { /* full: the new row sorts before the last one, which makes room */
		at = cap - 1;
		drop_row(&sc->rows[at]);
	}
	while (at > 0 && twin_sort_compare(sc->sort, &r.key, &sc->rows[at - 1].key) < 0) {
		sc->rows[at] = sc->rows[at - 1];
		at--;
	}
	sc->rows[at] = r;
	return !(sc->early_stop && sc->n_rows == cap);
}

/* Whether the items carry `connected`: always without `fields`, else when asked for. */
static bool wants_connected(const cJSON *fields)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, fields)
	{
		if (!strcmp(f->valuestring, "connected")) {
			return true;
		}
	}
	return !fields;
}

/* One item, written with `"connected":false` last and its place noted for the broker thread, which owns
 * presence (presence.h). */
static bool write_item(struct twin_buf *b, cJSON *item, bool connected, const char *id,
		struct twin_presence_marks **marks)
{
	if (!connected) {
		return twin_json_write(b, item);
	}
	return cJSON_AddFalseToObject(item, "connected") && twin_json_write(b, item) &&
			twin_presence_mark(marks, b->len - (sizeof("false}") - 1), id, strlen(id));
}

/* The page, written by hand rather than printed from a cJSON tree: the marks need the byte offsets. */
static struct twin_out *answer_rows(const struct twin_route *route, struct scan *sc,
		const struct twin_request *req)
{
	struct twin_buf b = {0};
	struct twin_presence_marks *marks = NULL;
	struct twin_out *o = NULL;
	bool connected = wants_connected(req->fields);
	bool ok = twin_buf_put(&b, "{\"items\":[", 10);
	int n = sc->n_rows < sc->limit ? sc->n_rows : sc->limit;
	for (int i = 0; ok && i < n; i++) {
		cJSON *sel = req->fields ? twin_doc_select(sc->rows[i].doc, req->fields) : NULL;
		cJSON *item = req->fields ? sel : sc->rows[i].doc;
		ok = item && (i == 0 || twin_buf_put(&b, ",", 1)) &&
				write_item(&b, item, connected, sc->rows[i].key.id, &marks);
		cJSON_Delete(sel);
	}
	ok = ok && twin_buf_put(&b, "]", 1);
	for (int i = 0; ok && sc->ctx->keys && i < n; i++) { /* each item's position, for a fleet's merge */
		char *key = twin_cursor_encode(sc->sort, &sc->rows[i].key);
		ok = key && twin_buf_put(&b, i ? "," : ",\"keys\":[", i ? 1 : 9) &&
				twin_json_write_string(&b, key) && (i < n - 1 || twin_buf_put(&b, "]", 1));
		free(key);
	}
	if (ok && sc->n_rows > sc->limit) {
		char *cursor = twin_cursor_encode(sc->sort, &sc->rows[sc->limit - 1].key);
		ok = cursor && twin_buf_put(&b, ",\"cursor\":", 10) && twin_json_write_string(&b, cursor);
		free(cursor);
	}
	if (ok && req->count) {
		ok = twin_buf_put(&b, ",\"count\":", 9) && twin_json_write_int(&b, sc->count);
	}
	if (ok && sc->ctx->stale) {
		ok = twin_buf_put(&b, ",\"stale\":true", 13);
	}
	if (ok && req->token) {
		ok = twin_buf_put(&b, ",\"token\":", 9) && twin_json_write_string(&b, req->token);
	}
	if (ok && twin_buf_put(&b, "}", 1) && (o = twin_answer_raw(route, 200, b.data, b.len))) {
		o->marks = marks;
		marks = NULL;
	}
	twin_presence_marks_free(marks);
	twin_buf_free(&b);
	return o;
}

int64_t twin_search_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Where the scan starts: the later of the cursor's id (when the scan may start there) and an id-prefix
 * scope's prefix, in LMDB's key order (bytes, then length); NULL: at the first twin. */
static const char *scan_from(const struct scan *sc, const struct twin_sort_key *after, size_t *len)
{
	const char *from = sc->early_stop && sc->after ? after->id : NULL;
	*len = from ? strlen(from) : 0;
	if (sc->scope->kind == TWIN_SCOPE_ID_PREFIX) {
		size_t n = *len < sc->scope->prefix_len ? *len : sc->scope->prefix_len;
		int c = from ? memcmp(from, sc->scope->prefix, n) : -1;
		if (c < 0 || (c == 0 && *len < sc->scope->prefix_len)) {
			from = sc->scope->prefix;
			*len = sc->scope->prefix_len;
		}
	}
	return from;
}

struct twin_out *twin_search_run(struct twin_store *store, const struct twin_route *route,
		const char *payload, size_t len, const struct twin_search_ctx *ctx)
{
	static const struct twin_scope all = {.kind = TWIN_SCOPE_ALL};
	struct twin_request req;
	struct twin_error err = {.rc = TWIN_OK};
	struct twin_sort sort = {0};
	struct twin_sort_key after = {0};
	struct twin_query *filter = NULL;
	struct scan *sc = NULL;
	struct twin_out *o = NULL;
	if (twin_request_parse(TWIN_VERB_SEARCH, payload, len, ctx->max_depth, &req, &err) ||
			twin_sort_parse(&sort, req.sort, &err) ||
			(req.filter && !(filter = twin_query_parse(req.filter, &err))) ||
			(req.cursor && twin_cursor_decode(&sort, req.cursor, &after, &err))) {
		goto done;
	}
	if (!(sc = calloc(1, sizeof(*sc)))) {
		twin_fail(&err, TWIN_ERR_NOMEM, "out of memory");
		goto done;
	}
	sc->ctx = ctx;
	sc->scope = ctx->scope ? ctx->scope : &all;
	sc->filter = filter;
	sc->sort = &sort;
	sc->after = req.cursor ? &after : NULL;
	sc->limit = req.limit ? (int)req.limit : TWIN_SEARCH_LIMIT_DEFAULT;
	sc->count_all = req.count;
	sc->early_stop = sort.n == 0 && !req.count;
	size_t from_len;
	const char *from = scan_from(sc, &after, &from_len);
	if (sc->scope->kind != TWIN_SCOPE_NOTHING &&
			(twin_store_scan(store, from, from_len, scan_one, sc) != TWIN_OK || sc->oom)) {
		twin_fail(&err, TWIN_ERR_STORE, "the search could not read the twin store");
		goto done;
	}
	if (sc->stopped) {
		twin_fail(&err, TWIN_ERR_BUSY, "the broker is stopping; search again once it is back");
		goto done;
	}
	if (sc->timed_out) {
		twin_fail(&err, TWIN_ERR_BUSY,
				"the search took longer than search_timeout_ms=%lld (stopped after %lld twins); narrow "
				"the filter or retry later",
				(long long)ctx->timeout_ms, (long long)sc->scanned);
		goto done;
	}
	if (!(o = answer_rows(route, sc, &req))) {
		twin_fail(&err, TWIN_ERR_NOMEM, "out of memory");
	}
done:
	if (!o) {
		o = twin_request_error_answer(route, &err, req.token);
	}
	for (int i = 0; sc && i < sc->n_rows; i++) {
		drop_row(&sc->rows[i]);
	}
	free(sc);
	twin_query_free(filter);
	twin_sort_key_free(&after);
	twin_sort_free(&sort);
	twin_request_free(&req);
	return o;
}

/* ---- the thread ---- */

struct job {
	struct job *next;
	struct twin_route *route;
	char *username; /* the requester's, or NULL */
	uint64_t min_seq;
	bool keys; /* a shard's part of a fleet's search: the answer gives each item's sort key */
	size_t len;
	char payload[];
};

struct twin_searcher {
	struct twin_searcher_deps d;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	int64_t queued;
	atomic_bool stop;
};

static void job_free(struct job *job)
{
	twin_route_free(job->route);
	free(job->username);
	free(job);
}

/* Read-your-writes: wait until the writer committed everything queued before the search, until the
 * given time at most; false when it gave up (or the broker is stopping). */
static bool wait_for_writes(struct twin_searcher *s, uint64_t min_seq, int64_t until_ms)
{
	struct timespec nap = {0, 500000};
	for (;;) {
		if (atomic_load_explicit(s->d.done_seq, memory_order_acquire) >= min_seq) {
			return true;
		}
		if (atomic_load_explicit(&s->stop, memory_order_relaxed) ||
				twin_search_clock_ms() >= until_ms) {
			return false;
		}
		twin_opq_hurry(s->d.writes);
		nanosleep(&nap, NULL);
	}
}

static struct twin_out *run_job(struct twin_searcher *s, const struct job *job)
{
	const struct twin_config *cfg = s->d.cfg;
	struct twin_scope scope;
	struct twin_error err;
	int64_t start = twin_search_clock_ms();
	struct twin_search_ctx ctx = {
			.max_depth = cfg->max_depth,
			.scope = &scope,
			.deadline_ms = start + cfg->search_timeout_ms,
			.default_model = cfg->default_model,
			.timeout_ms = cfg->search_timeout_ms,
			.stop = &s->stop,
			.keys = job->keys,
	};
	ctx.stale = !wait_for_writes(s, job->min_seq, start + cfg->search_timeout_ms / 2);
	if (twin_scope_bind(&scope, cfg->search_scope, cfg->search_scope_exempt, job->username,
				job->route->client_id) != TWIN_OK) {
		twin_fail(&err, TWIN_ERR_NOMEM, "out of memory");
		return twin_request_error_answer(job->route, &err, NULL);
	}
	struct twin_out *o = twin_search_run(s->d.store, job->route, job->payload, job->len, &ctx);
	twin_scope_free(&scope);
	return o;
}

static void *searcher_main(void *arg)
{
	struct twin_searcher *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (!s->head && !atomic_load(&s->stop)) {
			pthread_cond_wait(&s->cond, &s->lock);
		}
		struct job *job = atomic_load(&s->stop) ? NULL : s->head;
		if (job) {
			s->head = job->next;
			s->queued--;
			if (!s->head) {
				s->tail = NULL;
			}
		}
		pthread_mutex_unlock(&s->lock);
		if (!job) {
			return NULL; /* stopped: twin_searcher_stop drops what is still queued */
		}
		struct twin_out_list out = {0};
		twin_out_list_add(&out, run_job(s, job));
		twin_outq_push(s->d.out, &out);
		s->d.wake(s->d.wake_ctx);
		job_free(job);
	}
}

enum twin_rc twin_searcher_start(const struct twin_searcher_deps *deps, struct twin_searcher **out)
{
	struct twin_searcher *s = calloc(1, sizeof(*s));
	if (!s) {
		return TWIN_ERR_NOMEM;
	}
	s->d = *deps;
	atomic_init(&s->stop, false);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (pthread_create(&s->thread, NULL, searcher_main, s) != 0) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return TWIN_ERR_NOMEM;
	}
	*out = s;
	return TWIN_OK;
}

void twin_searcher_stop(struct twin_searcher *s)
{
	if (!s) {
		return;
	}
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->stop, true);
	pthread_mutex_unlock(&s->lock);
	pthread_cond_signal(&s->cond);
	pthread_join(s->thread, NULL);
	for (struct job *job = s->head, *next; job; job = next) {
		next = job->next;
		job_free(job);
	}
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

enum twin_rc twin_searcher_submit(struct twin_searcher *s, struct twin_route *r, const char *username,
		const void *payload, size_t len, uint64_t min_seq, bool keys, struct twin_error *err)
{
	char *user = username ? strdup(username) : NULL;
	struct job *job = malloc(sizeof(*job) + len + 1);
	if (!job || (username && !user)) {
		free(user);
		free(job);
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	job->username = user;
	job->next = NULL;
	job->route = r;
	job->min_seq = min_seq;
	job->keys = keys;
	job->len = len;
	if (len) {
		memcpy(job->payload, payload, len);
	}
	job->payload[len] = '\0';
	pthread_mutex_lock(&s->lock);
	if (s->queued >= s->d.cfg->search_queue_size) {
		pthread_mutex_unlock(&s->lock);
		job->route = NULL;
		job_free(job);
		return twin_fail(err, TWIN_ERR_BUSY,
				"busy: %lld searches are waiting (search_queue_size); retry later",
				(long long)s->d.cfg->search_queue_size);
	}
	if (s->tail) {
		s->tail->next = job;
	} else {
		s->head = job;
	}
	s->tail = job;
	s->queued++;
	pthread_mutex_unlock(&s->lock);
	pthread_cond_signal(&s->cond);
	return TWIN_OK;
}
