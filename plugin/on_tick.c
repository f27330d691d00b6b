/* on_tick.c - MOSQ_EVT_TICK (end of every broker loop pass) and MOSQ_EVT_DISCONNECT. The tick publishes
 * what the writer has finished; when nothing is waiting it costs one atomic load. */
#include "plugin.h"

int twin_on_tick(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	twin_wake_acknowledge();
	twin_publish_pending(userdata);
	return MOSQ_ERR_SUCCESS;
}

int twin_on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	struct twin_plugin *tp = userdata;
	(void)event;
	twin_engine_client_gone(tp->engine, mosquitto_client_id(ed->client));
	return MOSQ_ERR_SUCCESS;
}
