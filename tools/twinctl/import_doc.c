/* import_doc.c - an imported twin document made storable (see import_doc.h).
 *
 * The document is rebuilt from the accepted members only, then sent once through the stored form
 * (twin_doc_store + twin_doc_load): what comes back is exactly what the store will hold and what `get`
 * will answer (metadata mirroring the sections, delta derived). */
#include "import_doc.h"

#include <string.h>

#include "jsonx.h"
#include "model.h"
#include "topic.h"
#include "twin.h"
#include "twin_format.h"

static const char *const known_members[] = {"id", "version", "created", "updated", "lastSeen",
		"connected", "attributes", "reported", "desired", "delta", "metadata", "versions", "alarms",
		"model"};

/* What has a counter in `versions`: the sections, and the alarms section of a twin that has had alarms. */
static const char *const versioned[] = {"attributes", "reported", "desired", "alarms"};
#define N_VERSIONED (sizeof(versioned) / sizeof(versioned[0]))

static bool known(const char *name)
{
	for (size_t i = 0; i < sizeof(known_members) / sizeof(known_members[0]); i++) {
		if (!strcmp(name, known_members[i])) {
			return true;
		}
	}
	return false;
}

/* Nesting of an object or array, itself included. */
static int depth_of(const cJSON *v)
{
	int d = 0;
	for (const cJSON *c = v->child; c; c = c->next) {
		if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
			int cd = depth_of(c);
			d = cd > d ? cd : d;
		}
	}
	return d + 1;
}

/* Member name of obj as a non-negative integer; *out keeps its default when absent. */
static bool count_member(const cJSON *obj, const char *name, int64_t *out, struct twin_error *err)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);
	int64_t v;
	if (!m) {
		return true;
	}
	if (!twin_json_int64(m, &v) || v < 0) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "'%s' must be a non-negative integer", name);
		return false;
	}
	*out = v;
	return true;
}

/* Member name of obj when it is an object, NULL when absent; false when it is something else (label
 * names it in the message). */
static bool object_member(const cJSON *obj, const char *name, const char *label, const cJSON **out,
		struct twin_error *err)
{
	*out = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
	if (*out && !cJSON_IsObject(*out)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "'%s' must be an object", label);
		return false;
	}
	return true;
}

static bool add_copy(cJSON *obj, const char *name, const cJSON *v)
{
	cJSON *copy = v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject();
	return copy && twin_json_set(obj, name, copy);
}

/* Checks the sections, their metadata and versions, then adds them to doc. */
static bool add_sections(cJSON *doc, const cJSON *in, const struct ctl_import_limits *lim,
		struct twin_error *err)
{
	static const char *const meta_labels[TWIN_N_SECTIONS] = {"", "metadata/reported",
			"metadata/desired"};
	const cJSON *sec[TWIN_N_SECTIONS], *meta_sec[TWIN_N_SECTIONS] = {NULL}, *meta_in, *versions_in;
	int64_t ver[TWIN_N_SECTIONS];
	if (!object_member(in, "metadata", "metadata", &meta_in, err) ||
			!object_member(in, "versions", "versions", &versions_in, err)) {
		return false;
	}
	for (int s = 0; s < TWIN_N_SECTIONS; s++) {
		const char *name = twin_section_names[s];
		if (!object_member(in, name, name, &sec[s], err) ||
				(s != TWIN_SEC_ATTRIBUTES &&
						!object_member(meta_in, name, meta_labels[s], &meta_sec[s], err))) {
			return false;
		}
		if (sec[s] && depth_of(sec[s]) > lim->max_depth) {
			twin_fail(err, TWIN_ERR_BAD_REQUEST, "'%s' is nested deeper than max_depth=%d levels",
					name, lim->max_depth);
			return false;
		}
		ver[s] = sec[s] && sec[s]->child ? 1 : 0;
		if (!count_member(versions_in, name, &ver[s], err)) {
			return false;
		}
	}
	cJSON *meta = cJSON_CreateObject(), *versions = cJSON_CreateObject();
	bool ok = twin_json_set(doc, "metadata", meta) && twin_json_set(doc, "versions", versions);
	for (int s = 0; ok && s < TWIN_N_SECTIONS; s++) {
		const char *name = twin_section_names[s];
		ok = add_copy(doc, name, sec[s]) && twin_json_add_int64(versions, name, ver[s]) &&
				(s == TWIN_SEC_ATTRIBUTES || add_copy(meta, name, meta_sec[s]));
	}
	if (!ok) {
		twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	return ok;
}

/* One alarm of the alarms section as the plugin writes it: {"severity", "active", "acked", "since",
 * "cleared"?}. */
static bool alarm_valid(const cJSON *a, struct twin_error *err)
{
	const cJSON *severity = cJSON_GetObjectItemCaseSensitive(a, "severity");
	int64_t v = 0;
	bool known_severity = false;
	for (int i = 0; cJSON_IsString(severity) && i < 4; i++) {
		known_severity |= !strcmp(severity->valuestring, twin_severity_names[i]);
	}
	int n = 0;
	for (const cJSON *m = cJSON_IsObject(a) ? a->child : NULL; m; m = m->next) {
		n++;
	}
	bool cleared = cJSON_GetObjectItemCaseSensitive(a, "cleared") != NULL;
	if (!twin_model_name_valid(a->string, strlen(a->string)) || !known_severity ||
			!cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(a, "active")) ||
			!cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(a, "acked")) ||
			!count_member(a, "since", &v, err) || !count_member(a, "cleared", &v, err) ||
			!cJSON_GetObjectItemCaseSensitive(a, "since") || n != 4 + cleared) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"alarm '%.64s' is not {\"severity\", \"active\", \"acked\", \"since\", \"cleared\"?} as the "
				"plugin writes it",
				a->string);
		return false;
	}
	return true;
}

/* The alarms section, when in has one (a twin that has had alarms), and its counter in versions. */
static bool add_alarms(cJSON *doc, const cJSON *in, struct twin_error *err)
{
	const cJSON *alarms, *versions_in = cJSON_GetObjectItemCaseSensitive(in, "versions");
	if (!object_member(in, "alarms", "alarms", &alarms, err)) {
		return false;
	}
	if (!alarms) {
		return true;
	}
	int64_t ver = alarms->child ? 1 : 0;
	for (const cJSON *a = alarms->child; a; a = a->next) {
		if (!alarm_valid(a, err)) {
			return false;
		}
	}
	if (!count_member(versions_in, "alarms", &ver, err)) {
		return false;
	}
	if (!add_copy(doc, "alarms", alarms) ||
			!twin_json_add_int64(cJSON_GetObjectItemCaseSensitive(doc, "versions"), "alarms", ver)) {
		twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
		return false;
	}
	return true;
}

/* The document built from in's accepted members (not yet canonical). */
static cJSON *build(const cJSON *in, int64_t now, const struct ctl_import_limits *lim,
		struct twin_error *err)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(in, "id");
	int64_t version = 1, updated = now, created, seen = -1;
	for (const cJSON *m = in->child; m; m = m->next) {
		if (!known(m->string)) {
			twin_fail(err, TWIN_ERR_BAD_REQUEST, "unknown member '%s'", m->string);
			return NULL;
		}
	}
	if (!cJSON_IsString(id)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "no 'id' (a string)");
		return NULL;
	}
	if (!twin_topic_id_valid(id->valuestring, strlen(id->valuestring), err) ||
			!count_member(in, "version", &version, err) ||
			!count_member(in, "updated", &updated, err)) {
		return NULL;
	}
	created = updated;
	if (!count_member(in, "created", &created, err) || !count_member(in, "lastSeen", &seen, err)) {
		return NULL;
	}
	cJSON *doc = cJSON_CreateObject();
	if (!doc || !cJSON_AddStringToObject(doc, "id", id->valuestring) ||
			!twin_json_add_int64(doc, "version", version < 1 ? 1 : version) ||
			!twin_json_add_int64(doc, "created", created) ||
			!twin_json_add_int64(doc, "updated", updated) ||
			(seen >= 0 && !twin_json_add_int64(doc, "lastSeen", seen))) {
		cJSON_Delete(doc);
		twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (!add_sections(doc, in, lim, err) || !add_alarms(doc, in, err)) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

cJSON *ctl_import_doc(const cJSON *in, int64_t now, const struct ctl_import_limits *lim,
		struct twin_error *err)
{
	struct twin_buf stored = {0};
	size_t len = 0;
	if (!cJSON_IsObject(in)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "not a JSON object");
		return NULL;
	}
	cJSON *doc = build(in, now, lim, err);
	if (!doc) {
		return NULL;
	}
	const char *id = cJSON_GetObjectItemCaseSensitive(doc, "id")->valuestring;
	cJSON *canon = twin_doc_store(doc, &stored)
			? twin_doc_load(id, strlen(id), stored.data, stored.len)
			: NULL;
	cJSON_Delete(doc);
	twin_buf_free(&stored);
	if (!canon) {
		twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
		return NULL;
	}
	char *text = twin_json_print(canon, &len);
	cJSON_free(text);
	if (!text || len + 1 > lim->max_twin_bytes) {
		cJSON_Delete(canon);
		twin_fail(err, text ? TWIN_ERR_TOO_LARGE : TWIN_ERR_NOMEM,
				text ? "twin too large: %zu bytes, the limit is max_twin_bytes=%zu" : "out of memory",
				len + 1, lim->max_twin_bytes);
		return NULL;
	}
	return canon;
}

/* Whether member name is the same in a and b (absent from both counts as the same). */
static bool same_member(const cJSON *a, const cJSON *b, const char *name)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, name);
	const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, name);
	return (!x && !y) || cJSON_Compare(x, y, 1);
}

static int64_t section_version(const cJSON *doc, const char *name)
{
	int64_t v = 0;
	twin_json_int64(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "versions"), name),
			&v);
	return v;
}

bool ctl_import_continue(cJSON *doc, const cJSON *existing, int64_t tombstone)
{
	int64_t last = existing ? twin_doc_version(existing) : tombstone;
	if (twin_doc_version(doc) <= last && !twin_json_set_int64(doc, "version", last + 1)) {
		return false;
	}
	cJSON *versions = cJSON_GetObjectItemCaseSensitive(doc, "versions");
	for (size_t s = 0; existing && s < N_VERSIONED; s++) {
		const char *name = versioned[s];
		int64_t floor = section_version(existing, name) + (same_member(doc, existing, name) ? 0 : 1);
		/* the alarms counter is kept only beside an alarms section (the stored form has no other) */
		if ((s < TWIN_N_SECTIONS || cJSON_GetObjectItemCaseSensitive(doc, name)) &&
				section_version(doc, name) < floor &&
				!twin_json_set_int64(versions, name, floor)) {
			return false;
		}
	}
	return true;
}

bool ctl_import_same(const cJSON *doc, const cJSON *existing)
{
	static const char *const compared[] = {"attributes", "reported", "desired", "metadata", "alarms",
			"lastSeen"};
	for (size_t i = 0; i < sizeof(compared) / sizeof(compared[0]); i++) {
		if (!same_member(doc, existing, compared[i])) {
			return false;
		}
	}
	return true;
}
