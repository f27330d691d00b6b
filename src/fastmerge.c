/* fastmerge.c - the telemetry fast path (see fastmerge.h): flat readings merged into a stored twin on its
 * bytes. Owns the scan of flat payloads and the byte-level edit of a format 2 value (layout at the top of
 * twin_format.c). Thread: whichever calls it (the writer's); it keeps no state. Must never allocate
 * (beyond growing the caller's buffers), build a cJSON tree, or return a result that differs from the
 * slow path's by one byte: when in doubt it returns -1.
 *
 * Why copying stored bytes is safe: the slow path parses each stored section and writes it back with
 * twin_json_write, so a stored text is copied only once checked to be exactly what that writes for it
 * (canonical): no whitespace, strings with only the escapes twin_json_write_string makes, numbers as
 * twin_json_format_number prints them, no duplicate key (loading refuses those), nesting within
 * MAX_DEPTH. Varints are always decoded and written again (a longer encoding loads but is not what is
 * stored back), and every check loading makes (ranges, counts, the exact end) is made here too.
 * The canonical checks of single numbers and strings, and the equality of numbers (cJSON_Compare's own),
 * are jsoncanon.h's. */
#include "fastmerge.h"

#include <string.h>

#include "jsoncanon.h"
#include "twin_format.h"

#define MAX_ENTRIES     128 /* top-level members of reported, stored and added */
#define MAX_DEPTH       32  /* nesting of a stored section */
#define MAX_KEYS        256 /* keys of the stored objects open at once while checking a section */
#define MAX_INT         TWIN_FORMAT_MAX_INT

/* ---- stored JSON: canonical or refused ---- */

struct canon {
	const char *p, *end;
	int depth;
	size_t n_keys;
	const char *key[MAX_KEYS];
	size_t key_len[MAX_KEYS];
};

static bool same_text(const char *a, size_t a_len, const char *b, size_t b_len)
{
	return a_len == b_len && (a_len == 0 || (a[0] == b[0] && memcmp(a, b, a_len) == 0));
}

/* The string literal at c->p, canonical; *s, *n: its text between the quotes. */
static bool canon_string(struct canon *c, const char **s, size_t *n)
{
	const char *after = twin_canon_string(c->p, c->end);
	if (!after) {
		return false;
	}
	*s = c->p + 1;
	*n = (size_t)(after - 1 - *s);
	c->p = after;
	return true;
}

static bool canon_literal(struct canon *c, const char *lit, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0) {
		return false;
	}
	c->p += n;
	return true;
}

/* A stored number at c->p: canonical (*value: what it reads as). */
static bool canon_number(struct canon *c, double *value)
{
	size_t len = twin_canon_number(c->p, c->end, value);
	c->p += len;
	return len > 0;
}

static bool canon_value(struct canon *c, size_t *leaves);

/* Enters the object or array at c->p: false when it is empty (then passed) or nested too deep. */
static bool canon_open(struct canon *c, char close)
{
	c->p++;
	if (++c->depth > MAX_DEPTH) {
		return false;
	}
	if (c->p < c->end && *c->p == close) {
		c->p++;
		c->depth--;
		return false;
	}
	return true;
}

/* The object at c->p ('{'): *leaves counts its leaves as the stored timestamps do (members that are not
 * objects, at any depth of objects). */
static bool canon_object(struct canon *c, size_t *leaves)
{
	size_t first = c->n_keys;
	*leaves = 0;
	if (!canon_open(c, '}')) {
		return c->depth <= MAX_DEPTH;
	}
	for (;;) {
		const char *k;
		size_t k_len, sub;
		if (c->p >= c->end || *c->p != '"' || c->n_keys == MAX_KEYS || !canon_string(c, &k, &k_len)) {
			return false;
		}
		for (size_t i = first; i < c->n_keys; i++) {
			if (same_text(c->key[i], c->key_len[i], k, k_len)) {
				return false;
			}
		}
		c->key[c->n_keys] = k;
		c->key_len[c->n_keys++] = k_len;
		if (c->p >= c->end || *c->p++ != ':' || !canon_value(c, &sub)) {
			return false;
		}
		*leaves += sub;
		if (c->p < c->end && *c->p == ',') {
			c->p++;
		} else if (c->p < c->end && *c->p == '}') {
			c->p++;
			break;
		} else {
			return false;
		}
	}
	c->n_keys = first;
	c->depth--;
	return true;
}

static bool canon_array(struct canon *c)
{
	size_t ignored;
	if (!canon_open(c, ']')) {
		return c->depth <= MAX_DEPTH;
	}
	for (;;) {
		if (!canon_value(c, &ignored) || c->p >= c->end) {
			return false;
		}
		if (*c->p == ']') {
			c->p++;
			c->depth--;
			return true;
		}
		if (*c->p++ != ',') {
			return false;
		}
	}
}

/* Any stored value at c->p; *leaves: an object's leaves, 1 for anything else. */
static bool canon_value(struct canon *c, size_t *leaves)
{
	const char *s;
	size_t n;
	double num;
	*leaves = 1;
	if (c->p >= c->end) {
		return false;
	}
	switch (*c->p) {
		case '{':
			return canon_object(c, leaves);
		case '[':
			return canon_array(c);
		case '"':
			return canon_string(c, &s, &n);
		case 't':
			return canon_literal(c, "true", 4);
		case 'f':
			return canon_literal(c, "false", 5);
		case 'n':
			return canon_literal(c, "null", 4);
		default:
			return canon_number(c, &num);
	}
}

/* ---- the twin being edited ---- */

enum kind { K_NUMBER = TWIN_FAST_NUMBER, K_STRING = TWIN_FAST_STRING, K_TRUE = TWIN_FAST_TRUE,
	K_FALSE = TWIN_FAST_FALSE, K_OTHER /* object, array, null */ };

/* A top-level member of reported: a leaf with its ts, or a stored object kept whole with its leaves'
 * stored timestamps. */
struct entry {
	const char *key, *val; /* texts: the key without quotes, the value as JSON */
	size_t key_len, val_len;
	const unsigned char *leaf_ts; /* tree: its leaves' timestamps in the stored value */
	size_t leaves;                /* tree: its leaf count; a leaf: 1 */
	int64_t ts;                   /* a leaf: its ts */
	double num;
	enum kind kind;
	bool tree, changed;
	char number[32]; /* a patch number's text */
};

struct twin {
	uint64_t head[6]; /* version, created, updated, versions.attributes, .reported, .desired */
	const char *attributes;
	const unsigned char *alarms; /* the stored alarms part (versions.alarms, an empty section), or NULL */
	size_t alarms_len;
	const unsigned char *end; /* of the stored value */
	size_t attributes_len, n, n_changed;
	struct entry e[MAX_ENTRIES];
	size_t changed[MAX_ENTRIES]; /* entries in the order of their first change */
	struct canon canon;
};

/* Field by field: a memset of the whole entry (its number text too) costs more than the rest of the scan
 * of a member. */
static void clear_entry(struct entry *e)
{
	e->key = e->val = NULL;
	e->key_len = e->val_len = e->leaves = 0;
	e->leaf_ts = NULL;
	e->ts = 0;
	e->num = 0;
	e->kind = K_OTHER;
	e->tree = e->changed = false;
}

/* One of 64 buckets of a key, as a bit. */
static uint64_t key_bucket(const char *k, size_t n)
{
	size_t h = n * 7 + (n ? (unsigned char)k[0] * 3u + (unsigned char)k[n - 1] : 0u);
	return (uint64_t)1 << (h & 63);
}

/* Top-level members of the stored reported text t[0..len). */
static bool load_reported(struct twin *tw, const char *t, size_t len)
{
	struct canon *c = &tw->canon;
	uint64_t buckets = 0;
	c->p = t;
	c->end = t + len;
	c->depth = 1;
	c->n_keys = 0;
	if (len < 2 || t[0] != '{') {
		return false;
	}
	if (len == 2) {
		return t[1] == '}';
	}
	for (c->p++;;) {
		if (tw->n == MAX_ENTRIES || c->p >= c->end || *c->p != '"') {
			return false;
		}
		struct entry *e = &tw->e[tw->n];
		clear_entry(e);
		if (!canon_string(c, &e->key, &e->key_len) || c->p >= c->end || *c->p++ != ':') {
			return false;
		}
		/* a key's bucket bit is set once: only a key whose bucket is taken is compared with the others */
		uint64_t bit = key_bucket(e->key, e->key_len);
		for (size_t i = 0; (buckets & bit) && i < tw->n; i++) {
			if (same_text(tw->e[i].key, tw->e[i].key_len, e->key, e->key_len)) {
				return false;
			}
		}
		buckets |= bit;
		char first = 0;
		if (c->p < c->end) {
			first = *c->p;
		}
		e->val = c->p;
		if (first == '-' || (first >= '0' && first <= '9')) {
			e->kind = K_NUMBER;
			if (!canon_number(c, &e->num)) {
				return false;
			}
			e->leaves = 1;
		} else {
			e->kind = first == '"' ? K_STRING : first == 't' ? K_TRUE : first == 'f' ? K_FALSE : K_OTHER;
			e->tree = first == '{';
			if (!canon_value(c, &e->leaves)) {
				return false;
			}
		}
		e->val_len = (size_t)(c->p - e->val);
		tw->n++;
		if (c->p < c->end && *c->p == ',') {
			c->p++;
		} else {
			return c->p + 1 == c->end && *c->p == '}';
		}
	}
}

/* The leaves' timestamps of reported (after updated in the stored value). */
static bool load_leaf_ts(struct twin *tw, const unsigned char **p, const unsigned char *end)
{
	uint64_t count, total = 0;
	int64_t updated = (int64_t)tw->head[2], ignored;
	if (!twin_format_get_varint(p, end, &count)) {
		return false;
	}
	for (size_t i = 0; i < tw->n; i++) {
		struct entry *e = &tw->e[i];
		total += e->leaves;
		if (total > count) {
			return false;
		}
		if (!e->tree) {
			if (!twin_format_get_ts(p, end, updated, &e->ts)) {
				return false;
			}
			continue;
		}
		e->leaf_ts = *p;
		for (size_t k = 0; k < e->leaves; k++) {
			if (!twin_format_get_ts(p, end, updated, &ignored)) {
				return false;
			}
		}
	}
	return total == count;
}

/* The rest of the stored value from p: nothing, or (flags say so) an alarms part whose section is empty
 * (a twin that has had alarms and has none now), kept as it is. A twin with alarms is not the fast
 * path's: its alarm rules need the section. */
static bool load_alarms(struct twin *tw, unsigned flags, const unsigned char *p, const unsigned char *end)
{
	const unsigned char *start = p;
	uint64_t version, len;
	tw->alarms = NULL;
	tw->alarms_len = 0;
	if (!(flags & TWIN_FORMAT_ALARMS)) {
		return p == end;
	}
	if (!twin_format_get_varint(&p, end, &version) || version > (uint64_t)MAX_INT ||
			!twin_format_get_varint(&p, end, &len) || len != 2 || end - p != 2 || memcmp(p, "{}", 2)) {
		return false;
	}
	tw->alarms = start;
	tw->alarms_len = (size_t)(end - start);
	return true;
}

/* The stored value old: format 2, loadable, desired {} (so the delta stays empty), every text canonical. */
static bool load(struct twin *tw, const void *old, size_t old_len)
{
	const unsigned char *p = old, *end = p + old_len;
	const char *text[TWIN_N_SECTIONS];
	uint64_t len[TWIN_N_SECTIONS], n;
	int64_t seen;
	size_t ignored;
	tw->end = end;
	if (old_len < 2 || *p++ != (unsigned char)TWIN_FORMAT_COMPACT2) {
		return false;
	}
	for (int i = 0; i < 6; i++) {
		if (!twin_format_get_varint(&p, end, &tw->head[i]) || tw->head[i] > (uint64_t)MAX_INT) {
			return false;
		}
	}
	unsigned flags = p < end ? *p : 0xffu;
	if (p >= end || (flags & ~(TWIN_FORMAT_LAST_SEEN | TWIN_FORMAT_ALARMS)) ||
			((*p++ & TWIN_FORMAT_LAST_SEEN) && !twin_format_get_ts(&p, end, (int64_t)tw->head[2], &seen))) {
		return false;
	}
	for (int s = 0; s < TWIN_N_SECTIONS; s++) {
		if (!twin_format_get_varint(&p, end, &len[s]) || len[s] > (uint64_t)(end - p)) {
			return false;
		}
		text[s] = (const char *)p;
		p += len[s];
	}
	struct canon *c = &tw->canon;
	c->p = text[TWIN_SEC_ATTRIBUTES];
	c->end = c->p + len[TWIN_SEC_ATTRIBUTES];
	c->depth = 0;
	c->n_keys = 0;
	if (c->p == c->end || *c->p != '{' || !canon_object(c, &ignored) || c->p != c->end) {
		return false;
	}
	tw->attributes = text[TWIN_SEC_ATTRIBUTES];
	tw->attributes_len = len[TWIN_SEC_ATTRIBUTES];
	return load_reported(tw, text[TWIN_SEC_REPORTED], len[TWIN_SEC_REPORTED]) &&
			same_text(text[TWIN_SEC_DESIRED], len[TWIN_SEC_DESIRED], "{}", 2) && load_leaf_ts(tw, &p, end) &&
			twin_format_get_varint(&p, end, &n) && n == 0 && load_alarms(tw, flags, p, end);
}

/* ---- merging ---- */

/* The entry of key k, trying *hint first (readings usually repeat the twin's member order). */
static size_t find(const struct twin *tw, size_t *hint, const char *k, size_t k_len)
{
	size_t i = *hint;
	if (i >= tw->n || !same_text(tw->e[i].key, tw->e[i].key_len, k, k_len)) {
		for (i = 0; i < tw->n && !same_text(tw->e[i].key, tw->e[i].key_len, k, k_len); i++) {
		}
	}
	*hint = i + 1;
	return i;
}

/* cJSON_Compare(current, patch value) as merge.c calls it, for a scalar patch value. */
static bool same_value(const struct entry *e, const struct twin_fast_member *m)
{
	if ((int)e->kind != (int)m->type) {
		return false;
	}
	switch (e->kind) {
		case K_NUMBER:
			return twin_numbers_equal(e->num, m->num);
		case K_STRING:
			return same_text(e->val, e->val_len, m->val, m->val_len);
		default:
			return true;
	}
}

/* Merges one reading as twin_doc_patch does; returns the number of changed leaves, -1: too many. */
static int merge(struct twin *tw, const struct twin_fast_reading *r)
{
	int changed = 0;
	size_t hint = 0;
	for (size_t j = 0; j < r->n; j++) {
		const struct twin_fast_member *m = &r->m[j];
		size_t i = find(tw, &hint, m->key, m->key_len);
		struct entry *e = &tw->e[i];
		if (i < tw->n && same_value(e, m)) {
			continue;
		}
		if (i == tw->n) {
			if (tw->n == MAX_ENTRIES) {
				return -1;
			}
			tw->n++;
			clear_entry(e);
			e->key = m->key;
			e->key_len = m->key_len;
		}
		e->val = m->val;
		e->val_len = m->val_len;
		if (m->type == TWIN_FAST_NUMBER) { /* as the slow path writes the value it parsed */
			e->val = e->number;
			e->val_len = twin_json_format_number(e->number, m->num);
		}
		e->kind = (enum kind)m->type;
		e->num = m->num;
		e->ts = r->ts;
		e->leaves = 1;
		e->tree = false;
		if (!e->changed) {
			e->changed = true;
			tw->changed[tw->n_changed++] = i;
		}
		changed++;
	}
	return changed;
}

/* ---- writing ---- */

/* Appends without checks: the room was reserved by reserve() below. */
static void put(struct twin_buf *b, const void *s, size_t n)
{
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

static void put_varint(struct twin_buf *b, uint64_t v)
{
	b->len += twin_format_varint(b->data + b->len, v);
}

/* The length of the object text of entries idx[0..n) (all entries when idx is NULL). */
static size_t object_len(const struct twin *tw, const size_t *idx, size_t n)
{
	size_t len = n ? 1 + n : 2; /* braces and commas */
	for (size_t i = 0; i < n; i++) {
		const struct entry *e = &tw->e[idx ? idx[i] : i];
		len += e->key_len + 3 + e->val_len;
	}
	return len;
}

static void put_object(struct twin_buf *b, const struct twin *tw, const size_t *idx, size_t n)
{
	put(b, "{", 1);
	for (size_t i = 0; i < n; i++) {
		const struct entry *e = &tw->e[idx ? idx[i] : i];
		char *d = b->data + b->len;
		*d++ = i ? ',' : '"';
		if (i) {
			*d++ = '"';
		}
		memcpy(d, e->key, e->key_len);
		d += e->key_len;
		*d++ = '"';
		*d++ = ':';
		memcpy(d, e->val, e->val_len);
		b->len = (size_t)(d + e->val_len - b->data);
	}
	put(b, "}", 1);
}

/* The leaves' timestamps relative to updated; a kept object's are read again from the stored value
 * (stored relative to old_updated, checked when loading). */
static void put_leaf_ts(struct twin_buf *b, const struct twin *tw, size_t leaves, int64_t old_updated)
{
	int64_t updated = (int64_t)tw->head[2], ts;
	put_varint(b, leaves);
	for (size_t i = 0; i < tw->n; i++) {
		const struct entry *e = &tw->e[i];
		const unsigned char *p = e->leaf_ts;
		if (!e->tree) {
			put_varint(b, twin_format_zigzag(e->ts - updated));
			continue;
		}
		for (size_t k = 0; k < e->leaves; k++) {
			twin_format_get_ts(&p, tw->end, old_updated, &ts);
			put_varint(b, twin_format_zigzag(ts - updated));
		}
	}
}

/* The stored value of tw into b (room reserved): as twin_doc_store writes it. */
static void store(struct twin_buf *b, const struct twin *tw, size_t reported_len, size_t leaves,
		int64_t old_updated, int64_t seen)
{
	put(b, "\x02", 1);
	for (int i = 0; i < 6; i++) {
		put_varint(b, tw->head[i]);
	}
	put(b, tw->alarms ? "\x03" : "\x01", 1); /* lastSeen, and the alarms part when kept */
	put_varint(b, twin_format_zigzag(seen - (int64_t)tw->head[2]));
	put_varint(b, tw->attributes_len);
	put(b, tw->attributes, tw->attributes_len);
	put_varint(b, reported_len);
	put_object(b, tw, NULL, tw->n);
	put(b, "\x02{}", 3);
	put_leaf_ts(b, tw, leaves, old_updated);
	put_varint(b, 0);
	if (tw->alarms) {
		put(b, tw->alarms, tw->alarms_len);
	}
}

/* Writes out and changed, reserving their room first (the only place either may grow). */
static bool write_all(const struct twin *tw, int64_t old_updated, int64_t seen, struct twin_buf *out,
		struct twin_buf *changed)
{
	size_t leaves = 0, reported_len = object_len(tw, NULL, tw->n);
	for (size_t i = 0; i < tw->n; i++) {
		leaves += tw->e[i].leaves;
	}
	out->len = changed->len = 0;
	/* format byte, 6 header varints, flags, lastSeen, 3 section lengths, the desired text, 2 leaf counts
	 * and the leaves' varints: at most 10 bytes per varint */
	if (!twin_buf_reserve(out, 1 + 60 + 1 + 10 + 30 + 2 + 20 + 10 * leaves + tw->attributes_len +
								   reported_len + tw->alarms_len) ||
			!twin_buf_reserve(changed, object_len(tw, tw->changed, tw->n_changed))) {
		return false;
	}
	store(out, tw, reported_len, leaves, old_updated, seen);
	put_object(changed, tw, tw->changed, tw->n_changed);
	return true;
}

static bool ts_ok(int64_t ts)
{
	return ts >= 0 && ts <= MAX_INT;
}

struct twin_fast_view {
	struct twin tw;
};

void twin_fast_view_attributes(const struct twin_fast_view *v, const char **text, size_t *len)
{
	*text = v->tw.attributes;
	*len = v->tw.attributes_len;
}

bool twin_fast_view_reported(const struct twin_fast_view *v, const char *key, size_t len,
		struct twin_fast_member *out, bool *other)
{
	size_t hint = 0, i = find(&v->tw, &hint, key, len);
	*other = false;
	if (i >= v->tw.n) {
		return false;
	}
	const struct entry *e = &v->tw.e[i];
	if (e->kind == K_OTHER || e->tree || (e->kind == K_STRING && memchr(e->val, '\\', e->val_len))) {
		*other = true;
		return false;
	}
	*out = (struct twin_fast_member){e->key, e->val, e->key_len, e->val_len, (enum twin_fast_type)e->kind,
			e->num};
	return true;
}

int twin_fast_apply(const void *old, size_t old_len, int64_t last_version,
		const struct twin_fast_reading *rs, size_t n, int64_t seen, struct twin_buf *out,
		struct twin_buf *changed, int64_t *version_out)
{
	return twin_fast_apply_checked(old, old_len, last_version, rs, n, seen, out, changed, version_out, NULL,
			NULL);
}

int twin_fast_apply_checked(const void *old, size_t old_len, int64_t last_version,
		const struct twin_fast_reading *rs, size_t n, int64_t seen, struct twin_buf *out,
		struct twin_buf *changed, int64_t *version_out, twin_fast_check_fn check, void *check_ctx)
{
	struct twin_fast_view view;
	struct twin *tw = &view.tw;
	bool any = false;
	int64_t last_ts = n ? rs[0].ts : 0;
	if (n == 0 || !ts_ok(seen)) {
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!ts_ok(rs[i].ts)) {
			return -1;
		}
	}
	tw->n = tw->n_changed = 0;
	if (old) {
		if (!load(tw, old, old_len)) {
			return -1;
		}
	} else {
		if (last_version < 0 || last_version >= MAX_INT) {
			return -1;
		}
		uint64_t head[6] = {(uint64_t)last_version, (uint64_t)rs[0].ts, (uint64_t)rs[0].ts, 0, 0, 0};
		memcpy(tw->head, head, sizeof(head));
		tw->attributes = "{}";
		tw->attributes_len = 2;
		tw->alarms = NULL;
		tw->alarms_len = 0;
	}
	int64_t old_updated = (int64_t)tw->head[2];
	for (size_t i = 0; i < n; i++) {
		int c = merge(tw, &rs[i]);
		if (c < 0) {
			return -1;
		}
		if (c > 0) {
			any = true;
			last_ts = rs[i].ts;
		}
	}
	if (any || !old) {
		if (tw->head[0] >= (uint64_t)MAX_INT || tw->head[4] >= (uint64_t)MAX_INT) {
			return -1; /* the slow path's version + 1 would not be exact */
		}
		tw->head[0]++;
		tw->head[4]++;
		tw->head[2] = (uint64_t)last_ts;
	}
	if ((check && !check(check_ctx, &view)) || !write_all(tw, old_updated, seen, out, changed)) {
		return -1;
	}
	*version_out = (int64_t)tw->head[0];
	return (int)tw->n_changed;
}

/* ---- scanning a payload ---- */

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
		p++;
	}
	return p;
}

/* A string literal at *p of printable ASCII without escapes; *s, *n its text between the quotes. */
static bool plain_string(const char **p, const char *end, const char **s, size_t *n)
{
	const char *q = *p + 1;
	while (q < end && twin_char_class[(unsigned char)*q] == TWIN_CHAR_PLAIN) {
		q++;
	}
	if (q >= end || *q != '"') {
		return false;
	}
	*s = *p + 1;
	*n = (size_t)(q - *s);
	*p = q + 1;
	return true;
}

static bool scan_value(const char **p, const char *end, struct twin_fast_member *m)
{
	const char *v = *p;
	size_t n = 0;
	if (v >= end) {
		return false;
	}
	if (*v == '"') {
		const char *s;
		m->type = TWIN_FAST_STRING;
		m->num = 0;
		if (!plain_string(p, end, &s, &n)) {
			return false;
		}
		n += 2;
	} else if (*v == 't' || *v == 'f') {
		m->type = *v == 't' ? TWIN_FAST_TRUE : TWIN_FAST_FALSE;
		m->num = 0;
		n = *v == 't' ? 4 : 5;
		if ((size_t)(end - v) < n || memcmp(v, *v == 't' ? "true" : "false", n) != 0) {
			return false;
		}
	} else {
		struct twin_number num;
		m->type = TWIN_FAST_NUMBER;
		if (!(n = twin_number_parse(v, end, &num))) {
			return false;
		}
		m->num = twin_number_value(&num);
	}
	m->val = v;
	m->val_len = n;
	*p = v + n;
	return true;
}

bool twin_fast_scan(const char *payload, size_t len, struct twin_fast_reading *r)
{
	const char *p = skip_space(payload, payload + len), *end = payload + len;
	size_t cap = r->cap < TWIN_FAST_MAX_MEMBERS ? r->cap : TWIN_FAST_MAX_MEMBERS;
	r->n = 0;
	if (p >= end || *p++ != '{') {
		return false;
	}
	p = skip_space(p, end);
	if (p < end && *p == '}') {
		return skip_space(p + 1, end) == end;
	}
	for (;;) {
		if (r->n == cap) {
			return false;
		}
		struct twin_fast_member *m = &r->m[r->n];
		if (p >= end || *p != '"' || !plain_string(&p, end, &m->key, &m->key_len) ||
				same_text(m->key, m->key_len, "ts", 2) || same_text(m->key, m->key_len, "values", 6)) {
			return false;
		}
		for (size_t i = 0; i < r->n; i++) {
			if (same_text(r->m[i].key, r->m[i].key_len, m->key, m->key_len)) {
				return false;
			}
		}
		p = skip_space(p, end);
		if (p >= end || *p++ != ':') {
			return false;
		}
		p = skip_space(p, end);
		if (!scan_value(&p, end, m)) {
			return false;
		}
		r->n++;
		p = skip_space(p, end);
		if (p < end && *p == ',') {
			p = skip_space(p + 1, end);
		} else if (p < end && *p == '}') {
			return skip_space(p + 1, end) == end;
		} else {
			return false;
		}
	}
}
