/* test_sysreport.c - the metrics report: $SYS messages for changed values only, the Prometheus file. */
#include "check.h"
#include "sysreport.h"

static int count(struct twin_out_list *l, const char *topic, const char *payload)
{
	int n = 0;
	for (struct twin_out *o = l->head; o; o = o->next) {
		n += !strcmp(o->topic, topic) && (!payload || !strcmp(o->payload, payload)) && o->retain;
	}
	return n;
}

static void free_list(struct twin_out_list *l)
{
	while (l->head) {
		struct twin_out *next = l->head->next;
		twin_out_free(l->head);
		l->head = next;
	}
	l->tail = NULL;
}

TEST(sysreport_should_publish_every_value_once_then_only_changes)
{
	struct twin_stats_snapshot s = {0};
	struct twin_sysreport r = {0};
	struct twin_out_list out = {0};
	twin_stats_add(&s, "twins", 3, false);
	twin_stats_add(&s, "commits", 10, true);
	twin_sysreport_publish(&r, &s, &out);
	CHECK_INT(count(&out, "$SYS/broker/twin/twins", "3"), 1);
	CHECK_INT(count(&out, "$SYS/broker/twin/commits", "10"), 1);
	free_list(&out);
	twin_sysreport_publish(&r, &s, &out);
	CHECK(out.head == NULL);
	s.item[1].value = 11;
	twin_sysreport_publish(&r, &s, &out);
	CHECK_INT(count(&out, "$SYS/broker/twin/commits", "11"), 1);
	CHECK_INT(count(&out, "$SYS/broker/twin/twins", NULL), 0);
	free_list(&out);
}

TEST(sysreport_should_write_prometheus_text_with_types)
{
	struct twin_stats_snapshot s = {0};
	struct twin_error err;
	char *dir = check_tmpdir(), path[512], text[2048] = "";
	snprintf(path, sizeof(path), "%s/t.prom", dir);
	twin_stats_add(&s, "twins", 3, false);
	twin_stats_add(&s, "commits", 10, true);
	CHECK_INT(twin_sysreport_write_prom(path, &s, &err), TWIN_OK);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	CHECK_CONTAINS(text, "# TYPE mosquitto_twin_twins gauge\nmosquitto_twin_twins 3\n");
	CHECK_CONTAINS(text, "# TYPE mosquitto_twin_commits_total counter\nmosquitto_twin_commits_total 10\n");
	CHECK_CONTAINS(text, "# HELP mosquitto_twin_commits_total LMDB write transactions committed.\n");
	snprintf(path, sizeof(path), "%s/missing/t.prom", dir);
	CHECK_INT(twin_sysreport_write_prom(path, &s, &err), TWIN_ERR_STORE);
	CHECK_CONTAINS(err.msg, "missing/t.prom");
	check_rmdir(dir);
	free(dir);
}
