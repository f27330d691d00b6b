/* jsoncanon.h - canonical JSON text: exactly what twin_json_write prints for the value it reads as. No
 * whitespace; strings with only the escapes twin_json_write_string makes; numbers as
 * twin_json_format_number prints them. A canonical stored text can be copied where the slow paths would
 * parse it and write it again, byte for byte the same: the fast paths (fastmerge.c, twin_render.c)
 * check stored texts with these before copying them. Also exact number reads without strtod, for
 * payloads. Pure: no state, any thread. */
#ifndef TWIN_JSONCANON_H
#define TWIN_JSONCANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a string literal: plain (printable ASCII but quote and backslash) is what payloads may have;
 * raw (also DEL and non-ASCII) what twin_json_write_string writes unescaped; special needs an escape. */
enum { TWIN_CHAR_SPECIAL, TWIN_CHAR_RAW, TWIN_CHAR_PLAIN };
extern const unsigned char twin_char_class[256];

/* A strict JSON number read exactly: value = (neg ? -1 : 1) * m * 10^e10. */
struct twin_number {
	uint64_t m;
	int e10, digits, places;
	bool neg, point, exp;
};

/* Reads the JSON number at p[0..end) into *n; returns its length, or 0 when it is no strict JSON number
 * or not one read exactly here (a mantissa over 2^53, a power of ten beyond 1e+-22, a long text). */
size_t twin_number_parse(const char *p, const char *end, struct twin_number *n);
/* Exactly what strtod (under cJSON's parser) gives for a number twin_number_parse read. */
double twin_number_value(const struct twin_number *n);
/* cJSON_Compare of two numbers (its tolerance included), as merge.c and delta.c compare them. */
bool twin_numbers_equal(double a, double b);

/* The canonical number at p[0..end): its length, and in *value (unless NULL) what cJSON reads it as; 0
 * when the text there is no number or not the one twin_json_format_number prints for its value. */
size_t twin_canon_number(const char *p, const char *end, double *value);
/* The canonical number at p[0..end) when it is short: at most 15 significant digits and no exponent, as
 * most sensor values are; its length, else 0 (then ask twin_canon_number). Two short numbers of other
 * texts are never equal as cJSON_Compare compares numbers: they differ by about 1e-15 of the larger or
 * more, reading each as a double moves it by at most 1.2e-16 of itself, and cJSON's tolerance is
 * 2.2e-16 of the larger. */
size_t twin_canon_short_number(const char *p, const char *end);
/* The canonical string literal at p ('"'): the end of it (past the closing quote), NULL when it is not
 * one (cut short, a raw control character, an escape twin_json_write_string does not make). */
const char *twin_canon_string(const char *p, const char *end);

#endif
