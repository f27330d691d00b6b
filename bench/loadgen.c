/* loadgen.c - the ingest load: N raw TCP connections writing pre-encoded MQTT 3.1.1 PUBLISH packets of a
 * ~200-byte rack payload on devices/dev-NNNNNNN/telemetry, from one thread with poll(). Each packet is a
 * memcpy of a template with the device id, a sequence number, a temperature and (QoS 1) the packet id
 * patched in, so the generator costs next to nothing. Device ids follow a fixed permutation of 0..ndev-1
 * (random-looking keys). QoS 0 flow control: a PINGREQ after every PING_EVERY bytes and at most MAX_PINGS
 * unanswered, so the kernel's socket buffers never hold more than that much unprocessed data per
 * connection. At the end every connection sends PINGREQ after its last PUBLISH (and, QoS 1, after its last
 * PUBACK); the PINGRESP proves the broker processed them all. An optional subscriber on
 * devices/+/telemetry counts what it is delivered (and PUBACKs it at QoS 1). */
#include "loadgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

#define PERM_PRIME 1000003u /* coprime with every ndev used (products of 2 and 5) */
#define OUT_CAP (64 * 1024)
#define IN_CAP (256 * 1024)
#define MAX_CONNS 64
#define PING_EVERY (32 * 1024)
#define MAX_PINGS 4

static const char topic_tpl[] = "devices/dev-0000000/telemetry";
#define TOPIC_ID_OFF 12 /* the 7 digits of the id in topic_tpl */
static const char payload_tpl[] =
		"{\"tempTop\":24.10,\"tempBottom\":21.33,\"humidityTop\":41.2,\"humidityBottom\":45.8,"
		"\"inletTemp\":19.84,\"outletTemp\":31.02,\"fanSpeed\":2,\"powerW\":1234.5,"
		"\"doorOpen\":false,\"status\":\"ok\",\"airflow\":512.7,\"seq\":1000000}";

struct tpl { /* one encoded PUBLISH and where to patch it */
	uint8_t pkt[512];
	size_t len, id_off, pktid_off, seq_off, temp_off;
	uint64_t salt; /* differs per run, so no run repeats an earlier run's message for a device */
};

struct conn {
	int fd;
	uint8_t out[OUT_CAP];
	size_t out_len, out_off;
	uint8_t in[IN_CAP];
	size_t in_len;
	uint64_t k, k_end; /* next message number, end (pre-create) */
	int inflight, pings_out, last_ping, fenced;
	size_t since_ping;
	uint16_t pktid;
	uint64_t count; /* PUBLISHes queued (publisher) or received (subscriber) */
	double last_at;
};

static size_t put_str(uint8_t *p, const char *s, size_t n)
{
	p[0] = (uint8_t)(n >> 8);
	p[1] = (uint8_t)n;
	memcpy(p + 2, s, n);
	return n + 2;
}

static size_t put_varint(uint8_t *p, size_t v)
{
	size_t i = 0;
	do {
		uint8_t b = v % 128;
		v /= 128;
		p[i++] = (uint8_t)(b | (v ? 0x80 : 0));
	} while (v);
	return i;
}

/* Fixed header + variable part into p; returns total length. */
static size_t packet(uint8_t *p, uint8_t type, const uint8_t *body, size_t n)
{
	p[0] = type;
	size_t h = 1 + put_varint(p + 1, n);
	memcpy(p + h, body, n);
	return h + n;
}

static void make_tpl(struct tpl *t, int qos)
{
	uint8_t body[480];
	size_t n = put_str(body, topic_tpl, strlen(topic_tpl));
	if (qos) {
		t->pktid_off = n;
		body[n++] = 0;
		body[n++] = 1;
	}
	size_t pl = n;
	memcpy(body + n, payload_tpl, strlen(payload_tpl));
	n += strlen(payload_tpl);
	t->len = packet(t->pkt, qos ? 0x32 : 0x30, body, n);
	size_t hdr = t->len - n;
	t->id_off = hdr + 2 + TOPIC_ID_OFF;
	t->pktid_off += hdr;
	t->seq_off = hdr + pl + (size_t)(strstr(payload_tpl, "\"seq\":") - payload_tpl) + 6;
	t->temp_off = hdr + pl + (size_t)(strstr(payload_tpl, "24.10") - payload_tpl) + 3;
}

static void digits(uint8_t *p, unsigned v, int n)
{
	while (n-- > 0) {
		p[n] = (uint8_t)('0' + v % 10);
		v /= 10;
	}
}

static int connect_mqtt(int port, const char *client_id)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("twin_bench: loadgen connect");
		if (fd >= 0) {
			close(fd);
		}
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	uint8_t body[128] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0}, pkt[160], ack[4];
	size_t n = 10 + put_str(body + 10, client_id, strlen(client_id));
	size_t len = packet(pkt, 0x10, body, n);
	if (write(fd, pkt, len) != (ssize_t)len || read(fd, ack, 4) != 4 || ack[0] != 0x20 || ack[3] != 0) {
		fprintf(stderr, "twin_bench: loadgen: CONNECT refused\n");
		close(fd);
		return -1;
	}
	return fd;
}

static int subscribe(int fd, int qos)
{
	static const char filter[] = "devices/+/telemetry";
	uint8_t body[64] = {0, 1}, pkt[80], ack[5];
	size_t n = 2 + put_str(body + 2, filter, strlen(filter));
	body[n++] = (uint8_t)qos;
	size_t len = packet(pkt, 0x82, body, n);
	if (write(fd, pkt, len) != (ssize_t)len || read(fd, ack, 5) != 5 || ack[0] != 0x90 || ack[4] > 2) {
		fprintf(stderr, "twin_bench: loadgen: SUBSCRIBE refused\n");
		return -1;
	}
	return 0;
}

/* Length of the whole packet at b, 0 if incomplete; *hdr = fixed header length. */
static size_t next_packet(const uint8_t *b, size_t n, size_t *hdr)
{
	size_t rl = 0, mul = 1, i = 1;
	for (;; i++) {
		if (i >= n || i > 4) {
			return 0;
		}
		rl += (b[i] & 127u) * mul;
		mul *= 128;
		if (!(b[i] & 128)) {
			break;
		}
	}
	*hdr = i + 1;
	return *hdr + rl <= n ? *hdr + rl : 0;
}

static unsigned device_of(const struct lg_opts *o, const struct conn *c, int ci)
{
	uint64_t idx = o->seconds > 0 ? (c->k * (uint64_t)o->conns + (uint64_t)ci) % o->ndev : c->k;
	return (unsigned)(idx * PERM_PRIME % o->ndev);
}

/* Queue as many PUBLISHes as the buffer (and QoS 1 window) allows. */
static void refill(const struct lg_opts *o, const struct tpl *t, struct conn *c, int ci)
{
	c->out_len = c->out_off = 0;
	while (c->out_len + t->len + 2 <= OUT_CAP && c->k < c->k_end &&
			(o->qos ? c->inflight < o->window : c->pings_out < MAX_PINGS)) {
		uint8_t *p = c->out + c->out_len;
		memcpy(p, t->pkt, t->len);
		digits(p + t->id_off, device_of(o, c, ci), 7);
		digits(p + t->seq_off, 1000000u + (unsigned)((c->k + t->salt) % 9000000u), 7);
		digits(p + t->temp_off, (unsigned)(c->k % 90u) + 10u, 2);
		if (o->qos) {
			c->pktid = (uint16_t)(c->pktid % 65535u + 1u);
			p[t->pktid_off] = (uint8_t)(c->pktid >> 8);
			p[t->pktid_off + 1] = (uint8_t)c->pktid;
			c->inflight++;
		}
		c->out_len += t->len;
		c->k++;
		c->count++;
		if (o->qos == 0 && (c->since_ping += t->len) >= PING_EVERY) {
			c->out[c->out_len++] = 0xc0;
			c->out[c->out_len++] = 0;
			c->pings_out++;
			c->since_ping = 0;
		}
	}
}

static int flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				return 0;
			}
			perror("twin_bench: loadgen write");
			return -1;
		}
		c->out_off += (size_t)w;
	}
	c->out_len = c->out_off = 0;
	return 0;
}

/* Reads and handles what arrived: PUBACK/PINGRESP (publisher), PUBLISH (subscriber, PUBACK queued). */
static int drain_in(struct conn *c, int is_sub, double now)
{
	for (;;) {
		ssize_t r = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
		if (r == 0) {
			fprintf(stderr, "twin_bench: loadgen: broker closed the connection\n");
			return -1;
		}
		if (r < 0) {
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		}
		c->in_len += (size_t)r;
		size_t off = 0, hdr, len;
		while ((len = next_packet(c->in + off, c->in_len - off, &hdr)) > 0) {
			const uint8_t *p = c->in + off;
			uint8_t type = p[0] >> 4;
			if (type == 4) {
				c->inflight--;
			} else if (type == 13) {
				c->pings_out--;
				c->fenced = c->last_ping && c->pings_out == 0;
			} else if (type == 3 && is_sub) {
				c->count++;
				c->last_at = now;
				if ((p[0] & 6) == 2 && c->out_len + 4 <= OUT_CAP) {
					size_t tl = (size_t)p[hdr] << 8 | p[hdr + 1];
					uint8_t ack[4] = {0x40, 2, p[hdr + 2 + tl], p[hdr + 3 + tl]};
					memcpy(c->out + c->out_len, ack, 4);
					c->out_len += 4;
				}
			}
			off += len;
		}
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
		if (is_sub && flush_out(c) != 0) {
			return -1;
		}
	}
}

static void close_all(struct conn *cs, int n)
{
	static const uint8_t disconnect[2] = {0xe0, 0};
	for (int i = 0; i < n; i++) {
		if (cs[i].fd >= 0) {
			if (write(cs[i].fd, disconnect, 2) != 2) {
				/* the broker goes on without it */
			}
			close(cs[i].fd);
		}
	}
	free(cs);
}

int loadgen_run(const struct lg_opts *o, struct lg_result *r)
{
	static atomic_int run_no;
	int nc = o->conns + (o->subscriber ? 1 : 0), run = atomic_fetch_add(&run_no, 1), rc = -1;
	struct conn *cs = calloc((size_t)nc, sizeof(*cs));
	struct tpl t;
	if (!cs || o->conns > MAX_CONNS) {
		free(cs);
		return -1;
	}
	make_tpl(&t, o->qos);
	t.salt = (uint64_t)run * 104729u;
	for (int i = 0; i < nc; i++) {
		cs[i].fd = -1;
	}
	for (int i = 0; i < nc; i++) {
		char id[64];
		snprintf(id, sizeof(id), "lg-%d-%d-%d", (int)getpid(), run, i);
		if ((cs[i].fd = connect_mqtt(o->port, id)) < 0) {
			goto out;
		}
		if (i == o->conns && subscribe(cs[i].fd, o->qos) != 0) {
			goto out;
		}
		fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
		cs[i].k = o->seconds > 0 ? 0 : (uint64_t)o->ndev * (uint64_t)i / (uint64_t)o->conns;
		cs[i].k_end = o->seconds > 0 ? UINT64_MAX
				: (uint64_t)o->ndev * (uint64_t)(i + 1) / (uint64_t)o->conns;
	}
	struct conn *sub = o->subscriber ? &cs[o->conns] : NULL;
	struct pollfd pfd[MAX_CONNS + 1];
	double t0 = mono_now(), t_end = t0 + o->seconds, t_fenced = 0, now = t0;
	int stopping = 0, fenced = 0;
	while (fenced < o->conns || (sub && !sub->fenced)) {
		for (int i = 0; i < nc; i++) {
			pfd[i].fd = cs[i].fd;
			pfd[i].events = (short)(POLLIN | (cs[i].out_len > cs[i].out_off ? POLLOUT : 0));
		}
		if (poll(pfd, (nfds_t)nc, 20) < 0 && errno != EINTR) {
			goto out;
		}
		now = mono_now();
		if (!stopping && o->seconds > 0 && (now >= t_end || (o->stop && atomic_load(o->stop)))) {
			stopping = 1;
		}
		for (int i = 0; i < o->conns; i++) {
			struct conn *c = &cs[i];
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && drain_in(c, 0, now) != 0) {
				goto out;
			}
			if (c->fenced == 1) {
				c->fenced = 2;
				fenced++;
			}
			if (stopping) {
				c->k_end = c->k;
			}
			if (c->out_len == 0) {
				if (c->k < c->k_end) {
					refill(o, &t, c, i);
				} else if (!c->last_ping && c->inflight == 0) {
					c->out[0] = 0xc0;
					c->out[1] = 0;
					c->out_len = 2;
					c->last_ping = 1;
					c->pings_out++;
				}
			}
			if (flush_out(c) != 0) {
				goto out;
			}
		}
		if (fenced == o->conns && t_fenced == 0) {
			t_fenced = now;
		}
		if (sub) {
			if ((pfd[o->conns].revents & (POLLIN | POLLHUP | POLLERR)) && drain_in(sub, 1, now) != 0) {
				goto out;
			}
			if (flush_out(sub) != 0) {
				goto out;
			}
			uint64_t sent = 0;
			for (int i = 0; i < o->conns; i++) {
				sent += cs[i].count;
			}
			double idle_since = sub->last_at > t_fenced ? sub->last_at : t_fenced;
			if (t_fenced > 0 && (sub->count >= sent || now - idle_since > 1.0)) {
				sub->fenced = 1;
			}
		}
	}
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < o->conns; i++) {
		r->sent += cs[i].count;
	}
	r->t_start = t0;
	r->secs = t_fenced - t0;
	r->in_rate = (double)r->sent / r->secs;
	if (sub) {
		r->received = sub->count;
		r->out_rate = sub->last_at > t0 ? (double)sub->count / (sub->last_at - t0) : 0;
	}
	rc = 0;
out:
	close_all(cs, nc);
	return rc;
}
