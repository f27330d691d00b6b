/* test_front_azure.c - the Azure IoT Hub twin front: topics and $rid, the device id of a connection,
 * reported patches, the answers (GET, 204 with the reported $version, errors) and desired pushes; and
 * the session table that says which client gets a device's pushes. */
#include "azure_session.h"
#include "check.h"
#include "front_azure.h"
#include "twin.h"

static struct twin_topic_match classify(const char *topic)
{
	struct twin_topic_match m;
	memset(&m, 0, sizeof(m));
	size_t prefix = strlen(TWIN_AZURE_PREFIX);
	twin_azure_classify(topic + prefix, strlen(topic) - prefix, &m);
	return m;
}

TEST(requests_are_classified_and_their_rid_found)
{
	struct twin_topic_match m = classify("$iothub/twin/GET/?$rid=02616bd6-1");
	CHECK_INT(m.route, TWIN_ROUTE_REQUEST);
	CHECK_INT(m.front, TWIN_FRONT_AZURE);
	CHECK_INT(m.verb, TWIN_VERB_GET);
	CHECK_INT(m.rid_len, 10);
	CHECK(!memcmp(m.rid, "02616bd6-1", 10));
	m = classify("$iothub/twin/PATCH/properties/reported/?a=b&$rid=7&$version=3");
	CHECK_INT(m.verb, TWIN_VERB_UPDATE);
	CHECK_INT(m.rid_len, 1);
	CHECK(m.rid[0] == '7');
	m = classify("$iothub/twin/GET/");
	CHECK_INT(m.verb, TWIN_VERB_GET);
	CHECK(m.rid == NULL);
	m = classify("$iothub/twin/DELETE/?$rid=1");
	CHECK_INT(m.route, TWIN_ROUTE_REQUEST);
	CHECK_INT(m.verb, TWIN_VERB_UNKNOWN);
	CHECK_INT(classify("$iothub/twin/res/200/?$rid=1").route, TWIN_ROUTE_RESERVED);
	CHECK_INT(classify("$iothub/twin/PATCH/properties/desired/?$version=2").route, TWIN_ROUTE_RESERVED);
}

TEST(the_device_id_comes_from_the_client_id_or_with_telemetry_id_from_username_the_username)
{
	size_t len;
	/* telemetry_id_from client_id (the default): the client id, whatever the username says */
	CHECK_STR(twin_azure_device_id("hub.example/dev-1/?api-version=2021-04-12", "client-1", false, &len),
			"client-1");
	CHECK_INT(len, 8);
	CHECK_STR(twin_azure_device_id("dev-cn", "client-2", false, &len), "client-2");
	CHECK_STR(twin_azure_device_id(NULL, "client-3", false, &len), "client-3");
	CHECK(twin_azure_device_id("dev-cn", NULL, false, &len) == NULL);
	/* telemetry_id_from username: the SDK's {hub}/{deviceId}/... form, or the whole username */
	const char *id = twin_azure_device_id("hub.example/dev-1/?api-version=2021-04-12", "c", true, &len);
	CHECK_INT(len, 5);
	CHECK(!memcmp(id, "dev-1", 5));
	id = twin_azure_device_id("hub/dev-2", "c", true, &len);
	CHECK_INT(len, 5);
	CHECK(!memcmp(id, "dev-2", 5));
	CHECK_STR(twin_azure_device_id("dev-cn", "c", true, &len), "dev-cn");
	CHECK_INT(len, 6);
	CHECK(twin_azure_device_id(NULL, "client-3", true, &len) == NULL);
	CHECK(twin_azure_device_id("", "client-4", true, &len) == NULL);
}

TEST(reported_patches_must_be_objects)
{
	struct twin_request req;
	struct twin_error err;
	const char *patch = "{\"fw\":\"1.0\",\"x\":null}";
	CHECK_INT(twin_azure_parse_patch(patch, strlen(patch), 4, &req, &err), TWIN_OK);
	CHECK(req.sections[TWIN_SEC_REPORTED] == req.root);
	twin_request_free(&req);
	CHECK_INT(twin_azure_parse_patch("[1]", 3, 4, &req, &err), TWIN_ERR_BAD_REQUEST);
	CHECK_CONTAINS(err.msg, "must be a JSON object");
	twin_request_free(&req);
	CHECK_INT(twin_azure_parse_patch("{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}", 26, 4, &req, &err),
			TWIN_ERR_BAD_REQUEST);
	twin_request_free(&req);
}

static const struct twin_route route = {.front = TWIN_FRONT_AZURE, .client_id = "dev-1",
		.request_topic = "$iothub/twin/GET/?$rid=r1", .rid = "r1"};

TEST(answers_carry_the_section_versions)
{
	struct twin_buf b = {0};
	cJSON *doc = twin_doc_create("dev-1", 5, 0, 1);
	cJSON *p = cJSON_Parse("{\"fan\":\"high\"}");
	twin_doc_patch(doc, TWIN_SEC_DESIRED, p, 2, NULL);
	twin_doc_bump(doc, 1u << TWIN_SEC_DESIRED, 2);
	cJSON *p2 = cJSON_Parse("{\"fan\":1}");
	twin_doc_patch(doc, TWIN_SEC_DESIRED, p2, 3, NULL);
	twin_doc_bump(doc, 1u << TWIN_SEC_DESIRED, 3);
	cJSON_Delete(p2);
	struct twin_out *o = twin_azure_get_answer(&route, doc, &b);
	CHECK_STR(o->topic, "$iothub/twin/res/200/?$rid=r1");
	CHECK_STR(o->target, "dev-1");
	CHECK_STR(o->payload, "{\"desired\":{\"fan\":1,\"$version\":2},\"reported\":{\"$version\":0}}");
	twin_out_free(o);
	o = twin_azure_get_answer(&route, NULL, &b);
	CHECK_STR(o->payload, "{\"desired\":{\"$version\":0},\"reported\":{\"$version\":0}}");
	twin_out_free(o);
	o = twin_azure_patch_answer(&route, doc);
	CHECK_STR(o->topic, "$iothub/twin/res/204/?$rid=r1&$version=0");
	CHECK_INT(o->payload_len, 0);
	CHECK_INT(o->status, 204);
	twin_out_free(o);
	o = twin_azure_desired_push("dev-1", p, doc, &b);
	CHECK_STR(o->topic, "$iothub/twin/PATCH/properties/desired/?$version=2");
	CHECK_STR(o->payload, "{\"fan\":\"high\",\"$version\":2}");
	CHECK(o->to_session);
	CHECK_INT(o->qos, 1);
	twin_out_free(o);
	cJSON_Delete(p);
	cJSON_Delete(doc);
	twin_buf_free(&b);
}

TEST(errors_are_error_codes_on_the_status_topic)
{
	struct twin_error err;
	twin_fail(&err, TWIN_ERR_BAD_REQUEST, "bad \"patch\"");
	struct twin_out *o = twin_answer_error(&route, &err, NULL);
	CHECK_STR(o->topic, "$iothub/twin/res/400/?$rid=r1");
	CHECK_STR(o->payload, "{\"errorCode\":400000,\"message\":\"bad \\\"patch\\\"\"}");
	twin_out_free(o);
}

TEST(a_session_belongs_to_the_last_client_that_asked_until_it_leaves)
{
	struct twin_azure_sessions s = {0};
	CHECK(twin_azure_session_client(&s, "dev-1", 5) == NULL);
	twin_azure_session_set(&s, "dev-1", 5, "c1");
	twin_azure_session_set(&s, "dev-1", 5, "c1");
	CHECK_STR(twin_azure_session_client(&s, "dev-1", 5), "c1");
	twin_azure_session_set(&s, "dev-1", 5, "c2"); /* another client took the device over */
	CHECK_STR(twin_azure_session_client(&s, "dev-1", 5), "c2");
	twin_azure_session_client_gone(&s, "c1"); /* no longer holds anything */
	CHECK_STR(twin_azure_session_client(&s, "dev-1", 5), "c2");
	twin_azure_session_set(&s, "dev-2", 5, "c2"); /* the client now speaks for another device */
	CHECK(twin_azure_session_client(&s, "dev-1", 5) == NULL);
	CHECK_STR(twin_azure_session_client(&s, "dev-2", 5), "c2");
	twin_azure_session_set(&s, "dev-3", 5, "c3");
	twin_azure_session_client_gone(&s, "c2");
	CHECK(twin_azure_session_client(&s, "dev-2", 5) == NULL);
	CHECK_STR(twin_azure_session_client(&s, "dev-3", 5), "c3");
	twin_azure_session_free(&s);
	CHECK(s.by_device == NULL && s.by_client == NULL);
}

TEST(azure_names_stay_azure_s_own)
{
	struct twin_request req;
	struct twin_error err;
	const char *patch = "{\"$version\":7,\"t\":1}";
	CHECK_INT(twin_azure_parse_patch(patch, strlen(patch), 4, &req, &err), TWIN_ERR_BAD_REQUEST);
	CHECK_CONTAINS(err.msg, "'$version'");
	twin_request_free(&req);
	/* a "$version" set through another API never doubles the section's own */
	struct twin_buf b = {0};
	cJSON *doc = twin_doc_create("d", 1, 0, 1);
	cJSON *p = cJSON_Parse("{\"$version\":8,\"a\":1}");
	twin_doc_patch(doc, TWIN_SEC_DESIRED, p, 2, NULL);
	twin_doc_bump(doc, 1u << TWIN_SEC_DESIRED, 2);
	struct twin_out *o = twin_azure_get_answer(&route, doc, &b);
	CHECK_STR(o->payload, "{\"desired\":{\"a\":1,\"$version\":1},\"reported\":{\"$version\":0}}");
	twin_out_free(o);
	o = twin_azure_desired_push("d", p, doc, &b);
	CHECK_STR(o->payload, "{\"a\":1,\"$version\":1}");
	twin_out_free(o);
	cJSON_Delete(p);
	cJSON_Delete(doc);
	twin_buf_free(&b);
	CHECK(twin_azure_conditional("$iothub/twin/PATCH/properties/reported/?$rid=1&$version=3"));
	CHECK(twin_azure_conditional("$iothub/twin/PATCH/properties/reported/?$version=3"));
	CHECK(!twin_azure_conditional("$iothub/twin/PATCH/properties/reported/?$rid=1"));
}
