/* cmd_check.c - `twinctl check`: reads the whole store read-only, in one snapshot (so also while a
 * broker runs), and reports what is inconsistent: a twin that does not load or has an invalid id, a
 * desired index that disagrees with the twins' deltas, a tombstone that is damaged or not below the
 * version of the twin re-created under its id. Exit code 0 when nothing is found, 1 otherwise. */
#include "twinctl.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "progress.h"
#include "topic.h"
#include "twin.h"
#include "twin_format.h"

#define LISTED_PROBLEMS 100

struct check {
	struct twin_store *s;
	struct ctl_progress progress;
	uint64_t twins, problems;
};

static void problem(struct check *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct check *k, const char *fmt, ...)
{
	va_list ap;
	if (++k->problems > LISTED_PROBLEMS) {
		return;
	}
	va_start(ap, fmt);
	fputs("problem: ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

static bool found(struct check *k, enum twin_store_table t, const char *id, size_t id_len,
		const void **val, size_t *len)
{
	return twin_store_read_find(k->s, t, id, id_len, val, len) == TWIN_OK;
}

static void check_versions(struct check *k, const char *id, size_t id_len, const cJSON *doc)
{
	const void *val;
	size_t len;
	int64_t tombstone;
	if (found(k, TWIN_TABLE_TOMBSTONES, id, id_len, &val, &len) && len == sizeof(tombstone)) {
		memcpy(&tombstone, val, sizeof(tombstone));
		if (twin_doc_version(doc) <= tombstone) {
			problem(k, "twin '%.*s' has version %" PRId64 ", not above its tombstone's %" PRId64,
					(int)id_len, id, twin_doc_version(doc), tombstone);
		}
	}
}

static bool check_twin(void *ctx, const char *id, size_t id_len, const void *val, size_t len)
{
	struct check *k = ctx;
	struct twin_error err;
	const void *v;
	size_t vlen;
	k->twins++;
	ctl_progress_update(&k->progress, k->twins, k->twins);
	if (!twin_topic_id_valid(id, id_len, &err)) {
		problem(k, "a twin is stored under an invalid id: %s", err.msg);
	}
	cJSON *doc = twin_doc_load(id, id_len, val, len);
	if (!doc) {
		problem(k, "twin '%.*s' does not load (%zu bytes, damaged or of an unknown form)",
				(int)id_len, id, len);
		return true;
	}
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(doc, "delta");
	bool pending = delta && delta->child;
	if (pending != found(k, TWIN_TABLE_DESIRED, id, id_len, &v, &vlen)) {
		problem(k, "twin '%.*s' has %s delta but is %s in the desired index", (int)id_len, id,
				pending ? "a" : "no", pending ? "missing" : "listed");
	}
	check_versions(k, id, id_len, doc);
	cJSON_Delete(doc);
	return true;
}

static bool check_desired(void *ctx, const char *id, size_t id_len, const void *val, size_t len)
{
	struct check *k = ctx;
	const void *v;
	size_t vlen;
	(void)val;
	(void)len;
	if (!found(k, TWIN_TABLE_TWINS, id, id_len, &v, &vlen)) {
		problem(k, "the desired index lists '%.*s', which is not a twin", (int)id_len, id);
	}
	return true;
}

static bool check_tombstone(void *ctx, const char *id, size_t id_len, const void *val, size_t len)
{
	(void)val;
	if (len != sizeof(int64_t)) {
		problem(ctx, "the tombstone of '%.*s' is damaged (%zu bytes)", (int)id_len, id, len);
	}
	return true;
}

int ctl_cmd_check(const struct ctl *c, int argc, char **argv)
{
	(void)argv;
	struct check k = {0};
	if (argc != 1) {
		return ctl_usage("usage: twinctl check");
	}
	if (!(k.s = ctl_open_readonly(c))) {
		return CTL_FAIL;
	}
	enum twin_rc rc = twin_store_read_begin(k.s);
	if (!rc) {
		ctl_progress_begin(&k.progress, "check", "twins", twin_store_count(k.s));
		if (!(rc = twin_store_read_each(k.s, TWIN_TABLE_TWINS, NULL, 0, check_twin, &k)) &&
				!(rc = twin_store_read_each(k.s, TWIN_TABLE_DESIRED, NULL, 0, check_desired, &k))) {
			rc = twin_store_read_each(k.s, TWIN_TABLE_TOMBSTONES, NULL, 0, check_tombstone, &k);
		}
		ctl_progress_end(&k.progress);
		twin_store_read_end(k.s);
	}
	twin_store_close(k.s);
	if (rc) {
		return ctl_fail("cannot read '%s'", c->db);
	}
	if (k.problems > LISTED_PROBLEMS) {
		printf("... and %llu more\n", (unsigned long long)(k.problems - LISTED_PROBLEMS));
	}
	printf("check: %llu twins, %llu problem%s%s\n", (unsigned long long)k.twins,
			(unsigned long long)k.problems, k.problems == 1 ? "" : "s", k.problems ? "" : ": OK");
	return k.problems ? CTL_FAIL : CTL_OK;
}
