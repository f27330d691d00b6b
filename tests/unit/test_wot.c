/* test_wot.c - WoT Thing Models as twin models: the rack Thing Model of tests/data converted (sections,
 * kept keywords, what is left out and where) and loaded with the model loader, then used as the broker
 * uses it; what refuses a Thing Model, and the notes of the rarer keywords. */
#include "check.h"
#include "jsonx.h"
#include "model.h"
#include "model_check.h"
#include "wot.h"

/* The model made of Thing Model text, printed compactly; NULL with err. */
static char *convert(const char *text, struct ctl_wot_notes *notes, struct twin_error *err)
{
	cJSON *tm = cJSON_Parse(text);
	cJSON *model = ctl_wot_model(tm, "m", notes, err);
	char *out = model ? cJSON_PrintUnformatted(model) : NULL;
	cJSON_Delete(model);
	cJSON_Delete(tm);
	return out;
}

static const struct ctl_wot_note *note_of(const struct ctl_wot_notes *notes, const char *what)
{
	for (size_t i = 0; i < notes->n; i++) {
		if (!strcmp(notes->v[i].what, what)) {
			return &notes->v[i];
		}
	}
	return NULL;
}

/* Checks twin (JSON) against the sections of m; the error, "" when it conforms. */
static const char *check_twin(const struct twin_model *m, const char *twin, struct twin_error *err)
{
	cJSON *doc = cJSON_Parse(twin);
	bool ok = twin_model_check_sections(m, doc, (1u << TWIN_N_SECTIONS) - 1, err);
	cJSON_Delete(doc);
	return ok ? "" : err->msg;
}

TEST(wot_should_convert_the_rack_thing_model_into_a_model_that_loads)
{
	size_t len;
	struct ctl_wot_notes notes;
	struct twin_error err;
	char *text = check_fixture("rack-th-1.0.0.tm.jsonld", &len);
	cJSON *tm = text ? twin_json_parse(text, len, &err) : NULL;
	cJSON *model = ctl_wot_model(tm, "rack-th", &notes, &err);
	CHECK(model != NULL);
	const cJSON *rep = cJSON_GetObjectItem(cJSON_GetObjectItem(model, "reported"), "properties");
	const cJSON *des = cJSON_GetObjectItem(model, "desired");
	CHECK_STR(cJSON_GetObjectItem(model, "title")->valuestring, "Rack T&H sensor");
	CHECK_STR(cJSON_GetObjectItem(model, "version")->valuestring, "1.0.0");
	/* readOnly: reported only; writable: both; writeOnly: desired only, which is closed */
	CHECK(cJSON_GetObjectItem(rep, "tempTop") && !cJSON_GetObjectItem(cJSON_GetObjectItem(des, "properties"), "tempTop"));
	CHECK(cJSON_GetObjectItem(rep, "fanSpeed") && cJSON_GetObjectItem(cJSON_GetObjectItem(des, "properties"), "fanSpeed"));
	CHECK(!cJSON_GetObjectItem(rep, "resetAlarms") &&
			cJSON_GetObjectItem(cJSON_GetObjectItem(des, "properties"), "resetAlarms"));
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(des, "additionalProperties")));
	CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(model, "reported"), "additionalProperties"));
	char *top = cJSON_PrintUnformatted(cJSON_GetObjectItem(rep, "tempTop"));
	CHECK_STR(top, "{\"title\":\"Temperature, top\",\"type\":\"number\",\"minimum\":-40,\"maximum\":125,\"unit\":\"°C\"}");
	free(top);
	char *status = cJSON_PrintUnformatted(cJSON_GetObjectItem(rep, "status"));
	CHECK_STR(status, "{\"title\":\"Door and uptime\",\"type\":\"object\",\"properties\":{\"door\":{\"type\":\"string\","
			"\"enum\":[\"open\",\"closed\"]},\"uptimeS\":{\"type\":\"integer\",\"minimum\":0,\"unit\":\"s\"}},"
			"\"required\":[\"door\"]}");
	free(status);
	/* left out, each with where the Thing Model has it */
	static const struct {
		const char *what, *where;
		int count;
	} left[] = {
		{"@type", "/properties/tempTop/@type", 2},
		{"observable", "/properties/tempTop/observable", 5},
		{"pattern", "/properties/serial/pattern", 1},
		{"format", "/properties/lastService/format", 1},
		{"maximum", "/properties/maxPowerW/maximum", 1},
		{"links", "/links", 1},
		{"tm:required", "/tm:required", 1},
		{"actions", "/actions", 1},
		{"events", "/events", 1},
	};
	CHECK_INT(notes.n, sizeof(left) / sizeof(left[0]));
	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
		CHECK_STR(notes.v[i].what, left[i].what);
		CHECK_STR(notes.v[i].where[0], left[i].where);
		CHECK_INT(notes.v[i].count, left[i].count);
	}
	CHECK_CONTAINS(note_of(&notes, "maximum")->why, "placeholder");
	CHECK_STR(note_of(&notes, "observable")->where[2], "/properties/humidityTop/observable");
	/* it loads, and checks what the Thing Model says */
	struct twin_model m;
	size_t json_len;
	char *json = twin_json_print(model, &json_len);
	CHECK_INT(twin_model_parse(json, json_len, &m, &err), TWIN_OK);
	CHECK_STR(check_twin(&m, "{\"reported\":{\"tempTop\":31.5,\"humidityTop\":40,\"status\":{\"door\":\"open\"},"
								 "\"serial\":\"0012\"},\"desired\":{\"fanSpeed\":3,\"mode\":\"night\",\"thresholds\":[27,32]}}",
					&err),
			"");
	CHECK_STR(check_twin(&m, "{\"desired\":{\"fanSpeed\":9}}", &err),
			"desired/fanSpeed: 9 is above the maximum 5 (model rack-th)");
	CHECK_STR(check_twin(&m, "{\"desired\":{\"tempTop\":20}}", &err),
			"desired/tempTop: property \"tempTop\" is not allowed (model rack-th)");
	CHECK_STR(check_twin(&m, "{\"reported\":{\"status\":{\"uptimeS\":5}}}", &err),
			"reported/status: required property \"door\" is missing (model rack-th)");
	CHECK_STR(check_twin(&m, "{\"desired\":{\"label\":\"a/b\"}}", &err),
			"desired/label: \"a/b\" does not match the pattern ^[A-Za-z0-9 ._-]+$ (model rack-th)");
	twin_model_free(&m);
	free(json);
	ctl_wot_notes_free(&notes);
	cJSON_Delete(model);
	cJSON_Delete(tm);
	free(text);
}

TEST(wot_should_refuse_what_it_cannot_convert_faithfully)
{
	static const struct {
		const char *tm, *msg;
	} cases[] = {
		{"[]", "a Thing Model must be a JSON object"},
		{"{\"title\":7}", "/title: must be a string"},
		{"{\"properties\":[]}", "/properties: must be an object of property affordances"},
		{"{\"properties\":{\"a\":5}}", "/properties/a: must be an object (a data schema)"},
		{"{\"properties\":{\"a\":{\"readOnly\":true,\"writeOnly\":true}}}", "/properties/a: readOnly and writeOnly are both true"},
		{"{\"properties\":{\"a\":{\"readOnly\":\"yes\"}}}", "/properties/a/readOnly: must be true or false"},
		{"{\"properties\":{\"a\":{\"type\":\"number\",\"minimum\":\"5\"}}}", "/properties/a/minimum: must be a number"},
		{"{\"properties\":{\"a\":{\"type\":\"decimal\"}}}", "/properties/a/type"},
		{"{\"properties\":{\"a\":{\"type\":\"object\",\"properties\":{\"b\":{\"enum\":[]}}}}}", "/properties/a/properties/b/enum"},
		{"{\"properties\":{\"a\":{\"type\":\"array\",\"items\":7}}}", "/properties/a/items: must be an object (a data schema)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctl_wot_notes notes;
		struct twin_error err;
		char *out = convert(cases[i].tm, &notes, &err);
		CHECK(out == NULL);
		CHECK_CONTAINS(err.msg, cases[i].msg);
		ctl_wot_notes_free(&notes);
	}
}

TEST(wot_should_note_what_the_model_subset_lacks)
{
	struct ctl_wot_notes notes;
	struct twin_error err;
	char *out = convert("{\"titles\":{\"de\":\"Gestell\"},\"version\":\"2\",\"properties\":{"
						"\"a/b\":{\"type\":\"array\",\"items\":[{\"type\":\"integer\"}],\"tm:ref\":\"x.tm.jsonld#/properties/y\"},"
						"\"c\":{\"type\":\"object\",\"properties\":{\"d\":{\"type\":\"string\",\"readOnly\":true,"
						"\"contentMediaType\":\"text/plain\"}},\"additionalProperties\":{\"oneOf\":[{\"type\":\"integer\"}]}},"
						"\"e\":{\"type\":\"string\",\"unit\":\"{{UNIT}}\",\"title\":\"{{NAME}} label\"}}}",
			&notes, &err);
	CHECK_STR(out, "{\"name\":\"m\",\"reported\":{\"type\":\"object\",\"properties\":{\"a/b\":{\"type\":\"array\"},"
				   "\"c\":{\"type\":\"object\",\"properties\":{\"d\":{\"type\":\"string\"}},\"additionalProperties\":{}},"
				   "\"e\":{\"type\":\"string\",\"title\":\"{{NAME}} label\"}}},\"desired\":{\"type\":\"object\",\"properties\":{"
				   "\"a/b\":{\"type\":\"array\"},\"c\":{\"type\":\"object\",\"properties\":{\"d\":{\"type\":\"string\"}},"
				   "\"additionalProperties\":{}},\"e\":{\"type\":\"string\",\"title\":\"{{NAME}} label\"}},"
				   "\"additionalProperties\":false}}");
	static const char *const where[][2] = {
		{"version", "/version"},
		{"items", "/properties/a~1b/items"},
		{"tm:ref", "/properties/a~1b/tm:ref"},
		{"readOnly", "/properties/c/properties/d/readOnly"},
		{"contentMediaType", "/properties/c/properties/d/contentMediaType"},
		{"oneOf", "/properties/c/additionalProperties/oneOf"},
		{"unit", "/properties/e/unit"},
		{"titles", "/titles"},
	};
	CHECK_INT(notes.n, sizeof(where) / sizeof(where[0]));
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		CHECK_STR(notes.v[i].what, where[i][0]);
		CHECK_STR(notes.v[i].where[0], where[i][1]);
	}
	CHECK_STR(note_of(&notes, "contentMediaType")->why, "not in the model subset");
	free(out);
	ctl_wot_notes_free(&notes);
	/* no properties: a model with empty sections, desired closed */
	out = convert("{\"@context\":\"https://www.w3.org/2022/wot/td/v1.1\",\"@type\":\"tm:ThingModel\"}", &notes, &err);
	CHECK_STR(out, "{\"name\":\"m\",\"reported\":{\"type\":\"object\",\"properties\":{}},\"desired\":{\"type\":"
				   "\"object\",\"properties\":{},\"additionalProperties\":false}}");
	CHECK_INT(notes.n, 0);
	free(out);
	ctl_wot_notes_free(&notes);
}
