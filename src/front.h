/* front.h - the request fronts as one layer above the core: the native $twin API and the compatibility
 * fronts (front_aws, front_azure; docs/compat-fronts.md), each one a struct twin_front_ops, looked up by
 * enum twin_front (a match's front, a route's front). Layers, each calling only those below it:
 *
 *   engine, writer            a request's front-specific steps through twin_front(front)
 *   front                     this table, the native ops, twin_request_parse_for, twin_answer_error
 *   front_aws, front_azure    their ops (defined there, with this header's type), documents, pushes
 *   request, topic, jsonx ... $twin bodies and answers, classification and verb names, JSON, the twin
 *
 * The core knows no front: topic.c classifies $twin and calls the classifiers the engine attached to
 * its topic set for the switched-on fronts (twin_topic_add_front with an ops' topic); request.c parses
 * and answers $twin only. */
#ifndef TWIN_FRONT_H
#define TWIN_FRONT_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "jsonx.h"
#include "queue.h"
#include "request.h"
#include "topic.h"

struct twin_front_ops {
	enum twin_front front;
	struct twin_topic_front topic; /* its topics; no prefix for $twin, which topic.c classifies itself */
	bool takes_response_topic;     /* answers may go to an MQTT v5 response topic ($twin); the fronts
	                                  answer on their own topics */
	bool device_requests;          /* the requester is the device: asking makes its twin connected */
	bool desired_to_session;       /* the device's desired pushes go to the client that asked last */
	bool missing_is_empty;         /* a get of a twin not created yet is answered as an empty twin */
	bool keeps_deleted_version;    /* an update may carry the version its twin's delete was answered with */
	/* The twin a request is about (*id NULL for a request about no twin: $twin/{verb}); false with a 400
	 * when it names no valid one. buf holds TWIN_MAX_ID_LEN + 1 bytes for an id made here. The device
	 * id of a connection, where a front needs one, is its username when by_username, else its client id
	 * (telemetry_id_from). */
	bool (*twin_id)(const struct twin_topic_match *m, const char *client_id, const char *username,
			bool by_username, char *buf, const char **id, size_t *id_len, struct twin_error *err);
	/* May be NULL. The token to echo in answers made before the payload is parsed (malloc'd, or NULL). */
	char *(*early_token)(const char *payload, size_t len);
	/* May be NULL. Checks of the topic's own parameters, made before the verb is checked, and of what
	 * the front does not serve, made after: false with err set refuses the request. */
	bool (*check_topic)(const struct twin_topic_match *m, struct twin_error *err);
	bool (*check_request)(const char *topic, struct twin_error *err);
	/* May be NULL (then $twin's). The refusal of an unknown verb. */
	void (*unknown_verb)(const struct twin_topic_match *m, struct twin_error *err);
	/* The request body of this verb, in the front's form (twin_request_parse's contract). */
	enum twin_rc (*parse)(enum twin_verb verb, const char *payload, size_t len, int max_depth,
			struct twin_request *req, struct twin_error *err);
	/* The answers, in the front's form, assembled in b. doc is NULL only with missing_is_empty. */
	struct twin_out *(*get_answer)(const struct twin_route *r, const cJSON *doc, bool connected,
			const struct twin_request *req, struct twin_buf *b);
	/* May be NULL: the get answer made from the twin's stored value without loading it (for big twins:
	 * no tree). NULL when not made so; then the engine loads the twin and calls get_answer. Only $twin's
	 * full answer has one: field selections and the fronts' documents are built from the tree. */
	struct twin_out *(*get_answer_stored)(const struct twin_route *r, const struct twin_stored *t,
			bool connected, const struct twin_request *req, struct twin_buf *b);
	/* May be NULL: the writer's $twin answer. doc is the twin after the update. */
	struct twin_out *(*update_answer)(const struct twin_route *r, const struct twin_request *req,
			const cJSON *doc, int64_t ts, struct twin_buf *b);
	/* May be NULL: the writer's $twin answer. version is the deleted twin's last one. */
	struct twin_out *(*delete_answer)(const struct twin_route *r, int64_t version, int64_t ts,
			const char *token, struct twin_buf *b);
	struct twin_out *(*error_answer)(const struct twin_route *r, const struct twin_error *e,
			const char *token);
};

/* The ops of each front, defined by its module. */
extern const struct twin_front_ops twin_front_aws, twin_front_azure;

/* The ops of front (an enum twin_front); $twin's for any other value. */
const struct twin_front_ops *twin_front(int front);

/* Parses the payload of a request with this verb that came in on the route's front, in that API's
 * form. On failure req->token is still set when the payload had a valid token, so the error can echo
 * it. */
enum twin_rc twin_request_parse_for(const struct twin_route *r, enum twin_verb verb,
		const char *payload, size_t len, int max_depth, struct twin_request *req,
		struct twin_error *err);

/* An error answer in the form of the route's front. NULL on allocation failure. */
struct twin_out *twin_answer_error(const struct twin_route *r, const struct twin_error *e,
		const char *token);

#endif
