/* cluster_config.c - the plugin_opt_cluster_* settings (cluster.h): shard name, owned slots, slot count,
 * NATS URLs, subject prefix, forwarding timeout and the deadline of a fleet's search. They are parsed
 * apart from config.c's table because they exist only in a -DTWIN_CLUSTER=ON build; in any other build
 * they are unknown options. */
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
	return twin_fail(err, TWIN_ERR_CONFIG,
			"unknown option plugin_opt_%s (cluster options: cluster_shard, cluster_slots, "
			"cluster_slot_count, cluster_nats, cluster_subject, cluster_timeout_ms, "
			"cluster_search_timeout_ms)",
			key);
}

enum twin_rc twin_cluster_config_parse(struct twin_cluster_config *cfg, const char *const *keys,
		const char *const *values, int n, bool *configured, struct twin_error *err)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nslots = 1024;
	cfg->timeout_ms = 2000;
	cfg->search_timeout_ms = 5000;
	*configured = false;
	enum twin_rc rc = set_string(&cfg->subject, "cluster_subject", "twin", err);
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
	memset(cfg, 0, sizeof(*cfg));
}
