/* telemetry_fast.h - the writer's fast path for a telemetry entry (a message and the later ones of its
 * twin that waited with it): when every message is a flat reading (fastmerge.h) and the twin's stored form
 * allows it, the entry is merged into the stored bytes and written back in the open write transaction,
 * with no cJSON tree. Anything else is left to the writer's general path, untouched. Writer thread only. */
#ifndef TWIN_TELEMETRY_FAST_H
#define TWIN_TELEMETRY_FAST_H

#include "config.h"
#include "fastmerge.h"
#include "queue.h"
#include "store.h"

/* The writer's bound on how much a change can grow a twin: a patch byte adds at most TWIN_SIZE_GROWTH_PER
 * bytes, plus TWIN_SIZE_SLACK (metadata, versions). Within it no exact size check is needed; both paths
 * use it, so they take the same twins. */
#define TWIN_SIZE_SLACK      256
#define TWIN_SIZE_GROWTH_PER 20

/* Buffers kept from one entry to the next (no allocation per message once they have grown). */
struct twin_fast_scratch {
	struct twin_fast_member *members;
	struct twin_fast_reading *readings;
	size_t readings_cap;
	struct twin_buf stored, changed;
};
void twin_fast_scratch_free(struct twin_fast_scratch *s);

/* What applying an entry did. */
struct twin_fast_result {
	bool created;    /* the twin did not exist (it counts toward max_twins now) */
	int leaves;      /* leaves changed: 0 when nothing changed (then only lastSeen moved) */
	int64_t version; /* the twin's version afterwards */
	int64_t updated; /* the time of the change (the twin's `updated`) */
	const struct twin_buf *changed; /* the changed reported leaves, as a JSON object */
};

enum twin_fast_rc {
	TWIN_FAST_DONE,       /* applied and written: *res says what changed */
	TWIN_FAST_NOT_HERE,   /* not for the fast path: nothing was done */
	TWIN_FAST_STORE_FAIL, /* writing failed (err says why, e.g. the map is full): the batch fails */
};

/* Applies entry (its op->more chain included) to twin entry->id in the store's write transaction. twins is
 * how many twins exist; a new twin is left to the general path when max_twins are reached. */
/* check (may be NULL) sees the merged twin before it is written and may decline (fastmerge.h); the
 * readings (s->readings, entry->group_msgs of them) are scanned by then. */
enum twin_fast_rc twin_fast_entry(struct twin_store *store, const struct twin_config *cfg,
		const struct twin_op *entry, int64_t twins, struct twin_fast_scratch *s,
		struct twin_fast_result *res, struct twin_error *err, twin_fast_check_fn check, void *check_ctx);

#endif
