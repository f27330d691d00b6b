/* engine.c - the broker-thread side of the core (see engine.h).
 *
 * Rate limits (throttle.c) run first: telemetry over its device's rate is held back or dropped, a request
 * over its client's or twin's rate is answered 429.
 * Telemetry and gateway batches: one copy into the op queue, no JSON (the writer parses). Requests: get
 * and stats are answered here and now from an LMDB read snapshot - unless the twin has writes still
 * queued (or a gateway batch is, whose twins are unknown here), then the get waits behind them as a
 * barrier op and is run again here once they are committed (read-your-writes). A get's answer is written
 * from the stored bytes where its front can (twin_render.c: no cJSON tree, so a twin of thousands of keys
 * stays cheap on this thread), else from the loaded twin. Writes (update, delete) go to the writer, which
 * answers after the commit.
 * A request passes request_checks in a fixed order (rate limits, response topic, correlation data, the
 * front's topic check, the verb, the front's request check, payload size, the twin's id); the first that
 * fails answers it. Then verb_handlers runs its verb. Whatever differs between $twin and the
 * compatibility fronts (which twin, which checks, the form of the answers) comes from the request's
 * front (front.h); the engine attaches the switched-on fronts' classifiers to its topic set.
 * Thread: broker thread only; the writer is reached through the queues and done_seq.
 * Must never: block, fsync, or parse telemetry. */
#include "engine.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "azure_session.h"
#include "desired_msg.h"
#include "front.h"
#include "jsonx.h"
#include "metrics.h"
#include "model_check.h"
#include "pending.h"
#include "presence.h"
#include "request.h"
#include "search.h"
#include "store.h"
#include "sysreport.h"
#include "throttle.h"
#include "twin.h"
#include "twin_format.h"
#include "version.h"
#include "writer.h"

/* Reads wait for queued telemetry of their twin only while the writer is at most this many operations
 * behind (about one small commit); past it they answer from the committed state at once. */
#define RYW_TELEMETRY_BACKLOG 256

struct twin_engine {
	const struct twin_config *cfg;
	struct twin_topic_set topics;
	struct twin_store *store;
	struct twin_opq in;
	struct twin_outq out;
	struct twin_metrics metrics;
	_Atomic uint64_t done_seq;
	uint64_t next_seq;
	uint64_t last_request_seq; /* the newest queued update or delete */
	uint64_t last_gateway_seq; /* the newest queued gateway message (its twins are unknown here) */
	struct twin_models_slot models; /* the loaded models, shared with the writer and search threads */
	struct twin_writer *writer;
	struct twin_searcher *searcher;
	struct twin_pending pending;          /* every queued write */
	struct twin_pending pending_requests; /* queued updates and deletes only */
	struct twin_presence *presence;
	struct twin_azure_sessions azure; /* which client holds which device's Azure session */
	struct twin_throttle throttle;
	struct twin_sysreport sysreport;
	int64_t next_report_ms;
	bool report_failing; /* the metrics file could not be written last time (logged once) */
	struct twin_out_list local; /* answers made on this thread, not yet taken */
	struct twin_buf buf;        /* get answers are assembled here */
};

enum twin_rc twin_engine_open(const struct twin_config *cfg, void (*wake)(void *ctx),
		void *wake_ctx, struct twin_engine **out, struct twin_error *err)
{
	enum twin_rc rc;
	struct twin_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	e->cfg = cfg;
	struct twin_models *models = NULL;
	if ((rc = twin_models_load(cfg->models_dir, &models, err)) != TWIN_OK) {
		free(e);
		return rc;
	}
	twin_models_slot_init(&e->models, models);
	if (twin_throttle_init(&e->throttle, cfg) != TWIN_OK) {
		twin_models_slot_destroy(&e->models);
		free(e);
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	twin_opq_init(&e->in, cfg->queue_size, cfg->queue_bytes);
	twin_outq_init(&e->out);
	if ((rc = twin_topic_set_compile(&e->topics, (const char *const *)cfg->telemetry_topics,
				 cfg->n_telemetry_topics, cfg->gateway_topic)) != TWIN_OK) {
		twin_fail(err, rc, "invalid telemetry_topic or gateway_topic");
		twin_engine_close(e);
		return rc;
	}
	if (cfg->aws_shadow) {
		twin_topic_add_front(&e->topics, &twin_front_aws.topic);
	}
	if (cfg->azure_twin) {
		twin_topic_add_front(&e->topics, &twin_front_azure.topic);
	}
	if ((rc = twin_store_open(cfg->db_path, cfg->map_size, cfg->map_size_max, &e->store, err))) {
		twin_engine_close(e);
		return rc;
	}
	struct twin_writer_deps deps = {e->store, cfg, &e->in, &e->out, &e->metrics, &e->done_seq,
			&e->models, wake, wake_ctx};
	struct twin_searcher_deps sdeps = {e->store, &e->in, &e->out, &e->done_seq, wake, wake_ctx,
			cfg};
	if ((rc = twin_writer_start(&deps, &e->writer)) != TWIN_OK ||
			(rc = twin_searcher_start(&sdeps, &e->searcher)) != TWIN_OK) {
		twin_fail(err, rc, "cannot start the writer and search threads");
		twin_engine_close(e);
		return rc;
	}
	*out = e;
	return TWIN_OK;
}

static void release_held(void *ctx, struct twin_op *op);

void twin_engine_close(struct twin_engine *e)
{
	if (!e) {
		return;
	}
	twin_outq_stop(&e->out); /* the writer commits what is queued without waiting for the broker thread */
	twin_searcher_stop(e->searcher);
	if (e->writer) { /* held-back readings go into the writer's last commit, as queued telemetry does */
		twin_throttle_release_all(&e->throttle, release_held, e);
	}
	twin_writer_stop(e->writer);
	twin_store_close(e->store);
	twin_out_list_free(&e->local);
	twin_outq_destroy(&e->out);
	twin_opq_destroy(&e->in);
	twin_topic_set_free(&e->topics);
	twin_presence_free(&e->presence);
	twin_azure_session_free(&e->azure);
	twin_throttle_free(&e->throttle);
	twin_buf_free(&e->buf);
	twin_models_slot_destroy(&e->models);
	free(e);
}

enum twin_rc twin_engine_reload_models(struct twin_engine *e, size_t *count, struct twin_error *err)
{
	struct twin_models *models = NULL;
	enum twin_rc rc = twin_models_load(e->cfg->models_dir, &models, err);
	if (rc == TWIN_OK) {
		*count = twin_models_count(models);
		twin_models_slot_set(&e->models, models);
	}
	return rc;
}

size_t twin_engine_models_count(struct twin_engine *e)
{
	struct twin_models *m = twin_models_slot_get(&e->models);
	size_t n = twin_models_count(m);
	twin_models_release(m);
	return n;
}

int twin_engine_store_migrated_from(struct twin_engine *e)
{
	return twin_store_migrated_from(e->store);
}

void twin_engine_classify(struct twin_engine *e, const char *topic, struct twin_topic_match *m)
{
	twin_topic_classify(&e->topics, topic, strlen(topic), m);
}

bool twin_engine_refuses_write(struct twin_engine *e, const char *topic)
{
	if (!twin_topic_owned(&e->topics, topic, strlen(topic))) {
		return false;
	}
	twin_metric_add(&e->metrics, publishes_refused, 1);
	return true;
}

/* Milliseconds of a clock that never jumps: CLOCK_MONOTONIC for rate limits, its cheaper coarse variant
 * where 1-4 ms of resolution is plenty (the report timer, checked on every broker loop pass). */
static int64_t clock_ms(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/* Hands op (its ts set) to the writer. */
static enum twin_rc enqueue(struct twin_engine *e, struct twin_op *op, int64_t now)
{
	op->seq = ++e->next_seq;
	/* marked before the push: once pushed, the op belongs to the writer and may already be freed. A
	 * refused push leaves a mark no op will clear; the next op's commit passes it. */
	twin_pending_mark(&e->pending, op->id, op->id_len, op->seq);
	if (op->kind == TWIN_OP_UPDATE || op->kind == TWIN_OP_DELETE || op->kind == TWIN_OP_ACK) {
		e->last_request_seq = op->seq;
		twin_pending_mark(&e->pending_requests, op->id, op->id_len, op->seq);
	}
	return twin_opq_push(&e->in, op, now);
}

/* The newest operation a read must see: every request, and telemetry too unless the writer is more
 * than RYW_TELEMETRY_BACKLOG operations behind (then reads answer from what is committed at once
 * instead of waiting behind the backlog). */
static uint64_t read_horizon(struct twin_engine *e, uint64_t done)
{
	return e->next_seq - done <= RYW_TELEMETRY_BACKLOG ? e->next_seq : e->last_request_seq;
}

static bool read_must_wait(struct twin_engine *e, const char *id, size_t id_len)
{
	uint64_t done = atomic_load_explicit(&e->done_seq, memory_order_acquire);
	if (twin_pending_busy(&e->pending_requests, id, id_len, done)) {
		return true;
	}
	return read_horizon(e, done) == e->next_seq &&
			(e->last_gateway_seq > done || twin_pending_busy(&e->pending, id, id_len, done));
}

/* A copy of a telemetry or gateway message for the writer; over max_twin_bytes only its size is kept
 * (the writer reports it). */
static struct twin_op *telemetry_op(struct twin_engine *e, enum twin_op_kind kind, const char *id,
		size_t id_len, const struct twin_topic_match *m, const void *payload, size_t len)
{
	bool oversize = len > e->cfg->max_twin_bytes;
	struct twin_op *op = twin_op_new_at(kind, id, id_len, m ? m->path : NULL, m ? m->path_len : 0,
			payload, oversize ? 0 : len, NULL);
	if (!op) {
		twin_metric_add(&e->metrics, telemetry_dropped, 1);
		return NULL;
	}
	op->oversize = oversize ? len : 0;
	op->ts = twin_now_ms();
	/* what it costs of telemetry_rate: a reading each (a value on a sub-path is one, even an array) */
	op->readings = oversize || (m && m->path_len) ? 1 : twin_json_elements(payload, len);
	return op;
}

/* Twin id is connected when its device itself sent something: the client whose client id (or username,
 * with telemetry_id_from username) is the id; twin_engine_client_gone clears it by the same key. */
static void mark_present(struct twin_engine *e, const char *id, size_t id_len, const char *client_id,
		const char *username)
{
	const char *who = e->cfg->telemetry_id_from == TWIN_ID_FROM_USERNAME ? username : client_id;
	if (who && strlen(who) == id_len && !memcmp(who, id, id_len)) {
		twin_presence_set(&e->presence, id, id_len);
	}
}

void twin_engine_telemetry(struct twin_engine *e, const struct twin_topic_match *m,
		const char *client_id, const char *username, const void *payload, size_t len)
{
	if (!client_id) {
		client_id = "";
	}
	const char *from = e->cfg->telemetry_id_from == TWIN_ID_FROM_USERNAME ? username : client_id;
	const char *id = m->id ? m->id : from ? from : "";
	size_t id_len = m->id ? m->id_len : strlen(id);
	twin_metric_add(&e->metrics, telemetry_received, 1);
	if (!twin_topic_native_id_valid(id, id_len, NULL)) {
		twin_metric_add(&e->metrics, telemetry_invalid, 1);
		return;
	}
	mark_present(e, id, id_len, client_id, username);
	struct twin_op *op = telemetry_op(e, TWIN_OP_TELEMETRY, id, id_len, m, payload, len);
	if (!op) {
		return;
	}
	op = twin_throttle_telemetry(&e->throttle, op, mono_ms());
	if (e->throttle.limited) {
		twin_metric_add(&e->metrics, telemetry_rate_limited, e->throttle.limited);
		e->throttle.limited = 0;
	}
	if (op && enqueue(e, op, op->ts) != TWIN_OK) {
		twin_op_free(op);
		twin_metric_add(&e->metrics, telemetry_dropped, 1);
	}
}

/* A gateway batch goes to the writer as it is: only the writer parses it, so neither the per-device rate
 * limit nor the per-twin read-your-writes marks can apply; reads wait for it as a whole instead. */
void twin_engine_gateway(struct twin_engine *e, const char *client_id, const void *payload,
		size_t len)
{
	if (!client_id) {
		client_id = "";
	}
	twin_metric_add(&e->metrics, telemetry_received, 1);
	struct twin_op *op = telemetry_op(e, TWIN_OP_GATEWAY, client_id, strlen(client_id), NULL,
			payload, len);
	if (!op) {
		return;
	}
	if (enqueue(e, op, op->ts) != TWIN_OK) {
		twin_op_free(op);
		twin_metric_add(&e->metrics, telemetry_dropped, 1);
		return;
	}
	e->last_gateway_seq = e->next_seq;
}

static void release_held(void *ctx, struct twin_op *op)
{
	struct twin_engine *e = ctx;
	if (enqueue(e, op, twin_now_ms()) != TWIN_OK) {
		twin_op_free(op);
		twin_metric_add(&e->metrics, telemetry_dropped, 1);
	}
}

void twin_engine_client_gone(struct twin_engine *e, const char *client_id, const char *username)
{
	const char *who = e->cfg->telemetry_id_from == TWIN_ID_FROM_USERNAME ? username : client_id;
	if (who) {
		twin_presence_clear(&e->presence, who, strlen(who));
	}
	if (client_id) {
		twin_azure_session_client_gone(&e->azure, client_id);
	}
}

/* ---- answers made here ---- */

static void answer(struct twin_engine *e, struct twin_out *o)
{
	if (o && o->status >= 300) {
		twin_metric_add(&e->metrics, requests_failed, 1);
	}
	twin_out_list_add(&e->local, o);
}

static void answer_error(struct twin_engine *e, const struct twin_route *r,
		const struct twin_error *err, const char *token)
{
	answer(e, twin_answer_error(r, err, token));
}

/* Parses a request in its front's form; false when it is refused (answered). */
static bool parse_request(struct twin_engine *e, const struct twin_route *r, enum twin_verb verb,
		const char *payload, size_t len, struct twin_request *req)
{
	struct twin_error err;
	if (twin_request_parse_for(r, verb, payload, len, e->cfg->max_depth, req, &err) == TWIN_OK) {
		return true;
	}
	answer_error(e, r, &err, req->token);
	twin_request_free(req);
	return false;
}

static void run_get(struct twin_engine *e, struct twin_route *r, const char *id, size_t id_len,
		const char *payload, size_t len)
{
	struct twin_request req;
	struct twin_error err;
	const void *val = NULL;
	size_t val_len = 0;
	if (!parse_request(e, r, TWIN_VERB_GET, payload, len, &req)) {
		return;
	}
	if (twin_store_read_begin(e->store) != TWIN_OK) {
		twin_fail(&err, TWIN_ERR_STORE, "twin store unavailable");
		answer_error(e, r, &err, req.token);
		twin_request_free(&req);
		return;
	}
	enum twin_rc rc = twin_store_get(e->store, id, id_len, &val, &val_len);
	bool connected = twin_presence_has(e->presence, id, id_len);
	const struct twin_front_ops *front = twin_front(r->front);
	struct twin_stored stored = {id, id_len, val, val_len, e->cfg->default_model};
	/* from the stored bytes where the front can (a big twin costs no tree), else from the loaded twin */
	struct twin_out *o = rc == TWIN_OK && front->get_answer_stored
			? front->get_answer_stored(r, &stored, connected, &req, &e->buf)
			: NULL;
	cJSON *doc = !o && rc == TWIN_OK ? twin_doc_load(id, id_len, val, val_len) : NULL;
	if (doc && !twin_doc_show_model(doc, e->cfg->default_model)) {
		cJSON_Delete(doc);
		doc = NULL;
		rc = TWIN_ERR_NOMEM;
	}
	if (o) {
		answer(e, o);
	} else if (doc || (rc == TWIN_ERR_NOT_FOUND && front->missing_is_empty)) {
		/* an Azure device always has a twin: one not created yet is empty */
		o = front->get_answer(r, doc, connected, &req, &e->buf);
		cJSON_Delete(doc);
		if (o) {
			answer(e, o);
		} else {
			twin_fail(&err, TWIN_ERR_NOMEM, "out of memory");
			answer_error(e, r, &err, req.token);
		}
	} else if (rc == TWIN_ERR_NOT_FOUND) {
		twin_fail(&err, TWIN_ERR_NOT_FOUND, "twin '%.*s' not found", (int)id_len, id);
		answer_error(e, r, &err, req.token);
	} else {
		twin_fail(&err, TWIN_ERR_STORE, "the stored twin '%.*s' is unreadable", (int)id_len, id);
		answer_error(e, r, &err, req.token);
	}
	twin_store_read_end(e->store);
	twin_request_free(&req);
}

struct history_read {
	const struct twin_request *req;
	cJSON *items;
	int64_t left;
	bool oom;
};

static bool history_item(void *ctx, int64_t version, int64_t ts, const char *json, size_t len)
{
	struct history_read *h = ctx;
	(void)version;
	if (ts < h->req->since) {
		return true; /* entries are in version order, and device timestamps may go backwards */
	}
	if (h->left-- <= 0) {
		return false;
	}
	cJSON *item = cJSON_ParseWithLength(json, len);
	if (item && h->req->fields) {
		cJSON *sel = twin_doc_select(item, h->req->fields);
		cJSON_Delete(item);
		item = sel;
	}
	if (!item || !cJSON_AddItemToArray(h->items, item)) {
		cJSON_Delete(item);
		h->oom = true;
		return false;
	}
	return true;
}

static void run_history(struct twin_engine *e, struct twin_route *r, const char *id, size_t id_len,
		const char *payload, size_t len)
{
	struct twin_request req;
	struct twin_error err;
	const void *val;
	size_t val_len;
	if (!parse_request(e, r, TWIN_VERB_HISTORY, payload, len, &req)) {
		return;
	}
	cJSON *body = cJSON_CreateObject();
	struct history_read h = {&req, NULL, req.limit ? req.limit : TWIN_HISTORY_LIMIT_DEFAULT, false};
	char *id_str = strndup(id, id_len);
	bool ok = body && id_str && cJSON_AddStringToObject(body, "id", id_str) &&
			(h.items = cJSON_AddArrayToObject(body, "items"));
	free(id_str);
	enum twin_rc rc = TWIN_ERR_STORE;
	if (ok && twin_store_read_begin(e->store) == TWIN_OK) {
		rc = twin_store_get(e->store, id, id_len, &val, &val_len);
		if (rc == TWIN_OK) {
			twin_store_history(e->store, id, id_len, history_item, &h);
		}
		twin_store_read_end(e->store);
	}
	if (rc == TWIN_OK && !h.oom) {
		answer(e, twin_answer_json(r, body, req.token));
	} else {
		cJSON_Delete(body);
		if (rc == TWIN_ERR_NOT_FOUND) {
			twin_fail(&err, TWIN_ERR_NOT_FOUND, "twin '%.*s' not found", (int)id_len, id);
		} else {
			twin_fail(&err, TWIN_ERR_STORE, "the history of '%.*s' could not be read", (int)id_len, id);
		}
		answer_error(e, r, &err, req.token);
	}
	twin_request_free(&req);
}

/* Answers the model document json (with the request's token) or refuses with err. */
static void answer_model(struct twin_engine *e, struct twin_route *r, const struct twin_model *m,
		const struct twin_request *req, const struct twin_error *err)
{
	struct twin_buf *b = &e->buf;
	b->len = 0;
	if (!m) {
		answer_error(e, r, err, req->token);
		return;
	}
	bool ok = twin_buf_put(b, m->json, m->json_len - 1) && /* without its closing brace */
			(!req->token || (twin_buf_put(b, ",\"token\":", 9) && twin_json_write_string(b, req->token))) &&
			twin_buf_put(b, "}", 1);
	answer(e, ok ? twin_answer_raw(r, 200, b->data, b->len) : NULL);
}

/* $twin/{id}/model: the document of the model the twin follows. */
static void run_model(struct twin_engine *e, struct twin_route *r, const char *id, size_t id_len,
		const char *payload, size_t len)
{
	struct twin_request req;
	struct twin_error err;
	const void *val;
	size_t val_len;
	if (!parse_request(e, r, TWIN_VERB_MODEL, payload, len, &req)) {
		return;
	}
	struct twin_models *models = twin_models_slot_get(&e->models);
	const struct twin_model *m = NULL;
	enum twin_rc rc = twin_store_read_begin(e->store);
	bool reading = rc == TWIN_OK;
	cJSON *doc = NULL;
	if (reading && (rc = twin_store_get(e->store, id, id_len, &val, &val_len)) == TWIN_OK) {
		doc = twin_doc_load(id, id_len, val, val_len);
	}
	const char *name = doc ? twin_model_name_of(doc, e->cfg->default_model) : NULL;
	if (rc == TWIN_ERR_NOT_FOUND) {
		twin_fail(&err, TWIN_ERR_NOT_FOUND, "twin '%.*s' not found", (int)id_len, id);
	} else if (!doc) {
		twin_fail(&err, TWIN_ERR_STORE, "the stored twin '%.*s' is unreadable", (int)id_len, id);
	} else if (!name) {
		twin_fail(&err, TWIN_ERR_NOT_FOUND,
				"twin '%.*s' follows no model (set attributes.model, or plugin_opt_default_model)",
				(int)id_len, id);
	} else if (!(m = twin_models_find(models, name, strlen(name)))) {
		twin_fail(&err, TWIN_ERR_NOT_FOUND, "twin '%.*s' names model '%.64s', which is not loaded",
				(int)id_len, id, name);
	}
	answer_model(e, r, m, &req, &err);
	cJSON_Delete(doc);
	if (reading) {
		twin_store_read_end(e->store);
	}
	twin_models_release(models);
	twin_request_free(&req);
}

/* $twin/models: {"models": [every loaded model document, by name]}. */
static void run_models(struct twin_engine *e, const struct twin_route *r, const char *payload,
		size_t len)
{
	struct twin_request req;
	if (!parse_request(e, r, TWIN_VERB_MODELS, payload, len, &req)) {
		return;
	}
	struct twin_models *models = twin_models_slot_get(&e->models);
	struct twin_buf *b = &e->buf;
	b->len = 0;
	bool ok = twin_buf_put(b, "{\"models\":[", 11);
	for (size_t i = 0; ok && i < twin_models_count(models); i++) {
		const struct twin_model *m = twin_models_at(models, i);
		ok = (!i || twin_buf_put(b, ",", 1)) && twin_buf_put(b, m->json, m->json_len);
	}
	ok = ok && twin_buf_put(b, "]", 1) &&
			(!req.token || (twin_buf_put(b, ",\"token\":", 9) && twin_json_write_string(b, req.token))) &&
			twin_buf_put(b, "}", 1);
	answer(e, ok ? twin_answer_raw(r, 200, b->data, b->len) : NULL);
	twin_models_release(models);
	twin_request_free(&req);
}

/* The reads answered on this thread. */
static void run_read(struct twin_engine *e, enum twin_verb verb, struct twin_route *r,
		const char *id, size_t id_len, const char *payload, size_t len)
{
	if (verb == TWIN_VERB_HISTORY) {
		run_history(e, r, id, id_len, payload, len);
	} else if (verb == TWIN_VERB_MODEL) {
		run_model(e, r, id, id_len, payload, len);
	} else {
		run_get(e, r, id, id_len, payload, len);
	}
}

_Static_assert(sizeof(struct twin_metrics) / sizeof(_Atomic uint64_t) + 4 <= TWIN_MAX_STATS,
		"the snapshot must hold every counter and the 4 gauges");

/* Every figure the plugin reports, in $twin/stats order (the gauges twins, queue_depth, map_size and
 * db_bytes around the counters). */
static void snapshot(struct twin_engine *e, struct twin_stats_snapshot *s)
{
	size_t twins = 0, map_size = 0, used = 0;
	if (twin_store_read_begin(e->store) == TWIN_OK) {
		twins = twin_store_count(e->store);
		map_size = twin_store_map_size(e->store);
		used = twin_store_used_bytes(e->store);
		twin_store_read_end(e->store);
	}
	pthread_mutex_lock(&e->in.lock);
	size_t depth = e->in.messages;
	pthread_mutex_unlock(&e->in.lock);
	s->n = 0;
	twin_stats_add(s, "twins", (int64_t)twins, false);
#define ADD_METRIC(name) twin_stats_add(s, #name, (int64_t)twin_metric_get(&e->metrics, name), true);
	TWIN_METRICS(ADD_METRIC)
#undef ADD_METRIC
	twin_stats_add(s, "queue_depth", (int64_t)depth, false);
	twin_stats_add(s, "map_size", (int64_t)map_size, false);
	twin_stats_add(s, "db_bytes", (int64_t)used, false);
}

static void run_stats(struct twin_engine *e, const struct twin_route *r, const char *payload,
		size_t len)
{
	struct twin_request req;
	struct twin_stats_snapshot s;
	if (!parse_request(e, r, TWIN_VERB_STATS, payload, len, &req)) {
		return;
	}
	snapshot(e, &s);
	cJSON *body = cJSON_CreateObject();
	bool ok = body != NULL;
	for (size_t i = 0; ok && i < s.n; i++) {
		ok = twin_json_add_int64(body, s.item[i].name, s.item[i].value);
	}
	ok = ok && cJSON_AddStringToObject(body, "version", twin_version()) != NULL;
	if (!ok) {
		cJSON_Delete(body);
		body = NULL;
	}
	answer(e, twin_answer_json(r, body, req.token));
	twin_request_free(&req);
}

/* Every sys_interval seconds: the $SYS messages and the metrics file. */
static void report(struct twin_engine *e)
{
	struct twin_stats_snapshot s;
	struct twin_error err;
	snapshot(e, &s);
	twin_sysreport_publish(&e->sysreport, &s, &e->local);
	if (!e->cfg->metrics_file) {
		return;
	}
	bool failing = twin_sysreport_write_prom(e->cfg->metrics_file, &s, &err) != TWIN_OK;
	if (failing && !e->report_failing) {
		twin_out_list_add(&e->local, twin_out_log(TWIN_LOG_WARNING,
				"mosquitto_twin: plugin_opt_metrics_file: %s (logged once until it works again)", err.msg));
	}
	e->report_failing = failing;
}

void twin_engine_tick(struct twin_engine *e)
{
	if (e->throttle.held_count) {
		twin_throttle_release(&e->throttle, mono_ms(), release_held, e);
	}
	if (e->cfg->sys_interval > 0) {
		int64_t now = clock_ms(CLOCK_MONOTONIC_COARSE);
		if (now >= e->next_report_ms) {
			e->next_report_ms = now + e->cfg->sys_interval * 1000;
			report(e);
		}
	}
}

static void count_verb(struct twin_engine *e, enum twin_verb verb)
{
	switch (verb) {
		case TWIN_VERB_GET:
			twin_metric_add(&e->metrics, requests_get, 1);
			break;
		case TWIN_VERB_UPDATE:
			twin_metric_add(&e->metrics, requests_update, 1);
			break;
		case TWIN_VERB_DELETE:
			twin_metric_add(&e->metrics, requests_delete, 1);
			break;
		case TWIN_VERB_HISTORY:
			twin_metric_add(&e->metrics, requests_history, 1);
			break;
		case TWIN_VERB_SEARCH:
			twin_metric_add(&e->metrics, requests_search, 1);
			break;
		case TWIN_VERB_STATS:
			twin_metric_add(&e->metrics, requests_stats, 1);
			break;
		case TWIN_VERB_ACK:
			twin_metric_add(&e->metrics, requests_ack, 1);
			break;
		case TWIN_VERB_MODEL:
		case TWIN_VERB_MODELS:
			twin_metric_add(&e->metrics, requests_model, 1);
			break;
		case TWIN_VERB_UNKNOWN:
			break; /* counted in requests only, and answered 400 */
	}
}

/* Every answer leaves through twin_engine_take: counted there by status. */
static void count_status(struct twin_engine *e, int status)
{
	switch (status) {
#define STATUS_CASE(n)                                                                             \
	case n:                                                                                        \
		twin_metric_add(&e->metrics, answers_##n, 1);                                              \
		break;
		case 204: /* Azure's answer to a reported patch: a success */
		STATUS_CASE(200)
		STATUS_CASE(400)
		STATUS_CASE(404)
		STATUS_CASE(409)
		STATUS_CASE(413)
		STATUS_CASE(429)
		STATUS_CASE(500)
		STATUS_CASE(503)
		STATUS_CASE(507)
#undef STATUS_CASE
		default:
			break;
	}
}

/* ---- requests ---- */

/* A request on its way through twin_engine_request. */
struct request {
	struct twin_engine *e;
	const struct twin_topic_match *m;
	const struct twin_request_in *in;
	const struct twin_front_ops *front;
	struct twin_route *r;
	const char *id; /* the twin it is about; NULL for $twin/{verb} */
	size_t id_len;
	bool id_ok, topic_ok;
	struct twin_error id_err, topic_err; /* why not, answered in the order of the checks */
	char id_buf[TWIN_MAX_ID_LEN + 1];
};

static struct twin_route *route_new(const struct twin_front_ops *front,
		const struct twin_topic_match *m, const struct twin_request_in *in)
{
	struct twin_route *r = calloc(1, sizeof(*r));
	if (!r) {
		return NULL;
	}
	r->front = (int)m->front;
	r->client_id = strdup(in->client_id ? in->client_id : "");
	r->request_topic = strdup(in->topic);
	/* the fronts answer on their own topics; a response topic means nothing to them */
	bool keep_topic = front->takes_response_topic && in->response_topic;
	r->response_topic = keep_topic ? strdup(in->response_topic) : NULL;
	/* correlation data over the limit is not kept: the 400 that says so carries none */
	bool keep_corr = in->corr_len && in->corr_len <= TWIN_MAX_CORR_LEN;
	if (keep_corr && (r->corr = malloc(in->corr_len))) {
		memcpy(r->corr, in->corr, in->corr_len);
		r->corr_len = in->corr_len;
	}
	if (front->early_token) {
		r->token = front->early_token(in->payload, in->payload_len);
	}
	r->rid = m->rid ? strndup(m->rid, m->rid_len) : NULL;
	if (!r->client_id || !r->request_topic || (keep_topic && !r->response_topic) ||
			(keep_corr && !r->corr) || (m->rid && !r->rid)) {
		twin_route_free(r);
		return NULL;
	}
	return r;
}

/* What is known before the checks: the twin the request is about (a front's requester is the device
 * itself: its twin is connected, and an Azure device's desired pushes go to the client that asked
 * last), and whether its response topic is valid. */
static void request_begin(struct request *q)
{
	const struct twin_request_in *in = q->in;
	bool by_username = q->e->cfg->telemetry_id_from == TWIN_ID_FROM_USERNAME;
	q->id_ok = q->front->twin_id(q->m, in->client_id, in->username, by_username, q->id_buf, &q->id,
			&q->id_len, &q->id_err);
	if (q->id_ok && q->front->device_requests) {
		if (q->front->desired_to_session) {
			twin_azure_session_set(&q->e->azure, q->id, q->id_len, in->client_id ? in->client_id : "");
		}
		mark_present(q->e, q->id, q->id_len, in->client_id, in->username);
	}
	q->topic_ok = !q->r->response_topic || twin_response_topic_valid(q->r->response_topic, &q->topic_err);
	if (!q->topic_ok) {
		free(q->r->response_topic);
		q->r->response_topic = NULL; /* every answer, 429 too, goes to {request topic}/rejected */
	}
}

/* ---- the checks, in order: each refuses a request with err set, answered with it ---- */

/* The rate limits come first: a flood of bad requests costs its sender like any other. */
static bool check_rate(struct request *q, struct twin_error *err)
{
	if (twin_throttle_request(&q->e->throttle, q->r->client_id, q->id_ok ? q->id : NULL,
				q->id_ok ? q->id_len : 0, mono_ms(), err)) {
		return true;
	}
	twin_metric_add(&q->e->metrics, requests_rate_limited, 1);
	return false;
}

static bool check_response_topic(struct request *q, struct twin_error *err)
{
	if (!q->topic_ok) {
		*err = q->topic_err;
	}
	return q->topic_ok;
}

static bool check_correlation(struct request *q, struct twin_error *err)
{
	if (q->in->corr_len > TWIN_MAX_CORR_LEN) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "correlation data of %u bytes is over the limit of %d bytes",
				(unsigned)q->in->corr_len, TWIN_MAX_CORR_LEN);
		return false;
	}
	return true;
}

static bool check_front_topic(struct request *q, struct twin_error *err)
{
	return !q->front->check_topic || q->front->check_topic(q->m, err);
}

static bool check_verb(struct request *q, struct twin_error *err)
{
	if (q->m->verb != TWIN_VERB_UNKNOWN) {
		return true;
	}
	const struct twin_front_ops *f = q->front->unknown_verb ? q->front : twin_front(TWIN_FRONT_NATIVE);
	f->unknown_verb(q->m, err);
	return false;
}

static bool check_front_request(struct request *q, struct twin_error *err)
{
	return !q->front->check_request || q->front->check_request(q->in->topic, err);
}

static bool check_size(struct request *q, struct twin_error *err)
{
	if (q->in->payload_len > q->e->cfg->max_twin_bytes) {
		twin_fail(err, TWIN_ERR_TOO_LARGE, "request payload of %zu bytes is over max_twin_bytes=%zu",
				q->in->payload_len, q->e->cfg->max_twin_bytes);
		return false;
	}
	return true;
}

/* Stats and search are about no twin, so they always pass (their id is NULL). */
static bool check_twin(struct request *q, struct twin_error *err)
{
	if (!q->id_ok) {
		*err = q->id_err;
	}
	return q->id_ok;
}

static bool (*const request_checks[])(struct request *q, struct twin_error *err) = {
		check_rate,
		check_response_topic,
		check_correlation,
		check_front_topic, /* Azure: a $rid too long */
		check_verb,
		check_front_request, /* Azure: a conditional patch */
		check_size,
		check_twin,
};

/* ---- the verbs: each takes over the route (true) or leaves it to be freed ---- */

/* Queues a write or a deferred read; the route then belongs to the op (or is freed when refused). */
static bool queue_request(struct request *q, enum twin_op_kind kind)
{
	struct twin_engine *e = q->e;
	struct twin_error err;
	struct twin_op *op = twin_op_new(kind, q->id, q->id_len, q->in->payload, q->in->payload_len, q->r);
	if (op) {
		op->verb = (int)q->m->verb;
		op->ts = twin_now_ms();
	}
	if (op && enqueue(e, op, op->ts) == TWIN_OK) {
		return true;
	}
	if (op) {
		op->route = NULL;
		twin_op_free(op);
		twin_fail(&err, TWIN_ERR_BUSY, "the twin plugin is busy (queue_size=%zu reached); retry later",
				e->cfg->queue_size);
	} else {
		twin_fail(&err, TWIN_ERR_NOMEM, "out of memory");
	}
	answer_error(e, q->r, &err, NULL);
	return false;
}

static bool do_stats(struct request *q)
{
	run_stats(q->e, q->r, q->in->payload, q->in->payload_len);
	return false;
}

static bool do_search(struct request *q)
{
	struct twin_engine *e = q->e;
	struct twin_error err;
	if (twin_searcher_submit(e->searcher, q->r, q->in->username, q->in->payload, q->in->payload_len,
				read_horizon(e, atomic_load_explicit(&e->done_seq, memory_order_acquire)), q->in->search_part,
				&err) == TWIN_OK) {
		return true;
	}
	answer_error(e, q->r, &err, NULL);
	return false;
}

static bool do_models(struct request *q)
{
	run_models(q->e, q->r, q->in->payload, q->in->payload_len);
	return false;
}

static bool do_write(struct request *q)
{
	return queue_request(q, q->m->verb == TWIN_VERB_UPDATE   ? TWIN_OP_UPDATE
					: q->m->verb == TWIN_VERB_ACK            ? TWIN_OP_ACK
															 : TWIN_OP_DELETE);
}

static bool do_read(struct request *q)
{
	if (read_must_wait(q->e, q->id, q->id_len)) {
		return queue_request(q, TWIN_OP_BARRIER);
	}
	run_read(q->e, q->m->verb, q->r, q->id, q->id_len, q->in->payload, q->in->payload_len);
	return false;
}

static bool (*const verb_handlers[])(struct request *q) = {
		[TWIN_VERB_UNKNOWN] = NULL, /* refused by check_verb */
		[TWIN_VERB_GET] = do_read,
		[TWIN_VERB_UPDATE] = do_write,
		[TWIN_VERB_DELETE] = do_write,
		[TWIN_VERB_HISTORY] = do_read,
		[TWIN_VERB_STATS] = do_stats,
		[TWIN_VERB_SEARCH] = do_search,
		[TWIN_VERB_ACK] = do_write,
		[TWIN_VERB_MODEL] = do_read,
		[TWIN_VERB_MODELS] = do_models,
};
_Static_assert(sizeof(verb_handlers) / sizeof(verb_handlers[0]) == TWIN_VERB_MODELS + 1,
		"a handler for every verb");

void twin_engine_request(struct twin_engine *e, const struct twin_topic_match *m,
		const struct twin_request_in *in)
{
	struct request q = {.e = e, .m = m, .in = in, .front = twin_front(m->front)};
	struct twin_error err;
	if (!(q.r = route_new(q.front, m, in))) {
		return;
	}
	twin_metric_add(&e->metrics, requests, 1);
	count_verb(e, m->verb);
	request_begin(&q);
	for (size_t i = 0; i < sizeof(request_checks) / sizeof(request_checks[0]); i++) {
		if (!request_checks[i](&q, &err)) {
			answer_error(e, q.r, &err, NULL);
			twin_route_free(q.r);
			return;
		}
	}
	if (!verb_handlers[m->verb](&q)) {
		twin_route_free(q.r);
	}
}

uint64_t twin_engine_store_call(struct twin_engine *e, twin_store_call_fn fn, const void *payload,
		size_t len)
{
	struct twin_op *op = twin_op_new(TWIN_OP_STORE, "", 0, payload, len, NULL);
	if (!op) {
		return 0;
	}
	op->store_call = fn;
	op->ts = twin_now_ms();
	if (enqueue(e, op, mono_ms()) != TWIN_OK) {
		twin_op_free(op);
		return 0;
	}
	return e->next_seq; /* op's: it may be freed by now */
}

void twin_engine_desired_again(struct twin_engine *e, const char *id, size_t id_len, bool here)
{
	const void *val;
	size_t len;
	cJSON *doc = NULL;
	if (!e->cfg->retain_desired) {
		return;
	}
	if (here && twin_store_read_begin(e->store) == TWIN_OK) {
		if (twin_store_get(e->store, id, id_len, &val, &len) == TWIN_OK) {
			doc = twin_doc_load(id, id_len, val, len);
		}
		twin_store_read_end(e->store);
	}
	if (!here || doc) {
		twin_out_list_add(&e->local, twin_desired_message(e->cfg, id, id_len, doc, &e->buf));
	}
	cJSON_Delete(doc);
}

void twin_engine_release_held(struct twin_engine *e)
{
	twin_throttle_release_all(&e->throttle, release_held, e);
}

uint64_t twin_engine_queued_seq(struct twin_engine *e)
{
	return e->next_seq;
}

bool twin_engine_committed(struct twin_engine *e, uint64_t seq)
{
	return atomic_load_explicit(&e->done_seq, memory_order_acquire) >= seq;
}

struct twin_store *twin_engine_store(struct twin_engine *e)
{
	return e->store;
}

/* A desired push for a device's Azure session goes to the client holding it; false: nobody does. */
static bool to_session(struct twin_engine *e, struct twin_out *o)
{
	const char *client = twin_azure_session_client(&e->azure, o->target, strlen(o->target));
	char *copy = client ? strdup(client) : NULL;
	free(o->target);
	o->target = copy;
	return copy != NULL;
}

struct twin_out *twin_engine_take(struct twin_engine *e)
{
	for (;;) {
		struct twin_out *o = e->local.head;
		if (o) {
			e->local.head = o->next;
			if (!e->local.head) {
				e->local.tail = NULL;
			}
			o->next = NULL;
			if (o->to_session && !to_session(e, o)) {
				twin_out_free(o);
				continue;
			}
			if (o->status > 0) {
				count_status(e, o->status);
			}
			return o;
		}
		struct twin_out *list = twin_outq_take(&e->out);
		if (!list) {
			return NULL;
		}
		/* run deferred gets now that their writes are committed, say who is connected in search answers;
		 * keep the rest in order */
		for (struct twin_out *next; list; list = next) {
			next = list->next;
			list->next = NULL;
			twin_presence_fill(e->presence, list->payload, list->marks);
			if (list->kind == TWIN_OUT_RETRY_GET) {
				struct twin_op *op = list->op;
				run_read(e, (enum twin_verb)op->verb, op->route, op->id, op->id_len, op->payload,
						op->payload_len);
				twin_out_free(list);
			} else {
				twin_out_list_add(&e->local, list);
			}
		}
	}
}
