/* test_fastmerge.c - the telemetry fast path: which payloads and stored twins it takes, and that whatever
 * it answers is byte for byte what the slow path (fastmerge_slow.h) writes. */
#include <math.h>
#include <string.h>

#include "../fuzz/fastmerge_slow.h"
#include "check.h"

#define T0 1763884800000LL

/* A stored twin built by the slow path: attributes, then reported patches at T0 + i, then desired. */
static struct twin_buf stored(const char *attributes, const char *const *reported, size_t n,
		const char *desired)
{
	cJSON *doc = twin_doc_create("dev-1", 5, 0, T0);
	struct twin_buf b = {0};
	const char *parts[] = {attributes, desired};
	for (int s = 0; s < 2; s++) {
		cJSON *p = parts[s] ? cJSON_Parse(parts[s]) : NULL;
		if (p && twin_doc_patch(doc, s ? TWIN_SEC_DESIRED : TWIN_SEC_ATTRIBUTES, p, T0, NULL) > 0) {
			twin_doc_bump(doc, 1u << (s ? TWIN_SEC_DESIRED : TWIN_SEC_ATTRIBUTES), T0);
		}
		cJSON_Delete(p);
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *p = cJSON_Parse(reported[i]);
		if (twin_doc_patch(doc, TWIN_SEC_REPORTED, p, T0 + (int64_t)i, NULL) > 0) {
			twin_doc_bump(doc, 1u << TWIN_SEC_REPORTED, T0 + (int64_t)i);
		}
		cJSON_Delete(p);
	}
	twin_doc_seen(doc, T0 + 100);
	twin_doc_store(doc, &b);
	cJSON_Delete(doc);
	return b;
}

static struct fm_case make_case(const struct twin_buf *old, const char *const *payloads, size_t n)
{
	struct fm_case c = {old ? old->data : NULL, old ? old->len : 0, 7, {NULL}, {0}, {0}, n, T0 + 5000};
	for (size_t i = 0; i < n; i++) {
		c.payload[i] = payloads[i];
		c.len[i] = strlen(payloads[i]);
		c.ts[i] = T0 + 1000 * (int64_t)(i + 1);
	}
	return c;
}

/* Runs both paths; the fast rc, or -100 when they disagree. changed_out (if given) gets the changes. */
static int run(const struct fm_case *c, char *changed_out, size_t changed_cap)
{
	struct fm_result fast = {0}, slow = {0};
	fm_fast(c, &fast);
	fm_slow(c, &slow);
	int rc = fm_agree(&fast, &slow) ? fast.rc : -100;
	if (rc == -100) {
		fprintf(stderr, "  fast rc %d changed %.*s; slow rc %d changed %.*s\n", fast.rc,
				(int)fast.changed.len, fast.changed.data, slow.rc, (int)slow.changed.len, slow.changed.data);
	}
	if (changed_out && fast.rc >= 0) {
		snprintf(changed_out, changed_cap, "%.*s", (int)fast.changed.len, fast.changed.data);
	}
	fm_result_free(&fast);
	fm_result_free(&slow);
	return rc;
}

static bool scans(const char *payload)
{
	struct twin_fast_member m[TWIN_FAST_MAX_MEMBERS];
	struct twin_fast_reading r = {m, 0, TWIN_FAST_MAX_MEMBERS, 0};
	return twin_fast_scan(payload, strlen(payload), &r);
}

TEST(fastmerge_should_take_flat_objects_of_scalars)
{
	static const char *const yes[] = {"{\"a\":1}", " {\n\"a\" : 1 ,\t\"b\":\"x y\" }\r\n", "{}",
			"{\"t\":true,\"f\":false,\"n\":-0.5e-3,\"z\":-0,\"e\":1E+5,\"s\":\"\"}", "{\"\":1}",
			"{\"seq\":12,\"tempTop\":24.1,\"tempBottom\":21.3,\"humidityTop\":41,\"humidityBottom\":45}",
			"{\"big\":9007199254740992,\"tiny\":0.0000000000000001}"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!scans(yes[i])) {
			CHECK_FAIL("refused %s", yes[i]);
		}
	}
}

TEST(fastmerge_should_refuse_anything_else)
{
	static const char *const no[] = {"", " ", "[]", "[{\"a\":1}]", "1", "{\"a\":null}", "{\"a\":{}}",
			"{\"a\":{\"b\":1}}", "{\"a\":[1]}", "{\"a\":\"\\n\"}", "{\"a\\u0041\":1}", "{\"a\":1,\"a\":2}",
			"{\"ts\":1}", "{\"values\":{}}", "{\"ts\":1763884800000,\"values\":{\"a\":1}}", "{\"a\":01}",
			"{\"a\":-01}", "{\"a\":1e400}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":1}x",
			"{\"a\":1}{}", "{\"a\":1,}", "{,}", "{\"a\":\"\xc3\xa9\"}", "{\"a\":\"\x7f\"}",
			"{\"a\":12345678901234567}", "{\"a\":1e23}", "{\"a\":NaN}", "{\"a\":tru}", "{\"a\":true1}",
			"\xef\xbb\xbf{\"a\":1}", "{\"a\":1}\v", "{\"a\" 1}", "{\"a\":1", "{\"a\":\"x}", "{a:1}",
			"{\"a\":1.5e}", "{\"a\":1e1000}", "{\"a\":-}"};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		if (scans(no[i])) {
			CHECK_FAIL("took %s", no[i]);
		}
	}
	/* more members than TWIN_FAST_MAX_MEMBERS, or than the caller's array */
	char big[2048] = "{";
	for (int i = 0; i <= TWIN_FAST_MAX_MEMBERS; i++) {
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "%s\"k%d\":%d", i ? "," : "", i, i);
	}
	strcat(big, "}");
	CHECK(!scans(big));
	struct twin_fast_member m[2];
	struct twin_fast_reading r = {m, 0, 2, 0};
	CHECK(!twin_fast_scan("{\"a\":1,\"b\":2,\"c\":3}", 19, &r));
	CHECK(twin_fast_scan("{\"a\":1,\"b\":2}", 13, &r) && r.n == 2);
}

TEST(fastmerge_should_read_numbers_as_cjson_does)
{
	static const char *const nums[] = {"24.1", "-0.5e-3", "1E+5", "0.1", "123456789012345.6",
			"9007199254740992", "4.35", "1234.5678", "0.000001", "7e22", "7e-22"};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		char payload[64];
		snprintf(payload, sizeof(payload), "{\"x\":%s}", nums[i]);
		struct twin_fast_member m[1];
		struct twin_fast_reading r = {m, 0, 1, 0};
		cJSON *j = cJSON_Parse(payload);
		CHECK(twin_fast_scan(payload, strlen(payload), &r) && r.n == 1);
		CHECK(m[0].num == cJSON_GetObjectItem(j, "x")->valuedouble);
		CHECK(signbit(m[0].num) == signbit(cJSON_GetObjectItem(j, "x")->valuedouble));
		cJSON_Delete(j);
	}
}

TEST(fastmerge_should_create_a_new_twin)
{
	const char *p[] = {"{\"seq\":1,\"tempTop\":24.1,\"ok\":true,\"status\":\"fine\"}"};
	struct fm_case c = make_case(NULL, p, 1);
	char changed[256];
	CHECK_INT(run(&c, changed, sizeof(changed)), 4);
	CHECK_STR(changed, "{\"seq\":1,\"tempTop\":24.1,\"ok\":true,\"status\":\"fine\"}");
	const char *empty[] = {"{}"};
	c = make_case(NULL, empty, 1);
	CHECK_INT(run(&c, changed, sizeof(changed)), 0); /* created, with nothing in it */
	CHECK_STR(changed, "{}");
	struct fm_result r = {0};
	CHECK_INT(fm_fast(&c, &r), 0);
	CHECK_INT(r.version, 8);
	fm_result_free(&r);
}

TEST(fastmerge_should_only_move_last_seen_when_nothing_changed)
{
	const char *init[] = {"{\"seq\":1,\"tempTop\":24.1,\"s\":\"a\",\"on\":false}"};
	struct twin_buf old = stored(NULL, init, 1, NULL);
	const char *p[] = {"{\"tempTop\":24.10,\"seq\":1.0,\"on\":false,\"s\":\"a\"}"};
	struct fm_case c = make_case(&old, p, 1);
	char changed[256];
	CHECK_INT(run(&c, changed, sizeof(changed)), 0);
	CHECK_STR(changed, "{}");
	struct fm_result r = {0};
	CHECK_INT(fm_fast(&c, &r), 0);
	CHECK_INT(r.version, 1);
	cJSON *doc = twin_doc_load("d", 1, r.out.data, r.out.len);
	CHECK(doc);
	CHECK_INT(cJSON_GetObjectItem(doc, "lastSeen")->valuedouble, T0 + 5000);
	CHECK_INT(cJSON_GetObjectItem(doc, "updated")->valuedouble, T0);
	cJSON_Delete(doc);
	fm_result_free(&r);
	twin_buf_free(&old);
}

/* One reading on a twin stored from init[0..n): both paths agree, on rc changed leaves, want as the change. */
static bool one_reading(const char *attributes, const char *const *init, size_t n, const char *payload,
		int rc, const char *want)
{
	struct twin_buf old = stored(attributes, init, n, NULL);
	const char *p[] = {payload};
	struct fm_case c = make_case(&old, p, 1);
	char changed[256] = "";
	bool ok = run(&c, changed, sizeof(changed)) == rc && strcmp(changed, want) == 0;
	twin_buf_free(&old);
	return ok;
}

TEST(fastmerge_should_keep_nested_members_and_their_timestamps)
{
	const char *init[] = {"{\"door\":{\"open\":false,\"lock\":{\"state\":\"ok\\n\\u0001\"},\"e\":{}},"
						  "\"fans\":[1,{\"x\":null}],\"t\":1}",
			"{\"door\":{\"open\":true},\"t\":2,\"n\":null}"};
	CHECK(one_reading("{\"site\":\"dc1\",\"row\":{\"n\":4}}", init, 2, "{\"t\":3,\"new\":\"x\"}", 2,
			"{\"t\":3,\"new\":\"x\"}"));
}

TEST(fastmerge_should_replace_a_nested_object_by_a_scalar)
{
	const char *init[] = {"{\"a\":1,\"door\":{\"open\":false,\"lock\":{\"x\":1,\"y\":[2]}},\"b\":2}"};
	CHECK(one_reading(NULL, init, 1, "{\"door\":\"gone\"}", 1, "{\"door\":\"gone\"}"));
	CHECK(one_reading(NULL, init, 1, "{\"door\":false,\"a\":1,\"c\":0}", 2, "{\"door\":false,\"c\":0}"));
}

TEST(fastmerge_should_compare_numbers_as_cjson_does)
{
	const char *init[] = {"{\"a\":9007199254740992,\"b\":0,\"c\":100.5}"};
	struct twin_buf old = stored(NULL, init, 1, NULL);
	/* 2^53 - 1 and -0 are equal to 2^53 and 0 within cJSON_Compare's epsilon: no change */
	const char *p[] = {"{\"a\":9007199254740991,\"b\":-0,\"c\":100.50}"};
	struct fm_case c = make_case(&old, p, 1);
	CHECK_INT(run(&c, NULL, 0), 0);
	const char *q[] = {"{\"a\":9007199254740988}"};
	c = make_case(&old, q, 1);
	CHECK_INT(run(&c, NULL, 0), 1);
	twin_buf_free(&old);
}

TEST(fastmerge_should_coalesce_readings_into_one_version)
{
	const char *init[] = {"{\"a\":1,\"b\":2}"};
	struct twin_buf old = stored(NULL, init, 1, NULL);
	/* a changes twice (first position, last value), b back and forth, c new, the last reading no-op */
	const char *p[] = {"{\"a\":5,\"b\":3}", "{\"c\":true,\"a\":6}", "{\"b\":2}", "{\"a\":6,\"c\":true}"};
	struct fm_case c = make_case(&old, p, 4);
	char changed[256];
	CHECK_INT(run(&c, changed, sizeof(changed)), 3);
	CHECK_STR(changed, "{\"a\":6,\"b\":2,\"c\":true}");
	struct fm_result r = {0};
	CHECK_INT(fm_fast(&c, &r), 3);
	CHECK_INT(r.version, 2); /* one version for all four */
	cJSON *doc = twin_doc_load("d", 1, r.out.data, r.out.len);
	CHECK(doc);
	CHECK_INT(cJSON_GetObjectItem(doc, "updated")->valuedouble, T0 + 3000); /* the last change */
	cJSON *meta = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "metadata"), "reported");
	CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "a"), "ts")->valuedouble, T0 + 2000);
	CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "b"), "ts")->valuedouble, T0 + 3000);
	cJSON_Delete(doc);
	fm_result_free(&r);
	twin_buf_free(&old);
}

/* A format 2 value from its parts (varints as given, texts verbatim). */
static struct twin_buf hand_made(const uint64_t head[6], const char *attributes, const char *reported,
		const char *desired, const uint64_t *leaves, size_t n_leaves)
{
	struct twin_buf b = {0};
	char v[10];
	const char *texts[] = {attributes, reported, desired};
	twin_buf_put(&b, "\x02", 1);
	for (int i = 0; i < 6; i++) {
		twin_buf_put(&b, v, twin_format_varint(v, head[i]));
	}
	twin_buf_put(&b, "\x00", 1);
	for (int s = 0; s < 3; s++) {
		twin_buf_put(&b, v, twin_format_varint(v, strlen(texts[s])));
		twin_buf_put(&b, texts[s], strlen(texts[s]));
	}
	twin_buf_put(&b, v, twin_format_varint(v, n_leaves));
	for (size_t i = 0; i < n_leaves; i++) {
		twin_buf_put(&b, v, twin_format_varint(v, leaves[i]));
	}
	twin_buf_put(&b, "\x00", 1);
	return b;
}

TEST(fastmerge_should_decline_twins_it_cannot_vouch_for)
{
	static const uint64_t head[6] = {3, T0, T0, 0, 3, 0}, top[6] = {1ull << 53, T0, T0, 0, 1, 0};
	static const uint64_t leaves[] = {0, 2, 4};
	static const char *const reported[] = {
			"{\"a\":1,\"b\":2,\"c\":3}",                   /* canonical: taken */
			"{\"a\":1e+300,\"b\":2,\"c\":3}",              /* canonical, read by strtod: taken */
			"{\"a\":0.30000000000000004,\"b\":2,\"c\":3}", /* the same */
			"{\"a\":1.0,\"b\":2,\"c\":3}",                 /* a number not as stored */
			"{\"a\":1e300,\"b\":2,\"c\":3}",               /* the writer prints 1e+300 */
			"{\"a\":1, \"b\":2,\"c\":3}",                  /* whitespace */
			"{\"a\":1,\"a\":2,\"c\":3}",                   /* duplicate key */
			"{\"a\":\"\\/\",\"b\":2,\"c\":3}",             /* an escape the writer never makes */
			"{\"a\":\"\\u0041\",\"b\":2,\"c\":3}", "{\"a\":1,\"b\":2,\"c\":3} ",
			"{\"a\":[1 ],\"b\":2,\"c\":3}", "{\"a\":1,\"b\":2}"};
	const char *p[] = {"{\"b\":5}"};
	for (size_t i = 0; i < sizeof(reported) / sizeof(reported[0]); i++) {
		struct twin_buf old = hand_made(head, "{}", reported[i], "{}", leaves, 3);
		struct fm_case c = make_case(&old, p, 1);
		int rc = run(&c, NULL, 0);
		if (rc != (i < 3 ? 1 : -1)) {
			twin_buf_free(&old);
			CHECK_FAIL("reported %s: rc %d", reported[i], rc);
		}
		twin_buf_free(&old);
	}
	struct twin_buf old = hand_made(head, "{\"x\":1,\"x\":2}", reported[0], "{}", leaves, 3);
	struct fm_case c = make_case(&old, p, 1);
	CHECK_INT(run(&c, NULL, 0), -1); /* attributes with a duplicate key */
	twin_buf_free(&old);
	old = hand_made(head, "{}", reported[0], "{\"a\":2}", leaves, 3);
	c = make_case(&old, p, 1);
	CHECK_INT(run(&c, NULL, 0), -1); /* desired not empty: the delta is the slow path's */
	twin_buf_free(&old);
	old = hand_made(top, "{}", reported[0], "{}", leaves, 3);
	c = make_case(&old, p, 1);
	CHECK_INT(run(&c, NULL, 0), -1); /* version 2^53: one more is not exact */
	old.len--;
	c = make_case(&old, p, 1);
	CHECK_INT(run(&c, NULL, 0), -1); /* cut short */
	old.data[0] = 1;
	old.len++;
	c = make_case(&old, p, 1);
	CHECK_INT(run(&c, NULL, 0), -1); /* format 1 */
	twin_buf_free(&old);
	const char *init[] = {"{\"a\":1}"};
	old = stored(NULL, init, 1, "{\"fan\":1}");
	c = make_case(&old, p, 1);
	CHECK_INT(run(&c, NULL, 0), -1);
	twin_buf_free(&old);
}

/* A stored twin with an alarms section (alarms: its JSON text) at versions.alarms 4. */
static struct twin_buf with_alarms(const char *alarms)
{
	const char *init[] = {"{\"t\":20,\"h\":40}"};
	struct twin_buf b = stored("{\"model\":\"rack\"}", init, 1, NULL);
	cJSON *doc = twin_doc_load("dev-1", 5, b.data, b.len);
	cJSON_AddItemToObject(doc, "alarms", cJSON_Parse(alarms));
	twin_json_set_int64(cJSON_GetObjectItem(doc, "versions"), "alarms", 4);
	twin_doc_store(doc, &b);
	cJSON_Delete(doc);
	return b;
}

TEST(fastmerge_should_keep_an_empty_alarms_section_and_decline_alarms)
{
	const char *p[] = {"{\"t\":21}", "{\"h\":41}"};
	struct twin_buf old = with_alarms("{}");
	struct fm_case c = make_case(&old, p, 2);
	CHECK_INT(run(&c, NULL, 0), 2); /* equal to the slow path, which keeps the alarms part */
	twin_buf_free(&old);
	old = with_alarms("{\"hot\":{\"severity\":\"critical\",\"active\":true,\"acked\":false,\"since\":1}}");
	c = make_case(&old, p, 1);
	CHECK_INT(run(&c, NULL, 0), -1); /* an alarm: its rules need the whole twin */
	twin_buf_free(&old);
}

TEST(fastmerge_should_reencode_long_varints)
{
	/* a stored varint may take more bytes than needed (it loads); what is stored back is minimal */
	struct twin_buf b = {0};
	static const char value[] = "\x02\x83\x80\x00\x01\x01\x00\x81\x00\x00\x00"
								"\x02{}\x07{\"a\":1}\x02{}\x01\x80\x00\x00";
	twin_buf_put(&b, value, sizeof(value) - 1);
	const char *p[] = {"{\"b\":2}"};
	struct fm_case c = make_case(&b, p, 1);
	CHECK_INT(run(&c, NULL, 0), 1);
	twin_buf_free(&b);
}

/* The differential table: stored twins x readings, every answer compared byte for byte. */
TEST(fastmerge_should_equal_the_slow_path_on_a_table_of_cases)
{
	static const char *const twins[][3] = {
			{NULL, NULL, NULL},
			{"{\"seq\":1,\"tempTop\":24.1,\"tempBottom\":21.3,\"humidityTop\":41,\"humidityBottom\":45}", NULL,
					NULL},
			{"{\"x\":{\"y\":{\"z\":1}},\"arr\":[{\"a\":1},2,\"s\"],\"s\":\"\\\"q\\\\ \\t\\u001f\"}",
					"{\"x\":{\"y\":2,\"w\":{}},\"e\":{}}", "{\"site\":\"r\",\"n\":[]}"},
			{"{\"n\":-0.001234,\"m\":52.5200066,\"big\":123456789012345,\"neg\":-7,\"f\":0.1}",
					"{\"g\":3.14159265,\"h\":1e-7}", NULL},
			{"{\"seq\":1}", "{\"seq\":2,\"tempTop\":20}", "{\"\":\"empty key\"}"},
	};
	static const char *const readings[][4] = {
			{"{\"seq\":12,\"tempTop\":24.1,\"tempBottom\":21.3,\"humidityTop\":41,\"humidityBottom\":45}"},
			{"{\"seq\":2}", "{\"seq\":3}", "{\"seq\":2}"},
			{"{\"x\":1}", "{\"arr\":true,\"s\":\"plain\"}"},
			{"{\"n\":-0.001234,\"m\":52.5200066,\"big\":123456789012345}", "{}"},
			{"{}"},
			{"{\"g\":3.141592653589793,\"h\":1e-7,\"e\":false}", "{\"e\":true}", "{\"e\":false}"},
			{"{\"new1\":1.5,\"new2\":-2.25e2}", "{\"new2\":-225}", "{\"new1\":\"1.5\"}"},
			{"{\"\":0,\"seq\":1e0}"},
	};
	int taken = 0, total = 0;
	for (size_t t = 0; t < sizeof(twins) / sizeof(twins[0]); t++) {
		struct twin_buf old = {0};
		size_t n_init = twins[t][0] ? (twins[t][1] ? 2 : 1) : 0;
		if (n_init) {
			old = stored(twins[t][2], twins[t], n_init, NULL);
		}
		for (size_t r = 0; r < sizeof(readings) / sizeof(readings[0]); r++) {
			size_t n = 0;
			while (n < 4 && readings[r][n]) {
				n++;
			}
			struct fm_case c = make_case(n_init ? &old : NULL, readings[r], n);
			int rc = run(&c, NULL, 0);
			if (rc == -100) {
				twin_buf_free(&old);
				CHECK_FAIL("twin %zu, readings %zu: fast and slow differ", t, r);
			}
			if (rc < 0) {
				fprintf(stderr, "  twin %zu, readings %zu: not taken (%d)\n", t, r, rc);
			}
			taken += rc >= 0;
			total++;
		}
		twin_buf_free(&old);
	}
	CHECK_INT(taken, total); /* every one of these is the fast path's */
}

/* Random short decimals stored by the slow path: taken, and patched, identically. */
TEST(fastmerge_should_equal_the_slow_path_on_random_numbers)
{
	unsigned seed = 12345;
	int taken = 0;
	for (int i = 0; i < 3000; i++) {
		seed = seed * 1103515245u + 12345u;
		double m = (double)(seed >> 8) - 8388608.0;
		int k = (int)(seed % 9);
		static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
		char init[96], patch[96];
		snprintf(init, sizeof(init), "{\"v\":%.17g,\"w\":%.17g}", m / p10[k], m * 1001);
		snprintf(patch, sizeof(patch), "{\"v\":%.*f,\"w\":%.17g}", k, (m + 1) / p10[k], m * 1001);
		const char *init_p[] = {init}, *patch_p[] = {patch};
		struct twin_buf old = stored(NULL, init_p, 1, NULL);
		struct fm_case c = make_case(&old, patch_p, 1);
		int rc = run(&c, NULL, 0);
		twin_buf_free(&old);
		if (rc == -100) {
			CHECK_FAIL("differ on %s then %s", init, patch);
		}
		taken += rc >= 0;
	}
	CHECK(taken > 2000);
}
