/* model.h - twin models: the set of model documents loaded from plugin_opt_models_dir (one *.json file
 * per model), each with a compiled schema per twin section and its alarm rules. A loaded set is immutable
 * and reference-counted, so a reload builds a new set beside the one in use and swaps it in.
 *
 * A model document:
 *   {"name": "rack-th", "title": "...", "description": "...",
 *    "reported": <schema>, "desired": <schema>, "attributes": <schema>,
 *    "alarms": [{"name": "hot-top", "severity": "critical", "raise": "<filter>", "clear": "<filter>",
 *                "for_s": 0, "description": "..."}]}
 * name and alarm names: 1-64 of [A-Za-z0-9._-]; every section and alarms optional; severity one of
 * critical, major, minor, warning; raise/clear in the search filter language (query.h); for_s 0-86400.
 * Any other member refuses the model. */
#ifndef TWIN_MODEL_H
#define TWIN_MODEL_H

#include <pthread.h>
#include <stdbool.h>
#include <cjson/cJSON.h>

#include "query.h"
#include "schema.h"
#include "twin.h"
#include "twin_common.h"

#define TWIN_MODEL_MAX_NAME   64
#define TWIN_MODEL_MAX_ALARMS 64
#define TWIN_MODEL_MAX_FOR_S  86400
#define TWIN_MODEL_ALARM_MEMBERS 16

enum twin_severity { TWIN_SEV_CRITICAL, TWIN_SEV_MAJOR, TWIN_SEV_MINOR, TWIN_SEV_WARNING };
extern const char *const twin_severity_names[4];

struct twin_alarm_rule {
	char *name;
	enum twin_severity severity;
	struct twin_query *raise;
	struct twin_query *clear; /* NULL: the alarm clears when raise no longer holds */
	int64_t for_ms;           /* how long raise must hold before the alarm is active */
};

struct twin_model {
	char *name;
	char *json;      /* the document as loaded, compact JSON (answered by $twin/{id}/model) */
	size_t json_len;
	struct twin_schema *sections[TWIN_N_SECTIONS]; /* NULL: that section is not constrained */
	struct twin_alarm_rule *alarms;
	int n_alarms;
	/* When every path the alarms read is reported/<member> (at most TWIN_MODEL_ALARM_MEMBERS of them), those
	 * members: the writer's fast path decides the alarms from the merged readings. Else n < 0. */
	int n_alarm_members;
	char *alarm_members[TWIN_MODEL_ALARM_MEMBERS];
};

/* Builds one model from the JSON text of a model document (len bytes, no NUL needed): what the loader does
 * with each file. On failure m is left empty and err (TWIN_ERR_CONFIG; TWIN_ERR_NOMEM) names the JSON
 * pointer and the rule: "/desired/properties/fanSpeed/maximum: must be a number". */
enum twin_rc twin_model_parse(const char *json, size_t len, struct twin_model *m, struct twin_error *err);
/* Frees what m holds and empties it (an empty m may be freed again). */
void twin_model_free(struct twin_model *m);

struct twin_models;

/* Loads every *.json file of dir (sorted by file name; other files are skipped). Any bad file fails the
 * whole load with err (TWIN_ERR_CONFIG) naming the file and the JSON pointer:
 * "models_dir: rack-th.json: /desired/properties/fanSpeed/maximum: must be a number". Two files with
 * the same name fail too. dir NULL: an empty set. */
enum twin_rc twin_models_load(const char *dir, struct twin_models **out, struct twin_error *err);

/* Reference counting (atomic: any thread). A set is freed when its last reference goes. */
struct twin_models *twin_models_retain(struct twin_models *m);
void twin_models_release(struct twin_models *m);

/* NULL when no model of that name is loaded. */
const struct twin_model *twin_models_find(const struct twin_models *m, const char *name, size_t len);
size_t twin_models_count(const struct twin_models *m);
/* In name order, i < count. */
const struct twin_model *twin_models_at(const struct twin_models *m, size_t i);

/* A model or alarm name: 1-64 of [A-Za-z0-9._-]. */
bool twin_model_name_valid(const char *s, size_t len);

/* The set in force, shared by the broker thread (which swaps it on a reload) and the writer and search
 * threads (which hold a reference while they use it). */
struct twin_models_slot {
	pthread_mutex_t lock;
	struct twin_models *set;
};
void twin_models_slot_init(struct twin_models_slot *slot, struct twin_models *set);
/* The set in force, retained: release it when done. */
struct twin_models *twin_models_slot_get(struct twin_models_slot *slot);
/* Puts set in force (taking the caller's reference) and releases the one it replaces. */
void twin_models_slot_set(struct twin_models_slot *slot, struct twin_models *set);
void twin_models_slot_destroy(struct twin_models_slot *slot);

#endif
