/* front_aws.h - the AWS IoT Device Shadow front (docs/compat-fronts.md): its topics
 * ($aws/things/{thing}/shadow[/name/{shadow}]/{get,update,delete}), which twin a shadow is ({thing}, or
 * {thing}~{shadow} for a named shadow), its request bodies and its documents (accepted, rejected,
 * update/delta, update/documents). Its ops for the front table are twin_front_aws (front.h); the writer
 * calls the update/documents and update/delta messages directly. Calls only the core below (topic,
 * request, jsonx, twin). Pure: no broker calls, no store. */
#ifndef TWIN_FRONT_AWS_H
#define TWIN_FRONT_AWS_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "front.h"
#include "jsonx.h"
#include "queue.h"
#include "request.h"
#include "topic.h"

#define TWIN_AWS_PREFIX        "$aws/things/"
#define TWIN_AWS_SHADOW_SEP    TWIN_SHADOW_SEP /* between thing and shadow name in a named shadow's twin id */
#define TWIN_AWS_MAX_TOKEN_LEN 64

/* topic is past TWIN_AWS_PREFIX. Shadow requests are REQUEST (front AWS, id = the thing, shadow set
 * for a named shadow); any other topic under a shadow (answers, delta, documents) is RESERVED; topics
 * that are not about a shadow (jobs, ...) are left as NONE. */
void twin_aws_classify(const char *rest, size_t rest_len, struct twin_topic_match *m);

/* The twin id of the shadow m names, written to out (TWIN_MAX_ID_LEN + 1 bytes, NUL-terminated). False
 * with a 400 when the thing or shadow name is not a valid twin id or contains the separator. */
bool twin_aws_twin_id(const struct twin_topic_match *m, char *out, size_t *out_len,
		struct twin_error *err);

/* The clientToken of a request payload, if it has a valid one (malloc'd), else NULL; found without
 * parsing the payload, for the answers to requests refused before or while they are parsed (rate limits,
 * a full queue, too large, too deep, invalid JSON after the token). */
char *twin_aws_client_token(const char *payload, size_t len);

/* Parses a shadow request: get and delete take {clientToken, version} (a get's version is ignored),
 * update {state: {desired, reported}, clientToken, version}; "desired": null sets req->clear. Errors
 * carry AWS's messages. */
enum twin_rc twin_aws_parse(enum twin_verb verb, const char *payload, size_t len, int max_depth,
		struct twin_request *req, struct twin_error *err);

/* get/accepted: {"state":{desired,reported,delta},"metadata":{..},"version","timestamp","clientToken"}. */
struct twin_out *twin_aws_get_answer(const struct twin_route *r, const cJSON *doc, const char *token,
		int64_t now_ms, struct twin_buf *b);
/* update/accepted: the request's state, its leaves' metadata at ts, the version. */
struct twin_out *twin_aws_update_answer(const struct twin_route *r, const struct twin_request *req,
		int64_t version, int64_t ts, struct twin_buf *b);
/* delete/accepted: {"version","timestamp","clientToken"}. */
struct twin_out *twin_aws_delete_answer(const struct twin_route *r, int64_t version, int64_t ts,
		const char *token, struct twin_buf *b);
/* {request topic}/rejected: {"code","message","timestamp","clientToken"}, the code one of AWS's. */
struct twin_out *twin_aws_error_answer(const struct twin_route *r, const struct twin_error *e,
		const char *token);

/* {"state":{"desired","reported"},"metadata":{..},"version"} of doc, or null without a doc: one side of
 * an update/documents message. */
bool twin_aws_write_shadow(struct twin_buf *b, const cJSON *doc);
/* The shadow's update/documents message; previous is a twin_aws_write_shadow rendering. */
struct twin_out *twin_aws_documents(const char *id, const struct twin_buf *previous, const cJSON *doc,
		int64_t ts, const char *token, struct twin_buf *b);
/* The shadow's update/delta message: the doc's (non-empty) delta with its desired timestamps. */
struct twin_out *twin_aws_delta(const char *id, size_t id_len, const cJSON *doc, int64_t ts,
		struct twin_buf *b);

#endif
