/* common.h - the few things every bench file needs: a monotonic clock and the run plan (sizes, rounds and
 * durations chosen by main.c from --quick / --smoke / --rounds / --seconds / --sustained / --only). */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <time.h>

#define BENCH_MAX_ROUNDS 64

static inline double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct plan {
	int rounds;          /* alternated rounds per arm */
	double seconds;      /* length of one timed run */
	unsigned small_n;    /* distinct devices in (a), (c) */
	unsigned big_n;      /* distinct devices in (b), (d), (e), (f) */
	unsigned huge_n;     /* twins in (k); 0: none */
	unsigned idle_samples; /* GET round trips per idle round */
	int restarts;        /* restarts measured in (e) */
	int conns;           /* publisher connections */
	int window;          /* QoS 1 messages in flight per connection */
	int requesters;      /* concurrent requesters in (d) */
	unsigned growth_n;   /* twins grown to 4 and 64 KiB in (h) */
	double sustained;    /* length of one sustained arm in (i), (j) */
	int sustained_rounds; /* alternated rounds of (i), (j) */
	int sustained_conns; /* publisher connections in (i), (j) */
	int bare_ws_big;     /* (l): also the bare broker's ~1 MB websockets echo (~25 s); 0 with --smoke */
	char only[32];       /* scenario letters to run */
};

static inline int plan_wants(const struct plan *p, char scenario)
{
	for (const char *c = p->only; *c; c++) {
		if (*c == scenario) {
			return 1;
		}
	}
	return 0;
}

#endif
