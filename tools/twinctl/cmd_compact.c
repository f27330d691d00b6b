/* cmd_compact.c - `twinctl compact OUT_DIR`: a compacted copy of the store (LMDB's copy without free
 * pages, from one read snapshot, so also while a broker runs) into OUT_DIR, ready for a broker's
 * plugin_opt_db_path. The original is never changed. */
#include "twinctl.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static size_t file_size(const char *dir)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

int ctl_cmd_compact(const struct ctl *c, int argc, char **argv)
{
	struct twin_error err;
	if (argc != 2) {
		return ctl_usage("usage: twinctl compact OUT_DIR");
	}
	const char *out = argv[1];
	if (mkdir(out, 0750) != 0 && errno != EEXIST) {
		return ctl_fail("cannot create '%s': %s", out, strerror(errno));
	}
	struct twin_store *s = ctl_open_readonly(c);
	if (!s) {
		return CTL_FAIL;
	}
	enum twin_rc rc = twin_store_copy_compact(s, out, &err);
	twin_store_close(s);
	if (rc) {
		return ctl_fail("%s", err.msg);
	}
	printf("compacted '%s' (%zu bytes) into '%s' (%zu bytes)\n", c->db, file_size(c->db), out,
			file_size(out));
	return CTL_OK;
}
