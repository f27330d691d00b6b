/* kafka_sink.h - the optional Kafka sink (built with -DTWIN_KAFKA=ON, librdkafka): every twin change event
 * (created, updated, deleted) of $twin/{id}/events is also produced to a Kafka topic, keyed by the twin
 * id, so one twin's events land in one partition in version order (idempotent producer). librdkafka's
 * own threads do the network; the broker thread only enqueues and, on every tick, runs the delivery
 * reports (rd_kafka_poll with no wait). */
#ifndef TWIN_KAFKA_SINK_H
#define TWIN_KAFKA_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twin_common.h"

/* The plugin_opt_kafka_* settings. */
struct twin_kafka_config {
	char *brokers; /* bootstrap servers; NULL: no sink */
	char *topic;
	int64_t buffer; /* messages queued or unacknowledged at most (queue.buffering.max.messages) */
};

struct twin_kafka_counts {
	uint64_t published; /* acknowledged by the partition's leader and its in-sync replicas */
	uint64_t dropped;   /* never queued (the buffer was full) or given up by librdkafka */
	uint64_t pending;   /* queued or waiting for an acknowledgement */
};

/* Whether key (without plugin_opt_) is a Kafka setting. */
bool twin_kafka_option(const char *key);
/* Applies the kafka_* pairs (others are skipped) over the defaults; *configured: any was given. */
enum twin_rc twin_kafka_config_parse(struct twin_kafka_config *cfg, const char *const *keys,
		const char *const *values, int n, bool *configured, struct twin_error *err);
void twin_kafka_config_free(struct twin_kafka_config *cfg);

struct twin_kafka;

/* Starts the producer (connects in the background). log is called on the broker thread. */
enum twin_rc twin_kafka_open(const struct twin_kafka_config *cfg,
		void (*log)(void *ctx, enum twin_log_level level, const char *msg), void *ctx,
		struct twin_kafka **out, struct twin_error *err);
/* An outbound message of the engine: a change event is produced (or dropped and counted). */
void twin_kafka_offer(struct twin_kafka *k, const char *topic, const char *payload, size_t len);
/* Runs the delivery reports (no wait). */
void twin_kafka_poll(struct twin_kafka *k);
void twin_kafka_get_counts(struct twin_kafka *k, struct twin_kafka_counts *out);
/* Waits up to 2 s for what is queued, counts the rest as dropped (logged), stops the producer. */
void twin_kafka_close(struct twin_kafka *k);

#endif
