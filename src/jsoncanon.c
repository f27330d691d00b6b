/* jsoncanon.c - canonical JSON text (see jsoncanon.h): exact number reads, and the checks that a stored
 * number or string literal is what twin_json_write prints for it. */
#include "jsoncanon.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jsonx.h"

#define MAX_NUMBER_TEXT 32
#define MAX_INT         ((uint64_t)1 << 53)

#define S TWIN_CHAR_SPECIAL
#define R TWIN_CHAR_RAW
#define P TWIN_CHAR_PLAIN
const unsigned char twin_char_class[256] = {
		S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 0x00 */
		S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 0x10 */
		P, P, S, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x20 */
		P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x30 */
		P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x40 */
		P, P, P, P, P, P, P, P, P, P, P, P, S, P, P, P, /* 0x50 */
		P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x60 */
		P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, R, /* 0x70 */
		R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, /* 0x80 */
		R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, /* 0x90 */
		R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, /* 0xa0 */
		R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, /* 0xb0 */
		R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, /* 0xc0 */
		R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, /* 0xd0 */
		R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, /* 0xe0 */
		R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, R, /* 0xf0 */
};
#undef S
#undef R
#undef P

/* ---- numbers ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

size_t twin_number_parse(const char *p, const char *end, struct twin_number *n)
{
	const char *s = p;
	uint64_t m = 0;
	int exp = 0, digits = 0, places = 0;
	bool neg = s < end && *s == '-', point = false, has_exp = false;
	s += neg;
	if (s >= end || !is_digit(*s)) {
		return 0;
	}
	/* the digits of the integer part (one 0, or no leading 0) and of the fraction make the mantissa; 19
	 * digits cannot overflow it, more are refused */
	if (*s == '0') {
		s++;
		digits = 1;
	} else {
		for (const char *first = s; s < end && is_digit(*s) && s - first < 19; s++) {
			m = m * 10 + (uint64_t)(*s - '0');
		}
		digits = (int)(s - p) - neg;
	}
	if (s < end && *s == '.') {
		const char *first = ++s;
		point = true;
		for (; s < end && is_digit(*s) && digits + (s - first) < 19; s++) {
			m = m * 10 + (uint64_t)(*s - '0');
		}
		places = (int)(s - first);
		digits += places;
		if (places == 0) {
			return 0;
		}
	}
	if (m > MAX_INT || (s < end && is_digit(*s))) {
		return 0;
	}
	if (s < end && (*s == 'e' || *s == 'E')) {
		bool eneg = ++s < end && *s == '-';
		has_exp = true;
		s += s < end && (*s == '-' || *s == '+');
		if (s >= end || !is_digit(*s)) {
			return 0;
		}
		for (int k = 0; s < end && is_digit(*s); s++) {
			if (++k > 3) {
				return 0;
			}
			exp = exp * 10 + (*s - '0');
		}
		exp = eneg ? -exp : exp;
	}
	exp -= places;
	if (s - p > MAX_NUMBER_TEXT || exp < -22 || exp > 22) {
		return 0;
	}
	*n = (struct twin_number){m, exp, digits, places, neg, point, has_exp};
	return (size_t)(s - p);
}

/* The mantissa (up to 2^53) and the power of ten (up to 1e22) are exact doubles, so one multiplication
 * or division rounds correctly, as strtod does. */
double twin_number_value(const struct twin_number *n)
{
	static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
			1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	double v = n->e10 < 0 ? (double)n->m / pow10[-n->e10] : (double)n->m * pow10[n->e10];
	return n->neg ? -v : v;
}

bool twin_numbers_equal(double a, double b)
{
	cJSON x = {.type = cJSON_Number, .valuedouble = a}, y = {.type = cJSON_Number, .valuedouble = b};
	return cJSON_Compare(&x, &y, 1);
}

/* Without printing: plain integers of up to 15 digits (not -0) and decimals of up to 6 places ending in
 * a non-zero digit and 14 digits in all are the text twin_json_format_number gives their value. */
static bool surely_canonical(const char *p, size_t len, const struct twin_number *n)
{
	if (!n->exp && !n->point && n->digits <= 15 && !(n->neg && n->m == 0)) {
		return true;
	}
	return !n->exp && n->point && n->places <= 6 && p[len - 1] != '0' && n->digits <= 14;
}

/* The length of the strict JSON number at p[0..end), 0 if there is none. */
static size_t number_len(const char *p, const char *end)
{
	const char *s = p + (p < end && *p == '-');
	const char *int_start = s;
	while (s < end && is_digit(*s)) {
		s++;
	}
	if (s == int_start || (*int_start == '0' && s - int_start > 1)) {
		return 0;
	}
	if (s < end && *s == '.') {
		const char *frac = ++s;
		while (s < end && is_digit(*s)) {
			s++;
		}
		if (s == frac) {
			return 0;
		}
	}
	if (s < end && (*s == 'e' || *s == 'E')) {
		s++;
		s += s < end && (*s == '-' || *s == '+');
		const char *digits = s;
		while (s < end && is_digit(*s)) {
			s++;
		}
		if (s == digits) {
			return 0;
		}
	}
	return (size_t)(s - p);
}

/* Without a number read: a plain integer of up to 15 digits (not -0), or a decimal of up to 6 places
 * ending in a non-zero digit and 14 digits in all, which twin_json_format_number prints as they are. */
size_t twin_canon_short_number(const char *p, const char *end)
{
	const char *s = p + (p < end && *p == '-'), *digits = s, *point = NULL;
	while (s < end && is_digit(*s)) {
		s++;
	}
	if (s == digits || (*digits == '0' && s - digits > 1)) {
		return 0;
	}
	if (s < end && *s == '.') {
		point = s++;
		while (s < end && is_digit(*s)) {
			s++;
		}
	}
	if (s < end && (*s == 'e' || *s == 'E' || *s == '.')) {
		return 0;
	}
	if (!point) {
		return s - digits <= 15 && !(*p == '-' && *digits == '0') ? (size_t)(s - p) : 0;
	}
	return s - point > 1 && s - point <= 7 && s[-1] != '0' && s - digits <= 15 ? (size_t)(s - p) : 0;
}

size_t twin_canon_number(const char *p, const char *end, double *value)
{
	struct twin_number n;
	char text[MAX_NUMBER_TEXT + 1], printed[32];
	double v;
	size_t len = twin_number_parse(p, end, &n);
	if (len) {
		if (surely_canonical(p, len, &n)) {
			if (value) {
				*value = twin_number_value(&n);
			}
			return len;
		}
		v = twin_number_value(&n);
	} else { /* no exact read here: what cJSON's parser reads it as (strtod) */
		len = number_len(p, end);
		if (len == 0 || len > MAX_NUMBER_TEXT) {
			return 0;
		}
		memcpy(text, p, len);
		text[len] = '\0';
		v = strtod(text, NULL);
	}
	if (value) {
		*value = v;
	}
	return twin_json_format_number(printed, v) == len && memcmp(printed, p, len) == 0 ? len : 0;
}

/* ---- strings ---- */

/* The value of a lowercase hex digit (as twin_json_write_string writes them), or -1. */
static int lower_hex(char c)
{
	return is_digit(c) ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Canonical escapes are those twin_json_write_string makes: \" \\ \n \r \t \b \f, and \u00XX for the
 * other control characters except NUL. */
const char *twin_canon_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		while (p < end && twin_char_class[(unsigned char)*p] >= TWIN_CHAR_RAW) {
			p++;
		}
		if (p >= end) {
			return NULL;
		}
		unsigned char ch = (unsigned char)*p;
		if (ch == '"') {
			return p + 1;
		}
		if (ch < 0x20) {
			return NULL;
		}
		if (ch != '\\') {
			continue;
		}
		if (++p >= end) {
			return NULL;
		}
		if (strchr("\"\\nrtbf", *p) && *p) {
			continue;
		}
		if (*p != 'u' || end - p < 5 || p[1] != '0' || p[2] != '0' || (p[3] != '0' && p[3] != '1') ||
				lower_hex(p[4]) < 0) {
			return NULL;
		}
		int v = (p[3] - '0') * 16 + lower_hex(p[4]);
		if (v == 0 || v == '\b' || v == '\t' || v == '\n' || v == '\f' || v == '\r') {
			return NULL;
		}
		p += 4;
	}
	return NULL;
}
