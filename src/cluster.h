/* cluster.h - this broker as one shard of a fleet (built with -DTWIN_CLUSTER=ON): it owns the twins of
 * its slots (cluster_slot.h); telemetry for a foreign slot is counted and not applied; $twin/{id}/...
 * requests for a foreign twin are forwarded over NATS request/reply to the owner and its answer is
 * published here as if local; the owner runs forwarded requests through its engine like any other;
 * $twin/search and $twin/stats go to every shard and their parts are merged (cluster_search.h).
 * Every function here is called on the broker thread, except where noted. */
#ifndef TWIN_CLUSTER_H
#define TWIN_CLUSTER_H

#include <stdbool.h>

#include "engine.h"

/* The plugin_opt_cluster_* settings. */
struct twin_cluster_config {
	char *shard;      /* this shard's name (logs, $SYS) */
	char *slots;      /* the slots it owns, e.g. "0-341" */
	int64_t nslots;   /* slots in the fleet (HAProxy's mod) */
	char *nats;       /* NATS server URLs, comma-separated; NULL: no forwarding (foreign requests: 503) */
	char *subject;    /* subject prefix: requests for slot n go to <subject>.slot.<n> */
	int64_t timeout_ms; /* a forwarded request unanswered this long is answered 503 */
	bool events;        /* change events also go to a JetStream stream (cluster_events.h) */
	char *events_stream;
	int64_t events_replicas, events_max_age_s, events_max_bytes, events_buffer, events_buffer_bytes;
	int64_t search_timeout_ms; /* a fleet's search waits this long for every shard's part */
	const char *db_path; /* the store, where a slot move leaves the slot table (not an option: the core's) */
};

/* Whether key (without plugin_opt_) is a cluster setting. */
bool twin_cluster_option(const char *key);
/* Applies the cluster_* pairs among keys/values (others are skipped) over the defaults. A setting that
 * is given needs cluster_shard and cluster_slots too; *configured says whether any was given. */
enum twin_rc twin_cluster_config_parse(struct twin_cluster_config *cfg, const char *const *keys,
		const char *const *values, int n, bool *configured, struct twin_error *err);
void twin_cluster_config_free(struct twin_cluster_config *cfg);

struct twin_cluster;

/* Starts the NATS side (when cfg->nats is set): connects in the background, serves the owned slots.
 * wake is called from other threads when answers or forwarded requests wait (as the engine's). */
enum twin_rc twin_cluster_open(const struct twin_cluster_config *cfg, void (*wake)(void *ctx),
		void *wake_ctx, struct twin_cluster **out, struct twin_error *err);
void twin_cluster_close(struct twin_cluster *c);

/* How kicking a device works here (the broker's call; set after open): slot moves disconnect the
 * devices of a moved slot's twins so that they reconnect to the new owner. */
void twin_cluster_set_kick(struct twin_cluster *c, void (*kick)(void *ctx, const char *id), void *ctx);

enum twin_cluster_telemetry {
	TWIN_CLUSTER_APPLY,   /* this shard's twin */
	TWIN_CLUSTER_FOREIGN, /* another shard's (counted): pass the message on, never apply it */
	TWIN_CLUSTER_FROZEN   /* its slot is being moved: refuse it unacknowledged (disconnect the sender) */
};
/* Telemetry for twin id: what to do with it. */
enum twin_cluster_telemetry twin_cluster_telemetry(struct twin_cluster *c, const char *id, size_t id_len);
/* A request: true when it is a $twin/{id}/... request for a foreign twin, now forwarded (or answered
 * 503 here when there is no NATS), or a $twin/search or $twin/stats, now sent to every shard; false: run it
 * here. */
bool twin_cluster_request(struct twin_cluster *c, const struct twin_topic_match *m,
		const struct twin_request_in *in);
/* Runs the requests forwarded to this shard through e, answers forwarded requests that timed out, and
 * refreshes the $SYS report. */
void twin_cluster_tick(struct twin_cluster *c, struct twin_engine *e);
/* o is the engine's answer to a request forwarded here: true when it was sent back over NATS (the
 * caller frees o and must not publish it). */
bool twin_cluster_claim(struct twin_cluster *c, const struct twin_out *o);
/* An outbound message of the engine, about to be published: a twin change event also goes to the
 * JetStream stream (with cluster_events on). */
void twin_cluster_event(struct twin_cluster *c, const struct twin_out *o);
/* The next message to publish here (answers from other shards, the $SYS report), or NULL. */
struct twin_out *twin_cluster_take(struct twin_cluster *c);

#endif
