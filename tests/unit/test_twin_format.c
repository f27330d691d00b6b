/* test_twin_format.c - the stored form: exact round trips, its size, the older JSON form, and damaged
 * values refused without over-reading. */
#include <string.h>

#include "check.h"
#include "twin.h"
#include "twin_format.h"

/* A twin as the writer builds it: two telemetry messages at different times, desired, attributes. */
static cJSON *sample_twin(void)
{
	cJSON *doc = twin_doc_create("rack-7", 6, 3, 1763884800000);
	cJSON *a = cJSON_Parse("{\"site\":\"dc1\",\"row\":{\"n\":4,\"tags\":[\"hot\",\"aisle\"]}}");
	cJSON *r1 = cJSON_Parse("{\"tempTop\":24.1,\"tempBottom\":21.33,\"fans\":[1,2,{\"x\":1}],"
							"\"door\":{\"open\":false,\"lock\":{\"state\":\"ok\\n\\u00e9\"}},\"empty\":{}}");
	cJSON *r2 = cJSON_Parse("{\"tempTop\":25.5,\"humidityTop\":-41.25e-3}");
	cJSON *d = cJSON_Parse("{\"tempTop\":22,\"fan\":{\"speed\":3}}");
	twin_doc_patch(doc, TWIN_SEC_ATTRIBUTES, a, 1763884800001, NULL);
	twin_doc_patch(doc, TWIN_SEC_REPORTED, r1, 1763884800002, NULL);
	twin_doc_bump(doc, 3, 1763884800002);
	twin_doc_patch(doc, TWIN_SEC_REPORTED, r2, 1763884860456, NULL);
	twin_doc_patch(doc, TWIN_SEC_DESIRED, d, 1763884700000, NULL);
	twin_doc_bump(doc, 6, 1763884860456);
	twin_doc_seen(doc, 1763884999999);
	cJSON_Delete(a);
	cJSON_Delete(r1);
	cJSON_Delete(r2);
	cJSON_Delete(d);
	return doc;
}

TEST(format_should_round_trip_exactly)
{
	cJSON *doc = sample_twin();
	struct twin_buf b = {0};
	CHECK(twin_doc_store(doc, &b));
	char *val = b.data;
	size_t len = b.len;
	cJSON *back = twin_doc_load("rack-7", 6, val, len);
	CHECK(back != NULL);
	char *want = cJSON_PrintUnformatted(doc), *got = cJSON_PrintUnformatted(back);
	CHECK_STR(got, want); /* same members, same order, same values */
	free(want);
	free(got);
	cJSON_Delete(back);
	free(val);
	cJSON_Delete(doc);
}

TEST(format_should_round_trip_the_alarms_section_and_its_version)
{
	cJSON *doc = sample_twin();
	struct twin_buf b = {0};
	cJSON_AddItemToObject(doc, "alarms",
			cJSON_Parse("{\"hot\":{\"severity\":\"critical\",\"active\":true,\"acked\":false,\"since\":5}}"));
	twin_json_set_int64(cJSON_GetObjectItem(doc, "versions"), "alarms", 3);
	CHECK(twin_doc_store(doc, &b));
	cJSON *back = twin_doc_load("rack-7", 6, b.data, b.len);
	CHECK(back != NULL);
	char *want = cJSON_PrintUnformatted(doc), *got = back ? cJSON_PrintUnformatted(back) : NULL;
	CHECK_STR(got, want);
	free(want);
	free(got);
	cJSON_Delete(back);
	/* emptied (all cleared and acknowledged) but versioned: still stored, as {} */
	cJSON_ReplaceItemInObject(doc, "alarms", cJSON_CreateObject());
	CHECK(twin_doc_store(doc, &b));
	back = twin_doc_load("rack-7", 6, b.data, b.len);
	CHECK(back && cJSON_GetObjectItem(back, "alarms") && !cJSON_GetObjectItem(back, "alarms")->child);
	/* a value cut inside the alarms part is refused */
	CHECK(twin_doc_load("rack-7", 6, b.data, b.len - 1) == NULL);
	cJSON_Delete(back);
	twin_buf_free(&b);
	cJSON_Delete(doc);
}

TEST(format_should_round_trip_a_new_twin_without_last_seen)
{
	cJSON *doc = twin_doc_create("r", 1, 0, 5);
	struct twin_buf b = {0};
	twin_doc_store(doc, &b);
	char *val = b.data;
	size_t len = b.len;
	cJSON *back = twin_doc_load("r", 1, val, len);
	CHECK(back && cJSON_Compare(doc, back, 1));
	CHECK(!cJSON_GetObjectItem(back, "lastSeen"));
	cJSON_Delete(back);
	free(val);
	cJSON_Delete(doc);
}

TEST(format_should_take_far_less_than_the_public_json)
{
	cJSON *doc = twin_doc_create("dev-0000001", 11, 0, 1763884800000);
	cJSON *p = cJSON_Parse("{\"tempTop\":24.10,\"tempBottom\":21.33,\"humidityTop\":41.2,"
						   "\"humidityBottom\":45.8,\"inletTemp\":19.84,\"outletTemp\":31.02,\"fanSpeed\":2,"
						   "\"powerW\":1234.5,\"doorOpen\":false,\"status\":\"ok\",\"airflow\":512.7,\"seq\":1000000}");
	twin_doc_patch(doc, TWIN_SEC_REPORTED, p, 1763884800000, NULL);
	twin_doc_bump(doc, 2, 1763884800000);
	twin_doc_seen(doc, 1763884800000);
	struct twin_buf b = {0};
	twin_doc_store(doc, &b);
	char *val = b.data, *json = cJSON_PrintUnformatted(doc);
	size_t len = b.len;
	CHECK(len * 3 < strlen(json));
	CHECK(len < 300);
	free(json);
	free(val);
	cJSON_Delete(p);
	cJSON_Delete(doc);
}

TEST(format_should_read_the_json_form)
{
	static const char v1[] = "\x01{\"id\":\"a\",\"version\":2,\"reported\":{\"x\":1}}";
	cJSON *back = twin_doc_load("a", 1, v1, sizeof(v1) - 1);
	CHECK(back && cJSON_GetObjectItem(cJSON_GetObjectItem(back, "reported"), "x")->valueint == 1);
	cJSON_Delete(back);
	CHECK(twin_doc_load("a", 1, "{}", 2) == NULL);        /* no format byte: not ours */
	CHECK(twin_doc_load("a", 1, "\x01[1]", 4) == NULL);  /* not an object */
	CHECK(twin_doc_load("a", 1, "\x07{}", 3) == NULL);   /* unknown format */
}

/* A damaged value whose section repeats a key is refused: loaded, its delta and lookups would see one
 * of the two values and its next load the other (found by fuzz_format). */
TEST(format_should_refuse_a_duplicated_key)
{
	cJSON *doc = sample_twin();
	struct twin_buf b = {0};
	twin_doc_store(doc, &b);
	char *key = NULL;
	for (size_t i = 0; !key && i + 12 <= b.len; i++) {
		key = memcmp(b.data + i, "\"tempBottom\"", 12) ? NULL : b.data + i;
	}
	CHECK(key != NULL);
	memcpy(key, "\"tempTop\"   ", 12); /* same length: now "tempTop" twice (spaces are JSON whitespace) */
	CHECK(twin_doc_load("rack-7", 6, b.data, b.len) == NULL);
	static const char v1[] = "\x01{\"id\":\"a\",\"reported\":{\"x\":1,\"x\":2}}";
	CHECK(twin_doc_load("a", 1, v1, sizeof(v1) - 1) == NULL);
	twin_buf_free(&b);
	cJSON_Delete(doc);
}

/* Every truncation and every single-byte change of a valid value: refused or loaded, never over-read
 * (the suite also runs under ASan). */
TEST(format_should_refuse_damaged_values)
{
	cJSON *doc = sample_twin();
	struct twin_buf b = {0};
	twin_doc_store(doc, &b);
	char *val = b.data;
	size_t len = b.len;
	for (size_t n = 0; n < len; n++) {
		char *cut = malloc(n ? n : 1);
		memcpy(cut, val, n);
		CHECK(twin_doc_load("rack-7", 6, cut, n) == NULL);
		free(cut);
	}
	char *longer = malloc(len + 1);
	memcpy(longer, val, len);
	longer[len] = 0;
	CHECK(twin_doc_load("rack-7", 6, longer, len + 1) == NULL); /* trailing bytes */
	free(longer);
	for (size_t i = 1; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			char *bad = malloc(len);
			memcpy(bad, val, len);
			bad[i] ^= (char)(1 << bit);
			cJSON_Delete(twin_doc_load("rack-7", 6, bad, len));
			free(bad);
		}
	}
	free(val);
	cJSON_Delete(doc);
}

/* lastSeen and leaf timestamps are differences to updated: beyond +-2^53 they are refused, not wrapped
 * or loaded as numbers that could not be stored again. */
TEST(format_should_refuse_timestamps_beyond_exact_integers)
{
	/* updated 2^53, lastSeen - updated = 2^63 - 1 */
	static const char seen[] = "\x02\x00\x00\x80\x80\x80\x80\x80\x80\x80\x10\x00\x00\x00\x01"
							   "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01\x02{}\x02{}\x02{}\x00\x00";
	/* one reported leaf at 2^60 */
	static const char leaf[] = "\x02\x01\x05\x05\x00\x01\x00\x00\x02{}\x07{\"t\":1}\x02{}"
							   "\x01\x80\x80\x80\x80\x80\x80\x80\x80\x20\x00";
	CHECK(twin_doc_load("r", 1, seen, sizeof(seen) - 1) == NULL);
	CHECK(twin_doc_load("r", 1, leaf, sizeof(leaf) - 1) == NULL);
}

/* An older JSON value may hold anything; what it loads as must store in a form that loads again. */
TEST(format_should_store_an_older_value_so_that_it_loads)
{
	static const char v1[] = "\x01{\"version\":-4,\"updated\":-5,\"created\":1e300,\"versions\":{\"reported\":-1},"
							 "\"reported\":{\"t\":1},\"metadata\":{\"reported\":{\"t\":{\"ts\":-7}}}}";
	cJSON *doc = twin_doc_load("r", 1, v1, sizeof(v1) - 1);
	struct twin_buf b = {0};
	CHECK(doc && twin_doc_store(doc, &b));
	cJSON *back = twin_doc_load("r", 1, b.data, b.len);
	CHECK(back && twin_doc_version(back) == 0);
	cJSON_Delete(back);
	twin_buf_free(&b);
	cJSON_Delete(doc);
}
