/* json_stream.c - splitting input into JSON records (see json_stream.h).
 *
 * Lines mode reads with getline: a broken line is one bad record, the next line starts afresh.
 * Values mode scans byte by byte, tracking strings and bracket depth only (the records are parsed by
 * the caller): a record is a value at `elem_depth`, which is 0 at the top level, 1 inside a top-level
 * array, and 2 inside the "items" array of a top-level object (the object is then an envelope, and the
 * rest of it is skipped). A top-level object without "items" is one record. An unbalanced input cannot
 * be split further, so it ends the stream with an error naming the line where the record began. */
#include "json_stream.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "jsonx.h"

#define SKIP_ENVELOPE (-1) /* elem_depth while the rest of an envelope after its items is skipped */

struct ctl_stream {
	FILE *f;
	enum ctl_stream_mode mode;
	struct twin_buf rec;
	char *line;
	size_t line_cap, offset;
	long line_no; /* the line of the next byte */
	/* values mode */
	int depth, elem_depth;
	bool recording, scalar, in_string, escape;
	long rec_line;
	/* the member names of a top-level object, to find "items" */
	bool want_key, in_key, key_long, after_items;
	size_t key_len;
	char key[8];
};

struct ctl_stream *ctl_stream_open(FILE *f, enum ctl_stream_mode mode)
{
	struct ctl_stream *st = calloc(1, sizeof(*st));
	if (st) {
		st->f = f;
		st->mode = mode;
		st->line_no = 1;
	}
	return st;
}

size_t ctl_stream_offset(const struct ctl_stream *st)
{
	return st->offset;
}

void ctl_stream_close(struct ctl_stream *st)
{
	if (st) {
		twin_buf_free(&st->rec);
		free(st->line);
		free(st);
	}
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
			return false;
		}
	}
	return true;
}

static int next_line(struct ctl_stream *st, struct ctl_record *rec)
{
	ssize_t n;
	while ((n = getline(&st->line, &st->line_cap, st->f)) >= 0) {
		size_t len = (size_t)n;
		st->offset += len;
		rec->line = st->line_no++;
		if (!blank(st->line, len)) {
			rec->text = st->line;
			rec->len = len;
			return 1;
		}
	}
	return 0;
}

/* ---- values mode ---- */

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool record_byte(struct ctl_stream *st, int c)
{
	char ch = (char)c;
	return !st->recording || twin_buf_put(&st->rec, &ch, 1);
}

static void begin_record(struct ctl_stream *st, bool scalar)
{
	st->recording = true;
	st->scalar = scalar;
	st->rec.len = 0;
	st->rec_line = st->line_no;
}

/* Tracks the member names of a top-level record object (depth 1), outside strings. */
static void track_key(struct ctl_stream *st, int c)
{
	if (st->elem_depth != 0 || st->depth != 1 || !st->recording) {
		return;
	}
	if (c == '"' && st->want_key) {
		st->in_key = true;
		st->key_long = false;
		st->key_len = 0;
	} else if (c == ':') {
		st->after_items = !st->key_long && st->key_len == 5 && !memcmp(st->key, "items", 5);
	} else if (c == ',') {
		st->want_key = true;
		st->after_items = false;
	} else if (!is_space(c) && c != '[') {
		st->after_items = false;
	}
}

static void string_byte(struct ctl_stream *st, int c)
{
	if (st->escape) {
		st->escape = false;
	} else if (c == '\\') {
		st->escape = true;
	} else if (c == '"') {
		st->in_string = false;
		st->in_key = st->want_key = false;
		return;
	}
	if (st->in_key) {
		if (st->key_len < sizeof(st->key)) {
			st->key[st->key_len++] = (char)c;
		} else {
			st->key_long = true;
		}
	}
}

/* 1: a record ended with c; 2: a record ended before c (feed c again); 0: go on; -1: error. */
static int feed(struct ctl_stream *st, int c, struct twin_error *err)
{
	if (st->in_string) {
		string_byte(st, c);
		return record_byte(st, c) ? 0 : -1;
	}
	if (st->recording && st->scalar && st->depth == st->elem_depth &&
			(is_space(c) || c == ',' || c == ']' || c == '}')) {
		st->recording = false;
		return 2;
	}
	track_key(st, c);
	if (c == '{' || c == '[') {
		if (st->elem_depth == 0 && st->depth == 1 && st->after_items && c == '[') {
			st->recording = false; /* an envelope: its items are the records */
			st->elem_depth = 2;
			st->depth = 2;
			return 0;
		}
		if (st->depth == 0 && st->elem_depth == 0 && c == '[') {
			st->elem_depth = 1;
			st->depth = 1;
			return 0;
		}
		if (st->depth == st->elem_depth && !st->recording) {
			begin_record(st, false);
			st->want_key = c == '{';
			st->after_items = false;
		}
		st->depth++;
		return record_byte(st, c) ? 0 : -1;
	}
	if (c == '}' || c == ']') {
		if (st->depth == 0) {
			twin_fail(err, TWIN_ERR_BAD_REQUEST, "line %ld: unexpected '%c'", st->line_no, c);
			return -1;
		}
		st->depth--;
		if (!record_byte(st, c)) {
			return -1;
		}
		if (st->recording && st->depth == st->elem_depth) {
			st->recording = false;
			return 1;
		}
		if (st->elem_depth > 0 && st->depth == st->elem_depth - 1) {
			st->elem_depth = st->elem_depth == 1 ? 0 : SKIP_ENVELOPE;
		}
		if (st->elem_depth == SKIP_ENVELOPE && st->depth == 0) {
			st->elem_depth = 0;
		}
		return 0;
	}
	if (c == '"') {
		st->in_string = true;
	}
	if (!is_space(c) && c != ',' && c != ':' && st->depth == st->elem_depth && !st->recording) {
		begin_record(st, true); /* a string, number or literal: the caller refuses it */
	}
	return record_byte(st, c) ? 0 : -1;
}

static int next_value(struct ctl_stream *st, struct ctl_record *rec, struct twin_error *err)
{
	int c;
	while ((c = getc(st->f)) != EOF) {
		st->offset++;
		int r = feed(st, c, err);
		if (r == 2) {
			ungetc(c, st->f);
			st->offset--;
		} else if (c == '\n') {
			st->line_no++;
		}
		if (r < 0) {
			return r;
		}
		if (r > 0) {
			rec->text = st->rec.data;
			rec->len = st->rec.len;
			rec->line = st->rec_line;
			return 1;
		}
	}
	if (st->recording && st->scalar && !st->in_string) {
		st->recording = false;
		rec->text = st->rec.data;
		rec->len = st->rec.len;
		rec->line = st->rec_line;
		return 1;
	}
	if (st->depth > 0 || st->in_string) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "line %ld: the JSON value that begins here is not closed",
				st->recording ? st->rec_line : 1L);
		return -1;
	}
	return 0;
}

int ctl_stream_next(struct ctl_stream *st, struct ctl_record *rec, struct twin_error *err)
{
	return st->mode == CTL_STREAM_LINES ? next_line(st, rec) : next_value(st, rec, err);
}
