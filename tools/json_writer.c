// SPDX-License-Identifier: GPL-2.0-only
/*
 * The one JSON writer: separators and escaping live here and nowhere else.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "format.h"
#include "json_writer.h"

void json_writer_init(struct json_writer *writer, FILE *output)
{
	memset(writer, 0, sizeof(*writer));
	writer->output = output;
	writer->first[0] = true;
}

static void flush(struct json_writer *writer)
{
	fwrite(writer->buffer, 1, writer->used, writer->output);
	writer->used = 0;
}

static void put(struct json_writer *writer, const void *text, size_t length)
{
	if (writer->used + length > sizeof(writer->buffer)) {
		flush(writer);
		if (length > sizeof(writer->buffer)) {
			fwrite(text, 1, length, writer->output);
			return;
		}
	}
	memcpy(writer->buffer + writer->used, text, length);
	writer->used += length;
}

static void put_text(struct json_writer *writer, const char *text)
{
	put(writer, text, strlen(text));
}

static void put_char(struct json_writer *writer, char character)
{
	put(writer, &character, 1);
}

/* Before any value: the comma after the previous element, unless a name precedes it. */
static void begin_value(struct json_writer *writer)
{
	if (writer->after_name) {
		writer->after_name = false;
		return;
	}
	if (!writer->first[writer->depth])
		put(writer, ", ", 2);
	writer->first[writer->depth] = false;
}

/*
 * Length of the valid UTF-8 sequence at TEXT, or 0 if it is not one: no
 * overlong forms, no surrogates, nothing past U+10FFFF (RFC 3629), which
 * the second byte's range decides for each lead byte.
 */
static size_t utf8_sequence_length(const unsigned char *text)
{
	size_t length = text[0] >= 0xf0 ? 4 : text[0] >= 0xe0 ? 3 : text[0] >= 0xc2 ? 2 : 0;
	unsigned char low = 0x80, high = 0xbf;

	if (text[0] > 0xf4)
		return 0;
	if (text[0] == 0xe0)
		low = 0xa0;
	else if (text[0] == 0xed)
		high = 0x9f;
	else if (text[0] == 0xf0)
		low = 0x90;
	else if (text[0] == 0xf4)
		high = 0x8f;
	if (length && (text[1] < low || text[1] > high))
		return 0;
	for (size_t index = 2; index < length; index++)
		if ((text[index] & 0xc0) != 0x80)
			return 0;
	return length;
}

/*
 * Every string the tool prints, names included, passes here. Kernel data
 * (a task's comm, symbol names) is not promised to be UTF-8, and JSON must
 * be: a byte that starts no valid sequence becomes U+FFFD.
 */
/* The bytes that stand for themselves in a JSON string. */
static const bool plain[256] = {
	[' ' ... '!'] = true, ['#' ... '['] = true, [']' ... '~'] = true,
};

static void json_write_string_value(struct json_writer *writer, const char *value)
{
	const unsigned char *text = (const unsigned char *)value;
	char escape[8];

	put_char(writer, '"');
	while (*text) {
		size_t length = 0;

		/* The common case, printable ASCII, in one piece. */
		while (plain[text[length]])
			length++;
		if (length) {
			put(writer, text, length);
			text += length;
		} else if (*text == '"' || *text == '\\') {
			put_char(writer, '\\');
			put_char(writer, *text++);
		} else if (*text == '\n') {
			put_text(writer, "\\n");
			text++;
		} else if (*text == '\t') {
			put_text(writer, "\\t");
			text++;
		} else if (*text < 0x20 || *text == 0x7f) {
			snprintf(escape, sizeof(escape), "\\u%04x", *text++);
			put_text(writer, escape);
		} else if ((length = utf8_sequence_length(text))) {
			put(writer, text, length);
			text += length;
		} else {
			put_text(writer, "\\ufffd");
			text++;
		}
	}
	put_char(writer, '"');
}

void json_open(struct json_writer *writer, char bracket)
{
	begin_value(writer);
	put_char(writer, bracket);
	if (writer->depth + 1 < JSON_MAX_DEPTH)
		writer->depth++;
	writer->first[writer->depth] = true;
}

void json_close(struct json_writer *writer, char bracket)
{
	put_char(writer, bracket);
	if (writer->depth > 0)
		writer->depth--;
	if (writer->depth == 0) {
		put_char(writer, '\n');
		flush(writer);
		fflush(writer->output);
		writer->first[0] = true;
	}
}

void json_name(struct json_writer *writer, const char *name)
{
	begin_value(writer);
	json_write_string_value(writer, name);
	put(writer, ": ", 2);
	writer->after_name = true;
}

void json_constant_name(struct json_writer *writer, const char *name)
{
	size_t slot = ((uintptr_t)name >> 3) % (sizeof(writer->names) / sizeof(writer->names[0]));
	size_t start;

	begin_value(writer);
	writer->after_name = true;
	if (writer->names[slot].name == name) {
		put(writer, writer->names[slot].escaped, writer->names[slot].length);
		return;
	}
	start = writer->used;
	/* Escaped where every string is, then kept if it fits and no flush split it. */
	json_write_string_value(writer, name);
	put(writer, ": ", 2);
	if (writer->used > start && writer->used - start <= sizeof(writer->names[0].escaped)) {
		writer->names[slot].name = name;
		writer->names[slot].length = writer->used - start;
		memcpy(writer->names[slot].escaped, writer->buffer + start, writer->names[slot].length);
	}
}

void json_string(struct json_writer *writer, const char *value)
{
	begin_value(writer);
	json_write_string_value(writer, value);
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

void json_uint(struct json_writer *writer, uint64_t value)
{
	char text[FORMAT_NUMBER_SIZE];

	begin_value(writer);
	put(writer, text, format_unsigned(text, value));
}

void json_int(struct json_writer *writer, int64_t value)
{
	char text[24];

	begin_value(writer);
	put(writer, text, snprintf(text, sizeof(text), "%" PRId64, value));
}

void json_float(struct json_writer *writer, int precision, double value)
{
	char text[FORMAT_NUMBER_SIZE];

	if (!isfinite(value)) {
		json_null(writer);
		return;
	}
	begin_value(writer);
	put(writer, text, format_decimal(text, value, precision));
}

void json_bool(struct json_writer *writer, bool value)
{
	begin_value(writer);
	put_text(writer, value ? "true" : "false");
}

void json_null(struct json_writer *writer)
{
	begin_value(writer);
	put(writer, "null", 4);
}

/* The NAME:TYPE at FORMAT into NAME and TYPE; what follows it, or NULL at the end. */
static const char *next_field(const char *format, char *name, size_t size, char type[4])
{
	size_t length = 0;

	while (*format == ' ')
		format++;
	if (!*format)
		return NULL;
	while (*format && *format != ':' && length + 1 < size)
		name[length++] = *format++;
	name[length] = '\0';
	length = 0;
	if (*format == ':')
		format++;
	while (*format && *format != ' ' && length < 3)
		type[length++] = *format++;
	type[length] = '\0';
	return format;
}

static void field_value(struct json_writer *writer, const char *type, va_list *arguments)
{
	char comm[17];

	switch (type[0]) {
	case 'u':
		json_uint(writer, va_arg(*arguments, unsigned int));
		break;
	case 'U':
		json_uint(writer, va_arg(*arguments, unsigned long long));
		break;
	case 'd':
		json_int(writer, va_arg(*arguments, int));
		break;
	case 's':
		json_string(writer, va_arg(*arguments, const char *));
		break;
	case 'c':
		memcpy(comm, va_arg(*arguments, const char *), 16);
		comm[16] = '\0';
		json_string(writer, comm);
		break;
	case 'x':
		json_string_format(writer, "0x%llx", va_arg(*arguments, unsigned long long));
		break;
	case 'b':
		json_bool(writer, va_arg(*arguments, int));
		break;
	case 'f':
		json_float(writer, type[1] - '0', va_arg(*arguments, double));
		break;
	default:
		/* A mistyped format: the value cannot be told from its neighbours. */
		json_null(writer);
	}
}

void json_fields(struct json_writer *writer, const char *format, ...)
{
	va_list arguments;
	char name[64], type[4];

	va_start(arguments, format);
	while ((format = next_field(format, name, sizeof(name), type))) {
		json_name(writer, name);
		field_value(writer, type, &arguments);
	}
	va_end(arguments);
}
