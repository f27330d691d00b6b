/* desired_msg.h - the message a device gets on devices/{id}/desired: {"id","version","delta"}, retained
 * with retain_desired; or, when there is no delta (or no twin here: doc NULL) and messages are retained,
 * the empty retained message that clears it. The writer publishes it when a delta changes and at start;
 * a cluster slot move publishes it on the new owner and clears it on the old one. Any thread. */
#ifndef TWIN_DESIRED_MSG_H
#define TWIN_DESIRED_MSG_H

#include <cjson/cJSON.h>

#include "config.h"
#include "jsonx.h"
#include "queue.h"

/* NULL on allocation failure; scratch is working space. */
struct twin_out *twin_desired_message(const struct twin_config *cfg, const char *id, size_t id_len,
		const cJSON *doc, struct twin_buf *scratch);

#endif
