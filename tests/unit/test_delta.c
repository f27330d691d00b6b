/* test_delta.c - desired vs reported. */
#include "check.h"
#include "delta.h"

static char *delta_of(const char *desired, const char *reported)
{
	cJSON *d = cJSON_Parse(desired), *r = reported ? cJSON_Parse(reported) : NULL;
	cJSON *delta = twin_delta_compute(d, r);
	char *out = cJSON_PrintUnformatted(delta);
	cJSON_Delete(d);
	cJSON_Delete(r);
	cJSON_Delete(delta);
	return out;
}

TEST(delta_should_hold_differing_and_absent_leaves)
{
	char *out = delta_of("{\"fan\":3,\"led\":\"on\",\"mode\":{\"a\":1,\"b\":2},\"list\":[1]}",
			"{\"fan\":3,\"led\":\"off\",\"mode\":{\"a\":1},\"list\":[1]}");
	CHECK_STR(out, "{\"led\":\"on\",\"mode\":{\"b\":2}}");
	free(out);
}

TEST(delta_should_be_empty_when_reported_matches)
{
	char *out = delta_of("{\"fan\":3,\"m\":{\"x\":true}}", "{\"fan\":3,\"m\":{\"x\":true},\"t\":1}");
	CHECK_STR(out, "{}");
	free(out);
	out = delta_of("{\"fan\":3}", NULL);
	CHECK_STR(out, "{\"fan\":3}");
	free(out);
}

TEST(delta_should_treat_a_reported_leaf_under_a_desired_object_as_different)
{
	char *out = delta_of("{\"m\":{\"x\":1}}", "{\"m\":5}");
	CHECK_STR(out, "{\"m\":{\"x\":1}}");
	free(out);
}
