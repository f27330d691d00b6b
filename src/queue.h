/* queue.h - what crosses between the broker thread and the writer thread, and the two queues that carry
 * it: operations (broker -> writer, bounded) and outbound messages (writer -> broker). Ownership of an
 * element moves with push and take; nothing else is shared between the threads. */
#ifndef TWIN_QUEUE_H
#define TWIN_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <uthash.h>

#include "twin_common.h"

/* Where the answer to a request goes, and in which API's form (the front it came in on). */
struct twin_route {
	int front;            /* enum twin_front */
	char *client_id;      /* the requester: answers are delivered to it only */
	char *response_topic; /* MQTT v5 response topic, or NULL: {request_topic}/accepted|rejected */
	char *request_topic;
	void *corr; /* correlation data, copied back */
	uint16_t corr_len;
	char *token; /* AWS: the request's clientToken, for answers made before it is parsed; else NULL */
	char *rid;   /* Azure: the request id, echoed in the answer topic; else NULL */
};

enum twin_op_kind {
	TWIN_OP_TELEMETRY, /* id: the twin; path: the sub-path levels when the pattern ended in "/#" */
	TWIN_OP_GATEWAY,   /* a batch of several devices; id: the publishing client, for logs */
	TWIN_OP_UPDATE,
	TWIN_OP_DELETE,
	TWIN_OP_ACK,     /* acknowledges one of the twin's alarms */
	TWIN_OP_BARRIER, /* a get that must wait until earlier writes to its twin are committed */
	TWIN_OP_STORE,   /* store_call(payload) in the batch's transaction (a slot copied between shards) */
};

struct twin_presence_marks;

enum twin_out_kind { TWIN_OUT_PUBLISH, TWIN_OUT_LOG, TWIN_OUT_RETRY_GET };

/* A message for the broker thread: publish it, log it, or run a deferred get again. */
struct twin_out {
	struct twin_out *next;
	enum twin_out_kind kind;
	char *target; /* client id for a targeted publish; NULL broadcasts */
	char *topic;
	char *payload; /* for LOG: the text */
	size_t payload_len;
	void *corr;
	uint16_t corr_len;
	int status; /* > 0: add the user property status=<n> */
	bool to_session; /* target is a device id: deliver to the client holding its Azure session, or drop */
	int qos;
	bool retain;
	enum twin_log_level level;
	struct twin_op *op; /* RETRY_GET */
	struct twin_presence_marks *marks; /* a search answer: its `connected` values, set by the broker thread */
};

/* A simple singly linked list of outbound messages. */
struct twin_out_list {
	struct twin_out *head, *tail;
};
void twin_out_list_add(struct twin_out_list *l, struct twin_out *o);
void twin_out_list_concat(struct twin_out_list *l, struct twin_out_list *more);
void twin_out_list_free(struct twin_out_list *l);
/* Frees every message after keep (NULL: all of them), which becomes the tail. */
void twin_out_list_truncate(struct twin_out_list *l, struct twin_out *keep);

struct twin_store;
/* Runs on the writer thread inside its write transaction; must give the same result when run again
 * (a batch that fills the map is applied again after the map grew). */
typedef enum twin_rc (*twin_store_call_fn)(struct twin_store *s, const char *payload, size_t len,
		struct twin_error *err);

struct twin_op {
	struct twin_op *next;
	/* Telemetry only: later messages of the same twin that arrived while this one waited, in arrival order.
	 * The writer applies them together as one change of the twin (one version, one event). */
	struct twin_op *more, *more_tail;
	size_t group_msgs, group_bytes; /* this op and its `more` chain: messages and queue bytes */
	UT_hash_handle hh;              /* the queue's open telemetry entries, by id */
	uint64_t slot_gen;              /* the queue's generation when it opened (see twin_opq) */
	bool open;                      /* in the queue's open entries */
	enum twin_op_kind kind;
	uint64_t seq;
	int64_t ts;
	struct twin_route *route;     /* NULL for telemetry */
	struct twin_out *answer;      /* writer thread: the answer, sent if the batch commits */
	struct twin_out_list events;  /* writer thread: $twin/{id}/events messages, likewise */
	int verb;                     /* TWIN_OP_BARRIER: the read to run again (enum twin_verb) */
	twin_store_call_fn store_call; /* TWIN_OP_STORE */
	size_t readings;              /* telemetry: the readings it carries, what it costs of telemetry_rate */
	size_t oversize;              /* telemetry over max_twin_bytes: its size (the payload is not copied) */
	char *id, *path, *payload;    /* point into data[] */
	size_t id_len, path_len, payload_len;
	char data[];
};

struct twin_op *twin_op_new(enum twin_op_kind kind, const char *id, size_t id_len,
		const void *payload, size_t payload_len, struct twin_route *route);
/* The same with a telemetry sub-path (path_len 0: none), copied in the same allocation. */
struct twin_op *twin_op_new_at(enum twin_op_kind kind, const char *id, size_t id_len,
		const char *path, size_t path_len, const void *payload, size_t payload_len,
		struct twin_route *route);
void twin_op_free(struct twin_op *op);
void twin_route_free(struct twin_route *r);

/* A publish; payload and topic are copied. NULL on allocation failure. */
struct twin_out *twin_out_publish(const char *target, const char *topic, const void *payload,
		size_t len, int qos, bool retain);
struct twin_out *twin_out_log(enum twin_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void twin_out_free(struct twin_out *o);

/* Operations, broker -> writer: a FIFO of entries, where a telemetry message for a twin that already has
 * telemetry waiting (and no request queued after it) joins that entry instead of taking a new one. So
 * under a backlog the entries are bounded by the twins with pending changes, not by the messages, and the
 * writer does one twin's work once for all its waiting messages. A request closes its twin's entry
 * (telemetry after it queues after it); a gateway batch closes every entry (it may touch any twin).
 * Bounded twice: at most cap entries, and at most bytes_cap bytes of queued messages; past either, push
 * fails with TWIN_ERR_BUSY. */
struct twin_opq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct twin_op *head, *tail;
	size_t count, cap;        /* entries */
	size_t messages;          /* messages, coalesced ones included */
	size_t bytes, bytes_cap;  /* what the queued messages take */
	struct twin_op *open;     /* uthash by id: telemetry entries later messages of their twin may join */
	uint64_t slot_gen;        /* bumped by a gateway batch: open entries of older generations are closed */
	uint64_t last_seq;        /* the seq of the newest message pushed */
	int64_t oldest_ms; /* arrival of the oldest queued op */
	bool urgent;       /* a request is queued: commit without waiting for the interval */
	bool stop;
};
void twin_opq_init(struct twin_opq *q, size_t cap, size_t bytes_cap);
void twin_opq_destroy(struct twin_opq *q);
/* The bytes a queued op accounts for. */
size_t twin_op_bytes(const struct twin_op *op);
enum twin_rc twin_opq_push(struct twin_opq *q, struct twin_op *op, int64_t now_ms);
/* With the lock held: detaches up to max entries from the head. *done receives the newest seq such that
 * every message with a seq up to it is in the detached entries (or was detached before), *msgs their
 * message count. */
struct twin_op *twin_opq_detach_locked(struct twin_opq *q, size_t max, uint64_t *done, size_t *msgs);
void twin_opq_stop(struct twin_opq *q);
/* Whether twin_opq_stop was called. */
bool twin_opq_stopping(struct twin_opq *q);
/* Asks the writer to commit what is queued now, without waiting for the commit interval. */
void twin_opq_hurry(struct twin_opq *q);

/* Outbound messages, writer (and search thread) -> broker. Bounded in bytes by the writer waiting for room
 * (twin_outq_wait_room) before each batch: a broker thread that falls behind slows the writer, whose own
 * queue then refuses work, instead of the messages piling up in memory. The search thread's answers are
 * bounded by its own queue (search_queue_size). */
struct twin_outq {
	pthread_mutex_t lock;
	pthread_cond_t room;
	struct twin_out_list list;
	size_t bytes;  /* what the messages waiting take */
	bool stop;     /* the broker thread takes no more: nobody waits for room */
	bool nonempty; /* read without the lock as a cheap hint; the lock decides */
};
void twin_outq_init(struct twin_outq *q);
/* The bytes a message accounts for. */
size_t twin_out_bytes(const struct twin_out *o);
/* Waits until at most cap bytes wait (or the queue is stopped). */
void twin_outq_wait_room(struct twin_outq *q, size_t cap);
/* From now on nobody waits for room (the broker thread is shutting the plugin down). */
void twin_outq_stop(struct twin_outq *q);
void twin_outq_destroy(struct twin_outq *q);
void twin_outq_push(struct twin_outq *q, struct twin_out_list *list);
struct twin_out *twin_outq_take(struct twin_outq *q);

#endif
