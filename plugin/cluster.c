/* cluster.c - the glue between the broker and src/cluster.c when built with -DTWIN_CLUSTER=ON: reads the
 * plugin_opt_cluster_* lines, drops telemetry of foreign twins before the engine sees it (and refuses
 * that of a slot being moved), kicks the devices of a moved slot, forwards requests for foreign twins,
 * hands change events to the JetStream stream, and on every tick runs what other shards forwarded here. */
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "plugin.h"

struct twin_cluster_hook {
	struct twin_cluster_config cfg;
	struct twin_cluster *cluster;
};

/* A moved slot's device (the client with the twin's id as client id, or username with
 * telemetry_id_from username), so that it reconnects through HAProxy to the new owner. */
static void kick(void *ctx, const char *id)
{
	const struct twin_plugin *tp = ctx;
	if (tp->cfg.telemetry_id_from == TWIN_ID_FROM_USERNAME) {
		mosquitto_kick_client_by_username(id, false);
	} else {
		mosquitto_kick_client_by_clientid(id, false);
	}
}

bool twin_cluster_hook_option(const char *key)
{
	return twin_cluster_option(key);
}

enum twin_rc twin_cluster_hook_open(struct twin_plugin *tp, const char *const *keys,
		const char *const *values, int n, struct twin_error *err)
{
	bool configured;
	struct twin_cluster_hook *h = calloc(1, sizeof(*h));
	if (!h) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	enum twin_rc rc = twin_cluster_config_parse(&h->cfg, keys, values, n, &configured, err);
	if (rc != TWIN_OK || !configured) {
		twin_cluster_config_free(&h->cfg); /* its defaults */
		free(h); /* not a shard: a single broker, exactly as without the cluster build */
		return rc;
	}
	h->cfg.db_path = tp->cfg.db_path;
	if (h->cfg.events && !tp->cfg.events) {
		rc = twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_cluster_events on needs plugin_opt_events true "
				"(the stream carries the $twin/{id}/events messages)");
	} else {
		rc = twin_cluster_open(&h->cfg, twin_wake, NULL, &h->cluster, err);
	}
	if (rc != TWIN_OK) {
		twin_cluster_config_free(&h->cfg);
		free(h);
		return rc;
	}
	twin_cluster_set_kick(h->cluster, kick, tp);
	tp->cluster = h;
	mosquitto_log_printf(MOSQ_LOG_INFO,
			"mosquitto_twin: cluster shard %s: slots %s of %lld; nats=%s subject=%s timeout_ms=%lld "
			"events=%s",
			h->cfg.shard, h->cfg.slots, (long long)h->cfg.nslots, h->cfg.nats ? h->cfg.nats : "(none)",
			h->cfg.subject, (long long)h->cfg.timeout_ms, h->cfg.events ? h->cfg.events_stream : "off");
	return TWIN_OK;
}

void twin_cluster_hook_close(struct twin_plugin *tp)
{
	if (tp->cluster) {
		twin_cluster_close(tp->cluster->cluster);
		twin_cluster_config_free(&tp->cluster->cfg);
		free(tp->cluster);
		tp->cluster = NULL;
	}
}

int twin_cluster_hook_telemetry(bool *apply, struct twin_plugin *tp, const struct twin_topic_match *m,
		const char *client_id, const char *username)
{
	*apply = true;
	if (!tp->cluster) {
		return MOSQ_ERR_SUCCESS;
	}
	const char *id = m->id;
	size_t len = m->id_len;
	if (!id) {
		id = tp->cfg.telemetry_id_from == TWIN_ID_FROM_USERNAME ? username : client_id;
		len = id ? strlen(id) : 0;
	}
	switch (id ? twin_cluster_telemetry(tp->cluster->cluster, id, len) : TWIN_CLUSTER_APPLY) {
		case TWIN_CLUSTER_APPLY:
			return MOSQ_ERR_SUCCESS;
		case TWIN_CLUSTER_FOREIGN:
			*apply = false;
			return MOSQ_ERR_SUCCESS;
		case TWIN_CLUSTER_FROZEN:
			break;
	}
	*apply = false;
	return MOSQ_ERR_ADMINISTRATIVE_ACTION;
}

bool twin_cluster_hook_request(struct twin_plugin *tp, const struct twin_topic_match *m,
		const struct twin_request_in *in)
{
	return tp->cluster && twin_cluster_request(tp->cluster->cluster, m, in);
}

void twin_cluster_hook_tick(struct twin_plugin *tp)
{
	if (tp->cluster) {
		twin_cluster_tick(tp->cluster->cluster, tp->engine);
	}
}

void twin_cluster_hook_event(struct twin_plugin *tp, const struct twin_out *o)
{
	if (tp->cluster) {
		twin_cluster_event(tp->cluster->cluster, o);
	}
}

bool twin_cluster_hook_claim(struct twin_plugin *tp, const struct twin_out *o)
{
	return tp->cluster && twin_cluster_claim(tp->cluster->cluster, o);
}

struct twin_out *twin_cluster_hook_take(struct twin_plugin *tp)
{
	return tp->cluster ? twin_cluster_take(tp->cluster->cluster) : NULL;
}
