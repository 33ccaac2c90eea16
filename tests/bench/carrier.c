// SPDX-License-Identifier: GPL-2.0-only
/*
 * Native cost of hmmtrace's handlers (tests/bench/carrier.bpf.c): time a
 * getpid() loop with the handler attached and detached, in alternating
 * rounds, and print one JSON object with the per-call difference.
 *
 *   carrier [--handler invalidate|read_begin|empty] [--calls N] [--rounds R]
 *   carrier --loop-only [--calls N] [--rounds R]     just the loop's ns/call
 *
 * --loop-only serves any other tracer (bpftrace) attached from outside.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "hmmtrace.h"
#include "map_read.h"
#include "carrier.skel.h"

#define MAX_ROUNDS 64

static double nanoseconds_per_call(long calls)
{
	struct timespec began, ended;

	clock_gettime(CLOCK_MONOTONIC, &began);
	for (long call = 0; call < calls; call++)
		syscall(SYS_getpid);
	clock_gettime(CLOCK_MONOTONIC, &ended);
	return ((ended.tv_sec - began.tv_sec) * 1e9 + (ended.tv_nsec - began.tv_nsec)) / calls;
}

struct calls {
	unsigned long long invalidations;
	unsigned long long read_begins;
};

static int add_calls(void *context, __u64 group, const struct hmmtrace_stats *per_cpu, int cpus)
{
	struct calls *calls = context;
	struct hmmtrace_stats sum;

	(void)group;
	per_cpu_sum((__u64 *)&sum, per_cpu, sizeof(sum), sizeof(sum), cpus);
	calls->invalidations += sum.invalidations;
	calls->read_begins += sum.read_begins;
	return 0;
}

/* What the handler counted, over every group and CPU, read as hmmtrace reads it. */
static unsigned long long counted(struct carrier_bpf *skeleton, const char *handler)
{
	struct group_maps maps = {
		.hot_group_keys = bpf_map__fd(skeleton->maps.hot_group_keys),
		.hot_group_stats = bpf_map__fd(skeleton->maps.hot_group_stats),
		.stats = bpf_map__fd(skeleton->maps.stats),
		.stats_per_cpu = true,
	};
	struct calls calls = {};

	if (group_maps_read(&maps, add_calls, &calls))
		return 0;
	return !strcmp(handler, "read_begin") ? calls.read_begins : calls.invalidations;
}

static int by_value(const void *left, const void *right)
{
	double a = *(const double *)left, b = *(const double *)right;

	return a < b ? -1 : a > b;
}

static void print_rounds(const char *key, const double *values, int count)
{
	printf("\"%s\": [", key);
	for (int index = 0; index < count; index++)
		printf("%s%.2f", index ? ", " : "", values[index]);
	printf("]");
}

static double median(const double *values, int count)
{
	double sorted[MAX_ROUNDS];

	memcpy(sorted, values, count * sizeof(*values));
	qsort(sorted, count, sizeof(*sorted), by_value);
	return count % 2 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "handler", required_argument, NULL, 'H' },
		{ "calls", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "loop-only", no_argument, NULL, 'l' },
		{},
	};
	double without[MAX_ROUNDS], with[MAX_ROUNDS], difference[MAX_ROUNDS];
	const char *handler = "invalidate";
	long calls = 1000000;
	int rounds = 7, option;
	bool loop_only = false;
	struct carrier_bpf *skeleton;
	struct bpf_program *program;

	while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (option) {
		case 'H':
			handler = optarg;
			break;
		case 'n':
			calls = atol(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'l':
			loop_only = true;
			break;
		default:
			return 2;
		}
	}
	if (calls < 1 || rounds < 1 || rounds > MAX_ROUNDS)
		return 2;
	if (loop_only) {
		for (int round = 0; round < rounds; round++)
			without[round] = nanoseconds_per_call(calls);
		printf("{\"calls\": %ld, \"ns_per_call\": %.2f, ", calls, median(without, rounds));
		print_rounds("rounds_ns", without, rounds);
		printf("}\n");
		return 0;
	}

	skeleton = carrier_bpf__open();
	if (!skeleton) {
		fprintf(stderr, "carrier: cannot open the BPF object\n");
		return 1;
	}
	skeleton->rodata->carrier_tgid = getpid();
	bpf_object__for_each_program(program, skeleton->obj) {
		char name[64];

		snprintf(name, sizeof(name), "carrier_%s", handler);
		bpf_program__set_autoload(program, !strcmp(bpf_program__name(program), name));
	}
	if (carrier_bpf__load(skeleton)) {
		fprintf(stderr, "carrier: cannot load the %s handler\n", handler);
		carrier_bpf__destroy(skeleton);
		return 1;
	}
	program = bpf_object__find_program_by_name(skeleton->obj,
						   !strcmp(handler, "invalidate") ? "carrier_invalidate" :
						   !strcmp(handler, "read_begin") ? "carrier_read_begin" :
										    "carrier_empty");
	nanoseconds_per_call(calls / 10);	/* warm up */
	for (int round = 0; round < rounds; round++) {
		struct bpf_link *link;

		without[round] = nanoseconds_per_call(calls);
		link = bpf_program__attach(program);
		if (!link) {
			fprintf(stderr, "carrier: cannot attach the %s handler\n", handler);
			carrier_bpf__destroy(skeleton);
			return 1;
		}
		with[round] = nanoseconds_per_call(calls);
		bpf_link__destroy(link);
		difference[round] = with[round] - without[round];
	}
	printf("{\"handler\": \"%s\", \"calls\": %ld, \"handler_ns\": %.2f, \"loop_ns\": %.2f, "
	       "\"counted\": %llu, \"expected\": %ld, ",
	       handler, calls, median(difference, rounds), median(without, rounds),
	       strcmp(handler, "empty") ? counted(skeleton, handler) : 0,
	       strcmp(handler, "empty") ? calls * rounds : 0);
	print_rounds("handler_rounds_ns", difference, rounds);
	printf("}\n");
	carrier_bpf__destroy(skeleton);
	return 0;
}
