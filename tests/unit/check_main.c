/* check_main.c - runs every registered test and prints the closing line ctest and CI read. */
#define _XOPEN_SOURCE 700
#include "check.h"

#include <ftw.h>
#include <unistd.h>

struct check_test check_tests[CHECK_MAX_TESTS];
int check_n_tests, check_failed_now;

char *check_tmpdir(void)
{
	char tmpl[] = "/tmp/twin-unit-XXXXXX";
	return strdup(mkdtemp(tmpl));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void check_rmdir(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	for (int i = 0; i < check_n_tests; i++) {
		if (argc > 1 && !strstr(check_tests[i].name, argv[1])) {
			continue;
		}
		check_failed_now = 0;
		check_tests[i].fn();
		if (check_failed_now) {
			fprintf(stderr, "FAIL %s\n", check_tests[i].name);
			failed++;
		} else {
			passed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
