/* on_reload.c - MOSQ_EVT_RELOAD (SIGHUP, or a reload by the service manager): the model files are read
 * again (a bad one leaves the models in force, and says which file and where), and the ACL fallback is
 * put back at the end of the broker's check list. */
#include "plugin.h"

int twin_on_reload(int event, void *event_data, void *userdata)
{
	struct twin_instance *ti = userdata;
	struct twin_plugin *tp = ti->tp;
	struct twin_error err;
	size_t count = 0;
	(void)event;
	(void)event_data;
	twin_acl_reloaded(ti);
	if (ti->ticks && tp->cfg.models_dir) { /* once, though every listener's instance is told */
		if (twin_engine_reload_models(tp->engine, &count, &err) == TWIN_OK) {
			mosquitto_log_printf(MOSQ_LOG_INFO, "mosquitto_twin: models reloaded: %zu from %s", count,
					tp->cfg.models_dir);
		} else {
			mosquitto_log_printf(MOSQ_LOG_ERR,
					"mosquitto_twin: models not reloaded, the previous ones stay in force: %s", err.msg);
		}
	}
	return MOSQ_ERR_PLUGIN_DEFER; /* anything else would stop the other plugins' reload */
}
