/* ratelimit.h - token buckets per key (a device, a client) in a fixed-size table: bounded memory and no
 * allocation per key, so a flood of distinct ids cannot grow it. Each bucket refills at `rate` tokens per
 * second up to `burst`. When the table is crowded, the most idle bucket is reused; a key that lost its
 * bucket starts again with a full one, so crowding only ever makes the limit more lenient, never stricter.
 * Pure: the caller passes the time. Not thread-safe (one owner thread). */
#ifndef TWIN_RATELIMIT_H
#define TWIN_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twin_common.h"

struct twin_bucket;

struct twin_ratelimit {
	double rate, burst; /* rate 0: no limit (every take succeeds, nothing is stored) */
	size_t sets;        /* a power of two; each set holds TWIN_RATELIMIT_WAYS buckets */
	struct twin_bucket *buckets;
};

#define TWIN_RATELIMIT_WAYS 4

/* slots: about how many keys may be tracked at once (rounded up). */
enum twin_rc twin_ratelimit_init(struct twin_ratelimit *rl, double rate, double burst, size_t slots);
void twin_ratelimit_free(struct twin_ratelimit *rl);

/* Takes one token for key at now_ms (a monotonic clock). Returns true when allowed; false when over the
 * limit, with *retry_ms set to the milliseconds until a token is available (at least 1). */
bool twin_ratelimit_take(struct twin_ratelimit *rl, const char *key, size_t len, int64_t now_ms,
		int64_t *retry_ms);
/* The same for something that costs cost tokens (cost >= 1): allowed once the bucket holds cost tokens, or
 * is full when cost is over the burst; the bucket may then go below zero, and stays closed until refilled. */
bool twin_ratelimit_take_n(struct twin_ratelimit *rl, const char *key, size_t len, double cost,
		int64_t now_ms, int64_t *retry_ms);

#endif
