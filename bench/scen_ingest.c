/* scen_ingest.c - the broker pair of a scenario group (start, pre-create the twins, settle, stop) and the
 * ingest scenarios (a) 10 k devices and (b) 1 M devices: QoS 0 and QoS 1, with and without a subscriber,
 * bare and plugin arms alternated round by round. Each variant gives a throughput row (publishes accepted)
 * and an end-to-end row (arm.c: twin updates/s until every message reached its twin, CPU per message);
 * the plugin arm ends only once its writer has consumed the run, so it never steals the next arm's CPU. */
#include <stdio.h>

#include "arm.h"
#include "loadgen.h"
#include "scenarios.h"
#include "stats.h"

#define QUEUE_SIZE 2000000u /* plugin_opt_queue_size: holds a whole pre-create burst of 1 M */

static void fmt_count(char *buf, size_t n, unsigned v)
{
	if (v >= 1000000 && v % 1000000 == 0) {
		snprintf(buf, n, "%uM", v / 1000000);
	} else if (v >= 1000 && v % 1000 == 0) {
		snprintf(buf, n, "%uk", v / 1000);
	} else {
		snprintf(buf, n, "%u", v);
	}
}

int group_start(struct group *g, const struct plan *p, unsigned ndev)
{
	char name[32];
	g->p = p;
	g->ndev = ndev;
	fmt_count(g->tag, sizeof(g->tag), ndev);
	snprintf(name, sizeof(name), "bare-%s", g->tag);
	if (broker_start(&g->bare, name, 0, 0) != 0) {
		return -1;
	}
	snprintf(name, sizeof(name), "twin-%s", g->tag);
	if (ndev > QUEUE_SIZE) { /* (k): the pre-create burst of new twins takes an entry each, and bytes */
		return broker_start_opts(&g->twin, name, ndev, "queue_bytes 17179869184");
	}
	return broker_start(&g->twin, name, 1, QUEUE_SIZE);
}

void group_stop(struct group *g)
{
	broker_stop(&g->bare, NULL);
	broker_stop(&g->twin, NULL);
}

int twin_settle(const struct broker *b, long long want_twins, double timeout, struct twin_stats *s)
{
	double end = mono_now() + timeout;
	while (rr_stats(b->port, s) == 0) {
		if (s->queue_depth == 0 && s->received == s->consumed && s->twins >= want_twins) {
			return 0;
		}
		if (mono_now() > end) {
			fprintf(stderr, "twin_bench: plugin not settled after %.0f s (twins %lld, queue %lld)\n",
					timeout, s->twins, s->queue_depth);
			return -1;
		}
		struct timespec ts = {0, 20000000};
		nanosleep(&ts, NULL);
	}
	return -1;
}

int group_precreate(struct group *g)
{
	struct lg_opts o = {.port = g->twin.port, .conns = g->p->conns, .ndev = g->ndev};
	struct lg_result r;
	struct twin_stats s;
	fprintf(stderr, "pre-creating %u twins ...\n", g->ndev);
	double t0 = mono_now();
	if (loadgen_run(&o, &r) != 0 || twin_settle(&g->twin, g->ndev, 1800, &s) != 0) {
		return -1;
	}
	double t = mono_now() - t0;
	report_note("pre-create %s: %u telemetry messages sent in %.1f s, %lld twins stored after %.1f s "
			"(%.0f twins/s)", g->tag, g->ndev, r.secs, s.twins, t, (double)s.twins / t);
	return 0;
}

struct variant {
	int qos, sub;
};

int scen_ingest(struct group *g, char letter)
{
	static const struct variant vs[] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
	const struct plan *p = g->p;
	double goal = letter == 'a' ? 0.95 : 0.90;
	for (size_t v = 0; v < sizeof(vs) / sizeof(vs[0]); v++) {
		struct series in[2] = {{.n = 0}}, out[2] = {{.n = 0}};
		struct arm_rounds e2e;
		arm_rounds_init(&e2e);
		for (int round = 0; round < p->rounds; round++) {
			struct arm_result r[2];
			for (int arm = 0; arm < 2; arm++) {
				const struct broker *b = arm ? &g->twin : &g->bare;
				struct lg_opts o = {.port = b->port, .conns = p->conns, .qos = vs[v].qos,
						.window = p->window, .ndev = g->ndev, .seconds = p->seconds, .subscriber = vs[v].sub};
				if (arm_run(b, &o, 0, &r[arm]) != 0) {
					return -1;
				}
				series_add(&in[arm], r[arm].lg.in_rate);
				series_add(&out[arm], r[arm].lg.out_rate);
				if (vs[v].sub && r[arm].lg.received < r[arm].lg.sent) {
					report_note("(%c) %s arm: subscriber got %llu of %llu messages", letter, b->name,
							(unsigned long long)r[arm].lg.received, (unsigned long long)r[arm].lg.sent);
				}
				fprintf(stderr, "(%c) QoS%d%s %-9s round %d: %.0f msg/s in", letter, vs[v].qos,
						vs[v].sub ? " +sub" : "", b->name, round + 1, r[arm].lg.in_rate);
				if (vs[v].sub) {
					fprintf(stderr, ", %.0f msg/s out", r[arm].lg.out_rate);
				}
				if (arm) {
					fprintf(stderr, ", %.0f twin updates/s end to end", r[arm].e2e_rate);
				}
				fprintf(stderr, "\n");
			}
			arm_rounds_add(&e2e, &r[0], &r[1]);
		}
		char name[64];
		snprintf(name, sizeof(name), "(%c) QoS%d %s devs%s", letter, vs[v].qos, g->tag,
				vs[v].sub ? " +sub: in" : "");
		report_tput(name, &in[0], &in[1], goal);
		if (vs[v].sub) {
			snprintf(name, sizeof(name), "(%c) QoS%d %s devs +sub: out", letter, vs[v].qos, g->tag);
			report_tput(name, &out[0], &out[1], goal);
		}
		snprintf(name, sizeof(name), "(%c) QoS%d %s devs%s", letter, vs[v].qos, g->tag,
				vs[v].sub ? " +sub" : "");
		arm_rounds_report(&e2e, name);
	}
	return 0;
}
