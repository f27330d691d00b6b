/* test_model.c - the model registry: loading a directory (order, skipped files, every refusal naming the
 * file and the JSON pointer, duplicates), lookup, reference counting and the slot; and model_check.c:
 * which model a twin follows, the update and telemetry checks with their paths and messages. */
#include <unistd.h>

#include "check.h"
#include "model.h"
#include "model_check.h"

static const char *rack =
		"{\"name\":\"rack\",\"title\":\"Rack\",\"reported\":{\"type\":\"object\",\"properties\":"
		"{\"t\":{\"type\":\"number\",\"maximum\":50},\"cfg\":{\"type\":\"object\",\"properties\":"
		"{\"on\":{\"type\":\"boolean\"}},\"additionalProperties\":false}},\"required\":[\"t\"]},"
		"\"desired\":{\"type\":\"object\",\"properties\":{\"fan\":{\"type\":\"integer\",\"maximum\":5}},"
		"\"additionalProperties\":false},"
		"\"alarms\":[{\"name\":\"hot\",\"severity\":\"major\",\"raise\":\"gt(reported/t,30)\",\"for_s\":2}]}";

static struct twin_models *load_one(const char *text, struct twin_error *err)
{
	char *dir = check_tmpdir();
	struct twin_models *m = NULL;
	check_write_file(dir, "a.json", text);
	twin_models_load(dir, &m, err);
	check_rmdir(dir);
	free(dir);
	return m;
}

TEST(models_should_load_a_directory_in_name_order_and_skip_other_files)
{
	char *dir = check_tmpdir();
	struct twin_models *m = NULL;
	struct twin_error err;
	check_write_file(dir, "z.json", rack);
	check_write_file(dir, "b.json", "{\"name\":\"alpha\"}");
	check_write_file(dir, "notes.txt", "not a model");
	check_write_file(dir, ".hidden.json", "{");
	CHECK_INT(twin_models_load(dir, &m, &err), TWIN_OK);
	CHECK_INT((int)twin_models_count(m), 2);
	CHECK_STR(twin_models_at(m, 0)->name, "alpha");
	const struct twin_model *r = twin_models_find(m, "rack", 4);
	CHECK(r != NULL && r->n_alarms == 1 && r->alarms[0].for_ms == 2000);
	CHECK(r && r->alarms[0].severity == TWIN_SEV_MAJOR && r->sections[TWIN_SEC_ATTRIBUTES] == NULL);
	CHECK(twin_models_find(m, "rac", 3) == NULL && twin_models_find(m, "rackx", 5) == NULL);
	CHECK(twin_models_find(m, "rackx", 4) == r); /* only the first len bytes count */
	CHECK(r && strstr(r->json, "\"title\":\"Rack\"") != NULL);
	twin_models_release(m);
	check_rmdir(dir);
	free(dir);
}

TEST(models_should_refuse_bad_files_naming_file_and_pointer)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{"{", "models_dir: a.json: "},
		{"[]", "models_dir: a.json: : a model must be a JSON object"},
		{"{\"title\":\"x\"}", "models_dir: a.json: /name: a model needs a name"},
		{"{\"name\":\"a b\"}", "models_dir: a.json: /name: must be 1-64 characters"},
		{"{\"name\":\"x\",\"colour\":1}", "models_dir: a.json: /colour: unknown member"},
		{"{\"name\":\"x\",\"title\":1}", "models_dir: a.json: /title: must be a string"},
		{"{\"name\":\"x\",\"desired\":{\"maximumm\":1}}", "models_dir: a.json: /desired/maximumm"},
		{"{\"name\":\"x\",\"alarms\":{}}", "models_dir: a.json: /alarms: must be an array"},
		{"{\"name\":\"x\",\"alarms\":[{\"raise\":\"exists(a)\"}]}", "/alarms/0: an alarm needs a name"},
		{"{\"name\":\"x\",\"alarms\":[{\"name\":\"a\"}]}", "/alarms/0: an alarm needs a raise filter"},
		{"{\"name\":\"x\",\"alarms\":[{\"name\":\"a\",\"raise\":\"gt(a\"}]}", "/alarms/0/raise: filter: expected"},
		{"{\"name\":\"x\",\"alarms\":[{\"name\":\"a\",\"raise\":\"exists(a)\",\"clear\":5}]}", "/alarms/0/clear: must be a filter"},
		{"{\"name\":\"x\",\"alarms\":[{\"name\":\"a\",\"raise\":\"exists(a)\",\"for_s\":-1}]}", "/alarms/0/for_s"},
		{"{\"name\":\"x\",\"alarms\":[{\"name\":\"a\",\"raise\":\"exists(a)\",\"for_s\":86401}]}", "/alarms/0/for_s"},
		{"{\"name\":\"x\",\"alarms\":[{\"name\":\"a\",\"raise\":\"exists(a)\",\"severity\":\"high\"}]}", "/alarms/0/severity"},
		{"{\"name\":\"x\",\"alarms\":[{\"name\":\"a\",\"raise\":\"exists(a)\",\"when\":1}]}", "/alarms/0/when: unknown member"},
		{"{\"name\":\"x\",\"alarms\":[{\"name\":\"a\",\"raise\":\"exists(a)\"},{\"name\":\"a\",\"raise\":\"exists(b)\"}]}",
				"/alarms/1/name: two alarms"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct twin_error err;
		struct twin_models *m = load_one(cases[i].text, &err);
		CHECK(m == NULL);
		CHECK_INT(err.rc, TWIN_ERR_CONFIG);
		CHECK_CONTAINS(err.msg, cases[i].msg);
		twin_models_release(m);
	}
}

TEST(models_should_refuse_two_files_with_one_name_and_a_missing_directory)
{
	char *dir = check_tmpdir();
	struct twin_models *m = NULL;
	struct twin_error err;
	check_write_file(dir, "a.json", "{\"name\":\"same\"}");
	check_write_file(dir, "b.json", "{\"name\":\"same\"}");
	CHECK_INT(twin_models_load(dir, &m, &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "b.json: /name: model 'same' is also defined by a.json");
	check_rmdir(dir);
	CHECK_INT(twin_models_load(dir, &m, &err), TWIN_ERR_CONFIG);
	CHECK_CONTAINS(err.msg, "cannot open");
	CHECK_INT(twin_models_load(NULL, &m, &err), TWIN_OK);
	CHECK_INT((int)twin_models_count(m), 0);
	twin_models_release(m);
	free(dir);
}

TEST(model_parse_should_build_one_model_from_memory_as_the_loader_does)
{
	struct twin_model m;
	struct twin_error err;
	CHECK_INT(twin_model_parse(rack, strlen(rack) - 1, &m, &err), TWIN_ERR_CONFIG); /* cut short */
	CHECK(m.name == NULL && m.json == NULL && m.n_alarms == 0);
	twin_model_free(&m); /* an empty model may be freed */
	CHECK_INT(twin_model_parse("{\"name\":\"x\",\"desired\":{\"maximumm\":1}}", 37, &m, &err),
			TWIN_ERR_CONFIG);
	CHECK(!strncmp(err.msg, "/desired/maximumm: unknown keyword", 34)); /* no file: the pointer first */
	CHECK(m.sections[TWIN_SEC_DESIRED] == NULL);
	CHECK_INT(twin_model_parse(rack, strlen(rack), &m, &err), TWIN_OK);
	CHECK_STR(m.name, "rack");
	CHECK(m.n_alarms == 1 && m.n_alarm_members == 1 && !strcmp(m.alarm_members[0], "t"));
	CHECK(m.sections[TWIN_SEC_REPORTED] && m.sections[TWIN_SEC_DESIRED] && !m.sections[TWIN_SEC_ATTRIBUTES]);
	CHECK(m.json_len == strlen(m.json) && m.json_len == strlen(rack)); /* rack is compact already */
	twin_model_free(&m);
	CHECK(m.name == NULL);
}

TEST(models_slot_should_keep_a_retained_set_alive_across_a_swap)
{
	struct twin_error err;
	struct twin_models_slot slot;
	twin_models_slot_init(&slot, load_one(rack, &err));
	struct twin_models *held = twin_models_slot_get(&slot);
	twin_models_slot_set(&slot, load_one("{\"name\":\"other\"}", &err));
	CHECK(twin_models_find(held, "rack", 4) != NULL); /* still readable: valgrind/ASan would say */
	twin_models_release(held);
	struct twin_models *now = twin_models_slot_get(&slot);
	CHECK(twin_models_find(now, "other", 5) != NULL && twin_models_find(now, "rack", 4) == NULL);
	twin_models_release(now);
	twin_models_slot_destroy(&slot);
}

TEST(model_check_should_name_the_model_a_twin_follows)
{
	cJSON *own = cJSON_Parse("{\"attributes\":{\"model\":\"rack\"}}");
	cJSON *none = cJSON_Parse("{\"attributes\":{\"model\":5}}");
	CHECK_STR(twin_model_name_of(own, "dflt"), "rack");
	CHECK_STR(twin_model_name_of(none, "dflt"), "dflt");
	CHECK(twin_model_name_of(none, NULL) == NULL);
	CHECK(twin_doc_show_model(own, NULL));
	CHECK_STR(cJSON_GetObjectItem(own, "model")->valuestring, "rack");
	CHECK(twin_doc_show_model(none, NULL) && !cJSON_GetObjectItem(none, "model"));
	cJSON_Delete(own);
	cJSON_Delete(none);
}

TEST(model_check_should_check_sections_and_readings_with_paths)
{
	struct twin_error err;
	struct twin_models *set = load_one(rack, &err);
	const struct twin_model *m = twin_models_find(set, "rack", 4);
	cJSON *doc = cJSON_Parse("{\"reported\":{\"t\":10,\"cfg\":{\"on\":true}},\"desired\":{\"fan\":9}}");
	unsigned desired = 1u << TWIN_SEC_DESIRED, reported = 1u << TWIN_SEC_REPORTED;
	CHECK(!twin_model_check_sections(m, doc, desired, &err));
	CHECK_STR(err.msg, "desired/fan: 9 is above the maximum 5 (model rack)");
	CHECK_STR(err.path, "/desired/fan");
	CHECK_INT(err.rc, TWIN_ERR_BAD_REQUEST);
	CHECK(twin_model_check_sections(m, doc, reported, &err));
	CHECK(twin_model_check_sections(m, doc, 1u << TWIN_SEC_ATTRIBUTES, &err)); /* no schema: anything */

	const cJSON *rep = cJSON_GetObjectItem(doc, "reported");
	cJSON *ok = cJSON_Parse("{\"t\":20}"), *hot = cJSON_Parse("{\"t\":60}"), *extra = cJSON_Parse("{\"x\":1}");
	cJSON *nested = cJSON_Parse("{\"cfg\":{\"bad\":1}}"), *gone = cJSON_Parse("{\"t\":null}");
	CHECK(twin_model_check_reading(m, rep, ok, &err));
	CHECK(twin_model_check_reading(m, rep, extra, &err)); /* reported allows other members */
	CHECK(twin_model_check_reading(m, rep, gone, &err));  /* required is not applied to telemetry */
	CHECK(!twin_model_check_reading(m, rep, hot, &err));
	CHECK_STR(err.path, "/reported/t");
	CHECK(!twin_model_check_reading(m, rep, nested, &err)); /* merged into {"on":true}: bad not allowed */
	CHECK_STR(err.path, "/reported/cfg/bad");
	cJSON *fan = cJSON_Parse("{\"speed\":1}");
	cJSON *d = cJSON_Parse("{\"desired\":{\"speed\":1}}");
	CHECK(!twin_model_check_sections(m, d, desired, &err));
	CHECK_STR(err.path, "/desired/speed");
	cJSON_Delete(fan);
	cJSON_Delete(d);
	cJSON_Delete(ok);
	cJSON_Delete(hot);
	cJSON_Delete(extra);
	cJSON_Delete(nested);
	cJSON_Delete(gone);
	cJSON_Delete(doc);
	twin_models_release(set);
}
