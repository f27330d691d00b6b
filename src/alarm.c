/* alarm.c - alarm rules applied to a twin (see alarm.h).
 * An alarm is raised when its rule's raise filter holds (for for_s, when set), and cleared when its clear
 * filter holds and raise no longer does (no clear filter: as soon as raise no longer holds). */
#include "alarm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

/* ---- holds ---- */

struct hold {
	char name[TWIN_MODEL_MAX_NAME + 1];
	int64_t due;
};

struct twin_hold {
	UT_hash_handle hh;
	int n;
	struct hold holds[TWIN_MODEL_MAX_ALARMS];
	size_t id_len;
	char id[];
};

struct twin_alarm_holds {
	struct twin_hold *twins;
};

struct twin_alarm_holds *twin_alarm_holds_new(void)
{
	return calloc(1, sizeof(struct twin_alarm_holds));
}

void twin_alarm_holds_free(struct twin_alarm_holds *h)
{
	struct twin_hold *t, *tmp;
	if (!h) {
		return;
	}
	HASH_ITER(hh, h->twins, t, tmp)
	{
		HASH_DEL(h->twins, t); // NOLINT(clang-analyzer-unix.Malloc): uthash's iteration, as elsewhere
		free(t);
	}
	free(h);
}

int64_t twin_alarm_holds_next_due(const struct twin_alarm_holds *h)
{
	int64_t next = INT64_MAX;
	for (const struct twin_hold *t = h->twins; t; t = t->hh.next) {
		for (int i = 0; i < t->n; i++) {
			next = t->holds[i].due < next ? t->holds[i].due : next;
		}
	}
	return next;
}

size_t twin_alarm_holds_due(const struct twin_alarm_holds *h, int64_t now, char **ids, size_t max)
{
	size_t n = 0;
	for (const struct twin_hold *t = h->twins; t && n < max; t = t->hh.next) {
		for (int i = 0; i < t->n; i++) {
			if (t->holds[i].due <= now) {
				if ((ids[n] = strndup(t->id, t->id_len))) {
					n++;
				}
				break;
			}
		}
	}
	return n;
}

static struct twin_hold *find_twin(struct twin_alarm_holds *h, const char *id, size_t id_len)
{
	struct twin_hold *t = NULL;
	HASH_FIND(hh, h->twins, id, id_len, t);
	return t;
}

void twin_alarm_holds_forget(struct twin_alarm_holds *h, const char *id, size_t id_len)
{
	struct twin_hold *t = find_twin(h, id, id_len);
	if (t) {
		HASH_DEL(h->twins, t);
		free(t);
	}
}

static struct hold *find_hold(struct twin_hold *t, const char *name)
{
	for (int i = 0; t && i < t->n; i++) {
		if (!strcmp(t->holds[i].name, name)) {
			return &t->holds[i];
		}
	}
	return NULL;
}

/* The hold of alarm name, started at now when there is none (NULL when memory ran out: the alarm then
 * waits for the next change to try again). */
static struct hold *start_hold(struct twin_alarm_holds *h, const char *id, size_t id_len,
		const char *name, int64_t due)
{
	struct twin_hold *t = find_twin(h, id, id_len);
	struct hold *held = find_hold(t, name);
	if (held) {
		return held;
	}
	if (!t) {
		if (!(t = calloc(1, sizeof(*t) + id_len))) {
			return NULL;
		}
		memcpy(t->id, id, id_len);
		t->id_len = id_len;
		HASH_ADD(hh, h->twins, id, id_len, t);
		if (!t->hh.tbl) {
			free(t);
			return NULL;
		}
	}
	if (t->n == TWIN_MODEL_MAX_ALARMS) {
		return NULL;
	}
	held = &t->holds[t->n++];
	snprintf(held->name, sizeof(held->name), "%s", name);
	held->due = due;
	return held;
}

static void end_hold(struct twin_alarm_holds *h, const char *id, size_t id_len, const char *name)
{
	struct twin_hold *t = find_twin(h, id, id_len);
	struct hold *held = find_hold(t, name);
	if (!held) {
		return;
	}
	*held = t->holds[--t->n];
	if (!t->n) {
		HASH_DEL(h->twins, t);
		free(t);
	}
}

/* ---- deciding ---- */

static bool entry_active(const cJSON *entry)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(entry, "active"));
}

static enum twin_severity entry_severity(const cJSON *entry)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(entry, "severity");
	for (int i = 0; cJSON_IsString(s) && i < 4; i++) {
		if (!strcmp(s->valuestring, twin_severity_names[i])) {
			return (enum twin_severity)i;
		}
	}
	return TWIN_SEV_CRITICAL;
}

static void plan_add(struct twin_alarm_plan *plan, const char *name, enum twin_severity severity,
		enum twin_alarm_action action)
{
	int i = plan->n++;
	snprintf(plan->a[i].name, sizeof(plan->a[i].name), "%s", name);
	plan->a[i].severity = severity;
	plan->a[i].action = action;
	plan->changes += action != TWIN_ALARM_KEEP;
}

/* What rule r does: raise (now, or once its hold is due), clear, or nothing. */
static enum twin_alarm_action decide_rule(const struct twin_alarm_rule *r, twin_query_get_fn get, const void *ctx,
		bool active, struct twin_alarm_holds *h, const char *id, size_t id_len, int64_t now)
{
	bool raise = twin_query_match_with(r->raise, get, ctx);
	if (active) {
		/* a hold ends once its alarm is active (not when raised: a batch applied again decides again) */
		end_hold(h, id, id_len, r->name);
		bool clear = !raise && (!r->clear || twin_query_match_with(r->clear, get, ctx));
		return clear ? TWIN_ALARM_CLEAR : TWIN_ALARM_KEEP;
	}
	if (!raise) {
		end_hold(h, id, id_len, r->name);
		return TWIN_ALARM_KEEP;
	}
	if (r->for_ms == 0) {
		return TWIN_ALARM_RAISE;
	}
	const struct hold *held = start_hold(h, id, id_len, r->name, now + r->for_ms);
	return held && held->due <= now ? TWIN_ALARM_RAISE : TWIN_ALARM_KEEP;
}

static const struct twin_alarm_rule *rule_of(const struct twin_model *model, const char *name)
{
	for (int i = 0; model && i < model->n_alarms; i++) {
		if (!strcmp(model->alarms[i].name, name)) {
			return &model->alarms[i];
		}
	}
	return NULL;
}

void twin_alarms_decide(const struct twin_model *model, twin_query_get_fn get, const void *ctx,
		const cJSON *alarms, struct twin_alarm_holds *h, const char *id, size_t id_len, int64_t now,
		struct twin_alarm_plan *plan)
{
	plan->n = plan->changes = 0;
	for (int i = 0; model && i < model->n_alarms; i++) {
		const struct twin_alarm_rule *r = &model->alarms[i];
		const cJSON *entry = alarms ? cJSON_GetObjectItemCaseSensitive(alarms, r->name) : NULL;
		plan_add(plan, r->name, r->severity,
				decide_rule(r, get, ctx, entry_active(entry), h, id, id_len, now));
	}
	for (const cJSON *e = alarms ? alarms->child : NULL; e; e = e->next) {
		if (!rule_of(model, e->string) && plan->n < TWIN_MODEL_MAX_ALARMS * 2) {
			plan_add(plan, e->string, entry_severity(e), entry_active(e) ? TWIN_ALARM_CLEAR : TWIN_ALARM_KEEP);
		}
	}
}

/* ---- changing the section ---- */

static void describe(struct twin_alarm_change *c, const char *name, const cJSON *entry,
		enum twin_severity severity)
{
	int64_t v = 0;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->severity = severity;
	c->active = entry_active(entry);
	c->acked = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(entry, "acked"));
	c->since = twin_json_int64(cJSON_GetObjectItemCaseSensitive(entry, "since"), &v) ? v : 0;
	c->cleared = twin_json_int64(cJSON_GetObjectItemCaseSensitive(entry, "cleared"), &v) ? v : 0;
}

static cJSON *raised_entry(enum twin_severity severity, int64_t now)
{
	cJSON *e = cJSON_CreateObject();
	if (e && cJSON_AddStringToObject(e, "severity", twin_severity_names[severity]) &&
			cJSON_AddTrueToObject(e, "active") && cJSON_AddFalseToObject(e, "acked") &&
			twin_json_add_int64(e, "since", now)) {
		return e;
	}
	cJSON_Delete(e);
	return NULL;
}

static bool bump_alarms_version(cJSON *doc)
{
	cJSON *versions = cJSON_GetObjectItemCaseSensitive(doc, "versions");
	int64_t v = 0;
	twin_json_int64(cJSON_GetObjectItemCaseSensitive(versions, "alarms"), &v);
	return cJSON_IsObject(versions) && twin_json_set_int64(versions, "alarms", v + 1);
}

static cJSON *alarms_section(cJSON *doc)
{
	cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "alarms");
	if (cJSON_IsObject(s)) {
		return s;
	}
	s = cJSON_CreateObject();
	return twin_json_set(doc, "alarms", s) ? s : NULL;
}

int twin_alarms_apply(cJSON *doc, const struct twin_alarm_plan *plan, int64_t now,
		struct twin_alarm_change *out)
{
	cJSON *section;
	int n = 0;
	if (!plan->changes) {
		return 0;
	}
	if (!(section = alarms_section(doc)) || !bump_alarms_version(doc)) {
		return -1;
	}
	for (int i = 0; i < plan->n; i++) {
		const char *name = plan->a[i].name;
		cJSON *entry = cJSON_GetObjectItemCaseSensitive(section, name);
		if (plan->a[i].action == TWIN_ALARM_RAISE) {
			if (!(entry = raised_entry(plan->a[i].severity, now)) || !twin_json_set(section, name, entry)) {
				return -1;
			}
			describe(&out[n++], name, entry, plan->a[i].severity);
		} else if (plan->a[i].action == TWIN_ALARM_CLEAR && entry) {
			if (!cJSON_ReplaceItemInObjectCaseSensitive(entry, "active", cJSON_CreateFalse()) ||
					!twin_json_set_int64(entry, "cleared", now)) {
				return -1;
			}
			describe(&out[n++], name, entry, plan->a[i].severity);
			if (out[n - 1].acked) {
				cJSON_DeleteItemFromObjectCaseSensitive(section, name);
			}
		}
	}
	return n;
}

int twin_alarms_ack(cJSON *doc, const char *name, struct twin_alarm_change *out)
{
	cJSON *section = cJSON_GetObjectItemCaseSensitive(doc, "alarms");
	cJSON *entry = cJSON_IsObject(section) ? cJSON_GetObjectItemCaseSensitive(section, name) : NULL;
	if (!cJSON_IsObject(entry)) {
		return -1;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(entry, "acked"))) {
		return 0;
	}
	if (!cJSON_ReplaceItemInObjectCaseSensitive(entry, "acked", cJSON_CreateTrue()) ||
			!bump_alarms_version(doc)) {
		return -2;
	}
	describe(out, name, entry, entry_severity(entry));
	if (!out->active) {
		cJSON_DeleteItemFromObjectCaseSensitive(section, name);
	}
	return 1;
}

bool twin_alarm_event_members(struct twin_buf *b, const struct twin_alarm_change *c)
{
	return twin_buf_put(b, ",\"name\":", 8) && twin_json_write_string(b, c->name) &&
			twin_buf_put(b, ",\"severity\":", 12) &&
			twin_json_write_string(b, twin_severity_names[c->severity]) &&
			twin_buf_put(b, c->active ? ",\"active\":true" : ",\"active\":false", c->active ? 14 : 15) &&
			twin_buf_put(b, c->acked ? ",\"acked\":true" : ",\"acked\":false", c->acked ? 13 : 14) &&
			twin_buf_put(b, ",\"since\":", 9) && twin_json_write_int(b, c->since) &&
			(!c->cleared || (twin_buf_put(b, ",\"cleared\":", 11) && twin_json_write_int(b, c->cleared)));
}
