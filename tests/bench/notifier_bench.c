// SPDX-License-Identifier: GPL-2.0-only
/*
 * The notifier microbenchmark behind `make bench`: K one-page sim_mirror
 * subscriptions over a buffer, then, timed per operation:
 *
 *   hit     madvise(MADV_DONTNEED) of one subscribed page: a range start,
 *           one invalidate callback and a range end
 *   miss    the same on a page of another mapping of the same process: the
 *           interval tree is searched and nothing overlaps
 *   remap   mmap(MAP_FIXED) over one subscribed page: an unmap range
 *   fault   a device read of one subscribed page: read_begin and
 *           hmm_range_fault()
 *
 * It prints one JSON object: nanoseconds per operation of each, the median
 * of --repeat rounds, and the driver's own counters for the whole run.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sim_mirror_uapi.h"
#include "workload.h"

#define MAX_REPEAT 31

static int device;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static uint32_t subscribe(char *start)
{
	struct sim_mirror_range range = {
		.size = sizeof(range), .start = (uintptr_t)start, .length = PAGE_BYTES,
	};

	if (ioctl(device, SIM_MIRROR_ADD_RANGE, &range))
		die("SIM_MIRROR_ADD_RANGE");
	return range.range_id;
}

static int by_value(const void *left, const void *right)
{
	double a = *(const double *)left, b = *(const double *)right;

	return a < b ? -1 : a > b;
}

static double median(const double *values, int count)
{
	double sorted[MAX_REPEAT];

	memcpy(sorted, values, count * sizeof(*values));
	qsort(sorted, count, sizeof(*sorted), by_value);
	return count % 2 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2;
}

struct setup {
	unsigned long subscriptions;
	unsigned long operations;
	char *subscribed;
	char *unsubscribed;
	uint32_t *range_ids;
	char *bounce;
};

enum operation { HIT, MISS, REMAP, FAULT, OPERATION_COUNT };
static const char *const operation_names[] = { "hit", "miss", "remap", "fault" };

static void operate(const struct setup *setup, enum operation operation, unsigned long index)
{
	unsigned long slot = index % setup->subscriptions;
	char *page = setup->subscribed + slot * PAGE_BYTES;
	struct sim_mirror_access access = {
		.size = sizeof(access), .range_id = setup->range_ids[slot],
		.address = (uintptr_t)page, .length = PAGE_BYTES,
		.buffer = (uintptr_t)setup->bounce,
	};

	switch (operation) {
	case HIT:
		if (madvise(page, PAGE_BYTES, MADV_DONTNEED))
			die("madvise");
		break;
	case MISS:
		if (madvise(setup->unsubscribed, PAGE_BYTES, MADV_DONTNEED))
			die("madvise");
		break;
	case REMAP:
		if (mmap(page, PAGE_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			die("mmap(MAP_FIXED)");
		break;
	default:
		if (ioctl(device, SIM_MIRROR_READ, &access))
			die("SIM_MIRROR_READ");
		break;
	}
}

/* Nanoseconds per operation, one round. */
static double time_round(const struct setup *setup, enum operation operation)
{
	double began = monotonic_seconds();

	for (unsigned long index = 0; index < setup->operations; index++)
		operate(setup, operation, index);
	return (monotonic_seconds() - began) * 1e9 / setup->operations;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: notifier_bench [--subscriptions K] [--operations N] [--repeat R]\n"
		"                      [--only hit|miss|remap|fault]\n");
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "subscriptions", required_argument, NULL, 'k' },
		{ "operations", required_argument, NULL, 'n' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "only", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct setup setup = { .subscriptions = 1, .operations = 10000 };
	struct sim_mirror_counters_query query = { .size = sizeof(query) };
	double rounds[OPERATION_COUNT][MAX_REPEAT];
	int repeat = 5, only = -1, option;
	struct buffer subscribed, unsubscribed;

	while ((option = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (option) {
		case 'k':
			setup.subscriptions = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			setup.operations = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			repeat = atoi(optarg);
			break;
		case 'o':
			for (only = 0; only < OPERATION_COUNT; only++)
				if (!strcmp(optarg, operation_names[only]))
					break;
			if (only == OPERATION_COUNT)
				usage(2);
			break;
		case 'h':
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	if (!setup.subscriptions || setup.subscriptions > 131072 || !setup.operations ||
	    repeat < 1 || repeat > MAX_REPEAT)
		usage(2);
	device = open("/dev/sim_mirror", O_RDWR);
	if (device < 0)
		die("/dev/sim_mirror");
	subscribed = buffer_map(setup.subscriptions * PAGE_BYTES, false);
	unsubscribed = buffer_map(PAGE_BYTES, false);
	setup.subscribed = subscribed.start;
	setup.unsubscribed = unsubscribed.start;
	setup.bounce = malloc(PAGE_BYTES);
	setup.range_ids = calloc(setup.subscriptions, sizeof(*setup.range_ids));
	if (!setup.bounce || !setup.range_ids)
		die("malloc");
	memset(setup.subscribed, 1, setup.subscriptions * PAGE_BYTES);
	for (unsigned long index = 0; index < setup.subscriptions; index++)
		setup.range_ids[index] = subscribe(setup.subscribed + index * PAGE_BYTES);
	if (ioctl(device, SIM_MIRROR_RESET_COUNTERS))
		die("SIM_MIRROR_RESET_COUNTERS");

	/* Rounds interleave the operations, so drift hits them all alike. */
	for (int round = 0; round < repeat; round++)
		for (int operation = 0; operation < OPERATION_COUNT; operation++)
			if (only < 0 || only == operation)
				rounds[operation][round] = time_round(&setup, operation);

	if (ioctl(device, SIM_MIRROR_GET_COUNTERS, &query))
		die("SIM_MIRROR_GET_COUNTERS");
	printf("{\"subscriptions\": %lu, \"operations\": %lu, \"repeat\": %d",
	       setup.subscriptions, setup.operations, repeat);
	for (int operation = 0; operation < OPERATION_COUNT; operation++) {
		if (only >= 0 && only != operation)
			continue;
		printf(", \"%s_ns\": %.1f, \"%s_rounds_ns\": [", operation_names[operation],
		       median(rounds[operation], repeat), operation_names[operation]);
		for (int round = 0; round < repeat; round++)
			printf("%s%.1f", round ? ", " : "", rounds[operation][round]);
		printf("]");
	}
	printf(", \"invalidations\": %llu, \"read_begins\": %llu}\n",
	       (unsigned long long)query.counters.invalidations,
	       (unsigned long long)query.counters.read_begins);
	return 0;
}
