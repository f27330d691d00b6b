/* cluster_connect.c - connecting to NATS for the cluster (see cluster_connect.h), on libnats.
 * Threads: the owner's thread calls twin_nats_connect; libnats's threads call the connection handlers,
 * which only log (and note the close, which twin_nats_disconnect waits for).
 * Must never: give up on a fleet whose NATS is not up yet (a shard may start first). */
#include "cluster_connect.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_MS 250   /* between connection attempts */
#define MAX_SERVERS 16 /* in plugin_opt_cluster_nats */

void twin_nats_log_status(const struct twin_nats_link *l, enum twin_log_level level, const char *doing,
		natsStatus s)
{
	char msg[320];
	snprintf(msg, sizeof(msg), "mosquitto_twin: %s: %s: %s", l->what, doing, natsStatus_GetText(s));
	l->log(l->ctx, level, msg);
}

static void say(const struct twin_nats_link *l, enum twin_log_level level, const char *news)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "mosquitto_twin: %s: %s", l->what, news);
	l->log(l->ctx, level, msg);
}

static void on_connected(natsConnection *nc, void *closure)
{
	(void)nc;
	say(closure, TWIN_LOG_NOTICE, "connected to NATS");
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	(void)nc;
	say(closure, TWIN_LOG_WARNING, "disconnected from NATS; reconnecting");
}

static void on_closed(natsConnection *nc, void *closure)
{
	struct twin_nats_link *l = closure;
	(void)nc;
	pthread_mutex_lock(l->lock);
	l->closed = true;
	pthread_cond_broadcast(l->cond);
	pthread_mutex_unlock(l->lock);
}

void twin_nats_disconnect(struct twin_nats_link *l, natsConnection *nc)
{
	if (!nc) {
		return;
	}
	natsConnection_Close(nc);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(l->lock);
	while (!l->closed && pthread_cond_timedwait(l->cond, l->lock, &until) == 0) {
	}
	pthread_mutex_unlock(l->lock);
	natsConnection_Destroy(nc);
}

bool twin_nats_pause(const struct twin_nats_link *l, int ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	until.tv_sec += ms / 1000 + until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(l->lock);
	if (!*l->stop) {
		pthread_cond_timedwait(l->cond, l->lock, &until);
	}
	bool stop = *l->stop;
	pthread_mutex_unlock(l->lock);
	return stop;
}

/* natsOptions_SetURL with a comma-separated list fails to connect in libnats 3.4.1 whenever one of the
 * servers is down (checked), so the list is split here. */
static natsStatus set_servers(natsOptions *opts, const char *urls)
{
	const char *list[MAX_SERVERS];
	int n = 0;
	char *copy = strdup(urls), *save = NULL;
	if (!copy) {
		return NATS_NO_MEMORY;
	}
	for (char *u = strtok_r(copy, ", ", &save); u && n < MAX_SERVERS; u = strtok_r(NULL, ", ", &save)) {
		list[n++] = u;
	}
	natsStatus s = n ? natsOptions_SetServers(opts, list, n) : NATS_INVALID_ARG;
	free(copy);
	return s;
}

natsStatus twin_nats_connect(struct twin_nats_link *l, bool global_delivery, natsConnection **nc)
{
	/* libnats keeps global state (and threads) past the last connection: it stays loaded when the broker
	 * unloads the plugin (else its memory reads as leaked, and nothing of it may run after its code is gone) */
	// cppcheck-suppress leakReturnValNotUsed ; never closed: staying loaded is the point
	dlopen("libnats.so.3.4", RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
	natsOptions *opts = NULL;
	natsStatus s = natsOptions_Create(&opts);
	if (s == NATS_OK) s = set_servers(opts, l->urls);
	if (s == NATS_OK) s = natsOptions_SetName(opts, l->name);
	if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
	if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, RETRY_MS);
	if (s == NATS_OK) s = natsOptions_UseGlobalMessageDelivery(opts, global_delivery);
	if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, on_disconnected, l);
	if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, on_connected, l);
	if (s == NATS_OK) s = natsOptions_SetClosedCB(opts, on_closed, l);
	natsStatus last = NATS_OK;
	while (s == NATS_OK && (s = natsConnection_Connect(nc, opts)) != NATS_OK) {
		if (s != last) {
			twin_nats_log_status(l, TWIN_LOG_WARNING, "cannot connect to NATS yet, retrying", s);
			last = s;
		}
		s = twin_nats_pause(l, RETRY_MS) ? NATS_NOT_YET_CONNECTED : NATS_OK;
	}
	natsOptions_Destroy(opts);
	if (s == NATS_OK) {
		on_connected(*nc, l);
	}
	return s;
}
