/* test_front_aws.c - the AWS Device Shadow front: topic classification, shadow to twin id, request
 * parsing with AWS's error messages, and the documents (get, update, delete, error, delta, documents). */
#include "check.h"
#include "front_aws.h"
#include "twin.h"

static struct twin_topic_match classify(const char *topic)
{
	struct twin_topic_match m;
	memset(&m, 0, sizeof(m));
	size_t prefix = strlen(TWIN_AWS_PREFIX);
	if (!strncmp(topic, TWIN_AWS_PREFIX, prefix)) {
		twin_aws_classify(topic + prefix, strlen(topic) - prefix, &m);
	}
	return m;
}

static char *twin_id(const char *topic, struct twin_error *err)
{
	static char buf[TWIN_MAX_ID_LEN + 1];
	size_t len;
	struct twin_topic_match m = classify(topic);
	return twin_aws_twin_id(&m, buf, &len, err) ? buf : NULL;
}

TEST(shadow_requests_are_classified_with_thing_shadow_and_verb)
{
	struct twin_topic_match m = classify("$aws/things/rack-1/shadow/update");
	CHECK_INT(m.route, TWIN_ROUTE_REQUEST);
	CHECK_INT(m.front, TWIN_FRONT_AWS);
	CHECK_INT(m.verb, TWIN_VERB_UPDATE);
	CHECK_INT(m.id_len, 6);
	CHECK(m.shadow == NULL);
	m = classify("$aws/things/rack-1/shadow/name/cfg/get");
	CHECK_INT(m.route, TWIN_ROUTE_REQUEST);
	CHECK_INT(m.verb, TWIN_VERB_GET);
	CHECK_INT(m.shadow_len, 3);
	CHECK(!memcmp(m.shadow, "cfg", 3));
	CHECK_INT(classify("$aws/things/r/shadow/delete").verb, TWIN_VERB_DELETE);
}

TEST(answer_topics_are_reserved_and_other_aws_topics_are_not_ours)
{
	CHECK_INT(classify("$aws/things/r/shadow/update/accepted").route, TWIN_ROUTE_RESERVED);
	CHECK_INT(classify("$aws/things/r/shadow/update/delta").route, TWIN_ROUTE_RESERVED);
	CHECK_INT(classify("$aws/things/r/shadow/name/c/update/documents").route, TWIN_ROUTE_RESERVED);
	CHECK_INT(classify("$aws/things/r/shadow/frobnicate").route, TWIN_ROUTE_RESERVED);
	CHECK_INT(classify("$aws/things/r/shadow").route, TWIN_ROUTE_RESERVED);
	CHECK_INT(classify("$aws/things/r/shadow/name").route, TWIN_ROUTE_RESERVED);
	CHECK_INT(classify("$aws/things/r/shadow/name/c").route, TWIN_ROUTE_RESERVED);
	CHECK_INT(classify("$aws/things/r/jobs/get").route, TWIN_ROUTE_NONE);
	CHECK_INT(classify("$aws/things/r/shadowy/get").route, TWIN_ROUTE_NONE);
	CHECK_INT(classify("$aws/things/r").route, TWIN_ROUTE_NONE);
}

TEST(a_named_shadow_is_the_twin_thing_tilde_name)
{
	struct twin_error err;
	CHECK_STR(twin_id("$aws/things/rack-1/shadow/get", &err), "rack-1");
	CHECK_STR(twin_id("$aws/things/rack-1/shadow/name/cfg/get", &err), "rack-1~cfg");
	CHECK(twin_id("$aws/things/a~b/shadow/get", &err) == NULL);
	CHECK_CONTAINS(err.msg, "thing name");
	CHECK(twin_id("$aws/things/a/shadow/name/b~c/get", &err) == NULL);
	CHECK_CONTAINS(err.msg, "shadow name");
	CHECK(twin_id("$aws/things//shadow/get", &err) == NULL);
	CHECK_INT(err.rc, TWIN_ERR_BAD_REQUEST);
}

static enum twin_rc parse(enum twin_verb verb, const char *payload, struct twin_request *req,
		struct twin_error *err)
{
	return twin_aws_parse(verb, payload, strlen(payload), 4, req, err);
}

TEST(update_requests_are_parsed_into_sections_and_clears)
{
	struct twin_request req;
	struct twin_error err;
	CHECK_INT(parse(TWIN_VERB_UPDATE,
			"{\"state\":{\"desired\":{\"a\":1},\"reported\":null},\"clientToken\":\"t\",\"version\":3}",
			&req, &err), TWIN_OK);
	CHECK(cJSON_IsObject(req.sections[TWIN_SEC_DESIRED]));
	CHECK(req.sections[TWIN_SEC_REPORTED] == NULL);
	CHECK(req.clear[TWIN_SEC_REPORTED]);
	CHECK_STR(req.token, "t");
	CHECK(req.has_version);
	CHECK_INT(req.version, 3);
	twin_request_free(&req);
	CHECK_INT(parse(TWIN_VERB_GET, "{\"version\":3,\"clientToken\":\"g\"}", &req, &err), TWIN_OK);
	CHECK(!req.has_version); /* AWS ignores a get's version */
	twin_request_free(&req);
	CHECK_INT(twin_aws_parse(TWIN_VERB_GET, "", 0, 4, &req, &err), TWIN_OK);
	twin_request_free(&req);
}

/* Each refusal carries AWS's own message. */
TEST(bad_updates_are_refused_with_aws_messages)
{
	static const char *const cases[][2] = {
			{"nope", "Invalid JSON"},
			{"[1]", "Invalid JSON"},
			{"{}", "Missing required node: state"},
			{"{\"state\":1}", "State node must be an object"},
			{"{\"state\":{\"delta\":{}}}", "State contains an invalid node: 'delta'"},
			{"{\"state\":{\"desired\":3}}", "Desired node must be an object"},
			{"{\"state\":{\"reported\":\"x\"}}", "Reported node must be an object"},
			{"{\"state\":{},\"version\":\"1\"}", "Invalid version"},
			{"{\"state\":{},\"version\":-1}", "Invalid version"},
			{"{\"state\":{},\"clientToken\":5}", "Invalid clientToken"},
			{"{\"state\":{\"desired\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}}}",
					"JSON contains too many levels of nesting; maximum is 4"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct twin_request req;
		struct twin_error err;
		CHECK_INT(parse(TWIN_VERB_UPDATE, cases[i][0], &req, &err), TWIN_ERR_BAD_REQUEST);
		CHECK_STR(err.msg, cases[i][1]);
		twin_request_free(&req);
	}
	struct twin_request req;
	struct twin_error err;
	char long_token[200];
	snprintf(long_token, sizeof(long_token), "{\"state\":{},\"clientToken\":\"%065d\"}", 0);
	CHECK_INT(parse(TWIN_VERB_UPDATE, long_token, &req, &err), TWIN_ERR_BAD_REQUEST);
	CHECK_STR(err.msg, "Invalid clientToken");
	twin_request_free(&req);
	CHECK_INT(twin_aws_parse(TWIN_VERB_UPDATE, "", 0, 4, &req, &err), TWIN_ERR_BAD_REQUEST);
	twin_request_free(&req);
}

TEST(the_client_token_is_found_before_a_full_parse)
{
	const char *p = "{\"state\":{},\"clientToken\":\"abc\"}";
	char *t = twin_aws_client_token(p, strlen(p));
	CHECK_STR(t, "abc");
	free(t);
	/* found in payloads too deep or not even valid JSON after it; a nested one is not the request's */
	p = "{\"state\":{\"desired\":{\"a\":[[[[[[{\"clientToken\":\"inner\"}]]]]]]}},\"clientToken\" : \"x\\u0041\", bad";
	t = twin_aws_client_token(p, strlen(p));
	CHECK_STR(t, "xA");
	free(t);
	static const char *const none[] = {"{\"clientToken\":1}", "{\"a\":{\"clientToken\":\"n\"}}",
			"[\"clientToken\",\"v\"]", "garbage", "{\"clientToken\":\"open"};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		CHECK(twin_aws_client_token(none[i], strlen(none[i])) == NULL);
	}
	char long_token[100];
	snprintf(long_token, sizeof(long_token), "{\"clientToken\":\"%065d\"}", 0);
	CHECK(twin_aws_client_token(long_token, strlen(long_token)) == NULL);
}

static cJSON *rack(void)
{
	cJSON *doc = twin_doc_create("rack-1", 6, 0, 1000);
	cJSON *d = cJSON_Parse("{\"fan\":3,\"cfg\":{\"a\":1,\"b\":2}}");
	cJSON *r = cJSON_Parse("{\"fan\":1,\"cfg\":{\"a\":1},\"temp\":24}");
	twin_doc_patch(doc, TWIN_SEC_DESIRED, d, 5000, NULL);
	twin_doc_patch(doc, TWIN_SEC_REPORTED, r, 7000, NULL);
	twin_doc_bump(doc, (1u << TWIN_SEC_DESIRED) | (1u << TWIN_SEC_REPORTED), 7000);
	cJSON_Delete(d);
	cJSON_Delete(r);
	return doc;
}

static const struct twin_route route = {.front = TWIN_FRONT_AWS, .client_id = "app",
		.request_topic = "$aws/things/rack-1/shadow/get"};

TEST(get_answers_are_shadow_documents_with_seconds)
{
	struct twin_buf b = {0};
	cJSON *doc = rack();
	struct twin_out *o = twin_aws_get_answer(&route, doc, "tok", 9999, &b);
	CHECK_STR(o->topic, "$aws/things/rack-1/shadow/get/accepted");
	CHECK_STR(o->target, "app");
	CHECK_STR(o->payload,
			"{\"state\":{\"desired\":{\"fan\":3,\"cfg\":{\"a\":1,\"b\":2}},"
			"\"reported\":{\"fan\":1,\"cfg\":{\"a\":1},\"temp\":24},\"delta\":{\"fan\":3,\"cfg\":{\"b\":2}}},"
			"\"metadata\":{\"desired\":{\"fan\":{\"timestamp\":5},\"cfg\":{\"a\":{\"timestamp\":5},"
			"\"b\":{\"timestamp\":5}}},\"reported\":{\"fan\":{\"timestamp\":7},\"cfg\":{\"a\":"
			"{\"timestamp\":7}},\"temp\":{\"timestamp\":7}}},\"version\":1,\"timestamp\":9,"
			"\"clientToken\":\"tok\"}");
	twin_out_free(o);
	cJSON *empty = twin_doc_create("e", 1, 0, 1000);
	o = twin_aws_get_answer(&route, empty, NULL, 1000, &b);
	CHECK_STR(o->payload, "{\"state\":{},\"metadata\":{},\"version\":0,\"timestamp\":1}");
	twin_out_free(o);
	cJSON_Delete(empty);
	cJSON_Delete(doc);
	twin_buf_free(&b);
}

TEST(delta_messages_carry_the_desired_timestamps_of_the_delta_only)
{
	struct twin_buf b = {0};
	cJSON *doc = rack();
	struct twin_out *o = twin_aws_delta("rack-1~cfg", 10, doc, 8000, &b);
	CHECK_STR(o->topic, "$aws/things/rack-1/shadow/name/cfg/update/delta");
	CHECK(o->target == NULL);
	CHECK_STR(o->payload,
			"{\"state\":{\"fan\":3,\"cfg\":{\"b\":2}},\"metadata\":{\"fan\":{\"timestamp\":5},"
			"\"cfg\":{\"b\":{\"timestamp\":5}}},\"version\":1,\"timestamp\":8}");
	twin_out_free(o);
	cJSON_Delete(doc);
	twin_buf_free(&b);
}

TEST(update_answers_echo_the_request_and_documents_show_both_sides)
{
	struct twin_buf b = {0}, prev = {0};
	struct twin_request req;
	struct twin_error err;
	const struct twin_route up = {.front = TWIN_FRONT_AWS, .client_id = "app",
			.request_topic = "$aws/things/rack-1/shadow/update"};
	CHECK_INT(parse(TWIN_VERB_UPDATE,
			"{\"state\":{\"desired\":{\"x\":{\"y\":1},\"z\":null},\"reported\":null},\"clientToken\":\"c\"}",
			&req, &err), TWIN_OK);
	struct twin_out *o = twin_aws_update_answer(&up, &req, 7, 3000, &b);
	CHECK_STR(o->topic, "$aws/things/rack-1/shadow/update/accepted");
	CHECK_STR(o->payload,
			"{\"state\":{\"desired\":{\"x\":{\"y\":1},\"z\":null},\"reported\":null},\"metadata\":"
			"{\"desired\":{\"x\":{\"y\":{\"timestamp\":3}},\"z\":{\"timestamp\":3}}},\"version\":7,"
			"\"timestamp\":3,\"clientToken\":\"c\"}");
	twin_out_free(o);
	twin_request_free(&req);
	CHECK(twin_aws_write_shadow(&prev, NULL));
	cJSON *doc = rack();
	o = twin_aws_documents("rack-1", &prev, doc, 8000, "c", &b);
	CHECK_STR(o->topic, "$aws/things/rack-1/shadow/update/documents");
	CHECK(!strncmp(o->payload, "{\"previous\":null,\"current\":{\"state\":{\"desired\":", 47));
	CHECK_CONTAINS(o->payload, "\"version\":1},\"timestamp\":8,\"clientToken\":\"c\"}");
	twin_out_free(o);
	o = twin_aws_delete_answer(&up, 9, 4000, NULL, &b);
	CHECK_STR(o->payload, "{\"version\":9,\"timestamp\":4}");
	twin_out_free(o);
	cJSON_Delete(doc);
	twin_buf_free(&b);
	twin_buf_free(&prev);
}

TEST(errors_use_aws_codes_messages_and_the_routes_token)
{
	struct twin_error err;
	struct twin_route named = {.front = TWIN_FRONT_AWS, .client_id = "app",
			.request_topic = "$aws/things/rack-1/shadow/name/cfg/delete", .token = "early"};
	twin_fail(&err, TWIN_ERR_NOT_FOUND, "twin 'rack-1~cfg' not found");
	struct twin_out *o = twin_answer_error(&named, &err, NULL);
	CHECK_STR(o->topic, "$aws/things/rack-1/shadow/name/cfg/delete/rejected");
	CHECK_CONTAINS(o->payload, "{\"code\":404,\"message\":\"No shadow exists with name: 'cfg'\"");
	CHECK_CONTAINS(o->payload, "\"clientToken\":\"early\"}");
	CHECK_INT(o->status, 404);
	twin_out_free(o);
	twin_fail(&err, TWIN_ERR_CONFLICT, "version conflict: ...");
	o = twin_answer_error(&route, &err, "t");
	CHECK_CONTAINS(o->payload, "{\"code\":409,\"message\":\"Version conflict\"");
	twin_out_free(o);
	twin_fail(&err, TWIN_ERR_BUSY, "the twin plugin is busy");
	o = twin_answer_error(&route, &err, NULL);
	CHECK_CONTAINS(o->payload, "{\"code\":429,");
	twin_out_free(o);
	twin_fail(&err, TWIN_ERR_STORE_FULL, "twin store full");
	o = twin_answer_error(&route, &err, NULL);
	CHECK_CONTAINS(o->payload, "{\"code\":500,\"message\":\"twin store full\"");
	twin_out_free(o);
}
