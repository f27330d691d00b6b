/* test_store.c - the LMDB store: round trip, tombstones, desired index, exclusive lock, foreign files,
 * map full and growth, read-only opens beside the writer (twinctl), the format marker (older moved,
 * newer refused). */
#include "check.h"
#include "store.h"
#include "version.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static enum twin_rc put_commit(struct twin_store *s, const char *id, const char *val, size_t len)
{
	struct twin_error err;
	enum twin_rc rc = twin_store_write_begin(s, &err);
	if (!rc && (rc = twin_store_put(s, id, strlen(id), val, len, &err)) != TWIN_OK) {
		twin_store_abort(s);
		return rc;
	}
	return rc ? rc : twin_store_commit(s, &err);
}

/* An LMDB database in dir with one key in its main table: not a twin store. */
static void make_foreign_db(const char *dir)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {3, "key"}, v = {3, "val"};
	mdb_env_create(&env);
	mdb_env_open(env, dir, 0, 0640);
	mdb_txn_begin(env, NULL, 0, &txn);
	mdb_dbi_open(txn, NULL, 0, &dbi);
	mdb_put(txn, dbi, &k, &v, 0);
	mdb_txn_commit(txn);
	mdb_env_close(env);
}

TEST(store_should_round_trip_and_count)
{
	char *dir = check_tmpdir();
	struct twin_store *s;
	struct twin_error err;
	const void *val;
	size_t len;
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_OK);
	CHECK_INT(put_commit(s, "a", "\001{}", 3), TWIN_OK);
	CHECK_INT(twin_store_read_begin(s), TWIN_OK);
	CHECK_INT(twin_store_get(s, "a", 1, &val, &len), TWIN_OK);
	CHECK_INT(len, 3);
	CHECK_INT(twin_store_get(s, "b", 1, &val, &len), TWIN_ERR_NOT_FOUND);
	CHECK_INT(twin_store_count(s), 1);
	twin_store_read_end(s);
	twin_store_close(s);
	/* reopened: still there */
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_OK);
	twin_store_read_begin(s);
	CHECK_INT(twin_store_get(s, "a", 1, &val, &len), TWIN_OK);
	twin_store_read_end(s);
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}

static bool collect_ts(void *ctx, int64_t version, int64_t ts, const char *json, size_t len)
{
	char *out = ctx;
	(void)json;
	(void)len;
	snprintf(out + strlen(out), 200 - strlen(out), "%lld@%lld ", (long long)version, (long long)ts);
	return true;
}

TEST(store_should_prune_history_by_age_whatever_the_order_of_its_timestamps)
{
	char *dir = check_tmpdir();
	struct twin_store *s;
	struct twin_error err;
	char got[200] = "";
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_OK);
	/* device timestamps go backwards: version 2 is older than version 1 */
	static const int64_t ts[] = {5000, 1000, 6000, 2000, 7000};
	for (int i = 0; i < 5; i++) {
		CHECK_INT(twin_store_write_begin(s, &err), TWIN_OK);
		/* keep 10 entries, none before 3000 (only once the last one is written) */
		CHECK_INT(twin_store_history_add(s, "h", 1, i + 1, ts[i], "{}", 2, 10, i == 4 ? 3000 : 0, &err),
				TWIN_OK);
		CHECK_INT(twin_store_commit(s, &err), TWIN_OK);
	}
	CHECK_INT(twin_store_read_begin(s), TWIN_OK);
	twin_store_history(s, "h", 1, collect_ts, got);
	twin_store_read_end(s);
	CHECK_STR(got, "5@7000 3@6000 1@5000 ");
	/* the count bound still drops the oldest versions first */
	CHECK_INT(twin_store_write_begin(s, &err), TWIN_OK);
	CHECK_INT(twin_store_history_add(s, "h", 1, 6, 8000, "{}", 2, 2, 0, &err), TWIN_OK);
	CHECK_INT(twin_store_commit(s, &err), TWIN_OK);
	got[0] = '\0';
	CHECK_INT(twin_store_read_begin(s), TWIN_OK);
	twin_store_history(s, "h", 1, collect_ts, got);
	twin_store_read_end(s);
	CHECK_STR(got, "6@8000 5@7000 ");
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}

TEST(store_should_keep_tombstones_and_the_desired_index)
{
	char *dir = check_tmpdir();
	struct twin_store *s;
	struct twin_error err;
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_OK);
	twin_store_write_begin(s, &err);
	CHECK_INT(twin_store_tombstone(s, "a", 1), 0);
	CHECK_INT(twin_store_set_tombstone(s, "a", 1, 41, &err), TWIN_OK);
	CHECK_INT(twin_store_tombstone(s, "a", 1), 41);
	twin_store_commit(s, &err);
	twin_store_close(s);
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_OK);
	twin_store_write_begin(s, &err);
	CHECK_INT(twin_store_tombstone(s, "a", 1), 41);
	twin_store_abort(s);
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}

TEST(store_should_refuse_a_second_opener)
{
	char *dir = check_tmpdir();
	struct twin_store *s, *s2;
	struct twin_error err;
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_OK);
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s2, &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "already in use");
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}

TEST(store_should_refuse_foreign_and_corrupt_files)
{
	char *dir = check_tmpdir();
	struct twin_store *s;
	struct twin_error err;
	make_foreign_db(dir);
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "not a mosquitto-twin store");
	check_rmdir(dir);
	free(dir);

	dir = check_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0640);
	char junk[8192];
	memset(junk, 0x5a, sizeof(junk));
	CHECK(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
	close(fd);
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "cannot open the twin database");
	check_rmdir(dir);
	free(dir);
}

TEST(store_should_report_full_and_grow)
{
	char *dir = check_tmpdir();
	struct twin_store *s;
	struct twin_error err;
	static char big[100000];
	enum twin_rc rc = TWIN_OK;
	CHECK_INT(twin_store_open(dir, 1 << 20, 4 << 20, &s, &err), TWIN_OK);
	for (int i = 0; i < 40 && rc == TWIN_OK; i++) {
		char id[16];
		snprintf(id, sizeof(id), "t%d", i);
		rc = put_commit(s, id, big, sizeof(big));
	}
	CHECK_INT(rc, TWIN_ERR_STORE_FULL);
	CHECK(twin_store_grow(s));
	CHECK_INT(twin_store_map_size(s), 2 << 20);
	CHECK_INT(put_commit(s, "more", big, sizeof(big)), TWIN_OK);
	CHECK(twin_store_grow(s));
	CHECK(!twin_store_grow(s)); /* at map_size_max */
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}

TEST(store_should_explain_an_unwritable_directory)
{
	struct twin_store *s;
	struct twin_error err;
	char *dir = check_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/file", dir);
	close(open(path, O_WRONLY | O_CREAT, 0640));
	snprintf(path, sizeof(path), "%s/file/db", dir);
	CHECK_INT(twin_store_open(path, 1 << 20, 1 << 20, &s, &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "set plugin_opt_db_path");
	check_rmdir(dir);
	free(dir);
}

static bool count_entry(void *ctx, const char *id, size_t id_len, const void *val, size_t len)
{
	(void)id;
	(void)id_len;
	(void)val;
	(void)len;
	return ++*(int *)ctx < 100;
}

/* What a read-only process sees beside the writer: 0 when all is as expected, else the failed step. */
static int read_only_child(const char *dir)
{
	struct twin_store *r;
	struct twin_error err;
	struct twin_store_stats st;
	const void *val;
	size_t len;
	char copy[4096];
	int n = 0;
	if (twin_store_open_readonly(dir, &r, &err) || twin_store_read_begin(r)) {
		return 1;
	}
	if (twin_store_read_each(r, TWIN_TABLE_TWINS, NULL, 0, count_entry, &n) || n != 2) {
		return 2;
	}
	n = 0;
	if (twin_store_read_each(r, TWIN_TABLE_TWINS, "b", 1, count_entry, &n) || n != 1) {
		return 3;
	}
	if (twin_store_read_find(r, TWIN_TABLE_TWINS, "a", 1, &val, &len) || len != 3 ||
			twin_store_read_find(r, TWIN_TABLE_TWINS, "zz", 2, &val, &len) != TWIN_ERR_NOT_FOUND) {
		return 4;
	}
	if (twin_store_stats(r, &st) || st.entries[TWIN_TABLE_TWINS] != 2 ||
			st.entries[TWIN_TABLE_META] != 1 || !st.bytes[TWIN_TABLE_TWINS] || !st.map_size ||
			st.map_used > st.map_size) {
		return 5;
	}
	twin_store_read_end(r);
	snprintf(copy, sizeof(copy), "%s/copy", dir);
	mkdir(copy, 0750);
	if (twin_store_copy_compact(r, copy, &err) ||
			twin_store_copy_compact(r, copy, &err) != TWIN_ERR_CONFIG) {
		return 6;
	}
	twin_store_close(r);
	return 0;
}

TEST(store_should_be_read_by_another_process_beside_the_writer)
{
	char *dir = check_tmpdir();
	struct twin_store *s, *r;
	struct twin_error err;
	int status = -1;
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_OK);
	CHECK_INT(put_commit(s, "a", "\001{}", 3), TWIN_OK);
	CHECK_INT(put_commit(s, "b", "\001{}", 3), TWIN_OK);
	CHECK(twin_store_lock_held(dir));
	pid_t pid = fork(); /* LMDB wants one environment per file per process */
	if (pid == 0) {
		_exit(read_only_child(dir));
	}
	waitpid(pid, &status, 0);
	CHECK_INT(status, 0);
	twin_store_close(s);
	CHECK(!twin_store_lock_held(dir));
	/* the compacted copy is a store of its own */
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s/copy", dir);
	CHECK_INT(twin_store_open_readonly(copy, &r, &err), TWIN_OK);
	twin_store_read_begin(r);
	CHECK_INT(twin_store_count(r), 2);
	twin_store_read_end(r);
	twin_store_close(r);
	check_rmdir(dir);
	free(dir);
}

TEST(store_should_refuse_a_read_only_open_of_what_is_not_a_store)
{
	char *dir = check_tmpdir();
	struct twin_store *r;
	struct twin_error err;
	CHECK_INT(twin_store_open_readonly(dir, &r, &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "no twin database");
	CHECK(!twin_store_lock_held(dir));
	make_foreign_db(dir);
	CHECK_INT(twin_store_open_readonly(dir, &r, &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "does not hold a mosquitto-twin store");
	check_rmdir(dir);
	free(dir);
}

/* Replaces the store's format marker, as an older or a newer release would have written it. */
static void set_marker(const char *dir, const char *marker)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	MDB_val k = {6, "format"}, v = {strlen(marker), (void *)marker};
	mdb_env_create(&env);
	mdb_env_set_maxdbs(env, 8);
	mdb_env_open(env, dir, 0, 0640);
	mdb_txn_begin(env, NULL, 0, &txn);
	mdb_dbi_open(txn, "meta", 0, &meta);
	mdb_put(txn, meta, &k, &v, 0);
	mdb_txn_commit(txn);
	mdb_env_close(env);
}

/* The store's format as twinctl stats reads it (a read-only open), -1 when that open is refused. */
static int format_read_only(const char *dir, struct twin_error *err)
{
	struct twin_store *r;
	struct twin_store_stats st;
	if (twin_store_open_readonly(dir, &r, err)) {
		return -1;
	}
	twin_store_read_begin(r);
	enum twin_rc rc = twin_store_stats(r, &st);
	twin_store_read_end(r);
	twin_store_close(r);
	return rc ? -2 : st.format;
}

TEST(store_should_move_a_format_1_store_to_format_2_and_refuse_a_newer_one)
{
	char *dir = check_tmpdir();
	struct twin_store *s;
	struct twin_error err;
	const void *val;
	size_t len;
	/* new: format 2 at once, nothing moved */
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_OK);
	CHECK_INT(twin_store_migrated_from(s), 0);
	CHECK_INT(put_commit(s, "a", "\001{}", 3), TWIN_OK);
	twin_store_close(s);
	CHECK_INT(format_read_only(dir, &err), 2);

	/* as 0.1 left it: read as it is by a read-only open, moved to 2 by a writable one, twins kept */
	set_marker(dir, "mosquitto-twin 1");
	CHECK_INT(format_read_only(dir, &err), 1);
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_OK);
	CHECK_INT(twin_store_migrated_from(s), 1);
	twin_store_read_begin(s);
	CHECK_INT(twin_store_get(s, "a", 1, &val, &len), TWIN_OK);
	twin_store_read_end(s);
	twin_store_close(s);
	CHECK_INT(format_read_only(dir, &err), 2);
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_OK);
	CHECK_INT(twin_store_migrated_from(s), 0); /* once */
	twin_store_close(s);

	/* a newer release's store: refused by both opens, naming this version and what to do, untouched */
	set_marker(dir, "mosquitto-twin 3");
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "format 3, written by a newer mosquitto-twin");
	CHECK_CONTAINS(err.msg, twin_version());
	CHECK_CONTAINS(err.msg, "reads formats up to 2");
	CHECK_CONTAINS(err.msg, "restore a backup made before the upgrade");
	CHECK_INT(format_read_only(dir, &err), -1);
	CHECK_CONTAINS(err.msg, "written by a newer mosquitto-twin");
	set_marker(dir, "mosquitto-twin 12");
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "format 12,");

	/* not a marker of ours at all */
	const char *unknown[] = {"mosquitto-twin", "mosquitto-twin 2b", "mosquitto-twin 02",
			"mosquitto-twin -1", "other 2", "mosquitto-twin 1234567890"};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		set_marker(dir, unknown[i]);
		CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_ERR_CONFIG);
		CHECK_CONTAINS(err.msg, "unknown format");
		CHECK_INT(format_read_only(dir, &err), -1);
	}
	/* refusals changed nothing: the twin is still there once a known marker is back */
	set_marker(dir, "mosquitto-twin 2");
	CHECK_INT(twin_store_open(dir, 1 << 20, 1 << 20, &s, &err), TWIN_OK);
	twin_store_read_begin(s);
	CHECK_INT(twin_store_get(s, "a", 1, &val, &len), TWIN_OK);
	CHECK_INT(len, 3);
	twin_store_read_end(s);
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}
