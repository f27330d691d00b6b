/* on_message.c - MOSQ_EVT_MESSAGE, called for every PUBLISH a client sends (after the broker's WRITE ACL
 * check). Telemetry and gateway batches are handed to the core and let through unchanged; $twin
 * and Azure requests are answered and consumed; AWS shadow requests are answered and let through, never
 * retained, as AWS does. Returns only
 * MOSQ_ERR_SUCCESS or MOSQ_ERR_ACL_DENIED: any other code would disconnect the publisher. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <mqtt_protocol.h>

#include "plugin.h"

/* Frees what mosquitto_property_read_* returned. Where the broker exports them (Debian 12's 2.0.11) they
 * allocate in the broker's counted heap: mosquitto_free. Where it does not (2.0.21 exports only its
 * plugin API) they are libmosquitto's, which allocates with plain malloc: free, or the broker's heap count
 * (and memory_limit) would drift. */
static void free_read(void *p)
{
	static int from_lib = -1;
	if (from_lib < 0) {
		const mosquitto_property *(*fn)(const mosquitto_property *, int, char **, bool) =
				mosquitto_property_read_string;
		void *addr;
		Dl_info info;
		memcpy(&addr, &fn, sizeof(addr));
		from_lib = dladdr(addr, &info) && info.dli_fname && strstr(info.dli_fname, "libmosquitto") != NULL;
	}
	if (from_lib) {
		free(p);
	} else {
		mosquitto_free(p);
	}
}

static void handle_request(struct twin_plugin *tp, const struct twin_topic_match *m,
		struct mosquitto_evt_message *ed)
{
	char *response_topic = NULL;
	void *corr = NULL;
	uint16_t corr_len = 0;
	mosquitto_property_read_string(ed->properties, MQTT_PROP_RESPONSE_TOPIC, &response_topic, false);
	mosquitto_property_read_binary(ed->properties, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false);
	struct twin_request_in in = {
			.client_id = mosquitto_client_id(ed->client),
			.username = mosquitto_client_username(ed->client),
			.topic = ed->topic,
			.payload = ed->payload,
			.payload_len = ed->payloadlen,
			.response_topic = response_topic,
			.corr = corr,
			.corr_len = corr_len,
	};
	twin_ws_requester(tp, ed->client);
	if (!twin_cluster_hook_request(tp, m, &in)) {
		twin_engine_request(tp->engine, m, &in);
	}
	free_read(response_topic);
	free_read(corr);
	twin_publish_pending(tp);
}

static int handle_telemetry(struct twin_plugin *tp, const struct twin_topic_match *m,
		const struct mosquitto_evt_message *ed)
{
	bool apply;
	int rc = twin_cluster_hook_telemetry(&apply, tp, m, mosquitto_client_id(ed->client),
			mosquitto_client_username(ed->client));
	if (apply) {
		twin_engine_telemetry(tp->engine, m, mosquitto_client_id(ed->client),
				mosquitto_client_username(ed->client), ed->payload, ed->payloadlen);
	}
	return rc; /* not applied: another shard's twin (passed on), or its slot is moving (refused) */
}

int twin_on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct twin_plugin *tp = userdata;
	struct twin_topic_match m;
	(void)event;
	twin_loopback_report();
	/* the ACL check (on_acl.c) already refused clients; a bridge's messages skip it and arrive here */
	if (twin_engine_refuses_write(tp->engine, ed->topic)) {
		return MOSQ_ERR_ACL_DENIED; /* nobody may forge answers, events or desired pushes */
	}
	twin_engine_classify(tp->engine, ed->topic, &m);
	switch (m.route) {
		case TWIN_ROUTE_NONE:
			return MOSQ_ERR_SUCCESS;
		case TWIN_ROUTE_TELEMETRY:
			return handle_telemetry(tp, &m, ed);
		case TWIN_ROUTE_GATEWAY:
			twin_engine_gateway(tp->engine, mosquitto_client_id(ed->client), ed->payload,
					ed->payloadlen);
			return MOSQ_ERR_SUCCESS;
		case TWIN_ROUTE_REQUEST:
			handle_request(tp, &m, ed);
			if (m.front == TWIN_FRONT_AWS) {
				/* as in AWS, subscribers of a shadow's request topic see the request (never retained); and
				 * an MQTT 5 client's QoS 1 request gets a PUBACK of success, which the v2 SDK insists on */
				ed->retain = false;
				return MOSQ_ERR_SUCCESS;
			}
			return MOSQ_ERR_ACL_DENIED; /* consumed: never stored, retained or forwarded */
		case TWIN_ROUTE_RESERVED: /* an owned topic: refused above */
			return MOSQ_ERR_ACL_DENIED;
	}
	return MOSQ_ERR_SUCCESS;
}
