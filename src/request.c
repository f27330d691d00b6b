/* request.c - $twin request parsing and answers (see request.h). Every refusal says which field or limit
 * was wrong; unknown fields are refused so a typo is never silently ignored. Knows no compatibility
 * front: they parse and answer their own requests (front.h), calling twin_answer_raw for the routing. */
#include "request.h"

#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

#define MAX_FIELDS 64

static const char *allowed_fields(enum twin_verb verb)
{
	switch (verb) {
		case TWIN_VERB_GET:
			return "fields, token";
		case TWIN_VERB_UPDATE:
			return "desired, attributes, reported, version, token";
		case TWIN_VERB_DELETE:
			return "version, token";
		case TWIN_VERB_HISTORY:
			return "limit, since, fields, token";
		case TWIN_VERB_SEARCH:
			return "filter, fields, sort, limit, cursor, count, token";
		case TWIN_VERB_ACK:
			return "alarm, token";
		default:
			return "token";
	}
}

static bool field_allowed(enum twin_verb verb, const char *name)
{
	const char *list = allowed_fields(verb);
	size_t n = strlen(name);
	if (n == 0) {
		return false; /* also keys cut short by an embedded \u0000 */
	}
	for (const char *p = list; (p = strstr(p, name)) != NULL; p += n) {
		if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0')) {
			return true;
		}
	}
	return false;
}

static enum twin_rc check_fields(const cJSON *fields, struct twin_error *err)
{
	const cJSON *f;
	int n = 0;
	if (!cJSON_IsArray(fields)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"'fields' must be an array of paths such as \"reported\" or \"desired/fanSpeed\"");
	}
	cJSON_ArrayForEach(f, fields)
	{
		if (!cJSON_IsString(f) || !f->valuestring[0]) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST,
					"'fields' must contain only non-empty strings (item %d is not)", n);
		}
		if (++n > MAX_FIELDS) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "'fields' has more than %d paths",
					MAX_FIELDS);
		}
	}
	return TWIN_OK;
}

static enum twin_rc check_member(enum twin_verb verb, const cJSON *m, struct twin_request *req,
		struct twin_error *err)
{
	const char *name = m->string;
	if (!field_allowed(verb, name)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST, "unknown field '%.64s' (allowed here: %s)",
				name, allowed_fields(verb));
	}
	if (!strcmp(name, "version")) {
		if (!twin_json_int64(m, &req->version) || req->version < 0) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "'version' must be a non-negative integer");
		}
		req->has_version = true;
	} else if (!strcmp(name, "fields")) {
		req->fields = m;
		return check_fields(m, err);
	} else if (!strcmp(name, "limit")) {
		int64_t max = verb == TWIN_VERB_SEARCH ? TWIN_SEARCH_LIMIT_MAX : TWIN_HISTORY_LIMIT_MAX;
		if (!twin_json_int64(m, &req->limit) || req->limit < 1 || req->limit > max) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "'limit' must be an integer from 1 to %lld",
					(long long)max);
		}
	} else if (!strcmp(name, "since")) {
		if (!twin_json_int64(m, &req->since) || req->since < 0) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST,
					"'since' must be a time in epoch milliseconds (a non-negative integer)");
		}
	} else if (!strcmp(name, "filter") || !strcmp(name, "cursor")) {
		if (!cJSON_IsString(m) || strlen(m->valuestring) > TWIN_FILTER_MAX_LEN) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "'%s' must be a string of at most %d bytes",
					name, TWIN_FILTER_MAX_LEN);
		}
		*(name[0] == 'f' ? &req->filter : &req->cursor) = m->valuestring;
	} else if (!strcmp(name, "alarm")) {
		if (!cJSON_IsString(m) || !m->valuestring[0] || strlen(m->valuestring) > TWIN_MAX_ID_LEN) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "'alarm' must be the name of one of the twin's alarms");
		}
		req->alarm = m->valuestring;
	} else if (!strcmp(name, "sort")) {
		req->sort = m;
	} else if (!strcmp(name, "count")) {
		if (!cJSON_IsBool(m)) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "'count' must be true or false");
		}
		req->count = cJSON_IsTrue(m);
	} else if (strcmp(name, "token") != 0) {
		for (int s = 0; s < TWIN_N_SECTIONS; s++) {
			if (!strcmp(name, twin_section_names[s])) {
				if (!cJSON_IsObject(m)) {
					return twin_fail(err, TWIN_ERR_BAD_REQUEST,
							"'%s' must be a JSON object (a merge patch)", name);
				}
				req->sections[s] = m;
			}
		}
	}
	return TWIN_OK;
}

enum twin_rc twin_request_parse(enum twin_verb verb, const char *payload, size_t len, int max_depth,
		struct twin_request *req, struct twin_error *err)
{
	enum twin_rc rc;
	const cJSON *m;
	memset(req, 0, sizeof(*req));
	if (len == 0) {
		return verb == TWIN_VERB_UPDATE
				? twin_fail(err, TWIN_ERR_BAD_REQUEST,
						  "update needs a JSON object with desired, attributes or reported")
				: verb == TWIN_VERB_ACK ? twin_fail(err, TWIN_ERR_BAD_REQUEST, "ack needs {\"alarm\": \"<name>\"}")
										: TWIN_OK;
	}
	if (!twin_json_depth_within(payload, len, max_depth + 1)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"JSON nested too deep: the limit is %d levels inside a section (max_depth)",
				max_depth);
	}
	if (!(req->root = twin_json_parse(payload, len, err))) {
		return TWIN_ERR_BAD_REQUEST;
	}
	if (!cJSON_IsObject(req->root)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST, "the request payload must be a JSON object");
	}
	const cJSON *token = cJSON_GetObjectItemCaseSensitive(req->root, "token");
	if (token) {
		if (!cJSON_IsString(token)) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "'token' must be a string");
		}
		if (strlen(token->valuestring) > TWIN_MAX_TOKEN_LEN) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "'token' is longer than %d bytes",
					TWIN_MAX_TOKEN_LEN);
		}
		req->token = token->valuestring;
	}
	cJSON_ArrayForEach(m, req->root)
	{
		if ((rc = check_member(verb, m, req, err)) != TWIN_OK) {
			return rc;
		}
	}
	if (verb == TWIN_VERB_UPDATE && !req->sections[TWIN_SEC_ATTRIBUTES] &&
			!req->sections[TWIN_SEC_REPORTED] && !req->sections[TWIN_SEC_DESIRED]) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"update needs at least one of desired, attributes, reported");
	}
	if (verb == TWIN_VERB_ACK && !req->alarm) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST, "ack needs {\"alarm\": \"<name>\"}");
	}
	return TWIN_OK;
}

void twin_request_free(struct twin_request *req)
{
	cJSON_Delete(req->root);
	req->root = NULL;
}

bool twin_response_topic_valid(const char *topic, struct twin_error *err)
{
	struct twin_error ignored;
	size_t len = strlen(topic);
	if (len == 0) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "invalid response topic: empty");
		return false;
	}
	if (len > TWIN_MAX_RESPONSE_TOPIC_LEN) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "invalid response topic: %zu bytes, over the limit of %d bytes",
				len, TWIN_MAX_RESPONSE_TOPIC_LEN);
		return false;
	}
	if (strpbrk(topic, "+#")) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"invalid response topic '%.200s': wildcards are not allowed", topic);
		return false;
	}
	/* the id validator's UTF-8 check applies to each level; '/' is fine here */
	for (const char *level = topic;;) {
		const char *slash = strchr(level, '/');
		size_t n = slash ? (size_t)(slash - level) : strlen(level);
		if (n && n <= TWIN_MAX_ID_LEN && !twin_topic_id_valid(level, n, &ignored)) {
			twin_fail(err, TWIN_ERR_BAD_REQUEST, "invalid response topic: not valid UTF-8");
			return false;
		}
		if (!slash) {
			break;
		}
		level = slash + 1;
	}
	return true;
}

struct twin_out *twin_answer_raw(const struct twin_route *r, int status, const char *body,
		size_t len)
{
	char *fallback = NULL;
	const char *topic = r->response_topic;
	if (!topic) {
		const char *suffix = status == 200 ? "/accepted" : "/rejected";
		size_t n = strlen(r->request_topic);
		if (!(fallback = malloc(n + strlen(suffix) + 1))) {
			return NULL;
		}
		memcpy(fallback, r->request_topic, n);
		strcpy(fallback + n, suffix);
		topic = fallback;
	}
	struct twin_out *o = twin_out_publish(r->client_id, topic, body, len, 0, false);
	free(fallback);
	if (!o) {
		return NULL;
	}
	o->status = status;
	if (r->corr_len) {
		if (!(o->corr = malloc(r->corr_len))) {
			twin_out_free(o);
			return NULL;
		}
		memcpy(o->corr, r->corr, r->corr_len);
		o->corr_len = r->corr_len;
	}
	return o;
}

static struct twin_out *answer_with_status(const struct twin_route *r, int status, cJSON *body,
		const char *token)
{
	struct twin_out *o = NULL;
	size_t len;
	if (body && token && !cJSON_AddStringToObject(body, "token", token)) {
		cJSON_Delete(body);
		return NULL;
	}
	char *text = body ? twin_json_print(body, &len) : NULL;
	if (text) {
		o = twin_answer_raw(r, status, text, len);
	}
	cJSON_free(text);
	cJSON_Delete(body);
	return o;
}

struct twin_out *twin_answer_json(const struct twin_route *r, cJSON *body, const char *token)
{
	return answer_with_status(r, 200, body, token);
}

struct twin_out *twin_request_error_answer(const struct twin_route *r, const struct twin_error *e,
		const char *token)
{
	int status = twin_rc_status(e->rc);
	cJSON *body = cJSON_CreateObject();
	if (body && (!cJSON_AddNumberToObject(body, "status", status) ||
						!cJSON_AddStringToObject(body, "error", e->msg) ||
						(e->path[0] && !cJSON_AddStringToObject(body, "path", e->path)) ||
						(e->retry_after_ms > 0 && !twin_json_add_int64(body, "retryAfterMs", e->retry_after_ms)))) {
		cJSON_Delete(body);
		body = NULL;
	}
	return answer_with_status(r, status, body, token);
}

/* The answer to a get whose twin's public JSON is in b: `connected` (and the token) after its members. */
static struct twin_out *full_answer(const struct twin_route *r, bool connected, const char *token,
		struct twin_buf *b)
{
	static const char conn_true[] = ",\"connected\":true", conn_false[] = ",\"connected\":false";
	b->len--; /* the closing brace */
	bool ok = (connected ? twin_buf_put(b, conn_true, sizeof(conn_true) - 1)
						 : twin_buf_put(b, conn_false, sizeof(conn_false) - 1)) &&
			(!token || (twin_buf_put(b, ",\"token\":", 9) && twin_json_write_string(b, token))) &&
			twin_buf_put(b, "}", 1);
	return ok ? twin_answer_raw(r, 200, b->data, b->len) : NULL;
}

static struct twin_out *selected_answer(const struct twin_route *r, const cJSON *doc, bool connected,
		const struct twin_request *req)
{
	cJSON *sel = twin_doc_select(doc, req->fields);
	if (!sel) {
		return NULL;
	}
	const cJSON *f;
	cJSON_ArrayForEach(f, req->fields)
	{
		if (!strcmp(f->valuestring, "connected") && !cJSON_AddBoolToObject(sel, "connected", connected)) {
			cJSON_Delete(sel);
			return NULL;
		}
	}
	return twin_answer_json(r, sel, req->token);
}

struct twin_out *twin_request_get_answer(const struct twin_route *r, const cJSON *doc, bool connected,
		const struct twin_request *req, struct twin_buf *b)
{
	if (req->fields) {
		return selected_answer(r, doc, connected, req);
	}
	b->len = 0;
	return twin_json_write(b, doc) && b->len > 0 ? full_answer(r, connected, req->token, b) : NULL;
}

struct twin_out *twin_request_get_answer_stored(const struct twin_route *r, const struct twin_stored *t,
		bool connected, const struct twin_request *req, struct twin_buf *b)
{
	b->len = 0;
	return !req->fields && twin_doc_render(t, b)
			? full_answer(r, connected, req->token, b)
			: NULL;
}
