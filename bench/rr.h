/* rr.h - MQTT v5 request/response clients on libmosquitto (see rr.c). */
#ifndef BENCH_RR_H
#define BENCH_RR_H

#include <stdint.h>

#include "stats.h"

enum rr_op {
	RR_ECHO,   /* publish to an own subscribed topic: the bare broker's round-trip floor */
	RR_GET,    /* $twin/{id}/get */
	RR_UPDATE, /* $twin/{id}/update {"desired":{"fanSpeed":n}} */
	RR_SEARCH, /* $twin/search: a full scan with filter, sort and count */
};

struct rr_opts {
	int port;
	enum rr_op op;
	int clients;           /* connections */
	int inflight;          /* requests outstanding per connection */
	unsigned ndev;         /* ids are drawn at random from dev-{first} .. first + ndev - 1 */
	unsigned first;
	unsigned max_samples;  /* stop after this many answers (0 = no limit) */
	double seconds;        /* stop after this long (0 = no limit) */
	double stall;          /* give up after this long without an answer (0: 5 s) */
};

struct rr_result {
	uint64_t answered, failed; /* failed: an answer without status 200 */
	double secs, rate;         /* first request to last answer; answered / secs */
};

int rr_run(const struct rr_opts *o, struct samples *lat_us, struct rr_result *r);

struct twin_stats {
	long long twins, queue_depth, received, applied, unchanged, invalid, dropped, limited, commits;
	/* Telemetry messages the plugin is done with: each was applied, changed nothing, was invalid, dropped
	 * or rate limited. The one figure that says "every message reached its twin" (see rr.c). */
	long long consumed;
};
int rr_stats(int port, struct twin_stats *s);

/* One connection kept open to ask $twin/stats again and again (polling without a connect each time). */
struct rr_statq;
struct rr_statq *rr_statq_open(int port);
int rr_statq_get(struct rr_statq *q, struct twin_stats *s);
void rr_statq_close(struct rr_statq *q);

/* Connects as soon as the broker listens and GETs `id` until a 200 answer; returns the time from `since`
 * (mono_now()) to that answer in seconds, or -1 after `timeout` s. */
double rr_first_get(int port, const char *id, double since, double timeout);

#endif
