/* model_check.c - a twin checked against its model (see model_check.h). */
#include "model_check.h"

#include <stdio.h>
#include <string.h>

#include "jsonx.h"
#include "merge.h"

const char *twin_model_name_of(const cJSON *doc, const char *default_model)
{
	const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(doc, "attributes");
	const cJSON *name = cJSON_IsObject(attrs) ? cJSON_GetObjectItemCaseSensitive(attrs, "model") : NULL;
	/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): cJSON_IsString(NULL) is false */
	return cJSON_IsString(name) ? name->valuestring : default_model;
}

bool twin_doc_show_model(cJSON *doc, const char *default_model)
{
	const char *name = twin_model_name_of(doc, default_model);
	cJSON *item = name ? cJSON_CreateString(name) : NULL;
	return !name || twin_json_set(doc, "model", item);
}

void twin_model_fail(struct twin_error *err, const struct twin_model *m, enum twin_section s,
		const struct twin_schema_failure *f)
{
	twin_fail(err, TWIN_ERR_BAD_REQUEST, "%s%s: %s (model %s)", twin_section_names[s], f->path, f->msg,
			m->name);
	snprintf(err->path, sizeof(err->path), "/%s%.200s", twin_section_names[s], f->path);
}

bool twin_model_check_sections(const struct twin_model *m, const cJSON *doc, unsigned mask,
		struct twin_error *err)
{
	static const cJSON empty = {.type = cJSON_Object};
	for (int s = 0; s < TWIN_N_SECTIONS; s++) {
		struct twin_schema_failure f;
		if (!(mask & (1u << s)) || !m->sections[s]) {
			continue;
		}
		const cJSON *sec = cJSON_GetObjectItemCaseSensitive(doc, twin_section_names[s]);
		if (!twin_schema_check(m->sections[s], cJSON_IsObject(sec) ? sec : &empty, &f)) {
			twin_model_fail(err, m, (enum twin_section)s, &f);
			return false;
		}
	}
	return true;
}

/* The failure of member name of reported, whose value is v: the member's schema, or the object's
 * additionalProperties false. */
static bool check_member(const struct twin_model *m, const char *name, const cJSON *v, struct twin_error *err)
{
	struct twin_schema_failure f;
	bool allowed = true;
	const struct twin_schema *s = twin_schema_member(m->sections[TWIN_SEC_REPORTED], name, strlen(name), &allowed);
	if (s ? twin_schema_check(s, v, &f) : allowed) {
		return true;
	}
	if (!s) {
		snprintf(f.msg, sizeof(f.msg), "property \"%.80s\" is not allowed", name);
		snprintf(f.path, sizeof(f.path), "/%.100s", name);
	} else {
		char inner[sizeof(f.path)];
		snprintf(inner, sizeof(inner), "%s", f.path);
		snprintf(f.path, sizeof(f.path), "/%.100s%.150s", name, inner);
	}
	twin_model_fail(err, m, TWIN_SEC_REPORTED, &f);
	return false;
}

bool twin_model_check_reading(const struct twin_model *m, const cJSON *reported, const cJSON *patch,
		struct twin_error *err)
{
	if (!m->sections[TWIN_SEC_REPORTED]) {
		return true;
	}
	for (const cJSON *p = patch ? patch->child : NULL; p; p = p->next) {
		const cJSON *current = cJSON_GetObjectItemCaseSensitive(reported, p->string);
		if (cJSON_IsNull(p)) {
			continue;
		}
		if (!cJSON_IsObject(p) || !cJSON_IsObject(current)) {
			if (!check_member(m, p->string, p, err)) {
				return false;
			}
			continue;
		}
		cJSON *merged = cJSON_Duplicate(current, 1); /* an object merged into the one reported */
		bool ok = merged && twin_merge_apply(merged, p, NULL, 0, NULL) >= 0 &&
				check_member(m, p->string, merged, err);
		if (!merged) {
			twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
		}
		cJSON_Delete(merged);
		if (!ok) {
			return false;
		}
	}
	return true;
}
