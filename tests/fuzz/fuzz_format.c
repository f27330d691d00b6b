/* fuzz_format.c - libFuzzer target: a stored twin value (any bytes: the database may be damaged) is loaded;
 * a loaded twin renders as JSON, stores and loads back identically, and can be searched and updated. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "query.h"
#include "twin.h"
#include "twin_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ID "rack-7"

/* The public rendering of doc into b: valid JSON (what get and search answer). */
static void render(const cJSON *doc, struct twin_buf *b)
{
	b->len = 0;
	cJSON *parsed = NULL;
	if (!twin_json_write(b, doc) || !(parsed = cJSON_ParseWithLength(b->data, b->len)) ||
			!cJSON_IsObject(parsed)) {
		abort();
	}
	cJSON_Delete(parsed);
}

static bool same(const struct twin_buf *a, const struct twin_buf *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* What search and the fields option do with a loaded twin. */
static void search_and_select(const cJSON *doc)
{
	static struct twin_query *filter;
	static struct twin_sort sort;
	static cJSON *fields;
	struct twin_error err;
	struct twin_sort_key key;
	if (!filter) {
		cJSON *spec = cJSON_Parse("[\"-reported/tempTop\",\"attributes/site\"]");
		filter = twin_query_parse("or(gt(reported/tempTop,30),exists(desired/fan/speed),"
								  "like(attributes/site,\"dc*\"),eq(version,3),in(reported/door/open,true,1))",
				&err);
		fields = cJSON_Parse("[\"reported\",\"desired/fan\",\"metadata/reported/tempTop\",\"lastSeen\"]");
		if (!filter || !fields || twin_sort_parse(&sort, spec, &err) != TWIN_OK) {
			abort();
		}
		cJSON_Delete(spec);
	}
	twin_query_match(filter, doc);
	if (twin_sort_key_of(&sort, doc, &key)) {
		char *cursor = twin_cursor_encode(&sort, &key);
		free(cursor);
		twin_sort_key_free(&key);
	}
	cJSON_Delete(twin_doc_select(doc, fields));
}

/* What the writer does with a loaded twin: a telemetry update and a desired change, stored again. */
static void update(cJSON *doc, struct twin_buf *val)
{
	static cJSON *reported, *desired;
	if (!reported) {
		reported = cJSON_Parse("{\"tempTop\":25.5,\"door\":{\"open\":true},\"fans\":null}");
		desired = cJSON_Parse("{\"fan\":{\"speed\":3},\"tempTop\":null}");
	}
	unsigned mask = 0;
	if (twin_doc_patch(doc, TWIN_SEC_REPORTED, reported, 1763884900000, NULL) > 0) {
		mask |= 1u << TWIN_SEC_REPORTED;
	}
	if (twin_doc_patch(doc, TWIN_SEC_DESIRED, desired, 1763884900000, NULL) > 0) {
		mask |= 1u << TWIN_SEC_DESIRED;
	}
	if (mask) {
		twin_doc_bump(doc, mask, 1763884900000);
	}
	twin_doc_seen(doc, 1763884900001);
	cJSON *back = twin_doc_store(doc, val) ? twin_doc_load(ID, sizeof(ID) - 1, val->data, val->len) : NULL;
	if (!back) {
		abort(); /* an updated twin must store and load again */
	}
	cJSON_Delete(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *doc = twin_doc_load(ID, sizeof(ID) - 1, data, size);
	if (!doc) {
		return 0;
	}
	struct twin_buf text = {0}, text2 = {0}, val = {0}, val2 = {0};
	render(doc, &text);
	/* what loaded stores and loads back; a format 2 value loads back identically, an older one once
	 * converted; and storing what was loaded gives the same bytes */
	cJSON *back = twin_doc_store(doc, &val) ? twin_doc_load(ID, sizeof(ID) - 1, val.data, val.len) : NULL;
	if (!back) {
		abort();
	}
	render(back, &text2);
	if ((data[0] == 0x02 && !same(&text, &text2)) || !twin_doc_store(back, &val2) || !same(&val, &val2)) {
		abort();
	}
	search_and_select(doc);
	update(doc, &val2);
	cJSON_Delete(back);
	cJSON_Delete(doc);
	twin_buf_free(&text);
	twin_buf_free(&text2);
	twin_buf_free(&val);
	twin_buf_free(&val2);
	return 0;
}
