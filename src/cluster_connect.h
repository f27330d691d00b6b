/* cluster_connect.h - one NATS connection of a shard (request forwarding and the events publisher each
 * have their own): the comma-separated server list, endless reconnects, connection news as log lines, and
 * a first connect that retries until it works or its owner stops. */
#ifndef TWIN_CLUSTER_CONNECT_H
#define TWIN_CLUSTER_CONNECT_H

#include <pthread.h>
#include <stdbool.h>

#include <nats/nats.h>

#include "twin_common.h"

struct twin_nats_link {
	const char *urls; /* comma-separated */
	const char *name; /* the connection's name, seen in the server's monitoring */
	const char *what; /* names the connection in log lines, e.g. "cluster" */
	void (*log)(void *ctx, enum twin_log_level level, const char *msg);
	void *ctx;
	/* the owner's: connecting gives up once *stop is true (read under lock; cond is signalled then) */
	pthread_mutex_t *lock;
	pthread_cond_t *cond;
	const bool *stop;
	bool closed; /* set (under lock) by libnats's last callback of the connection */
};

/* Connects (retrying every 250 ms); l must outlive the connection. global_delivery: the subscriptions'
 * handlers run on libnats's shared delivery thread. NATS_NOT_YET_CONNECTED: stopped before it worked. */
natsStatus twin_nats_connect(struct twin_nats_link *l, bool global_delivery, natsConnection **nc);
/* Closes and destroys nc (NULL: nothing), waiting (up to 2 s) for libnats's last callback of it, after
 * which nothing of l is used any more. */
void twin_nats_disconnect(struct twin_nats_link *l, natsConnection *nc);
/* "<what>: <doing>: <natsStatus text>" at level. */
void twin_nats_log_status(const struct twin_nats_link *l, enum twin_log_level level, const char *doing,
		natsStatus s);
/* Waits up to ms, or until the owner stops; true: stopping. */
bool twin_nats_pause(const struct twin_nats_link *l, int ms);

#endif
