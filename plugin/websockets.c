/* websockets.c - answers to websockets clients at the speed of TCP ones (broker thread only).
 *
 * Why they were slow: Debian 12's Mosquitto 2.0.11 has libwebsockets 4.1 linked in, built without its
 * external poll support, so the broker never learns that a websockets socket has something to write and
 * never asks epoll about it. libwebsockets writes from lws_service(), which the broker calls once at the
 * end of every loop pass, and sends at most 4116 bytes per connection per call: the broker registers its
 * protocols without a tx_packet_size, so each send is capped at the 4096-byte service buffer (+ 20) and the
 * rest of the frame waits for the next pass. An answer the plugin publishes is queued for the client only
 * at the start of the next pass, after which the pass sleeps in epoll_wait before lws_service runs. With
 * nothing else happening that sleep is 100 ms: a 10 KB answer took 0.3 s, a 100 KB one 2.4 s.
 *
 * What this does: a targeted answer to a client known to use websockets (one that sent a request over a
 * websockets listener and has not disconnected) adds the loop passes it needs to wake.c's budget, and
 * every tick spends one. While any is left, wake.c's pacer interrupts epoll_wait every few tens of
 * microseconds, so the next pass, and its chunk, follows at once. The budget is bounded by the bytes
 * sent; once it is spent the pacer stops and an idle broker sleeps as before. Answers to TCP clients,
 * written whole when they are queued, never touch it; nor do broadcasts (events), whose subscribers the
 * plugin does not know. */
#include <string.h>

#include "plugin.h"

/* Loop passes an answer of n payload bytes needs: one per 4096-byte chunk, one for the topic, properties
 * and frame header, and the pass that takes it off the broker's queue (whose epoll_wait comes first). */
#define PASSES(n) ((n) / 4096 + 2)

void twin_ws_requester(struct twin_plugin *tp, const struct mosquitto *client)
{
	const char *id = mosquitto_client_id(client);
	if (id && mosquitto_client_protocol(client) == mp_websockets) {
		twin_presence_set(&tp->ws_clients, id, strlen(id));
	}
}

void twin_ws_gone(struct twin_plugin *tp, const struct mosquitto *client)
{
	const char *id = mosquitto_client_id(client);
	if (tp->ws_clients && id) {
		twin_presence_clear(&tp->ws_clients, id, strlen(id));
	}
}

void twin_ws_sent(struct twin_plugin *tp, const struct twin_out *o)
{
	if (tp->ws_clients && o->target && twin_presence_has(tp->ws_clients, o->target, strlen(o->target))) {
		twin_wake_pace_add(PASSES(o->payload_len));
	}
}
