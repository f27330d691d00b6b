/* cluster_search.c - gathers of a fleet's searches (see cluster_search.h).
 *
 * A gather holds the app's route and request (a search, or stats), the slots whose shards have answered (any status) and
 * those that answered 200, and the 200 bodies. libnats's thread adds parts and marks a gather ready when
 * every slot has answered, a shard answered 4xx, or nobody listens; this file's thread takes ready and
 * expired gathers off the list (in insertion order, which with one timeout is deadline order) and
 * answers them: the merge of the 200 parts (stats: every number summed, "shards" their count), flagged
 * incomplete with the slots missing; a 4xx as it came;
 * with no 200 part a shard's 5xx as it came, else a 503 that says why.
 * Threads: twin_gathers_add on the broker thread, twin_gathers_part on libnats's, the rest on its own.
 * Must never: merge or wait on the caller's thread. */
#include "cluster_search.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cluster_slot.h"
#include "cluster_wire.h"
#include "front.h"
#include "request.h"
#include "search_merge.h"

#define MAX_PARTS 64 /* shards answering one search; more are left out as missing */

struct gather {
	struct gather *next;
	uint64_t key;
	int64_t deadline_ms;
	struct twin_route *route;
	struct twin_slot_set answered, ok;
	struct twin_search_part parts[MAX_PARTS]; /* the 200 bodies (owned) */
	int n_parts;
	int fail_status; /* a 4xx, or with no 200 part a 5xx, passed on as it came */
	char *fail_body;
	size_t fail_len;
	bool ready, no_responders, stats;
	size_t len;
	char payload[];
};

struct twin_gathers {
	unsigned nslots;
	int64_t timeout_ms;
	void (*deliver)(void *ctx, struct twin_out *o);
	void *ctx;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct gather *head; /* in deadline order */
	bool stop;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void gather_free(struct gather *q)
{
	for (int i = 0; i < q->n_parts; i++) {
		free((char *)q->parts[i].body); // NOLINT(clang-diagnostic-cast-qual): owned, const for the merge
	}
	free(q->fail_body);
	twin_slot_set_free(&q->answered);
	twin_slot_set_free(&q->ok);
	twin_route_free(q->route);
	free(q);
}

/* ---- the caller's threads ---- */

enum twin_rc twin_gathers_add(struct twin_gathers *g, uint64_t key, struct twin_route *r, bool stats,
		const void *payload, size_t len)
{
	struct twin_error err;
	struct gather *q = calloc(1, sizeof(*q) + len + 1);
	if (!q || twin_slot_set_parse(&q->answered, "", g->nslots, &err) != TWIN_OK ||
			twin_slot_set_parse(&q->ok, "", g->nslots, &err) != TWIN_OK) {
		if (q) {
			q->route = r;
			gather_free(q);
		} else {
			twin_route_free(r);
		}
		return TWIN_ERR_NOMEM;
	}
	q->key = key;
	q->route = r;
	q->stats = stats;
	q->deadline_ms = now_ms() + g->timeout_ms;
	q->len = len;
	if (len) {
		memcpy(q->payload, payload, len);
	}
	pthread_mutex_lock(&g->lock);
	struct gather **at = &g->head;
	while (*at) {
		at = &(*at)->next;
	}
	*at = q;
	pthread_cond_signal(&g->cond); /* the thread may be waiting with no deadline */
	pthread_mutex_unlock(&g->lock);
	return TWIN_OK;
}

static char *copy(const void *data, size_t len)
{
	char *c = malloc(len + 1);
	if (c) {
		memcpy(c, data, len);
		c[len] = '\0';
	}
	return c;
}

/* A part's slots and status into q, with g->lock held; false when it is not a part. */
static bool add_part(struct twin_gathers *g, struct gather *q, const void *data, size_t len)
{
	const char *slots;
	const void *body;
	size_t slots_len, body_len;
	int status;
	struct twin_slot_set got;
	struct twin_error err;
	char *spec;
	if (!twin_wire_part_decode(data, len, &slots, &slots_len, &status, &body, &body_len) ||
			!(spec = copy(slots, slots_len))) {
		return false;
	}
	enum twin_rc rc = twin_slot_set_parse(&got, spec, g->nslots, &err);
	free(spec);
	if (rc != TWIN_OK) {
		return false;
	}
	twin_slot_set_add(&q->answered, &got);
	char *text = copy(body, body_len);
	if (status == 200 && text && q->n_parts < MAX_PARTS) {
		twin_slot_set_add(&q->ok, &got);
		q->parts[q->n_parts++] = (struct twin_search_part){text, body_len};
		text = NULL;
	} else if (status != 200 && text && (!q->fail_body || (status < 500 && q->fail_status >= 500))) {
		free(q->fail_body);
		q->fail_status = status;
		q->fail_body = text;
		q->fail_len = body_len;
		text = NULL;
	}
	free(text);
	twin_slot_set_free(&got);
	q->ready = q->answered.owned == g->nslots || (status >= 400 && status < 500);
	return true;
}

bool twin_gathers_part(struct twin_gathers *g, uint64_t key, bool no_responders, const void *data,
		size_t len)
{
	pthread_mutex_lock(&g->lock);
	struct gather *q = g->head;
	while (q && q->key != key) {
		q = q->next;
	}
	if (q && !q->ready) {
		if (no_responders) {
			q->no_responders = q->ready = true;
		} else {
			add_part(g, q, data, len);
		}
		if (q->ready) {
			pthread_cond_signal(&g->cond);
		}
	}
	pthread_mutex_unlock(&g->lock);
	return q != NULL;
}

/* ---- the gather thread ---- */

static struct twin_out *busy(const struct twin_route *r, const char *msg)
{
	struct twin_error err;
	twin_fail(&err, TWIN_ERR_BUSY, "%s", msg);
	return twin_answer_error(r, &err, NULL);
}

/* The parts' $twin/stats: every number summed (each shard's counters and gauges are its own), the rest
 * (version, token) as the first part says, and "shards": how many answered. */
static char *stats_sum(const struct gather *q, const char *missing, size_t *len, struct twin_error *err)
{
	cJSON *sum = cJSON_ParseWithLength(q->parts[0].body, q->parts[0].len);
	bool ok = cJSON_IsObject(sum);
	for (int i = 1; ok && i < q->n_parts; i++) {
		cJSON *part = cJSON_ParseWithLength(q->parts[i].body, q->parts[i].len), *f;
		cJSON_ArrayForEach(f, sum)
		{
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(part, f->string);
			if (cJSON_IsNumber(f) && cJSON_IsNumber(v)) {
				cJSON_SetNumberHelper(f, f->valuedouble + v->valuedouble);
			}
		}
		cJSON_Delete(part);
	}
	char *text = NULL;
	if (ok && cJSON_AddNumberToObject(sum, "shards", q->n_parts) &&
			(!missing || (cJSON_AddTrueToObject(sum, "incomplete") &&
								 cJSON_AddStringToObject(sum, "missing_slots", missing)))) {
		text = cJSON_PrintUnformatted(sum);
	}
	cJSON_Delete(sum);
	if (!text) {
		twin_fail(err, TWIN_ERR_NOMEM, "cannot sum the shards' stats");
		return NULL;
	}
	*len = strlen(text);
	return text;
}

static struct twin_out *answer(const struct twin_gathers *g, const struct gather *q)
{
	struct twin_error err;
	if (q->fail_body && (q->fail_status < 500 || !q->n_parts)) {
		return twin_answer_raw(q->route, q->fail_status, q->fail_body, q->fail_len);
	}
	if (!q->n_parts) {
		char msg[160];
		if (q->no_responders) {
			return busy(q->route, "no shard serves searches now (are the shards connected to NATS?); retry");
		}
		snprintf(msg, sizeof(msg), "no shard answered the search within cluster_search_timeout_ms=%lld; retry",
				(long long)g->timeout_ms);
		return busy(q->route, msg);
	}
	char *missing = NULL, *body = NULL;
	size_t len = 0;
	if (q->ok.owned < g->nslots && !(missing = twin_slot_set_missing(&q->ok))) {
		twin_fail(&err, TWIN_ERR_NOMEM, "out of memory");
	} else {
		body = q->stats ? stats_sum(q, missing, &len, &err)
						: twin_search_merge(q->payload, q->len, q->parts, q->n_parts, missing, &len, &err);
	}
	struct twin_out *o = body ? twin_answer_raw(q->route, 200, body, len)
							  : twin_answer_error(q->route, &err, NULL);
	free(body);
	free(missing);
	return o;
}

/* The first gather that is ready or past its deadline, taken off the list; NULL: none (*wait_ms says
 * until when to wait, -1: for ever). With g->lock held. */
static struct gather *take_due(struct twin_gathers *g, int64_t *wait_ms)
{
	int64_t now = now_ms();
	*wait_ms = g->head ? g->head->deadline_ms - now : -1;
	for (struct gather **at = &g->head; *at; at = &(*at)->next) {
		if ((*at)->ready || (*at)->deadline_ms <= now) {
			struct gather *q = *at;
			*at = q->next;
			return q;
		}
	}
	return NULL;
}

static void *run(void *arg)
{
	struct twin_gathers *g = arg;
	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		int64_t wait_ms;
		struct gather *q = take_due(g, &wait_ms);
		if (q) {
			pthread_mutex_unlock(&g->lock);
			struct twin_out *o = answer(g, q);
			if (o) {
				g->deliver(g->ctx, o);
			}
			gather_free(q);
			pthread_mutex_lock(&g->lock);
		} else if (wait_ms < 0) {
			pthread_cond_wait(&g->cond, &g->lock);
		} else {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += wait_ms / 1000;
			until.tv_nsec += (wait_ms % 1000) * 1000000L + 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&g->cond, &g->lock, &until);
		}
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

enum twin_rc twin_gathers_open(unsigned nslots, int64_t timeout_ms,
		void (*deliver)(void *ctx, struct twin_out *o), void *ctx, struct twin_gathers **out,
		struct twin_error *err)
{
	struct twin_gathers *g = calloc(1, sizeof(*g));
	if (!g) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	g->nslots = nslots;
	g->timeout_ms = timeout_ms;
	g->deliver = deliver;
	g->ctx = ctx;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	if (pthread_create(&g->thread, NULL, run, g) != 0) {
		pthread_cond_destroy(&g->cond);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return twin_fail(err, TWIN_ERR_NOMEM, "cannot start the cluster search thread");
	}
	*out = g;
	return TWIN_OK;
}

void twin_gathers_close(struct twin_gathers *g)
{
	if (!g) {
		return;
	}
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	for (struct gather *q = g->head, *next; q; q = next) {
		next = q->next;
		gather_free(q);
	}
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g);
}
