/* main.c - twin_bench: command line, the machine line, and the order of the run: the 10 k group
 * ((a), (c), (i)), then the large group ((b), (d), (g), (f), (j), (e)), each against its own bare + plugin
 * broker pair, then (h) and (l) on brokers of their own; finally the report tables. Exits 0 when every
 * selected scenario ran (goals are reported, never enforced; --smoke judges none). */
#include <ctype.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "scenarios.h"
#include "stats.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: twin_bench [--quick | --smoke] [--rounds N] [--seconds S] [--sustained S]\n"
			"                  [--sustained-rounds N] [--only a,b,c,d,e,f,g,h,i,j,k,l]\n"
			"  (a) ingest, 10k devices      (b) ingest, 1M devices (100k with --quick)\n"
			"  (c) GET round trip            (d) durable desired updates\n"
			"  (e) restart to first GET      (f) disk and heap per twin\n"
			"  (g) search over every twin    (h) cost growth: 1k..1M twins, 4 and 64 KiB, 2000-key twins\n"
			"  (i) sustained ingest, 10k     (j) sustained ingest, 1M devices (100k with --quick)\n"
			"  (k) 10M twins: disk per twin, restart, idle GET (1M with --quick, none with --smoke)\n"
			"  (l) KB/s of ~100 KB and ~1 MB search answers to a websockets and a TCP client (the bare\n"
			"      broker's ~1 MB websockets echo, ~25 s, not with --smoke)\n"
			"  --seconds: the timed arms of (a)-(d), (g), (h) (5 s); --sustained: those of (i), (j) (60 s; 0 skips them)\n"
			"  --rounds: alternated rounds (5); --sustained-rounds: those of (i), (j) (1)\n"
			"env: MOSQUITTO (broker binary), TWIN_PLUGIN (mosquitto_twin.so), TWIN_KEEP_TMP=1,\n"
			"     TWIN_BENCH_OPTS=\"events false,history_max 0\" (extra plugin_opt_ lines)\n");
}

static int parse(int argc, char **argv, struct plan *p, const char **mode)
{
	*p = (struct plan){.rounds = 5, .seconds = 5, .small_n = 10000, .big_n = 1000000,
			.idle_samples = 20000, .restarts = 3, .conns = 16, .window = 100, .requesters = 64,
			.growth_n = 1000, .sustained = 60, .sustained_rounds = 1, .sustained_conns = 4,
			.huge_n = 10000000, .bare_ws_big = 1, .only = "abcdefghijkl"};
	*mode = "full";
	int rounds = 0, sustained_rounds = 0;
	double seconds = 0, sustained = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--quick") == 0) {
			p->rounds = 2, p->seconds = 0.5, p->big_n = 100000, p->idle_samples = 2000, p->restarts = 1;
			p->huge_n = 1000000;
			p->sustained = 5;
			*mode = "quick (NOT the full benchmark: 2 rounds x 0.5 s, 100k twins instead of 1M)";
		} else if (strcmp(a, "--smoke") == 0) {
			p->rounds = 1, p->seconds = 0.2, p->small_n = 1000, p->big_n = 2000, p->idle_samples = 200;
			p->restarts = 1, p->requesters = 8, p->growth_n = 50, p->sustained = 1, p->huge_n = 0;
			p->bare_ws_big = 0;
			*mode = "smoke (only proves every scenario runs: the figures mean nothing)";
			report_judge(0);
		} else if (strcmp(a, "--rounds") == 0 && v) {
			rounds = atoi(v), i++;
		} else if (strcmp(a, "--seconds") == 0 && v) {
			seconds = atof(v), i++;
		} else if (strcmp(a, "--sustained") == 0 && v) {
			sustained = atof(v), i++;
		} else if (strcmp(a, "--sustained-rounds") == 0 && v) {
			sustained_rounds = atoi(v), i++;
		} else if (strcmp(a, "--only") == 0 && v) {
			size_t n = 0;
			for (const char *c = v; *c && n < sizeof(p->only) - 1; c++) {
				if (strchr("abcdefghijkl", *c)) {
					p->only[n++] = *c;
				} else if (*c != ',') {
					return -1;
				}
			}
			p->only[n] = '\0';
			i++;
		} else {
			return -1;
		}
	}
	if (rounds > 0) {
		p->rounds = rounds < BENCH_MAX_ROUNDS ? rounds : BENCH_MAX_ROUNDS;
	}
	if (seconds > 0) {
		p->seconds = seconds;
	}
	if (sustained_rounds > 0) {
		p->sustained_rounds = sustained_rounds < BENCH_MAX_ROUNDS ? sustained_rounds : BENCH_MAX_ROUNDS;
	}
	if (sustained >= 0) {
		p->sustained = sustained;
	}
	if (p->sustained <= 0) { /* --sustained 0: without (i) and (j) */
		char *w = p->only;
		for (const char *c = p->only; *c; c++) {
			if (*c != 'i' && *c != 'j') {
				*w++ = *c;
			}
		}
		*w = '\0';
	}
	return p->only[0] ? 0 : -1;
}

static void print_machine(const struct plan *p, const char *mode)
{
	char model[256] = "unknown", line[512], version[128] = "unknown", cmd[4200];
	FILE *f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon) {
			snprintf(model, sizeof(model), "%s", colon + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	}
	if (f) {
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "'%s' -h 2>&1", bench_mosquitto());
	if ((f = popen(cmd, "r"))) {
		if (fgets(version, sizeof(version), f)) {
			version[strcspn(version, "\n")] = '\0';
		}
		pclose(f);
	}
	const char *extra = getenv("TWIN_BENCH_OPTS");
	printf("machine: %ld CPUs, %s; %s\n", sysconf(_SC_NPROCESSORS_ONLN), model, version);
	if (extra && *extra) {
		printf("extra plugin options: %s\n", extra);
	}
	printf("run: %s; %d rounds x %.1f s per arm, alternated bare/plugin; %d publisher connections, "
			"QoS 1 window %d; scenarios %s\n", mode, p->rounds, p->seconds, p->conns, p->window, p->only);
	if (plan_wants(p, 'i') || plan_wants(p, 'j')) {
		printf("sustained (i), (j): %d rounds x %.1f s per arm, alternated bare/plugin; %d publisher "
				"connections, QoS 0\n", p->sustained_rounds, p->sustained, p->sustained_conns);
	}
	fflush(stdout);
}

static int run_group(const struct plan *p, unsigned ndev, const char *letters)
{
	struct group g;
	int rc = 0;
	if (group_start(&g, p, ndev) != 0 || group_precreate(&g) != 0) {
		group_stop(&g);
		return -1;
	}
	for (const char *l = letters; *l && rc == 0; l++) {
		if (!plan_wants(p, *l)) {
			continue;
		}
		switch (*l) {
			case 'a':
			case 'b':
				rc = scen_ingest(&g, *l);
				break;
			case 'c':
				rc = scen_get_latency(&g);
				break;
			case 'd':
				rc = scen_desired(&g);
				break;
			case 'e':
				rc = scen_restart(&g);
				break;
			case 'f':
				rc = scen_footprint(&g);
				break;
			case 'g':
				rc = scen_search(&g);
				break;
			case 'i':
			case 'j':
				rc = scen_sustained(&g, *l);
				break;
			case 'k':
				rc = scen_huge(&g);
				break;
		}
		if (rc != 0) {
			fprintf(stderr, "twin_bench: scenario (%c) failed\n", *l);
		}
	}
	group_stop(&g);
	return rc;
}

int main(int argc, char **argv)
{
	struct plan p;
	const char *mode;
	if (parse(argc, argv, &p, &mode) != 0) {
		usage(stderr);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	print_machine(&p, mode);
	if (access(bench_plugin(), R_OK) != 0) {
		fprintf(stderr, "twin_bench: plugin %s not found (set TWIN_PLUGIN)\n", bench_plugin());
		return 1;
	}
	mosquitto_lib_init();
	if (bench_env_init() != 0) {
		return 1;
	}
	int rc = 0;
	if (plan_wants(&p, 'a') || plan_wants(&p, 'c') || plan_wants(&p, 'i')) {
		rc |= run_group(&p, p.small_n, "aci");
	}
	if (plan_wants(&p, 'b') || plan_wants(&p, 'd') || plan_wants(&p, 'e') || plan_wants(&p, 'f') ||
			plan_wants(&p, 'g') || plan_wants(&p, 'j')) {
		rc |= run_group(&p, p.big_n, "bdgfje");
	}
	if (plan_wants(&p, 'k') && p.huge_n > 0) {
		rc |= run_group(&p, p.huge_n, "k");
	}
	if (plan_wants(&p, 'h') && scen_growth(&p) != 0) {
		fprintf(stderr, "twin_bench: scenario (h) failed\n");
		rc = 1;
	}
	if (plan_wants(&p, 'l') && scen_answers(&p) != 0) {
		fprintf(stderr, "twin_bench: scenario (l) failed\n");
		rc = 1;
	}
	report_print();
	bench_env_cleanup();
	mosquitto_lib_cleanup();
	return rc ? 1 : 0;
}
