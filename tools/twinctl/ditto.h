/* ditto.h - Eclipse Ditto things as twin documents: the thingId -> twin id mapping and the thing ->
 * document mapping that `twinctl import --from ditto` applies before the usual import checks. */
#ifndef CTL_DITTO_H
#define CTL_DITTO_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "twin_common.h"

/* The twin id of a Ditto thingId ("namespace:name"): the same bytes, with '%', '+' and '#' written as
 * %25, %2B and %23 ('+' and '#' cannot be in an MQTT topic level; percent-decoding the id gives the
 * thingId back). out holds TWIN_MAX_ID_LEN + 1 bytes. False with err when the result is not a valid
 * twin id (too long, '/', not UTF-8) or thing_id has no ':'. */
bool ctl_ditto_twin_id(const char *thing_id, char *out, struct twin_error *err);

/* A thing's ISO 8601 time ("2025-11-23T07:20:00.123Z", or with a +hh:mm offset) in epoch ms. */
bool ctl_ditto_time_ms(const char *s, int64_t *out);

/* The twin document of a thing: {"id", "attributes", "reported", "desired"} plus "version" from
 * _revision, "updated" from _modified and "created" from _created when present. features.<f>.properties
 * becomes reported.<f>, features.<f>.desiredProperties becomes desired.<f>; policyId, definitions and
 * other members are not kept. NULL with err when thing is not a thing. */
cJSON *ctl_ditto_thing(const cJSON *thing, struct twin_error *err);

#endif
