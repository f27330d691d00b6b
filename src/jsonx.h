/* jsonx.h - strict cJSON helpers: whole-buffer parsing with duplicate-key rejection, nesting depth,
 * exact integers, and printing. The only JSON helper module. */
#ifndef TWIN_JSONX_H
#define TWIN_JSONX_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "twin_common.h"

/* Parses buf[0..len) as exactly one JSON value (surrounding whitespace allowed). Syntax errors, trailing
 * bytes and duplicate object keys fail with TWIN_ERR_BAD_REQUEST and a message giving the byte offset. */
cJSON *twin_json_parse(const char *buf, size_t len, struct twin_error *err);

/* A cheap scan before parsing: false when brackets nest deeper than limit (strings are skipped). */
bool twin_json_depth_within(const char *buf, size_t len, int limit);
/* Without parsing: the number of elements of buf when it is a non-empty JSON array (its top-level commas
 * + 1), else 1. For text that is not valid JSON the count is a guess, never below 1. */
size_t twin_json_elements(const char *buf, size_t len);

/* The string value of member key of the top-level object in buf, found by a scan that parses nothing
 * else (for a payload too large or too deep to parse); malloc'd, NULL when absent or not a string. */
char *twin_json_top_string(const char *buf, size_t len, const char *key);

/* An integral number within +-2^53. */
bool twin_json_int64(const cJSON *item, int64_t *out);

/* Adds an exact integer member. Returns false on allocation failure. */
bool twin_json_add_int64(cJSON *obj, const char *name, int64_t v);

/* Replaces (or adds) member name of obj with item; takes ownership of item even on failure. */
bool twin_json_set(cJSON *obj, const char *name, cJSON *item);
/* Replaces member old of obj with item, which takes old's name (item's own name is dropped). */
bool twin_json_replace(cJSON *obj, cJSON *old, cJSON *item);
/* Sets member name to the exact integer v, in place when it is already a number. */
bool twin_json_set_int64(cJSON *obj, const char *name, int64_t v);

/* A growable byte buffer. */
struct twin_buf {
	char *data;
	size_t len, cap;
};
bool twin_buf_reserve(struct twin_buf *b, size_t extra);
bool twin_buf_put(struct twin_buf *b, const char *s, size_t n);
/* Appends a JSON string literal / an exact integer. */
bool twin_json_write_string(struct twin_buf *b, const char *s);
bool twin_json_write_int(struct twin_buf *b, int64_t v);
void twin_buf_free(struct twin_buf *b);

/* The text twin_json_write gives the number d, into out (not NUL-terminated); returns its length. */
size_t twin_json_format_number(char out[32], double d);

/* Appends item as compact JSON. Integers up to 2^53 (versions, timestamps) print without going
 * through printf; other numbers print as the shortest of %.15g / %.17g that reads back exactly. */
bool twin_json_write(struct twin_buf *b, const cJSON *item);

/* Unformatted print; malloc'd (free with cJSON_free or free), *len set to strlen. */
char *twin_json_print(const cJSON *item, size_t *len);

#endif
