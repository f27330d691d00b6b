/* test_queue.c - the bounded op queue (entries per twin, byte budget, what is done when) and the outbound
 * queue. */
#include "check.h"
#include "queue.h"

TEST(queue_should_refuse_when_full)
{
	struct twin_opq q;
	twin_opq_init(&q, 2, 1 << 20);
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

static struct twin_op *op_of(enum twin_op_kind kind, const char *id, uint64_t seq)
{
	struct twin_op *op = twin_op_new(kind, id, strlen(id), "{}", 2, NULL);
	op->seq = seq;
	return op;
}

TEST(queue_should_let_telemetry_join_its_twins_waiting_entry)
{
	struct twin_opq q;
	uint64_t done;
	size_t msgs;
	twin_opq_init(&q, 2, 1 << 20);
	CHECK_INT(twin_opq_push(&q, op_of(TWIN_OP_TELEMETRY, "a", 1), 1), TWIN_OK);
	CHECK_INT(twin_opq_push(&q, op_of(TWIN_OP_TELEMETRY, "b", 2), 2), TWIN_OK);
	/* the entries are full, but a and b already wait: their next messages join them */
	CHECK_INT(twin_opq_push(&q, op_of(TWIN_OP_TELEMETRY, "a", 3), 3), TWIN_OK);
	CHECK_INT(twin_opq_push(&q, op_of(TWIN_OP_TELEMETRY, "a", 4), 4), TWIN_OK);
	struct twin_op *refused = op_of(TWIN_OP_TELEMETRY, "c", 5);
	CHECK_INT(twin_opq_push(&q, refused, 5), TWIN_ERR_BUSY);
	twin_op_free(refused); /* a refused op stays the caller's */
	CHECK_INT(q.count, 2);
	CHECK_INT(q.messages, 4);
	pthread_mutex_lock(&q.lock);
	struct twin_op *a = twin_opq_detach_locked(&q, 1, &done, &msgs);
	pthread_mutex_unlock(&q.lock);
	CHECK_INT(msgs, 3);
	CHECK_INT(a->group_msgs, 3);
	CHECK_INT(a->more->seq, 3);
	CHECK_INT(a->more->more->seq, 4);
	CHECK(a->next == NULL);
	CHECK_INT(done, 1); /* b (seq 2) still waits: message 3 and 4 are done, but reads of b are not */
	/* a's entry is taken: a new message of a waits behind b */
	CHECK_INT(twin_opq_push(&q, op_of(TWIN_OP_TELEMETRY, "a", 6), 6), TWIN_OK);
	CHECK_INT(q.count, 2);
	pthread_mutex_lock(&q.lock);
	struct twin_op *rest = twin_opq_detach_locked(&q, 10, &done, &msgs);
	pthread_mutex_unlock(&q.lock);
	CHECK_INT(done, 6);
	CHECK_INT(msgs, 2);
	CHECK_INT(q.bytes, 0);
	CHECK_INT(q.messages, 0);
	twin_op_free(rest->next);
	twin_op_free(rest);
	twin_op_free(a);
	twin_opq_destroy(&q);
}

TEST(queue_should_keep_telemetry_after_a_request_or_gateway_batch_behind_it)
{
	struct twin_opq q;
	uint64_t done;
	size_t msgs;
	twin_opq_init(&q, 16, 1 << 20);
	CHECK_INT(twin_opq_push(&q, op_of(TWIN_OP_TELEMETRY, "a", 1), 1), TWIN_OK);
	CHECK_INT(twin_opq_push(&q, op_of(TWIN_OP_UPDATE, "a", 2), 2), TWIN_OK);
	CHECK_INT(twin_opq_push(&q, op_of(TWIN_OP_TELEMETRY, "a", 3), 3), TWIN_OK);
	CHECK_INT(twin_opq_push(&q, op_of(TWIN_OP_GATEWAY, "gw", 4), 4), TWIN_OK);
	CHECK_INT(twin_opq_push(&q, op_of(TWIN_OP_TELEMETRY, "a", 5), 5), TWIN_OK);
	CHECK_INT(twin_opq_push(&q, op_of(TWIN_OP_TELEMETRY, "a", 6), 6), TWIN_OK);
	CHECK_INT(q.count, 5);
	pthread_mutex_lock(&q.lock);
	struct twin_op *ops = twin_opq_detach_locked(&q, 16, &done, &msgs);
	pthread_mutex_unlock(&q.lock);
	uint64_t order[5] = {1, 2, 3, 4, 5};
	int i = 0;
	for (struct twin_op *op = ops, *next; op; op = next, i++) {
		next = op->next;
		CHECK_INT(op->seq, order[i]);
		CHECK_INT(op->group_msgs, op->seq == 5 ? 2 : 1);
		twin_op_free(op);
	}
	CHECK_INT(i, 5);
	twin_opq_destroy(&q);
}

TEST(queue_should_refuse_past_its_byte_budget)
{
	struct twin_opq q;
	struct twin_op *big = twin_op_new(TWIN_OP_TELEMETRY, "a", 1, "{}", 2, NULL);
	twin_opq_init(&q, 100, 2 * twin_op_bytes(big));
	CHECK_INT(twin_opq_push(&q, big, 1), TWIN_OK);
	CHECK_INT(twin_opq_push(&q, op_of(TWIN_OP_TELEMETRY, "a", 2), 2), TWIN_OK);
	struct twin_op *third = op_of(TWIN_OP_UPDATE, "b", 3);
	CHECK_INT(twin_opq_push(&q, third, 3), TWIN_ERR_BUSY);
	twin_op_free(third);
	twin_opq_destroy(&q);
}

TEST(queue_should_mark_requests_urgent)
{
	struct twin_opq q;
	twin_opq_init(&q, 8, 1 << 20);
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
