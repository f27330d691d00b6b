/* front_aws.c - the AWS IoT Device Shadow front (see front_aws.h) and its ops, twin_front_aws. Timestamps
 * are epoch seconds here, as in AWS; the twin keeps milliseconds. Documents are written straight into a
 * reused buffer. */
#include "front_aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"
#include "twin.h"

#define TOPIC_CAP (TWIN_MAX_ID_LEN + 64)

/* ---- topics ---- */

/* True when [p, end) starts with the whole level word. */
static bool level_is(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(end - p) >= n && !memcmp(p, word, n) && (p + n == end || p[n] == '/');
}

/* The operations on a shadow: $twin's verbs of a twin but history. */
#define SHADOW_VERBS (TWIN_VERBS_OF_TWIN & ~TWIN_VERB_BIT(TWIN_VERB_HISTORY))

void twin_aws_classify(const char *rest, size_t rest_len, struct twin_topic_match *m)
{
	const char *end = rest + rest_len;
	const char *slash = memchr(rest, '/', rest_len);
	if (!slash || !level_is(slash + 1, end, "shadow")) {
		return; /* not a shadow topic: jobs, tunnels, ... are not ours */
	}
	m->route = TWIN_ROUTE_RESERVED;
	m->front = TWIN_FRONT_AWS;
	m->id = rest;
	m->id_len = (size_t)(slash - rest);
	const char *p = slash + 1 + 6; /* past "shadow" */
	if (p == end) {
		return;
	}
	p++;
	if (level_is(p, end, "name")) {
		if (p + 4 == end) {
			return;
		}
		m->shadow = p + 5;
		const char *s = memchr(m->shadow, '/', (size_t)(end - m->shadow));
		if (!s) {
			return;
		}
		m->shadow_len = (size_t)(s - m->shadow);
		p = s + 1;
	}
	if (memchr(p, '/', (size_t)(end - p))) {
		return; /* accepted, rejected, delta, documents: the plugin's to publish */
	}
	m->verb = twin_verb_find(p, (size_t)(end - p), SHADOW_VERBS);
	if (m->verb != TWIN_VERB_UNKNOWN) {
		m->route = TWIN_ROUTE_REQUEST;
		m->verb_name = p;
		m->verb_len = (size_t)(end - p);
	}
}

static bool name_valid(const char *what, const char *name, size_t len, struct twin_error *err)
{
	struct twin_error why;
	if (!twin_topic_id_valid(name, len, &why)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "invalid %s name: %s", what, why.msg);
		return false;
	}
	if (memchr(name, TWIN_AWS_SHADOW_SEP, len)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "invalid %s name '%.*s': '%c' is not allowed", what,
				(int)len, name, TWIN_AWS_SHADOW_SEP);
		return false;
	}
	return true;
}

bool twin_aws_twin_id(const struct twin_topic_match *m, char *out, size_t *out_len,
		struct twin_error *err)
{
	if (!name_valid("thing", m->id, m->id_len, err) ||
			(m->shadow && !name_valid("shadow", m->shadow, m->shadow_len, err))) {
		return false;
	}
	size_t len = m->id_len + (m->shadow ? 1 + m->shadow_len : 0);
	if (len > TWIN_MAX_ID_LEN) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"thing and shadow name are %zu bytes together, the limit is %d", len - 1, TWIN_MAX_ID_LEN - 1);
		return false;
	}
	memcpy(out, m->id, m->id_len);
	if (m->shadow) {
		out[m->id_len] = TWIN_AWS_SHADOW_SEP;
		memcpy(out + m->id_len + 1, m->shadow, m->shadow_len);
	}
	out[len] = '\0';
	*out_len = len;
	return true;
}

/* The topic of the shadow that twin id is, with suffix ("update/delta"). */
static void shadow_topic(char *out, const char *id, size_t id_len, const char *suffix)
{
	const char *sep = memchr(id, TWIN_AWS_SHADOW_SEP, id_len);
	if (sep) {
		snprintf(out, TOPIC_CAP, TWIN_AWS_PREFIX "%.*s/shadow/name/%.*s/%s", (int)(sep - id), id,
				(int)(id_len - (size_t)(sep - id) - 1), sep + 1, suffix);
	} else {
		snprintf(out, TOPIC_CAP, TWIN_AWS_PREFIX "%.*s/shadow/%s", (int)id_len, id, suffix);
	}
}

/* ---- requests ---- */

static bool token_valid(const cJSON *t)
{
	return cJSON_IsString(t) && strlen(t->valuestring) <= TWIN_AWS_MAX_TOKEN_LEN;
}

char *twin_aws_client_token(const char *payload, size_t len)
{
	char *token = twin_json_top_string(payload, len, "clientToken");
	if (token && strlen(token) > TWIN_AWS_MAX_TOKEN_LEN) {
		free(token);
		return NULL;
	}
	return token;
}

static enum twin_rc parse_state(const cJSON *state, struct twin_request *req, struct twin_error *err)
{
	static const enum twin_section sections[] = {TWIN_SEC_DESIRED, TWIN_SEC_REPORTED};
	static const char *const messages[] = {"Desired node must be an object",
			"Reported node must be an object"};
	const cJSON *m;
	if (!state) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST, "Missing required node: state");
	}
	if (!cJSON_IsObject(state)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST, "State node must be an object");
	}
	cJSON_ArrayForEach(m, state)
	{
		size_t i = 0;
		while (i < 2 && strcmp(m->string, twin_section_names[sections[i]]) != 0) {
			i++;
		}
		if (i == 2) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "State contains an invalid node: '%.64s'",
					m->string);
		}
		if (cJSON_IsNull(m)) {
			req->clear[sections[i]] = true;
		} else if (cJSON_IsObject(m)) {
			req->sections[sections[i]] = m;
		} else {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "%s", messages[i]);
		}
	}
	return TWIN_OK;
}

enum twin_rc twin_aws_parse(enum twin_verb verb, const char *payload, size_t len, int max_depth,
		struct twin_request *req, struct twin_error *err)
{
	memset(req, 0, sizeof(*req));
	if (len == 0) {
		return verb == TWIN_VERB_UPDATE
				? twin_fail(err, TWIN_ERR_BAD_REQUEST, "Missing required node: state")
				: TWIN_OK;
	}
	if (!twin_json_depth_within(payload, len, max_depth + 2)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"JSON contains too many levels of nesting; maximum is %d", max_depth);
	}
	req->root = twin_json_parse(payload, len, err);
	if (!cJSON_IsObject(req->root)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST, "Invalid JSON");
	}
	const cJSON *token = cJSON_GetObjectItemCaseSensitive(req->root, "clientToken");
	if (token && !token_valid(token)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST, "Invalid clientToken");
	}
	req->token = token ? token->valuestring : NULL;
	const cJSON *version = cJSON_GetObjectItemCaseSensitive(req->root, "version");
	if (version && (!twin_json_int64(version, &req->version) || req->version < 0)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST, "Invalid version");
	}
	req->has_version = version && verb != TWIN_VERB_GET; /* AWS ignores a get's version */
	if (verb != TWIN_VERB_UPDATE) {
		return TWIN_OK;
	}
	return parse_state(cJSON_GetObjectItemCaseSensitive(req->root, "state"), req, err);
}

/* ---- documents ---- */

static bool put_name(struct twin_buf *b, bool first, const char *name)
{
	return (first || twin_buf_put(b, ",", 1)) && twin_json_write_string(b, name) &&
			twin_buf_put(b, ":", 1);
}

static bool put_timestamp(struct twin_buf *b, int64_t ms)
{
	return twin_buf_put(b, "{\"timestamp\":", 13) && twin_json_write_int(b, ms / 1000) &&
			twin_buf_put(b, "}", 1);
}

/* The metadata mirror node with each {"ts": ms} leaf marker as {"timestamp": s}; with only, just the
 * members that only (a delta) has. */
static bool put_meta(struct twin_buf *b, const cJSON *node, const cJSON *only)
{
	if (twin_merge_is_ts_marker(node)) {
		return put_timestamp(b, (int64_t)node->child->valuedouble);
	}
	if (!cJSON_IsObject(node)) {
		return twin_json_write(b, node);
	}
	bool first = true, ok = twin_buf_put(b, "{", 1);
	for (const cJSON *m = node->child; ok && m; m = m->next) {
		const cJSON *sub = only ? cJSON_GetObjectItemCaseSensitive(only, m->string) : NULL;
		if (only && !sub) {
			continue;
		}
		ok = put_name(b, first, m->string) && put_meta(b, m, cJSON_IsObject(sub) ? sub : NULL);
		first = false;
	}
	return ok && twin_buf_put(b, "}", 1);
}

/* The patch's shape with {"timestamp": ts} at every leaf: the metadata of an update's own fields. */
static bool put_stamped(struct twin_buf *b, const cJSON *patch, int64_t ts)
{
	if (!cJSON_IsObject(patch)) {
		return put_timestamp(b, ts);
	}
	bool first = true, ok = twin_buf_put(b, "{", 1);
	for (const cJSON *m = patch->child; ok && m; m = m->next) {
		ok = put_name(b, first, m->string) && put_stamped(b, m, ts);
		first = false;
	}
	return ok && twin_buf_put(b, "}", 1);
}

static bool nonempty(const cJSON *obj)
{
	return obj && cJSON_IsObject(obj) && obj->child;
}

/* {"desired":..,"reported":..[,"delta":..]} with the empty sections left out, as AWS does. */
static bool put_state(struct twin_buf *b, const cJSON *doc, bool with_delta)
{
	static const char *const names[] = {"desired", "reported", "delta"};
	bool first = true, ok = twin_buf_put(b, "{", 1);
	for (int i = 0; ok && i < (with_delta ? 3 : 2); i++) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, names[i]);
		if (nonempty(s)) {
			ok = put_name(b, first, names[i]) && twin_json_write(b, s);
			first = false;
		}
	}
	return ok && twin_buf_put(b, "}", 1);
}

static bool put_metadata(struct twin_buf *b, const cJSON *doc)
{
	static const char *const names[] = {"desired", "reported"};
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
	bool first = true, ok = twin_buf_put(b, "{", 1);
	for (int i = 0; ok && i < 2; i++) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(meta, names[i]);
		if (nonempty(s) && nonempty(cJSON_GetObjectItemCaseSensitive(doc, names[i]))) {
			ok = put_name(b, first, names[i]) && put_meta(b, s, NULL);
			first = false;
		}
	}
	return ok && twin_buf_put(b, "}", 1);
}

/* ,"version":v,"timestamp":s[,"clientToken":t]} */
static bool put_tail(struct twin_buf *b, int64_t version, int64_t ts, const char *token)
{
	return (version < 0 || (twin_buf_put(b, ",\"version\":", 11) && twin_json_write_int(b, version))) &&
			twin_buf_put(b, ",\"timestamp\":", 13) && twin_json_write_int(b, ts / 1000) &&
			(!token || (twin_buf_put(b, ",\"clientToken\":", 15) && twin_json_write_string(b, token))) &&
			twin_buf_put(b, "}", 1);
}

struct twin_out *twin_aws_get_answer(const struct twin_route *r, const cJSON *doc, const char *token,
		int64_t now_ms, struct twin_buf *b)
{
	b->len = 0;
	bool ok = twin_buf_put(b, "{\"state\":", 9) && put_state(b, doc, true) &&
			twin_buf_put(b, ",\"metadata\":", 12) && put_metadata(b, doc) &&
			put_tail(b, twin_doc_version(doc), now_ms, token);
	return ok ? twin_answer_raw(r, 200, b->data, b->len) : NULL;
}

struct twin_out *twin_aws_update_answer(const struct twin_route *r, const struct twin_request *req,
		int64_t version, int64_t ts, struct twin_buf *b)
{
	static const enum twin_section sections[] = {TWIN_SEC_DESIRED, TWIN_SEC_REPORTED};
	b->len = 0;
	bool ok = twin_buf_put(b, "{\"state\":{", 10);
	bool first = true;
	for (int i = 0; ok && i < 2; i++) {
		enum twin_section s = sections[i];
		if (req->sections[s] || req->clear[s]) {
			ok = put_name(b, first, twin_section_names[s]) &&
					(req->clear[s] ? twin_buf_put(b, "null", 4) : twin_json_write(b, req->sections[s]));
			first = false;
		}
	}
	ok = ok && twin_buf_put(b, "},\"metadata\":{", 14);
	first = true;
	for (int i = 0; ok && i < 2; i++) {
		if (req->sections[sections[i]]) {
			ok = put_name(b, first, twin_section_names[sections[i]]) &&
					put_stamped(b, req->sections[sections[i]], ts);
			first = false;
		}
	}
	ok = ok && twin_buf_put(b, "}", 1) && put_tail(b, version, ts, req->token);
	return ok ? twin_answer_raw(r, 200, b->data, b->len) : NULL;
}

struct twin_out *twin_aws_delete_answer(const struct twin_route *r, int64_t version, int64_t ts,
		const char *token, struct twin_buf *b)
{
	b->len = 0;
	bool ok = twin_buf_put(b, "{\"version\":", 11) && twin_json_write_int(b, version) &&
			put_tail(b, -1, ts, token);
	return ok ? twin_answer_raw(r, 200, b->data, b->len) : NULL;
}

/* AWS answers with a handful of codes; a full queue is its throttling, a full store its failure. */
static int aws_code(enum twin_rc rc)
{
	switch (rc) {
		case TWIN_ERR_BAD_REQUEST:
		case TWIN_ERR_NOT_FOUND:
		case TWIN_ERR_CONFLICT:
		case TWIN_ERR_TOO_LARGE:
		case TWIN_ERR_RATE_LIMITED:
			return twin_rc_status(rc);
		case TWIN_ERR_BUSY:
			return 429;
		default:
			return 500;
	}
}

struct twin_out *twin_aws_error_answer(const struct twin_route *r, const struct twin_error *e,
		const char *token)
{
	struct twin_topic_match m = {0};
	char message[TWIN_ERRMSG_LEN + 64];
	const char *text = e->msg;
	size_t prefix = strlen(TWIN_AWS_PREFIX);
	if (e->rc == TWIN_ERR_NOT_FOUND && !strncmp(r->request_topic, TWIN_AWS_PREFIX, prefix)) {
		twin_aws_classify(r->request_topic + prefix, strlen(r->request_topic) - prefix, &m);
		snprintf(message, sizeof(message), "No shadow exists with name: '%.*s'",
				(int)(m.shadow ? m.shadow_len : m.id_len), m.shadow ? m.shadow : m.id);
		text = message;
	} else if (e->rc == TWIN_ERR_CONFLICT) {
		text = "Version conflict";
	} else if (e->rc == TWIN_ERR_TOO_LARGE) {
		snprintf(message, sizeof(message), "The payload exceeds the maximum size allowed (%s)", e->msg);
		text = message;
	}
	struct twin_buf b = {0};
	int code = aws_code(e->rc);
	bool ok = twin_buf_put(&b, "{\"code\":", 8) && twin_json_write_int(&b, code) &&
			twin_buf_put(&b, ",\"message\":", 11) && twin_json_write_string(&b, text) &&
			put_tail(&b, -1, twin_now_ms(), token ? token : r->token);
	struct twin_out *o = ok ? twin_answer_raw(r, code, b.data, b.len) : NULL;
	twin_buf_free(&b);
	return o;
}

/* ---- messages to every subscriber ---- */

bool twin_aws_write_shadow(struct twin_buf *b, const cJSON *doc)
{
	if (!doc) {
		return twin_buf_put(b, "null", 4);
	}
	return twin_buf_put(b, "{\"state\":", 9) && put_state(b, doc, false) &&
			twin_buf_put(b, ",\"metadata\":", 12) && put_metadata(b, doc) &&
			twin_buf_put(b, ",\"version\":", 11) && twin_json_write_int(b, twin_doc_version(doc)) &&
			twin_buf_put(b, "}", 1);
}

struct twin_out *twin_aws_documents(const char *id, const struct twin_buf *previous, const cJSON *doc,
		int64_t ts, const char *token, struct twin_buf *b)
{
	char topic[TOPIC_CAP];
	b->len = 0;
	bool ok = twin_buf_put(b, "{\"previous\":", 12) && twin_buf_put(b, previous->data, previous->len) &&
			twin_buf_put(b, ",\"current\":", 11) && twin_aws_write_shadow(b, doc) &&
			put_tail(b, -1, ts, token);
	shadow_topic(topic, id, strlen(id), "update/documents");
	return ok ? twin_out_publish(NULL, topic, b->data, b->len, 0, false) : NULL;
}

struct twin_out *twin_aws_delta(const char *id, size_t id_len, const cJSON *doc, int64_t ts,
		struct twin_buf *b)
{
	char topic[TOPIC_CAP];
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(doc, "delta");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(doc, "metadata"), "desired");
	b->len = 0;
	bool ok = twin_buf_put(b, "{\"state\":", 9) && twin_json_write(b, delta) &&
			twin_buf_put(b, ",\"metadata\":", 12) &&
			(meta ? put_meta(b, meta, delta) : twin_buf_put(b, "{}", 2)) &&
			put_tail(b, twin_doc_version(doc), ts, NULL);
	shadow_topic(topic, id, id_len, "update/delta");
	return ok ? twin_out_publish(NULL, topic, b->data, b->len, 0, false) : NULL;
}

/* ---- the front's ops ---- */

static bool twin_id(const struct twin_topic_match *m, const char *client_id, const char *username,
		bool by_username, char *buf, const char **id, size_t *id_len, struct twin_error *err)
{
	(void)client_id, (void)username, (void)by_username;
	*id = buf;
	return twin_aws_twin_id(m, buf, id_len, err);
}

static struct twin_out *get_answer(const struct twin_route *r, const cJSON *doc, bool connected,
		const struct twin_request *req, struct twin_buf *b)
{
	(void)connected;
	return twin_aws_get_answer(r, doc, req->token, twin_now_ms(), b);
}

static struct twin_out *update_answer(const struct twin_route *r, const struct twin_request *req,
		const cJSON *doc, int64_t ts, struct twin_buf *b)
{
	return twin_aws_update_answer(r, req, twin_doc_version(doc), ts, b);
}

const struct twin_front_ops twin_front_aws = {
		.front = TWIN_FRONT_AWS,
		.topic = {TWIN_AWS_PREFIX, sizeof(TWIN_AWS_PREFIX) - 1, twin_aws_classify},
		.device_requests = true,
		.keeps_deleted_version = true,
		.twin_id = twin_id,
		.early_token = twin_aws_client_token,
		.parse = twin_aws_parse,
		.get_answer = get_answer,
		.update_answer = update_answer,
		.delete_answer = twin_aws_delete_answer,
		.error_answer = twin_aws_error_answer,
};
