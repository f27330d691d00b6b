/* presence.c - the connected-device set (see presence.h), a uthash table keyed by client id, and the
 * marks of `connected` in answers made off the broker thread (an array, the ids in one buffer). */
#include "presence.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "jsonx.h"

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

struct mark {
	size_t at, id_at, id_len;
};

struct twin_presence_marks {
	size_t n, cap;
	struct mark *v;
	struct twin_buf ids;
};

bool twin_presence_mark(struct twin_presence_marks **m, size_t at, const char *id, size_t id_len)
{
	if (!*m && !(*m = calloc(1, sizeof(**m)))) {
		return false;
	}
	struct twin_presence_marks *k = *m;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		struct mark *v = realloc(k->v, cap * sizeof(*v));
		if (!v) {
			return false;
		}
		k->v = v;
		k->cap = cap;
	}
	size_t id_at = k->ids.len;
	if (!twin_buf_put(&k->ids, id, id_len)) {
		return false;
	}
	k->v[k->n++] = (struct mark){at, id_at, id_len};
	return true;
}

void twin_presence_fill(struct twin_presence *set, char *payload, const struct twin_presence_marks *m)
{
	static const char connected[5] = {'t', 'r', 'u', 'e', ' '}; /* in place of `false`: no NUL */
	for (size_t i = 0; m && i < m->n; i++) {
		if (twin_presence_has(set, m->ids.data + m->v[i].id_at, m->v[i].id_len)) {
			memcpy(payload + m->v[i].at, connected, sizeof(connected));
		}
	}
}

void twin_presence_marks_free(struct twin_presence_marks *m)
{
	if (m) {
		free(m->v);
		twin_buf_free(&m->ids);
		free(m);
	}
}
