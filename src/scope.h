/* scope.h - search scoping: which twins a client's $twin/search may see, from plugin_opt_search_scope
 * bound to the requester's username (%u) or client id (%c). Pure: no store, no threads. */
#ifndef TWIN_SCOPE_H
#define TWIN_SCOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "twin_common.h"

/* Config-time checks: a scope such as "id:%u:" or "attributes/tenant=%u", and the exempt list
 * "ops,dashboard". Each fails with a message naming the option and saying what is expected. */
enum twin_rc twin_scope_check(const char *spec, struct twin_error *err);
enum twin_rc twin_scope_exempt_check(const char *list, struct twin_error *err);

enum twin_scope_kind {
	TWIN_SCOPE_ALL,       /* no scope configured, or an exempt username */
	TWIN_SCOPE_NOTHING,   /* the scope names a username or client id the requester does not have */
	TWIN_SCOPE_ID_PREFIX, /* ids starting with prefix */
	TWIN_SCOPE_ATTRIBUTE, /* twins whose string at path equals value */
};

/* One requester's scope. */
struct twin_scope {
	enum twin_scope_kind kind;
	char *prefix;      /* TWIN_SCOPE_ID_PREFIX */
	size_t prefix_len;
	char *path, *value; /* TWIN_SCOPE_ATTRIBUTE */
};

/* Binds a checked spec (NULL: none) to a requester (username may be NULL). TWIN_ERR_NOMEM only. */
enum twin_rc twin_scope_bind(struct twin_scope *s, const char *spec, const char *exempt,
		const char *username, const char *client_id);
void twin_scope_free(struct twin_scope *s);

/* An id-prefix scope: false when the id is outside it. Ids are scanned in order, so a search stops at
 * the first id past the prefix (twin_scope_past). Other scopes: true. */
bool twin_scope_admits_id(const struct twin_scope *s, const char *id, size_t id_len);
bool twin_scope_past(const struct twin_scope *s, const char *id, size_t id_len);
/* The whole test, on a parsed twin. */
bool twin_scope_admits(const struct twin_scope *s, const char *id, size_t id_len, const cJSON *doc);

#endif
