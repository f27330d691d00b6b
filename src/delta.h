/* delta.h - the desired leaves whose value differs from reported. */
#ifndef TWIN_DELTA_H
#define TWIN_DELTA_H

#include <cjson/cJSON.h>

/* Returns a new object: every leaf of desired (objects recurse; arrays and empty objects are leaves) that
 * is absent from reported or has another value there. reported may be NULL. NULL on allocation failure. */
cJSON *twin_delta_compute(const cJSON *desired, const cJSON *reported);

#endif
