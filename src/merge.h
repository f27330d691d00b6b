/* merge.h - RFC 7396 JSON Merge Patch on cJSON trees, with per-leaf timestamps and change tracking. */
#ifndef TWIN_MERGE_H
#define TWIN_MERGE_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "twin_common.h"

/* Merges patch (an object) into target (an object): objects merge recursively, null removes a key, every
 * other value (arrays included) replaces. A value equal to the current one is no change.
 * meta (may be NULL) mirrors target: each changed leaf gets {"ts": ts}, removed keys lose their entry.
 * changed (may be NULL) receives the effective patch: only what really changed, null for removals.
 * Returns the number of changed leaves, or -1 when memory ran out (target may then be partly merged). */
int twin_merge_apply(cJSON *target, const cJSON *patch, cJSON *meta, int64_t ts, cJSON *changed);

/* A leaf's metadata marker {"ts": ts}; NULL on allocation failure. */
cJSON *twin_merge_ts_marker(int64_t ts);
/* True when m is a leaf's marker (an object whose only member is the number "ts"), not an object mirror. */
bool twin_merge_is_ts_marker(const cJSON *m);

#endif
