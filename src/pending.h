/* pending.h - read-your-writes guard (broker thread only): remembers, per hash slot of twin id, the
 * sequence number of the newest operation queued for the writer. A get whose slot holds a sequence the
 * writer has not finished must wait for that commit; collisions only cause a harmless extra wait.
 * Fixed memory, no allocation per message. */
#ifndef TWIN_PENDING_H
#define TWIN_PENDING_H

#include <stdbool.h>
#include <stdint.h>

#include "twin_common.h"

#define TWIN_PENDING_SLOTS 65536

struct twin_pending {
	uint64_t seq[TWIN_PENDING_SLOTS];
};

void twin_pending_mark(struct twin_pending *p, const char *id, size_t id_len, uint64_t seq);
/* True when an operation on this id (or one sharing its slot) is newer than done_seq. */
bool twin_pending_busy(const struct twin_pending *p, const char *id, size_t id_len,
		uint64_t done_seq);

#endif
