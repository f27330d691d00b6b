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

static int lookups;

static const cJSON *lookup(const void *ctx, const char *path)
{
	(void)ctx;
	lookups++;
	static cJSON num = {.type = cJSON_Number, .valuedouble = 33};
	return strcmp(path, "reported/t") ? NULL : &num;
}

TEST(query_should_evaluate_through_a_getter)
{
	struct twin_error err;
	struct twin_query *q = twin_query_parse("and(gt(reported/t,32),not(exists(reported/x)))", &err);
	lookups = 0;
	CHECK(twin_query_match_with(q, lookup, NULL));
	CHECK_INT(lookups, 2);
	twin_query_free(q);
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

static bool like_str(const char *s, const char *pat)
{
	return twin_like(s, strlen(s), pat, NULL);
}

TEST(like_should_match_tricky_patterns)
{
	CHECK(like_str("", ""));
	CHECK(like_str("", "*"));
	CHECK(like_str("", "**"));
	CHECK(!like_str("", "?"));
	CHECK(!like_str("a", ""));
	CHECK(like_str("rack-12", "rack-*"));
	CHECK(like_str("rack-12", "*-12"));
	CHECK(like_str("rack-12", "r?ck-??"));
	CHECK(!like_str("rack-12", "r?ck-?"));
	CHECK(like_str("abc", "a*b*c"));
	CHECK(like_str("abc", "*a*b*c*"));
	CHECK(!like_str("acb", "a*b*c"));
	CHECK(like_str("aXbYbZc", "a*b?c"));   /* the middle b is not the one: leftmost is not greedy */
	CHECK(like_str("mississippi", "*sip*"));
	CHECK(like_str("mississippi", "m*iss*ppi"));
	CHECK(!like_str("mississippi", "m*iss*ppix"));
	CHECK(like_str("aaa", "a*a"));          /* first and last segment may not overlap ... */
	CHECK(!like_str("a", "a*a"));           /* ... so one 'a' is too short */
	CHECK(!like_str("ab", "ab*ba"));
	CHECK(like_str("abba", "ab*ba"));
	CHECK(like_str("xabababcx", "*ababc*")); /* KMP must fall back inside a partial match */
	CHECK(like_str("aabaaab", "*aab"));
	CHECK(like_str("a*b", "a*b"));          /* '*' in the string is an ordinary character */
	CHECK(like_str("???", "???"));
	CHECK(!like_str("ab", "a?b"));
	CHECK(like_str("a?b", "a?b"));
}

TEST(like_should_stay_linear_on_pathological_patterns)
{
	enum { N = 1 << 20 };
	char *s = malloc(N + 1);
	char pat[TWIN_LIKE_MAX_PATTERN + 1];
	memset(s, 'a', N);
	s[N] = '\0';
	/* "*aaa...ab*": a backtracking matcher tries each start for ~255 characters: n x m steps */
	pat[0] = '*';
	memset(pat + 1, 'a', TWIN_LIKE_MAX_PATTERN - 3);
	pat[TWIN_LIKE_MAX_PATTERN - 2] = 'b';
	pat[TWIN_LIKE_MAX_PATTERN - 1] = '*';
	pat[TWIN_LIKE_MAX_PATTERN] = '\0';
	size_t steps = 0;
	CHECK(!twin_like(s, N, pat, &steps));
	CHECK(steps <= 4 * (size_t)N);
	/* many stars with a near miss at each: "*a*a*...*b" */
	for (int i = 0; i < TWIN_LIKE_MAX_PATTERN; i += 2) {
		pat[i] = '*';
		pat[i + 1] = 'a';
	}
	pat[TWIN_LIKE_MAX_PATTERN - 1] = 'b';
	steps = 0;
	CHECK(!twin_like(s, N, pat, &steps));
	CHECK(steps <= 4 * (size_t)N);
	s[N - 1] = 'b';
	steps = 0;
	CHECK(twin_like(s, N, pat, &steps));
	CHECK(steps <= 4 * (size_t)N);
	free(s);
}

TEST(query_should_refuse_an_over_long_like_pattern)
{
	struct twin_error err;
	char filter[TWIN_LIKE_MAX_PATTERN + 32];
	char pat[TWIN_LIKE_MAX_PATTERN + 2];
	memset(pat, 'x', sizeof(pat) - 1);
	pat[sizeof(pat) - 1] = '\0';
	snprintf(filter, sizeof(filter), "like(id,\"%s\")", pat);
	CHECK(twin_query_parse(filter, &err) == NULL);
	CHECK_CONTAINS(err.msg, "like() pattern is at most 256 bytes");
	pat[sizeof(pat) - 2] = '\0'; /* 256 bytes: accepted */
	snprintf(filter, sizeof(filter), "like(id,\"%s\")", pat);
	struct twin_query *q = twin_query_parse(filter, &err);
	CHECK(q != NULL);
	twin_query_free(q);
}

/* A cursor naming this id, as a client could make one by hand. */
static char *cursor_of(const char *id)
{
	struct twin_sort s = {0};
	struct twin_sort_key k = {.id = (char *)id};
	return twin_cursor_encode(&s, &k);
}

TEST(cursor_should_refuse_an_empty_or_over_long_id)
{
	struct twin_sort s = {0};
	struct twin_sort_key k;
	struct twin_error err;
	char id[TWIN_MAX_ID_LEN + 2];
	char *c = cursor_of("");
	CHECK_INT(twin_cursor_decode(&s, c, &k, &err), TWIN_ERR_BAD_REQUEST);
	CHECK_CONTAINS(err.msg, "empty or longer than 256 bytes");
	free(c);
	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	c = cursor_of(id);
	CHECK_INT(twin_cursor_decode(&s, c, &k, &err), TWIN_ERR_BAD_REQUEST);
	CHECK_CONTAINS(err.msg, "empty or longer than 256 bytes");
	free(c);
	id[sizeof(id) - 2] = '\0'; /* 256 bytes: a valid id */
	c = cursor_of(id);
	CHECK_INT(twin_cursor_decode(&s, c, &k, &err), TWIN_OK);
	twin_sort_key_free(&k);
	free(c);
}
