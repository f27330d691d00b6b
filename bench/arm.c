/* arm.c - owns one measured ingest arm: the publishers' load against one broker, the broker's thread CPU
 * and memory around it, and for a plugin broker the end-to-end wait: the clock starts with the first
 * publish and stops when $twin/stats says every message of the run was consumed (rr.c's `consumed`) and
 * the queue is empty; plus folding alternated bare/plugin rounds into one end-to-end report row. */
#include "arm.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "cputime.h"
#include "rr.h"

#define POLL_SECS 0.01     /* $twin/stats while waiting for the end: the end time is this exact */
#define DRAIN_TIMEOUT 1800 /* seconds a plugin may take to consume a run */

struct lg_thread {
	const struct lg_opts *o;
	struct lg_result *r;
	atomic_int done;
	int rc;
};

static void *lg_main(void *arg)
{
	struct lg_thread *t = arg;
	t->rc = loadgen_run(t->o, t->r);
	atomic_store(&t->done, 1);
	return NULL;
}

static void pause_secs(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	nanosleep(&ts, NULL);
}

static void note_peak(struct arm_result *r, const struct twin_stats *s)
{
	r->peak_queue = s->queue_depth > r->peak_queue ? s->queue_depth : r->peak_queue;
}

/* The load; with a stats connection and sample_every > 0, polled from here while a thread publishes. */
static int publish(const struct lg_opts *o, struct rr_statq *q, double sample_every, struct arm_result *r)
{
	if (!q || sample_every <= 0) {
		return loadgen_run(o, &r->lg);
	}
	struct lg_thread t = {.o = o, .r = &r->lg};
	struct twin_stats s;
	pthread_t th;
	atomic_init(&t.done, 0);
	if (pthread_create(&th, NULL, lg_main, &t) != 0) {
		return -1;
	}
	int rc = 0;
	while (!atomic_load(&t.done)) {
		pause_secs(sample_every);
		if (rc == 0 && !atomic_load(&t.done) && (rc = rr_statq_get(q, &s)) == 0) {
			note_peak(r, &s);
		}
	}
	pthread_join(th, NULL);
	return t.rc != 0 ? t.rc : rc;
}

/* Polls until the plugin is idle (want = -1) or has consumed `want` more messages than base with an empty
 * queue; fills *s with the answer that said so. */
static int wait_consumed(struct rr_statq *q, long long base, long long want, struct twin_stats *s,
		struct arm_result *r)
{
	double end = mono_now() + DRAIN_TIMEOUT;
	while (rr_statq_get(q, s) == 0) {
		if (r) {
			note_peak(r, s);
		}
		int done = want < 0 ? s->received == s->consumed : s->consumed - base >= want;
		if (s->queue_depth == 0 && done) {
			return 0;
		}
		if (mono_now() > end) {
			fprintf(stderr, "twin_bench: plugin still busy after %d s (queue %lld, %lld of %lld consumed)\n",
					DRAIN_TIMEOUT, s->queue_depth, s->consumed - base, want);
			return -1;
		}
		pause_secs(POLL_SECS);
	}
	return -1;
}

int arm_run(const struct broker *b, const struct lg_opts *o, double sample_every, struct arm_result *r)
{
	struct cpu_snap c0, c1;
	struct cpu_use use;
	struct twin_stats s0, s1;
	struct rr_statq *q = NULL;
	int rc = -1;
	memset(r, 0, sizeof(*r));
	r->peak_queue = -1;
	if (b->with_plugin && (!(q = rr_statq_open(b->port)) || wait_consumed(q, 0, -1, &s0, NULL) != 0)) {
		goto out;
	}
	if (cpu_snap_take(b->pid, &c0) != 0) {
		fprintf(stderr, "twin_bench: cannot read the threads of broker %s\n", b->name);
		goto out;
	}
	if (publish(o, q, sample_every, r) != 0) {
		goto out;
	}
	double fenced = mono_now();
	r->e2e_secs = r->lg.secs;
	if (q) {
		if (wait_consumed(q, s0.consumed, (long long)r->lg.sent, &s1, r) != 0) {
			goto out;
		}
		double now = mono_now();
		r->e2e_secs = now - r->lg.t_start;
		r->drain_secs = now - fenced;
		r->dropped = s1.dropped - s0.dropped;
		r->invalid = s1.invalid - s0.invalid;
		r->limited = s1.limited - s0.limited;
		r->unchanged = s1.unchanged - s0.unchanged;
		r->e2e_rate = (double)((long long)r->lg.sent - r->dropped - r->invalid - r->limited) / r->e2e_secs;
	}
	if (cpu_snap_take(b->pid, &c1) != 0) {
		goto out;
	}
	cpu_use_between(b->pid, &c0, &c1, &use);
	double n = r->lg.sent ? (double)r->lg.sent : NAN;
	r->broker_us = use.broker * 1e6 / n;
	r->writer_us = b->with_plugin ? use.writer * 1e6 / n : NAN;
	r->others_secs = use.others;
	r->rss_kb = broker_status_kb(b, "VmRSS");
	rc = 0;
out:
	rr_statq_close(q);
	return rc;
}

void arm_rounds_init(struct arm_rounds *a)
{
	memset(a, 0, sizeof(*a));
	a->peak_queue = -1;
}

void arm_rounds_add(struct arm_rounds *a, const struct arm_result *bare, const struct arm_result *twin)
{
	series_add(&a->bare_in, bare->lg.in_rate);
	series_add(&a->twin_in, twin->lg.in_rate);
	series_add(&a->e2e, twin->e2e_rate);
	series_add(&a->ratio, twin->e2e_rate / bare->lg.in_rate);
	series_add(&a->writer_us, twin->writer_us);
	series_add(&a->broker_us[0], bare->broker_us);
	series_add(&a->broker_us[1], twin->broker_us);
	a->dropped += twin->dropped;
	a->limited += twin->limited;
	a->unchanged += twin->unchanged;
	a->invalid += twin->invalid;
	a->peak_queue = twin->peak_queue > a->peak_queue ? twin->peak_queue : a->peak_queue;
	a->rss_kb[0] = bare->rss_kb;
	a->rss_kb[1] = twin->rss_kb;
	a->max_drain = twin->drain_secs > a->max_drain ? twin->drain_secs : a->max_drain;
	a->others_secs += twin->others_secs;
}

void arm_rounds_report(const struct arm_rounds *a, const char *name)
{
	struct e2e_row e = {.bare_in = series_median(&a->bare_in), .twin_in = series_median(&a->twin_in),
			.twin_e2e = series_median(&a->e2e), .ratio = series_median(&a->ratio), .dropped = a->dropped,
			.peak_queue = a->peak_queue, .writer_us = series_median(&a->writer_us),
			.broker_us = {series_median(&a->broker_us[0]), series_median(&a->broker_us[1])},
			.rss_mb = {(double)a->rss_kb[0] / 1024, (double)a->rss_kb[1] / 1024}};
	snprintf(e.name, sizeof(e.name), "%s", name);
	report_e2e(&e);
	report_note("%s: the plugin consumed each run's last message %.2f s after its publishers' last one at "
			"the most", name, a->max_drain);
	if (a->limited || a->unchanged || a->invalid) {
		report_note("%s: not every message changed its twin: %lld rate limited, %lld unchanged, %lld invalid",
				name, a->limited, a->unchanged, a->invalid);
	}
	if (a->others_secs > 0.05) {
		report_note("%s: %.2f s of CPU on plugin threads other than the writer", name, a->others_secs);
	}
}
