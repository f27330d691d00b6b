/* store.h - the LMDB store: one environment per process, five tables (twins, tombstones, desired, history,
 * meta). Reads run on the broker thread inside a short read snapshot; writes run on the writer thread
 * inside its single write transaction. A read-only open (twinctl) reads beside a running broker. The only
 * module that includes lmdb.h. */
#ifndef TWIN_STORE_H
#define TWIN_STORE_H

#include <stdbool.h>

#include "twin_common.h"

struct twin_store;

/* Opens (creating if needed) the environment in directory path and takes an exclusive lock on it, so a
 * second broker on the same directory is refused. Foreign or corrupt files are refused, never touched;
 * so is a store of a newer format than this code's (the message names this version and what to do). A
 * store of an older format is moved to today's in the same open. */
enum twin_rc twin_store_open(const char *path, size_t map_size, size_t map_size_max,
		struct twin_store **out, struct twin_error *err);
/* The format the open moved the store from (1), or 0 when it was of today's format or new. */
int twin_store_migrated_from(const struct twin_store *s);
void twin_store_close(struct twin_store *s);

/* --- tools (twinctl): reading beside a running broker --- */
/* Opens an existing store read-only, without the lock (LMDB lets other processes read while the broker
 * writes). Refuses a directory without a mosquitto-twin store, or with one of a newer format; reads an
 * older format as it is. Single-threaded use only. */
enum twin_rc twin_store_open_readonly(const char *path, struct twin_store **out,
		struct twin_error *err);
/* True when a process (a broker, or a twinctl import) holds the lock of the store in path. */
bool twin_store_lock_held(const char *path);

enum twin_store_table {
	TWIN_TABLE_TWINS,
	TWIN_TABLE_TOMBSTONES,
	TWIN_TABLE_DESIRED,
	TWIN_TABLE_HISTORY,
	TWIN_TABLE_META,
	TWIN_N_TABLES
};
extern const char *const twin_store_table_names[TWIN_N_TABLES];

struct twin_store_stats {
	size_t entries[TWIN_N_TABLES];
	size_t bytes[TWIN_N_TABLES]; /* the table's B-tree pages (branch, leaf, overflow) x page size */
	size_t page_size, map_size, map_used; /* map_used: pages up to the last one in use */
	unsigned readers, max_readers;
	int format; /* of the store's marker (twin_store_open) */
};

/* --- broker thread: a read snapshot; values from get stay valid until read_end --- */
enum twin_rc twin_store_read_begin(struct twin_store *s);
enum twin_rc twin_store_get(struct twin_store *s, const char *id, size_t id_len, const void **val,
		size_t *len);
size_t twin_store_count(struct twin_store *s);
/* Inside read_begin/read_end: a key of any table, and each entry of a table in key order from `from`
 * (inclusive; NULL = first) until fn returns false. */
enum twin_rc twin_store_read_find(struct twin_store *s, enum twin_store_table t, const char *key,
		size_t key_len, const void **val, size_t *len);
typedef bool (*twin_store_scan_fn)(void *ctx, const char *id, size_t id_len, const void *val,
		size_t len);
enum twin_rc twin_store_read_each(struct twin_store *s, enum twin_store_table t, const char *from,
		size_t from_len, twin_store_scan_fn fn, void *ctx);
enum twin_rc twin_store_stats(struct twin_store *s, struct twin_store_stats *out);
void twin_store_read_end(struct twin_store *s);
/* A compacted copy (free pages left out) of the store into directory dir, which must not hold one. */
enum twin_rc twin_store_copy_compact(struct twin_store *s, const char *dir, struct twin_error *err);

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
/* Any table, as it is: a record copied from another store (a slot moving between shards). */
enum twin_rc twin_store_put_in(struct twin_store *s, enum twin_store_table t, const void *key,
		size_t key_len, const void *val, size_t len, struct twin_error *err);
/* Deletes every record of table t whose key match() accepts, adding their number to *deleted. */
typedef bool (*twin_store_key_fn)(void *ctx, const void *key, size_t key_len);
enum twin_rc twin_store_del_matching(struct twin_store *s, enum twin_store_table t,
		twin_store_key_fn match, void *ctx, size_t *deleted, struct twin_error *err);
/* Last version of a deleted twin (0 when none), so versions are never reused. */
int64_t twin_store_tombstone(struct twin_store *s, const char *id, size_t id_len);
enum twin_rc twin_store_set_tombstone(struct twin_store *s, const char *id, size_t id_len,
		int64_t version, struct twin_error *err);
/* Index of twins whose delta is not empty (re-published as retained messages after a restart). */
enum twin_rc twin_store_mark_desired(struct twin_store *s, const char *id, size_t id_len,
		bool pending, struct twin_error *err);
/* Called per twin of the desired index; returns false to stop the walk there. */
typedef bool (*twin_store_id_fn)(void *ctx, const char *id, size_t id_len, const void *val,
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
