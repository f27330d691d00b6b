/* config.h - the plugin's settings (plugin_opt_* lines), parsed and validated from key/value strings. */
#ifndef TWIN_CONFIG_H
#define TWIN_CONFIG_H

#include <stdbool.h>

#include "topic.h"
#include "twin_common.h"

#define TWIN_DEFAULT_TELEMETRY_TOPIC "devices/+/telemetry"

/* Where a telemetry pattern without a '+' level takes the twin id from. */
enum twin_id_source { TWIN_ID_FROM_CLIENT_ID, TWIN_ID_FROM_USERNAME };

/* What telemetry that breaks its twin's model does (plugin_opt_model_reported). */
enum twin_model_reported {
	TWIN_MODEL_REPORTED_WARN,   /* applied, with an `invalid` event, counted */
	TWIN_MODEL_REPORTED_REJECT, /* not applied, with an `invalid` event, counted */
};

/* Who decides a check on a topic that is not the plugin's, when no other ACL does (see plugin/on_acl.c). */
enum twin_acl_fallback {
	TWIN_ACL_FALLBACK_AUTO,  /* allow, unless another plugin is loaded: then leave it to that plugin */
	TWIN_ACL_FALLBACK_ALLOW, /* allow, as Mosquitto does without any ACL */
	TWIN_ACL_FALLBACK_DEFER, /* leave it to the other plugins (Mosquitto denies if they all pass) */
};

struct twin_config {
	char *db_path;
	char *telemetry_topics[TWIN_MAX_TELEMETRY_TOPICS]; /* each plugin_opt_telemetry_topic line, in order */
	int n_telemetry_topics;                            /* none given: the default pattern alone */
	enum twin_id_source telemetry_id_from;
	char *gateway_topic; /* ThingsBoard-gateway style batches of several devices, or NULL */
	size_t map_size;
	size_t map_size_max;
	int64_t commit_interval_ms;
	size_t max_twin_bytes;
	int max_depth;
	int64_t max_readings; /* readings in one telemetry message (an array of them) */
	bool retain_desired;
	size_t queue_size;  /* entries waiting for the writer: twins with telemetry waiting, and requests */
	size_t queue_bytes; /* bytes of messages waiting for the writer */
	bool events;
	int history_max;
	int64_t history_max_age_s;
	int64_t max_twins;               /* creating one more is refused (507) */
	int64_t telemetry_rate;          /* messages per second per device applied to its twin; 0: no limit */
	int64_t request_rate_per_twin;   /* $twin requests per second per twin id; 0: no limit */
	int64_t request_rate_per_client; /* $twin requests per second per client id; 0: no limit */
	int64_t sys_interval;            /* seconds between metrics reports ($SYS, metrics_file); 0: none */
	char *metrics_file;              /* Prometheus text file rewritten every report, or NULL */
	bool aws_shadow;                 /* the AWS Device Shadow front ($aws/things/...) */
	bool azure_twin;                 /* the Azure IoT Hub device twin front ($iothub/twin/...) */
	enum twin_acl_fallback acl_fallback;
	char *search_scope;              /* which twins a requester's search sees (scope.h), or NULL: all */
	char *search_scope_exempt;       /* usernames whose searches see every twin, comma-separated */
	int64_t search_queue_size;       /* searches waiting for the search thread; past it: 503 */
	int64_t search_timeout_ms;       /* a running search's deadline (its wait for writes included) */
	char *models_dir;                /* the model files (model.h), or NULL: no models */
	char *default_model;             /* the model of twins whose attributes name none, or NULL */
	enum twin_model_reported model_reported;
};

/* Fills cfg with defaults, then applies each key/value pair. Unknown keys and invalid values fail with
 * TWIN_ERR_CONFIG and a message naming the option. cfg owns its strings: release with twin_config_free. */
enum twin_rc twin_config_parse(struct twin_config *cfg, const char *const *keys,
		const char *const *values, int n, struct twin_error *err);
/* Every option as name=value, space-separated, in the order of the option table (the plugin's ready log
 * line); cut short at size. */
void twin_config_describe(const struct twin_config *cfg, char *buf, size_t size);
void twin_config_free(struct twin_config *cfg);

#endif
