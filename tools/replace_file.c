// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replace_file.h"

/* Beside PATH, so that rename() stays in one file system and is atomic. */
static void temporary_path(const char *path, char *temporary)
{
	snprintf(temporary, REPLACE_FILE_TEMPORARY_SIZE, "%s.%d.partial", path, (int)getpid());
}

int replace_file_check(const char *path, char temporary[REPLACE_FILE_TEMPORARY_SIZE])
{
	int fd;

	temporary_path(path, temporary);
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

	temporary_path(path, temporary);
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
