/* scen_growth.c - (h) how costs grow: the same measurements on a plugin broker holding 1 k .. 1 M twins of
 * the rack payload, then 1 k twins (50 with --smoke) grown to ~4 KiB and ~64 KiB (an extra `reported.blob` object sent once
 * per twin), and 1 k twins of 2000 keys (1000 reported keys sent once as telemetry, 1000 desired keys as an
 * update, half of them equal to the reported ones, so each has a delta of 500 keys; its GET p99 and writer
 * cost per message are also printed as multiples of the 1 k rack row's, and its GETs alternate in bursts
 * with GETs of 1 k rack twins kept in the same broker, so that the two p99s, and their ratio, come from the
 * same minutes of a shared machine). Per row: broker ingest of
 * 200-byte rack telemetry (QoS 0, 16 connections, one run), what the
 * writer applies per second over that run and its backlog, and idle GET round trips. The writer takes up to
 * 4096 queued messages per commit and writes each twin once per commit, so with few twins a twin is
 * written once for several messages: the per-message cost shown falls as messages per twin rise. With 1 k
 * twins each gets ~100 msg/s, over the default telemetry_rate, so these brokers run with telemetry_rate 0. */
#include <mosquitto.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cputime.h"
#include "loadgen.h"
#include "scenarios.h"
#include "stats.h"

#define GROWTH_QUEUE 2000000u
#define SEND_WINDOW  100
#define BURSTS       10 /* the keys row's GETs: this many bursts of big twins' and as many of rack twins', in turn */

struct grower {
	unsigned done;
};

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
	(void)m, (void)mid;
	((struct grower *)obj)->done++;
}

/* A JSON object of ~size bytes: {"f000":"xxxx...", ...} in 1 KiB members (one member below 1 KiB). */
static char *blob_payload(size_t size)
{
	size_t members = size / 1024 ? size / 1024 : 1, each = size / members;
	char *p = malloc(size + members * 16 + 32), *q = p;
	if (!p) {
		return NULL;
	}
	q += sprintf(q, "{\"blob\":{");
	for (size_t i = 0; i < members; i++) {
		q += sprintf(q, "%s\"f%03zu\":\"", i ? "," : "", i);
		memset(q, 'x', each > 16 ? each - 16 : 1);
		q += each > 16 ? each - 16 : 1;
		*q++ = '"';
	}
	strcpy(q, "}}");
	return p;
}

#define BIG_KEYS 1000

/* {"p000":v,...} with BIG_KEYS numbers (every odd one + odd), wrapped in {"desired":...} when desired. */
static char *keys_payload(int odd, int desired)
{
	char *p = malloc(BIG_KEYS * 24 + 32), *q = p;
	if (!p) {
		return NULL;
	}
	q += sprintf(q, "%s{", desired ? "{\"desired\":" : "");
	for (int i = 0; i < BIG_KEYS; i++) {
		q += sprintf(q, "%s\"p%03d\":%d.5", i ? "," : "", i, i + (i % 2) * odd);
	}
	strcpy(q, desired ? "}}" : "}");
	return p;
}

/* Sends payload (owned) once to every twin on topic_fmt (QoS 1, SEND_WINDOW in flight) and waits until
 * all are stored. */
static int grow_twins(const struct broker *b, unsigned ndev, const char *topic_fmt, char *payload)
{
	struct grower g = {0};
	char topic[64];
	struct mosquitto *m = mosquitto_new("twin-bench-grower", true, &g);
	struct twin_stats s;
	int rc = -1;
	if (!payload || !m) {
		goto out;
	}
	mosquitto_publish_callback_set(m, on_publish);
	mosquitto_max_inflight_messages_set(m, SEND_WINDOW);
	if (mosquitto_connect(m, "127.0.0.1", b->port, 60) != MOSQ_ERR_SUCCESS) {
		goto out;
	}
	for (unsigned i = 0; i < ndev; i++) {
		snprintf(topic, sizeof(topic), topic_fmt, i);
		if (mosquitto_publish(m, NULL, topic, (int)strlen(payload), payload, 1, false) != MOSQ_ERR_SUCCESS) {
			goto out;
		}
		while (i + 1 - g.done > 4 * SEND_WINDOW && mosquitto_loop(m, 100, 1) == MOSQ_ERR_SUCCESS) {
		}
	}
	while (g.done < ndev && mosquitto_loop(m, 100, 1) == MOSQ_ERR_SUCCESS) {
	}
	rc = g.done == ndev ? twin_settle(b, ndev, 600, &s) : -1;
out:
	if (m) {
		mosquitto_disconnect(m);
		mosquitto_destroy(m);
	}
	free(payload);
	return rc;
}

static void fmt_n(char *buf, size_t n, unsigned v)
{
	if (v >= 1000000) {
		snprintf(buf, n, "%uM", v / 1000000);
	} else if (v >= 1000) {
		snprintf(buf, n, "%uk", v / 1000);
	} else {
		snprintf(buf, n, "%u", v);
	}
}

#define TELEMETRY_TOPIC "devices/dev-%07u/telemetry"

/* The 1 k rack row's GET p99 and writer us per message, for the big-twin row's ratios. */
static double rack_p99, rack_us;

/* Idle GET round trips of the row's ndev twins into lat; in the keys row in bursts that alternate with
 * GETs of its rack twins dev-{ndev}.. (into rack). */
static int idle_gets(const struct plan *p, const struct broker *b, unsigned ndev, bool keys,
		struct samples *lat, struct samples *rack)
{
	struct rr_result rr;
	struct rr_opts ro = {.port = b->port, .op = RR_GET, .clients = 1, .inflight = 1, .ndev = ndev,
			.max_samples = keys ? p->idle_samples / BURSTS : p->idle_samples};
	for (int i = 0; i < (keys ? 2 * BURSTS : 1); i++) {
		ro.first = i % 2 ? ndev : 0;
		if (rr_run(&ro, i % 2 ? rack : lat, &rr) != 0) {
			return -1;
		}
	}
	return 0;
}

/* One row: a fresh plugin broker with ndev twins (grown to blob bytes when > 0, to 2000 keys when
 * blob is SIZE_MAX). */
static int growth_row(const struct plan *p, unsigned ndev, size_t blob)
{
	bool keys = blob == SIZE_MAX;
	struct broker b;
	struct twin_stats s;
	struct lg_result r;
	struct samples lat = {0}, rack = {0};
	char name[48], label[96], text[384], n[16];
	int rc = -1;
	fmt_n(n, sizeof(n), ndev);
	if (keys) {
		snprintf(name, sizeof(name), "growth-%s-keys", n);
	} else {
		snprintf(name, sizeof(name), "growth-%s-%zu", n, blob);
	}
	if (broker_start_opts(&b, name, GROWTH_QUEUE, "max_twin_bytes 1048576,telemetry_rate 0") != 0) {
		goto out;
	}
	/* the keys row also holds ndev rack twins (dev-{ndev}..), never grown, for its interleaved GETs */
	unsigned created = keys ? 2 * ndev : ndev;
	struct lg_opts create = {.port = b.port, .conns = p->conns, .ndev = created};
	if (loadgen_run(&create, &r) != 0 || twin_settle(&b, created, 1800, &s) != 0 ||
			(blob && !keys && grow_twins(&b, ndev, TELEMETRY_TOPIC, blob_payload(blob)) != 0) ||
			(keys && (grow_twins(&b, ndev, TELEMETRY_TOPIC, keys_payload(0, 0)) != 0 ||
					grow_twins(&b, ndev, "$twin/dev-%07u/update", keys_payload(1, 1)) != 0))) {
		goto out;
	}
	long long applied0 = s.applied;
	struct lg_opts load = {.port = b.port, .conns = p->conns, .ndev = ndev, .seconds = p->seconds};
	if (loadgen_run(&load, &r) != 0) {
		goto out;
	}
	double t0 = mono_now();
	if (twin_settle(&b, 0, 600, &s) != 0) {
		goto out;
	}
	double writer = (double)(s.applied - applied0) / (r.secs + mono_now() - t0);
	if (cpu_wait_idle(b.pid, 60) != 0 || idle_gets(p, &b, ndev, keys, &lat, &rack) != 0) {
		goto out;
	}
	double p99 = samples_pct(&lat, 99);
	if (ndev == 1000 && !blob) {
		rack_p99 = p99;
		rack_us = 1e6 / writer;
	}
	if (keys) {
		snprintf(label, sizeof(label), "(h) %s twins of %d + %d keys", n, BIG_KEYS, BIG_KEYS);
	} else if (blob) {
		snprintf(label, sizeof(label), "(h) %s twins of ~%zu KiB", n, blob / 1024);
	} else {
		snprintf(label, sizeof(label), "(h) %s twins (rack, ~0.8 KiB)", n);
	}
	snprintf(text, sizeof(text), "ingest %6.0f msg/s; writer %6.0f applied/s (%5.1f us each); GET p50 %4.0f us, "
			"p99 %5.0f us", r.in_rate, writer, 1e6 / writer, samples_pct(&lat, 50), p99);
	if (keys && rack_p99 > 0) {
		size_t len = strlen(text);
		snprintf(text + len, sizeof(text) - len, "; %.1f x / %.1f x the 1k rack row's", p99 / rack_p99,
				1e6 / writer / rack_us);
	}
	if (keys) {
		size_t len = strlen(text);
		double same = samples_pct(&rack, 99);
		snprintf(text + len, sizeof(text) - len, "; rack twins' GETs in turn with these: p50 %.0f us, "
				"p99 %.0f us, %.1f x", samples_pct(&rack, 50), same, p99 / same);
	}
	report_single(label, text, -1);
	rc = 0;
out:
	if (rc) {
		broker_log_tail(&b);
	}
	samples_free(&lat);
	samples_free(&rack);
	broker_stop(&b, NULL);
	return rc;
}

int scen_growth(const struct plan *p)
{
	static const size_t blobs[] = {4096, 65536};
	for (unsigned ndev = 1000; ndev <= p->big_n; ndev *= 10) {
		if (growth_row(p, ndev, 0) != 0) {
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(blobs) / sizeof(blobs[0]); i++) {
		if (growth_row(p, p->growth_n, blobs[i]) != 0) {
			return -1;
		}
	}
	return growth_row(p, p->growth_n, SIZE_MAX);
}
