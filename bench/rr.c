/* rr.c - request/response measurements with libmosquitto (MQTT v5, QoS 0, response topic + correlation
 * data): C connections with W requests in flight each, served from one poll() loop, recording each round
 * trip; plus $twin/stats (once, or polled over one kept connection) and the first GET after a restart. */
#include "rr.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "common.h"

#define MAX_CLIENTS 256
#define MAX_INFLIGHT 64

struct client {
	struct mosquitto *m;
	int connected, subscribed;
	char reply[64];
	mosquitto_property *props[MAX_INFLIGHT]; /* per slot: response topic + correlation data = slot */
	double sent_at[MAX_INFLIGHT];
	int busy[MAX_INFLIGHT];
	/* answers, filled by the callbacks */
	struct samples *lat;
	uint64_t answered, failed;
	double last_answer;
	char body[4096];
};

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *p)
{
	struct client *c = obj;
	(void)m, (void)flags, (void)p;
	c->connected = rc == 0 ? 1 : -1;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *qos,
		const mosquitto_property *p)
{
	(void)m, (void)mid, (void)n, (void)qos, (void)p;
	((struct client *)obj)->subscribed = 1;
}

static int status_ok(const mosquitto_property *p)
{
	char *name = NULL, *value = NULL;
	int ok = 1; /* an echo has no status */
	for (const mosquitto_property *q = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY,
				&name, &value, false);
			q; q = mosquitto_property_read_string_pair(q, MQTT_PROP_USER_PROPERTY, &name, &value, true)) {
		if (strcmp(name, "status") == 0) {
			ok = strcmp(value, "200") == 0;
		}
		free(name);
		free(value);
		name = value = NULL;
	}
	return ok;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
		const mosquitto_property *p)
{
	struct client *c = obj;
	double now = mono_now();
	void *corr = NULL;
	uint16_t corr_len = 0;
	(void)m;
	mosquitto_property_read_binary(p, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false);
	uint32_t slot = 0;
	if (corr && corr_len == sizeof(slot)) {
		memcpy(&slot, corr, sizeof(slot));
	}
	free(corr);
	if (slot >= MAX_INFLIGHT || !c->busy[slot]) {
		return;
	}
	c->busy[slot] = 0;
	c->answered++;
	c->failed += !status_ok(p);
	c->last_answer = now;
	size_t n = (size_t)msg->payloadlen < sizeof(c->body) - 1 ? (size_t)msg->payloadlen : sizeof(c->body) - 1;
	memcpy(c->body, msg->payload, n);
	c->body[n] = '\0';
	if (c->lat) {
		samples_add(c->lat, (now - c->sent_at[slot]) * 1e6);
	}
}

/* Runs the client's network loop until *flag is non-zero or the timeout; 0 when set and positive. */
static int wait_for(struct client *c, const int *flag, double timeout)
{
	double end = mono_now() + timeout;
	while (*flag == 0 && mono_now() < end) {
		if (mosquitto_loop(c->m, 10, 1) != MOSQ_ERR_SUCCESS) {
			return -1;
		}
	}
	return *flag > 0 ? 0 : -1;
}

static void client_free(struct client *c)
{
	if (c->m) {
		mosquitto_disconnect(c->m);
		mosquitto_destroy(c->m);
	}
	for (int i = 0; i < MAX_INFLIGHT; i++) {
		mosquitto_property_free_all(&c->props[i]);
	}
	memset(c, 0, sizeof(*c));
}

/* Creates the client and starts connecting; 0 when the CONNECT went out. */
static int client_new(struct client *c, int port, int index)
{
	static int seq;
	memset(c, 0, sizeof(*c));
	char id[40];
	snprintf(id, sizeof(id), "rr-%d-%d-%d", (int)getpid(), seq++, index);
	snprintf(c->reply, sizeof(c->reply), "bench/reply/%s", id);
	if (!(c->m = mosquitto_new(id, true, c))) {
		return -1;
	}
	mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_v5_callback_set(c->m, on_connect);
	mosquitto_subscribe_v5_callback_set(c->m, on_subscribe);
	mosquitto_message_v5_callback_set(c->m, on_message);
	for (uint32_t i = 0; i < MAX_INFLIGHT; i++) {
		if (mosquitto_property_add_string(&c->props[i], MQTT_PROP_RESPONSE_TOPIC, c->reply) ||
				mosquitto_property_add_binary(&c->props[i], MQTT_PROP_CORRELATION_DATA, &i, sizeof(i))) {
			return -1;
		}
	}
	return mosquitto_connect_bind_v5(c->m, "127.0.0.1", port, 60, NULL, NULL) == MOSQ_ERR_SUCCESS ? 0 : -1;
}

static int client_open(struct client *c, int port, int index, int subscribe)
{
	if (client_new(c, port, index) != 0 || wait_for(c, &c->connected, 5) != 0) {
		fprintf(stderr, "twin_bench: request client cannot connect to port %d\n", port);
		return -1;
	}
	if (subscribe && (mosquitto_subscribe_v5(c->m, NULL, c->reply, 0, 0, NULL) != MOSQ_ERR_SUCCESS ||
					wait_for(c, &c->subscribed, 5) != 0)) {
		fprintf(stderr, "twin_bench: request client cannot subscribe\n");
		return -1;
	}
	return 0;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int send_request(struct client *c, int slot, const char *topic, const char *payload)
{
	c->busy[slot] = 1;
	c->sent_at[slot] = mono_now();
	int rc = mosquitto_publish_v5(c->m, NULL, topic, (int)strlen(payload), payload, 0, false,
			c->props[slot]);
	return rc == MOSQ_ERR_SUCCESS ? 0 : -1;
}

static int issue(const struct rr_opts *o, struct client *c, int slot, uint64_t *rng)
{
	static unsigned fan;
	char topic[96], payload[256];
	unsigned dev = o->first + (unsigned)(xorshift(rng) % o->ndev);
	switch (o->op) {
		case RR_ECHO:
			memset(payload, 'x', 200);
			payload[200] = '\0';
			return send_request(c, slot, c->reply, payload);
		case RR_GET:
			snprintf(topic, sizeof(topic), "$twin/dev-%07u/get", dev);
			return send_request(c, slot, topic, "");
		case RR_UPDATE:
			snprintf(topic, sizeof(topic), "$twin/dev-%07u/update", dev);
			snprintf(payload, sizeof(payload), "{\"desired\":{\"fanSpeed\":%u}}", ++fan);
			return send_request(c, slot, topic, payload);
		case RR_SEARCH:
			return send_request(c, slot, "$twin/search",
					"{\"filter\":\"gt(reported/tempTop,20)\",\"sort\":[\"-reported/tempTop\"],"
					"\"count\":true,\"limit\":10}");
	}
	return -1;
}

int rr_run(const struct rr_opts *o, struct samples *lat, struct rr_result *r)
{
	int nc = o->clients, w = o->inflight, rc = -1;
	struct client *cs = calloc((size_t)nc, sizeof(*cs));
	struct pollfd pfd[MAX_CLIENTS];
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	if (!cs || nc > MAX_CLIENTS || w > MAX_INFLIGHT) {
		free(cs);
		return -1;
	}
	for (int i = 0; i < nc; i++) {
		if (client_open(&cs[i], o->port, i, o->op == RR_ECHO) != 0) {
			goto out;
		}
		cs[i].lat = lat;
	}
	double t0 = mono_now(), progress = t0, misc = t0, stall = o->stall > 0 ? o->stall : 5;
	int issuing = 1;
	uint64_t answered = 0;
	for (;;) {
		double now = mono_now();
		if (issuing && ((o->seconds > 0 && now - t0 >= o->seconds) ||
				(o->max_samples > 0 && answered >= o->max_samples))) {
			issuing = 0;
		}
		int outstanding = 0;
		for (int i = 0; i < nc; i++) {
			for (int s = 0; s < w; s++) {
				if (!cs[i].busy[s] && issuing && issue(o, &cs[i], s, &rng) != 0) {
					goto out;
				}
				outstanding += cs[i].busy[s];
			}
			pfd[i].fd = mosquitto_socket(cs[i].m);
			pfd[i].events = (short)(POLLIN | (mosquitto_want_write(cs[i].m) ? POLLOUT : 0));
		}
		if (!outstanding) {
			break;
		}
		if (now - progress > stall) {
			fprintf(stderr, "twin_bench: %d requests unanswered for %.0f s\n", outstanding, stall);
			goto out;
		}
		if (poll(pfd, (nfds_t)nc, 10) < 0 && errno != EINTR) {
			goto out;
		}
		for (int i = 0; i < nc; i++) {
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
					mosquitto_loop_read(cs[i].m, 1) != MOSQ_ERR_SUCCESS) {
				fprintf(stderr, "twin_bench: request client lost its connection\n");
				goto out;
			}
			if ((pfd[i].revents & POLLOUT) && mosquitto_loop_write(cs[i].m, 1) != MOSQ_ERR_SUCCESS) {
				goto out;
			}
		}
		uint64_t a = 0;
		for (int i = 0; i < nc; i++) {
			a += cs[i].answered;
		}
		if (a != answered) {
			answered = a;
			progress = mono_now();
		}
		if (now - misc > 1) {
			for (int i = 0; i < nc; i++) {
				mosquitto_loop_misc(cs[i].m);
			}
			misc = now;
		}
	}
	memset(r, 0, sizeof(*r));
	double last = t0;
	for (int i = 0; i < nc; i++) {
		r->answered += cs[i].answered;
		r->failed += cs[i].failed;
		last = cs[i].last_answer > last ? cs[i].last_answer : last;
	}
	r->secs = last - t0;
	r->rate = r->secs > 0 ? (double)r->answered / r->secs : 0;
	rc = 0;
out:
	for (int i = 0; i < nc; i++) {
		client_free(&cs[i]);
	}
	free(cs);
	return rc;
}

static long long field(const char *json, const char *name)
{
	char key[64];
	snprintf(key, sizeof(key), "\"%s\":", name);
	const char *p = strstr(json, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* Fills *s from a $twin/stats answer. */
static int parse_stats(const char *body, struct twin_stats *s)
{
	s->twins = field(body, "twins");
	s->queue_depth = field(body, "queue_depth");
	s->received = field(body, "telemetry_received");
	s->applied = field(body, "telemetry_applied");
	s->unchanged = field(body, "telemetry_unchanged");
	s->invalid = field(body, "telemetry_invalid");
	s->dropped = field(body, "telemetry_dropped");
	s->limited = field(body, "telemetry_rate_limited");
	s->limited = s->limited < 0 ? 0 : s->limited;
	s->commits = field(body, "commits");
	/* Messages consumed. Today every telemetry message ends in exactly one of these counters; once the
	 * writer coalesces a twin's messages into one version, telemetry_applied counts versions, and this
	 * must read a counter of messages the writer consumed (e.g. "telemetry_messages") instead. */
	s->consumed = s->applied + s->unchanged + s->invalid + s->dropped + s->limited;
	return s->twins >= 0 && s->received >= 0 && s->applied >= 0 && s->queue_depth >= 0 ? 0 : -1;
}

struct rr_statq {
	struct client c;
};

struct rr_statq *rr_statq_open(int port)
{
	struct rr_statq *q = calloc(1, sizeof(*q));
	if (q && client_open(&q->c, port, 0, 0) != 0) {
		client_free(&q->c);
		free(q);
		q = NULL;
	}
	return q;
}

int rr_statq_get(struct rr_statq *q, struct twin_stats *s)
{
	uint64_t before = q->c.answered;
	if (send_request(&q->c, 0, "$twin/stats", "") != 0) {
		return -1;
	}
	double end = mono_now() + 5;
	while (q->c.answered == before && mono_now() < end &&
			mosquitto_loop(q->c.m, 10, 1) == MOSQ_ERR_SUCCESS) {
	}
	if (q->c.answered == before || parse_stats(q->c.body, s) != 0) {
		fprintf(stderr, "twin_bench: $twin/stats not answered\n");
		return -1;
	}
	return 0;
}

void rr_statq_close(struct rr_statq *q)
{
	if (q) {
		client_free(&q->c);
		free(q);
	}
}

int rr_stats(int port, struct twin_stats *s)
{
	struct rr_statq *q = rr_statq_open(port);
	int rc = q ? rr_statq_get(q, s) : -1;
	if (rc != 0) {
		fprintf(stderr, "twin_bench: $twin/stats not answered on port %d\n", port);
	}
	rr_statq_close(q);
	return rc;
}

double rr_first_get(int port, const char *id, double since, double timeout)
{
	char topic[300];
	struct client c;
	double end = since + timeout;
	snprintf(topic, sizeof(topic), "$twin/%s/get", id);
	memset(&c, 0, sizeof(c));
	while (mono_now() < end) {
		if (client_new(&c, port, 0) != 0 || wait_for(&c, &c.connected, end - mono_now()) != 0) {
			client_free(&c);
			usleep(200);
			continue;
		}
		while (mono_now() < end) {
			uint64_t failed = c.failed;
			if (send_request(&c, 0, topic, "") != 0) {
				break;
			}
			while (c.busy[0] && mono_now() < end && mosquitto_loop(c.m, 10, 1) == MOSQ_ERR_SUCCESS) {
			}
			if (c.busy[0]) {
				break; /* connection lost or timeout */
			}
			if (c.failed == failed) {
				double t = c.last_answer - since;
				client_free(&c);
				return t;
			}
			usleep(1000);
		}
		client_free(&c);
	}
	return -1;
}
