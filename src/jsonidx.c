/* jsonidx.c - owns the member indexes of big cJSON objects and the lookups and comparisons built on them
 * (see jsonidx.h). An index is an open-addressing hash table of member pointers (linear probing, at most
 * half full), allocated once per indexed object and freed by its user. */
#include "jsonidx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct twin_jsonidx_slot {
	cJSON *node; /* NULL: empty; &gone: a forgotten member (probes go on past it) */
	uint32_t hash;
};

static cJSON gone;

static uint32_t hash_key(const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *c = (const unsigned char *)key; *c; c++) {
		h = (h ^ *c) * 16777619u;
	}
	return h;
}

size_t twin_jsonidx_count(const cJSON *obj, size_t limit)
{
	size_t n = 0;
	for (const cJSON *c = obj ? obj->child : NULL; c && n <= limit; c = c->next) {
		n++;
	}
	return n;
}

bool twin_jsonidx_build(struct twin_jsonidx *ix, const cJSON *obj)
{
	size_t n = twin_jsonidx_count(obj, SIZE_MAX / 4), cap = 8;
	while (cap < 2 * n) {
		cap <<= 1;
	}
	ix->mask = cap - 1;
	ix->dups = false;
	if (!(ix->slots = calloc(cap, sizeof(*ix->slots)))) {
		return false;
	}
	for (cJSON *c = obj ? obj->child : NULL; c; c = c->next) {
		if (!c->string) {
			twin_jsonidx_free(ix);
			return false;
		}
		uint32_t h = hash_key(c->string);
		for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
			struct twin_jsonidx_slot *s = &ix->slots[i];
			if (!s->node) {
				s->node = c;
				s->hash = h;
				break;
			}
			if (s->hash == h && strcmp(s->node->string, c->string) == 0) {
				ix->dups = true; /* the first member keeps the key, as in a linear lookup */
				break;
			}
		}
	}
	return true;
}

cJSON *twin_jsonidx_get(struct twin_jsonidx *ix, const char *key, bool take)
{
	if (!key) {
		return NULL;
	}
	uint32_t h = hash_key(key);
	for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
		struct twin_jsonidx_slot *s = &ix->slots[i];
		if (!s->node) {
			return NULL;
		}
		if (s->node != &gone && s->hash == h && strcmp(s->node->string, key) == 0) {
			cJSON *found = s->node;
			if (take) {
				s->node = &gone;
			}
			return found;
		}
	}
}

void twin_jsonidx_free(struct twin_jsonidx *ix)
{
	free(ix->slots);
	ix->slots = NULL;
}

bool twin_jsonidx_unique(const cJSON *obj)
{
	if (twin_jsonidx_count(obj, TWIN_JSONIDX_MIN) <= TWIN_JSONIDX_MIN) {
		for (const cJSON *a = obj ? obj->child : NULL; a; a = a->next) {
			for (const cJSON *b = a->next; b; b = b->next) {
				if (!a->string || !b->string || strcmp(a->string, b->string) == 0) {
					return false;
				}
			}
		}
		return true;
	}
	struct twin_jsonidx ix;
	if (!twin_jsonidx_build(&ix, obj)) {
		return false;
	}
	bool unique = !ix.dups;
	twin_jsonidx_free(&ix);
	return unique;
}

void twin_finder_init(struct twin_finder *f, const cJSON *obj, bool take, bool may_index)
{
	f->obj = obj;
	f->take = take;
	f->state = may_index ? TWIN_FINDER_FIRST : TWIN_FINDER_LINEAR;
	f->n_few = 0;
	f->ix.slots = NULL;
	if (!take || !may_index || twin_jsonidx_count(obj, TWIN_JSONIDX_MIN) > TWIN_JSONIDX_MIN) {
		return;
	}
	f->state = TWIN_FINDER_FEW;
	for (cJSON *c = obj ? obj->child : NULL; c; c = c->next) {
		if (!c->string) {
			f->state = TWIN_FINDER_LINEAR; /* a linear lookup stops at a member without a name */
			return;
		}
		f->few[f->n_few++] = c;
	}
}

/* TWIN_FINDER_FEW: the first member at init named key, forgotten. */
static cJSON *take_few(struct twin_finder *f, const char *key)
{
	for (size_t i = 0; key && i < f->n_few; i++) {
		cJSON *c = f->few[i];
		if (c && strcmp(c->string, key) == 0) {
			f->few[i] = NULL;
			return c;
		}
	}
	return NULL;
}

cJSON *twin_finder_lookup(struct twin_finder *f, const char *key)
{
	switch (f->state) {
		case TWIN_FINDER_FEW:
			return take_few(f, key);
		case TWIN_FINDER_INDEXED:
			return twin_jsonidx_get(&f->ix, key, f->take);
		case TWIN_FINDER_FIRST:
			f->state = TWIN_FINDER_SECOND;
			break;
		case TWIN_FINDER_SECOND:
			if (twin_jsonidx_count(f->obj, TWIN_JSONIDX_MIN) > TWIN_JSONIDX_MIN &&
					twin_jsonidx_build(&f->ix, f->obj)) {
				f->state = TWIN_FINDER_INDEXED;
				return twin_jsonidx_get(&f->ix, key, f->take);
			}
			f->state = TWIN_FINDER_LINEAR;
			break;
		case TWIN_FINDER_LINEAR:
			break;
	}
	return cJSON_GetObjectItemCaseSensitive(f->obj, key);
}

void twin_finder_drop(struct twin_finder *f, const char *key)
{
	if (f->state == TWIN_FINDER_FEW) {
		take_few(f, key);
	} else if (f->state == TWIN_FINDER_INDEXED && f->take) {
		twin_jsonidx_get(&f->ix, key, true);
	}
}

void twin_finder_free(struct twin_finder *f)
{
	if (f->state == TWIN_FINDER_INDEXED) {
		twin_jsonidx_free(&f->ix);
	}
	f->state = TWIN_FINDER_LINEAR;
}

/* cJSON_Compare's object case: every member of a has its key's first member in b with an equal value,
 * and the other way round. */
static bool objects_equal(const cJSON *a, const cJSON *b)
{
	struct twin_jsonidx ia, ib;
	bool big = twin_jsonidx_count(a, TWIN_JSONIDX_MIN) > TWIN_JSONIDX_MIN ||
			twin_jsonidx_count(b, TWIN_JSONIDX_MIN) > TWIN_JSONIDX_MIN;
	if (big && twin_jsonidx_build(&ib, b)) {
		if (twin_jsonidx_build(&ia, a)) {
			bool unique = !ia.dups && !ib.dups;
			/* without repeated keys, equal key counts and a's members all found equal in b prove the
			 * second direction */
			bool eq = !unique || twin_jsonidx_count(a, SIZE_MAX / 4) == twin_jsonidx_count(b, SIZE_MAX / 4);
			for (const cJSON *x = a->child; eq && x; x = x->next) {
				const cJSON *y = twin_jsonidx_get(&ib, x->string, false);
				eq = y && twin_json_equal(x, y);
			}
			for (const cJSON *y = b->child; eq && !unique && y; y = y->next) {
				const cJSON *x = twin_jsonidx_get(&ia, y->string, false);
				eq = x && twin_json_equal(y, x);
			}
			twin_jsonidx_free(&ia);
			twin_jsonidx_free(&ib);
			return eq;
		}
		twin_jsonidx_free(&ib);
	}
	for (const cJSON *x = a->child; x; x = x->next) {
		const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
		if (!y || !twin_json_equal(x, y)) {
			return false;
		}
	}
	for (const cJSON *y = b->child; y; y = y->next) {
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, y->string);
		if (!x || !twin_json_equal(y, x)) {
			return false;
		}
	}
	return true;
}

/* a and b: two arrays or two objects, not the same node. */
bool twin_json_equal_containers(const cJSON *a, const cJSON *b)
{
	if ((a->type & 0xFF) == cJSON_Object) {
		return objects_equal(a, b);
	}
	const cJSON *x = a->child, *y = b->child;
	for (; x && y; x = x->next, y = y->next) {
		if (!twin_json_equal(x, y)) {
			return false;
		}
	}
	return x == y; /* both ended: same length */
}
