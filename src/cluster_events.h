/* cluster_events.h - a shard's twin change events on a replicated JetStream stream, for fleet-wide
 * consumers: every created/updated/deleted event the writer publishes on $twin/{id}/events is also
 * published on <prefix>.events.<slot>.<id token> with the message id <id token>:<version>
 * (cluster_evkey.h), in version order per twin, retried until JetStream acknowledges it. The broker
 * thread only queues (bounded: past cluster_events_buffer events or _bytes, events are dropped and
 * counted); a thread of
 * its own, on a NATS connection of its own, creates the stream when absent and publishes. */
#ifndef TWIN_CLUSTER_EVENTS_H
#define TWIN_CLUSTER_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "twin_common.h"

struct twin_events_config {
	const char *urls;   /* NATS servers, comma-separated */
	const char *name;   /* this shard's name */
	const char *prefix; /* subject prefix (cluster_subject) */
	const char *stream; /* the stream's name */
	unsigned nslots;
	int64_t replicas;  /* of a stream created here */
	int64_t max_age_s; /* ... its messages' age limit, 0: none */
	int64_t max_bytes; /* ... its size limit, 0: none */
	int64_t buffer;       /* events queued or unacknowledged at most */
	int64_t buffer_bytes; /* ... and their payload bytes */
};

struct twin_events_counts {
	uint64_t published; /* acknowledged by JetStream (a deduplicated retry counts once) */
	uint64_t dropped;   /* never stored: the buffer was full, the stream refused one, or at close */
	uint64_t retried;   /* publishes repeated after a failure or a missing acknowledgement */
	uint64_t pending;   /* queued or waiting for an acknowledgement now */
};

struct twin_events;

/* Starts the thread, which connects (retrying for ever), finds or creates the stream and publishes.
 * log is called from any thread. */
enum twin_rc twin_events_open(const struct twin_events_config *cfg,
		void (*log)(void *ctx, enum twin_log_level level, const char *msg), void *ctx,
		struct twin_events **out, struct twin_error *err);
/* An outbound message of the engine (broker thread; never blocks): a change event is queued for the
 * stream, or dropped and counted when the buffer is full; any other message is left alone. */
void twin_events_offer(struct twin_events *ev, const char *topic, const char *payload, size_t len);
void twin_events_get_counts(struct twin_events *ev, struct twin_events_counts *out);
/* Sends what is queued for up to 2 s more, drops (counts and logs) the rest, stops the thread. */
void twin_events_close(struct twin_events *ev);

#endif
