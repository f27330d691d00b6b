/* cmd_stats.c - `twinctl stats [--json]`: the number of twins and what each table takes (LMDB's own
 * statistics, from one read snapshot), how much of the map is in use, and the store's format. */
#include "twinctl.h"

#include <string.h>

static double mib(size_t bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

static void print_text(const struct twin_store_stats *st)
{
	printf("twins             %zu\n", st->entries[TWIN_TABLE_TWINS]);
	printf("tombstones        %zu\n", st->entries[TWIN_TABLE_TOMBSTONES]);
	printf("desired pending   %zu\n", st->entries[TWIN_TABLE_DESIRED]);
	printf("history entries   %zu\n", st->entries[TWIN_TABLE_HISTORY]);
	printf("%-12s %12s %14s\n", "table", "entries", "bytes");
	for (int t = 0; t < TWIN_N_TABLES; t++) {
		printf("%-12s %12zu %14zu\n", twin_store_table_names[t], st->entries[t], st->bytes[t]);
	}
	printf("page size         %zu\n", st->page_size);
	printf("map size          %zu (%.1f MiB)\n", st->map_size, mib(st->map_size));
	printf("map used          %zu (%.1f MiB, %.1f %%)\n", st->map_used, mib(st->map_used),
			st->map_size ? 100.0 * (double)st->map_used / (double)st->map_size : 0.0);
	printf("readers           %u of %u\n", st->readers, st->max_readers);
	printf("store format      %d\n", st->format);
}

static void print_json(const struct twin_store_stats *st)
{
	printf("{\"twins\":%zu,\"tombstones\":%zu,\"desired\":%zu,\"history\":%zu,\"tables\":{",
			st->entries[TWIN_TABLE_TWINS], st->entries[TWIN_TABLE_TOMBSTONES],
			st->entries[TWIN_TABLE_DESIRED], st->entries[TWIN_TABLE_HISTORY]);
	for (int t = 0; t < TWIN_N_TABLES; t++) {
		printf("%s\"%s\":{\"entries\":%zu,\"bytes\":%zu}", t ? "," : "", twin_store_table_names[t],
				st->entries[t], st->bytes[t]);
	}
	printf("},\"page_size\":%zu,\"map_size\":%zu,\"map_used\":%zu,\"readers\":%u,"
		   "\"max_readers\":%u,\"format\":%d}\n",
			st->page_size, st->map_size, st->map_used, st->readers, st->max_readers, st->format);
}

int ctl_cmd_stats(const struct ctl *c, int argc, char **argv)
{
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	struct twin_store_stats st;
	if (argc > 2 || (argc == 2 && !json)) {
		return ctl_usage("usage: twinctl stats [--json]");
	}
	struct twin_store *s = ctl_open_readonly(c);
	if (!s) {
		return CTL_FAIL;
	}
	enum twin_rc rc = twin_store_read_begin(s);
	if (!rc) {
		rc = twin_store_stats(s, &st);
		twin_store_read_end(s);
	}
	twin_store_close(s);
	if (rc) {
		return ctl_fail("cannot read the statistics of '%s'", c->db);
	}
	(json ? print_json : print_text)(&st);
	return ctl_close_file(stdout, NULL) ? CTL_OK : CTL_FAIL;
}
