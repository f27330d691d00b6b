/* wake.c - lets the writer thread wake the broker thread, and keeps the broker loop turning while asked
 * (websockets.c). Mosquitto 2.0 sleeps up to 100 ms in epoll_wait between loop passes and runs
 * MOSQ_EVT_TICK after each pass; a write answered only at the next idle tick would wait that long. So the
 * writer sends the broker thread a real-time signal (handler: nothing, SA_RESTART), which ends epoll_wait
 * with EINTR - Mosquitto ignores that and runs the tick at once. Signals are coalesced: one is in flight
 * until the tick acknowledges it.
 *
 * The pacer is a POSIX timer that sends the same signal to the broker thread every TWIN_WAKE_PACE_US
 * while a budget of loop passes lasts: any thread adds passes (websockets.c for answers, ws_listener.c
 * for the sockets Mosquitto leaves to libwebsockets), every tick spends one, and the tick that spends the
 * last stops the timer. A signal the broker thread sends itself from the tick would not do: it is handled
 * at once, before the loop reaches epoll_wait, which then sleeps its 100 ms. A timer signal that lands
 * outside epoll_wait is followed by the next one a period later. While off (the default), the timer costs
 * nothing; it is started only on a broker that has ticked, since only a tick stops it.
 *
 * A wake-up that comes during a tick, after the tick acknowledged the last one, has its signal handled
 * there and then, and leaves wake_pending set: every later wake-up would be coalesced into it and wait
 * for an idle pass (100 ms). So a tick that ends with a wake-up pending keeps the pacer running (with a
 * pass in its budget) and spends nothing, up to the next tick, which acknowledges it: under steady
 * wake-ups the timer simply stays on, with no timer_settime per tick. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugin.h"

#define TWIN_WAKE_SIGNAL (SIGRTMAX - 5)
#define TWIN_WAKE_PACE_US 50

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid /* Debian 12's glibc 2.36 names only the member */
#endif

static pthread_t broker_thread;
static atomic_bool wake_pending;
static struct sigaction previous;
static atomic_bool installed; /* read by other threads: a cluster shard's NATS thread may log first */
static timer_t pacer;
static pthread_mutex_t pace_lock = PTHREAD_MUTEX_INITIALIZER; /* starting and stopping the timer */
static atomic_bool pacing;          /* the timer runs (written under pace_lock) */
static atomic_ulong pace_budget;    /* loop passes still to turn */
static atomic_bool ticking;         /* the broker has run a tick */

static void on_wake_signal(int sig)
{
	(void)sig;
}

int twin_wake_install(void)
{
	struct sigaction sa;
	struct sigevent sev;
	sigset_t set;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(TWIN_WAKE_SIGNAL, &sa, &previous) != 0) {
		return -1;
	}
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = TWIN_WAKE_SIGNAL;
	sev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &pacer) != 0) {
		sigaction(TWIN_WAKE_SIGNAL, &previous, NULL);
		return -1;
	}
	sigemptyset(&set);
	sigaddset(&set, TWIN_WAKE_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	broker_thread = pthread_self();
	atomic_store(&wake_pending, false);
	atomic_store(&pacing, false);
	atomic_store(&pace_budget, 0);
	atomic_store(&ticking, false);
	installed = true;
	return 0;
}

void twin_wake_uninstall(void)
{
	if (installed) {
		timer_delete(pacer);
		sigaction(TWIN_WAKE_SIGNAL, &previous, NULL);
		installed = false;
	}
}

void twin_wake(void *ctx)
{
	(void)ctx;
	if (!atomic_load(&installed)) {
		return; /* before the broker thread is known: its first tick runs what is waiting */
	}
	if (!atomic_exchange(&wake_pending, true)) {
		pthread_kill(broker_thread, TWIN_WAKE_SIGNAL);
		twin_loopback_wake(); /* a broker that runs no tick (loopback.c) */
	}
}

void twin_wake_acknowledge(void)
{
	atomic_store(&wake_pending, false);
}

/* Starts or stops the timer (pace_lock held). */
static void set_pacer(bool on)
{
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	if (on) {
		its.it_value.tv_nsec = TWIN_WAKE_PACE_US * 1000;
		its.it_interval = its.it_value;
	}
	if (timer_settime(pacer, 0, &its, NULL) == 0) {
		atomic_store(&pacing, on);
	}
}

void twin_wake_pace_add(unsigned long passes)
{
	atomic_fetch_add(&pace_budget, passes);
	pthread_mutex_lock(&pace_lock);
	if (!atomic_load(&pacing) && atomic_load(&pace_budget) > 0 && atomic_load(&ticking)) {
		set_pacer(true);
	}
	pthread_mutex_unlock(&pace_lock);
}

void twin_wake_pace_tick(void)
{
	unsigned long left = atomic_load_explicit(&pace_budget, memory_order_relaxed);
	if (!atomic_load_explicit(&ticking, memory_order_relaxed)) {
		atomic_store(&ticking, true);
		twin_wake_pace_add(0); /* passes asked for before the first tick */
	}
	if (atomic_load(&wake_pending)) { /* came during this tick: the next pass must not sleep */
		if (left == 0) {
			twin_wake_pace_add(1);
		}
		return;
	}
	while (left > 0 && !atomic_compare_exchange_weak(&pace_budget, &left, left - 1)) {
	}
	if (left <= 1 && atomic_load_explicit(&pacing, memory_order_relaxed)) {
		/* spent, unless another thread added passes since: it takes the lock to start the timer */
		pthread_mutex_lock(&pace_lock);
		if (atomic_load(&pace_budget) == 0) {
			set_pacer(false);
		}
		pthread_mutex_unlock(&pace_lock);
	}
}
