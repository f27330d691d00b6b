/* throttle.h - the rate limits applied on the broker thread, before anything is queued:
 *  - telemetry per device (telemetry_rate, counted in readings: an array of n readings costs n): a device
 *    over its rate still reaches its subscribers, but
 *    only its newest excess message (per sub-path, for patterns ending in "/#") is kept back and applied
 *    to the twin once the device's budget allows, so the twin always ends at the device's last reading;
 *    every message that never reaches the twin is counted;
 *  - $twin requests per client (request_rate_per_client) and per twin (request_rate_per_twin): over the
 *    limit, a request is refused with 429 and the milliseconds after which to retry.
 * Bursts of twice the rate are allowed. Memory is bounded: fixed-size bucket tables, and at most
 * TWIN_THROTTLE_HELD_MAX held messages (past it, excess telemetry is dropped and counted).
 * Thread: broker thread only. Times are milliseconds of a monotonic clock, passed in. */
#ifndef TWIN_THROTTLE_H
#define TWIN_THROTTLE_H

#include <stdbool.h>

#include "config.h"
#include "queue.h"
#include "ratelimit.h"

#define TWIN_THROTTLE_HELD_MAX 4096

struct twin_held;

struct twin_throttle {
	const struct twin_config *cfg;
	struct twin_ratelimit telemetry, per_twin, per_client;
	struct twin_held *held; /* uthash by twin id */
	size_t held_count;
	int64_t released_ms; /* last scan of the held messages */
	uint64_t limited;    /* telemetry messages that never reached their twin: the caller counts them */
};

enum twin_rc twin_throttle_init(struct twin_throttle *t, const struct twin_config *cfg);
/* Frees what is still held (the engine hands it all over with twin_throttle_release_all first). */
void twin_throttle_free(struct twin_throttle *t);

/* A telemetry op (the caller's) for op->id. Returns it when it may be applied now; otherwise keeps it back
 * (replacing and counting an older held one) or drops it when too many are held, and returns NULL. */
struct twin_op *twin_throttle_telemetry(struct twin_throttle *t, struct twin_op *op, int64_t now_ms);

/* Hands each held op whose device has budget again to apply(ctx, op), which takes it over. Cheap when
 * nothing is held; scans at most every 10 ms otherwise. */
void twin_throttle_release(struct twin_throttle *t, int64_t now_ms,
		void (*apply)(void *ctx, struct twin_op *op), void *ctx);

/* Hands every held op to apply(ctx, op), budget or not: at shutdown, so that each device's last
 * reading reaches its twin before the writer's last commit. */
void twin_throttle_release_all(struct twin_throttle *t, void (*apply)(void *ctx, struct twin_op *op),
		void *ctx);

/* May this request run? twin_id may be NULL ($twin/search, $twin/stats). When not, err says 429 and when
 * to retry. */
bool twin_throttle_request(struct twin_throttle *t, const char *client_id, const char *twin_id,
		size_t twin_id_len, int64_t now_ms, struct twin_error *err);

#endif
