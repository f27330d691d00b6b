/* scen_answers.c - (l) big answers to a websockets client and to a TCP client: a $twin/search answer of
 * ~100 KB (200 twins of ~500 B) and one of ~1 MB (200 twins of ~5 KB), in KB/s from the request to the
 * answer's last byte (the search included), through the same client code on both transports (mqraw.c),
 * on a plugin broker with a websockets listener beside its plain one. The bare broker's reference is an
 * echo of a message of the answer's size (published to the client's own subscription): what stock
 * Mosquitto delivers. Its websockets delivery goes at one 4 KB chunk per loop pass, and an idle pass
 * lasts 100 ms, so it is the same in every round (a ~1 MB echo takes ~25 s): it runs once per size (the
 * ~1 MB one not with --smoke).
 * Also the broker thread's CPU per answer, and over 2 s of quiet afterwards with every client still
 * connected, on both brokers (the plugin keeps the loop turning only while an answer is going out). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cputime.h"
#include "mqraw.h"
#include "scenarios.h"
#include "stats.h"

#define TWINS 200 /* search's largest page */
#define ANSWER_TIMEOUT 120.0

struct size_case {
	const char *prefix, *label;
	size_t note; /* bytes of each twin's reported.note */
};

#define NCASES 2

static const struct size_case cases[NCASES] = {{"ans100k", "~100 KB", 170}, {"ans1m", "~1 MB", 4670}};

struct cell { /* one arm, transport and size over the rounds */
	struct series secs;
	long bytes;
	double cpu; /* broker-thread CPU seconds, summed */
};

struct side { /* one broker and a client of it on each transport (0: websockets, 1: TCP) */
	struct broker *b;
	struct mqraw *c[2];
	struct cell cells[NCASES][2];
};

static const char *const transport[2] = {"websockets", "TCP"};

/* Telemetry for TWINS twins of every size (QoS 0 over TCP), then waits until they are stored. */
static int create_twins(const struct broker *b)
{
	struct mqraw *c = mqraw_open(b->port, 0, "twin-bench-answers", 5);
	struct twin_stats s;
	char topic[64], *payload = malloc(cases[NCASES - 1].note + 64);
	int rc = c && payload ? 0 : -1;
	for (size_t k = 0; k < NCASES && rc == 0; k++) {
		int n = sprintf(payload, "{\"tempTop\":21.5,\"note\":\"");
		memset(payload + n, 'x', cases[k].note);
		strcpy(payload + n + cases[k].note, "\"}");
		for (int i = 0; i < TWINS && rc == 0; i++) {
			snprintf(topic, sizeof(topic), "devices/%s-%03d/telemetry", cases[k].prefix, i);
			rc = mqraw_publish(c, topic, payload, strlen(payload), NULL);
		}
	}
	free(payload);
	mqraw_close(c);
	return rc || twin_settle(b, TWINS * (long long)NCASES, 60, &s);
}

static int side_open(struct side *s, struct broker *b)
{
	char id[48], reply[80];
	s->b = b;
	for (int t = 0; t < 2; t++) {
		snprintf(id, sizeof(id), "answers-%s-%d", b->name, t);
		snprintf(reply, sizeof(reply), "bench/reply/%s", id);
		if (!(s->c[t] = mqraw_open(t ? b->port : b->ws_port, !t, id, 5)) ||
				mqraw_subscribe(s->c[t], reply, 5) != 0) {
			fprintf(stderr, "twin_bench: (l) cannot connect to %s over %s\n", b->name, transport[t]);
			return -1;
		}
	}
	return 0;
}

/* One answer on transport t: the search of case k (plugin), or an echo of echo_len bytes (bare). */
static int one(struct side *s, int t, size_t k, const char *echo, size_t echo_len)
{
	char reply[80], req[128];
	struct cpu_snap c0, c1;
	struct cpu_use use;
	struct cell *cell = &s->cells[k][t];
	int status = 0, rc;
	snprintf(reply, sizeof(reply), "bench/reply/answers-%s-%d", s->b->name, t);
	cpu_snap_take(s->b->pid, &c0);
	double t0 = mono_now();
	if (s->b->with_plugin) {
		snprintf(req, sizeof(req), "{\"filter\":\"like(id,\\\"%s-*\\\")\",\"limit\":%d}", cases[k].prefix,
				TWINS);
		rc = mqraw_publish(s->c[t], "$twin/search", req, strlen(req), reply);
	} else {
		rc = mqraw_publish(s->c[t], reply, echo, echo_len, NULL);
	}
	long n = rc == 0 ? mqraw_next_publish(s->c[t], ANSWER_TIMEOUT, &status) : -1;
	double secs = mono_now() - t0;
	cpu_snap_take(s->b->pid, &c1);
	cpu_use_between(s->b->pid, &c0, &c1, &use);
	if (n < 0 || (s->b->with_plugin && status != 200)) {
		fprintf(stderr, "twin_bench: (l) %s: no %s answer over %s (status %d)\n", s->b->name, cases[k].label,
				transport[t], status);
		return -1;
	}
	series_add(&cell->secs, secs);
	cell->bytes = n;
	cell->cpu += use.broker;
	fprintf(stderr, "(l) %-12s %-10s %s: %ld B in %.1f ms\n", s->b->name, transport[t], cases[k].label, n,
			secs * 1e3);
	return 0;
}

/* Broker-thread CPU seconds over `secs` of quiet. */
static double idle_cpu(const struct broker *b, double secs)
{
	struct cpu_snap c0, c1;
	struct cpu_use use;
	struct timespec ts = {(time_t)secs, 0};
	cpu_snap_take(b->pid, &c0);
	nanosleep(&ts, NULL);
	cpu_snap_take(b->pid, &c1);
	cpu_use_between(b->pid, &c0, &c1, &use);
	return use.broker;
}

static double kbps(const struct cell *c)
{
	double med = series_median(&c->secs);
	return med > 0 ? (double)c->bytes / 1e3 / med : 0;
}

static void report(const struct side *twin, const struct side *bare)
{
	char name[64], text[240], ref[64];
	for (size_t k = 0; k < NCASES; k++) {
		for (int t = 0; t < 2; t++) {
			const struct cell *p = &twin->cells[k][t], *b = &bare->cells[k][t];
			snprintf(name, sizeof(name), "(l) %s answer, %s", cases[k].label, transport[t]);
			if (b->secs.n) {
				snprintf(ref, sizeof(ref), "%.0f KB/s (%.1f ms)", kbps(b), series_median(&b->secs) * 1e3);
			} else {
				snprintf(ref, sizeof(ref), "not run");
			}
			snprintf(text, sizeof(text), "plugin %.0f KB/s (%ld B search answer in %.1f ms, p50 of %d); bare "
					"echo %s%s", kbps(p), p->bytes, series_median(&p->secs) * 1e3, p->secs.n, ref,
					t ? "" : " (goal: plugin >= 1/4 of TCP's KB/s)");
			report_single(name, text, t ? -1 : kbps(p) * 4 >= kbps(&twin->cells[k][1]));
		}
	}
	report_note("(l) broker thread CPU per search answer: websockets %.1f ms (~100 KB), %.1f ms (~1 MB); "
			"TCP %.1f ms, %.1f ms", twin->cells[0][0].cpu * 1e3 / twin->cells[0][0].secs.n,
			twin->cells[1][0].cpu * 1e3 / twin->cells[1][0].secs.n,
			twin->cells[0][1].cpu * 1e3 / twin->cells[0][1].secs.n,
			twin->cells[1][1].cpu * 1e3 / twin->cells[1][1].secs.n);
}

int scen_answers(const struct plan *p)
{
	struct broker bb = {0}, tb = {0};
	struct side bare = {0}, twin = {0};
	char *echo = NULL;
	int rc = broker_start_ws(&bb, "bare-ws", 0) || broker_start_ws(&tb, "twin-ws", 1) || create_twins(&tb) ||
			side_open(&bare, &bb) || side_open(&twin, &tb);
	for (size_t k = 0; k < NCASES && rc == 0; k++) {
		for (int round = 0; round < p->rounds && rc == 0; round++) {
			for (int t = 0; t < 2 && rc == 0; t++) {
				rc = one(&twin, t, k, NULL, 0);
				if (rc == 0 && !echo && !(echo = calloc(1, (size_t)twin.cells[k][t].bytes))) {
					rc = -1;
				}
				/* the bare websockets echo is paced by the broker's 100 ms loop: once is enough */
				if (rc == 0 && (t || (round == 0 && (k == 0 || p->bare_ws_big)))) {
					rc = one(&bare, t, k, echo, (size_t)twin.cells[k][t].bytes);
				}
			}
		}
		free(echo);
		echo = NULL;
	}
	if (rc == 0) {
		report(&twin, &bare);
		double ti = idle_cpu(&tb, 2), bi = idle_cpu(&bb, 2);
		report_note("(l) broker thread CPU over 2 s of quiet after the answers, clients connected: plugin "
				"%.1f ms, bare %.1f ms", ti * 1e3, bi * 1e3);
	}
	for (int t = 0; t < 2; t++) {
		mqraw_close(bare.c[t]);
		mqraw_close(twin.c[t]);
	}
	broker_stop(&bb, NULL);
	broker_stop(&tb, NULL);
	return rc;
}
