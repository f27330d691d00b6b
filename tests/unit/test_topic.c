/* test_topic.c - topic classification and id validation. */
#include "check.h"
#include "topic.h"

static struct twin_topic_match classify(const char *pattern, const char *topic)
{
	struct twin_topic_pattern p;
	struct twin_topic_match m;
	twin_topic_pattern_compile(&p, pattern);
	twin_topic_classify(&p, topic, strlen(topic), &m);
	twin_topic_pattern_free(&p);
	return m;
}

TEST(topic_should_match_telemetry_with_id_level)
{
	struct twin_topic_match m = classify("devices/+/telemetry", "devices/rack-12/telemetry");
	CHECK_INT(m.route, TWIN_ROUTE_TELEMETRY);
	CHECK_INT(m.id_len, 7);
	CHECK(!strncmp(m.id, "rack-12", 7));
	CHECK_INT(classify("devices/+/telemetry", "devices/a/b/telemetry").route, TWIN_ROUTE_NONE);
	CHECK_INT(classify("devices/+/telemetry", "devices/a/telemetryx").route, TWIN_ROUTE_NONE);
	CHECK_INT(classify("devices/+/telemetry", "other/a/telemetry").route, TWIN_ROUTE_NONE);
	CHECK_INT(classify("devices/+/telemetry", "devices//telemetry").route, TWIN_ROUTE_TELEMETRY);
}

TEST(topic_should_match_exact_pattern_without_id)
{
	struct twin_topic_match m = classify("v1/devices/me/telemetry", "v1/devices/me/telemetry");
	CHECK_INT(m.route, TWIN_ROUTE_TELEMETRY);
	CHECK(m.id == NULL);
	CHECK_INT(classify("v1/devices/me/telemetry", "v1/devices/me/telemetry/x").route, TWIN_ROUTE_NONE);
}

TEST(topic_should_classify_twin_requests)
{
	struct twin_topic_match m = classify("devices/+/telemetry", "$twin/rack-12/update");
	CHECK_INT(m.route, TWIN_ROUTE_REQUEST);
	CHECK_INT(m.verb, TWIN_VERB_UPDATE);
	CHECK_INT(classify("devices/+/telemetry", "$twin/x/get").verb, TWIN_VERB_GET);
	CHECK_INT(classify("devices/+/telemetry", "$twin/x/delete").verb, TWIN_VERB_DELETE);
	CHECK_INT(classify("devices/+/telemetry", "$twin/stats").verb, TWIN_VERB_STATS);
	m = classify("devices/+/telemetry", "$twin/x/frobnicate");
	CHECK_INT(m.route, TWIN_ROUTE_REQUEST);
	CHECK_INT(m.verb, TWIN_VERB_UNKNOWN);
	CHECK_INT(classify("devices/+/telemetry", "$twin/x/get/accepted").route, TWIN_ROUTE_RESERVED);
	CHECK_INT(classify("devices/+/telemetry", "$twin/x/events").route, TWIN_ROUTE_RESERVED);
	CHECK_INT(classify("devices/+/telemetry", "$SYS/broker/x").route, TWIN_ROUTE_NONE);
	CHECK_INT(classify("devices/+/telemetry", "$twinx/a/get").route, TWIN_ROUTE_NONE);
}

TEST(topic_should_validate_patterns)
{
	CHECK(twin_topic_pattern_valid("devices/+/telemetry"));
	CHECK(twin_topic_pattern_valid("v1/devices/me/telemetry"));
	CHECK(!twin_topic_pattern_valid("devices/+/+/telemetry"));
	CHECK(!twin_topic_pattern_valid("devices/#"));
	CHECK(!twin_topic_pattern_valid("devices/a+/telemetry"));
	CHECK(!twin_topic_pattern_valid("$twin/+/x"));
	CHECK(!twin_topic_pattern_valid(""));
}

TEST(topic_should_validate_ids)
{
	struct twin_error err;
	char long_id[300];
	memset(long_id, 'a', sizeof(long_id));
	CHECK(twin_topic_id_valid("com.example:sensor-01", 21, &err));
	CHECK(twin_topic_id_valid("r\xc3\xa4\x63k", 5, &err));
	CHECK(!twin_topic_id_valid("", 0, &err));
	CHECK(!twin_topic_id_valid(long_id, 257, &err));
	CHECK_CONTAINS(err.msg, "257 bytes");
	CHECK(twin_topic_id_valid(long_id, 256, &err));
	CHECK(!twin_topic_id_valid("a+b", 3, &err));
	CHECK(!twin_topic_id_valid("a\0b", 3, &err));
	CHECK(!twin_topic_id_valid("\xc3\x28", 2, &err));
	CHECK_CONTAINS(err.msg, "UTF-8");
	CHECK(!twin_topic_id_valid("\xed\xa0\x80", 3, &err)); /* surrogate */
	CHECK(!twin_topic_id_valid("\xc0\xaf", 2, &err));     /* overlong */
	CHECK(!twin_topic_id_valid("\xe2\x82", 2, &err));     /* truncated */
}
