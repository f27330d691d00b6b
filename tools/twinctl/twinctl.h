/* twinctl.h - what twinctl's commands share: their signature, exit codes, messages, opening the store
 * and files. Each command lives in its own cmd_*.c. */
#ifndef CTL_TWINCTL_H
#define CTL_TWINCTL_H

#include <stdio.h>

#include "store.h"

#define CTL_OK    0 /* done; check: no problem found */
#define CTL_FAIL  1 /* failed, or problems found (check), or records refused (import) */
#define CTL_USAGE 2 /* wrong command line */

/* The plugin's default plugin_opt_db_path. */
#define CTL_DEFAULT_DB "/var/lib/mosquitto/twin"

struct ctl {
	const char *db; /* the database directory */
};

/* argv[0] is the command name. */
typedef int (*ctl_cmd_fn)(const struct ctl *c, int argc, char **argv);

int ctl_cmd_ls(const struct ctl *c, int argc, char **argv);
int ctl_cmd_get(const struct ctl *c, int argc, char **argv);
int ctl_cmd_export(const struct ctl *c, int argc, char **argv);
int ctl_cmd_import(const struct ctl *c, int argc, char **argv);
int ctl_cmd_stats(const struct ctl *c, int argc, char **argv);
int ctl_cmd_compact(const struct ctl *c, int argc, char **argv);
int ctl_cmd_check(const struct ctl *c, int argc, char **argv);
int ctl_cmd_model(const struct ctl *c, int argc, char **argv);
int ctl_cmd_cluster(const struct ctl *c, int argc, char **argv); /* -DTWIN_CLUSTER=ON only */

/* "twinctl: <message>" on stderr; return CTL_FAIL / CTL_USAGE. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ctl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "twinctl: <message>" on stderr: something to know that is no failure. */
void ctl_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* s as a decimal integer within [min, max]. */
bool ctl_parse_int(const char *s, long long min, long long max, long long *out);

/* The store of c->db opened read-only beside a running broker; NULL after printing why. */
struct twin_store *ctl_open_readonly(const struct ctl *c);

/* path opened with mode ("r" / "w"), "-" or NULL meaning stdin / stdout; NULL after printing why. */
FILE *ctl_open_file(const char *path, const char *mode);
/* Flushes and closes an output file (stdout is only flushed); false (after printing why) on a write
 * error. */
bool ctl_close_file(FILE *f, const char *path);

#endif
