/* topic.h - classification of every PUBLISH topic the broker shows us (telemetry, a $twin request, another
 * $twin topic, or none of ours) and validation of twin ids. Pure string work, no allocation on the hot path. */
#ifndef TWIN_TOPIC_H
#define TWIN_TOPIC_H

#include <stdbool.h>

#include "twin_common.h"

enum twin_topic_route {
	TWIN_ROUTE_NONE,      /* not ours: let it through untouched */
	TWIN_ROUTE_TELEMETRY, /* matches the telemetry pattern */
	TWIN_ROUTE_REQUEST,   /* $twin/{id}/{verb} or $twin/{verb}: answer it */
	TWIN_ROUTE_RESERVED,  /* any other $twin topic (answers, events): consume silently */
};

enum twin_verb {
	TWIN_VERB_UNKNOWN,
	TWIN_VERB_GET,
	TWIN_VERB_UPDATE,
	TWIN_VERB_DELETE,
	TWIN_VERB_HISTORY,
	TWIN_VERB_STATS,
	TWIN_VERB_SEARCH,
};

/* A compiled telemetry pattern: prefix + one id level + suffix, or an exact topic (id from client id). */
struct twin_topic_pattern {
	char *prefix, *suffix;
	size_t prefix_len, suffix_len;
	bool has_id;
};

struct twin_topic_match {
	enum twin_topic_route route;
	enum twin_verb verb;
	const char *id; /* points into the topic; NULL for telemetry without an id level, or $twin/{verb} */
	size_t id_len;
	const char *verb_name; /* points into the topic */
	size_t verb_len;
};

bool twin_topic_pattern_valid(const char *pattern);
enum twin_rc twin_topic_pattern_compile(struct twin_topic_pattern *p, const char *pattern);
void twin_topic_pattern_free(struct twin_topic_pattern *p);

void twin_topic_classify(const struct twin_topic_pattern *p, const char *topic, size_t topic_len,
		struct twin_topic_match *m);

/* An id is one topic level: 1..TWIN_MAX_ID_LEN bytes of valid UTF-8 without '/', '+', '#' or NUL.
 * On failure err says why. */
bool twin_topic_id_valid(const char *id, size_t len, struct twin_error *err);

#endif
