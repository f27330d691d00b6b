/* twin.c - the twin document model (see twin.h). Field order in a new document is fixed here so stored
 * twins read naturally: id, version, created, updated, attributes, reported, desired, delta, metadata,
 * versions (and lastSeen once telemetry arrived). */
#include "twin.h"

#include <stdlib.h>
#include <string.h>

#include "delta.h"
#include "jsonidx.h"
#include "jsonx.h"
#include "merge.h"

const char *const twin_section_names[TWIN_N_SECTIONS] = {"attributes", "reported", "desired"};

cJSON *twin_doc_create(const char *id, size_t id_len, int64_t last_version, int64_t ts)
{
	cJSON *doc = cJSON_CreateObject();
	char *id_str = strndup(id, id_len);
	cJSON *meta = NULL, *versions = NULL;
	bool ok = doc && id_str && cJSON_AddStringToObject(doc, "id", id_str) &&
			twin_json_add_int64(doc, "version", last_version) &&
			twin_json_add_int64(doc, "created", ts) && twin_json_add_int64(doc, "updated", ts) &&
			cJSON_AddObjectToObject(doc, "attributes") && cJSON_AddObjectToObject(doc, "reported") &&
			cJSON_AddObjectToObject(doc, "desired") && cJSON_AddObjectToObject(doc, "delta") &&
			(meta = cJSON_AddObjectToObject(doc, "metadata")) &&
			cJSON_AddObjectToObject(meta, "reported") && cJSON_AddObjectToObject(meta, "desired") &&
			(versions = cJSON_AddObjectToObject(doc, "versions"));
	for (int s = 0; ok && s < TWIN_N_SECTIONS; s++) {
		ok = twin_json_add_int64(versions, twin_section_names[s], 0);
	}
	free(id_str);
	if (!ok) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

int64_t twin_doc_version(const cJSON *doc)
{
	int64_t v = 0;
	twin_json_int64(cJSON_GetObjectItemCaseSensitive(doc, "version"), &v);
	return v;
}

/* Returns the named object member, creating it (or replacing a non-object) if needed. */
static cJSON *object_member(cJSON *obj, const char *name)
{
	cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (cJSON_IsObject(m)) {
		return m;
	}
	m = cJSON_CreateObject();
	return twin_json_set(obj, name, m) ? m : NULL;
}

cJSON *twin_doc_section(cJSON *doc, enum twin_section s)
{
	return object_member(doc, twin_section_names[s]);
}

int twin_doc_patch(cJSON *doc, enum twin_section s, const cJSON *patch, int64_t ts, cJSON *changed)
{
	cJSON *target = twin_doc_section(doc, s);
	cJSON *meta = NULL;
	if (!target) {
		return -1;
	}
	if (s != TWIN_SEC_ATTRIBUTES) {
		cJSON *metadata = object_member(doc, "metadata");
		if (!metadata || !(meta = object_member(metadata, twin_section_names[s]))) {
			return -1;
		}
	}
	return twin_merge_apply(target, patch, meta, ts, changed);
}

int twin_doc_clear(cJSON *doc, enum twin_section s, int64_t ts, cJSON *changed)
{
	cJSON *target = twin_doc_section(doc, s), *patch = cJSON_CreateObject();
	bool ok = target && patch;
	for (const cJSON *m = target ? target->child : NULL; ok && m; m = m->next) {
		ok = cJSON_AddNullToObject(patch, m->string) != NULL;
	}
	int n = ok ? twin_doc_patch(doc, s, patch, ts, changed) : -1;
	cJSON_Delete(patch);
	return n;
}

int twin_doc_bump(cJSON *doc, unsigned mask, int64_t ts)
{
	cJSON *versions = object_member(doc, "versions");
	if (!versions || !twin_json_set_int64(doc, "version", twin_doc_version(doc) + 1) ||
			!twin_json_set_int64(doc, "updated", ts)) {
		return -1;
	}
	for (int s = 0; s < TWIN_N_SECTIONS; s++) {
		int64_t v = 0;
		if (!(mask & (1u << s))) {
			continue;
		}
		twin_json_int64(cJSON_GetObjectItemCaseSensitive(versions, twin_section_names[s]), &v);
		if (!twin_json_set_int64(versions, twin_section_names[s], v + 1)) {
			return -1;
		}
	}
	if (!(mask & ((1u << TWIN_SEC_DESIRED) | (1u << TWIN_SEC_REPORTED)))) {
		return 0;
	}
	cJSON *delta = twin_delta_compute(cJSON_GetObjectItemCaseSensitive(doc, "desired"),
			cJSON_GetObjectItemCaseSensitive(doc, "reported"));
	if (!delta) {
		return -1;
	}
	int changed = !twin_json_equal(delta, cJSON_GetObjectItemCaseSensitive(doc, "delta"));
	return twin_json_set(doc, "delta", delta) ? changed : -1;
}

void twin_doc_seen(cJSON *doc, int64_t ts)
{
	twin_json_set_int64(doc, "lastSeen", ts);
}

/* Copies the value at path (a/b/c) from doc into out, creating the intermediate objects; a path that
 * does not exist in doc is left out. */
static bool select_path(const cJSON *doc, cJSON *out, const char *path)
{
	char *copy = strdup(path), *save = NULL;
	const char *keys[64];
	int n = 0;
	const cJSON *src = doc;
	if (!copy) {
		return false;
	}
	for (char *k = strtok_r(copy, "/", &save); k && src; k = strtok_r(NULL, "/", &save)) {
		if (n == 64 || !cJSON_IsObject(src)) {
			src = NULL;
			break;
		}
		keys[n++] = k;
		src = cJSON_GetObjectItemCaseSensitive(src, k);
	}
	bool ok = true;
	cJSON *dst = out;
	for (int i = 0; src && ok && i < n; i++) {
		cJSON *next = cJSON_GetObjectItemCaseSensitive(dst, keys[i]);
		if (i == n - 1) {
			ok = twin_json_set(dst, keys[i], cJSON_Duplicate(src, 1));
		} else if (!next) {
			ok = (next = cJSON_AddObjectToObject(dst, keys[i])) != NULL;
		} else if (!cJSON_IsObject(next)) {
			break; /* a shorter path already selected the whole value */
		}
		dst = next;
	}
	free(copy);
	return ok;
}

cJSON *twin_doc_select(const cJSON *doc, const cJSON *fields)
{
	static const char *const always[] = {"id", "version", "ts"};
	cJSON *out = cJSON_CreateObject();
	const cJSON *f;
	for (size_t i = 0; out && i < sizeof(always) / sizeof(always[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, always[i]);
		if (v && !twin_json_set(out, always[i], cJSON_Duplicate(v, 1))) {
			cJSON_Delete(out);
			return NULL;
		}
	}
	cJSON_ArrayForEach(f, fields)
	{
		if (!out || cJSON_GetObjectItemCaseSensitive(out, f->valuestring)) {
			continue;
		}
		if (!select_path(doc, out, f->valuestring)) {
			cJSON_Delete(out);
			return NULL;
		}
	}
	return out;
}
