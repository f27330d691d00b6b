/* twin_format.h - how a twin is stored in LMDB: a compact binary form (format 2) of the public document,
 * with a reader for the older JSON form (format 1). The only module that knows the stored bytes. */
#ifndef TWIN_TWIN_FORMAT_H
#define TWIN_TWIN_FORMAT_H

#include <cjson/cJSON.h>

#include "jsonx.h"
#include "twin.h"

/* The public document of the stored value val (its key is id); NULL if the value is damaged or not ours. */
cJSON *twin_doc_load(const char *id, size_t id_len, const void *val, size_t len);
/* Writes the stored form of doc into b (replacing its contents). False on allocation failure. */
bool twin_doc_store(const cJSON *doc, struct twin_buf *b);

/* ---- format 2 primitives, for fastmerge.c (which edits a stored twin without loading it) and
 * twin_render.c (which writes its public JSON without loading it) ---- */
#define TWIN_FORMAT_COMPACT2  '\x02'
#define TWIN_FORMAT_LAST_SEEN 0x01u                /* the flags byte: lastSeen follows */
#define TWIN_FORMAT_ALARMS    0x02u                /* the flags byte: the alarms section ends the value */
#define TWIN_FORMAT_MAX_INT   ((int64_t)1 << 53)   /* integers beyond it are not exact in JSON */

/* Inline: the fast path calls them for every member of a twin. */

/* Writes v as a varint (7 bits per byte, low first) into out; returns its length (at most 10). */
static inline size_t twin_format_varint(char out[10], uint64_t v)
{
	size_t n = 0;
	do {
		out[n++] = (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

/* Reads the varint at *p (moving *p past it) as loading does; false when cut short or over 10 bytes. */
static inline bool twin_format_get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	uint64_t x = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*p >= end) {
			break;
		}
		unsigned char c = *(*p)++;
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return true;
		}
	}
	*v = 0;
	return false;
}

/* Reads a timestamp stored as the zigzag varint of its difference to updated (|updated| <= 2^53); false
 * when unreadable or beyond +-2^53, which twin_doc_store could not write back (loading refuses it). */
static inline bool twin_format_get_ts(const unsigned char **p, const unsigned char *end, int64_t updated,
		int64_t *ts)
{
	uint64_t v;
	bool ok = twin_format_get_varint(p, end, &v);
	int64_t d = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
	*ts = 0;
	if (!ok || d < -2 * TWIN_FORMAT_MAX_INT || d > 2 * TWIN_FORMAT_MAX_INT ||
			updated + d < -TWIN_FORMAT_MAX_INT || updated + d > TWIN_FORMAT_MAX_INT) {
		return false;
	}
	*ts = updated + d;
	return true;
}

static inline uint64_t twin_format_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
}

#endif
