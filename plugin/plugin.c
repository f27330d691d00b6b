/* plugin.c - Mosquitto's entry points: version negotiation, init (options, store, writer thread,
 * callbacks) and cleanup (flush everything to disk). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "version.h"

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
	twin_cluster_hook_close(tp);
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
	int n = 0; /* the core's options first, then the cluster's, which are parsed apart (cluster.c) */
	for (int pass = 0, k = 0; pass < 2; pass++) {
		for (int i = 0; i < option_count; i++) {
			if (twin_cluster_hook_option(options[i].key) == (pass == 1)) {
				keys[k] = options[i].key;
				values[k++] = options[i].value;
			}
		}
		n = pass == 0 ? k : n;
	}
	enum twin_rc rc = twin_config_parse(&tp->cfg, keys, values, n, &err);
	if (rc == TWIN_OK) {
		rc = twin_cluster_hook_open(tp, keys + n, values + n, option_count - n, &err);
	}
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
	int migrated = twin_engine_store_migrated_from(tp->engine);
	if (migrated) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"mosquitto_twin: moved the store in %s from format %d to this version's (%s), every twin "
				"kept; versions before 0.2.0 refuse to open it from now on (README: Upgrades and downgrades)",
				tp->cfg.db_path, migrated, twin_version());
	}
	static char options_text[8192]; /* init runs once, on the broker thread */
	twin_config_describe(&tp->cfg, options_text, sizeof(options_text));
	mosquitto_log_printf(MOSQ_LOG_INFO, "mosquitto_twin: ready; version=%s %s models=%zu", twin_version(),
			options_text, twin_engine_models_count(tp->engine));
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
	twin_cluster_hook_close(tp); /* no forwarded request reaches the engine after this */
	twin_engine_close(tp->engine); /* the writer commits everything still queued */
	twin_wake_uninstall();
	twin_presence_free(&tp->ws_clients);
	mosquitto_log_printf(MOSQ_LOG_INFO, "mosquitto_twin: store closed, everything committed");
	twin_config_free(&tp->cfg);
	free(tp);
	loaded = false;
	return MOSQ_ERR_SUCCESS;
}
