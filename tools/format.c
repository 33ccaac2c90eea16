// SPDX-License-Identifier: GPL-2.0-only
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "format.h"

/* DIGITS' last LENGTH bytes moved to TEXT and terminated. */
static size_t move_digits(char *text, const char *digit, const char *end)
{
	size_t length = end - digit;

	memmove(text, digit, length);
	text[length] = '\0';
	return length;
}

size_t format_unsigned(char *text, uint64_t value)
{
	char digits[FORMAT_NUMBER_SIZE], *end = digits + sizeof(digits), *digit = end;

	do {
		*--digit = '0' + value % 10;
		value /= 10;
	} while (value);
	return move_digits(text, digit, end);
}

/* What printf prints, cut to the buffer. */
static size_t format_by_printf(char *text, double value, int precision)
{
	int length = snprintf(text, FORMAT_NUMBER_SIZE, "%.*f", precision, value);

	return length < 0 ? 0 : length < FORMAT_NUMBER_SIZE ? length : FORMAT_NUMBER_SIZE - 1;
}

size_t format_decimal(char *text, double value, int precision)
{
	static const double scales[] = { 1, 10, 100, 1000, 10000 };
	char digits[FORMAT_NUMBER_SIZE], *end = digits + sizeof(digits), *digit = end;
	double magnitude = value < 0 ? -value : value, whole;
	uint64_t scaled;

	if (precision < 0 || precision > 4 || !(magnitude * scales[precision] < 1e18))
		return format_by_printf(text, value, precision);
	/* printf rounds an exact half to even (2.5 -> "2"); leave those to it. */
	whole = floor(magnitude * scales[precision]);
	if (fabs(magnitude * scales[precision] - whole - 0.5) < 1e-9)
		return format_by_printf(text, value, precision);
	scaled = (uint64_t)(magnitude * scales[precision] + 0.5);
	for (int place = 0; place < precision; place++, scaled /= 10)
		*--digit = '0' + scaled % 10;
	if (precision)
		*--digit = '.';
	do {
		*--digit = '0' + scaled % 10;
		scaled /= 10;
	} while (scaled);
	if (value < 0)
		*--digit = '-';
	return move_digits(text, digit, end);
}
