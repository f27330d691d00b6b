/* loopback.c - the broker thread's wake-up when Mosquitto runs no tick: per_listener_settings true on
 * Mosquitto 2.0.11 to 2.0.14, whose loop skips MOSQ_EVT_TICK for per-listener plugins (src/plugin.c,
 * plugin__handle_tick: "FIXME - iterate over all listeners"; fixed in 2.0.15). Every event such a broker
 * still dispatches to the plugin comes from a client's packet, and a plugin may call the broker only on
 * its thread, so answers finished by the writer thread would wait for some client to send something.
 *
 * So the plugin keeps a client of its own: a thread of this file connects to a plain MQTT listener that
 * carries the plugin, with MQTT 5 enhanced authentication (method "mosquitto-twin-wake", a random secret
 * made at init), and then sends an AUTH packet asking to re-authenticate whenever the writer has
 * something waiting (twin_wake) and every TICK_MS otherwise. Mosquitto hands each one to the listener's
 * MOSQ_EVT_EXT_AUTH_START callbacks on its own thread, where twin_on_ext_auth recognises the secret and
 * runs what a tick runs. Enhanced authentication goes round password files, dynamic-security and ACLs,
 * which keep deciding for every other client: a connection with any other method is passed on (DEFER).
 * The connection never publishes or subscribes.
 *
 * Which listener: the thread looks through the process's listening TCP sockets (0.0.0.0 and :: reached
 * through loopback) in the order the broker opened them, and keeps the first that accepts the method; a
 * TLS or websockets listener turns the plain CONNECT away, as does one whose plugin lines do not load this
 * plugin (bad authentication method). On a broker that ticks (per_listener_settings false, or 2.0.15 and
 * later) the thread sees the first tick and ends before connecting anywhere.
 *
 * Threads: the loopback thread never calls the broker (not even to log): what it has to say is logged by
 * the broker thread (twin_loopback_report). Never blocks the writer: twin_wake only writes an eventfd. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mqtt_protocol.h>

#include "plugin.h"

#define METHOD "mosquitto-twin-wake"
#define SECRET_LEN 16
#define TICK_MS 100       /* a tick without wake-ups: as often as an idle Mosquitto loop passes */
#define GRACE_MS 300      /* a broker that ticks has done so this long after init */
#define REPLY_MS 1000     /* wait for a CONNACK this long */
#define MAX_LISTENERS 32

enum state { WAITING, CONNECTED, NO_LISTENER, NOT_NEEDED };

static pthread_t thread;
static bool started;
static int event_fd = -1;
static atomic_bool stopping;
static atomic_bool ticked;
static atomic_int state;
static atomic_int port; /* the listener's, for the log */
static unsigned char secret[SECRET_LEN];
static char client_id[48];
static bool reported;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------------------------- packets */

static size_t put_varint(unsigned char *b, size_t n)
{
	size_t i = 0;
	do {
		b[i] = (unsigned char)(n % 128);
		n /= 128;
		if (n) {
			b[i] |= 128;
		}
		i++;
	} while (n);
	return i;
}

static size_t put_bytes(unsigned char *b, const void *s, size_t len)
{
	b[0] = (unsigned char)(len >> 8);
	b[1] = (unsigned char)(len & 0xff);
	memcpy(b + 2, s, len);
	return 2 + len;
}

/* The authentication method and data properties, with their length in front. */
static size_t put_auth_props(unsigned char *b)
{
	unsigned char props[64];
	size_t n = 0;
	props[n++] = MQTT_PROP_AUTHENTICATION_METHOD;
	n += put_bytes(props + n, METHOD, strlen(METHOD));
	props[n++] = MQTT_PROP_AUTHENTICATION_DATA;
	n += put_bytes(props + n, secret, SECRET_LEN);
	size_t h = put_varint(b, n);
	memcpy(b + h, props, n);
	return h + n;
}

/* A fixed header of type `type` in front of body[0..len): the packet in out, its size returned. */
static size_t frame(unsigned char *out, unsigned char type, const unsigned char *body, size_t len)
{
	out[0] = type;
	size_t h = 1 + put_varint(out + 1, len);
	memcpy(out + h, body, len);
	return h + len;
}

static bool send_all(int fd, const unsigned char *b, size_t len)
{
	while (len) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return false;
		}
		b += n;
		len -= (size_t)n;
	}
	return true;
}

static bool send_connect(int fd)
{
	static const unsigned char head[] = {0, 4, 'M', 'Q', 'T', 'T', 5, 0x02 /* clean start */, 0, 0};
	unsigned char body[192], pkt[200] = {0};
	size_t n = sizeof(head);
	memcpy(body, head, n);
	n += put_auth_props(body + n);
	n += put_bytes(body + n, client_id, strlen(client_id));
	return send_all(fd, pkt, frame(pkt, 0x10, body, n));
}

static bool send_reauth(int fd)
{
	unsigned char body[128], pkt[136] = {0};
	size_t n = 0;
	body[n++] = MQTT_RC_REAUTHENTICATE;
	n += put_auth_props(body + n);
	return send_all(fd, pkt, frame(pkt, 0xF0, body, n));
}

/* Waits for the CONNACK: true when it says success. */
static bool connack_ok(int fd)
{
	unsigned char b[8] = {0};
	size_t got = 0;
	int64_t deadline = now_ms() + REPLY_MS;
	while (got < 4 && !atomic_load(&stopping)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			return false;
		}
		ssize_t n = recv(fd, b + got, sizeof(b) - got, 0);
		if (n <= 0) {
			return false;
		}
		got += (size_t)n;
	}
	/* CONNACK, a one-byte remaining length (no properties this long), flags, reason code */
	return got >= 4 && b[0] == 0x20 && b[1] < 128 && b[3] == 0;
}

/* -------------------------------------------------------------------------------------- listeners */

/* The listening TCP sockets of this process, as addresses to connect to; returns how many. */
static int find_listeners(struct sockaddr_storage *out, int max)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	// cppcheck-suppress readdirCalled ; the stream is this thread's own (readdir_r is deprecated)
	while (d && (e = readdir(d)) != NULL && n < max) {
		int fd = atoi(e->d_name);
		int listening = 0;
		socklen_t len = sizeof(listening);
		struct sockaddr_storage a;
		socklen_t alen = sizeof(a);
		if (e->d_name[0] == '.' || fd == dirfd(d) ||
				getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening ||
				getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
			continue;
		}
		if (a.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&a;
			if (in->sin_addr.s_addr == htonl(INADDR_ANY)) {
				in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			}
		} else if (a.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a;
			if (!memcmp(&in6->sin6_addr, &in6addr_any, sizeof(in6addr_any))) {
				in6->sin6_addr = in6addr_loopback;
			}
		} else {
			continue;
		}
		out[n++] = a;
	}
	if (d) {
		closedir(d);
	}
	return n;
}

static int port_of(const struct sockaddr_storage *a)
{
	return ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port
										 : ((const struct sockaddr_in6 *)a)->sin6_port);
}

/* Connects to the first listener that takes the method; returns the socket or -1. */
static int connect_listener(void)
{
	struct sockaddr_storage addrs[MAX_LISTENERS];
	int n = find_listeners(addrs, MAX_LISTENERS);
	for (int i = 0; i < n && !atomic_load(&stopping); i++) {
		int fd = socket(addrs[i].ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		socklen_t len = addrs[i].ss_family == AF_INET ? sizeof(struct sockaddr_in)
													  : sizeof(struct sockaddr_in6);
		atomic_store(&port, port_of(&addrs[i]));
		if (fd >= 0 && connect(fd, (struct sockaddr *)&addrs[i], len) == 0 && send_connect(fd) &&
				connack_ok(fd)) {
			return fd;
		}
		if (fd >= 0) {
			close(fd);
		}
	}
	return -1;
}

/* -------------------------------------------------------------------------------------- the thread */

/* Waits up to ms for a wake-up request; true if there was one. */
static bool wait_wake(int ms)
{
	struct pollfd p = {.fd = event_fd, .events = POLLIN};
	uint64_t v;
	if (poll(&p, 1, ms) > 0 && read(event_fd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
		return true;
	}
	return false;
}

/* Connected: wakes the broker thread on request and every TICK_MS; returns when stopping or when the
 * connection is lost. */
static void serve(int fd)
{
	int64_t last = now_ms();
	while (!atomic_load(&stopping)) {
		struct pollfd p[2] = {{.fd = event_fd, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
		int64_t left = last + TICK_MS - now_ms();
		int n = poll(p, 2, left > 0 ? (int)left : 0);
		if (n < 0 && errno != EINTR) {
			return;
		}
		if (p[1].revents) { /* the broker's AUTH answers: read and forgotten */
			unsigned char sink[512];
			if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0) {
				return;
			}
		}
		uint64_t v;
		bool asked = p[0].revents && read(event_fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
		if ((asked || now_ms() - last >= TICK_MS) && !atomic_load(&stopping)) {
			if (!send_reauth(fd)) {
				return;
			}
			last = now_ms();
		}
	}
	static const unsigned char disconnect[] = {0xE0, 0};
	send_all(fd, disconnect, sizeof(disconnect));
}

static void *run(void *arg)
{
	(void)arg;
	int64_t since = now_ms();
	while (!atomic_load(&stopping)) {
		wait_wake(TICK_MS);
		if (atomic_load(&ticked)) {
			atomic_store(&state, NOT_NEEDED);
			return NULL;
		}
		if (now_ms() - since < GRACE_MS) {
			continue;
		}
		int fd = connect_listener();
		if (fd < 0) {
			if (now_ms() - since > 10 * GRACE_MS) {
				atomic_store(&state, NO_LISTENER); /* still trying, in case one opens */
			}
			wait_wake(1000);
			continue;
		}
		atomic_store(&state, CONNECTED);
		serve(fd);
		close(fd);
		atomic_store(&state, WAITING);
	}
	return NULL;
}

/* ------------------------------------------------------------------------------------- the plugin */

int twin_loopback_start(void)
{
	unsigned char id[8];
	if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret) ||
			getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
		return -1;
	}
	snprintf(client_id, sizeof(client_id), "mosquitto-twin-wake-%02x%02x%02x%02x%02x%02x%02x%02x", id[0],
			id[1], id[2], id[3], id[4], id[5], id[6], id[7]);
	event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (event_fd < 0) {
		return -1;
	}
	atomic_store(&stopping, false);
	atomic_store(&ticked, false);
	atomic_store(&state, WAITING);
	reported = false;
	if (pthread_create(&thread, NULL, run, NULL) != 0) {
		close(event_fd);
		event_fd = -1;
		return -1;
	}
	started = true;
	return 0;
}

void twin_loopback_ticked(void)
{
	if (!atomic_load_explicit(&ticked, memory_order_relaxed)) {
		atomic_store(&ticked, true);
	}
}

void twin_loopback_wake(void)
{
	if (atomic_load_explicit(&state, memory_order_relaxed) == CONNECTED) {
		uint64_t one = 1;
		ssize_t n = write(event_fd, &one, sizeof(one));
		(void)n; /* the counter is full only when a wake-up is already waiting */
	}
}

void twin_loopback_stop(void)
{
	if (!started) {
		return;
	}
	uint64_t one = 1;
	atomic_store(&stopping, true);
	ssize_t n = write(event_fd, &one, sizeof(one));
	(void)n;
	pthread_join(thread, NULL);
	close(event_fd);
	event_fd = -1;
	started = false;
}

void twin_loopback_report(void)
{
	if (!reported && atomic_load_explicit(&state, memory_order_relaxed) == NO_LISTENER) {
		reported = true;
		mosquitto_log_printf(MOSQ_LOG_ERR,
				"mosquitto_twin: this broker runs no tick for per-listener plugins "
				"(per_listener_settings true, Mosquitto before 2.0.15), so the plugin wakes itself "
				"through a loopback MQTT connection, and no plain MQTT listener (not TLS, not "
				"websockets) loads it: writes, desired pushes and events wait for the next packet of a "
				"client. Load the plugin on a plain listener too (e.g. listener 1883 127.0.0.1), or set "
				"per_listener_settings false, or use Mosquitto 2.0.15 or later");
	}
}

int twin_on_ext_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_extended_auth *ed = event_data;
	struct twin_instance *ti = userdata;
	(void)event;
	if (!ed->auth_method || strcmp(ed->auth_method, METHOD)) {
		return MOSQ_ERR_PLUGIN_DEFER; /* someone else's method: the other plugins decide */
	}
	if (ed->data_in_len != SECRET_LEN || memcmp(ed->data_in, secret, SECRET_LEN)) {
		return MOSQ_ERR_AUTH;
	}
	if (!reported) {
		reported = true;
		mosquitto_log_printf(MOSQ_LOG_INFO,
				"mosquitto_twin: this broker runs no tick for per-listener plugins "
				"(per_listener_settings true, Mosquitto before 2.0.15): the plugin wakes itself through "
				"a loopback MQTT connection to port %d (client id %s, enhanced authentication)",
				atomic_load(&port), client_id);
	}
	twin_run_pending(ti->tp);
	return MOSQ_ERR_SUCCESS;
}
