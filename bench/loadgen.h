/* loadgen.h - raw MQTT 3.1.1 telemetry publishers and an optional subscriber (see loadgen.c). */
#ifndef BENCH_LOADGEN_H
#define BENCH_LOADGEN_H

#include <stdatomic.h>
#include <stdint.h>

struct lg_opts {
	int port;
	int conns;          /* publisher connections */
	int qos;            /* 0 or 1 */
	int window;         /* QoS 1: PUBLISHes in flight per connection */
	unsigned ndev;      /* distinct device ids, dev-0000000 .. */
	double seconds;     /* timed run; 0 = send every id exactly once (pre-create) */
	int subscriber;     /* 1 = one subscriber on devices/+/telemetry, same QoS */
	atomic_int *stop;   /* optional: end the run early when it becomes non-zero */
};

struct lg_result {
	uint64_t sent;      /* PUBLISHes the broker processed (PINGREQ fence) */
	double t_start;     /* mono_now() when the connections were up and the first PUBLISH could go */
	double secs;        /* start to last PINGRESP */
	double in_rate;     /* sent / secs */
	uint64_t received;  /* PUBLISHes the subscriber got */
	double out_rate;    /* received / (start to last one received) */
};

int loadgen_run(const struct lg_opts *o, struct lg_result *r);

#endif
