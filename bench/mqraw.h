/* mqraw.h - a minimal blocking MQTT v5 client over TCP or over WebSocket (see mqraw.c), for (l):
 * libmosquitto 2.0 has no websockets transport, and both transports must go through the same code. */
#ifndef BENCH_MQRAW_H
#define BENCH_MQRAW_H

#include <stddef.h>

struct mqraw;

/* Connects to 127.0.0.1:port (websockets: HTTP upgrade to the "mqtt" subprotocol first), sends CONNECT
 * and waits for a successful CONNACK; NULL on any failure or after timeout seconds. */
struct mqraw *mqraw_open(int port, int websockets, const char *client_id, double timeout);
void mqraw_close(struct mqraw *c);
/* QoS 0 subscription; waits for the SUBACK. */
int mqraw_subscribe(struct mqraw *c, const char *topic, double timeout);
/* QoS 0 PUBLISH, with a response topic and correlation data "1" when response_topic is not NULL. */
int mqraw_publish(struct mqraw *c, const char *topic, const void *payload, size_t len,
		const char *response_topic);
/* Reads until a whole PUBLISH has arrived: its payload length, and in *status its user property
 * "status" (0 when it has none); -1 on a lost connection or after timeout seconds. */
long mqraw_next_publish(struct mqraw *c, double timeout, int *status);

#endif
