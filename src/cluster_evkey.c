/* cluster_evkey.c - the JetStream key of a twin change event (see cluster_evkey.h). The payload is read
 * only as far as the writer's fixed head {"id":"..","version":N,"ts":N,"type":".." (writer.c,
 * event_begin); the id itself comes from the topic. Runs on the broker thread, once per event.
 * Must never: read past len, or accept an event without a version. */
#include "cluster_evkey.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cluster_slot.h"

#define TOPIC_HEAD "$twin/"
#define TOPIC_TAIL "/events"

static bool plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			(c && strchr("-_:=@~+,;!", c));
}

/* The token of id (NUL-terminated), at most TWIN_EVKEY_TOKEN_MAX bytes for a valid id. */
static size_t token(const char *id, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)id[i];
		if (plain(c)) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
	return n;
}

/* p at the opening quote of a JSON string: past its closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			p++;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* p at lit: past it, or NULL. */
static const char *expect(const char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	return p && (size_t)(end - p) >= n && !memcmp(p, lit, n) ? p + n : NULL;
}

/* p at digits: past them with *v their value (at least one, no overflow), or NULL. */
static const char *number(const char *p, const char *end, int64_t *v)
{
	*v = 0;
	const char *start = p;
	for (; p && p < end && *p >= '0' && *p <= '9'; p++) {
		if (*v > (INT64_MAX - 9) / 10) {
			return NULL;
		}
		*v = *v * 10 + (*p - '0');
	}
	return p && p > start ? p : NULL;
}

static bool change_type(const char *p, const char *end)
{
	static const char *const types[] = {"\"created\"", "\"updated\"", "\"deleted\""};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (expect(p, end, types[i])) {
			return true;
		}
	}
	return false;
}

bool twin_evkey_change(const char *topic, const char *payload, size_t len, const char **id, size_t *id_len,
		int64_t *version)
{
	size_t tlen = strlen(topic), head = sizeof(TOPIC_HEAD) - 1, tail = sizeof(TOPIC_TAIL) - 1;
	if (tlen <= head + tail || tlen - head - tail > TWIN_MAX_ID_LEN || memcmp(topic, TOPIC_HEAD, head) ||
			memcmp(topic + tlen - tail, TOPIC_TAIL, tail)) {
		return false;
	}
	const char *end = payload + len;
	int64_t ts;
	const char *p = expect(payload, end, "{\"id\":");
	p = p && p < end && *p == '"' ? skip_string(p, end) : NULL;
	p = number(expect(p, end, ",\"version\":"), end, version);
	p = number(expect(p, end, ",\"ts\":"), end, &ts);
	p = expect(p, end, ",\"type\":");
	*id = topic + head;
	*id_len = tlen - head - tail;
	return p && change_type(p, end);
}

bool twin_evkey_make(const char *topic, const char *payload, size_t len, const char *prefix,
		unsigned nslots, struct twin_evkey *out)
{
	const char *id;
	size_t id_len;
	int64_t version;
	if (!twin_evkey_change(topic, payload, len, &id, &id_len, &version)) {
		return false;
	}
	char tok[TWIN_EVKEY_TOKEN_MAX + 1];
	token(id, id_len, tok);
	int n = snprintf(out->subject, sizeof(out->subject), "%s.events.%u.%s", prefix,
			twin_cluster_slot(id, id_len, nslots), tok);
	if (n < 0 || (size_t)n >= sizeof(out->subject)) {
		return false;
	}
	snprintf(out->msg_id, sizeof(out->msg_id), "%s:%" PRId64, tok, version);
	out->twin_hash = 14695981039346656037ULL; /* FNV-1a */
	for (size_t i = 0; i < id_len; i++) {
		out->twin_hash = (out->twin_hash ^ (unsigned char)id[i]) * 1099511628211ULL;
	}
	return true;
}
