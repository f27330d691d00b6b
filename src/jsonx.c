/* jsonx.c - strict JSON helpers on top of cJSON (see jsonx.h). Never calls cJSON_InitHooks or
 * cJSON_GetErrorPtr: the hooks are process-wide and shared with other plugins, and the error pointer is a
 * global the writer thread would race on. */
#include "jsonx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonidx.h"

#define MAX_SAFE_INT 9007199254740992.0 /* 2^53 */

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Returns the first duplicated key in the tree, or NULL. Small objects compare pairwise; larger ones are
 * hashed (jsonidx), and only when a key repeats sorted, to name the smallest repeated key. */
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
	struct twin_jsonidx ix;
	if (twin_jsonidx_build(&ix, item)) {
		bool dups = ix.dups;
		twin_jsonidx_free(&ix);
		if (!dups) {
			return NULL;
		}
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

/* Numbers beyond the double range parse as infinity; they could not be stored as JSON. */
static bool has_nonfinite(const cJSON *item)
{
	if (cJSON_IsNumber(item)) {
		return !isfinite(item->valuedouble);
	}
	for (const cJSON *c = item->child; c; c = c->next) {
		if (has_nonfinite(c)) {
			return true;
		}
	}
	return false;
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
	if (has_nonfinite(root)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "a number in the JSON is out of range (beyond +-1.7e308)");
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

/* The end of the string literal starting at buf[i] (its closing quote), or len. */
static size_t string_end(const char *buf, size_t len, size_t i)
{
	for (i++; i < len && buf[i] != '"'; i++) {
		if (buf[i] == '\\') {
			i++;
		}
	}
	return i;
}

static size_t skip_space(const char *buf, size_t len, size_t i)
{
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r')) {
		i++;
	}
	return i;
}

bool twin_json_depth_within(const char *buf, size_t len, int limit)
{
	int depth = 0;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (c == '"') {
			i = string_end(buf, len, i);
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

size_t twin_json_elements(const char *buf, size_t len)
{
	size_t i = skip_space(buf, len, 0), commas = 0;
	int depth = 0;
	bool content = false;
	if (i == len || buf[i] != '[') {
		return 1;
	}
	for (; i < len; i++) {
		char c = buf[i];
		if (c == '"') {
			i = string_end(buf, len, i);
		} else if (c == '[' || c == '{') {
			depth++;
		} else if (c == ']' || c == '}') {
			depth--;
		} else if (c == ',' && depth == 1) {
			commas++;
		}
		content = content || (depth >= 1 && c != '[' && c != ' ' && c != '\t' && c != '\n' && c != '\r');
	}
	return content || commas ? commas + 1 : 1;
}


char *twin_json_top_string(const char *buf, size_t len, const char *key)
{
	size_t key_len = strlen(key);
	int depth = 0;
	bool key_pos = false; /* the next string at depth 1 is a member name */
	for (size_t i = skip_space(buf, len, 0); i < len; i++) {
		char c = buf[i];
		if (c == '"') {
			size_t end = string_end(buf, len, i);
			if (end >= len) {
				return NULL;
			}
			bool match = depth == 1 && key_pos && end - i - 1 == key_len && !memcmp(buf + i + 1, key, key_len);
			key_pos = false;
			i = end;
			size_t v = skip_space(buf, len, end + 1);
			if (match && v < len && buf[v] == ':' && (v = skip_space(buf, len, v + 1)) < len && buf[v] == '"') {
				size_t v_end = string_end(buf, len, v);
				cJSON *str = v_end < len ? cJSON_ParseWithLength(buf + v, v_end - v + 1) : NULL;
				char *out = str && cJSON_IsString(str) ? strdup(str->valuestring) : NULL;
				cJSON_Delete(str);
				return out;
			}
		} else if (c == '{' || c == '[') {
			depth++;
			key_pos = depth == 1 && c == '{';
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == ',' && depth == 1) {
			key_pos = true;
		}
	}
	return NULL;
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

bool twin_json_replace(cJSON *obj, cJSON *old, cJSON *item)
{
	if (!item || item == old) {
		return item != NULL;
	}
	/* item takes over old's key: no copy of the name */
	if (item->string && !(item->type & cJSON_StringIsConst)) {
		cJSON_free(item->string);
	}
	item->string = old->string;
	item->type = (item->type & ~cJSON_StringIsConst) | (old->type & cJSON_StringIsConst);
	old->string = NULL;
	old->type &= ~cJSON_StringIsConst;
	return cJSON_ReplaceItemViaPointer(obj, old, item) != 0;
}

bool twin_json_set(cJSON *obj, const char *name, cJSON *item)
{
	if (!item) {
		return false;
	}
	cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (old) {
		return twin_json_replace(obj, old, item);
	}
	if (!cJSON_AddItemToObject(obj, name, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

bool twin_json_set_int64(cJSON *obj, const char *name, int64_t v)
{
	cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (cJSON_IsNumber(old)) {
		cJSON_SetNumberValue(old, (double)v);
		return true;
	}
	return twin_json_set(obj, name, cJSON_CreateNumber((double)v));
}

bool twin_buf_reserve(struct twin_buf *b, size_t extra)
{
	if (b->len + extra <= b->cap) {
		return true;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra) {
		cap *= 2;
	}
	char *data = realloc(b->data, cap);
	if (!data) {
		return false;
	}
	b->data = data;
	b->cap = cap;
	return true;
}

void twin_buf_free(struct twin_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

bool twin_buf_put(struct twin_buf *b, const char *s, size_t n)
{
	if (!twin_buf_reserve(b, n)) {
		return false;
	}
	if (n > 0) { /* b->data is still NULL when nothing was ever put, and memcpy(NULL, ..., 0) is UB */
		memcpy(b->data + b->len, s, n);
		b->len += n;
	}
	return true;
}

size_t twin_json_format_number(char out[32], double d)
{
	char tmp[32];
	int n;
	if (!isfinite(d)) {
		memcpy(out, "null", 4); // NOLINT(bugprone-not-null-terminated-result): a counted text, not a C string
		return 4;
	}
	if (d == floor(d) && fabs(d) <= MAX_SAFE_INT) {
		int64_t v = (int64_t)d;
		uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
		char *end = tmp + sizeof(tmp), *p = end;
		do {
			*--p = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		if (v < 0) {
			*--p = '-';
		}
		memcpy(out, p, (size_t)(end - p));
		return (size_t)(end - p);
	}
	/* short decimals (sensor values such as 24.1 or 1234.56): when d == v / 10^k exactly (a correctly
	 * rounded division of exact operands), the text of v with k decimals reads back as d */
	static const double pow10[] = {1e1, 1e2, 1e3, 1e4, 1e5, 1e6};
	for (int k = 0; k < 6 && fabs(d) * pow10[k] < MAX_SAFE_INT / 16; k++) {
		double v = round(d * pow10[k]);
		if (v / pow10[k] != d) {
			continue;
		}
		uint64_t u = (uint64_t)fabs(v);
		char *end = tmp + sizeof(tmp), *p = end;
		for (int i = 0; i <= k; i++) {
			*--p = (char)('0' + u % 10);
			u /= 10;
		}
		*--p = '.';
		do {
			*--p = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		if (d < 0) {
			*--p = '-';
		}
		memcpy(out, p, (size_t)(end - p));
		return (size_t)(end - p);
	}
	n = snprintf(tmp, sizeof(tmp), "%.15g", d);
	if (strtod(tmp, NULL) != d) {
		n = snprintf(tmp, sizeof(tmp), "%.17g", d);
	}
	if (n <= 0) {
		return 0;
	}
	memcpy(out, tmp, (size_t)n);
	return (size_t)n;
}

static bool write_number(struct twin_buf *b, double d)
{
	char tmp[32];
	size_t n = twin_json_format_number(tmp, d);
	return n > 0 && twin_buf_put(b, tmp, n);
}

bool twin_json_write_string(struct twin_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (!twin_buf_put(b, "\"", 1)) {
		return false;
	}
	for (const unsigned char *c = (const unsigned char *)s;;) {
		const unsigned char *run = c;
		while (*c >= 0x20 && *c != '"' && *c != '\\') {
			c++;
		}
		if (c > run && !twin_buf_put(b, (const char *)run, (size_t)(c - run))) {
			return false;
		}
		if (!*c) {
			return twin_buf_put(b, "\"", 1);
		}
		const char *esc = *c == '"' ? "\\\"" : *c == '\\' ? "\\\\" : *c == '\n' ? "\\n"
				: *c == '\r' ? "\\r" : *c == '\t' ? "\\t" : *c == '\b' ? "\\b" : *c == '\f' ? "\\f" : NULL;
		char six[6] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15]};
		if (!(esc ? twin_buf_put(b, esc, 2) : twin_buf_put(b, six, 6))) {
			return false;
		}
		c++;
	}
}

bool twin_json_write_int(struct twin_buf *b, int64_t v)
{
	return write_number(b, (double)v);
}

bool twin_json_write(struct twin_buf *b, const cJSON *item)
{
	const cJSON *c;
	bool first = true;
	switch (item->type & 0xFF) {
		case cJSON_False:
			return twin_buf_put(b, "false", 5);
		case cJSON_True:
			return twin_buf_put(b, "true", 4);
		case cJSON_NULL:
			return twin_buf_put(b, "null", 4);
		case cJSON_Number:
			return write_number(b, item->valuedouble);
		case cJSON_String:
			return twin_json_write_string(b, item->valuestring);
		case cJSON_Raw:
			return twin_buf_put(b, item->valuestring, strlen(item->valuestring));
		case cJSON_Array:
			if (!twin_buf_put(b, "[", 1)) {
				return false;
			}
			cJSON_ArrayForEach(c, item)
			{
				if ((!first && !twin_buf_put(b, ",", 1)) || !twin_json_write(b, c)) {
					return false;
				}
				first = false;
			}
			return twin_buf_put(b, "]", 1);
		case cJSON_Object:
			if (!twin_buf_put(b, "{", 1)) {
				return false;
			}
			cJSON_ArrayForEach(c, item)
			{
				if ((!first && !twin_buf_put(b, ",", 1)) || !twin_json_write_string(b, c->string) || !twin_buf_put(b, ":", 1) ||
						!twin_json_write(b, c)) {
					return false;
				}
				first = false;
			}
			return twin_buf_put(b, "}", 1);
		default:
			return false;
	}
}

char *twin_json_print(const cJSON *item, size_t *len)
{
	struct twin_buf b = {0};
	if (!twin_json_write(&b, item) || !twin_buf_put(&b, "", 1)) {
		twin_buf_free(&b);
		return NULL;
	}
	if (len) {
		*len = b.len - 1;
	}
	return b.data;
}
