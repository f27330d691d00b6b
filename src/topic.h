/* topic.h - classification of every PUBLISH topic the broker shows us (telemetry on one of the ingest
 * patterns, the gateway topic, a request on $twin or on a switched-on compatibility front, another topic
 * of ours, or none of ours), the verb names and validation of twin ids. Pure string work, no allocation
 * on the hot path. $twin is classified here; the compatibility fronts' topics by the classifiers the
 * engine attaches to the set (twin_topic_add_front), which this module knows only as function pointers. */
#ifndef TWIN_TOPIC_H
#define TWIN_TOPIC_H

#include <stdbool.h>

#include "twin_common.h"

enum twin_topic_route {
	TWIN_ROUTE_NONE,      /* not ours: let it through untouched */
	TWIN_ROUTE_TELEMETRY, /* matches a telemetry pattern */
	TWIN_ROUTE_GATEWAY,   /* the gateway topic: one message carries several devices */
	TWIN_ROUTE_REQUEST,   /* $twin/{id}/{verb}, $twin/{verb}, or a front's request topic: answer it */
	TWIN_ROUTE_RESERVED,  /* any other topic of ours (answers, events): consume silently */
};

/* The API a request came in on; its answers take that API's form. */
enum twin_front {
	TWIN_FRONT_NATIVE, /* $twin/... */
	TWIN_FRONT_AWS,    /* $aws/things/{thing}/shadow[/name/{shadow}]/{get,update,delete} */
	TWIN_FRONT_AZURE,  /* $iothub/twin/{GET,PATCH/properties/reported}/?$rid={rid} */
	TWIN_N_FRONTS
};

enum twin_verb {
	TWIN_VERB_UNKNOWN,
	TWIN_VERB_GET,
	TWIN_VERB_UPDATE,
	TWIN_VERB_DELETE,
	TWIN_VERB_HISTORY,
	TWIN_VERB_STATS,
	TWIN_VERB_SEARCH,
	TWIN_VERB_ACK,    /* $twin/{id}/ack: acknowledge an alarm (a write) */
	TWIN_VERB_MODEL,  /* $twin/{id}/model: the twin's model document */
	TWIN_VERB_MODELS, /* $twin/models: every loaded model */
};

/* Sets of verbs, for twin_verb_find: those of $twin/{id}/{verb} and those of $twin/{verb}. */
#define TWIN_VERB_BIT(v)      (1u << (v))
#define TWIN_VERBS_OF_TWIN    (TWIN_VERB_BIT(TWIN_VERB_GET) | TWIN_VERB_BIT(TWIN_VERB_UPDATE) | \
		TWIN_VERB_BIT(TWIN_VERB_DELETE) | TWIN_VERB_BIT(TWIN_VERB_HISTORY) | \
		TWIN_VERB_BIT(TWIN_VERB_ACK) | TWIN_VERB_BIT(TWIN_VERB_MODEL))
#define TWIN_VERBS_OF_SERVICE (TWIN_VERB_BIT(TWIN_VERB_STATS) | TWIN_VERB_BIT(TWIN_VERB_SEARCH) | \
		TWIN_VERB_BIT(TWIN_VERB_MODELS))

/* The verb the topic level [name, name + len) names, if it is one of the set (TWIN_VERB_BIT of each),
 * else TWIN_VERB_UNKNOWN. The one table of verb names, for $twin and the fronts. */
enum twin_verb twin_verb_find(const char *name, size_t len, unsigned set);

#define TWIN_MAX_TELEMETRY_TOPICS 16

/* A compiled telemetry pattern: prefix + one id level + suffix, or an exact topic (the id then comes from
 * the publishing client); either may end in "/#", whose levels are a path inside reported. */
struct twin_topic_pattern {
	char *prefix, *suffix;
	size_t prefix_len, suffix_len;
	bool has_id, has_path;
};

struct twin_topic_match;

/* A compatibility front's topics: those starting with prefix are the front's, and classify (given the
 * topic past the prefix) sets the match: front, route, verb and what the front's requests carry. */
struct twin_topic_front {
	const char *prefix;
	size_t prefix_len;
	void (*classify)(const char *rest, size_t rest_len, struct twin_topic_match *m);
};

/* Every topic the plugin ingests: the telemetry patterns, tried in order, and the gateway topic; and
 * the switched-on fronts, whose topics start with '$'. */
struct twin_topic_set {
	struct twin_topic_pattern pattern[TWIN_MAX_TELEMETRY_TOPICS];
	int n;
	char *gateway; /* NULL: none */
	size_t gateway_len;
	const struct twin_topic_front *front[TWIN_N_FRONTS];
	int n_fronts;
};

struct twin_topic_match {
	enum twin_topic_route route;
	enum twin_front front;
	enum twin_verb verb;
	/* points into the topic; NULL for telemetry without an id level, $twin/{verb} and Azure (whose id
	 * is the client's); for AWS the thing name */
	const char *id;
	size_t id_len;
	const char *shadow; /* AWS: the named shadow, else NULL */
	size_t shadow_len;
	const char *rid; /* Azure: the request id ($rid), else NULL */
	size_t rid_len;
	const char *path; /* telemetry on a pattern ending in "/#": the levels it matched ("a/b"), else NULL */
	size_t path_len;
	const char *verb_name; /* points into the topic */
	size_t verb_len;
};

/* A telemetry pattern: a topic not starting with '$', with at most one '+' (a whole level, the twin id)
 * and optionally a last level '#' after at least one other level. */
bool twin_topic_pattern_valid(const char *pattern);
/* A gateway topic: a non-empty topic without wildcards, not starting with '$'. */
bool twin_topic_gateway_valid(const char *topic);

/* Compiles n patterns (n <= TWIN_MAX_TELEMETRY_TOPICS) and the gateway topic (may be NULL). */
enum twin_rc twin_topic_set_compile(struct twin_topic_set *s, const char *const *patterns, int n,
		const char *gateway);
void twin_topic_set_free(struct twin_topic_set *s);
/* Switches a compatibility front on: its topics are classified by f (which must outlive the set) from
 * now on. At most TWIN_N_FRONTS fronts; more are ignored. */
void twin_topic_add_front(struct twin_topic_set *s, const struct twin_topic_front *f);

/* $twin and the switched-on fronts for a topic starting with '$'; else the gateway topic first, then the
 * first pattern that matches. */
void twin_topic_classify(const struct twin_topic_set *s, const char *topic, size_t topic_len,
		struct twin_topic_match *m);

/* True when only the plugin may publish on topic: its answers and events, the v3.1.1 answer topics of
 * $twin/stats and $twin/search, devices/{id}/desired, and the answer and push topics of the switched-on
 * fronts. Requests are not the plugin's: they are written by clients. */
bool twin_topic_owned(const struct twin_topic_set *s, const char *topic, size_t topic_len);

/* An id is one topic level: 1..TWIN_MAX_ID_LEN bytes of valid UTF-8 without '/', '+', '#' or NUL.
 * On failure err says why. */
bool twin_topic_id_valid(const char *id, size_t len, struct twin_error *err);

/* '~' joins thing and shadow name in the twin id of an AWS named shadow ("rack-12~config"). */
#define TWIN_SHADOW_SEP '~'

/* An id a client names itself: a $twin/{id}/... request, telemetry (its topic level, client id or
 * username), a gateway part, an Azure device id. Valid as above and without TWIN_SHADOW_SEP: a twin
 * whose id has it is an AWS named shadow, reached only through the AWS front (so a client id or topic
 * level "T~N" never reads or writes the named shadow N of thing T past the thing's own ACL). */
bool twin_topic_native_id_valid(const char *id, size_t len, struct twin_error *err);

#endif
