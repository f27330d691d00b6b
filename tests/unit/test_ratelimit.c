/* test_ratelimit.c - token buckets per key: burst, refill, retry hint, independence of keys, crowding. */
#include <stdio.h>

#include "check.h"
#include "ratelimit.h"

static int takes(struct twin_ratelimit *rl, const char *key, int64_t now, int n)
{
	int ok = 0;
	int64_t retry = 0;
	for (int i = 0; i < n; i++) {
		ok += twin_ratelimit_take(rl, key, strlen(key), now, &retry);
	}
	return ok;
}

TEST(ratelimit_should_allow_a_burst_then_refuse_with_a_retry_hint)
{
	struct twin_ratelimit rl;
	CHECK(twin_ratelimit_init(&rl, 10, 20, 64) == TWIN_OK);
	CHECK_INT(takes(&rl, "rack-1", 1000, 25), 20);
	int64_t retry = 0;
	CHECK(!twin_ratelimit_take(&rl, "rack-1", 6, 1000, &retry));
	CHECK_INT(retry, 100); /* one token at 10/s */
	CHECK(!twin_ratelimit_take(&rl, "rack-1", 6, 1099, &retry));
	CHECK_INT(retry, 1);
	CHECK(twin_ratelimit_take(&rl, "rack-1", 6, 1100, &retry));
	CHECK_INT(takes(&rl, "rack-1", 1100, 5), 0);
	CHECK_INT(takes(&rl, "rack-1", 2100, 50), 10); /* a second refills 10 tokens */
	CHECK_INT(takes(&rl, "rack-1", 100000, 50), 20); /* never more than the burst */
	twin_ratelimit_free(&rl);
}

TEST(ratelimit_should_keep_keys_apart)
{
	struct twin_ratelimit rl;
	CHECK(twin_ratelimit_init(&rl, 1, 3, 1024) == TWIN_OK);
	CHECK_INT(takes(&rl, "a", 0, 10), 3);
	CHECK_INT(takes(&rl, "b", 0, 10), 3);
	CHECK_INT(takes(&rl, "a", 0, 10), 0);
	twin_ratelimit_free(&rl);
}

TEST(ratelimit_rate_0_should_allow_everything)
{
	struct twin_ratelimit rl;
	CHECK(twin_ratelimit_init(&rl, 0, 0, 1024) == TWIN_OK);
	CHECK_INT(takes(&rl, "a", 0, 100000), 100000);
	twin_ratelimit_free(&rl);
}

TEST(ratelimit_should_stay_strict_for_a_flooding_key_among_many_others)
{
	/* a small table crowded by 10000 one-off keys: the flooder's busy bucket is never the most idle one
	 * in its set, so it keeps being limited */
	struct twin_ratelimit rl;
	CHECK(twin_ratelimit_init(&rl, 5, 5, 64) == TWIN_OK);
	int allowed = 0;
	char key[32];
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "device-%d", i);
		CHECK_INT(takes(&rl, key, i / 10, 1), 1); /* every newcomer gets its burst */
		allowed += takes(&rl, "flooder", i / 10, 1);
	}
	/* 1 s of time passed: the burst (5) plus about 5 refilled tokens */
	CHECK(allowed >= 5 && allowed <= 12);
	twin_ratelimit_free(&rl);
}

TEST(ratelimit_should_charge_what_something_costs)
{
	struct twin_ratelimit rl;
	int64_t retry = 0;
	CHECK(twin_ratelimit_init(&rl, 10, 20, 64) == TWIN_OK);
	CHECK(twin_ratelimit_take_n(&rl, "gw", 2, 15, 1000, &retry)); /* 20 tokens: 5 left */
	CHECK(!twin_ratelimit_take_n(&rl, "gw", 2, 6, 1000, &retry));
	CHECK_INT(retry, 100);                                          /* one more token at 10/s */
	CHECK(twin_ratelimit_take_n(&rl, "gw", 2, 5, 1000, &retry));   /* 0 left */
	/* more than the burst passes once the bucket is full, and leaves it in debt */
	CHECK(twin_ratelimit_take_n(&rl, "gw", 2, 50, 3000, &retry)); /* 20 - 50 = -30 */
	CHECK(!twin_ratelimit_take(&rl, "gw", 2, 5000, &retry));      /* -10 after 2 s */
	CHECK_INT(retry, 1100);
	CHECK(twin_ratelimit_take(&rl, "gw", 2, 6100, &retry));
	twin_ratelimit_free(&rl);
}
