/* err.c - the error carrier and the mapping from result codes to HTTP-like statuses. */
#include "twin_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

enum twin_rc twin_fail(struct twin_error *err, enum twin_rc rc, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->rc = rc;
		err->retry_after_ms = 0;
		err->path[0] = '\0';
	}
	return rc;
}

int twin_rc_status(enum twin_rc rc)
{
	switch (rc) {
		case TWIN_OK:
			return 200;
		case TWIN_ERR_BAD_REQUEST:
		case TWIN_ERR_CONFIG:
			return 400;
		case TWIN_ERR_NOT_FOUND:
			return 404;
		case TWIN_ERR_CONFLICT:
			return 409;
		case TWIN_ERR_TOO_LARGE:
			return 413;
		case TWIN_ERR_RATE_LIMITED:
			return 429;
		case TWIN_ERR_BUSY:
			return 503;
		case TWIN_ERR_STORE_FULL:
		case TWIN_ERR_DISK_FULL:
			return 507;
		case TWIN_ERR_STORE:
		case TWIN_ERR_NOMEM:
			return 500;
	}
	return 500;
}

int64_t twin_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
