/* jsonx.c - strict JSON helpers on top of cJSON (see jsonx.h). Never calls cJSON_InitHooks or
 * cJSON_GetErrorPtr: the hooks are process-wide and shared with other plugins, and the error pointer is a
 * global the writer thread would race on. */
#include "jsonx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAFE_INT 9007199254740992.0 /* 2^53 */

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Returns the first duplicated key in the tree, or NULL. Small objects compare pairwise; larger ones sort
 * a key array, so a 64 KiB object of short keys stays O(n log n). */
static const char *find_duplicate(const cJSON *item)
{
	if (!cJSON_IsObject(item) && !cJSON_IsArray(item)) {
		return NULL;
	}
	size_t n = 0;
	for (const cJSON *c = item->child; c; c = c->next) {
		const char *dup = find_duplicate(c);
		if (dup) {
			return dup;
		}
		n++;
	}
	if (!cJSON_IsObject(item) || n < 2) {
		return NULL;
	}
	if (n <= 16) {
		for (const cJSON *a = item->child; a; a = a->next) {
			for (const cJSON *b = a->next; b; b = b->next) {
				if (!strcmp(a->string, b->string)) {
					return a->string;
				}
			}
		}
		return NULL;
	}
	const char **keys = malloc(n * sizeof(*keys));
	if (!keys) {
		return NULL;
	}
	size_t i = 0;
	for (const cJSON *c = item->child; c; c = c->next) {
		keys[i++] = c->string;
	}
	qsort(keys, n, sizeof(*keys), cmp_keys);
	const char *dup = NULL;
	for (i = 1; i < n && !dup; i++) {
		if (!strcmp(keys[i - 1], keys[i])) {
			dup = keys[i];
		}
	}
	free(keys);
	return dup;
}

cJSON *twin_json_parse(const char *buf, size_t len, struct twin_error *err)
{
	const char *end = NULL;
	if (len == 0) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "empty payload: JSON expected");
		return NULL;
	}
	cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (!root) {
		size_t at = (end && end >= buf && end <= buf + len) ? (size_t)(end - buf) : 0;
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "malformed JSON at byte %zu", at);
		return NULL;
	}
	while (end < buf + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) {
		end++;
	}
	if (end != buf + len) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "malformed JSON: unexpected data at byte %zu",
				(size_t)(end - buf));
		cJSON_Delete(root);
		return NULL;
	}
	const char *dup = find_duplicate(root);
	if (dup) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "duplicate key '%.64s' in JSON object", dup);
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

bool twin_json_depth_within(const char *buf, size_t len, int limit)
{
	int depth = 0;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (in_string) {
			if (c == '\\') {
				i++;
			} else if (c == '"') {
				in_string = false;
			}
		} else if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			if (++depth > limit) {
				return false;
			}
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return true;
}

int twin_json_depth(const cJSON *item)
{
	if (!cJSON_IsObject(item) && !cJSON_IsArray(item)) {
		return 0;
	}
	int deepest = 0;
	for (const cJSON *c = item->child; c; c = c->next) {
		int d = twin_json_depth(c);
		if (d > deepest) {
			deepest = d;
		}
	}
	return deepest + 1;
}

bool twin_json_int64(const cJSON *item, int64_t *out)
{
	if (!cJSON_IsNumber(item)) {
		return false;
	}
	double d = item->valuedouble;
	if (!isfinite(d) || d != floor(d) || fabs(d) > MAX_SAFE_INT) {
		return false;
	}
	*out = (int64_t)d;
	return true;
}

bool twin_json_add_int64(cJSON *obj, const char *name, int64_t v)
{
	return cJSON_AddNumberToObject(obj, name, (double)v) != NULL;
}

bool twin_json_set(cJSON *obj, const char *name, cJSON *item)
{
	if (!item) {
		return false;
	}
	if (cJSON_GetObjectItemCaseSensitive(obj, name)) {
		return cJSON_ReplaceItemInObjectCaseSensitive(obj, name, item) ||
				(cJSON_Delete(item), false);
	}
	if (!cJSON_AddItemToObject(obj, name, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

char *twin_json_print(const cJSON *item, size_t *len)
{
	char *s = cJSON_PrintUnformatted(item);
	if (s && len) {
		*len = strlen(s);
	}
	return s;
}
