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
	int depth;
	bool first[JSON_MAX_DEPTH];	/* nothing written yet at this depth */
	bool after_name;		/* a value completes the name just written */
};

void json_writer_init(struct json_writer *writer, FILE *output);

void json_start_object(struct json_writer *writer);
/* Ends the object; at the top level, also the line, which is flushed. */
void json_end_object(struct json_writer *writer);
void json_start_array(struct json_writer *writer);
void json_end_array(struct json_writer *writer);

/* The name of the next value of the current object. */
void json_name(struct json_writer *writer, const char *name);

void json_string(struct json_writer *writer, const char *value);
void json_string_format(struct json_writer *writer, const char *format, ...)
	__attribute__((format(printf, 2, 3)));
void json_uint(struct json_writer *writer, uint64_t value);
void json_int(struct json_writer *writer, int64_t value);
/* FORMAT is a printf conversion of one double ("%.3f"); NaN and infinities are null. */
void json_float(struct json_writer *writer, const char *format, double value);
void json_bool(struct json_writer *writer, bool value);
void json_null(struct json_writer *writer);

/* "name": value, the pairs an object is mostly made of. */
void json_string_field(struct json_writer *writer, const char *name, const char *value);
void json_uint_field(struct json_writer *writer, const char *name, uint64_t value);
void json_int_field(struct json_writer *writer, const char *name, int64_t value);
void json_float_field(struct json_writer *writer, const char *name, const char *format,
		      double value);
void json_bool_field(struct json_writer *writer, const char *name, bool value);
/* "0x1234": addresses are strings, as JSON numbers lose 64-bit precision. */
void json_hex_field(struct json_writer *writer, const char *name, uint64_t value);

#endif /* HMMTRACE_JSON_WRITER_H */
