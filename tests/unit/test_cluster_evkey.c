/* test_cluster_evkey.c - the JetStream key of a twin change event (src/cluster_evkey.c): which events are
 * changes, their subject and message id, ids that need %XX, and payloads cut short. */
#include "check.h"
#include "cluster_evkey.h"
#include "cluster_slot.h"

static bool key(const char *topic, const char *payload, struct twin_evkey *k)
{
	return twin_evkey_make(topic, payload, strlen(payload), "twin", 1024, k);
}

TEST(change_events_get_a_subject_by_slot_and_a_message_id_by_version)
{
	struct twin_evkey k;
	char want[64];
	CHECK(key("$twin/rack-12/events", "{\"id\":\"rack-12\",\"version\":42,\"ts\":1,\"type\":\"updated\","
			"\"reported\":{\"t\":1}}", &k));
	snprintf(want, sizeof(want), "twin.events.%u.rack-12", twin_cluster_slot("rack-12", 7, 1024));
	CHECK_STR(k.subject, want);
	CHECK_STR(k.msg_id, "rack-12:42");
	CHECK(key("$twin/rack-12/events", "{\"id\":\"rack-12\",\"version\":1,\"ts\":1,\"type\":\"created\"}", &k));
	CHECK_STR(k.msg_id, "rack-12:1");
	CHECK(key("$twin/rack-12/events", "{\"id\":\"rack-12\",\"version\":43,\"ts\":1,\"type\":\"deleted\"}", &k));
	CHECK_STR(k.msg_id, "rack-12:43");
}

TEST(other_events_are_not_changes)
{
	struct twin_evkey k;
	CHECK(!key("$twin/a/events", "{\"id\":\"a\",\"ts\":1,\"type\":\"error\",\"error\":\"x\"}", &k));
	CHECK(!key("$twin/a/events", "{\"id\":\"a\",\"ts\":1,\"type\":\"invalid\",\"path\":\"p\"}", &k));
	CHECK(!key("$twin/a/events", "{\"id\":\"a\",\"version\":3,\"ts\":1,\"type\":\"alarm\",\"name\":\"hot\"}",
			&k));
	CHECK(!key("$twin/a/get", "{\"id\":\"a\",\"version\":3,\"ts\":1,\"type\":\"updated\"}", &k));
	CHECK(!key("$twin//events", "{\"id\":\"\",\"version\":3,\"ts\":1,\"type\":\"updated\"}", &k));
	CHECK(!key("devices/a/events", "{\"id\":\"a\",\"version\":3,\"ts\":1,\"type\":\"updated\"}", &k));
	CHECK(!key("$twin/a/events", "{\"id\":\"a\",\"version\":99999999999999999999,\"ts\":1,"
			"\"type\":\"updated\"}", &k));
}

TEST(ids_outside_the_plain_set_are_written_as_percent_hex)
{
	struct twin_evkey k;
	CHECK(key("$twin/a\"b.c *>%\xc3\xa9:x_y/events", "{\"id\":\"a\\\"b.c *>%\xc3\xa9:x_y\",\"version\":7,"
			"\"ts\":1,\"type\":\"updated\"}", &k));
	CHECK_STR(k.msg_id, "a%22b%2Ec%20%2A%3E%25%C3%A9:x_y:7");
	CHECK_CONTAINS(k.subject, ".a%22b%2Ec%20%2A%3E%25%C3%A9:x_y");
	CHECK(strchr(k.subject, ' ') == NULL);
}

TEST(a_payload_cut_anywhere_before_its_type_ends_is_refused)
{
	static const char p[] = "{\"id\":\"a\\\"\",\"version\":12,\"ts\":34,\"type\":\"created\",\"reported\":{}}";
	size_t whole = strstr(p, "\"created\"") - p + strlen("\"created\"");
	struct twin_evkey k;
	for (size_t len = 0; len < whole; len++) {
		if (twin_evkey_make("$twin/a\"/events", p, len, "twin", 1024, &k)) {
			CHECK_FAIL("a payload of %zu bytes was taken", len);
		}
	}
	CHECK(twin_evkey_make("$twin/a\"/events", p, whole, "twin", 1024, &k));
	CHECK_STR(k.msg_id, "a%22:12");
}

TEST(the_twin_hash_groups_one_twins_events_and_long_subjects_are_refused)
{
	struct twin_evkey a1, a2, b;
	CHECK(key("$twin/a/events", "{\"id\":\"a\",\"version\":1,\"ts\":1,\"type\":\"created\"}", &a1));
	CHECK(key("$twin/a/events", "{\"id\":\"a\",\"version\":2,\"ts\":1,\"type\":\"updated\"}", &a2));
	CHECK(key("$twin/b/events", "{\"id\":\"b\",\"version\":1,\"ts\":1,\"type\":\"created\"}", &b));
	CHECK(a1.twin_hash == a2.twin_hash);
	CHECK(a1.twin_hash != b.twin_hash);
	char topic[600], payload[700], prefix[301];
	memset(prefix, 'p', 300);
	prefix[300] = '\0';
	char id[257];
	memset(id, '.', 256); /* 3 bytes each as a token */
	id[256] = '\0';
	snprintf(topic, sizeof(topic), "$twin/%s/events", id);
	snprintf(payload, sizeof(payload), "{\"id\":\"%s\",\"version\":1,\"ts\":1,\"type\":\"created\"}", id);
	CHECK(twin_evkey_make(topic, payload, strlen(payload), "twin", 1024, &b));
	CHECK(!twin_evkey_make(topic, payload, strlen(payload), prefix, 1024, &b));
}
