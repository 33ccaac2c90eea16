// SPDX-License-Identifier: GPL-2.0-only
/*
 * What one interval of `hmmtrace top --by range` costs in user space with
 * N live subscriptions: hmmtrace's own model_read() and writers, on maps of
 * the tool's layouts that this program creates and fills. Every interval,
 * the first A rows (all by default: the worst case) have activity.
 *
 *   interval_cost [--rows N] [--active A] [--intervals K] [--print text|json]
 *   interval_cost --export [--rows N] [--max-series M] [--intervals K]
 *                 [--withdraw] [--print prometheus [--previous FILE]]
 *
 * Prints one JSON object: the per-interval milliseconds of each writer,
 * with --print the last interval's output instead (for tests).
 *
 * --export times what one scrape of `hmmtrace export --by process` does
 * (tools/export.c's scrape()): model_read() and prometheus_write() into a
 * memory stream, with N processes (tgids 1 to N) in the stats map, each
 * with one live subscription, and every one a series unless --max-series
 * says fewer. It prints the milliseconds per scrape and the size of the
 * body: its lines and its samples (one per series). --withdraw lowers, in
 * the last scrape, the completed faults of the odd tgids as a collision
 * that undoes a completion does; --previous writes the body of the scrape
 * before the last, to compare two scrapes of one exporter.
 *
 * Row I (0-based) at interval or scrape K holds (fill_stats()):
 * inserts 1, invalidations (K + 1) * (1 + I % 7) (16 pages each, K + 1 of
 * them covering all) in slot 10 + I % 5 of
 * 1 us each, read_begins 5 (K + 1) of which K + 1 waited 1.5 us each and
 * K + 1 retried, range_faults 5 (K + 1) of which K + 1 -EBUSY and the rest
 * succeeded, and
 * faults_completed 3 (K + 1), each of 1 go-round in 2^20 ns (slot 21);
 * range events 0 and 1 ended (K + 1) (E + 1) times in 4096 ns each.
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
#define RANGE_EVENTS_FILLED 2
#define INVALIDATE_NS 1000
#define WAIT_NS 1500
#define FAULT_SLOT 21		/* values up to 2^20 ns */
#define FAULT_NS (1ULL << 20)
#define RANGE_SLOT 13		/* values up to 2^12 ns */
#define RANGE_NS 4096

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
		.stacks = -1, .mm_owners = -1,
		.lost = create_map(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, HMMTRACE_LOST_KINDS),
		.causes = -1, .fault_sizes = -1,
	};
}

/* What the stats map is keyed by: subscriptions for top --by range, tgids 1 to N for export. */
static bool exporting;

/* The completed faults of interval K: a withdrawn one was counted at K - 1 and taken back. */
static void fill_completions(struct hmmtrace_stats *stats, int interval, bool withdrawn)
{
	stats->faults_completed = withdrawn ? 3ULL * interval - 1 : 3ULL * (interval + 1);
	stats->fault_ns = stats->faults_completed * FAULT_NS;
	stats->fault_slots[FAULT_SLOT] = stats->faults_completed;
	stats->fault_retries = stats->faults_completed;
	stats->retries_per_fault_slots[1] = stats->faults_completed;
}

/* Interval K's counters of row INDEX: every row grows every interval (the header says how). */
static void fill_stats(struct hmmtrace_stats *stats, __u32 index, int interval, bool withdrawn)
{
	__u64 rounds = interval + 1;

	memset(stats, 0, sizeof(*stats));
	stats->inserts = 1;
	stats->invalidations = rounds * (1 + index % 7);
	stats->invalidate_slots[10 + index % 5] = stats->invalidations;
	stats->invalidate_ns = stats->invalidations * INVALIDATE_NS;
	/* 16 pages each: ceil-log2 slot 5 holds 9..16. */
	stats->invalidated_pages = 16 * stats->invalidations;
	stats->invalidated_pages_slots[5] = stats->invalidations;
	stats->invalidate_all = rounds;
	stats->read_begins = 5 * rounds;
	stats->read_begin_waits = rounds;
	stats->read_begin_wait_ns = rounds * WAIT_NS;
	stats->read_retries = rounds;
	stats->range_faults = 5 * rounds;
	stats->range_fault_ebusy = rounds;
	stats->range_fault_successes = 4 * rounds;
	fill_completions(stats, interval, withdrawn);
}

/* Range events 0 and 1 at interval K, in CPU 0's slot of the per-CPU array. */
static int fill_ranges(const struct model_maps *maps, int interval)
{
	int cpus = libbpf_num_possible_cpus();
	struct hmmtrace_histogram *per_cpu;

	if (cpus < 1)
		return cpus ? cpus : -EINVAL;
	per_cpu = calloc(cpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	for (__u32 event = 0; event < RANGE_EVENTS_FILLED; event++) {
		per_cpu[0].count = (__u64)(interval + 1) * (event + 1);
		per_cpu[0].total_ns = per_cpu[0].count * RANGE_NS;
		per_cpu[0].slots[RANGE_SLOT] = per_cpu[0].count;
		if (bpf_map_update_elem(maps->range_latency, &event, per_cpu, BPF_ANY)) {
			free(per_cpu);
			return -errno;
		}
	}
	free(per_cpu);
	return 0;
}

/*
 * Interval INTERVAL of the first CHANGED of ROWS groups; the rest stay as
 * they were. WITHDRAW: the odd rows' completions are lowered instead.
 */
static int fill_maps(const struct model_maps *maps, __u32 rows, __u32 changed, int interval,
		     bool withdraw)
{
	struct hmmtrace_stats *stats = calloc(1, sizeof(*stats));

	if (!stats)
		return -ENOMEM;
	for (__u32 index = 0; index < changed && index < rows; index++) {
		__u64 subscription = SUBSCRIPTION_BASE + (__u64)index * 64;
		__u64 group = exporting ? index + 1 : subscription;
		struct hmmtrace_subscription info = {
			.start = 0x7f0000000000ULL + (__u64)index * 4096,
			.last = 0x7f0000000000ULL + (__u64)index * 4096 + 4095,
			.invalidate = CALLBACK_ADDRESS,
			.tgid = exporting ? index + 1 : 1000 + index % 3,
		};

		fill_stats(stats, index, interval, withdraw && index % 2);
		if (bpf_map_update_elem(maps->groups.stats, &group, stats, BPF_ANY) ||
		    (!interval && bpf_map_update_elem(maps->subscriptions, &subscription, &info,
						      BPF_ANY))) {
			free(stats);
			return -errno;
		}
	}
	free(stats);
	return fill_ranges(maps, interval);
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
		"[--print text|json]\n"
		"       interval_cost --export [--rows N] [--max-series M] [--intervals K] "
		"[--withdraw] [--print prometheus [--previous FILE]]\n");
	return 2;
}

struct bench {
	long rows, active, intervals, max_series;
	bool withdraw;
	const char *print;
	const char *previous;		/* export: the body before the last, to this file */
};

/* One interval of top --by range with each writer, timed; or printed. */
static int time_intervals(const struct bench *bench, struct session *session,
			  const struct model_maps *maps)
{
	const struct writer *writers[] = { &text_writer, &json_writer };
	double costs[2][MAX_INTERVALS], quartiles[2][3];
	int saved_stdout = -1;

	/* Timed writers write to /dev/null; the figures go to the real stdout. */
	if (!bench->print &&
	    ((saved_stdout = dup(STDOUT_FILENO)) < 0 || !freopen("/dev/null", "w", stdout))) {
		perror("interval_cost");
		return 1;
	}
	for (int kind = 0; kind < 2; kind++) {
		const struct writer *writer = bench->print ?
			(strcmp(bench->print, "json") ? &text_writer : &json_writer) : writers[kind];
		struct model_reader reader;

		model_reader_init(&reader, session, maps, writer);
		/* Interval 0 makes the rows; the timed ones each grow every row. */
		for (int interval = 0; interval <= bench->intervals; interval++) {
			struct model model;
			double began;
			int status = fill_maps(maps, bench->rows,
					       interval ? bench->active : bench->rows,
					       interval + kind * (bench->intervals + 1), false);

			began = now_ms();
			if (!status)
				status = model_read(&reader, 1.0, &model);
			if (status) {
				fprintf(stderr, "interval_cost: %s\n", strerror(-status));
				return 1;
			}
			if (!bench->print || interval == bench->intervals)
				writer->interval(&model);
			if (interval)
				costs[kind][interval - 1] = now_ms() - began;
		}
		model_reader_free(&reader);
		if (bench->print)
			return 0;
		summarize(costs[kind], bench->intervals, quartiles[kind]);
	}
	fflush(stdout);
	dup2(saved_stdout, STDOUT_FILENO);
	printf("{\"rows\": %ld, \"active\": %ld, \"intervals\": %ld", bench->rows, bench->active,
	       bench->intervals);
	for (int kind = 0; kind < 2; kind++)
		printf(", \"%s_ms\": {\"median\": %.3f, \"p25\": %.3f, \"p75\": %.3f}",
		       kind ? "json" : "text", quartiles[kind][1], quartiles[kind][0],
		       quartiles[kind][2]);
	printf("}\n");
	return 0;
}

/* What tools/export.c's scrape() does, without its lock: read the maps, render into memory. */
static int scrape(struct model_reader *reader, char **body, size_t *length)
{
	struct model model;
	FILE *output = open_memstream(body, length);
	int status;

	if (!output)
		return -errno;
	status = model_read(reader, 0, &model);
	if (!status)
		prometheus_write(output, &model);
	if (fclose(output) && !status)
		status = -ENOMEM;
	return status;
}

static void count_lines(const char *body, size_t length, size_t *lines, size_t *samples)
{
	*lines = *samples = 0;
	for (const char *line = body; line < body + length;) {
		const char *end = memchr(line, '\n', body + length - line);

		(*lines)++;
		if (*line != '#')
			(*samples)++;
		line = end ? end + 1 : body + length;
	}
}

static int write_file(const char *path, const char *body, size_t length)
{
	FILE *file = fopen(path, "w");
	bool written = file && fwrite(body, 1, length, file) == length;

	if (file && fclose(file))
		written = false;
	if (!written)
		fprintf(stderr, "interval_cost: cannot write %s: %s\n", path, strerror(errno));
	return written ? 0 : 1;
}

/* Scrapes of hmmtrace export --by process, timed; the last body printed with --print. */
static int time_scrapes(const struct bench *bench, struct session *session,
			const struct model_maps *maps)
{
	double costs[MAX_INTERVALS], quartiles[3];
	struct model_reader reader;
	char *body = NULL, *previous = NULL;
	size_t length = 0, previous_length = 0, lines, samples;

	options.subcommand = SUBCOMMAND_EXPORT;
	options.grouping = HMMTRACE_BY_PROCESS;
	options.max_series = bench->max_series;
	options.livelock_ms = 100;	/* the exporter's default */
	model_reader_init(&reader, session, maps, NULL);
	/* Scrape 0 makes the series; the timed ones each grow the active rows. */
	for (int interval = 0; interval <= bench->intervals; interval++) {
		bool last = interval == bench->intervals;
		int status = fill_maps(maps, bench->rows, interval ? bench->active : bench->rows,
				       interval, last && interval && bench->withdraw);
		double began = now_ms();

		free(previous);
		previous = body;
		previous_length = length;
		body = NULL;
		if (!status)
			status = scrape(&reader, &body, &length);
		if (status) {
			fprintf(stderr, "interval_cost: %s\n", strerror(-status));
			return 1;
		}
		if (interval)
			costs[interval - 1] = now_ms() - began;
	}
	model_reader_free(&reader);
	if (bench->previous && write_file(bench->previous, previous, previous_length))
		return 1;
	if (bench->print) {
		fwrite(body, 1, length, stdout);
	} else {
		summarize(costs, bench->intervals, quartiles);
		count_lines(body, length, &lines, &samples);
		printf("{\"groups\": %ld, \"max_series\": %ld, \"active\": %ld, \"scrapes\": %ld, "
		       "\"lines\": %zu, \"samples\": %zu, \"bytes\": %zu, "
		       "\"scrape_ms\": {\"median\": %.3f, \"p25\": %.3f, \"p75\": %.3f}}\n",
		       bench->rows, bench->max_series, bench->active, bench->intervals, lines,
		       samples, length, quartiles[1], quartiles[0], quartiles[2]);
	}
	free(previous);
	free(body);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "rows", required_argument, NULL, 'r' },
		{ "active", required_argument, NULL, 'a' },
		{ "intervals", required_argument, NULL, 'k' },
		{ "print", required_argument, NULL, 'p' },
		{ "export", no_argument, NULL, 'e' },
		{ "max-series", required_argument, NULL, 'm' },
		{ "withdraw", no_argument, NULL, 'w' },
		{ "previous", required_argument, NULL, 'b' },
		{},
	};
	struct bench bench = { .rows = 1000, .intervals = 5, .active = -1, .max_series = -1 };
	struct session session = { .mode = HMMTRACE_MODE_TP_BTF };
	struct model_maps maps;
	int option;

	while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		if (option == 'r')
			bench.rows = strtol(optarg, NULL, 10);
		else if (option == 'a')
			bench.active = strtol(optarg, NULL, 10);
		else if (option == 'k')
			bench.intervals = strtol(optarg, NULL, 10);
		else if (option == 'p')
			bench.print = optarg;
		else if (option == 'e')
			exporting = true;
		else if (option == 'm')
			bench.max_series = strtol(optarg, NULL, 10);
		else if (option == 'w')
			bench.withdraw = true;
		else if (option == 'b')
			bench.previous = optarg;
		else
			return usage();
	}
	if (bench.active < 0 || bench.active > bench.rows)
		bench.active = bench.rows;
	/* By default every group is a series of its own: the cost of the body's size. */
	if (bench.max_series < 0)
		bench.max_series = bench.rows;
	if (bench.rows < 1 || bench.rows > 1000000 || bench.intervals < 1 ||
	    bench.intervals > MAX_INTERVALS || bench.max_series < 1 ||
	    (bench.print && strcmp(bench.print, exporting ? "prometheus" : "text") &&
	     (exporting || strcmp(bench.print, "json"))) ||
	    (!exporting && (bench.withdraw || bench.previous || bench.max_series != bench.rows)))
		return usage();
	for (int event = 0; event < HMMTRACE_RANGE_EVENTS; event++)
		snprintf(session.range_event_names[event], sizeof(session.range_event_names[0]),
			 "event %d", event);
	maps = create_maps(bench.rows);
	return exporting ? time_scrapes(&bench, &session, &maps) :
			   time_intervals(&bench, &session, &maps);
}
