/* test_search.c - searches over a real store: filter, sort, pages with a cursor that stays correct while
 * twins are written between pages, count, fields, errors, scopes and the deadline; and the searcher
 * thread: the bounded wait for earlier writes, the bounded queue, shutdown. */
#include <time.h>

#include "check.h"
#include "presence.h"
#include "search.h"
#include "twin.h"
#include "twin_format.h"

static struct twin_route route = {.client_id = "app", .request_topic = "$twin/search"};

static void put_twin(struct twin_store *s, const char *id, const char *site, double temp)
{
	struct twin_error err;
	char patch[128];
	cJSON *doc = twin_doc_create(id, strlen(id), 0, 1);
	snprintf(patch, sizeof(patch), "{\"site\":\"%s\"}", site);
	cJSON *a = cJSON_Parse(patch);
	snprintf(patch, sizeof(patch), "{\"tempTop\":%g}", temp);
	cJSON *r = cJSON_Parse(patch);
	twin_doc_patch(doc, TWIN_SEC_ATTRIBUTES, a, 1, NULL);
	twin_doc_patch(doc, TWIN_SEC_REPORTED, r, 1, NULL);
	twin_doc_bump(doc, 3u, 1);
	struct twin_buf val = {0};
	twin_doc_store(doc, &val);
	twin_store_write_begin(s, &err);
	twin_store_put(s, id, strlen(id), val.data, val.len, &err);
	twin_store_commit(s, &err);
	twin_buf_free(&val);
	cJSON_Delete(a);
	cJSON_Delete(r);
	cJSON_Delete(doc);
}

static cJSON *search(struct twin_store *s, const char *body, int *status)
{
	struct twin_search_ctx ctx = {.max_depth = 16};
	struct twin_out *o = twin_search_run(s, &route, body, strlen(body), &ctx);
	cJSON *j = cJSON_Parse(o->payload);
	*status = o->status;
	twin_out_free(o);
	return j;
}

static const char *item_id(cJSON *answer, int i)
{
	return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(answer, "items"), i), "id")
			->valuestring;
}

TEST(search_should_filter_sort_count_and_page)
{
	char *dir = check_tmpdir();
	struct twin_store *s;
	struct twin_error err;
	int status;
	twin_store_open(dir, 1 << 22, 1 << 22, &s, &err);
	put_twin(s, "r1", "dc1", 25);
	put_twin(s, "r2", "dc1", 33);
	put_twin(s, "r3", "dc2", 40);
	put_twin(s, "r4", "dc1", 31);
	put_twin(s, "r5", "dc1", 36);
	cJSON *a = search(s, "{\"filter\":\"and(eq(attributes/site,\\\"dc1\\\"),gt(reported/tempTop,30))\","
						  "\"sort\":[\"-reported/tempTop\"],\"limit\":2,\"count\":true}", &status);
	CHECK_INT(status, 200);
	CHECK_INT(cJSON_GetObjectItem(a, "count")->valueint, 3);
	CHECK_STR(item_id(a, 0), "r5");
	CHECK_STR(item_id(a, 1), "r2");
	const char *cursor = cJSON_GetObjectItem(a, "cursor")->valuestring;
	/* written between pages: a new hottest twin, and r4 changes but keeps its place */
	put_twin(s, "r6", "dc1", 50);
	char next[512];
	snprintf(next, sizeof(next), "{\"filter\":\"and(eq(attributes/site,\\\"dc1\\\"),gt(reported/tempTop,30))\","
			"\"sort\":[\"-reported/tempTop\"],\"limit\":2,\"cursor\":\"%s\"}", cursor);
	cJSON *b = search(s, next, &status);
	CHECK_INT(status, 200);
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(b, "items")), 1);
	CHECK_STR(item_id(b, 0), "r4");
	CHECK(!cJSON_GetObjectItem(b, "cursor")); /* last page */
	cJSON_Delete(a);
	cJSON_Delete(b);
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}

TEST(search_should_page_by_id_and_select_fields)
{
	char *dir = check_tmpdir();
	struct twin_store *s;
	struct twin_error err;
	int status;
	twin_store_open(dir, 1 << 22, 1 << 22, &s, &err);
	for (int i = 0; i < 7; i++) {
		char id[8];
		snprintf(id, sizeof(id), "t%d", i);
		put_twin(s, id, "dc1", i);
	}
	cJSON *a = search(s, "{\"limit\":3,\"fields\":[\"reported/tempTop\"]}", &status);
	CHECK_STR(item_id(a, 0), "t0");
	CHECK_STR(item_id(a, 2), "t2");
	char *first = cJSON_PrintUnformatted(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "items"), 1));
	CHECK_STR(first, "{\"id\":\"t1\",\"version\":1,\"reported\":{\"tempTop\":1}}");
	free(first);
	char next[256];
	snprintf(next, sizeof(next), "{\"limit\":3,\"cursor\":\"%s\"}",
			cJSON_GetObjectItem(a, "cursor")->valuestring);
	cJSON *b = search(s, next, &status);
	CHECK_STR(item_id(b, 0), "t3");
	cJSON_Delete(a);
	cJSON_Delete(b);
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}

TEST(search_should_leave_connected_to_the_broker_thread)
{
	char *dir = check_tmpdir();
	struct twin_store *s;
	struct twin_error err;
	struct twin_search_ctx ctx = {.max_depth = 16};
	struct twin_presence *present = NULL;
	twin_store_open(dir, 1 << 22, 1 << 22, &s, &err);
	put_twin(s, "r1", "dc1", 20);
	put_twin(s, "r2", "dc1", 21);
	put_twin(s, "r3", "dc2", 22);
	twin_presence_set(&present, "r2", 2);
	static const char body[] = "{\"fields\":[\"connected\",\"attributes/site\"],\"token\":\"t\"}";
	struct twin_out *o = twin_search_run(s, &route, body, strlen(body), &ctx);
	CHECK_CONTAINS(o->payload, "\"id\":\"r2\",\"version\":1,\"attributes\":{\"site\":\"dc1\"},\"connected\":false}");
	twin_presence_fill(present, o->payload, o->marks); /* as the broker thread does */
	cJSON *a = cJSON_Parse(o->payload);
	cJSON *items = cJSON_GetObjectItem(a, "items");
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(items, 0), "connected")));
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(items, 1), "connected")));
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(items, 2), "connected")));
	CHECK_STR(cJSON_GetObjectItem(a, "token")->valuestring, "t");
	cJSON_Delete(a);
	twin_out_free(o);
	/* a full twin has it last; a selection without it has none and no marks */
	o = twin_search_run(s, &route, "{\"limit\":1}", 11, &ctx);
	CHECK_CONTAINS(o->payload, "},\"connected\":false}],\"cursor\":");
	CHECK(o->marks != NULL);
	twin_out_free(o);
	o = twin_search_run(s, &route, "{\"fields\":[\"reported\"]}", 23, &ctx);
	CHECK(!strstr(o->payload, "connected") && !o->marks);
	twin_out_free(o);
	twin_presence_free(&present);
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}

TEST(search_should_refuse_bad_requests_with_reasons)
{
	char *dir = check_tmpdir();
	struct twin_store *s;
	struct twin_error err;
	int status;
	twin_store_open(dir, 1 << 22, 1 << 22, &s, &err);
	static const char *cases[][2] = {
			{"{\"filter\":\"eq(a,\"}", "expected a value: \"string\", number, true, false or null at position 5"},
			{"{\"limit\":500}", "'limit' must be an integer from 1 to 200"},
			{"{\"sort\":\"id\"}", "'sort' must be an array"},
			{"{\"cursor\":\"zzz\"}", "invalid 'cursor'"},
			{"{\"count\":1}", "'count' must be true or false"},
			{"{\"filtr\":\"x\"}", "unknown field 'filtr'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *a = search(s, cases[i][0], &status);
		const cJSON *e = cJSON_GetObjectItem(a, "error");
		if (status != 400 || !cJSON_IsString(e) || !strstr(e->valuestring, cases[i][1])) {
			CHECK_FAIL("%s: status %d, '%s'", cases[i][0], status, cJSON_IsString(e) ? e->valuestring : "");
		}
		cJSON_Delete(a);
	}
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}

static cJSON *search_as(struct twin_store *s, const char *spec, const char *user, const char *body,
		int *status)
{
	struct twin_scope scope;
	twin_scope_bind(&scope, spec, NULL, user, "app");
	struct twin_search_ctx ctx = {.max_depth = 16, .scope = &scope};
	struct twin_out *o = twin_search_run(s, &route, body, strlen(body), &ctx);
	cJSON *j = cJSON_Parse(o->payload);
	*status = o->status;
	twin_out_free(o);
	twin_scope_free(&scope);
	return j;
}

static int64_t count_of(cJSON *answer)
{
	const cJSON *c = cJSON_GetObjectItem(answer, "count");
	return cJSON_IsNumber(c) ? (int64_t)c->valuedouble : -1;
}

TEST(search_should_see_only_the_requesters_scope)
{
	char *dir = check_tmpdir();
	struct twin_store *s;
	struct twin_error err;
	int status;
	twin_store_open(dir, 1 << 22, 1 << 22, &s, &err);
	const char *ids[] = {"acm:1", "acme", "acme:1", "acme:2", "acme:3", "acme;", "acmeX:1", "beta:1"};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		put_twin(s, ids[i], i % 2 ? "acme" : "beta", (double)i);
	}
	cJSON *a = search_as(s, "id:%u:", "acme", "{\"limit\":2,\"count\":true}", &status);
	CHECK_INT(status, 200);
	CHECK_INT(count_of(a), 3);
	CHECK_STR(item_id(a, 0), "acme:1");
	CHECK_STR(item_id(a, 1), "acme:2");
	char next[256];
	snprintf(next, sizeof(next), "{\"limit\":2,\"cursor\":\"%s\"}",
			cJSON_GetObjectItem(a, "cursor")->valuestring);
	cJSON *b = search_as(s, "id:%u:", "acme", next, &status);
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(b, "items")), 1);
	CHECK_STR(item_id(b, 0), "acme:3");
	CHECK(!cJSON_GetObjectItem(b, "cursor"));
	cJSON_Delete(a);
	cJSON_Delete(b);
	/* a cursor from another tenant's listing does not widen the scope */
	snprintf(next, sizeof(next), "{\"cursor\":\"%s\",\"count\":true}", "eyJrIjpbXSwiaSI6ImEifQ");
	a = search_as(s, "id:%u:", "beta", next, &status); /* cursor {"k":[],"i":"a"} */
	CHECK_INT(status, 200);
	CHECK_INT(count_of(a), 1);
	CHECK_STR(item_id(a, 0), "beta:1");
	cJSON_Delete(a);
	snprintf(next, sizeof(next), "{\"cursor\":\"%s\"}", "eyJrIjpbXSwiaSI6ImEifQ");
	a = search_as(s, "id:%u:", "beta", next, &status); /* by id without count: starts at the prefix */
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(a, "items")), 1);
	CHECK_STR(item_id(a, 0), "beta:1");
	cJSON_Delete(a);
	/* sorted, with a filter: the scope still holds */
	a = search_as(s, "id:%u:", "acme", "{\"sort\":[\"-reported/tempTop\"],\"count\":true,"
			"\"filter\":\"ge(reported/tempTop,0)\"}", &status);
	CHECK_INT(count_of(a), 3);
	CHECK_STR(item_id(a, 0), "acme:3");
	cJSON_Delete(a);
	/* an attribute scope: site (the put_twin attribute) = the username */
	a = search_as(s, "attributes/site=%u", "acme", "{\"count\":true}", &status);
	CHECK_INT(count_of(a), 4);
	cJSON_Delete(a);
	/* no username: nothing */
	a = search_as(s, "id:%u:", NULL, "{\"count\":true}", &status);
	CHECK_INT(status, 200);
	CHECK_INT(count_of(a), 0);
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(a, "items")), 0);
	cJSON_Delete(a);
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}

TEST(search_should_answer_503_past_its_deadline)
{
	char *dir = check_tmpdir();
	struct twin_store *s;
	struct twin_error err;
	twin_store_open(dir, 1 << 22, 1 << 22, &s, &err);
	for (int i = 0; i < 200; i++) {
		char id[16];
		snprintf(id, sizeof(id), "d%03d", i);
		put_twin(s, id, "dc1", i);
	}
	struct twin_search_ctx ctx = {.max_depth = 16, .deadline_ms = 1, .timeout_ms = 5};
	const char *body = "{\"count\":true}";
	struct twin_out *o = twin_search_run(s, &route, body, strlen(body), &ctx);
	CHECK_INT(o->status, 503);
	CHECK(strstr(o->payload, "longer than search_timeout_ms=5") != NULL);
	twin_out_free(o);
	atomic_bool stop = true;
	ctx.deadline_ms = 0;
	ctx.stop = &stop;
	o = twin_search_run(s, &route, body, strlen(body), &ctx);
	CHECK_INT(o->status, 503);
	CHECK(strstr(o->payload, "the broker is stopping") != NULL);
	twin_out_free(o);
	twin_store_close(s);
	check_rmdir(dir);
	free(dir);
}

/* ---- the searcher thread ---- */

static void no_wake(void *ctx)
{
	(void)ctx;
}

struct rig {
	char *dir;
	struct twin_store *store;
	struct twin_opq writes;
	struct twin_outq out;
	_Atomic uint64_t done_seq;
	struct twin_config cfg;
	struct twin_searcher *searcher;
};

static void rig_start(struct rig *r, int64_t timeout_ms, int64_t queue_size)
{
	struct twin_error err;
	memset(r, 0, sizeof(*r));
	r->dir = check_tmpdir();
	twin_store_open(r->dir, 1 << 22, 1 << 22, &r->store, &err);
	put_twin(r->store, "x1", "dc1", 1);
	twin_opq_init(&r->writes, 16, 1 << 20);
	twin_outq_init(&r->out);
	twin_config_parse(&r->cfg, NULL, NULL, 0, &err);
	r->cfg.search_timeout_ms = timeout_ms;
	r->cfg.search_queue_size = queue_size;
	struct twin_searcher_deps d = {r->store, &r->writes, &r->out, &r->done_seq, no_wake, NULL, &r->cfg};
	twin_searcher_start(&d, &r->searcher);
}

static struct twin_route *new_route(void)
{
	struct twin_route *rt = calloc(1, sizeof(*rt));
	rt->client_id = strdup("app");
	rt->request_topic = strdup("$twin/search");
	return rt;
}

/* Answers in the out queue (waits up to 5 s for the first when want > 0). */
static int take_answers(struct rig *r, int want, struct twin_out **first)
{
	int n = 0;
	*first = NULL;
	for (int tries = 0; tries < 5000; tries++) {
		for (struct twin_out *o = twin_outq_take(&r->out), *next; o; o = next) {
			next = o->next;
			if (!*first) {
				*first = o;
				o->next = NULL;
			} else {
				twin_out_free(o);
			}
			n++;
		}
		if (n >= want) {
			break;
		}
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
	return n;
}

static void rig_stop(struct rig *r)
{
	twin_searcher_stop(r->searcher);
	struct twin_out *o;
	take_answers(r, 0, &o);
	twin_out_free(o);
	twin_outq_destroy(&r->out);
	twin_opq_destroy(&r->writes);
	twin_config_free(&r->cfg);
	twin_store_close(r->store);
	check_rmdir(r->dir);
	free(r->dir);
}

TEST(searcher_should_say_when_it_stopped_waiting_for_earlier_writes)
{
	struct rig r;
	struct twin_error err;
	struct twin_out *o;
	rig_start(&r, 40, 64);
	/* op 1 never commits (no writer here): the search waits 20 ms, then answers, flagged */
	CHECK_INT(twin_searcher_submit(r.searcher, new_route(), NULL, "{}", 2, 1, false, &err), TWIN_OK);
	CHECK_INT(take_answers(&r, 1, &o), 1);
	CHECK_INT(o->status, 200);
	CHECK(strstr(o->payload, "\"stale\":true") != NULL);
	CHECK(strstr(o->payload, "\"x1\"") != NULL);
	twin_out_free(o);
	/* caught up: no flag */
	atomic_store(&r.done_seq, 1);
	CHECK_INT(twin_searcher_submit(r.searcher, new_route(), NULL, "{}", 2, 1, false, &err), TWIN_OK);
	CHECK_INT(take_answers(&r, 1, &o), 1);
	CHECK(strstr(o->payload, "stale") == NULL);
	twin_out_free(o);
	rig_stop(&r);
}

TEST(searcher_should_bound_its_queue_and_drop_it_at_shutdown)
{
	struct rig r;
	struct twin_error err;
	struct twin_out *o;
	/* each search would wait 30 s for op 1: without cancellation stopping takes a minute (the ctest
	 * timeout) */
	rig_start(&r, 60000, 1);
	int accepted = 0, busy = 0;
	for (int i = 0; i < 3; i++) {
		struct twin_route *rt = new_route();
		enum twin_rc rc = twin_searcher_submit(r.searcher, rt, "u", "{}", 2, 1, false, &err);
		if (rc == TWIN_OK) {
			accepted++;
		} else {
			CHECK_INT(rc, TWIN_ERR_BUSY);
			CHECK_CONTAINS(err.msg, "search_queue_size");
			twin_route_free(rt);
			busy++;
		}
	}
	CHECK(accepted <= 2); /* one running, one waiting */
	CHECK(busy >= 1);
	twin_searcher_stop(r.searcher);
	r.searcher = NULL;
	CHECK(take_answers(&r, 0, &o) <= 1); /* the queued one was dropped unanswered */
	twin_out_free(o);
	rig_stop(&r);
}
