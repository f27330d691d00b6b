/* merge.c - RFC 7396 merge patch (see merge.h). Values equal to the current ones are not changes, which is
 * what makes a retransmitted telemetry message a no-op.
 * Speed: telemetry usually repeats the member order of the twin, so each lookup first tries the member
 * after the previous match; numbers and timestamps are updated in place rather than reallocated. */
#include "merge.h"

#include <string.h>

#include "jsonx.h"

/* Member key of obj, trying *hint first; *hint moves past the match. */
static cJSON *find(cJSON *obj, cJSON **hint, const char *key)
{
	cJSON *m = *hint;
	if (!m || !m->string || strcmp(m->string, key) != 0) {
		m = cJSON_GetObjectItemCaseSensitive(obj, key);
	}
	*hint = m ? m->next : NULL;
	return m;
}

bool twin_merge_is_ts_marker(const cJSON *m)
{
	return cJSON_IsObject(m) && m->child && cJSON_IsNumber(m->child) && m->child->string &&
			strcmp(m->child->string, "ts") == 0 && !m->child->next;
}

cJSON *twin_merge_ts_marker(int64_t ts)
{
	cJSON *m = cJSON_CreateObject(), *n = cJSON_CreateNumber((double)ts);
	if (!m || !n) {
		cJSON_Delete(m);
		cJSON_Delete(n);
		return NULL;
	}
	cJSON_AddItemToObjectCS(m, "ts", n);
	return m;
}

/* Stamps leaf key: its existing marker m is updated in place, anything else replaced. */
static bool stamp(cJSON *meta, cJSON *m, const char *key, int64_t ts)
{
	if (twin_merge_is_ts_marker(m)) {
		cJSON_SetNumberValue(m->child, (double)ts);
		return true;
	}
	cJSON *marker = twin_merge_ts_marker(ts);
	if (m) {
		return twin_json_replace(meta, m, marker);
	}
	if (marker && !cJSON_AddItemToObject(meta, key, marker)) {
		cJSON_Delete(marker);
		return false;
	}
	return marker != NULL;
}

/* The metadata node for an object member: its object mirror (replacing a leaf marker or nothing). */
static cJSON *meta_object(cJSON *meta, cJSON *m, const char *key, int reset)
{
	if (!reset && cJSON_IsObject(m) && !twin_merge_is_ts_marker(m)) {
		return m;
	}
	cJSON *fresh = cJSON_CreateObject();
	bool ok = m ? twin_json_replace(meta, m, fresh) : twin_json_set(meta, key, fresh);
	return ok ? fresh : NULL;
}

static int merge_object_member(cJSON *target, cJSON *t, const cJSON *p, cJSON *meta, cJSON *m,
		int64_t ts, cJSON *changed)
{
	const char *k = p->string;
	int replaced = !cJSON_IsObject(t);
	if (replaced) {
		cJSON *obj = cJSON_CreateObject();
		if (!(t ? twin_json_replace(target, t, obj) : twin_json_set(target, k, obj))) {
			return -1;
		}
		t = obj;
	}
	if (meta && !(m = meta_object(meta, m, k, replaced))) {
		return -1;
	}
	cJSON *sub = (changed && !replaced) ? cJSON_CreateObject() : NULL;
	if (changed && !replaced && !sub) {
		return -1;
	}
	int c = twin_merge_apply(t, p, meta ? m : NULL, ts, sub);
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

/* Sets leaf t (or adds key) to a copy of p; a number over a number is updated in place. */
static bool set_leaf(cJSON *target, cJSON *t, const cJSON *p)
{
	if (cJSON_IsNumber(t) && cJSON_IsNumber(p)) {
		cJSON_SetNumberValue(t, p->valuedouble);
		return true;
	}
	cJSON *copy = cJSON_Duplicate(p, 1);
	if (t) {
		return twin_json_replace(target, t, copy);
	}
	return twin_json_set(target, p->string, copy);
}

int twin_merge_apply(cJSON *target, const cJSON *patch, cJSON *meta, int64_t ts, cJSON *changed)
{
	int n = 0;
	const cJSON *p;
	cJSON *hint = target->child, *mhint = meta ? meta->child : NULL;
	cJSON_ArrayForEach(p, patch)
	{
		const char *k = p->string;
		cJSON *t = find(target, &hint, k);
		cJSON *m = meta ? find(meta, &mhint, k) : NULL;
		if (cJSON_IsNull(p)) {
			if (t) {
				cJSON_Delete(cJSON_DetachItemViaPointer(target, t));
				if (m) {
					cJSON_Delete(cJSON_DetachItemViaPointer(meta, m));
				}
				if (changed && !cJSON_AddNullToObject(changed, k)) {
					return -1;
				}
				n++;
			}
			continue;
		}
		if (cJSON_IsObject(p)) {
			int c = merge_object_member(target, t, p, meta, m, ts, changed);
			if (c < 0) {
				return -1;
			}
			n += c;
			continue;
		}
		if (t && cJSON_Compare(t, p, 1)) {
			continue;
		}
		if (!set_leaf(target, t, p) || (meta && !stamp(meta, m, k, ts)) ||
				(changed && !twin_json_set(changed, k, cJSON_Duplicate(p, 1)))) {
			return -1;
		}
		n++;
	}
	return n;
}
