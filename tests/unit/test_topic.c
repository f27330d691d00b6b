/* test_topic.c - topic classification (several patterns, '#' sub-paths, ids from the client, the
 * gateway topic) and id validation. */
#include "check.h"
#include "front.h"
#include "topic.h"

/* Matches against a set compiled from patterns (NULL-terminated) and a gateway topic. The match points
 * into topic, which outlives the set. */
static struct twin_topic_match classify_set(const char *const *patterns, const char *gateway,
		const char *topic)
{
	struct twin_topic_set s;
	struct twin_topic_match m;
	int n = 0;
	while (patterns[n]) {
		n++;
	}
	memset(&m, 0, sizeof(m));
	if (twin_topic_set_compile(&s, patterns, n, gateway) != TWIN_OK) {
		return m;
	}
	twin_topic_classify(&s, topic, strlen(topic), &m);
	twin_topic_set_free(&s);
	return m;
}

static bool set_compiles(const char *const *patterns, int n, const char *gateway)
{
	struct twin_topic_set s;
	if (twin_topic_set_compile(&s, patterns, n, gateway) != TWIN_OK) {
		return false;
	}
	twin_topic_set_free(&s);
	return true;
}

static struct twin_topic_match classify(const char *pattern, const char *topic)
{
	const char *patterns[] = {pattern, NULL};
	return classify_set(patterns, NULL, topic);
}

static bool is(const char *s, size_t len, const char *expected)
{
	return s && len == strlen(expected) && !memcmp(s, expected, len);
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
	CHECK(m.path == NULL);
}

TEST(topic_should_match_sub_paths_after_hash)
{
	struct twin_topic_match m = classify("devices/+/telemetry/#", "devices/rack-1/telemetry/top/temp");
	CHECK_INT(m.route, TWIN_ROUTE_TELEMETRY);
	CHECK(is(m.id, m.id_len, "rack-1"));
	CHECK(is(m.path, m.path_len, "top/temp"));
	m = classify("devices/+/telemetry/#", "devices/rack-1/telemetry");
	CHECK_INT(m.route, TWIN_ROUTE_TELEMETRY); /* '#' also matches no level: the plain patch */
	CHECK(m.path == NULL);
	m = classify("devices/+/telemetry/#", "devices/rack-1/telemetry/");
	CHECK_INT(m.route, TWIN_ROUTE_TELEMETRY); /* one empty level: the writer refuses it */
	CHECK_INT(m.path_len, 0);
	CHECK(m.path != NULL);
	CHECK_INT(classify("devices/+/telemetry/#", "devices/rack-1/telemetryx/a").route, TWIN_ROUTE_NONE);
	CHECK_INT(classify("devices/+/telemetry/#", "devices/a/b/telemetry").route, TWIN_ROUTE_NONE);
	m = classify("v1/devices/me/attributes/#", "v1/devices/me/attributes/fw/version");
	CHECK_INT(m.route, TWIN_ROUTE_TELEMETRY);
	CHECK(m.id == NULL);
	CHECK(is(m.path, m.path_len, "fw/version"));
	m = classify("site/+/#", "site/pump-3/flow");
	CHECK(is(m.id, m.id_len, "pump-3"));
	CHECK(is(m.path, m.path_len, "flow"));
	m = classify("site/+", "site/pump-3");
	CHECK(is(m.id, m.id_len, "pump-3"));
	CHECK_INT(classify("site/+", "site/pump-3/flow").route, TWIN_ROUTE_NONE);
}

TEST(topic_should_try_several_patterns_in_order)
{
	const char *patterns[] = {"devices/+/telemetry", "plant/+/+x", "v1/devices/me/telemetry",
			"sensors/+/data/#", NULL};
	CHECK(!set_compiles(patterns, 4, NULL)); /* an invalid pattern refuses the set */
	CHECK(set_compiles(patterns, 1, NULL));
	patterns[1] = "plant/line/+/state";
	struct twin_topic_match m = classify_set(patterns, NULL, "devices/a/telemetry");
	CHECK(is(m.id, m.id_len, "a"));
	m = classify_set(patterns, NULL, "plant/line/m7/state");
	CHECK_INT(m.route, TWIN_ROUTE_TELEMETRY);
	CHECK(is(m.id, m.id_len, "m7"));
	m = classify_set(patterns, NULL, "v1/devices/me/telemetry");
	CHECK_INT(m.route, TWIN_ROUTE_TELEMETRY);
	CHECK(m.id == NULL);
	m = classify_set(patterns, NULL, "sensors/s1/data/t");
	CHECK(is(m.id, m.id_len, "s1"));
	CHECK(is(m.path, m.path_len, "t"));
	CHECK_INT(classify_set(patterns, NULL, "plant/line/m7").route, TWIN_ROUTE_NONE);
	CHECK_INT(classify_set(patterns, NULL, "$twin/x/get").route, TWIN_ROUTE_REQUEST);
	/* the first matching pattern wins */
	const char *overlap[] = {"a/+/b/#", "a/x/+/c", NULL};
	m = classify_set(overlap, NULL, "a/x/b/c");
	CHECK(is(m.id, m.id_len, "x"));
	CHECK(is(m.path, m.path_len, "c"));
}

TEST(topic_should_route_the_gateway_topic)
{
	const char *patterns[] = {"v1/devices/me/telemetry", NULL};
	struct twin_topic_match m = classify_set(patterns, "v1/gateway/telemetry", "v1/gateway/telemetry");
	CHECK_INT(m.route, TWIN_ROUTE_GATEWAY);
	CHECK(m.id == NULL);
	CHECK_INT(classify_set(patterns, "v1/gateway/telemetry", "v1/gateway/telemetry/x").route,
			TWIN_ROUTE_NONE);
	CHECK_INT(classify_set(patterns, "v1/gateway/telemetry", "v1/devices/me/telemetry").route,
			TWIN_ROUTE_TELEMETRY);
	CHECK_INT(classify_set(patterns, NULL, "v1/gateway/telemetry").route, TWIN_ROUTE_NONE);
	CHECK(twin_topic_gateway_valid("v1/gateway/telemetry"));
	CHECK(!twin_topic_gateway_valid("v1/gateway/+"));
	CHECK(!twin_topic_gateway_valid("v1/#"));
	CHECK(!twin_topic_gateway_valid("$twin/gw"));
	CHECK(!twin_topic_gateway_valid(""));
	CHECK(!set_compiles(patterns, 1, "gw/#"));
	CHECK(set_compiles(patterns, 1, "gw/x"));
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
	CHECK(twin_topic_pattern_valid("devices/+/telemetry/#"));
	CHECK(twin_topic_pattern_valid("devices/#"));
	CHECK(twin_topic_pattern_valid("+/#"));
	CHECK(!twin_topic_pattern_valid("devices/+/+/telemetry"));
	CHECK(!twin_topic_pattern_valid("#"));
	CHECK(!twin_topic_pattern_valid("devices/#/telemetry"));
	CHECK(!twin_topic_pattern_valid("devices/a#"));
	CHECK(!twin_topic_pattern_valid("devices/+/#/x"));
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

static bool owned(const char *topic)
{
	struct twin_topic_set s;
	const char *patterns[] = {"devices/+/telemetry"};
	if (twin_topic_set_compile(&s, patterns, 1, NULL) != TWIN_OK) {
		return false;
	}
	twin_topic_add_front(&s, &twin_front_aws.topic);
	twin_topic_add_front(&s, &twin_front_azure.topic);
	bool r = twin_topic_owned(&s, topic, strlen(topic));
	twin_topic_set_free(&s);
	return r;
}

TEST(topic_should_know_which_topics_only_the_plugin_publishes_on)
{
	CHECK(owned("$twin/rack-1/events"));
	CHECK(owned("$twin/rack-1/get/accepted"));
	CHECK(owned("$twin/rack-1/update/rejected"));
	CHECK(owned("$twin/search/accepted"));
	CHECK(owned("$twin/stats/rejected"));
	CHECK(owned("$twin"));
	CHECK(owned("devices/rack-1/desired"));
	CHECK(owned("$aws/things/rack-1/shadow/update/delta"));
	CHECK(owned("$aws/things/rack-1/shadow/name/s/get/accepted"));
	CHECK(owned("$iothub/twin/res/200/?$rid=1"));
	CHECK(owned("$iothub/twin/PATCH/properties/desired/?$version=2"));
	/* requests, telemetry and other topics are the clients' */
	CHECK(!owned("$twin/rack-1/get"));
	CHECK(!owned("$twin/rack-1/update"));
	CHECK(!owned("$twin/search"));
	CHECK(!owned("$twin/stats"));
	CHECK(!owned("devices/rack-1/telemetry"));
	CHECK(!owned("devices/a/b/desired"));
	CHECK(!owned("devices//desired"));
	CHECK(!owned("other/desired"));
	CHECK(!owned("$aws/things/rack-1/shadow/update"));
	CHECK(!owned("$iothub/twin/PATCH/properties/reported/?$rid=4"));
	CHECK(!owned("$SYS/broker/uptime"));
}

TEST(topic_should_keep_the_shadow_separator_out_of_ids_clients_name)
{
	struct twin_error err;
	CHECK(twin_topic_id_valid("rack-1~cfg", 10, &err)); /* a named shadow's twin id */
	CHECK(!twin_topic_native_id_valid("rack-1~cfg", 10, &err));
	CHECK_INT(err.rc, TWIN_ERR_BAD_REQUEST);
	CHECK_CONTAINS(err.msg, "'~' is reserved for AWS named shadows");
	CHECK(!twin_topic_native_id_valid("~", 1, &err));
	CHECK(!twin_topic_native_id_valid("a+b", 3, &err));
	CHECK_CONTAINS(err.msg, "'/', '+', '#'");
	CHECK(twin_topic_native_id_valid("com.example:sensor-01", 21, &err));
	CHECK(!twin_topic_native_id_valid("a~b", 3, NULL)); /* the telemetry path passes no err */
}

TEST(verb_names_should_be_found_only_in_the_set_asked_for)
{
	CHECK_INT(twin_verb_find("get", 3, TWIN_VERBS_OF_TWIN), TWIN_VERB_GET);
	CHECK_INT(twin_verb_find("history", 7, TWIN_VERBS_OF_TWIN), TWIN_VERB_HISTORY);
	CHECK_INT(twin_verb_find("search", 6, TWIN_VERBS_OF_TWIN), TWIN_VERB_UNKNOWN);
	CHECK_INT(twin_verb_find("search", 6, TWIN_VERBS_OF_SERVICE), TWIN_VERB_SEARCH);
	CHECK_INT(twin_verb_find("stats", 5, TWIN_VERBS_OF_SERVICE), TWIN_VERB_STATS);
	CHECK_INT(twin_verb_find("get", 3, TWIN_VERBS_OF_SERVICE), TWIN_VERB_UNKNOWN);
	CHECK_INT(twin_verb_find("gets", 3, TWIN_VERBS_OF_TWIN), TWIN_VERB_GET); /* the level is [name, +len) */
	CHECK_INT(twin_verb_find("ge", 2, TWIN_VERBS_OF_TWIN), TWIN_VERB_UNKNOWN);
	CHECK_INT(twin_verb_find("GET", 3, TWIN_VERBS_OF_TWIN), TWIN_VERB_UNKNOWN);
}
