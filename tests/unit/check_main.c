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

void check_write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

char *check_fixture(const char *name, size_t *len)
{
	char path[1024];
	const char *dir = getenv("TWIN_TEST_DATA");
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", name);
	FILE *f = fopen(path, "rb");
	char *buf = f ? malloc(1 << 20) : NULL;
	*len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	if (f) {
		fclose(f);
	}
	if (buf) {
		buf[*len] = '\0';
	}
	return buf;
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
