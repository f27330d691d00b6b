/* sysreport.h - the plugin's figures as one snapshot (what $twin/stats answers) and the periodic report
 * built from it: retained $SYS/broker/twin/<name> messages like Mosquitto's own $SYS tree, and a
 * Prometheus text file for node_exporter's textfile collector. Pure apart from writing that file. */
#ifndef TWIN_SYSREPORT_H
#define TWIN_SYSREPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "queue.h"

#define TWIN_MAX_STATS 64

struct twin_stat {
	const char *name; /* as in $twin/stats */
	int64_t value;
	bool counter; /* only ever grows (since the broker started); else a gauge */
};

struct twin_stats_snapshot {
	size_t n;
	struct twin_stat item[TWIN_MAX_STATS];
};

void twin_stats_add(struct twin_stats_snapshot *s, const char *name, int64_t value, bool counter);

/* What the last report published, so only changed values are sent again. */
struct twin_sysreport {
	int64_t last[TWIN_MAX_STATS];
	bool sent;
};

/* Appends a retained $SYS/broker/twin/<name> message (the value as decimal text) to out for each value
 * that changed since the previous call (every value the first time). */
void twin_sysreport_publish(struct twin_sysreport *r, const struct twin_stats_snapshot *s,
		struct twin_out_list *out);

/* Replaces path with the snapshot in Prometheus text format (written to path.tmp, then renamed, so a
 * scraper never reads half a file). */
enum twin_rc twin_sysreport_write_prom(const char *path, const struct twin_stats_snapshot *s,
		struct twin_error *err);

#endif
