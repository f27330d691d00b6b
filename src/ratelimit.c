/* ratelimit.c - token buckets in a set-associative table (see ratelimit.h). A key is reduced to a 64-bit
 * hash (twin_hash, FNV-1a); two keys with the same hash share a bucket, which at 2^-64 odds does not
 * matter. */
#include "ratelimit.h"

#include <math.h>
#include <stdlib.h>

#include "hash.h"

struct twin_bucket {
	uint64_t key; /* 0: empty */
	int64_t at_ms; /* when tokens was last brought up to date */
	double tokens;
};

static uint64_t hash_key(const char *key, size_t len)
{
	uint64_t h = twin_hash(key, len);
	return h ? h : 1; /* 0 marks an empty bucket */
}

enum twin_rc twin_ratelimit_init(struct twin_ratelimit *rl, double rate, double burst, size_t slots)
{
	rl->rate = rate;
	rl->burst = burst < 1 ? 1 : burst;
	rl->sets = 1;
	rl->buckets = NULL;
	if (rate <= 0) {
		return TWIN_OK;
	}
	while (rl->sets * TWIN_RATELIMIT_WAYS < slots) {
		rl->sets <<= 1;
	}
	rl->buckets = calloc(rl->sets * TWIN_RATELIMIT_WAYS, sizeof(*rl->buckets));
	return rl->buckets ? TWIN_OK : TWIN_ERR_NOMEM;
}

void twin_ratelimit_free(struct twin_ratelimit *rl)
{
	free(rl->buckets);
	rl->buckets = NULL;
}

static void refill(const struct twin_ratelimit *rl, struct twin_bucket *b, int64_t now_ms)
{
	if (now_ms > b->at_ms) {
		b->tokens = fmin(rl->burst, b->tokens + (double)(now_ms - b->at_ms) * rl->rate / 1000.0);
		b->at_ms = now_ms;
	}
}

/* The key's bucket, or the set's empty or most idle one taken over with a full bucket. */
static struct twin_bucket *find(struct twin_ratelimit *rl, uint64_t key, int64_t now_ms)
{
	struct twin_bucket *set = rl->buckets + (key & (rl->sets - 1)) * TWIN_RATELIMIT_WAYS, *victim = set;
	for (int i = 0; i < TWIN_RATELIMIT_WAYS; i++) {
		if (set[i].key == key) {
			refill(rl, &set[i], now_ms);
			return &set[i];
		}
	}
	for (int i = 0; i < TWIN_RATELIMIT_WAYS; i++) {
		if (!set[i].key) {
			victim = &set[i];
			break;
		}
		refill(rl, &set[i], now_ms);
		if (set[i].tokens > victim->tokens) {
			victim = &set[i];
		}
	}
	*victim = (struct twin_bucket){key, now_ms, rl->burst};
	return victim;
}

bool twin_ratelimit_take_n(struct twin_ratelimit *rl, const char *key, size_t len, double cost,
		int64_t now_ms, int64_t *retry_ms)
{
	if (!rl->buckets) {
		return true;
	}
	struct twin_bucket *b = find(rl, hash_key(key, len), now_ms);
	double need = cost < rl->burst ? cost : rl->burst;
	if (b->tokens >= need) {
		b->tokens -= cost;
		return true;
	}
	double wait = ceil((need - b->tokens) * 1000.0 / rl->rate - 1e-9); /* 1e-9: rounding noise */
	*retry_ms = wait < 1 ? 1 : (int64_t)wait;
	return false;
}

bool twin_ratelimit_take(struct twin_ratelimit *rl, const char *key, size_t len, int64_t now_ms,
		int64_t *retry_ms)
{
	return twin_ratelimit_take_n(rl, key, len, 1.0, now_ms, retry_ms);
}
