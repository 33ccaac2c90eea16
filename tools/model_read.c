// SPDX-License-Identifier: GPL-2.0-only
/*
 * One read per interval: every group's counters into the row table (deltas
 * against the last read), the derived fields, names for the rows that were
 * active, the order they are shown in, and what the subcommand adds.
 */
#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "grow.h"
#include "model_read.h"
#include "hmmtrace.skel.h"

#define STORM_INVALIDATIONS_PER_SECOND 1000.0
/* Below this many active rows, naming subscriptions one lookup each is cheaper. */
#define SUBSCRIPTION_LOOKUPS_MAX 256

static const char *const inferred_in_stock_modes[] = {
	"read_retries", "read_begin_waits", "read_begin_wait_ns", "faults_completed",
	"fault_to_mapped", "retries_per_fault", NULL,
};
static const char *const unavailable_in_stock_modes[] = {
	"check_retries", "insert_deferred", "remove_wait", NULL,
};
static const char *const none[] = { NULL };

void model_reader_init(struct model_reader *reader, struct session *session,
		       const struct model_maps *maps, const struct writer *writer)
{
	struct hmmtrace_bpf *skeleton = session->skeleton;

	memset(reader, 0, sizeof(*reader));
	reader->session = session;
	reader->writer = writer;
	if (maps) {
		reader->maps = *maps;
		return;
	}
	reader->maps = (struct model_maps){
		.groups = {
			.hot_group_keys = bpf_map__fd(skeleton->maps.hot_group_keys),
			.hot_group_stats = bpf_map__fd(skeleton->maps.hot_group_stats),
			.stats = bpf_map__fd(skeleton->maps.stats),
			.stats_per_cpu = bpf_map__type(skeleton->maps.stats) ==
					 BPF_MAP_TYPE_PERCPU_HASH,
		},
		.range_latency = bpf_map__fd(skeleton->maps.range_latency),
		.subscriptions = bpf_map__fd(skeleton->maps.subscriptions),
		.invalidators = bpf_map__fd(skeleton->maps.invalidators),
		.faults = bpf_map__fd(skeleton->maps.faults),
		.pending = bpf_map__fd(skeleton->maps.pending),
		.mm_owners = bpf_map__fd(skeleton->maps.mm_owners),
		.stacks = bpf_map__fd(skeleton->maps.stacks),
		.lost = bpf_map__fd(skeleton->maps.lost),
		.causes = bpf_map__fd(skeleton->maps.causes),
		.fault_sizes = bpf_map__fd(skeleton->maps.fault_sizes),
	};
}

void model_reader_free(struct model_reader *reader)
{
	row_table_free(&reader->table);
	free(reader->shown);
	retries_free(&reader->retries);
	export_free(&reader->export);
	causes_free(&reader->causes);
	fault_sizes_free(&reader->fault_sizes);
	reclaim_free(&reader->reclaim);
	reader->shown = NULL;
}

/* Both structures are arrays of __u64; differences wrap as the sums do. */
#define COUNTERS(structure) (sizeof(structure) / sizeof(__u64))

static void subtract(__u64 *result, const __u64 *now, const __u64 *before, size_t count)
{
	for (size_t index = 0; index < count; index++)
		result[index] = now[index] - before[index];
}

static void add(__u64 *sum, const __u64 *part, size_t count)
{
	for (size_t index = 0; index < count; index++)
		sum[index] += part[index];
}

/* The scalar counters, before the histograms. */
#define SCALARS_SIZE offsetof(struct hmmtrace_stats, invalidate_slots)

static int take_group(void *context, __u64 group, const struct hmmtrace_stats *per_cpu, int cpus)
{
	struct model_reader *reader = context;
	struct row *row = row_table_get(&reader->table, group);
	struct hmmtrace_stats stats;

	if (!row)
		return -ENOMEM;
	if (row->read_number == reader->read_number) {
		/* Seen already in this read (in the other map): add to it (never retired, hot). */
		per_cpu_sum((__u64 *)&stats, per_cpu, sizeof(stats), sizeof(stats), cpus);
		add((__u64 *)&row->delta, (const __u64 *)&stats, COUNTERS(stats));
		add((__u64 *)&row->total, (const __u64 *)&stats, COUNTERS(stats));
		return 0;
	}
	row->read_number = reader->read_number;
	/*
	 * Most of 100k subscriptions are idle in an interval. Every histogram
	 * bucket moves with one of the scalar counters, so a row whose scalars
	 * did not move is idle, and its histograms need not be summed.
	 */
	per_cpu_sum((__u64 *)&stats, per_cpu, SCALARS_SIZE, sizeof(stats), cpus);
	/* A group reclaimed before counts on from what its freed entries held. */
	if (row->base)
		add((__u64 *)&stats, (const __u64 *)row->base, SCALARS_SIZE / sizeof(__u64));
	if (!memcmp(&stats, &row->total, SCALARS_SIZE)) {
		memset(&row->delta, 0, SCALARS_SIZE);
		return 0;
	}
	per_cpu_sum((__u64 *)&stats, per_cpu, sizeof(stats), sizeof(stats), cpus);
	if (row->base)
		add((__u64 *)&stats, (const __u64 *)row->base, COUNTERS(stats));
	subtract((__u64 *)&row->delta, (const __u64 *)&stats, (const __u64 *)&row->total,
		 COUNTERS(stats));
	row->total = stats;
	return 0;
}

static bool row_active(const struct row *row)
{
	const struct hmmtrace_stats *delta = &row->delta;

	return delta->inserts || delta->removes || delta->invalidations || delta->read_begins ||
	       delta->range_faults || delta->read_retries || delta->check_retries;
}

/*
 * Go-rounds per completed fault. A fault completes when hmm_range_fault()
 * succeeded and read_retry then found no collision; drivers that do not use
 * hmm_range_fault() complete every read_begin that did not retry. A driver
 * that never completes (the stale-seq livelock) has an infinite ratio.
 */
static double retry_ratio(const struct hmmtrace_stats *stats)
{
	__u64 retries = stats->read_retries + stats->range_fault_ebusy;
	__u64 attempts = stats->read_begins;
	__u64 completed = stats->range_faults ? stats->faults_completed :
			  attempts > stats->read_retries ? attempts - stats->read_retries : 0;

	if (!completed)
		return retries ? INFINITY : 0;
	return (double)retries / completed;
}

static void derive(struct row *row, double seconds)
{
	const struct hmmtrace_stats *delta = &row->delta;
	double invalidations_per_second = seconds > 0 ? delta->invalidations / seconds : 0;

	row->invalidate_p50_ns = histogram_percentile(delta->invalidate_slots,
						      delta->invalidations, 0.5);
	row->invalidate_p99_ns = histogram_percentile(delta->invalidate_slots,
						      delta->invalidations, 0.99);
	row->retry_ratio = retry_ratio(delta);
	row->storm = invalidations_per_second >= STORM_INVALIDATIONS_PER_SECOND ||
		     row->retry_ratio >= 1.0;
}

/*
 * The active rows of this read, in first-seen order; export takes every row
 * seen since start, since a series must not vanish between scrapes.
 */
static int collect_active(struct model_reader *reader, double seconds, struct model *model)
{
	bool every_row = model->subcommand == SUBCOMMAND_EXPORT;

	struct row_table *table = &reader->table;

	if (grow(&reader->shown, &reader->shown_capacity, table->count, sizeof(*reader->shown)))
		return -ENOMEM;
	model->rows = reader->shown;
	model->row_count = 0;
	for (size_t index = 0; index < table->count; index++) {
		struct row *row = table->rows[index];

		if (!every_row && (row->read_number != reader->read_number || !row_active(row)))
			continue;
		derive(row, seconds);
		model->rows[model->row_count++] = row;
	}
	return 0;
}

/*
 * A subscription's row is named from what the BPF side remembered of it,
 * again only when that changed (an address reused by a new subscription,
 * an owner learned late): at 100k rows, formatting names is most of a read.
 */
static void name_subscription_row(struct model_reader *reader, struct row *row,
				  const struct hmmtrace_subscription *info)
{
	struct driver_cache *cache = &reader->driver_cache;

	row->named = reader->read_number;
	if (row->name[0] && !memcmp(&row->named_from, info, sizeof(*info)))
		return;
	row->named_from = *info;
	snprintf(row->name, sizeof(row->name), "pid %u [0x%llx-0x%llx]", info->tgid,
		 (unsigned long long)info->start, (unsigned long long)info->last);
	/* Subscriptions share a handful of callbacks: resolve each once. */
	if (!cache->driver[0] || cache->callback != info->invalidate) {
		cache->callback = info->invalidate;
		kallsyms_driver(reader->session->symbols, info->invalidate, cache->driver,
				sizeof(cache->driver), NULL, 0);
	}
	memcpy(row->driver, cache->driver, sizeof(row->driver));
}

static int name_from_subscription(void *context, const void *key, const void *value)
{
	struct model_reader *reader = context;
	struct row *row = row_table_find(&reader->table, *(const __u64 *)key);

	if (row && row->read_number == reader->read_number && row->named != reader->read_number &&
	    row_active(row))
		name_subscription_row(reader, row, value);
	return 0;
}

/*
 * Subscriptions are named from what the BPF side remembered of them. Many
 * active rows are named in one pass over the whole map, in batches.
 */
static int name_subscription_rows(struct model_reader *reader, struct model *model)
{
	int subscriptions_fd = reader->maps.subscriptions;
	int status = 0;

	if (model->row_count > SUBSCRIPTION_LOOKUPS_MAX) {
		/* (export never groups by subscription) */
		status = map_for_each(subscriptions_fd, false, name_from_subscription, reader);
	} else {
		for (size_t index = 0; index < model->row_count; index++) {
			struct hmmtrace_subscription info;
			struct row *row = model->rows[index];

			if (!bpf_map_lookup_elem(subscriptions_fd, &row->group, &info))
				name_subscription_row(reader, row, &info);
		}
	}
	for (size_t index = 0; index < model->row_count; index++) {
		struct row *row = model->rows[index];

		if (row->named == reader->read_number)
			continue;
		row->named_from = (struct hmmtrace_subscription){};
		snprintf(row->name, sizeof(row->name), "0x%llx", (unsigned long long)row->group);
		snprintf(row->driver, sizeof(row->driver), "?");
	}
	return status;
}

static int name_rows(struct model_reader *reader, struct model *model)
{
	struct session *session = reader->session;

	if (model->grouping == HMMTRACE_BY_SUBSCRIPTION)
		return name_subscription_rows(reader, model);
	for (size_t index = 0; index < model->row_count; index++) {
		struct row *row = model->rows[index];

		if (model->grouping == HMMTRACE_BY_PROCESS) {
			snprintf(row->name, sizeof(row->name), "%llu",
				 (unsigned long long)row->group);
			snprintf(row->driver, sizeof(row->driver), "-");
		} else {
			kallsyms_driver(session->symbols, row->group, row->driver,
					sizeof(row->driver), row->name, sizeof(row->name));
		}
	}
	return 0;
}

static double sort_value(const struct row *row)
{
	const struct hmmtrace_stats *delta = &row->delta;

	switch (options.sort) {
	case SORT_P99:
		return row->invalidate_p99_ns;
	case SORT_WAITS:
		return delta->read_begin_wait_ns;
	case SORT_RETRIES:
		return delta->read_retries + delta->range_fault_ebusy;
	case SORT_RATIO:
		return row->retry_ratio;
	case SORT_EBUSY:
		return delta->range_fault_ebusy;
	case SORT_INSERTS:
		return delta->inserts;
	case SORT_REMOVES:
		return delta->removes;
	default:
		return delta->invalidations;
	}
}

static int by_name(const void *left, const void *right)
{
	const struct row *a = *(const struct row *const *)left;
	const struct row *b = *(const struct row *const *)right;

	return strcmp(a->name, b->name);
}

/* Largest first; ties by group, which is cheaper than by name and as stable. */
static int by_sort_value(const void *left, const void *right)
{
	const struct row *a = *(const struct row *const *)left;
	const struct row *b = *(const struct row *const *)right;

	if (a->sort_value != b->sort_value)
		return a->sort_value < b->sort_value ? 1 : -1;
	return a->group < b->group ? -1 : a->group > b->group;
}

static void sort_rows(struct model *model)
{
	if (options.sort == SORT_GROUP) {
		sort_items(model->rows, model->row_count, sizeof(*model->rows), by_name);
		return;
	}
	for (size_t index = 0; index < model->row_count; index++)
		model->rows[index]->sort_value = sort_value(model->rows[index]);
	sort_items(model->rows, model->row_count, sizeof(*model->rows), by_sort_value);
}

static int read_rows(struct model_reader *reader, double seconds, struct model *model)
{
	int status;

	reader->read_number++;
	status = reclaim_groups_before_read(reader);
	if (!status)
		status = group_maps_read(&reader->maps.groups, take_group, reader);
	if (!status)
		status = reclaim_groups_after_read(reader);
	if (!status && model->subcommand == SUBCOMMAND_EXPORT)
		export_refresh_symbols(reader);
	if (!status)
		status = collect_active(reader, seconds, model);
	if (!status)
		status = name_rows(reader, model);
	if (model->subcommand == SUBCOMMAND_TOP)
		sort_rows(model);
	return status;
}

struct range_walk {
	struct model_reader *reader;
	struct model *model;
	int cpus;
};

static int take_range_event(void *context, const void *key, const void *value)
{
	struct range_walk *walk = context;
	__u32 event = *(const __u32 *)key;
	struct hmmtrace_histogram total, *before;
	struct range_latency *range;

	if (event >= HMMTRACE_RANGE_EVENTS)
		return 0;
	before = &walk->reader->range_totals[event];
	range = &walk->model->ranges[walk->model->range_count];
	per_cpu_sum((__u64 *)&total, value, sizeof(total), sizeof(total), walk->cpus);
	if (walk->model->subcommand == SUBCOMMAND_EXPORT)
		range->histogram = total;
	else
		subtract((__u64 *)&range->histogram, (const __u64 *)&total, (const __u64 *)before,
			 COUNTERS(total));
	*before = total;
	if (range->histogram.count) {
		range->event = walk->reader->session->range_event_names[event];
		walk->model->range_count++;
	}
	return 0;
}

/* Range start -> end histograms, one per enum mmu_notifier_event. */
static int read_ranges(struct model_reader *reader, struct model *model)
{
	struct range_walk walk = { reader, model, libbpf_num_possible_cpus() };

	return map_for_each(reader->maps.range_latency, true, take_range_event, &walk);
}

static void fill_envelope(struct model_reader *reader, double seconds, struct model *model)
{
	static const struct row_view *const views[] = {
		[SUBCOMMAND_TOP] = &top_row_view, [SUBCOMMAND_LATENCY] = &latency_row_view,
		[SUBCOMMAND_RETRIES] = &retries_row_view, [SUBCOMMAND_SNOOP] = NULL,
		[SUBCOMMAND_EXPORT] = NULL, [SUBCOMMAND_CAUSES] = NULL,
	};
	bool everything = mode_observes_everything(reader->session->mode);

	memset(model, 0, sizeof(*model));
	model->time = time(NULL);
	model->subcommand = options.subcommand;
	model->mode = reader->session->mode;
	model->fault_store = reader->session->fault_store;
	model->grouping = options.grouping;
	model->interval_seconds = seconds;
	model->inferred = everything ? none : inferred_in_stock_modes;
	model->unavailable = everything ? none : unavailable_in_stock_modes;
	model->hooks = reader->session->hooks;
	model->hook_count = reader->session->hook_count;
	model->show_every_hook = options.verbose;
	model->view = views[options.subcommand];
	model->export.read_started = monotonic_seconds();
	model->export.may_be_inferred = inferred_in_stock_modes;
	model->export.may_be_unavailable = unavailable_in_stock_modes;
}

/* KIND's count since attach is TOTAL: the interval's is what it added. */
static void note_lost_total(struct model_reader *reader, enum hmmtrace_lost kind, __u64 total)
{
	reader->model->lost[kind] = total - reader->lost_totals[kind];
	reader->model->lost_total[kind] = total;
	reader->lost_totals[kind] = total;
}

static int take_lost(void *context, const void *key, const void *value)
{
	struct model_reader *reader = context;
	__u32 kind = *(const __u32 *)key;
	int cpus = libbpf_num_possible_cpus();
	__u64 total;

	/* Recursion is user space's to count (take_recursion_misses()), not the map's. */
	if (kind >= HMMTRACE_LOST_KINDS || kind == HMMTRACE_LOST_RECURSION)
		return 0;
	per_cpu_sum(&total, value, sizeof(total), sizeof(total), cpus);
	note_lost_total(reader, kind, total);
	return 0;
}

/*
 * The kernel's own loss, which no map sees: a program's runs skipped
 * because it (a kprobe: any kprobe program) was already running on that
 * CPU, preempted or interrupted (bpf_prog_info's recursion_misses). A
 * program whose info cannot be read leaves the last total as it was, so
 * that the count never goes back.
 */
static void take_recursion_misses(struct model_reader *reader)
{
	__u64 total = reader->lost_totals[HMMTRACE_LOST_RECURSION], sum = 0;
	struct bpf_program *program;

	if (reader->session->skeleton) {
		bpf_object__for_each_program(program, reader->session->skeleton->obj) {
			struct bpf_prog_info info = {};
			__u32 length = sizeof(info);
			int fd = bpf_program__fd(program);

			if (fd < 0)
				continue;
			if (bpf_obj_get_info_by_fd(fd, &info, &length)) {
				sum = total;
				break;
			}
			sum += info.recursion_misses;
		}
		total = sum;
	}
	note_lost_total(reader, HMMTRACE_LOST_RECURSION, total);
}

int model_read(struct model_reader *reader, double seconds, struct model *model)
{
	int status;

	fill_envelope(reader, seconds, model);
	reader->model = model;
	status = map_for_each(reader->maps.lost, true, take_lost, reader);
	take_recursion_misses(reader);
	if (!status)
		status = reclaim_sweep(reader);
	if (status)
		return status;
	if (model->subcommand == SUBCOMMAND_SNOOP) {
		snoop_read(reader, model);
		return 0;
	}
	if (model->subcommand == SUBCOMMAND_CAUSES)
		return causes_read(reader, seconds, model);
	status = read_rows(reader, seconds, model);
	if (!status && (model->subcommand == SUBCOMMAND_LATENCY ||
			model->subcommand == SUBCOMMAND_EXPORT))
		status = read_ranges(reader, model);
	if (!status && model->subcommand == SUBCOMMAND_LATENCY)
		status = fault_sizes_read(reader, model);
	if (!status && model->subcommand == SUBCOMMAND_EXPORT)
		status = export_read(reader, model);
	if (!status && model->subcommand == SUBCOMMAND_EXPORT)
		status = causes_read(reader, seconds, model);
	if (!status && model->subcommand == SUBCOMMAND_RETRIES)
		status = retries_read(reader, &model->retries);
	return status;
}
