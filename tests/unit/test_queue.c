/* test_queue.c - the bounded op queue and the outbound queue. */
#include "check.h"
#include "queue.h"

TEST(queue_should_refuse_when_full)
{
	struct twin_opq q;
	twin_opq_init(&q, 2);
	struct twin_op *a = twin_op_new(TWIN_OP_TELEMETRY, "a", 1, "{}", 2, NULL);
	struct twin_op *b = twin_op_new(TWIN_OP_TELEMETRY, "b", 1, "{}", 2, NULL);
	struct twin_op *c = twin_op_new(TWIN_OP_TELEMETRY, "c", 1, "{}", 2, NULL);
	CHECK_INT(twin_opq_push(&q, a, 1), TWIN_OK);
	CHECK_INT(twin_opq_push(&q, b, 2), TWIN_OK);
	CHECK_INT(twin_opq_push(&q, c, 3), TWIN_ERR_BUSY);
	CHECK_INT(q.count, 2);
	CHECK_INT(q.oldest_ms, 1);
	CHECK(!q.urgent);
	twin_op_free(c);
	twin_opq_destroy(&q);
}

TEST(queue_should_mark_requests_urgent)
{
	struct twin_opq q;
	twin_opq_init(&q, 8);
	CHECK_INT(twin_opq_push(&q, twin_op_new(TWIN_OP_UPDATE, "a", 1, "{}", 2, NULL), 1), TWIN_OK);
	CHECK(q.urgent);
	twin_opq_destroy(&q);
}

TEST(outq_should_hand_over_in_order)
{
	struct twin_outq q;
	struct twin_out_list l = {0};
	twin_outq_init(&q);
	CHECK(twin_outq_take(&q) == NULL);
	twin_out_list_add(&l, twin_out_publish(NULL, "t/1", "x", 1, 0, false));
	twin_out_list_add(&l, twin_out_publish("c", "t/2", "", 0, 1, true));
	twin_outq_push(&q, &l);
	CHECK(l.head == NULL);
	struct twin_out *o = twin_outq_take(&q);
	CHECK_STR(o->topic, "t/1");
	CHECK_STR(o->next->topic, "t/2");
	CHECK_STR(o->next->target, "c");
	CHECK(twin_outq_take(&q) == NULL);
	twin_out_free(o->next);
	twin_out_free(o);
	twin_outq_destroy(&q);
}
