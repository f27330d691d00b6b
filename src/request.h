/* request.h - $twin request bodies ($twin/{id}/{verb} payloads): strict parsing and validation with
 * errors that name the field, and the answers: success and error bodies routed per the contract
 * (response topic or {request topic}/accepted|rejected, targeted to the requester, correlation data and
 * status copied). The native front's part of the core; the compatibility fronts (front.h, above) use
 * struct twin_request and twin_answer_raw, and a request of any front is parsed and refused in its
 * front's form through front.h. */
#ifndef TWIN_REQUEST_H
#define TWIN_REQUEST_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "jsonx.h"
#include "queue.h"
#include "topic.h"
#include "twin.h"
#include "twin_render.h"

struct twin_request {
	cJSON *root;                               /* owned; NULL for an empty payload */
	const cJSON *sections[TWIN_N_SECTIONS];    /* update: the patches given */
	bool clear[TWIN_N_SECTIONS];               /* update: empty the section first (AWS "desired": null) */
	const cJSON *fields;                       /* get: array of strings */
	const char *token;                         /* echoed in the answer */
	bool has_version;
	int64_t version;
	int64_t limit;        /* search, history: 0 = the default */
	int64_t since;        /* history: entries at or after this time */
	const char *filter;   /* search */
	const char *cursor;   /* search */
	const cJSON *sort;    /* search: checked by twin_sort_parse */
	bool count;           /* search */
	const char *alarm;    /* ack: the alarm's name */
};

#define TWIN_SEARCH_LIMIT_DEFAULT  25
#define TWIN_SEARCH_LIMIT_MAX      200
#define TWIN_HISTORY_LIMIT_DEFAULT 10
#define TWIN_HISTORY_LIMIT_MAX     1000
#define TWIN_FILTER_MAX_LEN        4096

/* Parses and validates the payload of a request with this verb. On failure req->token is still set when
 * the payload was a JSON object with a string token, so the error can echo it. */
enum twin_rc twin_request_parse(enum twin_verb verb, const char *payload, size_t len, int max_depth,
		struct twin_request *req, struct twin_error *err);
void twin_request_free(struct twin_request *req);

/* A response topic must be non-empty, valid UTF-8 and free of wildcards. */
bool twin_response_topic_valid(const char *topic, struct twin_error *err);

/* Answers: body is consumed (token added when given). NULL on allocation failure. twin_answer_raw routes
 * a body already written (any front's: a front with topics of its own sets no response topic). */
struct twin_out *twin_answer_json(const struct twin_route *r, cJSON *body, const char *token);
struct twin_out *twin_answer_raw(const struct twin_route *r, int status, const char *body,
		size_t len);
/* $twin's error answer: {"status","error"[,"path"][,"retryAfterMs"][,"token"]}. twin_answer_error (front.h)
 * gives a request of any front its front's. */
struct twin_out *twin_request_error_answer(const struct twin_route *r, const struct twin_error *e,
		const char *token);
/* $twin's get answer: the twin's public JSON with "connected", or only the fields the request asked
 * for; assembled in b. */
struct twin_out *twin_request_get_answer(const struct twin_route *r, const cJSON *doc, bool connected,
		const struct twin_request *req, struct twin_buf *b);
/* The same answer made from the twin's stored value without loading it (twin_render.h), so that a
 * twin of thousands of keys costs no tree. NULL when it is not made so: a request with fields (selecting
 * takes the document), a value the renderer declines, or no memory; then load the twin and call
 * twin_request_get_answer. */
struct twin_out *twin_request_get_answer_stored(const struct twin_route *r, const struct twin_stored *t,
		bool connected, const struct twin_request *req, struct twin_buf *b);

#endif
