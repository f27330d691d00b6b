/* scen_ingest.c - the broker pair of a scenario group (start, pre-create the twins, settle, stop) and the
 * ingest scenarios (a) 10 k devices and (b) 1 M devices: QoS 0 and QoS 1, with and without a subscriber,
 * bare and plugin arms alternated round by round; after each plugin run the writer's backlog is drained
 * before the next run so it never steals the other arm's CPU. */
#include <stdio.h>

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
	double goal = letter == 'a' ? 0.95 : 0.90, max_drain = 0;
	struct series writer = {.n = 0}; /* twin updates stored per second of run + drain */
	long long dropped0 = -1, dropped1 = 0;
	struct twin_stats s;
	if (twin_settle(&g->twin, 0, 600, &s) != 0) {
		return -1;
	}
	dropped0 = s.dropped;
	for (size_t v = 0; v < sizeof(vs) / sizeof(vs[0]); v++) {
		struct series in[2] = {{.n = 0}}, out[2] = {{.n = 0}};
		for (int round = 0; round < p->rounds; round++) {
			for (int arm = 0; arm < 2; arm++) {
				const struct broker *b = arm ? &g->twin : &g->bare;
				struct lg_opts o = {.port = b->port, .conns = p->conns, .qos = vs[v].qos,
						.window = p->window, .ndev = g->ndev, .seconds = p->seconds, .subscriber = vs[v].sub};
				struct lg_result r;
				if (loadgen_run(&o, &r) != 0) {
					return -1;
				}
				series_add(&in[arm], r.in_rate);
				series_add(&out[arm], r.out_rate);
				if (vs[v].sub && r.received < r.sent) {
					report_note("(%c) %s arm: subscriber got %llu of %llu messages", letter, b->name,
							(unsigned long long)r.received, (unsigned long long)r.sent);
				}
				if (arm) {
					double t0 = mono_now();
					long long applied0 = s.applied;
					if (twin_settle(b, 0, 600, &s) != 0) {
						return -1;
					}
					double drain = mono_now() - t0;
					max_drain = drain > max_drain ? drain : max_drain;
					series_add(&writer, (double)(s.applied - applied0) / (r.secs + drain));
					dropped1 = s.dropped;
				}
				fprintf(stderr, "(%c) QoS%d%s %-9s round %d: %.0f msg/s in%s", letter, vs[v].qos,
						vs[v].sub ? " +sub" : "", b->name, round + 1, r.in_rate, vs[v].sub ? "" : "\n");
				if (vs[v].sub) {
					fprintf(stderr, ", %.0f msg/s out\n", r.out_rate);
				}
			}
		}
		char name[64];
		snprintf(name, sizeof(name), "(%c) QoS%d %s devs%s", letter, vs[v].qos, g->tag,
				vs[v].sub ? " +sub: in" : "");
		report_tput(name, &in[0], &in[1], goal);
		if (vs[v].sub) {
			snprintf(name, sizeof(name), "(%c) QoS%d %s devs +sub: out", letter, vs[v].qos, g->tag);
			report_tput(name, &out[0], &out[1], goal);
		}
	}
	report_note("(%c) plugin writer: %.0f telemetry applied/s (median over runs, run + drain time); "
			"backlog drained within %.2f s after a run; telemetry dropped: %lld", letter,
			series_median(&writer), max_drain, dropped1 - dropped0);
	return 0;
}
