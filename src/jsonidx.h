/* jsonidx.h - key lookups in big cJSON objects without one linear scan per key, for big twins (thousands
 * of keys): a temporary hash index of an object's members, a finder that builds one only once linear
 * lookups become costly, and an equality test with cJSON_Compare's answer in linear time. Every lookup
 * gives exactly what cJSON_GetObjectItemCaseSensitive gives (the first member with the key), so callers'
 * results do not depend on which path answered. */
#ifndef TWIN_JSONIDX_H
#define TWIN_JSONIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

/* Objects with at most this many members are always searched linearly. */
#define TWIN_JSONIDX_MIN 16

struct twin_jsonidx_slot;

/* An index of one object's members, valid while those members are neither freed nor renamed. */
struct twin_jsonidx {
	struct twin_jsonidx_slot *slots;
	size_t mask; /* slot count - 1 (a power of two) */
	bool dups;   /* a key occurs twice: only its first member is indexed */
};

/* Indexes the members of obj. False when memory ran out or a member has no name: then search linearly. */
bool twin_jsonidx_build(struct twin_jsonidx *ix, const cJSON *obj);
/* The first member named key, NULL if none; take also forgets it (before the caller frees or replaces it). */
cJSON *twin_jsonidx_get(struct twin_jsonidx *ix, const char *key, bool take);
void twin_jsonidx_free(struct twin_jsonidx *ix);

/* Members of obj, counting no further than limit + 1. */
size_t twin_jsonidx_count(const cJSON *obj, size_t limit);
/* True when no key of obj occurs twice (false also when memory ran out). */
bool twin_jsonidx_unique(const cJSON *obj);

/* A sequence of lookups in one object: linear for small objects and for the first lookup, indexed from
 * the second on when the object is big. With take (for a merge), each member found is forgotten, so the
 * caller may then free or replace it; with take and may_index, the caller promises not to look a key up
 * twice, nor to look for members it added after twin_finder_init (a merge whose patch has no key twice
 * does neither): then a small object's members are kept in an array, so lookups in an object that grows
 * from a few members to thousands stay cheap. */
enum twin_finder_state {
	TWIN_FINDER_LINEAR,   /* linear lookups for good */
	TWIN_FINDER_FIRST,    /* nothing looked up yet: one lookup is cheaper linearly than an index */
	TWIN_FINDER_SECOND,   /* one linear lookup done: the next builds the index if the object is big */
	TWIN_FINDER_INDEXED,  /* ix */
	TWIN_FINDER_FEW,      /* few[] */
};

struct twin_finder {
	const cJSON *obj;
	bool take;
	enum twin_finder_state state;
	size_t n_few;
	cJSON *few[TWIN_JSONIDX_MIN]; /* TWIN_FINDER_FEW: the members at init (NULL once taken) */
	struct twin_jsonidx ix;
};

/* Without may_index every lookup is cJSON_GetObjectItemCaseSensitive, as if there were no index. */
void twin_finder_init(struct twin_finder *f, const cJSON *obj, bool take, bool may_index);
cJSON *twin_finder_lookup(struct twin_finder *f, const char *key);
void twin_finder_drop(struct twin_finder *f, const char *key);
void twin_finder_free(struct twin_finder *f);

/* The first member of the object named key, NULL if none. */
static inline cJSON *twin_finder_get(struct twin_finder *f, const char *key)
{
	return f->state == TWIN_FINDER_LINEAR ? cJSON_GetObjectItemCaseSensitive(f->obj, key)
										  : twin_finder_lookup(f, key);
}

/* With take: key was found another way (the caller's hint) and its member is about to change. */
static inline void twin_finder_forget(struct twin_finder *f, const char *key)
{
	if (f->state == TWIN_FINDER_FEW || (f->state == TWIN_FINDER_INDEXED && f->take)) {
		twin_finder_drop(f, key);
	}
}

bool twin_json_equal_containers(const cJSON *a, const cJSON *b);

/* cJSON_Compare(a, b, 1), in time linear in the size of a and b also for big objects (cJSON's own is
 * quadratic in the members of an object). */
static inline bool twin_json_equal(const cJSON *a, const cJSON *b)
{
	int type = a ? a->type & 0xFF : cJSON_Invalid;
	if (!b || a == b || type != (b->type & 0xFF) || (type != cJSON_Array && type != cJSON_Object)) {
		return cJSON_Compare(a, b, 1);
	}
	return twin_json_equal_containers(a, b);
}

#endif
