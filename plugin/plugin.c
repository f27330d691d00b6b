/* plugin.c - Mosquitto's entry points: version negotiation, init (options, store, writer thread,
 * callbacks) and cleanup (flush everything to disk).
 *
 * With per_listener_settings true a plugin line belongs to the listener above it and its callbacks see
 * only that listener's clients, so a broker whose devices and applications use different listeners loads
 * the plugin on each. The first load opens the store; a later one attaches to it as one more instance
 * (struct twin_instance) and may only repeat the first line's options, apart from acl_fallback, which is
 * the listener's own. The last cleanup closes the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "version.h"

#define TWIN_EXPORT __attribute__((visibility("default")))

/* the store, the writer and the wake signal are process-wide: one per broker, shared by the instances */
static struct twin_plugin *shared;

TWIN_EXPORT int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++) {
		if (supported_versions[i] == 5) {
			return 5;
		}
	}
	return -1;
}

static void free_options(struct twin_plugin *tp)
{
	for (int i = 0; i < tp->opt_count; i++) {
		free(tp->opt_keys[i]);
		free(tp->opt_values[i]);
	}
	free(tp->opt_keys);
	free(tp->opt_values);
}

static void free_plugin(struct twin_plugin *tp)
{
	twin_loopback_stop();
	twin_ws_listener_stop();
	twin_cluster_hook_close(tp);   /* no forwarded request reaches the engine after this */
	twin_kafka_hook_close(tp);
	twin_engine_close(tp->engine); /* the writer commits everything still queued */
	twin_wake_uninstall();
	twin_presence_free(&tp->ws_clients);
	twin_config_free(&tp->cfg);
	free_options(tp);
	free(tp);
}

static int refuse(const char *msg)
{
	mosquitto_log_printf(MOSQ_LOG_ERR, "mosquitto_twin: %s", msg);
	mosquitto_log_printf(MOSQ_LOG_ERR, "mosquitto_twin: refusing to load (see the line above)");
	return MOSQ_ERR_INVAL;
}

static void unregister_all(struct twin_instance *ti)
{
	mosquitto_callback_unregister(ti->identifier, MOSQ_EVT_MESSAGE, twin_on_message, NULL);
	if (ti->ticks) {
		mosquitto_callback_unregister(ti->identifier, MOSQ_EVT_TICK, twin_on_tick, NULL);
	}
	mosquitto_callback_unregister(ti->identifier, MOSQ_EVT_DISCONNECT, twin_on_disconnect, NULL);
	twin_acl_unregister(ti);
	mosquitto_callback_unregister(ti->identifier, MOSQ_EVT_RELOAD, twin_on_reload, NULL);
	mosquitto_callback_unregister(ti->identifier, MOSQ_EVT_EXT_AUTH_START, twin_on_ext_auth, NULL);
}

/* Registers an instance's callbacks; the tick only for the first (Mosquitto 2.0.15 and later tick every
 * listener's plugins once per loop pass, and the pass needs one). */
static int register_all(struct twin_instance *ti)
{
	struct twin_plugin *tp = ti->tp;
	int rc = mosquitto_callback_register(ti->identifier, MOSQ_EVT_MESSAGE, twin_on_message, NULL, tp);
	if (rc == MOSQ_ERR_ALREADY_EXISTS) {
		return refuse("the plugin is loaded twice for the same clients: load it once (with "
					  "per_listener_settings true, at most once per listener)");
	}
	if (rc ||
			(ti->ticks && mosquitto_callback_register(ti->identifier, MOSQ_EVT_TICK, twin_on_tick, NULL, tp)) ||
			mosquitto_callback_register(ti->identifier, MOSQ_EVT_DISCONNECT, twin_on_disconnect, NULL, tp) ||
			mosquitto_callback_register(ti->identifier, MOSQ_EVT_ACL_CHECK, twin_on_acl_check, NULL, ti) ||
			mosquitto_callback_register(ti->identifier, MOSQ_EVT_RELOAD, twin_on_reload, NULL, ti) ||
			mosquitto_callback_register(ti->identifier, MOSQ_EVT_EXT_AUTH_START, twin_on_ext_auth, NULL, ti)) {
		unregister_all(ti);
		return refuse("cannot register the broker callbacks");
	}
	return MOSQ_ERR_SUCCESS;
}

static bool copy_options(struct twin_plugin *tp, const struct mosquitto_opt *options, int option_count)
{
	tp->opt_keys = calloc((size_t)option_count + 1, sizeof(*tp->opt_keys));
	tp->opt_values = calloc((size_t)option_count + 1, sizeof(*tp->opt_values));
	if (!tp->opt_keys || !tp->opt_values) {
		return false;
	}
	/* the core's options first, then the cluster's and Kafka's, which are parsed apart (cluster.c, kafka.c) */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < option_count; i++) {
			bool apart = twin_cluster_hook_option(options[i].key) || twin_kafka_hook_option(options[i].key);
			if (apart != (pass == 1)) {
				continue;
			}
			int k = tp->opt_count++;
			tp->opt_keys[k] = strdup(options[i].key);
			tp->opt_values[k] = strdup(options[i].value);
			if (!tp->opt_keys[k] || !tp->opt_values[k]) {
				return false;
			}
		}
		tp->opt_core = pass == 0 ? tp->opt_count : tp->opt_core;
	}
	return true;
}

static void log_ready(const struct twin_plugin *tp)
{
	int migrated = twin_engine_store_migrated_from(tp->engine);
	if (migrated) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"mosquitto_twin: moved the store in %s from format %d to this version's (%s), every twin "
				"kept; versions before 0.2.0 refuse to open it from now on (README: Upgrades and downgrades)",
				tp->cfg.db_path, migrated, twin_version());
	}
	static char options_text[8192]; /* init runs on the broker thread */
	twin_config_describe(&tp->cfg, options_text, sizeof(options_text));
	mosquitto_log_printf(MOSQ_LOG_INFO, "mosquitto_twin: ready; version=%s %s models=%zu", twin_version(),
			options_text, twin_engine_models_count(tp->engine));
}

/* The first plugin line: parses its options, opens the store and starts the threads. */
static int open_shared(const struct mosquitto_opt *options, int option_count)
{
	struct twin_error err = {.rc = TWIN_OK};
	struct twin_plugin *tp = calloc(1, sizeof(*tp));
	if (!tp || !copy_options(tp, options, option_count)) {
		if (tp) {
			free_options(tp);
		}
		free(tp);
		return MOSQ_ERR_NOMEM;
	}
	if (twin_wake_install() != 0) { /* first: the cluster's threads wake the broker thread at once */
		free_plugin(tp);
		return refuse("cannot install the wake-up signal handler");
	}
	if (twin_config_parse(&tp->cfg, (const char *const *)tp->opt_keys,
				(const char *const *)tp->opt_values, tp->opt_core, &err) != TWIN_OK ||
			twin_cluster_hook_open(tp, (const char *const *)tp->opt_keys + tp->opt_core,
					(const char *const *)tp->opt_values + tp->opt_core, tp->opt_count - tp->opt_core,
					&err) != TWIN_OK ||
			twin_kafka_hook_open(tp, (const char *const *)tp->opt_keys + tp->opt_core,
					(const char *const *)tp->opt_values + tp->opt_core, tp->opt_count - tp->opt_core,
					&err) != TWIN_OK) {
		free_plugin(tp);
		return refuse(err.msg);
	}
	if (twin_engine_open(&tp->cfg, twin_wake, NULL, &tp->engine, &err) != TWIN_OK) {
		free_plugin(tp);
		return refuse(err.msg);
	}
	if (twin_loopback_start() != 0) {
		free_plugin(tp);
		return refuse("cannot start the loopback wake thread");
	}
	if (twin_ws_listener_start() != 0) {
		free_plugin(tp);
		return refuse("cannot start the thread that watches websockets listeners");
	}
	shared = tp;
	return MOSQ_ERR_SUCCESS;
}

/* A later plugin line: every option it gives must be the first line's, with the same value, except
 * acl_fallback (parsed with the first line's options, to be checked by the same table). */
static int attach_options(struct twin_instance *ti, const struct mosquitto_opt *options, int option_count)
{
	struct twin_plugin *tp = ti->tp;
	const char *acl_fallback = NULL;
	for (int i = 0; i < option_count; i++) {
		if (!strcmp(options[i].key, "acl_fallback")) {
			acl_fallback = options[i].value;
			continue;
		}
		int j = 0;
		while (j < tp->opt_count && strcmp(tp->opt_keys[j], options[i].key)) {
			j++;
		}
		if (j == tp->opt_count || strcmp(tp->opt_values[j], options[i].value)) {
			char msg[512];
			snprintf(msg, sizeof(msg),
					"plugin_opt_%s on a later plugin line differs from the first line's; the plugin "
					"has one store per broker: give its options on the first plugin line (a later one "
					"may repeat them, and may set its listener's own acl_fallback)",
					options[i].key);
			return refuse(msg);
		}
	}
	ti->acl_fallback = tp->cfg.acl_fallback;
	if (acl_fallback) {
		const char *key = "acl_fallback";
		struct twin_config cfg = {0};
		struct twin_error err = {.rc = TWIN_OK};
		if (twin_config_parse(&cfg, &key, &acl_fallback, 1, &err) != TWIN_OK) {
			twin_config_free(&cfg);
			return refuse(err.msg);
		}
		ti->acl_fallback = cfg.acl_fallback;
		twin_config_free(&cfg);
	}
	return MOSQ_ERR_SUCCESS;
}

TWIN_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	bool first = shared == NULL;
	int rc = first ? open_shared(options, option_count) : MOSQ_ERR_SUCCESS;
	if (rc) {
		return rc;
	}
	struct twin_instance *ti = calloc(1, sizeof(*ti));
	if (!ti) {
		rc = MOSQ_ERR_NOMEM;
	} else {
		ti->tp = shared;
		ti->identifier = identifier;
		ti->acl_fallback = shared->cfg.acl_fallback;
		ti->ticks = first;
		rc = first ? MOSQ_ERR_SUCCESS : attach_options(ti, options, option_count);
	}
	if (!rc) {
		ti->next = shared->instances;
		shared->instances = ti;
		rc = register_all(ti);
		if (rc) {
			shared->instances = ti->next;
		}
	}
	if (rc) {
		free(ti);
		if (first) {
			free_plugin(shared);
			shared = NULL;
		}
		return rc;
	}
	if (first) {
		log_ready(shared);
	} else {
		mosquitto_log_printf(MOSQ_LOG_INFO,
				"mosquitto_twin: loaded again for another listener, sharing the first plugin line's "
				"store (acl_fallback=%s)",
				ti->acl_fallback == TWIN_ACL_FALLBACK_ALLOW   ? "allow"
						: ti->acl_fallback == TWIN_ACL_FALLBACK_DEFER ? "defer"
																	  : "auto");
	}
	*userdata = ti;
	return MOSQ_ERR_SUCCESS;
}

TWIN_EXPORT int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options,
		int option_count)
{
	struct twin_instance *ti = userdata;
	(void)options;
	(void)option_count;
	if (!ti) {
		return MOSQ_ERR_SUCCESS;
	}
	struct twin_plugin *tp = ti->tp;
	unregister_all(ti);
	struct twin_instance **p = &tp->instances;
	while (*p != ti) {
		p = &(*p)->next;
	}
	*p = ti->next;
	free(ti);
	if (!tp->instances) {
		free_plugin(tp);
		shared = NULL;
		mosquitto_log_printf(MOSQ_LOG_INFO, "mosquitto_twin: store closed, everything committed");
	}
	return MOSQ_ERR_SUCCESS;
}
