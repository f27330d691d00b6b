/* schema_bench.c - micro-benchmark of model schema checks (built only, run by hand:
 * `build/bench/twin_schema_bench [count]`): a rack reading of four numbers checked against the rack's
 * reported schema (four numeric properties with bounds, additionalProperties false), as a whole
 * (twin_schema_check) and member by member as the telemetry fast path does (twin_schema_member, then a
 * check of each number). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "schema.h"

static const char *rack_schema =
		"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
		"\"tempTop\":{\"type\":\"number\",\"unit\":\"Cel\",\"minimum\":-40,\"maximum\":85},"
		"\"tempBottom\":{\"type\":\"number\",\"unit\":\"Cel\",\"minimum\":-40,\"maximum\":85},"
		"\"humidityTop\":{\"type\":\"number\",\"unit\":\"%RH\",\"minimum\":0,\"maximum\":100},"
		"\"humidityBottom\":{\"type\":\"number\",\"unit\":\"%RH\",\"minimum\":0,\"maximum\":100}}}";
static const char *reading = "{\"tempTop\":31.5,\"tempBottom\":24,\"humidityTop\":40,\"humidityBottom\":45}";

/* CPU time of this thread: on a shared machine wall time also counts the other processes' turns. */
static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double whole(const struct twin_schema *s, const cJSON *v, long count)
{
	double start = now_ns();
	for (long i = 0; i < count; i++) {
		if (!twin_schema_check(s, v, NULL)) {
			abort();
		}
	}
	return (now_ns() - start) / (double)count;
}

static double by_member(const struct twin_schema *s, const cJSON *v, long count)
{
	double start = now_ns();
	for (long i = 0; i < count; i++) {
		for (const cJSON *m = v->child; m; m = m->next) {
			bool allowed;
			const struct twin_schema *ms = twin_schema_member(s, m->string, strlen(m->string), &allowed);
			if (!allowed || (ms && !twin_schema_check(ms, m, NULL))) {
				abort();
			}
		}
	}
	return (now_ns() - start) / (double)count;
}

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 10000000;
	struct twin_error err;
	cJSON *schema = cJSON_Parse(rack_schema), *value = cJSON_Parse(reading);
	struct twin_schema *s = twin_schema_compile(schema, "/reported", &err);
	if (!s || !value || count < 1) {
		fprintf(stderr, "%s\n", s ? "usage: twin_schema_bench [count]" : err.msg);
		return 1;
	}
	double w = whole(s, value, count), m = by_member(s, value, count);
	printf("rack reading (4 numbers) against the rack schema, CPU time: whole check %.0f ns, member by member "
		   "%.0f ns (%ld runs)\n",
			w, m, count);
	twin_schema_free(s);
	cJSON_Delete(schema);
	cJSON_Delete(value);
	return 0;
}
