// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replace_file.h"

/*
 * Beside PATH, so that rename() stays in one file system and is atomic: 0,
 * or -ENAMETOOLONG when the name does not fit, which a cut name must never
 * stand for (cut at PATH's own length, it would be PATH).
 */
static int temporary_path(const char *path, char *temporary)
{
	int length = snprintf(temporary, REPLACE_FILE_TEMPORARY_SIZE, "%s.%d.partial", path,
			      (int)getpid());

	return length < 0 || length >= REPLACE_FILE_TEMPORARY_SIZE ? -ENAMETOOLONG : 0;
}

int replace_file_check(const char *path, char temporary[REPLACE_FILE_TEMPORARY_SIZE])
{
	int fd, status = temporary_path(path, temporary);

	if (status)
		return status;
	fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	unlink(temporary);
	return 0;
}

FILE *replace_file_begin(const char *path, mode_t mode, char temporary[REPLACE_FILE_TEMPORARY_SIZE])
{
	FILE *file;

	if (temporary_path(path, temporary)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	file = fopen(temporary, "w");
	/* The mode whatever the umask: node_exporter, say, runs as another user. */
	if (file && fchmod(fileno(file), mode)) {
		fclose(file);
		unlink(temporary);
		return NULL;
	}
	return file;
}

int replace_file_finish(FILE *file, const char *temporary, const char *path, int written)
{
	int status = 0;

	if (!file)
		return -errno;
	if (!written)
		status = -EIO;
	if (fclose(file) && !status)
		status = -errno;
	if (!status && rename(temporary, path))
		status = -errno;
	if (status)
		unlink(temporary);
	return status;
}
