/* twin.h - the twin document model: creating, loading and storing a twin, patching its sections,
 * versioning, the derived delta, and field selection. A twin in memory is the cJSON tree of its public
 * document (without `connected`, which is live presence and never stored). */
#ifndef TWIN_TWIN_H
#define TWIN_TWIN_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "twin_common.h"

enum twin_section { TWIN_SEC_ATTRIBUTES, TWIN_SEC_REPORTED, TWIN_SEC_DESIRED, TWIN_N_SECTIONS };
extern const char *const twin_section_names[TWIN_N_SECTIONS];

/* Stored values are one format byte followed by the document's compact JSON. */
#define TWIN_FORMAT_JSON1 '\x01'

/* A new, empty twin; its first change makes it version last_version + 1. */
cJSON *twin_doc_create(const char *id, size_t id_len, int64_t last_version, int64_t ts);
cJSON *twin_doc_load(const void *val, size_t len);
/* The JSON text of a stored value (skips the format byte); NULL if the value is not ours. */
const char *twin_doc_json(const void *val, size_t len, size_t *json_len);
/* Serialises for storage (format byte + JSON); malloc'd. */
char *twin_doc_store(const cJSON *doc, size_t *len);

int64_t twin_doc_version(const cJSON *doc);
cJSON *twin_doc_section(cJSON *doc, enum twin_section s);

/* Merges patch into a section (metadata kept for reported and desired). changed receives the effective
 * patch. Returns the number of changed leaves, -1 on allocation failure. */
int twin_doc_patch(cJSON *doc, enum twin_section s, const cJSON *patch, int64_t ts, cJSON *changed);

/* Records a change of the sections in mask (bit = 1 << section): bumps version, the sections' versions
 * and `updated`, and recomputes the delta. Returns 1 if the delta changed, 0 if not, -1 on OOM. */
int twin_doc_bump(cJSON *doc, unsigned mask, int64_t ts);

void twin_doc_seen(cJSON *doc, int64_t ts);

/* A new object with each selected path ("reported", "desired/fanSpeed", ...) plus, when doc has them, id,
 * version and ts. Unknown paths are left out. fields must be an array of strings (checked by the
 * caller). Used for twins and history entries alike. */
cJSON *twin_doc_select(const cJSON *doc, const cJSON *fields);

#endif
