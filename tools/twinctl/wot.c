/* wot.c - a WoT Thing Model as a twin model (see wot.h).
 *
 * Each kept keyword is compiled on its own by the model subset's compiler (schema.c) before it is kept,
 * so a value the subset refuses is reported where the Thing Model has it; the finished model is then
 * loaded as the broker loads a model file (twin_model_parse), so what comes out always loads. */
#include "wot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "model.h"
#include "schema.h"

enum kind {
	KEEP,    /* copied as it is */
	SCHEMAS, /* an object of data schemas (properties) */
	SCHEMA,  /* a data schema or a boolean (items, additionalProperties) */
	SECTION, /* readOnly, writeOnly: decide a property's section */
	LEAVE,   /* left out, with the reason */
};

struct keyword {
	const char *name;
	enum kind kind;
	const char *why; /* LEAVE */
};

static const char not_data[] = "protocol and security details, not data";
static const char other_languages[] = "a model has no other languages";
static const char not_in_subset[] = "not in the model subset";

/* A data schema's keywords (a property is one, with those of an interaction affordance). */
static const struct keyword schema_keywords[] = {
		{"type", KEEP, NULL},
		{"enum", KEEP, NULL},
		{"const", KEEP, NULL},
		{"default", KEEP, NULL},
		{"unit", KEEP, NULL},
		{"title", KEEP, NULL},
		{"description", KEEP, NULL},
		{"minimum", KEEP, NULL},
		{"maximum", KEEP, NULL},
		{"exclusiveMinimum", KEEP, NULL},
		{"exclusiveMaximum", KEEP, NULL},
		{"multipleOf", KEEP, NULL},
		{"minLength", KEEP, NULL},
		{"maxLength", KEEP, NULL},
		{"pattern", KEEP, NULL},
		{"required", KEEP, NULL},
		{"minItems", KEEP, NULL},
		{"maxItems", KEEP, NULL},
		{"properties", SCHEMAS, NULL},
		{"items", SCHEMA, NULL},
		{"additionalProperties", SCHEMA, NULL},
		{"readOnly", SECTION, NULL},
		{"writeOnly", SECTION, NULL},
		{"observable", LEAVE, "how a property is read, not what it holds"},
		{"forms", LEAVE, not_data},
		{"uriVariables", LEAVE, not_data},
		{"@type", LEAVE, "a semantic annotation"},
		{"titles", LEAVE, other_languages},
		{"descriptions", LEAVE, other_languages},
		{"format", LEAVE, "the model subset checks no formats"},
		{"oneOf", LEAVE, "not in the model subset: the values it would refuse are accepted"},
		{"tm:ref", LEAVE, "a reference to another Thing Model, not followed: copy what it names by hand"},
};

/* The members of a Thing Model that are left out (title, description, version and properties are read;
 * @context and @type say that it is one). */
static const struct keyword tm_keywords[] = {
		{"actions", LEAVE, "a twin model holds state, not actions"},
		{"events", LEAVE, "a twin model holds state, not events: write alarm rules by hand"},
		{"links", LEAVE, "not followed (tm:extends, tm:submodel): convert those Thing Models as well"},
		{"tm:required", LEAVE, "what a Thing Description must offer, not which values a twin must hold"},
		{"titles", LEAVE, other_languages},
		{"descriptions", LEAVE, other_languages},
		{"forms", LEAVE, not_data},
		{"securityDefinitions", LEAVE, not_data},
		{"security", LEAVE, not_data},
		{"base", LEAVE, not_data},
		{"uriVariables", LEAVE, not_data},
		{"id", LEAVE, "the id of one Thing, not of a model"},
};

struct conv {
	struct ctl_wot_notes *notes;
	struct twin_error *err;
};

static bool nomem(struct conv *c)
{
	twin_fail(c->err, TWIN_ERR_NOMEM, "out of memory");
	return false;
}

/* at + "/" + key, escaped as a JSON pointer ("~" -> "~0", "/" -> "~1"); cut short when too long. */
static void pointer(char *out, size_t size, const char *at, const char *key)
{
	size_t n = (size_t)snprintf(out, size, "%s/", at);
	for (; *key && n + 3 < size; key++) {
		if (*key == '~' || *key == '/') {
			out[n++] = '~';
			out[n++] = *key == '~' ? '0' : '1';
		} else {
			out[n++] = *key;
		}
	}
	out[n < size ? n : size - 1] = '\0';
}

static bool note(struct conv *c, const char *what, const char *why, const char *where)
{
	struct ctl_wot_notes *notes = c->notes;
	struct ctl_wot_note *n = NULL;
	for (size_t i = 0; i < notes->n && !n; i++) {
		if (!strcmp(notes->v[i].what, what) && !strcmp(notes->v[i].why, why)) {
			n = &notes->v[i];
		}
	}
	if (!n) {
		struct ctl_wot_note *v = realloc(notes->v, (notes->n + 1) * sizeof(*v));
		if (!v) {
			return nomem(c);
		}
		notes->v = v;
		n = memset(&v[notes->n++], 0, sizeof(*v));
		snprintf(n->what, sizeof(n->what), "%s", what);
		snprintf(n->why, sizeof(n->why), "%s", why);
	}
	if (n->count < 3) {
		snprintf(n->where[n->count], sizeof(n->where[0]), "%s", where);
	}
	n->count++;
	return true;
}

static const struct keyword *find(const struct keyword *table, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(table[i].name, name)) {
			return &table[i];
		}
	}
	return NULL;
}

/* "{{MAX_TEMP}}": a value that the Thing Description made of the Thing Model fills in. */
static bool placeholder(const cJSON *v)
{
	const char *open = cJSON_IsString(v) ? strstr(v->valuestring, "{{") : NULL;
	return open && strstr(open, "}}");
}

/* Copies kw into out when the model subset takes its value; a placeholder or a pattern POSIX cannot take
 * is left out with a note; any other value the subset refuses fails (at: the schema holding kw). */
static bool keep(struct conv *c, cJSON *out, const cJSON *kw, const char *at)
{
	char where[TWIN_MAX_ID_LEN];
	struct twin_error kerr;
	bool text = !strcmp(kw->string, "title") || !strcmp(kw->string, "description");
	pointer(where, sizeof(where), at, kw->string);
	if (!text && placeholder(kw)) {
		return note(c, kw->string, "a Thing Model placeholder: put the value in the model", where);
	}
	cJSON *probe = cJSON_CreateObject();
	if (!probe || !twin_json_set(probe, kw->string, cJSON_Duplicate(kw, 1))) {
		cJSON_Delete(probe);
		return nomem(c);
	}
	struct twin_schema *s = twin_schema_compile(probe, at, &kerr);
	cJSON_Delete(probe);
	if (s) {
		twin_schema_free(s);
		return twin_json_set(out, kw->string, cJSON_Duplicate(kw, 1)) || nomem(c);
	}
	if (kerr.rc == TWIN_ERR_NOMEM) {
		return nomem(c);
	}
	if (!strcmp(kw->string, "pattern") && cJSON_IsString(kw)) {
		return note(c, "pattern", "POSIX regular expressions do not read it as JSON Schema does: write it "
				"with [0-9], [[:space:]] and the like", where);
	}
	twin_fail(c->err, TWIN_ERR_BAD_REQUEST, "%s", kerr.msg);
	return false;
}

static cJSON *schema_of(struct conv *c, const cJSON *ds, const char *at, bool property);

static bool convert_properties(struct conv *c, cJSON *out, const cJSON *props, const char *at)
{
	char here[TWIN_MAX_ID_LEN], there[TWIN_MAX_ID_LEN];
	pointer(here, sizeof(here), at, "properties");
	if (!cJSON_IsObject(props)) {
		twin_fail(c->err, TWIN_ERR_BAD_REQUEST, "%s: must be an object of data schemas", here);
		return false;
	}
	cJSON *o = cJSON_CreateObject();
	if (!twin_json_set(out, "properties", o)) {
		return nomem(c);
	}
	for (const cJSON *p = props->child; p; p = p->next) {
		pointer(there, sizeof(there), here, p->string);
		cJSON *s = schema_of(c, p, there, false);
		if (!s) {
			return false;
		}
		if (!twin_json_set(o, p->string, s)) {
			return nomem(c);
		}
	}
	return true;
}

/* items or additionalProperties */
static bool convert_schema(struct conv *c, cJSON *out, const cJSON *kw, const char *at)
{
	char here[TWIN_MAX_ID_LEN];
	pointer(here, sizeof(here), at, kw->string);
	if (cJSON_IsBool(kw)) {
		return twin_json_set(out, kw->string, cJSON_Duplicate(kw, 0)) || nomem(c);
	}
	if (cJSON_IsArray(kw) && !strcmp(kw->string, "items")) {
		return note(c, "items", "a schema for each position (a tuple): not in the model subset", here);
	}
	cJSON *s = schema_of(c, kw, here, false);
	return s && (twin_json_set(out, kw->string, s) || nomem(c));
}

static bool convert_keyword(struct conv *c, cJSON *out, const cJSON *kw, const char *at, bool property)
{
	const struct keyword *k = find(schema_keywords, sizeof(schema_keywords) / sizeof(schema_keywords[0]),
			kw->string);
	char where[TWIN_MAX_ID_LEN];
	switch (k ? k->kind : LEAVE) {
		case KEEP:
			return keep(c, out, kw, at);
		case SCHEMAS:
			return convert_properties(c, out, kw, at);
		case SCHEMA:
			return convert_schema(c, out, kw, at);
		case SECTION:
			pointer(where, sizeof(where), at, kw->string);
			if (!cJSON_IsBool(kw)) {
				twin_fail(c->err, TWIN_ERR_BAD_REQUEST, "%s: must be true or false", where);
				return false;
			}
			return property || note(c, kw->string, "only a property's own decides its section", where);
		case LEAVE:
			break;
	}
	pointer(where, sizeof(where), at, kw->string);
	return note(c, kw->string, k ? k->why : not_in_subset, where);
}

/* The model schema of the data schema ds at the Thing Model's pointer at; property: ds is a property
 * (its readOnly and writeOnly are read by the caller). NULL with c->err. */
static cJSON *schema_of(struct conv *c, const cJSON *ds, const char *at, bool property)
{
	if (!cJSON_IsObject(ds)) {
		twin_fail(c->err, TWIN_ERR_BAD_REQUEST, "%s: must be an object (a data schema)", at);
		return NULL;
	}
	cJSON *out = cJSON_CreateObject();
	bool ok = out || nomem(c);
	for (const cJSON *kw = ds->child; ok && kw; kw = kw->next) {
		ok = convert_keyword(c, out, kw, at, property);
	}
	if (!ok) {
		cJSON_Delete(out);
		return NULL;
	}
	return out;
}

/* Adds the section schema {"type": "object", "properties": {}} (closed: with additionalProperties false)
 * to model as name; returns it, NULL on OOM. */
static cJSON *add_section(cJSON *model, const char *name, bool closed)
{
	cJSON *s = cJSON_CreateObject();
	if (!s || !cJSON_AddStringToObject(s, "type", "object") || !cJSON_AddObjectToObject(s, "properties") ||
			(closed && !cJSON_AddFalseToObject(s, "additionalProperties"))) {
		cJSON_Delete(s);
		return NULL;
	}
	return twin_json_set(model, name, s) ? s : NULL;
}

/* Each property into reported, desired or both (wot.h). */
static bool add_properties(struct conv *c, const cJSON *props, cJSON *reported, cJSON *desired)
{
	cJSON *in_reported = cJSON_GetObjectItemCaseSensitive(reported, "properties");
	cJSON *in_desired = cJSON_GetObjectItemCaseSensitive(desired, "properties");
	char at[TWIN_MAX_ID_LEN];
	if (!cJSON_IsObject(props)) {
		twin_fail(c->err, TWIN_ERR_BAD_REQUEST, "/properties: must be an object of property affordances");
		return false;
	}
	for (const cJSON *p = props->child; p; p = p->next) {
		pointer(at, sizeof(at), "/properties", p->string);
		cJSON *s = schema_of(c, p, at, true);
		if (!s) {
			return false;
		}
		bool read_only = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "readOnly"));
		bool write_only = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "writeOnly"));
		if (read_only && write_only) {
			cJSON_Delete(s);
			twin_fail(c->err, TWIN_ERR_BAD_REQUEST, "%s: readOnly and writeOnly are both true", at);
			return false;
		}
		if (!twin_json_set(write_only ? in_desired : in_reported, p->string, s) ||
				(!read_only && !write_only && !twin_json_set(in_desired, p->string, cJSON_Duplicate(s, 1)))) {
			return nomem(c);
		}
	}
	return true;
}

/* title, description and version.model of tm into model. */
static bool add_about(struct conv *c, const cJSON *tm, cJSON *model)
{
	static const char *const texts[] = {"title", "description"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(tm, texts[i]);
		if (t && !cJSON_IsString(t)) {
			twin_fail(c->err, TWIN_ERR_BAD_REQUEST, "/%s: must be a string", texts[i]);
			return false;
		}
		if (t && !cJSON_AddStringToObject(model, texts[i], t->valuestring)) {
			return nomem(c);
		}
	}
	const cJSON *version = cJSON_GetObjectItemCaseSensitive(tm, "version");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(version, "model");
	if (cJSON_IsString(v)) {
		return cJSON_AddStringToObject(model, "version", v->valuestring) || nomem(c);
	}
	return !version || note(c, "version", "only version.model (a string) becomes the model's version", "/version");
}

static bool note_others(struct conv *c, const cJSON *tm)
{
	static const char *const read[] = {"@context", "@type", "title", "description", "version", "properties"};
	char where[TWIN_MAX_ID_LEN];
	for (const cJSON *m = tm->child; m; m = m->next) {
		bool is_read = false;
		for (size_t i = 0; i < sizeof(read) / sizeof(read[0]); i++) {
			is_read |= !strcmp(m->string, read[i]);
		}
		const struct keyword *k = find(tm_keywords, sizeof(tm_keywords) / sizeof(tm_keywords[0]), m->string);
		pointer(where, sizeof(where), "", m->string);
		if (!is_read && !note(c, m->string, k ? k->why : not_in_subset, where)) {
			return false;
		}
	}
	return true;
}

/* Fails when model does not load as the broker would load it. */
static bool loads(struct conv *c, const cJSON *model)
{
	struct twin_model m;
	struct twin_error merr;
	size_t len;
	char *text = twin_json_print(model, &len);
	if (!text) {
		return nomem(c);
	}
	enum twin_rc rc = twin_model_parse(text, len, &m, &merr);
	free(text);
	twin_model_free(&m);
	if (rc) {
		twin_fail(c->err, rc, "the model made of it does not load: %s", merr.msg);
	}
	return rc == TWIN_OK;
}

cJSON *ctl_wot_model(const cJSON *tm, const char *name, struct ctl_wot_notes *notes, struct twin_error *err)
{
	struct conv c = {notes, err};
	*notes = (struct ctl_wot_notes){NULL, 0};
	if (!cJSON_IsObject(tm)) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "a Thing Model must be a JSON object");
		return NULL;
	}
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(tm, "properties");
	cJSON *model = cJSON_CreateObject();
	bool ok = (model && cJSON_AddStringToObject(model, "name", name)) || nomem(&c);
	ok = ok && add_about(&c, tm, model);
	cJSON *reported = ok ? add_section(model, "reported", false) : NULL;
	cJSON *desired = reported ? add_section(model, "desired", true) : NULL;
	ok = ok && (desired || nomem(&c)) && (!props || add_properties(&c, props, reported, desired)) &&
			note_others(&c, tm) && loads(&c, model);
	if (!ok) {
		cJSON_Delete(model);
		return NULL;
	}
	return model;
}

void ctl_wot_notes_free(struct ctl_wot_notes *notes)
{
	free(notes->v);
	*notes = (struct ctl_wot_notes){NULL, 0};
}
