/* store.h - the LMDB store: one environment per process, four tables (twins, tombstones, desired, meta).
 * Reads run on the broker thread inside a short read snapshot; writes run on the writer thread inside
 * its single write transaction. The only module that includes lmdb.h. */
#ifndef TWIN_STORE_H
#define TWIN_STORE_H

#include <stdbool.h>

#include "twin_common.h"

struct twin_store;

/* Opens (creating if needed) the environment in directory path and takes an exclusive lock on it, so a
 * second broker on the same directory is refused. Foreign or corrupt files are refused, never touched. */
enum twin_rc twin_store_open(const char *path, size_t map_size, size_t map_size_max,
		struct twin_store **out, struct twin_error *err);
void twin_store_close(struct twin_store *s);

/* --- broker thread: a read snapshot; values from get stay valid until read_end --- */
enum twin_rc twin_store_read_begin(struct twin_store *s);
enum twin_rc twin_store_get(struct twin_store *s, const char *id, size_t id_len, const void **val,
		size_t *len);
size_t twin_store_count(struct twin_store *s);
void twin_store_read_end(struct twin_store *s);

/* --- writer thread: one write transaction at a time --- */
enum twin_rc twin_store_write_begin(struct twin_store *s, struct twin_error *err);
enum twin_rc twin_store_wget(struct twin_store *s, const char *id, size_t id_len, const void **val,
		size_t *len);
/* Twins stored as the write transaction sees them. */
size_t twin_store_wcount(struct twin_store *s);
enum twin_rc twin_store_put(struct twin_store *s, const char *id, size_t id_len, const void *val,
		size_t len, struct twin_error *err);
enum twin_rc twin_store_del(struct twin_store *s, const char *id, size_t id_len,
		struct twin_error *err);
/* Last version of a deleted twin (0 when none), so versions are never reused. */
int64_t twin_store_tombstone(struct twin_store *s, const char *id, size_t id_len);
enum twin_rc twin_store_set_tombstone(struct twin_store *s, const char *id, size_t id_len,
		int64_t version, struct twin_error *err);
/* Index of twins whose delta is not empty (re-published as retained messages after a restart). */
enum twin_rc twin_store_mark_desired(struct twin_store *s, const char *id, size_t id_len,
		bool pending, struct twin_error *err);
typedef void (*twin_store_id_fn)(void *ctx, const char *id, size_t id_len, const void *val,
		size_t len);
enum twin_rc twin_store_each_desired(struct twin_store *s, twin_store_id_fn fn, void *ctx);
/* History: one entry per twin version written, key id + NUL + big-endian version, value = ts + JSON.
 * add keeps at most max_entries per twin and drops entries older than min_ts. */
enum twin_rc twin_store_history_add(struct twin_store *s, const char *id, size_t id_len,
		int64_t version, int64_t ts, const char *json, size_t json_len, int max_entries,
		int64_t min_ts, struct twin_error *err);
enum twin_rc twin_store_history_drop(struct twin_store *s, const char *id, size_t id_len,
		struct twin_error *err);
/* Broker thread, inside read_begin/read_end: entries newest first until fn returns false. */
typedef bool (*twin_store_history_fn)(void *ctx, int64_t version, int64_t ts, const char *json,
		size_t json_len);
enum twin_rc twin_store_history(struct twin_store *s, const char *id, size_t id_len,
		twin_store_history_fn fn, void *ctx);

/* Any thread but the broker's: scans twins in id order from `from` (inclusive; NULL = first) in its own
 * read snapshot until fn returns false. */
typedef bool (*twin_store_scan_fn)(void *ctx, const char *id, size_t id_len, const void *val,
		size_t len);
enum twin_rc twin_store_scan(struct twin_store *s, const char *from, size_t from_len,
		twin_store_scan_fn fn, void *ctx);

/* Commits and fsyncs. TWIN_ERR_STORE_FULL when the map filled (the transaction is gone either way). */
enum twin_rc twin_store_commit(struct twin_store *s, struct twin_error *err);
void twin_store_abort(struct twin_store *s);
/* Doubles the map up to map_size_max; false when already there. Call with no write transaction. */
bool twin_store_grow(struct twin_store *s);
size_t twin_store_map_size(struct twin_store *s);
/* Bytes of the map in use (pages up to the last one written). */
size_t twin_store_used_bytes(struct twin_store *s);

#endif
