/* test_query.c - the filter language (parse errors with positions, every operator), sort order and
 * cursors. */
#include "check.h"
#include "query.h"

static const char *doc_json =
		"{\"id\":\"rack-12\",\"version\":42,\"attributes\":{\"site\":\"dc1\",\"row\":\"B\",\"pos\":12},"
		"\"reported\":{\"tempTop\":31.5,\"fan\":null,\"ok\":true,\"name\":\"Rack 12\"}}";

static int matches(const char *filter)
{
	struct twin_error err;
	cJSON *doc = cJSON_Parse(doc_json);
	struct twin_query *q = twin_query_parse(filter, &err);
	if (!q) {
		cJSON_Delete(doc);
		return -1;
	}
	int m = twin_query_match(q, doc);
	twin_query_free(q);
	cJSON_Delete(doc);
	return m;
}

TEST(query_should_evaluate_every_operator)
{
	CHECK_INT(matches("eq(attributes/site,\"dc1\")"), 1);
	CHECK_INT(matches("eq(attributes/site,\"dc2\")"), 0);
	CHECK_INT(matches("eq(attributes/pos,12)"), 1);
	CHECK_INT(matches("eq(attributes/pos,\"12\")"), 0); /* types differ */
	CHECK_INT(matches("ne(attributes/site,\"dc2\")"), 1);
	CHECK_INT(matches("ne(attributes/missing,1)"), 1);
	CHECK_INT(matches("gt(reported/tempTop,30)"), 1);
	CHECK_INT(matches("ge(reported/tempTop,31.5)"), 1);
	CHECK_INT(matches("lt(reported/tempTop,31.5)"), 0);
	CHECK_INT(matches("le(version,42)"), 1);
	CHECK_INT(matches("gt(attributes/row,\"A\")"), 1);
	CHECK_INT(matches("gt(attributes/site,5)"), 0);
	CHECK_INT(matches("in(attributes/row,\"A\",\"B\")"), 1);
	CHECK_INT(matches("in(attributes/row,\"A\",\"C\")"), 0);
	CHECK_INT(matches("like(reported/name,\"Rack*\")"), 1);
	CHECK_INT(matches("like(id,\"rack-?2\")"), 1);
	CHECK_INT(matches("like(id,\"rack-?\")"), 0);
	CHECK_INT(matches("exists(reported/fan)"), 1);
	CHECK_INT(matches("eq(reported/fan,null)"), 1);
	CHECK_INT(matches("eq(reported/ok,true)"), 1);
	CHECK_INT(matches("exists(reported/nope)"), 0);
	CHECK_INT(matches("and(eq(attributes/site,\"dc1\"),gt(reported/tempTop,30))"), 1);
	CHECK_INT(matches("and(eq(attributes/site,\"dc1\"),gt(reported/tempTop,40))"), 0);
	CHECK_INT(matches("or(eq(attributes/site,\"x\"), not(exists(reported/nope)))"), 1);
}

TEST(query_should_say_where_and_what_was_expected)
{
	static const char *cases[][2] = {
			{"eq(a,1", "expected ')' at position 6"},
			{"eq(a 1)", "expected ',' at position 5"},
			{"foo(a,1)", "expected an operator"},
			{"eq(,1)", "expected a path"},
			{"eq(a,)", "expected a value"},
			{"eq(a,\"x)", "closing '\"'"},
			{"eq(a,1) x", "expected the end of the filter at position 8"},
			{"like(a,1)", "like() takes a \"string\""},
			{"not(eq(a,1),eq(b,2))", "expected ')'"},
			{"", "expected an operator"},
			{"eq(a//b,1)", "expected a path"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct twin_error err = {.rc = TWIN_OK};
		struct twin_query *q = twin_query_parse(cases[i][0], &err);
		if (q || !strstr(err.msg, cases[i][1])) {
			CHECK_FAIL("'%s': got '%s', expected '%s'", cases[i][0], err.msg, cases[i][1]);
		}
	}
	char deep[400] = "";
	for (int i = 0; i < 40; i++) {
		strcat(deep, "not(");
	}
	strcat(deep, "exists(a)");
	for (int i = 0; i < 40; i++) {
		strcat(deep, ")");
	}
	struct twin_error err;
	CHECK(twin_query_parse(deep, &err) == NULL);
	CHECK_CONTAINS(err.msg, "nested deeper");
}

TEST(sort_should_order_by_keys_then_id_and_round_trip_cursors)
{
	struct twin_sort s;
	struct twin_error err;
	cJSON *spec = cJSON_Parse("[\"-reported/t\"]");
	CHECK_INT(twin_sort_parse(&s, spec, &err), TWIN_OK);
	cJSON *a = cJSON_Parse("{\"id\":\"a\",\"reported\":{\"t\":30}}");
	cJSON *b = cJSON_Parse("{\"id\":\"b\",\"reported\":{\"t\":35}}");
	cJSON *c = cJSON_Parse("{\"id\":\"c\",\"reported\":{\"t\":30}}");
	struct twin_sort_key ka, kb, kc, back;
	twin_sort_key_of(&s, a, &ka);
	twin_sort_key_of(&s, b, &kb);
	twin_sort_key_of(&s, c, &kc);
	CHECK(twin_sort_compare(&s, &kb, &ka) < 0); /* descending */
	CHECK(twin_sort_compare(&s, &ka, &kc) < 0); /* id breaks ties */
	char *cursor = twin_cursor_encode(&s, &ka);
	CHECK_INT(twin_cursor_decode(&s, cursor, &back, &err), TWIN_OK);
	CHECK_INT(twin_sort_compare(&s, &back, &ka), 0);
	twin_sort_key_free(&back);
	CHECK_INT(twin_cursor_decode(&s, "!!notacursor", &back, &err), TWIN_ERR_BAD_REQUEST);
	CHECK_CONTAINS(err.msg, "invalid 'cursor'");
	free(cursor);
	twin_sort_key_free(&ka);
	twin_sort_key_free(&kb);
	twin_sort_key_free(&kc);
	twin_sort_key_free(&back);
	twin_sort_free(&s);
	cJSON *bad = cJSON_Parse("[1]");
	CHECK_INT(twin_sort_parse(&s, bad, &err), TWIN_ERR_BAD_REQUEST);
	twin_sort_free(&s);
	cJSON_Delete(bad);
	cJSON_Delete(spec);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
}
