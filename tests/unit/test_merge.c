/* test_merge.c - RFC 7396 merge patch: the RFC's Appendix A vectors, metadata timestamps, change tracking. */
#include "check.h"
#include "merge.h"

static char *merged(const char *target, const char *patch, int *changes)
{
	cJSON *t = cJSON_Parse(target), *p = cJSON_Parse(patch);
	*changes = twin_merge_apply(t, p, NULL, 0, NULL);
	char *out = cJSON_PrintUnformatted(t);
	cJSON_Delete(t);
	cJSON_Delete(p);
	return out;
}

/* Appendix A, each case wrapped as {"k": target} + {"k": patch} because twin sections are objects. */
TEST(merge_should_pass_rfc7396_appendix_a)
{
	static const char *cases[][3] = {
			{"{\"k\":{\"a\":\"b\"}}", "{\"k\":{\"a\":\"c\"}}", "{\"k\":{\"a\":\"c\"}}"},
			{"{\"k\":{\"a\":\"b\"}}", "{\"k\":{\"b\":\"c\"}}", "{\"k\":{\"a\":\"b\",\"b\":\"c\"}}"},
			{"{\"k\":{\"a\":\"b\"}}", "{\"k\":{\"a\":null}}", "{\"k\":{}}"},
			{"{\"k\":{\"a\":\"b\",\"b\":\"c\"}}", "{\"k\":{\"a\":null}}", "{\"k\":{\"b\":\"c\"}}"},
			{"{\"k\":{\"a\":[\"b\"]}}", "{\"k\":{\"a\":\"c\"}}", "{\"k\":{\"a\":\"c\"}}"},
			{"{\"k\":{\"a\":\"c\"}}", "{\"k\":{\"a\":[\"b\"]}}", "{\"k\":{\"a\":[\"b\"]}}"},
			{"{\"k\":{\"a\":{\"b\":\"c\"}}}", "{\"k\":{\"a\":{\"b\":\"d\",\"c\":null}}}",
					"{\"k\":{\"a\":{\"b\":\"d\"}}}"},
			{"{\"k\":{\"a\":[{\"b\":\"c\"}]}}", "{\"k\":{\"a\":[1]}}", "{\"k\":{\"a\":[1]}}"},
			{"{\"k\":[\"a\",\"b\"]}", "{\"k\":[\"c\",\"d\"]}", "{\"k\":[\"c\",\"d\"]}"},
			{"{\"k\":{\"a\":\"b\"}}", "{\"k\":[\"c\"]}", "{\"k\":[\"c\"]}"},
			{"{\"k\":{\"a\":\"foo\"}}", "{\"k\":null}", "{}"},
			{"{\"k\":{\"a\":\"foo\"}}", "{\"k\":\"bar\"}", "{\"k\":\"bar\"}"},
			{"{\"k\":{\"e\":null}}", "{\"k\":{\"a\":1}}", "{\"k\":{\"e\":null,\"a\":1}}"},
			{"{\"k\":[1,2]}", "{\"k\":{\"a\":\"b\",\"c\":null}}", "{\"k\":{\"a\":\"b\"}}"},
			{"{\"k\":{}}", "{\"k\":{\"a\":{\"bb\":{\"ccc\":null}}}}", "{\"k\":{\"a\":{\"bb\":{}}}}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n;
		char *out = merged(cases[i][0], cases[i][1], &n);
		if (strcmp(out, cases[i][2])) {
			CHECK_FAIL("case %zu: got %s, expected %s", i + 1, out, cases[i][2]);
		}
		CHECK(n > 0);
		free(out);
	}
}

TEST(merge_should_count_no_change_for_equal_values)
{
	int n;
	char *out = merged("{\"a\":1,\"b\":{\"c\":[1,2]}}", "{\"a\":1,\"b\":{\"c\":[1,2]},\"z\":null}", &n);
	CHECK_INT(n, 0);
	CHECK_STR(out, "{\"a\":1,\"b\":{\"c\":[1,2]}}");
	free(out);
}

TEST(merge_should_stamp_changed_leaves_only)
{
	cJSON *t = cJSON_Parse("{\"a\":1,\"b\":2}");
	cJSON *meta = cJSON_Parse("{\"a\":{\"ts\":10},\"b\":{\"ts\":10}}");
	cJSON *p = cJSON_Parse("{\"a\":1,\"b\":3,\"c\":{\"d\":4}}");
	cJSON *changed = cJSON_CreateObject();
	CHECK_INT(twin_merge_apply(t, p, meta, 20, changed), 2);
	char *m = cJSON_PrintUnformatted(meta), *c = cJSON_PrintUnformatted(changed);
	CHECK_STR(m, "{\"a\":{\"ts\":10},\"b\":{\"ts\":20},\"c\":{\"d\":{\"ts\":20}}}");
	CHECK_STR(c, "{\"b\":3,\"c\":{\"d\":4}}");
	free(m);
	free(c);
	cJSON *rm = cJSON_Parse("{\"c\":null}");
	CHECK_INT(twin_merge_apply(t, rm, meta, 30, NULL), 1);
	CHECK(!cJSON_GetObjectItem(meta, "c"));
	cJSON_Delete(rm);
	cJSON_Delete(t);
	cJSON_Delete(meta);
	cJSON_Delete(p);
	cJSON_Delete(changed);
}
