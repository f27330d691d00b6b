/* config.c - table-driven parsing of plugin_opt_* settings. Every option has a default, a type and a
 * range; an unknown key or a bad value refuses the whole configuration, naming the option, so a typo
 * never runs with a silently different setting. A repeated option replaces the earlier value, except
 * telemetry_topic, whose lines add up to a list of patterns. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model.h"
#include "scope.h"
#include "topic.h"

enum opt_type {
	OPT_STRING,
	OPT_SIZE,
	OPT_INT,
	OPT_BOOL,
	OPT_TOPIC_LIST,
	OPT_GATEWAY,
	OPT_CHOICE,
	OPT_SCOPE,
	OPT_USER_LIST,
	OPT_MODEL_NAME
};

struct opt_def {
	const char *name;
	enum opt_type type;
	size_t offset;
	const char *def;
	int64_t min, max;
	const char *const *choices; /* OPT_CHOICE: the accepted words, stored as the index of the one given */
};

static const char *const id_sources[] = {"client_id", "username", NULL};
static const char *const acl_fallbacks[] = {"auto", "allow", "defer", NULL};
static const char *const model_reported_modes[] = {"warn", "reject", NULL};
_Static_assert(sizeof(enum twin_id_source) == sizeof(int) && sizeof(enum twin_acl_fallback) == sizeof(int) &&
				sizeof(enum twin_model_reported) == sizeof(int),
		"OPT_CHOICE fields are stored as int");

#define KIB 1024LL
#define MIB (1024LL * KIB)
#define GIB (1024LL * MIB)

static const struct opt_def options[] = {
	{"db_path", OPT_STRING, offsetof(struct twin_config, db_path), "/var/lib/mosquitto/twin", 0, 0, NULL},
	{"telemetry_topic", OPT_TOPIC_LIST, offsetof(struct twin_config, telemetry_topics), NULL, 0, 0, NULL},
	{"telemetry_id_from", OPT_CHOICE, offsetof(struct twin_config, telemetry_id_from), "client_id",
			0, 0, id_sources},
	{"gateway_topic", OPT_GATEWAY, offsetof(struct twin_config, gateway_topic), NULL, 0, 0, NULL},
	{"map_size", OPT_SIZE, offsetof(struct twin_config, map_size), "1073741824", MIB, 1024 * GIB, NULL},
	{"map_size_max", OPT_SIZE, offsetof(struct twin_config, map_size_max), "17179869184", MIB,
			1024 * GIB, NULL},
	{"commit_interval_ms", OPT_INT, offsetof(struct twin_config, commit_interval_ms), "100", 1,
			60000, NULL},
	{"max_twin_bytes", OPT_SIZE, offsetof(struct twin_config, max_twin_bytes), "65536", KIB,
			16 * MIB, NULL},
	{"max_depth", OPT_INT, offsetof(struct twin_config, max_depth), "16", 1, 64, NULL},
	{"max_readings", OPT_INT, offsetof(struct twin_config, max_readings), "1000", 1, 100000, NULL},
	{"retain_desired", OPT_BOOL, offsetof(struct twin_config, retain_desired), "true", 0, 0, NULL},
	{"queue_size", OPT_SIZE, offsetof(struct twin_config, queue_size), "1000000", 16, 100000000, NULL},
	{"queue_bytes", OPT_SIZE, offsetof(struct twin_config, queue_bytes), "1073741824", MIB, 64 * GIB,
			NULL},
	{"events", OPT_BOOL, offsetof(struct twin_config, events), "true", 0, 0, NULL},
	{"history_max", OPT_INT, offsetof(struct twin_config, history_max), "0", 0, 10000, NULL},
	{"history_max_age_s", OPT_INT, offsetof(struct twin_config, history_max_age_s), "0", 0,
			100LL * 365 * 86400, NULL},
	{"max_twins", OPT_INT, offsetof(struct twin_config, max_twins), "10000000", 1, 1000000000, NULL},
	{"telemetry_rate", OPT_INT, offsetof(struct twin_config, telemetry_rate), "50", 0, 1000000, NULL},
	{"request_rate_per_twin", OPT_INT, offsetof(struct twin_config, request_rate_per_twin), "100", 0,
			1000000, NULL},
	{"request_rate_per_client", OPT_INT, offsetof(struct twin_config, request_rate_per_client),
			"5000", 0, 1000000, NULL},
	{"sys_interval", OPT_INT, offsetof(struct twin_config, sys_interval), "10", 0, 86400, NULL},
	{"metrics_file", OPT_STRING, offsetof(struct twin_config, metrics_file), NULL, 0, 0, NULL},
	{"aws_shadow", OPT_BOOL, offsetof(struct twin_config, aws_shadow), "false", 0, 0, NULL},
	{"azure_twin", OPT_BOOL, offsetof(struct twin_config, azure_twin), "false", 0, 0, NULL},
	{"acl_fallback", OPT_CHOICE, offsetof(struct twin_config, acl_fallback), "auto", 0, 0,
			acl_fallbacks},
	{"search_scope", OPT_SCOPE, offsetof(struct twin_config, search_scope), NULL, 0, 0, NULL},
	{"search_scope_exempt", OPT_USER_LIST, offsetof(struct twin_config, search_scope_exempt), NULL,
			0, 0, NULL},
	{"search_queue_size", OPT_INT, offsetof(struct twin_config, search_queue_size), "64", 1, 100000, NULL},
	{"search_timeout_ms", OPT_INT, offsetof(struct twin_config, search_timeout_ms), "10000", 1,
			600000, NULL},
	{"models_dir", OPT_STRING, offsetof(struct twin_config, models_dir), NULL, 0, 0, NULL},
	{"default_model", OPT_MODEL_NAME, offsetof(struct twin_config, default_model), NULL, 0, 0, NULL},
	{"model_reported", OPT_CHOICE, offsetof(struct twin_config, model_reported), "warn", 0, 0,
			model_reported_modes},
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static enum twin_rc parse_integer(const struct opt_def *o, const char *value, int64_t *out,
		struct twin_error *err)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(value, &end, 10);
	if (errno || end == value || *end != '\0') {
		return twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_%s: '%s' is not an integer", o->name,
				value);
	}
	if (v < o->min || v > o->max) {
		return twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_%s: %lld is out of range [%lld, %lld]",
				o->name, v, (long long)o->min, (long long)o->max);
	}
	*out = v;
	return TWIN_OK;
}

/* OPT_INT fields are int64_t, except these two. */
static bool is_int_field(const struct opt_def *o)
{
	return o->offset == offsetof(struct twin_config, max_depth) ||
			o->offset == offsetof(struct twin_config, history_max);
}

static enum twin_rc apply(struct twin_config *cfg, const struct opt_def *o, const char *value,
		struct twin_error *err)
{
	char *field = (char *)cfg + o->offset;
	int64_t v = 0;
	enum twin_rc rc;

	switch (o->type) {
		case OPT_TOPIC_LIST: {
			if (!twin_topic_pattern_valid(value)) {
				return twin_fail(err, TWIN_ERR_CONFIG,
						"plugin_opt_%s: '%s' is not a topic with at most one '+' level and at most a "
						"last '#' level",
						o->name, value);
			}
			if (cfg->n_telemetry_topics == TWIN_MAX_TELEMETRY_TOPICS) {
				return twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_%s: more than %d patterns", o->name,
						TWIN_MAX_TELEMETRY_TOPICS);
			}
			char *copy = strdup(value);
			if (!copy) {
				return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
			}
			cfg->telemetry_topics[cfg->n_telemetry_topics++] = copy;
			return TWIN_OK;
		}
		case OPT_CHOICE: {
			char words[80] = "";
			for (int i = 0; o->choices[i]; i++) {
				if (!strcasecmp(value, o->choices[i])) {
					*(int *)field = i;
					return TWIN_OK;
				}
				size_t used = strlen(words);
				snprintf(words + used, sizeof(words) - used, "%s%s", i ? ", " : "", o->choices[i]);
			}
			return twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_%s: '%s' is not one of %s", o->name,
					value, words);
		}
		case OPT_GATEWAY:
			if (!twin_topic_gateway_valid(value)) {
				return twin_fail(err, TWIN_ERR_CONFIG,
						"plugin_opt_%s: '%s' is not a topic without wildcards (and not a $ topic)",
						o->name, value);
			}
			/* fall through */
		case OPT_SCOPE:
		case OPT_USER_LIST:
			rc = o->type == OPT_SCOPE ? twin_scope_check(value, err) : twin_scope_exempt_check(value, err);
			if (rc != TWIN_OK) {
				return rc;
			}
			/* fall through */
		case OPT_MODEL_NAME:
		case OPT_STRING: {
			if (o->type == OPT_MODEL_NAME && !twin_model_name_valid(value, strlen(value))) {
				return twin_fail(err, TWIN_ERR_CONFIG,
						"plugin_opt_%s: '%s' is not a model name (1-64 of A-Z a-z 0-9 . _ -)", o->name, value);
			}
			if (value[0] == '\0') {
				return twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_%s: empty value", o->name);
			}
			char *copy = strdup(value);
			if (!copy) {
				return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
			}
			free(*(char **)field);
			*(char **)field = copy;
			return TWIN_OK;
		}
		case OPT_BOOL:
			if (!strcasecmp(value, "true") || !strcmp(value, "1")) {
				*(bool *)field = true;
			} else if (!strcasecmp(value, "false") || !strcmp(value, "0")) {
				*(bool *)field = false;
			} else {
				return twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_%s: '%s' is not true or false",
						o->name, value);
			}
			return TWIN_OK;
		case OPT_SIZE:
			if ((rc = parse_integer(o, value, &v, err)) != TWIN_OK) {
				return rc;
			}
			*(size_t *)field = (size_t)v;
			return TWIN_OK;
		case OPT_INT:
			if ((rc = parse_integer(o, value, &v, err)) != TWIN_OK) {
				return rc;
			}
			if (is_int_field(o)) {
				*(int *)field = (int)v;
			} else {
				*(int64_t *)field = v;
			}
			return TWIN_OK;
	}
	return TWIN_ERR_CONFIG;
}

static const struct opt_def *find_option(const char *key)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (!strcasecmp(options[i].name, key)) {
			return &options[i];
		}
	}
	return NULL;
}

/* Levenshtein distance, case-insensitive, of two short names (longer ones count as far apart). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];
	if (la >= 64 || lb >= 64) {
		return SIZE_MAX;
	}
	for (size_t j = 0; j <= lb; j++) {
		row[j] = j;
	}
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t subst = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
			row[j] = subst < best ? subst : best;
			diag = up;
		}
	}
	return row[lb];
}

/* The known option nearest to an unknown key: the likely typo. */
static const struct opt_def *closest_option(const char *key)
{
	const struct opt_def *best = &options[0];
	size_t best_d = SIZE_MAX;
	for (size_t i = 0; i < N_OPTIONS; i++) {
		size_t d = distance(key, options[i].name);
		if (d < best_d) {
			best = &options[i];
			best_d = d;
		}
	}
	return best;
}

enum twin_rc twin_config_parse(struct twin_config *cfg, const char *const *keys,
		const char *const *values, int n, struct twin_error *err)
{
	enum twin_rc rc;
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (options[i].def && (rc = apply(cfg, &options[i], options[i].def, err)) != TWIN_OK) {
			return rc;
		}
	}
	bool max_given = false;
	for (int i = 0; i < n; i++) {
		const struct opt_def *o = find_option(keys[i]);
		if (!o) {
			return twin_fail(err, TWIN_ERR_CONFIG,
					"unknown option plugin_opt_%s (did you mean plugin_opt_%s? every option is in "
					"mosquitto.conf.example)",
					keys[i], closest_option(keys[i])->name);
		}
		if ((rc = apply(cfg, o, values[i] ? values[i] : "", err)) != TWIN_OK) {
			return rc;
		}
		max_given |= o->offset == offsetof(struct twin_config, map_size_max);
	}
	if (!cfg->n_telemetry_topics &&
			(rc = apply(cfg, find_option("telemetry_topic"), TWIN_DEFAULT_TELEMETRY_TOPIC, err))) {
		return rc;
	}
	if (cfg->map_size_max < cfg->map_size && !max_given) {
		cfg->map_size_max = cfg->map_size;
	}
	if (cfg->search_scope_exempt && !cfg->search_scope) {
		return twin_fail(err, TWIN_ERR_CONFIG,
				"plugin_opt_search_scope_exempt has no effect without plugin_opt_search_scope (searches "
				"see every twin without it)");
	}
	if (cfg->map_size_max < cfg->map_size) {
		return twin_fail(err, TWIN_ERR_CONFIG,
				"plugin_opt_map_size_max (%zu) must not be smaller than plugin_opt_map_size (%zu)",
				cfg->map_size_max, cfg->map_size);
	}
	return TWIN_OK;
}

/* One option's value as text: what apply stored, "(none)" for an absent string. */
static void describe_value(const struct twin_config *cfg, const struct opt_def *o, char *out,
		size_t size)
{
	const char *field = (const char *)cfg + o->offset;
	out[0] = '\0';
	switch (o->type) {
		case OPT_TOPIC_LIST:
			for (int i = 0; i < cfg->n_telemetry_topics; i++) {
				size_t used = strlen(out);
				snprintf(out + used, size - used, "%s%s", i ? "," : "", cfg->telemetry_topics[i]);
			}
			return;
		case OPT_CHOICE:
			snprintf(out, size, "%s", o->choices[*(const int *)field]);
			return;
		case OPT_GATEWAY:
		case OPT_SCOPE:
		case OPT_USER_LIST:
		case OPT_MODEL_NAME:
		case OPT_STRING: {
			const char *text = *(char *const *)field;
			snprintf(out, size, "%s", text ? text : "(none)");
			return;
		}
		case OPT_BOOL:
			snprintf(out, size, "%s", *(const bool *)field ? "true" : "false");
			return;
		case OPT_SIZE:
			snprintf(out, size, "%zu", *(const size_t *)field);
			return;
		case OPT_INT:
			snprintf(out, size, "%lld",
					is_int_field(o) ? (long long)*(const int *)field : (long long)*(const int64_t *)field);
			return;
	}
}

void twin_config_describe(const struct twin_config *cfg, char *buf, size_t size)
{
	char value[TWIN_MAX_TELEMETRY_TOPICS * 64];
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < N_OPTIONS && used < size; i++) {
		describe_value(cfg, &options[i], value, sizeof(value));
		int n = snprintf(buf + used, size - used, "%s%s=%s", i ? " " : "", options[i].name, value);
		used += n > 0 ? (size_t)n : 0;
	}
}

void twin_config_free(struct twin_config *cfg)
{
	free(cfg->db_path);
	for (int i = 0; i < cfg->n_telemetry_topics; i++) {
		free(cfg->telemetry_topics[i]);
		cfg->telemetry_topics[i] = NULL;
	}
	cfg->n_telemetry_topics = 0;
	free(cfg->gateway_topic);
	free(cfg->metrics_file);
	free(cfg->search_scope);
	free(cfg->search_scope_exempt);
	free(cfg->models_dir);
	free(cfg->default_model);
	cfg->db_path = cfg->gateway_topic = cfg->metrics_file = NULL;
	cfg->search_scope = cfg->search_scope_exempt = cfg->models_dir = cfg->default_model = NULL;
}
