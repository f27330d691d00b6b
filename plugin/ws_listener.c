/* ws_listener.c - keeps the broker loop turning while libwebsockets has work on a websockets listener:
 * its `http_dir` files and websockets handshakes (a thread of its own; the broker thread only hands over).
 *
 * Why they were slow: Mosquitto 2.0 (2.0.11 to 2.0.21 with libwebsockets) leaves a websockets listener's
 * socket, and every connection it accepts until the websockets handshake is done, to libwebsockets (lws),
 * which would ask the broker to watch them through its external poll callbacks; the lws that Debian links
 * in sends none, so none of them is in the broker's epoll set (/proc/PID/fdinfo of that set lists only
 * the plain listeners and the MQTT connections). lws services them from lws_service(), which the broker
 * calls once at the end of every loop pass, and a pass with nothing else to do sleeps 100 ms in
 * epoll_wait first. A connection is accepted at the end of one pass, its request read at the end of the
 * next, the file's body written at the end of the one after: about 0.2 s a file on an idle broker, and
 * 0.1 s more for a websockets handshake.
 *
 * What this does: after the broker's first tick (its listeners are open by then), the thread finds the
 * listening TCP sockets of the process that no epoll set but its own watches (libwebsockets' listeners),
 * and watches them, edge-triggered, in its own epoll set; and with them, the connections they accept,
 * found by their local port at the tick after a new connection (lws accepts at the end of a pass, and
 * the tick follows; while the listener's accept queue is not empty, at the next tick too). An event on
 * any of them (a connection, a request, room to write the rest of a file) adds PASSES_PER_EVENT loop
 * passes to the pacer's budget (wake.c), which turns them one after another. A connection the broker's
 * own epoll set has taken over (a websockets client past its handshake, whose packets wake the broker
 * themselves) is dropped at its next event. An idle broker costs nothing: the thread sleeps in
 * epoll_wait and the tick reads one flag. TCP listeners and their clients are in the broker's set and
 * never watched. A broker with no such listener (none configured, or a Mosquitto whose own code serves
 * websockets, as 2.1 does) ends the thread after the first tick. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "plugin.h"

/* Loop passes an event asks for: an HTTP request is read and answered with its header in one pass, the
 * file's body written in the next (as much as the socket takes; the rest after its next event), the
 * connection closed in the third. Doubled: the pacer's signal also interrupts lws's own poll (without
 * waiting) in about every other pass, which then services nothing (strace: poll ... EINTR). */
#define PASSES_PER_EVENT 8
#define MAX_PORTS 16      /* websockets listeners' ports */
#define MAX_EPOLLS 8      /* other epoll sets of the process (the broker's) */
#define SCAN_TRIES 8      /* hand-overs that wait for a new connection to be accepted: paced, then not */
#define LISTENER (UINT64_C(1) << 32) /* in an event's data: the fd is a listener */

static pthread_t thread;
static bool started;
static int ep = -1;
static int event_fd = -1;
static atomic_bool stopping;
static atomic_bool asked; /* the thread waits for the next tick's hand-over */

/* the thread's own */
static int ports[MAX_PORTS];
static int listeners[MAX_PORTS];
static int port_count;
static int epolls[MAX_EPOLLS];
static int epoll_count;

static int port_of(int fd)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	if (getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		return -1;
	}
	if (a.ss_family == AF_INET) {
		return ntohs(((const struct sockaddr_in *)&a)->sin_port);
	}
	return a.ss_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)&a)->sin6_port) : -1;
}

static bool listening(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

/* Whether one of the other epoll sets of the process (the broker's) watches fd. */
static bool broker_watches(int fd)
{
	for (int i = 0; i < epoll_count; i++) {
		char path[64], line[256];
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epolls[i]);
		FILE *f = fopen(path, "re");
		bool found = false;
		while (f && !found && fgets(line, sizeof(line), f)) {
			int tfd;
			found = sscanf(line, "tfd: %d", &tfd) == 1 && tfd == fd;
		}
		if (f) {
			fclose(f);
		}
		if (found) {
			return true;
		}
	}
	return false;
}

static bool is_ws_port(int port)
{
	for (int i = 0; i < port_count; i++) {
		if (ports[i] == port) {
			return true;
		}
	}
	return false;
}

static bool watch(int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = {.events = events | EPOLLET, .data.u64 = (uint64_t)fd | tag};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
}

/* Calls fn for every descriptor of the process but the thread's own; stops when it returns false. */
static void each_fd(bool (*fn)(int fd))
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	// cppcheck-suppress readdirCalled ; the stream is this thread's own (readdir_r is deprecated)
	while (d && (e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd != dirfd(d) && fd != ep && fd != event_fd && !fn(fd)) {
			break;
		}
	}
	if (d) {
		closedir(d);
	}
}

static bool note_epoll(int fd)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = '\0';
		if (!strcmp(link, "anon_inode:[eventpoll]")) {
			epolls[epoll_count++] = fd;
		}
	}
	return epoll_count < MAX_EPOLLS;
}

static bool note_listener(int fd)
{
	int port = port_of(fd);
	if (port > 0 && listening(fd) && !broker_watches(fd) && watch(fd, EPOLLIN, LISTENER)) {
		listeners[port_count] = fd;
		ports[port_count++] = port;
	}
	return port_count < MAX_PORTS;
}

/* Whether a listener has connections lws has not accepted yet (for a listening socket, TCP_INFO's
 * tcpi_unacked is its accept queue, as `ss` shows it). */
static bool unaccepted(void)
{
	for (int i = 0; i < port_count; i++) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);
		if (getsockopt(listeners[i], IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_unacked > 0) {
			return true;
		}
	}
	return false;
}

static bool note_connection(int fd)
{
	if (is_ws_port(port_of(fd)) && !listening(fd) && !broker_watches(fd)) {
		watch(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, 0); /* EEXIST: watched already */
	}
	return true;
}

/* After the first tick: the listeners to watch; false if there are none. */
static bool find_listeners(void)
{
	each_fd(note_epoll);
	if (epoll_count == 0) {
		return false; /* not Mosquitto's epoll loop: nothing known about who watches what */
	}
	each_fd(note_listener);
	return port_count > 0;
}

/* An event on a connection: passes for lws, unless the broker watches it now (an MQTT client). */
static void on_connection(int fd, uint32_t events)
{
	if ((events & EPOLLIN) && broker_watches(fd)) {
		epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
		return;
	}
	twin_wake_pace_add(PASSES_PER_EVENT);
}

static void *run(void *arg)
{
	(void)arg;
	bool ready = false;
	int tries = 0; /* hand-overs left to wait for a connection to be accepted */
	while (!atomic_load(&stopping)) {
		struct epoll_event evs[32];
		int n = epoll_wait(ep, evs, 32, -1);
		if (n < 0 && errno != EINTR) {
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint64_t v = evs[i].data.u64;
			if (v == (uint64_t)event_fd) {
				ssize_t r = read(event_fd, &v, sizeof(v));
				(void)r;
				if (atomic_load(&stopping)) {
					return NULL;
				}
				if (!ready && !(ready = find_listeners())) {
					return NULL; /* nothing of the kind to watch on this broker */
				}
				each_fd(note_connection);
				if (tries > 0 && unaccepted()) { /* lws's poll missed it (the pacer's signal) */
					atomic_store(&asked, true);
					if (--tries >= SCAN_TRIES) {
						twin_wake_pace_add(2);
					}
				}
			} else if (v & LISTENER) {
				tries = 2 * SCAN_TRIES;
				atomic_store(&asked, true);
				twin_wake_pace_add(PASSES_PER_EVENT);
			} else {
				on_connection((int)v, evs[i].events);
			}
		}
	}
	return NULL;
}

int twin_ws_listener_start(void)
{
	ep = epoll_create1(EPOLL_CLOEXEC);
	event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ep < 0 || event_fd < 0 || !watch(event_fd, EPOLLIN, 0)) {
		twin_ws_listener_stop();
		return -1;
	}
	port_count = 0;
	epoll_count = 0;
	atomic_store(&stopping, false);
	atomic_store(&asked, true); /* the first tick starts the thread's work */
	if (pthread_create(&thread, NULL, run, NULL) != 0) {
		twin_ws_listener_stop();
		return -1;
	}
	started = true;
	return 0;
}

void twin_ws_listener_tick(void)
{
	if (atomic_load_explicit(&asked, memory_order_relaxed)) {
		uint64_t one = 1;
		atomic_store(&asked, false);
		ssize_t n = write(event_fd, &one, sizeof(one));
		(void)n; /* the counter is full only when a hand-over is already waiting */
	}
}

void twin_ws_listener_stop(void)
{
	if (started) {
		uint64_t one = 1;
		atomic_store(&stopping, true);
		ssize_t n = write(event_fd, &one, sizeof(one));
		(void)n;
		pthread_join(thread, NULL);
		started = false;
	}
	if (ep >= 0) {
		close(ep);
	}
	if (event_fd >= 0) {
		close(event_fd);
	}
	ep = -1;
	event_fd = -1;
}
