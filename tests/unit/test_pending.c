/* test_pending.c - the read-your-writes guard. */
#include "check.h"
#include "pending.h"

static struct twin_pending p;

TEST(pending_should_flag_ids_with_uncommitted_ops)
{
	memset(&p, 0, sizeof(p));
	CHECK(!twin_pending_busy(&p, "a", 1, 0));
	twin_pending_mark(&p, "a", 1, 5);
	CHECK(twin_pending_busy(&p, "a", 1, 4));
	CHECK(!twin_pending_busy(&p, "a", 1, 5));
}
