/* fastmerge_bench.c - micro-benchmark of the telemetry fast path against the slow path (built only, run
 * by hand: `build/bench/twin_fastmerge_bench [count [fast]]`, fast: the fast path only). One rack reading at a time is applied to a rack
 * twin with 12 readings, each result becoming the next stored value, so seq and one temperature change
 * every time. Fast: scan + apply. Slow: what fastmerge_slow.h does (parse, load, patch, bump, store). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../tests/fuzz/fastmerge_slow.h"

#define VARIANTS 1024
#define T0       1763884800000LL

/* CPU time of this thread: on a shared machine wall time also counts the other processes' turns. */
static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static struct twin_buf rack_twin(void)
{
	struct fm_case c = {NULL, 0, 0, {"{\"seq\":0,\"tempTop\":24.10,\"tempBottom\":21.33,\"humidityTop\":41.2,"
									   "\"humidityBottom\":45.8,\"inletTemp\":19.84,\"outletTemp\":31.02,"
									   "\"fanSpeed\":2,\"powerW\":1234.5,\"doorOpen\":false,\"status\":\"ok\","
									   "\"airflow\":512.7}"},
			{0}, {T0}, 1, T0};
	struct fm_result r = {0};
	c.len[0] = strlen(c.payload[0]);
	if (fm_slow(&c, &r) < 0) {
		abort();
	}
	twin_buf_free(&r.changed);
	return r.out;
}

/* Applies count readings (payload i % VARIANTS at T0 + i), fast or slow; returns ns per reading. */
static double run(bool fast, long count, char (*payloads)[160])
{
	struct twin_buf old = rack_twin();
	struct fm_result r = {0};
	double start = now_ns();
	for (long i = 0; i < count; i++) {
		const char *p = payloads[i % VARIANTS];
		struct fm_case c = {old.data, old.len, 0, {p}, {strlen(p)}, {T0 + i}, 1, T0 + i};
		if ((fast ? fm_fast(&c, &r) : fm_slow(&c, &r)) < 0) {
			fprintf(stderr, "reading %ld not applied\n", i);
			abort();
		}
		struct twin_buf t = old;
		old = r.out;
		r.out = t;
	}
	double ns = (now_ns() - start) / (double)count;
	twin_buf_free(&old);
	fm_result_free(&r);
	return ns;
}

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 1000000;
	static char payloads[VARIANTS][160];
	for (int i = 0; i < VARIANTS; i++) {
		snprintf(payloads[i], sizeof(payloads[i]),
				"{\"seq\":%d,\"tempTop\":%.1f,\"tempBottom\":21.3,\"humidityTop\":41,\"humidityBottom\":45}",
				i + 1, 24.0 + (i % 7) / 10.0);
	}
	double fast = run(true, count, payloads), slow = argc > 2 ? 0 : run(false, count / 10 + 1, payloads);
	printf("rack reading into a rack twin, CPU time: fast %.0f ns/op (%ld runs), slow %.0f ns/op (%ld runs), "
		   "%.1fx\n",
			fast, count, slow, count / 10 + 1, slow / fast);
	return 0;
}
