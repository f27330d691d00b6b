/* writer.c - the writer thread (see writer.h).
 *
 * Design: the broker thread only copies telemetry and requests into the op queue. This thread waits until
 * a request is queued (answer it now: group commit) or the oldest telemetry is commit_interval_ms old,
 * then takes the whole queue as one batch. Each twin touched by the batch is loaded once into a uthash
 * cache of cJSON trees, every op is merged into it, and each changed twin is serialised and written once:
 * coalescing per twin between commits. The commit is synchronous (fsync'd); only after it succeeds are the
 * answers and device messages released to the broker thread, so an answered write is always durable.
 * A full map is grown and the batch applied again; past map_size_max every write in the batch fails
 * with 507 and the twins stay as they were.
 * Thread: everything here runs on the writer thread, except start/stop.
 * Must never: call a broker function, log directly (logs travel as TWIN_OUT_LOG messages), or release
 * an answer before its commit. */
#include "writer.h"

#include <stdarg.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>

#include "alarm.h"
#include "desired_msg.h"
#include "front.h"
#include "front_aws.h"
#include "front_azure.h"
#include "ingest.h"
#include "jsonx.h"
#include "model_check.h"
#include "model_fast.h"
#include "request.h"
#include "telemetry_fast.h"
#include "twin.h"
#include "twin_format.h"

#define LOG_EVERY_MS    10000
#define BATCH_MAX       16384 /* entries per commit */
#define TRIM_AFTER_OPS  65536 /* a backlog this large is handed back to the system once drained */

enum log_kind { LOG_INVALID, LOG_BROKEN, LOG_FAILED, LOG_LIMIT, N_LOG_KINDS };

struct rate_limit {
	int64_t last_ms;
	uint64_t suppressed;
};

struct twin_writer {
	struct twin_writer_deps d;
	pthread_t thread;
	bool started;
	struct rate_limit rl[N_LOG_KINDS];
	struct twin_out_list logs;
	struct twin_buf scratch; /* events, answers, desired messages and history entries are written here */
	struct twin_buf stored;  /* the stored form of the twin being written */
	struct twin_buf previous; /* AWS update/documents: the shadow before the update being applied */
	struct twin_readings readings; /* the readings of the telemetry being applied */
	struct twin_fast_scratch fast; /* the fast path's buffers */
	struct twin_alarm_holds *holds; /* alarms whose raise condition holds, waiting for their for_s */
	struct twin_alarm_plan plan;   /* what a twin's alarms do after the change being applied */
	struct twin_alarm_change alarm_changes[TWIN_MODEL_MAX_ALARMS * 2];
	struct twin_model_fast model_fast; /* the fast path's model check */
	size_t ops_since_trim;   /* operations processed since memory was last handed back */
};

/* A twin as this batch sees it. */
struct entry {
	UT_hash_handle hh;
	cJSON *doc;            /* NULL: absent (never existed, or deleted in this batch) */
	cJSON *delta_before;   /* the delta when the batch started; NULL if absent */
	int64_t last_version;  /* when (re)created, versions continue after this one */
	int64_t version_before; /* the version when the batch started (0: absent) */
	size_t size_bound;     /* upper bound of the serialised size */
	bool dirty, broken;
	bool deleted; /* deleted in this batch; stays set if made again: flush drops the old history */
	bool fresh; /* created in this batch and not yet versioned: never stored as is */
	size_t id_len;
	char id[];
};

struct batch {
	struct entry *entries;
	uint64_t applied, unchanged, invalid, dropped, failed, refused;
	uint64_t merged; /* telemetry messages applied together with others of their twin */
	enum twin_rc store_rc; /* a write made while applying (the fast path) failed: the batch fails */
	struct twin_error store_err;
	int64_t twins; /* how many twins exist once this batch commits */
	struct twin_models *models; /* the models in force when the batch started */
	uint64_t model_invalid, model_refused, model_missing, alarms_raised, alarms_cleared, alarms_acked;
	struct twin_out_list events; /* alarms raised by the timer (for_s), released with the commit */
};

static void wlog(struct twin_writer *w, enum log_kind kind, enum twin_log_level level,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void wlog(struct twin_writer *w, enum log_kind kind, enum twin_log_level level,
		const char *fmt, ...)
{
	struct rate_limit *rl = &w->rl[kind];
	int64_t now = twin_now_ms();
	char text[400];
	va_list ap;
	if (rl->last_ms && now - rl->last_ms < LOG_EVERY_MS) {
		rl->suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (rl->suppressed) {
		twin_out_list_add(&w->logs, twin_out_log(level, "mosquitto_twin: %s (%llu similar in the last %llds)",
				text, (unsigned long long)rl->suppressed, (long long)(now - rl->last_ms) / 1000));
	} else {
		twin_out_list_add(&w->logs, twin_out_log(level, "mosquitto_twin: %s", text));
	}
	rl->last_ms = now;
	rl->suppressed = 0;
}

/* ---- the batch cache ---- */

static struct entry *get_entry(struct twin_writer *w, struct batch *b, const char *id, size_t len)
{
	struct entry *e = NULL;
	const void *val;
	size_t val_len;
	HASH_FIND(hh, b->entries, id, len, e);
	if (e) {
		return e;
	}
	if (!(e = calloc(1, sizeof(*e) + len + 1))) { /* id ends in NUL */
		return NULL;
	}
	memcpy(e->id, id, len);
	e->id_len = len;
	enum twin_rc rc = twin_store_wget(w->d.store, id, len, &val, &val_len);
	if (rc == TWIN_OK) {
		e->doc = twin_doc_load(id, len, val, val_len);
		e->size_bound = val_len;
		e->version_before = e->doc ? twin_doc_version(e->doc) : 0;
		if (!e->doc || !(e->delta_before = cJSON_Duplicate(
									 cJSON_GetObjectItemCaseSensitive(e->doc, "delta"), 1))) {
			e->broken = true;
		}
	} else if (rc == TWIN_ERR_NOT_FOUND) {
		e->last_version = twin_store_tombstone(w->d.store, id, len);
	} else {
		e->broken = true;
	}
	HASH_ADD(hh, b->entries, id, len, e);
	if (!e->hh.tbl) {
		cJSON_Delete(e->doc);
		cJSON_Delete(e->delta_before);
		free(e);
		return NULL;
	}
	return e;
}

static bool ensure_doc(struct entry *e, int64_t ts)
{
	if (e->doc) {
		return true;
	}
	e->doc = twin_doc_create(e->id, e->id_len, e->last_version, ts);
	e->fresh = e->doc != NULL;
	e->size_bound = TWIN_SIZE_SLACK * 2;
	return e->doc != NULL;
}

static bool exists(const struct entry *e)
{
	return e->doc && !e->fresh;
}

/* False when e does not exist yet and max_twins twins already do. */
static bool may_create(const struct twin_writer *w, const struct batch *b, const struct entry *e)
{
	return e->doc || b->twins < w->d.cfg->max_twins;
}

static void free_entries(struct batch *b)
{
	struct entry *e, *tmp;
	HASH_ITER(hh, b->entries, e, tmp)
	{
		/* the analyzer takes e for the only element while tmp is its non-NULL next: a false positive */
		HASH_DEL(b->entries, e); // NOLINT(clang-analyzer-unix.Malloc)
		cJSON_Delete(e->doc);
		cJSON_Delete(e->delta_before);
		free(e);
	}
}

/* ---- size limit: exact only when a change could cross it ---- */

struct size_guard {
	cJSON *backup;
	size_t growth;
};

static bool guard_begin(struct twin_writer *w, struct entry *e, size_t patch_len,
		struct size_guard *g)
{
	g->growth = patch_len * TWIN_SIZE_GROWTH_PER + TWIN_SIZE_SLACK;
	g->backup = NULL;
	if (e->size_bound + g->growth <= w->d.cfg->max_twin_bytes) {
		return true;
	}
	g->backup = cJSON_Duplicate(e->doc, 1);
	return g->backup != NULL;
}

/* Returns 0 when within the limit, else the size it would have (and restores the twin). */
static size_t guard_end(struct twin_writer *w, struct entry *e, struct size_guard *g)
{
	if (!g->backup) {
		e->size_bound += g->growth;
		return 0;
	}
	size_t len = 0;
	char *text = twin_json_print(e->doc, &len);
	cJSON_free(text);
	if (text && len + 1 <= w->d.cfg->max_twin_bytes) {
		cJSON_Delete(g->backup);
		e->size_bound = len + 1;
		return 0;
	}
	cJSON_Delete(e->doc);
	e->doc = g->backup;
	return text ? len + 1 : SIZE_MAX;
}

static void guard_cancel(struct entry *e, struct size_guard *g)
{
	if (g->backup) {
		cJSON_Delete(e->doc);
		e->doc = g->backup;
	}
}

/* ---- events: one $twin/{id}/events message per change, released with the commit ---- */

struct changes {
	cJSON *sections[TWIN_N_SECTIONS]; /* the effective patch per section, NULL when not tracked */
};

/* Tracks the sections in mask when events are on, and desired when Azure pushes its changes. */
static void changes_init(struct twin_writer *w, struct changes *c, unsigned mask)
{
	mask &= (w->d.cfg->events ? ~0u : 0u) | (w->d.cfg->azure_twin ? 1u << TWIN_SEC_DESIRED : 0u);
	for (int s = 0; s < TWIN_N_SECTIONS; s++) {
		c->sections[s] = (mask & (1u << s)) ? cJSON_CreateObject() : NULL;
	}
}

static void changes_free(struct changes *c)
{
	for (int s = 0; s < TWIN_N_SECTIONS; s++) {
		cJSON_Delete(c->sections[s]);
		c->sections[s] = NULL;
	}
}

static struct twin_out *event_message(const char *id, size_t id_len, const struct twin_buf *body)
{
	char topic[TWIN_MAX_ID_LEN + 32];
	snprintf(topic, sizeof(topic), "$twin/%.*s/events", (int)id_len, id);
	return twin_out_publish(NULL, topic, body->data, body->len, 0, false);
}

/* Starts {"id":..,"version":..,"ts":..,"type":.. in the scratch buffer (no version when < 0). */
static bool event_begin(struct twin_writer *w, const char *id, int64_t ts, int64_t version,
		const char *type)
{
	struct twin_buf *b = &w->scratch;
	b->len = 0;
	return twin_buf_put(b, "{\"id\":", 6) && twin_json_write_string(b, id) &&
			(version < 0 ||
					(twin_buf_put(b, ",\"version\":", 11) && twin_json_write_int(b, version))) &&
			twin_buf_put(b, ",\"ts\":", 6) && twin_json_write_int(b, ts) &&
			twin_buf_put(b, ",\"type\":", 8) && twin_json_write_string(b, type);
}

/* {"id","version","ts","type", <each section that changed: its changed leaves>}, added to list. */
static void add_event(struct twin_writer *w, struct twin_out_list *list, const char *id, int64_t ts,
		const char *type, int64_t version, struct changes *c)
{
	struct twin_buf *b = &w->scratch;
	if (!w->d.cfg->events) {
		return;
	}
	bool ok = event_begin(w, id, ts, version, type);
	for (int s = 0; ok && c && s < TWIN_N_SECTIONS; s++) {
		if (c->sections[s] && c->sections[s]->child) {
			ok = twin_buf_put(b, ",", 1) && twin_json_write_string(b, twin_section_names[s]) &&
					twin_buf_put(b, ":", 1) && twin_json_write(b, c->sections[s]);
		}
	}
	if (ok && twin_buf_put(b, "}", 1)) {
		twin_out_list_add(list, event_message(id, strlen(id), b));
	}
}

/* Telemetry that could not be applied is reported as an event of its twin too. */
static void add_error_event(struct twin_writer *w, struct twin_out_list *events, const char *id,
		int64_t ts, const char *error)
{
	struct twin_buf *b = &w->scratch;
	if (w->d.cfg->events && event_begin(w, id, ts, -1, "error") &&
			twin_buf_put(b, ",\"error\":", 9) && twin_json_write_string(b, error) &&
			twin_buf_put(b, "}", 1)) {
		twin_out_list_add(events, event_message(id, strlen(id), b));
	}
}

/* ---- models and alarms ---- */

static bool models_in_use(const struct twin_writer *w, const struct batch *b)
{
	return twin_models_count(b->models) > 0 || w->d.cfg->default_model;
}

/* The model doc follows; NULL when none, or when the one it names is not loaded (*name then names it). */
static const struct twin_model *model_of(const struct twin_writer *w, const struct batch *b,
		const cJSON *doc, const char **name)
{
	*name = twin_model_name_of(doc, w->d.cfg->default_model);
	return *name ? twin_models_find(b->models, *name, strlen(*name)) : NULL;
}

static const cJSON *doc_value(const void *doc, const char *path)
{
	return twin_query_path(doc, path);
}

/* What e's alarms do after a change at ts, applied to its document: returns the number of alarm changes
 * (described in w->alarm_changes), -1 when memory ran out. A twin whose model is not loaded keeps its
 * alarms as they are. */
static int eval_alarms(struct twin_writer *w, struct batch *b, struct entry *e, int64_t ts)
{
	const char *name;
	const struct twin_model *m = model_of(w, b, e->doc, &name);
	const cJSON *alarms = cJSON_GetObjectItemCaseSensitive(e->doc, "alarms");
	if (name && !m) {
		twin_alarm_holds_forget(w->holds, e->id, e->id_len);
		return 0;
	}
	if ((!m || !m->n_alarms) && !(alarms && alarms->child)) {
		return 0;
	}
	twin_alarms_decide(m, doc_value, e->doc, alarms, w->holds, e->id, e->id_len, ts, &w->plan);
	int n = twin_alarms_apply(e->doc, &w->plan, ts, w->alarm_changes);
	for (int i = 0; i < n; i++) {
		*(w->alarm_changes[i].active ? &b->alarms_raised : &b->alarms_cleared) += 1;
	}
	return n;
}

/* {"id","version","ts","type":"alarm","name","severity","active","acked","since"[,"cleared"]} for each of
 * the n alarm changes in w->alarm_changes. */
static void add_alarm_events(struct twin_writer *w, struct twin_out_list *list, const char *id,
		int64_t ts, int64_t version, int n)
{
	for (int i = 0; w->d.cfg->events && i < n; i++) {
		if (event_begin(w, id, ts, version, "alarm") &&
				twin_alarm_event_members(&w->scratch, &w->alarm_changes[i]) &&
				twin_buf_put(&w->scratch, "}", 1)) {
			twin_out_list_add(list, event_message(id, strlen(id), &w->scratch));
		}
	}
}

/* {"id","ts","type":"invalid","path","error"}: telemetry that breaks its twin's model. */
static void add_invalid_event(struct twin_writer *w, struct twin_out_list *events, const char *id,
		int64_t ts, const struct twin_error *err)
{
	struct twin_buf *b = &w->scratch;
	if (w->d.cfg->events && event_begin(w, id, ts, -1, "invalid") &&
			twin_buf_put(b, ",\"path\":", 8) && twin_json_write_string(b, err->path) &&
			twin_buf_put(b, ",\"error\":", 9) && twin_json_write_string(b, err->msg) &&
			twin_buf_put(b, "}", 1)) {
		twin_out_list_add(events, event_message(id, strlen(id), b));
	}
}

/* Checks readings against the model of e's twin before they are applied: true when they may be applied
 * (they conform, or model_reported is warn: then with an `invalid` event). Counted. */
static bool readings_conform(struct twin_writer *w, struct batch *b, struct entry *e,
		const struct twin_readings *rs, struct twin_out_list *events, int64_t ts)
{
	const char *name;
	const struct twin_model *m = model_of(w, b, e->doc, &name);
	struct twin_error err;
	if (name && !m) {
		b->model_missing++;
		return true;
	}
	const cJSON *reported = cJSON_GetObjectItemCaseSensitive(e->doc, "reported");
	for (size_t i = 0; m && i < rs->n; i++) {
		if (!twin_model_check_reading(m, reported, rs->r[i].patch, &err)) {
			b->model_invalid++;
			add_invalid_event(w, events, e->id, ts, &err);
			bool reject = w->d.cfg->model_reported == TWIN_MODEL_REPORTED_REJECT;
			if (reject) {
				b->invalid++;
				wlog(w, LOG_INVALID, TWIN_LOG_WARNING, "telemetry for '%s' rejected: %s", e->id, err.msg);
			}
			return !reject;
		}
	}
	return true;
}

/* ---- applying operations ---- */

/* Telemetry for twin id, arrived at ts, that cannot be applied: counted, logged, and an error event of that
 * twin (added to events). */
static void telemetry_invalid(struct twin_writer *w, struct batch *b, struct twin_out_list *events,
		const char *id, int64_t ts, const char *why)
{
	b->invalid++;
	wlog(w, LOG_INVALID, TWIN_LOG_WARNING, "telemetry for '%s' ignored: %s", id, why);
	char error[TWIN_ERRMSG_LEN + 32];
	snprintf(error, sizeof(error), "telemetry ignored: %s", why);
	add_error_event(w, events, id, ts, error);
}

/* ---- telemetry: one change per twin for all its waiting messages ---- */

/* A twin's telemetry being applied as one change: one version, one event, whatever the number of
 * messages and readings; each leaf keeps the ts of its own last change. */
struct telemetry_change {
	struct entry *e;
	struct size_guard g;
	struct changes c;
	bool created;    /* the change creates the twin */
	bool changed;    /* some reading changed a leaf */
	int64_t last_ts; /* the ts of the last reading that changed something (or created the twin) */
};

/* Starts a change of twin id whose first reading is at first_ts; patch_len bounds the JSON size of all the
 * readings to come. False (counted, logged) when the twin cannot take telemetry now. */
static bool change_begin(struct twin_writer *w, struct batch *b, const char *id, size_t id_len,
		int64_t first_ts, size_t patch_len, size_t msgs, struct telemetry_change *tc)
{
	const struct twin_config *cfg = w->d.cfg;
	memset(tc, 0, sizeof(*tc));
	struct entry *e = tc->e = get_entry(w, b, id, id_len);
	if (e && !e->broken && !may_create(w, b, e)) {
		b->dropped += msgs;
		b->refused++;
		wlog(w, LOG_LIMIT, TWIN_LOG_WARNING,
				"telemetry for new twin '%s' dropped: max_twins=%lld twins exist; delete twins or "
				"raise plugin_opt_max_twins", id, (long long)cfg->max_twins);
		return false;
	}
	if (!e || e->broken || !ensure_doc(e, first_ts) || !guard_begin(w, e, patch_len, &tc->g)) {
		b->dropped += msgs;
		wlog(w, LOG_BROKEN, TWIN_LOG_ERR,
				"telemetry for '%s' dropped: the stored twin is unreadable or memory ran out", id);
		return false;
	}
	tc->created = e->fresh;
	tc->last_ts = first_ts;
	changes_init(w, &tc->c, 1u << TWIN_SEC_REPORTED);
	return true;
}

/* Merges readings into the change, in order. Returns the leaves they changed, -1 when memory ran out. */
static int change_apply(struct telemetry_change *tc, const struct twin_readings *rs)
{
	int total = 0;
	for (size_t i = 0; i < rs->n; i++) {
		const struct twin_reading *r = &rs->r[i];
		int n = twin_doc_patch(tc->e->doc, TWIN_SEC_REPORTED, r->patch, r->ts,
				tc->c.sections[TWIN_SEC_REPORTED]);
		if (n < 0) {
			return -1;
		}
		if (n > 0) {
			tc->last_ts = r->ts;
			tc->changed = true;
			total += n;
		}
	}
	return total;
}

static void change_cancel(struct telemetry_change *tc)
{
	changes_free(&tc->c);
	guard_cancel(tc->e, &tc->g);
	tc->e->fresh = tc->created;
}

/* Ends the change: the version bump, lastSeen (seen), the size limit and the event, added to events.
 * Returns 0 when done, else the size the twin would have had (then nothing of it is kept). */
static size_t change_end(struct twin_writer *w, struct batch *b, const char *id,
		struct telemetry_change *tc, int64_t seen, struct twin_out_list *events)
{
	struct entry *e = tc->e;
	bool changed = tc->changed || tc->created;
	int alarms = eval_alarms(w, b, e, tc->last_ts);
	if (alarms < 0 || ((changed || alarms) &&
							  twin_doc_bump(e->doc, changed ? 1u << TWIN_SEC_REPORTED : 0, tc->last_ts) < 0)) {
		change_cancel(tc);
		return SIZE_MAX;
	}
	twin_doc_seen(e->doc, seen);
	size_t too_big = guard_end(w, e, &tc->g);
	if (too_big) {
		changes_free(&tc->c);
		e->fresh = tc->created;
		return too_big;
	}
	e->dirty = true;
	b->twins += tc->created;
	if (changed) {
		add_event(w, events, id, tc->last_ts, tc->created ? "created" : "updated",
				twin_doc_version(e->doc), &tc->c);
		e->fresh = false;
	}
	add_alarm_events(w, events, id, tc->last_ts, twin_doc_version(e->doc), alarms);
	changes_free(&tc->c);
	return 0;
}

/* Applies one device's readings (a gateway part) to twin id as one change. patch_len bounds their JSON
 * size. Counted once per part. */
static void apply_readings(struct twin_writer *w, struct batch *b, struct twin_op *op,
		const char *id, size_t id_len, const struct twin_readings *rs, size_t patch_len)
{
	struct telemetry_change tc;
	if (!change_begin(w, b, id, id_len, rs->r[0].ts, patch_len, 1, &tc)) {
		return;
	}
	if (!readings_conform(w, b, tc.e, rs, &op->events, op->ts)) {
		change_cancel(&tc);
		return;
	}
	if (change_apply(&tc, rs) < 0) {
		change_cancel(&tc);
		b->dropped++;
		return;
	}
	bool changed = tc.changed;
	size_t too_big = change_end(w, b, id, &tc, op->ts, &op->events);
	if (too_big) {
		char why[128];
		snprintf(why, sizeof(why), "the twin would be %zu bytes, over max_twin_bytes=%zu", too_big,
				w->d.cfg->max_twin_bytes);
		telemetry_invalid(w, b, &op->events, id, op->ts, why);
		return;
	}
	if (changed) {
		b->applied++;
	} else {
		b->unchanged++;
	}
}

/* The payload's nesting, checked before parsing: true when it is at most limit + extra deep; *exact
 * says whether it is even within limit (then nothing inside needs checking after the parse). */
static bool shallow_enough(const struct twin_op *op, int limit, int extra, bool *exact)
{
	*exact = limit >= 0 && twin_json_depth_within(op->payload, op->payload_len, limit);
	return *exact || (limit >= 0 && twin_json_depth_within(op->payload, op->payload_len, limit + extra));
}

/* The readings of one telemetry message m: a patch, readings with device timestamps, or a value at a
 * sub-path (then in *one). Returns the parsed tree that owns them (the caller frees it), or NULL when m
 * cannot be applied: then it is counted and reported (as an event of head's twin, in head's events). */
static cJSON *read_message(struct twin_writer *w, struct batch *b, struct twin_op *head,
		struct twin_op *m, struct twin_readings *one, const struct twin_readings **rs)
{
	struct twin_error err;
	const struct twin_config *cfg = w->d.cfg;
	char why[128];
	if (m->oversize) { /* its payload was not copied */
		snprintf(why, sizeof(why), "%zu bytes, over max_twin_bytes=%zu", m->oversize, cfg->max_twin_bytes);
		telemetry_invalid(w, b, &head->events, head->id, m->ts, why);
		return NULL;
	}
	int levels = m->path_len ? twin_ingest_path_levels(m->path, m->path_len) : 0;
	int limit = cfg->max_depth - levels;
	bool exact;
	if (levels < 0) {
		telemetry_invalid(w, b, &head->events, head->id, m->ts, "the topic's sub-path has an empty level");
		return NULL;
	}
	if (!shallow_enough(m, limit, 2, &exact)) {
		telemetry_invalid(w, b, &head->events, head->id, m->ts, "JSON nested deeper than max_depth");
		return NULL;
	}
	cJSON *root = twin_json_parse(m->payload, m->payload_len, &err);
	if (!root) {
		telemetry_invalid(w, b, &head->events, head->id, m->ts, err.msg);
		return NULL;
	}
	if (levels) {
		cJSON *patch = twin_ingest_path_patch(root, m->path, m->path_len, m->ts, limit, &one->r[0].ts, &err);
		if (!patch) {
			telemetry_invalid(w, b, &head->events, head->id, m->ts, err.msg);
			return NULL;
		}
		one->r[0].patch = patch;
		*rs = one;
		return patch;
	}
	if (twin_ingest_readings(root, m->ts, exact ? -1 : limit, &w->readings, &err) != TWIN_OK) {
		telemetry_invalid(w, b, &head->events, head->id, m->ts, err.msg);
		cJSON_Delete(root);
		return NULL;
	}
	if (w->readings.n > (size_t)cfg->max_readings) {
		snprintf(why, sizeof(why), "%zu readings in one message, over max_readings=%lld", w->readings.n,
				(long long)cfg->max_readings);
		telemetry_invalid(w, b, &head->events, head->id, m->ts, why);
		cJSON_Delete(root);
		return NULL;
	}
	*rs = &w->readings;
	return root;
}

/* Applies the first n messages of the chain from first (linked by `more`) to their twin as one change.
 * Returns false, having applied nothing, when the result would be over max_twin_bytes and n > 1 (the
 * caller then applies them one by one); a single message over it is reported instead. */
static bool apply_run(struct twin_writer *w, struct batch *b, struct twin_op *head,
		struct twin_op *first, size_t n)
{
	struct telemetry_change tc;
	struct twin_reading one_reading = {0, NULL};
	struct twin_readings one = {&one_reading, 1, 1};
	struct twin_out_list events = {0};
	uint64_t changed = 0, unchanged = 0, invalid_before = b->invalid, model_invalid_before = b->model_invalid;
	struct twin_out *events_before = head->events.tail; /* error events of a run that is undone */
	size_t patch_len = 0;
	bool begun = false, change_made;
	int64_t seen = 0;
	struct twin_op *m = first;
	for (size_t i = 0; i < n; i++, m = m->more) {
		patch_len += m->payload_len + 5 * m->path_len; /* a level adds at most 4 bytes of nesting */
	}
	m = first;
	for (size_t i = 0; i < n; i++, m = m->more) {
		const struct twin_readings *rs = NULL;
		cJSON *root = read_message(w, b, head, m, &one, &rs);
		if (!root) {
			continue;
		}
		if (!begun && !(begun = change_begin(w, b, head->id, head->id_len, rs->r[0].ts, patch_len,
								 n - i, &tc))) {
			cJSON_Delete(root);
			return true; /* every message left is dropped (counted) */
		}
		if (!readings_conform(w, b, tc.e, rs, &head->events, m->ts)) {
			cJSON_Delete(root);
			continue;
		}
		int k = change_apply(&tc, rs);
		cJSON_Delete(root);
		if (k < 0) {
			change_cancel(&tc);
			b->dropped += changed + unchanged + (n - i);
			return true;
		}
		changed += k > 0;
		unchanged += k == 0;
		seen = m->ts;
	}
	if (!begun) {
		return true; /* every message was invalid (reported) */
	}
	change_made = tc.changed || tc.created;
	size_t too_big = change_end(w, b, head->id, &tc, seen, &events);
	if (too_big && n > 1) {
		b->invalid = invalid_before; /* applied again one by one, and reported then */
		b->model_invalid = model_invalid_before;
		twin_out_list_truncate(&head->events, events_before);
		return false;
	}
	if (too_big) {
		char why[128];
		snprintf(why, sizeof(why), "the twin would be %zu bytes, over max_twin_bytes=%zu", too_big,
				w->d.cfg->max_twin_bytes);
		telemetry_invalid(w, b, &head->events, head->id, first->ts, why);
		return true;
	}
	/* every message of a change that changed the twin (or created it) counts as applied */
	uint64_t valid = changed + unchanged;
	b->applied += change_made ? valid : 0;
	b->unchanged += change_made ? 0 : valid;
	b->merged += valid > 1 ? valid : 0;
	twin_out_list_concat(&head->events, &events);
	return true;
}

/* The fast path (telemetry_fast.h) for an entry whose twin this batch has not loaded: true when it took
 * the entry (applied, or a failed write that fails the batch). */
static bool apply_fast(struct twin_writer *w, struct batch *b, struct twin_op *op)
{
	struct entry *cached = NULL;
	struct twin_fast_result res;
	HASH_FIND(hh, b->entries, op->id, op->id_len, cached);
	if (cached || b->store_rc) {
		return false;
	}
	struct twin_model_fast *mf = &w->model_fast;
	const struct twin_op *last = op->more_tail ? op->more_tail : op;
	*mf = (struct twin_model_fast){.models = b->models, .default_model = w->d.cfg->default_model,
			.holds = w->holds, .plan = &w->plan, .id = op->id, .id_len = op->id_len, .now = last->ts,
			.rs = &w->fast.readings, .n = op->group_msgs};
	switch (twin_fast_entry(w->d.store, w->d.cfg, op, b->twins, &w->fast, &res, &b->store_err,
			models_in_use(w, b) ? twin_model_fast_check : NULL, mf)) {
		case TWIN_FAST_NOT_HERE:
			return false;
		case TWIN_FAST_STORE_FAIL:
			b->store_rc = b->store_err.rc;
			return true;
		case TWIN_FAST_DONE:
			break;
	}
	bool change_made = res.leaves > 0 || res.created;
	b->twins += res.created;
	b->applied += change_made ? op->group_msgs : 0;
	b->unchanged += change_made ? 0 : op->group_msgs;
	b->merged += op->group_msgs > 1 ? op->group_msgs : 0;
	struct twin_buf *e = &w->scratch;
	if (change_made && w->d.cfg->events &&
			event_begin(w, op->id, res.updated, res.version, res.created ? "created" : "updated") &&
			(!res.leaves || (twin_buf_put(e, ",\"reported\":", 12) &&
									twin_buf_put(e, res.changed->data, res.changed->len))) &&
			twin_buf_put(e, "}", 1)) {
		twin_out_list_add(&op->events, event_message(op->id, op->id_len, e));
	}
	return true;
}

/* A telemetry entry: its message and the later ones of the same twin that waited with it (op->more),
 * applied as one change; when together they would be too big, one by one. */
static void apply_telemetry(struct twin_writer *w, struct batch *b, struct twin_op *op)
{
	if (apply_fast(w, b, op)) {
		return;
	}
	if (apply_run(w, b, op, op, op->group_msgs)) {
		return;
	}
	for (struct twin_op *m = op; m; m = m->more) {
		apply_run(w, b, op, m, 1);
	}
}

/* A gateway message that cannot be read at all: counted and logged; no twin to send an event to. */
static void gateway_invalid(struct twin_writer *w, struct batch *b, struct twin_op *op,
		const char *why)
{
	b->invalid++;
	wlog(w, LOG_INVALID, TWIN_LOG_WARNING, "gateway message from client '%s' ignored: %s", op->id,
			why);
}

/* A gateway batch {"Device A": <readings or a patch>, ...}: each device's part goes to its own twin, as
 * if it had come as that device's telemetry. A part with an invalid id or malformed readings is left out
 * (counted); the other parts are applied. */
static void apply_gateway(struct twin_writer *w, struct batch *b, struct twin_op *op)
{
	struct twin_error err;
	const struct twin_config *cfg = w->d.cfg;
	bool exact;
	if (!shallow_enough(op, cfg->max_depth + 1, 2, &exact)) {
		gateway_invalid(w, b, op, "JSON nested deeper than max_depth");
		return;
	}
	cJSON *root = twin_json_parse(op->payload, op->payload_len, &err);
	if (!cJSON_IsObject(root)) {
		gateway_invalid(w, b, op, root ? "not a JSON object of devices" : err.msg);
		cJSON_Delete(root);
		return;
	}
	for (const cJSON *dev = root->child; dev; dev = dev->next) {
		size_t id_len = strlen(dev->string);
		if (!twin_topic_native_id_valid(dev->string, id_len, &err)) {
			b->invalid++;
			wlog(w, LOG_INVALID, TWIN_LOG_WARNING, "gateway message from client '%s': device %s",
					op->id, err.msg);
			continue;
		}
		if (twin_ingest_readings(dev, op->ts, exact ? -1 : cfg->max_depth, &w->readings, &err)) {
			telemetry_invalid(w, b, &op->events, dev->string, op->ts, err.msg);
			continue;
		}
		w->scratch.len = 0; /* the part's size, for the twin size bound */
		if (!twin_json_write(&w->scratch, dev)) {
			b->dropped++;
			continue;
		}
		apply_readings(w, b, op, dev->string, id_len, &w->readings, w->scratch.len);
	}
	cJSON_Delete(root);
}

static void answer_error(struct batch *b, struct twin_op *op, const struct twin_error *err,
		const char *token)
{
	b->failed++;
	op->answer = twin_answer_error(op->route, err, token);
}

/* Writes a member "name":value (value as compact JSON) into b. */
static bool put_member(struct twin_buf *b, const char *name, const cJSON *value)
{
	return twin_buf_put(b, ",", 1) && twin_json_write_string(b, name) && twin_buf_put(b, ":", 1) &&
			twin_json_write(b, value);
}

/* {"id","version","updated", each section the request patched, "delta" if desired or reported, "token"} */
static struct twin_out *update_answer(struct twin_writer *w, struct entry *e, struct twin_op *op,
		const struct twin_request *req)
{
	struct twin_buf *b = &w->scratch;
	b->len = 0;
	bool ok = twin_buf_put(b, "{\"id\":", 6) && twin_json_write_string(b, op->id) &&
			twin_buf_put(b, ",\"version\":", 11) && twin_json_write_int(b, twin_doc_version(e->doc)) &&
			put_member(b, "updated", cJSON_GetObjectItemCaseSensitive(e->doc, "updated"));
	for (int s = 0; ok && s < TWIN_N_SECTIONS; s++) {
		if (req->sections[s]) {
			ok = put_member(b, twin_section_names[s], twin_doc_section(e->doc, (enum twin_section)s));
		}
	}
	if (ok && (req->sections[TWIN_SEC_DESIRED] || req->sections[TWIN_SEC_REPORTED])) {
		ok = put_member(b, "delta", cJSON_GetObjectItemCaseSensitive(e->doc, "delta"));
	}
	ok = ok && (!req->token || (twin_buf_put(b, ",\"token\":", 9) && twin_json_write_string(b, req->token))) &&
			twin_buf_put(b, "}", 1);
	return ok ? twin_answer_raw(op->route, 200, b->data, b->len) : NULL;
}

/* Parses op's request in its front's form; false when it is refused (answered). */
static bool parse_request(struct twin_writer *w, struct batch *b, struct twin_op *op, enum twin_verb verb,
		struct twin_request *req)
{
	struct twin_error err;
	if (twin_request_parse_for(op->route, verb, op->payload, op->payload_len, w->d.cfg->max_depth, req,
				&err) == TWIN_OK) {
		return true;
	}
	answer_error(b, op, &err, req->token);
	twin_request_free(req);
	return false;
}

/* Shared checks of update and delete: readable twin, conditional version. */
static bool check_target(struct entry *e, struct twin_op *op, const struct twin_request *req,
		struct twin_error *err)
{
	if (!e || e->broken) {
		twin_fail(err, TWIN_ERR_STORE, "the stored twin '%s' is unreadable", op->id);
		return false;
	}
	int64_t current = exists(e) ? twin_doc_version(e->doc) : 0;
	/* an AWS client keeps the version its delete was answered with and sends it with its next update */
	bool aws_after_delete = !exists(e) && twin_front(op->route->front)->keeps_deleted_version &&
			e->last_version > 0 && req->version == e->last_version;
	if (req->has_version && req->version != current && !aws_after_delete) {
		twin_fail(err, TWIN_ERR_CONFLICT,
				"version conflict: twin '%s' is at version %lld, the request expected %lld",
				op->id, (long long)current, (long long)req->version);
		return false;
	}
	return true;
}

/* check_target, and the twin must exist (else 404). */
static bool check_existing(struct entry *e, struct twin_op *op, const struct twin_request *req,
		struct twin_error *err)
{
	if (!check_target(e, op, req, err)) {
		return false;
	}
	if (!exists(e)) {
		twin_fail(err, TWIN_ERR_NOT_FOUND, "twin '%s' not found", op->id);
		return false;
	}
	return true;
}

/* What the switched-on fronts publish for a change made by a request: AWS update/documents when the
 * shadow's state changed, an Azure desired push when desired did. */
static void front_messages(struct twin_writer *w, struct entry *e, struct twin_op *op,
		const struct twin_request *req, unsigned mask, const struct changes *c)
{
	const struct twin_config *cfg = w->d.cfg;
	unsigned state = (1u << TWIN_SEC_DESIRED) | (1u << TWIN_SEC_REPORTED);
	if (cfg->aws_shadow && (mask & state)) {
		twin_out_list_add(&op->events, twin_aws_documents(op->id, &w->previous, e->doc, op->ts,
				op->route->front == TWIN_FRONT_AWS ? req->token : NULL, &w->scratch));
	}
	const cJSON *desired = c->sections[TWIN_SEC_DESIRED];
	const cJSON *first = desired ? desired->child : NULL;
	if (first && !strcmp(first->string, "$version")) {
		first = first->next; /* a "$version" of its own is not shown to Azure devices */
	}
	if (cfg->azure_twin && (mask & (1u << TWIN_SEC_DESIRED)) && first) {
		twin_out_list_add(&op->events, twin_azure_desired_push(op->id, desired, e->doc, &w->scratch));
	}
}

/* The answer to an update, in the form of the front it came in on. */
static struct twin_out *front_update_answer(struct twin_writer *w, struct entry *e,
		struct twin_op *op, const struct twin_request *req)
{
	const struct twin_front_ops *front = twin_front(op->route->front);
	return front->update_answer ? front->update_answer(op->route, req, e->doc, op->ts, &w->scratch)
								: update_answer(w, e, op, req);
}

/* The model check of an update, on the twin as the update leaves it: the sections in mask, every section
 * when the update changed which model the twin follows. False with err (400, counted) when it refuses. */
static bool update_conforms(struct twin_writer *w, struct batch *b, struct entry *e, unsigned mask,
		const char *model_before, struct twin_error *err)
{
	const char *name;
	const struct twin_model *m = model_of(w, b, e->doc, &name);
	if (name && !m) {
		b->model_refused++;
		twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"twin '%s' names model '%s', which is not loaded (see $twin/models); nothing was changed",
				e->id, name);
		snprintf(err->path, sizeof(err->path), "/attributes/model");
		return false;
	}
	if (m && strcmp(model_before, name)) {
		mask = (1u << TWIN_N_SECTIONS) - 1;
	}
	if (m && !twin_model_check_sections(m, e->doc, mask, err)) {
		b->model_refused++;
		return false;
	}
	return true;
}

static void apply_update(struct twin_writer *w, struct batch *b, struct twin_op *op)
{
	struct twin_request req;
	struct twin_error err;
	struct size_guard g;
	if (!parse_request(w, b, op, TWIN_VERB_UPDATE, &req)) {
		return;
	}
	struct entry *e = get_entry(w, b, op->id, op->id_len);
	bool ok = check_target(e, op, &req, &err);
	w->previous.len = 0;
	if (ok && w->d.cfg->aws_shadow && !twin_aws_write_shadow(&w->previous, exists(e) ? e->doc : NULL)) {
		ok = false;
		twin_fail(&err, TWIN_ERR_NOMEM, "out of memory");
	}
	if (ok && !may_create(w, b, e)) {
		b->refused++;
		ok = false;
		twin_fail(&err, TWIN_ERR_STORE_FULL,
				"twin '%s' not created: max_twins=%lld twins exist; delete twins or raise "
				"plugin_opt_max_twins", op->id, (long long)w->d.cfg->max_twins);
	}
	if (!ok) {
		answer_error(b, op, &err, req.token);
		twin_request_free(&req);
		return;
	}
	if (!ensure_doc(e, op->ts) || !guard_begin(w, e, op->payload_len, &g)) {
		twin_fail(&err, TWIN_ERR_NOMEM, "out of memory");
		answer_error(b, op, &err, req.token);
		twin_request_free(&req);
		return;
	}
	unsigned mask = 0;
	int n = 0;
	struct changes c;
	bool created = e->fresh;
	char model_before[TWIN_MODEL_MAX_NAME + 2];
	cJSON *before = NULL; /* the twin before the update, to restore if its model refuses it */
	if (models_in_use(w, b)) {
		const char *name = twin_model_name_of(e->doc, w->d.cfg->default_model);
		snprintf(model_before, sizeof(model_before), "%s", name ? name : "");
		if (!(before = cJSON_Duplicate(e->doc, 1))) {
			guard_cancel(e, &g);
			twin_fail(&err, TWIN_ERR_NOMEM, "out of memory");
			answer_error(b, op, &err, req.token);
			twin_request_free(&req);
			return;
		}
	}
	changes_init(w, &c, (1u << TWIN_N_SECTIONS) - 1);
	for (int s = 0; s < TWIN_N_SECTIONS && n >= 0; s++) {
		n = req.clear[s] ? twin_doc_clear(e->doc, (enum twin_section)s, op->ts, c.sections[s]) : 0;
		if (n >= 0 && req.sections[s]) {
			int more = twin_doc_patch(e->doc, (enum twin_section)s, req.sections[s], op->ts, c.sections[s]);
			n = more < 0 ? -1 : n + more;
		}
		if ((req.clear[s] || req.sections[s]) && (n > 0 || e->fresh)) {
			mask |= 1u << s;
		}
	}
	bool conforms = n < 0 || !before || update_conforms(w, b, e, mask, model_before, &err);
	int alarms = n < 0 || !conforms ? 0 : eval_alarms(w, b, e, op->ts);
	if (n < 0 || !conforms || alarms < 0 ||
			((mask || alarms) && twin_doc_bump(e->doc, mask, op->ts) < 0)) {
		changes_free(&c);
		guard_cancel(e, &g);
		if (!g.backup && before) {
			cJSON_Delete(e->doc);
			e->doc = before;
			before = NULL;
		}
		e->fresh = created;
		cJSON_Delete(before);
		if (conforms) {
			twin_fail(&err, TWIN_ERR_NOMEM, "out of memory");
		}
		answer_error(b, op, &err, req.token);
		twin_request_free(&req);
		return;
	}
	cJSON_Delete(before);
	size_t too_big = guard_end(w, e, &g);
	if (too_big) {
		changes_free(&c);
		twin_fail(&err, TWIN_ERR_TOO_LARGE,
				"twin '%s' would be %zu bytes, over max_twin_bytes=%zu; nothing was changed",
				op->id, too_big, w->d.cfg->max_twin_bytes);
		answer_error(b, op, &err, req.token);
		twin_request_free(&req);
		return;
	}
	if (mask) {
		e->fresh = false;
		e->dirty = true;
		b->twins += created;
		add_event(w, &op->events, op->id, op->ts, created ? "created" : "updated",
				twin_doc_version(e->doc), &c);
		front_messages(w, e, op, &req, mask, &c);
	}
	e->dirty = e->dirty || alarms;
	add_alarm_events(w, &op->events, op->id, op->ts, twin_doc_version(e->doc), alarms);
	changes_free(&c);
	op->answer = front_update_answer(w, e, op, &req);
	twin_request_free(&req);
}

/* Parses op's request and finds its twin, which must exist: NULL when refused (then answered). */
static struct entry *existing_twin(struct twin_writer *w, struct batch *b, struct twin_op *op,
		enum twin_verb verb, struct twin_request *req)
{
	struct twin_error err;
	if (!parse_request(w, b, op, verb, req)) {
		return NULL;
	}
	struct entry *e = get_entry(w, b, op->id, op->id_len);
	if (check_existing(e, op, req, &err)) {
		return e;
	}
	answer_error(b, op, &err, req->token);
	twin_request_free(req);
	return NULL;
}

static void apply_delete(struct twin_writer *w, struct batch *b, struct twin_op *op)
{
	struct twin_request req;
	struct entry *e = existing_twin(w, b, op, TWIN_VERB_DELETE, &req);
	if (!e) {
		return;
	}
	e->last_version = twin_doc_version(e->doc) + 1;
	twin_alarm_holds_forget(w->holds, e->id, e->id_len);
	b->twins--;
	cJSON_Delete(e->doc);
	e->doc = NULL;
	e->deleted = e->dirty = true;
	add_event(w, &op->events, op->id, op->ts, "deleted", e->last_version, NULL);
	const struct twin_front_ops *front = twin_front(op->route->front);
	if (front->delete_answer) {
		op->answer = front->delete_answer(op->route, e->last_version, op->ts, req.token, &w->scratch);
		twin_request_free(&req);
		return;
	}
	cJSON *body = cJSON_CreateObject();
	if (body && (!cJSON_AddStringToObject(body, "id", op->id) ||
						!twin_json_add_int64(body, "version", e->last_version))) {
		cJSON_Delete(body);
		body = NULL;
	}
	op->answer = twin_answer_json(op->route, body, req.token);
	twin_request_free(&req);
}

/* $twin/{id}/ack {"alarm": name}: answered {"id","version","alarms"} (the section after it). */
static void apply_ack(struct twin_writer *w, struct batch *b, struct twin_op *op)
{
	struct twin_request req;
	struct twin_error err;
	struct entry *e = existing_twin(w, b, op, TWIN_VERB_ACK, &req);
	if (!e) {
		return;
	}
	int n = twin_alarms_ack(e->doc, req.alarm, w->alarm_changes);
	if (n == -1) {
		twin_fail(&err, TWIN_ERR_NOT_FOUND, "twin '%s' has no alarm '%.64s'", op->id, req.alarm);
	} else if (n == -2 || (n == 1 && twin_doc_bump(e->doc, 0, op->ts) < 0)) {
		n = -2;
		e->broken = true; /* half changed: not written */
		twin_fail(&err, TWIN_ERR_NOMEM, "out of memory");
	}
	if (n < 0) {
		answer_error(b, op, &err, req.token);
		twin_request_free(&req);
		return;
	}
	if (n == 1) {
		e->dirty = true;
		b->alarms_acked++;
		add_alarm_events(w, &op->events, op->id, op->ts, twin_doc_version(e->doc), 1);
	}
	struct twin_buf *a = &w->scratch;
	static const cJSON empty = {.type = cJSON_Object};
	const cJSON *alarms = cJSON_GetObjectItemCaseSensitive(e->doc, "alarms");
	a->len = 0;
	bool ok = twin_buf_put(a, "{\"id\":", 6) && twin_json_write_string(a, op->id) &&
			twin_buf_put(a, ",\"version\":", 11) && twin_json_write_int(a, twin_doc_version(e->doc)) &&
			put_member(a, "alarms", alarms ? alarms : &empty) &&
			(!req.token || (twin_buf_put(a, ",\"token\":", 9) && twin_json_write_string(a, req.token))) &&
			twin_buf_put(a, "}", 1);
	op->answer = ok ? twin_answer_raw(op->route, 200, a->data, a->len) : NULL;
	twin_request_free(&req);
}

/* The alarms whose for_s has run out since the last change of their twin: raised now if their raise
 * condition still holds. Their events go with the batch. */
static void apply_due_alarms(struct twin_writer *w, struct batch *b)
{
	char *ids[256];
	int64_t now = twin_now_ms();
	if (twin_alarm_holds_next_due(w->holds) > now) {
		return;
	}
	size_t n = twin_alarm_holds_due(w->holds, now, ids, sizeof(ids) / sizeof(ids[0]));
	for (size_t i = 0; i < n; i++) {
		struct entry *e = get_entry(w, b, ids[i], strlen(ids[i]));
		if (!e || !exists(e) || e->broken) {
			twin_alarm_holds_forget(w->holds, ids[i], strlen(ids[i]));
			free(ids[i]);
			continue;
		}
		int alarms = eval_alarms(w, b, e, now);
		if (alarms > 0 && twin_doc_bump(e->doc, 0, now) >= 0) {
			e->dirty = true;
			e->size_bound += TWIN_SIZE_SLACK;
			add_alarm_events(w, &b->events, e->id, now, twin_doc_version(e->doc), alarms);
		} else if (alarms != 0) {
			e->broken = true; /* half changed: not written */
		}
		free(ids[i]);
	}
}

/* A TWIN_OP_STORE: its records go into this transaction; a failure fails the batch like any store
 * error (the caller sees no commit and retries). */
static void apply_store_call(struct twin_writer *w, struct batch *b, struct twin_op *op)
{
	struct twin_error err;
	enum twin_rc rc = op->store_call(w->d.store, op->payload, op->payload_len, &err);
	if (rc && !b->store_rc) {
		b->store_rc = rc;
		b->store_err = err;
	}
}

static void apply(struct twin_writer *w, struct batch *b, struct twin_op *op)
{
	char why[96];
	if (op->oversize && op->kind == TWIN_OP_GATEWAY) { /* a payload that was not copied */
		snprintf(why, sizeof(why), "%zu bytes, over max_twin_bytes=%zu", op->oversize,
				w->d.cfg->max_twin_bytes);
		gateway_invalid(w, b, op, why);
		return;
	}
	switch (op->kind) {
		case TWIN_OP_TELEMETRY:
			apply_telemetry(w, b, op);
			break;
		case TWIN_OP_GATEWAY:
			apply_gateway(w, b, op);
			break;
		case TWIN_OP_UPDATE:
			apply_update(w, b, op);
			break;
		case TWIN_OP_DELETE:
			apply_delete(w, b, op);
			break;
		case TWIN_OP_ACK:
			apply_ack(w, b, op);
			break;
		case TWIN_OP_BARRIER:
			break;
		case TWIN_OP_STORE:
			apply_store_call(w, b, op);
			break;
	}
}

/* ---- writing and committing ---- */

static bool nonempty(const cJSON *obj)
{
	return obj && obj->child;
}

/* A history entry: {"version","ts","attributes","reported","desired"[,"alarms"]} as of this commit. */
static enum twin_rc add_history(struct twin_writer *w, struct entry *e, struct twin_error *err)
{
	const struct twin_config *cfg = w->d.cfg;
	struct twin_buf *b = &w->scratch;
	int64_t updated = 0, version = twin_doc_version(e->doc);
	twin_json_int64(cJSON_GetObjectItemCaseSensitive(e->doc, "updated"), &updated);
	b->len = 0;
	bool ok = twin_buf_put(b, "{\"version\":", 11) && twin_json_write_int(b, version) &&
			twin_buf_put(b, ",\"ts\":", 6) && twin_json_write_int(b, updated);
	for (int s = 0; ok && s < TWIN_N_SECTIONS; s++) {
		ok = twin_buf_put(b, ",", 1) && twin_json_write_string(b, twin_section_names[s]) &&
				twin_buf_put(b, ":", 1) &&
				twin_json_write(b, twin_doc_section(e->doc, (enum twin_section)s));
	}
	const cJSON *alarms = cJSON_GetObjectItemCaseSensitive(e->doc, "alarms");
	ok = ok && (!alarms || put_member(b, "alarms", alarms));
	if (!ok || !twin_buf_put(b, "}", 1)) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	int64_t min_ts = cfg->history_max_age_s ? updated - cfg->history_max_age_s * 1000 : INT64_MIN;
	return twin_store_history_add(w->d.store, e->id, e->id_len, version, updated, b->data, b->len,
			cfg->history_max, min_ts, err);
}

static enum twin_rc flush(struct twin_writer *w, struct batch *b, struct twin_error *err)
{
	struct entry *e, *tmp;
	enum twin_rc rc = TWIN_OK;
	HASH_ITER(hh, b->entries, e, tmp)
	{
		if (!e->dirty || e->broken) {
			continue;
		}
		bool had_delta = nonempty(e->delta_before);
		if (exists(e)) {
			if (!twin_doc_store(e->doc, &w->stored)) {
				return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
			}
			/* deleted and made again in this batch (deleted stays set): the new twin's history starts
			 * empty, as after a delete in a commit of its own */
			if (e->deleted) {
				rc = twin_store_history_drop(w->d.store, e->id, e->id_len, err);
			}
			rc = rc ? rc : twin_store_put(w->d.store, e->id, e->id_len, w->stored.data, w->stored.len, err);
			if (!rc && w->d.cfg->history_max > 0 && twin_doc_version(e->doc) > e->version_before) {
				rc = add_history(w, e, err);
			}
			bool has_delta = nonempty(cJSON_GetObjectItemCaseSensitive(e->doc, "delta"));
			if (!rc && has_delta != had_delta) {
				rc = twin_store_mark_desired(w->d.store, e->id, e->id_len, has_delta, err);
			}
		} else if (e->deleted) {
			if (!(rc = twin_store_del(w->d.store, e->id, e->id_len, err)) &&
					!(rc = twin_store_history_drop(w->d.store, e->id, e->id_len, err)) &&
					!(rc = twin_store_set_tombstone(w->d.store, e->id, e->id_len, e->last_version, err)) &&
					had_delta) {
				rc = twin_store_mark_desired(w->d.store, e->id, e->id_len, false, err);
			}
		}
		if (rc) {
			return rc;
		}
	}
	return TWIN_OK;
}

static void desired_messages(struct twin_writer *w, struct batch *b, struct twin_out_list *out)
{
	struct entry *e, *tmp;
	HASH_ITER(hh, b->entries, e, tmp)
	{
		if (!e->dirty || e->broken) {
			continue;
		}
		const cJSON *now = exists(e) ? cJSON_GetObjectItemCaseSensitive(e->doc, "delta") : NULL;
		if ((!nonempty(now) && !nonempty(e->delta_before)) ||
				(now && e->delta_before && cJSON_Compare(now, e->delta_before, 1))) {
			continue;
		}
		twin_out_list_add(out, twin_desired_message(w->d.cfg, e->id, e->id_len, exists(e) ? e->doc : NULL,
				&w->scratch));
		if (w->d.cfg->aws_shadow && nonempty(now)) {
			twin_out_list_add(out, twin_aws_delta(e->id, e->id_len, e->doc, twin_now_ms(), &w->scratch));
		}
	}
}

static enum twin_rc apply_and_commit(struct twin_writer *w, struct batch *b, struct twin_op *ops,
		struct twin_error *err)
{
	enum twin_rc rc = twin_store_write_begin(w->d.store, err);
	if (rc) {
		return rc;
	}
	b->twins = (int64_t)twin_store_wcount(w->d.store);
	for (struct twin_op *op = ops; op; op = op->next) {
		apply(w, b, op);
	}
	apply_due_alarms(w, b);
	if (b->store_rc) {
		*err = b->store_err;
		twin_store_abort(w->d.store);
		return b->store_rc;
	}
	if ((rc = flush(w, b, err)) != TWIN_OK) {
		twin_store_abort(w->d.store);
		return rc;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = twin_store_commit(w->d.store, err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	twin_metric_add(w->d.metrics, commit_us,
			(uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
	return rc;
}

static void reset_batch(struct batch *b, struct twin_op *ops)
{
	struct twin_models *models = b->models;
	free_entries(b);
	twin_out_list_free(&b->events);
	memset(b, 0, sizeof(*b));
	b->models = models;
	for (struct twin_op *op = ops; op; op = op->next) {
		twin_out_free(op->answer);
		twin_out_list_free(&op->events);
		op->answer = NULL;
	}
}

void twin_writer_process(struct twin_writer *w, struct twin_op *ops, uint64_t done,
		struct twin_out_list *out)
{
	struct batch b = {.models = w->d.models ? twin_models_slot_get(w->d.models) : NULL};
	struct twin_error err = {.rc = TWIN_OK};
	struct twin_metrics *m = w->d.metrics;
	enum twin_rc rc;
	while ((rc = apply_and_commit(w, &b, ops, &err)) == TWIN_ERR_STORE_FULL) {
		twin_metric_add(m, store_full, 1);
		reset_batch(&b, ops);
		if (!twin_store_grow(w->d.store)) {
			twin_fail(&err, TWIN_ERR_STORE_FULL,
					"twin store full: map_size_max=%zu reached; raise plugin_opt_map_size_max",
					w->d.cfg->map_size_max);
			break;
		}
		twin_out_list_add(&w->logs, twin_out_log(TWIN_LOG_NOTICE,
				"mosquitto_twin: store map grown to %zu bytes", twin_store_map_size(w->d.store)));
	}
	if (rc == TWIN_OK) {
		twin_metric_add(m, commits, 1);
	} else {
		twin_metric_add(m, commit_failures, 1);
		wlog(w, LOG_FAILED, TWIN_LOG_ERR, "a batch of writes failed: %s", err.msg);
		reset_batch(&b, ops);
	}
	for (struct twin_op *op = ops, *next; op; op = next) {
		next = op->next;
		if (op->kind == TWIN_OP_BARRIER) {
			struct twin_out *o = calloc(1, sizeof(*o));
			if (o) {
				o->kind = TWIN_OUT_RETRY_GET;
				o->op = op;
				op->next = NULL;
				twin_out_list_add(out, o);
				continue;
			}
		} else if (op->kind == TWIN_OP_TELEMETRY || op->kind == TWIN_OP_GATEWAY) {
			b.dropped += rc != TWIN_OK ? op->group_msgs : 0;
		} else if (rc != TWIN_OK && op->kind != TWIN_OP_STORE) { /* a store call has nobody to answer */
			answer_error(&b, op, &err, NULL);
		}
		twin_out_list_concat(out, &op->events);
		twin_out_list_add(out, op->answer);
		op->answer = NULL;
		twin_op_free(op);
	}
	if (rc == TWIN_OK) {
		twin_out_list_concat(out, &b.events);
		desired_messages(w, &b, out);
	}
	twin_metric_add(m, telemetry_applied, b.applied);
	twin_metric_add(m, telemetry_unchanged, b.unchanged);
	twin_metric_add(m, telemetry_merged, b.merged);
	twin_metric_add(m, telemetry_invalid, b.invalid);
	twin_metric_add(m, telemetry_dropped, b.dropped);
	twin_metric_add(m, requests_failed, b.failed);
	twin_metric_add(m, twins_refused, b.refused);
	twin_metric_add(m, model_invalid, b.model_invalid);
	twin_metric_add(m, model_refused, b.model_refused);
	twin_metric_add(m, model_missing, b.model_missing);
	twin_metric_add(m, alarms_raised, b.alarms_raised);
	twin_metric_add(m, alarms_cleared, b.alarms_cleared);
	twin_metric_add(m, alarms_acked, b.alarms_acked);
	free_entries(&b);
	twin_out_list_free(&b.events);
	twin_models_release(b.models);
	twin_out_list_concat(out, &w->logs);
	if (done) {
		atomic_store_explicit(w->d.done_seq, done, memory_order_release);
	}
}

/* ---- the thread ---- */

#define REPUBLISH_CHUNK 1024 /* desired messages handed to the broker thread at a time */

struct republish {
	struct twin_writer *w;
	struct twin_out_list out;
	size_t n;
};

/* Hands what is ready to the broker thread, then waits until no more than queue_bytes wait there. */
static void republish_hand_over(struct republish *r)
{
	twin_outq_push(r->w->d.out, &r->out);
	r->w->d.wake(r->w->d.wake_ctx);
	twin_outq_wait_room(r->w->d.out, r->w->d.cfg->queue_bytes);
}

/* One twin's retained desired message. False once the plugin is stopping: the rest is published again at
 * the next start, and a stop never waits for a long walk. */
static bool republish_one(void *ctx, const char *id, size_t id_len, const void *val, size_t len)
{
	struct republish *r = ctx;
	cJSON *doc = twin_doc_load(id, id_len, val, len);
	if (doc) {
		twin_out_list_add(&r->out, twin_desired_message(r->w->d.cfg, id, id_len, doc, &r->w->scratch));
	}
	cJSON_Delete(doc);
	if (++r->n % REPUBLISH_CHUNK == 0) {
		republish_hand_over(r);
		return !twin_opq_stopping(r->w->d.in);
	}
	return true;
}

/* After a restart the broker may have lost its retained messages: publish every non-empty delta again, a
 * chunk at a time, within queue_bytes. */
static void republish_desired(struct twin_writer *w)
{
	struct republish r = {.w = w};
	struct twin_error err;
	if (!w->d.cfg->retain_desired || twin_store_write_begin(w->d.store, &err) != TWIN_OK) {
		return;
	}
	twin_store_each_desired(w->d.store, republish_one, &r);
	twin_store_abort(w->d.store);
	republish_hand_over(&r);
}

static void deadline(struct timespec *ts, int64_t ms)
{
	ts->tv_sec = (time_t)(ms / 1000);
	ts->tv_nsec = (long)(ms % 1000) * 1000000L;
}

/* Takes the next batch; *taken is its message count, *done what it completes (see twin_opq_detach_locked),
 * *drained whether it emptied the queue. With nothing queued, returns NULL with *alarms_due set when an
 * alarm's for_s has run out (an empty batch then raises it), or clear when the writer is to stop. */
static struct twin_op *wait_for_batch(struct twin_writer *w, size_t *taken, uint64_t *done,
		bool *drained, bool *alarms_due)
{
	struct twin_opq *q = w->d.in;
	*alarms_due = false;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		int64_t hold_due = twin_alarm_holds_next_due(w->holds);
		if (q->head) {
			int64_t due = q->oldest_ms + w->d.cfg->commit_interval_ms;
			if (q->urgent || q->stop || q->count >= q->cap / 2 || q->bytes >= q->bytes_cap / 2 ||
					twin_now_ms() >= due) {
				break;
			}
			struct timespec ts;
			deadline(&ts, due);
			pthread_cond_timedwait(&q->cond, &q->lock, &ts);
		} else if (q->stop) {
			break;
		} else if (hold_due != INT64_MAX) {
			if (twin_now_ms() >= hold_due) {
				*alarms_due = true;
				break;
			}
			struct timespec ts;
			deadline(&ts, hold_due);
			pthread_cond_timedwait(&q->cond, &q->lock, &ts);
		} else {
			pthread_cond_wait(&q->cond, &q->lock);
		}
	}
	/* at most BATCH_MAX entries per commit, so an answer never waits behind an unbounded batch */
	struct twin_op *ops = twin_opq_detach_locked(q, BATCH_MAX, done, taken);
	q->urgent = q->head != NULL; /* a backlog: go on at once */
	if (q->head) {
		q->oldest_ms = q->head->ts;
	}
	*drained = q->head == NULL;
	pthread_mutex_unlock(&q->lock);
	return ops;
}

/* After a large backlog has drained, hands the memory its queued messages took back to the system (glibc
 * keeps freed heap otherwise: a burst of 1 M messages would stay as ~300 MB of broker RSS). */
static void release_backlog_memory(struct twin_writer *w, size_t batch_ops, bool drained)
{
	w->ops_since_trim += batch_ops;
	if (w->ops_since_trim < TRIM_AFTER_OPS || !drained) {
		return;
	}
	w->ops_since_trim = 0;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

static void *writer_main(void *arg)
{
	struct twin_writer *w = arg;
	struct twin_op *ops;
	size_t n;
	uint64_t done;
	bool drained, alarms_due;
	republish_desired(w);
	while ((ops = wait_for_batch(w, &n, &done, &drained, &alarms_due)) != NULL || alarms_due) {
		struct twin_out_list out = {0};
		bool store_call = false; /* someone on the broker thread waits for its commit (cluster_ctl.c) */
		for (const struct twin_op *op = ops; op && !store_call; op = op->next) {
			store_call = op->kind == TWIN_OP_STORE;
		}
		/* answers and events wait for the broker thread: never more than queue_bytes of them */
		twin_outq_wait_room(w->d.out, w->d.cfg->queue_bytes);
		twin_writer_process(w, ops, done, &out);
		if (out.head) {
			twin_outq_push(w->d.out, &out);
		}
		if (out.head || store_call) {
			w->d.wake(w->d.wake_ctx);
		}
		release_backlog_memory(w, n, drained);
	}
	return NULL;
}

struct twin_writer *twin_writer_new(const struct twin_writer_deps *deps)
{
	struct twin_writer *w = calloc(1, sizeof(*w));
	if (w) {
		w->d = *deps;
		if (!(w->holds = twin_alarm_holds_new())) {
			free(w);
			return NULL;
		}
	}
	return w;
}

void twin_writer_free(struct twin_writer *w)
{
	if (!w) {
		return;
	}
	twin_out_list_free(&w->logs);
	twin_readings_free(&w->readings);
	twin_fast_scratch_free(&w->fast);
	twin_buf_free(&w->scratch);
	twin_buf_free(&w->stored);
	twin_buf_free(&w->previous);
	twin_alarm_holds_free(w->holds);
	free(w);
}

enum twin_rc twin_writer_start(const struct twin_writer_deps *deps, struct twin_writer **out)
{
	struct twin_writer *w = twin_writer_new(deps);
	if (!w) {
		return TWIN_ERR_NOMEM;
	}
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		twin_writer_free(w);
		return TWIN_ERR_NOMEM;
	}
	w->started = true;
	*out = w;
	return TWIN_OK;
}

void twin_writer_stop(struct twin_writer *w)
{
	if (!w) {
		return;
	}
	if (w->started) {
		twin_opq_stop(w->d.in);
		pthread_join(w->thread, NULL);
	}
	twin_writer_free(w);
}
