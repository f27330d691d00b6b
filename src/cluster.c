/* cluster.c - this broker as a shard (see cluster.h).
 *
 * Forwarding (the shard an app is connected to): a $twin/{id}/... request whose id hashes to a foreign
 * slot gets a key, a pending entry (its route: who asked, where the answer goes, correlation data) and a
 * deadline, and goes to <subject>.slot.<n> over NATS. The owner's answer (status and body) is published
 * here with twin_answer_raw, exactly as a local answer would be; no answer by the deadline is a 503, and
 * so is "no responders" (nobody serves the slot: its shard is down) - at once. Pending entries sit in
 * insertion order, which with one timeout is deadline order, so expiry looks at the oldest only.
 * Serving (the owner): a forwarded request is queued by the delivery thread and run on the broker thread
 * through twin_engine_request with the response topic "$twin-cluster/<key>", which nobody can
 * subscribe to usefully: the plugin hands every answer on that topic to twin_cluster_claim, which sends
 * it back over NATS instead of publishing it. A request for a slot this shard does not own (moved, or a
 * stale route) is answered 503 there.
 * Fleet requests: $twin/search and $twin/stats go to every shard (<subject>.all), each runs them as its
 * own and answers with the slots it owns, and the asking shard's gather thread merges the parts
 * (cluster_search.h).
 * Moving slots: the operator's control requests (cluster_ctl.c) change c->slots at run time and freeze
 * slots; a frozen slot's requests answer 503 here, its telemetry is refused (the publisher disconnected,
 * unacknowledged, to send it again to the new owner). The slot table a move left in the store wins over
 * plugin_opt_cluster_slots at start (logged).
 * Events: with cluster_events on, every outbound message passes twin_cluster_event, which hands the
 * twin change events to the JetStream publisher (cluster_events.c); its counters join the $SYS report.
 * Threads: broker thread, except on_request/on_ctl/on_answer/on_log (libnats's delivery thread; on_log
 * also the events publisher's threads), which only queue (under c->lock, or the control's own) and wake
 * the broker thread, and deliver (the gather thread), likewise.
 * Must never: block the broker thread (all NATS I/O is cluster_nats.c's thread), or apply telemetry of a
 * foreign slot. */
#include "cluster.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <uthash.h>

#include "cluster_ctl.h"
#include "cluster_events.h"
#include "cluster_nats.h"
#include "cluster_records.h"
#include "cluster_search.h"
#include "cluster_slot.h"
#include "cluster_wire.h"
#include "front.h"
#include "request.h"

#define REPLY_TOPIC "$twin-cluster/"
#define SYS_TOPIC "$SYS/broker/twin/cluster"
#define REPORT_INTERVAL_MS 1000

struct forwarded { /* a request sent to another shard, waiting for its answer */
	uint64_t key;
	int64_t deadline_ms;
	unsigned slot;
	struct twin_route *route;
	UT_hash_handle hh;
};

struct served { /* a request another shard sent here, waiting for the engine's answer */
	uint64_t key;
	char *reply;
	bool part; /* a part of a fleet's search or stats: answered with this shard's slots */
	UT_hash_handle hh;
};

struct inbound { /* a request another shard sent here, waiting for the broker thread */
	struct inbound *next;
	char *reply;
	size_t len;
	char data[]; /* the wire request, NUL-terminated for the engine */
};

struct twin_cluster {
	const struct twin_cluster_config *cfg;
	struct twin_slot_set slots;
	struct twin_nats *nats;
	struct twin_events *events; /* NULL unless cluster_events on */
	struct twin_gathers *gathers; /* this shard's apps' searches, sent to every shard */
	struct twin_ctl *ctl;
	struct twin_ctl_shard ctl_shard;
	void (*wake)(void *ctx);
	void *wake_ctx;
	pthread_mutex_t lock; /* guards forwarded, answers and the inbound list */
	struct forwarded *forwarded;
	uint64_t next_key;
	struct twin_out_list answers;
	struct inbound *in_head, *in_tail;
	struct served *served; /* broker thread only */
	uint64_t next_served;
	_Atomic uint64_t foreign_telemetry, forwards, served_count, timeouts, unreachable;
	uint64_t reported[9];
	int64_t next_report_ms;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* With c->lock held. */
static void add_answer_locked(struct twin_cluster *c, struct twin_out *o)
{
	if (o) {
		twin_out_list_add(&c->answers, o);
	}
}

/* A 503 (retry) in the form of r's front; msg says why. */
static struct twin_out *answer_busy(const struct twin_route *r, const char *msg)
{
	struct twin_error err;
	twin_fail(&err, TWIN_ERR_BUSY, "%s", msg);
	return twin_answer_error(r, &err, NULL);
}

/* ---- libnats's delivery thread ---- */

static void on_request(void *ctx, const char *reply, const void *data, size_t len)
{
	struct twin_cluster *c = ctx;
	struct inbound *in = malloc(sizeof(*in) + len + 1);
	if (!in || !(in->reply = strdup(reply))) {
		free(in);
		return; /* the requester times out */
	}
	in->next = NULL;
	in->len = len;
	memcpy(in->data, data, len);
	in->data[len] = '\0';
	pthread_mutex_lock(&c->lock);
	if (c->in_tail) {
		c->in_tail->next = in;
	} else {
		c->in_head = in;
	}
	c->in_tail = in;
	pthread_mutex_unlock(&c->lock);
	c->wake(c->wake_ctx);
}

static void on_answer(void *ctx, uint64_t key, bool no_responders, const void *data, size_t len)
{
	struct twin_cluster *c = ctx;
	struct forwarded *f;
	int status;
	const void *body;
	size_t body_len;
	pthread_mutex_lock(&c->lock);
	HASH_FIND(hh, c->forwarded, &key, sizeof(key), f);
	if (!f) {
		pthread_mutex_unlock(&c->lock); /* a search's part, or already answered 503 */
		twin_gathers_part(c->gathers, key, no_responders, data, len);
		return;
	}
	HASH_DEL(c->forwarded, f);
	if (no_responders) {
		char msg[96];
		snprintf(msg, sizeof(msg), "no shard serves slot %u now (is its shard down?); retry", f->slot);
		atomic_fetch_add(&c->unreachable, 1);
		add_answer_locked(c, answer_busy(f->route, msg));
	} else if (twin_wire_answer_decode(data, len, &status, &body, &body_len)) {
		add_answer_locked(c, twin_answer_raw(f->route, status, body, body_len));
	}
	pthread_mutex_unlock(&c->lock);
	twin_route_free(f->route);
	free(f);
	c->wake(c->wake_ctx);
}

static void on_ctl(void *ctx, const char *reply, const void *data, size_t len)
{
	struct twin_cluster *c = ctx;
	if (twin_ctl_queue(c->ctl, reply, data, len)) {
		c->wake(c->wake_ctx);
	}
}

static void on_log(void *ctx, enum twin_log_level level, const char *msg)
{
	struct twin_cluster *c = ctx;
	pthread_mutex_lock(&c->lock);
	add_answer_locked(c, twin_out_log(level, "%s", msg));
	pthread_mutex_unlock(&c->lock);
	c->wake(c->wake_ctx);
}

/* ---- the gather thread ---- */

static void deliver(void *ctx, struct twin_out *o)
{
	struct twin_cluster *c = ctx;
	pthread_mutex_lock(&c->lock);
	add_answer_locked(c, o);
	pthread_mutex_unlock(&c->lock);
	c->wake(c->wake_ctx);
}

/* ---- broker thread ---- */

/* The slots: those a slot move left in the store (it wins, and says so), else cluster_slots. */
static enum twin_rc load_slots(struct twin_cluster *c, struct twin_error *err)
{
	const struct twin_cluster_config *cfg = c->cfg;
	char *saved = cfg->db_path ? twin_slot_table_read(cfg->db_path) : NULL;
	char *spec = saved ? strchr(saved, ' ') : NULL;
	if (spec && strtoll(saved, NULL, 10) == cfg->nslots &&
			twin_slot_set_parse(&c->slots, spec + 1, (unsigned)cfg->nslots, err) == TWIN_OK) {
		add_answer_locked(c, twin_out_log(TWIN_LOG_NOTICE,
				"mosquitto_twin: cluster shard %s: serving slots '%.200s' as the last slot move left them in "
				"the store, not plugin_opt_cluster_slots '%.200s' (update the option to match)",
				cfg->shard, spec + 1, cfg->slots));
		free(saved);
		return TWIN_OK;
	}
	if (saved) {
		add_answer_locked(c, twin_out_log(TWIN_LOG_WARNING,
				"mosquitto_twin: cluster shard %s: the slot table in the store ('%.200s') is not for %lld "
				"slots; serving plugin_opt_cluster_slots", cfg->shard, saved, (long long)cfg->nslots));
	}
	free(saved);
	return twin_slot_set_parse(&c->slots, cfg->slots, (unsigned)cfg->nslots, err);
}

void twin_cluster_set_kick(struct twin_cluster *c, void (*kick)(void *ctx, const char *id), void *ctx)
{
	c->ctl_shard.kick = kick;
	c->ctl_shard.kick_ctx = ctx;
}

enum twin_rc twin_cluster_open(const struct twin_cluster_config *cfg, void (*wake)(void *ctx),
		void *wake_ctx, struct twin_cluster **out, struct twin_error *err)
{
	struct twin_cluster *c = calloc(1, sizeof(*c));
	if (!c) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	c->cfg = cfg;
	c->wake = wake;
	c->wake_ctx = wake_ctx;
	pthread_mutex_init(&c->lock, NULL);
	enum twin_rc rc = load_slots(c, err);
	if (rc == TWIN_OK && !(c->ctl = twin_ctl_new(c->slots.nslots))) {
		rc = twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	if (rc == TWIN_OK && cfg->nats) {
		rc = twin_gathers_open(c->slots.nslots, cfg->search_timeout_ms, deliver, c, &c->gathers, err);
	}
	if (rc == TWIN_OK && cfg->nats) {
		struct twin_nats_handlers h = {on_request, on_ctl, on_answer, on_log, c};
		rc = twin_nats_open(cfg->nats, cfg->shard, cfg->subject, &c->slots, &h, &c->nats, err);
	}
	if (rc == TWIN_OK && cfg->events) {
		struct twin_events_config ec = {cfg->nats, cfg->shard, cfg->subject, cfg->events_stream,
				c->slots.nslots, cfg->events_replicas, cfg->events_max_age_s, cfg->events_max_bytes,
				cfg->events_buffer, cfg->events_buffer_bytes};
		rc = twin_events_open(&ec, on_log, c, &c->events, err);
	}
	c->ctl_shard = (struct twin_ctl_shard){cfg->shard, &c->slots, c->nats, NULL, NULL};
	if (rc != TWIN_OK) {
		twin_cluster_close(c);
		return rc;
	}
	*out = c;
	return TWIN_OK;
}

void twin_cluster_close(struct twin_cluster *c)
{
	if (!c) {
		return;
	}
	twin_events_close(c->events); /* before twin_nats_close, which stops libnats's threads */
	twin_nats_close(c->nats); /* no handler runs after this */
	twin_gathers_close(c->gathers); /* nor any delivery after this */
	struct forwarded *f, *ftmp;
	HASH_ITER(hh, c->forwarded, f, ftmp) {
		HASH_DEL(c->forwarded, f); // NOLINT(clang-analyzer-unix.Malloc): uthash's iteration, as elsewhere
		twin_route_free(f->route);
		free(f);
	}
	struct served *s, *stmp;
	HASH_ITER(hh, c->served, s, stmp) {
		HASH_DEL(c->served, s); // NOLINT(clang-analyzer-unix.Malloc): uthash's iteration, as elsewhere
		free(s->reply);
		free(s);
	}
	for (struct inbound *in = c->in_head, *next; in; in = next) {
		next = in->next;
		free(in->reply);
		free(in);
	}
	twin_out_list_free(&c->answers);
	twin_ctl_free(c->ctl);
	twin_slot_set_free(&c->slots);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

enum twin_cluster_telemetry twin_cluster_telemetry(struct twin_cluster *c, const char *id, size_t id_len)
{
	unsigned slot = twin_cluster_slot(id, id_len, c->slots.nslots);
	if (twin_ctl_frozen(c->ctl, slot)) {
		return TWIN_CLUSTER_FROZEN;
	}
	if (twin_slot_set_has(&c->slots, slot)) {
		return TWIN_CLUSTER_APPLY;
	}
	atomic_fetch_add(&c->foreign_telemetry, 1);
	return TWIN_CLUSTER_FOREIGN;
}

/* A 503 for a request of a frozen slot (being moved). */
static void answer_frozen(struct twin_cluster *c, const struct twin_route *r, unsigned slot)
{
	char msg[128];
	snprintf(msg, sizeof(msg), "slot %u is moving to another shard; retry in a moment", slot);
	pthread_mutex_lock(&c->lock);
	add_answer_locked(c, answer_busy(r, msg));
	pthread_mutex_unlock(&c->lock);
}

static struct twin_route *route_of(const struct twin_request_in *in)
{
	struct twin_route *r = calloc(1, sizeof(*r));
	if (!r) {
		return NULL;
	}
	r->front = TWIN_FRONT_NATIVE;
	r->client_id = strdup(in->client_id ? in->client_id : "");
	r->request_topic = strdup(in->topic);
	r->response_topic = in->response_topic ? strdup(in->response_topic) : NULL;
	if (in->corr_len && (r->corr = malloc(in->corr_len))) {
		memcpy(r->corr, in->corr, in->corr_len);
		r->corr_len = in->corr_len;
	}
	if (!r->client_id || !r->request_topic || (in->response_topic && !r->response_topic) ||
			(in->corr_len && !r->corr)) {
		twin_route_free(r);
		return NULL;
	}
	return r;
}

/* A $twin/search or $twin/stats sent to every shard, its answer merged by the gather thread; takes r and
 * data. */
static void scatter(struct twin_cluster *c, const struct twin_topic_match *m, struct twin_route *r,
		const struct twin_request_in *in, void *data, size_t len)
{
	pthread_mutex_lock(&c->lock);
	uint64_t key = ++c->next_key;
	if (!data) {
		add_answer_locked(c, answer_busy(r, "cannot send the request to the shards now; retry"));
		twin_route_free(r);
	}
	pthread_mutex_unlock(&c->lock);
	bool stats = m->verb == TWIN_VERB_STATS;
	if (data && twin_gathers_add(c->gathers, key, r, stats, in->payload, in->payload_len) == TWIN_OK) {
		atomic_fetch_add(&c->forwards, 1);
		twin_nats_scatter(c->nats, key, data, len); /* a failure to queue ends in the deadline */
	} else {
		free(data); /* out of memory: no answer, as for a local request */
	}
}

bool twin_cluster_request(struct twin_cluster *c, const struct twin_topic_match *m,
		const struct twin_request_in *in)
{
	struct twin_error ignored;
	bool fleet = m->front == TWIN_FRONT_NATIVE && c->nats &&
			(m->verb == TWIN_VERB_SEARCH || m->verb == TWIN_VERB_STATS);
	if (m->front != TWIN_FRONT_NATIVE || (!m->id && !fleet)) {
		return false; /* $twin/models and the fronts are answered here */
	}
	unsigned slot = m->id ? twin_cluster_slot(m->id, m->id_len, c->slots.nslots) : 0;
	bool frozen = m->id && twin_ctl_frozen(c->ctl, slot) && twin_slot_set_has(&c->slots, slot);
	if ((m->id && twin_slot_set_has(&c->slots, slot) && !frozen) || in->corr_len > TWIN_MAX_CORR_LEN ||
			(in->response_topic && !twin_response_topic_valid(in->response_topic, &ignored))) {
		return false; /* ours, or refused here with 400 before the twin matters */
	}
	struct twin_route *r = route_of(in);
	if (!r) {
		return true; /* out of memory: no answer, as for a local request */
	}
	if (frozen) {
		answer_frozen(c, r, slot);
		twin_route_free(r);
		return true;
	}
	const char *client = in->client_id ? in->client_id : "";
	struct twin_wire_request w = {in->topic, strlen(in->topic), client, strlen(client), in->username,
			in->username ? strlen(in->username) : 0, in->payload, in->payload_len};
	size_t len = 0;
	void *data = c->nats ? twin_wire_request_encode(&w, &len) : NULL;
	if (fleet) {
		scatter(c, m, r, in, data, len);
		return true;
	}
	struct forwarded *f = data ? calloc(1, sizeof(*f)) : NULL;
	pthread_mutex_lock(&c->lock);
	if (!f) {
		char msg[128];
		snprintf(msg, sizeof(msg), c->nats ? "cannot forward a request for slot %u now; retry"
				: "slot %u is another shard's and this shard has no plugin_opt_cluster_nats", slot);
		add_answer_locked(c, answer_busy(r, msg));
		pthread_mutex_unlock(&c->lock);
		free(data);
		twin_route_free(r);
		return true;
	}
	f->key = ++c->next_key;
	f->slot = slot;
	f->route = r;
	f->deadline_ms = mono_ms() + c->cfg->timeout_ms;
	HASH_ADD(hh, c->forwarded, key, sizeof(f->key), f);
	uint64_t key = f->key;
	pthread_mutex_unlock(&c->lock);
	atomic_fetch_add(&c->forwards, 1);
	twin_nats_request(c->nats, slot, key, data, len); /* a failure to queue ends in the timeout */
	return true;
}

/* An answer to a served request; a search's part names this shard's slots. */
static void reply_as(struct twin_cluster *c, const char *to, bool part, int status, const char *body,
		size_t len)
{
	size_t n;
	void *data = part ? twin_wire_part_encode(c->cfg->slots, status, body, len, &n)
					  : twin_wire_answer_encode(status, body, len, &n);
	if (data) {
		twin_nats_reply(c->nats, to, data, n);
	}
}

static void reply(struct twin_cluster *c, const char *to, int status, const char *body, size_t len)
{
	reply_as(c, to, false, status, body, len);
}

/* A forwarded request, on the engine like a local one, its answer going to REPLY_TOPIC<key>. */
static void serve(struct twin_cluster *c, struct twin_engine *e, const struct inbound *in)
{
	struct twin_wire_request w;
	struct twin_topic_match m;
	char topic[TWIN_MAX_RESPONSE_TOPIC_LEN + 1], client[256], user[256], response[64];
	if (!twin_wire_request_decode(in->data, in->len, &w) || w.topic_len >= sizeof(topic) ||
			w.client_len >= sizeof(client) || w.username_len >= sizeof(user)) {
		static const char bad[] = "{\"error\":\"bad_request\",\"message\":\"not a forwarded request\"}";
		reply(c, in->reply, 400, bad, sizeof(bad) - 1);
		return;
	}
	memcpy(topic, w.topic, w.topic_len);
	topic[w.topic_len] = '\0';
	memcpy(client, w.client_id, w.client_len);
	client[w.client_len] = '\0';
	if (w.username) {
		memcpy(user, w.username, w.username_len);
		user[w.username_len] = '\0';
	}
	twin_engine_classify(e, topic, &m);
	bool part = m.route == TWIN_ROUTE_REQUEST && m.front == TWIN_FRONT_NATIVE &&
			(m.verb == TWIN_VERB_SEARCH || m.verb == TWIN_VERB_STATS);
	unsigned slot = m.id ? twin_cluster_slot(m.id, m.id_len, c->slots.nslots) : 0;
	if (!part && (m.route != TWIN_ROUTE_REQUEST || m.front != TWIN_FRONT_NATIVE || !m.id ||
						 !twin_slot_set_has(&c->slots, slot) || twin_ctl_frozen(c->ctl, slot))) {
		char body[160];
		int n = snprintf(body, sizeof(body),
				"{\"error\":\"busy\",\"message\":\"shard %.60s does not own this twin's slot now; retry\"}",
				c->cfg->shard);
		reply(c, in->reply, 503, body, (size_t)n);
		return;
	}
	struct served *s = calloc(1, sizeof(*s));
	if (!s || !(s->reply = strdup(in->reply))) {
		free(s);
		return;
	}
	s->key = ++c->next_served;
	s->part = part;
	HASH_ADD(hh, c->served, key, sizeof(s->key), s);
	snprintf(response, sizeof(response), REPLY_TOPIC "%" PRIu64, s->key);
	struct twin_request_in req = {client, w.username ? user : NULL, topic, w.payload, w.payload_len,
			response, NULL, 0, part && m.verb == TWIN_VERB_SEARCH};
	atomic_fetch_add(&c->served_count, 1);
	twin_engine_request(e, &m, &req);
}

bool twin_cluster_claim(struct twin_cluster *c, const struct twin_out *o)
{
	if (o->kind != TWIN_OUT_PUBLISH || strncmp(o->topic, REPLY_TOPIC, sizeof(REPLY_TOPIC) - 1)) {
		return false;
	}
	uint64_t key = strtoull(o->topic + sizeof(REPLY_TOPIC) - 1, NULL, 10);
	struct served *s;
	HASH_FIND(hh, c->served, &key, sizeof(key), s);
	if (s) {
		HASH_DEL(c->served, s);
		reply_as(c, s->reply, s->part, o->status, o->payload, o->payload_len);
		free(s->reply);
		free(s);
	}
	return true;
}

static void expire(struct twin_cluster *c, int64_t now)
{
	struct forwarded *f, *tmp;
	pthread_mutex_lock(&c->lock);
	HASH_ITER(hh, c->forwarded, f, tmp) {
		if (f->deadline_ms > now) {
			break;
		}
		HASH_DEL(c->forwarded, f);
		char msg[128];
		snprintf(msg, sizeof(msg), "the shard owning slot %u did not answer within %lld ms; retry",
				f->slot, (long long)c->cfg->timeout_ms);
		atomic_fetch_add(&c->timeouts, 1);
		add_answer_locked(c, answer_busy(f->route, msg));
		twin_route_free(f->route);
		free(f);
	}
	pthread_mutex_unlock(&c->lock);
}

void twin_cluster_event(struct twin_cluster *c, const struct twin_out *o)
{
	if (c->events && o->kind == TWIN_OUT_PUBLISH && !o->target && o->status <= 0) {
		twin_events_offer(c->events, o->topic, o->payload, o->payload_len);
	}
}

/* The counters as a retained $SYS message, when they changed (the events_* ones with cluster_events). */
static void report(struct twin_cluster *c, int64_t now)
{
	struct twin_events_counts ec = {0};
	if (c->events) {
		twin_events_get_counts(c->events, &ec);
	}
	uint64_t v[9] = {atomic_load(&c->foreign_telemetry), atomic_load(&c->forwards),
			atomic_load(&c->served_count), atomic_load(&c->timeouts), atomic_load(&c->unreachable),
			ec.published, ec.dropped, ec.retried, ec.pending};
	static const char *const names[9] = {"foreign_telemetry", "forwarded", "served", "timeouts",
			"unreachable", "events_published", "events_dropped", "events_retried", "events_pending"};
	int shown = c->events ? 9 : 5;
	if (now < c->next_report_ms || (c->next_report_ms && !memcmp(v, c->reported, sizeof(v)))) {
		return;
	}
	c->next_report_ms = now + REPORT_INTERVAL_MS;
	memcpy(c->reported, v, sizeof(v));
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "shard", c->cfg->shard);
	cJSON_AddNumberToObject(j, "slots", c->slots.owned);
	for (int i = 0; i < shown; i++) {
		cJSON_AddNumberToObject(j, names[i], (double)v[i]);
	}
	char *text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (text) {
		pthread_mutex_lock(&c->lock);
		add_answer_locked(c, twin_out_publish(NULL, SYS_TOPIC, text, strlen(text), 0, true));
		pthread_mutex_unlock(&c->lock);
		cJSON_free(text);
	}
}

void twin_cluster_tick(struct twin_cluster *c, struct twin_engine *e)
{
	pthread_mutex_lock(&c->lock);
	struct inbound *list = c->in_head;
	c->in_head = c->in_tail = NULL;
	pthread_mutex_unlock(&c->lock);
	for (struct inbound *next; list; list = next) {
		next = list->next;
		serve(c, e, list);
		free(list->reply);
		free(list);
	}
	twin_ctl_run(c->ctl, &c->ctl_shard, e);
	int64_t now = mono_ms();
	expire(c, now);
	report(c, now);
}

struct twin_out *twin_cluster_take(struct twin_cluster *c)
{
	pthread_mutex_lock(&c->lock);
	struct twin_out *o = c->answers.head;
	if (o) {
		c->answers.head = o->next;
		if (!c->answers.head) {
			c->answers.tail = NULL;
		}
		o->next = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	return o;
}
