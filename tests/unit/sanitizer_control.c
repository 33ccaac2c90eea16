// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sanitizers' positive control: built with hmmtrace's SANITIZE flags
 * (make hmmtrace SANITIZE=1), it makes the error its argument names, so
 * that a test expecting no report from hmmtrace first sees each kind of
 * report made and caught in the same environment:
 *
 *   leak       a malloc'ed block lost at exit (LeakSanitizer)
 *   overflow   a read past a heap block (AddressSanitizer)
 *   undefined  a signed overflow (UndefinedBehaviorSanitizer)
 *   clean      nothing: exits 0 with no report
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the lost block is kept until main() forgets it. */
static char *volatile kept;

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	/* From the command line, so the compiler cannot see the error coming. */
	volatile int index = argc + 14, large = INT_MAX;

	if (!strcmp(what, "leak")) {
		kept = malloc(64);
		snprintf(kept, 64, "lost");
		kept = NULL;
		return 0;
	}
	if (!strcmp(what, "overflow")) {
		/* Through a volatile pointer, past UBSan's object-size check, to ASan's. */
		char *volatile block = malloc(16);
		int value;

		memset(block, 0, 16);
		value = block[index];
		free(block);
		return value;
	}
	if (!strcmp(what, "undefined")) {
		int sum = large + argc;

		return sum == 0;
	}
	if (!strcmp(what, "clean"))
		return 0;
	fprintf(stderr, "usage: %s leak|overflow|undefined|clean\n", argv[0]);
	return 2;
}
