/* test_twin.c - the document model: create, patch, version, delta, field selection. */
#include "check.h"
#include "twin.h"

static char *print(const cJSON *j)
{
	return cJSON_PrintUnformatted(j);
}

TEST(twin_should_version_only_real_changes)
{
	cJSON *doc = twin_doc_create("rack-1", 6, 0, 100);
	cJSON *p = cJSON_Parse("{\"tempTop\":24.1}");
	CHECK_INT(twin_doc_patch(doc, TWIN_SEC_REPORTED, p, 100, NULL), 1);
	CHECK(twin_doc_bump(doc, 1u << TWIN_SEC_REPORTED, 100) >= 0);
	CHECK_INT(twin_doc_version(doc), 1);
	CHECK_INT(twin_doc_patch(doc, TWIN_SEC_REPORTED, p, 200, NULL), 0);
	char *s = print(cJSON_GetObjectItem(doc, "metadata"));
	CHECK_STR(s, "{\"reported\":{\"tempTop\":{\"ts\":100}},\"desired\":{}}");
	free(s);
	cJSON_Delete(p);
	cJSON_Delete(doc);
}

TEST(twin_should_derive_delta_and_report_its_changes)
{
	cJSON *doc = twin_doc_create("r", 1, 7, 1);
	cJSON *d = cJSON_Parse("{\"fan\":3}"), *r = cJSON_Parse("{\"fan\":3}");
	twin_doc_patch(doc, TWIN_SEC_DESIRED, d, 2, NULL);
	CHECK_INT(twin_doc_bump(doc, 1u << TWIN_SEC_DESIRED, 2), 1);
	CHECK_INT(twin_doc_version(doc), 8); /* continues after the tombstone's 7 */
	char *s = print(cJSON_GetObjectItem(doc, "delta"));
	CHECK_STR(s, "{\"fan\":3}");
	free(s);
	twin_doc_patch(doc, TWIN_SEC_REPORTED, r, 3, NULL);
	CHECK_INT(twin_doc_bump(doc, 1u << TWIN_SEC_REPORTED, 3), 1);
	s = print(cJSON_GetObjectItem(doc, "delta"));
	CHECK_STR(s, "{}");
	free(s);
	s = print(cJSON_GetObjectItem(doc, "versions"));
	CHECK_STR(s, "{\"attributes\":0,\"reported\":1,\"desired\":1}");
	free(s);
	cJSON_Delete(d);
	cJSON_Delete(r);
	cJSON_Delete(doc);
}

TEST(twin_should_select_fields)
{
	cJSON *doc = twin_doc_create("r", 1, 0, 1);
	cJSON *p = cJSON_Parse("{\"fan\":3,\"led\":\"on\"}");
	twin_doc_patch(doc, TWIN_SEC_DESIRED, p, 2, NULL);
	twin_doc_bump(doc, 1u << TWIN_SEC_DESIRED, 2);
	cJSON *fields = cJSON_Parse("[\"desired/fan\",\"nope/x\",\"desired/led/x\",\"attributes\",\"reported/zz\"]");
	cJSON *sel = twin_doc_select(doc, fields);
	char *s = print(sel);
	CHECK_STR(s, "{\"id\":\"r\",\"version\":1,\"desired\":{\"fan\":3},\"attributes\":{}}");
	free(s);
	cJSON_Delete(sel);
	cJSON_Delete(fields);
	cJSON_Delete(p);
	cJSON_Delete(doc);
}

TEST(twin_should_record_last_seen)
{
	cJSON *doc = twin_doc_create("r", 1, 0, 1);
	twin_doc_seen(doc, 42);
	twin_doc_seen(doc, 43);
	CHECK_INT(cJSON_GetObjectItem(doc, "lastSeen")->valuedouble, 43);
	cJSON_Delete(doc);
}
