/* cluster_off.c - the cluster hooks of a build without -DTWIN_CLUSTER (the default): a single broker,
 * no NATS; a plugin_opt_cluster_* line is an unknown option, refused by the config parser. */
#include "plugin.h"

bool twin_cluster_hook_option(const char *key)
{
	(void)key;
	return false;
}

enum twin_rc twin_cluster_hook_open(struct twin_plugin *tp, const char *const *keys,
		const char *const *values, int n, struct twin_error *err)
{
	(void)tp;
	(void)keys;
	(void)values;
	(void)n;
	(void)err;
	return TWIN_OK;
}

void twin_cluster_hook_close(struct twin_plugin *tp)
{
	(void)tp;
}

int twin_cluster_hook_telemetry(bool *apply, struct twin_plugin *tp, const struct twin_topic_match *m,
		const char *client_id, const char *username)
{
	(void)tp;
	(void)m;
	(void)client_id;
	(void)username;
	*apply = true;
	return MOSQ_ERR_SUCCESS;
}

bool twin_cluster_hook_request(struct twin_plugin *tp, const struct twin_topic_match *m,
		const struct twin_request_in *in)
{
	(void)tp;
	(void)m;
	(void)in;
	return false;
}

void twin_cluster_hook_tick(struct twin_plugin *tp)
{
	(void)tp;
}

void twin_cluster_hook_event(struct twin_plugin *tp, const struct twin_out *o)
{
	(void)tp;
	(void)o;
}

bool twin_cluster_hook_claim(struct twin_plugin *tp, const struct twin_out *o)
{
	(void)tp;
	(void)o;
	return false;
}

struct twin_out *twin_cluster_hook_take(struct twin_plugin *tp)
{
	(void)tp;
	return NULL;
}
