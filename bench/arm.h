/* arm.h - one measured ingest arm against one broker, and the end-to-end row of alternated rounds (see arm.c). */
#ifndef BENCH_ARM_H
#define BENCH_ARM_H

#include "broker.h"
#include "loadgen.h"
#include "stats.h"

struct arm_result {
	struct lg_result lg;   /* the publishers' view: messages sent, publish rate */
	double e2e_secs;       /* plugin: first publish until every message was consumed; bare: lg.secs */
	double e2e_rate;       /* plugin: messages that reached their twin / e2e_secs; bare: 0 */
	double drain_secs;     /* plugin: from the publishers' last PINGRESP until then */
	long long dropped, invalid, limited, unchanged; /* plugin counters over the arm */
	long long peak_queue;  /* highest queue_depth seen: polled while publishing when sample_every > 0, and
	                        * always while draining (so at least the depth at the publishers' end) */
	double broker_us;      /* broker (main) thread CPU per message sent, us */
	double writer_us;      /* plugin: writer thread CPU per message sent, us */
	double others_secs;    /* plugin: CPU of its threads other than broker and writer (should be ~0) */
	long rss_kb;           /* VmRSS at the end of the arm (for the plugin: once drained) */
};

/* Runs the load o against b (o->port must be b's). For a plugin broker it first waits until the plugin is
 * idle, then until every message of the run was consumed; sample_every > 0 polls $twin/stats that often
 * while publishing, for the peak queue depth. */
int arm_run(const struct broker *b, const struct lg_opts *o, double sample_every, struct arm_result *r);

struct arm_rounds { /* per-round figures of a bare/plugin pair of arms */
	struct series bare_in, twin_in, e2e, ratio, writer_us, broker_us[2];
	long long dropped, limited, unchanged, invalid, peak_queue;
	long rss_kb[2];
	double max_drain, others_secs;
};

void arm_rounds_init(struct arm_rounds *a);
void arm_rounds_add(struct arm_rounds *a, const struct arm_result *bare, const struct arm_result *twin);
/* Adds the end-to-end row, and notes for anything a reader must know (rate limited, unchanged, invalid). */
void arm_rounds_report(const struct arm_rounds *a, const char *name);

#endif
