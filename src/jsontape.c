/* jsontape.c - canonical JSON text on a tape (see jsontape.h). A recursive descent over the text that
 * appends one item per value; an object's keys are checked for repeats when it closes: pairwise when it
 * is small, through its hash slots (linear probing, FNV-1a of the key literal) when big. Key literals
 * are compared as texts: two canonical literals are equal exactly when the strings they stand for are
 * (there is one canonical literal per string, and none for a string cut by \u0000). */
#include "jsontape.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "jsoncanon.h"
#include "jsonidx.h"

struct reader {
	struct twin_tape *t;
	const char *p, *end;
	int depth, max_depth;
};

/* Most keys are short: compared here rather than through a call. */
static bool same_text(const char *a, size_t a_len, const char *b, size_t b_len)
{
	if (a_len != b_len) {
		return false;
	}
	if (a_len > 16) {
		return memcmp(a, b, a_len) == 0;
	}
	for (size_t i = 0; i < a_len; i++) {
		if (a[i] != b[i]) {
			return false;
		}
	}
	return true;
}

/* Slots of an indexed object of n members: a power of two at least 2n. */
static size_t slot_count(size_t n)
{
	size_t size = 32;
	while (size < 2 * n) {
		size *= 2;
	}
	return size;
}

static bool grow(void **data, size_t *cap, size_t need, size_t each)
{
	if (need <= *cap) {
		return true;
	}
	size_t cap2 = *cap ? *cap : 64;
	while (cap2 < need) {
		cap2 *= 2;
	}
	void *p = realloc(*data, cap2 * each);
	if (!p) {
		return false;
	}
	*data = p;
	*cap = cap2;
	return true;
}

/* Checks obj's keys for repeats; indexes it when big. */
static bool unique_keys(struct twin_tape *t, uint32_t obj)
{
	const struct twin_tape_item *it = t->item, *o = &t->item[obj];
	if (o->n <= TWIN_JSONIDX_MIN) {
		for (uint32_t i = obj + 1; i < o->end; i = it[i].end) {
			for (uint32_t j = it[i].end; j < o->end; j = it[j].end) {
				if (same_text(it[i].key, it[i].key_len, it[j].key, it[j].key_len)) {
					return false;
				}
			}
		}
		return true;
	}
	size_t size = slot_count(o->n), mask = size - 1;
	if (t->n_slots + size > UINT32_MAX ||
			!grow((void **)&t->slot, &t->slots_cap, t->n_slots + size, sizeof(*t->slot))) {
		return false;
	}
	uint32_t *slot = t->slot + t->n_slots;
	memset(slot, 0, size * sizeof(*slot));
	t->item[obj].slots = (uint32_t)t->n_slots;
	t->n_slots += size;
	for (uint32_t i = obj + 1; i < o->end; i = it[i].end) {
		size_t h = (size_t)twin_hash(it[i].key, it[i].key_len) & mask;
		for (; slot[h]; h = (h + 1) & mask) {
			if (same_text(it[slot[h]].key, it[slot[h]].key_len, it[i].key, it[i].key_len)) {
				return false;
			}
		}
		slot[h] = i;
	}
	return true;
}

static bool read_value(struct reader *r, const char *key, size_t key_len);

/* The end of the canonical string literal at p, NULL if it is none; a literal without escapes (most keys
 * and values) is passed here. */
static const char *string_end(const char *p, const char *end)
{
	const char *q = p + 1;
	while (q < end && twin_char_class[(unsigned char)*q] >= TWIN_CHAR_RAW) {
		q++;
	}
	return q < end && *q == '"' ? q + 1 : twin_canon_string(p, end);
}

/* One member of an object (its key literal, a colon, its value) or one element of an array. */
static bool read_member(struct reader *r, bool object)
{
	const char *key = r->p, *after = key;
	if (object) {
		after = r->p < r->end && *r->p == '"' ? string_end(r->p, r->end) : NULL;
		if (!after || after == r->end || *after != ':') {
			return false;
		}
		r->p = after + 1;
	}
	return read_value(r, object ? key : NULL, (size_t)(after - key));
}

/* The members or elements of the container at `at`, up to its closing character. */
static bool read_members(struct reader *r, uint32_t at, char close)
{
	bool object = close == '}';
	uint32_t n = 0;
	r->p++;
	if (++r->depth > r->max_depth) {
		return false;
	}
	if (r->p < r->end && *r->p == close) {
		r->p++;
	} else {
		for (;;) {
			if (!read_member(r, object) || r->p == r->end) {
				return false;
			}
			n++;
			char c = *r->p++;
			if (c == close) {
				break;
			}
			if (c != ',') {
				return false;
			}
		}
	}
	r->depth--;
	r->t->item[at].n = n;
	r->t->item[at].end = (uint32_t)r->t->n;
	return !object || unique_keys(r->t, at);
}

static bool read_literal(struct reader *r, const char *lit, size_t n)
{
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0) {
		return false;
	}
	r->p += n;
	return true;
}

static enum twin_tape_kind kind_of(char c)
{
	switch (c) {
		case '{':
			return TWIN_TAPE_OBJECT;
		case '[':
			return TWIN_TAPE_ARRAY;
		case '"':
			return TWIN_TAPE_STRING;
		case 't':
			return TWIN_TAPE_TRUE;
		case 'f':
			return TWIN_TAPE_FALSE;
		case 'n':
			return TWIN_TAPE_NULL;
		default:
			return TWIN_TAPE_NUMBER;
	}
}

/* The value at r->p, appended with everything it holds. */
static bool read_value(struct reader *r, const char *key, size_t key_len)
{
	struct twin_tape *t = r->t;
	if (r->p == r->end || t->n >= UINT32_MAX ||
			!grow((void **)&t->item, &t->cap, t->n + 1, sizeof(*t->item))) {
		return false;
	}
	uint32_t at = (uint32_t)t->n++;
	struct twin_tape_item *it = &t->item[at];
	*it = (struct twin_tape_item){.key = key, .val = r->p, .key_len = (uint32_t)key_len,
			.end = at + 1, .kind = (uint8_t)kind_of(*r->p)};
	bool ok;
	switch (it->kind) {
		case TWIN_TAPE_OBJECT:
			ok = read_members(r, at, '}');
			break;
		case TWIN_TAPE_ARRAY:
			ok = read_members(r, at, ']');
			break;
		case TWIN_TAPE_STRING: {
			const char *after = string_end(r->p, r->end);
			r->p = after ? after : r->p;
			ok = after != NULL;
			break;
		}
		case TWIN_TAPE_TRUE:
			ok = read_literal(r, "true", 4);
			break;
		case TWIN_TAPE_FALSE:
			ok = read_literal(r, "false", 5);
			break;
		case TWIN_TAPE_NULL:
			ok = read_literal(r, "null", 4);
			break;
		default: {
			size_t n = twin_canon_short_number(r->p, r->end);
			it->short_num = n > 0;
			n = n ? n : twin_canon_number(r->p, r->end, NULL);
			r->p += n;
			ok = n > 0;
		}
	}
	if (ok) { /* read_members may have moved the items */
		t->item[at].val_len = (uint32_t)(r->p - t->item[at].val);
	}
	return ok;
}

bool twin_tape_read(struct twin_tape *t, const char *text, size_t len, int max_depth)
{
	struct reader r = {t, text, text + len, 0, max_depth};
	t->n = t->n_slots = 0;
	/* a member takes 6 bytes at least ("":0,), most of a twin's more than 8 */
	if (len >= UINT32_MAX || !grow((void **)&t->item, &t->cap, len / 8 + 1, sizeof(*t->item))) {
		return false;
	}
	return read_value(&r, NULL, 0) && r.p == r.end;
}

static uint32_t find(const struct twin_tape *t, uint32_t obj, const char *key, size_t len)
{
	const struct twin_tape_item *it = t->item, *o = &t->item[obj];
	if (o->n <= TWIN_JSONIDX_MIN) {
		for (uint32_t i = obj + 1; i < o->end; i = it[i].end) {
			if (same_text(it[i].key, it[i].key_len, key, len)) {
				return i;
			}
		}
		return TWIN_TAPE_NONE;
	}
	size_t mask = slot_count(o->n) - 1;
	const uint32_t *slot = t->slot + o->slots;
	for (size_t h = (size_t)twin_hash(key, len) & mask; slot[h]; h = (h + 1) & mask) {
		if (same_text(it[slot[h]].key, it[slot[h]].key_len, key, len)) {
			return slot[h];
		}
	}
	return TWIN_TAPE_NONE;
}

uint32_t twin_tape_find(const struct twin_tape *t, uint32_t obj, const char *key, size_t len,
		uint32_t *hint)
{
	const struct twin_tape_item *it = t->item;
	uint32_t i = *hint;
	if (i >= it[obj].end || !same_text(it[i].key, it[i].key_len, key, len)) {
		i = find(t, obj, key, len);
	}
	*hint = i == TWIN_TAPE_NONE ? *hint : it[i].end;
	return i;
}

/* cJSON_Compare of objects: every member of one has an equal member in the other. No key repeats, so
 * equal counts and one direction suffice. */
static bool objects_equal(const struct twin_tape *a, uint32_t i, const struct twin_tape *b, uint32_t j)
{
	const struct twin_tape_item *x = &a->item[i];
	uint32_t hint = j + 1;
	for (uint32_t k = i + 1; k < x->end; k = a->item[k].end) {
		uint32_t m = twin_tape_find(b, j, a->item[k].key, a->item[k].key_len, &hint);
		if (m == TWIN_TAPE_NONE || !twin_tape_equal(a, k, b, m)) {
			return false;
		}
	}
	return true;
}

bool twin_tape_equal(const struct twin_tape *a, uint32_t i, const struct twin_tape *b, uint32_t j)
{
	const struct twin_tape_item *x = &a->item[i], *y = &b->item[j];
	if (x->kind != y->kind || x->n != y->n) {
		return false;
	}
	if (same_text(x->val, x->val_len, y->val, y->val_len)) {
		return true;
	}
	double u, v;
	switch (x->kind) {
		case TWIN_TAPE_NUMBER: /* canonical (the tape was read), and short ones differ (jsoncanon.h) */
			if (x->short_num && y->short_num) {
				return false;
			}
			twin_canon_number(x->val, x->val + x->val_len, &u);
			twin_canon_number(y->val, y->val + y->val_len, &v);
			return twin_numbers_equal(u, v);
		case TWIN_TAPE_OBJECT:
			return objects_equal(a, i, b, j);
		case TWIN_TAPE_ARRAY:
			for (uint32_t k = i + 1, m = j + 1; k < x->end; k = a->item[k].end, m = b->item[m].end) {
				if (!twin_tape_equal(a, k, b, m)) {
					return false;
				}
			}
			return true;
		default:
			return false; /* strings and literals: another canonical text is another value */
	}
}

void twin_tape_free(struct twin_tape *t)
{
	free(t->item);
	free(t->slot);
	*t = (struct twin_tape){0};
}
