/* on_tick.c - MOSQ_EVT_TICK (end of every broker loop pass) and MOSQ_EVT_DISCONNECT. The tick releases
 * held-back telemetry whose device is within its rate again, publishes what the writer has finished and
 * keeps the loop turning while an answer to a websockets client is still going out (websockets.c); when
 * nothing is waiting it costs a few loads and an atomic load. */
#include "plugin.h"

int twin_on_tick(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	struct twin_plugin *tp = userdata;
	twin_wake_acknowledge();
	twin_engine_tick(tp->engine);
	twin_publish_pending(tp);
	twin_ws_tick(tp);
	return MOSQ_ERR_SUCCESS;
}

int twin_on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	struct twin_plugin *tp = userdata;
	(void)event;
	twin_engine_client_gone(tp->engine, mosquitto_client_id(ed->client),
			mosquitto_client_username(ed->client));
	twin_ws_gone(tp, ed->client);
	return MOSQ_ERR_SUCCESS;
}
