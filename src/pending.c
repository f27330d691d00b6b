/* pending.c - the read-your-writes guard (see pending.h). */
#include "pending.h"

#include "hash.h"

static size_t slot_of(const char *id, size_t id_len)
{
	return (size_t)(twin_hash(id, id_len) % TWIN_PENDING_SLOTS);
}

void twin_pending_mark(struct twin_pending *p, const char *id, size_t id_len, uint64_t seq)
{
	p->seq[slot_of(id, id_len)] = seq;
}

bool twin_pending_busy(const struct twin_pending *p, const char *id, size_t id_len,
		uint64_t done_seq)
{
	return p->seq[slot_of(id, id_len)] > done_seq;
}
