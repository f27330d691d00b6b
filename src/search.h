/* search.h - $twin/search: runs searches on a thread of their own, so a scan over many twins never holds
 * the broker thread. A search waits until every operation queued before it is committed
 * (read-your-writes), scans one consistent LMDB snapshot, and its answer travels back like the writer's. */
#ifndef TWIN_SEARCH_H
#define TWIN_SEARCH_H

#include <stdatomic.h>

#include "queue.h"
#include "store.h"

struct twin_searcher_deps {
	struct twin_store *store;
	struct twin_opq *writes;      /* hurried when a search waits for queued writes */
	struct twin_outq *out;
	_Atomic uint64_t *done_seq;
	void (*wake)(void *wake_ctx);
	void *wake_ctx;
	int max_depth;
};

struct twin_searcher;

enum twin_rc twin_searcher_start(const struct twin_searcher_deps *deps, struct twin_searcher **out);
void twin_searcher_stop(struct twin_searcher *s);
/* Queues a search; the route then belongs to the searcher. min_seq: the last op it must see. */
enum twin_rc twin_searcher_submit(struct twin_searcher *s, struct twin_route *r,
		const void *payload, size_t len, uint64_t min_seq);

/* One search, synchronously (the thread's body; exposed for unit tests). */
struct twin_out *twin_search_run(struct twin_store *store, const struct twin_route *r,
		const char *payload, size_t len, int max_depth);

#endif
