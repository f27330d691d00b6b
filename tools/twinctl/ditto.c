/* ditto.c - Eclipse Ditto things as twin documents (see ditto.h).
 *
 * Ditto ids are "namespace:name" with at most 256 characters; the name may hold any character but '/'
 * and control characters, so ':' stays (it is allowed in twin ids) and only what an MQTT topic level
 * cannot carry ('+', '#') is percent-encoded, with '%' itself, so the mapping can be undone. The result
 * is checked like every other imported document (import_doc.c) afterwards. */
#include "ditto.h"

#include <stdio.h>
#include <string.h>

#include "jsonx.h"
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

cJSON *ctl_ditto_thing(const cJSON *thing, struct twin_error *err)
{
	char id[TWIN_MAX_ID_LEN + 1];
	const cJSON *thing_id = cJSON_GetObjectItemCaseSensitive(thing, "thingId");
	const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(thing, "attributes");
	const cJSON *features = cJSON_GetObjectItemCaseSensitive(thing, "features");
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
			map_features(features, "desiredProperties", desired, err) && map_meta(thing, doc, err);
	if (!ok) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}
