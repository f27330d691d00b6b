/* scope.c - search scoping (see scope.h).
 *
 * plugin_opt_search_scope takes one of two forms, each a template in which %u is the requester's
 * username, %c its client id and %% a percent sign:
 *   id:<prefix>               the twins whose id starts with the prefix, e.g. id:%u:  (ids "acme:...")
 *   attributes/<path>=<value> the twins whose attribute at path is that string, e.g.
 *                             attributes/tenant=%u
 * Binding a template to a requester fails closed: a placeholder whose value is missing or empty, a
 * value holding the character that follows its placeholder in the template (so that tenant "a" never
 * sees tenant "a:b"'s twins through id:%u:), or, in an id prefix, a character no id can hold, scopes the
 * requester to nothing. An id prefix must end with a literal character (id:%u alone would let user "ab"
 * see user "abc"'s twins) and two placeholders may not touch. Usernames on the exempt list search every
 * twin. Only attributes may decide a scope: reported values come from devices' telemetry.
 * Pure: called on the searcher thread per search and by the config parser. */
#include "scope.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

#define OPT "plugin_opt_search_scope"
#define ID_FORM "id:"
#define ATTR_FORM "attributes/"

static bool path_char(char c)
{
	return isalnum((unsigned char)c) || (unsigned char)c >= 0x80 || (c && strchr("_-.:$@", c));
}

/* Placeholders: %u %c %% only, none touching another, and (id form) a literal at the end. */
static enum twin_rc check_template(const char *t, bool id_form, struct twin_error *err)
{
	bool last_was_placeholder = false;
	if (!*t) {
		return twin_fail(err, TWIN_ERR_CONFIG, OPT ": the %s is empty", id_form ? "id prefix" : "value");
	}
	for (size_t i = 0; t[i]; i++) {
		if (t[i] == '%' && t[i + 1] == '%') {
			last_was_placeholder = false;
			i++;
		} else if (t[i] == '%' && (t[i + 1] == 'u' || t[i + 1] == 'c')) {
			if (last_was_placeholder) {
				return twin_fail(err, TWIN_ERR_CONFIG,
						OPT ": put a separator between two placeholders in '%s'", t);
			}
			last_was_placeholder = true;
			i++;
		} else if (t[i] == '%') {
			return twin_fail(err, TWIN_ERR_CONFIG,
					OPT ": '%s' has an unknown placeholder (known: %%u username, %%c client id, %%%% a '%%')",
					t);
		} else if (id_form && strchr("/+#", t[i])) {
			return twin_fail(err, TWIN_ERR_CONFIG, OPT ": no twin id holds '%c' (in '%s')", t[i], t);
		} else {
			last_was_placeholder = false;
		}
	}
	if (id_form && last_was_placeholder) {
		return twin_fail(err, TWIN_ERR_CONFIG,
				OPT ": end the id prefix with a separator, e.g. id:%%u: (with '%s' user 'ab' would "
				"see the twins of user 'abc')",
				t);
	}
	return TWIN_OK;
}

enum twin_rc twin_scope_check(const char *spec, struct twin_error *err)
{
	if (!strncmp(spec, ID_FORM, strlen(ID_FORM))) {
		return check_template(spec + strlen(ID_FORM), true, err);
	}
	const char *eq = strchr(spec, '=');
	bool path_ok = !strncmp(spec, ATTR_FORM, strlen(ATTR_FORM)) && eq;
	for (const char *p = spec + strlen(ATTR_FORM); path_ok && p < eq; p++) {
		path_ok = path_char(*p) || (*p == '/' && p[-1] != '/' && p + 1 < eq);
	}
	if (!path_ok || eq == spec + strlen(ATTR_FORM)) {
		return twin_fail(err, TWIN_ERR_CONFIG,
				OPT ": '%s' is neither id:<prefix> (e.g. id:%%u:) nor attributes/<path>=<value> "
				"(e.g. attributes/tenant=%%u)",
				spec);
	}
	return check_template(eq + 1, false, err);
}

/* The name at p in a comma-separated list, without surrounding spaces; returns where the next one
 * starts, or NULL after the last. */
static const char *list_item(const char *p, const char **name, size_t *n)
{
	const char *comma = strchr(p, ',');
	size_t len = comma ? (size_t)(comma - p) : strlen(p);
	while (len && isspace((unsigned char)*p)) {
		p++, len--;
	}
	while (len && isspace((unsigned char)p[len - 1])) {
		len--;
	}
	*name = p;
	*n = len;
	return comma ? comma + 1 : NULL;
}

enum twin_rc twin_scope_exempt_check(const char *list, struct twin_error *err)
{
	const char *name;
	size_t n;
	for (const char *p = list; p;) {
		p = list_item(p, &name, &n);
		if (!n) {
			return twin_fail(err, TWIN_ERR_CONFIG,
					"plugin_opt_search_scope_exempt: '%s' has an empty name (a list such as ops,dashboard)",
					list);
		}
	}
	return TWIN_OK;
}

static bool exempt(const char *list, const char *username)
{
	const char *name;
	size_t n;
	for (const char *p = list; p;) {
		p = list_item(p, &name, &n);
		if (n == strlen(username) && !memcmp(name, username, n)) {
			return true;
		}
	}
	return false;
}

/* The template with its placeholders replaced; *nothing when a value makes the scope empty. */
static char *expand(const char *t, bool id_form, const char *username, const char *client_id,
		bool *nothing)
{
	size_t cap = strlen(t) + 1, n = 0;
	for (size_t i = 0; t[i]; i++) {
		if (t[i] == '%' && (t[i + 1] == 'u' || t[i + 1] == 'c')) {
			const char *v = t[i + 1] == 'u' ? username : client_id;
			cap += v ? strlen(v) : 0;
		}
	}
	char *out = malloc(cap);
	if (!out) {
		return NULL;
	}
	for (size_t i = 0; t[i]; i++) {
		if (t[i] != '%') {
			out[n++] = t[i];
			continue;
		}
		char what = t[++i];
		if (what == '%') {
			out[n++] = '%';
			continue;
		}
		const char *v = what == 'u' ? username : client_id;
		char next = t[i + 1]; /* the separator after the placeholder ('%' also stands for "%%") */
		if (!v || !*v || (next && strchr(v, next)) || (id_form && strpbrk(v, "/+#"))) {
			*nothing = true;
			v = "";
		}
		memcpy(out + n, v, strlen(v));
		n += strlen(v);
	}
	out[n] = '\0';
	return out;
}

enum twin_rc twin_scope_bind(struct twin_scope *s, const char *spec, const char *exempt_list,
		const char *username, const char *client_id)
{
	bool nothing = false;
	memset(s, 0, sizeof(*s));
	if (!spec || (exempt_list && username && exempt(exempt_list, username))) {
		s->kind = TWIN_SCOPE_ALL;
		return TWIN_OK;
	}
	if (!strncmp(spec, ID_FORM, strlen(ID_FORM))) {
		s->kind = TWIN_SCOPE_ID_PREFIX;
		if (!(s->prefix = expand(spec + strlen(ID_FORM), true, username, client_id, &nothing))) {
			return TWIN_ERR_NOMEM;
		}
		s->prefix_len = strlen(s->prefix);
	} else {
		const char *eq = strchr(spec, '=');
		s->kind = TWIN_SCOPE_ATTRIBUTE;
		/* eq is there: the spec was checked */
		if (!eq || !(s->path = strndup(spec, (size_t)(eq - spec))) ||
				!(s->value = expand(eq + 1, false, username, client_id, &nothing))) {
			twin_scope_free(s);
			return TWIN_ERR_NOMEM;
		}
	}
	if (nothing) {
		twin_scope_free(s);
		s->kind = TWIN_SCOPE_NOTHING;
	}
	return TWIN_OK;
}

void twin_scope_free(struct twin_scope *s)
{
	free(s->prefix);
	free(s->path);
	free(s->value);
	s->prefix = s->path = s->value = NULL;
	s->prefix_len = 0;
}

bool twin_scope_admits_id(const struct twin_scope *s, const char *id, size_t id_len)
{
	switch (s->kind) {
		case TWIN_SCOPE_NOTHING:
			return false;
		case TWIN_SCOPE_ID_PREFIX:
			return id_len >= s->prefix_len && !memcmp(id, s->prefix, s->prefix_len);
		default:
			return true;
	}
}

bool twin_scope_past(const struct twin_scope *s, const char *id, size_t id_len)
{
	if (s->kind != TWIN_SCOPE_ID_PREFIX) {
		return s->kind == TWIN_SCOPE_NOTHING;
	}
	/* memcmp order, as LMDB keeps the ids: an id equal to the prefix so far is within or before it */
	size_t n = id_len < s->prefix_len ? id_len : s->prefix_len;
	return memcmp(id, s->prefix, n) > 0;
}

bool twin_scope_admits(const struct twin_scope *s, const char *id, size_t id_len, const cJSON *doc)
{
	if (!twin_scope_admits_id(s, id, id_len)) {
		return false;
	}
	if (s->kind != TWIN_SCOPE_ATTRIBUTE) {
		return true;
	}
	const cJSON *v = twin_query_path(doc, s->path);
	return cJSON_IsString(v) && !strcmp(v->valuestring, s->value);
}
