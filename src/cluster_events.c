/* cluster_events.c - the JetStream publisher of a shard's change events (see cluster_events.h).
 *
 * Order and retries: events go out in windows of at most WINDOW, never two of one twin in a window, and
 * a window is finished (every event acknowledged, or dropped for good) before the next one starts; a
 * failed or unacknowledged event is published again, alone with the other failures of its window, after
 * RETRY_MS. So a twin's events are stored in version order even across a NATS node's death, and a retry
 * of an event that was stored but not acknowledged is dropped by JetStream's duplicate window (message
 * id <id>:<version>). The buffer bound counts every event from its queueing to its end (acknowledged or
 * dropped).
 * Threads: twin_events_offer on the broker thread (queues under lock, never waits for the network);
 * run() on this file's thread (connects, creates the stream, publishes, waits for acknowledgements);
 * on_ack on libnats's thread for the acknowledgements (counts, or keeps a failure for the retry).
 * Must never: block the broker thread, or publish an event of a twin while an earlier one of the same
 * twin is not yet stored. */
#include "cluster_events.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "cluster_connect.h"
#include "cluster_evkey.h"

#define WINDOW 1024            /* events in flight at once, of as many twins */
#define SCAN (8 * WINDOW)      /* queued events looked at to fill one window */
#define ACK_WAIT_MS 2000       /* a window's acknowledgements; then the missing ones are retried */
#define RETRY_MS 250           /* between a window's failures and their retry */
#define STREAM_RETRY_MS 1000   /* between attempts to find or create the stream */
#define CLOSE_WAIT_MS 2000     /* at close, how long queued events may still be sent */

struct event { /* one change event, queued */
	struct event *next;
	uint64_t twin_hash;
	size_t len;
	char *subject, *msg_id; /* in data, after the payload */
	char data[];
};

struct twin_events {
	char *urls, *name, *prefix, *stream;
	unsigned nslots;
	int64_t replicas, max_age_s, max_bytes, buffer, buffer_bytes;
	void (*log)(void *ctx, enum twin_log_level level, const char *msg);
	void *ctx;
	struct twin_nats_link link;
	pthread_t thread;
	pthread_mutex_t lock; /* guards head/tail and stop */
	pthread_cond_t cond;
	bool stop;
	struct event *head, *tail;
	_Atomic int64_t held, held_bytes; /* events queued or unacknowledged: the buffer's fill */
	_Atomic uint64_t published, dropped, retried;
	atomic_bool full;     /* dropping for a full buffer (logged when it starts and ends) */
	/* this file's thread only */
	natsConnection *nc;
	jsCtx *js;
	int64_t close_deadline_ms; /* set once stop is seen */
	struct event *backlog, *backlog_tail;
	/* on_ack's failures, guarded by fail_lock */
	pthread_mutex_t fail_lock;
	natsMsg *failed[WINDOW];
	int n_failed;
	char fail_reason[160];
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(struct twin_events *ev, enum twin_log_level level, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
static void say(struct twin_events *ev, enum twin_log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized): va_start is just above
	va_end(ap);
	ev->log(ev->ctx, level, msg);
}

/* count events of bytes payload bytes in all are over: stored (published) or not (dropped). */
static void settle(struct twin_events *ev, uint64_t count, size_t bytes, bool published)
{
	atomic_fetch_add(published ? &ev->published : &ev->dropped, count);
	int64_t left = atomic_fetch_sub(&ev->held, (int64_t)count) - (int64_t)count;
	int64_t left_bytes = atomic_fetch_sub(&ev->held_bytes, (int64_t)bytes) - (int64_t)bytes;
	if (left <= ev->buffer / 2 && left_bytes <= ev->buffer_bytes / 2 && atomic_exchange(&ev->full, false)) {
		say(ev, TWIN_LOG_NOTICE, "mosquitto_twin: events: the JetStream buffer has room again (%" PRId64
				" events held); change events are queued again", left);
	}
}

/* ---- broker thread ---- */

void twin_events_offer(struct twin_events *ev, const char *topic, const char *payload, size_t len)
{
	struct twin_evkey k;
	if (!twin_evkey_make(topic, payload, len, ev->prefix, ev->nslots, &k)) {
		return;
	}
	size_t slen = strlen(k.subject) + 1, mlen = strlen(k.msg_id) + 1;
	bool room = atomic_load(&ev->held) < ev->buffer &&
			atomic_load(&ev->held_bytes) + (int64_t)len <= ev->buffer_bytes;
	struct event *e = room ? malloc(sizeof(*e) + len + slen + mlen) : NULL;
	if (!e) {
		atomic_fetch_add(&ev->dropped, 1);
		if (!atomic_exchange(&ev->full, true)) {
			say(ev, TWIN_LOG_WARNING, "mosquitto_twin: events: %" PRId64 " change events wait for JetStream "
					"(plugin_opt_cluster_events_buffer, _bytes): dropping new ones, counted in events_dropped; "
					"consumers will see version gaps. Check that NATS is up and JetStream has stream %s",
					(int64_t)atomic_load(&ev->held), ev->stream);
		}
		return;
	}
	e->next = NULL;
	e->twin_hash = k.twin_hash;
	e->len = len;
	memcpy(e->data, payload, len);
	e->subject = memcpy(e->data + len, k.subject, slen);
	e->msg_id = memcpy(e->data + len + slen, k.msg_id, mlen);
	atomic_fetch_add(&ev->held, 1);
	atomic_fetch_add(&ev->held_bytes, (int64_t)len);
	pthread_mutex_lock(&ev->lock);
	if (ev->tail) {
		ev->tail->next = e;
	} else {
		ev->head = e;
	}
	ev->tail = e;
	pthread_cond_signal(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
}

/* ---- libnats's thread ---- */

// cppcheck-suppress constParameter ; libnats's jsPubAckHandler type fixes the signature
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct twin_events *ev = closure;
	(void)js;
	size_t bytes = (size_t)natsMsg_GetDataLength(msg);
	if (pa) {
		settle(ev, 1, bytes, true);
	} else if (pae->ErrCode == JSStreamMessageExceedsMaximumErr) {
		say(ev, TWIN_LOG_WARNING, "mosquitto_twin: events: stream %s refuses event %s as too big; "
				"dropped (raise the stream's max_msg_size)", ev->stream, natsMsg_GetSubject(msg));
		settle(ev, 1, bytes, false);
	} else {
		pthread_mutex_lock(&ev->fail_lock);
		if (ev->n_failed < WINDOW) { /* always: each message of a window is answered once */
			ev->failed[ev->n_failed++] = msg;
			msg = NULL;
		}
		snprintf(ev->fail_reason, sizeof(ev->fail_reason), "%s", pae->ErrText ? pae->ErrText
				: natsStatus_GetText(pae->Err));
		pthread_mutex_unlock(&ev->fail_lock);
	}
	natsMsg_Destroy(msg);
}

/* ---- this file's thread ---- */

static void keep_failed(struct twin_events *ev, natsMsg *msg, const char *reason)
{
	pthread_mutex_lock(&ev->fail_lock);
	ev->failed[ev->n_failed++] = msg;
	snprintf(ev->fail_reason, sizeof(ev->fail_reason), "%s", reason);
	pthread_mutex_unlock(&ev->fail_lock);
}

/* Whether close was called; then the time to send what is left starts, and *late says it is over. */
static bool closing(struct twin_events *ev, bool *late)
{
	pthread_mutex_lock(&ev->lock);
	bool stop = ev->stop;
	pthread_mutex_unlock(&ev->lock);
	if (stop && !ev->close_deadline_ms) {
		ev->close_deadline_ms = mono_ms() + CLOSE_WAIT_MS;
	}
	*late = stop && mono_ms() >= ev->close_deadline_ms;
	return stop;
}

/* Frees a list of events that will never be sent; returns how many, adding their bytes to *bytes. */
static uint64_t drop_list(struct event *e, size_t *bytes)
{
	uint64_t n = 0;
	for (struct event *next; e; e = next) {
		next = e->next;
		*bytes += e->len;
		free(e);
		n++;
	}
	return n;
}

/* Frees n messages that will never be sent again. */
static void drop_window(struct twin_events *ev, natsMsg **window, int n)
{
	size_t bytes = 0;
	for (int i = 0; i < n; i++) {
		bytes += (size_t)natsMsg_GetDataLength(window[i]);
		natsMsg_Destroy(window[i]);
	}
	settle(ev, (uint64_t)n, bytes, false);
}

/* Finds the stream, or creates it; false: closing first. */
static bool ensure_stream(struct twin_events *ev)
{
	char subjects[300], last[200] = "";
	const char *list[1] = {subjects};
	snprintf(subjects, sizeof(subjects), "%s.events.>", ev->prefix);
	for (;;) {
		jsStreamInfo *si = NULL;
		jsErrCode jerr = 0;
		natsStatus s = js_GetStreamInfo(&si, ev->js, ev->stream, NULL, &jerr);
		if (s == NATS_OK) {
			say(ev, TWIN_LOG_NOTICE, "mosquitto_twin: events: publishing to JetStream stream %s (%" PRId64
					" replicas)", ev->stream, si->Config->Replicas);
			jsStreamInfo_Destroy(si);
			return true;
		}
		if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
			jsStreamConfig sc;
			jsStreamConfig_Init(&sc);
			sc.Name = ev->stream;
			sc.Subjects = list;
			sc.SubjectsLen = 1;
			sc.Storage = js_FileStorage;
			sc.Replicas = ev->replicas;
			sc.MaxAge = ev->max_age_s * 1000000000LL;
			sc.MaxBytes = ev->max_bytes ? ev->max_bytes : -1;
			s = js_AddStream(&si, ev->js, &sc, NULL, &jerr);
			if (s == NATS_OK) {
				say(ev, TWIN_LOG_NOTICE, "mosquitto_twin: events: created JetStream stream %s on %s "
						"(%" PRId64 " replicas)", ev->stream, subjects, ev->replicas);
				jsStreamInfo_Destroy(si);
				return true;
			}
			if (jerr == JSStreamNameExistErr) {
				continue; /* another shard made it meanwhile */
			}
		}
		char now[200];
		snprintf(now, sizeof(now), "%s (JetStream error %d)", natsStatus_GetText(s), (int)jerr);
		if (strcmp(now, last)) {
			say(ev, TWIN_LOG_WARNING, "mosquitto_twin: events: cannot find or create JetStream stream %s "
					"yet: %s; retrying (events are buffered meanwhile)", ev->stream, now);
			snprintf(last, sizeof(last), "%s", now);
		}
		if (twin_nats_pause(&ev->link, STREAM_RETRY_MS)) {
			return false;
		}
	}
}

/* Moves the shared queue to the backlog and waits for work; false: closing and nothing (more) to do. */
static bool wait_for_events(struct twin_events *ev)
{
	pthread_mutex_lock(&ev->lock);
	while (!ev->head && !ev->backlog && !ev->stop) {
		pthread_cond_wait(&ev->cond, &ev->lock);
	}
	if (ev->head) {
		if (ev->backlog_tail) {
			ev->backlog_tail->next = ev->head;
		} else {
			ev->backlog = ev->head;
		}
		ev->backlog_tail = ev->tail;
		ev->head = ev->tail = NULL;
	}
	pthread_mutex_unlock(&ev->lock);
	bool late;
	closing(ev, &late);
	return ev->backlog && !late;
}

/* Takes from the backlog the first event of up to WINDOW twins (looking at SCAN events at most). */
static int fill_window(struct twin_events *ev, natsMsg **window)
{
	uint64_t seen[2 * WINDOW] = {0}; /* open addressing; 0 is free */
	int n = 0, scanned = 0;
	struct event **link = &ev->backlog, *prev = NULL;
	while (*link && n < WINDOW && scanned++ < SCAN) {
		struct event *e = *link;
		uint64_t h = e->twin_hash ? e->twin_hash : 1;
		size_t i = h % (2 * WINDOW);
		while (seen[i] && seen[i] != h) {
			i = (i + 1) % (2 * WINDOW);
		}
		if (seen[i]) { /* a later event of a twin already in the window: stays queued, in order */
			prev = e;
			link = &e->next;
			continue;
		}
		seen[i] = h;
		*link = e->next;
		if (ev->backlog_tail == e) {
			ev->backlog_tail = prev;
		}
		natsMsg *m = NULL;
		if (natsMsg_Create(&m, e->subject, NULL, e->data, (int)e->len) == NATS_OK &&
				natsMsgHeader_Set(m, "Nats-Msg-Id", e->msg_id) == NATS_OK) {
			window[n++] = m;
		} else {
			natsMsg_Destroy(m);
			settle(ev, 1, e->len, false);
		}
		free(e);
	}
	return n;
}

/* Publishes window until every event in it is acknowledged, or dropped for good. */
static void send_window(struct twin_events *ev, natsMsg **window, int n)
{
	bool retrying = false;
	while (n > 0) {
		for (int i = 0; i < n; i++) {
			natsStatus s = js_PublishMsgAsync(ev->js, &window[i], NULL);
			if (s == NATS_MAX_PAYLOAD) {
				say(ev, TWIN_LOG_WARNING, "mosquitto_twin: events: event %s is over NATS's max_payload; "
						"dropped", natsMsg_GetSubject(window[i]));
				drop_window(ev, &window[i], 1);
			} else if (s != NATS_OK) {
				keep_failed(ev, window[i], natsStatus_GetText(s));
			}
		}
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MaxWait = ACK_WAIT_MS;
		if (js_PublishAsyncComplete(ev->js, &po) == NATS_TIMEOUT) {
			natsMsgList late = {0};
			if (js_PublishAsyncGetPendingList(&late, ev->js) == NATS_OK) {
				for (int i = 0; i < late.Count; i++) {
					keep_failed(ev, late.Msgs[i], "no acknowledgement in time");
					late.Msgs[i] = NULL;
				}
				natsMsgList_Destroy(&late);
			}
			js_PublishAsyncComplete(ev->js, &po); /* acknowledgements being handled right now */
		}
		char reason[sizeof(ev->fail_reason)];
		pthread_mutex_lock(&ev->fail_lock);
		n = ev->n_failed;
		memcpy(window, ev->failed, (size_t)n * sizeof(natsMsg *));
		ev->n_failed = 0;
		memcpy(reason, ev->fail_reason, sizeof(reason));
		pthread_mutex_unlock(&ev->fail_lock);
		if (n == 0) {
			break;
		}
		atomic_fetch_add(&ev->retried, (uint64_t)n);
		if (!retrying) {
			say(ev, TWIN_LOG_WARNING, "mosquitto_twin: events: %d events not stored by JetStream (%s); "
					"retrying every %d ms", n, reason, RETRY_MS);
		}
		retrying = true;
		bool late;
		if (closing(ev, &late) && late) {
			drop_window(ev, window, n);
			return;
		}
		if (twin_nats_pause(&ev->link, RETRY_MS)) { /* returns at once once closing */
			nanosleep(&(struct timespec){0, RETRY_MS * 1000000L}, NULL);
		}
	}
	if (retrying) {
		say(ev, TWIN_LOG_NOTICE, "mosquitto_twin: events: JetStream stores events again");
	}
}

static void *run(void *arg)
{
	struct twin_events *ev = arg;
	natsMsg *window[WINDOW];
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = ev;
	jo.Wait = ACK_WAIT_MS; /* stream lookups and creation */
	natsStatus s = twin_nats_connect(&ev->link, false, &ev->nc);
	if (s == NATS_OK) {
		s = natsConnection_JetStream(&ev->js, ev->nc, &jo);
	}
	if (s == NATS_OK && ensure_stream(ev)) {
		while (wait_for_events(ev)) {
			send_window(ev, window, fill_window(ev, window));
		}
	} else if (s != NATS_NOT_YET_CONNECTED) {
		twin_nats_log_status(&ev->link, TWIN_LOG_ERR, "cannot publish to JetStream; change events are "
				"dropped (counted in events_dropped)", s);
	}
	return NULL;
}

/* After the thread: what it did not send. */
static void drop_left(struct twin_events *ev)
{
	size_t bytes = 0;
	uint64_t left = drop_list(ev->backlog, &bytes) + drop_list(ev->head, &bytes);
	ev->backlog = ev->backlog_tail = ev->head = ev->tail = NULL;
	if (left) {
		settle(ev, left, bytes, false);
		say(ev, TWIN_LOG_WARNING, "mosquitto_twin: events: %" PRIu64 " change events not sent to "
				"JetStream at shutdown (counted in events_dropped)", left);
	}
}

void twin_events_get_counts(struct twin_events *ev, struct twin_events_counts *out)
{
	out->published = atomic_load(&ev->published);
	out->dropped = atomic_load(&ev->dropped);
	out->retried = atomic_load(&ev->retried);
	int64_t held = atomic_load(&ev->held);
	out->pending = held > 0 ? (uint64_t)held : 0;
}

static void events_free(struct twin_events *ev)
{
	free(ev->urls);
	free(ev->name);
	free(ev->prefix);
	free(ev->stream);
	free(ev);
}

enum twin_rc twin_events_open(const struct twin_events_config *cfg,
		void (*log)(void *ctx, enum twin_log_level level, const char *msg), void *ctx,
		struct twin_events **out, struct twin_error *err)
{
	struct twin_events *ev = calloc(1, sizeof(*ev));
	if (!ev) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	ev->urls = strdup(cfg->urls);
	size_t name_size = strlen(cfg->name) + sizeof("-events");
	ev->name = malloc(name_size);
	ev->prefix = strdup(cfg->prefix);
	ev->stream = strdup(cfg->stream);
	if (!ev->urls || !ev->name || !ev->prefix || !ev->stream) {
		events_free(ev);
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	snprintf(ev->name, name_size, "%s-events", cfg->name);
	ev->nslots = cfg->nslots;
	ev->replicas = cfg->replicas;
	ev->max_age_s = cfg->max_age_s;
	ev->max_bytes = cfg->max_bytes;
	ev->buffer = cfg->buffer;
	ev->buffer_bytes = cfg->buffer_bytes;
	ev->log = log;
	ev->ctx = ctx;
	pthread_mutex_init(&ev->lock, NULL);
	pthread_mutex_init(&ev->fail_lock, NULL);
	pthread_cond_init(&ev->cond, NULL);
	ev->link = (struct twin_nats_link){ev->urls, ev->name, "events", log, ctx, &ev->lock, &ev->cond,
			&ev->stop, false};
	if (pthread_create(&ev->thread, NULL, run, ev) != 0) {
		pthread_mutex_destroy(&ev->lock);
		pthread_mutex_destroy(&ev->fail_lock);
		pthread_cond_destroy(&ev->cond);
		events_free(ev);
		return twin_fail(err, TWIN_ERR_NOMEM, "cannot start the JetStream events thread");
	}
	*out = ev;
	return TWIN_OK;
}

void twin_events_close(struct twin_events *ev)
{
	if (!ev) {
		return;
	}
	pthread_mutex_lock(&ev->lock);
	ev->stop = true;
	pthread_cond_signal(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
	pthread_join(ev->thread, NULL);
	drop_left(ev);
	jsCtx_Destroy(ev->js);
	twin_nats_disconnect(&ev->link, ev->nc); /* no callback of libnats uses ev after this */
	pthread_mutex_destroy(&ev->lock);
	pthread_mutex_destroy(&ev->fail_lock);
	pthread_cond_destroy(&ev->cond);
	events_free(ev);
}
