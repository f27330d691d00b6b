/* io.c - twinctl's messages, the read-only open of the store and input/output files. */
#include "twinctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 1, 0))) static void vmessage(const char *fmt, va_list ap)
{
	fputs("twinctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int ctl_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	return CTL_FAIL;
}

void ctl_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
}

int ctl_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	fputs("run 'twinctl --help' for the usage\n", stderr);
	return CTL_USAGE;
}

bool ctl_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		return false;
	}
	*out = v;
	return true;
}

struct twin_store *ctl_open_readonly(const struct ctl *c)
{
	struct twin_store *s = NULL;
	struct twin_error err;
	if (twin_store_open_readonly(c->db, &s, &err) != TWIN_OK) {
		ctl_fail("%s", err.msg);
		return NULL;
	}
	return s;
}

static bool is_std(const char *path)
{
	return !path || !strcmp(path, "-");
}

FILE *ctl_open_file(const char *path, const char *mode)
{
	if (is_std(path)) {
		return mode[0] == 'r' ? stdin : stdout;
	}
	FILE *f = fopen(path, mode);
	if (!f) {
		ctl_fail("cannot open '%s': %s", path, strerror(errno));
	}
	return f;
}

bool ctl_close_file(FILE *f, const char *path)
{
	bool ok = fflush(f) == 0 && !ferror(f);
	int saved = errno;
	if (f != stdout && fclose(f) != 0) {
		ok = false;
		saved = errno;
	}
	if (!ok) {
		ctl_fail("cannot write '%s': %s", is_std(path) ? "standard output" : path,
				strerror(saved ? saved : EIO));
	}
	return ok;
}
