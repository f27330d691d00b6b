/* twin_render.c - a stored twin's public JSON from its stored bytes (see twin_render.h; the layout of
 * format 2 is at the top of twin_format.c). Thread: any (a get's, on the broker thread); no state.
 * Must never write a byte that writing the loaded twin (with its `model` shown) would not: when in
 * doubt it returns false.
 *
 * Loading a twin of thousands of keys costs a cJSON node per value (parse, then free), its metadata a
 * node pair per leaf, and writing prints every number again; here each section is read onto a tape
 * (jsontape.h: one array, texts left in place) and
 *   - the sections are copied: a tape is read only from a canonical text, which is what writing the
 *     parsed section prints;
 *   - the metadata mirrors reported and desired, member by member, with {"ts":N} for each leaf taken
 *     from the stored timestamps, as loading builds it;
 *   - the delta is twin_delta_compute's, on the tapes: reported members found through the tape's index,
 *     values compared as cJSON_Compare does (twin_tape_equal), desired values copied as texts;
 *   - the alarms section (stored after the timestamps) is copied like the others, and `model` is
 *     attributes.model when a string, else the default model, as twin_doc_show_model sets it.
 * Every check loading makes (ranges, counts, the exact end) is made here too, so a value loading refuses
 * is refused here; the differential fuzz target fuzz_render checks both give the same bytes. */
#include "twin_render.h"

#include <string.h>

#include "jsontape.h"
#include "twin.h"
#include "twin_format.h"

/* Deeper sections go the loading way (a twin's nesting is bounded by max_depth, at most 64). */
#define MAX_DEPTH 128
#define MAX_INT   TWIN_FORMAT_MAX_INT
#define ALARMS    TWIN_N_SECTIONS /* the alarms section's text and tape follow the three sections' */

/* The parts of a stored value: header, section texts (and the alarms section's, read after the
 * timestamps), and where the leaves' timestamps start. */
struct stored {
	uint64_t head[6]; /* version, created, updated, versions.attributes, .reported, .desired */
	bool has_seen, has_alarms;
	int64_t seen;
	uint64_t alarms_version;
	const char *text[TWIN_N_SECTIONS + 1];
	size_t len[TWIN_N_SECTIONS + 1];
	const unsigned char *p, *end;
};

/* The leaf timestamps of one section being written, and the text of the last one (leaves changed by one
 * message share their timestamp). */
struct stamps {
	const unsigned char *p, *end;
	int64_t updated;
	uint64_t left;
	int64_t last;
	size_t len;    /* of text; 0 before the first leaf */
	char text[48]; /* {"ts":last} */
};

/* A varint length and that many bytes of text at *p. */
static bool read_text(const unsigned char **p, const unsigned char *end, const char **text, size_t *len)
{
	uint64_t n;
	if (!twin_format_get_varint(p, end, &n) || n > (uint64_t)(end - *p)) {
		return false;
	}
	*text = (const char *)*p;
	*len = (size_t)n;
	*p += n;
	return true;
}

static bool read_head(struct stored *s, const void *val, size_t len)
{
	const unsigned char *p = val, *end = p + len;
	if (len < 2 || *p++ != (unsigned char)TWIN_FORMAT_COMPACT2) {
		return false;
	}
	for (int i = 0; i < 6; i++) {
		if (!twin_format_get_varint(&p, end, &s->head[i]) || s->head[i] > (uint64_t)MAX_INT) {
			return false;
		}
	}
	if (p == end || (*p & ~(TWIN_FORMAT_LAST_SEEN | TWIN_FORMAT_ALARMS))) {
		return false;
	}
	s->has_alarms = *p & TWIN_FORMAT_ALARMS;
	s->has_seen = *p++ & TWIN_FORMAT_LAST_SEEN;
	if (s->has_seen && !twin_format_get_ts(&p, end, (int64_t)s->head[2], &s->seen)) {
		return false;
	}
	for (int i = 0; i < TWIN_N_SECTIONS; i++) {
		if (!read_text(&p, end, &s->text[i], &s->len[i])) {
			return false;
		}
	}
	s->p = p;
	s->end = end;
	return true;
}

/* After the timestamps: versions.alarms and the alarms section's text. */
static bool read_alarms(struct stored *s)
{
	return twin_format_get_varint(&s->p, s->end, &s->alarms_version) &&
			s->alarms_version <= (uint64_t)MAX_INT &&
			read_text(&s->p, s->end, &s->text[ALARMS], &s->len[ALARMS]);
}

/* twin_buf_put, inline when b has room (twin_doc_render reserves what the twin takes up front). Texts of
 * 4 to 16 bytes (keys, numbers, timestamps) are copied as two overlapping fixed-size words, which is
 * cheaper than a call to memcpy for each. */
static inline bool put_n(struct twin_buf *b, const char *s, size_t n)
{
	if (!b->data || n > b->cap - b->len) {
		return twin_buf_put(b, s, n);
	}
	char *d = b->data + b->len;
	if (n >= 8 && n <= 16) {
		memcpy(d, s, 8);
		memcpy(d + n - 8, s + n - 8, 8);
	} else if (n >= 4 && n < 8) {
		memcpy(d, s, 4);
		memcpy(d + n - 4, s + n - 4, 4);
	} else {
		memcpy(d, s, n);
	}
	b->len += n;
	return true;
}

static inline bool put(struct twin_buf *b, const char *s)
{
	return put_n(b, s, strlen(s));
}

/* A member's key literal and the colon, after a comma unless it is the first. */
static bool put_key(struct twin_buf *b, const struct twin_tape_item *m, bool first)
{
	return (first || put_n(b, ",", 1)) && put_n(b, m->key, m->key_len) && put_n(b, ":", 1);
}

/* {"ts":ts}, its number as twin_json_write prints it */
static bool put_stamp(struct twin_buf *b, struct stamps *st, int64_t ts)
{
	if (st->len == 0 || ts != st->last) {
		size_t n = twin_json_format_number(st->text + 6, (double)ts);
		memcpy(st->text, "{\"ts\":", 6);
		st->text[6 + n] = '}';
		st->len = n ? 7 + n : 0;
		st->last = ts;
	}
	if (st->len < 16 || st->len > b->cap - b->len) {
		return st->len > 0 && put_n(b, st->text, st->len);
	}
	memcpy(b->data + b->len, st->text, 16); /* 16 to 24 bytes: two overlapping words (see put_n) */
	memcpy(b->data + b->len + st->len - 16, st->text + st->len - 16, 16);
	b->len += st->len;
	return true;
}

/* The metadata mirror of object obj: its objects mirrored, each other member {"ts":N}. */
static bool put_meta(struct twin_buf *b, const struct twin_tape *t, uint32_t obj, struct stamps *st)
{
	const struct twin_tape_item *it = t->item;
	bool ok = put_n(b, "{", 1);
	for (uint32_t i = obj + 1; ok && i < it[obj].end; i = it[i].end) {
		int64_t ts;
		ok = put_key(b, &it[i], i == obj + 1);
		if (it[i].kind == TWIN_TAPE_OBJECT) {
			ok = ok && put_meta(b, t, i, st);
		} else if (ok && st->left > 0) {
			st->left--;
			ok = twin_format_get_ts(&st->p, st->end, st->updated, &ts) && put_stamp(b, st, ts);
		} else {
			ok = false; /* more leaves than timestamps */
		}
	}
	return ok && put_n(b, "}", 1);
}

/* The metadata of reported and desired, reading their timestamps from s->p on. */
static bool put_metadata(struct twin_buf *b, struct stored *s, const struct twin_tape *tapes)
{
	bool ok = put(b, ",\"metadata\":{");
	struct stamps st = {s->p, s->end, (int64_t)s->head[2], 0, 0, 0, {0}};
	for (int sec = TWIN_SEC_REPORTED; ok && sec <= TWIN_SEC_DESIRED; sec++) {
		ok = put(b, sec == TWIN_SEC_REPORTED ? "\"" : ",\"") && put(b, twin_section_names[sec]) &&
				put(b, "\":") && twin_format_get_varint(&st.p, st.end, &st.left) &&
				put_meta(b, &tapes[sec], 0, &st) && st.left == 0;
	}
	s->p = st.p;
	return ok && put(b, "}");
}

/* Value i of t if it is an object (reported's part that desired's object is compared with). */
static uint32_t object_or_none(const struct twin_tape *t, uint32_t i)
{
	return i != TWIN_TAPE_NONE && t->item[i].kind == TWIN_TAPE_OBJECT ? i : TWIN_TAPE_NONE;
}

/* twin_delta_compute(desired object d, reported object r or TWIN_TAPE_NONE); *any: it has members. */
static bool put_delta(struct twin_buf *b, const struct twin_tape *dt, uint32_t d,
		const struct twin_tape *rt, uint32_t r, bool *any)
{
	const struct twin_tape_item *it = dt->item;
	bool ok = put_n(b, "{", 1);
	uint32_t hint = r == TWIN_TAPE_NONE ? r : r + 1;
	*any = false;
	for (uint32_t i = d + 1; ok && i < it[d].end; i = it[i].end) {
		uint32_t m = r == TWIN_TAPE_NONE ? r : twin_tape_find(rt, r, it[i].key, it[i].key_len, &hint);
		if (it[i].kind == TWIN_TAPE_OBJECT && it[i].n > 0) {
			size_t mark = b->len;
			bool sub;
			ok = put_key(b, &it[i], !*any) && put_delta(b, dt, i, rt, object_or_none(rt, m), &sub);
			if (ok && !sub) {
				b->len = mark; /* nothing differs inside: not in the delta */
				continue;
			}
		} else if (m == TWIN_TAPE_NONE || !twin_tape_equal(dt, i, rt, m)) {
			ok = put_key(b, &it[i], !*any) && put_n(b, it[i].val, it[i].val_len);
		} else {
			continue;
		}
		*any = true;
	}
	return ok && put_n(b, "}", 1);
}

static bool put_int(struct twin_buf *b, const char *member, uint64_t v)
{
	return put(b, member) && twin_json_write_int(b, (int64_t)v);
}

/* A section's text read onto its tape: a canonical object. */
static bool read_section(struct twin_tape *tape, const char *text, size_t len)
{
	return twin_tape_read(tape, text, len, MAX_DEPTH) && tape->item[0].kind == TWIN_TAPE_OBJECT;
}

/* `model` as twin_doc_show_model sets it: attributes.model when a string, else the default (if any). */
static bool put_model(struct twin_buf *b, const struct twin_tape *attributes, const char *default_model)
{
	static const char key[] = "\"model\"";
	uint32_t hint = 1;
	uint32_t m = twin_tape_find(attributes, 0, key, sizeof(key) - 1, &hint);
	if (m != TWIN_TAPE_NONE && attributes->item[m].kind == TWIN_TAPE_STRING) {
		return put(b, ",\"model\":") && put_n(b, attributes->item[m].val, attributes->item[m].val_len);
	}
	return !default_model || (put(b, ",\"model\":") && twin_json_write_string(b, default_model));
}

/* versions, lastSeen, alarms and model, and the closing brace. */
static bool put_tail(struct twin_buf *b, const struct twin_stored *t, const struct stored *s,
		const struct twin_tape *tapes)
{
	bool ok = put(b, ",\"versions\":{");
	for (int sec = 0; ok && sec < TWIN_N_SECTIONS; sec++) {
		ok = put(b, sec ? ",\"" : "\"") && put(b, twin_section_names[sec]) &&
				put_int(b, "\":", s->head[3 + sec]);
	}
	return ok && (!s->has_alarms || put_int(b, ",\"alarms\":", s->alarms_version)) && put_n(b, "}", 1) &&
			(!s->has_seen || (put(b, ",\"lastSeen\":") && twin_json_write_int(b, s->seen))) &&
			(!s->has_alarms || (put(b, ",\"alarms\":") && put_n(b, s->text[ALARMS], s->len[ALARMS]))) &&
			put_model(b, &tapes[TWIN_SEC_ATTRIBUTES], t->default_model) && put_n(b, "}", 1);
}

/* The document in load_compact's member order, then `model`. */
static bool put_doc(struct twin_buf *b, const struct twin_stored *t, struct stored *s,
		struct twin_tape *tapes)
{
	char id_str[TWIN_MAX_ID_LEN + 1];
	bool any;
	memcpy(id_str, t->id, t->id_len);
	id_str[t->id_len] = '\0';
	bool ok = put(b, "{\"id\":") && twin_json_write_string(b, id_str) &&
			put_int(b, ",\"version\":", s->head[0]) && put_int(b, ",\"created\":", s->head[1]) &&
			put_int(b, ",\"updated\":", s->head[2]);
	for (int sec = 0; ok && sec < TWIN_N_SECTIONS; sec++) {
		ok = put(b, ",\"") && put(b, twin_section_names[sec]) && put(b, "\":") &&
				put_n(b, s->text[sec], s->len[sec]);
	}
	return ok && put(b, ",\"delta\":") &&
			put_delta(b, &tapes[TWIN_SEC_DESIRED], 0, &tapes[TWIN_SEC_REPORTED], 0, &any) &&
			put_metadata(b, s, tapes) &&
			(!s->has_alarms ||
					(read_alarms(s) && read_section(&tapes[ALARMS], s->text[ALARMS], s->len[ALARMS]))) &&
			put_tail(b, t, s, tapes) && s->p == s->end;
}

/* About what the document takes, at most: its members' texts, the delta (a part of desired), and the
 * metadata (a section's text with each leaf's value replaced by {"ts":N}, up to 24 bytes). */
static size_t room(size_t id_len, const struct stored *s, const struct twin_tape *tapes)
{
	return 400 + 6 * id_len + s->len[TWIN_SEC_ATTRIBUTES] + 2 * s->len[TWIN_SEC_REPORTED] +
			3 * s->len[TWIN_SEC_DESIRED] + 24 * (tapes[TWIN_SEC_REPORTED].n + tapes[TWIN_SEC_DESIRED].n);
}

bool twin_doc_render(const struct twin_stored *t, struct twin_buf *b)
{
	struct stored s = {.has_seen = false};
	struct twin_tape tapes[TWIN_N_SECTIONS + 1] = {{0}};
	size_t start = b->len;
	bool ok = t->id_len <= TWIN_MAX_ID_LEN && read_head(&s, t->val, t->len);
	for (int sec = 0; ok && sec < TWIN_N_SECTIONS; sec++) {
		ok = read_section(&tapes[sec], s.text[sec], s.len[sec]);
	}
	ok = ok && twin_buf_reserve(b, room(t->id_len, &s, tapes)) && put_doc(b, t, &s, tapes);
	for (int i = 0; i <= ALARMS; i++) {
		twin_tape_free(&tapes[i]);
	}
	if (!ok) {
		b->len = start;
	}
	return ok;
}
