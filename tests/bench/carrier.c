// SPDX-License-Identifier: GPL-2.0-only
/*
 * Native cost of hmmtrace's handlers (tests/bench/carrier.bpf.c): time a
 * getpid() loop with the handler attached and detached, in alternating
 * rounds, and print one JSON object with the per-call difference.
 *
 *   carrier [--handler invalidate|read_begin|empty] [--calls N] [--rounds R]
 *   carrier --loop-only [--calls N] [--rounds R]     just the loop's ns/call
 *   carrier --bpf-stats [--subcommand top|latency|retries] [--fault-state task|hash]
 *           [--calls N] [--rounds R]
 *
 * --loop-only serves any other tracer (bpftrace) attached from outside.
 *
 * --bpf-stats is the method that resolves a few nanoseconds: the kernel's
 * own accounting of each program (BPF_ENABLE_STATS: run_time_ns and
 * run_cnt, as bpftool prog and ebpf_exporter report them), which times the
 * program alone, not the host's noise around the syscall. In each round
 * every event's handler runs once, in an order that rotates between
 * rounds, bracketed by two runs of the empty handler of half as many calls:
 * its figure is its ns per call less the brackets' mean (a paired
 * difference, taken within a second). Other processes' syscalls run a
 * handler too and leave at its filter; their runs are taken out at the
 * empty handler's cost. Two controls of known work (the empty handler plus
 * 4 and 8 dependent squarings) show what the method resolves. --subcommand
 * sets the knobs as hmmtrace does for it, and --fault-state where fault
 * state lives (hmmtrace --fault-state): task local storage by default, or
 * the hash that is the fallback of kernels without it.
 */
#include <errno.h>
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

/* --bpf-stats: the handlers measured, each carrier_<name> in carrier.bpf.c; the empty one first. */
static const char *const measured_handlers[] = {
	"empty", "empty_plus_4_squarings", "empty_plus_8_squarings", "insert", "remove",
	"range_start", "range_end", "invalidate", "read_begin", "read_retry", "check_retry",
	"hmm_range_fault", "clock_read", "subscription_lookup", "task_slot",
	"invalidate_fault_in_flight",
};

/*
 * Whether a fault is in flight on every subscription (faults_in_flight):
 * retries takes an invalidating task's stack only then. Set before each
 * handler's round, so that the invalidation's two paths are measured
 * apart, whatever the other handlers left.
 */
static int set_faults_in_flight(struct carrier_bpf *skeleton, bool in_flight)
{
	int map = bpf_map__fd(skeleton->maps.faults_in_flight);
	struct { __s64 in_flight; __u64 completed_ns; } flight = { .in_flight = in_flight };

	for (__u32 slot = 0; slot < bpf_map__max_entries(skeleton->maps.faults_in_flight); slot++)
		if (bpf_map_update_elem(map, &slot, &flight, BPF_ANY))
			return -1;
	return 0;
}

#define MEASURED_HANDLERS (sizeof(measured_handlers) / sizeof(measured_handlers[0]))

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

/*
 * The knobs hmmtrace sets for SUBCOMMAND (tools/attach.c's set_knobs()),
 * with fault state in task storage if IN_TASK_STORAGE; false if unknown.
 */
static bool set_subcommand_knobs(struct carrier_bpf *skeleton, const char *subcommand,
				 bool in_task_storage)
{
	skeleton->rodata->faults_in_task_storage = in_task_storage;
	if (!strcmp(subcommand, "top")) {
		skeleton->rodata->time_faults = !in_task_storage;
		return true;
	}
	if (!strcmp(subcommand, "latency")) {
		skeleton->rodata->time_ranges = true;
		skeleton->rodata->size_histograms = true;
		/*
		 * Not time_fault_sizes: it reads struct hmm_range, which a host
		 * without HMM_MIRROR has no BTF for, and the carrier passes none.
		 */
		return true;
	}
	if (!strcmp(subcommand, "retries")) {
		skeleton->rodata->report_streaks = true;
		skeleton->rodata->capture_invalidators = true;
		skeleton->rodata->livelock_ns = 100000000;	/* --livelock-ms' default */
		skeleton->rodata->publish_retried_faults = true;
		return true;
	}
	return false;
}

static int program_runs(struct bpf_program *program, __u64 *run_time_ns, __u64 *run_count)
{
	struct bpf_prog_info info = {};
	__u32 length = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_program__fd(program), &info, &length))
		return -1;
	*run_time_ns = info.run_time_ns;
	*run_count = info.run_cnt;
	return 0;
}

/* What the kernel accounted to one program over one stretch of calls. */
struct stretch {
	double run_time_ns;
	long long runs;
};

/* A program attached for CALLS getpid()s, its run time and runs from the kernel's accounting. */
static int stats_stretch(struct bpf_program *program, long calls, struct stretch *stretch)
{
	__u64 time_before, count_before, time_after, count_after;
	struct bpf_link *link;

	if (program_runs(program, &time_before, &count_before))
		return -1;
	link = bpf_program__attach(program);
	if (!link)
		return -1;
	nanoseconds_per_call(calls);
	bpf_link__destroy(link);
	if (program_runs(program, &time_after, &count_after))
		return -1;
	if (count_after == count_before) {
		errno = ENODATA;	/* attached, and never ran */
		return -1;
	}
	stretch->run_time_ns = (double)(time_after - time_before);
	stretch->runs = (long long)(count_after - count_before);
	return 0;
}

/*
 * HANDLER's ns per call of the carrier and the empty handler's beside it,
 * the runs of other processes' syscalls (FOREIGN) charged at the empty
 * handler's ns per run.
 */
static int stats_round(struct bpf_program *handler, struct bpf_program *empty, long calls,
		       double *handler_ns, double *empty_ns, long long *foreign)
{
	struct stretch before, during, after;
	double empty_per_run;

	if (stats_stretch(empty, calls / 2, &before) || stats_stretch(handler, calls, &during) ||
	    stats_stretch(empty, calls / 2, &after))
		return -1;
	empty_per_run = (before.run_time_ns + after.run_time_ns) / (before.runs + after.runs);
	*foreign = during.runs - calls;
	*handler_ns = (during.run_time_ns - *foreign * empty_per_run) / calls;
	*empty_ns = empty_per_run;
	return 0;
}

static int measure_with_bpf_stats(const char *subcommand, const char *fault_state, long calls,
				  int rounds)
{
	static double ns[MEASURED_HANDLERS][MAX_ROUNDS], empty_ns[MEASURED_HANDLERS][MAX_ROUNDS];
	static long long foreign[MEASURED_HANDLERS][MAX_ROUNDS];
	struct bpf_program *programs[MEASURED_HANDLERS];
	struct carrier_bpf *skeleton = carrier_bpf__open();
	int stats_fd, status = 1;

	if (!skeleton) {
		fprintf(stderr, "carrier: cannot open the BPF object\n");
		return 1;
	}
	skeleton->rodata->carrier_tgid = getpid();
	if (strcmp(fault_state, "task") && strcmp(fault_state, "hash")) {
		fprintf(stderr, "carrier: --fault-state is task or hash, not %s\n", fault_state);
		carrier_bpf__destroy(skeleton);
		return 2;
	}
	if (!set_subcommand_knobs(skeleton, subcommand, !strcmp(fault_state, "task"))) {
		fprintf(stderr, "carrier: --subcommand is top, latency or retries, not %s\n",
			subcommand);
		carrier_bpf__destroy(skeleton);
		return 2;
	}
	if (carrier_bpf__load(skeleton)) {
		fprintf(stderr, "carrier: cannot load the handlers\n");
		carrier_bpf__destroy(skeleton);
		return 1;
	}
	for (size_t handler = 0; handler < MEASURED_HANDLERS; handler++) {
		char name[64];

		snprintf(name, sizeof(name), "carrier_%s", measured_handlers[handler]);
		programs[handler] = bpf_object__find_program_by_name(skeleton->obj, name);
		if (!programs[handler]) {
			fprintf(stderr, "carrier: the BPF object has no %s\n", name);
			carrier_bpf__destroy(skeleton);
			return 1;
		}
	}
	/* Accounting is on while this descriptor is open, and only then. */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		fprintf(stderr, "carrier: cannot enable the kernel's BPF statistics: %s\n",
			strerror(errno));
		carrier_bpf__destroy(skeleton);
		return 1;
	}
	nanoseconds_per_call(calls / 10);	/* warm up */
	for (int round = 0; round < rounds; round++)
		for (size_t turn = 0; turn < MEASURED_HANDLERS; turn++) {
			size_t handler = (turn + round) % MEASURED_HANDLERS;

			/* measured_handlers[0] is the empty handler, every round's bracket. */
			if (set_faults_in_flight(skeleton, !strcmp(measured_handlers[handler],
								   "invalidate_fault_in_flight")) ||
			    stats_round(programs[handler], programs[0], calls, &ns[handler][round],
					&empty_ns[handler][round], &foreign[handler][round])) {
				fprintf(stderr, "carrier: cannot measure the %s handler: %s\n",
					measured_handlers[handler], strerror(errno));
				goto out;
			}
		}
	printf("{\"method\": \"bpf_stats\", \"subcommand\": \"%s\", \"fault_state\": \"%s\", "
	       "\"calls\": %ld, \"rounds\": %d, \"handlers\": {", subcommand, fault_state, calls,
	       rounds);
	for (size_t handler = 0; handler < MEASURED_HANDLERS; handler++) {
		double beyond[MAX_ROUNDS];

		for (int round = 0; round < rounds; round++)
			beyond[round] = ns[handler][round] - empty_ns[handler][round];
		printf("%s\"%s\": {", handler ? ", " : "", measured_handlers[handler]);
		print_rounds("ns_per_call", ns[handler], rounds);
		printf(", ");
		print_rounds("beyond_empty_ns", beyond, rounds);
		printf(", \"foreign_runs\": [");
		for (int round = 0; round < rounds; round++)
			printf("%s%lld", round ? ", " : "", foreign[handler][round]);
		printf("]}");
	}
	printf("}}\n");
	status = 0;
out:
	close(stats_fd);
	carrier_bpf__destroy(skeleton);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "handler", required_argument, NULL, 'H' },
		{ "calls", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "loop-only", no_argument, NULL, 'l' },
		{ "bpf-stats", no_argument, NULL, 's' },
		{ "subcommand", required_argument, NULL, 'S' },
		{ "fault-state", required_argument, NULL, 'F' },
		{},
	};
	double without[MAX_ROUNDS], with[MAX_ROUNDS], difference[MAX_ROUNDS];
	const char *handler = "invalidate";
	long calls = 1000000;
	int rounds = 7, option;
	const char *subcommand = "top", *fault_state = "task";
	bool loop_only = false, bpf_stats = false;
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
		case 's':
			bpf_stats = true;
			break;
		case 'S':
			subcommand = optarg;
			break;
		case 'F':
			fault_state = optarg;
			break;
		default:
			return 2;
		}
	}
	if (calls < 1 || rounds < 1 || rounds > MAX_ROUNDS)
		return 2;
	if (bpf_stats)
		return measure_with_bpf_stats(subcommand, fault_state, calls, rounds);
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
	set_subcommand_knobs(skeleton, "top", true);
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
