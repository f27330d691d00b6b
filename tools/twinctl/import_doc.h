/* import_doc.h - checking an imported twin document (a line of `twinctl export`, a `$twin/{id}/get`
 * answer, or a mapped Ditto thing) and fitting it into the store: the twin it becomes, its versions
 * continued after a twin or tombstone already there, and whether it changes anything. */
#ifndef CTL_IMPORT_DOC_H
#define CTL_IMPORT_DOC_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "twin_common.h"

struct ctl_import_limits {
	size_t max_twin_bytes; /* the public JSON, as the plugin's max_twin_bytes */
	int max_depth;         /* levels inside a section, as the plugin's max_depth */
};

/* The twin document in as the store will hold it (metadata mirroring reported and desired, delta
 * derived), or NULL with err when in is not an acceptable twin. Kept from in: id, attributes, reported,
 * desired and, when present, version, created, updated, lastSeen, metadata timestamps, versions and the
 * alarms section (each alarm as the plugin writes it); `delta`, `connected` and `model` (derived from
 * attributes.model and the broker's default_model) are ignored, any other member is refused. Defaults: version 1, updated now,
 * created = updated, a leaf without a timestamp gets `updated`, a section's version 1 when it has
 * content. */
cJSON *ctl_import_doc(const cJSON *in, int64_t now, const struct ctl_import_limits *lim,
		struct twin_error *err);

/* Moves doc's versions past what the store already had under its id: `existing` (the stored twin, or
 * NULL) or else `tombstone` (the last version of a deleted twin, 0 when none). version becomes
 * max(its own, previous + 1), each section's version (alarms included) likewise when a twin existed, so
 * no version is ever reused. False on allocation failure. */
bool ctl_import_continue(cJSON *doc, const cJSON *existing, int64_t tombstone);

/* True when doc holds what existing holds (sections, their timestamps, alarms, lastSeen): nothing to
 * import. */
bool ctl_import_same(const cJSON *doc, const cJSON *existing);

#endif
