/* fuzz_model.c - libFuzzer target: a model document loaded as the loader loads each file
 * (twin_model_parse), then used on a twin. Input: the model's JSON, then optionally a NUL and the twin's
 * JSON (without it, a rack twin). Besides not crashing or leaking: a model that loads loads again from
 * the JSON it keeps (the text $twin/{id}/model answers), giving the same text and the same alarms; a
 * failed section check names a place under the section it checked; and when the model says which
 * reported members its alarms read (the writer's fast path then decides them from those members only),
 * evaluating its raise and clear filters reads no other path. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_model(const struct twin_model *a, const struct twin_model *b)
{
	if (strcmp(a->name, b->name) || a->json_len != b->json_len || memcmp(a->json, b->json, a->json_len) ||
			a->n_alarms != b->n_alarms || a->n_alarm_members != b->n_alarm_members) {
		abort(); /* the kept JSON is not the model that was loaded */
	}
	for (int i = 0; i < a->n_alarms; i++) {
		if (strcmp(a->alarms[i].name, b->alarms[i].name) || a->alarms[i].severity != b->alarms[i].severity ||
				a->alarms[i].for_ms != b->alarms[i].for_ms || !a->alarms[i].clear != !b->alarms[i].clear) {
			abort();
		}
	}
	for (int i = 0; i < a->n_alarm_members; i++) {
		if (strcmp(a->alarm_members[i], b->alarm_members[i])) {
			abort();
		}
	}
}

struct reader {
	const struct twin_model *m;
	const cJSON *doc;
};

/* A value of the twin, as the fast path would get it: only reported/<one of the alarm members>. */
static const cJSON *member_only(const void *ctx, const char *path)
{
	const struct reader *r = ctx;
	for (int i = 0; !strncmp(path, "reported/", 9) && i < r->m->n_alarm_members; i++) {
		if (!strcmp(path + 9, r->m->alarm_members[i])) {
			return twin_query_path(r->doc, path);
		}
	}
	abort(); /* an alarm reads a path the fast path does not have */
}

static void use_model(const struct twin_model *m, const cJSON *doc)
{
	struct twin_error err;
	if (!twin_model_check_sections(m, doc, (1u << TWIN_N_SECTIONS) - 1, &err)) {
		bool named = false;
		for (int s = 0; s < TWIN_N_SECTIONS; s++) {
			size_t n = strlen(twin_section_names[s]);
			named |= err.path[0] == '/' && !strncmp(err.path + 1, twin_section_names[s], n) &&
					(err.path[n + 1] == '/' || !err.path[n + 1]);
		}
		if (!named) {
			abort(); /* a failure outside the sections */
		}
	}
	struct reader r = {m, doc};
	for (int i = 0; m->n_alarm_members >= 0 && i < m->n_alarms; i++) {
		twin_query_match_with(m->alarms[i].raise, member_only, &r);
		if (m->alarms[i].clear) {
			twin_query_match_with(m->alarms[i].clear, member_only, &r);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char rack[] = "{\"attributes\":{\"model\":\"rack-th\",\"site\":\"dc1\"},\"reported\":{\"tempTop\":31.5,"
			"\"tempBottom\":24,\"humidityTop\":40,\"humidityBottom\":45,\"fanSpeed\":2},\"desired\":{\"fanSpeed\":3}}";
	const char *text = (const char *)data;
	const char *cut = memchr(text, '\0', size);
	size_t model_len = cut ? (size_t)(cut - text) : size;
	struct twin_model m, again;
	struct twin_error err;
	if (twin_model_parse(text, model_len, &m, &err) != TWIN_OK) {
		return 0;
	}
	if (twin_model_parse(m.json, m.json_len, &again, &err) != TWIN_OK) {
		abort(); /* the kept JSON does not load */
	}
	same_model(&m, &again);
	twin_model_free(&again);
	cJSON *doc = cut ? cJSON_ParseWithLength(cut + 1, size - model_len - 1) : cJSON_Parse(rack);
	if (doc) {
		use_model(&m, doc);
	}
	cJSON_Delete(doc);
	twin_model_free(&m);
	return 0;
}
