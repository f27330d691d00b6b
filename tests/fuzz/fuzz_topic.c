/* fuzz_topic.c - libFuzzer target: topic classification, id validation, response-topic validation and
 * telemetry-pattern compilation on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct twin_topic_pattern p;
	struct twin_topic_match m;
	struct twin_error err;
	char *topic = malloc(size + 1);
	if (!topic) {
		return 0;
	}
	memcpy(topic, data, size);
	topic[size] = '\0';
	if (twin_topic_pattern_compile(&p, "devices/+/telemetry") == TWIN_OK) {
		twin_topic_classify(&p, topic, strlen(topic), &m);
		if (m.id && m.id_len <= size) {
			twin_topic_id_valid(m.id, m.id_len, &err);
		}
		twin_topic_pattern_free(&p);
	}
	if (twin_topic_pattern_compile(&p, topic) == TWIN_OK) {
		twin_topic_classify(&p, "devices/x/telemetry", 19, &m);
		twin_topic_pattern_free(&p);
	}
	twin_topic_id_valid((const char *)data, size, &err);
	twin_response_topic_valid(topic, &err);
	free(topic);
	return 0;
}
