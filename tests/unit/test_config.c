/* test_config.c - option parsing: defaults, ranges, unknown options; the description of the ready line. */
#include "check.h"
#include "config.h"

static enum twin_rc parse(struct twin_config *cfg, const char *key, const char *value,
		struct twin_error *err)
{
	const char *keys[] = {key}, *values[] = {value};
	return twin_config_parse(cfg, keys, values, key ? 1 : 0, err);
}

TEST(config_should_have_safe_defaults)
{
	struct twin_config cfg;
	struct twin_error err;
	CHECK_INT(parse(&cfg, NULL, NULL, &err), TWIN_OK);
	CHECK_INT(cfg.n_telemetry_topics, 1);
	CHECK_STR(cfg.telemetry_topics[0], "devices/+/telemetry");
	CHECK_INT(cfg.telemetry_id_from, TWIN_ID_FROM_CLIENT_ID);
	CHECK(cfg.gateway_topic == NULL);
	CHECK_INT(cfg.max_twin_bytes, 65536);
	CHECK_INT(cfg.commit_interval_ms, 100);
	CHECK_INT(cfg.max_depth, 16);
	CHECK(cfg.retain_desired);
	CHECK_INT(cfg.max_twins, 10000000);
	CHECK_INT(cfg.telemetry_rate, 50);
	CHECK_INT(cfg.request_rate_per_twin, 100);
	CHECK_INT(cfg.request_rate_per_client, 5000);
	CHECK_INT(cfg.sys_interval, 10);
	CHECK(cfg.metrics_file == NULL);
	twin_config_free(&cfg);
}

TEST(config_should_apply_values)
{
	struct twin_config cfg;
	struct twin_error err;
	const char *keys[] = {"db_path", "MAX_DEPTH", "retain_desired", "map_size"};
	const char *values[] = {"/x/y", "10", "false", "68719476736"};
	CHECK_INT(twin_config_parse(&cfg, keys, values, 4, &err), TWIN_OK);
	CHECK_STR(cfg.db_path, "/x/y");
	CHECK_INT(cfg.max_depth, 10);
	CHECK(!cfg.retain_desired);
	CHECK(cfg.map_size_max >= cfg.map_size); /* raised with map_size when not given */
	twin_config_free(&cfg);
}

TEST(config_should_collect_telemetry_patterns_and_ingest_options)
{
	struct twin_config cfg;
	struct twin_error err;
	const char *keys[] = {"telemetry_topic", "telemetry_topic", "telemetry_id_from", "gateway_topic"};
	const char *values[] = {"devices/+/telemetry/#", "v1/devices/me/telemetry", "USERNAME",
			"v1/gateway/telemetry"};
	CHECK_INT(twin_config_parse(&cfg, keys, values, 4, &err), TWIN_OK);
	CHECK_INT(cfg.n_telemetry_topics, 2); /* given patterns replace the default */
	CHECK_STR(cfg.telemetry_topics[0], "devices/+/telemetry/#");
	CHECK_STR(cfg.telemetry_topics[1], "v1/devices/me/telemetry");
	CHECK_INT(cfg.telemetry_id_from, TWIN_ID_FROM_USERNAME);
	CHECK_STR(cfg.gateway_topic, "v1/gateway/telemetry");
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "telemetry_id_from", "clientid", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "plugin_opt_telemetry_id_from: 'clientid' is not one of client_id, username");
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "acl_fallback", "DEFER", &err), TWIN_OK);
	CHECK_INT(cfg.acl_fallback, TWIN_ACL_FALLBACK_DEFER);
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "acl_fallback", "deny", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "plugin_opt_acl_fallback: 'deny' is not one of auto, allow, defer");
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "gateway_topic", "v1/gateway/+", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "plugin_opt_gateway_topic");
	twin_config_free(&cfg);
	const char *many[TWIN_MAX_TELEMETRY_TOPICS + 1], *vals[TWIN_MAX_TELEMETRY_TOPICS + 1];
	for (int i = 0; i <= TWIN_MAX_TELEMETRY_TOPICS; i++) {
		many[i] = "telemetry_topic";
		vals[i] = "a/+";
	}
	CHECK_INT(twin_config_parse(&cfg, many, vals, TWIN_MAX_TELEMETRY_TOPICS, &err), TWIN_OK);
	twin_config_free(&cfg);
	CHECK_INT(twin_config_parse(&cfg, many, vals, TWIN_MAX_TELEMETRY_TOPICS + 1, &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "more than 16");
	twin_config_free(&cfg);
}

TEST(config_should_refuse_unknown_and_invalid_options_naming_them)
{
	struct twin_config cfg;
	struct twin_error err;
	CHECK_INT(parse(&cfg, "bogus", "1", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "plugin_opt_bogus");
	twin_config_free(&cfg); /* a refused parse leaves the defaults it copied for the caller to free */
	CHECK_INT(parse(&cfg, "telemetry_topics", "a/+", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "did you mean plugin_opt_telemetry_topic?");
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "MAX_TWIN", "5", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "did you mean plugin_opt_max_twins?");
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "max_twins", "0", &err), TWIN_ERR_CONFIG);
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "telemetry_rate", "-1", &err), TWIN_ERR_CONFIG);
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "commit_interval_ms", "0", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "plugin_opt_commit_interval_ms");
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "max_twin_bytes", "12abc", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "not an integer");
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "retain_desired", "maybe", &err), TWIN_ERR_CONFIG);
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "telemetry_topic", "devices/#/x", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "plugin_opt_telemetry_topic");
	twin_config_free(&cfg);
	const char *keys[] = {"map_size", "map_size_max"}, *values[] = {"4194304", "2097152"};
	CHECK_INT(twin_config_parse(&cfg, keys, values, 2, &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "map_size_max");
	twin_config_free(&cfg);
}

TEST(config_should_bound_searches_and_leave_them_unscoped_by_default)
{
	struct twin_config cfg;
	struct twin_error err;
	CHECK_INT(parse(&cfg, NULL, NULL, &err), TWIN_OK);
	CHECK(cfg.search_scope == NULL);
	CHECK(cfg.search_scope_exempt == NULL);
	CHECK_INT(cfg.search_queue_size, 64);
	CHECK_INT(cfg.search_timeout_ms, 10000);
	twin_config_free(&cfg);
	const char *keys[] = {"search_scope", "search_scope_exempt", "search_queue_size",
			"search_timeout_ms"};
	const char *values[] = {"id:%u:", "ops, dashboard", "8", "250"};
	CHECK_INT(twin_config_parse(&cfg, keys, values, 4, &err), TWIN_OK);
	CHECK_STR(cfg.search_scope, "id:%u:");
	CHECK_STR(cfg.search_scope_exempt, "ops, dashboard");
	CHECK_INT(cfg.search_queue_size, 8);
	CHECK_INT(cfg.search_timeout_ms, 250);
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "search_scope", "attributes/tenant=%u", &err), TWIN_OK);
	twin_config_free(&cfg);
}

TEST(config_should_refuse_unsafe_or_malformed_search_scopes)
{
	static const char *cases[][2] = {
			{"id:%u", "end the id prefix with a separator"},
			{"id:", "the id prefix is empty"},
			{"id:%u%c:", "separator between two placeholders"},
			{"id:%x:", "unknown placeholder"},
			{"id:%u/", "no twin id holds '/'"},
			{"tenant=%u", "neither id:<prefix>"},
			{"reported/tenant=%u", "neither id:<prefix>"},
			{"attributes/=%u", "neither id:<prefix>"},
			{"attributes/a//b=%u", "neither id:<prefix>"},
			{"attributes/tenant=", "the value is empty"},
			{"", "neither id:<prefix>"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct twin_config cfg;
		struct twin_error err;
		if (parse(&cfg, "search_scope", cases[i][0], &err) != TWIN_ERR_CONFIG ||
				!strstr(err.msg, cases[i][1]) || !strstr(err.msg, "plugin_opt_search_scope")) {
			twin_config_free(&cfg);
			CHECK_FAIL("'%s': %s", cases[i][0], err.msg);
		}
		twin_config_free(&cfg);
	}
	struct twin_config cfg;
	struct twin_error err;
	CHECK_INT(parse(&cfg, "search_scope_exempt", "ops", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "no effect without plugin_opt_search_scope");
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "search_scope_exempt", "ops,,x", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "empty name");
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "search_queue_size", "0", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "plugin_opt_search_queue_size");
	twin_config_free(&cfg);
	CHECK_INT(parse(&cfg, "search_timeout_ms", "600001", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "plugin_opt_search_timeout_ms");
	twin_config_free(&cfg);
}

TEST(config_should_describe_every_option_with_its_value)
{
	struct twin_config cfg;
	struct twin_error err;
	char text[8192];
	const char *keys[] = {"history_max", "telemetry_topic", "telemetry_topic", "acl_fallback",
			"max_depth", "map_size", "events", "search_scope"};
	const char *values[] = {"25", "a/+/t", "b/+/t", "defer", "9", "2097152", "false", "id:%u:"};
	CHECK_INT(twin_config_parse(&cfg, keys, values, 8, &err), TWIN_OK);
	twin_config_describe(&cfg, text, sizeof(text));
	const char *start = "db_path=/var/lib/mosquitto/twin telemetry_topic=a/+/t,b/+/t ";
	CHECK(strncmp(text, start, strlen(start)) == 0);
	const char *expected[] = {" history_max=25 ", " history_max_age_s=0 ", " acl_fallback=defer ",
			" max_depth=9 ", " map_size=2097152 ", " map_size_max=17179869184 ", " events=false ",
			" search_scope=id:%u: ", " gateway_topic=(none) ", " commit_interval_ms=100 ",
			" telemetry_rate=50 ", " metrics_file=(none) ", " aws_shadow=false ",
			" search_timeout_ms=10000 ", " models_dir=(none) "};
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		CHECK_CONTAINS(text, expected[i]);
	}
	CHECK(strstr(text, " model_reported=warn") && text[strlen(text) - 1] == 'n'); /* the last */
	/* cut short, never over the end */
	char small[40];
	twin_config_describe(&cfg, small, sizeof(small));
	CHECK_INT(strlen(small), sizeof(small) - 1);
	twin_config_free(&cfg);
}
