/* test_schema.c - the JSON Schema subset: every keyword accepting and refusing values, the path and text
 * of failures, every way a schema is refused at compile, and the member lookups of the telemetry fast
 * path. */
#include "check.h"
#include "schema.h"

/* A case: schema and value as JSON text; valid 1 or 0; when 0, the path and message expected. */
struct check_case {
	const char *schema, *value;
	int valid;
	const char *path, *msg;
};

static struct twin_schema *compile_text(const char *json, struct twin_error *err)
{
	cJSON *j = cJSON_Parse(json);
	if (!j) {
		twin_fail(err, TWIN_ERR_BAD_REQUEST, "bad test JSON: %s", json);
		return NULL;
	}
	struct twin_schema *s = twin_schema_compile(j, "/reported", err);
	cJSON_Delete(j);
	return s;
}

/* 1 valid, 0 invalid (f filled), -1 when the schema or the value does not even parse or compile. */
static int check_text(const char *schema, const char *value, struct twin_schema_failure *f)
{
	struct twin_error err = {.rc = TWIN_OK};
	struct twin_schema *s = compile_text(schema, &err);
	cJSON *v = cJSON_Parse(value);
	int valid = s && v ? twin_schema_check(s, v, f) : -1;
	if (!s) {
		fprintf(stderr, "  schema refused: %s\n", err.msg);
	}
	twin_schema_free(s);
	cJSON_Delete(v);
	return valid;
}

static void run_cases(const struct check_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct check_case *c = &cases[i];
		struct twin_schema_failure f = {"?", "?"};
		int valid = check_text(c->schema, c->value, &f);
		if (valid != c->valid) {
			CHECK_FAIL("%s on %s: %d, expected %d (%s: %s)", c->value, c->schema, valid, c->valid, f.path,
					f.msg);
		}
		if (!valid && c->msg && (strcmp(f.path, c->path) || strcmp(f.msg, c->msg))) {
			CHECK_FAIL("%s on %s: '%s: %s', expected '%s: %s'", c->value, c->schema, f.path, f.msg, c->path,
					c->msg);
		}
	}
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

/* The message the schema is refused with, "" when it compiles. */
static const char *refusal(const char *schema, struct twin_error *err)
{
	struct twin_schema *s = compile_text(schema, err);
	if (s) {
		twin_schema_free(s);
		err->msg[0] = '\0';
	}
	return err->msg;
}

TEST(schema_should_check_types_and_type_arrays)
{
	static const struct check_case cases[] = {
			{"{\"type\":\"null\"}", "null", 1, NULL, NULL},
			{"{\"type\":\"boolean\"}", "false", 1, NULL, NULL},
			{"{\"type\":\"object\"}", "{}", 1, NULL, NULL},
			{"{\"type\":\"array\"}", "[]", 1, NULL, NULL},
			{"{\"type\":\"number\"}", "-2.5e3", 1, NULL, NULL},
			{"{\"type\":\"string\"}", "\"\"", 1, NULL, NULL},
			{"{\"type\":\"number\"}", "\"5\"", 0, "", "expected a number, got a string"},
			{"{\"type\":\"string\"}", "5", 0, "", "expected a string, got a number"},
			{"{\"type\":\"object\"}", "[]", 0, "", "expected an object, got an array"},
			{"{\"type\":\"array\"}", "{}", 0, "", "expected an array, got an object"},
			{"{\"type\":\"null\"}", "true", 0, "", "expected null, got a boolean"},
			{"{\"type\":\"boolean\"}", "null", 0, "", "expected a boolean, got null"},
			{"{\"type\":[\"number\",\"null\"]}", "null", 1, NULL, NULL},
			{"{\"type\":[\"number\",\"null\"]}", "3", 1, NULL, NULL},
			{"{\"type\":[\"number\",\"null\"]}", "\"3\"", 0, "", "expected null or a number, got a string"},
			{"{\"type\":[\"string\",\"boolean\",\"null\"]}", "{}", 0, "",
					"expected null, a boolean or a string, got an object"},
	};
	RUN(cases);
}

TEST(schema_should_take_integers_as_numbers_without_a_fraction)
{
	static const struct check_case cases[] = {
			{"{\"type\":\"integer\"}", "3", 1, NULL, NULL},
			{"{\"type\":\"integer\"}", "1.0", 1, NULL, NULL},
			{"{\"type\":\"integer\"}", "-0", 1, NULL, NULL},
			{"{\"type\":\"integer\"}", "1e3", 1, NULL, NULL},
			{"{\"type\":\"integer\"}", "1.5", 0, "", "1.5 is not an integer"},
			{"{\"type\":\"integer\"}", "\"1\"", 0, "", "expected an integer, got a string"},
			{"{\"type\":[\"integer\",\"string\"]}", "0.25", 0, "", "0.25 is not an integer"},
			{"{\"type\":\"number\"}", "7", 1, NULL, NULL},
			{"{\"type\":[\"number\",\"integer\"]}", "7.5", 1, NULL, NULL},
	};
	RUN(cases);
}

TEST(schema_should_take_boolean_schemas)
{
	static const struct check_case cases[] = {
			{"true", "{\"anything\":[1,2]}", 1, NULL, NULL},
			{"{}", "\"anything\"", 1, NULL, NULL},
			{"false", "null", 0, "", "no value is allowed here"},
			{"{\"properties\":{\"a\":true,\"b\":false}}", "{\"a\":1}", 1, NULL, NULL},
			{"{\"properties\":{\"a\":true,\"b\":false}}", "{\"a\":1,\"b\":2}", 0, "/b",
					"property \"b\" is not allowed"},
			{"{\"items\":false}", "[]", 1, NULL, NULL},
			{"{\"items\":false}", "[0]", 0, "/0", "no value is allowed here"},
	};
	RUN(cases);
}

TEST(schema_should_check_number_bounds)
{
	static const struct check_case cases[] = {
			{"{\"minimum\":1,\"maximum\":5}", "1", 1, NULL, NULL},
			{"{\"minimum\":1,\"maximum\":5}", "5", 1, NULL, NULL},
			{"{\"minimum\":1,\"maximum\":5}", "9", 0, "", "9 is above the maximum 5"},
			{"{\"minimum\":1,\"maximum\":5}", "0.5", 0, "", "0.5 is below the minimum 1"},
			{"{\"exclusiveMinimum\":1,\"exclusiveMaximum\":5}", "1.001", 1, NULL, NULL},
			{"{\"exclusiveMinimum\":1,\"exclusiveMaximum\":5}", "5", 0, "",
					"5 is at or above the exclusive maximum 5"},
			{"{\"exclusiveMinimum\":1,\"exclusiveMaximum\":5}", "9", 0, "",
					"9 is at or above the exclusive maximum 5"},
			{"{\"exclusiveMinimum\":-1.5}", "-1.5", 0, "", "-1.5 is at or below the exclusive minimum -1.5"},
			{"{\"maximum\":31.5}", "31.5", 1, NULL, NULL},
			{"{\"maximum\":31.5}", "31.500001", 0, "", "31.500001 is above the maximum 31.5"},
	};
	RUN(cases);
}

TEST(schema_should_check_multiples_with_a_floating_point_tolerance)
{
	static const struct check_case cases[] = {
			{"{\"multipleOf\":0.1}", "0.3", 1, NULL, NULL},
			{"{\"multipleOf\":0.1}", "0.7", 1, NULL, NULL},
			{"{\"multipleOf\":0.1}", "1234.5", 1, NULL, NULL},
			{"{\"multipleOf\":0.1}", "-2.3", 1, NULL, NULL},
			{"{\"multipleOf\":0.01}", "19.99", 1, NULL, NULL},
			{"{\"multipleOf\":0.05}", "4.35", 1, NULL, NULL},
			{"{\"multipleOf\":0.1}", "0", 1, NULL, NULL},
			{"{\"multipleOf\":0.1}", "0.35", 0, "", "0.35 is not a multiple of 0.1"},
			{"{\"multipleOf\":2}", "7", 0, "", "7 is not a multiple of 2"},
			{"{\"multipleOf\":1}", "1.0000001", 0, "", "1.0000001 is not a multiple of 1"},
			{"{\"multipleOf\":1}", "1000000000000000.5", 0, NULL, NULL},
			{"{\"multipleOf\":0.5,\"type\":\"integer\"}", "1e308", 1, NULL, NULL},
	};
	RUN(cases);
}

TEST(schema_should_count_string_length_in_code_points)
{
	static const struct check_case cases[] = {
			{"{\"minLength\":2,\"maxLength\":3}", "\"ab\"", 1, NULL, NULL},
			{"{\"minLength\":2,\"maxLength\":3}", "\"a\"", 0, "", "\"a\" is 1 character, at least 2 expected"},
			{"{\"minLength\":2,\"maxLength\":3}", "\"abcd\"", 0, "",
					"\"abcd\" is 4 characters, at most 3 allowed"},
			/* é is 2 bytes, € 3, the emoji 4 (a surrogate pair in the JSON text): 3 code points */
			{"{\"maxLength\":3}", "\"\u00e9\u20ac\\ud83d\\ude00\"", 1, NULL, NULL},
			{"{\"minLength\":4}", "\"\u00e9\u20ac\\ud83d\\ude00\"", 0, "",
					"\"\u00e9\u20ac\U0001F600\" is 3 characters, at least 4 expected"},
			{"{\"maxLength\":0}", "\"\"", 1, NULL, NULL},
	};
	RUN(cases);
}

TEST(schema_should_search_patterns_unanchored)
{
	static const struct check_case cases[] = {
			{"{\"pattern\":\"[0-9]\"}", "\"rack-12\"", 1, NULL, NULL},
			{"{\"pattern\":\"^[a-z]+[0-9]$\"}", "\"abc1\"", 1, NULL, NULL},
			{"{\"pattern\":\"^[a-z]+[0-9]$\"}", "\"abc\"", 0, "",
					"\"abc\" does not match the pattern ^[a-z]+[0-9]$"},
			{"{\"pattern\":\"^\\\\w+\\\\s\\\\w+$\"}", "\"two words\"", 1, NULL, NULL},
			{"{\"pattern\":\"^(ok|warn|fail)$\"}", "\"okay\"", 0, "",
					"\"okay\" does not match the pattern ^(ok|warn|fail)$"},
			{"{\"pattern\":\"\\\\.\"}", "\"a.b\"", 1, NULL, NULL},
			{"{\"pattern\":\"\\\\.\"}", "\"ab\"", 0, NULL, NULL},
	};
	RUN(cases);
}

TEST(schema_should_apply_keywords_only_to_their_type)
{
	static const struct check_case cases[] = {
			{"{\"minimum\":5,\"multipleOf\":2}", "\"abc\"", 1, NULL, NULL},
			{"{\"maxLength\":1,\"pattern\":\"^x$\"}", "12345", 1, NULL, NULL},
			{"{\"required\":[\"a\"],\"additionalProperties\":false}", "[1,2]", 1, NULL, NULL},
			{"{\"maxItems\":0,\"items\":false}", "{\"a\":[1]}", 1, NULL, NULL},
			{"{\"minimum\":5,\"maxLength\":1,\"required\":[\"a\"],\"minItems\":3}", "null", 1, NULL, NULL},
			{"{\"minimum\":5,\"maxLength\":1,\"required\":[\"a\"],\"minItems\":3}", "true", 1, NULL, NULL},
	};
	RUN(cases);
}

static const char *rack_schema =
		"{\"type\":\"object\",\"title\":\"rack telemetry\",\"additionalProperties\":false,"
		"\"required\":[\"site\"],\"properties\":{"
		"\"site\":{\"type\":\"string\",\"description\":\"data centre\"},"
		"\"tempTop\":{\"type\":\"number\",\"unit\":\"Cel\",\"minimum\":-40,\"maximum\":85},"
		"\"fanSpeed\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":5,\"default\":2},"
		"\"status\":{\"enum\":[\"ok\",\"warn\",\"fail\"]},"
		"\"tags\":{\"type\":\"array\",\"maxItems\":2,\"items\":{\"type\":\"string\",\"minLength\":1}},"
		"\"pos\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}}}";

TEST(schema_should_check_objects_members_and_required_names)
{
	struct check_case cases[] = {
			{rack_schema, "{\"site\":\"dc1\",\"tempTop\":31.5,\"fanSpeed\":3,\"status\":\"ok\",\"tags\":[\"a\"],"
						  "\"pos\":{\"row\":2}}",
					1, NULL, NULL},
			{rack_schema, "{\"tempTop\":31.5}", 0, "", "required property \"site\" is missing"},
			{rack_schema, "{\"site\":\"dc1\",\"foo\":1}", 0, "/foo", "property \"foo\" is not allowed"},
			{rack_schema, "{\"site\":\"dc1\",\"fanSpeed\":9}", 0, "/fanSpeed", "9 is above the maximum 5"},
			{rack_schema, "{\"site\":\"dc1\",\"fanSpeed\":1.5}", 0, "/fanSpeed", "1.5 is not an integer"},
			{rack_schema, "{\"site\":\"dc1\",\"status\":\"x\"}", 0, "/status",
					"\"x\" is not one of the allowed values"},
			{rack_schema, "{\"site\":\"dc1\",\"tags\":[\"a\",\"b\",\"c\"]}", 0, "/tags",
					"3 items, at most 2 allowed"},
			{rack_schema, "{\"site\":\"dc1\",\"tags\":[\"a\",\"\"]}", 0, "/tags/1",
					"\"\" is 0 characters, at least 1 expected"},
			{rack_schema, "{\"site\":\"dc1\",\"pos\":{\"row\":2,\"slot\":\"x\"}}", 0, "/pos/slot",
					"expected an integer, got a string"},
			{rack_schema, "[]", 0, "", "expected an object, got an array"},
			{"{\"required\":[\"a\",\"b\",\"c\"]}", "{\"b\":1}", 0, "", "required property \"a\" is missing"},
			{"{\"required\":[\"c\",\"b\",\"a\"]}", "{\"b\":1}", 0, "", "required property \"c\" is missing"},
			{"{\"required\":[\"a\",\"b\"]}", "{\"b\":1,\"a\":null}", 1, NULL, NULL},
			/* cJSON keeps a repeated key: it must not stand in for the missing one */
			{"{\"required\":[\"a\",\"b\"]}", "{\"a\":1,\"a\":2}", 0, "", "required property \"b\" is missing"},
			{"{\"required\":[]}", "{}", 1, NULL, NULL},
			{"{\"additionalProperties\":true}", "{\"x\":1}", 1, NULL, NULL},
			{"{\"additionalProperties\":{\"type\":\"number\"},\"properties\":{\"s\":{\"type\":\"string\"}}}",
					"{\"s\":\"x\",\"n\":1,\"m\":\"y\"}", 0, "/m", "expected a number, got a string"},
			/* a required name not in properties is checked by additionalProperties */
			{"{\"required\":[\"a\"],\"additionalProperties\":false}", "{\"a\":1}", 0, "/a",
					"property \"a\" is not allowed"},
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(schema_should_report_the_first_failure_in_document_order)
{
	static const struct check_case cases[] = {
			/* the object's own rules come before its members */
			{"{\"required\":[\"z\"],\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"a\":1}", 0, "",
					"required property \"z\" is missing"},
			/* then the members in the value's order, not the schema's */
			{"{\"properties\":{\"a\":{\"maximum\":1},\"b\":{\"maximum\":1}}}", "{\"b\":2,\"a\":2}", 0, "/b",
					"2 is above the maximum 1"},
			{"{\"items\":{\"properties\":{\"v\":{\"type\":\"number\"}}}}",
					"[{\"v\":1},{\"v\":2},{\"v\":\"3\"},{\"v\":\"4\"}]", 0, "/2/v", "expected a number, got a string"},
			{"{\"properties\":{\"list\":{\"items\":{\"maximum\":2}}}}", "{\"list\":[0,1,2,3,4]}", 0, "/list/3",
					"3 is above the maximum 2"},
	};
	RUN(cases);
}

TEST(schema_should_compare_enum_and_const_as_json_values)
{
	static const struct check_case cases[] = {
			{"{\"enum\":[1,\"1\",null]}", "1.0", 1, NULL, NULL},
			{"{\"enum\":[1,\"1\",null]}", "null", 1, NULL, NULL},
			{"{\"enum\":[1,\"1\",null]}", "true", 0, "", "true is not one of the allowed values"},
			{"{\"enum\":[{\"a\":1,\"b\":[1,2]}]}", "{\"b\":[1,2],\"a\":1}", 1, NULL, NULL},
			{"{\"enum\":[{\"a\":1,\"b\":[1,2]}]}", "{\"b\":[2,1],\"a\":1}", 0, "",
					"{\"b\":[2,1],\"a\":1} is not one of the allowed values"},
			{"{\"enum\":[{\"a\":1}]}", "{\"a\":1,\"c\":2}", 0, NULL, NULL},
			{"{\"const\":{\"x\":[true,null]}}", "{\"x\":[true,null]}", 1, NULL, NULL},
			{"{\"const\":{\"x\":[true,null]}}", "{\"x\":[true]}", 0, "",
					"{\"x\":[true]} is not the allowed value {\"x\":[true,null]}"},
			{"{\"const\":5}", "5.0", 1, NULL, NULL},
			{"{\"const\":\"x\"}", "\"y\"", 0, "", "\"y\" is not the allowed value \"x\""},
			{"{\"const\":null}", "null", 1, NULL, NULL},
			{"{\"const\":null}", "0", 0, "", "0 is not the allowed value null"},
			{"{\"const\":[1,2]}", "[2,1]", 0, NULL, NULL},
	};
	RUN(cases);
}

TEST(schema_should_escape_failure_paths_as_json_pointers)
{
	static const struct check_case cases[] = {
			{"{\"properties\":{\"a/b~c\":{\"properties\":{\"~\":{\"items\":{\"type\":\"null\"}}}}}}",
					"{\"a/b~c\":{\"~\":[null,1]}}", 0, "/a~1b~0c/~0/1", "expected null, got a number"},
			{"{\"additionalProperties\":false}", "{\"x/y\":1}", 0, "/x~1y", "property \"x/y\" is not allowed"},
			{"{\"additionalProperties\":false}", "{\"q\\\"\\\\\\n\":1}", 0, "/q\"\\\n",
					"property \"q\\\"\\\\\\n\" is not allowed"},
	};
	RUN(cases);
}

TEST(schema_should_shorten_long_values_in_messages)
{
	char schema[64], value[600];
	struct twin_schema_failure f;
	snprintf(schema, sizeof(schema), "{\"maxLength\":10}");
	/* 200 two-byte characters: the message shows the start, cut between characters */
	strcpy(value, "\"");
	for (int i = 0; i < 200; i++) {
		strcat(value, "\u00e9");
	}
	strcat(value, "\"");
	CHECK_INT(check_text(schema, value, &f), 0);
	CHECK(strlen(f.msg) < sizeof(f.msg));
	CHECK_CONTAINS(f.msg, "...");
	CHECK_CONTAINS(f.msg, " is 200 characters, at most 10 allowed");
	const char *dots = strstr(f.msg, "...");
	CHECK(((unsigned char)dots[-1] & 0xC0) == 0x80 && (unsigned char)dots[-2] == 0xC3); /* a whole é */
	CHECK_INT(strncmp(f.msg, "\"\u00e9\u00e9", 5), 0);

	char deep[200];
	memset(deep, '[', 60);
	deep[60] = '1';
	memset(deep + 61, ']', 60);
	deep[121] = '\0';
	CHECK_INT(check_text("{\"enum\":[0]}", deep, &f), 0);
	CHECK_STR(f.msg, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[... is not one of the allowed values");
}

TEST(schema_should_keep_long_paths_and_patterns_within_their_buffers)
{
	char key[300], schema[800], value[800];
	struct twin_schema_failure f;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	snprintf(schema, sizeof(schema), "{\"properties\":{\"%s\":{\"pattern\":\"^%s$\"}}}", key, key);
	snprintf(value, sizeof(value), "{\"%s\":\"x\"}", key);
	CHECK_INT(check_text(schema, value, &f), 0);
	CHECK_INT(strlen(f.path), sizeof(f.path) - 1);
	CHECK_INT(strncmp(f.path, "/kkkk", 5), 0);
	CHECK(strlen(f.msg) < 150);
	CHECK_CONTAINS(f.msg, "\"x\" does not match the pattern ^kkkk");
	CHECK_CONTAINS(f.msg, "kkk...");
}

TEST(schema_should_cut_text_that_is_not_utf8_near_the_end_of_its_buffer)
{
	char key[400], schema[900], value[900];
	struct twin_schema_failure f;
	memset(key, '\xa2', sizeof(key) - 1); /* continuation bytes only */
	key[sizeof(key) - 1] = '\0';
	snprintf(schema, sizeof(schema), "{\"additionalProperties\":{\"const\":1}}");
	snprintf(value, sizeof(value), "{\"%s\":2}", key);
	CHECK_INT(check_text(schema, value, &f), 0);
	CHECK(strlen(f.path) >= sizeof(f.path) - 4);
	CHECK_STR(f.msg, "2 is not the allowed value 1");
}

TEST(schema_should_take_a_null_failure_record)
{
	struct twin_error err;
	struct twin_schema *s = compile_text("{\"maximum\":1}", &err);
	cJSON *two = cJSON_CreateNumber(2), *one = cJSON_CreateNumber(1);
	CHECK(s != NULL);
	CHECK(!twin_schema_check(s, two, NULL));
	CHECK(twin_schema_check(s, one, NULL));
	cJSON_Delete(two);
	cJSON_Delete(one);
	twin_schema_free(s);
}

TEST(schema_should_accept_annotations_and_refuse_them_wrongly_typed)
{
	static const struct check_case cases[] = {
			{"{\"title\":\"t\",\"description\":\"d\",\"unit\":\"Cel\",\"default\":{\"any\":[1]},"
			 "\"$comment\":\"c\"}",
					"\"anything\"", 1, NULL, NULL},
			{"{\"default\":5,\"maximum\":1}", "5", 0, "", "5 is above the maximum 1"},
	};
	RUN(cases);
	struct twin_error err;
	CHECK_STR(refusal("{\"title\":3}", &err), "/reported/title: must be a string");
	CHECK_STR(refusal("{\"description\":null}", &err), "/reported/description: must be a string");
	CHECK_STR(refusal("{\"unit\":[]}", &err), "/reported/unit: must be a string");
	CHECK_STR(refusal("{\"$comment\":false}", &err), "/reported/$comment: must be a string");
}

TEST(schema_should_refuse_wrongly_typed_keywords_with_their_pointer)
{
	static const char *cases[][2] = {
			{"{\"properties\":{\"fanSpeed\":{\"maximum\":\"5\"}}}",
					"/reported/properties/fanSpeed/maximum: must be a number"},
			{"{\"minimum\":null}", "/reported/minimum: must be a number"},
			{"{\"exclusiveMinimum\":true}", "/reported/exclusiveMinimum: must be a number"},
			{"{\"exclusiveMaximum\":{}}", "/reported/exclusiveMaximum: must be a number"},
			{"{\"multipleOf\":0}", "/reported/multipleOf: must be a number above 0"},
			{"{\"multipleOf\":-0.5}", "/reported/multipleOf: must be a number above 0"},
			{"{\"minLength\":-1}", "/reported/minLength: must be a non-negative integer"},
			{"{\"maxLength\":1.5}", "/reported/maxLength: must be a non-negative integer"},
			{"{\"minItems\":\"1\"}", "/reported/minItems: must be a non-negative integer"},
			{"{\"maxItems\":1e300}", "/reported/maxItems: must be a non-negative integer"},
			{"{\"pattern\":5}", "/reported/pattern: must be a string"},
			{"{\"properties\":[]}", "/reported/properties: must be an object"},
			{"{\"properties\":{\"a\":5}}", "/reported/properties/a: a schema must be an object or a boolean"},
			{"{\"required\":\"a\"}", "/reported/required: must be an array of strings"},
			{"{\"required\":[\"a\",\"b\",3]}", "/reported/required/2: must be a string"},
			{"{\"required\":[\"a\",\"b\",\"a\"]}", "/reported/required: \"a\" is given twice"},
			{"{\"additionalProperties\":\"no\"}",
					"/reported/additionalProperties: a schema must be an object or a boolean"},
			{"{\"items\":[{}]}", "/reported/items: a schema must be an object or a boolean"},
			{"{\"items\":{\"items\":{\"type\":\"float\"}}}",
					"/reported/items/items/type: must be one of null, boolean, object, array, number, string "
					"and integer, or an array of them"},
			{"{\"type\":[\"number\",7]}", "/reported/type/1: must be one of null, boolean, object, array, "
										  "number, string and integer, or an array of them"},
			{"{\"type\":[\"number\",\"null\",\"number\"]}", "/reported/type/2: \"number\" is listed twice"},
			{"{\"type\":[]}", "/reported/type: must name at least one type"},
			{"{\"enum\":[]}", "/reported/enum: must be an array of at least one value"},
			{"{\"enum\":\"a\"}", "/reported/enum: must be an array of at least one value"},
			{"5", "/reported: a schema must be an object or a boolean"},
			{"{\"properties\":{\"a~/b\":{\"minimum\":\"x\"}}}",
					"/reported/properties/a~0~1b/minimum: must be a number"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct twin_error err = {.rc = TWIN_OK};
		const char *got = refusal(cases[i][0], &err);
		if (strcmp(got, cases[i][1]) || err.rc != TWIN_ERR_CONFIG) {
			CHECK_FAIL("%s: got '%s' (rc %d), expected '%s'", cases[i][0], got, err.rc, cases[i][1]);
		}
	}
}

TEST(schema_should_refuse_unknown_and_repeated_keywords)
{
	struct twin_error err;
	CHECK_STR(refusal("{\"properties\":{\"a\":{\"format\":\"date\"}}}", &err),
			"/reported/properties/a/format: unknown keyword: a model schema may use type, enum, const, "
			"minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, minLength, maxLength, pattern, "
			"properties, required, additionalProperties, items, minItems, maxItems, title, description, unit, "
			"default, $comment and $schema");
	CHECK_STR(refusal("{\"maxlength\":3}", &err),
			"/reported/maxlength: unknown keyword (did you mean maxLength?)");
	/* $schema names the dialect: 2020-12 only */
	CHECK_STR(refusal("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\"}", &err), "");
	CHECK_CONTAINS(refusal("{\"$schema\":\"http://json-schema.org/draft-07/schema#\"}", &err),
			"/reported/$schema: must be \"https://json-schema.org/draft/2020-12/schema\"");
	/* cJSON keeps repeated keys: the second one must not replace (and leak) the first */
	CHECK_STR(refusal("{\"pattern\":\"a\",\"pattern\":\"b\"}", &err), "/reported/pattern: given twice");
	CHECK_STR(refusal("{\"properties\":{\"a\":{},\"b\":{},\"a\":true}}", &err),
			"/reported/properties: \"a\" is given twice");
}

TEST(schema_should_refuse_bad_patterns_saying_why)
{
	struct twin_error err;
	CHECK_STR(refusal("{\"pattern\":\"(ab\"}", &err),
			"/reported/pattern: not a POSIX extended regular expression: Unmatched ( or \\(");
	CHECK_CONTAINS(refusal("{\"pattern\":\"a{1,2\"}", &err), "/reported/pattern: not a POSIX extended");
	CHECK_CONTAINS(refusal("{\"pattern\":\"(?i)ok\"}", &err), "/reported/pattern: not a POSIX extended");
	/* ECMA escapes regcomp would take for plain letters */
	CHECK_STR(refusal("{\"pattern\":\"^\\\\d+$\"}", &err),
			"/reported/pattern: \\d means something else to regcomp (POSIX) than in ECMA 262 patterns: write a "
			"bracket expression such as [0-9], [[:space:]] or [<]");
	CHECK_CONTAINS(refusal("{\"pattern\":\"\\\\p{L}\"}", &err), "\\p means something else");
	CHECK_CONTAINS(refusal("{\"pattern\":\"a\\\\nb\"}", &err), "\\n means something else");
	CHECK_CONTAINS(refusal("{\"pattern\":\"\\\\<a\"}", &err), "\\< means something else");
	CHECK_CONTAINS(refusal("{\"pattern\":\"^[\\\\d]$\"}", &err), "\\d means something else");
	CHECK_STR(refusal("{\"pattern\":\"^[[:digit:]]+[]a-z]*[^]x]$\"}", &err), "");
	/* an escaped backslash before a letter is a backslash and a letter */
	CHECK_STR(refusal("{\"pattern\":\"a\\\\\\\\d\"}", &err), "");
	CHECK_STR(refusal("{\"pattern\":\"^\\\\w\\\\s\\\\b\\\\.\\\\[$\"}", &err), "");
}

TEST(schema_should_refuse_patterns_that_regcomp_would_blow_up)
{
	static const char *const refused[] = {"(a{100}){20}", "((x|y){40}z){20}", "a{1001}", "x{2,5000}",
			"((a{10}){10}){11}", "((((((((((a{3}){3}){3}){3}){3}){3}){3}){3}){3}){3})"};
	static const char *const stacked[] = {"a+++++++++++++++++++++++++++++++++++", "a+?", "a**", "a{2}{3}",
			"0?????????{865}", "(a)*?"};
	static const char *const empty_loops[] = {"(a*)*", "(a|)+", "()*", "(^)*", "x(\\\\b){2,}", "((a|)*){300}",
			"((a?b?)?c*){0,2}(d(e?)*)"};
	static const char *const accepted[] = {"a{999}", "(a|b){300}", "^[0-9a-f]{64}$", "((a{9}){9}){9}",
			"x{3,}y*z?", "\\\\{99999}", "^([a-z]+\\\\.)*[a-z]+$", "(a*b)*", "(a?){3}", "(x?y)+", "(|a)b*",
			"(a*)?"};
	struct twin_error err;
	char schema[128];
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(schema, sizeof(schema), "{\"pattern\":\"%s\"}", refused[i]);
		if (strcmp(refusal(schema, &err), "/reported/pattern: too large once regcomp expands its repetitions "
										  "(a{n} is n copies of a, a+ two, and they multiply when nested): at "
										  "most 1000 elements")) {
			CHECK_FAIL("%s: '%s'", refused[i], err.msg);
		}
	}
	for (size_t i = 0; i < sizeof(stacked) / sizeof(stacked[0]); i++) {
		snprintf(schema, sizeof(schema), "{\"pattern\":\"%s\"}", stacked[i]);
		if (!strstr(refusal(schema, &err), "/reported/pattern: a quantifier follows another")) {
			CHECK_FAIL("%s: '%s'", stacked[i], err.msg);
		}
	}
	for (size_t i = 0; i < sizeof(empty_loops) / sizeof(empty_loops[0]); i++) {
		snprintf(schema, sizeof(schema), "{\"pattern\":\"%s\"}", empty_loops[i]);
		if (!strstr(refusal(schema, &err), "the empty string is repeated without bound")) {
			CHECK_FAIL("%s: '%s'", empty_loops[i], err.msg);
		}
	}
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		snprintf(schema, sizeof(schema), "{\"pattern\":\"%s\"}", accepted[i]);
		if (*refusal(schema, &err)) {
			CHECK_FAIL("%s: %s", accepted[i], err.msg);
		}
	}
	char deep[128] = "{\"pattern\":\"";
	for (int i = 0; i < 33; i++) {
		strcat(deep, "(");
	}
	strcat(deep, "\"}");
	CHECK_STR(refusal(deep, &err), "/reported/pattern: groups nested deeper than 32");
}

static char *nested(int levels)
{
	char *s = malloc((size_t)levels * 20 + 8);
	strcpy(s, "");
	for (int i = 1; i < levels; i++) {
		strcat(s, "{\"items\":");
	}
	strcat(s, "{}");
	for (int i = 1; i < levels; i++) {
		strcat(s, "}");
	}
	return s;
}

TEST(schema_should_bound_the_nesting_depth)
{
	struct twin_error err;
	char *ok = nested(32), *deep = nested(33);
	CHECK_STR(refusal(ok, &err), "");
	CHECK_CONTAINS(refusal(deep, &err), ": schemas nested deeper than 32");
	CHECK_INT(strncmp(err.msg, "/reported/items/items/", 22), 0);
	free(ok);
	free(deep);
}

TEST(schema_should_name_the_member_schema_for_the_fast_path)
{
	struct twin_error err;
	struct twin_schema *s = compile_text(rack_schema, &err);
	struct twin_schema *open =
			compile_text("{\"properties\":{\"a\":{\"maximum\":1},\"b\":{\"title\":\"x\"}}}", &err);
	struct twin_schema *typed = compile_text("{\"additionalProperties\":{\"type\":\"number\"}}", &err);
	struct twin_schema *none = compile_text("false", &err);
	bool allowed = false;
	CHECK(s && open && typed && none);
	const struct twin_schema *fan = twin_schema_member(s, "fanSpeedX", 8, &allowed);
	CHECK(fan != NULL && allowed);
	cJSON *nine = cJSON_CreateNumber(9);
	struct twin_schema_failure f;
	CHECK(!twin_schema_check(fan, nine, &f));
	CHECK_STR(f.msg, "9 is above the maximum 5");
	CHECK_STR(f.path, "");
	cJSON_Delete(nine);
	allowed = true;
	CHECK(twin_schema_member(s, "foo", 3, &allowed) == NULL && !allowed); /* additionalProperties false */
	CHECK(twin_schema_member(s, "tempTo", 6, &allowed) == NULL && !allowed); /* a prefix is another name */
	CHECK(twin_schema_member(s, "site", 4, &allowed) != NULL && allowed);
	CHECK(twin_schema_member(open, "a", 1, &allowed) != NULL && allowed);
	allowed = false;
	CHECK(twin_schema_member(open, "zz", 2, &allowed) == NULL && allowed); /* anything goes */
	allowed = false;
	CHECK(twin_schema_member(open, "b", 1, &allowed) == NULL && allowed); /* annotations only: anything */
	CHECK(twin_schema_member(typed, "x", 1, &allowed) != NULL && allowed);
	allowed = true;
	CHECK(twin_schema_member(none, "x", 1, &allowed) == NULL && !allowed);
	twin_schema_free(s);
	twin_schema_free(open);
	twin_schema_free(typed);
	twin_schema_free(none);
}

TEST(schema_should_find_members_among_thousands)
{
	cJSON *schema = cJSON_CreateObject(), *props = cJSON_AddObjectToObject(schema, "properties");
	char name[32];
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "p%d", (i * 7919) % 3000);
		cJSON *p = cJSON_AddObjectToObject(props, name);
		cJSON_AddNumberToObject(p, "maximum", (i * 7919) % 3000);
	}
	cJSON_AddFalseToObject(schema, "additionalProperties");
	struct twin_error err;
	struct twin_schema *s = twin_schema_compile(schema, "", &err);
	CHECK(s != NULL);
	bool allowed;
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		if (!twin_schema_member(s, name, strlen(name), &allowed)) {
			CHECK_FAIL("%s not found", name);
		}
	}
	CHECK(twin_schema_member(s, "p3000", 5, &allowed) == NULL && !allowed);
	cJSON *value = cJSON_CreateObject();
	cJSON_AddNumberToObject(value, "p2999", 2999);
	cJSON_AddNumberToObject(value, "p17", 18);
	struct twin_schema_failure f;
	CHECK(!twin_schema_check(s, value, &f));
	CHECK_STR(f.path, "/p17");
	CHECK_STR(f.msg, "18 is above the maximum 17");
	cJSON_Delete(value);
	cJSON_Delete(schema);
	twin_schema_free(s);
}

TEST(schema_should_say_when_a_whole_object_check_is_needed)
{
	static const struct {
		const char *schema;
		bool whole;
	} cases[] = {
			{"{\"properties\":{\"a\":{\"maximum\":1}},\"additionalProperties\":false}", false},
			{"{\"type\":\"object\",\"title\":\"t\"}", false},
			{"{\"type\":[\"object\",\"null\"]}", false},
			{"true", false},
			{"{\"required\":[\"a\"]}", true},
			{"{\"required\":[]}", true},
			{"{\"enum\":[{}]}", true},
			{"{\"const\":{}}", true},
			{"{\"type\":\"array\"}", true},
			{"false", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct twin_error err;
		struct twin_schema *s = compile_text(cases[i].schema, &err);
		if (!s || twin_schema_has_required(s) != cases[i].whole) {
			CHECK_FAIL("%s: expected %d", cases[i].schema, cases[i].whole);
		}
		twin_schema_free(s);
	}
}

TEST(schema_should_compile_without_a_where_prefix)
{
	cJSON *j = cJSON_Parse("{\"maximum\":\"x\"}"), *root = cJSON_CreateNumber(1);
	struct twin_error err;
	CHECK(twin_schema_compile(j, NULL, &err) == NULL);
	CHECK_STR(err.msg, "/maximum: must be a number");
	CHECK(twin_schema_compile(root, "", &err) == NULL);
	CHECK_STR(err.msg, "a schema must be an object or a boolean");
	cJSON_Delete(j);
	cJSON_Delete(root);
}

/* A required list of n names r0, r1, ...; a value with all of them but skip (-1: none skipped). */
static void required_case(int n, int skip, cJSON **schema, cJSON **value)
{
	char name[16];
	cJSON *list = cJSON_CreateArray();
	*schema = cJSON_CreateObject();
	*value = cJSON_CreateObject();
	cJSON_AddItemToObject(*schema, "required", list);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		cJSON_AddItemToArray(list, cJSON_CreateString(name));
		if (i != skip) {
			cJSON_AddNullToObject(*value, name);
		}
	}
}

TEST(schema_should_check_long_required_lists_up_to_their_bound)
{
	static const int skips[] = {-1, 0, 63, 64, 4095};
	cJSON *schema, *value;
	struct twin_error err;
	struct twin_schema_failure f;
	for (size_t i = 0; i < sizeof(skips) / sizeof(skips[0]); i++) {
		required_case(4096, skips[i], &schema, &value);
		struct twin_schema *s = twin_schema_compile(schema, "", &err);
		CHECK(s != NULL);
		CHECK_INT(twin_schema_check(s, value, &f), skips[i] < 0);
		if (skips[i] >= 0) {
			char msg[64];
			snprintf(msg, sizeof(msg), "required property \"r%d\" is missing", skips[i]);
			CHECK_STR(f.msg, msg);
		}
		twin_schema_free(s);
		cJSON_Delete(schema);
		cJSON_Delete(value);
	}
	required_case(4097, -1, &schema, &value);
	CHECK(twin_schema_compile(schema, "/desired", &err) == NULL);
	CHECK_STR(err.msg, "/desired/required: at most 4096 names");
	cJSON_Delete(schema);
	cJSON_Delete(value);
}
