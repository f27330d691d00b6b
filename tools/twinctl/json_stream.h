/* json_stream.h - splitting an input file into JSON records, streaming (memory bounded by the largest
 * record): JSON Lines (one record per line), or a sequence of JSON values where a top-level array, or the
 * "items" array of a top-level object (Ditto's search answer), holds the records. */
#ifndef CTL_JSON_STREAM_H
#define CTL_JSON_STREAM_H

#include <stdbool.h>
#include <stdio.h>

#include "twin_common.h"

enum ctl_stream_mode {
	CTL_STREAM_LINES,  /* every non-blank line is a record */
	CTL_STREAM_VALUES, /* top-level values; elements of a top-level array or of {"items": [...]} */
};

/* One record: its text (valid until the next call) and the line it starts on (1-based). */
struct ctl_record {
	const char *text;
	size_t len;
	long line;
};

struct ctl_stream;

struct ctl_stream *ctl_stream_open(FILE *f, enum ctl_stream_mode mode);
/* 1: a record in rec; 0: the end; -1: the input cannot be split any further (err says where), or
 * memory ran out. */
int ctl_stream_next(struct ctl_stream *st, struct ctl_record *rec, struct twin_error *err);
/* Bytes read so far (for progress). */
size_t ctl_stream_offset(const struct ctl_stream *st);
void ctl_stream_close(struct ctl_stream *st);

#endif
