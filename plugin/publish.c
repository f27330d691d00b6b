/* publish.c - the only caller of mosquitto_broker_publish_copy: turns the core's outbound messages into
 * broker publishes (targeted to the requester, or broadcast for device messages) with the MQTT v5
 * properties of an answer (correlation data, content type, user property status), and its logs into
 * mosquitto_log_printf lines. */
#include <stdio.h>

#include <mqtt_protocol.h>

#include "plugin.h"

static int log_level(enum twin_log_level level)
{
	switch (level) {
		case TWIN_LOG_INFO:
			return MOSQ_LOG_INFO;
		case TWIN_LOG_NOTICE:
			return MOSQ_LOG_NOTICE;
		case TWIN_LOG_WARNING:
			return MOSQ_LOG_WARNING;
		case TWIN_LOG_ERR:
			return MOSQ_LOG_ERR;
	}
	return MOSQ_LOG_INFO;
}

static void publish_one(struct twin_plugin *tp, const struct twin_out *o)
{
	mosquitto_property *props = NULL;
	int rc = MOSQ_ERR_SUCCESS;
	if (o->corr_len) {
		rc = mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, o->corr, o->corr_len);
	}
	if (!rc && o->status > 0) { /* answers: content type and status; device messages and events go bare */
		rc = mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "application/json");
	}
	if (!rc && o->status > 0) {
		char status[16];
		snprintf(status, sizeof(status), "%d", o->status);
		rc = mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "status", status);
	}
	if (!rc) {
		rc = mosquitto_broker_publish_copy(o->target, o->topic, (int)o->payload_len, o->payload,
				o->qos, o->retain, props);
	}
	if (!rc) {
		twin_ws_sent(tp, o);
	} else {
		mosquitto_property_free_all(&props);
		mosquitto_log_printf(MOSQ_LOG_WARNING, "mosquitto_twin: could not publish to '%s': %s",
				o->topic, mosquitto_strerror(rc));
	}
}

void twin_publish_pending(struct twin_plugin *tp)
{
	struct twin_out *o;
	while ((o = twin_engine_take(tp->engine)) != NULL || (o = twin_cluster_hook_take(tp)) != NULL ||
			(o = twin_kafka_hook_take(tp)) != NULL) {
		if (twin_cluster_hook_claim(tp, o)) {
			/* the answer to another shard's request: sent back to it */
		} else if (o->kind == TWIN_OUT_LOG) {
			mosquitto_log_printf(log_level(o->level), "%s", o->payload);
		} else {
			twin_cluster_hook_event(tp, o);
			twin_kafka_hook_event(tp, o);
			publish_one(tp, o);
		}
		twin_out_free(o);
	}
}
