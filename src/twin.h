/* twin.h - the twin document model: creating a twin, patching its sections, versioning, the derived
 * delta, and field selection (twin_format.h stores and loads it). A twin in memory is the cJSON tree
 * of its public document (without `connected`, which is live presence and never stored). */
#ifndef TWIN_TWIN_H
#define TWIN_TWIN_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "twin_common.h"

enum twin_section { TWIN_SEC_ATTRIBUTES, TWIN_SEC_REPORTED, TWIN_SEC_DESIRED, TWIN_N_SECTIONS };
extern const char *const twin_section_names[TWIN_N_SECTIONS];

/* A new, empty twin; its first change makes it version last_version + 1. */
cJSON *twin_doc_create(const char *id, size_t id_len, int64_t last_version, int64_t ts);

int64_t twin_doc_version(const cJSON *doc);
cJSON *twin_doc_section(cJSON *doc, enum twin_section s);

/* Merges patch into a section (metadata kept for reported and desired). changed receives the effective
 * patch. Returns the number of changed leaves, -1 on allocation failure. */
int twin_doc_patch(cJSON *doc, enum twin_section s, const cJSON *patch, int64_t ts, cJSON *changed);

/* Removes every member of a section, as a patch nulling each would (AWS "desired": null). */
int twin_doc_clear(cJSON *doc, enum twin_section s, int64_t ts, cJSON *changed);

/* Records a change of the sections in mask (bit = 1 << section): bumps version, the sections' versions
 * and `updated`, and recomputes the delta. Returns 1 if the delta changed, 0 if not, -1 on OOM. */
int twin_doc_bump(cJSON *doc, unsigned mask, int64_t ts);

void twin_doc_seen(cJSON *doc, int64_t ts);

/* A new object with each selected path ("reported", "desired/fanSpeed", ...) plus, when doc has them, id,
 * version and ts. Unknown paths are left out. fields must be an array of strings (checked by the
 * caller). Used for twins and history entries alike. */
cJSON *twin_doc_select(const cJSON *doc, const cJSON *fields);

#endif
