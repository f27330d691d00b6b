/* jsontape.h - a canonical JSON text read into a flat array of its values (a tape), to read big stored
 * sections without building a cJSON tree: one allocation for all the values instead of one per value,
 * and the texts left where they are. Reading checks that the text is canonical (jsoncanon.h) and has no
 * duplicate key, so a tape stands for exactly the tree twin_json_parse builds of it, and a value's text
 * is what twin_json_write prints for that tree. Objects of more than TWIN_JSONIDX_MIN members get a hash
 * index, so finding a member costs the same in an object of thousands. Pure: no state, any thread. */
#ifndef TWIN_JSONTAPE_H
#define TWIN_JSONTAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TWIN_TAPE_NONE UINT32_MAX

enum twin_tape_kind {
	TWIN_TAPE_OBJECT,
	TWIN_TAPE_ARRAY,
	TWIN_TAPE_STRING,
	TWIN_TAPE_NUMBER,
	TWIN_TAPE_TRUE,
	TWIN_TAPE_FALSE,
	TWIN_TAPE_NULL,
};

/* One value. What it holds follows it on the tape (depth first, in text order): the first member or
 * element of item i is i + 1, the next one after member j is item[j].end. */
struct twin_tape_item {
	const char *key; /* an object member's key literal, quotes included; NULL for any other value */
	const char *val; /* the value's text */
	uint32_t key_len, val_len;
	uint32_t end;   /* the index past everything this value holds */
	uint32_t n;     /* an object's members, an array's elements */
	uint32_t slots; /* an indexed object: where its hash slots start in the tape's slot array */
	uint8_t kind;   /* an enum twin_tape_kind */
	bool short_num; /* a number twin_canon_short_number reads */
};

struct twin_tape {
	struct twin_tape_item *item; /* item[0] is the whole text */
	size_t n, cap;
	uint32_t *slot; /* the indexed objects' slots: a member's index, 0 for none */
	size_t n_slots, slots_cap;
};

/* Reads text[0..len) into t (replacing what it held). False when the text is not one canonical JSON
 * value, has a key twice in an object, nests deeper than max_depth, or memory ran out. */
bool twin_tape_read(struct twin_tape *t, const char *text, size_t len, int max_depth);
/* The member of object obj whose key literal (quotes included) is key[0..len), or TWIN_TAPE_NONE.
 * *hint (a member of obj, or obj's end) is tried first and set to the member after the one found: keys
 * looked up in the order of obj's members cost no hashing. */
uint32_t twin_tape_find(const struct twin_tape *t, uint32_t obj, const char *key, size_t len,
		uint32_t *hint);
/* cJSON_Compare(x, y, 1) of the trees value i of a and value j of b stand for, in linear time. */
bool twin_tape_equal(const struct twin_tape *a, uint32_t i, const struct twin_tape *b, uint32_t j);
void twin_tape_free(struct twin_tape *t);

#endif
