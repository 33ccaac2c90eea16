// SPDX-License-Identifier: GPL-2.0-only
/*
 * The one JSON writer: separators and escaping live here and nowhere else.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "json_writer.h"

void json_writer_init(struct json_writer *writer, FILE *output)
{
	memset(writer, 0, sizeof(*writer));
	writer->output = output;
	writer->first[0] = true;
}

/* Before any value: the comma after the previous element, unless a name precedes it. */
static void begin_value(struct json_writer *writer)
{
	if (writer->after_name) {
		writer->after_name = false;
		return;
	}
	if (!writer->first[writer->depth])
		fputs(", ", writer->output);
	writer->first[writer->depth] = false;
}

/* Length of the valid UTF-8 sequence at TEXT, or 0 if it is not one. */
static size_t utf8_sequence_length(const unsigned char *text)
{
	size_t length = text[0] >= 0xf0 ? 4 : text[0] >= 0xe0 ? 3 : text[0] >= 0xc2 ? 2 : 0;

	if (text[0] > 0xf4)
		return 0;
	for (size_t index = 1; index < length; index++)
		if ((text[index] & 0xc0) != 0x80)
			return 0;
	return length;
}

/*
 * Every string the tool prints, names included, passes here. Kernel data
 * (a task's comm, symbol names) is not promised to be UTF-8, and JSON must
 * be: a byte that starts no valid sequence becomes U+FFFD.
 */
static void json_write_string_value(FILE *output, const char *value)
{
	const unsigned char *text = (const unsigned char *)value;

	fputc('"', output);
	while (*text) {
		size_t length = 0;

		/* The common case, printable ASCII, in one write. */
		while (text[length] >= 0x20 && text[length] < 0x7f && text[length] != '"' &&
		       text[length] != '\\')
			length++;
		if (length) {
			fwrite(text, 1, length, output);
			text += length;
			continue;
		}
		if (*text == '"' || *text == '\\') {
			fprintf(output, "\\%c", *text++);
		} else if (*text == '\n') {
			fputs("\\n", output);
			text++;
		} else if (*text == '\t') {
			fputs("\\t", output);
			text++;
		} else if (*text < 0x20 || *text == 0x7f) {
			fprintf(output, "\\u%04x", *text++);
		} else if (*text < 0x80) {
			fputc(*text++, output);
		} else if ((length = utf8_sequence_length(text))) {
			fwrite(text, 1, length, output);
			text += length;
		} else {
			fputs("\\ufffd", output);
			text++;
		}
	}
	fputc('"', output);
}

static void open_container(struct json_writer *writer, char bracket)
{
	begin_value(writer);
	fputc(bracket, writer->output);
	if (writer->depth + 1 < JSON_MAX_DEPTH)
		writer->depth++;
	writer->first[writer->depth] = true;
}

static void close_container(struct json_writer *writer, char bracket)
{
	fputc(bracket, writer->output);
	if (writer->depth > 0)
		writer->depth--;
	if (writer->depth == 0) {
		fputc('\n', writer->output);
		fflush(writer->output);
		writer->first[0] = true;
	}
}

void json_start_object(struct json_writer *writer)
{
	open_container(writer, '{');
}

void json_end_object(struct json_writer *writer)
{
	close_container(writer, '}');
}

void json_start_array(struct json_writer *writer)
{
	open_container(writer, '[');
}

void json_end_array(struct json_writer *writer)
{
	close_container(writer, ']');
}

void json_name(struct json_writer *writer, const char *name)
{
	begin_value(writer);
	json_write_string_value(writer->output, name);
	fputs(": ", writer->output);
	writer->after_name = true;
}

void json_string(struct json_writer *writer, const char *value)
{
	begin_value(writer);
	json_write_string_value(writer->output, value);
}

void json_string_format(struct json_writer *writer, const char *format, ...)
{
	char text[512];
	va_list arguments;

	va_start(arguments, format);
	vsnprintf(text, sizeof(text), format, arguments);
	va_end(arguments);
	json_string(writer, text);
}

/* Rows hold many counters: convert them without a printf call each. */
void json_uint(struct json_writer *writer, uint64_t value)
{
	char digits[20], *digit = digits + sizeof(digits);

	begin_value(writer);
	do {
		*--digit = '0' + value % 10;
		value /= 10;
	} while (value);
	fwrite(digit, 1, digits + sizeof(digits) - digit, writer->output);
}

void json_int(struct json_writer *writer, int64_t value)
{
	begin_value(writer);
	fprintf(writer->output, "%" PRId64, value);
}

void json_float(struct json_writer *writer, const char *format, double value)
{
	if (!isfinite(value)) {
		json_null(writer);
		return;
	}
	begin_value(writer);
	fprintf(writer->output, format, value);
}

void json_bool(struct json_writer *writer, bool value)
{
	begin_value(writer);
	fputs(value ? "true" : "false", writer->output);
}

void json_null(struct json_writer *writer)
{
	begin_value(writer);
	fputs("null", writer->output);
}

void json_string_field(struct json_writer *writer, const char *name, const char *value)
{
	json_name(writer, name);
	json_string(writer, value);
}

void json_uint_field(struct json_writer *writer, const char *name, uint64_t value)
{
	json_name(writer, name);
	json_uint(writer, value);
}

void json_int_field(struct json_writer *writer, const char *name, int64_t value)
{
	json_name(writer, name);
	json_int(writer, value);
}

void json_float_field(struct json_writer *writer, const char *name, const char *format,
		      double value)
{
	json_name(writer, name);
	json_float(writer, format, value);
}

void json_bool_field(struct json_writer *writer, const char *name, bool value)
{
	json_name(writer, name);
	json_bool(writer, value);
}

void json_hex_field(struct json_writer *writer, const char *name, uint64_t value)
{
	json_name(writer, name);
	json_string_format(writer, "0x%" PRIx64, value);
}
