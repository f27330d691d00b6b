/* pending.c - the read-your-writes guard (see pending.h). */
#include "pending.h"

static size_t slot_of(const char *id, size_t id_len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < id_len; i++) {
		h = (h ^ (unsigned char)id[i]) * 1099511628211ULL;
	}
	return (size_t)(h % TWIN_PENDING_SLOTS);
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
