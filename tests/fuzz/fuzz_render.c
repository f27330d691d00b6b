/* fuzz_render.c - libFuzzer target, differential: whenever a get's answer is written straight from the
 * stored bytes (twin_render.c), it must be byte for byte what writing the loaded twin with its model
 * shown gives (what get answered before); a value loading refuses must never be rendered; and a twin the
 * writer stored must always be rendered directly (never declined).
 * Input: a mode byte, then bit 0 set: a stored value as is (the database may hold anything); else up to
 * five JSON objects separated by NUL, patched by the slow path into attributes, reported (twice, at two
 * times) and desired of a new twin (an empty part patches nothing), the fifth its alarms section, and the
 * twin is stored; bit 1: the twin was seen (lastSeen); bit 2: a default model; bit 3: versions.alarms
 * without a section. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model_check.h"
#include "twin.h"
#include "twin_format.h"
#include "twin_render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ID "rack-7"
#define T0 1763884800000LL

/* Part i of the twin: patched into its section (the fifth is the alarms section, kept as it is). */
static void use_part(cJSON *doc, int i, cJSON *part)
{
	static const enum twin_section sections[] = {TWIN_SEC_ATTRIBUTES, TWIN_SEC_REPORTED,
			TWIN_SEC_REPORTED, TWIN_SEC_DESIRED};
	if (i == 4) {
		twin_json_set_int64(cJSON_GetObjectItemCaseSensitive(doc, "versions"), "alarms", 2);
		twin_json_set(doc, "alarms", cJSON_Duplicate(part, 1));
	} else if (twin_doc_patch(doc, sections[i], part, T0 + 1000 * i, NULL) > 0) {
		twin_doc_bump(doc, 1u << sections[i], T0 + 1000 * i);
	}
}

/* A stored twin made by the slow path from the NUL-separated JSON parts; false when one is no object. */
static bool make_twin(unsigned mode, const char *p, const char *end, struct twin_buf *out)
{
	cJSON *doc = twin_doc_create(ID, sizeof(ID) - 1, 6, T0);
	bool ok = doc != NULL;
	for (int i = 0; ok && i < 5 && p < end; i++) {
		const char *nul = memchr(p, 0, (size_t)(end - p));
		size_t len = nul ? (size_t)(nul - p) : (size_t)(end - p);
		struct twin_error err;
		cJSON *part = len && twin_json_depth_within(p, len, 17) ? twin_json_parse(p, len, &err) : NULL;
		ok = len == 0 || cJSON_IsObject(part);
		if (ok && part) {
			use_part(doc, i, part);
		}
		cJSON_Delete(part);
		p += len + 1;
	}
	if (ok && (mode & 2)) {
		twin_doc_seen(doc, T0 + 5000);
	}
	if (ok && (mode & 8)) {
		twin_json_set_int64(cJSON_GetObjectItemCaseSensitive(doc, "versions"), "alarms", 7);
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
	struct twin_stored t = {ID, sizeof(ID) - 1, val.data ? val.data : "", val.len,
			(mode & 4) ? "dflt" : NULL};
	cJSON *doc = twin_doc_load(ID, sizeof(ID) - 1, t.val, t.len);
	bool rendered = twin_doc_render(&t, &fast);
	if (rendered && (!doc || !twin_doc_show_model(doc, t.default_model) || !twin_json_write(&slow, doc) ||
							slow.len != fast.len || memcmp(slow.data, fast.data, fast.len) != 0)) {
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
