/* alarm.h - a model's alarm rules applied to one twin: deciding what its alarms do after a change
 * (raise, clear, or wait while a `for_s` hold runs), writing that into the twin's `alarms` section, and
 * acknowledging. The section maps alarm name -> {"severity", "active", "acked", "since", "cleared"}; an
 * alarm cleared and acknowledged leaves it. Holds (a raise condition that has held for less than its
 * rule's for_s) are kept in memory by the writer: a restart starts them again at the next change.
 * Writer thread only. */
#ifndef TWIN_ALARM_H
#define TWIN_ALARM_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "jsonx.h"
#include "model.h"
#include "query.h"

/* The twins' running holds: (twin id, alarm name) -> since. */
struct twin_alarm_holds;
struct twin_alarm_holds *twin_alarm_holds_new(void);
void twin_alarm_holds_free(struct twin_alarm_holds *h);
/* When the earliest hold is due (INT64_MAX: none). */
int64_t twin_alarm_holds_next_due(const struct twin_alarm_holds *h);
/* The ids of the twins with a hold due at now (at most max, malloc'd each; the caller frees them);
 * returns how many. Their holds stay until a decision ends them. */
size_t twin_alarm_holds_due(const struct twin_alarm_holds *h, int64_t now, char **ids, size_t max);
/* Forgets every hold of a twin (deleted). */
void twin_alarm_holds_forget(struct twin_alarm_holds *h, const char *id, size_t id_len);

enum twin_alarm_action { TWIN_ALARM_KEEP, TWIN_ALARM_RAISE, TWIN_ALARM_CLEAR };

/* What a twin's alarms do after a change: one action per alarm of the model or of the section. */
struct twin_alarm_plan {
	int n;
	int changes; /* actions other than KEEP */
	struct {
		char name[TWIN_MODEL_MAX_NAME + 1];
		enum twin_severity severity;
		enum twin_alarm_action action;
	} a[TWIN_MODEL_MAX_ALARMS * 2];
};

/* Decides, from the twin's values (get(ctx, path), as twin_query_match_with reads them) and its alarms
 * section (NULL: none), what each alarm does at now; starts and ends holds as it goes. model NULL: the
 * twin has no model, so every alarm it still has clears. An alarm whose rule the model no longer has
 * clears too. */
void twin_alarms_decide(const struct twin_model *model, twin_query_get_fn get, const void *ctx,
		const cJSON *alarms, struct twin_alarm_holds *h, const char *id, size_t id_len, int64_t now,
		struct twin_alarm_plan *plan);

/* One alarm's change, as its event tells it. */
struct twin_alarm_change {
	char name[TWIN_MODEL_MAX_NAME + 1];
	enum twin_severity severity;
	bool active, acked;
	int64_t since;
	int64_t cleared; /* 0: not cleared */
};

/* Applies plan to doc's `alarms` section (created when needed) at now; out (room for plan->changes)
 * receives each change. Returns the number of changes, -1 on OOM (doc may then be half changed: the
 * caller drops it). */
int twin_alarms_apply(cJSON *doc, const struct twin_alarm_plan *plan, int64_t now,
		struct twin_alarm_change *out);

/* Acknowledges alarm name of doc: 1 when it changed (out filled), 0 when it was already acknowledged,
 * -1 when the twin has no such alarm, -2 on OOM. */
int twin_alarms_ack(cJSON *doc, const char *name, struct twin_alarm_change *out);

/* Appends ,"name":..,"severity":..,"active":..,"acked":..,"since":..[,"cleared":..] to b. */
bool twin_alarm_event_members(struct twin_buf *b, const struct twin_alarm_change *c);

#endif
