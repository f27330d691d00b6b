/* cluster_nats.h - the NATS side of a shard (cluster.c's transport): one connection, a subscription per
 * served slot (<subject>.slot.<n>), one for the requests to every shard (<subject>.all), one for the
 * operator's control requests (<subject>.ctl.<name>), one inbox for the answers to this shard's forwarded
 * requests, and a
 * thread of its own that does every publish, so no caller ever waits on the network. */
#ifndef TWIN_CLUSTER_NATS_H
#define TWIN_CLUSTER_NATS_H

#include <stddef.h>
#include <stdint.h>

#include "cluster_slot.h"

/* Called on libnats's delivery thread; data is only valid during the call. */
struct twin_nats_handlers {
	/* a request for one of the owned slots, to be answered with twin_nats_reply(reply, ...) */
	void (*request)(void *ctx, const char *reply, const void *data, size_t len);
	/* a control request (cluster_ctl.h), to be answered with twin_nats_reply(reply, ...) */
	void (*ctl)(void *ctx, const char *reply, const void *data, size_t len);
	/* the answer to twin_nats_request(key); no_responders: nobody serves that slot */
	void (*answer)(void *ctx, uint64_t key, bool no_responders, const void *data, size_t len);
	/* connection news, worth a log line */
	void (*log)(void *ctx, enum twin_log_level level, const char *msg);
	void *ctx;
};

struct twin_nats;

/* Starts the thread, which connects (retrying for ever) and subscribes the owned slots. */
enum twin_rc twin_nats_open(const char *urls, const char *name, const char *subject,
		const struct twin_slot_set *slots, const struct twin_nats_handlers *h,
		struct twin_nats **out, struct twin_error *err);
/* Queue a request to slot's owner (any thread; never blocks). Takes data (malloc'd) in every case. */
enum twin_rc twin_nats_request(struct twin_nats *n, unsigned slot, uint64_t key, void *data,
		size_t len);
/* Queue a request to every shard (<subject>.all): each answers it, on the same reply subject. Takes data
 * (malloc'd) in every case. */
enum twin_rc twin_nats_scatter(struct twin_nats *n, uint64_t key, void *data, size_t len);
/* Queue an answer to a served request (any thread; never blocks). Takes data (malloc'd). */
enum twin_rc twin_nats_reply(struct twin_nats *n, const char *reply, void *data, size_t len);
/* Start or stop serving slot's requests (any thread; never blocks; in order with the queue). */
enum twin_rc twin_nats_serve(struct twin_nats *n, unsigned slot, bool on);
/* Sends what is queued (briefly), closes the connection, stops the thread. */
void twin_nats_close(struct twin_nats *n);

#endif
