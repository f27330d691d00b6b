/* twin_common.h - what every core module shares: result codes, the error carrier, limits, log levels
 * and the clock. Keep it to exactly these; anything else belongs to a module header. */
#ifndef TWIN_COMMON_H
#define TWIN_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum twin_rc {
	TWIN_OK = 0,
	TWIN_ERR_BAD_REQUEST, /* 400: the client sent something we cannot accept */
	TWIN_ERR_NOT_FOUND,   /* 404 */
	TWIN_ERR_CONFLICT,    /* 409: conditional version mismatch */
	TWIN_ERR_TOO_LARGE,   /* 413 */
	TWIN_ERR_RATE_LIMITED, /* 429: over a request rate limit, retry after retry_after_ms */
	TWIN_ERR_BUSY,        /* 503: queue full, retry */
	TWIN_ERR_STORE_FULL,  /* 507: LMDB map full and may not grow */
	TWIN_ERR_DISK_FULL,   /* 507: the disk under the store is full (the map is not: do not grow it) */
	TWIN_ERR_STORE,       /* 500: any other storage failure */
	TWIN_ERR_NOMEM,       /* 500 */
	TWIN_ERR_CONFIG,      /* refuse to load */
};

#define TWIN_MAX_ID_LEN    256
#define TWIN_MAX_TOKEN_LEN 256
#define TWIN_MAX_CORR_LEN  1024 /* MQTT v5 correlation data a request may carry (echoed in its answer) */
#define TWIN_MAX_RESPONSE_TOPIC_LEN 1024
#define TWIN_ERRMSG_LEN    320

/* An error with its client-facing message ("twin 'rack-12' not found"). */
struct twin_error {
	enum twin_rc rc;
	int64_t retry_after_ms; /* > 0: tell the client when to retry (set after twin_fail, which clears it) */
	char msg[TWIN_ERRMSG_LEN];
	char path[TWIN_MAX_ID_LEN]; /* "": none; else the JSON pointer of what was refused ("/desired/fanSpeed"),
	                               set after twin_fail, which clears it */
};

enum twin_log_level { TWIN_LOG_INFO, TWIN_LOG_NOTICE, TWIN_LOG_WARNING, TWIN_LOG_ERR };

/* Sets err (when not NULL) and returns rc, so callers can `return twin_fail(err, ...)`. */
enum twin_rc twin_fail(struct twin_error *err, enum twin_rc rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* HTTP-like status of a result code (200 for TWIN_OK). */
int twin_rc_status(enum twin_rc rc);

/* Wall-clock Unix time in milliseconds. */
int64_t twin_now_ms(void);

#endif
