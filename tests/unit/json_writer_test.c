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

#include "format.h"
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
	json_open(json, '{');
	json_fields(json, "count:U ret:d", (uint64_t)18446744073709551615ULL, -16);
	json_name(json, "list");
	json_open(json, '[');
	json_open(json, '[');
	json_uint(json, 0);
	json_uint(json, 1);
	json_close(json, ']');
	json_open(json, '{');
	json_close(json, '}');
	json_close(json, ']');
	json_fields(json, "storm:b start:x pid:u comm:c", true, (uint64_t)0x7f0000001000ULL,
		    4000000000U, "sixteen-bytes-ab");
	json_close(json, '}');
	json_open(json, '[');
	json_close(json, ']');
	/* A constant name, first escaped, then replayed, first in and not first in its object. */
	for (int round = 0; round < 2; round++) {
		static const char *const name = "quote\"d";

		json_open(json, '{');
		json_constant_name(json, name);
		json_uint(json, round);
		json_constant_name(json, name + 5);
		json_uint(json, round);
		json_close(json, '}');
	}
}

static void floats(struct json_writer *json)
{
	json_open(json, '{');
	json_fields(json, "ratio:f4 seconds:f3 infinite:f4 nan:f3", 0.5, 2.0, INFINITY, NAN);
	json_close(json, '}');
}

static void escapes(struct json_writer *json)
{
	json_open(json, '{');
	json_name(json, "quote\"name");
	json_string(json, "a\"b\\c");
	json_fields(json, "control:s utf8:s not-utf8:s", "tab\tline\nbell\a\x7f",
		    "caf\xc3\xa9 \xe2\x82\xac", "bad\xff\xc3(");
	/* A surrogate, an overlong slash, past U+10FFFF: what prctl(PR_SET_NAME) allows. */
	json_fields(json, "surrogate:s overlong:s too-high:s", "\xed\xa0\x80", "\xe0\x80\xaf",
		    "\xf4\x90\x80\x80");
	json_close(json, '}');
}

/* format_decimal() against printf's "%.*f", halves and large values included. */
static void numbers_match_printf(void)
{
	static const double values[] = {
		0, 0.125, 2.5, 3.5, 0.03125, 0.625, 1234.5678, 0.995, 99.95, 1e17, 1e20, 7.0 / 3,
		INFINITY, NAN,
	};
	char mine[FORMAT_NUMBER_SIZE], theirs[64], first[160] = "";
	int differences = 0;

	for (int precision = 0; precision <= 4; precision++)
		for (size_t index = 0; index < sizeof(values) / sizeof(values[0]); index++) {
			format_decimal(mine, values[index], precision);
			snprintf(theirs, sizeof(theirs), "%.*f", precision, values[index]);
			if (!strcmp(mine, theirs))
				continue;
			if (!differences++)
				snprintf(first, sizeof(first), "%s for %s", mine, theirs);
		}
	expect("format.decimals-as-printf", first, "");
}

int main(void)
{
	run("json-writer.nesting-and-numbers", nesting,
	    "{\"count\": 18446744073709551615, \"ret\": -16, \"list\": [[0, 1], {}], "
	    "\"storm\": true, \"start\": \"0x7f0000001000\", \"pid\": 4000000000, "
	    "\"comm\": \"sixteen-bytes-ab\"}\n[]\n{\"quote\\\"d\": 0, \"\\\"d\": 0}\n"
	    "{\"quote\\\"d\": 1, \"\\\"d\": 1}\n");
	run("json-writer.non-finite-floats-are-null", floats,
	    "{\"ratio\": 0.5000, \"seconds\": 2.000, \"infinite\": null, \"nan\": null}\n");
	run("json-writer.escapes-every-string", escapes,
	    "{\"quote\\\"name\": \"a\\\"b\\\\c\", \"control\": \"tab\\tline\\nbell\\u0007\\u007f\", "
	    "\"utf8\": \"caf\xc3\xa9 \xe2\x82\xac\", \"not-utf8\": \"bad\\ufffd\\ufffd(\", "
	    "\"surrogate\": \"\\ufffd\\ufffd\\ufffd\", \"overlong\": \"\\ufffd\\ufffd\\ufffd\", "
	    "\"too-high\": \"\\ufffd\\ufffd\\ufffd\\ufffd\"}\n");
	numbers_match_printf();
	return failures ? 1 : 0;
}
