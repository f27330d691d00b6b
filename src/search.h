/* search.h - $twin/search: runs searches on a thread of their own, so a scan over many twins never holds
 * the broker thread. A search waits until every operation queued before it is committed
 * (read-your-writes, bounded), scans one consistent LMDB snapshot within its requester's scope and a
 * deadline, and its answer travels back like the writer's. */
#ifndef TWIN_SEARCH_H
#define TWIN_SEARCH_H

#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "queue.h"
#include "scope.h"
#include "store.h"

struct twin_searcher_deps {
	struct twin_store *store;
	struct twin_opq *writes;      /* hurried when a search waits for queued writes */
	struct twin_outq *out;
	_Atomic uint64_t *done_seq;
	void (*wake)(void *wake_ctx);
	void *wake_ctx;
	const struct twin_config *cfg; /* max_depth and the search_* options */
};

struct twin_searcher;

enum twin_rc twin_searcher_start(const struct twin_searcher_deps *deps, struct twin_searcher **out);
/* Searches still queued are dropped unanswered; the running one stops at its next check. */
void twin_searcher_stop(struct twin_searcher *s);
/* Queues a search; on TWIN_OK the route then belongs to the searcher. min_seq: the last op it must
 * see; username: the requester's (may be NULL), for the scope; keys: the answer also lists each item's
 * sort key (a shard's part of a fleet's search). TWIN_ERR_BUSY (503, err says so) when
 * search_queue_size searches are waiting. */
enum twin_rc twin_searcher_submit(struct twin_searcher *s, struct twin_route *r, const char *username,
		const void *payload, size_t len, uint64_t min_seq, bool keys, struct twin_error *err);

/* What one search runs under. */
struct twin_search_ctx {
	int max_depth;
	const struct twin_scope *scope; /* NULL: every twin */
	int64_t deadline_ms;            /* on twin_search_clock_ms(); 0: none */
	int64_t timeout_ms;             /* search_timeout_ms, for the message when the deadline passes */
	const atomic_bool *stop;        /* set when the broker stops; NULL: never */
	bool stale;                     /* the wait for earlier writes gave up: the answer says so */
	const char *default_model;      /* plugin_opt_default_model: rows show the model they follow */
	bool keys;                      /* list each item's sort key under "keys" (twin_searcher_submit) */
};

/* One search, synchronously (the thread's body; exposed for unit tests). */
struct twin_out *twin_search_run(struct twin_store *store, const struct twin_route *r,
		const char *payload, size_t len, const struct twin_search_ctx *ctx);
/* The monotonic clock of deadlines, in milliseconds. */
int64_t twin_search_clock_ms(void);

#endif
