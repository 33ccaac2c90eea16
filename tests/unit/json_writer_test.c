// SPDX-License-Identifier: GPL-2.0-only
/*
 * tools/json_writer.c against the exact bytes it must print: separators and
 * nesting, numbers, null for non-finite floats, and escaping of every kind
 * of string the kernel hands us (quotes, backslashes, control bytes, a comm
 * that is not UTF-8). Prints one "PASS|FAIL<TAB>name<TAB>detail" line per case.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_writer.h"

static int failures;

static void expect(const char *name, const char *have, const char *want)
{
	bool held = !strcmp(have, want);

	failures += !held;
	printf("%s\t%s\t%s%s\n", held ? "PASS" : "FAIL", name, held ? "" : "printed ",
	       held ? "" : have);
}

/* What WRITE prints, as a string. */
static void run(const char *name, void (*write)(struct json_writer *json), const char *want)
{
	char *text = NULL;
	size_t size = 0;
	FILE *output = open_memstream(&text, &size);
	struct json_writer json;

	json_writer_init(&json, output);
	write(&json);
	fclose(output);
	expect(name, text, want);
	free(text);
}

static void nesting(struct json_writer *json)
{
	json_start_object(json);
	json_uint_field(json, "count", 18446744073709551615ULL);
	json_int_field(json, "ret", -16);
	json_name(json, "list");
	json_start_array(json);
	json_start_array(json);
	json_uint(json, 0);
	json_uint(json, 1);
	json_end_array(json);
	json_start_object(json);
	json_end_object(json);
	json_end_array(json);
	json_bool_field(json, "storm", true);
	json_hex_field(json, "start", 0x7f0000001000ULL);
	json_end_object(json);
	json_start_array(json);
	json_end_array(json);
}

static void floats(struct json_writer *json)
{
	json_start_object(json);
	json_float_field(json, "ratio", "%.4f", 0.5);
	json_float_field(json, "infinite", "%.4f", INFINITY);
	json_float_field(json, "nan", "%.4f", NAN);
	json_end_object(json);
}

static void escapes(struct json_writer *json)
{
	json_start_object(json);
	json_string_field(json, "quote\"name", "a\"b\\c");
	json_string_field(json, "control", "tab\tline\nbell\a\x7f");
	json_string_field(json, "utf8", "caf\xc3\xa9 \xe2\x82\xac");
	json_string_field(json, "not utf8", "bad\xff\xc3(");
	json_end_object(json);
}

int main(void)
{
	run("json-writer.nesting-and-numbers", nesting,
	    "{\"count\": 18446744073709551615, \"ret\": -16, \"list\": [[0, 1], {}], "
	    "\"storm\": true, \"start\": \"0x7f0000001000\"}\n[]\n");
	run("json-writer.non-finite-floats-are-null", floats,
	    "{\"ratio\": 0.5000, \"infinite\": null, \"nan\": null}\n");
	run("json-writer.escapes-every-string", escapes,
	    "{\"quote\\\"name\": \"a\\\"b\\\\c\", \"control\": \"tab\\tline\\nbell\\u0007\\u007f\", "
	    "\"utf8\": \"caf\xc3\xa9 \xe2\x82\xac\", \"not utf8\": \"bad\\ufffd\\ufffd(\"}\n");
	return failures ? 1 : 0;
}
