/* query.c - the search language (see query.h).
 *
 * Grammar:  query := op "(" args ")"
 *           and(q, q, ...) | or(q, q, ...) | not(q) | exists(path)
 *           eq|ne|gt|ge|lt|le|like(path, value) | in(path, value, value, ...)
 *           value := "string" | number | true | false | null ;  path := a/b/c
 * Semantics: eq/in compare type and value; ne is true when the value differs or is absent; gt/ge/lt/le
 * compare numbers with numbers and strings with strings (anything else is false); like matches strings
 * with * (any run) and ? (one character). Sort order: numbers < strings < booleans < null < absent in
 * ascending order (reversed per key when descending); the id breaks ties, ascending. */
#include "query.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

#define MAX_NESTING 32
#define MAX_PATH_SEGMENTS 32

enum qop { Q_EQ, Q_NE, Q_GT, Q_GE, Q_LT, Q_LE, Q_IN, Q_LIKE, Q_EXISTS, Q_AND, Q_OR, Q_NOT };

static const char *const op_names[] = {"eq", "ne", "gt", "ge", "lt", "le", "in", "like", "exists",
		"and", "or", "not"};
#define N_OPS (sizeof(op_names) / sizeof(op_names[0]))

struct twin_query {
	enum qop op;
	char *path;
	cJSON *values; /* array */
	struct twin_query **kids;
	int n_kids;
};

struct parser {
	const char *s;
	size_t pos;
	struct twin_error *err;
	int depth;
};

static void *fail_at(struct parser *p, const char *expected)
{
	if (p->s[p->pos]) {
		twin_fail(p->err, TWIN_ERR_BAD_REQUEST, "filter: expected %s at position %zu, found '%c'",
				expected, p->pos, p->s[p->pos]);
	} else {
		twin_fail(p->err, TWIN_ERR_BAD_REQUEST, "filter: expected %s at position %zu, found the end",
				expected, p->pos);
	}
	return NULL;
}

static void skip_ws(struct parser *p)
{
	while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n') {
		p->pos++;
	}
}

static bool take(struct parser *p, char c)
{
	skip_ws(p);
	if (p->s[p->pos] == c) {
		p->pos++;
		return true;
	}
	return false;
}

static bool path_char(char c)
{
	return c != '\0' && (isalnum((unsigned char)c) || (unsigned char)c >= 0x80 || strchr("_-.:/$@", c));
}

static char *parse_path(struct parser *p)
{
	skip_ws(p);
	size_t start = p->pos;
	while (path_char(p->s[p->pos])) {
		p->pos++;
	}
	size_t len = p->pos - start;
	char *path = len ? strndup(p->s + start, len) : NULL;
	if (!path || path[0] == '/' || path[len - 1] == '/' || strstr(path, "//")) {
		free(path);
		p->pos = start;
		return fail_at(p, "a path such as reported/tempTop");
	}
	return path;
}

static cJSON *parse_string(struct parser *p)
{
	size_t start = ++p->pos, n = 0;
	char *buf = malloc(strlen(p->s + start) + 1);
	if (!buf) {
		return NULL;
	}
	for (;;) {
		char c = p->s[p->pos];
		if (c == '\0') {
			free(buf);
			return fail_at(p, "a closing '\"'");
		}
		p->pos++;
		if (c == '"') {
			break;
		}
		if (c == '\\') {
			char e = p->s[p->pos];
			if (e != '"' && e != '\\' && e != '/') {
				free(buf);
				return fail_at(p, "an escape \\\" \\\\ or \\/");
			}
			c = e;
			p->pos++;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	cJSON *v = cJSON_CreateString(buf);
	free(buf);
	return v;
}

static cJSON *parse_value(struct parser *p)
{
	skip_ws(p);
	const char *at = p->s + p->pos;
	if (*at == '"') {
		return parse_string(p);
	}
	static const struct {
		const char *word;
		int kind;
	} words[] = {{"true", 1}, {"false", 0}, {"null", 2}};
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(words[i].word);
		if (!strncmp(at, words[i].word, n) && !path_char(at[n])) {
			p->pos += n;
			return words[i].kind == 2 ? cJSON_CreateNull() : cJSON_CreateBool(words[i].kind);
		}
	}
	if (*at == '-' || isdigit((unsigned char)*at)) {
		char *end = NULL;
		double d = strtod(at, &end);
		if (end > at && !path_char(*end)) {
			p->pos += (size_t)(end - at);
			return cJSON_CreateNumber(d);
		}
	}
	return fail_at(p, "a value: \"string\", number, true, false or null");
}

static struct twin_query *parse_query(struct parser *p);

static bool add_kid(struct twin_query *q, struct twin_query *kid)
{
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, so sizeof(*kids) is meant */
	struct twin_query **kids = realloc(q->kids, (size_t)(q->n_kids + 1) * sizeof(*kids));
	if (!kids) {
		return false;
	}
	q->kids = kids;
	q->kids[q->n_kids++] = kid;
	return true;
}

static bool parse_args(struct parser *p, struct twin_query *q)
{
	if (q->op == Q_AND || q->op == Q_OR || q->op == Q_NOT) {
		do {
			struct twin_query *kid = parse_query(p);
			if (!kid || !add_kid(q, kid)) {
				twin_query_free(kid);
				return false;
			}
		} while (q->op != Q_NOT && take(p, ','));
		return true;
	}
	if (!(q->path = parse_path(p))) {
		return false;
	}
	if (q->op == Q_EXISTS) {
		return true;
	}
	if (!(q->values = cJSON_CreateArray())) {
		return false;
	}
	do {
		if (!take(p, ',')) {
			return fail_at(p, "','");
		}
		cJSON *v = parse_value(p);
		if (!v || !cJSON_AddItemToArray(q->values, v)) {
			cJSON_Delete(v);
			return false;
		}
		skip_ws(p);
	} while (q->op == Q_IN && p->s[p->pos] == ',');
	if (q->op == Q_LIKE && !cJSON_IsString(q->values->child)) {
		twin_fail(p->err, TWIN_ERR_BAD_REQUEST, "filter: like() takes a \"string\" pattern");
		return false;
	}
	if (q->op == Q_LIKE && strlen(q->values->child->valuestring) > TWIN_LIKE_MAX_PATTERN) {
		twin_fail(p->err, TWIN_ERR_BAD_REQUEST, "filter: a like() pattern is at most %d bytes",
				TWIN_LIKE_MAX_PATTERN);
		return false;
	}
	return true;
}

static struct twin_query *parse_query(struct parser *p)
{
	skip_ws(p);
	size_t start = p->pos;
	while (isalpha((unsigned char)p->s[p->pos])) {
		p->pos++;
	}
	size_t len = p->pos - start;
	size_t op = 0;
	while (op < N_OPS && (strlen(op_names[op]) != len || strncmp(op_names[op], p->s + start, len))) {
		op++;
	}
	if (op == N_OPS) {
		p->pos = start;
		return fail_at(p, "an operator (eq ne gt ge lt le in like exists and or not)");
	}
	if (++p->depth > MAX_NESTING) {
		twin_fail(p->err, TWIN_ERR_BAD_REQUEST, "filter: nested deeper than %d", MAX_NESTING);
		return NULL;
	}
	if (!take(p, '(')) {
		return fail_at(p, "'('");
	}
	struct twin_query *q = calloc(1, sizeof(*q));
	if (!q) {
		return NULL;
	}
	q->op = (enum qop)op;
	if (!parse_args(p, q) || (!take(p, ')') && !fail_at(p, "')'"))) {
		twin_query_free(q);
		return NULL;
	}
	p->depth--;
	return q;
}

struct twin_query *twin_query_parse(const char *filter, struct twin_error *err)
{
	struct parser p = {filter, 0, err, 0};
	twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	struct twin_query *q = parse_query(&p);
	if (q) {
		skip_ws(&p);
		if (filter[p.pos]) {
			fail_at(&p, "the end of the filter");
			twin_query_free(q);
			return NULL;
		}
	}
	return q;
}

void twin_query_free(struct twin_query *q)
{
	if (!q) {
		return;
	}
	for (int i = 0; i < q->n_kids; i++) {
		twin_query_free(q->kids[i]);
	}
	free(q->kids);
	free(q->path);
	cJSON_Delete(q->values);
	free(q);
}

const cJSON *twin_query_path(const cJSON *doc, const char *path)
{
	const cJSON *at = doc;
	char key[TWIN_MAX_ID_LEN + 1];
	for (const char *p = path; at;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n > TWIN_MAX_ID_LEN || !cJSON_IsObject(at)) {
			return NULL;
		}
		memcpy(key, p, n);
		key[n] = '\0';
		at = cJSON_GetObjectItemCaseSensitive(at, key);
		if (!slash) {
			return at;
		}
		p = slash + 1;
	}
	return NULL;
}

/* ---- like: glob match with * (any run) and ? (one character) ----
 * The pattern is cut at its stars into segments. The first must match at the start, the last at the
 * end, and each one between is placed at its leftmost occurrence after the previous one (leftmost is
 * always right: a segment has a fixed length, so an earlier place leaves the most room for the rest).
 * A segment without '?' is found with Knuth-Morris-Pratt, so that `*` patterns are linear in the
 * string whatever they are; one with '?' by trying each place, at most (string length) x (segment
 * length) steps, and patterns are at most TWIN_LIKE_MAX_PATTERN bytes. No backtracking over stars. */

static bool seg_at(const char *s, const char *p, size_t m, size_t *steps)
{
	for (size_t i = 0; i < m; i++) {
		++*steps;
		if (p[i] != '?' && p[i] != s[i]) {
			return false;
		}
	}
	return true;
}

/* The first place in s[0..n) where the segment p[0..m) matches, or n + 1 (m >= 1). */
static size_t seg_find(const char *s, size_t n, const char *p, size_t m, size_t *steps)
{
	if (m > n) {
		return n + 1;
	}
	if (memchr(p, '?', m) || m > TWIN_LIKE_MAX_PATTERN) {
		for (size_t at = 0; at + m <= n; at++) {
			if (seg_at(s + at, p, m, steps)) {
				return at;
			}
		}
		return n + 1;
	}
	size_t fail[TWIN_LIKE_MAX_PATTERN]; /* fail[i]: the longest proper border of p[0..i] */
	fail[0] = 0;
	for (size_t i = 1, k = 0; i < m; i++) {
		while (k && p[i] != p[k]) {
			++*steps;
			k = fail[k - 1];
		}
		k += p[i] == p[k];
		fail[i] = k;
	}
	for (size_t i = 0, k = 0; i < n; i++) {
		while (k && s[i] != p[k]) {
			++*steps;
			k = fail[k - 1];
		}
		++*steps;
		if (s[i] == p[k] && ++k == m) {
			return i + 1 - m;
		}
	}
	return n + 1;
}

bool twin_like(const char *s, size_t n, const char *pat, size_t *steps)
{
	size_t dummy = 0;
	steps = steps ? steps : &dummy;
	const char *star = strchr(pat, '*');
	size_t m = star ? (size_t)(star - pat) : strlen(pat);
	if (!star) {
		return n == m && seg_at(s, pat, m, steps);
	}
	if (n < m || !seg_at(s, pat, m, steps)) {
		return false;
	}
	size_t pos = m;
	const char *last = strrchr(pat, '*') + 1;
	size_t last_len = strlen(last);
	if (n - pos < last_len || !seg_at(s + n - last_len, last, last_len, steps)) {
		return false;
	}
	size_t end = n - last_len; /* the middle segments lie in s[pos..end) */
	for (const char *p = star + 1; p < last; p++) {
		const char *next = strchr(p, '*');
		size_t len = (size_t)(next - p);
		if (len) {
			size_t at = seg_find(s + pos, end - pos, p, len, steps);
			if (at > end - pos) {
				return false;
			}
			pos += at + len;
		}
		p = next;
	}
	return true;
}

static int rank(const cJSON *v)
{
	if (!v) {
		return 4;
	}
	if (cJSON_IsNumber(v)) {
		return 0;
	}
	if (cJSON_IsString(v)) {
		return 1;
	}
	if (cJSON_IsBool(v)) {
		return 2;
	}
	if (cJSON_IsNull(v)) {
		return 3;
	}
	return 5; /* objects and arrays: compared by rank only */
}

/* Orders two values of any type (absent = NULL); returns <0, 0, >0. */
static int compare_values(const cJSON *a, const cJSON *b)
{
	int ra = rank(a), rb = rank(b);
	if (ra != rb) {
		return ra < rb ? -1 : 1;
	}
	switch (ra) {
		case 0:
			return a->valuedouble < b->valuedouble ? -1 : a->valuedouble > b->valuedouble;
		case 1:
			return strcmp(a->valuestring, b->valuestring);
		case 2:
			return cJSON_IsTrue(a) - cJSON_IsTrue(b);
		default:
			return 0;
	}
}

static bool same(const cJSON *a, const cJSON *b)
{
	return a && b && cJSON_Compare(a, b, 1);
}

static bool ordered(const cJSON *v, const cJSON *ref, enum qop op)
{
	if (!v || rank(v) != rank(ref) || rank(v) > 1) {
		return false;
	}
	int c = compare_values(v, ref);
	return op == Q_GT ? c > 0 : op == Q_GE ? c >= 0 : op == Q_LT ? c < 0 : c <= 0;
}

static const cJSON *doc_path(const void *doc, const char *path)
{
	return twin_query_path(doc, path);
}

bool twin_query_match(const struct twin_query *q, const cJSON *doc)
{
	return twin_query_match_with(q, doc_path, doc);
}

bool twin_query_match_with(const struct twin_query *q, twin_query_get_fn get, const void *ctx)
{
	const cJSON *v = q->path ? get(ctx, q->path) : NULL;
	const cJSON *ref = q->values ? q->values->child : NULL;
	switch (q->op) {
		case Q_AND:
			for (int i = 0; i < q->n_kids; i++) {
				if (!twin_query_match_with(q->kids[i], get, ctx)) {
					return false;
				}
			}
			return true;
		case Q_OR:
			for (int i = 0; i < q->n_kids; i++) {
				if (twin_query_match_with(q->kids[i], get, ctx)) {
					return true;
				}
			}
			return false;
		case Q_NOT:
			return !twin_query_match_with(q->kids[0], get, ctx);
		case Q_EXISTS:
			return v != NULL;
		case Q_EQ:
			return same(v, ref);
		case Q_NE:
			return !same(v, ref);
		case Q_IN:
			for (const cJSON *r = ref; r; r = r->next) {
				if (same(v, r)) {
					return true;
				}
			}
			return false;
		case Q_LIKE:
			/* cJSON_IsString(NULL) is false, and the parser gives like() one string value */
			if (!cJSON_IsString(v)) {
				return false;
			}
			/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
			return twin_like(v->valuestring, strlen(v->valuestring), ref->valuestring, NULL);
		case Q_GT:
		case Q_GE:
		case Q_LT:
		case Q_LE:
			return ordered(v, ref, q->op);
	}
	return false;
}

void twin_query_paths(const struct twin_query *q, void (*fn)(void *ctx, const char *path), void *ctx)
{
	if (q->path) {
		fn(ctx, q->path);
	}
	for (int i = 0; i < q->n_kids; i++) {
		twin_query_paths(q->kids[i], fn, ctx);
	}
}

/* ---- sort ---- */

enum twin_rc twin_sort_parse(struct twin_sort *s, const cJSON *sort, struct twin_error *err)
{
	const cJSON *item;
	memset(s, 0, sizeof(*s));
	if (!sort) {
		return TWIN_OK;
	}
	if (!cJSON_IsArray(sort)) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"'sort' must be an array such as [\"-reported/tempTop\", \"+id\"]");
	}
	cJSON_ArrayForEach(item, sort)
	{
		if (!cJSON_IsString(item) || !item->valuestring[0]) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "'sort' must contain non-empty strings");
		}
		if (s->n == TWIN_SORT_MAX_KEYS) {
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "'sort' takes at most %d paths",
					TWIN_SORT_MAX_KEYS);
		}
		const char *path = item->valuestring;
		bool desc = path[0] == '-';
		path += (path[0] == '-' || path[0] == '+');
		struct parser p = {path, 0, err, 0};
		char *copy = parse_path(&p);
		if (!copy || path[p.pos]) {
			free(copy);
			return twin_fail(err, TWIN_ERR_BAD_REQUEST, "'sort': '%.64s' is not a path",
					item->valuestring);
		}
		s->desc[s->n] = desc;
		s->paths[s->n++] = copy;
	}
	return TWIN_OK;
}

void twin_sort_free(struct twin_sort *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->paths[i]);
	}
	s->n = 0;
}

bool twin_sort_key_of(const struct twin_sort *s, const cJSON *doc, struct twin_sort_key *k)
{
	memset(k, 0, sizeof(*k));
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
	if (!cJSON_IsString(id) || !(k->id = strdup(id->valuestring))) {
		return false;
	}
	for (int i = 0; i < s->n; i++) {
		const cJSON *v = twin_query_path(doc, s->paths[i]);
		if (v && !(k->values[i] = cJSON_Duplicate(v, 1))) {
			twin_sort_key_free(k);
			return false;
		}
	}
	return true;
}

void twin_sort_key_free(struct twin_sort_key *k)
{
	for (int i = 0; i < TWIN_SORT_MAX_KEYS; i++) {
		cJSON_Delete(k->values[i]);
		k->values[i] = NULL;
	}
	free(k->id);
	k->id = NULL;
}

int twin_sort_compare(const struct twin_sort *s, const struct twin_sort_key *a,
		const struct twin_sort_key *b)
{
	for (int i = 0; i < s->n; i++) {
		int c = compare_values(a->values[i], b->values[i]);
		if (c) {
			return s->desc[i] ? -c : c;
		}
	}
	return strcmp(a->id, b->id);
}

/* ---- cursor: base64url of {"k":[[v]|[] ...],"i":"id"} ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode(const unsigned char *in, size_t n)
{
	char *out = malloc(n / 3 * 4 + 5), *o = out;
	if (!out) {
		return NULL;
	}
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
				(i + 2 < n ? in[i + 2] : 0);
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		if (i + 1 < n) {
			*o++ = b64[v >> 6 & 63];
		}
		if (i + 2 < n) {
			*o++ = b64[v & 63];
		}
	}
	*o = '\0';
	return out;
}

static char *b64_decode(const char *in, size_t *n)
{
	size_t len = strlen(in);
	char *out = malloc(len * 3 / 4 + 3);
	uint32_t acc = 0;
	int bits = 0;
	*n = 0;
	if (!out) {
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		const char *c = strchr(b64, in[i]);
		if (!c || !in[i]) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (uint32_t)(c - b64);
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[(*n)++] = (char)(acc >> bits & 0xFF);
		}
	}
	return out;
}

char *twin_cursor_encode(const struct twin_sort *s, const struct twin_sort_key *k)
{
	cJSON *j = cJSON_CreateObject(), *keys = j ? cJSON_AddArrayToObject(j, "k") : NULL;
	bool ok = keys && cJSON_AddStringToObject(j, "i", k->id);
	for (int i = 0; ok && i < s->n; i++) {
		cJSON *slot = cJSON_CreateArray();
		ok = slot && cJSON_AddItemToArray(keys, slot) &&
				(!k->values[i] || cJSON_AddItemToArray(slot, cJSON_Duplicate(k->values[i], 1)));
	}
	char *text = ok ? cJSON_PrintUnformatted(j) : NULL;
	char *out = text ? b64_encode((const unsigned char *)text, strlen(text)) : NULL;
	cJSON_free(text);
	cJSON_Delete(j);
	return out;
}

enum twin_rc twin_cursor_decode(const struct twin_sort *s, const char *cursor,
		struct twin_sort_key *k, struct twin_error *err)
{
	size_t n;
	char *text = b64_decode(cursor, &n);
	cJSON *j = text ? cJSON_ParseWithLength(text, n) : NULL;
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(j, "k");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "i");
	memset(k, 0, sizeof(*k));
	free(text);
	bool ok = cJSON_IsArray(keys) && cJSON_IsString(id) && cJSON_GetArraySize(keys) == s->n &&
			(k->id = strdup(id->valuestring)) != NULL;
	for (int i = 0; ok && i < s->n; i++) {
		const cJSON *slot = cJSON_GetArrayItem(keys, i);
		ok = cJSON_IsArray(slot) && cJSON_GetArraySize(slot) <= 1;
		if (ok && slot->child) {
			ok = (k->values[i] = cJSON_Duplicate(slot->child, 1)) != NULL;
		}
	}
	cJSON_Delete(j);
	if (ok && (!k->id[0] || strlen(k->id) > TWIN_MAX_ID_LEN)) {
		twin_sort_key_free(k);
		return twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"invalid 'cursor': it names an id that is empty or longer than %d bytes; pass back the "
				"cursor of the previous page",
				TWIN_MAX_ID_LEN);
	}
	if (!ok) {
		twin_sort_key_free(k);
		return twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"invalid 'cursor': pass back the cursor of the previous page with the same sort");
	}
	return TWIN_OK;
}
