/* test_request.c - request bodies and answer routing. */
#include "check.h"
#include "front.h" /* twin_answer_error */
#include "request.h"

static enum twin_rc parse(enum twin_verb verb, const char *body, struct twin_request *req,
		struct twin_error *err)
{
	return twin_request_parse(verb, body, strlen(body), 4, req, err);
}

TEST(request_should_accept_valid_bodies)
{
	struct twin_request req;
	struct twin_error err;
	CHECK_INT(parse(TWIN_VERB_UPDATE, "{\"desired\":{\"fan\":3},\"version\":4,\"token\":\"t1\"}", &req, &err), TWIN_OK);
	CHECK(req.sections[TWIN_SEC_DESIRED] != NULL);
	CHECK(req.has_version && req.version == 4);
	CHECK_STR(req.token, "t1");
	twin_request_free(&req);
	CHECK_INT(parse(TWIN_VERB_GET, "", &req, &err), TWIN_OK);
	twin_request_free(&req);
	CHECK_INT(parse(TWIN_VERB_GET, "{\"fields\":[\"reported\",\"desired/fan\"]}", &req, &err), TWIN_OK);
	CHECK(cJSON_GetArraySize(req.fields) == 2);
	twin_request_free(&req);
}

TEST(request_should_refuse_with_a_message_naming_the_problem)
{
	static const char *cases[][3] = {
			{"u", "{\"desired\":5}", "'desired' must be a JSON object"},
			{"u", "{\"desire\":{}}", "unknown field 'desire'"},
			{"u", "{\"token\":\"x\"}", "at least one of desired"},
			{"u", "", "update needs a JSON object"},
			{"u", "[1]", "must be a JSON object"},
			{"u", "{\"desired\":{},\"version\":1.5}", "'version' must be a non-negative integer"},
			{"u", "{\"desired\":{},\"version\":-1}", "'version' must be a non-negative integer"},
			{"u", "{\"desired\":{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}}", "nested too deep"},
			{"u", "{\"desired\":{}", "malformed JSON"},
			{"g", "{\"fields\":\"reported\"}", "'fields' must be an array"},
			{"g", "{\"fields\":[1]}", "non-empty strings"},
			{"g", "{\"token\":7}", "'token' must be a string"},
			{"d", "{\"desired\":{}}", "unknown field 'desired'"},
			{"g", "{\"\\u0000x\":1}", "unknown field ''"}, /* found by fuzzing: once an endless loop */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct twin_request req;
		struct twin_error err = {.rc = TWIN_OK};
		enum twin_verb verb = cases[i][0][0] == 'u' ? TWIN_VERB_UPDATE
				: cases[i][0][0] == 'g'             ? TWIN_VERB_GET
													: TWIN_VERB_DELETE;
		if (parse(verb, cases[i][1], &req, &err) != TWIN_ERR_BAD_REQUEST ||
				!strstr(err.msg, cases[i][2])) {
			CHECK_FAIL("case %zu (%s): got '%s'", i, cases[i][1], err.msg);
		}
		twin_request_free(&req);
	}
}

TEST(request_should_keep_the_token_for_error_answers)
{
	struct twin_request req;
	struct twin_error err;
	CHECK_INT(parse(TWIN_VERB_UPDATE, "{\"token\":\"abc\",\"desired\":1}", &req, &err), TWIN_ERR_BAD_REQUEST);
	CHECK_STR(req.token, "abc");
	twin_request_free(&req);
}

TEST(response_topics_should_refuse_wildcards_and_empty)
{
	struct twin_error err;
	CHECK(twin_response_topic_valid("replies/app1", &err));
	CHECK(!twin_response_topic_valid("x/#", &err));
	CHECK_CONTAINS(err.msg, "wildcards");
	CHECK(!twin_response_topic_valid("a/+/b", &err));
	CHECK(!twin_response_topic_valid("", &err));
}

TEST(answers_should_route_to_response_topic_or_accepted_rejected)
{
	struct twin_route v5 = {.client_id = "app", .response_topic = "replies/app",
			.request_topic = "$twin/x/get", .corr = "c1", .corr_len = 2};
	struct twin_route v311 = {.client_id = "app", .request_topic = "$twin/x/get"};
	struct twin_error err;
	twin_fail(&err, TWIN_ERR_NOT_FOUND, "twin 'x' not found");
	struct twin_out *o = twin_answer_error(&v5, &err, "tok");
	CHECK_STR(o->topic, "replies/app");
	CHECK_STR(o->target, "app");
	CHECK_INT(o->status, 404);
	CHECK_INT(o->corr_len, 2);
	CHECK_STR(o->payload, "{\"status\":404,\"error\":\"twin 'x' not found\",\"token\":\"tok\"}");
	twin_out_free(o);
	o = twin_answer_error(&v311, &err, NULL);
	CHECK_STR(o->topic, "$twin/x/get/rejected");
	twin_out_free(o);
	o = twin_answer_json(&v311, cJSON_CreateObject(), NULL);
	CHECK_STR(o->topic, "$twin/x/get/accepted");
	CHECK_INT(o->status, 200);
	twin_out_free(o);
}
