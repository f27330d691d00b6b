/* wot.h - a W3C WoT Thing Model (Thing Description 1.1 JSON-LD) as a twin model document, for
 * `twinctl model from-wot`. Each property becomes a member of reported when it is readOnly, of desired
 * when it is writeOnly, and of both when it is writable (a device reports back what it was set to).
 * desired is closed (additionalProperties false: only the writable properties can be set); reported stays
 * open (a device may report more than its Thing Model says). The data schema keywords the model subset
 * has are kept (type, enum, const, default, unit, title, description, minimum, maximum, exclusiveMinimum,
 * exclusiveMaximum, multipleOf, minLength, maxLength, pattern, properties, required, items, minItems,
 * maxItems, additionalProperties); the Thing Model's title, description and version.model become the
 * model's. Everything else is left out and listed in the notes: nothing is dropped unsaid, and no rule is
 * kept that would check something other than what the Thing Model says. */
#ifndef CTL_WOT_H
#define CTL_WOT_H

#include <cjson/cJSON.h>

#include "twin_common.h"

/* What was left out, grouped by keyword and reason: where lists the first places (JSON pointers into the
 * Thing Model), count all of them. */
struct ctl_wot_note {
	char what[64];
	char why[160];
	char where[3][128];
	int count;
};

struct ctl_wot_notes {
	struct ctl_wot_note *v;
	size_t n;
};

/* The model document named name made of the Thing Model tm, checked to load as the broker loads models;
 * notes receives what was left out (free with ctl_wot_notes_free, also after a failure). NULL with err
 * (naming the Thing Model's JSON pointer) when tm is no Thing Model, a property is both readOnly and
 * writeOnly, or a kept keyword holds a value the model subset refuses. Two values are left out with a note
 * rather than refused: a Thing Model placeholder ("{{MAX_TEMP}}") and a pattern that POSIX regular
 * expressions cannot take as it is (\d, \w...). */
cJSON *ctl_wot_model(const cJSON *tm, const char *name, struct ctl_wot_notes *notes, struct twin_error *err);

void ctl_wot_notes_free(struct ctl_wot_notes *notes);

#endif
