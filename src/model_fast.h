/* model_fast.h - a twin's model on the writer's telemetry fast path: a check (fastmerge.h's hook) that
 * finds the model the stored twin follows, checks the readings member by member against its reported
 * schema and decides its alarms from the merged values. Whatever it cannot vouch for declines, and the
 * general path does the work with the whole document: a reading that breaks the model (it gets its event
 * there), an alarm that changes, a model that is named but not loaded, a reported schema with `required`,
 * alarms that read more than reported members (or more than TWIN_MODEL_ALARM_MEMBERS of them). A twin that has alarms never reaches it (fastmerge.c takes
 * only twins whose alarms section is absent or empty). Writer thread only. */
#ifndef TWIN_MODEL_FAST_H
#define TWIN_MODEL_FAST_H

#include "alarm.h"
#include "fastmerge.h"
#include "model.h"

struct twin_model_fast {
	/* set by the caller */
	const struct twin_models *models;
	const char *default_model;
	struct twin_alarm_holds *holds;
	struct twin_alarm_plan *plan;
	const char *id;
	size_t id_len;
	int64_t now;
	struct twin_fast_reading *const *rs; /* where the readings will be once scanned, and how many */
	size_t n;
	/* the check's own */
	const struct twin_fast_view *view;
	const struct twin_model *model;
	const cJSON *member_values[TWIN_MODEL_ALARM_MEMBERS]; /* the alarm members' merged values */
	cJSON values[TWIN_MODEL_ALARM_MEMBERS];               /* their storage (slot 0 also for checks) */
	char strings[TWIN_MODEL_ALARM_MEMBERS][64];
};

/* twin_fast_check_fn: ctx is a struct twin_model_fast. */
bool twin_model_fast_check(void *ctx, const struct twin_fast_view *v);

#endif
