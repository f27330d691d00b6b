/* test_scope.c - search scopes bound to a requester: id prefixes and attribute matches, the exempt
 * list, and the cases that fail closed (no username, a value holding the separator). */
#include "check.h"
#include "scope.h"

static bool sees(const char *spec, const char *exempt, const char *user, const char *client,
		const char *doc_json)
{
	struct twin_scope s;
	cJSON *doc = cJSON_Parse(doc_json);
	const char *id = cJSON_GetObjectItem(doc, "id")->valuestring;
	bool yes = twin_scope_bind(&s, spec, exempt, user, client) == TWIN_OK &&
			twin_scope_admits(&s, id, strlen(id), doc);
	twin_scope_free(&s);
	cJSON_Delete(doc);
	return yes;
}

TEST(scope_should_bind_an_id_prefix_to_the_requester)
{
	const char *acme = "{\"id\":\"acme:rack-1\"}", *beta = "{\"id\":\"beta:rack-1\"}";
	CHECK(sees(NULL, NULL, NULL, "c", acme)); /* no scope: every twin */
	CHECK(sees("id:%u:", NULL, "acme", "c", acme));
	CHECK(!sees("id:%u:", NULL, "acme", "c", beta));
	CHECK(!sees("id:%u:", NULL, "acm", "c", acme)); /* a shorter tenant name is not a prefix */
	CHECK(!sees("id:%u:", NULL, NULL, "acme", acme)); /* no username: nothing, not everything */
	CHECK(!sees("id:%u:", NULL, "", "acme", acme));
	CHECK(!sees("id:%u:", NULL, "acme:rack", "c", "{\"id\":\"acme:rack:1\"}")); /* holds ':' */
	CHECK(!sees("id:%u:", NULL, "a/b", "c", "{\"id\":\"a\"}"));
	CHECK(sees("id:%c-", NULL, NULL, "acme", "{\"id\":\"acme-7\"}"));
	CHECK(sees("id:t-%u.%%", NULL, "x", "c", "{\"id\":\"t-x.%1\"}"));
	CHECK(sees("id:%u:", "ops,  dash ", "dash", "c", beta)); /* exempt */
	CHECK(!sees("id:%u:", "ops,dash", "dashboard", "c", beta));
}

TEST(scope_should_match_an_attribute_exactly)
{
	const char *t = "{\"id\":\"r1\",\"attributes\":{\"org\":{\"tenant\":\"acme\"}}}";
	CHECK(sees("attributes/org/tenant=%u", NULL, "acme", "c", t));
	CHECK(!sees("attributes/org/tenant=%u", NULL, "acm", "c", t));
	CHECK(!sees("attributes/org/tenant=%u", NULL, NULL, "acme", t));
	CHECK(!sees("attributes/tenant=%u", NULL, "acme", "c", "{\"id\":\"r2\"}"));
	CHECK(!sees("attributes/tenant=%u", NULL, "1", "c",
			"{\"id\":\"r3\",\"attributes\":{\"tenant\":1}}")); /* a string, never a number */
}

TEST(scope_should_tell_where_an_id_prefix_ends)
{
	struct twin_scope s;
	CHECK_INT(twin_scope_bind(&s, "id:%u:", NULL, "b", "c"), TWIN_OK);
	CHECK(!twin_scope_past(&s, "a:z", 3));
	CHECK(!twin_scope_past(&s, "b", 1));
	CHECK(!twin_scope_past(&s, "b:", 2));
	CHECK(!twin_scope_past(&s, "b:zz", 4));
	CHECK(twin_scope_past(&s, "b;", 2));
	CHECK(twin_scope_past(&s, "c", 1));
	twin_scope_free(&s);
	CHECK_INT(twin_scope_bind(&s, "id:%u:", NULL, NULL, "c"), TWIN_OK);
	CHECK_INT(s.kind, TWIN_SCOPE_NOTHING);
	CHECK(twin_scope_past(&s, "a", 1));
	twin_scope_free(&s);
}
