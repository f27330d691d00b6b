/* store.c - LMDB wrapper (see store.h).
 *
 * Threads: the broker thread owns the read transaction (renewed per request, reset after), the writer
 * thread owns the write transaction. A rwlock keeps the map from being resized under a reader: readers
 * hold it shared between read_begin and read_end, twin_store_grow takes it exclusively.
 * Durability: the environment uses LMDB's default synchronous commits, so a commit that returned is on
 * disk; group commit (many changes per transaction) is what keeps that affordable.
 * Full disk: a commit that cannot write its pages fails (the transaction is gone, the store stays as it
 * was) with an error that says the disk is full; writes succeed again once there is room.
 * Read-only opens (twinctl beside a running broker) take no lock and open no table for writing; the
 * broker may grow the map meanwhile, which a read-only store adopts when its next snapshot begins.
 * Format marker: meta's "format" says which twin values a store may hold. "mosquitto-twin 1" (0.1.x): twin
 * values without an alarms section; "mosquitto-twin 2" (0.2.x, FORMAT_VERSION): they may carry one,
 * which a 0.1 plugin would refuse twin by twin as damaged, so it must refuse the store as a whole (it does:
 * the marker must match exactly). A writable open moves a format 1 store to 2 (every format 1 value reads
 * today) and says so; a read-only open reads both. A newer format is refused, naming what to do.
 * Must never: hold the read snapshot across callbacks (the file would grow), call mdb_txn_abort after
 * mdb_txn_commit (the handle is gone either way). */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <lmdb.h>

#include "version.h"

#define FORMAT_KEY     "format"
#define FORMAT_PREFIX  "mosquitto-twin "
#define FORMAT_VERSION 2 /* written today; 1 is read and moved to it */

struct twin_store {
	MDB_env *env;
	MDB_dbi twins, tombstones, desired, history, meta;
	MDB_txn *rtxn; /* broker thread */
	MDB_txn *wtxn; /* writer thread */
	pthread_rwlock_t map_lock;
	size_t map_size, map_size_max;
	int lock_fd;
	bool readonly;
	int migrated_from; /* the format this open moved the store from, 0: none */
};

const char *const twin_store_table_names[TWIN_N_TABLES] = {"twins", "tombstones", "desired",
		"history", "meta"};

static MDB_dbi dbi_of(const struct twin_store *s, enum twin_store_table t)
{
	switch (t) {
		case TWIN_TABLE_TWINS:
			return s->twins;
		case TWIN_TABLE_TOMBSTONES:
			return s->tombstones;
		case TWIN_TABLE_DESIRED:
			return s->desired;
		case TWIN_TABLE_HISTORY:
			return s->history;
		default:
			return s->meta;
	}
}

static enum twin_rc mdb_fail(struct twin_error *err, int rc, const char *what)
{
	if (rc == MDB_MAP_FULL) {
		return twin_fail(err, TWIN_ERR_STORE_FULL, "twin store full while %s", what);
	}
	return twin_fail(err, TWIN_ERR_STORE, "twin store error while %s: %s", what, mdb_strerror(rc));
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* mkdir -p: the parents, then the directory itself. */
static bool make_dirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);
	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return false;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
				return false;
			}
			*p = '/';
		}
	}
	return mkdir(buf, 0750) == 0 || errno == EEXIST;
}

static enum twin_rc make_dir(const char *path, struct twin_error *err)
{
	errno = 0;
	if (make_dirs(path) && is_dir(path)) {
		errno = 0;
		if (access(path, W_OK | X_OK) == 0) {
			return TWIN_OK;
		}
	}
	return twin_fail(err, TWIN_ERR_CONFIG,
			"cannot use '%s' as the twin database directory: %s (the broker runs as uid %d here; "
			"set plugin_opt_db_path to a directory that user can write)",
			path, strerror(errno ? errno : EACCES), (int)geteuid());
}

static enum twin_rc take_lock(struct twin_store *s, const char *path, struct twin_error *err)
{
	char lock_path[4096];
	snprintf(lock_path, sizeof(lock_path), "%s/twin.lock", path);
	s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (s->lock_fd < 0) {
		return twin_fail(err, TWIN_ERR_CONFIG, "cannot open '%s': %s", lock_path, strerror(errno));
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		return twin_fail(err, TWIN_ERR_CONFIG,
				"the twin database '%s' is already in use by another broker process", path);
	}
	return TWIN_OK;
}

/* The format a marker names: its number, 0 when it is not a mosquitto-twin marker. */
static long marker_format(const MDB_val *val)
{
	size_t n = strlen(FORMAT_PREFIX);
	const char *p = val->mv_data;
	long v = 0;
	if (val->mv_size <= n || val->mv_size > n + 9 || memcmp(p, FORMAT_PREFIX, n) != 0 || p[n] == '0') {
		return 0;
	}
	for (size_t i = n; i < val->mv_size; i++) {
		if (p[i] < '0' || p[i] > '9') {
			return 0;
		}
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* The format of the marker val, or a refusal: not a marker, or a format newer than this code's. */
static enum twin_rc check_marker(const char *path, const MDB_val *val, long *format,
		struct twin_error *err)
{
	*format = marker_format(val);
	if (*format > FORMAT_VERSION) {
		return twin_fail(err, TWIN_ERR_CONFIG,
				"'%s' holds a twin store of format %ld, written by a newer mosquitto-twin; this one (%s) "
				"reads formats up to %d. Install the newer version again, or restore a backup made "
				"before the upgrade (README: Backup and restore)",
				path, *format, twin_version(), FORMAT_VERSION);
	}
	if (*format == 0) {
		return twin_fail(err, TWIN_ERR_CONFIG, "'%s' holds a twin store of an unknown format '%.*s'",
				path, (int)(val->mv_size > 64 ? 64 : val->mv_size), (const char *)val->mv_data);
	}
	return TWIN_OK;
}

/* Writes today's marker (a new store, or one of an older format). */
static int put_marker(MDB_txn *txn, MDB_dbi meta)
{
	char text[32];
	int n = snprintf(text, sizeof(text), FORMAT_PREFIX "%d", FORMAT_VERSION);
	MDB_val key = {strlen(FORMAT_KEY), FORMAT_KEY}, val = {(size_t)n, text};
	return mdb_put(txn, meta, &key, &val, 0);
}

/* Opens the tables; refuses a database that has data but is not ours, or is of a newer format. */
static enum twin_rc open_tables(struct twin_store *s, const char *path, struct twin_error *err)
{
	MDB_txn *txn;
	MDB_val key = {strlen(FORMAT_KEY), FORMAT_KEY}, val;
	MDB_stat st;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc) {
		return mdb_fail(err, rc, "opening the tables");
	}
	MDB_dbi main_dbi;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) || (rc = mdb_stat(txn, main_dbi, &st))) {
		mdb_txn_abort(txn);
		return mdb_fail(err, rc, "reading the main table");
	}
	rc = mdb_dbi_open(txn, "meta", 0, &s->meta);
	if (rc == MDB_NOTFOUND && st.ms_entries > 0) {
		mdb_txn_abort(txn);
		return twin_fail(err, TWIN_ERR_CONFIG,
				"'%s' holds an LMDB database that is not a mosquitto-twin store; refusing to touch "
				"it (point plugin_opt_db_path at another directory)",
				path);
	}
	if (rc == MDB_NOTFOUND || rc == MDB_SUCCESS) {
		rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
	}
	if (!rc) {
		long format = 0;
		rc = mdb_get(txn, s->meta, &key, &val);
		if (!rc && check_marker(path, &val, &format, err) != TWIN_OK) {
			mdb_txn_abort(txn);
			return TWIN_ERR_CONFIG;
		}
		if (rc == MDB_NOTFOUND || (!rc && format < FORMAT_VERSION)) {
			s->migrated_from = (int)format;
			rc = put_marker(txn, s->meta);
		}
	}
	if (rc || (rc = mdb_dbi_open(txn, "twins", MDB_CREATE, &s->twins)) ||
			(rc = mdb_dbi_open(txn, "tombstones", MDB_CREATE, &s->tombstones)) ||
			(rc = mdb_dbi_open(txn, "desired", MDB_CREATE, &s->desired)) ||
			(rc = mdb_dbi_open(txn, "history", MDB_CREATE, &s->history))) {
		mdb_txn_abort(txn);
		return mdb_fail(err, rc, "opening the tables");
	}
	if ((rc = mdb_txn_commit(txn))) {
		return mdb_fail(err, rc, "creating the tables");
	}
	return TWIN_OK;
}

/* The last step of both opens: the read transaction, kept reset until read_begin. trc is the result of
 * opening the tables; on any failure s is closed. */
static enum twin_rc start_reading(struct twin_store *s, enum twin_rc trc, struct twin_store **out,
		struct twin_error *err)
{
	int rc;
	if (!trc && (rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn)) != 0) {
		trc = mdb_fail(err, rc, "starting the read transaction");
	}
	if (trc) {
		twin_store_close(s);
		return trc;
	}
	mdb_txn_reset(s->rtxn);
	*out = s;
	return TWIN_OK;
}

enum twin_rc twin_store_open(const char *path, size_t map_size, size_t map_size_max,
		struct twin_store **out, struct twin_error *err)
{
	enum twin_rc trc;
	int rc, dead = 0;
	struct twin_store *s = calloc(1, sizeof(*s));
	if (!s) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	s->lock_fd = -1;
	s->map_size = map_size;
	s->map_size_max = map_size_max;
	pthread_rwlock_init(&s->map_lock, NULL);
	if ((trc = make_dir(path, err)) || (trc = take_lock(s, path, err))) {
		twin_store_close(s);
		return trc;
	}
	if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_mapsize(s->env, map_size)) ||
			(rc = mdb_env_set_maxdbs(s->env, 8)) ||
			(rc = mdb_env_open(s->env, path, MDB_NORDAHEAD, 0640))) {
		trc = twin_fail(err, TWIN_ERR_CONFIG,
				"cannot open the twin database in '%s': %s (is it a mosquitto-twin store?)", path,
				mdb_strerror(rc));
		twin_store_close(s);
		return trc;
	}
	mdb_reader_check(s->env, &dead);
	MDB_envinfo info;
	if (!mdb_env_info(s->env, &info) && info.me_mapsize > s->map_size) {
		s->map_size = info.me_mapsize; /* a previous run grew it */
	}
	return start_reading(s, open_tables(s, path, err), out, err);
}

/* The tables of an existing store, in a read-only transaction committed so their handles stay open. */
static enum twin_rc open_tables_readonly(struct twin_store *s, const char *path,
		struct twin_error *err)
{
	MDB_txn *txn;
	MDB_val key = {strlen(FORMAT_KEY), FORMAT_KEY}, val;
	MDB_dbi *dbis[TWIN_N_TABLES] = {&s->twins, &s->tombstones, &s->desired, &s->history, &s->meta};
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc) {
		return mdb_fail(err, rc, "opening the tables");
	}
	for (int t = 0; !rc && t < TWIN_N_TABLES; t++) {
		rc = mdb_dbi_open(txn, twin_store_table_names[t], 0, dbis[t]);
	}
	long format;
	if (!rc && !(rc = mdb_get(txn, s->meta, &key, &val)) &&
			check_marker(path, &val, &format, err) != TWIN_OK) {
		mdb_txn_abort(txn);
		return TWIN_ERR_CONFIG;
	}
	if (rc) {
		mdb_txn_abort(txn);
		return twin_fail(err, TWIN_ERR_CONFIG, "'%s' does not hold a mosquitto-twin store (%s)",
				path, rc == MDB_NOTFOUND ? "a table is missing" : mdb_strerror(rc));
	}
	return (rc = mdb_txn_commit(txn)) ? mdb_fail(err, rc, "opening the tables") : TWIN_OK;
}

enum twin_rc twin_store_open_readonly(const char *path, struct twin_store **out,
		struct twin_error *err)
{
	char data_path[4096];
	enum twin_rc trc;
	int rc;
	struct twin_store *s = calloc(1, sizeof(*s));
	if (!s) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	s->lock_fd = -1;
	s->readonly = true;
	pthread_rwlock_init(&s->map_lock, NULL);
	snprintf(data_path, sizeof(data_path), "%s/data.mdb", path);
	if (access(data_path, R_OK) != 0) {
		trc = twin_fail(err, TWIN_ERR_CONFIG, "no twin database in '%s': %s", path,
				strerror(errno));
		twin_store_close(s);
		return trc;
	}
	if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, 8)) ||
			(rc = mdb_env_open(s->env, path, MDB_RDONLY | MDB_NORDAHEAD, 0640))) {
		trc = twin_fail(err, TWIN_ERR_CONFIG, "cannot open the twin database in '%s': %s", path,
				mdb_strerror(rc));
		twin_store_close(s);
		return trc;
	}
	return start_reading(s, open_tables_readonly(s, path, err), out, err);
}

bool twin_store_lock_held(const char *path)
{
	char lock_path[4096];
	snprintf(lock_path, sizeof(lock_path), "%s/twin.lock", path);
	int fd = open(lock_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return false;
	}
	bool held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

int twin_store_migrated_from(const struct twin_store *s)
{
	return s->migrated_from;
}

void twin_store_close(struct twin_store *s)
{
	if (!s) {
		return;
	}
	if (s->wtxn) {
		mdb_txn_abort(s->wtxn);
	}
	if (s->rtxn) {
		mdb_txn_abort(s->rtxn);
	}
	if (s->env) {
		mdb_env_close(s->env);
	}
	if (s->lock_fd >= 0) {
		close(s->lock_fd);
	}
	pthread_rwlock_destroy(&s->map_lock);
	free(s);
}

enum twin_rc twin_store_read_begin(struct twin_store *s)
{
	pthread_rwlock_rdlock(&s->map_lock);
	int rc = mdb_txn_renew(s->rtxn);
	if (rc == MDB_MAP_RESIZED && s->readonly && !mdb_env_set_mapsize(s->env, 0)) {
		rc = mdb_txn_renew(s->rtxn); /* another process grew the map: adopt its size */
	}
	if (rc != 0) {
		pthread_rwlock_unlock(&s->map_lock);
		return TWIN_ERR_STORE;
	}
	return TWIN_OK;
}

static enum twin_rc get_in(MDB_txn *txn, MDB_dbi dbi, const char *id, size_t id_len,
		const void **val, size_t *len)
{
	MDB_val k = {id_len, (void *)id}, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc == MDB_NOTFOUND) {
		return TWIN_ERR_NOT_FOUND;
	}
	if (rc) {
		return TWIN_ERR_STORE;
	}
	*val = v.mv_data;
	*len = v.mv_size;
	return TWIN_OK;
}

enum twin_rc twin_store_get(struct twin_store *s, const char *id, size_t id_len, const void **val,
		size_t *len)
{
	return get_in(s->rtxn, s->twins, id, id_len, val, len);
}

size_t twin_store_count(struct twin_store *s)
{
	MDB_stat st;
	return mdb_stat(s->rtxn, s->twins, &st) ? 0 : st.ms_entries;
}

size_t twin_store_wcount(struct twin_store *s)
{
	MDB_stat st;
	return mdb_stat(s->wtxn, s->twins, &st) ? 0 : st.ms_entries;
}

enum twin_rc twin_store_read_find(struct twin_store *s, enum twin_store_table t, const char *key,
		size_t key_len, const void **val, size_t *len)
{
	return get_in(s->rtxn, dbi_of(s, t), key, key_len, val, len);
}

static enum twin_rc each_in(MDB_txn *txn, MDB_dbi dbi, const char *from, size_t from_len,
		twin_store_scan_fn fn, void *ctx)
{
	MDB_cursor *cur;
	MDB_val k = {from_len, (void *)from}, v;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc) {
		return TWIN_ERR_STORE;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, from ? MDB_SET_RANGE : MDB_FIRST); !rc;
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (!fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size)) {
			break;
		}
	}
	mdb_cursor_close(cur);
	return rc && rc != MDB_NOTFOUND ? TWIN_ERR_STORE : TWIN_OK;
}

enum twin_rc twin_store_read_each(struct twin_store *s, enum twin_store_table t, const char *from,
		size_t from_len, twin_store_scan_fn fn, void *ctx)
{
	return each_in(s->rtxn, dbi_of(s, t), from, from_len, fn, ctx);
}

enum twin_rc twin_store_stats(struct twin_store *s, struct twin_store_stats *out)
{
	MDB_envinfo info;
	MDB_stat st;
	memset(out, 0, sizeof(*out));
	for (int t = 0; t < TWIN_N_TABLES; t++) {
		if (mdb_stat(s->rtxn, dbi_of(s, (enum twin_store_table)t), &st)) {
			return TWIN_ERR_STORE;
		}
		out->entries[t] = st.ms_entries;
		out->bytes[t] = (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
		out->page_size = st.ms_psize;
	}
	if (mdb_env_info(s->env, &info)) {
		return TWIN_ERR_STORE;
	}
	MDB_val key = {strlen(FORMAT_KEY), FORMAT_KEY}, val;
	out->format = mdb_get(s->rtxn, s->meta, &key, &val) ? 0 : (int)marker_format(&val);
	out->map_size = info.me_mapsize;
	out->map_used = (info.me_last_pgno + 1) * out->page_size;
	out->readers = info.me_numreaders;
	out->max_readers = info.me_maxreaders;
	return TWIN_OK;
}

enum twin_rc twin_store_copy_compact(struct twin_store *s, const char *dir, struct twin_error *err)
{
	int rc = mdb_env_copy2(s->env, dir, MDB_CP_COMPACT);
	if (rc == EEXIST) {
		return twin_fail(err, TWIN_ERR_CONFIG, "'%s' already holds a database", dir);
	}
	return rc ? twin_fail(err, TWIN_ERR_STORE, "cannot copy the store into '%s': %s", dir,
						mdb_strerror(rc))
			  : TWIN_OK;
}

void twin_store_read_end(struct twin_store *s)
{
	mdb_txn_reset(s->rtxn);
	pthread_rwlock_unlock(&s->map_lock);
}

enum twin_rc twin_store_write_begin(struct twin_store *s, struct twin_error *err)
{
	int rc = mdb_txn_begin(s->env, NULL, 0, &s->wtxn);
	if (rc) {
		s->wtxn = NULL;
		return mdb_fail(err, rc, "starting a write");
	}
	return TWIN_OK;
}

enum twin_rc twin_store_wget(struct twin_store *s, const char *id, size_t id_len, const void **val,
		size_t *len)
{
	return get_in(s->wtxn, s->twins, id, id_len, val, len);
}

enum twin_rc twin_store_put(struct twin_store *s, const char *id, size_t id_len, const void *val,
		size_t len, struct twin_error *err)
{
	MDB_val k = {id_len, (void *)id}, v = {len, NULL};
	int rc = mdb_put(s->wtxn, s->twins, &k, &v, MDB_RESERVE);
	if (rc) {
		return mdb_fail(err, rc, "writing a twin");
	}
	memcpy(v.mv_data, val, len);
	return TWIN_OK;
}

enum twin_rc twin_store_del(struct twin_store *s, const char *id, size_t id_len,
		struct twin_error *err)
{
	MDB_val k = {id_len, (void *)id};
	int rc = mdb_del(s->wtxn, s->twins, &k, NULL);
	if (rc && rc != MDB_NOTFOUND) {
		return mdb_fail(err, rc, "deleting a twin");
	}
	return TWIN_OK;
}

enum twin_rc twin_store_put_in(struct twin_store *s, enum twin_store_table t, const void *key,
		size_t key_len, const void *val, size_t len, struct twin_error *err)
{
	MDB_val k = {key_len, (void *)key}, v = {len, (void *)val};
	int rc = mdb_put(s->wtxn, dbi_of(s, t), &k, &v, 0);
	return rc ? mdb_fail(err, rc, "writing a record") : TWIN_OK;
}

enum twin_rc twin_store_del_matching(struct twin_store *s, enum twin_store_table t,
		twin_store_key_fn match, void *ctx, size_t *deleted, struct twin_error *err)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(s->wtxn, dbi_of(s, t), &cur);
	if (rc) {
		return mdb_fail(err, rc, "deleting records");
	}
	/* after a delete the cursor stands on the next record already (as in history_drop) */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;) {
		bool del = match(ctx, k.mv_data, k.mv_size);
		if (del && (rc = mdb_cursor_del(cur, 0)) != 0) {
			break;
		}
		*deleted += del;
		rc = mdb_cursor_get(cur, &k, &v, del ? MDB_GET_CURRENT : MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc && rc != MDB_NOTFOUND && rc != EINVAL ? mdb_fail(err, rc, "deleting records") : TWIN_OK;
}

int64_t twin_store_tombstone(struct twin_store *s, const char *id, size_t id_len)
{
	const void *val;
	size_t len;
	int64_t v = 0;
	if (get_in(s->wtxn, s->tombstones, id, id_len, &val, &len) == TWIN_OK && len == sizeof(v)) {
		memcpy(&v, val, sizeof(v));
	}
	return v;
}

enum twin_rc twin_store_set_tombstone(struct twin_store *s, const char *id, size_t id_len,
		int64_t version, struct twin_error *err)
{
	MDB_val k = {id_len, (void *)id}, v = {sizeof(version), &version};
	int rc = mdb_put(s->wtxn, s->tombstones, &k, &v, 0);
	return rc ? mdb_fail(err, rc, "writing a tombstone") : TWIN_OK;
}

enum twin_rc twin_store_mark_desired(struct twin_store *s, const char *id, size_t id_len,
		bool pending, struct twin_error *err)
{
	MDB_val k = {id_len, (void *)id}, v = {0, (void *)""};
	int rc = pending ? mdb_put(s->wtxn, s->desired, &k, &v, 0)
					 : mdb_del(s->wtxn, s->desired, &k, NULL);
	if (rc && rc != MDB_NOTFOUND) {
		return mdb_fail(err, rc, "indexing desired state");
	}
	return TWIN_OK;
}

enum twin_rc twin_store_each_desired(struct twin_store *s, twin_store_id_fn fn, void *ctx)
{
	MDB_cursor *cur;
	MDB_val k, v, tk, tv;
	int rc = mdb_cursor_open(s->wtxn, s->desired, &cur);
	if (rc) {
		return TWIN_ERR_STORE;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		tk = k;
		if (mdb_get(s->wtxn, s->twins, &tk, &tv) == 0 && !fn(ctx, k.mv_data, k.mv_size, tv.mv_data,
																		tv.mv_size)) {
			rc = MDB_NOTFOUND; /* stopped by the caller: not an error */
			break;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? TWIN_OK : TWIN_ERR_STORE;
}

/* ---- history ---- */

#define HKEY_MAX (TWIN_MAX_ID_LEN + 9)

static size_t history_key(char *buf, const char *id, size_t id_len, int64_t version)
{
	memcpy(buf, id, id_len);
	buf[id_len] = '\0';
	for (int i = 0; i < 8; i++) {
		buf[id_len + 1 + (size_t)i] = (char)(((uint64_t)version >> (56 - 8 * i)) & 0xFF);
	}
	return id_len + 9;
}

static bool history_of(const MDB_val *k, const char *id, size_t id_len)
{
	return k->mv_size == id_len + 9 && !memcmp(k->mv_data, id, id_len) &&
			((const char *)k->mv_data)[id_len] == '\0';
}

static int64_t history_version(const MDB_val *k)
{
	const unsigned char *b = (const unsigned char *)k->mv_data + k->mv_size - 8;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		v = v << 8 | b[i];
	}
	return (int64_t)v;
}

static int64_t history_ts(const MDB_val *v)
{
	int64_t ts = 0;
	if (v->mv_size >= sizeof(ts)) {
		memcpy(&ts, v->mv_data, sizeof(ts));
	}
	return ts;
}

enum twin_rc twin_store_history_add(struct twin_store *s, const char *id, size_t id_len,
		int64_t version, int64_t ts, const char *json, size_t json_len, int max_entries,
		int64_t min_ts, struct twin_error *err)
{
	char kbuf[HKEY_MAX];
	MDB_val k = {history_key(kbuf, id, id_len, version), kbuf}, v = {sizeof(ts) + json_len, NULL};
	MDB_cursor *cur;
	int rc = mdb_put(s->wtxn, s->history, &k, &v, MDB_RESERVE);
	if (rc) {
		return mdb_fail(err, rc, "writing history");
	}
	memcpy(v.mv_data, &ts, sizeof(ts));
	memcpy((char *)v.mv_data + sizeof(ts), json, json_len);
	if ((rc = mdb_cursor_open(s->wtxn, s->history, &cur))) {
		return mdb_fail(err, rc, "pruning history");
	}
	/* count this twin's entries, then drop the oldest beyond the bounds */
	MDB_val first = {history_key(kbuf, id, id_len, 0), kbuf};
	int n = 0;
	k = first;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc && history_of(&k, id, id_len);
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		n++;
	}
	/* oldest version first; an entry's ts is its device's, which may go backwards, so every entry is
	 * checked against min_ts (past the count bound, only the young enough are left) */
	k = first;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc && history_of(&k, id, id_len);
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (n <= max_entries && history_ts(&v) >= min_ts) {
			continue;
		}
		if ((rc = mdb_cursor_del(cur, 0))) {
			break;
		}
		n--;
	}
	mdb_cursor_close(cur);
	return (rc && rc != MDB_NOTFOUND) ? mdb_fail(err, rc, "pruning history") : TWIN_OK;
}

enum twin_rc twin_store_history_drop(struct twin_store *s, const char *id, size_t id_len,
		struct twin_error *err)
{
	char kbuf[HKEY_MAX];
	MDB_val k = {history_key(kbuf, id, id_len, 0), kbuf}, v;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(s->wtxn, s->history, &cur);
	if (rc) {
		return mdb_fail(err, rc, "deleting history");
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc && history_of(&k, id, id_len);
			rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT)) {
		if ((rc = mdb_cursor_del(cur, 0))) {
			break;
		}
	}
	mdb_cursor_close(cur);
	return (rc && rc != MDB_NOTFOUND && rc != EINVAL) ? mdb_fail(err, rc, "deleting history")
													  : TWIN_OK;
}

enum twin_rc twin_store_history(struct twin_store *s, const char *id, size_t id_len,
		twin_store_history_fn fn, void *ctx)
{
	char kbuf[HKEY_MAX];
	MDB_val k = {history_key(kbuf, id, id_len, INT64_MAX), kbuf}, v;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(s->rtxn, s->history, &cur);
	if (rc) {
		return TWIN_ERR_STORE;
	}
	/* the newest entry is the last key below id+NUL+max */
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	rc = rc ? mdb_cursor_get(cur, &k, &v, MDB_LAST) : mdb_cursor_get(cur, &k, &v, MDB_PREV);
	for (; !rc && history_of(&k, id, id_len); rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		if (v.mv_size < sizeof(int64_t) ||
				!fn(ctx, history_version(&k), history_ts(&v), (const char *)v.mv_data + 8,
						v.mv_size - 8)) {
			break;
		}
	}
	mdb_cursor_close(cur);
	return TWIN_OK;
}

/* ---- scans for search ---- */

enum twin_rc twin_store_scan(struct twin_store *s, const char *from, size_t from_len,
		twin_store_scan_fn fn, void *ctx)
{
	MDB_txn *txn;
	pthread_rwlock_rdlock(&s->map_lock);
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc) {
		pthread_rwlock_unlock(&s->map_lock);
		return TWIN_ERR_STORE;
	}
	enum twin_rc trc = each_in(txn, s->twins, from, from_len, fn, ctx);
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->map_lock);
	return trc;
}

/* Below this much free space a failed write is put down to a full disk. */
#define DISK_FULL_BELOW (1024 * 1024)

/* LMDB reports a write that the disk could take only part of as EIO ("short write, filesystem full?"),
 * which reads like a failing disk: when the database's file system is (nearly) out of space, say so. */
static enum twin_rc commit_fail(struct twin_store *s, struct twin_error *err, int rc)
{
	struct statvfs st;
	unsigned long long avail = 0;
	bool known = fstatvfs(s->lock_fd, &st) == 0;
	if (known) {
		avail = (unsigned long long)(geteuid() == 0 ? st.f_bfree : st.f_bavail) * st.f_frsize;
	}
	if (rc == ENOSPC || rc == EDQUOT || (rc == EIO && known && avail < DISK_FULL_BELOW)) {
		return twin_fail(err, TWIN_ERR_DISK_FULL,
				"twin store error while committing: no space left on the disk of the twin database "
				"(%s, %llu bytes free); the twins stay as they were, writes succeed again once "
				"there is room",
				mdb_strerror(rc), avail);
	}
	return mdb_fail(err, rc, "committing");
}

enum twin_rc twin_store_commit(struct twin_store *s, struct twin_error *err)
{
	int rc = mdb_txn_commit(s->wtxn);
	s->wtxn = NULL;
	return rc ? commit_fail(s, err, rc) : TWIN_OK;
}

void twin_store_abort(struct twin_store *s)
{
	if (s->wtxn) {
		mdb_txn_abort(s->wtxn);
		s->wtxn = NULL;
	}
}

bool twin_store_grow(struct twin_store *s)
{
	if (s->map_size >= s->map_size_max) {
		return false;
	}
	size_t next = s->map_size > s->map_size_max / 2 ? s->map_size_max : s->map_size * 2;
	pthread_rwlock_wrlock(&s->map_lock);
	int rc = mdb_env_set_mapsize(s->env, next);
	if (!rc) {
		s->map_size = next; /* read by the broker thread under the shared lock */
	}
	pthread_rwlock_unlock(&s->map_lock);
	return rc == 0;
}

/* Call inside read_begin/read_end on the broker thread, or on the writer thread. */
size_t twin_store_map_size(struct twin_store *s)
{
	return s->map_size;
}

size_t twin_store_used_bytes(struct twin_store *s)
{
	MDB_envinfo info;
	MDB_stat st;
	if (mdb_env_info(s->env, &info) || mdb_env_stat(s->env, &st)) {
		return 0;
	}
	return (info.me_last_pgno + 1) * st.ms_psize;
}
