// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reading the aggregation maps into a table of per-interval deltas, naming
 * rows, and the log2 histogram helpers every subcommand prints with.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "session.h"
#include "hmmtrace.skel.h"

static struct row *find_row(struct table *table, __u64 group)
{
	for (size_t index = 0; index < table->count; index++)
		if (table->rows[index].group == group)
			return &table->rows[index];
	if (table->count == table->capacity) {
		size_t capacity = table->capacity ? 2 * table->capacity : 64;
		struct row *rows = realloc(table->rows, capacity * sizeof(*rows));

		if (!rows)
			return NULL;
		table->rows = rows;
		table->capacity = capacity;
	}
	memset(&table->rows[table->count], 0, sizeof(table->rows[0]));
	table->rows[table->count].group = group;
	return &table->rows[table->count++];
}

/*
 * Both structures are arrays of __u64. Sums wrap: a completion withdrawn on
 * another CPU leaves one CPU's slot "negative", and the total is still right.
 */
static void add_counters(__u64 *sum, const __u64 *part, size_t count)
{
	for (size_t index = 0; index < count; index++)
		sum[index] += part[index];
}

static void subtract_counters(__u64 *result, const __u64 *now, const __u64 *before, size_t count)
{
	for (size_t index = 0; index < count; index++)
		result[index] = now[index] - before[index];
}

#define COUNTERS(structure) (sizeof(structure) / sizeof(__u64))

/* A group's per-CPU values, summed into its row's reading. */
static int add_reading(struct table *table, __u64 group, const struct hmmtrace_stats *per_cpu,
		       int cpus)
{
	struct row *row = find_row(table, group);

	if (!row)
		return -ENOMEM;
	for (int cpu = 0; cpu < cpus; cpu++)
		add_counters((__u64 *)&row->reading, (const __u64 *)&per_cpu[cpu],
			     COUNTERS(row->reading));
	return 0;
}

/* The groups in hot array slots (see hot_group_keys in bpf/hmmtrace.bpf.c). */
static int read_hot_groups(struct hmmtrace_bpf *skeleton, struct table *table,
			   struct hmmtrace_stats *per_cpu, int cpus)
{
	int keys_fd = bpf_map__fd(skeleton->maps.hot_group_keys);
	int stats_fd = bpf_map__fd(skeleton->maps.hot_group_stats);
	int status = 0;

	for (__u32 slot = 0; slot < HMMTRACE_HOT_GROUPS && !status; slot++) {
		__u64 group;

		if (bpf_map_lookup_elem(keys_fd, &slot, &group) || !group ||
		    bpf_map_lookup_elem(stats_fd, &slot, per_cpu))
			continue;
		status = add_reading(table, group, per_cpu, cpus);
	}
	return status;
}

static int read_hashed_groups(int map_fd, struct table *table, struct hmmtrace_stats *per_cpu,
			      int cpus)
{
	__u64 key, next_key, *previous = NULL;
	int status = 0;

	while (!status && !bpf_map_get_next_key(map_fd, previous, &next_key)) {
		key = next_key;
		previous = &key;
		if (!bpf_map_lookup_elem(map_fd, &key, per_cpu))
			status = add_reading(table, key, per_cpu, cpus);
	}
	return status;
}

/* Every group's cumulative totals, and what the interval added to them. */
static int read_groups(struct hmmtrace_bpf *skeleton, struct table *table, int cpus)
{
	struct hmmtrace_stats *per_cpu = calloc(cpus, sizeof(*per_cpu));
	int status;

	if (!per_cpu)
		return -ENOMEM;
	for (size_t index = 0; index < table->count; index++)
		memset(&table->rows[index].reading, 0, sizeof(table->rows[index].reading));
	status = read_hot_groups(skeleton, table, per_cpu, cpus);
	if (!status)
		status = read_hashed_groups(bpf_map__fd(skeleton->maps.stats), table, per_cpu, cpus);
	/* Groups are never removed from either map: every row was read again. */
	for (size_t index = 0; !status && index < table->count; index++) {
		struct row *row = &table->rows[index];

		subtract_counters((__u64 *)&row->delta, (__u64 *)&row->reading, (__u64 *)&row->total,
				  COUNTERS(row->total));
		row->total = row->reading;
	}
	free(per_cpu);
	return status;
}

static int read_range_latency(int map_fd, struct table *table, int cpus)
{
	struct hmmtrace_histogram *per_cpu = calloc(cpus, sizeof(*per_cpu));

	if (!per_cpu)
		return -ENOMEM;
	for (__u32 event = 0; event < HMMTRACE_RANGE_EVENTS; event++) {
		struct hmmtrace_histogram total = {};

		if (bpf_map_lookup_elem(map_fd, &event, per_cpu))
			continue;
		for (int cpu = 0; cpu < cpus; cpu++)
			add_counters((__u64 *)&total, (__u64 *)&per_cpu[cpu], COUNTERS(total));
		subtract_counters((__u64 *)&table->range_delta[event], (__u64 *)&total,
				  (__u64 *)&table->range_total[event], COUNTERS(total));
		table->range_total[event] = total;
	}
	free(per_cpu);
	return 0;
}

int table_read(struct session *session)
{
	int cpus = libbpf_num_possible_cpus();
	int status = read_groups(session->skeleton, &session->table, cpus);

	if (!status)
		status = read_range_latency(bpf_map__fd(session->skeleton->maps.range_latency),
					    &session->table, cpus);
	return status;
}

static bool row_active(const struct row *row)
{
	const struct hmmtrace_stats *delta = &row->delta;

	return delta->inserts || delta->removes || delta->invalidations || delta->read_begins ||
	       delta->range_faults || delta->read_retries || delta->check_retries;
}

static void row_name(struct session *session, struct row *row)
{
	struct hmmtrace_subscription info;
	__u64 callback = row->group;
	int subscriptions_fd = bpf_map__fd(session->skeleton->maps.subscriptions);

	if (options.grouping == HMMTRACE_BY_PROCESS) {
		snprintf(row->name, sizeof(row->name), "%llu", (unsigned long long)row->group);
		snprintf(row->driver, sizeof(row->driver), "-");
		return;
	}
	if (options.grouping == HMMTRACE_BY_SUBSCRIPTION) {
		if (bpf_map_lookup_elem(subscriptions_fd, &row->group, &info)) {
			snprintf(row->name, sizeof(row->name), "0x%llx", (unsigned long long)row->group);
			snprintf(row->driver, sizeof(row->driver), "?");
			return;
		}
		callback = info.invalidate;
		snprintf(row->name, sizeof(row->name), "pid %u [0x%llx-0x%llx]", info.tgid,
			 (unsigned long long)info.start, (unsigned long long)info.last);
	}
	kallsyms_driver(session->symbols, callback, row->driver, sizeof(row->driver),
			options.grouping == HMMTRACE_BY_DRIVER ? row->name : NULL, sizeof(row->name));
}

/* Whether a row had activity in the interval and passes --driver; names it. */
bool row_shown(struct session *session, struct row *row)
{
	if (!row_active(row))
		return false;
	row_name(session, row);
	return !options.driver || !strcmp(options.driver, row->driver);
}

__u64 slots_total(const __u64 *slots)
{
	__u64 total = 0;

	for (int slot = 0; slot < HMMTRACE_SLOTS; slot++)
		total += slots[slot];
	return total;
}

/* The upper bound of the log2 bucket below which FRACTION of the values fall. */
__u64 histogram_percentile(const __u64 *slots, __u64 total, double fraction)
{
	__u64 seen = 0, wanted = (__u64)ceil(total * fraction);

	if (!total)
		return 0;
	for (int slot = 0; slot < HMMTRACE_SLOTS; slot++) {
		seen += slots[slot];
		if (seen >= wanted && seen)
			return slot ? (1ULL << slot) - 1 : 0;
	}
	return (1ULL << (HMMTRACE_SLOTS - 1)) - 1;
}

/* bcc's print_log2_hist layout. */
void histogram_print(const char *title, const char *unit, const __u64 *slots)
{
	int first = -1, last = -1;
	__u64 largest = 0;

	for (int slot = 0; slot < HMMTRACE_SLOTS; slot++)
		if (slots[slot]) {
			if (first < 0)
				first = slot;
			last = slot;
			if (slots[slot] > largest)
				largest = slots[slot];
		}
	printf("\n%s\n", title);
	if (first < 0) {
		printf("     (none)\n");
		return;
	}
	printf("%24s : %-10s |%-40s|\n", unit, "count", "distribution");
	for (int slot = first; slot <= last; slot++) {
		unsigned long long low = slot ? 1ULL << (slot - 1) : 0;
		unsigned long long high = slot ? (1ULL << slot) - 1 : 0;
		int stars = (int)(slots[slot] * 40 / largest);
		char bar[41];

		memset(bar, '*', stars);
		bar[stars] = '\0';
		printf("%11llu -> %-10llu : %-10llu |%-40s|\n", low, high,
		       (unsigned long long)slots[slot], bar);
	}
}

/* [[low, high, count], ...] for the non-empty buckets. */
void histogram_print_json(const __u64 *slots)
{
	bool first = true;

	printf("[");
	for (int slot = 0; slot < HMMTRACE_SLOTS; slot++) {
		if (!slots[slot])
			continue;
		printf("%s[%llu, %llu, %llu]", first ? "" : ", ",
		       slot ? 1ULL << (slot - 1) : 0ULL, slot ? (1ULL << slot) - 1 : 0ULL,
		       (unsigned long long)slots[slot]);
		first = false;
	}
	printf("]");
}

/*
 * Go-rounds per completed fault. A fault completes when hmm_range_fault()
 * succeeded and read_retry then found no collision; drivers that do not use
 * hmm_range_fault() complete every read_begin that did not retry. A driver
 * that never completes (the stale-seq livelock) has an infinite ratio.
 */
double retry_ratio(const struct hmmtrace_stats *stats)
{
	__u64 retries = stats->read_retries + stats->range_fault_ebusy;
	__u64 attempts = stats->read_begins;
	__u64 completed = stats->range_faults ? stats->faults_completed :
			  attempts > stats->read_retries ? attempts - stats->read_retries : 0;

	if (!completed)
		return retries ? INFINITY : 0;
	return (double)retries / completed;
}

void print_json_string(const char *text)
{
	putchar('"');
	for (; *text; text++) {
		if (*text == '"' || *text == '\\')
			printf("\\%c", *text);
		else if ((unsigned char)*text < 0x20)
			printf("\\u%04x", *text);
		else
			putchar(*text);
	}
	putchar('"');
}
