/* cluster_evkey.h - how a twin change event is keyed on JetStream (and which twin and version a Kafka
 * sink keys it by): which $twin/{id}/events messages are changes (created, updated, deleted: one per version), their subject <prefix>.events.<slot>.<token> and
 * their message id <token>:<version> (JetStream drops a second message with the same id). The token is
 * the id with every byte outside letters, digits and -_:=@~+,;! written as %XX, so any id is one subject
 * token and a header value. */
#ifndef TWIN_CLUSTER_EVKEY_H
#define TWIN_CLUSTER_EVKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twin_common.h"

#define TWIN_EVKEY_TOKEN_MAX (3 * TWIN_MAX_ID_LEN)

struct twin_evkey {
	char subject[TWIN_EVKEY_TOKEN_MAX + 256];
	char msg_id[TWIN_EVKEY_TOKEN_MAX + 24];
	uint64_t twin_hash; /* of the id: events of one twin share it */
};

/* Whether topic and payload, as the writer publishes events, are a change (created, updated, deleted);
 * then *id (in topic, not NUL-terminated), *id_len and *version say whose and which. */
bool twin_evkey_change(const char *topic, const char *payload, size_t len, const char **id, size_t *id_len,
		int64_t *version);
/* topic and payload as the writer publishes an event; false when it is not a change (an error, invalid
 * or alarm event, or anything else), or the subject prefix is too long. */
bool twin_evkey_make(const char *topic, const char *payload, size_t len, const char *prefix,
		unsigned nslots, struct twin_evkey *out);

#endif
