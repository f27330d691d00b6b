/* cmd_ls.c - `twinctl ls [--prefix P]`: the twin ids in id (byte) order, one per line. */
#include "twinctl.h"

#include <string.h>

struct ls {
	const char *prefix;
	size_t prefix_len;
};

static bool print_id(void *ctx, const char *id, size_t id_len, const void *val, size_t len)
{
	const struct ls *l = ctx;
	(void)val;
	(void)len;
	if (id_len < l->prefix_len || memcmp(id, l->prefix, l->prefix_len)) {
		return false; /* past the ids with the prefix */
	}
	fwrite(id, 1, id_len, stdout);
	putchar('\n');
	return !ferror(stdout);
}

int ctl_cmd_ls(const struct ctl *c, int argc, char **argv)
{
	struct ls l = {"", 0};
	if (argc == 3 && !strcmp(argv[1], "--prefix")) {
		l.prefix = argv[2];
		l.prefix_len = strlen(argv[2]);
	} else if (argc != 1) {
		return ctl_usage("usage: twinctl ls [--prefix P]");
	}
	struct twin_store *s = ctl_open_readonly(c);
	if (!s) {
		return CTL_FAIL;
	}
	enum twin_rc rc = twin_store_read_begin(s);
	if (!rc) {
		rc = twin_store_read_each(s, TWIN_TABLE_TWINS, l.prefix_len ? l.prefix : NULL,
				l.prefix_len, print_id, &l);
		twin_store_read_end(s);
	}
	twin_store_close(s);
	if (rc) {
		return ctl_fail("cannot read the twins of '%s'", c->db);
	}
	return ctl_close_file(stdout, NULL) ? CTL_OK : CTL_FAIL;
}
