/* topic.c - topic classification, verb names and id validation. Called for every PUBLISH on the broker
 * thread, so each telemetry pattern is matched by a prefix/suffix compare, with no allocation and no
 * tokenising; the default single pattern costs what it always did. Knows $twin only: a compatibility
 * front's topics go to the classifier the engine attached for it (twin_topic_add_front). */
#include "topic.h"

#include <stdlib.h>
#include <string.h>

#define TWIN_PREFIX     "$twin/"
#define TWIN_PREFIX_LEN (sizeof(TWIN_PREFIX) - 1)

bool twin_topic_pattern_valid(const char *pattern)
{
	int plus = 0;
	const char *level = pattern;
	if (!pattern || !*pattern || pattern[0] == '$') {
		return false;
	}
	for (const char *c = pattern;; c++) {
		if (*c == '/' || *c == '\0') {
			size_t len = (size_t)(c - level);
			if (memchr(level, '+', len)) {
				if (len != 1) {
					return false; /* '+' must be a whole level */
				}
				plus++;
			}
			if (memchr(level, '#', len) && (len != 1 || *c != '\0' || level == pattern)) {
				return false; /* '#' only as the whole last level, after another one */
			}
			if (*c == '\0') {
				break;
			}
			level = c + 1;
		}
	}
	return plus <= 1;
}

bool twin_topic_gateway_valid(const char *topic)
{
	return topic && *topic && topic[0] != '$' && !strpbrk(topic, "+#");
}

static enum twin_rc pattern_compile(struct twin_topic_pattern *p, const char *pattern)
{
	memset(p, 0, sizeof(*p));
	if (!twin_topic_pattern_valid(pattern)) {
		return TWIN_ERR_CONFIG;
	}
	size_t len = strlen(pattern);
	p->has_path = pattern[len - 1] == '#';
	len -= p->has_path ? 2 : 0; /* without the "/#" */
	const char *plus = memchr(pattern, '+', len);
	p->has_id = plus != NULL;
	p->prefix_len = plus ? (size_t)(plus - pattern) : len;
	p->prefix = strndup(pattern, p->prefix_len);
	p->suffix = plus ? strndup(plus + 1, len - p->prefix_len - 1) : strdup("");
	if (!p->prefix || !p->suffix) {
		free(p->prefix);
		free(p->suffix);
		return TWIN_ERR_NOMEM;
	}
	p->suffix_len = strlen(p->suffix);
	return TWIN_OK;
}

enum twin_rc twin_topic_set_compile(struct twin_topic_set *s, const char *const *patterns, int n,
		const char *gateway)
{
	enum twin_rc rc;
	memset(s, 0, sizeof(*s));
	if (n > TWIN_MAX_TELEMETRY_TOPICS || (gateway && !twin_topic_gateway_valid(gateway))) {
		return TWIN_ERR_CONFIG;
	}
	for (; s->n < n; s->n++) {
		if ((rc = pattern_compile(&s->pattern[s->n], patterns[s->n])) != TWIN_OK) {
			twin_topic_set_free(s);
			return rc;
		}
	}
	if (gateway) {
		if (!(s->gateway = strdup(gateway))) {
			twin_topic_set_free(s);
			return TWIN_ERR_NOMEM;
		}
		s->gateway_len = strlen(gateway);
	}
	return TWIN_OK;
}

void twin_topic_set_free(struct twin_topic_set *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->pattern[i].prefix);
		free(s->pattern[i].suffix);
	}
	free(s->gateway);
	memset(s, 0, sizeof(*s));
}

void twin_topic_add_front(struct twin_topic_set *s, const struct twin_topic_front *f)
{
	if (s->n_fronts < TWIN_N_FRONTS) {
		s->front[s->n_fronts++] = f;
	}
}

static const struct {
	const char *name;
	size_t len;
	enum twin_verb verb;
} verb_names[] = {
#define VERB(name, verb) {name, sizeof(name) - 1, verb}
		VERB("get", TWIN_VERB_GET),
		VERB("update", TWIN_VERB_UPDATE),
		VERB("delete", TWIN_VERB_DELETE),
		VERB("history", TWIN_VERB_HISTORY),
		VERB("stats", TWIN_VERB_STATS),
		VERB("search", TWIN_VERB_SEARCH),
		VERB("ack", TWIN_VERB_ACK),
		VERB("model", TWIN_VERB_MODEL),
		VERB("models", TWIN_VERB_MODELS),
#undef VERB
};

enum twin_verb twin_verb_find(const char *name, size_t len, unsigned set)
{
	for (size_t i = 0; i < sizeof(verb_names) / sizeof(verb_names[0]); i++) {
		if ((set & TWIN_VERB_BIT(verb_names[i].verb)) && len == verb_names[i].len &&
				!memcmp(name, verb_names[i].name, len)) {
			return verb_names[i].verb;
		}
	}
	return TWIN_VERB_UNKNOWN;
}

static void classify_twin(const char *rest, size_t rest_len, struct twin_topic_match *m)
{
	const char *slash = memchr(rest, '/', rest_len);
	if (!slash) { /* $twin/{verb} */
		m->route = TWIN_ROUTE_REQUEST;
		m->verb_name = rest;
		m->verb_len = rest_len;
		m->verb = twin_verb_find(rest, rest_len, TWIN_VERBS_OF_SERVICE);
		return;
	}
	const char *verb = slash + 1;
	size_t verb_len = rest_len - (size_t)(verb - rest);
	if (memchr(verb, '/', verb_len) || (verb_len == 6 && !memcmp(verb, "events", 6))) {
		m->route = TWIN_ROUTE_RESERVED; /* answer topics, events and deeper levels */
		return;
	}
	m->route = TWIN_ROUTE_REQUEST;
	m->id = rest;
	m->id_len = (size_t)(slash - rest);
	m->verb_name = verb;
	m->verb_len = verb_len;
	m->verb = twin_verb_find(verb, verb_len, TWIN_VERBS_OF_TWIN);
}

/* prefix [id suffix] ["/" path]: the id is one level, the path what the pattern's "/#" matched. */
static bool match_pattern(const struct twin_topic_pattern *p, const char *topic, size_t len,
		struct twin_topic_match *m)
{
	if (len < p->prefix_len || memcmp(topic, p->prefix, p->prefix_len)) {
		return false;
	}
	const char *rest = topic + p->prefix_len;
	size_t rest_len = len - p->prefix_len;
	if (p->has_id) {
		const char *slash = memchr(rest, '/', rest_len);
		m->id = rest;
		m->id_len = slash ? (size_t)(slash - rest) : rest_len;
		rest += m->id_len;
		rest_len -= m->id_len;
		if (rest_len < p->suffix_len || memcmp(rest, p->suffix, p->suffix_len)) {
			return false;
		}
		rest += p->suffix_len;
		rest_len -= p->suffix_len;
	}
	if (rest_len) {
		if (!p->has_path || rest[0] != '/') {
			return false;
		}
		m->path = rest + 1;
		m->path_len = rest_len - 1;
	}
	m->route = TWIN_ROUTE_TELEMETRY;
	return true;
}

void twin_topic_classify(const struct twin_topic_set *s, const char *topic, size_t topic_len,
		struct twin_topic_match *m)
{
	memset(m, 0, sizeof(*m));
	if (topic[0] == '$') {
		if (topic_len >= TWIN_PREFIX_LEN && !memcmp(topic, TWIN_PREFIX, TWIN_PREFIX_LEN)) {
			classify_twin(topic + TWIN_PREFIX_LEN, topic_len - TWIN_PREFIX_LEN, m);
			return;
		}
		if (topic_len == TWIN_PREFIX_LEN - 1 && !memcmp(topic, TWIN_PREFIX, topic_len)) {
			m->route = TWIN_ROUTE_RESERVED;
			return;
		}
		for (int i = 0; i < s->n_fronts; i++) {
			const struct twin_topic_front *f = s->front[i];
			if (topic_len >= f->prefix_len && !memcmp(topic, f->prefix, f->prefix_len)) {
				f->classify(topic + f->prefix_len, topic_len - f->prefix_len, m);
				return;
			}
		}
		return;
	}
	if (s->gateway && topic_len == s->gateway_len && !memcmp(topic, s->gateway, topic_len)) {
		m->route = TWIN_ROUTE_GATEWAY;
		return;
	}
	for (int i = 0; i < s->n; i++) {
		if (match_pattern(&s->pattern[i], topic, topic_len, m)) {
			return;
		}
		memset(m, 0, sizeof(*m));
	}
}

/* Strict UTF-8 (no overlongs, no surrogates, max U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			n = 1;
			cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			n = 2;
			cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n >= len - i) {
			return false;
		}
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80) {
				return false;
			}
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
				cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
			return false;
		}
		i += n + 1;
	}
	return true;
}

bool twin_topic_id_valid(const char *id, size_t len, struct twin_error *err)
{
	if (len == 0) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "invalid twin id: empty");
		return false;
	}
	if (len > TWIN_MAX_ID_LEN) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "invalid twin id: %zu bytes, the limit is %d", len,
				TWIN_MAX_ID_LEN);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (id[i] == '/' || id[i] == '+' || id[i] == '#' || id[i] == '\0') {
			twin_fail(err, TWIN_ERR_BAD_REQUEST,
					"invalid twin id '%.*s': '/', '+', '#' and NUL are not allowed", (int)len, id);
			return false;
		}
	}
	if (!utf8_valid((const unsigned char *)id, len)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "invalid twin id: not valid UTF-8");
		return false;
	}
	return true;
}

static bool is_answer_level(const char *level, size_t len)
{
	return len == 8 && (!memcmp(level, "accepted", 8) || !memcmp(level, "rejected", 8));
}

/* devices/{id}/desired, where the plugin pushes each twin's delta */
static bool is_desired_push(const char *topic, size_t len)
{
	static const char prefix[] = "devices/", suffix[] = "/desired";
	const size_t plen = sizeof(prefix) - 1, slen = sizeof(suffix) - 1;
	if (len <= plen + slen || memcmp(topic, prefix, plen) || memcmp(topic + len - slen, suffix, slen)) {
		return false;
	}
	return memchr(topic + plen, '/', len - plen - slen) == NULL;
}

bool twin_topic_owned(const struct twin_topic_set *s, const char *topic, size_t topic_len)
{
	struct twin_topic_match m;
	if (topic_len == 0 || topic[0] != '$') {
		return is_desired_push(topic, topic_len); /* answers, events and fronts are all '$' topics */
	}
	twin_topic_classify(s, topic, topic_len, &m);
	if (m.route == TWIN_ROUTE_RESERVED) {
		return true;
	}
	if (m.route == TWIN_ROUTE_REQUEST && m.front == TWIN_FRONT_NATIVE && m.id) {
		return is_answer_level(m.verb_name, m.verb_len); /* $twin/search/accepted, $twin/stats/rejected */
	}
	return is_desired_push(topic, topic_len);
}

bool twin_topic_native_id_valid(const char *id, size_t len, struct twin_error *err)
{
	if (!twin_topic_id_valid(id, len, err)) {
		return false;
	}
	if (memchr(id, TWIN_SHADOW_SEP, len)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"invalid twin id '%.*s': '%c' is reserved for AWS named shadows (the twin thing%cshadow); "
				"use $aws/things/{thing}/shadow/name/{shadow}",
				(int)len, id, TWIN_SHADOW_SEP, TWIN_SHADOW_SEP);
		return false;
	}
	return true;
}
