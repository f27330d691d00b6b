/* fuzz_request.c - libFuzzer target: request bodies of every verb as each front reads them ($twin's
 * strict JSON and field checks, AWS shadow requests, Azure reported patches), and the AWS answers made
 * from what parsed. The first byte picks the verb (byte % 7) and the front (byte / 7 % 3), the rest
 * is the payload. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "front_aws.h"
#include "front_azure.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct twin_request req;
	struct twin_error err;
	struct twin_buf b = {0};
	if (size < 1) {
		return 0;
	}
	enum twin_verb verb = (enum twin_verb)(data[0] % (TWIN_VERB_SEARCH + 1));
	struct twin_route r = {.front = data[0] / (TWIN_VERB_SEARCH + 1) % 3, .client_id = "c",
			.request_topic = "$aws/things/t/shadow/update", .rid = "1"};
	const char *payload = (const char *)data + 1;
	enum twin_rc rc = twin_request_parse_for(&r, verb, payload, size - 1, 16, &req, &err);
	if (rc == TWIN_OK && r.front == TWIN_FRONT_AWS && verb == TWIN_VERB_UPDATE) {
		twin_out_free(twin_aws_update_answer(&r, &req, 1, 1000, &b));
	} else if (rc != TWIN_OK && r.front != TWIN_FRONT_NATIVE) {
		twin_out_free(twin_answer_error(&r, &err, req.token));
	}
	twin_request_free(&req);
	free(twin_aws_client_token(payload, size - 1));
	twin_buf_free(&b);
	return 0;
}
