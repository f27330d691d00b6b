/* cluster_wire.h - what a forwarded request and its answer look like on NATS. A request: the MQTT
 * topic, the requester's client id and username (rate limits and search scope are the owner's), then the
 * payload; an answer: the status, then the body the owner would have published. Lengths are 16-bit
 * big-endian; no field is parsed as text, so any client id or username fits. */
#ifndef TWIN_CLUSTER_WIRE_H
#define TWIN_CLUSTER_WIRE_H

#include <stdbool.h>
#include <stddef.h>

struct twin_wire_request {
	const char *topic;
	size_t topic_len;
	const char *client_id; /* never NULL */
	size_t client_len;
	const char *username; /* NULL: none */
	size_t username_len;
	const void *payload;
	size_t payload_len;
};

/* A malloc'd encoding (NULL: out of memory or a field over 65535 bytes). */
void *twin_wire_request_encode(const struct twin_wire_request *r, size_t *len);
/* Points r into data; false when data is not a request. */
bool twin_wire_request_decode(const void *data, size_t len, struct twin_wire_request *r);

void *twin_wire_answer_encode(int status, const void *body, size_t body_len, size_t *len);
bool twin_wire_answer_decode(const void *data, size_t len, int *status, const void **body,
		size_t *body_len);

/* A shard's part of a fleet's search: its answer as above, after the slots it owns (cluster_slots' form),
 * so the asking shard knows which slots have answered. */
void *twin_wire_part_encode(const char *slots, int status, const void *body, size_t body_len,
		size_t *len);
bool twin_wire_part_decode(const void *data, size_t len, const char **slots, size_t *slots_len,
		int *status, const void **body, size_t *body_len);

#endif
