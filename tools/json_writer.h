/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A streaming JSON writer in the manner of bpftool's json_writer.c: the
 * writer keeps the nesting and places every separator, and every string,
 * names included, is escaped in one place (json_write_string_value()).
 * Output is one line per top-level value, in the "key": value, style that
 * Python's json.dumps() prints.
 */
#ifndef HMMTRACE_JSON_WRITER_H
#define HMMTRACE_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json_writer {
	FILE *output;
	/* A line is built here and written whole: stdio per token cost more than the rest. */
	char buffer[16384];
	size_t used;
	/* Escaped constant names, by their address. */
	struct {
		const char *name;
		char escaped[80];
		size_t length;
	} names[64];
	int depth;
	bool first[JSON_MAX_DEPTH];	/* nothing written yet at this depth */
	bool after_name;		/* a value completes the name just written */
};

void json_writer_init(struct json_writer *writer, FILE *output);

/*
 * An object or array, by its bracket: '{' or '[' opens, '}' or ']' closes.
 * Closing the outermost one ends the line and writes it.
 */
void json_open(struct json_writer *writer, char bracket);
void json_close(struct json_writer *writer, char bracket);

/* The name of the next value of the current object. */
void json_name(struct json_writer *writer, const char *name);
/*
 * The same for a NAME that never changes (a schema's field names): its
 * escaped form is made once and kept, as 100k rows repeat the same names.
 */
void json_constant_name(struct json_writer *writer, const char *name);

void json_string(struct json_writer *writer, const char *value);
void json_string_format(struct json_writer *writer, const char *format, ...)
	__attribute__((format(printf, 2, 3)));
void json_uint(struct json_writer *writer, uint64_t value);
void json_int(struct json_writer *writer, int64_t value);
/* VALUE with PRECISION (0 to 4) decimals; NaN and infinities are null. */
void json_float(struct json_writer *writer, int precision, double value);
void json_bool(struct json_writer *writer, bool value);
void json_null(struct json_writer *writer);

/*
 * "name": value pairs, as many as FORMAT names: space-separated NAME:TYPE,
 * where TYPE is u (unsigned int), U (__u64), d (int), s (a string), c (a
 * kernel char[16], which may fill its array), x (__u64, as a "0x..."
 * string: JSON numbers lose 64-bit precision), b (a bool) or f0 to f4 (a
 * double with that many decimals; null when not finite).
 */
void json_fields(struct json_writer *writer, const char *format, ...);

#endif /* HMMTRACE_JSON_WRITER_H */
