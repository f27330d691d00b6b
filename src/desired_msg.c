/* desired_msg.c - a device's desired message (see desired_msg.h). */
#include "desired_msg.h"

#include <stdio.h>

#include "twin.h"

struct twin_out *twin_desired_message(const struct twin_config *cfg, const char *id, size_t id_len,
		const cJSON *doc, struct twin_buf *scratch)
{
	static const cJSON empty = {.type = cJSON_Object};
	char topic[TWIN_MAX_ID_LEN + 32], id_str[TWIN_MAX_ID_LEN + 1];
	const cJSON *delta = doc ? cJSON_GetObjectItemCaseSensitive(doc, "delta") : NULL;
	snprintf(topic, sizeof(topic), "devices/%.*s/desired", (int)id_len, id);
	snprintf(id_str, sizeof(id_str), "%.*s", (int)id_len, id);
	if (!(delta && delta->child) && cfg->retain_desired) {
		return twin_out_publish(NULL, topic, "", 0, 1, true); /* clears the retained message */
	}
	scratch->len = 0;
	bool ok = twin_buf_put(scratch, "{\"id\":", 6) && twin_json_write_string(scratch, id_str) &&
			twin_buf_put(scratch, ",\"version\":", 11) && twin_json_write_int(scratch, twin_doc_version(doc)) &&
			twin_buf_put(scratch, ",\"delta\":", 9) && twin_json_write(scratch, delta ? delta : &empty) &&
			twin_buf_put(scratch, "}", 1);
	return ok ? twin_out_publish(NULL, topic, scratch->data, scratch->len, 1, cfg->retain_desired) : NULL;
}
