/* merge.c - RFC 7396 merge patch (see merge.h). Values equal to the current ones are not changes, which is
 * what makes a retransmitted telemetry message a no-op.
 * Speed: telemetry usually repeats the member order of the twin, so each lookup first tries the member
 * after the previous match, and the other lookups go through finders (jsonidx.h) that index a big target,
 * metadata or change object, so a patch of thousands of keys in any order costs linear time; numbers and
 * timestamps are updated in place rather than reallocated. A key found absent is added without another
 * lookup. */
#include "merge.h"

#include <string.h>

#include "jsonidx.h"
#include "jsonx.h"

/* Member key of the finder's object, trying *hint first; *hint moves past the match. */
static cJSON *find(struct twin_finder *f, cJSON **hint, const char *key)
{
	cJSON *m = *hint;
	if (!m || !m->string || strcmp(m->string, key) != 0) {
		m = twin_finder_get(f, key);
	} else {
		twin_finder_forget(f, key);
	}
	*hint = m ? m->next : NULL;
	return m;
}

/* Adds item as member key of obj (known to have none); takes ownership of item even on failure. */
static bool add_member(cJSON *obj, const char *key, cJSON *item)
{
	if (!item) {
		return false;
	}
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
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
	return m ? twin_json_replace(meta, m, marker) : add_member(meta, key, marker);
}

/* The metadata node for an object member: its object mirror (replacing a leaf marker or nothing). */
static cJSON *meta_object(cJSON *meta, cJSON *m, const char *key, int reset)
{
	if (!reset && cJSON_IsObject(m) && !twin_merge_is_ts_marker(m)) {
		return m;
	}
	cJSON *fresh = cJSON_CreateObject();
	bool ok = m ? twin_json_replace(meta, m, fresh) : add_member(meta, key, fresh);
	return ok ? fresh : NULL;
}

static int merge_object_member(cJSON *target, cJSON *t, const cJSON *p, cJSON *meta, cJSON *m,
		int64_t ts, cJSON *changed)
{
	const char *k = p->string;
	int replaced = !cJSON_IsObject(t);
	if (replaced) {
		cJSON *obj = cJSON_CreateObject();
		if (!(t ? twin_json_replace(target, t, obj) : add_member(target, k, obj))) {
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
	return t ? twin_json_replace(target, t, copy) : add_member(target, p->string, copy);
}

/* Sets member key of changed to item, replacing the first one with that key (as twin_json_set). */
static bool set_changed(struct twin_finder *f, cJSON *changed, const char *key, cJSON *item)
{
	if (!item) {
		return false;
	}
	cJSON *old = twin_finder_get(f, key);
	return old ? twin_json_replace(changed, old, item) : add_member(changed, key, item);
}

/* More than TWIN_JSONIDX_MIN members. */
static bool is_big(const cJSON *obj)
{
	return obj && twin_jsonidx_count(obj, TWIN_JSONIDX_MIN) > TWIN_JSONIDX_MIN;
}

static int merge_level(cJSON *target, const cJSON *patch, cJSON *meta, int64_t ts, cJSON *changed,
		struct twin_finder *tf, struct twin_finder *mf, struct twin_finder *cf);

int twin_merge_apply(cJSON *target, const cJSON *patch, cJSON *meta, int64_t ts, cJSON *changed)
{
	/* an index forgets each member the merge may free, which is exact only when no patch key repeats */
	bool may_index = (is_big(patch) || is_big(target)) && twin_jsonidx_count(patch, 1) > 1 &&
			twin_jsonidx_unique(patch);
	struct twin_finder tf, mf, cf;
	twin_finder_init(&tf, target, true, may_index);
	twin_finder_init(&mf, meta, true, may_index);
	twin_finder_init(&cf, changed, true, may_index);
	int n = merge_level(target, patch, meta, ts, changed, &tf, &mf, &cf);
	twin_finder_free(&tf);
	twin_finder_free(&mf);
	twin_finder_free(&cf);
	return n;
}

static int merge_level(cJSON *target, const cJSON *patch, cJSON *meta, int64_t ts, cJSON *changed,
		struct twin_finder *tf, struct twin_finder *mf, struct twin_finder *cf)
{
	int n = 0;
	const cJSON *p;
	cJSON *hint = target->child, *mhint = meta ? meta->child : NULL;
	cJSON_ArrayForEach(p, patch)
	{
		const char *k = p->string;
		cJSON *t = find(tf, &hint, k);
		cJSON *m = meta ? find(mf, &mhint, k) : NULL;
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
		if (t && twin_json_equal(t, p)) {
			continue;
		}
		if (!set_leaf(target, t, p) || (meta && !stamp(meta, m, k, ts)) ||
				(changed && !set_changed(cf, changed, k, cJSON_Duplicate(p, 1)))) {
			return -1;
		}
		n++;
	}
	return n;
}
