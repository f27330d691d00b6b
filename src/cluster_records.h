/* cluster_records.h - a slot's records as they move from one shard to another: every record of the
 * store that belongs to a twin of the slot (twins, tombstones, desired index, history; each keyed by the
 * twin id, a history key by the id and a NUL), read in chunks on the source, written as they were on the
 * target (same versions, timestamps and history), deleted where they no longer belong; and the shard's
 * persisted slot table (meta key "cluster_slots"). A chunk is a run of records: u8 table, u16 key
 * length, u32 value length (big-endian), key, value. */
#ifndef TWIN_CLUSTER_RECORDS_H
#define TWIN_CLUSTER_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "jsonx.h"
#include "store.h"

#define TWIN_SLOT_META_KEY "cluster_slots"
#define TWIN_SLOT_N_TABLES 4 /* twins, tombstones, desired, history: the tables keyed by twin id */

/* Where an export goes on: the table (TWIN_SLOT_N_TABLES: done) and the first key not yet looked at. */
struct twin_slot_cursor {
	unsigned table;
	size_t key_len;
	char key[TWIN_MAX_ID_LEN + 16];
};

/* Broker thread, inside twin_store_read_begin/read_end: appends to out the slot's records from cur on,
 * in the tables before end_table (TWIN_SLOT_N_TABLES: all; 1: the twins only), until about max_bytes
 * are in out or max_scan records were looked at; moves cur past them (to end_table when done). */
enum twin_rc twin_slot_export(struct twin_store *s, unsigned slot, unsigned nslots, unsigned end_table,
		struct twin_slot_cursor *cur, size_t max_bytes, size_t max_scan, struct twin_buf *out,
		size_t *records);
/* Broker thread, inside read_begin/read_end: the slot's records in each of the tables. */
enum twin_rc twin_slot_count(struct twin_store *s, unsigned slot, unsigned nslots,
		size_t counts[TWIN_SLOT_N_TABLES]);

/* The cursor as text (hex; "-" when done) and back; false on anything else. */
void twin_slot_cursor_format(const struct twin_slot_cursor *cur, char *out, size_t size);
bool twin_slot_cursor_parse(struct twin_slot_cursor *cur, const char *text);

/* Whether data is a well-formed run of records, each of a twin of slot. */
bool twin_slot_records_valid(const void *data, size_t len, unsigned slot, unsigned nslots);

/* Writer-thread calls (twin_store_call_fn). import: payload is a run of records, written as they are.
 * purge: payload is "SLOT NSLOTS"; deletes the slot's records. persist: payload is "NSLOTS SPEC", kept
 * as the shard's slot table. */
enum twin_rc twin_slot_import_call(struct twin_store *s, const char *payload, size_t len,
		struct twin_error *err);
enum twin_rc twin_slot_purge_call(struct twin_store *s, const char *payload, size_t len,
		struct twin_error *err);
enum twin_rc twin_slot_persist_call(struct twin_store *s, const char *payload, size_t len,
		struct twin_error *err);
/* Writes nothing: queued after other operations, its commit says that theirs happened. */
enum twin_rc twin_slot_barrier_call(struct twin_store *s, const char *payload, size_t len,
		struct twin_error *err);

/* The slot table persisted in the store of directory db_path ("NSLOTS SPEC", malloc'd), or NULL when
 * there is none (no store yet, or no slot was ever moved). Opens the store read-only: call it before
 * the engine takes the store. */
char *twin_slot_table_read(const char *db_path);

#endif
