/* test_alarm.c - alarm rules on a twin: raise, the clear band, the default clear, for_s holds (due times,
 * ending, forgetting), rules that leave the model, acknowledgement before and after clearing, the event
 * members, and evaluation through a value getter (the fast path's way) agreeing with the document's. */
#include "alarm.h"
#include "check.h"

static struct twin_models *load(const char *text)
{
	char *dir = check_tmpdir(), path[512];
	struct twin_models *m = NULL;
	struct twin_error err;
	snprintf(path, sizeof(path), "%s/m.json", dir);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	twin_models_load(dir, &m, &err);
	check_rmdir(dir);
	free(dir);
	return m;
}

static const char *model_text =
		"{\"name\":\"m\",\"alarms\":["
		"{\"name\":\"hot\",\"severity\":\"critical\",\"raise\":\"gt(reported/t,32)\",\"clear\":\"le(reported/t,30)\"},"
		"{\"name\":\"wet\",\"severity\":\"minor\",\"raise\":\"gt(reported/h,70)\"},"
		"{\"name\":\"slow\",\"severity\":\"warning\",\"raise\":\"gt(reported/t,27)\",\"for_s\":10}]}";

static const cJSON *value(const void *doc, const char *path)
{
	return twin_query_path(doc, path);
}

struct fixture {
	struct twin_models *set;
	const struct twin_model *m;
	struct twin_alarm_holds *h;
	struct twin_alarm_plan plan;
	struct twin_alarm_change ch[8];
	cJSON *doc;
};

static void setup(struct fixture *f)
{
	f->set = load(model_text);
	f->m = twin_models_find(f->set, "m", 1);
	f->h = twin_alarm_holds_new();
	f->doc = cJSON_Parse("{\"reported\":{},\"versions\":{\"reported\":0}}");
}

static void teardown(struct fixture *f)
{
	cJSON_Delete(f->doc);
	twin_alarm_holds_free(f->h);
	twin_models_release(f->set);
}

/* Sets reported to json and evaluates at now; returns the changes. */
static int step(struct fixture *f, const char *json, int64_t now)
{
	cJSON_ReplaceItemInObject(f->doc, "reported", cJSON_Parse(json));
	twin_alarms_decide(f->m, value, f->doc, cJSON_GetObjectItem(f->doc, "alarms"), f->h, "tw", 2, now, &f->plan);
	return twin_alarms_apply(f->doc, &f->plan, now, f->ch);
}

static const cJSON *entry(struct fixture *f, const char *name)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(f->doc, "alarms"), name);
}

TEST(alarm_should_raise_hold_in_the_band_and_clear)
{
	struct fixture f;
	setup(&f);
	CHECK_INT(step(&f, "{\"t\":25}", 1000), 0);
	CHECK(cJSON_GetObjectItem(f.doc, "alarms") == NULL);
	CHECK_INT(step(&f, "{\"t\":33}", 2000), 1);
	CHECK_STR(f.ch[0].name, "hot");
	CHECK(f.ch[0].active && !f.ch[0].acked && f.ch[0].since == 2000 && f.ch[0].cleared == 0);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(entry(&f, "hot"), "active")));
	CHECK_INT((int)cJSON_GetObjectItem(cJSON_GetObjectItem(f.doc, "versions"), "alarms")->valuedouble, 1);
	CHECK_INT(step(&f, "{\"t\":31}", 3000), 0); /* between clear (30) and raise (32): still active */
	CHECK_INT(step(&f, "{\"t\":29}", 4000), 1);
	CHECK(!f.ch[0].active && f.ch[0].since == 2000 && f.ch[0].cleared == 4000);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(entry(&f, "hot"), "active")));
	CHECK_INT(twin_alarms_ack(f.doc, "hot", f.ch), 1);
	CHECK(f.ch[0].acked && entry(&f, "hot") == NULL); /* cleared and acknowledged: gone */
	CHECK_INT(twin_alarms_ack(f.doc, "hot", f.ch), -1);
	teardown(&f);
}

TEST(alarm_without_clear_should_clear_when_raise_stops_holding)
{
	struct fixture f;
	setup(&f);
	CHECK_INT(step(&f, "{\"h\":80}", 1), 1);
	CHECK_INT(twin_alarms_ack(f.doc, "wet", f.ch), 1);
	CHECK(entry(&f, "wet") != NULL); /* acknowledged while active: stays */
	CHECK_INT(twin_alarms_ack(f.doc, "wet", f.ch), 0);
	CHECK_INT(step(&f, "{\"h\":70}", 2), 1);
	CHECK(!f.ch[0].active && f.ch[0].acked);
	CHECK(entry(&f, "wet") == NULL);
	teardown(&f);
}

TEST(alarm_for_s_should_raise_only_once_the_hold_is_due)
{
	struct fixture f;
	setup(&f);
	CHECK_INT((int)(twin_alarm_holds_next_due(f.h) == INT64_MAX), 1);
	CHECK_INT(step(&f, "{\"t\":28}", 1000), 0);
	CHECK(twin_alarm_holds_next_due(f.h) == 11000);
	char *ids[4];
	CHECK_INT((int)twin_alarm_holds_due(f.h, 10999, ids, 4), 0);
	CHECK_INT((int)twin_alarm_holds_due(f.h, 11000, ids, 4), 1);
	CHECK_STR(ids[0], "tw");
	free(ids[0]);
	CHECK_INT(step(&f, "{\"t\":28.5}", 5000), 0); /* still holding: the hold keeps its start */
	CHECK(twin_alarm_holds_next_due(f.h) == 11000);
	CHECK_INT(step(&f, "{\"t\":28.5}", 11000), 1);
	CHECK_STR(f.ch[0].name, "slow");
	CHECK_INT(step(&f, "{\"t\":28.5}", 12000), 0); /* active: the hold ends */
	CHECK(twin_alarm_holds_next_due(f.h) == INT64_MAX);
	teardown(&f);
}

TEST(alarm_hold_should_end_when_raise_stops_and_be_forgotten)
{
	struct fixture f;
	setup(&f);
	step(&f, "{\"t\":28}", 1000);
	CHECK_INT(step(&f, "{\"t\":20}", 2000), 0);
	CHECK(twin_alarm_holds_next_due(f.h) == INT64_MAX);
	CHECK_INT(step(&f, "{\"t\":20}", 20000), 0);
	step(&f, "{\"t\":28}", 30000);
	twin_alarm_holds_forget(f.h, "tw", 2);
	CHECK(twin_alarm_holds_next_due(f.h) == INT64_MAX);
	teardown(&f);
}

TEST(alarm_of_a_rule_that_left_the_model_should_clear)
{
	struct fixture f;
	setup(&f);
	step(&f, "{\"t\":40}", 1);
	CHECK(entry(&f, "hot") != NULL);
	twin_alarms_decide(NULL, value, f.doc, cJSON_GetObjectItem(f.doc, "alarms"), f.h, "tw", 2, 5, &f.plan);
	CHECK_INT(twin_alarms_apply(f.doc, &f.plan, 5, f.ch), 1);
	CHECK(!f.ch[0].active && f.ch[0].severity == TWIN_SEV_CRITICAL && f.ch[0].cleared == 5);
	teardown(&f);
}

TEST(alarm_event_members_should_describe_the_change)
{
	struct twin_alarm_change c = {.name = "hot", .severity = TWIN_SEV_MAJOR, .active = false, .acked = true,
			.since = 5, .cleared = 9};
	struct twin_buf b = {0};
	CHECK(twin_alarm_event_members(&b, &c) && twin_buf_put(&b, "", 1));
	CHECK_STR(b.data, ",\"name\":\"hot\",\"severity\":\"major\",\"active\":false,\"acked\":true,\"since\":5,\"cleared\":9");
	twin_buf_free(&b);
}
