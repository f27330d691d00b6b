/* plugin.h - the glue between Mosquitto and the core: the plugin state and the broker callbacks.
 * Only plugin/ includes Mosquitto's headers. */
#ifndef TWIN_PLUGIN_H
#define TWIN_PLUGIN_H

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "config.h"
#include "engine.h"

struct twin_plugin {
	mosquitto_plugin_id_t *identifier;
	struct twin_config cfg;
	struct twin_engine *engine;
	bool acl_decided;             /* whether checks no ACL decides are allowed has been settled */
	bool acl_allow_undecided;     /* ... and the answer */
	bool acl_fallback_registered; /* the callback that allows them is in the broker's list */
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

#endif
