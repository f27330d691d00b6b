/* scen_sustained.c - the sustained arms (i) 10 k devices and (j) 1 M devices: --sustained seconds (60 in
 * the full run) of QoS 0 rack telemetry from 4 publishers, each message changing its twin (every run
 * patches its own sequence numbers), bare and plugin arms alternated round by round. Reported end to end
 * (arm.c): publish rate achieved, twin updates/s until the writer consumed the last message, its ratio to
 * the bare broker's ingest of the same round, telemetry_dropped, the peak queue depth sampled during the
 * arm, CPU per message of the writer and broker threads, and the brokers' RSS at the end. */
#include <stdio.h>

#include "arm.h"
#include "scenarios.h"

#define SAMPLES_PER_ARM 240 /* $twin/stats polls for the peak queue depth: every 0.25 s of a 60 s arm, */
#define MIN_SAMPLE_SECS 0.05 /* and no more often than this in short arms */

int scen_sustained(struct group *g, char letter)
{
	const struct plan *p = g->p;
	struct arm_rounds rounds;
	char name[64];
	arm_rounds_init(&rounds);
	for (int round = 0; round < p->sustained_rounds; round++) {
		struct arm_result r[2];
		for (int arm = 0; arm < 2; arm++) {
			const struct broker *b = arm ? &g->twin : &g->bare;
			struct lg_opts o = {.port = b->port, .conns = p->sustained_conns, .ndev = g->ndev,
					.seconds = p->sustained};
			double every = p->sustained / SAMPLES_PER_ARM;
			if (arm_run(b, &o, every > MIN_SAMPLE_SECS ? every : MIN_SAMPLE_SECS, &r[arm]) != 0) {
				return -1;
			}
			fprintf(stderr, "(%c) sustained %-9s round %d: %.0f msg/s published", letter, b->name, round + 1,
					r[arm].lg.in_rate);
			if (arm) {
				fprintf(stderr, ", %.0f twin updates/s end to end (drained %.1f s after), peak queue %lld, "
						"dropped %lld", r[arm].e2e_rate, r[arm].drain_secs, r[arm].peak_queue, r[arm].dropped);
			}
			fprintf(stderr, "\n");
		}
		arm_rounds_add(&rounds, &r[0], &r[1]);
	}
	snprintf(name, sizeof(name), "(%c) %.0f s, %d pub, QoS0 %s devs", letter, p->sustained, p->sustained_conns,
			g->tag);
	arm_rounds_report(&rounds, name);
	return 0;
}
