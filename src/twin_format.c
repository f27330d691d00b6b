/* twin_format.c - the stored form of a twin (see twin_format.h).
 *
 * Format 2 (compact, written today):
 *   0x02
 *   varint  version, created, updated, versions.attributes, versions.reported, versions.desired
 *   byte    flags (bit 0: lastSeen present), then zigzag varint lastSeen - updated if present
 *   3 x     varint length + compact JSON text of attributes, reported, desired
 *   2 x     for reported, desired: varint leaf count, then per leaf (depth first, in member order) the
 *           zigzag varint of its metadata ts - updated
 *   if flags bit 1 (the twin has had alarms): varint versions.alarms, varint length + compact JSON text
 *           of the alarms section
 * The id is the key, and the delta is derived from desired and reported, so neither is stored; the
 * metadata tree mirrors its section, so only its timestamps are. A rack twin with 12 readings takes
 * ~260 bytes instead of ~840 as public JSON.
 * Format 1 (read only): 0x01 followed by the public JSON document.
 * Decoding checks every length, count and timestamp range: a damaged value is refused (NULL), never
 * over-read; whatever twin_doc_store writes loads back. */
#include "twin_format.h"

#include <string.h>

#include "delta.h"
#include "jsonidx.h"
#include "jsonx.h"
#include "merge.h"

#define FORMAT_JSON1    '\x01'
#define FORMAT_COMPACT2 TWIN_FORMAT_COMPACT2
#define FLAG_LAST_SEEN  TWIN_FORMAT_LAST_SEEN
#define FLAG_ALARMS     TWIN_FORMAT_ALARMS
#define MAX_INT         TWIN_FORMAT_MAX_INT

/* ---- varints ---- */

static bool put_varint(struct twin_buf *b, uint64_t v)
{
	char tmp[10];
	return twin_buf_put(b, tmp, twin_format_varint(tmp, v));
}

static bool put_zigzag(struct twin_buf *b, int64_t v)
{
	return put_varint(b, twin_format_zigzag(v));
}

struct reader {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t get_varint(struct reader *r)
{
	uint64_t v;
	if (!twin_format_get_varint(&r->p, r->end, &v)) {
		r->bad = true;
	}
	return v;
}

static int64_t get_ts(struct reader *r, int64_t updated)
{
	int64_t ts;
	if (!twin_format_get_ts(&r->p, r->end, updated, &ts)) {
		r->bad = true;
	}
	return ts;
}

/* ---- writing ---- */

static int64_t member_int(const cJSON *obj, const char *name)
{
	int64_t v = 0;
	twin_json_int64(cJSON_GetObjectItemCaseSensitive(obj, name), &v);
	return v;
}

/* version, created, updated and the section versions are stored unsigned: a negative one (only an older
 * JSON value can have it) is stored as 0, like a missing one, so that what is stored always loads. */
static uint64_t member_count(const cJSON *obj, const char *name)
{
	int64_t v = member_int(obj, name);
	return v < 0 ? 0 : (uint64_t)v;
}

/* The metadata node of member key: usually the next one in meta (same order as the section), else
 * looked up by the finder of meta (indexed when meta is big). */
static const cJSON *meta_of(struct twin_finder *f, const cJSON **next, const char *key)
{
	const cJSON *m = *next;
	if (m && m->string && strcmp(m->string, key) == 0) {
		*next = m->next;
		return m;
	}
	return f->obj ? twin_finder_get(f, key) : NULL;
}

static size_t count_leaves(const cJSON *section)
{
	size_t n = 0;
	for (const cJSON *c = section ? section->child : NULL; c; c = c->next) {
		n += cJSON_IsObject(c) ? count_leaves(c) : 1;
	}
	return n;
}

/* Leaves without a timestamp (never the case for twins written by the plugin) get `updated`. */
static bool put_leaf_ts(struct twin_buf *b, const cJSON *section, const cJSON *meta, int64_t updated)
{
	/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): cJSON_IsObject(NULL) is false */
	const cJSON *next = cJSON_IsObject(meta) ? meta->child : NULL;
	struct twin_finder f;
	bool ok = true;
	twin_finder_init(&f, cJSON_IsObject(meta) ? meta : NULL, false, true);
	for (const cJSON *c = section->child; ok && c; c = c->next) {
		const cJSON *m = meta_of(&f, &next, c->string);
		if (cJSON_IsObject(c)) {
			ok = put_leaf_ts(b, c, twin_merge_is_ts_marker(m) ? NULL : m, updated);
			continue;
		}
		int64_t ts = twin_merge_is_ts_marker(m) ? member_int(m, "ts") : updated;
		ok = put_zigzag(b, ts - updated);
	}
	twin_finder_free(&f);
	return ok;
}

static const cJSON *object_or_null(const cJSON *obj, const char *name)
{
	const cJSON *m = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
	return cJSON_IsObject(m) ? m : NULL;
}

/* Puts the varint length of b[start..len) before it (the text is written first, then moved behind). */
static bool prefix_length(struct twin_buf *b, size_t start)
{
	char len_bytes[10];
	size_t n = twin_format_varint(len_bytes, b->len - start);
	if (!twin_buf_reserve(b, n)) {
		return false;
	}
	memmove(b->data + start + n, b->data + start, b->len - start);
	memcpy(b->data + start, len_bytes, n);
	b->len += n;
	return true;
}

/* Appends varint length + compact JSON of obj. */
static bool put_section(struct twin_buf *b, const cJSON *obj)
{
	size_t start = b->len;
	return twin_json_write(b, obj) && prefix_length(b, start);
}

bool twin_doc_store(const cJSON *doc, struct twin_buf *b)
{
	static const cJSON empty = {.type = cJSON_Object};
	const cJSON *versions = object_or_null(doc, "versions");
	const cJSON *meta = object_or_null(doc, "metadata");
	const cJSON *seen = cJSON_GetObjectItemCaseSensitive(doc, "lastSeen");
	int64_t updated = (int64_t)member_count(doc, "updated");
	char format = FORMAT_COMPACT2;
	b->len = 0;
	bool ok = twin_buf_put(b, &format, 1) && put_varint(b, member_count(doc, "version")) &&
			put_varint(b, member_count(doc, "created")) && put_varint(b, (uint64_t)updated);
	for (int s = 0; ok && s < TWIN_N_SECTIONS; s++) {
		ok = put_varint(b, member_count(versions, twin_section_names[s]));
	}
	const cJSON *alarms = object_or_null(doc, "alarms");
	uint64_t alarms_version = member_count(versions, "alarms");
	bool has_alarms = alarms || alarms_version;
	char flags = (char)((seen ? FLAG_LAST_SEEN : 0) | (has_alarms ? FLAG_ALARMS : 0));
	ok = ok && twin_buf_put(b, &flags, 1) && (!seen || put_zigzag(b, member_int(doc, "lastSeen") - updated));
	for (int s = 0; ok && s < TWIN_N_SECTIONS; s++) {
		const cJSON *sec = object_or_null(doc, twin_section_names[s]);
		ok = put_section(b, sec ? sec : &empty);
	}
	for (int s = TWIN_SEC_REPORTED; ok && s <= TWIN_SEC_DESIRED; s++) {
		const cJSON *sec = object_or_null(doc, twin_section_names[s]);
		ok = put_varint(b, count_leaves(sec)) &&
				(!sec || put_leaf_ts(b, sec, object_or_null(meta, twin_section_names[s]), updated));
	}
	return ok && (!has_alarms || (put_varint(b, alarms_version) && put_section(b, alarms ? alarms : &empty)));
}

/* ---- reading ---- */

/* Builds the metadata mirror of section, taking *left timestamps from r. */
static cJSON *read_meta(struct reader *r, const cJSON *section, int64_t updated, uint64_t *left)
{
	cJSON *meta = cJSON_CreateObject();
	for (const cJSON *c = section->child; meta && c; c = c->next) {
		cJSON *m;
		if (cJSON_IsObject(c)) {
			m = read_meta(r, c, updated, left);
		} else if (*left == 0) {
			r->bad = true;
			m = NULL;
		} else {
			(*left)--;
			int64_t ts = get_ts(r, updated);
			m = r->bad ? NULL : twin_merge_ts_marker(ts);
		}
		if (!m || r->bad || !cJSON_AddItemToObject(meta, c->string, m)) {
			cJSON_Delete(m);
			cJSON_Delete(meta);
			return NULL;
		}
	}
	return meta;
}

static cJSON *read_section(struct reader *r)
{
	uint64_t n = get_varint(r);
	if (r->bad || n > (uint64_t)(r->end - r->p)) {
		r->bad = true;
		return NULL;
	}
	struct twin_error ignored;
	/* strict: a damaged value with a duplicated key would load as a twin whose delta and lookups see
	 * one of the two values and whose next load sees the other */
	cJSON *sec = twin_json_parse((const char *)r->p, (size_t)n, &ignored);
	r->p += n;
	if (!cJSON_IsObject(sec)) {
		cJSON_Delete(sec);
		r->bad = true;
		return NULL;
	}
	return sec;
}

static bool add_int(cJSON *obj, const char *name, uint64_t v)
{
	return v <= (uint64_t)MAX_INT && twin_json_add_int64(obj, name, (int64_t)v);
}

/* versions.alarms, and the alarms section as the document's last member (where the writer adds it). */
static bool read_alarms(struct reader *r, cJSON *doc, cJSON *versions)
{
	uint64_t v = get_varint(r);
	cJSON *alarms = r->bad ? NULL : read_section(r);
	if (alarms && add_int(versions, "alarms", v) && cJSON_AddItemToObject(doc, "alarms", alarms)) {
		return true;
	}
	cJSON_Delete(alarms);
	return false;
}

static cJSON *load_compact(const char *id, size_t id_len, struct reader *r)
{
	cJSON *doc = NULL, *sec[TWIN_N_SECTIONS] = {NULL}, *versions = NULL, *meta = NULL;
	char id_str[TWIN_MAX_ID_LEN + 1];
	uint64_t head[6];
	if (id_len > TWIN_MAX_ID_LEN) {
		return NULL;
	}
	memcpy(id_str, id, id_len);
	id_str[id_len] = '\0';
	for (int i = 0; i < 6; i++) {
		head[i] = get_varint(r);
	}
	int64_t updated = head[2] <= (uint64_t)MAX_INT ? (int64_t)head[2] : (r->bad = true, 0);
	unsigned flags = r->p < r->end ? *r->p++ : (r->bad = true, 0u);
	int64_t seen = (flags & FLAG_LAST_SEEN) ? get_ts(r, updated) : 0;
	bool ok = !r->bad && (flags & ~(FLAG_LAST_SEEN | FLAG_ALARMS)) == 0 && (doc = cJSON_CreateObject()) &&
			cJSON_AddStringToObject(doc, "id", id_str) && add_int(doc, "version", head[0]) &&
			add_int(doc, "created", head[1]) && add_int(doc, "updated", head[2]);
	for (int s = 0; ok && s < TWIN_N_SECTIONS; s++) {
		ok = (sec[s] = read_section(r)) != NULL;
	}
	for (int s = 0; ok && s < TWIN_N_SECTIONS; s++) {
		ok = cJSON_AddItemToObject(doc, twin_section_names[s], sec[s]);
		sec[s] = ok ? NULL : sec[s];
	}
	cJSON *delta = ok ? twin_delta_compute(cJSON_GetObjectItemCaseSensitive(doc, "desired"),
								cJSON_GetObjectItemCaseSensitive(doc, "reported"))
					  : NULL;
	ok = ok && twin_json_set(doc, "delta", delta) && (meta = cJSON_AddObjectToObject(doc, "metadata"));
	for (int s = TWIN_SEC_REPORTED; ok && s <= TWIN_SEC_DESIRED; s++) {
		uint64_t left = get_varint(r);
		cJSON *m = r->bad ? NULL
						  : read_meta(r, cJSON_GetObjectItemCaseSensitive(doc, twin_section_names[s]),
									updated, &left);
		ok = m && left == 0 && cJSON_AddItemToObject(meta, twin_section_names[s], m);
		if (m && !ok) {
			cJSON_Delete(m);
		}
	}
	ok = ok && (versions = cJSON_AddObjectToObject(doc, "versions"));
	for (int s = 0; ok && s < TWIN_N_SECTIONS; s++) {
		ok = add_int(versions, twin_section_names[s], head[3 + s]);
	}
	ok = ok && (!(flags & FLAG_LAST_SEEN) || twin_json_add_int64(doc, "lastSeen", seen));
	ok = ok && (!(flags & FLAG_ALARMS) || read_alarms(r, doc, versions));
	for (int s = 0; s < TWIN_N_SECTIONS; s++) {
		cJSON_Delete(sec[s]);
	}
	if (!ok || r->bad || r->p != r->end) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

cJSON *twin_doc_load(const char *id, size_t id_len, const void *val, size_t len)
{
	const char *bytes = val;
	if (len < 2) {
		return NULL;
	}
	if (bytes[0] == FORMAT_COMPACT2) {
		struct reader r = {(const unsigned char *)bytes + 1, (const unsigned char *)bytes + len, false};
		return load_compact(id, id_len, &r);
	}
	if (bytes[0] != FORMAT_JSON1) {
		return NULL;
	}
	struct twin_error ignored;
	cJSON *doc = twin_json_parse(bytes + 1, len - 1, &ignored);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}
