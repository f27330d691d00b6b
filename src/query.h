/* query.h - the search language: an RQL subset as Eclipse Ditto uses it (eq ne gt ge lt le in like exists
 * and or not) parsed into a tree and evaluated against a twin document, plus the sort order and the
 * opaque keyset cursor of a search. Pure: no store, no threads. */
#ifndef TWIN_QUERY_H
#define TWIN_QUERY_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "twin_common.h"

struct twin_query;

/* Parses a filter such as and(eq(attributes/site,"dc1"),gt(reported/tempTop,30)). On failure err says at
 * which position what was expected. */
struct twin_query *twin_query_parse(const char *filter, struct twin_error *err);
void twin_query_free(struct twin_query *q);
bool twin_query_match(const struct twin_query *q, const cJSON *doc);
/* The same, with values looked up by get(ctx, path) (NULL: absent) instead of in a document: how the
 * writer's fast path evaluates alarm rules on a twin it never builds as a tree. */
typedef const cJSON *(*twin_query_get_fn)(const void *ctx, const char *path);
bool twin_query_match_with(const struct twin_query *q, twin_query_get_fn get, const void *ctx);
/* Calls fn for every path the query reads, in order (a path read twice is given twice). */
void twin_query_paths(const struct twin_query *q, void (*fn)(void *ctx, const char *path), void *ctx);

/* like(): a glob with * (any run) and ? (one character) matched against s[0..n), in time linear in n for
 * patterns of * and literals, and at most n x (pattern length) steps with '?' (steps, when not NULL, is
 * increased by the comparisons made: tests bound it). Patterns are at most TWIN_LIKE_MAX_PATTERN bytes
 * (longer ones are refused by the parser). */
#define TWIN_LIKE_MAX_PATTERN 256
bool twin_like(const char *s, size_t n, const char *pat, size_t *steps);

/* The value at a path such as "reported/tempTop" or "id" (NULL when absent). */
const cJSON *twin_query_path(const cJSON *doc, const char *path);

#define TWIN_SORT_MAX_KEYS 4

/* Sort order: up to TWIN_SORT_MAX_KEYS paths, each ascending or descending; the id breaks ties. */
struct twin_sort {
	int n;
	char *paths[TWIN_SORT_MAX_KEYS];
	bool desc[TWIN_SORT_MAX_KEYS];
};

/* Parses ["-reported/tempTop", "+id", "attributes/row"] (NULL: by id). */
enum twin_rc twin_sort_parse(struct twin_sort *s, const cJSON *sort, struct twin_error *err);
void twin_sort_free(struct twin_sort *s);

/* A row's position in the order: its sort values (NULL = absent) and its id. */
struct twin_sort_key {
	cJSON *values[TWIN_SORT_MAX_KEYS]; /* owned copies */
	char *id;
};
bool twin_sort_key_of(const struct twin_sort *s, const cJSON *doc, struct twin_sort_key *k);
void twin_sort_key_free(struct twin_sort_key *k);
/* <0, 0, >0 like strcmp, in the search order. */
int twin_sort_compare(const struct twin_sort *s, const struct twin_sort_key *a,
		const struct twin_sort_key *b);

/* The cursor is the last row's key, base64url-encoded JSON. */
char *twin_cursor_encode(const struct twin_sort *s, const struct twin_sort_key *k);
enum twin_rc twin_cursor_decode(const struct twin_sort *s, const char *cursor,
		struct twin_sort_key *k, struct twin_error *err);

#endif
