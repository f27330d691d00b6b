/* engine.h - the core as the broker thread sees it: open/close, feed it telemetry and requests, take the
 * messages it wants published. Everything here is called on the broker thread only. */
#ifndef TWIN_ENGINE_H
#define TWIN_ENGINE_H

#include <stdbool.h>

#include "config.h"
#include "queue.h"
#include "topic.h"

struct twin_engine;

/* A request as it arrived. */
struct twin_request_in {
	const char *client_id;
	const char *username; /* may be NULL; with telemetry_id_from username, the Azure device id */
	const char *topic;
	const void *payload;
	size_t payload_len;
	const char *response_topic; /* MQTT v5 response topic, or NULL */
	const void *corr;           /* correlation data */
	uint16_t corr_len;
	bool search_part; /* a search run for a fleet's merge (cluster.c): its answer gives the sort keys */
};

/* wake is called from the writer thread when messages are waiting; it must make the broker thread call
 * twin_engine_take soon (the plugin interrupts the broker's poll). */
enum twin_rc twin_engine_open(const struct twin_config *cfg, void (*wake)(void *ctx),
		void *wake_ctx, struct twin_engine **out, struct twin_error *err);
/* Stops the writer after it committed everything queued and every held-back reading (telemetry_rate);
 * undelivered messages are dropped. */
void twin_engine_close(struct twin_engine *e);

void twin_engine_classify(struct twin_engine *e, const char *topic, struct twin_topic_match *m);
/* True, and counted, when topic is the plugin's own, which no client may publish on (twin_topic_owned). */
bool twin_engine_refuses_write(struct twin_engine *e, const char *topic);
/* Telemetry on a pattern: the twin id is the topic's '+' level, else the client id or username
 * (telemetry_id_from). */
void twin_engine_telemetry(struct twin_engine *e, const struct twin_topic_match *m,
		const char *client_id, const char *username, const void *payload, size_t len);
/* A message on the gateway topic: several devices' telemetry, sorted out by the writer. */
void twin_engine_gateway(struct twin_engine *e, const char *client_id, const void *payload,
		size_t len);
void twin_engine_request(struct twin_engine *e, const struct twin_topic_match *m,
		const struct twin_request_in *in);
/* A client disconnected: its twin is no longer `connected` (the twin whose id is its client id, or its
 * username with telemetry_id_from username). */
void twin_engine_client_gone(struct twin_engine *e, const char *client_id, const char *username);
/* Loads plugin_opt_models_dir again (the broker's config reload): on success the new set is in force for
 * everything that starts after it, and *count says how many models it has; on failure (err names the
 * file and the JSON pointer) the models in force stay. */
enum twin_rc twin_engine_reload_models(struct twin_engine *e, size_t *count, struct twin_error *err);
size_t twin_engine_models_count(struct twin_engine *e);
/* The store format the open moved the store from (1), or 0 (see store.h: twin_store_open). */
int twin_engine_store_migrated_from(struct twin_engine *e);

/* Called often (every broker loop pass): applies held-back telemetry whose device has budget again. */
void twin_engine_tick(struct twin_engine *e);

/* For moving a cluster slot (cluster_ctl.c): fn(payload) queued to run in a writer transaction after
 * every operation queued so far; its sequence number, or 0 when the queue is full (retry). */
uint64_t twin_engine_store_call(struct twin_engine *e, twin_store_call_fn fn, const void *payload,
		size_t len);
/* Queues every reading telemetry_rate holds back, budget or not: a slot freezing for a move must copy
 * every reading that was acknowledged (slots are not told apart: the others' are only early). */
void twin_engine_release_held(struct twin_engine *e);
/* With retain_desired: the retained devices/{id}/desired message of twin id published again from the
 * store (here: a slot's new owner, after a move), or cleared (!here: its old owner). */
void twin_engine_desired_again(struct twin_engine *e, const char *id, size_t id_len, bool here);
/* The newest operation queued so far, and whether operation seq is committed (or failed). */
uint64_t twin_engine_queued_seq(struct twin_engine *e);
bool twin_engine_committed(struct twin_engine *e, uint64_t seq);
/* The store, for reads on the broker thread (twin_store_read_begin ... read_end). */
struct twin_store *twin_engine_store(struct twin_engine *e);

/* The next message to publish or log (NULL when none); free it with twin_out_free. Runs deferred gets. */
struct twin_out *twin_engine_take(struct twin_engine *e);

#endif
