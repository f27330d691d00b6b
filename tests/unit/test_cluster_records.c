/* test_cluster_records.c - a cluster slot's records (src/cluster_records.c) and slot sets
 * (src/cluster_slot.c), on real stores: the export finds exactly the slot's records of every table in
 * small chunks across cursors, an import writes them as they were, purge deletes only them, malformed or
 * foreign records and cursors are refused, and the persisted slot table reads back. Both files are pure
 * (no NATS), so they are built here without -DTWIN_CLUSTER. */
#include "check.h"
#include "cluster_records.h"
#include "cluster_slot.h"

#define NSLOTS 1024

/* n ids of slot (crc32 mod 1024), "p-<i>" */
static int ids_of_slot(unsigned slot, char ids[][32], int n)
{
	int found = 0;
	for (int i = 0; found < n; i++) {
		snprintf(ids[found], 32, "p-%d", i);
		found += twin_cluster_slot(ids[found], strlen(ids[found]), NSLOTS) == slot;
	}
	return found;
}

/* A store with, for 5 twins of slot 7 and 5 of slot 8: the twin, history, and for the first of each a
 * tombstone and a desired mark. */
static struct twin_store *filled(const char *dir, char in7[][32], char in8[][32])
{
	struct twin_store *s;
	struct twin_error err;
	if (twin_store_open(dir, 1 << 22, 1 << 22, &s, &err) || twin_store_write_begin(s, &err)) {
		return NULL;
	}
	ids_of_slot(7, in7, 5);
	ids_of_slot(8, in8, 5);
	for (int i = 0; i < 5; i++) {
		char (*sets[2])[32] = {in7, in8};
		for (int k = 0; k < 2; k++) {
			const char *id = sets[k][i];
			twin_store_put(s, id, strlen(id), "\001{\"v\":1}", 8, &err);
			twin_store_history_add(s, id, strlen(id), 1, 1000, "{}", 2, 10, INT64_MIN, &err);
			twin_store_history_add(s, id, strlen(id), 2, 2000, "{}", 2, 10, INT64_MIN, &err);
			if (i == 0) {
				twin_store_set_tombstone(s, "gone", 4, 3, &err); /* another slot's */
				twin_store_set_tombstone(s, id, strlen(id), 9, &err);
				twin_store_mark_desired(s, id, strlen(id), true, &err);
			}
		}
	}
	if (twin_store_commit(s, &err)) {
		twin_store_close(s);
		return NULL;
	}
	return s;
}

/* Every record of slot 7 from s, in chunks of at most max_scan records looked at, each cursor passed
 * through its text form. */
static size_t export_all(struct twin_store *s, size_t max_scan, struct twin_buf *all, int *chunks)
{
	struct twin_slot_cursor cur;
	char text[600];
	size_t total = 0;
	twin_slot_cursor_parse(&cur, "00");
	*chunks = 0;
	twin_store_read_begin(s);
	while (cur.table < TWIN_SLOT_N_TABLES) {
		size_t n = 0;
		if (twin_slot_export(s, 7, NSLOTS, TWIN_SLOT_N_TABLES, &cur, 1 << 20, max_scan, all, &n)) {
			break;
		}
		total += n;
		(*chunks)++;
		twin_slot_cursor_format(&cur, text, sizeof(text));
		if (!twin_slot_cursor_parse(&cur, text)) {
			break;
		}
	}
	twin_store_read_end(s);
	return total;
}

TEST(export_finds_exactly_the_slots_records_across_chunks)
{
	char *dir = check_tmpdir();
	char in7[5][32], in8[5][32];
	struct twin_store *s = filled(dir, in7, in8);
	struct twin_buf all = {0};
	size_t counts[TWIN_SLOT_N_TABLES];
	int chunks;
	CHECK(s != NULL);
	/* 5 twins + 1 tombstone + 1 desired + 10 history entries */
	CHECK_INT(export_all(s, 3, &all, &chunks), 17);
	CHECK(chunks > 5); /* 36 records looked at, 3 at a time */
	CHECK(twin_slot_records_valid(all.data, all.len, 7, NSLOTS));
	CHECK(!twin_slot_records_valid(all.data, all.len, 8, NSLOTS));
	twin_store_read_begin(s);
	CHECK_INT(twin_slot_count(s, 7, NSLOTS, counts), TWIN_OK);
	twin_store_read_end(s);
	CHECK_INT(counts[0], 5);
	CHECK_INT(counts[1], 1);
	CHECK_INT(counts[2], 1);
	CHECK_INT(counts[3], 10);
	twin_buf_free(&all);
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}

TEST(import_writes_the_records_as_they_were_and_purge_deletes_only_the_slot)
{
	char *src_dir = check_tmpdir(), *dst_dir = check_tmpdir();
	char in7[5][32], in8[5][32];
	struct twin_store *src = filled(src_dir, in7, in8), *dst;
	struct twin_buf all = {0};
	struct twin_error err;
	size_t counts[TWIN_SLOT_N_TABLES];
	const void *val;
	size_t len;
	int chunks;
	CHECK(src != NULL);
	export_all(src, 1000, &all, &chunks);
	CHECK_INT(chunks, 1);
	CHECK_INT(twin_store_open(dst_dir, 1 << 22, 1 << 22, &dst, &err), TWIN_OK);
	CHECK_INT(twin_store_write_begin(dst, &err), TWIN_OK);
	CHECK_INT(twin_slot_import_call(dst, all.data, all.len, &err), TWIN_OK);
	CHECK_INT(twin_store_commit(dst, &err), TWIN_OK);
	twin_store_read_begin(dst);
	CHECK_INT(twin_store_get(dst, in7[2], strlen(in7[2]), &val, &len), TWIN_OK);
	CHECK_INT(len, 8);
	CHECK(!memcmp(val, "\001{\"v\":1}", 8));
	CHECK_INT(twin_store_get(dst, in8[2], strlen(in8[2]), &val, &len), TWIN_ERR_NOT_FOUND);
	CHECK_INT(twin_slot_count(dst, 7, NSLOTS, counts), TWIN_OK);
	twin_store_read_end(dst);
	CHECK_INT(counts[0] + counts[1] + counts[2] + counts[3], 17);
	CHECK_INT(twin_store_write_begin(dst, &err), TWIN_OK);
	CHECK_INT(twin_store_tombstone(dst, in7[0], strlen(in7[0])), 9);
	twin_store_abort(dst);

	/* purge on the source: slot 7 goes, slot 8 and the other tombstone stay */
	CHECK_INT(twin_store_write_begin(src, &err), TWIN_OK);
	CHECK_INT(twin_slot_purge_call(src, "7 1024", 6, &err), TWIN_OK);
	CHECK_INT(twin_slot_purge_call(src, "x", 1, &err), TWIN_ERR_BAD_REQUEST);
	CHECK_INT(twin_store_commit(src, &err), TWIN_OK);
	twin_store_read_begin(src);
	CHECK_INT(twin_slot_count(src, 7, NSLOTS, counts), TWIN_OK);
	CHECK_INT(counts[0] + counts[1] + counts[2] + counts[3], 0);
	CHECK_INT(twin_slot_count(src, 8, NSLOTS, counts), TWIN_OK);
	CHECK_INT(counts[0] + counts[3], 15);
	CHECK_INT(twin_store_count(src), 5);
	twin_store_read_end(src);
	twin_buf_free(&all);
	twin_store_close(src);
	twin_store_close(dst);
	check_rmdir(src_dir);
	check_rmdir(dst_dir);
	free(src_dir);
	free(dst_dir);
}

TEST(malformed_records_and_cursors_are_refused)
{
	char id[1][32];
	ids_of_slot(7, id, 1);
	unsigned char ok[64] = {0, 0, (unsigned char)strlen(id[0]), 0, 0, 0, 2};
	size_t n = 7 + strlen(id[0]) + 2;
	memcpy(ok + 7, id[0], strlen(id[0]));
	memcpy(ok + 7 + strlen(id[0]), "{}", 2);
	struct twin_slot_cursor cur;
	CHECK(twin_slot_records_valid(ok, n, 7, NSLOTS));
	CHECK(twin_slot_records_valid(ok, 0, 7, NSLOTS)); /* nothing to import */
	CHECK(!twin_slot_records_valid(ok, n - 1, 7, NSLOTS)); /* cut short */
	CHECK(!twin_slot_records_valid(ok, 3, 7, NSLOTS));      /* a header cut short */
	ok[0] = 4;                                              /* no such table */
	CHECK(!twin_slot_records_valid(ok, n, 7, NSLOTS));
	ok[0] = 0;
	ok[2] = 0; /* an empty key */
	CHECK(!twin_slot_records_valid(ok, n, 7, NSLOTS));
	CHECK(twin_slot_cursor_parse(&cur, "-") && cur.table == TWIN_SLOT_N_TABLES);
	CHECK(twin_slot_cursor_parse(&cur, "0170") && cur.table == 1 && cur.key_len == 1 && cur.key[0] == 'p');
	CHECK(!twin_slot_cursor_parse(&cur, ""));
	CHECK(!twin_slot_cursor_parse(&cur, "0"));
	CHECK(!twin_slot_cursor_parse(&cur, "zz"));
	CHECK(!twin_slot_cursor_parse(&cur, "0x10"));
	CHECK(!twin_slot_cursor_parse(&cur, "05"));
	char big[1200];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(!twin_slot_cursor_parse(&cur, big));
}

TEST(the_slot_table_persists_and_reads_back)
{
	char *dir = check_tmpdir();
	struct twin_store *s;
	struct twin_error err;
	CHECK(twin_slot_table_read(dir) == NULL); /* no store yet */
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_OK);
	CHECK(twin_slot_table_read(dir) == NULL); /* no slot ever moved */
	CHECK_INT(twin_store_write_begin(s, &err), TWIN_OK);
	CHECK_INT(twin_slot_persist_call(s, "1024 5,342-682", 14, &err), TWIN_OK);
	CHECK_INT(twin_store_commit(s, &err), TWIN_OK);
	char *table = twin_slot_table_read(dir);
	CHECK_STR(table, "1024 5,342-682");
	free(table);
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}

TEST(slot_sets_change_and_format_as_they_parse)
{
	struct twin_slot_set s;
	struct twin_error err;
	CHECK_INT(twin_slot_set_parse(&s, "0-341", NSLOTS, &err), TWIN_OK);
	CHECK(twin_slot_set_put(&s, 77, false));
	CHECK(!twin_slot_set_put(&s, 77, false));
	CHECK(twin_slot_set_put(&s, 1023, true));
	CHECK(!twin_slot_set_put(&s, 1024, true));
	CHECK_INT(s.owned, 342);
	char *text = twin_slot_set_format(&s);
	CHECK_STR(text, "0-76,78-341,1023");
	struct twin_slot_set again;
	CHECK_INT(twin_slot_set_parse(&again, text, NSLOTS, &err), TWIN_OK);
	CHECK_INT(again.owned, 342);
	CHECK(!memcmp(again.bits, s.bits, NSLOTS / 8));
	free(text);
	twin_slot_set_free(&again);
	twin_slot_set_free(&s);
	CHECK_INT(twin_slot_set_parse(&s, "", NSLOTS, &err), TWIN_OK);
	text = twin_slot_set_format(&s);
	CHECK_STR(text, "");
	free(text);
	twin_slot_set_free(&s);
}
