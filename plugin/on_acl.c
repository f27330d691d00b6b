/* on_acl.c - MOSQ_EVT_ACL_CHECK: nobody but the plugin publishes on the plugin's own topics (answers,
 * events, devices/{id}/desired, the fronts' answers and pushes), whatever the ACL file or dynamic-security
 * allow. MOSQ_EVT_MESSAGE alone cannot promise that: Mosquitto 2.0 publishes a client's Will after a WRITE
 * check only, never through MOSQ_EVT_MESSAGE.
 *
 * Every other check is left to the broker's own ACLs, exactly as without the plugin. Mosquitto 2.0 asks
 * the ACL callbacks in registration order, the first answer other than DEFER decides, and a check that
 * every callback defers is denied, while one that no callback sees is allowed. So the guard, registered at
 * init ahead of the acl_file check and of plugins loaded after this one, denies or defers; and, when no
 * other plugin can decide (plugin_opt_acl_fallback), a second callback at the end of the list allows what
 * reached it. It is appended at the first check, once every plugin and the acl_file check are registered,
 * and again after each configuration reload, which registers the acl_file check anew (at the end). An
 * acl_file check never defers, so the fallback answers only where Mosquitto alone would have allowed. */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "plugin.h"

struct other_plugin {
	const char *self; /* this plugin's file, as the dynamic loader names it */
	char name[200];   /* the first other plugin found, for the log */
};

/* dl_iterate_phdr callback: stops (1) at the first loaded object, not this one, that is a Mosquitto plugin
 * (current or legacy auth plugin API). */
static int find_other_plugin(struct dl_phdr_info *info, size_t size, void *data)
{
	static const char *const entry_points[] = {"mosquitto_plugin_init", "mosquitto_auth_plugin_init"};
	struct other_plugin *found = data;
	(void)size;
	if (!info->dlpi_name || !info->dlpi_name[0] || (found->self && !strcmp(info->dlpi_name, found->self))) {
		return 0; /* the broker itself, or this plugin */
	}
	void *h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
	if (!h) {
		return 0;
	}
	int hit = 0;
	for (size_t i = 0; i < sizeof(entry_points) / sizeof(entry_points[0]) && !hit; i++) {
		hit = dlsym(h, entry_points[i]) != NULL;
	}
	dlclose(h);
	if (hit) {
		const char *base = strrchr(info->dlpi_name, '/');
		snprintf(found->name, sizeof(found->name), "%s", base ? base + 1 : info->dlpi_name);
	}
	return hit;
}

static int allow_undecided(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	(void)userdata;
	return MOSQ_ERR_SUCCESS;
}

/* Decides once, at the first check, whether the fallback callback is wanted; logs the decision. */
static bool fallback_wanted(struct twin_instance *ti)
{
	if (ti->acl_decided) {
		return ti->acl_allow_undecided;
	}
	struct other_plugin other = {0};
	static const char anchor = 0; /* any object of this plugin, to find its file */
	Dl_info me;
	if (dladdr(&anchor, &me)) {
		other.self = me.dli_fname;
	}
	bool others = dl_iterate_phdr(find_other_plugin, &other) != 0;
	switch (ti->acl_fallback) {
		case TWIN_ACL_FALLBACK_ALLOW:
			ti->acl_allow_undecided = true;
			break;
		case TWIN_ACL_FALLBACK_DEFER:
			ti->acl_allow_undecided = false;
			break;
		case TWIN_ACL_FALLBACK_AUTO:
			ti->acl_allow_undecided = !others;
			break;
	}
	ti->acl_decided = true;
	if (ti->acl_allow_undecided) {
		mosquitto_log_printf(MOSQ_LOG_INFO,
				"mosquitto_twin: only the plugin publishes on its own topics; every other topic is "
				"decided by acl_file if set, else allowed (acl_fallback=%s)",
				ti->acl_fallback == TWIN_ACL_FALLBACK_AUTO ? "auto, no other plugin loaded"
																: "allow");
	} else {
		mosquitto_log_printf(MOSQ_LOG_INFO,
				"mosquitto_twin: only the plugin publishes on its own topics; every other topic is "
				"decided by acl_file or the other plugins, denied if none decides (acl_fallback=%s%s)",
				ti->acl_fallback == TWIN_ACL_FALLBACK_AUTO ? "auto, other plugin loaded: " : "defer",
				ti->acl_fallback == TWIN_ACL_FALLBACK_AUTO ? other.name : "");
	}
	return ti->acl_allow_undecided;
}

int twin_on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	struct twin_instance *ti = userdata;
	(void)event;
	if (!ti->acl_fallback_registered && fallback_wanted(ti)) {
		/* appended behind every callback registered so far: asked only when all of them defer */
		ti->acl_fallback_registered = mosquitto_callback_register(ti->identifier, MOSQ_EVT_ACL_CHECK,
				allow_undecided, NULL, ti) == MOSQ_ERR_SUCCESS;
	}
	if (ed->access == MOSQ_ACL_WRITE && twin_engine_refuses_write(ti->tp->engine, ed->topic)) {
		return MOSQ_ERR_ACL_DENIED;
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}

void twin_acl_reloaded(struct twin_instance *ti)
{
	/* the reload registers the acl_file check again, at the end of the list: the fallback must follow it */
	if (ti->acl_fallback_registered) {
		mosquitto_callback_unregister(ti->identifier, MOSQ_EVT_ACL_CHECK, allow_undecided, NULL);
		ti->acl_fallback_registered = false;
	}
}

void twin_acl_unregister(struct twin_instance *ti)
{
	mosquitto_callback_unregister(ti->identifier, MOSQ_EVT_ACL_CHECK, twin_on_acl_check, NULL);
	if (ti->acl_fallback_registered) {
		mosquitto_callback_unregister(ti->identifier, MOSQ_EVT_ACL_CHECK, allow_undecided, NULL);
		ti->acl_fallback_registered = false;
	}
}
