/* fuzz_fastmerge.c - libFuzzer target, differential: whenever the telemetry fast path (fastmerge.c)
 * answers, its stored value, change and version must be byte for byte the slow path's
 * (fastmerge_slow.h); a payload it takes must also be what ingest.c reads as one plain patch.
 * Input: mode byte, 2-byte little-endian length L, L bytes of twin, then 1-3 payloads separated by NUL.
 * Mode bits: 0 the twin bytes are a stored value as is (else a JSON patch the slow path makes a twin
 * of), 1 that patch goes to attributes too, 7 and to desired, 2 no twin (a new one), 3-4 the readings'
 * ts order (rising, equal, falling, mixed), 5-6 the last version of a new twin. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastmerge_slow.h"
#include "ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 1763884800000LL

/* A stored twin made by the slow path from a JSON patch (to reported, and attributes / desired). */
static bool make_twin(unsigned mode, const char *json, size_t len, struct twin_buf *out)
{
	struct twin_error err;
	if (!twin_json_depth_within(json, len, 17)) {
		return false;
	}
	cJSON *patch = twin_json_parse(json, len, &err), *doc = twin_doc_create("dev-1", 5, 3, T0);
	bool ok = cJSON_IsObject(patch) && doc;
	for (int s = 0; ok && s < TWIN_N_SECTIONS; s++) {
		bool use = s == TWIN_SEC_REPORTED || (s == TWIN_SEC_ATTRIBUTES && (mode & 2)) ||
				(s == TWIN_SEC_DESIRED && (mode & 128));
		if (use && twin_doc_patch(doc, (enum twin_section)s, patch, T0 - 5000 + s, NULL) > 0) {
			twin_doc_bump(doc, 1u << s, T0 - 5000 + s);
		}
	}
	if (ok) {
		twin_doc_seen(doc, T0 - 100);
		ok = twin_doc_store(doc, out);
	}
	cJSON_Delete(patch);
	cJSON_Delete(doc);
	return ok;
}

/* What ingest makes of a payload the fast path took: one reading, the payload itself as the patch. */
static void check_plain_patch(const char *payload, size_t len)
{
	struct twin_error err;
	struct twin_readings rs = {0};
	cJSON *root = twin_json_parse(payload, len, &err);
	if (!root || twin_ingest_readings(root, T0, 1, &rs, &err) != TWIN_OK || rs.n != 1 ||
			rs.r[0].patch != root || rs.r[0].ts != T0) {
		abort();
	}
	twin_readings_free(&rs);
	cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t order[4][3] = {{1000, 2000, 3000}, {1000, 1000, 1000}, {3000, 2000, 1000},
			{2000, -4000, 2500}};
	if (size < 3) {
		return 0;
	}
	unsigned mode = data[0];
	size_t twin_len = (size_t)data[1] | (size_t)data[2] << 8;
	if (twin_len > size - 3) {
		return 0;
	}
	const char *twin = (const char *)data + 3, *p = twin + twin_len, *end = (const char *)data + size;
	struct twin_buf old = {0};
	struct fm_case c = {NULL, 0, (mode >> 5) & 3, {NULL}, {0}, {0}, 0, T0 + 10000};
	if (!(mode & 4)) {
		if (mode & 1) {
			twin_buf_put(&old, twin, twin_len);
		} else if (!make_twin(mode, twin, twin_len, &old)) {
			twin_buf_free(&old);
			return 0;
		}
		c.old = old.data ? old.data : "";
		c.old_len = old.len;
	}
	while (c.n < 3 && p < end) {
		const char *nul = memchr(p, 0, (size_t)(end - p));
		c.payload[c.n] = p;
		c.len[c.n] = nul ? (size_t)(nul - p) : (size_t)(end - p);
		c.ts[c.n] = T0 + order[(mode >> 3) & 3][c.n];
		c.n++;
		p += c.len[c.n - 1] + 1;
	}
	struct fm_result fast = {0}, slow = {0};
	if (c.n > 0 && fm_fast(&c, &fast) >= 0) {
		for (size_t i = 0; i < c.n; i++) {
			check_plain_patch(c.payload[i], c.len[i]);
		}
		fm_slow(&c, &slow);
		if (!fm_agree(&fast, &slow)) {
			abort();
		}
	}
	fm_result_free(&fast);
	fm_result_free(&slow);
	twin_buf_free(&old);
	return 0;
}
