/* fastmerge_slow.h - the reference for the telemetry fast path, shared by tests/unit/test_fastmerge.c
 * and fuzz_fastmerge.c: the slow path (cJSON trees, merge.c, twin_format.c) whose bytes twin_fast_apply
 * must equal, and the fast path run on the same readings. Header-only (static functions). */
#ifndef TWIN_FASTMERGE_SLOW_H
#define TWIN_FASTMERGE_SLOW_H

#include <string.h>

#include "fastmerge.h"
#include "jsonx.h"
#include "twin.h"
#include "twin_format.h"

#define FM_MAX_READINGS 4

/* One application: readings payload[i] at ts[i] to the stored twin old (NULL: a new twin). */
struct fm_case {
	const void *old;
	size_t old_len;
	int64_t last_version;
	const char *payload[FM_MAX_READINGS];
	size_t len[FM_MAX_READINGS];
	int64_t ts[FM_MAX_READINGS];
	size_t n;
	int64_t seen;
};

struct fm_result {
	int rc; /* changed leaves; -1: the path does not apply (slow: old does not load) */
	int64_t version;
	struct twin_buf out, changed;
};

static inline void fm_result_free(struct fm_result *r)
{
	twin_buf_free(&r->out);
	twin_buf_free(&r->changed);
}

/* The slow path: load (or create), patch reported once per reading with the changes accumulated in one
 * object, one bump if anything changed (or the twin is new), lastSeen, store. */
static inline int fm_slow(const struct fm_case *c, struct fm_result *r)
{
	cJSON *doc = c->old ? twin_doc_load("dev-1", 5, c->old, c->old_len)
						: twin_doc_create("dev-1", 5, c->last_version, c->ts[0]);
	cJSON *changed = cJSON_CreateObject();
	int64_t last_ts = c->ts[0];
	bool any = false, ok = doc && changed;
	for (size_t i = 0; ok && i < c->n; i++) {
		struct twin_error err;
		cJSON *patch = twin_json_parse(c->payload[i], c->len[i], &err);
		int n = cJSON_IsObject(patch) ? twin_doc_patch(doc, TWIN_SEC_REPORTED, patch, c->ts[i], changed) : -1;
		ok = n >= 0;
		if (n > 0) {
			any = true;
			last_ts = c->ts[i];
		}
		cJSON_Delete(patch);
	}
	if (ok && (any || !c->old)) {
		ok = twin_doc_bump(doc, 1u << TWIN_SEC_REPORTED, last_ts) >= 0;
	}
	if (ok) {
		twin_doc_seen(doc, c->seen);
		r->out.len = r->changed.len = 0;
		ok = twin_doc_store(doc, &r->out) && twin_json_write(&r->changed, changed);
		r->version = twin_doc_version(doc);
	}
	r->rc = ok ? cJSON_GetArraySize(changed) : -1;
	cJSON_Delete(changed);
	cJSON_Delete(doc);
	return r->rc;
}

/* The fast path on the same case: -2 when a payload is not a reading it takes, -1 when it declines. */
static inline int fm_fast(const struct fm_case *c, struct fm_result *r)
{
	static struct twin_fast_member m[FM_MAX_READINGS][TWIN_FAST_MAX_MEMBERS];
	struct twin_fast_reading rs[FM_MAX_READINGS];
	for (size_t i = 0; i < c->n; i++) {
		rs[i] = (struct twin_fast_reading){m[i], 0, TWIN_FAST_MAX_MEMBERS, c->ts[i]};
		if (!twin_fast_scan(c->payload[i], c->len[i], &rs[i])) {
			return r->rc = -2;
		}
	}
	return r->rc = twin_fast_apply(c->old, c->old_len, c->last_version, rs, c->n, c->seen, &r->out,
				   &r->changed, &r->version);
}

/* False when the fast path answered (rc >= 0) and differs from the slow one in any byte. */
static inline bool fm_agree(const struct fm_result *fast, const struct fm_result *slow)
{
	if (fast->rc < 0) {
		return true;
	}
	return fast->rc == slow->rc && fast->version == slow->version && fast->out.len == slow->out.len &&
			memcmp(fast->out.data, slow->out.data, fast->out.len) == 0 &&
			fast->changed.len == slow->changed.len &&
			memcmp(fast->changed.data, slow->changed.data, fast->changed.len) == 0;
}

#endif
