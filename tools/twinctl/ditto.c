/* ditto.c - Eclipse Ditto things as twin documents (see ditto.h).
 *
 * Ditto ids are "namespace:name" with at most 256 characters; the name may hold any character but '/'
 * and control characters, so ':' stays (it is allowed in twin ids) and only what an MQTT topic level
 * cannot carry ('+', '#') is percent-encoded, with '%' itself, so the mapping can be undone. The result
 * is checked like every other imported document (import_doc.c) afterwards.
 *
 * A definition names a WoT Thing Model or a "namespace:name:version"; the twin follows the model that it
 * stands for only when the twin conforms to it, as the broker would check it on a change of model, so an
 * import never makes a twin that its model refuses. Otherwise, and without models, the definition stays
 * in the twin as attributes.definition: nothing of the thing is dropped unsaid. */
#include "ditto.h"

#include <stdio.h>
#include <string.h>

#include "jsonx.h"
#include "model_check.h"
#include "model_name.h"
#include "topic.h"

bool ctl_ditto_twin_id(const char *thing_id, char *out, struct twin_error *err)
{
	size_t n = 0;
	if (!strchr(thing_id, ':')) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "thingId '%.64s' is not 'namespace:name'", thing_id);
		return false;
	}
	for (const char *c = thing_id; *c; c++) {
		const char *enc = *c == '%' ? "%25" : *c == '+' ? "%2B" : *c == '#' ? "%23" : NULL;
		size_t len = enc ? 3 : 1;
		if (n + len > TWIN_MAX_ID_LEN) {
			twin_fail(err, TWIN_ERR_BAD_REQUEST,
					"thingId '%.64s...' is longer than %d bytes as a twin id", thing_id,
					TWIN_MAX_ID_LEN);
			return false;
		}
		memcpy(out + n, enc ? enc : c, len);
		n += len;
	}
	out[n] = '\0';
	return twin_topic_id_valid(out, n, err);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool digits(const char **p, int n, int64_t *out)
{
	int64_t v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9') {
			return false;
		}
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return true;
}

/* The next character is one of set (not NUL). */
static bool expect(const char **p, const char *set)
{
	return **p && strchr(set, *(*p)++);
}

bool ctl_ditto_time_ms(const char *s, int64_t *out)
{
	int64_t y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0;
	const char *p = s;
	if (!digits(&p, 4, &y) || !expect(&p, "-") || !digits(&p, 2, &mo) || !expect(&p, "-") ||
			!digits(&p, 2, &d) || !expect(&p, "Tt") || !digits(&p, 2, &h) || !expect(&p, ":") ||
			!digits(&p, 2, &mi) || !expect(&p, ":") || !digits(&p, 2, &sec)) {
		return false;
	}
	if (*p == '.') {
		int scale = 100;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10) {
			ms += (*p - '0') * scale; /* digits past milliseconds add 0 */
		}
	}
	int sign = *p == '+' ? 1 : *p == '-' ? -1 : 0;
	if (sign) {
		p++;
		if (!digits(&p, 2, &oh) || !expect(&p, ":") || !digits(&p, 2, &om)) {
			return false;
		}
	} else if (*p != 'Z' && *p != 'z') {
		return false;
	} else {
		p++;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || oh > 23 ||
			om > 59) {
		return false;
	}
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
			sign * (oh * 3600 + om * 60);
	*out = secs * 1000 + ms;
	return true;
}

/* Copies member from of each feature into section[feature name]. */
static bool map_features(const cJSON *features, const char *from, cJSON *section,
		struct twin_error *err)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, features)
	{
		const cJSON *props = cJSON_GetObjectItemCaseSensitive(f, from);
		if (!cJSON_IsObject(f) || (props && !cJSON_IsObject(props))) {
			twin_fail(err, TWIN_ERR_BAD_REQUEST, "features/%s%s%s is not an object", f->string,
					props ? "/" : "", props ? from : "");
			return false;
		}
		if (props && !twin_json_set(section, f->string, cJSON_Duplicate(props, 1))) {
			twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
			return false;
		}
	}
	return true;
}

/* Adds the thing's _revision / _modified / _created as version / updated / created. */
static bool map_meta(const cJSON *thing, cJSON *doc, struct twin_error *err)
{
	static const char *const from[] = {"_modified", "_created"}, *const to[] = {"updated", "created"};
	const cJSON *rev = cJSON_GetObjectItemCaseSensitive(thing, "_revision");
	int64_t v;
	if (rev && (!twin_json_int64(rev, &v) || v < 1)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "_revision is not a positive integer");
		return false;
	}
	if (rev && !twin_json_add_int64(doc, "version", v)) {
		twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
		return false;
	}
	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(thing, from[i]);
		if (!t) {
			continue;
		}
		if (!cJSON_IsString(t) || !ctl_ditto_time_ms(t->valuestring, &v) || v < 0) {
			twin_fail(err, TWIN_ERR_BAD_REQUEST, "%s is not an ISO 8601 time after 1970", from[i]);
			return false;
		}
		if (!twin_json_add_int64(doc, to[i], v)) {
			twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
			return false;
		}
	}
	return true;
}

/* The model of models that def->text stands for, or NULL with def->why. */
static const struct twin_model *find_model(const struct twin_models *models, struct ctl_definition *def)
{
	char names[CTL_MODEL_NAMES][TWIN_MODEL_MAX_NAME + 1];
	int n = ctl_model_names(def->text, names);
	for (int i = 0; models && i < n; i++) {
		const struct twin_model *m = twin_models_find(models, names[i], strlen(names[i]));
		if (m) {
			return m;
		}
	}
	if (!models) {
		snprintf(def->why, sizeof(def->why), "no --models DIR given");
	} else if (n == 0) {
		snprintf(def->why, sizeof(def->why), "it stands for no valid model name");
	} else {
		snprintf(def->why, sizeof(def->why), "no model %s%s%s in --models", names[0], n > 1 ? " or " : "",
				n > 1 ? names[1] : "");
	}
	return NULL;
}

/* Sets attrs.model to m when the twin doc conforms to m; else says why in def. */
static bool follow(cJSON *doc, cJSON *attrs, const struct twin_model *m, struct ctl_definition *def,
		struct twin_error *err)
{
	struct twin_error cerr;
	if (!twin_json_set(attrs, "model", cJSON_CreateString(m->name))) {
		twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
		return false;
	}
	if (twin_model_check_sections(m, doc, (1u << TWIN_N_SECTIONS) - 1, &cerr)) {
		def->outcome = CTL_DEF_MODEL;
		snprintf(def->model, sizeof(def->model), "%s", m->name);
		return true;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(attrs, "model");
	snprintf(def->why, sizeof(def->why), "it does not conform: %.280s", cerr.msg);
	return true;
}

/* Makes the thing's definition attributes.model or attributes.definition of doc. */
static bool map_definition(const cJSON *thing, cJSON *doc, const struct twin_models *models,
		struct ctl_definition *def, struct twin_error *err)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(thing, "definition");
	cJSON *attrs = cJSON_GetObjectItemCaseSensitive(doc, "attributes");
	const struct twin_model *m = NULL;
	if (!d) {
		return true;
	}
	if (!cJSON_IsString(d)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "definition is not a string");
		return false;
	}
	def->text = d->valuestring;
	if (cJSON_GetObjectItemCaseSensitive(attrs, "model")) {
		snprintf(def->why, sizeof(def->why), "attributes.model is set already");
	} else if ((m = find_model(models, def)) && !follow(doc, attrs, m, def, err)) {
		return false;
	}
	if (def->outcome == CTL_DEF_MODEL) {
		return true;
	}
	const cJSON *taken = cJSON_GetObjectItemCaseSensitive(attrs, "definition");
	if (taken && !cJSON_Compare(taken, d, 1)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST,
				"attributes.definition holds something else: cannot keep the definition '%.64s' there",
				d->valuestring);
		return false;
	}
	if (!taken && !twin_json_set(attrs, "definition", cJSON_CreateString(d->valuestring))) {
		twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
		return false;
	}
	def->outcome = CTL_DEF_KEPT;
	return true;
}

cJSON *ctl_ditto_thing(const cJSON *thing, const struct twin_models *models, struct ctl_definition *def,
		struct twin_error *err)
{
	char id[TWIN_MAX_ID_LEN + 1];
	const cJSON *thing_id = cJSON_GetObjectItemCaseSensitive(thing, "thingId");
	const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(thing, "attributes");
	const cJSON *features = cJSON_GetObjectItemCaseSensitive(thing, "features");
	*def = (struct ctl_definition){CTL_DEF_NONE, NULL, "", ""};
	if (!cJSON_IsObject(thing) || !cJSON_IsString(thing_id)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "not a Ditto thing (an object with a thingId)");
		return NULL;
	}
	if ((attrs && !cJSON_IsObject(attrs)) || (features && !cJSON_IsObject(features))) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "%s is not an object",
				attrs && !cJSON_IsObject(attrs) ? "attributes" : "features");
		return NULL;
	}
	if (!ctl_ditto_twin_id(thing_id->valuestring, id, err)) {
		return NULL;
	}
	cJSON *doc = cJSON_CreateObject(), *reported = NULL, *desired = NULL;
	bool ok = doc && cJSON_AddStringToObject(doc, "id", id) &&
			twin_json_set(doc, "attributes", attrs ? cJSON_Duplicate(attrs, 1) : cJSON_CreateObject()) &&
			(reported = cJSON_AddObjectToObject(doc, "reported")) &&
			(desired = cJSON_AddObjectToObject(doc, "desired"));
	if (!ok) {
		twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	ok = ok && map_features(features, "properties", reported, err) &&
			map_features(features, "desiredProperties", desired, err) && map_meta(thing, doc, err) &&
			map_definition(thing, doc, models, def, err);
	if (!ok) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}
