/* test_store.c - the LMDB store: round trip, tombstones, desired index, exclusive lock, foreign files,
 * map full and growth. */
#include "check.h"
#include "store.h"

#include <fcntl.h>
#include <lmdb.h>
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
