/* cluster_search.h - the asking side of a fleet's $twin/search and $twin/stats: one "gather" per request
 * sent to every shard (<subject>.all), which collects the shards' parts until every slot has answered or
 * its deadline passes, then answers the app from a thread of its own (the merge, search_merge.h for a
 * search, never runs on the broker thread; stats are summed). A deadline with slots unanswered gives the
 * answered shards' merged answer, flagged "incomplete" with the "missing_slots"; a 4xx from a shard is the
 * answer (every shard would say the same); no 200 part at all is a 503. */
#ifndef TWIN_CLUSTER_SEARCH_H
#define TWIN_CLUSTER_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "queue.h"

struct twin_gathers;

/* Starts the thread; deliver(ctx, o) is called on it with each answer to publish (o is the callee's). */
enum twin_rc twin_gathers_open(unsigned nslots, int64_t timeout_ms,
		void (*deliver)(void *ctx, struct twin_out *o), void *ctx, struct twin_gathers **out,
		struct twin_error *err);
/* Stops the thread; gathers still open are dropped unanswered. */
void twin_gathers_close(struct twin_gathers *g);
/* A search (stats: a $twin/stats) sent to every shard under key (any thread): r is taken in every case,
 * payload copied. */
enum twin_rc twin_gathers_add(struct twin_gathers *g, uint64_t key, struct twin_route *r, bool stats,
		const void *payload, size_t len);
/* A shard's answer to the search under key (libnats's thread): a wire part (cluster_wire.h), or
 * no_responders (no shard listens). False when key is no open gather's. */
bool twin_gathers_part(struct twin_gathers *g, uint64_t key, bool no_responders, const void *data,
		size_t len);

#endif
