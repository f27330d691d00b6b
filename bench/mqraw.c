/* mqraw.c - a minimal blocking MQTT v5 client over TCP or WebSocket: CONNECT, SUBSCRIBE and PUBLISH at
 * QoS 0, and reading whole PUBLISH packets with their "status" user property. Over websockets it sends
 * each packet as one binary frame masked with a zero key (which leaves the bytes as they are; RFC 6455
 * asks for an unpredictable key against proxies, which loopback has none of), and it reads the server's
 * frames into one stream of MQTT bytes, whatever their split. */
#include "mqraw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

#define WS_HEAD 14 /* the longest client frame header: 2 + 8 length bytes + 4 mask bytes */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

struct mqraw {
	int fd;
	int websockets;
	struct buf raw; /* bytes read from the socket, not yet taken out of their frames (websockets only) */
	struct buf in;  /* MQTT bytes not yet parsed */
	size_t done;    /* the packet next_packet returned last, taken out of in at its next call */
};

static int buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap) {
		return 0;
	}
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < b->len + more) {
		cap *= 2;
	}
	unsigned char *p = realloc(b->p, cap);
	if (!p) {
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static void buf_consume(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

static int send_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads what the socket has (waiting until deadline for something) into raw (websockets) or in. */
static int read_some(struct mqraw *c, double deadline)
{
	struct buf *b = c->websockets ? &c->raw : &c->in;
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	double left = deadline - mono_now();
	if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) <= 0 || buf_reserve(b, 65536) != 0) {
		return -1;
	}
	ssize_t n = recv(c->fd, b->p + b->len, 65536, 0);
	if (n <= 0) {
		return -1;
	}
	b->len += (size_t)n;
	return 0;
}

/* Moves the payload of every whole frame in raw to in; -1 on a close frame or a masked one. */
static int unframe(struct mqraw *c)
{
	for (;;) {
		unsigned char *p = c->raw.p;
		size_t have = c->raw.len, head = 2;
		if (have < 2) {
			return 0;
		}
		uint64_t len = p[1] & 0x7f;
		if (p[1] & 0x80 || (p[0] & 0x0f) == 0x8) {
			return -1;
		}
		if (len == 126) {
			head = 4;
			len = have >= 4 ? (uint64_t)p[2] << 8 | p[3] : 0;
		} else if (len == 127) {
			head = 10;
			len = 0;
			for (size_t i = 2; i < 10 && have >= 10; i++) {
				len = len << 8 | p[i];
			}
		}
		if (have < head || have - head < len) {
			return 0;
		}
		int opcode = p[0] & 0x0f;
		if (opcode == 0x0 || opcode == 0x2) { /* continuation or binary: MQTT bytes; pings are ignored */
			if (buf_reserve(&c->in, (size_t)len) != 0) {
				return -1;
			}
			memcpy(c->in.p + c->in.len, p + head, (size_t)len);
			c->in.len += (size_t)len;
		}
		buf_consume(&c->raw, head + (size_t)len);
	}
}

/* When in holds a whole MQTT packet: 1, its first byte, and where its body starts and ends. */
static int packet_ready(const struct mqraw *c, unsigned *type, size_t *body, size_t *end)
{
	size_t len = 0, i = 1;
	for (unsigned shift = 0; i < c->in.len && i < 5; i++, shift += 7) {
		len |= (size_t)(c->in.p[i] & 0x7f) << shift;
		if (!(c->in.p[i] & 0x80)) {
			*type = c->in.p[0];
			*body = i + 1;
			*end = i + 1 + len;
			return c->in.len >= *end;
		}
	}
	return 0;
}

/* Waits for the next packet of the given type (high nibble), dropping any other; its body in [*body,
 * *end) of c->in until the next call. */
static int next_packet(struct mqraw *c, unsigned want, double deadline, size_t *body, size_t *end)
{
	buf_consume(&c->in, c->done);
	c->done = 0;
	for (;;) {
		unsigned type;
		while (packet_ready(c, &type, body, end)) {
			if ((type & 0xf0) == want) {
				c->done = *end;
				return 0;
			}
			buf_consume(&c->in, *end);
		}
		if (read_some(c, deadline) != 0 || (c->websockets && unframe(c) != 0)) {
			return -1;
		}
	}
}

static unsigned char *put_varint(unsigned char *q, size_t v)
{
	do {
		*q = (unsigned char)(v & 0x7f);
		v >>= 7;
		*q++ |= v ? 0x80 : 0;
	} while (v);
	return q;
}

static unsigned char *put_str(unsigned char *q, const void *s, size_t len)
{
	*q++ = (unsigned char)(len >> 8);
	*q++ = (unsigned char)len;
	memcpy(q, s, len);
	return q + len;
}

/* Sends the MQTT packet of first byte `type` whose body is in pkt[WS_HEAD + 5 ..][0 .. body_len): the
 * fixed header (and over websockets the frame header) goes right before it. */
static int send_packet(struct mqraw *c, unsigned char *pkt, unsigned type, size_t body_len)
{
	unsigned char fixed[5], *f = fixed;
	*f++ = (unsigned char)type;
	f = put_varint(f, body_len);
	size_t flen = (size_t)(f - fixed), mlen = flen + body_len;
	unsigned char *start = pkt + WS_HEAD + 5 - flen;
	memcpy(start, fixed, flen);
	if (c->websockets) {
		unsigned char head[WS_HEAD], *h = head;
		*h++ = 0x82; /* FIN, binary */
		if (mlen < 126) {
			*h++ = (unsigned char)(0x80 | mlen);
		} else if (mlen < 65536) {
			*h++ = 0x80 | 126;
			*h++ = (unsigned char)(mlen >> 8);
			*h++ = (unsigned char)mlen;
		} else {
			*h++ = 0x80 | 127;
			for (int i = 7; i >= 0; i--) {
				*h++ = (unsigned char)((uint64_t)mlen >> (8 * i));
			}
		}
		memset(h, 0, 4); /* the mask key */
		h += 4;
		start -= h - head;
		memcpy(start, head, (size_t)(h - head));
		mlen += (size_t)(h - head);
	}
	return send_all(c->fd, start, mlen);
}

static int handshake(struct mqraw *c, int port, double deadline)
{
	char req[256];
	int n = snprintf(req, sizeof(req), "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
			"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n", port);
	if (send_all(c->fd, (const unsigned char *)req, (size_t)n) != 0) {
		return -1;
	}
	for (;;) {
		unsigned char *end = c->raw.len ? memmem(c->raw.p, c->raw.len, "\r\n\r\n", 4) : NULL;
		if (end) {
			int ok = c->raw.len > 12 && memcmp(c->raw.p, "HTTP/1.1 101", 12) == 0;
			buf_consume(&c->raw, (size_t)(end + 4 - c->raw.p));
			return ok ? 0 : -1;
		}
		if (read_some(c, deadline) != 0) {
			return -1;
		}
	}
}

struct mqraw *mqraw_open(int port, int websockets, const char *client_id, double timeout)
{
	double deadline = mono_now() + timeout;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct mqraw *c = calloc(1, sizeof(*c));
	int one = 1;
	if (!c) {
		return NULL;
	}
	c->websockets = websockets;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
			setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
			(websockets && handshake(c, port, deadline) != 0)) {
		mqraw_close(c);
		return NULL;
	}
	unsigned char pkt[WS_HEAD + 5 + 300], *q = pkt + WS_HEAD + 5, *b = q;
	size_t id_len = strlen(client_id) < 200 ? strlen(client_id) : 200, body, end;
	q = put_str(q, "MQTT", 4);
	*q++ = 5;    /* protocol version */
	*q++ = 0x02; /* clean start */
	*q++ = 0;
	*q++ = 60; /* keep alive */
	*q++ = 0;  /* no properties */
	q = put_str(q, client_id, id_len);
	if (send_packet(c, pkt, 0x10, (size_t)(q - b)) != 0 || next_packet(c, 0x20, deadline, &body, &end) != 0 ||
			end - body < 2 || c->in.p[body + 1] != 0) {
		mqraw_close(c);
		return NULL;
	}
	return c;
}

void mqraw_close(struct mqraw *c)
{
	if (c) {
		if (c->fd >= 0) {
			close(c->fd);
		}
		free(c->raw.p);
		free(c->in.p);
		free(c);
	}
}

int mqraw_subscribe(struct mqraw *c, const char *topic, double timeout)
{
	size_t len = strlen(topic) < 200 ? strlen(topic) : 200, body, end;
	unsigned char pkt[WS_HEAD + 5 + 300], *q = pkt + WS_HEAD + 5, *b = q;
	*q++ = 0;
	*q++ = 1; /* packet id */
	*q++ = 0; /* no properties */
	q = put_str(q, topic, len);
	*q++ = 0; /* QoS 0 */
	if (send_packet(c, pkt, 0x82, (size_t)(q - b)) != 0 ||
			next_packet(c, 0x90, mono_now() + timeout, &body, &end) != 0) {
		return -1;
	}
	return end > body && c->in.p[end - 1] == 0 ? 0 : -1; /* reason code: granted QoS 0 */
}

int mqraw_publish(struct mqraw *c, const char *topic, const void *payload, size_t len,
		const char *response_topic)
{
	size_t tlen = strlen(topic), rlen = response_topic ? strlen(response_topic) : 0;
	unsigned char props[300], *p = props;
	if (tlen > 200 || rlen > 200) {
		return -1;
	}
	if (response_topic) {
		*p++ = 0x08; /* response topic */
		p = put_str(p, response_topic, rlen);
		*p++ = 0x09; /* correlation data */
		p = put_str(p, "1", 1);
	}
	size_t plen = (size_t)(p - props), body = 2 + tlen + 1 + plen + len;
	unsigned char *pkt = malloc(WS_HEAD + 5 + body);
	if (!pkt) {
		return -1;
	}
	unsigned char *q = put_str(pkt + WS_HEAD + 5, topic, tlen);
	*q++ = (unsigned char)plen; /* < 128: one varint byte */
	memcpy(q, props, plen);
	memcpy(q + plen, payload, len);
	int rc = send_packet(c, pkt, 0x30, body);
	free(pkt);
	return rc;
}

/* The "status" user property among a PUBLISH's properties in [p, end); 0 when absent. */
static int status_of(const unsigned char *p, const unsigned char *end)
{
	while (p < end) {
		unsigned id = *p++;
		size_t skip;
		switch (id) {
			case 0x01: /* payload format */
				skip = 1;
				break;
			case 0x02: /* message expiry */
				skip = 4;
				break;
			case 0x23: /* topic alias */
				skip = 2;
				break;
			case 0x03: /* content type */
			case 0x08: /* response topic */
			case 0x09: /* correlation data */
				skip = 2 + ((size_t)p[0] << 8 | p[1]);
				break;
			case 0x26: { /* user property: name, value */
				size_t nlen = (size_t)p[0] << 8 | p[1], vlen = (size_t)p[2 + nlen] << 8 | p[3 + nlen];
				if (nlen == 6 && memcmp(p + 2, "status", 6) == 0) {
					char v[8] = "";
					memcpy(v, p + 4 + nlen, vlen < sizeof(v) - 1 ? vlen : sizeof(v) - 1);
					return atoi(v);
				}
				skip = 4 + nlen + vlen;
				break;
			}
			default:
				return 0;
		}
		p += skip;
	}
	return 0;
}

long mqraw_next_publish(struct mqraw *c, double timeout, int *status)
{
	size_t body, end;
	if (next_packet(c, 0x30, mono_now() + timeout, &body, &end) != 0) {
		return -1;
	}
	const unsigned char *p = c->in.p + body, *e = c->in.p + end;
	unsigned qos = (c->in.p[0] >> 1) & 3;
	p += 2 + ((size_t)p[0] << 8 | p[1]) + (qos ? 2 : 0); /* topic, packet id */
	size_t plen = 0;
	for (unsigned shift = 0; p < e; shift += 7) {
		unsigned char byte = *p++;
		plen |= (size_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80)) {
			break;
		}
	}
	*status = status_of(p, p + plen);
	return (long)(e - (p + plen));
}
