/* cmd_import.c - `twinctl import [--from ditto] [options] [FILE|-]`: twin documents (JSON Lines, as
 * `export` writes them) or Ditto things, streamed into the store in batches of one transaction each.
 *
 * A twin that exists is replaced, and its versions continue after the stored ones (a deleted twin's
 * tombstone counts too), so no version is ever reused; one whose content is already stored is skipped
 * (re-importing a file changes nothing). A bad record is reported with its line and skipped; --strict
 * stops at the first one instead (the batch it is in is not written; earlier batches were).
 * With --models, a Ditto thing's definition makes the twin follow the model it stands for (ditto.h); the
 * summary counts the definitions that did and those kept as attributes.definition, and each of the
 * latter gets one note on stderr saying why.
 * Writing needs the store's lock: with a broker running on the directory, import refuses; while it
 * imports, a broker cannot start on it. */
#include "twinctl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ditto.h"
#include "import_doc.h"
#include "json_stream.h"
#include "jsonx.h"
#include "progress.h"
#include "twin_format.h"

#define DEFAULT_BATCH  1000
#define LISTED_ERRORS  10 /* error lines named in the summary */
#define NOTED_DEFS     100 /* definitions kept as attributes.definition that get a note */
#define MAP_SIZE       ((size_t)1 << 30) /* the plugin's map_size and map_size_max defaults */
#define MAP_SIZE_MAX   ((size_t)16 << 30)
#define LOCKED_MESSAGE "the database is in use by a running broker (lock held); stop the broker or " \
					   "import over MQTT"

struct import_opts {
	bool ditto, strict, keep_existing;
	long long batch;
	struct ctl_import_limits lim;
	const char *models_dir;
	const char *path;
};

struct counts {
	uint64_t created, replaced, unchanged, kept;
};

/* What became of the things' definitions; the first NOTED_DEFS kept ones got a note on stderr. */
struct definitions {
	uint64_t model, kept;
	char *noted[NOTED_DEFS];
	size_t n_noted;
};

struct import {
	struct import_opts o;
	struct twin_models *models; /* --models; NULL: none */
	struct twin_store *store;
	cJSON **docs; /* the batch */
	size_t n_docs;
	struct counts done;
	struct definitions defs;
	uint64_t errors;
	long error_lines[LISTED_ERRORS];
	struct twin_buf stored;
};

static int parse_opts(int argc, char **argv, struct import_opts *o)
{
	long long n;
	*o = (struct import_opts){false, false, false, DEFAULT_BATCH, {65536, 16}, NULL, NULL};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--from") && next && !strcmp(next, "ditto")) {
			o->ditto = true;
			i++;
		} else if (!strcmp(a, "--models") && next) {
			o->models_dir = next;
			i++;
		} else if (!strcmp(a, "--strict")) {
			o->strict = true;
		} else if (!strcmp(a, "--keep-existing")) {
			o->keep_existing = true;
		} else if (!strcmp(a, "--batch") && next && ctl_parse_int(next, 1, 100000, &o->batch)) {
			i++;
		} else if (!strcmp(a, "--max-twin-bytes") && next && ctl_parse_int(next, 1024, 16 << 20, &n)) {
			o->lim.max_twin_bytes = (size_t)n;
			i++;
		} else if (!strcmp(a, "--max-depth") && next && ctl_parse_int(next, 1, 64, &n)) {
			o->lim.max_depth = (int)n;
			i++;
		} else if ((a[0] == '-' && a[1]) || o->path) {
			return ctl_usage("usage: twinctl import [--from ditto [--models DIR]] [--strict] "
							 "[--keep-existing] [--batch N] [--max-twin-bytes N] [--max-depth N] [FILE|-]");
		} else {
			o->path = a;
		}
	}
	return o->models_dir && !o->ditto ? ctl_usage("--models needs --from ditto") : CTL_OK;
}

static void record_error(struct import *im, long line, const struct twin_error *err)
{
	if (im->errors < LISTED_ERRORS) {
		im->error_lines[im->errors] = line;
	}
	im->errors++;
	ctl_fail("line %ld: %s", line, err->msg);
}

/* Counts what became of a thing's definition; notes the first time each one is kept, and why. */
static void record_definition(struct import *im, long line, const struct ctl_definition *def)
{
	struct definitions *d = &im->defs;
	if (def->outcome == CTL_DEF_MODEL) {
		d->model++;
		return;
	}
	if (def->outcome != CTL_DEF_KEPT) {
		return;
	}
	d->kept++;
	for (size_t i = 0; i < d->n_noted; i++) {
		if (!strcmp(d->noted[i], def->text)) {
			return;
		}
	}
	if (d->n_noted == NOTED_DEFS || !(d->noted[d->n_noted] = strdup(def->text))) {
		return;
	}
	ctl_note("line %ld: definition '%.200s' kept as attributes.definition: %s%s", line, def->text, def->why,
			++d->n_noted == NOTED_DEFS ? " (further definitions get no note)" : "");
}

/* The twin a record becomes, or NULL with err. */
static cJSON *record_doc(struct import *im, const struct ctl_record *rec, int64_t now,
		struct twin_error *err)
{
	struct ctl_definition def;
	/* sections may nest max_depth levels; a document adds up to 3 around them (metadata) */
	if (!twin_json_depth_within(rec->text, rec->len, im->o.lim.max_depth + 3)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "nested deeper than max_depth=%d levels",
				im->o.lim.max_depth);
		return NULL;
	}
	cJSON *in = twin_json_parse(rec->text, rec->len, err);
	cJSON *thing = im->o.ditto ? in : NULL; /* def borrows from it */
	if (thing) {
		in = ctl_ditto_thing(thing, im->models, &def, err);
	}
	cJSON *doc = in ? ctl_import_doc(in, now, &im->o.lim, err) : NULL;
	if (doc && thing) {
		record_definition(im, rec->line, &def);
	}
	cJSON_Delete(in);
	cJSON_Delete(thing);
	return doc;
}

static enum twin_rc write_doc(struct import *im, cJSON *doc, struct counts *c,
		struct twin_error *err)
{
	struct twin_store *s = im->store;
	const char *id = cJSON_GetObjectItemCaseSensitive(doc, "id")->valuestring;
	size_t id_len = strlen(id), len;
	const void *val;
	cJSON *existing = NULL;
	int64_t tombstone = 0;
	enum twin_rc rc = twin_store_wget(s, id, id_len, &val, &len);
	bool found = rc == TWIN_OK;
	if (found) {
		if (im->o.keep_existing) {
			c->kept++;
			return TWIN_OK;
		}
		existing = twin_doc_load(id, id_len, val, len); /* unreadable: replaced like a missing one */
	} else if (rc == TWIN_ERR_NOT_FOUND) {
		tombstone = twin_store_tombstone(s, id, id_len);
	} else {
		return twin_fail(err, rc, "cannot read twin '%s'", id);
	}
	if (existing && ctl_import_same(doc, existing)) {
		cJSON_Delete(existing);
		c->unchanged++;
		return TWIN_OK;
	}
	bool ok = ctl_import_continue(doc, existing, tombstone) && twin_doc_store(doc, &im->stored);
	cJSON_Delete(existing);
	if (!ok) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(doc, "delta");
	if ((rc = twin_store_put(s, id, id_len, im->stored.data, im->stored.len, err)) ||
			(rc = twin_store_mark_desired(s, id, id_len, delta && delta->child, err))) {
		return rc;
	}
	if (found) {
		c->replaced++;
	} else {
		c->created++;
	}
	return TWIN_OK;
}

/* Writes the batch in one transaction, growing the map when it fills (the batch is then written again:
 * write_doc gives the same result for the same stored state). */
static enum twin_rc flush_batch(struct import *im, struct twin_error *err)
{
	enum twin_rc rc;
	if (!im->n_docs) {
		return TWIN_OK;
	}
	do {
		struct counts c = {0};
		rc = twin_store_write_begin(im->store, err);
		for (size_t i = 0; !rc && i < im->n_docs; i++) {
			rc = write_doc(im, im->docs[i], &c, err);
		}
		if (rc) {
			twin_store_abort(im->store);
		} else if (!(rc = twin_store_commit(im->store, err))) {
			im->done.created += c.created;
			im->done.replaced += c.replaced;
			im->done.unchanged += c.unchanged;
			im->done.kept += c.kept;
		}
	} while (rc == TWIN_ERR_STORE_FULL && twin_store_grow(im->store));
	for (size_t i = 0; i < im->n_docs; i++) {
		cJSON_Delete(im->docs[i]);
	}
	im->n_docs = 0;
	return rc;
}

enum outcome { READ_ALL, STOPPED_STRICT, STORE_FAILED };

/* Reads and writes every record; STORE_FAILED says why in err. */
static enum outcome read_records(struct import *im, struct ctl_stream *st, struct ctl_progress *p,
		struct twin_error *err)
{
	struct ctl_record rec;
	int64_t now = twin_now_ms();
	uint64_t records = 0;
	int r;
	while ((r = ctl_stream_next(st, &rec, err)) == 1) {
		cJSON *doc = record_doc(im, &rec, now, err);
		records++;
		if (!doc) {
			record_error(im, rec.line, err);
			if (im->o.strict) {
				return STOPPED_STRICT;
			}
			continue;
		}
		im->docs[im->n_docs++] = doc;
		if (im->n_docs == (size_t)im->o.batch && flush_batch(im, err)) {
			return STORE_FAILED;
		}
		ctl_progress_update(p, ctl_stream_offset(st), records);
	}
	if (r < 0) { /* the rest cannot be split into records */
		im->errors++;
		ctl_fail("%s", err->msg);
		if (im->o.strict) {
			return STOPPED_STRICT;
		}
	}
	return flush_batch(im, err) ? STORE_FAILED : READ_ALL;
}

static void summary(const struct import *im, bool stopped)
{
	const struct counts *c = &im->done;
	printf("import: %" PRIu64 " imported (%" PRIu64 " new, %" PRIu64 " replaced), %" PRIu64
		   " skipped (%" PRIu64 " unchanged, %" PRIu64 " existing kept), %" PRIu64 " error%s",
			c->created + c->replaced, c->created, c->replaced, c->unchanged + c->kept, c->unchanged,
			c->kept, im->errors, im->errors == 1 ? "" : "s");
	for (uint64_t i = 0; i < im->errors && i < LISTED_ERRORS; i++) {
		printf("%s%ld", i ? ", " : " (line ", im->error_lines[i]);
	}
	if (im->errors) {
		printf("%s)", im->errors > LISTED_ERRORS ? ", ..." : "");
	}
	if (im->defs.model || im->defs.kept) {
		printf("; definitions: %" PRIu64 " as attributes.model, %" PRIu64 " kept as attributes.definition",
				im->defs.model, im->defs.kept);
	}
	printf("%s\n", stopped ? "; stopped at the first error (--strict)" : "");
}

int ctl_cmd_import(const struct ctl *c, int argc, char **argv)
{
	struct import im = {0};
	struct twin_error err = {0};
	struct ctl_progress progress;
	struct stat st;
	int rc = parse_opts(argc, argv, &im.o);
	if (rc) {
		return rc;
	}
	if (im.o.models_dir && twin_models_load(im.o.models_dir, &im.models, &err)) {
		return ctl_fail("%s", err.msg);
	}
	if (twin_store_lock_held(c->db)) {
		twin_models_release(im.models);
		return ctl_fail(LOCKED_MESSAGE);
	}
	FILE *in = ctl_open_file(im.o.path, "r");
	if (!in) {
		twin_models_release(im.models);
		return CTL_FAIL;
	}
	struct ctl_stream *stream =
			ctl_stream_open(in, im.o.ditto ? CTL_STREAM_VALUES : CTL_STREAM_LINES);
	im.docs = calloc((size_t)im.o.batch, sizeof(*im.docs));
	if (!stream || !im.docs) {
		rc = ctl_fail("out of memory");
	} else if (twin_store_open(c->db, MAP_SIZE, MAP_SIZE_MAX, &im.store, &err)) {
		rc = twin_store_lock_held(c->db) ? ctl_fail(LOCKED_MESSAGE) : ctl_fail("%s", err.msg);
	} else {
		bool regular = fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode);
		ctl_progress_begin(&progress, "import", im.o.ditto ? "things" : "twins",
				regular ? (uint64_t)st.st_size : 0);
		enum outcome out = read_records(&im, stream, &progress, &err);
		ctl_progress_end(&progress);
		if (out == STORE_FAILED) {
			ctl_fail("import stopped: %s", err.msg);
		}
		summary(&im, out == STOPPED_STRICT);
		rc = out == READ_ALL && !im.errors ? CTL_OK : CTL_FAIL;
	}
	for (size_t i = 0; i < im.n_docs; i++) {
		cJSON_Delete(im.docs[i]);
	}
	free(im.docs);
	for (size_t i = 0; i < im.defs.n_noted; i++) {
		free(im.defs.noted[i]);
	}
	twin_models_release(im.models);
	twin_buf_free(&im.stored);
	twin_store_close(im.store);
	ctl_stream_close(stream);
	if (in != stdin) {
		fclose(in);
	}
	return rc;
}
