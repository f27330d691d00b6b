/* front.c - the table of fronts and the native ($twin) front's ops (see front.h): what request.c and
 * topic.c do for $twin, in the shape every front has. */
#include "front.h"

static bool native_twin_id(const struct twin_topic_match *m, const char *client_id,
		const char *username, bool by_username, char *buf, const char **id, size_t *id_len,
		struct twin_error *err)
{
	(void)client_id, (void)username, (void)by_username, (void)buf;
	*id = m->id;
	*id_len = m->id_len;
	return !m->id || twin_topic_native_id_valid(m->id, m->id_len, err);
}

static void native_unknown_verb(const struct twin_topic_match *m, struct twin_error *err)
{
	twin_fail(err, TWIN_ERR_BAD_REQUEST,
			"unknown request '%.*s' (known: $twin/{id}/get, $twin/{id}/update, "
			"$twin/{id}/delete, $twin/{id}/history, $twin/search, $twin/stats)",
			(int)m->verb_len, m->verb_name);
}

static const struct twin_front_ops native = {
		.front = TWIN_FRONT_NATIVE,
		.takes_response_topic = true,
		.twin_id = native_twin_id,
		.unknown_verb = native_unknown_verb,
		.parse = twin_request_parse,
		.get_answer = twin_request_get_answer,
		.get_answer_stored = twin_request_get_answer_stored,
		.error_answer = twin_request_error_answer,
};

const struct twin_front_ops *twin_front(int front)
{
	static const struct twin_front_ops *const all[TWIN_N_FRONTS] = {
			[TWIN_FRONT_NATIVE] = &native,
			[TWIN_FRONT_AWS] = &twin_front_aws,
			[TWIN_FRONT_AZURE] = &twin_front_azure,
	};
	return front > TWIN_FRONT_NATIVE && front < TWIN_N_FRONTS ? all[front] : &native;
}

enum twin_rc twin_request_parse_for(const struct twin_route *r, enum twin_verb verb,
		const char *payload, size_t len, int max_depth, struct twin_request *req,
		struct twin_error *err)
{
	return twin_front(r->front)->parse(verb, payload, len, max_depth, req, err);
}

struct twin_out *twin_answer_error(const struct twin_route *r, const struct twin_error *e,
		const char *token)
{
	return twin_front(r->front)->error_answer(r, e, token);
}
