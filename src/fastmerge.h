/* fastmerge.h - the telemetry fast path: flat readings merged into a stored twin (format 2) directly on
 * its bytes, with no cJSON tree and no allocation beyond growing the caller's buffers. It applies only
 * where its result is byte for byte the slow path's (twin_doc_load, twin_doc_patch of reported per
 * reading, one twin_doc_bump, twin_doc_seen, twin_doc_store); anywhere else it says so and the caller
 * takes the slow path. Pure: no state, any thread. */
#ifndef TWIN_FASTMERGE_H
#define TWIN_FASTMERGE_H

#include <stdbool.h>

#include "jsonx.h"

#define TWIN_FAST_MAX_MEMBERS 64 /* members of one reading; more: the slow path */

enum twin_fast_type { TWIN_FAST_NUMBER, TWIN_FAST_STRING, TWIN_FAST_TRUE, TWIN_FAST_FALSE };

/* One member of a flat reading; key and val point into the payload. key is the name without its quotes,
 * val the value's JSON text (a string with its quotes); num is a number's value. */
struct twin_fast_member {
	const char *key, *val;
	size_t key_len, val_len;
	enum twin_fast_type type;
	double num;
};

/* A reading: m is the caller's array of cap members (cap <= TWIN_FAST_MAX_MEMBERS counts), ts its time. */
struct twin_fast_reading {
	struct twin_fast_member *m;
	size_t n, cap;
	int64_t ts;
};

/* True when payload[0..len) is a JSON object the fast path handles, and fills r->m and r->n (r->ts is the
 * caller's): members that are numbers, strings, true or false; keys and strings of printable ASCII
 * without escapes; no duplicate key, no key `ts` or `values` (ingest.c gives those a meaning); numbers
 * that parse exactly without strtod; at most r->cap members. Anything else: false, r->n undefined. */
bool twin_fast_scan(const char *payload, size_t len, struct twin_fast_reading *r);

/* Applies readings rs[0..n) in order (each at its own ts) to reported of the stored twin old (NULL: the
 * twin does not exist and is created as version last_version + 1, created = rs[0].ts), bumping the
 * version once if anything changed (updated = ts of the last reading that changed something), then sets
 * lastSeen = seen. Writes the new stored value into out, and the effective change (the changed reported
 * leaves, each with its last value, in the order of their first change) as compact JSON into changed;
 * *version_out is the twin's version afterwards.
 * Returns the number of changed leaves (0: only lastSeen moved, or a new twin with nothing in it), or
 * -1 when the fast path does not apply (old is not an undamaged format 2 value whose desired is {} and
 * whose alarms section, if it has one, is empty,
 * holds something the fast path cannot vouch for, a ts is outside [0, 2^53], or memory ran out); out
 * and changed are then undefined. The twin's id is not needed: the stored value does not hold it. out
 * must not hold old (old is read while out is written); the payloads must outlive the call. */
int twin_fast_apply(const void *old, size_t old_len, int64_t last_version,
		const struct twin_fast_reading *rs, size_t n, int64_t seen, struct twin_buf *out,
		struct twin_buf *changed, int64_t *version_out);

/* The twin as merged, shown to a check before anything is written. */
struct twin_fast_view;
/* Its attributes, as stored JSON text. */
void twin_fast_view_attributes(const struct twin_fast_view *v, const char **text, size_t *len);
/* Its reported member key after the merge: true with *out set (key, val, type, num) when it is a number,
 * true, false or a string without escapes; false when absent, or (then *other is set) when it is anything
 * else. */
bool twin_fast_view_reported(const struct twin_fast_view *v, const char *key, size_t len,
		struct twin_fast_member *out, bool *other);
/* A check of the merged twin: false declines the fast path (twin_fast_apply then returns -1). */
typedef bool (*twin_fast_check_fn)(void *ctx, const struct twin_fast_view *v);

/* twin_fast_apply, with check (may be NULL) called once the readings are merged, before the result is
 * written. */
int twin_fast_apply_checked(const void *old, size_t old_len, int64_t last_version,
		const struct twin_fast_reading *rs, size_t n, int64_t seen, struct twin_buf *out,
		struct twin_buf *changed, int64_t *version_out, twin_fast_check_fn check, void *check_ctx);

#endif
