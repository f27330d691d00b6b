/* fuzz_schema.c - libFuzzer target: a model schema compiled and a value checked against it. Input: the
 * schema's JSON, a NUL (or, in an input without one, a newline), the value's JSON, read strictly as client
 * JSON is (no repeated keys, which a JSON pointer could not tell apart); with neither, the value is a rack
 * reading. Besides not crashing or leaking: a failure's path (unless long enough to have been cut) names a
 * part of the value that exists; and for an object value, whenever twin_schema_has_required says a
 * member-by-member check is enough, that check (twin_schema_member, as the telemetry fast path does it)
 * agrees with the whole one. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The part of v that the JSON pointer path names, NULL if none. */
static const cJSON *resolve(const cJSON *v, const char *path)
{
	char key[TWIN_MAX_ID_LEN];
	while (v && *path == '/') {
		size_t n = 0;
		for (path++; *path && *path != '/'; path++) {
			key[n++] = *path == '~' && path[1] ? (*++path == '0' ? '~' : '/') : *path;
		}
		key[n] = '\0';
		v = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, atoi(key)) : cJSON_GetObjectItemCaseSensitive(v, key);
	}
	return *path ? NULL : v;
}

static bool members_pass(const struct twin_schema *s, const cJSON *v)
{
	for (const cJSON *m = v->child; m; m = m->next) {
		bool allowed = false;
		const struct twin_schema *ms = twin_schema_member(s, m->string, strlen(m->string), &allowed);
		if (!allowed || (ms && !twin_schema_check(ms, m, NULL))) {
			return false;
		}
	}
	return true;
}

static void check_value(const struct twin_schema *s, const cJSON *v)
{
	struct twin_schema_failure f;
	bool valid = twin_schema_check(s, v, &f);
	/* a path that may have been cut (at a UTF-8 boundary: up to 3 bytes short of full) is not resolved */
	if (!valid && strlen(f.path) < sizeof(f.path) - 4 && !resolve(v, f.path)) {
		abort(); /* the failure names a place the value does not have */
	}
	if (cJSON_IsObject(v) && !twin_schema_has_required(s) && members_pass(s, v) != valid) {
		abort(); /* the fast path would decide otherwise */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char rack[] = "{\"tempTop\":31.5,\"tempBottom\":24,\"humidityTop\":40,\"humidityBottom\":45}";
	struct twin_error err;
	const char *text = (const char *)data;
	const char *cut = memchr(text, '\0', size);
	cut = cut ? cut : memchr(text, '\n', size);
	size_t schema_len = cut ? (size_t)(cut - text) : size;
	cJSON *schema = cJSON_ParseWithLength(text, schema_len);
	cJSON *value = cut ? twin_json_parse(cut + 1, size - schema_len - 1, &err) : cJSON_Parse(rack);
	struct twin_schema *s = schema ? twin_schema_compile(schema, "/reported", &err) : NULL;
	if (s && value) {
		check_value(s, value);
	}
	twin_schema_free(s);
	cJSON_Delete(schema);
	cJSON_Delete(value);
	return 0;
}
