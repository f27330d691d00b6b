/* sysreport.c - $SYS messages and the Prometheus text file from a stats snapshot (see sysreport.h). */
#include "sysreport.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "version.h"

#define SYS_PREFIX  "$SYS/broker/twin/"
#define PROM_PREFIX "mosquitto_twin_"

static const struct {
	const char *name, *help;
} helps[] = {
	{"twins", "Twins in the store."},
	{"telemetry_received", "Telemetry messages seen on the ingest topic."},
	{"telemetry_applied", "Telemetry messages whose change (alone or with others of their twin) changed it."},
	{"telemetry_unchanged", "Telemetry messages that changed nothing."},
	{"telemetry_merged", "Telemetry messages applied together with others of their twin, as one version."},
	{"telemetry_invalid", "Telemetry payloads that are not JSON objects, too big or too deep."},
	{"telemetry_dropped", "Telemetry lost: queue full, store unwritable or max_twins reached."},
	{"telemetry_rate_limited", "Telemetry over its device's telemetry_rate that never reached the twin."},
	{"requests", "Requests on $twin/."},
	{"requests_failed", "Answers with a status other than 200."},
	{"requests_rate_limited", "Requests answered 429."},
	{"twins_refused", "New twins not created because max_twins twins exist."},
	{"publishes_refused", "Publishes and Wills by clients on the plugin's own topics, refused."},
	{"commits", "LMDB write transactions committed."},
	{"commit_failures", "LMDB commits that failed."},
	{"store_full", "Writes refused because the map reached map_size_max."},
	{"model_invalid", "Telemetry messages that broke their twin's model."},
	{"model_refused", "Updates refused by their twin's model (or because it is not loaded)."},
	{"model_missing", "Telemetry of twins naming a model that is not loaded, applied unchecked."},
	{"alarms_raised", "Alarms that became active."},
	{"alarms_cleared", "Active alarms that cleared."},
	{"alarms_acked", "Alarms acknowledged."},
	{"commit_us", "Microseconds spent committing (with fsync); divide by commits for the mean."},
	{"queue_depth", "Operations waiting for the writer thread."},
	{"map_size", "LMDB map size in bytes."},
	{"db_bytes", "Bytes of the LMDB map in use."},
};

static const char *help_of(const char *name)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
		if (!strcmp(helps[i].name, name)) {
			return helps[i].help;
		}
	}
	if (!strncmp(name, "requests_", 9)) {
		return "Requests of the verb the name ends with.";
	}
	if (!strncmp(name, "answers_", 8)) {
		return "Answers with the status the name ends with.";
	}
	return name;
}

void twin_stats_add(struct twin_stats_snapshot *s, const char *name, int64_t value, bool counter)
{
	if (s->n < TWIN_MAX_STATS) {
		s->item[s->n++] = (struct twin_stat){name, value, counter};
	}
}

void twin_sysreport_publish(struct twin_sysreport *r, const struct twin_stats_snapshot *s,
		struct twin_out_list *out)
{
	char topic[96], value[24];
	if (!r->sent) { /* the plugin's version, once: it never changes while the broker runs */
		const char *v = twin_version();
		struct twin_out *o = twin_out_publish(NULL, SYS_PREFIX "version", v, strlen(v), 0, true);
		if (!o) {
			return;
		}
		twin_out_list_add(out, o);
	}
	for (size_t i = 0; i < s->n; i++) {
		if (r->sent && r->last[i] == s->item[i].value) {
			continue;
		}
		snprintf(topic, sizeof(topic), SYS_PREFIX "%s", s->item[i].name);
		int len = snprintf(value, sizeof(value), "%" PRId64, s->item[i].value);
		struct twin_out *o = twin_out_publish(NULL, topic, value, (size_t)len, 0, true);
		if (!o) {
			return; /* out of memory: the next report sends what is missing */
		}
		twin_out_list_add(out, o);
		r->last[i] = s->item[i].value;
	}
	r->sent = true;
}

enum twin_rc twin_sysreport_write_prom(const char *path, const struct twin_stats_snapshot *s,
		struct twin_error *err)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		return twin_fail(err, TWIN_ERR_CONFIG, "metrics_file path too long");
	}
	FILE *f = fopen(tmp, "w");
	if (!f) {
		return twin_fail(err, TWIN_ERR_STORE, "cannot write %s: %s", tmp, strerror(errno));
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct twin_stat *st = &s->item[i];
		const char *suffix = st->counter ? "_total" : "";
		fprintf(f, "# HELP " PROM_PREFIX "%s%s %s\n# TYPE " PROM_PREFIX "%s%s %s\n" PROM_PREFIX "%s%s %" PRId64 "\n",
				st->name, suffix, help_of(st->name), st->name, suffix, st->counter ? "counter" : "gauge",
				st->name, suffix, st->value);
	}
	bool ok = !ferror(f);
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		int e = errno;
		remove(tmp);
		return twin_fail(err, TWIN_ERR_STORE, "cannot write %s: %s", path, strerror(e));
	}
	return TWIN_OK;
}
