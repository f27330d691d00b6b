/* presence.c - the connected-device set (see presence.h), a uthash table keyed by client id. */
#include "presence.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct twin_presence {
	UT_hash_handle hh;
	size_t len;
	char id[];
};

void twin_presence_set(struct twin_presence **set, const char *client_id, size_t len)
{
	struct twin_presence *e = NULL;
	HASH_FIND(hh, *set, client_id, len, e);
	if (e || !(e = malloc(sizeof(*e) + len))) {
		return;
	}
	e->len = len;
	memcpy(e->id, client_id, len);
	HASH_ADD(hh, *set, id, len, e);
	if (!e->hh.tbl) { /* HASH_NONFATAL_OOM: not added */
		free(e);
	}
}

void twin_presence_clear(struct twin_presence **set, const char *client_id, size_t len)
{
	struct twin_presence *e = NULL;
	HASH_FIND(hh, *set, client_id, len, e);
	if (e) {
		HASH_DEL(*set, e);
		free(e);
	}
}

bool twin_presence_has(struct twin_presence *set, const char *client_id, size_t len)
{
	struct twin_presence *e = NULL;
	HASH_FIND(hh, set, client_id, len, e);
	return e != NULL;
}

void twin_presence_free(struct twin_presence **set)
{
	struct twin_presence *e, *tmp;
	HASH_ITER(hh, *set, e, tmp)
	{
		/* the analyzer takes e for the only element while tmp is its non-NULL next: a false positive */
		HASH_DEL(*set, e); // NOLINT(clang-analyzer-unix.Malloc)
		free(e);
	}
}
