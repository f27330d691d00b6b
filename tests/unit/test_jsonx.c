/* test_jsonx.c - strict parsing, depth and integers. */
#include "check.h"
#include "jsonx.h"

static cJSON *parse(const char *s, struct twin_error *err)
{
	return twin_json_parse(s, strlen(s), err);
}

TEST(jsonx_should_reject_malformed_trailing_and_duplicates)
{
	struct twin_error err;
	CHECK(!parse("{\"a\":", &err));
	CHECK_CONTAINS(err.msg, "malformed JSON");
	CHECK(!parse("{\"a\":1} x", &err));
	CHECK_CONTAINS(err.msg, "unexpected data at byte 8");
	CHECK(!parse("{\"a\":1,\"b\":{\"c\":1,\"c\":2}}", &err));
	CHECK_CONTAINS(err.msg, "duplicate key 'c'");
	CHECK(!parse("", &err));
	CHECK(!parse("{\"q\":2e308}", &err)); /* found by fuzz_merge: infinity cannot be stored */
	CHECK_CONTAINS(err.msg, "out of range");
	cJSON *ok = parse("  {\"a\":[1,2]}\n", &err);
	CHECK(ok != NULL);
	cJSON_Delete(ok);
}

TEST(jsonx_should_find_duplicates_in_large_objects)
{
	char buf[4096] = "{";
	for (int i = 0; i < 100; i++) {
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "\"k%d\":%d,", i, i);
	}
	strcat(buf, "\"k57\":1}");
	struct twin_error err;
	CHECK(!parse(buf, &err));
	CHECK_CONTAINS(err.msg, "k57");
}

TEST(jsonx_should_measure_depth)
{
	CHECK(twin_json_depth_within("{\"a\":{\"b\":[1]}}", 15, 3));
	CHECK(!twin_json_depth_within("{\"a\":{\"b\":[1]}}", 15, 2));
	CHECK(twin_json_depth_within("{\"a\":\"{{{{[[[\"}", 15, 1)); /* brackets in strings */
}

TEST(jsonx_should_accept_only_exact_integers)
{
	int64_t v;
	cJSON *n = cJSON_CreateNumber(42);
	CHECK(twin_json_int64(n, &v) && v == 42);
	cJSON_SetNumberValue(n, 1.5);
	CHECK(!twin_json_int64(n, &v));
	cJSON_SetNumberValue(n, 1e300);
	CHECK(!twin_json_int64(n, &v));
	cJSON_Delete(n);
	cJSON *s = cJSON_CreateString("1");
	CHECK(!twin_json_int64(s, &v));
	cJSON_Delete(s);
}

TEST(jsonx_should_print_exact_compact_json)
{
	cJSON *j = cJSON_Parse("{\"ts\":1763884860456,\"neg\":-5,\"t\":24.1,\"tenth\":0.1,\"big\":1e300,"
						   "\"third\":0.3333333333333333,\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"arr\":[true,false,null,{}],"
						   "\"o\":{\"x\":[]}}");
	char *out = twin_json_print(j, NULL);
	CHECK_STR(out, "{\"ts\":1763884860456,\"neg\":-5,\"t\":24.1,\"tenth\":0.1,\"big\":1e+300,"
				   "\"third\":0.33333333333333331,\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"arr\":[true,false,null,{}],"
				   "\"o\":{\"x\":[]}}");
	cJSON *back = cJSON_Parse(out);
	CHECK(cJSON_Compare(j, back, 1));
	free(out);
	cJSON_Delete(back);
	cJSON_Delete(j);
}

TEST(jsonx_should_print_decimals_that_read_back_exactly)
{
	static const double values[] = {24.1, -0.5, 0.25, 1234.56, 21.33, 0.1, 0.3, 100.001, 1e-7, 3.14159265358979,
			-45.8, 512.7, 0.000001, 123456.789012, 2.5e-3};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		cJSON *n = cJSON_CreateNumber(values[i]);
		char *out = twin_json_print(n, NULL);
		if (strtod(out, NULL) != values[i] || strlen(out) > 20) {
			CHECK_FAIL("%.17g printed as %s", values[i], out);
		}
		free(out);
		cJSON_Delete(n);
	}
	cJSON *n = cJSON_CreateNumber(24.1);
	char *out = twin_json_print(n, NULL);
	CHECK_STR(out, "24.1");
	free(out);
	cJSON_SetNumberValue(n, -0.05);
	out = twin_json_print(n, NULL);
	CHECK_STR(out, "-0.05");
	free(out);
	cJSON_Delete(n);
}

TEST(jsonx_should_count_the_elements_of_an_array_without_parsing)
{
	static const struct {
		const char *text;
		size_t n;
	} cases[] = {
			{"[]", 1}, /* a message costs at least one reading */
			{" [ ] ", 1},
			{"[1]", 1},
			{"[{\"ts\":1,\"values\":{\"a\":[1,2]}},{\"b\":\",]\"}]", 2},
			{"\n[1, [2, 3], {\"x\": 4}]", 3},
			{"{\"a\":[1,2,3]}", 1},
			{"42", 1},
			{"", 1},
			{"[1,2", 2}, /* not JSON: a guess */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(twin_json_elements(cases[i].text, strlen(cases[i].text)), cases[i].n);
	}
}
