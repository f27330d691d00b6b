/* stats.h - medians, percentiles and the final table (see stats.c). */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>

#include "common.h"

struct series { /* one figure per round */
	double v[BENCH_MAX_ROUNDS];
	int n;
};

struct samples { /* latencies in microseconds, growable */
	double *v;
	size_t n, cap;
};

void series_add(struct series *s, double v);
double series_median(const struct series *s);

int samples_add(struct samples *s, double v);
void samples_free(struct samples *s);
double samples_pct(struct samples *s, double pct); /* sorts in place */

/* Table rows, printed by report_print in the order added. `goal` is a ratio (plugin/bare) the plugin arm
 * should reach, or 0 for none. */
void report_tput(const char *name, const struct series *bare, const struct series *plugin, double goal);
/* Latency row: p50/p99/p99.9 of both arms; goal_p99 in us (0 = none). bare may be NULL. */
void report_lat(const char *name, struct samples *bare, struct samples *plugin, double goal_p99);
/* A single-arm figure, free text; met: 1 met, 0 missed, -1 no goal. */
void report_single(const char *name, const char *text, int met);
void report_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct e2e_row { /* one scenario's end-to-end figures over its alternated rounds (arm.c fills it) */
	char name[64];
	double bare_in;        /* median bare ingest, msg/s */
	double twin_in;        /* median publish rate the plugin arm achieved, msg/s */
	double twin_e2e;       /* median end-to-end twin updates/s: first publish to every message consumed */
	double ratio;          /* median over rounds of twin_e2e / bare_in of the same round */
	long long dropped;     /* telemetry_dropped over every plugin arm */
	long long peak_queue;  /* highest queue_depth seen in the plugin arms (arm.h); -1 = none */
	double writer_us;      /* median writer-thread CPU per message, us */
	double broker_us[2];   /* median broker-thread CPU per message, us: bare, plugin */
	double rss_mb[2];      /* VmRSS at the end of the last round, MB: bare, plugin */
};
void report_e2e(const struct e2e_row *r);
/* Off (--smoke): goals are still shown, but no row is judged met or MISSED. */
void report_judge(int on);
void report_print(void);

#endif
