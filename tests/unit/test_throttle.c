/* test_throttle.c - broker-thread rate limits: telemetry held back (newest wins) and released when the
 * device has budget again; requests refused with 429 and a retry hint, per client and per twin. */
#include "check.h"
#include "throttle.h"

/* Only the three rates matter to the throttle; the rest stays zero. */
static struct twin_config cfg_with(int64_t telemetry, int64_t per_twin, int64_t per_client)
{
	struct twin_config c = {.telemetry_rate = telemetry, .request_rate_per_twin = per_twin,
			.request_rate_per_client = per_client};
	return c;
}

static struct twin_op *tel(const char *id, const char *payload)
{
	return twin_op_new(TWIN_OP_TELEMETRY, id, strlen(id), payload, strlen(payload), NULL);
}

struct released {
	int n;
	char last[64];
};

static void collect(void *ctx, struct twin_op *op)
{
	struct released *r = ctx;
	r->n++;
	snprintf(r->last, sizeof(r->last), "%s", op->payload);
	twin_op_free(op);
}

TEST(throttle_should_hold_the_newest_excess_message_and_release_it_later)
{
	struct twin_config c = cfg_with(5, 0, 0); /* burst 10 */
	struct twin_throttle t;
	struct released r = {0};
	CHECK(twin_throttle_init(&t, &c) == TWIN_OK);
	for (int i = 0; i < 10; i++) {
		struct twin_op *op = twin_throttle_telemetry(&t, tel("rack-1", "{}"), 1000);
		CHECK(op != NULL);
		twin_op_free(op);
	}
	CHECK(twin_throttle_telemetry(&t, tel("rack-1", "{\"n\":1}"), 1000) == NULL);
	CHECK(twin_throttle_telemetry(&t, tel("rack-1", "{\"n\":2}"), 1000) == NULL);
	CHECK(twin_throttle_telemetry(&t, tel("rack-1", "{\"n\":3}"), 1000) == NULL);
	CHECK_INT(t.held_count, 1);
	CHECK_INT(t.limited, 2); /* n:1 and n:2 were superseded */
	struct twin_op *other = twin_throttle_telemetry(&t, tel("rack-2", "{}"), 1000);
	CHECK(other != NULL); /* another device is not affected */
	twin_op_free(other);
	twin_throttle_release(&t, 1100, collect, &r); /* 100 ms at 5/s: no token yet */
	CHECK_INT(r.n, 0);
	twin_throttle_release(&t, 1200, collect, &r);
	CHECK_INT(r.n, 1);
	CHECK_STR(r.last, "{\"n\":3}");
	CHECK_INT(t.held_count, 0);
	CHECK_INT(t.limited, 2);
	twin_throttle_free(&t);
}

TEST(throttle_should_hand_over_every_held_message_at_shutdown_budget_or_not)
{
	struct twin_config c = cfg_with(1, 0, 0); /* burst 2 */
	struct twin_throttle t;
	struct released r = {0};
	CHECK(twin_throttle_init(&t, &c) == TWIN_OK);
	for (int i = 0; i < 2; i++) {
		twin_op_free(twin_throttle_telemetry(&t, tel("rack-1", "{}"), 1000));
	}
	CHECK(twin_throttle_telemetry(&t, tel("rack-1", "{\"n\":1}"), 1000) == NULL);
	CHECK(twin_throttle_telemetry(&t, tel("rack-1", "{\"n\":2}"), 1000) == NULL);
	for (int i = 0; i < 2; i++) {
		twin_op_free(twin_throttle_telemetry(&t, tel("rack-2", "{}"), 1000));
	}
	CHECK(twin_throttle_telemetry(&t, tel("rack-2", "{\"m\":1}"), 1000) == NULL);
	CHECK_INT(t.held_count, 2);
	twin_throttle_release(&t, 1000, collect, &r); /* no budget: nothing */
	CHECK_INT(r.n, 0);
	twin_throttle_release_all(&t, collect, &r);
	CHECK_INT(r.n, 2); /* rack-1's newest and rack-2's */
	CHECK_INT(t.held_count, 0);
	CHECK_INT(t.limited, 1); /* only n:1, superseded */
	twin_throttle_free(&t);
}

TEST(throttle_should_drop_a_held_message_when_a_newer_one_goes_through)
{
	struct twin_config c = cfg_with(1, 0, 0); /* burst 2 */
	struct twin_throttle t;
	CHECK(twin_throttle_init(&t, &c) == TWIN_OK);
	twin_op_free(twin_throttle_telemetry(&t, tel("d", "{}"), 0));
	twin_op_free(twin_throttle_telemetry(&t, tel("d", "{}"), 0));
	CHECK(twin_throttle_telemetry(&t, tel("d", "{\"old\":1}"), 0) == NULL);
	struct twin_op *op = twin_throttle_telemetry(&t, tel("d", "{\"new\":1}"), 5000);
	CHECK(op != NULL);
	CHECK_STR(op->payload, "{\"new\":1}");
	twin_op_free(op);
	CHECK_INT(t.held_count, 0);
	CHECK_INT(t.limited, 1);
	twin_throttle_free(&t);
}

TEST(throttle_should_bound_the_held_messages)
{
	struct twin_config c = cfg_with(1, 0, 0);
	struct twin_throttle t;
	char id[32];
	CHECK(twin_throttle_init(&t, &c) == TWIN_OK);
	for (int i = 0; i < TWIN_THROTTLE_HELD_MAX + 100; i++) {
		snprintf(id, sizeof(id), "dev-%d", i);
		for (int k = 0; k < 3; k++) { /* burst 2, the third is held */
			twin_op_free(twin_throttle_telemetry(&t, tel(id, "{}"), 0));
		}
	}
	CHECK_INT(t.held_count, TWIN_THROTTLE_HELD_MAX);
	CHECK_INT(t.limited, 100);
	twin_throttle_free(&t); /* frees the held ops: the ASan run checks it */
}

TEST(throttle_should_refuse_requests_over_the_client_and_twin_rates_with_429)
{
	struct twin_config c = cfg_with(0, 2, 3); /* bursts 4 and 6 */
	struct twin_throttle t;
	struct twin_error err;
	CHECK(twin_throttle_init(&t, &c) == TWIN_OK);
	for (int i = 0; i < 4; i++) {
		CHECK(twin_throttle_request(&t, "app", "rack-1", 6, 0, &err));
	}
	CHECK(!twin_throttle_request(&t, "app", "rack-1", 6, 0, &err));
	CHECK_INT(twin_rc_status(err.rc), 429);
	CHECK_INT(err.retry_after_ms, 500);
	CHECK_CONTAINS(err.msg, "request_rate_per_twin=2");
	CHECK(twin_throttle_request(&t, "app", NULL, 0, 0, &err)); /* search/stats: only the client limit */
	CHECK(!twin_throttle_request(&t, "app", NULL, 0, 0, &err));
	CHECK_CONTAINS(err.msg, "client 'app'");
	CHECK_INT(twin_rc_status(err.rc), 429);
	CHECK(err.retry_after_ms > 0 && err.retry_after_ms <= 334);
	CHECK(twin_throttle_request(&t, "other-app", "rack-2", 6, 0, &err));
	twin_throttle_free(&t);
}

TEST(throttle_should_hold_the_newest_message_of_each_sub_path)
{
	struct twin_config c = cfg_with(1, 0, 0); /* burst 2 */
	struct twin_throttle t;
	struct released r = {0};
	CHECK(twin_throttle_init(&t, &c) == TWIN_OK);
	twin_op_free(twin_throttle_telemetry(&t, tel("d", "{}"), 0));
	twin_op_free(twin_throttle_telemetry(&t, tel("d", "{}"), 0));
	const char *paths[] = {"top/temp", "bottom/temp", "top/temp"}, *values[] = {"1", "2", "3"};
	for (int i = 0; i < 3; i++) {
		struct twin_op *op = twin_op_new_at(TWIN_OP_TELEMETRY, "d", 1, paths[i], strlen(paths[i]), values[i],
				1, NULL);
		CHECK(twin_throttle_telemetry(&t, op, 0) == NULL);
	}
	CHECK_INT(t.held_count, 2); /* top/temp = 3 and bottom/temp = 2 */
	CHECK_INT(t.limited, 1);    /* top/temp = 1 was superseded */
	twin_throttle_release(&t, 1000, collect, &r);
	twin_throttle_release(&t, 2000, collect, &r);
	CHECK_INT(r.n, 2);
	CHECK_INT(t.held_count, 0);
	twin_throttle_free(&t);
}
