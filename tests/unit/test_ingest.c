/* test_ingest.c - readings with device timestamps (ThingsBoard style), sub-path values and their limits. */
#include "check.h"
#include "ingest.h"
#include "jsonx.h"

#define NOW 1763884860000LL

static cJSON *parse(const char *json)
{
	struct twin_error err;
	return twin_json_parse(json, strlen(json), &err);
}

static char *print(const cJSON *v)
{
	size_t len;
	return twin_json_print(v, &len);
}

/* The readings of json as "ts:patch;ts:patch;" (arrival NOW), or "error: <message>". */
static char *readings(const char *json, int depth_limit)
{
	static char out[1024];
	struct twin_readings rs = {0};
	struct twin_error err;
	cJSON *v = parse(json);
	out[0] = '\0';
	if (twin_ingest_readings(v, NOW, depth_limit, &rs, &err) != TWIN_OK) {
		snprintf(out, sizeof(out), "error: %s", err.msg);
	}
	for (size_t i = 0; i < rs.n; i++) {
		char *p = print(rs.r[i].patch);
		size_t used = strlen(out);
		snprintf(out + used, sizeof(out) - used, "%lld:%s;", (long long)(rs.r[i].ts - NOW), p);
		free(p);
	}
	twin_readings_free(&rs);
	cJSON_Delete(v);
	return out;
}

TEST(ingest_should_take_a_plain_object_as_one_reading_at_arrival)
{
	CHECK_STR(readings("{\"temp\":21.5,\"ts\":5}", -1), "0:{\"temp\":21.5,\"ts\":5};");
	CHECK_STR(readings("{}", -1), "0:{};");
	/* an object with ts and values and anything else is a plain patch too */
	CHECK_STR(readings("{\"ts\":1,\"values\":{},\"x\":1}", -1), "0:{\"ts\":1,\"values\":{},\"x\":1};");
}

TEST(ingest_should_unwrap_thingsboard_readings_with_their_ts)
{
	CHECK_STR(readings("{\"ts\":1763884800000,\"values\":{\"t\":1}}", -1), "-60000:{\"t\":1};");
	CHECK_STR(readings("{\"values\":{\"t\":1},\"ts\":1763884800000}", -1), "-60000:{\"t\":1};");
	CHECK_STR(readings("[{\"ts\":1763884800000,\"values\":{\"t\":1}},{\"t\":2},"
							   "{\"ts\":1763884900000,\"values\":{\"t\":3}}]", -1),
			"-60000:{\"t\":1};0:{\"t\":2};40000:{\"t\":3};");
}

TEST(ingest_should_refuse_malformed_readings_whole)
{
	CHECK_CONTAINS(readings("[1,2]", -1), "reading 1: not a JSON object");
	CHECK_CONTAINS(readings("42", -1), "not a JSON object");
	CHECK_CONTAINS(readings("[]", -1), "non-empty array");
	CHECK_CONTAINS(readings("[{\"a\":1},{\"ts\":1763884800000,\"values\":3}]", -1),
			"reading 2: values is not a JSON object");
	CHECK_CONTAINS(readings("{\"ts\":\"now\",\"values\":{}}", -1), "ts is not an integer");
	CHECK_STR(readings("{\"ts\":1.5e12,\"values\":{}}", -1), "-263884860000:{};");
	CHECK_CONTAINS(readings("{\"ts\":1763884800000.5,\"values\":{}}", -1), "ts is not an integer");
	CHECK_CONTAINS(readings("{\"ts\":1763884800,\"values\":{}}", -1), "seconds instead of milliseconds");
	CHECK_CONTAINS(readings("{\"ts\":0,\"values\":{}}", -1), "before 2000-01-01");
	CHECK_CONTAINS(readings("{\"ts\":-5,\"values\":{}}", -1), "before 2000-01-01");
	/* up to a day ahead of the arrival is accepted, further is not */
	CHECK_STR(readings("{\"ts\":1763971260000,\"values\":{}}", -1), "86400000:{};");
	CHECK_CONTAINS(readings("{\"ts\":1763971260001,\"values\":{}}", -1), "more than a day ahead");
	CHECK_STR(readings("{\"ts\":946684800000,\"values\":{\"old\":1}}", -1), "-817200060000:{\"old\":1};");
}

TEST(ingest_should_check_the_depth_of_each_reading_when_asked)
{
	CHECK_STR(readings("[{\"ts\":1763884800000,\"values\":{\"a\":{\"b\":1}}}]", 2), "-60000:{\"a\":{\"b\":1}};");
	CHECK_CONTAINS(readings("[{\"ts\":1763884800000,\"values\":{\"a\":{\"b\":1}}}]", 1),
			"reading 1: JSON nested deeper than max_depth=1");
	CHECK_CONTAINS(readings("{\"a\":[[1]]}", 2), "nested deeper");
	CHECK_STR(readings("{\"a\":[[1]]}", 3), "0:{\"a\":[[1]]};");
}

TEST(ingest_should_count_sub_path_levels)
{
	CHECK_INT(twin_ingest_path_levels("top/temp", 8), 2);
	CHECK_INT(twin_ingest_path_levels("t", 1), 1);
	CHECK_INT(twin_ingest_path_levels("", 0), -1);
	CHECK_INT(twin_ingest_path_levels("a//b", 4), -1);
	CHECK_INT(twin_ingest_path_levels("a/", 2), -1);
	CHECK_INT(twin_ingest_path_levels("/a", 2), -1);
}

/* The patch a sub-path message makes, as "ts:patch" (ts relative to NOW), or "error: <message>". */
static char *at_path(const char *path, const char *json, int depth_limit)
{
	static char out[512];
	struct twin_error err;
	int64_t ts = 0;
	cJSON *patch = twin_ingest_path_patch(parse(json), path, strlen(path), NOW, depth_limit, &ts, &err);
	if (!patch) {
		snprintf(out, sizeof(out), "error: %s", err.msg);
		return out;
	}
	char *p = print(patch);
	snprintf(out, sizeof(out), "%lld:%s", (long long)(ts - NOW), p);
	free(p);
	cJSON_Delete(patch);
	return out;
}

TEST(ingest_should_wrap_sub_path_values)
{
	CHECK_STR(at_path("top/temp", "24.5", 14), "0:{\"top\":{\"temp\":24.5}}");
	CHECK_STR(at_path("fw", "\"1.2.3\"", 15), "0:{\"fw\":\"1.2.3\"}");
	CHECK_STR(at_path("a/b/c", "null", 13), "0:{\"a\":{\"b\":{\"c\":null}}}");
	CHECK_STR(at_path("arr", "[1,2]", 15), "0:{\"arr\":[1,2]}");
	CHECK_STR(at_path("top", "{\"temp\":1}", 15), "0:{\"top\":{\"temp\":1}}");
	CHECK_STR(at_path("top/temp", "{\"ts\":1763884800000,\"values\":24.5}", 14),
			"-60000:{\"top\":{\"temp\":24.5}}");
	CHECK_STR(at_path("top", "{\"ts\":1763884800000,\"values\":{\"a\":1}}", 15),
			"-60000:{\"top\":{\"a\":1}}");
	CHECK_CONTAINS(at_path("top", "{\"ts\":5,\"values\":1}", 15), "before 2000-01-01");
	CHECK_CONTAINS(at_path("top", "{\"a\":{\"b\":1}}", 1), "nested deeper");
	CHECK_STR(at_path("top", "{\"a\":{\"b\":1}}", 2), "0:{\"top\":{\"a\":{\"b\":1}}}");
	CHECK_STR(at_path("top", "7", 0), "0:{\"top\":7}");
}
