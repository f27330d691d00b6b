/* ingest.c - readings, sub-path values and their timestamps (see ingest.h).
 * Validation is whole: a device's part of a message yields all its readings or none, so a message is
 * never half applied. Thread: the writer's (or a test's); nothing here is shared. */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

void twin_readings_free(struct twin_readings *rs)
{
	free(rs->r);
	rs->r = NULL;
	rs->n = rs->cap = 0;
}

/* Objects and arrays nest at most limit levels in v (a scalar has none). */
static bool depth_within(const cJSON *v, int limit)
{
	if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) {
		return true;
	}
	if (limit < 1) {
		return false;
	}
	for (const cJSON *c = v->child; c; c = c->next) {
		if (!depth_within(c, limit - 1)) {
			return false;
		}
	}
	return true;
}

/* {"ts": .., "values": ..} with exactly these two members, in either order. */
static bool is_envelope(const cJSON *o, cJSON **ts, cJSON **values)
{
	cJSON *a = o->child, *b = a ? a->next : NULL;
	if (!b || b->next) {
		return false;
	}
	if (!strcmp(a->string, "values")) {
		cJSON *t = a;
		a = b;
		b = t;
	}
	if (strcmp(a->string, "ts") || strcmp(b->string, "values")) {
		return false;
	}
	*ts = a;
	*values = b;
	return true;
}

static enum twin_rc device_ts(const cJSON *item, int64_t arrival, const char *where, int64_t *ts,
		struct twin_error *err)
{
	int64_t v = 0;
	if (!twin_json_int64(item, &v)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"%sts is not an integer (Unix epoch milliseconds)", where);
	}
	if (v < TWIN_TS_MIN_MS) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"%sts %lld is before 2000-01-01 (seconds instead of milliseconds?)", where,
				(long long)v);
	}
	if (v > arrival + TWIN_TS_AHEAD_MS) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"%sts %lld is more than a day ahead of the broker's clock", where, (long long)v);
	}
	*ts = v;
	return TWIN_OK;
}

static enum twin_rc add_reading(const cJSON *item, int64_t arrival, int depth_limit, const char *where,
		struct twin_readings *out, struct twin_error *err)
{
	cJSON *ts_item, *values;
	struct twin_reading r = {arrival, item};
	enum twin_rc rc;
	if (!cJSON_IsObject(item)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST, "%snot a JSON object", where);
	}
	if (is_envelope(item, &ts_item, &values)) {
		if ((rc = device_ts(ts_item, arrival, where, &r.ts, err)) != TWIN_OK) {
			return rc;
		}
		if (!cJSON_IsObject(values)) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "%svalues is not a JSON object", where);
		}
		r.patch = values;
	}
	if (depth_limit >= 0 && !depth_within(r.patch, depth_limit)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST, "%sJSON nested deeper than max_depth=%d", where,
				depth_limit);
	}
	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 8;
		struct twin_reading *grown = realloc(out->r, cap * sizeof(*grown));
		if (!grown) {
			return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
		}
		out->r = grown;
		out->cap = cap;
	}
	out->r[out->n++] = r;
	return TWIN_OK;
}

enum twin_rc twin_ingest_readings(const cJSON *value, int64_t arrival, int depth_limit,
		struct twin_readings *out, struct twin_error *err)
{
	enum twin_rc rc;
	out->n = 0;
	if (cJSON_IsObject(value)) {
		return add_reading(value, arrival, depth_limit, "", out, err);
	}
	if (!cJSON_IsArray(value) || !value->child) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"not a JSON object (nor a non-empty array of readings)");
	}
	int i = 0;
	for (const cJSON *item = value->child; item; item = item->next) {
		char where[32];
		snprintf(where, sizeof(where), "reading %d: ", ++i);
		if ((rc = add_reading(item, arrival, depth_limit, where, out, err)) != TWIN_OK) {
			out->n = 0;
			return rc;
		}
	}
	return TWIN_OK;
}

int twin_ingest_path_levels(const char *path, size_t len)
{
	int n = 1;
	if (!len || path[0] == '/' || path[len - 1] == '/') {
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (path[i] == '/') {
			if (path[i + 1] == '/') {
				return -1;
			}
			n++;
		}
	}
	return n;
}

cJSON *twin_ingest_path_patch(cJSON *root, const char *path, size_t path_len, int64_t arrival,
		int depth_limit, int64_t *ts, struct twin_error *err)
{
	cJSON *ts_item, *values, *value = root;
	*ts = arrival;
	if (cJSON_IsObject(root) && is_envelope(root, &ts_item, &values)) {
		if (device_ts(ts_item, arrival, "", ts, err) != TWIN_OK) {
			cJSON_Delete(root);
			return NULL;
		}
		value = cJSON_DetachItemViaPointer(root, values);
		cJSON_Delete(root);
	}
	if (!depth_within(value, depth_limit)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"JSON nested deeper than max_depth (%d levels left below the sub-path)", depth_limit);
		cJSON_Delete(value);
		return NULL;
	}
	/* wrapped from the innermost level out: "a/b" -> {"b": value} -> {"a": {"b": value}} */
	for (size_t end = path_len;;) {
		size_t start = end;
		while (start > 0 && path[start - 1] != '/') {
			start--;
		}
		cJSON *obj = cJSON_CreateObject();
		char *key = strndup(path + start, end - start);
		bool ok = obj && key && cJSON_AddItemToObject(obj, key, value);
		free(key);
		if (!ok) {
			cJSON_Delete(obj);
			cJSON_Delete(value);
			twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
			return NULL;
		}
		value = obj;
		if (start == 0) {
			return value;
		}
		end = start - 1;
	}
}
