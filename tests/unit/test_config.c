/* test_config.c - option parsing: defaults, ranges, unknown options. */
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
	CHECK_STR(cfg.telemetry_topic, "devices/+/telemetry");
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

TEST(config_should_refuse_unknown_and_invalid_options_naming_them)
{
	struct twin_config cfg;
	struct twin_error err;
	CHECK_INT(parse(&cfg, "bogus", "1", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "plugin_opt_bogus");
	CHECK_CONTAINS(err.msg, "db_path,"); /* the list of known options, first to last */
	CHECK_CONTAINS(err.msg, ", metrics_file)");
	twin_config_free(&cfg); /* a refused parse leaves the defaults it copied for the caller to free */
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
	CHECK_INT(parse(&cfg, "telemetry_topic", "devices/#", &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "plugin_opt_telemetry_topic");
	twin_config_free(&cfg);
	const char *keys[] = {"map_size", "map_size_max"}, *values[] = {"4194304", "2097152"};
	CHECK_INT(twin_config_parse(&cfg, keys, values, 2, &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "map_size_max");
	twin_config_free(&cfg);
}
