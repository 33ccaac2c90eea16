/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Numbers as text without printf, for the writers: top prints a dozen
 * numbers for each of up to 100k rows every interval, and printf's
 * floating-point conversion was most of that.
 */
#ifndef HMMTRACE_FORMAT_H
#define HMMTRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Enough for any number these print, and its terminating NUL. */
#define FORMAT_NUMBER_SIZE 32

/* VALUE in decimal into TEXT; returns the length. */
size_t format_unsigned(char *text, uint64_t value);

/*
 * VALUE with PRECISION decimals (0 to 4), as printf's "%.*f" prints it;
 * exact halves, infinities, NaN and values from 1e18 on go to printf.
 * Returns the length.
 */
size_t format_decimal(char *text, double value, int precision);

#endif /* HMMTRACE_FORMAT_H */
