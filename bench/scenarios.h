/* scenarios.h - the benchmark scenarios (a)-(l) and the broker pair they run against. */
#ifndef BENCH_SCENARIOS_H
#define BENCH_SCENARIOS_H

#include "broker.h"
#include "common.h"
#include "rr.h"

struct group { /* a bare broker and a broker with the plugin, same config otherwise */
	struct broker bare, twin;
	const struct plan *p;
	unsigned ndev; /* distinct devices; the plugin arm holds one twin per device */
	char tag[16];  /* "10k", "1M", ... */
};

int group_start(struct group *g, const struct plan *p, unsigned ndev);
void group_stop(struct group *g);
/* Sends every device's telemetry once to the plugin arm and waits until all twins are stored. */
int group_precreate(struct group *g);
/* Waits until the plugin's writer has processed every telemetry message received (and at least want_twins
 * are stored); fills *s. */
int twin_settle(const struct broker *b, long long want_twins, double timeout, struct twin_stats *s);

int scen_ingest(struct group *g, char letter);  /* (a), (b) */
int scen_get_latency(struct group *g);          /* (c) */
int scen_desired(struct group *g);              /* (d) */
int scen_restart(struct group *g);              /* (e) */
int scen_footprint(struct group *g);            /* (f) */
int scen_search(struct group *g);               /* (g) */
int scen_growth(const struct plan *p);          /* (h): plugin brokers of its own */
int scen_sustained(struct group *g, char letter); /* (i) 10 k devices, (j) 1 M devices */
int scen_huge(struct group *g);                 /* (k) 10 M twins: disk, restart, idle GET */
int scen_answers(const struct plan *p);         /* (l) big answers over websockets and TCP: brokers of its own */

#endif
