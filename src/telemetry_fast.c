/* telemetry_fast.c - the writer's fast path for a telemetry entry (see telemetry_fast.h). It declines
 * before touching anything: when history is kept (an entry needs the whole document), when a message is
 * not a flat reading, when the twin could get near max_twin_bytes (the general path checks that exactly),
 * and whenever fastmerge cannot vouch for a result equal to the general path's. */
#include "telemetry_fast.h"

#include <stdlib.h>
#include <string.h>

#include "twin_format.h"

void twin_fast_scratch_free(struct twin_fast_scratch *s)
{
	free(s->members);
	free(s->readings);
	twin_buf_free(&s->stored);
	twin_buf_free(&s->changed);
	memset(s, 0, sizeof(*s));
}

static bool reserve_readings(struct twin_fast_scratch *s, size_t n)
{
	if (n <= s->readings_cap) {
		return true;
	}
	struct twin_fast_reading *r = realloc(s->readings, n * sizeof(*r));
	if (!r) {
		return false;
	}
	s->readings = r;
	struct twin_fast_member *m = realloc(s->members, n * TWIN_FAST_MAX_MEMBERS * sizeof(*m));
	if (!m) {
		return false;
	}
	s->members = m;
	s->readings_cap = n;
	return true;
}

/* Scans every message of the entry into s->readings; false when one is not a flat reading. */
static bool scan_entry(const struct twin_op *entry, struct twin_fast_scratch *s, size_t *patch_len)
{
	size_t i = 0;
	*patch_len = 0;
	for (const struct twin_op *m = entry; m; m = m->more, i++) {
		struct twin_fast_reading *r = &s->readings[i];
		r->m = s->members + i * TWIN_FAST_MAX_MEMBERS;
		r->cap = TWIN_FAST_MAX_MEMBERS;
		r->ts = m->ts; /* a plain patch is a reading at its arrival */
		if (m->oversize || m->path_len || !twin_fast_scan(m->payload, m->payload_len, r)) {
			return false;
		}
		*patch_len += m->payload_len;
	}
	return true;
}

/* The `updated` of a stored value written by fastmerge (format 2: version, created, updated, ...). */
static int64_t stored_updated(const struct twin_buf *b)
{
	const unsigned char *p = (const unsigned char *)b->data + 1, *end = (const unsigned char *)b->data + b->len;
	uint64_t v[3] = {0, 0, 0};
	for (int i = 0; i < 3; i++) {
		if (!twin_format_get_varint(&p, end, &v[i])) {
			return 0;
		}
	}
	return (int64_t)v[2];
}

enum twin_fast_rc twin_fast_entry(struct twin_store *store, const struct twin_config *cfg,
		const struct twin_op *entry, int64_t twins, struct twin_fast_scratch *s,
		struct twin_fast_result *res, struct twin_error *err, twin_fast_check_fn check, void *check_ctx)
{
	size_t patch_len;
	const void *old = NULL;
	size_t old_len = 0;
	int64_t last_version = 0;
	if (cfg->history_max > 0 || !reserve_readings(s, entry->group_msgs) || !scan_entry(entry, s, &patch_len)) {
		return TWIN_FAST_NOT_HERE;
	}
	enum twin_rc rc = twin_store_wget(store, entry->id, entry->id_len, &old, &old_len);
	if (rc == TWIN_ERR_NOT_FOUND) {
		if (twins >= cfg->max_twins) {
			return TWIN_FAST_NOT_HERE; /* refused there, with its log line */
		}
		old = NULL;
		old_len = 2 * TWIN_SIZE_SLACK;
		last_version = twin_store_tombstone(store, entry->id, entry->id_len);
	} else if (rc != TWIN_OK) {
		return TWIN_FAST_NOT_HERE;
	}
	if (old_len + patch_len * TWIN_SIZE_GROWTH_PER + TWIN_SIZE_SLACK > cfg->max_twin_bytes) {
		return TWIN_FAST_NOT_HERE; /* near the limit: the general path measures it exactly */
	}
	const struct twin_op *last = entry->more_tail ? entry->more_tail : entry;
	int64_t version = 0;
	int leaves = twin_fast_apply_checked(old, old ? old_len : 0, last_version, s->readings, entry->group_msgs,
			last->ts, &s->stored, &s->changed, &version, check, check_ctx);
	if (leaves < 0) {
		return TWIN_FAST_NOT_HERE;
	}
	if (twin_store_put(store, entry->id, entry->id_len, s->stored.data, s->stored.len, err) != TWIN_OK) {
		return TWIN_FAST_STORE_FAIL;
	}
	res->created = old == NULL;
	res->leaves = leaves;
	res->version = version;
	res->updated = stored_updated(&s->stored);
	res->changed = &s->changed;
	return TWIN_FAST_DONE;
}
