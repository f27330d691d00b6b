/* render_bench.c - micro-benchmark of a get's rendering (built only, run by hand:
 * `build/bench/twin_render_bench [count [direct]]`, direct: the direct rendering only): the twin's
 * public JSON written straight from its stored bytes (twin_render.c) against loading it and writing the
 * tree with its model shown (what a get did before), CPU time per twin, for a rack twin and for the big
 * twin of twin_bench's (h) row (1000 reported keys, 1000 desired keys, half of them differing, so a delta
 * of 500 keys). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "model_check.h"
#include "twin.h"
#include "twin_format.h"
#include "twin_render.h"

#define T0 1763884800000LL

/* CPU time of this thread: on a shared machine wall time also counts the other processes' turns. */
static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void patch(cJSON *doc, enum twin_section s, const char *json, int64_t ts)
{
	cJSON *p = cJSON_Parse(json);
	if (!p || twin_doc_patch(doc, s, p, ts, NULL) < 0) {
		abort();
	}
	twin_doc_bump(doc, 1u << s, ts);
	cJSON_Delete(p);
}

/* {"p000":v,...}: 1000 numbers, every odd one + odd (as twin_bench's keys_payload). */
static char *keys(int odd)
{
	char *p = malloc(1000 * 24 + 8), *q = p;
	q += sprintf(q, "{");
	for (int i = 0; i < 1000; i++) {
		q += sprintf(q, "%s\"p%03d\":%d.5", i ? "," : "", i, i + (i % 2) * odd);
	}
	sprintf(q, "}");
	return p;
}

static struct twin_buf stored(bool big)
{
	cJSON *doc = twin_doc_create("dev-0000001", 11, 0, T0);
	struct twin_buf b = {0};
	patch(doc, TWIN_SEC_REPORTED,
			"{\"seq\":1,\"tempTop\":24.1,\"tempBottom\":21.33,\"humidityTop\":41.2,\"humidityBottom\":45.8,"
			"\"inletTemp\":19.84,\"outletTemp\":31.02,\"fanSpeed\":2,\"powerW\":1234.5,\"doorOpen\":false,"
			"\"status\":\"ok\",\"airflow\":512.7}",
			T0);
	if (big) {
		char *r = keys(0), *d = keys(1);
		patch(doc, TWIN_SEC_REPORTED, r, T0 + 1000);
		patch(doc, TWIN_SEC_DESIRED, d, T0 + 2000);
		free(r);
		free(d);
	}
	twin_doc_seen(doc, T0 + 3000);
	if (!twin_doc_store(doc, &b)) {
		abort();
	}
	cJSON_Delete(doc);
	return b;
}

/* ns per rendering of val, directly or through the loaded tree. */
static double run(const struct twin_buf *val, bool direct, long count, size_t *out_len)
{
	struct twin_buf out = {0};
	struct twin_stored t = {"dev-0000001", 11, val->data, val->len, NULL};
	double start = now_ns();
	for (long i = 0; i < count; i++) {
		out.len = 0;
		if (direct) {
			if (!twin_doc_render(&t, &out)) {
				abort();
			}
			continue;
		}
		cJSON *doc = twin_doc_load(t.id, t.id_len, t.val, t.len);
		if (!doc || !twin_doc_show_model(doc, NULL) || !twin_json_write(&out, doc)) {
			abort();
		}
		cJSON_Delete(doc);
	}
	double ns = (now_ns() - start) / (double)count;
	*out_len = out.len;
	twin_buf_free(&out);
	return ns;
}

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 2000;
	for (int big = 0; big <= 1; big++) {
		struct twin_buf val = stored(big);
		long n = big ? count : count * 50;
		size_t len;
		double direct = run(&val, true, n, &len), tree = argc > 2 ? 0 : run(&val, false, n, &len);
		printf("%s (%zu B stored, %zu B rendered), CPU time: direct %.1f us, loaded tree %.1f us, %.1fx\n",
				big ? "twin of 1000 + 1000 keys" : "rack twin", val.len, len, direct / 1000, tree / 1000,
				tree / direct);
		twin_buf_free(&val);
	}
	return 0;
}
