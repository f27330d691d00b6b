/* cluster_slot.c - the slot function shared with HAProxy and a shard's set of owned slots (see
 * cluster_slot.h). HAProxy's `crc32` converter is hash_crc32() in its src/hash.c: the bitwise zlib CRC-32,
 * reproduced here bit by bit (ids are short); tests/e2e/test_cluster_routing.py checks that both agree on
 * many ids through a real HAProxy. Pure functions: any thread. */
#include "cluster_slot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t twin_cluster_crc32(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++) {
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
		}
	}
	return ~c;
}

unsigned twin_cluster_slot(const char *id, size_t len, unsigned nslots)
{
	return (unsigned)(twin_cluster_crc32(id, len) % nslots);
}

static bool parse_slot(const char *s, char **end, unsigned nslots, unsigned *out)
{
	errno = 0;
	unsigned long v = strtoul(s, end, 10);
	if (*end == s || errno || v >= nslots || *s == '-' || *s == '+' || *s == ' ') {
		return false;
	}
	*out = (unsigned)v;
	return true;
}

enum twin_rc twin_slot_set_parse(struct twin_slot_set *s, const char *spec, unsigned nslots,
		struct twin_error *err)
{
	memset(s, 0, sizeof(*s));
	if (nslots == 0 || nslots > TWIN_CLUSTER_MAX_SLOTS) {
		return twin_fail(err, TWIN_ERR_CONFIG, "cluster_slot_count %u is not in 1..%d", nslots,
				TWIN_CLUSTER_MAX_SLOTS);
	}
	if (!(s->bits = calloc((nslots + 7) / 8, 1))) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	s->nslots = nslots;
	for (const char *p = spec; *p;) {
		char *end;
		unsigned lo, hi;
		if (!parse_slot(p, &end, nslots, &lo)) {
			twin_slot_set_free(s);
			return twin_fail(err, TWIN_ERR_CONFIG,
					"cluster_slots '%.100s': expected a slot in 0..%u at '%.20s'", spec, nslots - 1, p);
		}
		hi = lo;
		if (*end == '-' && !parse_slot(end + 1, &end, nslots, &hi)) {
			twin_slot_set_free(s);
			return twin_fail(err, TWIN_ERR_CONFIG,
					"cluster_slots '%.100s': a range needs an end slot in 0..%u", spec, nslots - 1);
		}
		if (hi < lo || (*end && *end != ',')) {
			twin_slot_set_free(s);
			return twin_fail(err, TWIN_ERR_CONFIG,
					"cluster_slots '%.100s': write slots and ranges as \"0-341,500\"", spec);
		}
		for (unsigned i = lo; i <= hi; i++) {
			twin_slot_set_put(s, i, true);
		}
		p = *end ? end + 1 : end;
	}
	return TWIN_OK;
}

bool twin_slot_set_has(const struct twin_slot_set *s, unsigned slot)
{
	return slot < s->nslots && (s->bits[slot / 8] >> (slot % 8)) & 1;
}

void twin_slot_set_add(struct twin_slot_set *s, const struct twin_slot_set *more)
{
	for (unsigned i = 0; i < s->nslots && i < more->nslots; i++) {
		if (twin_slot_set_has(more, i) && !twin_slot_set_has(s, i)) {
			s->bits[i / 8] = (uint8_t)(s->bits[i / 8] | (1u << (i % 8)));
			s->owned++;
		}
	}
}

char *twin_slot_set_missing(const struct twin_slot_set *s)
{
	size_t cap = 64, len = 0;
	char *out = malloc(cap);
	for (unsigned lo = 0; out && lo < s->nslots; lo++) {
		if (twin_slot_set_has(s, lo)) {
			continue;
		}
		unsigned hi = lo;
		while (hi + 1 < s->nslots && !twin_slot_set_has(s, hi + 1)) {
			hi++;
		}
		if (len + 24 > cap) {
			char *bigger = realloc(out, cap *= 2);
			if (!bigger) {
				free(out);
				return NULL;
			}
			out = bigger;
		}
		int n = hi > lo ? snprintf(out + len, cap - len, "%s%u-%u", len ? "," : "", lo, hi)
						: snprintf(out + len, cap - len, "%s%u", len ? "," : "", lo);
		len += (size_t)n;
		lo = hi;
	}
	if (out) {
		out[len] = '\0';
	}
	return out;
}

void twin_slot_set_free(struct twin_slot_set *s)
{
	free(s->bits);
	memset(s, 0, sizeof(*s));
}

bool twin_slot_set_put(struct twin_slot_set *s, unsigned slot, bool owned)
{
	if (slot >= s->nslots || twin_slot_set_has(s, slot) == owned) {
		return false;
	}
	s->bits[slot / 8] = (uint8_t)(s->bits[slot / 8] ^ (1u << (slot % 8)));
	s->owned = owned ? s->owned + 1 : s->owned - 1;
	return true;
}

char *twin_slot_set_format(const struct twin_slot_set *s)
{
	size_t cap = 16, len = 0;
	char *out = malloc(cap);
	if (!out) {
		return NULL;
	}
	out[0] = '\0';
	for (unsigned lo = 0; lo < s->nslots; lo++) {
		if (!twin_slot_set_has(s, lo)) {
			continue;
		}
		unsigned hi = lo;
		while (hi + 1 < s->nslots && twin_slot_set_has(s, hi + 1)) {
			hi++;
		}
		char part[32];
		int n = hi > lo ? snprintf(part, sizeof(part), "%s%u-%u", len ? "," : "", lo, hi)
						: snprintf(part, sizeof(part), "%s%u", len ? "," : "", lo);
		if (len + (size_t)n + 1 > cap) {
			char *bigger = realloc(out, cap = 2 * (len + (size_t)n + 1));
			if (!bigger) {
				free(out);
				return NULL;
			}
			out = bigger;
		}
		memcpy(out + len, part, (size_t)n + 1);
		len += (size_t)n;
		lo = hi;
	}
	return out;
}
