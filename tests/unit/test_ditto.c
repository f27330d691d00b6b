/* test_ditto.c - the Ditto mapping: thingId -> twin id (reversible), ISO 8601 times, things -> twin
 * documents, on the rack fixture in tests/data; definitions -> the model names they stand for, and the
 * model a twin follows (or the definition kept in its attributes, and why). */
#include "check.h"
#include "ditto.h"
#include "jsonx.h"
#include "model_name.h"

/* Undoes ctl_ditto_twin_id: %25, %2B, %23 back to '%', '+', '#'. */
static void decode(const char *id, char *out)
{
	while (*id) {
		if (id[0] == '%' && id[1] && id[2]) {
			*out++ = !strncmp(id, "%25", 3) ? '%' : !strncmp(id, "%2B", 3) ? '+' : '#';
			id += 3;
		} else {
			*out++ = *id++;
		}
	}
	*out = '\0';
}

static cJSON *load_fixture(const char *name)
{
	size_t len;
	char *text = check_fixture(name, &len);
	cJSON *v = text ? cJSON_ParseWithLength(text, len) : NULL;
	free(text);
	return v;
}

TEST(ditto_should_map_thing_ids_reversibly)
{
	const char *ids[] = {"org.acme.dc1:rack-a01", ":no-namespace", "ns:a+b#c%d:e", "ns:%2B"};
	char id[TWIN_MAX_ID_LEN + 1], back[TWIN_MAX_ID_LEN + 1];
	struct twin_error err;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		CHECK(ctl_ditto_twin_id(ids[i], id, &err));
		CHECK(!strpbrk(id, "+#/"));
		decode(id, back);
		CHECK_STR(back, ids[i]);
	}
	CHECK(ctl_ditto_twin_id("ns:a+b#c%d:e", id, &err));
	CHECK_STR(id, "ns:a%2Bb%23c%25d:e");
}

TEST(ditto_should_refuse_ids_it_cannot_map)
{
	char id[TWIN_MAX_ID_LEN + 1], long_id[300];
	struct twin_error err;
	CHECK(!ctl_ditto_twin_id("no-colon", id, &err));
	CHECK_CONTAINS(err.msg, "namespace:name");
	memset(long_id, '+', sizeof(long_id) - 1);
	long_id[0] = 'n';
	long_id[1] = ':';
	long_id[100] = '\0'; /* 98 '+' take 294 bytes encoded */
	CHECK(!ctl_ditto_twin_id(long_id, id, &err));
	CHECK_CONTAINS(err.msg, "longer than 256");
	CHECK(!ctl_ditto_twin_id("ns:a/b", id, &err));
}

TEST(ditto_should_read_iso8601_times)
{
	int64_t ms;
	CHECK(ctl_ditto_time_ms("2025-11-23T07:20:00.123Z", &ms));
	CHECK_INT(ms, 1763882400123LL);
	CHECK(ctl_ditto_time_ms("2025-11-23T08:20:00.123+01:00", &ms));
	CHECK_INT(ms, 1763882400123LL);
	CHECK(ctl_ditto_time_ms("2000-02-29T23:59:59.999999Z", &ms));
	CHECK_INT(ms, 951868799999LL);
	CHECK(ctl_ditto_time_ms("1970-01-01T00:00:00Z", &ms));
	CHECK_INT(ms, 0);
	CHECK(!ctl_ditto_time_ms("2025-11-23 07:20:00Z", &ms));
	CHECK(!ctl_ditto_time_ms("2025-11-23T07:20:00", &ms));
	CHECK(!ctl_ditto_time_ms("2025-13-23T07:20:00Z", &ms));
	CHECK(!ctl_ditto_time_ms("2025-11-23T07:20:00Zjunk", &ms));
}

TEST(ditto_should_map_the_rack_fixture)
{
	struct twin_error err;
	struct ctl_definition def;
	cJSON *things = load_fixture("ditto_racks.json");
	CHECK(cJSON_IsArray(things));
	CHECK_INT(cJSON_GetArraySize(things), 4);
	cJSON *doc = ctl_ditto_thing(cJSON_GetArrayItem(things, 0), NULL, &def, &err);
	CHECK(doc);
	char *text = cJSON_PrintUnformatted(doc);
	CHECK_STR(text,
			"{\"id\":\"org.acme.dc1:rack-a01\",\"attributes\":{\"site\":\"dc1\",\"row\":\"A\","
			"\"position\":1,\"location\":{\"building\":\"north\",\"floor\":2},"
			"\"definition\":\"org.acme:rack:1.2.0\"},\"reported\":{"
			"\"tempTop\":{\"value\":24.1,\"unit\":\"°C\"},\"tempBottom\":{\"value\":21.3,\"unit\":"
			"\"°C\"},\"humidityTop\":{\"value\":41,\"unit\":\"%\"},\"humidityBottom\":{\"value\":45,"
			"\"unit\":\"%\"},\"fan\":{\"speed\":2}},\"desired\":{\"fan\":{\"speed\":3}},\"version\":42,"
			"\"updated\":1763882400123,\"created\":1763629200000}");
	free(text);
	cJSON_Delete(doc);
	/* no models: the definition is kept, and the caller told why */
	CHECK(def.outcome == CTL_DEF_KEPT && !strcmp(def.text, "org.acme:rack:1.2.0"));
	CHECK_STR(def.why, "no --models DIR given");
	/* no _revision / _modified: none in the document either; '+' in the name encoded; no definition */
	doc = ctl_ditto_thing(cJSON_GetArrayItem(things, 3), NULL, &def, &err);
	CHECK(doc && def.outcome == CTL_DEF_NONE && def.text == NULL);
	CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "attributes"), "definition"));
	CHECK_STR(cJSON_GetObjectItem(doc, "id")->valuestring, "com.example.lab:rack-07%2Bspare");
	CHECK(!cJSON_GetObjectItem(doc, "version") && !cJSON_GetObjectItem(doc, "updated"));
	cJSON_Delete(doc);
	cJSON_Delete(things);
}

TEST(ditto_should_refuse_what_is_not_a_thing)
{
	struct twin_error err;
	const char *bad[] = {"[1]", "{\"id\":\"x\"}", "{\"thingId\":\"n:x\",\"features\":[]}",
			"{\"thingId\":\"n:x\",\"features\":{\"f\":{\"properties\":3}}}",
			"{\"thingId\":\"n:x\",\"_revision\":0}", "{\"thingId\":\"n:x\",\"_modified\":\"yesterday\"}"};
	const char *why[] = {"not a Ditto thing", "not a Ditto thing", "features is not",
			"features/f/properties", "_revision", "_modified"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *in = cJSON_Parse(bad[i]);
		struct ctl_definition def;
		CHECK(!ctl_ditto_thing(in, NULL, &def, &err));
		CHECK_CONTAINS(err.msg, why[i]);
		cJSON_Delete(in);
	}
}

TEST(model_names_should_follow_ditto_definitions_and_thing_model_urls)
{
	static const struct {
		const char *def, *first, *second;
	} cases[] = {
		{"org.acme:rack-th:1.2.0", "rack-th-1.2.0", "rack-th"},
		{"https://models.acme.com/rack-th-1.2.0.tm.jsonld", "rack-th-1.2.0", "rack-th"},
		{"https://models.acme.com/rack-th.tm.jsonld?rev=3#top", "rack-th", NULL},
		{"https://eclipse-ditto.github.io/ditto-examples/wot/models/floor-lamp-1.0.0.tm.jsonld",
				"floor-lamp-1.0.0", "floor-lamp"},
		{"http://acme.com/tm/rack_th_v2.jsonld", "rack_th_v2", "rack_th"},
		{"rack-th-1.0.0.tm.jsonld", "rack-th-1.0.0", "rack-th"}, /* a file name */
		{"models/rack.json", "rack", NULL},
		{"models/rack-2024.td.jsonld", "rack-2024.td", NULL}, /* only the listed extensions go */
		{"org.acme:rack:", "rack", NULL},
		{"rack:7", "rack-7", "rack"},
		{"1.0.0.json", "1.0.0", NULL}, /* a version and nothing before it: no name to cut it from */
		{"org.acme:r\xc3\xa4" "ck:1", NULL, NULL},
		{"https://models.acme.com/", NULL, NULL},
		{"org.acme:a-model-name-of-sixty-characters-which-is-long-but-valid-yes:1.0.0", /* 66 with -1.0.0 */
				"a-model-name-of-sixty-characters-which-is-long-but-valid-yes", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char names[CTL_MODEL_NAMES][TWIN_MODEL_MAX_NAME + 1];
		int n = ctl_model_names(cases[i].def, names);
		CHECK_INT(n, !cases[i].first ? 0 : !cases[i].second ? 1 : 2);
		if (n > 0) {
			CHECK_STR(names[0], cases[i].first);
		}
		if (n > 1) {
			CHECK_STR(names[1], cases[i].second);
		}
	}
}

static struct twin_models *load_models(const char *const *names, const char *const *texts, size_t n)
{
	char *dir = check_tmpdir();
	struct twin_models *m = NULL;
	struct twin_error err;
	for (size_t i = 0; i < n; i++) {
		char file[TWIN_MODEL_MAX_NAME + 6];
		snprintf(file, sizeof(file), "%s.json", names[i]);
		check_write_file(dir, file, texts[i]);
	}
	twin_models_load(dir, &m, &err);
	check_rmdir(dir);
	free(dir);
	return m;
}

/* thing's twin document, its attributes printed into attrs */
static bool map_thing(const char *thing, const struct twin_models *models, struct ctl_definition *def,
		char *attrs, size_t size)
{
	struct twin_error err;
	cJSON *in = cJSON_Parse(thing);
	cJSON *doc = ctl_ditto_thing(in, models, def, &err);
	char *text = doc ? cJSON_PrintUnformatted(cJSON_GetObjectItem(doc, "attributes")) : NULL;
	snprintf(attrs, size, "%s", text ? text : err.msg);
	free(text);
	cJSON_Delete(doc);
	cJSON_Delete(in);
	return doc != NULL;
}

TEST(ditto_should_make_a_definition_the_model_of_a_twin_that_conforms_to_it)
{
	static const char *const names[] = {"rack", "rack-2.0.0", "other"};
	static const char *const texts[] = {
		"{\"name\":\"rack\",\"reported\":{\"type\":\"object\",\"properties\":{\"tempTop\":"
		"{\"type\":\"object\",\"properties\":{\"value\":{\"type\":\"number\",\"maximum\":25}}}}}}",
		"{\"name\":\"rack-2.0.0\"}",
		"{\"name\":\"other\"}",
	};
	struct twin_models *models = load_models(names, texts, 3);
	struct ctl_definition def;
	char attrs[512];
	CHECK(models != NULL);
	/* conforms: attributes.model, nothing else added */
	CHECK(map_thing("{\"thingId\":\"n:a\",\"definition\":\"org.acme:rack:1.2.0\",\"attributes\":{\"site\":"
					"\"dc1\"},\"features\":{\"tempTop\":{\"properties\":{\"value\":24.1}}}}",
			models, &def, attrs, sizeof(attrs)));
	CHECK_STR(attrs, "{\"site\":\"dc1\",\"model\":\"rack\"}");
	CHECK(def.outcome == CTL_DEF_MODEL && !strcmp(def.model, "rack"));
	/* the versioned model comes first */
	CHECK(map_thing("{\"thingId\":\"n:a\",\"definition\":\"https://m.acme.com/rack-2.0.0.tm.jsonld\"}",
			models, &def, attrs, sizeof(attrs)));
	CHECK_STR(attrs, "{\"model\":\"rack-2.0.0\"}");
	/* does not conform: the definition is kept, and why */
	CHECK(map_thing("{\"thingId\":\"n:a\",\"definition\":\"org.acme:rack:1.2.0\",\"features\":{\"tempTop\":"
					"{\"properties\":{\"value\":26.8}}}}",
			models, &def, attrs, sizeof(attrs)));
	CHECK_STR(attrs, "{\"definition\":\"org.acme:rack:1.2.0\"}");
	CHECK(def.outcome == CTL_DEF_KEPT);
	CHECK_STR(def.why, "it does not conform: reported/tempTop/value: 26.8 is above the maximum 25 (model rack)");
	/* no such model */
	CHECK(map_thing("{\"thingId\":\"n:a\",\"definition\":\"org.acme:pdu:1.0.0\"}", models, &def, attrs,
			sizeof(attrs)));
	CHECK_STR(attrs, "{\"definition\":\"org.acme:pdu:1.0.0\"}");
	CHECK_STR(def.why, "no model pdu-1.0.0 or pdu in --models");
	/* the thing names its own model already: left alone */
	CHECK(map_thing("{\"thingId\":\"n:a\",\"definition\":\"org.acme:other:1\",\"attributes\":{\"model\":"
					"\"Rack 42U\"}}",
			models, &def, attrs, sizeof(attrs)));
	CHECK_STR(attrs, "{\"model\":\"Rack 42U\",\"definition\":\"org.acme:other:1\"}");
	CHECK_STR(def.why, "attributes.model is set already");
	/* attributes.definition: the same value is fine, another one refuses the thing */
	CHECK(map_thing("{\"thingId\":\"n:a\",\"definition\":\"x:y:1\",\"attributes\":{\"definition\":\"x:y:1\"}}",
			models, &def, attrs, sizeof(attrs)));
	CHECK(def.outcome == CTL_DEF_KEPT);
	CHECK(!map_thing("{\"thingId\":\"n:a\",\"definition\":\"x:y:1\",\"attributes\":{\"definition\":2}}",
			models, &def, attrs, sizeof(attrs)));
	CHECK_CONTAINS(attrs, "attributes.definition holds something else");
	CHECK(!map_thing("{\"thingId\":\"n:a\",\"definition\":[\"x:y:1\"]}", models, &def, attrs, sizeof(attrs)));
	CHECK_STR(attrs, "definition is not a string");
	twin_models_release(models);
}
