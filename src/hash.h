/* hash.h - the one byte-string hash of the core: 64-bit FNV-1a, for the fixed tables keyed by a twin or
 * client id (pending.c's read-your-writes slots, ratelimit.c's buckets). uthash tables use their own. */
#ifndef TWIN_HASH_H
#define TWIN_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t twin_hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h = (h ^ p[i]) * 1099511628211ULL;
	}
	return h;
}

#endif
