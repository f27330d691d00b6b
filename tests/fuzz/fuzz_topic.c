/* fuzz_topic.c - libFuzzer target: topic classification against several telemetry patterns (with an id
 * level, a '#' sub-path, none), a gateway topic and the AWS and Azure fronts (a shadow's twin id, an
 * Azure $rid), id validation, response-topic validation, and the input itself compiled as a telemetry
 * pattern or a gateway topic. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front_aws.h"
#include "request.h"
#include "topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const patterns[] = {"devices/+/telemetry", "devices/+/telemetry/#",
			"v1/devices/me/telemetry", "site/#"};
	struct twin_topic_set s;
	struct twin_topic_match m;
	struct twin_error err;
	char *topic = malloc(size + 1);
	if (!topic) {
		return 0;
	}
	memcpy(topic, data, size);
	topic[size] = '\0';
	size_t len = strlen(topic);
	if (twin_topic_set_compile(&s, patterns, 4, "v1/gateway/telemetry") == TWIN_OK) {
		twin_topic_add_front(&s, &twin_front_aws.topic);
		twin_topic_add_front(&s, &twin_front_azure.topic);
		twin_topic_classify(&s, topic, len, &m);
		/* every part of the match must lie inside the topic */
		if ((m.id && (m.id < topic || m.id + m.id_len > topic + len)) ||
				(m.path && (m.path < topic || m.path + m.path_len > topic + len)) ||
				(m.shadow && (m.shadow < topic || m.shadow + m.shadow_len > topic + len)) ||
				(m.rid && (m.rid < topic || m.rid + m.rid_len > topic + len))) {
			abort();
		}
		if (m.id) {
			twin_topic_id_valid(m.id, m.id_len, &err);
		}
		if (m.front == TWIN_FRONT_AWS && m.route == TWIN_ROUTE_REQUEST) {
			char id[TWIN_MAX_ID_LEN + 1];
			size_t id_len;
			if (twin_aws_twin_id(&m, id, &id_len, &err) && (id_len > TWIN_MAX_ID_LEN || id[id_len])) {
				abort();
			}
		}
		twin_topic_set_free(&s);
	}
	const char *const own[] = {topic};
	if (twin_topic_set_compile(&s, own, 1, twin_topic_gateway_valid(topic) ? topic : NULL) == TWIN_OK) {
		twin_topic_classify(&s, "devices/x/telemetry/a/b", 23, &m);
		twin_topic_classify(&s, topic, len, &m);
		twin_topic_set_free(&s);
	}
	twin_topic_id_valid((const char *)data, size, &err);
	twin_response_topic_valid(topic, &err);
	free(topic);
	return 0;
}
