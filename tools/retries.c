// SPDX-License-Identifier: GPL-2.0-only
/*
 * hmmtrace retries: what the model adds for it. Retry streaks and livelocks
 * come from the `reports` ring buffer: a livelock is written the moment it
 * arrives, with its stacks symbolized; streaks are kept for the interval's
 * "longest" list. The (task, subscription) pairs, and the streaks that never
 * completed, come from the faults map at each read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "grow.h"
#include "model_read.h"

static bool same_streak(const struct streak *a, const struct streak *b)
{
	return a->tid == b->tid && a->subscription == b->subscription &&
	       a->started_ns == b->started_ns;
}

static int by_duration(const void *left, const void *right)
{
	const struct streak *a = left, *b = right;

	return a->duration_ns < b->duration_ns ? 1 : a->duration_ns > b->duration_ns ? -1 : 0;
}

/*
 * A completion that a collision withdraws is reported again when the fault
 * completes later, with more retries: keep the latest state of each streak,
 * and of the longest ones only when the store is full.
 */
static void remember_streak(struct retries_state *state, const struct streak *streak)
{
	for (size_t index = 0; index < state->streak_count; index++)
		if (same_streak(&state->streaks[index], streak)) {
			state->streaks[index] = *streak;
			return;
		}
	if (state->streak_count == sizeof(state->streaks) / sizeof(state->streaks[0])) {
		sort_items(state->streaks, state->streak_count, sizeof(state->streaks[0]),
			   by_duration);
		state->streak_count = STREAKS_KEPT;
	}
	state->streaks[state->streak_count++] = *streak;
}

static struct streak streak_of_report(const struct hmmtrace_report *report)
{
	struct streak streak = {
		.tid = report->tid, .tgid = report->tgid, .retries = report->retries,
		.completed = true, .subscription = report->interval_sub,
		.callback = report->callback, .start = report->start, .last = report->last,
		.started_ns = report->started_ns, .duration_ns = report->duration_ns,
	};

	memcpy(streak.comm, report->comm, sizeof(streak.comm));
	return streak;
}

/* "path+0xoffset" for a user address, from /proc/PID/maps. */
static void describe_user_address(__u32 tgid, __u64 address, char *text, size_t size)
{
	char path[64], line[512];
	FILE *maps;

	snprintf(text, size, "0x%llx", (unsigned long long)address);
	snprintf(path, sizeof(path), "/proc/%u/maps", tgid);
	maps = fopen(path, "r");
	if (!maps)
		return;
	while (fgets(line, sizeof(line), maps)) {
		unsigned long long low, high, offset;
		char file[256] = "";

		if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %255s", &low, &high, &offset, file) < 3)
			continue;
		if (address >= low && address < high) {
			if (file[0])
				snprintf(text, size, "%s+0x%llx", file, address - low + offset);
			break;
		}
	}
	fclose(maps);
}

struct symbolized_stack {
	char frames[HMMTRACE_STACK_DEPTH][320];
	const char *pointers[HMMTRACE_STACK_DEPTH];
	size_t depth;
};

/* The stack from the traced code down (see kallsyms_first_traced_frame()). */
static void symbolize_kernel_stack(const struct kallsyms *symbols, const __u64 *addresses,
				   int count, struct symbolized_stack *stack)
{
	stack->depth = 0;
	for (int index = kallsyms_first_traced_frame(symbols, addresses, count);
	     index < count && addresses[index]; index++) {
		kallsyms_describe(symbols, addresses[index], stack->frames[stack->depth],
				  sizeof(stack->frames[0]));
		stack->pointers[stack->depth] = stack->frames[stack->depth];
		stack->depth++;
	}
}

static void symbolize_user_stack(const struct hmmtrace_report *report,
				 struct symbolized_stack *stack)
{
	int count = report->user_stack_bytes > 0 ? report->user_stack_bytes / 8 : 0;

	stack->depth = 0;
	for (int index = 0; index < count && report->user_stack[index]; index++) {
		describe_user_address(report->tgid, report->user_stack[index],
				      stack->frames[stack->depth], sizeof(stack->frames[0]));
		stack->pointers[stack->depth] = stack->frames[stack->depth];
		stack->depth++;
	}
}

static int invalidator_addresses(struct model_reader *reader,
				 const struct hmmtrace_report *report, __u64 *addresses)
{
	__u32 stack_id = report->invalidator.stack_id;

	if (report->invalidator.stack_id < 0 ||
	    bpf_map_lookup_elem(reader->maps.stacks, &stack_id, addresses))
		return 0;
	return HMMTRACE_STACK_DEPTH;
}

/* The livelock counts in its group's row, which export serves. */
static void count_livelock(struct model_reader *reader, const struct hmmtrace_report *report)
{
	__u64 group = options.grouping == HMMTRACE_BY_PROCESS ? report->tgid :
		      options.grouping == HMMTRACE_BY_SUBSCRIPTION ? report->interval_sub :
		      report->callback;
	struct row *row = row_table_get(&reader->table, group);

	reader->retries.livelocks++;
	if (row)
		row->livelocks++;
}

static void write_livelock(struct model_reader *reader, const struct hmmtrace_report *report)
{
	static struct symbolized_stack kernel, user, invalidator;
	struct session *session = reader->session;
	__u64 addresses[HMMTRACE_STACK_DEPTH] = {};
	char driver[64], callback[160];
	struct livelock livelock = {
		.time = time(NULL), .report = report, .mode = session->mode, .driver = driver,
		.callback = callback,
	};

	count_livelock(reader, report);
	/* export counts them; it has no stacks to show. */
	if (!reader->writer || !reader->writer->livelock)
		return;
	kallsyms_driver(session->symbols, report->callback, driver, sizeof(driver), callback,
			sizeof(callback));
	symbolize_kernel_stack(session->symbols, report->kernel_stack,
			       report->kernel_stack_bytes > 0 ? report->kernel_stack_bytes / 8 : 0,
			       &kernel);
	symbolize_user_stack(report, &user);
	livelock.kernel_stack = kernel.pointers;
	livelock.kernel_depth = kernel.depth;
	livelock.user_stack = user.pointers;
	livelock.user_depth = user.depth;
	if (report->invalidator.tid) {
		symbolize_kernel_stack(session->symbols, addresses,
				       invalidator_addresses(reader, report, addresses),
				       &invalidator);
		livelock.invalidator_stack = invalidator.pointers;
		livelock.invalidator_depth = invalidator.depth;
	}
	reader->writer->livelock(&livelock);
}

int retries_handle_report(void *context, void *record, size_t size)
{
	struct model_reader *reader = context;
	const struct hmmtrace_report *report = record;
	struct streak streak;

	if (size < sizeof(*report))
		return 0;
	if (report->kind == HMMTRACE_REPORT_LIVELOCK) {
		write_livelock(reader, report);
		return 0;
	}
	streak = streak_of_report(report);
	remember_streak(&reader->retries, &streak);
	return 0;
}

/* One entry of the faults map: a (task, subscription) pair, as much as user space reads. */
struct fault_entry {
	struct hmmtrace_fault_key key;
	struct hmmtrace_fault_summary fault;
};

struct fault_list {
	struct fault_entry *entries;
	size_t count;
	size_t capacity;
};

static int take_fault(void *context, const void *key, const void *value)
{
	struct fault_list *list = context;
	const struct hmmtrace_fault_summary *fault = value;

	if (!fault->total_retries)
		return 0;
	if (grow(&list->entries, &list->capacity, list->count + 1, sizeof(*list->entries)))
		return -ENOMEM;
	memcpy(&list->entries[list->count].key, key, sizeof(struct hmmtrace_fault_key));
	list->entries[list->count].fault = *fault;
	list->count++;
	return 0;
}

static int by_total_retries(const void *left, const void *right)
{
	const struct fault_entry *a = left, *b = right;

	return a->fault.total_retries < b->fault.total_retries ? 1 :
	       a->fault.total_retries > b->fault.total_retries ? -1 : 0;
}

/* The subscription's range and driver, as the BPF side remembered them. */
static bool describe_subscription(struct model_reader *reader, __u64 subscription,
				  struct hmmtrace_subscription *info, char *range, size_t size,
				  char *driver, size_t driver_size)
{
	if (bpf_map_lookup_elem(reader->maps.subscriptions, &subscription, info)) {
		snprintf(range, size, "sub 0x%llx", (unsigned long long)subscription);
		snprintf(driver, driver_size, "?");
		return false;
	}
	snprintf(range, size, "0x%llx-0x%llx", (unsigned long long)info->start,
		 (unsigned long long)info->last);
	kallsyms_driver(reader->session->symbols, info->invalidate, driver, driver_size, NULL, 0);
	return true;
}

static int list_pairs(struct model_reader *reader, const struct fault_list *faults)
{
	struct retries_state *state = &reader->retries;
	struct retry_pair *pairs;

	if (grow(&state->pairs, &state->pair_capacity, options.top_rows, sizeof(*pairs)))
		return -ENOMEM;
	pairs = state->pairs;
	state->pair_count = 0;
	for (size_t index = 0; index < faults->count && state->pair_count < options.top_rows;
	     index++) {
		const struct fault_entry *entry = &faults->entries[index];
		struct retry_pair *pair = &pairs[state->pair_count];
		struct hmmtrace_subscription info;

		describe_subscription(reader, entry->key.interval_sub, &info, pair->range,
				      sizeof(pair->range), pair->driver, sizeof(pair->driver));
		pair->tid = entry->key.tid;
		pair->tgid = entry->fault.tgid;
		pair->retries = entry->fault.total_retries;
		memcpy(pair->comm, entry->fault.comm, sizeof(pair->comm));
		state->pair_count++;
	}
	return 0;
}

struct livelocked_walk {
	struct model_reader *reader;
	__u64 now_ns;
};

/*
 * A fault the BPF side reported as a livelock, unfinished, that went round
 * within the last second: one abandoned at the driver's timeout is no
 * longer livelocked, though its entry stays.
 */
static int count_livelocked_fault(void *context, const void *key, const void *value)
{
	struct livelocked_walk *walk = context;
	const struct hmmtrace_fault_key *fault_key = key;
	const struct hmmtrace_fault_summary *fault = value;
	struct hmmtrace_subscription info;
	struct row *row;

	/* (A retry after the clock was read is recent: signed.) */
	if (!fault->livelocked || fault->completed ||
	    (__s64)(walk->now_ns - fault->last_retry_ns) > 1000000000LL)
		return 0;
	if (bpf_map_lookup_elem(walk->reader->maps.subscriptions, &fault_key->interval_sub, &info))
		return 0;
	row = row_table_find(&walk->reader->table, export_group_of_subscription(&info));
	if (row)
		row->livelocked_faults++;
	return 0;
}

int retries_count_livelocked(struct model_reader *reader)
{
	struct livelocked_walk walk = { .reader = reader, .now_ns = monotonic_nanoseconds() };

	return map_for_each(reader->maps.faults, false, count_livelocked_fault, &walk);
}

/* A streak that never completed: still retrying, or abandoned at the driver's timeout. */
static bool unfinished_streak(struct model_reader *reader, const struct fault_entry *entry,
			      struct streak *streak)
{
	const struct hmmtrace_fault_summary *fault = &entry->fault;
	struct hmmtrace_subscription info;

	if (fault->completed || !fault->retries)
		return false;
	*streak = (struct streak){
		.tid = entry->key.tid, .tgid = fault->tgid, .retries = fault->retries,
		.subscription = entry->key.interval_sub, .started_ns = fault->started_ns,
		.duration_ns = fault->last_retry_ns - fault->started_ns,
	};
	if (!bpf_map_lookup_elem(reader->maps.subscriptions, &streak->subscription, &info)) {
		streak->start = info.start;
		streak->last = info.last;
		streak->callback = info.invalidate;
	}
	memcpy(streak->comm, fault->comm, sizeof(streak->comm));
	return true;
}

/* The reported streaks with the unfinished ones, longest first, as many as --top asks. */
static int list_longest(struct model_reader *reader, const struct fault_list *faults)
{
	struct retries_state *state = &reader->retries;
	size_t count = state->streak_count;
	struct streak *longest;
	char (*drivers)[64];

	if (grow(&state->longest, &state->longest_capacity, count + faults->count + 1,
		 sizeof(*longest)) ||
	    grow(&state->longest_drivers, &state->drivers_capacity, options.top_rows,
		 sizeof(*drivers)))
		return -ENOMEM;
	longest = state->longest;
	drivers = state->longest_drivers;
	/* No streak ended yet: no array either, and memcpy's must not be NULL. */
	if (count)
		memcpy(longest, state->streaks, count * sizeof(*longest));
	for (size_t index = 0; index < faults->count; index++) {
		struct streak streak;
		size_t same = 0;

		if (!unfinished_streak(reader, &faults->entries[index], &streak))
			continue;
		while (same < count && !same_streak(&longest[same], &streak))
			same++;
		longest[same] = streak;
		count += same == count;
	}
	sort_items(longest, count, sizeof(*longest), by_duration);
	state->longest_count = 0;
	for (size_t index = 0; index < count && state->longest_count < options.top_rows; index++) {
		char *driver = drivers[state->longest_count];

		kallsyms_driver(reader->session->symbols, longest[index].callback, driver, 64, NULL, 0);
		longest[state->longest_count++] = longest[index];
	}
	return 0;
}

int retries_read(struct model_reader *reader, struct retries_part *part)
{
	struct retries_state *state = &reader->retries;
	struct fault_list faults = {};
	int status;

	status = map_for_each(reader->maps.faults, false, take_fault, &faults);
	if (!status) {
		sort_items(faults.entries, faults.count, sizeof(*faults.entries), by_total_retries);
		status = list_pairs(reader, &faults);
	}
	if (!status)
		status = list_longest(reader, &faults);
	free(faults.entries);
	part->livelocks = state->livelocks;
	part->pairs = state->pairs;
	part->pair_count = status ? 0 : state->pair_count;
	part->streaks = state->longest;
	part->streak_drivers = state->longest_drivers;
	part->streak_count = status ? 0 : state->longest_count;
	return status;
}

void retries_free(struct retries_state *state)
{
	free(state->pairs);
	free(state->longest);
	free(state->longest_drivers);
	state->pairs = NULL;
	state->longest = NULL;
	state->longest_drivers = NULL;
}
