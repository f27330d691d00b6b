/* fuzz_query.c - libFuzzer target: the search filter parser and evaluator, the sort parser and the cursor
 * decoder. Input: filter text; the filter is evaluated on a fixed twin. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cJSON *doc;
	struct twin_error err;
	struct twin_sort sort = {0};
	struct twin_sort_key key;
	if (!doc) {
		doc = cJSON_Parse("{\"id\":\"r1\",\"version\":3,\"attributes\":{\"site\":\"dc1\"},"
						  "\"reported\":{\"t\":31.5,\"ok\":true,\"n\":null,\"a\":[1,2]}}");
	}
	char *text = malloc(size + 1);
	if (!text) {
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	struct twin_query *q = twin_query_parse(text, &err);
	if (q) {
		twin_query_match(q, doc);
		twin_query_free(q);
	}
	cJSON *spec = cJSON_CreateArray();
	cJSON_AddItemToArray(spec, cJSON_CreateString(text));
	if (twin_sort_parse(&sort, spec, &err) == TWIN_OK && twin_sort_key_of(&sort, doc, &key)) {
		twin_sort_key_free(&key);
	}
	if (twin_cursor_decode(&sort, text, &key, &err) == TWIN_OK) {
		twin_sort_key_free(&key);
	}
	twin_sort_free(&sort);
	cJSON_Delete(spec);
	free(text);
	return 0;
}
