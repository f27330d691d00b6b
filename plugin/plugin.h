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

struct twin_plugin {
	mosquitto_plugin_id_t *identifier;
	struct twin_config cfg;
	struct twin_engine *engine;
	bool acl_decided;             /* whether checks no ACL decides are allowed has been settled */
	bool acl_allow_undecided;     /* ... and the answer */
	bool acl_fallback_registered; /* the callback that allows them is in the broker's list */
	struct twin_presence *ws_clients; /* client ids of requesters on a websockets listener (websockets.c) */
	unsigned long ws_passes;          /* loop passes the answers sent to them still need */
};

int twin_on_message(int event, void *event_data, void *userdata);
int twin_on_tick(int event, void *event_data, void *userdata);
int twin_on_disconnect(int event, void *event_data, void *userdata);
int twin_on_acl_check(int event, void *event_data, void *userdata);
int twin_on_reload(int event, void *event_data, void *userdata);
/* After a configuration reload: the allow-what-nobody-decides callback goes to the end again (on_acl.c). */
void twin_acl_reloaded(struct twin_plugin *tp);
/* Removes both ACL callbacks (see on_acl.c). */
void twin_acl_unregister(struct twin_plugin *tp);

/* Publishes (or logs) everything the engine has waiting. */
void twin_publish_pending(struct twin_plugin *tp);

/* Waking the broker thread from the writer thread (see wake.c). */
int twin_wake_install(void);
void twin_wake_uninstall(void);
void twin_wake(void *ctx);
void twin_wake_acknowledge(void);
/* Interrupts the broker's epoll_wait every few tens of microseconds while on (see wake.c). */
void twin_wake_pace(bool on);

/* Answers to websockets clients (see websockets.c): a request's client, a disconnect, a targeted answer
 * published, and the end of a loop pass (turns the pacer on or off). */
void twin_ws_requester(struct twin_plugin *tp, const struct mosquitto *client);
void twin_ws_gone(struct twin_plugin *tp, const struct mosquitto *client);
void twin_ws_sent(struct twin_plugin *tp, const struct twin_out *o);
void twin_ws_tick(struct twin_plugin *tp);

#endif
