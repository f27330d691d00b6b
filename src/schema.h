/* schema.h - the JSON Schema (2020-12) subset that twin models use for their sections: compiled once
 * from a cJSON schema, then checked against values. Keywords: type (string or array; "integer" is a
 * number with no fraction), properties, required, additionalProperties (bool or schema), enum, const,
 * minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, minLength, maxLength (in Unicode
 * code points), pattern (POSIX extended regular expression, unanchored as JSON Schema says), items,
 * minItems, maxItems; annotations title, description, unit, default, $comment; $schema naming 2020-12.
 * Any other keyword refuses the schema: nothing is silently ignored. Pure: no store, no threads; a compiled schema is read-only
 * and may be used from several threads at once. */
#ifndef TWIN_SCHEMA_H
#define TWIN_SCHEMA_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "twin_common.h"

struct twin_schema;

/* Compiles schema into an owned tree that borrows nothing from it (free with twin_schema_free). On failure
 * returns NULL and err (TWIN_ERR_CONFIG; TWIN_ERR_NOMEM when memory ran out) names the JSON pointer of the
 * offending keyword, prefixed with where (the caller's pointer to schema, e.g. "/desired"; NULL: none),
 * and what is wrong: "/desired/properties/fanSpeed/maximum: must be a number". Also refused: a keyword
 * given twice, a type or required name listed twice, an empty type or enum array, schemas nested deeper
 * than 32, a required list of more than 4096 names, pattern escapes that regcomp would read other than
 * JSON Schema's ECMA 262 does (\d, \n, \p, \<...: write [0-9], [[:space:]] and the like), and patterns that
 * regcomp would take too long or too much memory on (over 1000 elements once a{n} is counted n times; a
 * group that can match the empty string repeated without bound, as in (a*)*; a quantifier right after
 * another, which also covers ECMA 262's lazy a+?, read by regcomp as (a+)?). */
struct twin_schema *twin_schema_compile(const cJSON *schema, const char *where, struct twin_error *err);
void twin_schema_free(struct twin_schema *s);

/* Why a value failed: path is the JSON pointer of the failing part of the value (relative to it: "" for
 * the value itself, "/fanSpeed", "/list/3"), msg what rule it broke, with the value shown (long values
 * shortened): "9 is above the maximum 5", "\"x\" is not one of the allowed values",
 * "property \"foo\" is not allowed", "required property \"site\" is missing". */
struct twin_schema_failure {
	char path[TWIN_MAX_ID_LEN];
	char msg[200];
};

/* True when value conforms; else false with f (when not NULL) filled: the first failure in document order,
 * where a node's own rules (type, enum, const, bounds, required...) come before its members or items.
 * Allocates nothing. */
bool twin_schema_check(const struct twin_schema *s, const cJSON *value, struct twin_schema_failure *f);

/* For the writer's fast path (flat readings merged without a cJSON tree): how s, an object schema,
 * treats a member called name (len bytes; no NUL needed). Returns the member's schema (properties,
 * else a schema-valued additionalProperties), borrowed from s, or NULL with *allowed saying whether the
 * member may exist at all (false: its schema is false, e.g. additionalProperties false, or s is false;
 * true: anything goes, also when its schema has no rule, such as true or {"title": ...}). Allocates
 * nothing: a binary search in s's sorted names. */
const struct twin_schema *twin_schema_member(const struct twin_schema *s, const char *name, size_t len,
		bool *allowed);

/* True when s has a required list or another whole-object rule: enum, const, a type that leaves out
 * "object", or s is the schema false. A fast path that checks members one by one with twin_schema_member
 * must then still run twin_schema_check on the whole object; when false, for an object the member checks
 * passing is the same as the whole check passing. */
bool twin_schema_has_required(const struct twin_schema *s);

#endif
