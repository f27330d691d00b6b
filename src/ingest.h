/* ingest.h - what a telemetry payload means beyond a plain merge patch of reported: ThingsBoard-style
 * readings with device timestamps ({"ts": <ms>, "values": {...}}, alone or in an array), a value sent to
 * a sub-path topic (devices/{id}/telemetry/a/b), and the parts of a gateway batch. Pure cJSON work on the
 * writer thread; the broker thread never calls it. */
#ifndef TWIN_INGEST_H
#define TWIN_INGEST_H

#include <cjson/cJSON.h>

#include "twin_common.h"

#define TWIN_TS_MIN_MS   946684800000LL /* 2000-01-01: an earlier device ts is refused (seconds, not ms?) */
#define TWIN_TS_AHEAD_MS 86400000LL     /* a device ts may be at most a day ahead of the message's arrival */

/* One change of reported: a merge patch and the time it happened. */
struct twin_reading {
	int64_t ts;         /* the device's ts, or the arrival time when the reading has none */
	const cJSON *patch; /* points into the parsed payload */
};

/* A reusable array of readings. */
struct twin_readings {
	struct twin_reading *r;
	size_t n, cap;
};
void twin_readings_free(struct twin_readings *rs);

/* One device's readings, in order, from value:
 *   {"ts": <ms>, "values": {...}}  (exactly these two members)  one reading at ts
 *   any other object                                          one reading at arrival (the plain patch)
 *   a non-empty array of those                                one reading each
 * A device ts must be an integer in [TWIN_TS_MIN_MS, arrival + TWIN_TS_AHEAD_MS]. depth_limit >= 0 also
 * checks that no patch nests deeper (-1: the caller already checked the whole payload). Anything else
 * fails with err saying what is wrong, and then none of the readings may be applied. */
enum twin_rc twin_ingest_readings(const cJSON *value, int64_t arrival, int depth_limit,
		struct twin_readings *out, struct twin_error *err);

/* The number of levels of a sub-path ("a/b": 2), or -1 when a level is empty ("a//b", "a/", ""). */
int twin_ingest_path_levels(const char *path, size_t len);

/* A sub-path message: root (any JSON value, or one {"ts","values"} envelope whose values is the value)
 * becomes the patch {"a":{"b":value}} for path "a/b", with its time in *ts. The value may nest at most
 * depth_limit levels. Takes root over; NULL with err when invalid or out of memory. */
cJSON *twin_ingest_path_patch(cJSON *root, const char *path, size_t path_len, int64_t arrival,
		int depth_limit, int64_t *ts, struct twin_error *err);

#endif
