/* plugin.c - Mosquitto's entry points: version negotiation, init (options, store, writer thread,
 * callbacks) and cleanup (flush everything to disk). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

#define TWIN_EXPORT __attribute__((visibility("default")))

static bool loaded; /* one instance per broker: the store and the wake signal are process-wide */

TWIN_EXPORT int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++) {
		if (supported_versions[i] == 5) {
			return 5;
		}
	}
	return -1;
}

static int fail_init(struct twin_plugin *tp, const char *msg)
{
	mosquitto_log_printf(MOSQ_LOG_ERR, "mosquitto_twin: %s", msg);
	mosquitto_log_printf(MOSQ_LOG_ERR, "mosquitto_twin: refusing to load (see the line above)");
	twin_engine_close(tp->engine);
	twin_wake_uninstall();
	twin_config_free(&tp->cfg);
	free(tp);
	return MOSQ_ERR_INVAL;
}

TWIN_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	struct twin_error err = {.rc = TWIN_OK};
	struct twin_plugin *tp = calloc(1, sizeof(*tp));
	const char **keys = calloc((size_t)option_count + 1, sizeof(*keys));
	const char **values = calloc((size_t)option_count + 1, sizeof(*values));
	if (!tp || !keys || !values) {
		free(tp);
		free(keys);
		free(values);
		return MOSQ_ERR_NOMEM;
	}
	if (loaded) {
		free(keys);
		free(values);
		return fail_init(tp, "the plugin is loaded twice; load it once");
	}
	for (int i = 0; i < option_count; i++) {
		keys[i] = options[i].key;
		values[i] = options[i].value;
	}
	enum twin_rc rc = twin_config_parse(&tp->cfg, keys, values, option_count, &err);
	free(keys);
	free(values);
	if (rc != TWIN_OK) {
		return fail_init(tp, err.msg);
	}
	if (twin_wake_install() != 0) {
		return fail_init(tp, "cannot install the wake-up signal handler");
	}
	if (twin_engine_open(&tp->cfg, twin_wake, NULL, &tp->engine, &err) != TWIN_OK) {
		return fail_init(tp, err.msg);
	}
	tp->identifier = identifier;
	if (mosquitto_callback_register(identifier, MOSQ_EVT_MESSAGE, twin_on_message, NULL, tp) ||
			mosquitto_callback_register(identifier, MOSQ_EVT_TICK, twin_on_tick, NULL, tp) ||
			mosquitto_callback_register(identifier, MOSQ_EVT_DISCONNECT, twin_on_disconnect, NULL, tp) ||
			mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, twin_on_acl_check, NULL, tp) ||
			mosquitto_callback_register(identifier, MOSQ_EVT_RELOAD, twin_on_reload, NULL, tp)) {
		return fail_init(tp, "cannot register the broker callbacks");
	}
	char topics[TWIN_MAX_TELEMETRY_TOPICS * 64] = "";
	for (int i = 0; i < tp->cfg.n_telemetry_topics; i++) {
		size_t used = strlen(topics);
		snprintf(topics + used, sizeof(topics) - used, "%s%s", i ? "," : "", tp->cfg.telemetry_topics[i]);
	}
	mosquitto_log_printf(MOSQ_LOG_INFO,
			"mosquitto_twin: ready; db_path=%s telemetry_topic=%s telemetry_id_from=%s gateway_topic=%s "
			"commit_interval_ms=%lld max_twin_bytes=%zu max_depth=%d max_readings=%lld retain_desired=%s "
			"queue_size=%zu queue_bytes=%zu map_size=%zu acl_fallback=%s events=%s history_max=%d "
			"models_dir=%s models=%zu default_model=%s model_reported=%s",
			tp->cfg.db_path, topics,
			tp->cfg.telemetry_id_from == TWIN_ID_FROM_USERNAME ? "username" : "client_id",
			tp->cfg.gateway_topic ? tp->cfg.gateway_topic : "(none)",
			(long long)tp->cfg.commit_interval_ms, tp->cfg.max_twin_bytes, tp->cfg.max_depth,
			(long long)tp->cfg.max_readings, tp->cfg.retain_desired ? "true" : "false", tp->cfg.queue_size,
			tp->cfg.queue_bytes, tp->cfg.map_size,
			tp->cfg.acl_fallback == TWIN_ACL_FALLBACK_ALLOW   ? "allow"
					: tp->cfg.acl_fallback == TWIN_ACL_FALLBACK_DEFER ? "defer"
																	  : "auto",
			tp->cfg.events ? "true" : "false", tp->cfg.history_max,
			tp->cfg.models_dir ? tp->cfg.models_dir : "(none)", twin_engine_models_count(tp->engine),
			tp->cfg.default_model ? tp->cfg.default_model : "(none)",
			tp->cfg.model_reported == TWIN_MODEL_REPORTED_REJECT ? "reject" : "warn");
	loaded = true;
	*userdata = tp;
	return MOSQ_ERR_SUCCESS;
}

TWIN_EXPORT int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options,
		int option_count)
{
	struct twin_plugin *tp = userdata;
	(void)options;
	(void)option_count;
	if (!tp) {
		return MOSQ_ERR_SUCCESS;
	}
	mosquitto_callback_unregister(tp->identifier, MOSQ_EVT_MESSAGE, twin_on_message, NULL);
	mosquitto_callback_unregister(tp->identifier, MOSQ_EVT_TICK, twin_on_tick, NULL);
	mosquitto_callback_unregister(tp->identifier, MOSQ_EVT_DISCONNECT, twin_on_disconnect, NULL);
	twin_acl_unregister(tp);
	mosquitto_callback_unregister(tp->identifier, MOSQ_EVT_RELOAD, twin_on_reload, NULL);
	twin_engine_close(tp->engine); /* the writer commits everything still queued */
	twin_wake_uninstall();
	twin_presence_free(&tp->ws_clients);
	mosquitto_log_printf(MOSQ_LOG_INFO, "mosquitto_twin: store closed, everything committed");
	twin_config_free(&tp->cfg);
	free(tp);
	loaded = false;
	return MOSQ_ERR_SUCCESS;
}
