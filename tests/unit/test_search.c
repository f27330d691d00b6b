/* test_search.c - searches over a real store: filter, sort, pages with a cursor that stays correct while
 * twins are written between pages, count, fields, and errors. */
#include "check.h"
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
	struct twin_out *o = twin_search_run(s, &route, body, strlen(body), 16);
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
