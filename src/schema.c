/* schema.c - the JSON Schema (2020-12) subset of twin models (see schema.h): compiling a cJSON schema into
 * a read-only tree, and checking values against it.
 *
 * Compiling walks the schema once through a keyword table (one row per keyword: the function that reads
 * its value and where that value goes), so every keyword has exactly one place that refuses a wrong value,
 * naming the JSON pointer of the keyword, and a name missing from the table refuses the schema. Everything
 * a check needs is prepared there: property and required names sorted for binary search, the regular
 * expression compiled, enum and const values copied (the compiled schema borrows nothing from the cJSON
 * one). Patterns are POSIX extended regular expressions, not ECMA 262 ones: an escape that means something
 * else in the two (\d is a plain "d" to regcomp) is refused rather than silently matching other text.
 *
 * Checking allocates nothing and follows the value in document order: a node's own rules (type, enum,
 * const, bounds, lengths, required, counts) before its members or items, so the failure reported is the
 * first one in the document. The descent keeps the way from the root as a chain of stack frames (struct
 * at) and writes the JSON pointer from it only when something fails; messages show values through a
 * bounded writer that cuts long text at a UTF-8 boundary.
 *
 * Thread: any. A compiled schema is never written after twin_schema_compile returns (and glibc's regexec
 * on a shared regex_t is thread-safe), so one schema may be checked from several threads at once.
 * Must never: allocate during a check, recurse deeper than MAX_DEPTH schemas, or ignore a keyword. */
#include "schema.h"

#include <float.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonidx.h"
#include "jsonx.h"

#define MAX_DEPTH    32   /* schemas within schemas, the root included */
#define MAX_REQUIRED 4096 /* names in one required list: a check marks them in a bitmap on its stack */
#define MAX_PATTERN_SIZE 1000 /* elements of a pattern once regcomp expands it (see read_pattern_syntax) */
#define SHOW_MAX     48   /* bytes of a value (or name, or pattern) shown in a message before "..." */
#define SHOW_LEN     (SHOW_MAX + 4)

/* ---- types: "integer" is a number with no fraction ---- */

enum {
	T_NULL = 1u << 0,
	T_BOOLEAN = 1u << 1,
	T_OBJECT = 1u << 2,
	T_ARRAY = 1u << 3,
	T_NUMBER = 1u << 4,
	T_STRING = 1u << 5,
	T_INTEGER = 1u << 6,
};

static const struct {
	const char *name, *phrase;
} type_names[] = {{"null", "null"}, {"boolean", "a boolean"}, {"object", "an object"}, {"array", "an array"},
		{"number", "a number"}, {"string", "a string"}, {"integer", "an integer"}};
#define N_TYPES (sizeof(type_names) / sizeof(type_names[0]))

/* ---- the compiled schema ---- */

enum keyword {
	KW_TYPE,
	KW_ENUM,
	KW_CONST,
	KW_MINIMUM,
	KW_MAXIMUM,
	KW_EXCLUSIVE_MINIMUM,
	KW_EXCLUSIVE_MAXIMUM,
	KW_MULTIPLE_OF,
	KW_MIN_LENGTH,
	KW_MAX_LENGTH,
	KW_PATTERN,
	KW_PROPERTIES,
	KW_REQUIRED,
	KW_ADDITIONAL_PROPERTIES,
	KW_ITEMS,
	KW_MIN_ITEMS,
	KW_MAX_ITEMS,
	KW_TITLE,
	KW_DESCRIPTION,
	KW_UNIT,
	KW_DEFAULT,
	KW_COMMENT,
	KW_DIALECT, /* $schema */
	N_KEYWORDS
};

#define BIT(k)        (1u << (k))
#define SPAN(lo, hi)  ((BIT(hi) << 1) - BIT(lo)) /* the bits of keywords lo..hi */
#define NUMBER_RULES  SPAN(KW_MINIMUM, KW_MULTIPLE_OF)
#define STRING_RULES  SPAN(KW_MIN_LENGTH, KW_PATTERN)
#define MEMBER_RULES  (BIT(KW_PROPERTIES) | BIT(KW_ADDITIONAL_PROPERTIES))
#define ARRAY_RULES   SPAN(KW_ITEMS, KW_MAX_ITEMS)
#define RULES         SPAN(KW_TYPE, KW_MAX_ITEMS) /* every keyword but the annotations */

/* A name of a properties or required list; each list is sorted by name (compare_name) for binary search. */
struct entry {
	char *name;
	size_t len;
	struct twin_schema *schema; /* properties: the member's schema; required: NULL */
	size_t order;               /* required: the name's place in the schema's list */
};

struct twin_schema {
	unsigned has;   /* BIT(KW_*) of the keywords given */
	bool never;     /* the schema false */
	unsigned types; /* KW_TYPE: T_* */
	cJSON *enum_values, *const_value;
	double minimum, maximum, exclusive_minimum, exclusive_maximum, multiple_of;
	size_t min_length, max_length, min_items, max_items;
	regex_t pattern;
	char *pattern_text;
	struct entry *properties, *required;
	size_t n_properties, n_required;
	struct twin_schema *additional; /* additionalProperties; false compiles to a schema that is never */
	struct twin_schema *items;
};

/* ---- bounded text: JSON pointers and the values shown in messages ---- */

struct text {
	char *buf;
	size_t cap; /* bytes of text at most; buf has room for one more, the NUL */
	size_t len;
	bool cut;   /* something did not fit, and nothing more is written */
};

static void put(struct text *t, const char *s, size_t n)
{
	if (t->cut) {
		return;
	}
	if (n > t->cap - t->len) {
		n = t->cap - t->len;
		/* no UTF-8 sequence split: back to its lead byte, at most 3 bytes back (text that is not UTF-8
		 * may have a longer run of continuation bytes) */
		for (int back = 0; back < 3 && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80; back++) {
			n--;
		}
		t->cut = true;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static void put_str(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

/* Writes s with each byte that escape() has a replacement for replaced. */
static void put_escaped(struct text *t, const char *s, const char *(*escape)(unsigned char c, char buf[8]))
{
	char buf[8];
	const char *run = s;
	for (const char *p = s;; p++) {
		const char *esc = *p ? escape((unsigned char)*p, buf) : NULL;
		if (*p && !esc) {
			continue;
		}
		put(t, run, (size_t)(p - run));
		if (!*p) {
			return;
		}
		put_str(t, esc);
		run = p + 1;
	}
}

static const char *json_escape(unsigned char c, char buf[8])
{
	switch (c) {
		case '"':
			return "\\\"";
		case '\\':
			return "\\\\";
		case '\n':
			return "\\n";
		case '\t':
			return "\\t";
		case '\r':
			return "\\r";
		default:
			break;
	}
	if (c < 0x20) {
		snprintf(buf, 8, "\\u%04x", c);
		return buf;
	}
	return NULL;
}

static const char *pointer_escape(unsigned char c, char buf[8])
{
	(void)buf;
	return c == '~' ? "~0" : c == '/' ? "~1" : NULL;
}

static void put_quoted(struct text *t, const char *s)
{
	put(t, "\"", 1);
	put_escaped(t, s, json_escape);
	put(t, "\"", 1);
}

/* One JSON pointer segment: a member name, or an index when key is NULL. */
static void put_segment(struct text *t, const char *key, size_t index)
{
	if (key) {
		put(t, "/", 1);
		put_escaped(t, key, pointer_escape);
		return;
	}
	char num[24];
	put(t, num, (size_t)snprintf(num, sizeof(num), "/%zu", index));
}

/* Compact JSON; each level writes a bracket before going deeper, so a cut ends the descent quickly. */
static void put_value(struct text *t, const cJSON *v)
{
	char num[32];
	switch (v->type & 0xFF) {
		case cJSON_False:
			put_str(t, "false");
			return;
		case cJSON_True:
			put_str(t, "true");
			return;
		case cJSON_NULL:
			put_str(t, "null");
			return;
		case cJSON_Number:
			put(t, num, twin_json_format_number(num, v->valuedouble));
			return;
		case cJSON_String:
			put_quoted(t, v->valuestring);
			return;
		case cJSON_Array:
		case cJSON_Object:
			break;
		default:
			put_str(t, "?");
			return;
	}
	bool object = cJSON_IsObject(v);
	put(t, object ? "{" : "[", 1);
	for (const cJSON *c = v->child; c && !t->cut; c = c->next) {
		if (c != v->child) {
			put(t, ",", 1);
		}
		if (object) {
			put_quoted(t, c->string ? c->string : "");
			put(t, ":", 1);
		}
		put_value(t, c);
	}
	put(t, object ? "}" : "]", 1);
}

/* What a message shows: at most SHOW_MAX bytes, then "..." when that cut something. */
static struct text show_start(char out[SHOW_LEN])
{
	out[0] = '\0';
	return (struct text){out, SHOW_MAX, 0, false};
}

static void show_end(struct text *t)
{
	if (t->cut) {
		memcpy(t->buf + t->len, "...", 4);
	}
}

/* v as compact JSON. */
static void show_value(char out[SHOW_LEN], const cJSON *v)
{
	struct text t = show_start(out);
	put_value(&t, v);
	show_end(&t);
}

/* A member name, or any text, as a JSON string. */
static void show_name(char out[SHOW_LEN], const char *name)
{
	struct text t = show_start(out);
	put_quoted(&t, name);
	show_end(&t);
}

static void show_number(char out[32], double d)
{
	size_t n = twin_json_format_number(out, d);
	out[n < 31 ? n : 31] = '\0';
}

/* ---- compiling ---- */

struct compiler {
	struct twin_error *err;
	int depth;
	struct text at; /* the JSON pointer of what is being read, in ptr */
	char ptr[200];
};

static bool refuse(struct compiler *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool refuse(struct compiler *c, const char *fmt, ...)
{
	char what[TWIN_ERRMSG_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (c->ptr[0]) {
		twin_fail(c->err, TWIN_ERR_CONFIG, "%s: %s", c->ptr, what);
	} else {
		twin_fail(c->err, TWIN_ERR_CONFIG, "%s", what);
	}
	return false;
}

static bool out_of_memory(struct compiler *c)
{
	twin_fail(c->err, TWIN_ERR_NOMEM, "out of memory compiling a schema");
	return false;
}

/* Steps into a member (key) or an element (index) of what is being read; returns the way back. */
static struct text enter(struct compiler *c, const char *key, size_t index)
{
	struct text back = c->at;
	put_segment(&c->at, key, index);
	return back;
}

static void leave(struct compiler *c, struct text back)
{
	c->at = back;
	c->ptr[back.len] = '\0';
}

static struct twin_schema *compile(struct compiler *c, const cJSON *j);

/* Shorter names first, then by bytes: most lookups are decided by lengths alone, without a memcmp. */
static int compare_name(const char *a, size_t a_len, const char *b, size_t b_len)
{
	return a_len != b_len ? (a_len > b_len) - (a_len < b_len) : memcmp(a, b, a_len);
}

static int compare_entries(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return compare_name(x->name, x->len, y->name, y->len);
}

static const struct entry *find_entry(const struct entry *e, size_t n, const char *name, size_t len)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = compare_name(name, len, e[mid].name, e[mid].len);
		if (!d) {
			return &e[mid];
		}
		if (d < 0) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return NULL;
}

/* Sorts a list of names read at c's pointer; a name given twice refuses it. */
static bool sort_entries(struct compiler *c, struct entry *e, size_t n)
{
	if (n > 1) { /* an empty list has no array, and qsort must not be given NULL */
		qsort(e, n, sizeof(*e), compare_entries);
	}
	for (size_t i = 1; i < n; i++) {
		if (!compare_entries(&e[i - 1], &e[i])) {
			char shown[SHOW_LEN];
			show_name(shown, e[i].name);
			return refuse(c, "%s is given twice", shown);
		}
	}
	return true;
}

/* A new entry at the end of a list allocated for it; false when out of memory. */
static bool add_entry(struct entry *list, size_t *n, const char *name)
{
	struct entry *e = &list[*n];
	if (!(e->name = strdup(name))) {
		return false;
	}
	e->len = strlen(name);
	e->order = (*n)++;
	return true;
}

static size_t count_children(const cJSON *j)
{
	size_t n = 0;
	for (const cJSON *m = j->child; m; m = m->next) {
		n++;
	}
	return n;
}

static bool read_type_name(struct compiler *c, struct twin_schema *s, const cJSON *j)
{
	size_t i = 0;
	while (i < N_TYPES && !(cJSON_IsString(j) && !strcmp(j->valuestring, type_names[i].name))) {
		i++;
	}
	if (i == N_TYPES) {
		return refuse(c, "must be one of null, boolean, object, array, number, string and integer, or an "
						 "array of them");
	}
	if (s->types & (1u << i)) {
		return refuse(c, "\"%s\" is listed twice", type_names[i].name);
	}
	s->types |= 1u << i;
	return true;
}

static bool read_type(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset)
{
	(void)offset;
	if (!cJSON_IsArray(j)) {
		return read_type_name(c, s, j);
	}
	if (!j->child) {
		return refuse(c, "must name at least one type");
	}
	size_t i = 0;
	for (const cJSON *t = j->child; t; t = t->next) {
		struct text back = enter(c, NULL, i++);
		if (!read_type_name(c, s, t)) {
			return false;
		}
		leave(c, back);
	}
	return true;
}

static bool read_enum(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset)
{
	(void)offset;
	if (!cJSON_IsArray(j) || !j->child) {
		return refuse(c, "must be an array of at least one value");
	}
	return (s->enum_values = cJSON_Duplicate(j, 1)) != NULL || out_of_memory(c);
}

static bool read_const(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset)
{
	(void)offset;
	return (s->const_value = cJSON_Duplicate(j, 1)) != NULL || out_of_memory(c);
}

static bool read_number(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset)
{
	if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble)) {
		return refuse(c, "must be a number");
	}
	*(double *)(void *)((char *)s + offset) = j->valuedouble;
	return true;
}

static bool read_multiple_of(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset)
{
	if (!cJSON_IsNumber(j) || !(j->valuedouble > 0)) {
		return refuse(c, "must be a number above 0");
	}
	return read_number(c, s, j, offset);
}

static bool read_count(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset)
{
	int64_t n;
	if (!twin_json_int64(j, &n) || n < 0) {
		return refuse(c, "must be a non-negative integer");
	}
	*(size_t *)(void *)((char *)s + offset) = (size_t)n;
	return true;
}

/* An escape that an ECMA 262 pattern (JSON Schema's dialect) may hold and regcomp reads differently: glibc
 * takes \d, \n, \p and the like for the plain letter (and so does a bracket expression, where a backslash
 * is itself), and \< \> \` \' for anchors where ECMA 262 has the plain character. Other escaped punctuation
 * and the GNU operators \w \W \s \S \b \B mean the same in both. */
static bool read_escape(struct compiler *c, char e, bool in_brackets)
{
	bool alnum = (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9');
	if ((alnum && (in_brackets || !strchr("wWsSbB", e))) || (e && !in_brackets && strchr("<>`'", e))) {
		return refuse(c, "\\%c means something else to regcomp (POSIX) than in ECMA 262 patterns: write a "
						 "bracket expression such as [0-9], [[:space:]] or [<]",
				e);
	}
	return true;
}

/* Moves *p from the '[' opening a bracket expression to its ']' (or the end of the text). */
static bool read_brackets(struct compiler *c, const char **p)
{
	const char *q = *p + 1;
	q += *q == '^';
	q += *q == ']'; /* a ']' first is a member */
	for (; *q && *q != ']'; q++) {
		if (*q == '\\' && !read_escape(c, q[1], true)) {
			return false;
		}
		if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) { /* [:alpha:], [.-.], [=e=] */
			const char end[3] = {q[1], ']', '\0'}, *close = strstr(q + 2, end);
			q = close ? close + 1 : q + strlen(q) - 1;
		}
	}
	*p = *q ? q : q - 1;
	return true;
}

/* A quantifier: how often its atom repeats, and how many copies of it regcomp makes (glibc expands a+ to aa*
 * and a{2,5} to five copies of a). */
struct quantifier {
	double min, copies;
	bool loop; /* no upper bound: *, + or {n,} */
};

/* Reads the quantifier at *p into q, moving *p to its last byte; false when *p is none. */
static bool read_quantifier(const char **p, struct quantifier *q)
{
	const char *s = *p;
	if (*s == '*' || *s == '+' || *s == '?') {
		*q = (struct quantifier){*s == '+', *s == '+' ? 2 : 1, *s != '?'};
		return true;
	}
	if (*s != '{' || !(s[1] >= '0' && s[1] <= '9')) {
		return false;
	}
	char *end;
	double n = (double)strtoul(s + 1, &end, 10), m = n;
	bool loop = false;
	if (*end == ',' && end[1] >= '0' && end[1] <= '9') {
		m = (double)strtoul(end + 1, &end, 10);
	} else if (*end == ',') {
		m = n + 1; /* a{n,} is n copies and a star */
		loop = true;
		end++;
	}
	if (*end != '}') {
		return false; /* not a bound: regcomp refuses it */
	}
	*p = end;
	*q = (struct quantifier){n, fmax(1, fmax(n, m)), loop};
	return true;
}

/* Moves *p over an atom: an escape, a bracket expression, any other byte; *zero_width: it matches the empty
 * string (an anchor). */
static bool read_atom(struct compiler *c, const char **p, bool *zero_width)
{
	*zero_width = **p == '^' || **p == '$';
	if (**p == '[') {
		return read_brackets(c, p);
	}
	if (**p != '\\') {
		return true;
	}
	if (!read_escape(c, (*p)[1], false)) {
		return false;
	}
	*zero_width = (*p)[1] == 'b' || (*p)[1] == 'B';
	*p += (*p)[1] != '\0'; /* a trailing backslash stays: regcomp refuses it */
	return true;
}

/* The whole pattern, or a group, as read_pattern_syntax scans it. */
struct level {
	double size, atom;    /* elements regcomp makes of the level so far, and of its last atom */
	bool atom_empty;      /* the last atom can match the empty string (true before the first) */
	bool before_empty;    /* so can everything before it in this alternative */
	bool empty;           /* so can an earlier alternative of the level */
};

static const struct level empty_level = {0, 0, true, true, false};

static void add_atom(struct level *l, double elements, bool can_be_empty)
{
	l->before_empty = l->before_empty && l->atom_empty;
	l->atom = elements;
	l->size += elements;
	l->atom_empty = can_be_empty;
}

static bool level_can_be_empty(const struct level *l)
{
	return l->empty || (l->before_empty && l->atom_empty);
}

/* Refuses escapes read_escape refuses, and patterns that regcomp would take gigabytes or minutes on: copies
 * of repeated atoms multiply with nesting, so a pattern may expand to at most MAX_PATTERN_SIZE elements
 * (atoms, groups and quantifiers, each copy counted); a group that can match the empty string repeated
 * without bound ((a*)*, (a|)+, ()*) and stacked quantifiers (a?????{800}) make regcomp's epsilon closures
 * grow out of all proportion. Stacked quantifiers are also ECMA 262's lazy ones (a+?), which regcomp reads
 * as a quantified quantifier ((a+)?, which matches nothing too). */
static bool read_pattern_syntax(struct compiler *c, const char *p)
{
	struct level levels[MAX_DEPTH + 1], *l = levels;
	bool quantified = false; /* the last token was a quantifier */
	*l = empty_level;
	for (; *p; p++) {
		struct quantifier q;
		bool zero_width, quantifier = read_quantifier(&p, &q);
		if (quantifier && quantified) {
			return refuse(c, "a quantifier follows another: regcomp reads a+? as (a+)?, not as ECMA 262's lazy "
							 "a+, and stacked ones multiply its work");
		} else if (quantifier && q.loop && l->atom > 0 && l->atom_empty) {
			return refuse(c, "a group that can match the empty string is repeated without bound (as in "
							 "(a*)* or (a|)+), which regcomp takes very long on: repeat what is inside");
		} else if (quantifier) { /* the copies, and the quantifier's own node */
			l->size += l->atom * (q.copies - 1) + 1;
			l->atom = l->atom * q.copies + 1;
			l->atom_empty = l->atom_empty || q.min == 0;
		} else if (*p == '(' && l == levels + MAX_DEPTH) {
			return refuse(c, "groups nested deeper than %d", MAX_DEPTH);
		} else if (*p == '(') {
			*++l = empty_level;
		} else if (*p == ')' && l > levels) {
			bool empty = level_can_be_empty(l);
			double elements = l->size + 1;
			add_atom(--l, elements, empty);
		} else if (*p == '|') {
			l->empty = level_can_be_empty(l);
			l->atom = 0;
			l->atom_empty = l->before_empty = true;
		} else if (!read_atom(c, &p, &zero_width)) {
			return false;
		} else {
			add_atom(l, 1, zero_width);
		}
		quantified = quantifier;
		if (l->size > MAX_PATTERN_SIZE) {
			return refuse(c, "too large once regcomp expands its repetitions (a{n} is n copies of a, a+ two, "
							 "and they multiply when nested): at most %d elements",
					MAX_PATTERN_SIZE);
		}
	}
	return true;
}

static bool read_pattern(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset)
{
	(void)offset;
	if (!cJSON_IsString(j)) {
		return refuse(c, "must be a string");
	}
	if (!read_pattern_syntax(c, j->valuestring)) {
		return false;
	}
	if (!(s->pattern_text = strdup(j->valuestring))) {
		return out_of_memory(c);
	}
	int rc = regcomp(&s->pattern, j->valuestring, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		char why[128];
		regerror(rc, &s->pattern, why, sizeof(why));
		return refuse(c, "not a POSIX extended regular expression: %s", why);
	}
	return true;
}

static bool read_properties(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset)
{
	(void)offset;
	if (!cJSON_IsObject(j)) {
		return refuse(c, "must be an object");
	}
	size_t n = count_children(j);
	if (n && !(s->properties = calloc(n, sizeof(*s->properties)))) {
		return out_of_memory(c);
	}
	for (const cJSON *m = j->child; m; m = m->next) {
		struct text back = enter(c, m->string, 0);
		if (!add_entry(s->properties, &s->n_properties, m->string)) {
			return out_of_memory(c);
		}
		if (!(s->properties[s->n_properties - 1].schema = compile(c, m))) {
			return false;
		}
		leave(c, back);
	}
	return sort_entries(c, s->properties, s->n_properties);
}

static bool read_required(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset)
{
	(void)offset;
	if (!cJSON_IsArray(j)) {
		return refuse(c, "must be an array of strings");
	}
	size_t n = count_children(j);
	if (n > MAX_REQUIRED) {
		return refuse(c, "at most %d names", MAX_REQUIRED);
	}
	if (n && !(s->required = calloc(n, sizeof(*s->required)))) {
		return out_of_memory(c);
	}
	for (const cJSON *m = j->child; m; m = m->next) {
		if (!cJSON_IsString(m)) {
			enter(c, NULL, s->n_required);
			return refuse(c, "must be a string");
		}
		if (!add_entry(s->required, &s->n_required, m->valuestring)) {
			return out_of_memory(c);
		}
	}
	return sort_entries(c, s->required, s->n_required);
}

static bool read_schema(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset)
{
	struct twin_schema **slot = (struct twin_schema **)(void *)((char *)s + offset);
	return (*slot = compile(c, j)) != NULL;
}

static bool read_string(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset)
{
	(void)s;
	(void)offset;
	return cJSON_IsString(j) || refuse(c, "must be a string");
}

/* $schema: model authors name the dialect; only the one implemented (a subset of 2020-12) is taken. */
static bool read_dialect(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset)
{
	(void)s;
	(void)offset;
	return (cJSON_IsString(j) && !strcmp(j->valuestring, "https://json-schema.org/draft/2020-12/schema")) ||
			refuse(c, "must be \"https://json-schema.org/draft/2020-12/schema\" (model schemas are a subset "
					  "of JSON Schema 2020-12)");
}

static bool read_any(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset)
{
	(void)c;
	(void)s;
	(void)j;
	(void)offset;
	return true;
}

static const struct {
	const char *name;
	bool (*read)(struct compiler *c, struct twin_schema *s, const cJSON *j, size_t offset);
	size_t offset; /* of the field read_number, read_count and read_schema set */
} keywords[N_KEYWORDS] = {
		[KW_TYPE] = {"type", read_type, 0},
		[KW_ENUM] = {"enum", read_enum, 0},
		[KW_CONST] = {"const", read_const, 0},
		[KW_MINIMUM] = {"minimum", read_number, offsetof(struct twin_schema, minimum)},
		[KW_MAXIMUM] = {"maximum", read_number, offsetof(struct twin_schema, maximum)},
		[KW_EXCLUSIVE_MINIMUM] = {"exclusiveMinimum", read_number,
				offsetof(struct twin_schema, exclusive_minimum)},
		[KW_EXCLUSIVE_MAXIMUM] = {"exclusiveMaximum", read_number,
				offsetof(struct twin_schema, exclusive_maximum)},
		[KW_MULTIPLE_OF] = {"multipleOf", read_multiple_of, offsetof(struct twin_schema, multiple_of)},
		[KW_MIN_LENGTH] = {"minLength", read_count, offsetof(struct twin_schema, min_length)},
		[KW_MAX_LENGTH] = {"maxLength", read_count, offsetof(struct twin_schema, max_length)},
		[KW_PATTERN] = {"pattern", read_pattern, 0},
		[KW_PROPERTIES] = {"properties", read_properties, 0},
		[KW_REQUIRED] = {"required", read_required, 0},
		[KW_ADDITIONAL_PROPERTIES] = {"additionalProperties", read_schema,
				offsetof(struct twin_schema, additional)},
		[KW_ITEMS] = {"items", read_schema, offsetof(struct twin_schema, items)},
		[KW_MIN_ITEMS] = {"minItems", read_count, offsetof(struct twin_schema, min_items)},
		[KW_MAX_ITEMS] = {"maxItems", read_count, offsetof(struct twin_schema, max_items)},
		[KW_TITLE] = {"title", read_string, 0},
		[KW_DESCRIPTION] = {"description", read_string, 0},
		[KW_UNIT] = {"unit", read_string, 0},
		[KW_DEFAULT] = {"default", read_any, 0},
		[KW_COMMENT] = {"$comment", read_string, 0},
		[KW_DIALECT] = {"$schema", read_dialect, 0},
};

static bool refuse_keyword(struct compiler *c, const char *name)
{
	for (size_t k = 0; k < N_KEYWORDS; k++) {
		if (!strcasecmp(name, keywords[k].name)) {
			return refuse(c, "unknown keyword (did you mean %s?)", keywords[k].name);
		}
	}
	return refuse(c, "unknown keyword: a model schema may use type, enum, const, minimum, maximum, "
					 "exclusiveMinimum, exclusiveMaximum, multipleOf, minLength, maxLength, pattern, "
					 "properties, required, additionalProperties, items, minItems, maxItems, title, "
					 "description, unit, default, $comment and $schema");
}

static bool read_keywords(struct compiler *c, struct twin_schema *s, const cJSON *j)
{
	for (const cJSON *m = j->child; m; m = m->next) {
		struct text back = enter(c, m->string, 0);
		size_t k = 0;
		while (k < N_KEYWORDS && strcmp(m->string, keywords[k].name)) {
			k++;
		}
		if (k == N_KEYWORDS) {
			return refuse_keyword(c, m->string);
		}
		if (s->has & BIT(k)) {
			return refuse(c, "given twice");
		}
		if (!keywords[k].read(c, s, m, keywords[k].offset)) {
			return false;
		}
		s->has |= BIT(k); /* once read: twin_schema_free calls regfree when the bit says regcomp worked */
		leave(c, back);
	}
	return true;
}

static struct twin_schema *compile(struct compiler *c, const cJSON *j)
{
	if (!cJSON_IsObject(j) && !cJSON_IsBool(j)) {
		refuse(c, "a schema must be an object or a boolean");
		return NULL;
	}
	if (c->depth == MAX_DEPTH) {
		refuse(c, "schemas nested deeper than %d", MAX_DEPTH);
		return NULL;
	}
	struct twin_schema *s = calloc(1, sizeof(*s));
	if (!s) {
		out_of_memory(c);
		return NULL;
	}
	s->never = cJSON_IsFalse(j);
	c->depth++;
	bool ok = read_keywords(c, s, j);
	c->depth--;
	if (!ok) {
		twin_schema_free(s);
		return NULL;
	}
	return s;
}

struct twin_schema *twin_schema_compile(const cJSON *schema, const char *where, struct twin_error *err)
{
	struct compiler c = {.err = err};
	c.at = (struct text){c.ptr, sizeof(c.ptr) - 1, 0, false};
	c.ptr[0] = '\0';
	put_str(&c.at, where ? where : "");
	return compile(&c, schema);
}

static void free_entries(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		twin_schema_free(e[i].schema);
	}
	free(e);
}

void twin_schema_free(struct twin_schema *s)
{
	if (!s) {
		return;
	}
	cJSON_Delete(s->enum_values);
	cJSON_Delete(s->const_value);
	if (s->has & BIT(KW_PATTERN)) {
		regfree(&s->pattern);
	}
	free(s->pattern_text);
	free_entries(s->properties, s->n_properties);
	free_entries(s->required, s->n_required);
	twin_schema_free(s->additional);
	twin_schema_free(s->items);
	free(s);
}

/* ---- checking ---- */

/* The way from the checked value's root to the node being checked: one frame per member or element. */
struct at {
	const struct at *up; /* NULL: the root's member or element */
	const char *key;     /* NULL: an array element */
	size_t index;
};

static void put_path(struct text *t, const struct at *at)
{
	if (at) {
		put_path(t, at->up);
		put_segment(t, at->key, at->index);
	}
}

static bool fail(struct twin_schema_failure *f, const struct at *at, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

static bool fail(struct twin_schema_failure *f, const struct at *at, const char *fmt, ...)
{
	if (f) {
		struct text t = {f->path, sizeof(f->path) - 1, 0, false};
		f->path[0] = '\0';
		put_path(&t, at);
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
		va_end(ap);
	}
	return false;
}

static unsigned type_of(const cJSON *v)
{
	switch (v->type & 0xFF) {
		case cJSON_NULL:
			return T_NULL;
		case cJSON_False:
		case cJSON_True:
			return T_BOOLEAN;
		case cJSON_Object:
			return T_OBJECT;
		case cJSON_Array:
			return T_ARRAY;
		case cJSON_Number:
			return T_NUMBER;
		case cJSON_String:
			return T_STRING;
		default:
			return 0;
	}
}

static bool is_integer(double d)
{
	return d == floor(d);
}

static bool type_allowed(unsigned types, const cJSON *v)
{
	unsigned t = type_of(v);
	return (types & t) || (t == T_NUMBER && (types & T_INTEGER) && is_integer(v->valuedouble));
}

static bool fail_type(const struct twin_schema *s, const cJSON *v, const struct at *at,
		struct twin_schema_failure *f)
{
	unsigned got = type_of(v);
	if (got == T_NUMBER && (s->types & T_INTEGER)) {
		char shown[32];
		show_number(shown, v->valuedouble);
		return fail(f, at, "%s is not an integer", shown);
	}
	char expected[128];
	struct text t = {expected, sizeof(expected) - 1, 0, false};
	expected[0] = '\0';
	unsigned left = s->types;
	for (size_t i = 0; i < N_TYPES; i++) {
		if (left & (1u << i)) {
			left &= ~(1u << i);
			put_str(&t, t.len == 0 ? "" : left ? ", " : " or ");
			put_str(&t, type_names[i].phrase);
		}
	}
	const char *got_phrase = "an unknown kind of value";
	for (size_t i = 0; i < N_TYPES; i++) {
		if (got == 1u << i) {
			got_phrase = type_names[i].phrase;
		}
	}
	return fail(f, at, "expected %s, got %s", expected, got_phrase);
}

static bool fail_value(const cJSON *v, const struct at *at, struct twin_schema_failure *f, const char *why,
		const cJSON *allowed)
{
	char shown[SHOW_LEN], other[SHOW_LEN] = "";
	show_value(shown, v);
	if (allowed) {
		show_value(other, allowed);
	}
	return fail(f, at, "%s %s%s", shown, why, other);
}

static bool fail_bound(double d, const struct at *at, struct twin_schema_failure *f, const char *why,
		double limit)
{
	char shown[32], bound[32];
	show_number(shown, d);
	show_number(bound, limit);
	return fail(f, at, "%s %s %s", shown, why, bound);
}

/* Within a few units in the last place of an integer quotient: 0.3 / 0.1 is 2.9999999999999996 in binary
 * floating point, the rounding of the value, the divisor and the division each adding at most half a unit.
 * A quotient too large to hold a fraction (or infinite) is a whole number. */
static bool is_multiple(double d, double m)
{
	double q = d / m;
	return !isfinite(q) || fabs(q - round(q)) <= 2 * DBL_EPSILON * fabs(q);
}

static bool check_number(const struct twin_schema *s, const cJSON *v, const struct at *at,
		struct twin_schema_failure *f)
{
	double d = v->valuedouble;
	if ((s->has & BIT(KW_MINIMUM)) && d < s->minimum) {
		return fail_bound(d, at, f, "is below the minimum", s->minimum);
	}
	if ((s->has & BIT(KW_EXCLUSIVE_MINIMUM)) && d <= s->exclusive_minimum) {
		return fail_bound(d, at, f, "is at or below the exclusive minimum", s->exclusive_minimum);
	}
	if ((s->has & BIT(KW_MAXIMUM)) && d > s->maximum) {
		return fail_bound(d, at, f, "is above the maximum", s->maximum);
	}
	if ((s->has & BIT(KW_EXCLUSIVE_MAXIMUM)) && d >= s->exclusive_maximum) {
		return fail_bound(d, at, f, "is at or above the exclusive maximum", s->exclusive_maximum);
	}
	if ((s->has & BIT(KW_MULTIPLE_OF)) && !is_multiple(d, s->multiple_of)) {
		return fail_bound(d, at, f, "is not a multiple of", s->multiple_of);
	}
	return true;
}

static size_t code_points(const char *s)
{
	size_t n = 0;
	for (; *s; s++) {
		n += ((unsigned char)*s & 0xC0) != 0x80;
	}
	return n;
}

/* "3 items, at most 2 allowed", "\"ab\" is 2 characters, at least 3 expected": a count rule broken;
 * what[0] is the thing counted, what[1] its plural. */
static bool fail_count(const cJSON *v, const struct at *at, struct twin_schema_failure *f, size_t n,
		const char *const what[2], bool at_most, size_t limit)
{
	char shown[SHOW_LEN] = "";
	if (cJSON_IsString(v)) {
		show_value(shown, v);
	}
	return fail(f, at, "%s%s%zu %s, %s %zu %s", shown, shown[0] ? " is " : "", n, what[n != 1],
			at_most ? "at most" : "at least", limit, at_most ? "allowed" : "expected");
}

static bool check_string(const struct twin_schema *s, const cJSON *v, const struct at *at,
		struct twin_schema_failure *f)
{
	static const char *const characters[2] = {"character", "characters"};
	if (s->has & (BIT(KW_MIN_LENGTH) | BIT(KW_MAX_LENGTH))) {
		size_t n = code_points(v->valuestring);
		if ((s->has & BIT(KW_MIN_LENGTH)) && n < s->min_length) {
			return fail_count(v, at, f, n, characters, false, s->min_length);
		}
		if ((s->has & BIT(KW_MAX_LENGTH)) && n > s->max_length) {
			return fail_count(v, at, f, n, characters, true, s->max_length);
		}
	}
	if ((s->has & BIT(KW_PATTERN)) && regexec(&s->pattern, v->valuestring, 0, NULL, 0) != 0) {
		char shown[SHOW_LEN], pattern[SHOW_LEN];
		struct text t = show_start(pattern);
		show_value(shown, v);
		put_str(&t, s->pattern_text);
		show_end(&t);
		return fail(f, at, "%s does not match the pattern %s", shown, pattern);
	}
	return true;
}

static bool check(const struct twin_schema *s, const cJSON *v, const struct at *at,
		struct twin_schema_failure *f);

static bool check_array(const struct twin_schema *s, const cJSON *v, const struct at *at,
		struct twin_schema_failure *f)
{
	static const char *const items[2] = {"item", "items"};
	size_t n = count_children(v);
	if ((s->has & BIT(KW_MIN_ITEMS)) && n < s->min_items) {
		return fail_count(v, at, f, n, items, false, s->min_items);
	}
	if ((s->has & BIT(KW_MAX_ITEMS)) && n > s->max_items) {
		return fail_count(v, at, f, n, items, true, s->max_items);
	}
	if (s->items) {
		struct at here = {at, NULL, 0};
		for (const cJSON *e = v->child; e; e = e->next, here.index++) {
			if (!check(s->items, e, &here, f)) {
				return false;
			}
		}
	}
	return true;
}

/* Every required name is a member of v: each member is looked up once and marked in a bitmap, so a key
 * repeated in v (cJSON keeps both) is not counted twice. */
static bool check_required(const struct twin_schema *s, const cJSON *v, const struct at *at,
		struct twin_schema_failure *f)
{
	uint64_t seen[MAX_REQUIRED / 64] = {0};
	size_t n_seen = 0;
	for (const cJSON *m = v->child; m && n_seen < s->n_required; m = m->next) {
		const struct entry *e = find_entry(s->required, s->n_required, m->string, strlen(m->string));
		size_t i = e ? (size_t)(e - s->required) : 0;
		if (e && !(seen[i / 64] >> (i % 64) & 1)) {
			seen[i / 64] |= (uint64_t)1 << (i % 64);
			n_seen++;
		}
	}
	const struct entry *missing = NULL; /* the first in the schema's order */
	for (size_t i = 0; i < s->n_required && n_seen < s->n_required; i++) {
		if (!(seen[i / 64] >> (i % 64) & 1) && (!missing || s->required[i].order < missing->order)) {
			missing = &s->required[i];
		}
	}
	if (!missing) {
		return true;
	}
	char shown[SHOW_LEN];
	show_name(shown, missing->name);
	return fail(f, at, "required property %s is missing", shown);
}

/* What s says of member name: its property schema, else additionalProperties (NULL: anything goes). */
static const struct twin_schema *member_schema(const struct twin_schema *s, const char *name, size_t len)
{
	const struct entry *e = find_entry(s->properties, s->n_properties, name, len);
	return e ? e->schema : s->additional;
}

static bool check_object(const struct twin_schema *s, const cJSON *v, const struct at *at,
		struct twin_schema_failure *f)
{
	if ((s->has & BIT(KW_REQUIRED)) && !check_required(s, v, at, f)) {
		return false;
	}
	if (!(s->has & MEMBER_RULES)) {
		return true;
	}
	for (const cJSON *m = v->child; m; m = m->next) {
		const struct twin_schema *ms = member_schema(s, m->string, strlen(m->string));
		struct at here = {at, m->string, 0};
		if (ms && ms->never) {
			char shown[SHOW_LEN];
			show_name(shown, m->string);
			return fail(f, &here, "property %s is not allowed", shown);
		}
		if (ms && !check(ms, m, &here, f)) {
			return false;
		}
	}
	return true;
}

static bool check(const struct twin_schema *s, const cJSON *v, const struct at *at,
		struct twin_schema_failure *f)
{
	if (s->never) {
		return fail(f, at, "no value is allowed here");
	}
	if (!(s->has & RULES)) {
		return true;
	}
	if ((s->has & BIT(KW_TYPE)) && !type_allowed(s->types, v)) {
		return fail_type(s, v, at, f);
	}
	if (s->has & BIT(KW_ENUM)) {
		const cJSON *e = s->enum_values->child;
		while (e && !twin_json_equal(e, v)) {
			e = e->next;
		}
		if (!e) {
			return fail_value(v, at, f, "is not one of the allowed values", NULL);
		}
	}
	if ((s->has & BIT(KW_CONST)) && !twin_json_equal(s->const_value, v)) {
		return fail_value(v, at, f, "is not the allowed value ", s->const_value);
	}
	switch (type_of(v)) {
		case T_NUMBER:
			return !(s->has & NUMBER_RULES) || check_number(s, v, at, f);
		case T_STRING:
			return !(s->has & STRING_RULES) || check_string(s, v, at, f);
		case T_OBJECT:
			return check_object(s, v, at, f);
		case T_ARRAY:
			return !(s->has & ARRAY_RULES) || check_array(s, v, at, f);
		default:
			return true;
	}
}

bool twin_schema_check(const struct twin_schema *s, const cJSON *value, struct twin_schema_failure *f)
{
	return check(s, value, NULL, f);
}

const struct twin_schema *twin_schema_member(const struct twin_schema *s, const char *name, size_t len,
		bool *allowed)
{
	const struct twin_schema *m = s->never ? s : member_schema(s, name, len);
	*allowed = !m || !m->never;
	return m && !m->never && (m->has & RULES) ? m : NULL;
}

bool twin_schema_has_required(const struct twin_schema *s)
{
	return s->never || (s->has & (BIT(KW_REQUIRED) | BIT(KW_ENUM) | BIT(KW_CONST))) ||
			((s->has & BIT(KW_TYPE)) && !(s->types & T_OBJECT));
}
