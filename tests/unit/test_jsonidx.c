/* test_jsonidx.c - big twins (thousands of keys): the indexed lookups of jsonidx, and delta, merge,
 * comparison and the stored form of a 2000-key twin, each checked against the straightforward linear
 * algorithm kept here as the oracle (the code before the indexes), byte for byte; and time bounds that only
 * a linear-time algorithm meets. */
#include <time.h>

#include "check.h"
#include "delta.h"
#include "jsonidx.h"
#include "jsonx.h"
#include "merge.h"
#include "twin.h"
#include "twin_format.h"

/* ---- the oracle: the linear algorithms ---- */

static cJSON *oracle_delta(const cJSON *desired, const cJSON *reported)
{
	cJSON *delta = cJSON_CreateObject();
	const cJSON *d;
	cJSON_ArrayForEach(d, desired)
	{
		const cJSON *r = cJSON_IsObject(reported) ? cJSON_GetObjectItemCaseSensitive(reported, d->string) : NULL;
		cJSON *add = NULL;
		if (cJSON_IsObject(d) && d->child) {
			add = oracle_delta(d, r);
			if (!add->child) {
				cJSON_Delete(add);
				continue;
			}
		} else if (!r || !cJSON_Compare(d, r, 1)) {
			add = cJSON_Duplicate(d, 1);
		} else {
			continue;
		}
		cJSON_AddItemToObject(delta, d->string, add);
	}
	return delta;
}

static int oracle_merge(cJSON *target, const cJSON *patch, cJSON *meta, int64_t ts, cJSON *changed);

/* Member key of obj, trying *hint first; *hint moves past the match. */
static cJSON *oracle_find(cJSON *obj, cJSON **hint, const char *key)
{
	cJSON *m = *hint;
	if (!m || !m->string || strcmp(m->string, key) != 0) {
		m = cJSON_GetObjectItemCaseSensitive(obj, key);
	}
	*hint = m ? m->next : NULL;
	return m;
}

/* Stamps leaf key: its existing marker m is updated in place, anything else replaced. */
static bool oracle_stamp(cJSON *meta, cJSON *m, const char *key, int64_t ts)
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
static cJSON *oracle_meta_object(cJSON *meta, cJSON *m, const char *key, int reset)
{
	if (!reset && cJSON_IsObject(m) && !twin_merge_is_ts_marker(m)) {
		return m;
	}
	cJSON *fresh = cJSON_CreateObject();
	bool ok = m ? twin_json_replace(meta, m, fresh) : twin_json_set(meta, key, fresh);
	return ok ? fresh : NULL;
}

static int oracle_member(cJSON *target, cJSON *t, const cJSON *p, cJSON *meta, cJSON *m,
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
	if (meta && !(m = oracle_meta_object(meta, m, k, replaced))) {
		return -1;
	}
	cJSON *sub = (changed && !replaced) ? cJSON_CreateObject() : NULL;
	if (changed && !replaced && !sub) {
		return -1;
	}
	int c = oracle_merge(t, p, meta ? m : NULL, ts, sub);
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
static bool oracle_set_leaf(cJSON *target, cJSON *t, const cJSON *p)
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

static int oracle_merge(cJSON *target, const cJSON *patch, cJSON *meta, int64_t ts, cJSON *changed)
{
	int n = 0;
	const cJSON *p;
	cJSON *hint = target->child, *mhint = meta ? meta->child : NULL;
	cJSON_ArrayForEach(p, patch)
	{
		const char *k = p->string;
		cJSON *t = oracle_find(target, &hint, k);
		cJSON *m = meta ? oracle_find(meta, &mhint, k) : NULL;
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
			int c = oracle_member(target, t, p, meta, m, ts, changed);
			if (c < 0) {
				return -1;
			}
			n += c;
			continue;
		}
		if (t && cJSON_Compare(t, p, 1)) {
			continue;
		}
		if (!oracle_set_leaf(target, t, p) || (meta && !oracle_stamp(meta, m, k, ts)) ||
				(changed && !twin_json_set(changed, k, cJSON_Duplicate(p, 1)))) {
			return -1;
		}
		n++;
	}
	return n;
}

/* ---- test data ---- */

static unsigned rnd_state;
static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

/* Keys key0000.. in a shuffled order. */
static void shuffled(unsigned *order, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		order[i] = i;
	}
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j = rnd(i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

/* Value number v of kind: numbers, strings, arrays, small and big (> TWIN_JSONIDX_MIN) objects. */
static cJSON *value(unsigned i, unsigned v)
{
	char s[32];
	switch (i % 23) {
		case 0: { /* a nested object of 20 members, some of them varying with v */
			cJSON *o = cJSON_CreateObject();
			for (unsigned k = 0; k < 20; k++) {
				snprintf(s, sizeof(s), "n%02u", (k * 7 + v) % 20);
				cJSON_AddNumberToObject(o, s, (double)(k % 3 == 0 ? v % 2 : k));
			}
			return o;
		}
		case 1: {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "a", (double)(v % 2));
			cJSON_AddStringToObject(o, "b", "x");
			return o;
		}
		case 2: {
			cJSON *a = cJSON_CreateArray();
			cJSON_AddItemToArray(a, cJSON_CreateNumber((double)(v % 2)));
			cJSON_AddItemToArray(a, cJSON_CreateString("y"));
			return a;
		}
		case 3:
			snprintf(s, sizeof(s), "s%u", v % 3);
			return cJSON_CreateString(s);
		case 4:
			return cJSON_CreateBool(v % 2);
		case 5:
			return cJSON_CreateObject();
		default:
			return cJSON_CreateNumber((double)(i * 10 + v % 4) + 0.5);
	}
}

/* An object of n keys key0000.. (in shuffled order), values of variant v; every skip-th key left out. */
static cJSON *section(unsigned n, unsigned v, unsigned skip)
{
	unsigned *order = malloc(n * sizeof(*order));
	cJSON *o = cJSON_CreateObject();
	shuffled(order, n);
	for (unsigned j = 0; j < n; j++) {
		char k[16];
		if (skip && order[j] % skip == 0) {
			continue;
		}
		snprintf(k, sizeof(k), "key%04u", order[j]);
		cJSON_AddItemToObject(o, k, value(order[j], v + rnd(3)));
	}
	free(order);
	return o;
}

/* A patch over keys 0..n+n/4: values, nulls (every 9th), objects over leaves and leaves over objects. */
static cJSON *big_patch(unsigned n)
{
	unsigned total = n + n / 4, *order = malloc(total * sizeof(*order));
	cJSON *p = cJSON_CreateObject();
	shuffled(order, total);
	for (unsigned j = 0; j < total; j++) {
		char k[16];
		unsigned i = order[j];
		snprintf(k, sizeof(k), "key%04u", i);
		if (i % 9 == 4) {
			cJSON_AddNullToObject(p, k);
		} else if (i % 31 == 7) {
			cJSON *o = cJSON_AddObjectToObject(p, k);
			cJSON_AddNumberToObject(o, "deep", (double)i);
			cJSON_AddNullToObject(o, "gone");
		} else {
			cJSON_AddItemToObject(p, k, value(i + (i % 13 == 0), rnd(4)));
		}
	}
	free(order);
	return p;
}

static char *print(const cJSON *item)
{
	return twin_json_print(item, NULL);
}

/* Reverses the member order of obj in place. */
static void reverse_members(cJSON *obj)
{
	cJSON *rev = cJSON_CreateObject();
	while (obj->child) {
		cJSON *last = obj->child->prev;
		cJSON_AddItemToObject(rev, last->string, cJSON_DetachItemViaPointer(obj, last));
	}
	while (rev->child) {
		cJSON *first = rev->child;
		cJSON_AddItemToObject(obj, first->string, cJSON_DetachItemViaPointer(rev, first));
	}
	cJSON_Delete(rev);
}

/* ---- the tests ---- */

TEST(jsonidx_should_find_the_first_member_and_forget_taken_ones)
{
	cJSON *o = cJSON_CreateObject();
	char k[16];
	for (unsigned i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "k%u", i % 60); /* k0..k39 twice */
		cJSON_AddNumberToObject(o, k, (double)i);
	}
	struct twin_jsonidx ix;
	CHECK(twin_jsonidx_build(&ix, o));
	CHECK(ix.dups);
	CHECK_INT(twin_jsonidx_get(&ix, "k5", false)->valuedouble, 5);
	CHECK_INT(twin_jsonidx_get(&ix, "k59", true)->valuedouble, 59);
	CHECK(twin_jsonidx_get(&ix, "k59", false) == NULL);
	CHECK(twin_jsonidx_get(&ix, "k60", false) == NULL);
	for (unsigned i = 0; i < 59; i++) {
		snprintf(k, sizeof(k), "k%u", i);
		CHECK(twin_jsonidx_get(&ix, k, false) == cJSON_GetObjectItemCaseSensitive(o, k));
	}
	twin_jsonidx_free(&ix);
	CHECK(!twin_jsonidx_unique(o));
	cJSON_Delete(o);
}

TEST(delta_of_a_2000_key_twin_should_equal_the_linear_one)
{
	rnd_state = 1;
	for (unsigned skip = 0; skip < 8; skip += 7) {
		cJSON *desired = section(1000, 0, 0), *reported = section(1000, 1, skip);
		cJSON *got = twin_delta_compute(desired, reported), *want = oracle_delta(desired, reported);
		char *g = print(got), *w = print(want);
		CHECK(got->child != NULL && strlen(w) > 1000);
		CHECK_STR(g, w);
		free(g);
		free(w);
		cJSON_Delete(got);
		cJSON_Delete(want);
		cJSON_Delete(desired);
		cJSON_Delete(reported);
	}
}

TEST(equal_should_answer_as_cjson_compare_for_big_objects)
{
	rnd_state = 2;
	cJSON *a = section(1000, 0, 0);
	for (int variant = 0; variant < 8; variant++) {
		cJSON *b = cJSON_Duplicate(a, 1);
		reverse_members(b);
		cJSON *first = b->child;
		if (variant == 1) {
			cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(b, "key0999"), 1.25);
		} else if (variant == 2) {
			cJSON_DeleteItemFromObjectCaseSensitive(b, "key0500");
		} else if (variant == 3) {
			cJSON_AddNumberToObject(b, "extra", 1);
		} else if (variant == 4) { /* a key twice, one key missing: same count */
			cJSON_DeleteItemFromObjectCaseSensitive(b, "key0017");
			cJSON_AddItemToObject(b, first->string, cJSON_Duplicate(first, 1));
		} else if (variant == 5) { /* a key twice with the same value: equal for cJSON_Compare */
			cJSON_AddItemToObject(b, first->string, cJSON_Duplicate(first, 1));
		} else if (variant == 6) { /* a key twice with another value */
			cJSON_AddNumberToObject(b, first->string, -1);
		} else if (variant == 7) { /* deep inside a nested object */
			cJSON *n = cJSON_GetObjectItemCaseSensitive(b, "key0023");
			cJSON_SetNumberValue(n->child->next, 99);
		}
		CHECK_INT(twin_json_equal(a, b), cJSON_Compare(a, b, 1));
		CHECK_INT(twin_json_equal(b, a), cJSON_Compare(b, a, 1));
		CHECK_INT(twin_json_equal(a, b), variant == 0 || variant == 5);
		cJSON_Delete(b);
	}
	cJSON_Delete(a);
}

/* Merges patch into copies of target/meta/changed with both algorithms and compares everything. */
static void check_merge(const cJSON *target, const cJSON *meta, const cJSON *changed, const cJSON *patch)
{
	cJSON *t[2] = {cJSON_Duplicate(target, 1), cJSON_Duplicate(target, 1)};
	cJSON *m[2] = {meta ? cJSON_Duplicate(meta, 1) : NULL, meta ? cJSON_Duplicate(meta, 1) : NULL};
	cJSON *c[2] = {cJSON_Duplicate(changed, 1), cJSON_Duplicate(changed, 1)};
	int n0 = twin_merge_apply(t[0], patch, m[0], 777, c[0]);
	int n1 = oracle_merge(t[1], patch, m[1], 777, c[1]);
	char *got[3] = {print(t[0]), m[0] ? print(m[0]) : NULL, print(c[0])};
	char *want[3] = {print(t[1]), m[1] ? print(m[1]) : NULL, print(c[1])};
	if (n0 != n1 || strcmp(got[0], want[0]) || (meta && strcmp(got[1], want[1])) || strcmp(got[2], want[2])) {
		check_failed_now = 1;
		fprintf(stderr, "  merge differs from the linear merge: %d vs %d changes\n", n0, n1);
	}
	for (int i = 0; i < 2; i++) {
		cJSON_Delete(t[i]);
		cJSON_Delete(m[i]);
		cJSON_Delete(c[i]);
	}
	for (int i = 0; i < 3; i++) {
		free(got[i]);
		free(want[i]);
	}
}

TEST(merge_into_a_2000_key_twin_should_equal_the_linear_merge)
{
	rnd_state = 3;
	cJSON *doc = twin_doc_create("big", 3, 0, 1000);
	cJSON *desired = section(1000, 0, 0), *reported = section(1000, 1, 5);
	CHECK(twin_doc_patch(doc, TWIN_SEC_DESIRED, desired, 1000, NULL) > 0);
	CHECK(twin_doc_patch(doc, TWIN_SEC_REPORTED, reported, 1001, NULL) > 0);
	cJSON *target = cJSON_GetObjectItemCaseSensitive(doc, "reported");
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "metadata"), "reported");
	cJSON *patch = big_patch(1000), *empty = cJSON_CreateObject(), *changed = cJSON_CreateObject();
	for (unsigned i = 0; i < 400; i += 3) { /* an earlier change of the same twin, with a key twice */
		char k[16];
		snprintf(k, sizeof(k), "key%04u", i);
		cJSON_AddNumberToObject(changed, k, -1);
	}
	cJSON_AddNullToObject(changed, "key0003");
	check_merge(target, meta, empty, patch);         /* big twin, big patch in another order */
	check_merge(target, NULL, changed, patch);       /* no metadata; a big change object to update */
	check_merge(empty, empty, empty, patch);         /* a new twin grows to 1250 keys at once */
	check_merge(target, meta, changed, desired);     /* patch and twin in different orders */
	cJSON *dup = cJSON_Duplicate(patch, 1);          /* a patch with a key twice keeps the linear path */
	cJSON_AddNumberToObject(dup, patch->child->string, 5);
	check_merge(target, meta, changed, dup);
	cJSON *small = cJSON_Parse("{\"key0001\":1,\"key0999\":{\"x\":1},\"new\":true,\"key0004\":null}");
	check_merge(target, meta, changed, small);       /* a few keys into a big twin */
	cJSON_Delete(small);
	cJSON_Delete(dup);
	cJSON_Delete(patch);
	cJSON_Delete(empty);
	cJSON_Delete(changed);
	cJSON_Delete(desired);
	cJSON_Delete(reported);
	cJSON_Delete(doc);
}

TEST(stored_2000_key_twin_should_not_depend_on_the_metadata_order)
{
	rnd_state = 4;
	cJSON *doc = twin_doc_create("big", 3, 0, 1000);
	cJSON *desired = section(1000, 0, 0), *reported = section(1000, 1, 0);
	twin_doc_patch(doc, TWIN_SEC_DESIRED, desired, 1000, NULL);
	twin_doc_patch(doc, TWIN_SEC_REPORTED, reported, 1001, NULL);
	CHECK(twin_doc_bump(doc, 6, 1002) == 1);
	/* different timestamps per leaf, then the same metadata once in reverse member order */
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "metadata"), "reported");
	int64_t ts = 1003;
	for (cJSON *m = meta->child; m; m = m->next) {
		if (twin_merge_is_ts_marker(m)) {
			cJSON_SetNumberValue(m->child, (double)ts++);
		}
	}
	struct twin_buf in_order = {0}, reversed = {0};
	CHECK(twin_doc_store(doc, &in_order));
	reverse_members(meta);
	CHECK(twin_doc_store(doc, &reversed));
	CHECK_INT(reversed.len, in_order.len);
	CHECK(memcmp(reversed.data, in_order.data, in_order.len) == 0);
	/* and it loads back as the same twin, delta included */
	cJSON *back = twin_doc_load("big", 3, in_order.data, in_order.len);
	cJSON *want = oracle_delta(desired, reported);
	char *d = print(cJSON_GetObjectItemCaseSensitive(back, "delta")), *w = print(want);
	CHECK_STR(d, w);
	free(d);
	free(w);
	cJSON_Delete(want);
	cJSON_Delete(back);
	twin_buf_free(&in_order);
	twin_buf_free(&reversed);
	cJSON_Delete(desired);
	cJSON_Delete(reported);
	cJSON_Delete(doc);
}

/* ---- linear time: 40 k keys in another order take seconds with one linear lookup per key ---- */

#define HUGE_N 40000

static cJSON *huge(int reverse, int v)
{
	cJSON *o = cJSON_CreateObject();
	for (int i = 0; i < HUGE_N; i++) {
		char k[16];
		int key = reverse ? HUGE_N - 1 - i : i;
		snprintf(k, sizeof(k), "k%05d", key);
		cJSON_AddNumberToObject(o, k, (double)(key % 7 == 0 ? v : 0));
	}
	return o;
}

static double cpu_now(void)
{
	return (double)clock() / CLOCKS_PER_SEC;
}

TEST(delta_and_equal_of_big_objects_should_cost_linear_time)
{
	cJSON *a = huge(0, 1), *b = huge(1, 2), *c = huge(1, 1);
	double t0 = cpu_now();
	cJSON *delta = twin_delta_compute(a, b);
	double t_delta = cpu_now() - t0;
	t0 = cpu_now();
	bool eq = twin_json_equal(a, c);
	double t_equal = cpu_now() - t0;
	fprintf(stderr, "  %d keys: delta %.3f s, equal %.3f s\n", HUGE_N, t_delta, t_equal);
	CHECK(eq);
	CHECK(delta && cJSON_GetArraySize(delta) > 0);
	cJSON_Delete(delta);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
	CHECK(t_delta < 1.0);
	CHECK(t_equal < 1.0);
}

TEST(merge_of_big_objects_should_cost_linear_time)
{
	cJSON *a = huge(0, 1), *b = huge(1, 2), *meta = cJSON_CreateObject(), *changed = cJSON_CreateObject();
	double t0 = cpu_now();
	int n = twin_merge_apply(a, b, meta, 5, changed);
	double t_merge = cpu_now() - t0;
	fprintf(stderr, "  %d keys: merge %.3f s\n", HUGE_N, t_merge);
	CHECK(n > 0);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(meta);
	cJSON_Delete(changed);
	CHECK(t_merge < 1.0);
}

/* A version bump compares the new delta with the previous one; the stored form here finds every leaf's
 * metadata out of order. */
TEST(bump_and_store_of_a_big_twin_should_cost_linear_time)
{
	cJSON *b = huge(1, 2), *c = huge(1, 1);
	cJSON *doc = twin_doc_create("huge", 4, 0, 1);
	twin_doc_patch(doc, TWIN_SEC_DESIRED, b, 2, NULL);
	twin_doc_patch(doc, TWIN_SEC_REPORTED, c, 2, NULL);
	twin_doc_bump(doc, 6, 3);
	cJSON *metadata = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
	reverse_members(cJSON_GetObjectItemCaseSensitive(metadata, "desired"));
	struct twin_buf stored = {0};
	double t0 = cpu_now();
	int bumped = twin_doc_bump(doc, 6, 4);
	double t_bump = cpu_now() - t0;
	t0 = cpu_now();
	bool ok = twin_doc_store(doc, &stored);
	double t_store = cpu_now() - t0;
	fprintf(stderr, "  %d keys: bump %.3f s, store %.3f s\n", HUGE_N, t_bump, t_store);
	twin_buf_free(&stored);
	cJSON_Delete(doc);
	cJSON_Delete(b);
	cJSON_Delete(c);
	CHECK(ok);
	CHECK_INT(bumped, 0);
	CHECK(t_bump < 1.0);
	CHECK(t_store < 1.0);
}
