/* cmd_get.c - `twinctl get ID`: the twin's public JSON, as `$twin/{id}/get` answers it (without the
 * live `connected`). */
#include "twinctl.h"

#include <string.h>

#include "jsonx.h"
#include "twin_format.h"

int ctl_cmd_get(const struct ctl *c, int argc, char **argv)
{
	if (argc != 2) {
		return ctl_usage("usage: twinctl get ID");
	}
	const char *id = argv[1];
	const void *val;
	size_t len;
	struct twin_buf out = {0};
	struct twin_store *s = ctl_open_readonly(c);
	if (!s) {
		return CTL_FAIL;
	}
	cJSON *doc = NULL;
	enum twin_rc rc = twin_store_read_begin(s);
	if (!rc) {
		rc = twin_store_read_find(s, TWIN_TABLE_TWINS, id, strlen(id), &val, &len);
		doc = rc ? NULL : twin_doc_load(id, strlen(id), val, len);
		twin_store_read_end(s);
	}
	twin_store_close(s);
	bool ok = doc && twin_json_write(&out, doc) && twin_buf_put(&out, "\n", 1);
	cJSON_Delete(doc);
	if (ok) {
		fwrite(out.data, 1, out.len, stdout);
	}
	twin_buf_free(&out);
	if (rc == TWIN_ERR_NOT_FOUND) {
		return ctl_fail("twin '%s' not found", id);
	}
	if (!ok) {
		return ctl_fail("twin '%s' is unreadable (run 'twinctl check')", id);
	}
	return ctl_close_file(stdout, NULL) ? CTL_OK : CTL_FAIL;
}
