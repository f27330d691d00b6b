/* cluster_wire.c - the encodings of cluster_wire.h. Pure functions: any thread. */
#include "cluster_wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NO_USERNAME 0xFFFFu /* the username length that says there is none */

static unsigned char *put(unsigned char *p, const void *s, size_t len)
{
	p[0] = (unsigned char)(len >> 8);
	p[1] = (unsigned char)(len & 0xFF);
	if (len && len != NO_USERNAME) {
		memcpy(p + 2, s, len);
		return p + 2 + len;
	}
	return p + 2;
}

void *twin_wire_request_encode(const struct twin_wire_request *r, size_t *len)
{
	size_t ulen = r->username ? r->username_len : 0;
	if (r->topic_len > 0xFFFF || r->client_len > 0xFFFF || ulen >= NO_USERNAME) {
		return NULL;
	}
	*len = 6 + r->topic_len + r->client_len + ulen + r->payload_len;
	unsigned char *buf = malloc(*len ? *len : 1), *p = buf;
	if (!buf) {
		return NULL;
	}
	p = put(p, r->topic, r->topic_len);
	p = put(p, r->client_id, r->client_len);
	p = put(p, r->username, r->username ? ulen : NO_USERNAME);
	if (r->payload_len) {
		memcpy(p, r->payload, r->payload_len);
	}
	return buf;
}

/* One length-prefixed field at *p; false when it runs past end. */
static bool get(const unsigned char **p, const unsigned char *end, const char **s, size_t *len)
{
	if (end - *p < 2) {
		return false;
	}
	*len = (size_t)((*p)[0] << 8 | (*p)[1]);
	*p += 2;
	if (*len == NO_USERNAME) {
		*s = NULL;
		*len = 0;
		return true;
	}
	if ((size_t)(end - *p) < *len) {
		return false;
	}
	*s = (const char *)*p;
	*p += *len;
	return true;
}

bool twin_wire_request_decode(const void *data, size_t len, struct twin_wire_request *r)
{
	const unsigned char *p = data, *end = p + len;
	if (!get(&p, end, &r->topic, &r->topic_len) || !r->topic ||
			!get(&p, end, &r->client_id, &r->client_len) || !r->client_id ||
			!get(&p, end, &r->username, &r->username_len)) {
		return false;
	}
	r->payload = p;
	r->payload_len = (size_t)(end - p);
	return true;
}

void *twin_wire_answer_encode(int status, const void *body, size_t body_len, size_t *len)
{
	unsigned char *buf = malloc(2 + body_len);
	if (!buf) {
		return NULL;
	}
	buf[0] = (unsigned char)((unsigned)status >> 8);
	buf[1] = (unsigned char)((unsigned)status & 0xFF);
	if (body_len) {
		memcpy(buf + 2, body, body_len);
	}
	*len = 2 + body_len;
	return buf;
}

bool twin_wire_answer_decode(const void *data, size_t len, int *status, const void **body,
		size_t *body_len)
{
	const unsigned char *p = data;
	if (len < 2) {
		return false;
	}
	*status = p[0] << 8 | p[1];
	*body = p + 2;
	*body_len = len - 2;
	return true;
}

void *twin_wire_part_encode(const char *slots, int status, const void *body, size_t body_len,
		size_t *len)
{
	size_t slots_len = strlen(slots), answer_len;
	unsigned char *answer = slots_len < NO_USERNAME ? twin_wire_answer_encode(status, body, body_len,
															  &answer_len)
													: NULL;
	unsigned char *buf = answer ? malloc(2 + slots_len + answer_len) : NULL;
	if (buf) {
		memcpy(put(buf, slots, slots_len), answer, answer_len);
		*len = 2 + slots_len + answer_len;
	}
	free(answer);
	return buf;
}

bool twin_wire_part_decode(const void *data, size_t len, const char **slots, size_t *slots_len,
		int *status, const void **body, size_t *body_len)
{
	const unsigned char *p = data, *end = p + len;
	return get(&p, end, slots, slots_len) && *slots &&
			twin_wire_answer_decode(p, (size_t)(end - p), status, body, body_len);
}
