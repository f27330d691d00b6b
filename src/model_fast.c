/* model_fast.c - a twin's model on the telemetry fast path (see model_fast.h). */
#include "model_fast.h"

#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

/* A member as a cJSON scalar in slot i of the check's scratch; NULL for a string over 63 bytes. */
static cJSON *scalar(struct twin_model_fast *f, int i, const struct twin_fast_member *m)
{
	cJSON *v = &f->values[i];
	memset(v, 0, sizeof(*v));
	switch (m->type) {
		case TWIN_FAST_NUMBER:
			v->type = cJSON_Number;
			v->valuedouble = m->num;
			v->valueint = m->num >= (double)INT32_MAX ? INT32_MAX
					: m->num <= (double)INT32_MIN    ? INT32_MIN
													 : (int)m->num;
			return v;
		case TWIN_FAST_TRUE:
			v->type = cJSON_True;
			return v;
		case TWIN_FAST_FALSE:
			v->type = cJSON_False;
			return v;
		case TWIN_FAST_STRING:
			if (m->val_len - 2 >= sizeof(f->strings[i])) {
				return NULL;
			}
			memcpy(f->strings[i], m->val + 1, m->val_len - 2); /* without its quotes */
			f->strings[i][m->val_len - 2] = '\0';
			v->type = cJSON_String;
			v->valuestring = f->strings[i];
			return v;
	}
	return NULL;
}

/* Every member of every reading against the reported schema (slot 0 holds the value being checked). */
static bool readings_conform(struct twin_model_fast *f, const struct twin_schema *reported)
{
	struct twin_schema_failure failure;
	for (size_t i = 0; i < f->n; i++) {
		const struct twin_fast_reading *r = &(*f->rs)[i];
		for (size_t j = 0; j < r->n; j++) {
			const struct twin_fast_member *m = &r->m[j];
			bool allowed = true;
			const struct twin_schema *s = twin_schema_member(reported, m->key, m->key_len, &allowed);
			if (!s) {
				if (!allowed) {
					return false;
				}
				continue;
			}
			const cJSON *v = scalar(f, 0, m);
			if (!v || !twin_schema_check(s, v, &failure)) {
				return false;
			}
		}
	}
	return true;
}

/* The merged values of the members m's alarms read, into f->member_values (NULL: absent); false when one
 * is not a scalar the fast path can show. */
static bool read_alarm_members(struct twin_model_fast *f, const struct twin_model *m)
{
	for (int i = 0; i < m->n_alarm_members; i++) {
		const char *name = m->alarm_members[i];
		struct twin_fast_member member;
		bool other;
		f->member_values[i] = NULL;
		if (twin_fast_view_reported(f->view, name, strlen(name), &member, &other)) {
			if (!(f->member_values[i] = scalar(f, i, &member))) {
				return false;
			}
		} else if (other) {
			return false;
		}
	}
	return true;
}

/* twin_query_get_fn over the members read_alarm_members read (every path is reported/<member>). */
static const cJSON *member_value(const void *ctx, const char *path)
{
	const struct twin_model_fast *f = ctx;
	for (int i = 0; i < f->model->n_alarm_members; i++) {
		if (!strcmp(path + 9, f->model->alarm_members[i])) {
			return f->member_values[i];
		}
	}
	return NULL;
}

bool twin_model_fast_check(void *ctx, const struct twin_fast_view *v)
{
	struct twin_model_fast *f = ctx;
	const char *attributes;
	size_t len;
	f->view = v;
	twin_fast_view_attributes(v, &attributes, &len);
	char *own = len > 2 ? twin_json_top_string(attributes, len, "model") : NULL;
	const char *name = own ? own : f->default_model;
	if (!name) {
		return true; /* no model: nothing to check */
	}
	const struct twin_model *m = f->model = twin_models_find(f->models, name, strlen(name));
	free(own);
	if (!m) {
		return false; /* named but not loaded: counted on the general path */
	}
	const struct twin_schema *reported = m->sections[TWIN_SEC_REPORTED];
	if (reported && (twin_schema_has_required(reported) || !readings_conform(f, reported))) {
		return false;
	}
	if (m->n_alarms == 0) {
		return true;
	}
	if (m->n_alarm_members < 0 || !read_alarm_members(f, m)) {
		return false;
	}
	twin_alarms_decide(m, member_value, f, NULL, f->holds, f->id, f->id_len, f->now, f->plan);
	return f->plan->changes == 0;
}
