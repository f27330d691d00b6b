/* search_merge.c - a fleet's search answer from its shards' parts (see search_merge.h).
 *
 * Each part's items are already in the search's order, so the merge is a k-way merge: take the least
 * head among the parts (twin_sort_compare on the keys the parts give, decoded with the request's sort)
 * until `limit` items are taken. Items are referenced, not copied, into the answer that is printed.
 * Thread: any (cluster_search.c calls it on its gather thread); no state of its own. */
#include "search_merge.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "query.h"
#include "request.h"

#define MAX_PARTS 256
#define MERGE_MAX_DEPTH 64 /* config.c's bound of max_depth: a shard refused any deeper request */

struct head {
	cJSON *root;
	const cJSON *items, *keys;
	int next, size;
	struct twin_sort_key key; /* of items[next], while next < size */
};

/* Decodes the key of h's next item; false when it has none left or its key is not a cursor. */
static bool load_key(struct head *h, const struct twin_sort *sort, struct twin_error *err)
{
	twin_sort_key_free(&h->key);
	if (h->next >= h->size) {
		return false;
	}
	const cJSON *k = cJSON_GetArrayItem(h->keys, h->next);
	if (!cJSON_IsString(k) || twin_cursor_decode(sort, k->valuestring, &h->key, err) != TWIN_OK) {
		twin_fail(err, TWIN_ERR_STORE, "a shard's search answer has an item without its sort key");
		h->next = h->size;
		return false;
	}
	return true;
}

static bool open_part(struct head *h, const struct twin_search_part *p, const struct twin_sort *sort,
		struct twin_error *err)
{
	h->root = cJSON_ParseWithLength(p->body, p->len);
	h->items = cJSON_GetObjectItemCaseSensitive(h->root, "items");
	h->keys = cJSON_GetObjectItemCaseSensitive(h->root, "keys");
	h->size = cJSON_GetArraySize(h->items);
	if (!cJSON_IsArray(h->items) || (h->size && cJSON_GetArraySize(h->keys) != h->size)) {
		twin_fail(err, TWIN_ERR_STORE, "a shard's search answer is not a page with keys");
		return false;
	}
	return !h->size || load_key(h, sort, err);
}

/* The part whose next item comes first, or -1 when all are taken. */
static int least(const struct head *h, int n, const struct twin_sort *sort)
{
	int best = -1;
	for (int i = 0; i < n; i++) {
		if (h[i].next < h[i].size &&
				(best < 0 || twin_sort_compare(sort, &h[i].key, &h[best].key) < 0)) {
			best = i;
		}
	}
	return best;
}

/* The answer's fields after the items, from the parts. */
static bool add_tail(cJSON *out, const struct head *h, int n, const struct twin_request *req,
		const char *cursor, const char *missing)
{
	double count = 0;
	bool stale = false;
	for (int i = 0; i < n; i++) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(h[i].root, "count");
		count += cJSON_IsNumber(c) ? c->valuedouble : 0;
		stale = stale || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h[i].root, "stale"));
	}
	return (!cursor || cJSON_AddStringToObject(out, "cursor", cursor)) &&
			(!req->count || cJSON_AddNumberToObject(out, "count", count)) &&
			(!stale || cJSON_AddTrueToObject(out, "stale")) &&
			(!missing || (cJSON_AddTrueToObject(out, "incomplete") &&
								 cJSON_AddStringToObject(out, "missing_slots", missing))) &&
			(!req->token || cJSON_AddStringToObject(out, "token", req->token));
}

char *twin_search_merge(const char *payload, size_t len, const struct twin_search_part *parts, int n,
		const char *missing, size_t *out_len, struct twin_error *err)
{
	struct twin_request req;
	struct twin_sort sort = {0};
	struct head *h = NULL;
	cJSON *out = NULL;
	char *text = NULL;
	if (n < 0 || n > MAX_PARTS) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "%d parts to merge (at most %d)", n, MAX_PARTS);
		return NULL;
	}
	if (twin_request_parse(TWIN_VERB_SEARCH, payload, len, MERGE_MAX_DEPTH, &req, err) != TWIN_OK ||
			twin_sort_parse(&sort, req.sort, err) != TWIN_OK) {
		goto done;
	}
	if (!(h = calloc((size_t)n + 1, sizeof(*h)))) {
		twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
		goto done;
	}
	err->rc = TWIN_OK;
	for (int i = 0; i < n; i++) {
		if (!open_part(&h[i], &parts[i], &sort, err) && err->rc != TWIN_OK) {
			goto done;
		}
	}
	out = cJSON_CreateObject();
	cJSON *items = cJSON_AddArrayToObject(out, "items");
	int limit = req.limit ? (int)req.limit : TWIN_SEARCH_LIMIT_DEFAULT, taken = 0, at;
	const char *last = NULL;
	bool ok = items != NULL, more = false;
	for (; ok && taken < limit && (at = least(h, n, &sort)) >= 0; taken++) {
		struct head *p = &h[at];
		ok = cJSON_AddItemReferenceToArray(items, cJSON_GetArrayItem(p->items, p->next));
		last = cJSON_GetArrayItem(p->keys, p->next)->valuestring;
		p->next++;
		if (!load_key(p, &sort, err) && err->rc != TWIN_OK) {
			goto done;
		}
	}
	for (int i = 0; i < n; i++) {
		more = more || h[i].next < h[i].size || cJSON_GetObjectItemCaseSensitive(h[i].root, "cursor");
	}
	if (!ok || !add_tail(out, h, n, &req, more ? last : NULL, missing) ||
			!(text = cJSON_PrintUnformatted(out))) {
		twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
		goto done;
	}
	*out_len = strlen(text);
done:
	cJSON_Delete(out);
	for (int i = 0; h && i < n; i++) {
		twin_sort_key_free(&h[i].key);
		cJSON_Delete(h[i].root);
	}
	free(h);
	twin_sort_free(&sort);
	twin_request_free(&req);
	return text;
}
