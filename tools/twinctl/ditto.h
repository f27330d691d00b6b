/* ditto.h - Eclipse Ditto things as twin documents: the thingId -> twin id mapping and the thing ->
 * document mapping (its definition -> the model the twin follows) that `twinctl import --from ditto`
 * applies before the usual import checks. */
#ifndef CTL_DITTO_H
#define CTL_DITTO_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "model.h"
#include "twin_common.h"

/* The twin id of a Ditto thingId ("namespace:name"): the same bytes, with '%', '+' and '#' written as
 * %25, %2B and %23 ('+' and '#' cannot be in an MQTT topic level; percent-decoding the id gives the
 * thingId back). out holds TWIN_MAX_ID_LEN + 1 bytes. False with err when the result is not a valid
 * twin id (too long, '/', not UTF-8) or thing_id has no ':'. */
bool ctl_ditto_twin_id(const char *thing_id, char *out, struct twin_error *err);

/* A thing's ISO 8601 time ("2025-11-23T07:20:00.123Z", or with a +hh:mm offset) in epoch ms. */
bool ctl_ditto_time_ms(const char *s, int64_t *out);

/* What became of a thing's definition: none, attributes.model, attributes.definition. */
struct ctl_definition {
	enum { CTL_DEF_NONE, CTL_DEF_MODEL, CTL_DEF_KEPT } outcome;
	const char *text;                    /* the definition (borrowed from the thing); NULL: none */
	char model[TWIN_MODEL_MAX_NAME + 1]; /* MODEL: the model the twin follows */
	char why[TWIN_ERRMSG_LEN];           /* KEPT: why the twin follows no model of it */
};

/* The twin document of a thing: {"id", "attributes", "reported", "desired"} plus "version" from
 * _revision, "updated" from _modified and "created" from _created when present. features.<f>.properties
 * becomes reported.<f>, features.<f>.desiredProperties becomes desired.<f>. The thing's definition
 * becomes attributes.model when it stands for a model of models (ctl_model_names: the first one loaded)
 * that the twin conforms to and attributes has no model yet; else it is kept as attributes.definition
 * (def says which and why). policyId, features.<f>.definition and other members are not kept. NULL with
 * err when thing is not a thing, its definition is not a string, or attributes.definition holds
 * something else already. models NULL: none loaded. */
cJSON *ctl_ditto_thing(const cJSON *thing, const struct twin_models *models, struct ctl_definition *def,
		struct twin_error *err);

#endif
