// SPDX-License-Identifier: GPL-2.0-only
/*
 * tools/flamegraph.c on its own, for tests/host/test-flamegraph-html.sh:
 *
 *   flamegraph_render TITLE UNIT <folded >page.html
 *       folded stacks ("f1;f2;f3 COUNT", root first) in, the page out, with
 *       the assets flamegraph_assets_directory() finds
 *   flamegraph_render --assets
 *       the directory it finds, or its reason for finding none
 *
 * Exit status: 0; 1 when the page could not be written (the error on
 * stderr); 2 on a wrong command line or a line that is not "FRAMES COUNT";
 * 3 when the assets are missing (the one-line reason on stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flamegraph.h"
#include "grow.h"

struct stacks {
	struct folded_stack *stacks;
	size_t count, capacity;
};

/* LINE, "FRAMES COUNT" without its newline, into STACKS (the frames kept). 0, or -EINVAL or -ENOMEM. */
static int stack_parse(struct stacks *stacks, char *line)
{
	char *space = strrchr(line, ' '), *end;
	unsigned long long value;

	if (!space || space == line || !space[1])
		return -EINVAL;
	errno = 0;
	value = strtoull(space + 1, &end, 10);
	if (errno || *end || space[1] == '-')
		return -EINVAL;
	*space = '\0';
	if (grow(&stacks->stacks, &stacks->capacity, stacks->count + 1, sizeof(stacks->stacks[0])))
		return -ENOMEM;
	stacks->stacks[stacks->count].frames = strdup(line);
	if (!stacks->stacks[stacks->count].frames)
		return -ENOMEM;
	stacks->stacks[stacks->count++].value = value;
	return 0;
}

int main(int argc, char **argv)
{
	struct stacks stacks = { NULL };
	const char *directory;
	size_t size = 0, line_number = 0;
	char *line = NULL;
	ssize_t length;
	int error;

	if (argc == 2 && !strcmp(argv[1], "--assets")) {
		directory = flamegraph_assets_directory();
		if (!directory) {
			fprintf(stderr, "%s\n", flamegraph_assets_missing_reason());
			return 3;
		}
		printf("%s\n", directory);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: %s TITLE UNIT <folded >page.html, or %s --assets\n", argv[0], argv[0]);
		return 2;
	}
	directory = flamegraph_assets_directory();
	if (!directory) {
		fprintf(stderr, "%s\n", flamegraph_assets_missing_reason());
		return 3;
	}
	while ((length = getline(&line, &size, stdin)) >= 0) {
		line_number++;
		if (length && line[length - 1] == '\n')
			line[--length] = '\0';
		if (!length)
			continue;
		error = stack_parse(&stacks, line);
		if (error == -EINVAL) {
			fprintf(stderr, "line %zu is not 'FRAMES COUNT': %s\n", line_number, line);
			return 2;
		}
		if (error) {
			fprintf(stderr, "line %zu: %s\n", line_number, strerror(-error));
			return 1;
		}
	}
	free(line);
	error = flamegraph_write_html(stdout, argv[1], argv[2], stacks.stacks, stacks.count, directory);
	if (error) {
		fprintf(stderr, "could not write the page: %s\n", strerror(-error));
		return 1;
	}
	for (size_t index = 0; index < stacks.count; index++)
		free((char *)stacks.stacks[index].frames);
	free(stacks.stacks);
	return 0;
}
