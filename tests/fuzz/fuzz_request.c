/* fuzz_request.c - libFuzzer target: request bodies of every verb (strict JSON, field checks). The first
 * byte picks the verb, the rest is the payload. */
#include <stddef.h>
#include <stdint.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct twin_request req;
	struct twin_error err;
	if (size < 1) {
		return 0;
	}
	enum twin_verb verb = (enum twin_verb)(data[0] % (TWIN_VERB_SEARCH + 1));
	twin_request_parse(verb, (const char *)data + 1, size - 1, 16, &req, &err);
	twin_request_free(&req);
	return 0;
}
