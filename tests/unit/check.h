/* check.h - a tiny test harness: TEST(name) registers a test, CHECK* assert with both values and the
 * place, main runs them all and prints "N passed, N failed". */
#ifndef TWIN_CHECK_H
#define TWIN_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*check_fn)(void);
struct check_test {
	const char *name;
	check_fn fn;
};

#define CHECK_MAX_TESTS 256
extern struct check_test check_tests[CHECK_MAX_TESTS];
extern int check_n_tests, check_failed_now;

#define TEST(tname)                                                                                 \
	static void tname(void);                                                                        \
	__attribute__((constructor)) static void register_##tname(void)                                 \
	{                                                                                              \
		check_tests[check_n_tests].name = #tname;                                                   \
		check_tests[check_n_tests++].fn = tname;                                                    \
	}                                                                                              \
	static void tname(void)

#define CHECK_FAIL(...)                                                                            \
	do {                                                                                           \
		fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                          \
		fprintf(stderr, __VA_ARGS__);                                                              \
		fprintf(stderr, "\n");                                                                     \
		check_failed_now = 1;                                                                      \
		return;                                                                                    \
	} while (0)

#define CHECK(cond)                                                                                \
	do {                                                                                           \
		if (!(cond))                                                                               \
			CHECK_FAIL("CHECK(%s) failed", #cond);                                                 \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                           \
		int64_t check_a = (int64_t)(a), check_b = (int64_t)(b);                                    \
		if (check_a != check_b)                                                                    \
			CHECK_FAIL("%s == %" PRId64 ", expected %s == %" PRId64, #a, check_a, #b, check_b);    \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                           \
		const char *check_a = (a), *check_b = (b);                                                 \
		if (!check_a || !check_b || strcmp(check_a, check_b))                                      \
			CHECK_FAIL("%s == \"%s\", expected \"%s\"", #a, check_a ? check_a : "(null)",          \
					check_b ? check_b : "(null)");                                                 \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
	do {                                                                                           \
		const char *check_h = (hay);                                                               \
		if (!check_h || !strstr(check_h, (needle)))                                                \
			CHECK_FAIL("%s == \"%s\" does not contain \"%s\"", #hay, check_h ? check_h : "(null)", \
					(needle));                                                                     \
	} while (0)

/* A fresh temporary directory (malloc'd path) and its removal, for store tests. */
char *check_tmpdir(void);
void check_rmdir(const char *path);
/* Writes text into the file dir/name. */
void check_write_file(const char *dir, const char *name, const char *text);
/* The file name of tests/data (TWIN_TEST_DATA: its directory), NUL-terminated (malloc'd), at most 1 MiB;
 * NULL when it cannot be read. */
char *check_fixture(const char *name, size_t *len);

#endif
