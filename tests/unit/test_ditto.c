/* test_ditto.c - the Ditto mapping: thingId -> twin id (reversible), ISO 8601 times, things -> twin
 * documents, on the rack fixture in tests/data. */
#include "check.h"
#include "ditto.h"
#include "jsonx.h"

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
	char path[1024];
	const char *dir = getenv("TWIN_TEST_DATA");
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", name);
	FILE *f = fopen(path, "r");
	static char buf[65536];
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f) {
		fclose(f);
	}
	return cJSON_ParseWithLength(buf, n);
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
	cJSON *things = load_fixture("ditto_racks.json");
	CHECK(cJSON_IsArray(things));
	CHECK_INT(cJSON_GetArraySize(things), 4);
	cJSON *doc = ctl_ditto_thing(cJSON_GetArrayItem(things, 0), &err);
	CHECK(doc);
	char *text = cJSON_PrintUnformatted(doc);
	CHECK_STR(text,
			"{\"id\":\"org.acme.dc1:rack-a01\",\"attributes\":{\"site\":\"dc1\",\"row\":\"A\","
			"\"position\":1,\"location\":{\"building\":\"north\",\"floor\":2}},\"reported\":{"
			"\"tempTop\":{\"value\":24.1,\"unit\":\"°C\"},\"tempBottom\":{\"value\":21.3,\"unit\":"
			"\"°C\"},\"humidityTop\":{\"value\":41,\"unit\":\"%\"},\"humidityBottom\":{\"value\":45,"
			"\"unit\":\"%\"},\"fan\":{\"speed\":2}},\"desired\":{\"fan\":{\"speed\":3}},\"version\":42,"
			"\"updated\":1763882400123,\"created\":1763629200000}");
	free(text);
	cJSON_Delete(doc);
	/* no _revision / _modified: none in the document either; '+' in the name encoded */
	doc = ctl_ditto_thing(cJSON_GetArrayItem(things, 3), &err);
	CHECK(doc);
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
		CHECK(!ctl_ditto_thing(in, &err));
		CHECK_CONTAINS(err.msg, why[i]);
		cJSON_Delete(in);
	}
}
