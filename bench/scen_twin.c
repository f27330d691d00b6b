/* scen_twin.c - the request scenarios: (c) GET round trip idle and under the (a) load (the bare arm
 * measures a plain echo through the broker as the floor), (d) durable desired updates with many in
 * flight, (e) restart to the first answered GET, (f) disk and anonymous RSS per stored twin, and (k) the
 * 10 M twins row: (f), (e) and idle GETs on the restarted broker. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cputime.h"
#include "loadgen.h"
#include "scenarios.h"
#include "stats.h"

struct bg_load {
	struct lg_opts o;
	struct lg_result r;
	atomic_int stop;
	int rc;
};

static void *bg_load_main(void *arg)
{
	struct bg_load *l = arg;
	l->rc = loadgen_run(&l->o, &l->r);
	return NULL;
}

/* One measurement of (c): round trips on broker b, optionally while the (a) QoS 0 load runs. */
static int get_round(struct group *g, const struct broker *b, int loaded, struct samples *lat)
{
	const struct plan *p = g->p;
	struct rr_opts ro = {.port = b->port, .op = b->with_plugin ? RR_GET : RR_ECHO, .clients = 1,
			.inflight = 1, .ndev = g->ndev};
	struct rr_result rr;
	struct bg_load l = {.o = {.port = b->port, .conns = p->conns, .ndev = g->ndev, .seconds = 1e9}};
	pthread_t th;
	if (loaded) {
		l.o.stop = &l.stop;
		if (pthread_create(&th, NULL, bg_load_main, &l) != 0) {
			return -1;
		}
		usleep(300000);
		ro.seconds = p->seconds;
	} else {
		ro.max_samples = p->idle_samples;
	}
	int rc = rr_run(&ro, lat, &rr);
	if (loaded) {
		atomic_store(&l.stop, 1);
		pthread_join(th, NULL);
		rc = rc || l.rc;
	}
	if (rc == 0 && rr.failed) {
		report_note("(c) %s: %llu of %llu answers not 200", b->name, (unsigned long long)rr.failed,
				(unsigned long long)rr.answered);
	}
	struct twin_stats s;
	if (rc == 0 && b->with_plugin && loaded) {
		rc = twin_settle(b, 0, 600, &s);
	}
	fprintf(stderr, "(c) %-9s %s: %llu round trips%s", b->name, loaded ? "loaded" : "idle",
			(unsigned long long)rr.answered, loaded ? "" : "\n");
	if (loaded) {
		fprintf(stderr, ", load %.0f msg/s\n", l.r.in_rate);
	}
	return rc;
}

int scen_get_latency(struct group *g)
{
	struct samples lat[2][2] = {{{0}}}; /* [loaded][arm] */
	int rc = 0;
	for (int loaded = 0; loaded < 2 && rc == 0; loaded++) {
		for (int round = 0; round < g->p->rounds && rc == 0; round++) {
			rc = get_round(g, &g->bare, loaded, &lat[loaded][0]) || get_round(g, &g->twin, loaded,
					&lat[loaded][1]);
		}
	}
	if (rc == 0) {
		report_lat("(c) GET idle (bare: echo)", &lat[0][0], &lat[0][1], 150);
		report_lat("(c) GET under (a) QoS0 load", &lat[1][0], &lat[1][1], 2000);
	}
	for (int i = 0; i < 4; i++) {
		samples_free(&lat[i / 2][i % 2]);
	}
	return rc;
}

int scen_desired(struct group *g)
{
	const struct plan *p = g->p;
	struct series rate = {.n = 0};
	struct samples lat = {0};
	uint64_t failed = 0;
	struct twin_stats s0, s1;
	struct cpu_snap c0, c1;
	struct cpu_use use = {0};
	int rc = twin_settle(&g->twin, 0, 600, &s0) || cpu_snap_take(g->twin.pid, &c0);
	for (int round = 0; round < p->rounds && rc == 0; round++) {
		struct rr_opts ro = {.port = g->twin.port, .op = RR_UPDATE, .clients = p->requesters,
				.inflight = 1, .ndev = g->ndev, .seconds = p->seconds};
		struct rr_result rr;
		rc = rr_run(&ro, &lat, &rr);
		if (rc == 0) {
			series_add(&rate, rr.rate);
			failed += rr.failed;
			fprintf(stderr, "(d) round %d: %.0f updates/s\n", round + 1, rr.rate);
		}
	}
	if (rc == 0 && (rc = twin_settle(&g->twin, 0, 600, &s1) || cpu_snap_take(g->twin.pid, &c1)) == 0) {
		double med = series_median(&rate), p50 = samples_pct(&lat, 50), p99 = samples_pct(&lat, 99);
		char text[200];
		snprintf(text, sizeof(text), "%.0f answered/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms "
				"(goal >= 15000/s, p99 <= 5 ms)", med, p50 / 1e3, p99 / 1e3, samples_pct(&lat, 99.9) / 1e3);
		char name[64];
		snprintf(name, sizeof(name), "(d) desired updates, %d in flight", p->requesters);
		report_single(name, text, med >= 15000 && p99 <= 5000);
		cpu_use_between(g->twin.pid, &c0, &c1, &use);
		double n = lat.n ? (double)lat.n : 1;
		report_note("(d) %llu updates not answered 200; %lld commits for %zu updates; CPU per update: writer "
				"%.1f us, broker thread %.1f us", (unsigned long long)failed, s1.commits - s0.commits, lat.n,
				use.writer * 1e6 / n, use.broker * 1e6 / n);
	}
	samples_free(&lat);
	return rc;
}

/* Drops data.mdb from the page cache (the broker has exited), so the start reads it cold. */
static void evict_db(const struct broker *b)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/data.mdb", b->db);
	int fd = open(path, O_RDONLY);
	if (fd >= 0) {
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
}

int scen_restart(struct group *g)
{
	struct series first = {.n = 0}, down = {.n = 0};
	char id[32];
	for (int i = 0; i < g->p->restarts; i++) {
		double stop_secs;
		if (broker_stop(&g->twin, &stop_secs) != 0) {
			return -1;
		}
		evict_db(&g->twin);
		snprintf(id, sizeof(id), "dev-%07u", (unsigned)(i * 7919u) % g->ndev);
		if (broker_spawn(&g->twin) != 0) {
			return -1;
		}
		double t = rr_first_get(g->twin.port, id, g->twin.spawned_at, 60);
		if (t < 0 || broker_wait_ready(&g->twin, 10) != 0) {
			fprintf(stderr, "twin_bench: no GET answered after restart\n");
			broker_log_tail(&g->twin);
			return -1;
		}
		series_add(&first, t);
		series_add(&down, stop_secs);
		fprintf(stderr, "(e) restart %d: first GET after %.1f ms (shutdown took %.1f ms)\n", i + 1,
				t * 1e3, stop_secs * 1e3);
	}
	char text[200], name[64];
	double med = series_median(&first);
	snprintf(text, sizeof(text), "%.1f ms exec to first 200 (median of %d; data.mdb cold; "
			"SIGTERM to exit %.1f ms) (goal <= 100 ms)", med * 1e3, first.n, series_median(&down) * 1e3);
	snprintf(name, sizeof(name), "(e) restart, %s twins", g->tag);
	report_single(name, text, med <= 0.1);
	return 0;
}

int scen_footprint(struct group *g)
{
	struct twin_stats s;
	struct stat st;
	char path[PATH_MAX + 16], text[200], name[64];
	if (twin_settle(&g->twin, 0, 600, &s) != 0 || s.twins <= 0) {
		return -1;
	}
	snprintf(path, sizeof(path), "%s/data.mdb", g->twin.db);
	if (stat(path, &st) != 0) {
		perror(path);
		return -1;
	}
	double twins = (double)s.twins, disk = (double)st.st_size / twins, goal = g->ndev >= 10000000 ? 400 : 450;
	snprintf(text, sizeof(text), "%.0f B/twin (data.mdb %.1f MB, %.1f MB allocated, %lld twins) "
			"(goal <= %.0f B)", disk, (double)st.st_size / 1e6, (double)st.st_blocks * 512 / 1e6, s.twins,
			goal);
	snprintf(name, sizeof(name), "(f) disk per twin, %s", g->tag);
	report_single(name, text, disk <= goal);
	long anon = broker_status_kb(&g->twin, "RssAnon"), bare = broker_status_kb(&g->bare, "RssAnon");
	long file = broker_status_kb(&g->twin, "RssFile");
	double heap = (double)(anon - bare) * 1024 / twins;
	snprintf(text, sizeof(text), "%.1f B/twin (RssAnon %.1f MB vs bare %.1f MB; RssFile %.1f MB) "
			"(goal <= 64 B)", heap, (double)anon / 1024, (double)bare / 1024, (double)file / 1024);
	snprintf(name, sizeof(name), "(f) broker heap per twin, %s", g->tag);
	report_single(name, text, heap <= 64);
	return 0;
}

struct bg_search {
	int port;
	unsigned ndev;
	double seconds;
	struct samples lat;
	struct rr_result r;
	int rc;
};

static void *bg_search_main(void *arg)
{
	struct bg_search *s = arg;
	struct rr_opts ro = {.port = s->port, .op = RR_SEARCH, .clients = 1, .inflight = 1,
			.ndev = s->ndev, .seconds = s->seconds, .stall = 5 + s->ndev / 20000.0}; /* ~50 us a twin */
	s->rc = rr_run(&ro, &s->lat, &s->r);
	return NULL;
}

/* (g) A full-scan search (filter, sort, count) over every stored twin runs on the plugin's search thread:
 * its duration, and GET round trips idle and while such searches run back to back, which shows what a
 * search costs the broker thread (a GET is answered on the broker thread). */
int scen_search(struct group *g)
{
	const struct plan *p = g->p;
	struct samples idle = {0}, during = {0};
	struct rr_result rr;
	struct twin_stats s;
	struct rr_opts ro = {.port = g->twin.port, .op = RR_GET, .clients = 1, .inflight = 1,
			.ndev = g->ndev, .max_samples = p->idle_samples};
	int rc = twin_settle(&g->twin, 0, 600, &s) || rr_run(&ro, &idle, &rr);
	struct bg_search bg = {.port = g->twin.port, .ndev = g->ndev, .seconds = p->seconds * 3 + 1};
	pthread_t th;
	if (rc == 0 && pthread_create(&th, NULL, bg_search_main, &bg) == 0) {
		usleep(200000);
		ro.max_samples = 0;
		ro.seconds = p->seconds * 3;
		rc = rr_run(&ro, &during, &rr);
		pthread_join(th, NULL);
		rc = rc || bg.rc || bg.r.answered == 0;
	}
	if (rc == 0) {
		char name[64], text[240];
		snprintf(name, sizeof(name), "(g) search, %lld twins", s.twins);
		snprintf(text, sizeof(text),
				"%.0f ms per full-scan search (p50 of %llu, off the broker thread); GET p99 %.0f us idle, "
				"%.0f us during searches (max %.0f us)",
				samples_pct(&bg.lat, 50) / 1e3, (unsigned long long)bg.r.answered,
				samples_pct(&idle, 99), samples_pct(&during, 99), samples_pct(&during, 100));
		report_single(name, text, -1);
	}
	samples_free(&idle);
	samples_free(&during);
	samples_free(&bg.lat);
	return rc;
}

int scen_huge(struct group *g)
{
	struct samples lat = {0};
	struct rr_result rr;
	char name[64];
	if (scen_footprint(g) != 0 || scen_restart(g) != 0) {
		return -1;
	}
	/* right after the restart: the GETs read a cold data.mdb through the page cache */
	struct rr_opts ro = {.port = g->twin.port, .op = RR_GET, .clients = 1, .inflight = 1, .ndev = g->ndev,
			.max_samples = g->p->idle_samples};
	int rc = rr_run(&ro, &lat, &rr);
	if (rc == 0) {
		double p99 = samples_pct(&lat, 99);
		char text[200];
		snprintf(text, sizeof(text), "p50 %.0f us, p99 %.0f us, p99.9 %.0f us over %llu GETs of random twins "
				"after the restart (goal p99 <= 200 us)", samples_pct(&lat, 50), p99, samples_pct(&lat, 99.9),
				(unsigned long long)rr.answered);
		snprintf(name, sizeof(name), "(k) GET idle, %s twins", g->tag);
		report_single(name, text, p99 <= 200);
	}
	samples_free(&lat);
	return rc;
}
