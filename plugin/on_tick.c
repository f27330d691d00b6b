/* on_tick.c - MOSQ_EVT_TICK (end of every broker loop pass) and MOSQ_EVT_DISCONNECT. The tick releases
 * held-back telemetry whose device is within its rate again, publishes what the writer has finished and
 * keeps the loop turning while the pacer's budget lasts (wake.c: answers to websockets clients, the
 * sockets of websockets listeners, ws_listener.c), in a fleet hands over what other shards answered
 * (cluster hooks), and runs the Kafka sink's delivery reports (kafka hooks); the pacer also keeps it
 * turning when a wake-up came during the tick (wake.c). When nothing is waiting it costs a few loads and
 * atomic loads. A broker that runs no tick has the same work (twin_run_pending) run from the loopback
 * connection's wake-ups instead (loopback.c). */
#include "plugin.h"

int twin_on_tick(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	struct twin_plugin *tp = userdata;
	twin_loopback_ticked();
	twin_run_pending(tp);
	twin_ws_listener_tick();
	twin_wake_pace_tick(); /* also when a wake-up came during this tick (wake.c) */
	return MOSQ_ERR_SUCCESS;
}

void twin_run_pending(struct twin_plugin *tp)
{
	twin_wake_acknowledge();
	twin_engine_tick(tp->engine);
	twin_cluster_hook_tick(tp);
	twin_kafka_hook_tick(tp);
	twin_publish_pending(tp);
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
