// SPDX-License-Identifier: GPL-2.0-only
/*
 * hmmtrace retries: how many times faults go round, which (task, range)
 * pairs retry most, the longest retry streaks, and livelocks: a fault still
 * retrying past the threshold is reported the moment the BPF side sees it,
 * with the retrying task's stacks and the range's last invalidator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "session.h"
#include "hmmtrace.skel.h"

#define STREAKS_KEPT 64

static struct hmmtrace_report streaks[2 * STREAKS_KEPT];
static size_t streak_count;
static unsigned long livelocks;

static int by_duration(const void *left, const void *right)
{
	const struct hmmtrace_report *a = left, *b = right;

	return a->duration_ns < b->duration_ns ? 1 : a->duration_ns > b->duration_ns ? -1 : 0;
}

/* A streak is reported again each time it grows; keep its latest state. */
static void remember_streak(const struct hmmtrace_report *report)
{
	for (size_t index = 0; index < streak_count; index++)
		if (streaks[index].tid == report->tid &&
		    streaks[index].interval_sub == report->interval_sub &&
		    streaks[index].started_ns == report->started_ns) {
			streaks[index] = *report;
			return;
		}
	if (streak_count == sizeof(streaks) / sizeof(streaks[0])) {
		qsort(streaks, streak_count, sizeof(streaks[0]), by_duration);
		streak_count = STREAKS_KEPT;
	}
	streaks[streak_count++] = *report;
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

/* Frames of the tracing machinery that ran hmmtrace's program, not of the traced task. */
static bool tracing_frame(struct session *session, __u64 address)
{
	static const char *const prefixes[] = {
		"__traceiter_", "bpf_trace_run", "__bpf_prog_enter", "__bpf_prog_exit",
		"__bpf_tramp_", "bpf_get_stack", "kprobe_", "rethook_", "arch_rethook_",
		"__kretprobe_", "kretprobe_",
	};
	char text[256];

	if (kallsyms_is_bpf(session->symbols, address))
		return true;
	kallsyms_describe(session->symbols, address, text, sizeof(text));
	for (size_t index = 0; index < sizeof(prefixes) / sizeof(prefixes[0]); index++)
		if (!strncmp(text, prefixes[index], strlen(prefixes[index])))
			return true;
	return false;
}

/*
 * The stack from the traced code down. Everything above the last frame of
 * the tracing machinery is hmmtrace's own, often unwound unreliably.
 */
static void print_kernel_stack(struct session *session, const __u64 *addresses, int count,
			       const char *indent)
{
	bool first = true;
	int begin = 0;
	char text[256];

	for (int index = 0; index < count && addresses[index]; index++)
		if (tracing_frame(session, addresses[index]))
			begin = index + 1;
	for (int index = begin; index < count && addresses[index]; index++) {
		kallsyms_describe(session->symbols, addresses[index], text, sizeof(text));
		if (options.json) {
			printf("%s", first ? "" : ", ");
			first = false;
			print_json_string(text);
		} else {
			printf("%s%s\n", indent, text);
		}
	}
}

static void print_user_stack(const struct hmmtrace_report *report)
{
	int count = report->user_stack_bytes > 0 ? report->user_stack_bytes / 8 : 0;
	char text[320];

	for (int index = 0; index < count && report->user_stack[index]; index++) {
		describe_user_address(report->tgid, report->user_stack[index], text, sizeof(text));
		if (options.json) {
			printf("%s", index ? ", " : "");
			print_json_string(text);
		} else {
			printf("      %s\n", text);
		}
	}
	if (!count && !options.json)
		printf("      (none: the retrying task is a kernel thread)\n");
}

static int invalidator_stack(struct session *session, const struct hmmtrace_report *report,
			     __u64 *addresses)
{
	__u32 stack_id = report->invalidator.stack_id;

	if (report->invalidator.stack_id < 0 ||
	    bpf_map_lookup_elem(bpf_map__fd(session->skeleton->maps.stacks), &stack_id, addresses))
		return 0;
	return HMMTRACE_STACK_DEPTH;
}

static void print_livelock(struct session *session, const struct hmmtrace_report *report)
{
	const struct hmmtrace_invalidator *invalidator = &report->invalidator;
	__u64 invalidator_addresses[HMMTRACE_STACK_DEPTH] = {};
	int invalidator_depth = invalidator_stack(session, report, invalidator_addresses);
	int kernel_depth = report->kernel_stack_bytes > 0 ? report->kernel_stack_bytes / 8 : 0;
	char driver[64], callback[160];

	kallsyms_driver(session->symbols, report->callback, driver, sizeof(driver), callback,
			sizeof(callback));
	if (options.driver && strcmp(options.driver, driver))
		return;
	livelocks++;
	if (options.json) {
		printf("{\"time\": %lld, \"subcommand\": \"retries\", \"mode\": \"%s\", "
		       "\"livelock\": {\"pid\": %u, \"tid\": %u, \"comm\": ", (long long)time(NULL),
		       mode_names[session->mode], report->tgid, report->tid);
		print_json_string(report->comm);
		printf(", \"driver\": ");
		print_json_string(driver);
		printf(", \"callback\": ");
		print_json_string(callback);
		printf(", \"range\": \"0x%llx-0x%llx\", \"retries\": %u, \"duration_ns\": %llu, "
		       "\"kernel_stack\": [", (unsigned long long)report->start,
		       (unsigned long long)report->last, report->retries,
		       (unsigned long long)report->duration_ns);
		print_kernel_stack(session, report->kernel_stack, kernel_depth, "");
		printf("], \"user_stack\": [");
		print_user_stack(report);
		printf("], \"began_before_attach\": %s, \"invalidator\": ",
		       report->began_unseen ? "true" : "false");
		if (invalidator->tid) {
			printf("{\"pid\": %u, \"tid\": %u, \"comm\": ", invalidator->tgid,
			       invalidator->tid);
			print_json_string(invalidator->comm);
			printf(", \"kernel_stack\": [");
			print_kernel_stack(session, invalidator_addresses, invalidator_depth, "");
			printf("]}");
		} else {
			printf("null");
		}
		printf("}}\n");
		fflush(stdout);
		return;
	}
	printf("\nLIVELOCK  pid %u  tid %u (%s)  driver %s  range 0x%llx-0x%llx\n"
	       "  still retrying after %s%.1f ms: %u retries since %s\n"
	       "  retrying task's kernel stack:\n", report->tgid, report->tid, report->comm, driver,
	       (unsigned long long)report->start, (unsigned long long)report->last,
	       report->began_unseen ? "at least " : "", report->duration_ns / 1e6, report->retries,
	       report->began_unseen ? "hmmtrace attached (it was retrying already)" :
				      "the fault began");
	print_kernel_stack(session, report->kernel_stack, kernel_depth, "      ");
	printf("  retrying task's user stack:\n");
	print_user_stack(report);
	if (invalidator->tid) {
		printf("  last invalidated by pid %u tid %u (%s), kernel stack:\n", invalidator->tgid,
		       invalidator->tid, invalidator->comm);
		print_kernel_stack(session, invalidator_addresses, invalidator_depth, "      ");
	} else {
		printf("  no invalidation of this range was seen since hmmtrace started\n");
	}
	fflush(stdout);
}

int retries_handle_report(void *context, void *record, size_t size)
{
	struct session *session = context;
	const struct hmmtrace_report *report = record;

	if (size < sizeof(*report))
		return 0;
	if (report->kind == HMMTRACE_REPORT_LIVELOCK)
		print_livelock(session, report);
	else
		remember_streak(report);
	return 0;
}

struct pair {
	struct hmmtrace_fault_key key;
	struct hmmtrace_fault_summary fault;
};

static int by_total_retries(const void *left, const void *right)
{
	const struct pair *a = left, *b = right;

	return a->fault.total_retries < b->fault.total_retries ? 1 :
	       a->fault.total_retries > b->fault.total_retries ? -1 : 0;
}

/* Every (task, range) pair that retried, most retries first. */
static size_t read_pairs(struct session *session, struct pair **pairs)
{
	int map_fd = bpf_map__fd(session->skeleton->maps.faults);
	/* The BPF side's fault state starts with the summary, the part user space reads. */
	void *value = malloc(bpf_map__value_size(session->skeleton->maps.faults));
	struct hmmtrace_fault_key key, *previous = NULL;
	size_t count = 0, capacity = 0;

	*pairs = NULL;
	while (value && !bpf_map_get_next_key(map_fd, previous, &key)) {
		struct hmmtrace_fault_summary fault;

		previous = &key;
		if (bpf_map_lookup_elem(map_fd, &key, value))
			continue;
		memcpy(&fault, value, sizeof(fault));
		if (!fault.total_retries)
			continue;
		if (count == capacity) {
			size_t bigger = capacity ? 2 * capacity : 64;
			struct pair *grown = realloc(*pairs, bigger * sizeof(*grown));

			if (!grown)
				break;
			*pairs = grown;
			capacity = bigger;
		}
		(*pairs)[count].key = key;
		(*pairs)[count].fault = fault;
		count++;
	}
	free(value);
	if (count)
		qsort(*pairs, count, sizeof(**pairs), by_total_retries);
	return count;
}

/* The range and driver of a subscription, as the BPF side remembered it. */
static void describe_range(struct session *session, __u64 interval_sub, char *range, size_t size,
			   char *driver, size_t driver_size)
{
	struct hmmtrace_subscription info;

	if (bpf_map_lookup_elem(bpf_map__fd(session->skeleton->maps.subscriptions), &interval_sub, &info)) {
		snprintf(range, size, "sub 0x%llx", (unsigned long long)interval_sub);
		snprintf(driver, driver_size, "?");
		return;
	}
	snprintf(range, size, "0x%llx-0x%llx", (unsigned long long)info.start,
		 (unsigned long long)info.last);
	kallsyms_driver(session->symbols, info.invalidate, driver, driver_size, NULL, 0);
}

static void print_pairs(struct session *session)
{
	struct pair *pairs;
	size_t count = read_pairs(session, &pairs), shown = 0;
	char range[96], driver[64];

	if (!options.json)
		printf("\ntop (task, range) pairs by retries, since start:\n  %-8s %-16s %-8s %-12s "
		       "%-32s %10s\n", "TID", "COMM", "PID", "DRIVER", "RANGE", "RETRIES");
	for (size_t index = 0; index < count && shown < options.top_rows; index++) {
		describe_range(session, pairs[index].key.interval_sub, range, sizeof(range), driver,
			       sizeof(driver));
		if (options.driver && strcmp(options.driver, driver))
			continue;
		if (options.json) {
			printf("%s{\"tid\": %u, \"comm\": ", shown ? ", " : "", pairs[index].key.tid);
			print_json_string(pairs[index].fault.comm);
			printf(", \"pid\": %u, \"driver\": ", pairs[index].fault.tgid);
			print_json_string(driver);
			printf(", \"range\": \"%s\", \"retries\": %llu}", range,
			       (unsigned long long)pairs[index].fault.total_retries);
		} else {
			printf("  %-8u %-16s %-8u %-12.12s %-32s %10llu\n", pairs[index].key.tid,
			       pairs[index].fault.comm, pairs[index].fault.tgid, driver, range,
			       (unsigned long long)pairs[index].fault.total_retries);
		}
		shown++;
	}
	if (!shown && !options.json)
		printf("  (none)\n");
	free(pairs);
}

/* Streaks that never completed: still retrying, or abandoned at the driver's timeout. */
static void remember_unfinished_streaks(struct session *session)
{
	struct pair *pairs;
	size_t count = read_pairs(session, &pairs);

	for (size_t index = 0; index < count; index++) {
		const struct hmmtrace_fault_summary *fault = &pairs[index].fault;
		struct hmmtrace_subscription info;
		struct hmmtrace_report streak = {
			.kind = HMMTRACE_REPORT_STREAK, .tid = pairs[index].key.tid,
			.tgid = fault->tgid, .retries = fault->retries,
			.began_unseen = fault->began_unseen, .unfinished = 1,
			.interval_sub = pairs[index].key.interval_sub,
			.started_ns = fault->started_ns,
			.duration_ns = fault->last_retry_ns - fault->started_ns,
		};

		if (fault->completed || !fault->retries)
			continue;
		if (!bpf_map_lookup_elem(bpf_map__fd(session->skeleton->maps.subscriptions),
					 &streak.interval_sub, &info)) {
			streak.start = info.start;
			streak.last = info.last;
			streak.callback = info.invalidate;
		}
		memcpy(streak.comm, fault->comm, sizeof(streak.comm));
		remember_streak(&streak);
	}
	free(pairs);
}

static void print_streaks(struct session *session)
{
	size_t shown = 0;
	char range[96], driver[64];

	remember_unfinished_streaks(session);

	qsort(streaks, streak_count, sizeof(streaks[0]), by_duration);
	if (!options.json)
		printf("\nlongest retry streaks (of faults that retried; * never completed), since start:\n"
		       "  %-8s %-16s %-8s %-12s %-32s %8s %12s\n", "TID", "COMM", "PID", "DRIVER",
		       "RANGE", "RETRIES", "DURATION(ms)");
	for (size_t index = 0; index < streak_count && shown < options.top_rows; index++) {
		const struct hmmtrace_report *streak = &streaks[index];

		kallsyms_driver(session->symbols, streak->callback, driver, sizeof(driver), NULL, 0);
		if (options.driver && strcmp(options.driver, driver))
			continue;
		snprintf(range, sizeof(range), "0x%llx-0x%llx", (unsigned long long)streak->start,
			 (unsigned long long)streak->last);
		if (options.json) {
			printf("%s{\"tid\": %u, \"comm\": ", shown ? ", " : "", streak->tid);
			print_json_string(streak->comm);
			printf(", \"pid\": %u, \"driver\": ", streak->tgid);
			print_json_string(driver);
			printf(", \"range\": \"%s\", \"retries\": %u, \"duration_ns\": %llu, "
			       "\"completed\": %s}", range, streak->retries,
			       (unsigned long long)streak->duration_ns,
			       streak->unfinished ? "false" : "true");
		} else {
			printf("  %-8u %-16s %-8u %-12.12s %-32s %8u %12.3f%s\n", streak->tid,
			       streak->comm, streak->tgid, driver, range, streak->retries,
			       streak->duration_ns / 1e6, streak->unfinished ? " *" : "");
		}
		shown++;
	}
	if (!shown && !options.json)
		printf("  (none)\n");
}

static void print_distributions(struct session *session)
{
	struct table *table = &session->table;
	bool first = true;
	char title[512];

	for (size_t index = 0; index < table->count; index++) {
		struct row *row = &table->rows[index];
		const struct hmmtrace_stats *delta = &row->delta;

		if (!row_shown(session, row))
			continue;
		if (options.json) {
			printf("%s{\"group\": ", first ? "" : ", ");
			print_json_string(row->name);
			printf(", \"driver\": ");
			print_json_string(row->driver);
			printf(", \"faults_completed\": %llu, \"read_retries\": %llu, "
			       "\"range_fault_ebusy\": %llu, \"retries_per_fault\": ",
			       (unsigned long long)delta->faults_completed,
			       (unsigned long long)delta->read_retries,
			       (unsigned long long)delta->range_fault_ebusy);
			histogram_print_json(delta->retries_per_fault_slots);
			printf("}");
		} else {
			snprintf(title, sizeof(title), "retries per fault, %s %s (%s): %llu faults completed, "
				 "%llu read_retry collisions%s, %llu -EBUSY",
				 options.grouping == HMMTRACE_BY_DRIVER ? "driver" : "group",
				 options.grouping == HMMTRACE_BY_DRIVER ? row->driver : row->name,
				 options.grouping == HMMTRACE_BY_DRIVER ? row->name : row->driver,
				 (unsigned long long)delta->faults_completed,
				 (unsigned long long)delta->read_retries,
				 mode_observes_everything(session->mode) ? "" : " (inferred)",
				 (unsigned long long)delta->range_fault_ebusy);
			histogram_print(title, "retries", delta->retries_per_fault_slots);
		}
		first = false;
	}
}

void retries_print(struct session *session, double seconds)
{
	if (options.json) {
		printf("{\"time\": %lld, \"subcommand\": \"retries\", \"mode\": \"%s\", %s, "
		       "\"interval_s\": %.3f, \"livelocks\": %lu, \"rows\": [", (long long)time(NULL),
		       mode_names[session->mode], mode_inferred_json(session->mode), seconds,
		       livelocks);
		print_distributions(session);
		printf("], \"top_pairs\": [");
		print_pairs(session);
		printf("], \"longest_streaks\": [");
		print_streaks(session);
		printf("]}\n");
	} else {
		printf("\nhmmtrace retries  mode %s  interval %.1f s  livelocks reported %lu\n",
		       mode_names[session->mode], seconds, livelocks);
		print_distributions(session);
		print_pairs(session);
		print_streaks(session);
	}
	fflush(stdout);
}
