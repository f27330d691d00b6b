/* queue.c - operations and outbound messages, and the two queues between the threads (see queue.h).
 * Mutex + condition variable: the broker thread pays one uncontended lock (and for telemetry one hash
 * lookup of its twin's open entry) per push; the writer detaches up to a batch of entries at once. The
 * writer is signalled only when it has to act (queue was empty, a request arrived, or the queue is half
 * full in entries or bytes), not per telemetry message. */
#include "queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "presence.h"

struct twin_op *twin_op_new_at(enum twin_op_kind kind, const char *id, size_t id_len,
		const char *path, size_t path_len, const void *payload, size_t payload_len,
		struct twin_route *route)
{
	struct twin_op *op = malloc(sizeof(*op) + id_len + 1 + path_len + 1 + payload_len + 1);
	if (!op) {
		return NULL;
	}
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->route = route;
	op->id = op->data;
	op->id_len = id_len;
	memcpy(op->id, id, id_len);
	op->id[id_len] = '\0';
	op->path = op->id + id_len + 1;
	op->path_len = path_len;
	if (path_len) {
		memcpy(op->path, path, path_len);
	}
	op->path[path_len] = '\0';
	op->payload = op->path + path_len + 1;
	op->payload_len = payload_len;
	if (payload_len) {
		memcpy(op->payload, payload, payload_len);
	}
	op->payload[payload_len] = '\0';
	op->group_msgs = 1;
	op->group_bytes = twin_op_bytes(op);
	op->readings = 1;
	return op;
}

struct twin_op *twin_op_new(enum twin_op_kind kind, const char *id, size_t id_len,
		const void *payload, size_t payload_len, struct twin_route *route)
{
	return twin_op_new_at(kind, id, id_len, NULL, 0, payload, payload_len, route);
}

void twin_route_free(struct twin_route *r)
{
	if (r) {
		free(r->client_id);
		free(r->response_topic);
		free(r->request_topic);
		free(r->corr);
		free(r->token);
		free(r->rid);
		free(r);
	}
}

void twin_op_free(struct twin_op *op)
{
	while (op) {
		struct twin_op *more = op->more;
		twin_route_free(op->route);
		twin_out_free(op->answer);
		twin_out_list_free(&op->events);
		free(op);
		op = more;
	}
}

size_t twin_op_bytes(const struct twin_op *op)
{
	return sizeof(*op) + op->id_len + op->path_len + op->payload_len + 3;
}

struct twin_out *twin_out_publish(const char *target, const char *topic, const void *payload,
		size_t len, int qos, bool retain)
{
	struct twin_out *o = calloc(1, sizeof(*o));
	if (!o) {
		return NULL;
	}
	o->kind = TWIN_OUT_PUBLISH;
	o->target = target ? strdup(target) : NULL;
	o->topic = strdup(topic);
	o->payload = malloc(len + 1); /* NUL-terminated for convenience; len is authoritative */
	if ((target && !o->target) || !o->topic || !o->payload) {
		twin_out_free(o);
		return NULL;
	}
	memcpy(o->payload, payload, len);
	o->payload[len] = '\0';
	o->payload_len = len;
	o->qos = qos;
	o->retain = retain;
	return o;
}

struct twin_out *twin_out_log(enum twin_log_level level, const char *fmt, ...)
{
	struct twin_out *o = calloc(1, sizeof(*o));
	char buf[512];
	va_list ap;
	if (!o) {
		return NULL;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	o->kind = TWIN_OUT_LOG;
	o->level = level;
	if (!(o->payload = strdup(buf))) {
		free(o);
		return NULL;
	}
	return o;
}

void twin_out_free(struct twin_out *o)
{
	if (o) {
		free(o->target);
		free(o->topic);
		free(o->payload);
		free(o->corr);
		twin_op_free(o->op);
		twin_presence_marks_free(o->marks);
		free(o);
	}
}

void twin_out_list_truncate(struct twin_out_list *l, struct twin_out *keep)
{
	struct twin_out_list rest = {keep ? keep->next : l->head, keep ? l->tail : NULL};
	if (!rest.head) {
		return;
	}
	if (keep) {
		keep->next = NULL;
		l->tail = keep;
	} else {
		l->head = l->tail = NULL;
	}
	twin_out_list_free(&rest);
}

void twin_out_list_add(struct twin_out_list *l, struct twin_out *o)
{
	if (!o) {
		return;
	}
	o->next = NULL;
	if (l->tail) {
		l->tail->next = o;
	} else {
		l->head = o;
	}
	l->tail = o;
}

void twin_out_list_concat(struct twin_out_list *l, struct twin_out_list *more)
{
	if (!more->head) {
		return;
	}
	if (l->tail) {
		l->tail->next = more->head;
	} else {
		l->head = more->head;
	}
	l->tail = more->tail;
	more->head = more->tail = NULL;
}

void twin_out_list_free(struct twin_out_list *l)
{
	for (struct twin_out *o = l->head, *next; o; o = next) {
		next = o->next;
		twin_out_free(o);
	}
	l->head = l->tail = NULL;
}

void twin_opq_init(struct twin_opq *q, size_t cap, size_t bytes_cap)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->cap = cap;
	q->bytes_cap = bytes_cap;
}

void twin_opq_destroy(struct twin_opq *q)
{
	HASH_CLEAR(hh, q->open);
	while (q->head) {
		struct twin_op *next = q->head->next;
		twin_op_free(q->head);
		q->head = next;
	}
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
}

static void close_entry(struct twin_opq *q, struct twin_op *entry)
{
	if (entry->open) {
		/* the analyzer takes the table for freed with an entry still in it: a false positive */
		HASH_DEL(q->open, entry); // NOLINT(clang-analyzer-core.NullDereference)
		entry->open = false;
	}
}

/* The open telemetry entry of twin id, or NULL; one of an older generation is closed on the way. */
static struct twin_op *open_entry(struct twin_opq *q, const char *id, size_t id_len)
{
	struct twin_op *entry = NULL;
	HASH_FIND(hh, q->open, id, id_len, entry);
	if (entry && entry->slot_gen != q->slot_gen) {
		close_entry(q, entry);
		entry = NULL;
	}
	return entry;
}

/* Adds op to the FIFO as an entry of its own. False when cap entries are queued. */
static bool add_entry(struct twin_opq *q, struct twin_op *op, int64_t now_ms)
{
	if (q->count >= q->cap) {
		return false;
	}
	op->next = NULL;
	if (q->tail) {
		q->tail->next = op;
	} else {
		q->head = op;
		q->oldest_ms = now_ms;
	}
	q->tail = op;
	q->count++;
	if (op->kind == TWIN_OP_TELEMETRY) {
		op->slot_gen = q->slot_gen;
		op->open = true;
		HASH_ADD_KEYPTR(hh, q->open, op->id, op->id_len, op);
		op->open = op->hh.tbl != NULL; /* no memory for the table: the entry just stays closed */
	}
	return true;
}

enum twin_rc twin_opq_push(struct twin_opq *q, struct twin_op *op, int64_t now_ms)
{
	size_t bytes = twin_op_bytes(op);
	pthread_mutex_lock(&q->lock);
	if (q->stop || q->bytes + bytes > q->bytes_cap) {
		pthread_mutex_unlock(&q->lock);
		return TWIN_ERR_BUSY;
	}
	struct twin_op *entry = NULL;
	if (op->kind == TWIN_OP_TELEMETRY) {
		entry = open_entry(q, op->id, op->id_len);
	} else if (op->kind == TWIN_OP_GATEWAY) {
		q->slot_gen++; /* its parts may be for any twin: later telemetry queues after it */
	} else if (op->kind != TWIN_OP_BARRIER && op->kind != TWIN_OP_STORE &&
			(entry = open_entry(q, op->id, op->id_len)) != NULL) {
		close_entry(q, entry); /* telemetry after this request queues after it */
		entry = NULL;
	}
	if (entry) {
		op->next = NULL;
		if (entry->more_tail) {
			entry->more_tail->more = op;
		} else {
			entry->more = op;
		}
		entry->more_tail = op;
		entry->group_msgs++;
		entry->group_bytes += bytes;
	} else if (!add_entry(q, op, now_ms)) {
		pthread_mutex_unlock(&q->lock);
		return TWIN_ERR_BUSY;
	}
	q->messages++;
	q->bytes += bytes;
	q->last_seq = op->seq;
	bool request = op->kind != TWIN_OP_TELEMETRY && op->kind != TWIN_OP_GATEWAY;
	bool wake = q->messages == 1 || (request && !q->urgent) || q->count == q->cap / 2 ||
			(q->bytes >= q->bytes_cap / 2 && q->bytes - bytes < q->bytes_cap / 2);
	if (request) {
		q->urgent = true;
	}
	pthread_mutex_unlock(&q->lock);
	if (wake) {
		pthread_cond_signal(&q->cond);
	}
	return TWIN_OK;
}

struct twin_op *twin_opq_detach_locked(struct twin_opq *q, size_t max, uint64_t *done, size_t *msgs)
{
	struct twin_op *first = q->head, *last = NULL;
	size_t n = 0;
	*msgs = 0;
	for (struct twin_op *e = first; e && n < max; e = e->next) {
		close_entry(q, e);
		*msgs += e->group_msgs;
		q->bytes -= e->group_bytes;
		last = e;
		n++;
	}
	if (!last) {
		*done = q->last_seq;
		return NULL;
	}
	q->head = last->next;
	last->next = NULL;
	q->count -= n;
	q->messages -= *msgs;
	if (!q->head) {
		q->tail = NULL;
	}
	/* a message joined an entry older than itself: everything before the first entry left behind is out */
	*done = q->head ? q->head->seq - 1 : q->last_seq;
	return first;
}

bool twin_opq_stopping(struct twin_opq *q)
{
	pthread_mutex_lock(&q->lock);
	bool stop = q->stop;
	pthread_mutex_unlock(&q->lock);
	return stop;
}

void twin_opq_stop(struct twin_opq *q)
{
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_mutex_unlock(&q->lock);
	pthread_cond_signal(&q->cond);
}

void twin_opq_hurry(struct twin_opq *q)
{
	pthread_mutex_lock(&q->lock);
	bool wake = q->head && !q->urgent;
	q->urgent = q->urgent || q->head;
	pthread_mutex_unlock(&q->lock);
	if (wake) {
		pthread_cond_signal(&q->cond);
	}
}

void twin_outq_init(struct twin_outq *q)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->room, NULL);
}

void twin_outq_destroy(struct twin_outq *q)
{
	struct twin_out_list l = {twin_outq_take(q), NULL};
	twin_out_list_free(&l);
	pthread_cond_destroy(&q->room);
	pthread_mutex_destroy(&q->lock);
}

size_t twin_out_bytes(const struct twin_out *o)
{
	return sizeof(*o) + (o->target ? strlen(o->target) : 0) + (o->topic ? strlen(o->topic) : 0) +
			o->payload_len + o->corr_len;
}

void twin_outq_wait_room(struct twin_outq *q, size_t cap)
{
	pthread_mutex_lock(&q->lock);
	while (q->bytes > cap && !q->stop) {
		pthread_cond_wait(&q->room, &q->lock);
	}
	pthread_mutex_unlock(&q->lock);
}

void twin_outq_stop(struct twin_outq *q)
{
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_broadcast(&q->room);
	pthread_mutex_unlock(&q->lock);
}

void twin_outq_push(struct twin_outq *q, struct twin_out_list *list)
{
	if (!list->head) {
		return;
	}
	size_t bytes = 0;
	for (const struct twin_out *o = list->head; o; o = o->next) {
		bytes += twin_out_bytes(o);
	}
	pthread_mutex_lock(&q->lock);
	q->bytes += bytes;
	twin_out_list_concat(&q->list, list);
	__atomic_store_n(&q->nonempty, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&q->lock);
}

struct twin_out *twin_outq_take(struct twin_outq *q)
{
	struct twin_out *head;
	if (!__atomic_load_n(&q->nonempty, __ATOMIC_ACQUIRE)) {
		return NULL;
	}
	pthread_mutex_lock(&q->lock);
	head = q->list.head;
	q->list.head = q->list.tail = NULL;
	q->bytes = 0;
	pthread_cond_broadcast(&q->room);
	__atomic_store_n(&q->nonempty, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&q->lock);
	return head;
}
