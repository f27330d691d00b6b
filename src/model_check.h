/* model_check.h - what a twin's model says about the twin: which model it follows, whether a write of
 * its sections conforms (checked on the merged result), whether a telemetry message does (each member it
 * sets, with its merged value), and the `model` member answers show. Pure: any thread. */
#ifndef TWIN_MODEL_CHECK_H
#define TWIN_MODEL_CHECK_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "model.h"
#include "twin_common.h"

/* The name of the model doc follows: its attributes.model when that is a string, else default_model
 * (NULL: it follows none). */
const char *twin_model_name_of(const cJSON *doc, const char *default_model);

/* Sets doc's `model` member to the name of the model it follows (nothing when none). False on OOM. */
bool twin_doc_show_model(cJSON *doc, const char *default_model);

/* Checks the sections of doc in mask (bit = 1 << enum twin_section) against m. False with err: a 400
 * whose path is the JSON pointer of the refused value ("/desired/fanSpeed") and whose message names the
 * rule and the model: "desired/fanSpeed: 9 is above the maximum 5 (model rack-th)". */
bool twin_model_check_sections(const struct twin_model *m, const cJSON *doc, unsigned mask,
		struct twin_error *err);

/* Checks the members a telemetry patch sets in reported (their values once merged into it) against
 * m's reported schema. Members the patch removes (null) and the schema's `required` are not checked:
 * devices report a part of their state at a time. False with err as above. */
bool twin_model_check_reading(const struct twin_model *m, const cJSON *reported, const cJSON *patch,
		struct twin_error *err);

/* Fills err from a schema failure of section s of model m. */
void twin_model_fail(struct twin_error *err, const struct twin_model *m, enum twin_section s,
		const struct twin_schema_failure *f);

#endif
