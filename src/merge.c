/* merge.c - RFC 7396 merge patch (see merge.h). Values equal to the current ones are not changes, which is
 * what makes a retransmitted telemetry message a no-op. */
#include "merge.h"

#include "jsonx.h"

static cJSON *leaf_ts(int64_t ts)
{
	cJSON *m = cJSON_CreateObject();
	if (m && !twin_json_add_int64(m, "ts", ts)) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

/* The metadata node for an object member: an object mirror (replacing a leaf marker or nothing). */
static cJSON *meta_object(cJSON *meta, const char *key, int reset)
{
	cJSON *m = cJSON_GetObjectItemCaseSensitive(meta, key);
	if (!reset && cJSON_IsObject(m) && !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(m, "ts"))) {
		return m;
	}
	m = cJSON_CreateObject();
	return twin_json_set(meta, key, m) ? m : NULL;
}

static int merge_object_member(cJSON *target, const cJSON *p, cJSON *meta, int64_t ts,
		cJSON *changed)
{
	const char *k = p->string;
	cJSON *t = cJSON_GetObjectItemCaseSensitive(target, k);
	int replaced = !cJSON_IsObject(t);
	if (replaced) {
		t = cJSON_CreateObject();
		if (!twin_json_set(target, k, t)) {
			return -1;
		}
	}
	cJSON *m = NULL;
	if (meta && !(m = meta_object(meta, k, replaced))) {
		return -1;
	}
	cJSON *sub = (changed && !replaced) ? cJSON_CreateObject() : NULL;
	if (changed && !replaced && !sub) {
		return -1;
	}
	int c = twin_merge_apply(t, p, m, ts, sub);
	if (c < 0) {
		cJSON_Delete(sub);
		return -1;
	}
	int n = c > 0 ? c : replaced; /* a new container counts once, unless its leaves did */
	if (changed && replaced) {
		sub = cJSON_Duplicate(t, 1);
	}
	if (sub) {
		if (n > 0) {
			if (!cJSON_AddItemToObject(changed, k, sub)) {
				cJSON_Delete(sub);
				return -1;
			}
		} else {
			cJSON_Delete(sub);
		}
	}
	return n;
}

int twin_merge_apply(cJSON *target, const cJSON *patch, cJSON *meta, int64_t ts, cJSON *changed)
{
	int n = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, patch)
	{
		const char *k = p->string;
		cJSON *t = cJSON_GetObjectItemCaseSensitive(target, k);
		if (cJSON_IsNull(p)) {
			if (t) {
				cJSON_DeleteItemFromObjectCaseSensitive(target, k);
				if (meta) {
					cJSON_DeleteItemFromObjectCaseSensitive(meta, k);
				}
				if (changed && !cJSON_AddNullToObject(changed, k)) {
					return -1;
				}
				n++;
			}
			continue;
		}
		if (cJSON_IsObject(p)) {
			int c = merge_object_member(target, p, meta, ts, changed);
			if (c < 0) {
				return -1;
			}
			n += c;
			continue;
		}
		if (t && cJSON_Compare(t, p, 1)) {
			continue;
		}
		if (!twin_json_set(target, k, cJSON_Duplicate(p, 1)) ||
				(meta && !twin_json_set(meta, k, leaf_ts(ts))) ||
				(changed && !twin_json_set(changed, k, cJSON_Duplicate(p, 1)))) {
			return -1;
		}
		n++;
	}
	return n;
}
