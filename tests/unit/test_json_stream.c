/* test_json_stream.c - splitting input into records: JSON Lines with line numbers, and Ditto's forms
 * (an array, a search answer's items, concatenated objects), strings holding brackets, unclosed input. */
#include "check.h"
#include "json_stream.h"

/* Splits text; writes "line:record|" per record into out, and returns the last ctl_stream_next result. */
static int split(const char *text, enum ctl_stream_mode mode, char *out, size_t out_size,
		struct twin_error *err)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	struct ctl_stream *st = ctl_stream_open(f, mode);
	struct ctl_record rec;
	size_t n = 0;
	int r;
	out[0] = '\0';
	while ((r = ctl_stream_next(st, &rec, err)) == 1) {
		size_t len = rec.len;
		while (len && (rec.text[len - 1] == '\n' || rec.text[len - 1] == '\r')) {
			len--;
		}
		n += (size_t)snprintf(out + n, out_size - n, "%ld:%.*s|", rec.line, (int)len, rec.text);
	}
	ctl_stream_close(st);
	fclose(f);
	return r;
}

TEST(json_stream_should_give_every_non_blank_line_with_its_number)
{
	char out[512];
	struct twin_error err;
	CHECK_INT(split("{\"id\":\"a\"}\n\n  \n{broken\r\n{\"id\":\"b\"}", CTL_STREAM_LINES, out,
					  sizeof(out), &err),
			0);
	CHECK_STR(out, "1:{\"id\":\"a\"}|4:{broken|5:{\"id\":\"b\"}|");
}

TEST(json_stream_should_split_a_top_level_array)
{
	char out[512];
	struct twin_error err;
	CHECK_INT(split("[\n {\"a\":[1,2]},\n {\"b\":{\"c\":\"]}\\\"\"}}\n]\n", CTL_STREAM_VALUES, out,
					  sizeof(out), &err),
			0);
	CHECK_STR(out, "2:{\"a\":[1,2]}|3:{\"b\":{\"c\":\"]}\\\"\"}}|");
}

TEST(json_stream_should_split_the_items_of_a_search_answer)
{
	char out[512];
	struct twin_error err;
	CHECK_INT(split("{\"cursor\":\"x]\",\"items\":[{\"thingId\":\"n:1\"},{\"thingId\":\"n:2\","
					"\"items\":[3]}],\"nextPageOffset\":2}",
					  CTL_STREAM_VALUES, out, sizeof(out), &err),
			0);
	CHECK_STR(out, "1:{\"thingId\":\"n:1\"}|1:{\"thingId\":\"n:2\",\"items\":[3]}|");
	/* search pages one after the other (cat page*.json) */
	CHECK_INT(split("{\"items\":[{\"a\":1}],\"cursor\":\"c\"}\n{\"items\":[{\"b\":2}]}\n[{\"c\":3}]",
					  CTL_STREAM_VALUES, out, sizeof(out), &err),
			0);
	CHECK_STR(out, "1:{\"a\":1}|2:{\"b\":2}|3:{\"c\":3}|");
}

TEST(json_stream_should_give_each_top_level_object_and_scalar)
{
	char out[512];
	struct twin_error err;
	CHECK_INT(split("{\"thingId\":\"n:1\",\"attributes\":{\"items\":[1]}}\n{\"thingId\":\"n:2\"}\n"
					"42 \"s\"\n[{\"x\":1}, 7]",
					  CTL_STREAM_VALUES, out, sizeof(out), &err),
			0);
	CHECK_STR(out, "1:{\"thingId\":\"n:1\",\"attributes\":{\"items\":[1]}}|2:{\"thingId\":\"n:2\"}|"
				   "3:42|3:\"s\"|4:{\"x\":1}|4:7|");
}

TEST(json_stream_should_report_an_unclosed_value_with_its_line)
{
	char out[512];
	struct twin_error err;
	CHECK_INT(split("[{\"a\":1},\n{\"b\":\n", CTL_STREAM_VALUES, out, sizeof(out), &err), -1);
	CHECK_STR(out, "1:{\"a\":1}|");
	CHECK_CONTAINS(err.msg, "line 2");
	CHECK_INT(split("{\"a\":1}}", CTL_STREAM_VALUES, out, sizeof(out), &err), -1);
	CHECK_CONTAINS(err.msg, "unexpected '}'");
}
