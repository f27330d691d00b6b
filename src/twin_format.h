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

/* ---- format 2 primitives, for fastmerge.c (which edits a stored twin without loading it) ---- */
#define TWIN_FORMAT_COMPACT2  '\x02'
#define TWIN_FORMAT_LAST_SEEN 0x01u                /* the flags byte: lastSeen follows */
#define TWIN_FORMAT_MAX_INT   ((int64_t)1 << 53)   /* integers beyond it are not exact in JSON */

/* Writes v as a varint (7 bits per byte, low first) into out; returns its length (at most 10). */
size_t twin_format_varint(char out[10], uint64_t v);
/* Puts the varint length of b[start..len) before it (the text is written first, then moved behind). */
bool twin_format_prefix_length(struct twin_buf *b, size_t start);
/* Reads the varint at *p (moving *p past it) as loading does; false when cut short or over 10 bytes. */
bool twin_format_get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v);
/* Reads a timestamp stored as the zigzag varint of its difference to updated; false when unreadable or
 * beyond +-2^53 (what loading refuses). */
bool twin_format_get_ts(const unsigned char **p, const unsigned char *end, int64_t updated, int64_t *ts);

static inline uint64_t twin_format_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
}

#endif
