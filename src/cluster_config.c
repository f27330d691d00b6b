/* cluster_config.c - the plugin_opt_cluster_* settings (cluster.h): shard name, owned slots, slot count,
 * NATS URLs, subject prefix, forwarding timeout, the deadline of a fleet's search, and the JetStream
 * events stream. They are parsed apart from config.c's table because they exist only in a
 * -DTWIN_CLUSTER=ON build; in any other build they are unknown options. */
#include "cluster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_slot.h"

bool twin_cluster_option(const char *key)
{
	return strncmp(key, "cluster_", 8) == 0;
}

static enum twin_rc set_string(char **field, const char *key, const char *value, struct twin_error *err)
{
	if (!*value) {
		return twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_%s must not be empty", key);
	}
	char *copy = strdup(value);
	if (!copy) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	free(*field);
	*field = copy;
	return TWIN_OK;
}

static enum twin_rc set_int(int64_t *field, const char *key, const char *value, int64_t min,
		int64_t max, struct twin_error *err)
{
	char *end;
	errno = 0;
	long long v = strtoll(value, &end, 10);
	if (end == value || *end || errno || v < min || v > max) {
		return twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_%s must be an integer in %lld..%lld, not '%.50s'",
				key, (long long)min, (long long)max, value);
	}
	*field = v;
	return TWIN_OK;
}

static enum twin_rc set_bool(bool *field, const char *key, const char *value, struct twin_error *err)
{
	if (!strcmp(value, "on") || !strcmp(value, "true")) {
		*field = true;
	} else if (!strcmp(value, "off") || !strcmp(value, "false")) {
		*field = false;
	} else {
		return twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_%s must be on or off, not '%.50s'", key, value);
	}
	return TWIN_OK;
}

/* A stream name: JetStream refuses spaces, '.', '*', '>', path separators and control characters. */
static enum twin_rc set_stream(char **field, const char *key, const char *value, struct twin_error *err)
{
	size_t len = strlen(value);
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)value[i] <= ' ' || strchr(".*>/\\", value[i])) {
			return twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_%s: '%.50s' is not a JetStream stream name "
					"(no spaces, '.', '*', '>', '/' or '\\')", key, value);
		}
	}
	if (len > 64) {
		return twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_%s: a stream name of at most 64 bytes", key);
	}
	return set_string(field, key, value, err);
}

static enum twin_rc apply_events(struct twin_cluster_config *cfg, const char *key, const char *value,
		struct twin_error *err)
{
	if (!strcmp(key, "cluster_events")) {
		return set_bool(&cfg->events, key, value, err);
	}
	if (!strcmp(key, "cluster_events_stream")) {
		return set_stream(&cfg->events_stream, key, value, err);
	}
	if (!strcmp(key, "cluster_events_replicas")) {
		return set_int(&cfg->events_replicas, key, value, 1, 5, err);
	}
	if (!strcmp(key, "cluster_events_max_age_s")) {
		return set_int(&cfg->events_max_age_s, key, value, 0, 100LL * 366 * 86400, err);
	}
	if (!strcmp(key, "cluster_events_max_bytes")) {
		return set_int(&cfg->events_max_bytes, key, value, 0, INT64_MAX, err);
	}
	if (!strcmp(key, "cluster_events_buffer")) {
		return set_int(&cfg->events_buffer, key, value, 1, 100000000, err);
	}
	if (!strcmp(key, "cluster_events_buffer_bytes")) {
		return set_int(&cfg->events_buffer_bytes, key, value, 1LL << 20, 64LL << 30, err);
	}
	return twin_fail(err, TWIN_ERR_CONFIG,
			"unknown option plugin_opt_%s (cluster options: cluster_shard, cluster_slots, "
			"cluster_slot_count, cluster_nats, cluster_subject, cluster_timeout_ms, "
			"cluster_search_timeout_ms, cluster_events, "
			"cluster_events_stream, cluster_events_replicas, cluster_events_max_age_s, "
			"cluster_events_max_bytes, cluster_events_buffer, cluster_events_buffer_bytes)",
			key);
}

static enum twin_rc apply(struct twin_cluster_config *cfg, const char *key, const char *value,
		struct twin_error *err)
{
	if (!strcmp(key, "cluster_shard")) {
		return set_string(&cfg->shard, key, value, err);
	}
	if (!strcmp(key, "cluster_slots")) {
		return set_string(&cfg->slots, key, value, err);
	}
	if (!strcmp(key, "cluster_nats")) {
		return set_string(&cfg->nats, key, value, err);
	}
	if (!strcmp(key, "cluster_subject")) {
		if (strlen(value) > 200 || strpbrk(value, " \t*>")) {
			return twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_%s: a NATS subject prefix of at most 200 "
					"bytes without spaces or wildcards, not '%.50s'", key, value);
		}
		return set_string(&cfg->subject, key, value, err);
	}
	if (!strcmp(key, "cluster_slot_count")) {
		return set_int(&cfg->nslots, key, value, 1, TWIN_CLUSTER_MAX_SLOTS, err);
	}
	if (!strcmp(key, "cluster_timeout_ms")) {
		return set_int(&cfg->timeout_ms, key, value, 10, 60000, err);
	}
	if (!strcmp(key, "cluster_search_timeout_ms")) {
		return set_int(&cfg->search_timeout_ms, key, value, 10, 60000, err);
	}
	return apply_events(cfg, key, value, err);
}

enum twin_rc twin_cluster_config_parse(struct twin_cluster_config *cfg, const char *const *keys,
		const char *const *values, int n, bool *configured, struct twin_error *err)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nslots = 1024;
	cfg->timeout_ms = 2000;
	cfg->events_replicas = 3;
	cfg->events_max_age_s = 7 * 86400;
	cfg->events_buffer = 100000;
	cfg->events_buffer_bytes = 256LL << 20;
	cfg->search_timeout_ms = 5000;
	*configured = false;
	enum twin_rc rc = set_string(&cfg->subject, "cluster_subject", "twin", err);
	if (rc == TWIN_OK) {
		rc = set_string(&cfg->events_stream, "cluster_events_stream", "TWIN_EVENTS", err);
	}
	for (int i = 0; rc == TWIN_OK && i < n; i++) {
		if (twin_cluster_option(keys[i])) {
			*configured = true;
			rc = apply(cfg, keys[i], values[i] ? values[i] : "", err);
		}
	}
	if (rc == TWIN_OK && *configured && (!cfg->shard || !cfg->slots)) {
		rc = twin_fail(err, TWIN_ERR_CONFIG,
				"a cluster shard needs plugin_opt_cluster_shard and plugin_opt_cluster_slots");
	}
	if (rc == TWIN_OK && cfg->events && !cfg->nats) {
		rc = twin_fail(err, TWIN_ERR_CONFIG,
				"plugin_opt_cluster_events on needs plugin_opt_cluster_nats (the NATS servers of the stream)");
	}
	if (rc != TWIN_OK) {
		twin_cluster_config_free(cfg);
	}
	return rc;
}

void twin_cluster_config_free(struct twin_cluster_config *cfg)
{
	free(cfg->shard);
	free(cfg->slots);
	free(cfg->nats);
	free(cfg->subject);
	free(cfg->events_stream);
	memset(cfg, 0, sizeof(*cfg));
}
