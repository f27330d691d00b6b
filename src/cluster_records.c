/* cluster_records.c - a slot's records, read, written and deleted (see cluster_records.h). The slot of
 * a record is that of the twin id its key starts with (up to a NUL: history keys). Pure store work: the
 * export and count on the broker thread inside a read snapshot, the calls on the writer thread. */
#include "cluster_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_slot.h"

#define HEAD 7 /* u8 table, u16 key length, u32 value length */

static const enum twin_store_table tables[TWIN_SLOT_N_TABLES] = {TWIN_TABLE_TWINS,
		TWIN_TABLE_TOMBSTONES, TWIN_TABLE_DESIRED, TWIN_TABLE_HISTORY};

static unsigned slot_of_key(const void *key, size_t len, unsigned nslots)
{
	const char *nul = memchr(key, '\0', len);
	return twin_cluster_slot(key, nul ? (size_t)(nul - (const char *)key) : len, nslots);
}

struct export {
	unsigned slot, nslots, table;
	struct twin_slot_cursor *cur;
	size_t max_bytes, max_scan, scanned, records;
	struct twin_buf *out;
	bool stopped, failed;
};

static bool export_one(void *ctx, const char *key, size_t key_len, const void *val, size_t len)
{
	struct export *x = ctx;
	if (x->out->len >= x->max_bytes || x->scanned >= x->max_scan) {
		if (key_len <= sizeof(x->cur->key)) { /* a longer key is no key of a twin: never stop on it */
			memcpy(x->cur->key, key, key_len);
			x->cur->key_len = key_len;
			x->stopped = true;
			return false;
		}
	}
	x->scanned++;
	if (key_len > UINT16_MAX || len > UINT32_MAX || slot_of_key(key, key_len, x->nslots) != x->slot) {
		return true;
	}
	unsigned char head[HEAD] = {(unsigned char)x->table, (unsigned char)(key_len >> 8),
			(unsigned char)key_len, (unsigned char)(len >> 24), (unsigned char)(len >> 16),
			(unsigned char)(len >> 8), (unsigned char)len};
	if (!twin_buf_put(x->out, (const char *)head, HEAD) || !twin_buf_put(x->out, key, key_len) ||
			!twin_buf_put(x->out, val, len)) {
		x->failed = true;
		return false;
	}
	x->records++;
	return true;
}

enum twin_rc twin_slot_export(struct twin_store *s, unsigned slot, unsigned nslots, unsigned end_table,
		struct twin_slot_cursor *cur, size_t max_bytes, size_t max_scan, struct twin_buf *out,
		size_t *records)
{
	struct export x = {slot, nslots, 0, cur, max_bytes, max_scan, 0, 0, out, false, false};
	while (cur->table < end_table) {
		x.table = cur->table;
		x.stopped = false;
		enum twin_rc rc = twin_store_read_each(s, tables[cur->table], cur->key_len ? cur->key : NULL,
				cur->key_len, export_one, &x);
		if (rc || x.failed) {
			return rc ? rc : TWIN_ERR_NOMEM;
		}
		if (x.stopped) {
			break;
		}
		cur->table++;
		cur->key_len = 0;
	}
	*records = x.records;
	return TWIN_OK;
}

struct count {
	unsigned slot, nslots;
	size_t n;
};

static bool count_one(void *ctx, const char *key, size_t key_len, const void *val, size_t len)
{
	struct count *c = ctx;
	(void)val;
	(void)len;
	c->n += slot_of_key(key, key_len, c->nslots) == c->slot;
	return true;
}

enum twin_rc twin_slot_count(struct twin_store *s, unsigned slot, unsigned nslots,
		size_t counts[TWIN_SLOT_N_TABLES])
{
	for (unsigned t = 0; t < TWIN_SLOT_N_TABLES; t++) {
		struct count c = {slot, nslots, 0};
		enum twin_rc rc = twin_store_read_each(s, tables[t], NULL, 0, count_one, &c);
		if (rc) {
			return rc;
		}
		counts[t] = c.n;
	}
	return TWIN_OK;
}

void twin_slot_cursor_format(const struct twin_slot_cursor *cur, char *out, size_t size)
{
	if (cur->table >= TWIN_SLOT_N_TABLES || size < 2 * (cur->key_len + 1) + 1) {
		snprintf(out, size, "-");
		return;
	}
	snprintf(out, size, "%02x", cur->table);
	for (size_t i = 0; i < cur->key_len; i++) {
		snprintf(out + 2 * (i + 1), 3, "%02x", (unsigned char)cur->key[i]);
	}
}

bool twin_slot_cursor_parse(struct twin_slot_cursor *cur, const char *text)
{
	size_t n = strlen(text);
	memset(cur, 0, sizeof(*cur));
	if (!strcmp(text, "-")) {
		cur->table = TWIN_SLOT_N_TABLES;
		return true;
	}
	if (n < 2 || n % 2 || n / 2 - 1 > sizeof(cur->key)) {
		return false;
	}
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(text + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdef", text[2 * i]) ||
				!strchr("0123456789abcdef", text[2 * i + 1])) {
			return false;
		}
		if (i == 0) {
			cur->table = v;
		} else {
			cur->key[i - 1] = (char)v;
		}
	}
	cur->key_len = n / 2 - 1;
	return cur->table <= TWIN_SLOT_N_TABLES;
}

/* The next record of data[*at, len): false at the end or on a malformed one (*bad set). */
static bool next_record(const unsigned char *p, size_t len, size_t *at, unsigned *table,
		const unsigned char **key, size_t *key_len, const unsigned char **val, size_t *val_len,
		bool *bad)
{
	*bad = false;
	if (*at == len) {
		return false;
	}
	if (len - *at < HEAD) {
		*bad = true;
		return false;
	}
	const unsigned char *h = p + *at;
	*table = h[0];
	*key_len = (size_t)h[1] << 8 | h[2];
	*val_len = (size_t)h[3] << 24 | (size_t)h[4] << 16 | (size_t)h[5] << 8 | h[6];
	if (*table >= TWIN_SLOT_N_TABLES || *key_len == 0 || len - *at - HEAD < *key_len ||
			len - *at - HEAD - *key_len < *val_len) {
		*bad = true;
		return false;
	}
	*key = h + HEAD;
	*val = h + HEAD + *key_len;
	*at += HEAD + *key_len + *val_len;
	return true;
}

bool twin_slot_records_valid(const void *data, size_t len, unsigned slot, unsigned nslots)
{
	size_t at = 0, kl, vl;
	unsigned t;
	const unsigned char *k, *v;
	bool bad;
	while (next_record(data, len, &at, &t, &k, &kl, &v, &vl, &bad)) {
		if (slot_of_key(k, kl, nslots) != slot) {
			return false;
		}
	}
	return !bad;
}

enum twin_rc twin_slot_import_call(struct twin_store *s, const char *payload, size_t len,
		struct twin_error *err)
{
	size_t at = 0, kl, vl;
	unsigned t;
	const unsigned char *k, *v;
	bool bad;
	while (next_record((const unsigned char *)payload, len, &at, &t, &k, &kl, &v, &vl, &bad)) {
		enum twin_rc rc = twin_store_put_in(s, tables[t], k, kl, v, vl, err);
		if (rc) {
			return rc;
		}
	}
	return TWIN_OK; /* checked by twin_slot_records_valid before it was queued */
}

struct purge {
	unsigned slot, nslots;
};

static bool purge_match(void *ctx, const void *key, size_t len)
{
	const struct purge *p = ctx;
	return slot_of_key(key, len, p->nslots) == p->slot;
}

enum twin_rc twin_slot_purge_call(struct twin_store *s, const char *payload, size_t len,
		struct twin_error *err)
{
	char text[32];
	struct purge p;
	size_t deleted = 0;
	snprintf(text, sizeof(text), "%.*s", (int)(len < sizeof(text) ? len : sizeof(text) - 1), payload);
	if (sscanf(text, "%u %u", &p.slot, &p.nslots) != 2 || p.nslots == 0) {
		return twin_fail(err, TWIN_ERR_BAD_REQUEST, "not a slot to purge");
	}
	for (unsigned t = 0; t < TWIN_SLOT_N_TABLES; t++) {
		enum twin_rc rc = twin_store_del_matching(s, tables[t], purge_match, &p, &deleted, err);
		if (rc) {
			return rc;
		}
	}
	return TWIN_OK;
}

enum twin_rc twin_slot_persist_call(struct twin_store *s, const char *payload, size_t len,
		struct twin_error *err)
{
	return twin_store_put_in(s, TWIN_TABLE_META, TWIN_SLOT_META_KEY, strlen(TWIN_SLOT_META_KEY),
			payload, len, err);
}

enum twin_rc twin_slot_barrier_call(struct twin_store *s, const char *payload, size_t len,
		struct twin_error *err)
{
	(void)s;
	(void)payload;
	(void)len;
	(void)err;
	return TWIN_OK;
}

char *twin_slot_table_read(const char *db_path)
{
	struct twin_store *s;
	struct twin_error err;
	const void *val;
	size_t len;
	char *out = NULL;
	if (twin_store_open_readonly(db_path, &s, &err) != TWIN_OK) {
		return NULL; /* no store yet: nothing was moved */
	}
	if (twin_store_read_begin(s) == TWIN_OK) {
		if (twin_store_read_find(s, TWIN_TABLE_META, TWIN_SLOT_META_KEY, strlen(TWIN_SLOT_META_KEY),
					&val, &len) == TWIN_OK && (out = malloc(len + 1))) {
			memcpy(out, val, len);
			out[len] = '\0';
		}
		twin_store_read_end(s);
	}
	twin_store_close(s);
	return out;
}
