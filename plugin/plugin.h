/* plugin.h - the glue between Mosquitto and the core: the plugin state and the broker callbacks.
 * Only plugin/ includes Mosquitto's headers. */
#ifndef TWIN_PLUGIN_H
#define TWIN_PLUGIN_H

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "config.h"
#include "engine.h"
#include "presence.h"

/* One `plugin` line. With per_listener_settings true every listener has its own plugin lines and its
 * callbacks see only that listener's clients, so the plugin may be loaded once per listener: each load is
 * an instance with its own callbacks and ACL fallback, all sharing the one store (struct twin_plugin). */
struct twin_instance {
	struct twin_plugin *tp;
	mosquitto_plugin_id_t *identifier;
	enum twin_acl_fallback acl_fallback; /* this line's plugin_opt_acl_fallback, else the first line's */
	bool acl_decided;             /* whether checks no ACL decides are allowed has been settled */
	bool acl_allow_undecided;     /* ... and the answer */
	bool acl_fallback_registered; /* the callback that allows them is in the broker's list */
	bool ticks;                   /* the first line's: its tick drives the plugin (one per loop pass) */
	struct twin_instance *next;
};

struct twin_plugin {
	struct twin_config cfg;
	char **opt_keys; /* the first plugin line's options, which a later line may only repeat */
	char **opt_values;
	int opt_count;
	int opt_core; /* the first opt_core of them are the core's, the rest the cluster's */
	struct twin_engine *engine;
	struct twin_instance *instances;
	struct twin_presence *ws_clients; /* client ids of requesters on a websockets listener (websockets.c) */
	struct twin_cluster_hook *cluster; /* this broker as a shard of a fleet, or NULL (cluster.c) */
	struct twin_kafka_hook *kafka;     /* the Kafka sink, or NULL (kafka.c) */
};

int twin_on_message(int event, void *event_data, void *userdata);
int twin_on_tick(int event, void *event_data, void *userdata);
int twin_on_disconnect(int event, void *event_data, void *userdata);
int twin_on_acl_check(int event, void *event_data, void *userdata);
int twin_on_reload(int event, void *event_data, void *userdata);
int twin_on_ext_auth(int event, void *event_data, void *userdata); /* loopback.c */
/* After a configuration reload: the allow-what-nobody-decides callback goes to the end again (on_acl.c). */
void twin_acl_reloaded(struct twin_instance *ti);
/* Removes both ACL callbacks (see on_acl.c). */
void twin_acl_unregister(struct twin_instance *ti);

/* Publishes (or logs) everything the engine has waiting. */
void twin_publish_pending(struct twin_plugin *tp);
/* What every broker loop pass runs (on_tick.c): held-back telemetry, then the engine's messages. */
void twin_run_pending(struct twin_plugin *tp);

/* Waking the broker thread from the writer thread (see wake.c). */
int twin_wake_install(void);
void twin_wake_uninstall(void);
void twin_wake(void *ctx);
void twin_wake_acknowledge(void);
/* The pacer (see wake.c): interrupts the broker's epoll_wait every few tens of microseconds for the next
 * `passes` loop passes (any thread; added to what is left); every tick spends one, or keeps it running
 * when a wake-up came during the tick (broker thread). */
void twin_wake_pace_add(unsigned long passes);
void twin_wake_pace_tick(void);

/* The loopback wake connection, for a broker that runs no tick (see loopback.c): started with the first
 * instance, told of every tick, asked to wake the broker thread by twin_wake, stopped at cleanup. */
int twin_loopback_start(void);
void twin_loopback_ticked(void);
void twin_loopback_wake(void);
void twin_loopback_stop(void);
/* Logs, once, that the loopback connection found no listener to connect to (broker thread). */
void twin_loopback_report(void);

/* Answers to websockets clients (see websockets.c): a request's client, a disconnect, a targeted answer
 * published (adds the passes it needs to the pacer's budget). */
void twin_ws_requester(struct twin_plugin *tp, const struct mosquitto *client);
void twin_ws_gone(struct twin_plugin *tp, const struct mosquitto *client);
void twin_ws_sent(struct twin_plugin *tp, const struct twin_out *o);

/* The sockets of websockets listeners that the broker's loop does not watch (see ws_listener.c): a thread
 * started at init that begins at the first tick, the tick's hand-over (broker thread), stopped at cleanup. */
int twin_ws_listener_start(void);
void twin_ws_listener_tick(void);
void twin_ws_listener_stop(void);

/* Scale-out (cluster.c with -DTWIN_CLUSTER=ON, else cluster_off.c, where they do nothing). */
bool twin_cluster_hook_option(const char *key);
enum twin_rc twin_cluster_hook_open(struct twin_plugin *tp, const char *const *keys,
		const char *const *values, int n, struct twin_error *err);
void twin_cluster_hook_close(struct twin_plugin *tp);
/* *apply: whether the engine applies the telemetry here; the result is what the MESSAGE callback returns:
 * SUCCESS (also for another shard's twin: counted, passed on, not applied), or ADMINISTRATIVE_ACTION for
 * a slot being moved (not applied; the sender is disconnected unacknowledged and sends it again to the
 * new owner). */
int twin_cluster_hook_telemetry(bool *apply, struct twin_plugin *tp, const struct twin_topic_match *m,
		const char *client_id, const char *username);
/* True: the request was forwarded to the shard owning its twin (or answered here). */
bool twin_cluster_hook_request(struct twin_plugin *tp, const struct twin_topic_match *m,
		const struct twin_request_in *in);
void twin_cluster_hook_tick(struct twin_plugin *tp);
/* o is about to be published: a twin change event also goes to the JetStream stream (cluster_events). */
void twin_cluster_hook_event(struct twin_plugin *tp, const struct twin_out *o);
/* True: o answers a request forwarded here and went back to its shard (free it, do not publish). */
bool twin_cluster_hook_claim(struct twin_plugin *tp, const struct twin_out *o);
struct twin_out *twin_cluster_hook_take(struct twin_plugin *tp);

/* The Kafka sink (kafka.c with -DTWIN_KAFKA=ON, else kafka_off.c, where they do nothing): its options,
 * opened after the cluster's from the same options (each takes its own keys), every message about to be
 * published, every tick, and its log lines and $SYS report to publish. */
bool twin_kafka_hook_option(const char *key);
enum twin_rc twin_kafka_hook_open(struct twin_plugin *tp, const char *const *keys, const char *const *values,
		int n, struct twin_error *err);
void twin_kafka_hook_close(struct twin_plugin *tp);
void twin_kafka_hook_event(struct twin_plugin *tp, const struct twin_out *o);
void twin_kafka_hook_tick(struct twin_plugin *tp);
struct twin_out *twin_kafka_hook_take(struct twin_plugin *tp);

#endif
