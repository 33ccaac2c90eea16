// SPDX-License-Identifier: GPL-2.0-only
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

size_t format_decimal(char *text, double value, int precision)
{
	static const double scales[] = { 1, 10, 100, 1000, 10000 };
	char digits[FORMAT_NUMBER_SIZE], *end = digits + sizeof(digits), *digit = end;
	uint64_t scaled;

	if (precision < 0 || precision > 4 || !(value > -1e18 && value < 1e18))
		return snprintf(text, FORMAT_NUMBER_SIZE, "%.*f", precision, value);
	scaled = (uint64_t)((value < 0 ? -value : value) * scales[precision] + 0.5);
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
