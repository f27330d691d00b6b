/* test_search_merge.c - a fleet's search merged from its shards' parts (search_merge.h), against the same
 * search on one store holding every twin: the same pages in the same order, followed by the merged
 * cursor through to the last page, the count summed; a part missing flags the page incomplete; a part
 * that is not a shard's page is refused. The parts come from real searches with keys (search.h). */
#include "check.h"
#include "search.h"
#include "search_merge.h"
#include "twin.h"
#include "twin_format.h"

#define SHARDS 3
#define TWINS 31

static struct twin_route route = {.client_id = "app", .request_topic = "$twin/search"};

/* Twin i ("m00".."m30", reported.temp = i mod 5) into s. */
static void put(struct twin_store *s, int i)
{
	struct twin_error err;
	char id[8], patch[32];
	snprintf(id, sizeof(id), "m%02d", i);
	snprintf(patch, sizeof(patch), "{\"temp\":%d}", i % 5);
	cJSON *doc = twin_doc_create(id, strlen(id), 0, 1), *reported = cJSON_Parse(patch);
	twin_doc_patch(doc, TWIN_SEC_REPORTED, reported, 1, NULL);
	twin_doc_bump(doc, 2u, 1);
	struct twin_buf val = {0};
	twin_doc_store(doc, &val);
	twin_store_write_begin(s, &err);
	twin_store_put(s, id, strlen(id), val.data, val.len, &err);
	twin_store_commit(s, &err);
	twin_buf_free(&val);
	cJSON_Delete(reported);
	cJSON_Delete(doc);
}

struct fleet {
	char *dirs[SHARDS + 1];
	struct twin_store *shard[SHARDS], *whole;
};

static void fleet_open(struct fleet *f)
{
	struct twin_error err;
	for (int i = 0; i <= SHARDS; i++) {
		f->dirs[i] = check_tmpdir();
		twin_store_open(f->dirs[i], 1 << 22, 1 << 22, i < SHARDS ? &f->shard[i] : &f->whole, &err);
	}
	for (int i = 0; i < TWINS; i++) {
		put(f->shard[(i * 7) % SHARDS], i); /* not by id order: every shard has some of each page */
		put(f->whole, i);
	}
}

static void fleet_close(struct fleet *f)
{
	for (int i = 0; i <= SHARDS; i++) {
		twin_store_close(i < SHARDS ? f->shard[i] : f->whole);
		check_rmdir(f->dirs[i]);
		free(f->dirs[i]);
	}
}

static char *run(struct twin_store *s, const char *req, bool keys)
{
	struct twin_search_ctx ctx = {.max_depth = 16, .keys = keys};
	struct twin_out *o = twin_search_run(s, &route, req, strlen(req), &ctx);
	char *body = strdup(o->payload);
	twin_out_free(o);
	return body;
}

/* The merged page of the first n shards' parts (missing: as twin_search_merge's). */
static cJSON *merged(struct fleet *f, int n, const char *req, const char *missing)
{
	struct twin_search_part parts[SHARDS];
	struct twin_error err;
	size_t len;
	for (int i = 0; i < n; i++) {
		parts[i].body = run(f->shard[i], req, true);
		parts[i].len = strlen(parts[i].body);
	}
	char *body = twin_search_merge(req, strlen(req), parts, n, missing, &len, &err);
	for (int i = 0; i < n; i++) {
		free((char *)parts[i].body);
	}
	cJSON *j = body ? cJSON_Parse(body) : NULL;
	free(body);
	return j;
}

static char *ids(const cJSON *page)
{
	static char out[1024];
	const cJSON *item;
	out[0] = '\0';
	cJSON_ArrayForEach(item, cJSON_GetObjectItem(page, "items"))
	{
		strcat(out, cJSON_GetObjectItem(item, "id")->valuestring);
		strcat(out, " ");
	}
	return out;
}

TEST(merged_pages_should_be_the_pages_of_one_store_holding_every_twin)
{
	struct fleet f;
	fleet_open(&f);
	char req[512];
	const char *cursor = NULL;
	int pages = 0, seen = 0;
	cJSON *page = NULL, *whole = NULL;
	do {
		snprintf(req, sizeof(req),
				"{\"sort\":[\"-reported/temp\"],\"limit\":4,\"count\":true,\"fields\":[\"reported/temp\"],"
				"\"token\":\"t\"%s%s%s}",
				cursor ? ",\"cursor\":\"" : "", cursor ? cursor : "", cursor ? "\"" : "");
		cJSON_Delete(page);
		cJSON_Delete(whole);
		page = merged(&f, SHARDS, req, NULL);
		char *body = run(f.whole, req, false);
		whole = cJSON_Parse(body);
		free(body);
		CHECK(page != NULL);
		CHECK_STR(ids(page), ids(whole));
		CHECK_INT(cJSON_GetObjectItem(page, "count")->valueint, TWINS);
		CHECK_STR(cJSON_GetObjectItem(page, "token")->valuestring, "t");
		CHECK(!cJSON_GetObjectItem(page, "keys") && !cJSON_GetObjectItem(page, "incomplete"));
		CHECK_INT(!cJSON_GetObjectItem(page, "cursor"), !cJSON_GetObjectItem(whole, "cursor"));
		seen += cJSON_GetArraySize(cJSON_GetObjectItem(page, "items"));
		pages++;
		const cJSON *c = cJSON_GetObjectItem(page, "cursor");
		cursor = c ? c->valuestring : NULL;
	} while (cursor && pages < 20);
	CHECK_INT(pages, (TWINS + 3) / 4);
	CHECK_INT(seen, TWINS);
	cJSON_Delete(page);
	cJSON_Delete(whole);
	fleet_close(&f);
}

TEST(a_page_without_every_shard_should_say_which_slots_it_misses)
{
	struct fleet f;
	fleet_open(&f);
	static const char req[] = "{\"limit\":200,\"count\":true}";
	cJSON *page = merged(&f, SHARDS - 1, req, "342-682");
	CHECK(page != NULL);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(page, "incomplete")));
	CHECK_STR(cJSON_GetObjectItem(page, "missing_slots")->valuestring, "342-682");
	int expected = 0;
	for (int i = 0; i < TWINS; i++) {
		expected += (i * 7) % SHARDS != SHARDS - 1;
	}
	CHECK_INT(cJSON_GetObjectItem(page, "count")->valueint, expected);
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")), expected);
	cJSON_Delete(page);
	fleet_close(&f);
}

TEST(a_part_that_is_not_a_shards_page_should_be_refused)
{
	struct twin_error err;
	size_t len;
	static const char req[] = "{\"limit\":2}";
	struct twin_search_part no_keys = {"{\"items\":[{\"id\":\"a\",\"version\":1}]}", 35};
	CHECK(!twin_search_merge(req, strlen(req), &no_keys, 1, NULL, &len, &err));
	CHECK_CONTAINS(err.msg, "keys");
	struct twin_search_part bad_key = {"{\"items\":[{\"id\":\"a\"}],\"keys\":[\"!!\"]}", 36};
	CHECK(!twin_search_merge(req, strlen(req), &bad_key, 1, NULL, &len, &err));
	struct twin_search_part empty = {"{\"items\":[],\"count\":0}", 22};
	char *body = twin_search_merge(req, strlen(req), &empty, 1, NULL, &len, &err);
	CHECK_STR(body, "{\"items\":[]}");
	free(body);
	CHECK(!twin_search_merge("{\"limit\":0}", 11, &empty, 1, NULL, &len, &err));
}
