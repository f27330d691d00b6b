/* model_bench.c - what a twin model costs the writer per rack message (built only, run by hand or by the
 * benchmark's smoke run: `build/bench/twin_model_bench [messages [arm]]`, arm: 0-2, one arm alone, for perf). The writer thread's own CPU time per
 * telemetry message, through twin_writer_process in batches as the writer thread takes them, for racks
 * without a model, racks of the rack-th model (examples/models/rack-th.json: reported schema, four
 * alarm rules), and rack-th racks that have an active alarm (their twins carry an alarms section, which
 * the general path applies). The readings stay in range and under the alarm thresholds, except on the hot
 * racks, so the model's cost is checks and rule decisions, not events. The arms run in turn, REPEATS
 * times, and each prints its fastest run: on a shared machine the other processes only ever add. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "writer.h"

#define RACKS 1000
#define BATCH RACKS /* one message per rack per batch, as at a steady full rate */
#define REPEATS 3

static double cpu_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void no_wake(void *ctx)
{
	(void)ctx;
}

struct arm {
	const char *name;
	const char *default_model; /* NULL: no model */
	double hot;                /* tempTop of the racks, above 32 raises hot-top */
};

/* ns of writer CPU per message over rounds batches of BATCH messages. */
static double run(const struct arm *a, const char *models_dir, long rounds)
{
	char dir[] = "/tmp/twin-model-bench-XXXXXX";
	struct twin_config cfg;
	struct twin_error err;
	struct twin_store *store = NULL;
	struct twin_metrics metrics = {0};
	_Atomic uint64_t done = 0;
	struct twin_models *models = NULL;
	struct twin_models_slot slot;
	const char *keys[] = {"models_dir", "default_model"}, *values[] = {models_dir, a->default_model};
	if (!mkdtemp(dir) || twin_config_parse(&cfg, keys, values, a->default_model ? 2 : 1, &err) ||
			twin_store_open(dir, cfg.map_size, cfg.map_size_max, &store, &err) ||
			twin_models_load(cfg.models_dir, &models, &err)) {
		fprintf(stderr, "model_bench: %s\n", err.msg);
		exit(1);
	}
	twin_models_slot_init(&slot, models);
	struct twin_writer_deps d = {store, &cfg, NULL, NULL, &metrics, &done, &slot, no_wake, NULL};
	struct twin_writer *w = twin_writer_new(&d);
	uint64_t seq = 0;
	double spent = 0;
	for (long r = -1; r < rounds; r++) { /* round -1 creates the twins, unmeasured */
		struct twin_op *head = NULL, **tail = &head;
		for (int i = 0; i < BATCH; i++) {
			char id[32], body[160];
			snprintf(id, sizeof(id), "rack-%04d", i);
			snprintf(body, sizeof(body),
					"{\"tempTop\":%.2f,\"tempBottom\":%.2f,\"humidityTop\":%.1f,\"humidityBottom\":%.1f}",
					a->hot ? a->hot + (double)(r & 1) : 22 + (double)((r + i) % 40) / 10,
					20 + (double)((r * 7 + i) % 30) / 10, 40 + (double)(r % 10), 45 - (double)(r % 10));
			struct twin_op *op = twin_op_new(TWIN_OP_TELEMETRY, id, strlen(id), body, strlen(body), NULL);
			op->seq = ++seq;
			op->ts = 1763884800000LL + r * 1000 + i;
			*tail = op;
			tail = &op->next;
		}
		struct twin_out_list out = {0};
		double t0 = cpu_ns();
		twin_writer_process(w, head, seq, &out);
		spent += r >= 0 ? cpu_ns() - t0 : 0;
		twin_out_list_free(&out);
	}
	twin_writer_free(w);
	twin_models_slot_destroy(&slot);
	twin_store_close(store);
	twin_config_free(&cfg);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "model_bench: could not remove %s\n", dir);
	}
	return spent / (double)(rounds * BATCH);
}

int main(int argc, char **argv)
{
	long messages = argc > 1 ? atol(argv[1]) : 200000;
	int only = argc > 2 ? atoi(argv[2]) : -1;
	long rounds = messages / BATCH > 0 ? messages / BATCH : 1;
	static const struct arm arms[] = {
			{"no model", NULL, 0},
			{"rack-th model (schema + 4 alarm rules)", "rack-th", 0},
			{"rack-th racks with an active alarm", "rack-th", 35},
	};
	enum { N_ARMS = sizeof(arms) / sizeof(arms[0]) };
	double best[N_ARMS] = {0};
	printf("writer CPU per rack message (%ld messages, %d racks, batches of %d, fastest of %d runs)\n",
			rounds * BATCH, RACKS, BATCH, REPEATS);
	for (int rep = 0; rep < REPEATS; rep++) {
		for (int i = 0; i < N_ARMS; i++) {
			double ns = only < 0 || only == i ? run(&arms[i], TWIN_BENCH_MODELS_DIR, rounds) : 0;
			best[i] = rep == 0 || ns < best[i] ? ns : best[i];
		}
	}
	for (int i = 0; i < N_ARMS; i++) {
		if (only < 0 || only == i) {
			printf("  %-42s %8.0f ns/msg   model cost %+6.0f ns/msg\n", arms[i].name, best[i], best[i] - best[0]);
		}
	}
	return 0;
}
