/* cputime.h - CPU time of a broker's threads, read from /proc (see cputime.c). */
#ifndef BENCH_CPUTIME_H
#define BENCH_CPUTIME_H

#include <sys/types.h>

#define CPU_MAX_THREADS 32

struct cpu_snap { /* CPU seconds (user + system) of every thread of one process at one moment */
	int n;
	pid_t tid[CPU_MAX_THREADS];
	double secs[CPU_MAX_THREADS];
};

struct cpu_use { /* CPU seconds between two snapshots */
	double broker; /* the main thread (tid == pid): mosquitto's own loop and the plugin's callbacks */
	double writer; /* the busiest other thread (the plugin's writer; its search thread idles under ingest) */
	double others; /* every other thread besides those two */
};

int cpu_snap_take(pid_t pid, struct cpu_snap *s);
/* Waits until pid's threads together use under 2 % of a CPU over 200 ms; -1 when not within timeout s.
 * A settled plugin may still be busy: its writer frees a batch after publishing the batch's counters. */
int cpu_wait_idle(pid_t pid, double timeout);
void cpu_use_between(pid_t pid, const struct cpu_snap *before, const struct cpu_snap *after, struct cpu_use *u);

#endif
