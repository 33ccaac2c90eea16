/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Writing a file whole: into a temporary file beside it, renamed over it
 * when complete, so that a reader sees the old file or the new one and
 * never half of one, and a failure leaves the old one in place. export's
 * --textfile and causes' --folded and --html are written so.
 */
#ifndef HMMTRACE_REPLACE_FILE_H
#define HMMTRACE_REPLACE_FILE_H

#include <stdio.h>
#include <sys/types.h>

#define REPLACE_FILE_TEMPORARY_SIZE 4096

/*
 * Whether the temporary file beside PATH (its name in TEMPORARY) can be
 * written: 0, or a negative errno. Creates nothing that stays.
 */
int replace_file_check(const char *path, char temporary[REPLACE_FILE_TEMPORARY_SIZE]);

/* The temporary file for PATH, opened for writing with MODE, its name in TEMPORARY; NULL on failure. */
FILE *replace_file_begin(const char *path, mode_t mode, char temporary[REPLACE_FILE_TEMPORARY_SIZE]);

/*
 * FILE (from replace_file_begin(), or NULL when that failed) closed and
 * renamed over PATH if WRITTEN and everything succeeded; otherwise the
 * temporary file is removed. 0, or a negative errno.
 */
int replace_file_finish(FILE *file, const char *temporary, const char *path, int written);

#endif /* HMMTRACE_REPLACE_FILE_H */
