/* search_merge.h - a fleet's $twin/search answer made from its shards' answers (cluster.c asks every
 * shard the same search and merges here). Each shard answers the page it would answer alone plus each
 * item's sort key ("keys", in the cursor's form); the merged page is the first `limit` items of all
 * parts in the search's order, and its cursor is the last item's key, which every shard resumes after:
 * a cursor works whichever shard the next page is asked of. Pure: no store, no threads. */
#ifndef TWIN_SEARCH_MERGE_H
#define TWIN_SEARCH_MERGE_H

#include <stddef.h>

#include "twin_common.h"

/* One shard's 200 answer to the search with keys (twin_searcher_submit's keys). */
struct twin_search_part {
	const char *body;
	size_t len;
};

/* The merged answer body to the search whose request payload is payload/len: "items" in the request's
 * sort order (at most its limit), "cursor" when more rows follow in any part, "count" (asked for) the
 * parts' sum, "stale" when any part was, "incomplete": true and "missing_slots" when missing (the slots
 * no part covers, e.g. "342-682") is not NULL, and "token". Returns a malloc'd body (free with free) and
 * its length, or NULL with err: a payload or part that is not a search's, or out of memory. */
char *twin_search_merge(const char *payload, size_t len, const struct twin_search_part *parts, int n,
		const char *missing, size_t *out_len, struct twin_error *err);

#endif
