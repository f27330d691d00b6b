/* test_twin_render.c - a get rendered straight from the stored bytes is byte for byte the loaded twin
 * written with its model shown (what get answered before): hand-picked twins (nested objects, arrays,
 * escapes and unicode, number edges, empty sections, desired without reported, 2000 keys, models and
 * alarms), thousands of random ones, and values it must decline (the older form, texts the writer never
 * makes, damaged bytes). */
#include <math.h>
#include <string.h>

#include "check.h"
#include "model_check.h"
#include "twin.h"
#include "twin_format.h"
#include "twin_render.h"

#define T0 1763884800000LL
#define ID "rack-7"

enum outcome { SAME, DECLINED, DIFFERENT };

static const char *default_model; /* the model shown for a twin whose attributes name none */

/* Renders the stored value both ways; on DIFFERENT prints both. */
static enum outcome both_ways(const char *val, size_t len)
{
	struct twin_buf fast = {0}, slow = {0};
	struct twin_stored t = {ID, sizeof(ID) - 1, val, len, default_model};
	twin_buf_put(&fast, "x", 1); /* rendering appends */
	bool rendered = twin_doc_render(&t, &fast);
	cJSON *doc = twin_doc_load(ID, sizeof(ID) - 1, val, len);
	enum outcome o = DECLINED;
	if (rendered) {
		bool same = doc && twin_doc_show_model(doc, default_model) && twin_json_write(&slow, doc) &&
				fast.len == slow.len + 1 && memcmp(fast.data + 1, slow.data, slow.len) == 0;
		o = same ? SAME : DIFFERENT;
	} else if (fast.len != 1) {
		o = DIFFERENT; /* a refusal leaves the buffer as it was */
	}
	if (o == DIFFERENT) {
		fprintf(stderr, "  fast %.*s\n  slow %.*s\n", (int)fast.len, fast.data, (int)slow.len,
				slow.data ? slow.data : "");
	}
	cJSON_Delete(doc);
	twin_buf_free(&fast);
	twin_buf_free(&slow);
	return o;
}

/* A twin as the writer makes it: attributes, two reported patches at different times, desired. */
static cJSON *make_twin(const cJSON *attributes, const cJSON *reported, const cJSON *reported2,
		const cJSON *desired, bool seen)
{
	cJSON *doc = twin_doc_create(ID, sizeof(ID) - 1, 41, T0);
	const cJSON *patches[] = {attributes, reported, reported2, desired};
	const enum twin_section sections[] = {TWIN_SEC_ATTRIBUTES, TWIN_SEC_REPORTED, TWIN_SEC_REPORTED,
			TWIN_SEC_DESIRED};
	for (int i = 0; i < 4; i++) {
		if (patches[i] && twin_doc_patch(doc, sections[i], patches[i], T0 + 1000 * i - 1500, NULL) > 0) {
			twin_doc_bump(doc, 1u << sections[i], T0 + 1000 * i);
		}
	}
	if (seen) {
		twin_doc_seen(doc, T0 + 99999);
	}
	return doc;
}

/* The alarms section as the writer keeps it, at this version (json NULL: only the version, as a twin
 * keeps it once its last alarm is gone). */
static void add_alarms(cJSON *doc, const char *json, int64_t version)
{
	twin_json_set_int64(cJSON_GetObjectItemCaseSensitive(doc, "versions"), "alarms", version);
	if (json) {
		twin_json_set(doc, "alarms", cJSON_Parse(json));
	}
}

static enum outcome stored_both_ways(const cJSON *doc)
{
	struct twin_buf val = {0};
	enum outcome o = twin_doc_store(doc, &val) ? both_ways(val.data, val.len) : DIFFERENT;
	twin_buf_free(&val);
	return o;
}

/* reported, desired (and attributes) as JSON texts; NULL: not patched. */
static enum outcome texts_both_ways(const char *attributes, const char *reported, const char *desired)
{
	cJSON *a = attributes ? cJSON_Parse(attributes) : NULL, *r = reported ? cJSON_Parse(reported) : NULL;
	cJSON *d = desired ? cJSON_Parse(desired) : NULL;
	enum outcome o = DIFFERENT;
	if ((a || !attributes) && (r || !reported) && (d || !desired)) {
		cJSON *doc = make_twin(a, r, NULL, d, attributes != NULL);
		o = stored_both_ways(doc);
		cJSON_Delete(doc);
	}
	cJSON_Delete(a);
	cJSON_Delete(r);
	cJSON_Delete(d);
	return o;
}

TEST(render_should_match_loading_for_hand_picked_twins)
{
	static const char *const cases[][3] = {
			{NULL, NULL, NULL}, /* a new twin: every section empty, no lastSeen */
			{"{}", "{}", "{}"},
			{"{\"site\":\"dc1\"}", "{\"tempTop\":24.1,\"seq\":1000000,\"doorOpen\":false,\"status\":\"ok\"}",
					NULL},
			{NULL, NULL, "{\"fan\":{\"speed\":3},\"mode\":\"eco\"}"}, /* desired without reported */
			{NULL, "{\"a\":1,\"b\":[1,2]}", "{\"a\":1,\"b\":[1,2]}"},  /* nothing differs: delta {} */
			{NULL, "{\"fan\":{\"speed\":3,\"mode\":\"auto\",\"x\":{\"y\":1}}}",
					"{\"fan\":{\"speed\":3,\"mode\":\"eco\",\"x\":{\"y\":1},\"z\":{\"w\":[]}}}"},
			{NULL, "{\"fan\":1,\"pump\":{\"on\":true}}", "{\"fan\":{\"speed\":3},\"pump\":false}"},
			{NULL, "{\"e\":{},\"f\":{\"a\":1},\"g\":{}}", "{\"e\":{},\"f\":{},\"g\":{},\"h\":{}}"},
			{NULL, "{\"l\":[1,2,3],\"m\":[{\"a\":1,\"b\":2}],\"n\":[[],{}],\"o\":[1]}",
					"{\"l\":[1,2],\"m\":[{\"b\":2,\"a\":1}],\"n\":[[],{}],\"o\":[\"1\"]}"},
			{"{\"n\\u00e9\":\"\\u00e9\\ud83d\\ude00\\u0001\\u001f\\\"\\\\\\/\\b\\f\\n\\r\\t\\u007f\"}",
					"{\"a\\\"b\":\"x\\\\y\",\"\\u0001\":1,\"\xc3\xa9\":\"\xe2\x82\xac\",\"\":0}",
					"{\"a\\\"b\":\"x\\\\y\",\"\\u0001\":2,\"\xc3\xa9\":\"\\u20ac\",\"\":\"\"}"},
			/* numbers cJSON_Compare calls equal (within its tolerance), and edges of printing */
			{NULL, "{\"a\":0.30000000000000004,\"b\":1,\"c\":1e+300,\"d\":-0,\"e\":5e-324,\"f\":[0.3]}",
					"{\"a\":0.3,\"b\":1.0000000000000002,\"c\":1e300,\"d\":0,\"e\":4.9e-324,\"f\":[0.30000000000000004]}"},
			{NULL, "{\"g\":123456789012345678,\"h\":1.7976931348623157e308,\"i\":-2.5e-7,\"j\":1e21}",
					"{\"g\":123456789012345680,\"h\":1.7976931348623157e308,\"i\":2.5e-7,\"j\":1e22}"},
			{NULL, "{\"t\":true,\"u\":null,\"v\":[null,true,false],\"w\":\"1\"}",
					"{\"t\":false,\"v\":[null,true,false],\"w\":1}"},
			{"{\"d\":{\"e\":{\"e\":{\"e\":{\"e\":{\"e\":{\"e\":{\"e\":{\"e\":{\"e\":1}}}}}}}}}}", NULL,
					"{\"d\":{\"e\":{\"e\":{\"e\":{\"e\":{\"e\":{\"e\":{\"e\":{\"e\":[{\"e\":{}}]}}}}}}}}}}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (texts_both_ways(cases[i][0], cases[i][1], cases[i][2]) != SAME) {
			CHECK_FAIL("case %zu: %s / %s / %s", i, cases[i][0] ? cases[i][0] : "-",
					cases[i][1] ? cases[i][1] : "-", cases[i][2] ? cases[i][2] : "-");
		}
	}
}

TEST(render_should_show_the_model_and_the_alarms)
{
	static const struct {
		const char *attributes, *alarms, *default_model;
	} cases[] = {
			{"{\"model\":\"rack-th\"}", NULL, NULL},
			{"{\"model\":\"rack-th\"}", NULL, "dflt"},
			{"{\"model\":5}", NULL, "dflt"},
			{"{\"model\":{\"name\":\"x\"}}", NULL, NULL},
			{"{\"site\":\"dc1\",\"model\":\"a\\\"b\\u00e9\\n\"}", NULL, "dflt"},
			{NULL, NULL, "d\"f\\lt\x01"},
			{"{\"model\":\"rack-th\"}",
					"{\"overTemp\":{\"active\":true,\"since\":1763884800000,\"severity\":\"major\","
					"\"value\":31.5,\"ack\":null,\"tags\":[\"hot\",{\"b\":1,\"a\":2}]}}",
					NULL},
			{NULL, "{}", "dflt"},
			{NULL, "", NULL}, /* only versions.alarms: the section is stored as {} */
	};
	cJSON *r = cJSON_Parse("{\"t\":24.1,\"door\":{\"open\":false}}"), *d = cJSON_Parse("{\"t\":22}");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *a = cases[i].attributes ? cJSON_Parse(cases[i].attributes) : NULL;
		cJSON *doc = make_twin(a, r, NULL, d, i % 2);
		if (cases[i].alarms) {
			add_alarms(doc, *cases[i].alarms ? cases[i].alarms : NULL, 3);
		}
		default_model = cases[i].default_model;
		enum outcome o = stored_both_ways(doc);
		default_model = NULL;
		cJSON_Delete(doc);
		cJSON_Delete(a);
		if (o != SAME) {
			cJSON_Delete(r);
			cJSON_Delete(d);
			CHECK_FAIL("case %zu: %d", i, o);
		}
	}
	cJSON_Delete(r);
	cJSON_Delete(d);
}

/* {"p0000":v,...}: n keys (the bench's big twin: every odd one + odd), members of a wide object in the
 * other order when reversed. */
static cJSON *keys_object(int n, int odd, bool reversed)
{
	cJSON *o = cJSON_CreateObject();
	char key[16];
	for (int k = 0; k < n; k++) {
		int i = reversed ? n - 1 - k : k;
		snprintf(key, sizeof(key), "p%04d", i);
		cJSON_AddNumberToObject(o, key, i + 0.5 + (i % 2) * odd);
	}
	return o;
}

TEST(render_should_match_loading_for_big_twins)
{
	cJSON *reported = keys_object(1000, 0, false), *desired = keys_object(1000, 1, false);
	cJSON *wide = cJSON_CreateObject(), *wide2 = cJSON_CreateObject();
	cJSON_AddItemToObject(wide, "w", keys_object(40, 0, false));
	cJSON_AddItemToObject(wide2, "w", keys_object(40, 0, true)); /* same members, other order */
	cJSON_AddItemToObject(wide2, "v", keys_object(40, 1, true));
	cJSON_AddItemToObject(wide, "v", keys_object(40, 0, false));
	cJSON *doc = make_twin(NULL, reported, NULL, desired, true);
	cJSON *doc2 = make_twin(wide, wide, NULL, wide2, true);
	CHECK_INT(stored_both_ways(doc), SAME);
	CHECK_INT(stored_both_ways(doc2), SAME);
	struct twin_buf val = {0}, out = {0};
	CHECK(twin_doc_store(doc, &val));
	struct twin_stored t = {ID, sizeof(ID) - 1, val.data, val.len, NULL};
	CHECK(twin_doc_render(&t, &out));
	twin_buf_put(&out, "", 1);
	cJSON *back = cJSON_Parse(out.data);
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(back, "delta")), 500);
	cJSON_Delete(back);
	twin_buf_free(&out);
	twin_buf_free(&val);
	cJSON_Delete(doc);
	cJSON_Delete(doc2);
	cJSON_Delete(reported);
	cJSON_Delete(desired);
	cJSON_Delete(wide);
	cJSON_Delete(wide2);
}

/* ---- random twins ---- */

static uint64_t rng = 88172645463325252ULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static cJSON *random_number(void)
{
	static const double picks[] = {0, -0.0, 1, -1, 0.5, 24.1, 21.33, 0.3, 0.30000000000000004,
			1.0000000000000002, 1e300, -1e-300, 5e-324, 1.7976931348623157e308, 9007199254740993.0,
			123456789012345678.0, 1e21, 1e22, 1e23, 3.141592653589793, 1234.5, -41.25e-3};
	double d;
	switch (rnd(3)) {
		case 0:
			d = picks[rnd(sizeof(picks) / sizeof(picks[0]))];
			break;
		case 1:
			d = (double)rnd(2001) - 1000 + (double)rnd(4) / 4;
			break;
		default: {
			uint64_t bits = (uint64_t)rnd(UINT32_MAX) << 32 | rnd(UINT32_MAX);
			memcpy(&d, &bits, sizeof(d));
			d = isfinite(d) ? d : 1.5;
		}
	}
	return cJSON_CreateNumber(d);
}

static cJSON *random_string(void)
{
	static const char *const bits[] = {"a", "Z", "\"", "\\", "\n", "\x01", "\x1f", "\x7f", "\xc3\xa9",
			"\xf0\x9f\x98\x80", " ", "/", "\t", "\b"};
	char s[64] = "";
	for (uint32_t i = 0, n = rnd(6); i < n; i++) {
		strcat(s, bits[rnd(sizeof(bits) / sizeof(bits[0]))]);
	}
	return cJSON_CreateString(s);
}

static cJSON *random_value(int depth);

static const char *random_key(void)
{
	static const char *const keys[] = {"a", "b", "c", "temp", "fan", "speed", "\xc3\xa9", "a\"b",
			"x\\y", "\x01", "", "mode", "list", "deep"};
	return keys[rnd(sizeof(keys) / sizeof(keys[0]))];
}

static cJSON *random_object(int depth)
{
	cJSON *o = cJSON_CreateObject();
	bool wide = rnd(12) == 0;
	char key[16];
	for (uint32_t i = 0, n = wide ? 17 + rnd(30) : rnd(5); i < n; i++) {
		const char *k = random_key();
		if (wide) {
			snprintf(key, sizeof(key), "k%u", rnd(60));
			k = key;
		}
		if (!cJSON_GetObjectItemCaseSensitive(o, k)) {
			cJSON_AddItemToObject(o, k, random_value(depth + 1));
		}
	}
	return o;
}

static cJSON *random_value(int depth)
{
	switch (depth > 4 ? rnd(5) : rnd(8)) {
		case 0:
		case 1:
			return random_number();
		case 2:
			return random_string();
		case 3:
			return rnd(2) ? cJSON_CreateBool(rnd(2)) : cJSON_CreateNull();
		case 4:
			return cJSON_CreateString("same");
		case 5: {
			cJSON *a = cJSON_CreateArray();
			for (uint32_t i = 0, n = rnd(4); i < n; i++) {
				cJSON_AddItemToArray(a, random_value(depth + 1));
			}
			return a;
		}
		default:
			return random_object(depth);
	}
}

/* A copy of v that cJSON_Compare calls equal (objects' members in the other order, numbers a step
 * away) or not quite (a number changed). */
static cJSON *near_copy(const cJSON *v)
{
	if (cJSON_IsNumber(v)) {
		uint32_t how = rnd(3);
		return cJSON_CreateNumber(how == 0 ? v->valuedouble
								  : how == 1 ? nextafter(v->valuedouble, INFINITY)
											 : v->valuedouble + 1);
	}
	if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) {
		return cJSON_Duplicate(v, 1);
	}
	cJSON *c = cJSON_IsObject(v) ? cJSON_CreateObject() : cJSON_CreateArray();
	bool reverse = cJSON_IsObject(v) && rnd(2);
	const cJSON *m;
	cJSON_ArrayForEach(m, v)
	{
		cJSON *copy = near_copy(m);
		if (!cJSON_IsObject(v)) {
			cJSON_AddItemToArray(c, copy);
		} else if (reverse) {
			cJSON_AddItemToObject(c, m->string, copy);
			cJSON_DetachItemViaPointer(c, copy);
			cJSON_InsertItemInArray(c, 0, copy);
		} else {
			cJSON_AddItemToObject(c, m->string, copy);
		}
	}
	return c;
}

/* desired: some of reported's members copied near, some random. */
static cJSON *random_desired(const cJSON *reported)
{
	cJSON *d = random_object(1);
	const cJSON *m;
	cJSON_ArrayForEach(m, reported)
	{
		if (rnd(3) && !cJSON_GetObjectItemCaseSensitive(d, m->string)) {
			cJSON_AddItemToObject(d, m->string, near_copy(m));
		}
	}
	return d;
}

TEST(render_should_match_loading_for_random_twins)
{
	int declined = 0;
	static const char *const defaults[] = {NULL, "dflt"};
	for (int i = 0; i < 3000; i++) {
		cJSON *a = random_object(1), *r = random_object(1), *r2 = random_object(1);
		cJSON *d = random_desired(r);
		if (rnd(3) == 0) {
			cJSON_AddItemToObject(a, "model", rnd(2) ? cJSON_CreateString("rack-th") : random_value(2));
		}
		cJSON *doc = make_twin(rnd(2) ? a : NULL, r, rnd(2) ? r2 : NULL, rnd(4) ? d : NULL, rnd(2));
		if (rnd(4) == 0) {
			cJSON *alarms = random_object(1);
			char *text = cJSON_PrintUnformatted(alarms);
			add_alarms(doc, rnd(4) ? text : NULL, 1 + rnd(5));
			cJSON_free(text);
			cJSON_Delete(alarms);
		}
		default_model = defaults[rnd(2)];
		enum outcome o = stored_both_ways(doc);
		default_model = NULL;
		declined += o == DECLINED;
		cJSON_Delete(doc);
		cJSON_Delete(a);
		cJSON_Delete(r);
		cJSON_Delete(r2);
		cJSON_Delete(d);
		if (o == DIFFERENT) {
			CHECK_FAIL("random twin %d differs", i);
		}
	}
	CHECK_INT(declined, 0); /* whatever the writer stores is rendered directly */
}

/* ---- values it must decline ---- */

/* A format 2 value with these section texts; reported's leaves at updated. */
static struct twin_buf hand_made(const char *attributes, const char *reported, size_t reported_leaves)
{
	struct twin_buf b = {0};
	char v[10];
	const char *texts[] = {attributes, reported, "{}"};
	twin_buf_put(&b, "\x02\x05\x01\x01\x00\x03\x00\x00", 8);
	for (int s = 0; s < 3; s++) {
		twin_buf_put(&b, v, twin_format_varint(v, strlen(texts[s])));
		twin_buf_put(&b, texts[s], strlen(texts[s]));
	}
	twin_buf_put(&b, v, twin_format_varint(v, reported_leaves));
	for (size_t i = 0; i < reported_leaves; i++) {
		twin_buf_put(&b, "\x00", 1);
	}
	twin_buf_put(&b, "\x00", 1);
	return b;
}

TEST(render_should_decline_what_the_writer_never_stores)
{
	static const char *const texts[] = {"{\"a\":1.0}", "{\"a\": 1}", "{\"a\":\"\\u0041\"}",
			"{\"a\":\"\\/\"}", "{\"a\":1e300}", "{\"a\":[1 ]}", " {\"a\":1}", "{\"a\":1,\"a\":2}",
			"{\"a\":\"\\u0000\"}", "[1]", "{\"a\":tru}", "{\"a\":1}x", ""};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct twin_buf a = hand_made(texts[i], "{}", 0), r = hand_made("{}", texts[i], 1);
		enum outcome oa = both_ways(a.data, a.len), or = both_ways(r.data, r.len);
		twin_buf_free(&a);
		twin_buf_free(&r);
		if (oa != DECLINED || or != DECLINED) {
			CHECK_FAIL("%s: attributes %d, reported %d", texts[i], oa, or);
		}
	}
	char deep[400] = "";
	for (int i = 0; i < 130; i++) {
		strcat(deep, "[");
	}
	for (int i = 0; i < 130; i++) {
		strcat(deep, "]");
	}
	char text[420];
	snprintf(text, sizeof(text), "{\"d\":%s}", deep);
	struct twin_buf b = hand_made(text, "{}", 0), ok = hand_made("{\"a\":[[1]]}", "{\"a\":1}", 1);
	CHECK_INT(both_ways(b.data, b.len), DECLINED); /* loads, but nests deeper than rendering reads */
	CHECK_INT(both_ways(ok.data, ok.len), SAME);
	twin_buf_free(&b);
	twin_buf_free(&ok);
	static const char v1[] = "\x01{\"id\":\"a\",\"version\":2,\"reported\":{\"x\":1}}";
	CHECK_INT(both_ways(v1, sizeof(v1) - 1), DECLINED); /* the older form */
}

/* Every truncation and every single-bit change of a stored twin: declined or rendered as loading writes
 * it (a value loading refuses is never rendered). */
TEST(render_should_refuse_damaged_values)
{
	cJSON *r = cJSON_Parse("{\"t\":24.1,\"door\":{\"open\":false,\"lock\":{}},\"l\":[1,{\"x\":\"y\"}]}");
	cJSON *d = cJSON_Parse("{\"t\":22,\"door\":{\"open\":true}}");
	cJSON *doc = make_twin(NULL, r, NULL, d, true);
	struct twin_buf b = {0};
	twin_doc_store(doc, &b);
	for (size_t n = 0; n <= b.len; n++) {
		if (both_ways(b.data, n) != (n == b.len ? SAME : DECLINED)) {
			CHECK_FAIL("cut at %zu of %zu", n, b.len);
		}
	}
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b.data[i] ^= (char)(1 << bit);
			enum outcome o = both_ways(b.data, b.len);
			b.data[i] ^= (char)(1 << bit);
			if (o == DIFFERENT) {
				CHECK_FAIL("byte %zu bit %d", i, bit);
			}
		}
	}
	twin_buf_free(&b);
	cJSON_Delete(doc);
	cJSON_Delete(r);
	cJSON_Delete(d);
}
