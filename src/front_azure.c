/* front_azure.c - the Azure IoT Hub device twin front (see front_azure.h) and its ops, twin_front_azure.
 * Azure versions desired and reported separately: their $version is the twin's per-section version
 * (versions.desired, versions.reported). */
#include "front_azure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin.h"

#define TOPIC_CAP 64 /* the longest fixed part of an answer or push topic, without the rid */

/* ---- topics ---- */

/* The value of $rid in the query level "?a=b&$rid=X&..." that ends the topic. */
static void find_rid(const char *rest, size_t len, struct twin_topic_match *m)
{
	const char *q = memchr(rest, '?', len);
	const char *end = rest + len;
	if (!q || memchr(q, '/', (size_t)(end - q))) {
		return;
	}
	for (const char *p = q + 1; p < end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		if (stop - p >= 5 && !memcmp(p, "$rid=", 5)) {
			m->rid = p + 5;
			m->rid_len = (size_t)(stop - p - 5);
			return;
		}
		p = stop + 1;
	}
}

static bool starts(const char *rest, size_t len, const char *word)
{
	size_t n = strlen(word);
	return len >= n && !memcmp(rest, word, n);
}

void twin_azure_classify(const char *rest, size_t rest_len, struct twin_topic_match *m)
{
	m->front = TWIN_FRONT_AZURE;
	if (starts(rest, rest_len, "res/") || starts(rest, rest_len, "PATCH/properties/desired/")) {
		m->route = TWIN_ROUTE_RESERVED;
		return;
	}
	m->route = TWIN_ROUTE_REQUEST;
	find_rid(rest, rest_len, m);
	const char *q = memchr(rest, '?', rest_len);
	m->verb_name = rest;
	m->verb_len = q ? (size_t)(q - rest) : rest_len;
	if (m->verb_len == 4 && !memcmp(rest, "GET/", 4)) {
		m->verb = TWIN_VERB_GET;
	} else if (m->verb_len == 26 && !memcmp(rest, "PATCH/properties/reported/", 26)) {
		m->verb = TWIN_VERB_UPDATE;
	} else {
		m->verb = TWIN_VERB_UNKNOWN;
	}
}

const char *twin_azure_device_id(const char *username, const char *client_id, bool from_username,
		size_t *len)
{
	if (!from_username) {
		*len = client_id ? strlen(client_id) : 0;
		return client_id;
	}
	if (!username || !*username) {
		*len = 0;
		return NULL;
	}
	const char *slash = strchr(username, '/');
	if (!slash) {
		*len = strlen(username);
		return username;
	}
	const char *end = strchr(slash + 1, '/');
	*len = end ? (size_t)(end - slash - 1) : strlen(slash + 1);
	return slash + 1;
}

/* ---- requests ---- */

enum twin_rc twin_azure_parse_patch(const char *payload, size_t len, int max_depth,
		struct twin_request *req, struct twin_error *err)
{
	memset(req, 0, sizeof(*req));
	if (!twin_json_depth_within(payload, len, max_depth)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"JSON nested too deep: the limit is %d levels (max_depth)", max_depth);
	}
	if (!(req->root = twin_json_parse(payload, len, err))) {
		return TWIN_ERR_BAD_REQUEST;
	}
	if (!cJSON_IsObject(req->root)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"a reported properties patch must be a JSON object");
	}
	for (const cJSON *m = req->root->child; m; m = m->next) {
		if (m->string[0] == '$') {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST,
					"property name '%.64s': names starting with '$' are reserved ($version, $metadata)",
					m->string);
		}
	}
	req->sections[TWIN_SEC_REPORTED] = req->root;
	return TWIN_OK;
}

bool twin_azure_conditional(const char *topic)
{
	const char *q = strchr(topic, '?');
	return q && (strstr(q, "?$version=") || strstr(q, "&$version="));
}

/* ---- answers ---- */

static int64_t section_version(const cJSON *doc, enum twin_section s)
{
	int64_t v = 0;
	twin_json_int64(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "versions"),
							twin_section_names[s]), &v);
	return v;
}

/* $iothub/twin/res/{status}/?$rid={rid}[&$version={version}], targeted to the requester. */
static struct twin_out *answer(const struct twin_route *r, int status, int64_t version,
		const char *body, size_t len)
{
	const char *rid = r->rid ? r->rid : "";
	size_t cap = TOPIC_CAP + strlen(rid);
	char *topic = malloc(cap);
	if (!topic) {
		return NULL;
	}
	int n = snprintf(topic, cap, TWIN_AZURE_PREFIX "res/%d/?$rid=%s", status, rid);
	if (version >= 0) {
		snprintf(topic + n, cap - (size_t)n, "&$version=%lld", (long long)version);
	}
	struct twin_out *o = twin_out_publish(r->client_id, topic, body, len, 0, false);
	free(topic);
	if (o) {
		o->status = status;
	}
	return o;
}

/* {<obj's members but a "$version" of its own (only Azure's may be there)>, "$version": version} */
static bool put_versioned(struct twin_buf *b, const cJSON *obj, int64_t version)
{
	bool ok = twin_buf_put(b, "{", 1);
	for (const cJSON *m = obj ? obj->child : NULL; ok && m; m = m->next) {
		if (strcmp(m->string, "$version") != 0) {
			ok = twin_json_write_string(b, m->string) && twin_buf_put(b, ":", 1) &&
					twin_json_write(b, m) && twin_buf_put(b, ",", 1);
		}
	}
	return ok && twin_buf_put(b, "\"$version\":", 11) && twin_json_write_int(b, version) &&
			twin_buf_put(b, "}", 1);
}

static bool put_section(struct twin_buf *b, const cJSON *doc, enum twin_section s)
{
	const cJSON *sec = doc ? cJSON_GetObjectItemCaseSensitive(doc, twin_section_names[s]) : NULL;
	return twin_json_write_string(b, twin_section_names[s]) && twin_buf_put(b, ":", 1) &&
			put_versioned(b, cJSON_IsObject(sec) ? sec : NULL, section_version(doc, s));
}

struct twin_out *twin_azure_get_answer(const struct twin_route *r, const cJSON *doc,
		struct twin_buf *b)
{
	b->len = 0;
	bool ok = twin_buf_put(b, "{", 1) && put_section(b, doc, TWIN_SEC_DESIRED) &&
			twin_buf_put(b, ",", 1) && put_section(b, doc, TWIN_SEC_REPORTED) &&
			twin_buf_put(b, "}", 1);
	return ok ? answer(r, 200, -1, b->data, b->len) : NULL;
}

struct twin_out *twin_azure_patch_answer(const struct twin_route *r, const cJSON *doc)
{
	return answer(r, 204, section_version(doc, TWIN_SEC_REPORTED), "", 0);
}

struct twin_out *twin_azure_error_answer(const struct twin_route *r, const struct twin_error *e)
{
	int status = twin_rc_status(e->rc);
	struct twin_buf b = {0};
	bool ok = twin_buf_put(&b, "{\"errorCode\":", 13) && twin_json_write_int(&b, status * 1000) &&
			twin_buf_put(&b, ",\"message\":", 11) && twin_json_write_string(&b, e->msg) &&
			twin_buf_put(&b, "}", 1);
	struct twin_out *o = ok ? answer(r, status, -1, b.data, b.len) : NULL;
	twin_buf_free(&b);
	return o;
}

struct twin_out *twin_azure_desired_push(const char *id, const cJSON *changed, const cJSON *doc,
		struct twin_buf *b)
{
	char topic[TOPIC_CAP];
	int64_t version = section_version(doc, TWIN_SEC_DESIRED);
	snprintf(topic, sizeof(topic), TWIN_AZURE_PREFIX "PATCH/properties/desired/?$version=%lld",
			(long long)version);
	b->len = 0;
	bool ok = put_versioned(b, changed, version);
	struct twin_out *o = ok ? twin_out_publish(id, topic, b->data, b->len, 1, false) : NULL;
	if (o) {
		o->to_session = true;
	}
	return o;
}

/* ---- the front's ops ---- */

/* The device's own twin: the device id of its connection. */
static bool twin_id(const struct twin_topic_match *m, const char *client_id, const char *username,
		bool by_username, char *buf, const char **id, size_t *id_len, struct twin_error *err)
{
	(void)m, (void)buf;
	*id = twin_azure_device_id(username, client_id, by_username, id_len);
	if (!*id) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, by_username
				? "no device id: with plugin_opt_telemetry_id_from username the device id is the "
				  "username, and this client has none"
				: "no device id: the device id is the client id, and this client has none");
		return false;
	}
	return twin_topic_native_id_valid(*id, *id_len, err);
}

static bool check_topic(const struct twin_topic_match *m, struct twin_error *err)
{
	if (m->rid_len > TWIN_AZURE_MAX_RID) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "$rid of %zu bytes is over the limit of %d bytes",
				m->rid_len, TWIN_AZURE_MAX_RID);
		return false;
	}
	return true;
}

static bool check_request(const char *topic, struct twin_error *err)
{
	if (twin_azure_conditional(topic)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"conditional patches ($version in the topic) are not supported; send the patch without it");
		return false;
	}
	return true;
}

static void unknown_verb(const struct twin_topic_match *m, struct twin_error *err)
{
	twin_fail(err, TWIN_ERR_BAD_REQUEST,
			"unknown request '%.*s' (known: $iothub/twin/GET/?$rid={rid}, "
			"$iothub/twin/PATCH/properties/reported/?$rid={rid})",
			(int)m->verb_len, m->verb_name);
}

static enum twin_rc parse(enum twin_verb verb, const char *payload, size_t len, int max_depth,
		struct twin_request *req, struct twin_error *err)
{
	if (verb == TWIN_VERB_UPDATE) {
		return twin_azure_parse_patch(payload, len, max_depth, req, err);
	}
	memset(req, 0, sizeof(*req)); /* a get's payload means nothing (the SDK sends " ") */
	return TWIN_OK;
}

static struct twin_out *get_answer(const struct twin_route *r, const cJSON *doc, bool connected,
		const struct twin_request *req, struct twin_buf *b)
{
	(void)connected, (void)req;
	return twin_azure_get_answer(r, doc, b);
}

static struct twin_out *update_answer(const struct twin_route *r, const struct twin_request *req,
		const cJSON *doc, int64_t ts, struct twin_buf *b)
{
	(void)req, (void)ts, (void)b;
	return twin_azure_patch_answer(r, doc);
}

static struct twin_out *error_answer(const struct twin_route *r, const struct twin_error *e,
		const char *token)
{
	(void)token;
	return twin_azure_error_answer(r, e);
}

const struct twin_front_ops twin_front_azure = {
		.front = TWIN_FRONT_AZURE,
		.topic = {TWIN_AZURE_PREFIX, sizeof(TWIN_AZURE_PREFIX) - 1, twin_azure_classify},
		.device_requests = true,
		.desired_to_session = true,
		.missing_is_empty = true,
		.twin_id = twin_id,
		.check_topic = check_topic,
		.check_request = check_request,
		.unknown_verb = unknown_verb,
		.parse = parse,
		.get_answer = get_answer,
		.update_answer = update_answer,
		.error_answer = error_answer,
};
