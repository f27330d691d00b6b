/* cmd_export.c - `twinctl export [FILE|-]`: every twin's public JSON as JSON Lines, in id order, from
 * one read snapshot (a consistent copy while a broker keeps writing). Streams: one twin in memory at a
 * time. A twin that does not load is reported and left out, and the exit code is then 1. */
#include "twinctl.h"

#include "jsonx.h"
#include "progress.h"
#include "twin_format.h"

struct export {
	FILE *out;
	struct twin_buf line;
	struct ctl_progress progress;
	uint64_t written, unreadable;
	bool failed; /* out of memory or a write error: stop */
};

static bool export_one(void *ctx, const char *id, size_t id_len, const void *val, size_t len)
{
	struct export *x = ctx;
	cJSON *doc = twin_doc_load(id, id_len, val, len);
	if (!doc) {
		x->unreadable++;
		ctl_fail("twin '%.*s' is unreadable and left out (run 'twinctl check')", (int)id_len, id);
		return true;
	}
	x->line.len = 0;
	bool ok = twin_json_write(&x->line, doc) && twin_buf_put(&x->line, "\n", 1);
	cJSON_Delete(doc);
	if (!ok || fwrite(x->line.data, 1, x->line.len, x->out) != x->line.len) {
		x->failed = true;
		return false;
	}
	x->written++;
	ctl_progress_update(&x->progress, x->written + x->unreadable, x->written);
	return true;
}

int ctl_cmd_export(const struct ctl *c, int argc, char **argv)
{
	if (argc > 2) {
		return ctl_usage("usage: twinctl export [FILE|-]");
	}
	const char *path = argc == 2 ? argv[1] : NULL;
	struct export x = {0};
	struct twin_store *s = ctl_open_readonly(c);
	if (!s) {
		return CTL_FAIL;
	}
	if (!(x.out = ctl_open_file(path, "w"))) {
		twin_store_close(s);
		return CTL_FAIL;
	}
	enum twin_rc rc = twin_store_read_begin(s);
	if (!rc) {
		ctl_progress_begin(&x.progress, "export", "twins", twin_store_count(s));
		rc = twin_store_read_each(s, TWIN_TABLE_TWINS, NULL, 0, export_one, &x);
		ctl_progress_end(&x.progress);
		twin_store_read_end(s);
	}
	twin_store_close(s);
	twin_buf_free(&x.line);
	bool closed = ctl_close_file(x.out, path);
	if (rc) {
		return ctl_fail("cannot read the twins of '%s'", c->db);
	}
	if (x.failed && closed) { /* a write error was reported by ctl_close_file */
		ctl_fail("export stopped after %llu twins: out of memory", (unsigned long long)x.written);
	}
	if (x.failed || !closed) {
		return CTL_FAIL;
	}
	fprintf(stderr, "twinctl: exported %llu twins%s\n", (unsigned long long)x.written,
			x.unreadable ? " (some unreadable twins left out)" : "");
	return x.unreadable ? CTL_FAIL : CTL_OK;
}
