/* test_import_doc.c - imported twin documents: an exported twin comes back the same, defaults for what is
 * missing, refusals with reasons, versions continued past a stored twin or tombstone, unchanged twins,
 * alarms kept. */
#include "check.h"
#include "import_doc.h"
#include "jsonx.h"
#include "twin.h"

static const struct ctl_import_limits limits = {65536, 16};

static cJSON *import(const char *json, struct twin_error *err)
{
	cJSON *in = cJSON_Parse(json);
	cJSON *doc = ctl_import_doc(in, 5000, &limits, err);
	cJSON_Delete(in);
	return doc;
}

static int64_t int_at(const cJSON *doc, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, a);
	int64_t out = -1;
	twin_json_int64(b ? cJSON_GetObjectItemCaseSensitive(v, b) : v, &out);
	return out;
}

TEST(import_doc_should_give_back_an_exported_twin)
{
	struct twin_error err;
	cJSON *twin = twin_doc_create("rack-1", 6, 0, 1000);
	cJSON *patch = cJSON_Parse("{\"t\":{\"top\":24.1},\"fan\":2}");
	twin_doc_patch(twin, TWIN_SEC_REPORTED, patch, 1500, NULL);
	twin_doc_bump(twin, 1u << TWIN_SEC_REPORTED, 1500);
	cJSON_Delete(patch);
	patch = cJSON_Parse("{\"fan\":3}");
	twin_doc_patch(twin, TWIN_SEC_DESIRED, patch, 2000, NULL);
	twin_doc_bump(twin, 1u << TWIN_SEC_DESIRED, 2000);
	twin_doc_seen(twin, 2500);
	cJSON_Delete(patch);
	cJSON *doc = ctl_import_doc(twin, 9999, &limits, &err);
	CHECK(doc);
	CHECK(cJSON_Compare(doc, twin, 1));
	CHECK_INT(int_at(doc, "version", NULL), 2);
	CHECK_INT(int_at(cJSON_GetObjectItem(doc, "metadata"), "reported", NULL), -1);
	cJSON_Delete(doc);
	cJSON_Delete(twin);
}

TEST(import_doc_should_fill_in_what_is_missing)
{
	struct twin_error err;
	cJSON *doc = import("{\"id\":\"a\",\"reported\":{\"t\":1},\"connected\":true,\"delta\":{\"x\":1}}",
			&err);
	CHECK(doc);
	CHECK_INT(int_at(doc, "version", NULL), 1);
	CHECK_INT(int_at(doc, "updated", NULL), 5000);
	CHECK_INT(int_at(doc, "created", NULL), 5000);
	CHECK_INT(int_at(doc, "versions", "reported"), 1);
	CHECK_INT(int_at(doc, "versions", "attributes"), 0);
	CHECK(!cJSON_GetObjectItem(doc, "connected") && !cJSON_GetObjectItem(doc, "lastSeen"));
	char *meta = cJSON_PrintUnformatted(cJSON_GetObjectItem(doc, "metadata"));
	CHECK_STR(meta, "{\"reported\":{\"t\":{\"ts\":5000}},\"desired\":{}}");
	free(meta);
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(doc, "delta")) && !cJSON_GetObjectItem(doc, "delta")->child);
	cJSON_Delete(doc);
	/* created defaults to a given updated; a desired leaf without reported is in the delta */
	doc = import("{\"id\":\"a\",\"updated\":7,\"desired\":{\"f\":3}}", &err);
	CHECK(doc);
	CHECK_INT(int_at(doc, "created", NULL), 7);
	CHECK_INT(int_at(doc, "delta", "f"), 3);
	cJSON_Delete(doc);
}

TEST(import_doc_should_refuse_bad_documents_with_reasons)
{
	struct twin_error err;
	char deep[200] = "{\"id\":\"a\",\"reported\":", big[70000];
	const char *bad[] = {"[1]", "{\"reported\":{}}", "{\"id\":\"a/b\"}", "{\"id\":\"a\",\"colour\":1}",
			"{\"id\":\"a\",\"reported\":[1]}", "{\"id\":\"a\",\"version\":-1}",
			"{\"id\":\"a\",\"metadata\":{\"reported\":1}}", "{\"id\":\"a\",\"updated\":1e300}"};
	const char *why[] = {"not a JSON object", "no 'id'", "'/', '+', '#'", "unknown member 'colour'",
			"'reported' must be an object", "'version' must be", "'metadata/reported' must be",
			"'updated' must be"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!import(bad[i], &err));
		CHECK_CONTAINS(err.msg, why[i]);
	}
	for (int i = 0; i < 17; i++) {
		strcat(deep, "{\"l\":");
	}
	strcat(deep, "1");
	for (int i = 0; i < 18; i++) {
		strcat(deep, "}");
	}
	CHECK(!import(deep, &err));
	CHECK_CONTAINS(err.msg, "max_depth=16");
	snprintf(big, sizeof(big), "{\"id\":\"a\",\"attributes\":{\"s\":\"%066000d\"}}", 0);
	CHECK(!import(big, &err));
	CHECK_CONTAINS(err.msg, "max_twin_bytes=65536");
}

TEST(import_doc_should_continue_versions)
{
	struct twin_error err;
	cJSON *existing = import("{\"id\":\"a\",\"version\":5,\"reported\":{\"t\":1},\"attributes\":{\"s\":1},"
							 "\"versions\":{\"reported\":4,\"attributes\":1,\"desired\":0}}",
			&err);
	cJSON *doc = import("{\"id\":\"a\",\"version\":3,\"reported\":{\"t\":2},\"attributes\":{\"s\":1},"
						"\"versions\":{\"reported\":2,\"attributes\":1}}",
			&err);
	CHECK(ctl_import_continue(doc, existing, 0));
	CHECK_INT(int_at(doc, "version", NULL), 6);
	CHECK_INT(int_at(doc, "versions", "reported"), 5);  /* changed: past the stored 4 */
	CHECK_INT(int_at(doc, "versions", "attributes"), 1); /* the same: not moved */
	cJSON_Delete(doc);
	doc = import("{\"id\":\"a\",\"version\":9}", &err);
	CHECK(ctl_import_continue(doc, existing, 0));
	CHECK_INT(int_at(doc, "version", NULL), 9); /* already past */
	cJSON_Delete(doc);
	doc = import("{\"id\":\"a\",\"version\":2}", &err);
	CHECK(ctl_import_continue(doc, NULL, 7)); /* a deleted twin's tombstone */
	CHECK_INT(int_at(doc, "version", NULL), 8);
	cJSON_Delete(doc);
	cJSON_Delete(existing);
}

TEST(import_doc_should_tell_an_unchanged_twin)
{
	struct twin_error err;
	const char *json = "{\"id\":\"a\",\"version\":5,\"updated\":100,\"reported\":{\"t\":1}}";
	cJSON *existing = import(json, &err), *same = import(json, &err);
	cJSON *newer = import("{\"id\":\"a\",\"version\":6,\"updated\":100,\"reported\":{\"t\":2}}", &err);
	cJSON *later_ts = import("{\"id\":\"a\",\"version\":5,\"updated\":200,\"reported\":{\"t\":1}}", &err);
	CHECK(ctl_import_same(same, existing));
	CHECK(!ctl_import_same(newer, existing));
	CHECK(!ctl_import_same(later_ts, existing)); /* metadata timestamps differ */
	cJSON_Delete(existing);
	cJSON_Delete(same);
	cJSON_Delete(newer);
	cJSON_Delete(later_ts);
}

TEST(import_doc_should_keep_alarms_and_leave_out_the_model)
{
	struct twin_error err;
	/* an export line of a twin with a model and alarms (one active, one cleared but not acknowledged) */
	const char *exported = "{\"id\":\"r1\",\"version\":4,\"updated\":100,\"reported\":{\"tempTop\":35},"
						   "\"versions\":{\"attributes\":0,\"reported\":2,\"desired\":0,\"alarms\":3},"
						   "\"alarms\":{\"hot-top\":{\"severity\":\"critical\",\"active\":true,\"acked\":false,"
						   "\"since\":90},\"humid\":{\"severity\":\"major\",\"active\":false,\"acked\":false,"
						   "\"since\":10,\"cleared\":50}},\"model\":\"rack-th\",\"connected\":true}";
	cJSON *in = cJSON_Parse(exported), *doc = import(exported, &err);
	CHECK(doc);
	CHECK(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(doc, "alarms"),
			cJSON_GetObjectItemCaseSensitive(in, "alarms"), 1));
	CHECK_INT(int_at(doc, "versions", "alarms"), 3);
	CHECK(!cJSON_GetObjectItemCaseSensitive(doc, "model"));
	/* replaced by an import whose alarms differ: their counter moves past the stored one */
	cJSON *acked = import("{\"id\":\"r1\",\"version\":4,\"updated\":100,\"reported\":{\"tempTop\":35},"
						  "\"versions\":{\"alarms\":3},\"alarms\":{}}",
			&err);
	CHECK(!ctl_import_same(acked, doc));
	CHECK(ctl_import_continue(acked, doc, 0));
	CHECK_INT(int_at(acked, "versions", "alarms"), 4);
	CHECK_INT(int_at(acked, "version", NULL), 5);
	/* without an alarms section: none, and no alarms counter either */
	cJSON *plain = import("{\"id\":\"r1\",\"reported\":{\"tempTop\":20}}", &err);
	CHECK(ctl_import_continue(plain, doc, 0));
	CHECK(!cJSON_GetObjectItemCaseSensitive(plain, "alarms"));
	CHECK_INT(int_at(plain, "versions", "alarms"), -1);
	cJSON_Delete(in);
	cJSON_Delete(doc);
	cJSON_Delete(acked);
	cJSON_Delete(plain);

	const char *bad[] = {"{\"id\":\"a\",\"alarms\":[]}",
			"{\"id\":\"a\",\"alarms\":{\"x\":{\"severity\":\"huge\",\"active\":true,\"acked\":false,\"since\":1}}}",
			"{\"id\":\"a\",\"alarms\":{\"x\":{\"severity\":\"minor\",\"active\":1,\"acked\":false,\"since\":1}}}",
			"{\"id\":\"a\",\"alarms\":{\"x\":{\"severity\":\"minor\",\"active\":true,\"acked\":false}}}",
			"{\"id\":\"a\",\"alarms\":{\"x\":{\"severity\":\"minor\",\"active\":true,\"acked\":false,\"since\":1,"
			"\"note\":\"\"}}}",
			"{\"id\":\"a\",\"alarms\":{\"x y\":{\"severity\":\"minor\",\"active\":true,\"acked\":false,\"since\":1}}}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!import(bad[i], &err));
		CHECK_CONTAINS(err.msg, i ? "as the plugin writes it" : "'alarms' must be an object");
	}
}
