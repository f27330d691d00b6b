/* fuzz_render.c - libFuzzer target, differential: whenever a get's answer is written straight from the
 * stored bytes (twin_render.c), it must be byte for byte what writing the loaded twin gives (what get
 * answered before); a value loading refuses must never be rendered; and a twin the writer stored must
 * always be rendered directly (never declined).
 * Input: a mode byte, then bit 0 set: a stored value as is (the database may hold anything); else up to
 * four JSON objects separated by NUL, patched by the slow path into attributes, reported (twice, at two
 * times) and desired of a new twin (an empty part patches nothing), which is stored; bit 1: the twin was
 * seen (lastSeen). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twin.h"
#include "twin_format.h"
#include "twin_render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ID "rack-7"
#define T0 1763884800000LL

/* A stored twin made by the slow path from the NUL-separated JSON parts; false when a part is no object. */
static bool make_twin(unsigned mode, const char *p, const char *end, struct twin_buf *out)
{
	static const enum twin_section sections[] = {TWIN_SEC_ATTRIBUTES, TWIN_SEC_REPORTED,
			TWIN_SEC_REPORTED, TWIN_SEC_DESIRED};
	cJSON *doc = twin_doc_create(ID, sizeof(ID) - 1, 6, T0);
	bool ok = doc != NULL;
	for (int i = 0; ok && i < 4 && p < end; i++) {
		const char *nul = memchr(p, 0, (size_t)(end - p));
		size_t len = nul ? (size_t)(nul - p) : (size_t)(end - p);
		struct twin_error err;
		cJSON *patch = len && twin_json_depth_within(p, len, 17) ? twin_json_parse(p, len, &err) : NULL;
		ok = len == 0 || cJSON_IsObject(patch);
		if (ok && patch && twin_doc_patch(doc, sections[i], patch, T0 + 1000 * i, NULL) > 0) {
			twin_doc_bump(doc, 1u << sections[i], T0 + 1000 * i);
		}
		cJSON_Delete(patch);
		p += len + 1;
	}
	if (ok && (mode & 2)) {
		twin_doc_seen(doc, T0 + 5000);
	}
	ok = ok && twin_doc_store(doc, out);
	cJSON_Delete(doc);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) {
		return 0;
	}
	unsigned mode = data[0];
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	struct twin_buf val = {0}, fast = {0}, slow = {0};
	if (mode & 1) {
		twin_buf_put(&val, p, (size_t)(end - p));
	} else if (!make_twin(mode, p, end, &val)) {
		twin_buf_free(&val);
		return 0;
	}
	const char *v = val.data ? val.data : "";
	cJSON *doc = twin_doc_load(ID, sizeof(ID) - 1, v, val.len);
	bool rendered = twin_doc_render(ID, sizeof(ID) - 1, v, val.len, &fast);
	if (rendered && (!doc || !twin_json_write(&slow, doc) || slow.len != fast.len ||
							memcmp(slow.data, fast.data, fast.len) != 0)) {
		abort(); /* rendered otherwise than loading writes it, or rendered what loading refuses */
	}
	if (!rendered && (fast.len != 0 || !(mode & 1))) {
		abort(); /* a refusal changed the buffer, or a twin the writer stored was not rendered */
	}
	cJSON_Delete(doc);
	twin_buf_free(&val);
	twin_buf_free(&fast);
	twin_buf_free(&slow);
	return 0;
}
