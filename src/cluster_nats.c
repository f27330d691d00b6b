/* cluster_nats.c - NATS request/reply for the cluster (see cluster_nats.h), on libnats's async API.
 *
 * Threads: the caller's (broker thread) only queues; this file's thread connects, subscribes and
 * publishes the queue, and (un)subscribes slots as the shard's table changes (slot moves); libnats's
 * global delivery thread runs the handlers. The operator's control requests come on
 * <subject>.ctl.<name>. Requests carry the reply
 * subject <inbox>.<key>, so one wildcard subscription on <inbox>.* receives every answer and the key
 * says which request it answers. Connection is requested with no_responders (libnats's default), so a
 * request to a slot nobody serves is answered at once by the server with a "503 no responders" status.
 * Must never: block a caller, or call back into the caller with a lock of its own held. */
#include "cluster_nats.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "cluster_connect.h"

struct outgoing {
	struct outgoing *next;
	int serve; /* +1 / -1: subscribe / unsubscribe slot `slot` instead of publishing */
	unsigned slot;
	char subject[256];
	char reply[128]; /* empty: none */
	void *data;
	size_t len;
};

struct twin_nats {
	struct twin_nats_handlers h;
	struct twin_nats_link link; /* urls, name, the log handler, lock/cond/stop */
	char *urls, *name, *subject;
	struct twin_slot_set slots; /* a copy, the thread's: what it subscribes */
	natsConnection *nc;
	natsSubscription **subs; /* by slot */
	natsSubscription *all_sub; /* <subject>.all */
	natsSubscription *inbox_sub, *ctl_sub;
	char inbox[96];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct outgoing *head, *tail;
	bool stop;
};

/* A request with a reply subject, to handler fn (a slot's request or a control request). */
static void deliver(struct twin_nats *n, natsMsg *msg,
		void (*fn)(void *ctx, const char *reply, const void *data, size_t len))
{
	const char *reply = natsMsg_GetReply(msg);
	if (reply && strlen(reply) < sizeof(((struct outgoing *)0)->subject)) {
		fn(n->h.ctx, reply, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
	}
	natsMsg_Destroy(msg);
}

static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	(void)nc;
	(void)sub;
	deliver(closure, msg, ((struct twin_nats *)closure)->h.request);
}

static void on_ctl(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	(void)nc;
	(void)sub;
	deliver(closure, msg, ((struct twin_nats *)closure)->h.ctl);
}

static natsStatus serve_slot(struct twin_nats *n, unsigned slot, bool on)
{
	char subject[256];
	if (!on) {
		natsStatus s = n->subs[slot] ? natsSubscription_Unsubscribe(n->subs[slot]) : NATS_OK;
		natsSubscription_Destroy(n->subs[slot]);
		n->subs[slot] = NULL;
		return s;
	}
	if (n->subs[slot]) {
		return NATS_OK;
	}
	snprintf(subject, sizeof(subject), "%s.slot.%u", n->subject, slot);
	return natsConnection_Subscribe(&n->subs[slot], n->nc, subject, on_request, n);
}

static void on_answer(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	struct twin_nats *n = closure;
	(void)nc;
	(void)sub;
	const char *subject = natsMsg_GetSubject(msg);
	const char *dot = strrchr(subject, '.');
	char *end;
	uint64_t key = dot ? strtoull(dot + 1, &end, 10) : 0;
	if (dot && *end == '\0') {
		n->h.answer(n->h.ctx, key, natsMsg_IsNoResponders(msg), natsMsg_GetData(msg),
				(size_t)natsMsg_GetDataLength(msg));
	}
	natsMsg_Destroy(msg);
}

static natsStatus connect_and_subscribe(struct twin_nats *n)
{
	natsStatus s = twin_nats_connect(&n->link, true, &n->nc);
	char subject[256];
	for (unsigned slot = 0; s == NATS_OK && slot < n->slots.nslots; slot++) {
		if (twin_slot_set_has(&n->slots, slot)) {
			s = serve_slot(n, slot, true);
		}
	}
	if (s == NATS_OK) {
		snprintf(subject, sizeof(subject), "%s.all", n->subject);
		s = natsConnection_Subscribe(&n->all_sub, n->nc, subject, on_request, n);
	}
	if (s == NATS_OK) {
		snprintf(subject, sizeof(subject), "%s.*", n->inbox);
		s = natsConnection_Subscribe(&n->inbox_sub, n->nc, subject, on_answer, n);
	}
	if (s == NATS_OK) {
		snprintf(subject, sizeof(subject), "%s.ctl.%s", n->subject, n->name);
		s = natsConnection_Subscribe(&n->ctl_sub, n->nc, subject, on_ctl, n);
	}
	if (s == NATS_OK) { /* the server has the subscriptions before this shard counts as serving */
		s = natsConnection_FlushTimeout(n->nc, 5000);
	}
	return s;
}

static void *run(void *arg)
{
	struct twin_nats *n = arg;
	natsStatus s = connect_and_subscribe(n);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
		twin_nats_log_status(&n->link, TWIN_LOG_ERR, "cannot subscribe on NATS, forwarding is off", s);
	}
	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (!n->head && !n->stop) {
			pthread_cond_wait(&n->cond, &n->lock);
		}
		struct outgoing *list = n->head;
		n->head = n->tail = NULL;
		bool stop = n->stop;
		pthread_mutex_unlock(&n->lock);
		for (struct outgoing *next; list; list = next) {
			next = list->next;
			if (list->serve) { /* kept in n->slots for a later connect; subscribed now if connected */
				twin_slot_set_put(&n->slots, list->slot, list->serve > 0);
				natsStatus ss = s == NATS_OK ? serve_slot(n, list->slot, list->serve > 0) : NATS_OK;
				if (ss != NATS_OK) {
					twin_nats_log_status(&n->link, TWIN_LOG_ERR, "cannot change a slot's subscription", ss);
				}
			} else if (s == NATS_OK) { /* else dropped: forwarded requests time out (503) */
				natsStatus ps = list->reply[0]
						? natsConnection_PublishRequest(n->nc, list->subject, list->reply, list->data,
								  (int)list->len)
						: natsConnection_Publish(n->nc, list->subject, list->data, (int)list->len);
				if (ps != NATS_OK) {
					twin_nats_log_status(&n->link, TWIN_LOG_WARNING, "publish failed", ps);
				}
			}
			free(list->data);
			free(list);
		}
		if (stop) {
			break;
		}
		pthread_mutex_lock(&n->lock);
	}
	if (n->nc) {
		natsConnection_FlushTimeout(n->nc, 500);
	}
	return NULL;
}

static void push(struct twin_nats *n, struct outgoing *o)
{
	pthread_mutex_lock(&n->lock);
	if (n->tail) {
		n->tail->next = o;
	} else {
		n->head = o;
	}
	n->tail = o;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

static enum twin_rc queue(struct twin_nats *n, const char *subject, const char *reply, void *data,
		size_t len)
{
	struct outgoing *o = calloc(1, sizeof(*o));
	if (!o || strlen(subject) >= sizeof(o->subject) || strlen(reply) >= sizeof(o->reply)) {
		free(o);
		free(data);
		return TWIN_ERR_NOMEM;
	}
	strcpy(o->subject, subject);
	strcpy(o->reply, reply);
	o->data = data;
	o->len = len;
	push(n, o);
	return TWIN_OK;
}

enum twin_rc twin_nats_serve(struct twin_nats *n, unsigned slot, bool on)
{
	struct outgoing *o = calloc(1, sizeof(*o));
	if (!o) {
		return TWIN_ERR_NOMEM;
	}
	o->serve = on ? 1 : -1;
	o->slot = slot;
	push(n, o);
	return TWIN_OK;
}

/* A request on <subject>.<to>, answered on <inbox>.<key>. */
static enum twin_rc request(struct twin_nats *n, const char *to, uint64_t key, void *data, size_t len)
{
	char subject[256], reply[128];
	snprintf(subject, sizeof(subject), "%s.%s", n->subject, to);
	snprintf(reply, sizeof(reply), "%s.%" PRIu64, n->inbox, key);
	return queue(n, subject, reply, data, len);
}

enum twin_rc twin_nats_request(struct twin_nats *n, unsigned slot, uint64_t key, void *data,
		size_t len)
{
	char to[32];
	snprintf(to, sizeof(to), "slot.%u", slot);
	return request(n, to, key, data, len);
}

enum twin_rc twin_nats_scatter(struct twin_nats *n, uint64_t key, void *data, size_t len)
{
	return request(n, "all", key, data, len);
}

enum twin_rc twin_nats_reply(struct twin_nats *n, const char *reply, void *data, size_t len)
{
	return queue(n, reply, "", data, len);
}

static void nats_free(struct twin_nats *n)
{
	free(n->urls);
	free(n->name);
	free(n->subject);
	free(n->subs);
	twin_slot_set_free(&n->slots);
	free(n);
}

enum twin_rc twin_nats_open(const char *urls, const char *name, const char *subject,
		const struct twin_slot_set *slots, const struct twin_nats_handlers *h,
		struct twin_nats **out, struct twin_error *err)
{
	struct twin_nats *n = calloc(1, sizeof(*n));
	natsInbox *inbox = NULL;
	if (!n) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	n->h = *h;
	n->urls = strdup(urls);
	n->name = strdup(name);
	n->subject = strdup(subject);
	n->slots.nslots = slots->nslots;
	n->slots.owned = slots->owned;
	n->slots.bits = malloc((slots->nslots + 7) / 8);
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, so sizeof(*subs) is meant */
	n->subs = calloc(slots->nslots, sizeof(*n->subs));
	if (!n->urls || !n->name || !n->subject || !n->slots.bits || !n->subs) {
		nats_free(n);
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	memcpy(n->slots.bits, slots->bits, (slots->nslots + 7) / 8);
	if (natsInbox_Create(&inbox) != NATS_OK || strlen(inbox) >= sizeof(n->inbox)) {
		natsInbox_Destroy(inbox);
		nats_free(n);
		return twin_fail(err, TWIN_ERR_NOMEM, "cannot make a NATS inbox");
	}
	strcpy(n->inbox, inbox);
	natsInbox_Destroy(inbox);
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	n->link = (struct twin_nats_link){n->urls, n->name, "cluster", h->log, h->ctx, &n->lock, &n->cond,
			&n->stop, false};
	if (pthread_create(&n->thread, NULL, run, n) != 0) {
		pthread_mutex_destroy(&n->lock);
		pthread_cond_destroy(&n->cond);
		nats_free(n);
		return twin_fail(err, TWIN_ERR_NOMEM, "cannot start the NATS thread");
	}
	*out = n;
	return TWIN_OK;
}

void twin_nats_close(struct twin_nats *n)
{
	if (!n) {
		return;
	}
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	for (unsigned i = 0; i < n->slots.nslots; i++) {
		natsSubscription_Destroy(n->subs[i]);
	}
	natsSubscription_Destroy(n->all_sub);
	natsSubscription_Destroy(n->inbox_sub);
	natsSubscription_Destroy(n->ctl_sub);
	twin_nats_disconnect(&n->link, n->nc);
	nats_CloseAndWait(2000); /* libnats's threads are gone: no handler runs after this returns */
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	nats_free(n);
}
