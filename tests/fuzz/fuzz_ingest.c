/* fuzz_ingest.c - libFuzzer target: a telemetry payload read as a device's readings (ThingsBoard-style
 * {"ts","values"} objects, arrays of them, plain patches), as every part of a gateway batch, and as a
 * value sent to a sub-path topic; each accepted reading is merged into a twin twice (the second time
 * changes nothing). Input: sub-path, NUL, payload (without a NUL: payload only, no sub-path). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "jsonx.h"
#include "twin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARRIVAL 1763884860000LL
#define DEPTH   16

/* Every reading is an object patch with a ts in range; merging it twice changes nothing the second time. */
static void check_readings(const struct twin_readings *rs)
{
	cJSON *doc = twin_doc_create("fuzz", 4, 0, ARRIVAL);
	for (size_t i = 0; doc && i < rs->n; i++) {
		const struct twin_reading *r = &rs->r[i];
		if (!cJSON_IsObject(r->patch) || r->ts < TWIN_TS_MIN_MS || r->ts > ARRIVAL + TWIN_TS_AHEAD_MS) {
			abort();
		}
		if (twin_doc_patch(doc, TWIN_SEC_REPORTED, r->patch, r->ts, NULL) >= 0 &&
				twin_doc_patch(doc, TWIN_SEC_REPORTED, r->patch, r->ts, NULL) > 0) {
			abort();
		}
	}
	cJSON_Delete(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct twin_error err;
	struct twin_readings rs = {0};
	const char *nul = memchr(data, 0, size);
	const char *path = nul ? (const char *)data : NULL;
	size_t path_len = nul ? (size_t)(nul - path) : 0;
	const char *payload = nul ? nul + 1 : (const char *)data;
	size_t len = size - (size_t)(payload - (const char *)data);
	if (!twin_json_depth_within(payload, len, DEPTH + 3)) {
		return 0;
	}
	cJSON *root = twin_json_parse(payload, len, &err);
	if (!root) {
		return 0;
	}
	if (twin_ingest_readings(root, ARRIVAL, DEPTH, &rs, &err) == TWIN_OK) {
		if (rs.n == 0) {
			abort();
		}
		check_readings(&rs);
	}
	if (cJSON_IsObject(root)) { /* as a gateway batch: each member is one device's part */
		for (const cJSON *dev = root->child; dev; dev = dev->next) {
			if (twin_ingest_readings(dev, ARRIVAL, DEPTH, &rs, &err) == TWIN_OK) {
				check_readings(&rs);
			}
		}
	}
	twin_readings_free(&rs);
	int levels = path ? twin_ingest_path_levels(path, path_len) : -1;
	if (levels > 0 && levels <= DEPTH) {
		int64_t ts = 0;
		cJSON *patch = twin_ingest_path_patch(root, path, path_len, ARRIVAL, DEPTH - levels, &ts, &err);
		if (patch && (!cJSON_IsObject(patch) || !patch->child || patch->child->next)) {
			abort(); /* one member: the first level */
		}
		struct twin_reading r = {ts, patch};
		struct twin_readings one = {&r, 1, 1};
		if (patch) {
			check_readings(&one);
		}
		cJSON_Delete(patch);
	} else {
		cJSON_Delete(root);
	}
	return 0;
}
