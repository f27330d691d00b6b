/* wake.c - lets the writer thread wake the broker thread. Mosquitto 2.0 sleeps up to 100 ms in
 * epoll_wait between loop passes and runs MOSQ_EVT_TICK after each pass; a write answered only at the
 * next idle tick would wait that long. So the writer sends the broker thread a real-time signal (handler:
 * nothing, SA_RESTART), which ends epoll_wait with EINTR - Mosquitto ignores that and runs the tick at
 * once. Signals are coalesced: one is in flight until the tick acknowledges it. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "plugin.h"

#define TWIN_WAKE_SIGNAL (SIGRTMAX - 5)

static pthread_t broker_thread;
static atomic_bool wake_pending;
static struct sigaction previous;
static bool installed;

static void on_wake_signal(int sig)
{
	(void)sig;
}

int twin_wake_install(void)
{
	struct sigaction sa;
	sigset_t set;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(TWIN_WAKE_SIGNAL, &sa, &previous) != 0) {
		return -1;
	}
	sigemptyset(&set);
	sigaddset(&set, TWIN_WAKE_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	broker_thread = pthread_self();
	atomic_store(&wake_pending, false);
	installed = true;
	return 0;
}

void twin_wake_uninstall(void)
{
	if (installed) {
		sigaction(TWIN_WAKE_SIGNAL, &previous, NULL);
		installed = false;
	}
}

void twin_wake(void *ctx)
{
	(void)ctx;
	if (!atomic_exchange(&wake_pending, true)) {
		pthread_kill(broker_thread, TWIN_WAKE_SIGNAL);
	}
}

void twin_wake_acknowledge(void)
{
	atomic_store(&wake_pending, false);
}
