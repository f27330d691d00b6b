/* model.c - loading and looking up twin models (see model.h). A set is built whole or not at all: any
 * bad file fails the load, so a reload that fails leaves the set in use untouched. */
#include "model.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

#define MAX_MODEL_FILE_BYTES (1024 * 1024)
#define MAX_MODELS           1024

const char *const twin_severity_names[4] = {"critical", "major", "minor", "warning"};

struct twin_models {
	_Atomic long refs;
	struct twin_model *models; /* sorted by name */
	size_t n;
};

/* ---- one model ---- */

void twin_model_free(struct twin_model *m)
{
	free(m->name);
	free(m->json);
	for (int s = 0; s < TWIN_N_SECTIONS; s++) {
		twin_schema_free(m->sections[s]);
	}
	for (int i = 0; i < m->n_alarms; i++) {
		free(m->alarms[i].name);
		twin_query_free(m->alarms[i].raise);
		twin_query_free(m->alarms[i].clear);
	}
	free(m->alarms);
	for (int i = 0; i < TWIN_MODEL_ALARM_MEMBERS; i++) {
		free(m->alarm_members[i]);
	}
	memset(m, 0, sizeof(*m));
}

bool twin_model_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > TWIN_MODEL_MAX_NAME) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
					c == '_' || c == '-')) {
			return false;
		}
	}
	return true;
}

static enum twin_rc bad(struct twin_error *err, const char *pointer, const char *what)
{
	return twin_fail(err, TWIN_ERR_CONFIG, "%s: %s", pointer, what);
}

static enum twin_rc parse_severity(const cJSON *v, const char *where, enum twin_severity *out,
		struct twin_error *err)
{
	for (int i = 0; cJSON_IsString(v) && i < 4; i++) {
		if (!strcmp(v->valuestring, twin_severity_names[i])) {
			*out = (enum twin_severity)i;
			return TWIN_OK;
		}
	}
	return bad(err, where, "must be one of critical, major, minor, warning");
}

static enum twin_rc parse_filter(const cJSON *v, const char *where, struct twin_query **out,
		struct twin_error *err)
{
	struct twin_error qerr = {.rc = TWIN_OK};
	if (!cJSON_IsString(v)) {
		return bad(err, where, "must be a filter string such as gt(reported/tempTop,32)");
	}
	if (!(*out = twin_query_parse(v->valuestring, &qerr))) {
		return bad(err, where, qerr.msg);
	}
	return TWIN_OK;
}

static enum twin_rc parse_alarm(const cJSON *a, int index, struct twin_alarm_rule *r,
		struct twin_error *err)
{
	char where[96];
	snprintf(where, sizeof(where), "/alarms/%d", index);
	if (!cJSON_IsObject(a)) {
		return bad(err, where, "an alarm must be an object");
	}
	r->severity = TWIN_SEV_CRITICAL;
	bool has_raise = false;
	for (const cJSON *m = a->child; m; m = m->next) {
		char at[160];
		snprintf(at, sizeof(at), "%s/%s", where, m->string);
		enum twin_rc rc = TWIN_OK;
		if (!strcmp(m->string, "name")) {
			if (!cJSON_IsString(m) || !twin_model_name_valid(m->valuestring, strlen(m->valuestring))) {
				return bad(err, at, "must be 1-64 characters of A-Z a-z 0-9 . _ -");
			}
			rc = (r->name = strdup(m->valuestring)) ? TWIN_OK : twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
		} else if (!strcmp(m->string, "severity")) {
			rc = parse_severity(m, at, &r->severity, err);
		} else if (!strcmp(m->string, "raise")) {
			has_raise = true;
			rc = parse_filter(m, at, &r->raise, err);
		} else if (!strcmp(m->string, "clear")) {
			rc = parse_filter(m, at, &r->clear, err);
		} else if (!strcmp(m->string, "for_s")) {
			int64_t s;
			if (!twin_json_int64(m, &s) || s < 0 || s > TWIN_MODEL_MAX_FOR_S) {
				return bad(err, at, "must be an integer from 0 to 86400 (seconds)");
			}
			r->for_ms = s * 1000;
		} else if (!strcmp(m->string, "description")) {
			rc = cJSON_IsString(m) ? TWIN_OK : bad(err, at, "must be a string");
		} else {
			return bad(err, at, "unknown member (an alarm has name, severity, raise, clear, for_s, description)");
		}
		if (rc) {
			return rc;
		}
	}
	if (!r->name) {
		return bad(err, where, "an alarm needs a name");
	}
	return has_raise ? TWIN_OK : bad(err, where, "an alarm needs a raise filter");
}

static enum twin_rc parse_alarms(const cJSON *arr, struct twin_model *m, struct twin_error *err)
{
	int n = cJSON_GetArraySize(arr);
	if (!cJSON_IsArray(arr) || n > TWIN_MODEL_MAX_ALARMS) {
		return bad(err, "/alarms", "must be an array of at most 64 alarms");
	}
	if (n == 0) {
		return TWIN_OK;
	}
	if (!(m->alarms = calloc((size_t)n, sizeof(*m->alarms)))) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	int i = 0;
	for (const cJSON *a = arr->child; a; a = a->next, i++) {
		m->n_alarms = i + 1;
		enum twin_rc rc = parse_alarm(a, i, &m->alarms[i], err);
		if (rc) {
			return rc;
		}
		for (int j = 0; j < i; j++) {
			/* parse_alarm named every alarm it accepted */
			if (!strcmp(m->alarms[j].name, m->alarms[i].name)) { // NOLINT(clang-analyzer-core.NonNullParamChecker)
				char at[64];
				snprintf(at, sizeof(at), "/alarms/%d/name", i);
				return bad(err, at, "two alarms of the model have this name");
			}
		}
	}
	return TWIN_OK;
}

static int section_of(const char *name)
{
	for (int s = 0; s < TWIN_N_SECTIONS; s++) {
		if (!strcmp(name, twin_section_names[s])) {
			return s;
		}
	}
	return -1;
}

/* Adds the member a path reads to m's alarm members, or gives up (n_alarm_members = -1). */
static void add_alarm_member(void *ctx, const char *path)
{
	struct twin_model *m = ctx;
	const char *member = strncmp(path, "reported/", 9) == 0 ? path + 9 : NULL;
	if (m->n_alarm_members < 0) {
		return;
	}
	if (!member || !*member || strchr(member, '/')) {
		m->n_alarm_members = -1;
		return;
	}
	for (int i = 0; i < m->n_alarm_members; i++) {
		if (!strcmp(m->alarm_members[i], member)) {
			return;
		}
	}
	if (m->n_alarm_members == TWIN_MODEL_ALARM_MEMBERS ||
			!(m->alarm_members[m->n_alarm_members] = strdup(member))) {
		m->n_alarm_members = -1;
		return;
	}
	m->n_alarm_members++;
}

static void collect_alarm_members(struct twin_model *m)
{
	for (int i = 0; i < m->n_alarms; i++) {
		twin_query_paths(m->alarms[i].raise, add_alarm_member, m);
		if (m->alarms[i].clear) {
			twin_query_paths(m->alarms[i].clear, add_alarm_member, m);
		}
	}
}

/* Builds m from doc; on failure m holds what was built so far (twin_model_free releases it). */
static enum twin_rc parse_model(const cJSON *doc, struct twin_model *m, struct twin_error *err)
{
	if (!cJSON_IsObject(doc)) {
		return bad(err, "", "a model must be a JSON object");
	}
	for (const cJSON *v = doc->child; v; v = v->next) {
		char at[96];
		snprintf(at, sizeof(at), "/%s", v->string);
		int s = section_of(v->string);
		enum twin_rc rc = TWIN_OK;
		if (s >= 0) {
			if (!(m->sections[s] = twin_schema_compile(v, at, err))) {
				return TWIN_ERR_CONFIG;
			}
		} else if (!strcmp(v->string, "name")) {
			if (!cJSON_IsString(v) || !twin_model_name_valid(v->valuestring, strlen(v->valuestring))) {
				return bad(err, at, "must be 1-64 characters of A-Z a-z 0-9 . _ -");
			}
			rc = (m->name = strdup(v->valuestring)) ? TWIN_OK : twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
		} else if (!strcmp(v->string, "title") || !strcmp(v->string, "description") ||
				!strcmp(v->string, "version")) {
			rc = cJSON_IsString(v) ? TWIN_OK : bad(err, at, "must be a string");
		} else if (!strcmp(v->string, "alarms")) {
			rc = parse_alarms(v, m, err);
		} else {
			return bad(err, at, "unknown member (a model has name, title, description, version, "
					"attributes, reported, desired, alarms)");
		}
		if (rc) {
			return rc;
		}
	}
	if (!m->name) {
		return bad(err, "/name", "a model needs a name");
	}
	collect_alarm_members(m);
	return (m->json = twin_json_print(doc, &m->json_len)) ? TWIN_OK
			: twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
}

enum twin_rc twin_model_parse(const char *json, size_t len, struct twin_model *m, struct twin_error *err)
{
	struct twin_error perr;
	memset(m, 0, sizeof(*m));
	cJSON *doc = twin_json_parse(json, len, &perr);
	enum twin_rc rc = doc ? parse_model(doc, m, err) : twin_fail(err, TWIN_ERR_CONFIG, "%s", perr.msg);
	cJSON_Delete(doc);
	if (rc) {
		twin_model_free(m);
	}
	return rc;
}

/* Reads and parses one file into m. */
static enum twin_rc load_file(const char *dir, const char *file, struct twin_model *m,
		struct twin_error *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "rb");
	if (!f) {
		return twin_fail(err, TWIN_ERR_CONFIG, "cannot read it: %s", strerror(errno));
	}
	char *buf = malloc(MAX_MODEL_FILE_BYTES + 1);
	size_t len = buf ? fread(buf, 1, MAX_MODEL_FILE_BYTES + 1, f) : 0;
	bool read_error = ferror(f);
	fclose(f);
	enum twin_rc rc;
	if (!buf) {
		rc = twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	} else if (read_error) {
		rc = twin_fail(err, TWIN_ERR_CONFIG, "cannot read it");
	} else if (len > MAX_MODEL_FILE_BYTES) {
		rc = twin_fail(err, TWIN_ERR_CONFIG, "over 1 MiB");
	} else {
		rc = twin_model_parse(buf, len, m, err);
	}
	free(buf);
	return rc;
}

/* ---- a set ---- */

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct twin_model *)a)->name, ((const struct twin_model *)b)->name);
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_set(struct twin_models *set)
{
	for (size_t i = 0; i < set->n; i++) {
		twin_model_free(&set->models[i]);
	}
	free(set->models);
	free(set);
}

/* The *.json names in dir, sorted; NULL with err when dir cannot be listed. */
static char **list_files(const char *dir, size_t *n, struct twin_error *err)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	*n = 0;
	if (!d) {
		twin_fail(err, TWIN_ERR_CONFIG, "models_dir: cannot open '%s': %s", dir, strerror(errno));
		return NULL;
	}
	names = calloc(MAX_MODELS + 1, sizeof(*names));
	/* readdir: one thread at a time loads models (the broker thread, at start and at a reload) */
	for (const struct dirent *de; names && (de = readdir(d));) { // cppcheck-suppress readdirCalled
		size_t len = strlen(de->d_name);
		if (len <= 5 || de->d_name[0] == '.' || strcmp(de->d_name + len - 5, ".json")) {
			continue;
		}
		if (*n == MAX_MODELS) {
			twin_fail(err, TWIN_ERR_CONFIG, "models_dir: more than %d model files", MAX_MODELS);
			break;
		}
		if (!(names[*n] = strdup(de->d_name))) {
			break;
		}
		(*n)++;
	}
	closedir(d);
	if (!names) {
		twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
		return NULL;
	}
	qsort(names, *n, sizeof(*names), by_string);
	return names;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++) {
		free(names[i]);
	}
	free(names);
}

enum twin_rc twin_models_load(const char *dir, struct twin_models **out, struct twin_error *err)
{
	struct twin_models *set = calloc(1, sizeof(*set));
	size_t n = 0;
	char **names = NULL;
	*out = NULL;
	if (!set) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	atomic_init(&set->refs, 1);
	err->rc = TWIN_OK;
	if (dir && (!(names = list_files(dir, &n, err)) || err->rc)) {
		free_names(names, n);
		free(set);
		return err->rc ? err->rc : TWIN_ERR_NOMEM;
	}
	if (n && !(set->models = calloc(n, sizeof(*set->models)))) {
		free_names(names, n);
		free(set);
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	enum twin_rc rc = TWIN_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		struct twin_error ferr;
		set->n = i + 1;
		if ((rc = load_file(dir, names[i], &set->models[i], &ferr)) != TWIN_OK) {
			twin_fail(err, rc, "models_dir: %s: %s", names[i], ferr.msg);
		}
		for (size_t j = 0; !rc && j < i; j++) {
			/* load_file named every model it accepted */
			if (!strcmp(set->models[j].name, set->models[i].name)) { // NOLINT(clang-analyzer-core.NonNullParamChecker)
				rc = twin_fail(err, TWIN_ERR_CONFIG, "models_dir: %s: /name: model '%s' is also defined by %s",
						names[i], set->models[i].name, names[j]);
			}
		}
	}
	free_names(names, n);
	if (rc) {
		free_set(set);
		return rc;
	}
	if (set->n) {
		qsort(set->models, set->n, sizeof(*set->models), by_name);
	}
	*out = set;
	return TWIN_OK;
}

struct twin_models *twin_models_retain(struct twin_models *m)
{
	if (m) {
		atomic_fetch_add(&m->refs, 1);
	}
	return m;
}

void twin_models_release(struct twin_models *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1) {
		free_set(m);
	}
}

const struct twin_model *twin_models_find(const struct twin_models *m, const char *name, size_t len)
{
	size_t lo = 0, hi = m ? m->n : 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *s = m->models[mid].name;
		int c = strncmp(s, name, len);
		if (c == 0 && s[len]) {
			c = 1; /* s is longer, so after name */
		}
		if (c == 0) {
			return &m->models[mid];
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return NULL;
}

size_t twin_models_count(const struct twin_models *m)
{
	return m ? m->n : 0;
}

const struct twin_model *twin_models_at(const struct twin_models *m, size_t i)
{
	return &m->models[i];
}

void twin_models_slot_init(struct twin_models_slot *slot, struct twin_models *set)
{
	pthread_mutex_init(&slot->lock, NULL);
	slot->set = set;
}

struct twin_models *twin_models_slot_get(struct twin_models_slot *slot)
{
	pthread_mutex_lock(&slot->lock);
	struct twin_models *set = twin_models_retain(slot->set);
	pthread_mutex_unlock(&slot->lock);
	return set;
}

void twin_models_slot_set(struct twin_models_slot *slot, struct twin_models *set)
{
	pthread_mutex_lock(&slot->lock);
	struct twin_models *old = slot->set;
	slot->set = set;
	pthread_mutex_unlock(&slot->lock);
	twin_models_release(old);
}

void twin_models_slot_destroy(struct twin_models_slot *slot)
{
	twin_models_release(slot->set);
	slot->set = NULL;
	pthread_mutex_destroy(&slot->lock);
}
