/* fuzz_merge.c - libFuzzer target: a twin document patched with arbitrary JSON in every section, then
 * versioned, stored and loaded back, and selected with arbitrary fields. Input: patch, NUL, fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "twin.h"
#include "twin_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct twin_error err;
	const char *nul = memchr(data, 0, size);
	size_t patch_len = nul ? (size_t)(nul - (const char *)data) : size;
	if (!twin_json_depth_within((const char *)data, patch_len, 17)) {
		return 0;
	}
	cJSON *patch = twin_json_parse((const char *)data, patch_len, &err);
	cJSON *doc = twin_doc_create("fuzz", 4, 0, 1);
	if (cJSON_IsObject(patch) && doc) {
		for (int s = 0; s < TWIN_N_SECTIONS; s++) {
			if (twin_doc_patch(doc, (enum twin_section)s, patch, 2, NULL) > 0) {
				twin_doc_bump(doc, 1u << s, 2);
			}
			/* a merge patch applied twice changes nothing the second time */
			if (twin_doc_patch(doc, (enum twin_section)s, patch, 3, NULL) != 0) {
				abort();
			}
		}
		struct twin_buf val = {0};
		bool stored = twin_doc_store(doc, &val);
		cJSON *back = stored ? twin_doc_load("fuzz", 4, val.data, val.len) : NULL;
		if (stored && (!back || !cJSON_Compare(doc, back, 1))) {
			abort(); /* what is stored must load back identically */
		}
		cJSON *fields = nul ? twin_json_parse(nul + 1, size - patch_len - 1, &err) : NULL;
		if (cJSON_IsArray(fields)) {
			const cJSON *f;
			int ok = 1;
			cJSON_ArrayForEach(f, fields)
			{
				ok &= cJSON_IsString(f);
			}
			if (ok) {
				cJSON_Delete(twin_doc_select(doc, fields));
			}
		}
		cJSON_Delete(fields);
		cJSON_Delete(back);
		twin_buf_free(&val);
	}
	cJSON_Delete(doc);
	cJSON_Delete(patch);
	return 0;
}
