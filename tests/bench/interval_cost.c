// SPDX-License-Identifier: GPL-2.0-only
/*
 * What one interval of `hmmtrace top --by range` costs in user space with
 * N live subscriptions: hmmtrace's own model_read() and writers, on maps of
 * the tool's layouts that this program creates and fills. Every interval,
 * the first A rows (all by default: the worst case) have activity.
 *
 *   interval_cost [--rows N] [--active A] [--intervals K] [--print text|json]
 *
 * Prints one JSON object: the per-interval milliseconds of each writer,
 * with --print the last interval's output instead (for tests).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "model_read.h"

#define MAX_INTERVALS 64
#define CALLBACK_ADDRESS 0xffffffffc0001230ULL
#define SUBSCRIPTION_BASE 0xffff888100000000ULL

/* The tool's options, which model_read() consults: top, by range. */
struct options options = {
	.subcommand = SUBCOMMAND_TOP, .grouping = HMMTRACE_BY_SUBSCRIPTION, .mode = HMMTRACE_MODE_TP_BTF,
	.sort = SORT_INVALIDATIONS, .top_rows = 10,
	.events_mask = (1U << HMMTRACE_EVENT_COUNT) - 1,
};

static int create_map(enum bpf_map_type type, __u32 key_size, __u32 value_size, __u32 entries)
{
	LIBBPF_OPTS(bpf_map_create_opts, create_options);
	int fd = bpf_map_create(type, NULL, key_size, value_size, entries, &create_options);

	if (fd < 0) {
		fprintf(stderr, "interval_cost: cannot create a BPF map: %s\n", strerror(errno));
		exit(1);
	}
	return fd;
}

static struct model_maps create_maps(__u32 rows)
{
	return (struct model_maps){
		.groups = {
			.hot_group_keys = create_map(BPF_MAP_TYPE_ARRAY, 4, 8, HMMTRACE_HOT_GROUPS),
			.hot_group_stats = create_map(BPF_MAP_TYPE_PERCPU_ARRAY, 4,
						      sizeof(struct hmmtrace_stats),
						      HMMTRACE_HOT_GROUPS),
			.stats = create_map(BPF_MAP_TYPE_HASH, 8, sizeof(struct hmmtrace_stats),
					    rows),
		},
		.range_latency = create_map(BPF_MAP_TYPE_PERCPU_ARRAY, 4,
					    sizeof(struct hmmtrace_histogram),
					    HMMTRACE_RANGE_EVENTS),
		.subscriptions = create_map(BPF_MAP_TYPE_HASH, 8,
					    sizeof(struct hmmtrace_subscription), rows),
		.faults = create_map(BPF_MAP_TYPE_HASH, sizeof(struct hmmtrace_fault_key),
				     sizeof(struct hmmtrace_fault_summary), 16),
		.stacks = -1,
		.dropped = create_map(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, HMMTRACE_DROPPED_KINDS),
	};
}

/* Interval K's counters of row INDEX: every row grows every interval. */
static void fill_stats(struct hmmtrace_stats *stats, __u32 index, int interval)
{
	memset(stats, 0, sizeof(*stats));
	stats->inserts = 1;
	stats->invalidations = (__u64)(interval + 1) * (1 + index % 7);
	stats->invalidate_slots[10 + index % 5] = stats->invalidations;
	stats->read_begins = (__u64)(interval + 1) * 3;
	stats->range_faults = stats->read_begins;
	stats->faults_completed = stats->read_begins;
}

/* Interval INTERVAL of the first CHANGED of ROWS groups; the rest stay as they were. */
static int fill_maps(const struct model_maps *maps, __u32 rows, __u32 changed, int interval)
{
	struct hmmtrace_stats *stats = calloc(1, sizeof(*stats));

	if (!stats)
		return -ENOMEM;
	for (__u32 index = 0; index < changed && index < rows; index++) {
		__u64 subscription = SUBSCRIPTION_BASE + (__u64)index * 64;
		struct hmmtrace_subscription info = {
			.start = 0x7f0000000000ULL + (__u64)index * 4096,
			.last = 0x7f0000000000ULL + (__u64)index * 4096 + 4095,
			.invalidate = CALLBACK_ADDRESS, .tgid = 1000 + index % 3,
		};

		fill_stats(stats, index, interval);
		if (bpf_map_update_elem(maps->groups.stats, &subscription, stats, BPF_ANY) ||
		    (!interval && bpf_map_update_elem(maps->subscriptions, &subscription, &info,
						      BPF_ANY))) {
			free(stats);
			return -errno;
		}
	}
	free(stats);
	return 0;
}

static double now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

static int by_value(const void *left, const void *right)
{
	double a = *(const double *)left, b = *(const double *)right;

	return a < b ? -1 : a > b;
}

/* The median and the 25th and 75th percentiles of COUNT values, in place. */
static void summarize(double *values, int count, double quartiles[3])
{
	qsort(values, count, sizeof(*values), by_value);
	quartiles[0] = values[count / 4];
	quartiles[1] = values[count / 2];
	quartiles[2] = values[(3 * count) / 4];
}

static int usage(void)
{
	fprintf(stderr, "usage: interval_cost [--rows N] [--active A] [--intervals K] "
		"[--print text|json]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "rows", required_argument, NULL, 'r' },
		{ "active", required_argument, NULL, 'a' },
		{ "intervals", required_argument, NULL, 'k' },
		{ "print", required_argument, NULL, 'p' },
		{},
	};
	const struct writer *writers[] = { &text_writer, &json_writer };
	double costs[2][MAX_INTERVALS], quartiles[2][3];
	const char *print = NULL;
	struct session session = { .mode = HMMTRACE_MODE_TP_BTF };
	long rows = 1000, intervals = 5, active = -1;
	struct model_maps maps;
	int option, saved_stdout = -1;

	while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		if (option == 'r')
			rows = strtol(optarg, NULL, 10);
		else if (option == 'a')
			active = strtol(optarg, NULL, 10);
		else if (option == 'k')
			intervals = strtol(optarg, NULL, 10);
		else if (option == 'p')
			print = optarg;
		else
			return usage();
	}
	if (active < 0 || active > rows)
		active = rows;
	if (rows < 1 || rows > 1000000 || intervals < 1 || intervals > MAX_INTERVALS ||
	    (print && strcmp(print, "text") && strcmp(print, "json")))
		return usage();
	for (int event = 0; event < HMMTRACE_RANGE_EVENTS; event++)
		snprintf(session.range_event_names[event], sizeof(session.range_event_names[0]),
			 "event %d", event);
	maps = create_maps(rows);
	/* Timed writers write to /dev/null; the figures go to the real stdout. */
	if (!print && ((saved_stdout = dup(STDOUT_FILENO)) < 0 || !freopen("/dev/null", "w", stdout))) {
		perror("interval_cost");
		return 1;
	}
	for (int kind = 0; kind < 2; kind++) {
		const struct writer *writer = print ? (strcmp(print, "json") ? &text_writer :
						       &json_writer) : writers[kind];
		struct model_reader reader;

		model_reader_init(&reader, &session, &maps, writer);
		/* Interval 0 makes the rows; the timed ones each grow every row. */
		for (int interval = 0; interval <= intervals; interval++) {
			struct model model;
			double began;
			int status = fill_maps(&maps, rows, interval ? active : rows,
					       interval + kind * (intervals + 1));

			began = now_ms();
			if (!status)
				status = model_read(&reader, 1.0, &model);
			if (status) {
				fprintf(stderr, "interval_cost: %s\n", strerror(-status));
				return 1;
			}
			if (!print || interval == intervals)
				writer->interval(&model);
			if (interval)
				costs[kind][interval - 1] = now_ms() - began;
		}
		model_reader_free(&reader);
		if (print)
			return 0;
		summarize(costs[kind], intervals, quartiles[kind]);
	}
	fflush(stdout);
	dup2(saved_stdout, STDOUT_FILENO);
	printf("{\"rows\": %ld, \"active\": %ld, \"intervals\": %ld", rows, active, intervals);
	for (int kind = 0; kind < 2; kind++)
		printf(", \"%s_ms\": {\"median\": %.3f, \"p25\": %.3f, \"p75\": %.3f}",
		       kind ? "json" : "text", quartiles[kind][1], quartiles[kind][0],
		       quartiles[kind][2]);
	printf("}\n");
	return 0;
}
