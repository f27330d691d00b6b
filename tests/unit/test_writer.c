/* test_writer.c - one batch through the writer, synchronously: telemetry, updates, deletes, answers only
 * after the commit, desired messages, size limit, invalid telemetry, and the store-full path. */
#include "check.h"
#include "twin.h"
#include "twin_format.h"
#include "writer.h"

#include <stdarg.h>

struct fixture {
	char *dir;
	struct twin_config cfg;
	struct twin_store *store;
	struct twin_metrics metrics;
	_Atomic uint64_t done_seq;
	struct twin_writer *w;
	uint64_t seq;
};

static void no_wake(void *ctx)
{
	(void)ctx;
}

static void setup(struct fixture *f, const char *key, const char *value)
{
	struct twin_error err;
	/* events are off unless a test turns them on, so answers come first in the output */
	const char *keys[] = {"events", key}, *values[] = {"false", value};
	memset(f, 0, sizeof(*f));
	f->dir = check_tmpdir();
	twin_config_parse(&f->cfg, keys, values, key ? 2 : 1, &err);
	twin_store_open(f->dir, f->cfg.map_size, f->cfg.map_size_max, &f->store, &err);
	struct twin_writer_deps d = {f->store, &f->cfg, NULL, NULL, &f->metrics, &f->done_seq, NULL, no_wake, NULL};
	f->w = twin_writer_new(&d);
}

static void teardown(struct fixture *f)
{
	twin_writer_free(f->w);
	twin_store_close(f->store);
	twin_config_free(&f->cfg);
	check_rmdir(f->dir);
	free(f->dir);
}

static struct twin_op *op(enum twin_op_kind kind, const char *id, const char *body)
{
	struct twin_route *r = NULL;
	if (kind != TWIN_OP_TELEMETRY) {
		r = calloc(1, sizeof(*r));
		r->client_id = strdup("app");
		r->request_topic = strdup("$twin/x/update");
	}
	return twin_op_new(kind, id, strlen(id), body, strlen(body), r);
}

/* Runs the ops (a NULL-terminated list) as one batch; returns the outbound messages. Sequence numbers and
 * timestamps (1000 + seq, unless set) are given here, in list order. */
static struct twin_out *run(struct fixture *f, struct twin_op *first, ...)
{
	va_list ap;
	struct twin_out_list out = {0};
	struct twin_op *tail = first;
	va_start(ap, first);
	for (struct twin_op *o; (o = va_arg(ap, struct twin_op *)) != NULL; tail = o) {
		tail->next = o;
	}
	va_end(ap);
	for (struct twin_op *o = first; o; o = o->next) {
		o->seq = ++f->seq;
		if (!o->ts) { /* unless the test set an arrival time */
			o->ts = 1000 + (int64_t)f->seq;
		}
	}
	twin_writer_process(f->w, first, f->seq, &out);
	return out.head;
}

static void free_outs(struct twin_out *o)
{
	while (o) {
		struct twin_out *next = o->next;
		twin_out_free(o);
		o = next;
	}
}

static cJSON *stored(struct fixture *f, const char *id)
{
	const void *val;
	size_t len;
	cJSON *doc = NULL;
	twin_store_read_begin(f->store);
	if (twin_store_get(f->store, id, strlen(id), &val, &len) == TWIN_OK) {
		doc = twin_doc_load(id, strlen(id), val, len);
	}
	twin_store_read_end(f->store);
	return doc;
}

TEST(writer_should_coalesce_telemetry_into_one_twin)
{
	struct fixture f;
	setup(&f, NULL, NULL);
	struct twin_out *out = run(&f, op(TWIN_OP_TELEMETRY, "r1", "{\"t\":1}"),
			op(TWIN_OP_TELEMETRY, "r1", "{\"t\":2,\"h\":40}"),
			op(TWIN_OP_TELEMETRY, "r1", "{\"t\":2,\"h\":40}"),
			op(TWIN_OP_TELEMETRY, "r1", "not json"), NULL);
	CHECK(out != NULL && out->kind == TWIN_OUT_LOG && !out->next); /* no answers, one log line */
	CHECK_CONTAINS(out->payload, "telemetry for 'r1' ignored: malformed JSON");
	free_outs(out);
	cJSON *doc = stored(&f, "r1");
	CHECK(doc != NULL);
	CHECK_INT(twin_doc_version(doc), 2);
	CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "reported"), "t")->valueint, 2);
	CHECK_INT(cJSON_GetObjectItem(doc, "lastSeen")->valuedouble, 1003);
	CHECK_INT(f.metrics.telemetry_applied, 2);
	CHECK_INT(f.metrics.telemetry_unchanged, 1);
	CHECK_INT(f.metrics.telemetry_invalid, 1);
	CHECK_INT(f.done_seq, 4);
	cJSON_Delete(doc);
	teardown(&f);
}

TEST(writer_should_answer_updates_and_publish_the_delta)
{
	struct fixture f;
	setup(&f, NULL, NULL);
	struct twin_out *out = run(&f, op(TWIN_OP_UPDATE, "r2", "{\"desired\":{\"fan\":3},\"token\":\"t\"}"), NULL);
	CHECK(out != NULL);
	CHECK_INT(out->status, 200);
	CHECK_STR(out->topic, "$twin/x/update/accepted");
	CHECK_CONTAINS(out->payload, "\"version\":1");
	CHECK_CONTAINS(out->payload, "\"delta\":{\"fan\":3}");
	CHECK_CONTAINS(out->payload, "\"token\":\"t\"");
	CHECK(out->next != NULL);
	CHECK_STR(out->next->topic, "devices/r2/desired");
	CHECK(out->next->retain);
	CHECK_STR(out->next->payload, "{\"id\":\"r2\",\"version\":1,\"delta\":{\"fan\":3}}");
	free_outs(out);
	/* reported catches up: the retained message is cleared */
	out = run(&f, op(TWIN_OP_TELEMETRY, "r2", "{\"fan\":3}"), NULL);
	CHECK(out != NULL);
	CHECK_STR(out->topic, "devices/r2/desired");
	CHECK_INT(out->payload_len, 0);
	CHECK(out->retain);
	free_outs(out);
	teardown(&f);
}

TEST(writer_should_refuse_version_conflicts_and_continue_versions_after_delete)
{
	struct fixture f;
	setup(&f, NULL, NULL);
	free_outs(run(&f, op(TWIN_OP_UPDATE, "r3", "{\"attributes\":{\"site\":\"dc1\"}}"), NULL));
	struct twin_out *out = run(&f, op(TWIN_OP_UPDATE, "r3", "{\"attributes\":{\"row\":\"B\"},\"version\":7}"),
			op(TWIN_OP_UPDATE, "r3", "{\"attributes\":{\"row\":\"B\"},\"version\":1}"),
			op(TWIN_OP_DELETE, "r3", ""), op(TWIN_OP_DELETE, "r3", ""),
			op(TWIN_OP_UPDATE, "new", "{\"desired\":{},\"version\":0}"), NULL);
	CHECK_INT(out->status, 409);
	CHECK_CONTAINS(out->payload, "is at version 1, the request expected 7");
	CHECK_INT(out->next->status, 200);
	CHECK_INT(out->next->next->status, 200);
	CHECK_CONTAINS(out->next->next->payload, "\"version\":3");
	CHECK_INT(out->next->next->next->status, 404);
	CHECK_INT(out->next->next->next->next->status, 200);
	free_outs(out);
	cJSON *gone = stored(&f, "r3");
	CHECK(gone == NULL);
	out = run(&f, op(TWIN_OP_TELEMETRY, "r3", "{\"t\":1}"), NULL);
	cJSON *doc = stored(&f, "r3");
	CHECK(doc != NULL);
	CHECK_INT(twin_doc_version(doc), 4); /* never reused after delete */
	cJSON_Delete(doc);
	free_outs(out);
	teardown(&f);
}

/* {"reported":{"<key>":"xxx...x"}} with n x's */
static char *patch_of(const char *key, size_t n)
{
	char *body = malloc(n + 64);
	int k = sprintf(body, "{\"reported\":{\"%s\":\"", key);
	memset(body + k, 'x', n);
	strcpy(body + k + n, "\"}}");
	return body;
}

TEST(writer_should_refuse_twins_over_max_twin_bytes_and_keep_them_intact)
{
	struct fixture f;
	setup(&f, "max_twin_bytes", "2048");
	char *first = patch_of("a", 1200), *second = patch_of("b", 800);
	free_outs(run(&f, op(TWIN_OP_UPDATE, "r4", first), NULL));
	struct twin_out *out = run(&f, op(TWIN_OP_UPDATE, "r4", second), NULL);
	CHECK_INT(out->status, 413);
	CHECK_CONTAINS(out->payload, "max_twin_bytes=2048");
	free_outs(out);
	cJSON *doc = stored(&f, "r4");
	CHECK_INT(twin_doc_version(doc), 1);
	CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "reported"), "b"));
	cJSON_Delete(doc);
	free(first);
	free(second);
	teardown(&f);
}

TEST(writer_should_answer_507_when_the_store_cannot_grow)
{
	struct fixture f;
	const char *keys[] = {"map_size", "map_size_max"}, *values[] = {"1048576", "1048576"};
	struct twin_error err;
	memset(&f, 0, sizeof(f));
	f.dir = check_tmpdir();
	twin_config_parse(&f.cfg, keys, values, 2, &err);
	twin_store_open(f.dir, f.cfg.map_size, f.cfg.map_size_max, &f.store, &err);
	struct twin_writer_deps d = {f.store, &f.cfg, NULL, NULL, &f.metrics, &f.done_seq, NULL, no_wake, NULL};
	f.w = twin_writer_new(&d);
	char *body = malloc(60000);
	strcpy(body, "{\"attributes\":{\"blob\":\"");
	memset(body + strlen(body), 'z', 50000);
	strcpy(body + 50023, "\"}}");
	int saw_507 = 0;
	for (int i = 0; i < 40 && !saw_507; i++) {
		char id[16];
		snprintf(id, sizeof(id), "big%d", i);
		struct twin_out *out = run(&f, op(TWIN_OP_UPDATE, id, body), NULL);
		saw_507 = out && out->status == 507;
		if (saw_507) {
			CHECK_CONTAINS(out->payload, "map_size_max");
		}
		free_outs(out);
	}
	CHECK(saw_507);
	CHECK(f.metrics.store_full > 0);
	cJSON *first = stored(&f, "big0"); /* earlier twins intact and readable */
	CHECK(first != NULL);
	cJSON_Delete(first);
	free(body);
	teardown(&f);
}

TEST(writer_should_refuse_new_twins_past_max_twins_counting_the_batch)
{
	struct fixture f;
	setup(&f, "max_twins", "2");
	/* one batch: two creations fill the store; the third twin is refused, then a delete frees a place */
	struct twin_out *out = run(&f, op(TWIN_OP_UPDATE, "a", "{\"attributes\":{\"x\":1}}"),
			op(TWIN_OP_TELEMETRY, "b", "{\"t\":1}"), op(TWIN_OP_UPDATE, "c", "{\"attributes\":{\"x\":1}}"),
			op(TWIN_OP_TELEMETRY, "d", "{\"t\":1}"), op(TWIN_OP_DELETE, "a", ""),
			op(TWIN_OP_UPDATE, "e", "{\"attributes\":{\"x\":1}}"), NULL);
	int statuses[3] = {0}, n = 0;
	for (struct twin_out *o = out; o; o = o->next) {
		if (o->kind == TWIN_OUT_PUBLISH && o->status && n < 3) {
			statuses[n++] = o->status;
			if (o->status == 507) {
				CHECK_CONTAINS(o->payload, "max_twins=2");
			}
		}
	}
	free_outs(out);
	CHECK_INT(statuses[0], 200); /* a */
	CHECK_INT(statuses[1], 507); /* c */
	CHECK_INT(statuses[2], 200); /* delete a */
	CHECK_INT(f.metrics.twins_refused, 2); /* c and d */
	cJSON *e = stored(&f, "e"), *d = stored(&f, "d");
	CHECK(e != NULL && d == NULL);
	cJSON_Delete(e);
	out = run(&f, op(TWIN_OP_UPDATE, "g", "{\"attributes\":{\"x\":1}}"), NULL); /* b and e exist */
	CHECK(out != NULL && out->status == 507);
	free_outs(out);
	teardown(&f);
}

TEST(writer_should_emit_one_event_per_change_after_the_commit)
{
	struct fixture f;
	setup(&f, "events", "true");
	struct twin_out *out = run(&f, op(TWIN_OP_TELEMETRY, "r5", "{\"t\":1,\"h\":2}"),
			op(TWIN_OP_TELEMETRY, "r5", "{\"t\":1,\"h\":3}"), op(TWIN_OP_TELEMETRY, "r5", "{\"t\":1}"),
			op(TWIN_OP_DELETE, "r5", ""), NULL);
	CHECK_STR(out->topic, "$twin/r5/events");
	CHECK_STR(out->payload, "{\"id\":\"r5\",\"version\":1,\"ts\":1001,\"type\":\"created\",\"reported\":{\"t\":1,\"h\":2}}");
	CHECK_STR(out->next->payload, "{\"id\":\"r5\",\"version\":2,\"ts\":1002,\"type\":\"updated\",\"reported\":{\"h\":3}}");
	/* the unchanged third message made no event */
	CHECK_STR(out->next->next->payload, "{\"id\":\"r5\",\"version\":3,\"ts\":1004,\"type\":\"deleted\"}");
	free_outs(out);
	teardown(&f);
}

static bool collect(void *ctx, int64_t version, int64_t ts, const char *json, size_t len)
{
	(void)ts;
	(void)json;
	(void)len;
	int64_t *versions = ctx;
	versions[++versions[0]] = version;
	return versions[0] < 8;
}

TEST(writer_should_keep_bounded_history_and_drop_it_on_delete)
{
	struct fixture f;
	setup(&f, "history_max", "3");
	for (int i = 0; i < 5; i++) {
		char body[32];
		snprintf(body, sizeof(body), "{\"t\":%d}", i);
		free_outs(run(&f, op(TWIN_OP_TELEMETRY, "r6", body), NULL));
	}
	int64_t versions[9] = {0};
	twin_store_read_begin(f.store);
	twin_store_history(f.store, "r6", 2, collect, versions);
	twin_store_read_end(f.store);
	CHECK_INT(versions[0], 3);
	CHECK_INT(versions[1], 5); /* newest first */
	CHECK_INT(versions[3], 3);
	free_outs(run(&f, op(TWIN_OP_DELETE, "r6", ""), NULL));
	memset(versions, 0, sizeof(versions));
	twin_store_read_begin(f.store);
	twin_store_history(f.store, "r6", 2, collect, versions);
	twin_store_read_end(f.store);
	CHECK_INT(versions[0], 0);
	teardown(&f);
}

TEST(writer_should_start_a_fresh_history_for_a_twin_deleted_and_made_again_in_one_batch)
{
	struct fixture f;
	setup(&f, "history_max", "5");
	free_outs(run(&f, op(TWIN_OP_UPDATE, "r7", "{\"reported\":{\"t\":1}}"), NULL));
	free_outs(run(&f, op(TWIN_OP_UPDATE, "r7", "{\"reported\":{\"t\":2}}"), NULL));
	/* one commit: delete (version 3), then an update that makes the twin again (version 4) */
	free_outs(run(&f, op(TWIN_OP_DELETE, "r7", ""), op(TWIN_OP_UPDATE, "r7", "{\"reported\":{\"u\":1}}"),
			NULL));
	int64_t versions[9] = {0};
	twin_store_read_begin(f.store);
	twin_store_history(f.store, "r7", 2, collect, versions);
	twin_store_read_end(f.store);
	CHECK_INT(versions[0], 1); /* only the new twin's own version, not versions 1 and 2 */
	CHECK_INT(versions[1], 4);
	cJSON *doc = stored(&f, "r7");
	CHECK(doc != NULL);
	CHECK_INT(twin_doc_version(doc), 4);
	cJSON_Delete(doc);
	teardown(&f);
}

/* ---- ingest: device timestamps, sub-paths, gateway batches ---- */

#define NOW 1763884860000LL

static struct twin_op *arriving(struct twin_op *o)
{
	o->ts = NOW;
	return o;
}

static struct twin_op *at_path(const char *id, const char *path, const char *body)
{
	struct twin_op *o = twin_op_new_at(TWIN_OP_TELEMETRY, id, strlen(id), path, strlen(path), body,
			strlen(body), NULL);
	return arriving(o);
}

static int64_t member_int(const cJSON *obj, const char *path)
{
	char copy[128], *save = NULL;
	snprintf(copy, sizeof(copy), "%s", path);
	for (char *k = strtok_r(copy, "/", &save); k && obj; k = strtok_r(NULL, "/", &save)) {
		obj = cJSON_GetObjectItemCaseSensitive(obj, k);
	}
	return obj ? (int64_t)obj->valuedouble : -1;
}

TEST(writer_should_apply_thingsboard_readings_at_their_device_ts)
{
	struct fixture f;
	setup(&f, "events", "true");
	struct twin_out *out = run(&f, arriving(op(TWIN_OP_TELEMETRY, "tb1",
			"[{\"ts\":1763884800000,\"values\":{\"t\":1,\"h\":5}},{\"ts\":1763884810000,\"values\":{\"t\":2}},"
			"{\"ts\":1763884820000,\"values\":{\"t\":2}}]")), NULL);
	/* one message is one change: one version and one event with the last value of every leaf it changed,
	 * at the ts of its last reading that changed something; each leaf keeps the ts of its own change */
	CHECK_STR(out->payload, "{\"id\":\"tb1\",\"version\":1,\"ts\":1763884810000,\"type\":\"created\","
							"\"reported\":{\"t\":2,\"h\":5}}");
	CHECK(out->next == NULL);
	free_outs(out);
	cJSON *doc = stored(&f, "tb1");
	CHECK_INT(twin_doc_version(doc), 1);
	CHECK_INT(member_int(doc, "created"), 1763884800000LL);
	CHECK_INT(member_int(doc, "updated"), 1763884810000LL);
	CHECK_INT(member_int(doc, "lastSeen"), NOW); /* the arrival */
	CHECK_INT(member_int(doc, "metadata/reported/t/ts"), 1763884810000LL);
	CHECK_INT(member_int(doc, "metadata/reported/h/ts"), 1763884800000LL);
	CHECK_INT(f.metrics.telemetry_applied, 1); /* counted per message */
	cJSON_Delete(doc);
	/* a malformed reading refuses the whole message: nothing of it is applied */
	out = run(&f, arriving(op(TWIN_OP_TELEMETRY, "tb1",
			"[{\"ts\":1763884830000,\"values\":{\"t\":9}},{\"ts\":1763884830,\"values\":{\"t\":8}}]")), NULL);
	CHECK_CONTAINS(out->payload, "reading 2: ts 1763884830 is before 2000-01-01");
	CHECK_CONTAINS(out->payload, "\"type\":\"error\"");
	free_outs(out);
	doc = stored(&f, "tb1");
	CHECK_INT(member_int(doc, "reported/t"), 2);
	CHECK_INT(f.metrics.telemetry_invalid, 1);
	cJSON_Delete(doc);
	teardown(&f);
}

/* An entry as the queue makes it when later messages of a twin joined it while it waited. */
static struct twin_op *joined(struct twin_op *first, ...)
{
	va_list ap;
	va_start(ap, first);
	for (struct twin_op *o; (o = va_arg(ap, struct twin_op *)) != NULL;) {
		if (first->more_tail) {
			first->more_tail->more = o;
		} else {
			first->more = o;
		}
		first->more_tail = o;
		first->group_msgs++;
	}
	va_end(ap);
	return first;
}

static struct twin_op *telemetry_at(const char *id, const char *body, int64_t ts)
{
	struct twin_op *o = op(TWIN_OP_TELEMETRY, id, body);
	o->ts = ts;
	return o;
}

TEST(writer_should_apply_waiting_messages_of_a_twin_as_one_change)
{
	struct fixture f;
	setup(&f, "events", "true");
	free_outs(run(&f, telemetry_at("co1", "{\"a\":1,\"b\":1,\"c\":1}", NOW - 10), NULL));
	struct twin_out *out = run(&f,
			joined(telemetry_at("co1", "{\"a\":2}", NOW), telemetry_at("co1", "{\"b\":2,\"a\":3}", NOW + 1),
					telemetry_at("co1", "not json", NOW + 2), telemetry_at("co1", "{\"c\":1}", NOW + 3), NULL),
			NULL);
	/* the invalid message is reported; the other three are one version, one event with the last values */
	CHECK_CONTAINS(out->payload, "\"type\":\"error\"");
	CHECK_STR(out->next->payload, "{\"id\":\"co1\",\"version\":2,\"ts\":1763884860001,\"type\":\"updated\","
								  "\"reported\":{\"a\":3,\"b\":2}}");
	CHECK(out->next->next == NULL || out->next->next->kind == TWIN_OUT_LOG); /* the invalid one's log */
	free_outs(out);
	cJSON *doc = stored(&f, "co1");
	CHECK_INT(twin_doc_version(doc), 2);
	CHECK_INT(member_int(doc, "reported/a"), 3);
	CHECK_INT(member_int(doc, "metadata/reported/a/ts"), NOW + 1);
	CHECK_INT(member_int(doc, "metadata/reported/b/ts"), NOW + 1);
	CHECK_INT(member_int(doc, "metadata/reported/c/ts"), NOW - 10);
	CHECK_INT(member_int(doc, "updated"), NOW + 1);
	CHECK_INT(member_int(doc, "lastSeen"), NOW + 3);
	CHECK_INT(f.metrics.telemetry_applied, 1 + 3); /* every message of a change that changed the twin */
	CHECK_INT(f.metrics.telemetry_unchanged, 0);
	CHECK_INT(f.metrics.telemetry_invalid, 1);
	CHECK_INT(f.metrics.telemetry_merged, 3);
	cJSON_Delete(doc);
	teardown(&f);
}

/* The events of a batch, joined by newlines, and the stored bytes of twin id, for comparing two runs. */
static void outcome(struct fixture *f, struct twin_out *out, const char *id, struct twin_buf into[2])
{
	const void *val;
	size_t len;
	for (struct twin_out *o = out; o; o = o->next) {
		if (o->kind == TWIN_OUT_PUBLISH) {
			twin_buf_put(&into[0], o->payload, o->payload_len);
			twin_buf_put(&into[0], "\n", 2); /* with its NUL: the text stays a C string */
			into[0].len--;
		}
	}
	free_outs(out);
	twin_store_read_begin(f->store);
	if (twin_store_get(f->store, id, strlen(id), &val, &len) == TWIN_OK) {
		twin_buf_put(&into[1], val, len);
	}
	twin_store_read_end(f->store);
}

/* The same telemetry through the fast path (no history kept) and the general one (history kept, which the
 * fast path leaves to it): the same events, the same stored twins, the same counters. */
TEST(writer_should_give_the_same_results_on_the_fast_path)
{
	struct fixture fx[2];
	struct twin_buf got[2][2] = {{{0}, {0}}, {{0}, {0}}}; /* per run: events, stored bytes */
	for (int k = 0; k < 2; k++) {
		struct fixture *f = &fx[k];
		setup(f, "events", "true");
		f->cfg.history_max = k; /* 0: fast path; 1: general path */
		outcome(f, run(f, telemetry_at("fp1", "{\"t\":21.50,\"h\":40,\"s\":\"ok\"}", NOW), NULL), "fp1", got[k]);
		outcome(f, run(f, joined(telemetry_at("fp1", "{\"t\":22}", NOW + 5), telemetry_at("fp1", "{\"h\":40.0}", NOW + 6),
								   telemetry_at("fp1", "{\"t\":23,\"on\":true}", NOW + 7), NULL), NULL), "fp1", got[k]);
		outcome(f, run(f, telemetry_at("fp1", "{\"t\":23}", NOW + 9), NULL), "fp1", got[k]); /* unchanged */
		outcome(f, run(f, telemetry_at("fp2", "{}", NOW + 10), NULL), "fp2", got[k]);  /* created empty */
		CHECK_INT(f->metrics.telemetry_applied, 5);
		CHECK_INT(f->metrics.telemetry_unchanged, 1);
		CHECK_INT(f->metrics.telemetry_merged, 3);
	}
	CHECK_STR(got[0][0].data, got[1][0].data);
	CHECK_INT(got[0][1].len, got[1][1].len);
	CHECK(got[0][1].len == got[1][1].len && memcmp(got[0][1].data, got[1][1].data, got[0][1].len) == 0);
	CHECK_CONTAINS(got[0][0].data, "\"version\":2,\"ts\":1763884860007,\"type\":\"updated\",\"reported\":{\"t\":23,\"on\":true}}");
	for (int k = 0; k < 2; k++) {
		twin_buf_free(&got[k][0]);
		twin_buf_free(&got[k][1]);
		teardown(&fx[k]);
	}
}

TEST(writer_should_apply_waiting_messages_one_by_one_when_together_too_big)
{
	struct fixture f;
	setup(&f, "max_twin_bytes", "1024");
	char big[700], bigger[700];
	snprintf(big, sizeof(big), "{\"s\":\"%0600d\"}", 1);
	snprintf(bigger, sizeof(bigger), "{\"t\":\"%0600d\"}", 2);
	free_outs(run(&f, joined(telemetry_at("co2", big, NOW), telemetry_at("co2", bigger, NOW + 1), NULL), NULL));
	cJSON *doc = stored(&f, "co2");
	/* the first fits alone and is applied; the second would make the twin too big and is refused */
	CHECK(doc != NULL);
	CHECK_INT(twin_doc_version(doc), 1);
	CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "reported"), "s") != NULL);
	CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "reported"), "t") == NULL);
	CHECK_INT(f.metrics.telemetry_applied, 1);
	CHECK_INT(f.metrics.telemetry_invalid, 1);
	cJSON_Delete(doc);
	teardown(&f);
}

TEST(writer_should_set_sub_path_values_inside_reported)
{
	struct fixture f;
	setup(&f, "max_depth", "3");
	free_outs(run(&f, at_path("sp1", "top/temp", "24.5"), at_path("sp1", "top/hum", "{\"ts\":1763884800000,\"values\":40}"),
			at_path("sp1", "fw", "\"1.2\""), at_path("sp1", "a/b", "{\"c\":1}"), NULL));
	cJSON *doc = stored(&f, "sp1");
	char *text = twin_json_print(cJSON_GetObjectItem(doc, "reported"), &(size_t){0});
	CHECK_STR(text, "{\"top\":{\"temp\":24.5,\"hum\":40},\"fw\":\"1.2\",\"a\":{\"b\":{\"c\":1}}}");
	free(text);
	CHECK_INT(member_int(doc, "metadata/reported/top/hum/ts"), 1763884800000LL);
	CHECK_INT(member_int(doc, "metadata/reported/top/temp/ts"), NOW);
	CHECK_INT(twin_doc_version(doc), 4);
	cJSON_Delete(doc);
	/* null removes the leaf; an empty level or a value too deep below the path is refused */
	struct twin_out *out = run(&f, at_path("sp1", "top/temp", "null"), at_path("sp1", "top//x", "1"),
			at_path("sp1", "a/b", "{\"c\":{\"d\":1}}"), NULL);
	CHECK_CONTAINS(out->payload, "empty level");
	free_outs(out);
	doc = stored(&f, "sp1");
	CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "reported"), "top"), "temp"));
	CHECK_INT(member_int(doc, "reported/a/b/c"), 1);
	CHECK_INT(f.metrics.telemetry_invalid, 2);
	cJSON_Delete(doc);
	teardown(&f);
}

static struct twin_op *gateway(const char *body)
{
	return arriving(twin_op_new(TWIN_OP_GATEWAY, "gw-1", 4, body, strlen(body), NULL));
}

TEST(writer_should_split_gateway_batches_into_twins)
{
	struct fixture f;
	setup(&f, "events", "true");
	struct twin_out *out = run(&f,
			gateway("{\"Device A\":[{\"ts\":1763884800000,\"values\":{\"t\":1}},{\"ts\":1763884801000,"
					"\"values\":{\"t\":2}}],\"Device B\":{\"on\":true},\"bad/id\":{\"x\":1},"
					"\"Device C\":[{\"ts\":\"x\",\"values\":{}}],\"Device D\":{\"ts\":1763884800000,\"values\":{\"p\":3}}}"),
			NULL);
	int events = 0, errors = 0;
	for (struct twin_out *o = out; o; o = o->next) {
		if (o->kind == TWIN_OUT_PUBLISH) {
			events++;
			errors += strstr(o->payload, "\"error\"") != NULL;
		}
	}
	CHECK_INT(events, 4); /* A (its two readings as one change), B, D, and C's error */
	CHECK_INT(errors, 1);
	free_outs(out);
	cJSON *a = stored(&f, "Device A"), *b = stored(&f, "Device B"), *d = stored(&f, "Device D");
	CHECK(a && b && d);
	CHECK(stored(&f, "Device C") == NULL);
	CHECK_INT(member_int(a, "reported/t"), 2);
	CHECK_INT(twin_doc_version(a), 1);
	CHECK_INT(member_int(a, "updated"), 1763884801000LL);
	CHECK_INT(member_int(b, "updated"), NOW);
	CHECK_INT(member_int(d, "metadata/reported/p/ts"), 1763884800000LL);
	CHECK_INT(f.metrics.telemetry_applied, 3);
	CHECK_INT(f.metrics.telemetry_invalid, 2);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(d);
	teardown(&f);
	/* a batch that is not an object of devices is counted and logged, never an event */
	setup(&f, "events", "true");
	out = run(&f, gateway("[1]"), gateway("nope"), gateway("{}"), NULL);
	CHECK(out && out->kind == TWIN_OUT_LOG && !out->next);
	CHECK_CONTAINS(out->payload, "gateway message from client 'gw-1' ignored: not a JSON object");
	free_outs(out);
	CHECK_INT(f.metrics.telemetry_invalid, 2);
	teardown(&f);
	/* a part named like an AWS named shadow (thing~shadow) is refused: '~' twins are the front's */
	setup(&f, NULL, NULL);
	free_outs(run(&f, gateway("{\"rack-1~cfg\":{\"x\":1},\"rack-2\":{\"x\":2}}"), NULL));
	CHECK(stored(&f, "rack-1~cfg") == NULL);
	cJSON *r2 = stored(&f, "rack-2");
	CHECK(r2 != NULL);
	cJSON_Delete(r2);
	CHECK_INT(f.metrics.telemetry_invalid, 1);
	teardown(&f);
}

TEST(writer_should_refuse_new_gateway_devices_past_max_twins)
{
	struct fixture f;
	setup(&f, "max_twins", "2");
	free_outs(run(&f, gateway("{\"g1\":{\"a\":1},\"g2\":{\"a\":1},\"g3\":{\"a\":1}}"), NULL));
	cJSON *g3 = stored(&f, "g3");
	CHECK(g3 == NULL);
	CHECK_INT(f.metrics.twins_refused, 1);
	CHECK_INT(f.metrics.telemetry_applied, 2);
	teardown(&f);
}

/* A request that came in on a front: its answers take that front's form. */
static struct twin_op *front_op(enum twin_front front, enum twin_op_kind kind, const char *id,
		const char *topic, const char *body)
{
	struct twin_op *o = op(kind, id, body);
	free(o->route->request_topic);
	o->route->request_topic = strdup(topic);
	o->route->front = (int)front;
	return o;
}

static const struct twin_out *find_topic(const struct twin_out *o, const char *topic)
{
	while (o && strcmp(o->topic ? o->topic : "", topic) != 0) {
		o = o->next;
	}
	return o;
}

TEST(writer_should_answer_aws_updates_with_documents_and_delta_and_take_the_deleted_version)
{
	struct fixture f;
	setup(&f, "aws_shadow", "true");
	struct twin_out *out = run(&f, front_op(TWIN_FRONT_AWS, TWIN_OP_UPDATE, "t", "$aws/things/t/shadow/update",
			"{\"state\":{\"desired\":{\"led\":\"on\"}},\"clientToken\":\"c1\"}"), NULL);
	const struct twin_out *a = find_topic(out, "$aws/things/t/shadow/update/accepted");
	CHECK(a != NULL);
	CHECK_CONTAINS(a->payload, "\"version\":1,\"timestamp\":1,\"clientToken\":\"c1\"}");
	CHECK(find_topic(out, "$aws/things/t/shadow/update/documents") != NULL);
	a = find_topic(out, "$aws/things/t/shadow/update/delta");
	CHECK(a != NULL);
	CHECK_CONTAINS(a->payload, "{\"state\":{\"led\":\"on\"},");
	free_outs(out);
	out = run(&f, front_op(TWIN_FRONT_AWS, TWIN_OP_DELETE, "t", "$aws/things/t/shadow/delete", ""), NULL);
	CHECK_STR(out->topic, "$aws/things/t/shadow/delete/accepted");
	CHECK_CONTAINS(out->payload, "{\"version\":2,");
	free_outs(out);
	/* the v1 SDK's next update carries the version its delete was answered with */
	out = run(&f, op(TWIN_OP_UPDATE, "t", "{\"desired\":{\"a\":1},\"version\":2}"),
			front_op(TWIN_FRONT_AWS, TWIN_OP_UPDATE, "t", "$aws/things/t/shadow/update",
					"{\"state\":{\"reported\":{\"led\":\"on\"}},\"version\":2}"), NULL);
	CHECK_INT(out->status, 409); /* $twin: version 2 is not "does not exist" (0) */
	a = find_topic(out, "$aws/things/t/shadow/update/accepted");
	CHECK(a != NULL);
	CHECK_CONTAINS(a->payload, "\"version\":3,");
	CHECK(find_topic(out, "$aws/things/t/shadow/update/delta") == NULL); /* no desired: no delta */
	free_outs(out);
	teardown(&f);
}

TEST(writer_should_push_desired_changes_to_the_azure_session_and_answer_patches_204)
{
	struct fixture f;
	setup(&f, "azure_twin", "true");
	struct twin_op *patch = front_op(TWIN_FRONT_AZURE, TWIN_OP_UPDATE, "dev",
			"$iothub/twin/PATCH/properties/reported/?$rid=5", "{\"fan\":\"high\"}");
	patch->route->rid = strdup("5");
	struct twin_out *out = run(&f, op(TWIN_OP_UPDATE, "dev", "{\"desired\":{\"fan\":\"high\"}}"), patch, NULL);
	CHECK(find_topic(out, "$iothub/twin/res/204/?$rid=5&$version=1") != NULL);
	const struct twin_out *push = find_topic(out, "$iothub/twin/PATCH/properties/desired/?$version=1");
	CHECK(push != NULL);
	CHECK(push->to_session);
	CHECK_STR(push->target, "dev");
	CHECK_STR(push->payload, "{\"fan\":\"high\",\"$version\":1}");
	free_outs(out);
	teardown(&f);
}

static enum twin_rc put_meta(struct twin_store *s, const char *payload, size_t len, struct twin_error *err)
{
	return twin_store_put_in(s, TWIN_TABLE_META, "test-call", 9, payload, len, err);
}

static enum twin_rc refuse_call(struct twin_store *s, const char *payload, size_t len,
		struct twin_error *err)
{
	(void)s;
	(void)payload;
	(void)len;
	return twin_fail(err, TWIN_ERR_STORE, "refused by the test");
}

static struct twin_op *store_call(twin_store_call_fn fn, const char *payload)
{
	struct twin_op *o = twin_op_new(TWIN_OP_STORE, "", 0, payload, strlen(payload), NULL);
	o->store_call = fn;
	return o;
}

TEST(writer_should_run_store_calls_in_the_batch_and_fail_the_batch_with_them)
{
	struct fixture f;
	const void *val;
	size_t len;
	setup(&f, NULL, NULL);
	/* committed with the telemetry of its batch, answered by nobody */
	struct twin_out *out = run(&f, op(TWIN_OP_TELEMETRY, "a", "{\"t\":1}"), store_call(put_meta, "hello"), NULL);
	free_outs(out);
	CHECK_INT(f.done_seq, 2);
	twin_store_read_begin(f.store);
	CHECK_INT(twin_store_read_find(f.store, TWIN_TABLE_META, "test-call", 9, &val, &len), TWIN_OK);
	CHECK_INT(len, 5);
	twin_store_read_end(f.store);
	cJSON *a = stored(&f, "a");
	CHECK(a != NULL);
	cJSON_Delete(a);
	/* a failing call fails its batch: the update with it is answered 500 and not written */
	out = run(&f, op(TWIN_OP_UPDATE, "b", "{\"desired\":{\"x\":1}}"), store_call(refuse_call, ""), NULL);
	CHECK(out != NULL);
	CHECK_INT(out->status, 500);
	free_outs(out);
	CHECK(stored(&f, "b") == NULL);
	CHECK_INT(f.done_seq, 4);
	teardown(&f);
}
