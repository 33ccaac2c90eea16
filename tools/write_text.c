// SPDX-License-Identifier: GPL-2.0-only
/*
 * The text writer: top's table, bcc-style log2 histograms for latency and
 * retries, retries' lists, snoop's lines and livelock reports.
 */
#include <stdio.h>
#include <string.h>

#include "format.h"
#include "model.h"

/* How a top column shows its field. */
enum text_scale { AS_COUNT, PER_SECOND, IN_MICROSECONDS, IN_MILLISECONDS };

struct text_column {
	const char *header;
	int width;
	int precision;
	enum row_field field;
	enum text_scale scale;
};

static const struct text_column top_columns[] = TOP_TEXT_COLUMNS;

#define COLUMNS (sizeof(top_columns) / sizeof(top_columns[0]))

static double scaled(const struct text_column *column, struct field_value value,
		     double seconds)
{
	double number = value.type == FIELD_RATIO ? value.ratio : (double)value.count;

	switch (column->scale) {
	case PER_SECOND:
		return seconds > 0 ? number / seconds : 0;
	case IN_MICROSECONDS:
		return number / 1e3;
	case IN_MILLISECONDS:
		return number / 1e6;
	default:
		return number;
	}
}

/* TEXT in exactly WIDTH columns, cut or padded on the right. */
static char *put_padded(char *line, const char *text, int width)
{
	int length = 0;

	while (length < width && text[length])
		*line++ = text[length++];
	while (length++ < width)
		*line++ = ' ';
	return line;
}

/* VALUE with PRECISION decimals, right-aligned in WIDTH columns after a space: " %*.*f". */
static char *put_number(char *line, double value, int width, int precision)
{
	char number[FORMAT_NUMBER_SIZE];
	int length = format_decimal(number, value, precision);

	*line++ = ' ';
	for (; length < width; width--)
		*line++ = ' ';
	memcpy(line, number, length);
	return line + length;
}

/*
 * Under the header, "  attached with kprobe: mirror_invalidate [sim_mirror]":
 * the hooks whose mechanism is not the mode's, or with -v every hook.
 */
static void write_hooks(const struct model *model)
{
	for (int mechanism = 0; mechanism < HMMTRACE_MODE_COUNT; mechanism++) {
		size_t shown = 0;

		if (mechanism == (int)model->mode && !model->show_every_hook)
			continue;
		for (size_t index = 0; index < model->hook_count; index++) {
			if ((int)model->hooks[index].mechanism != mechanism)
				continue;
			if (!shown++)
				printf("  attached with %s: %s", mode_names[mechanism],
				       model->hooks[index].name);
			else
				printf(", %s", model->hooks[index].name);
		}
		if (shown)
			printf("\n");
	}
}

static void write_top_row(const struct model *model, const struct row *row)
{
	char line[512], *end = line;

	*end++ = row->storm ? '!' : ' ';
	*end++ = ' ';
	end = put_padded(end, row->name, 38);
	*end++ = ' ';
	end = put_padded(end, row->driver, 12);
	for (size_t column = 0; column < COLUMNS; column++) {
		const struct text_column *shown = &top_columns[column];

		end = put_number(end, scaled(shown, row_value(row, shown->field),
					     model->interval_seconds),
				 shown->width, shown->precision);
	}
	*end++ = '\n';
	fwrite(line, 1, end - line, stdout);
}

static void write_top(const struct model *model)
{
	printf("\nhmmtrace top  mode %s  by %s  interval %.1f s  lost %llu%s\n",
	       mode_names[model->mode], grouping_names[model->grouping], model->interval_seconds,
	       (unsigned long long)lost_sum(model->lost),
	       mode_observes_everything(model->mode) ? "" : "  (RETRY/s, WAITS inferred)");
	write_hooks(model);
	printf("  %-38s %-12s", "GROUP", "DRIVER");
	for (size_t index = 0; index < COLUMNS; index++)
		printf(" %*s", top_columns[index].width, top_columns[index].header);
	printf("\n");
	for (size_t index = 0; index < model->row_count; index++)
		write_top_row(model, model->rows[index]);
}

/* bcc's print_log2_hist layout. */
static void histogram(const char *title, const char *unit, const __u64 *slots)
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
		int stars = (int)(slots[slot] * 40 / largest);
		char bar[41];

		memset(bar, '*', stars);
		bar[stars] = '\0';
		printf("%11llu -> %-10llu : %-10llu |%-40s|\n", (unsigned long long)slot_low(slot),
		       (unsigned long long)slot_high(slot), (unsigned long long)slots[slot], bar);
	}
}

/* "driver sim_mirror (mirror_invalidate [sim_mirror])", or the group first by process or range. */
static void row_title(const struct model *model, const struct row *row, char *text, size_t size)
{
	bool by_driver = model->grouping == HMMTRACE_BY_DRIVER;

	snprintf(text, size, "%s %s (%s)", by_driver ? "driver" : "group",
		 by_driver ? row->driver : row->name, by_driver ? row->name : row->driver);
}

static void write_latency(const struct model *model)
{
	char title[640], group[400];

	printf("\nhmmtrace latency  mode %s  interval %.1f s  lost %llu\n", mode_names[model->mode],
	       model->interval_seconds, (unsigned long long)lost_sum(model->lost));
	write_hooks(model);
	for (size_t index = 0; index < model->range_count; index++) {
		const struct hmmtrace_histogram *delta = &model->ranges[index].histogram;

		snprintf(title, sizeof(title), "invalidation range start -> end, event %s: %llu "
			 "ranges, average %.1f us", model->ranges[index].event,
			 (unsigned long long)delta->count, delta->total_ns / 1e3 / delta->count);
		histogram(title, "nsecs", delta->slots);
	}
	for (size_t index = 0; index < model->row_count; index++) {
		const struct row *row = model->rows[index];

		row_title(model, row, group, sizeof(group));
		for (size_t field = 0; field < model->view->count; field++) {
			enum row_field shown = model->view->fields[field];
			struct field_value value = row_value(row, shown);

			if (value.type != FIELD_TIMED_HISTOGRAM && value.type != FIELD_HISTOGRAM)
				continue;
			if (!slots_total(value.histogram.slots))
				continue;
			snprintf(title, sizeof(title), "%s, %s", row_fields[shown].title, group);
			/* Latency's untimed histogram counts pages. */
			histogram(title, value.type == FIELD_TIMED_HISTOGRAM ? "nsecs" : "pages",
				  value.histogram.slots);
		}
	}
	for (size_t index = 0; index < model->fault_size_count; index++) {
		const struct fault_size_latency *size = &model->fault_sizes[index];

		snprintf(title, sizeof(title), "hmm_range_fault() time, driver %s, faults of %llu to "
			 "%llu pages: %llu calls, average %.1f us", size->driver,
			 (unsigned long long)size->pages_low, (unsigned long long)size->pages_high,
			 (unsigned long long)size->histogram.count,
			 size->histogram.total_ns / 1e3 / size->histogram.count);
		histogram(title, "nsecs", size->histogram.slots);
	}
}

static void write_cause_stacks(const struct causes_part *causes)
{
	for (size_t index = 0; index < causes->stack_count; index++) {
		const struct cause_stack *stack = &causes->stacks[index];

		if (!index || strcmp(stack->driver, causes->stacks[index - 1].driver))
			printf("\nstacks that invalidated %s, most invalidations first:\n",
			       stack->driver);
		printf("  %llu invalidations, %.3f ms of callback time\n",
		       (unsigned long long)stack->invalidations, stack->callback_ns / 1e6);
		for (size_t frame = 0; frame < stack->depth; frame++)
			printf("      %s\n", stack->frames[frame]);
	}
}

static void write_causes(const struct model *model)
{
	const struct causes_part *causes = &model->causes;

	printf("\nhmmtrace causes  mode %s  interval %.1f s  lost %llu%s\n", mode_names[model->mode],
	       model->interval_seconds, (unsigned long long)lost_sum(model->lost),
	       causes->stacks_taken ? "" :
	       "  (no stacks: entries are syscalls or threads, paths unknown)");
	write_hooks(model);
	printf("  %-12s %-15s %-16s %7s %-20s %-16s %9s %9s %9s %7s %8s %7s %7s\n", "DRIVER",
	       "EVENT", "CONTEXT", "PID", "ENTRY", "PATH", "INVAL/s", "PAGES", "CB(ms)", "ALL",
	       "REFAULT", "RETRY", "EBUSY");
	for (size_t index = 0; index < causes->row_count; index++) {
		const struct cause_row *row = &causes->rows[index];
		const struct hmmtrace_cause *counts = &row->counts;
		char pid[16] = "-";

		if (!row->kernel_thread)
			snprintf(pid, sizeof(pid), "%u", row->pid);
		printf("  %-12.12s %-15.15s %-16.16s %7s %-20.20s %-16.16s %9.1f %9llu %9.3f %7llu "
		       "%8llu %7llu %7llu\n", row->driver, row->event, row->context, pid, row->entry,
		       row->path, row->invalidations_per_second,
		       (unsigned long long)counts->pages, counts->callback_ns / 1e6,
		       (unsigned long long)counts->invalidate_all,
		       (unsigned long long)counts->refaults,
		       (unsigned long long)counts->refault_retries,
		       (unsigned long long)counts->refault_ebusy);
	}
	if (!causes->row_count)
		printf("  (no invalidations)\n");
	write_cause_stacks(causes);
}

static void write_pairs(const struct retries_part *retries)
{
	printf("\ntop (task, range) pairs by retries, since start:\n  %-8s %-16s %-8s %-12s %-32s "
	       "%10s\n", "TID", "COMM", "PID", "DRIVER", "RANGE", "RETRIES");
	for (size_t index = 0; index < retries->pair_count; index++) {
		const struct retry_pair *pair = &retries->pairs[index];

		printf("  %-8u %-16.16s %-8u %-12.12s %-32s %10llu\n", pair->tid, pair->comm,
		       pair->tgid, pair->driver, pair->range, (unsigned long long)pair->retries);
	}
	if (!retries->pair_count)
		printf("  (none)\n");
}

static void write_streaks(const struct retries_part *retries)
{
	char range[96];

	printf("\nlongest retry streaks (of faults that retried; * never completed), since start:\n"
	       "  %-8s %-16s %-8s %-12s %-32s %8s %12s\n", "TID", "COMM", "PID", "DRIVER",
	       "RANGE", "RETRIES", "DURATION(ms)");
	for (size_t index = 0; index < retries->streak_count; index++) {
		const struct streak *streak = &retries->streaks[index];

		snprintf(range, sizeof(range), "0x%llx-0x%llx", (unsigned long long)streak->start,
			 (unsigned long long)streak->last);
		printf("  %-8u %-16.16s %-8u %-12.12s %-32s %8u %12.3f%s\n", streak->tid,
		       streak->comm, streak->tgid, retries->streak_drivers[index], range,
		       streak->retries, streak->duration_ns / 1e6, streak->completed ? "" : " *");
	}
	if (!retries->streak_count)
		printf("  (none)\n");
}

static void write_retries(const struct model *model)
{
	char title[640], group[400];

	printf("\nhmmtrace retries  mode %s  interval %.1f s  lost %llu  livelocks reported %lu\n",
	       mode_names[model->mode], model->interval_seconds,
	       (unsigned long long)lost_sum(model->lost), model->retries.livelocks);
	write_hooks(model);
	for (size_t index = 0; index < model->row_count; index++) {
		const struct row *row = model->rows[index];

		row_title(model, row, group, sizeof(group));
		snprintf(title, sizeof(title), "retries per fault, %s: %llu faults completed, "
			 "%llu read_retry collisions%s, %llu -EBUSY", group,
			 (unsigned long long)row->delta.faults_completed,
			 (unsigned long long)row->delta.read_retries,
			 mode_observes_everything(model->mode) ? "" : " (inferred)",
			 (unsigned long long)row->delta.range_fault_ebusy);
		histogram(title, "retries", row->delta.retries_per_fault_slots);
	}
	write_pairs(&model->retries);
	write_streaks(&model->retries);
}

/* Snoop's events went out as they came; only losses are worth a line. */
static void write_snoop(const struct model *model)
{
	if (model->snoop.dropped)
		fprintf(stderr, "hmmtrace: %llu events dropped in the last %.1f s (the ring buffer "
			"was full)\n", model->snoop.dropped, model->interval_seconds);
}

/*
 * Losses go to stderr, where they are seen even when stdout is a table, one
 * line per kind; the header's `lost` is their sum. snoop says its own.
 */
static void write_losses(const struct model *model)
{
	for (int kind = 0; kind < HMMTRACE_LOST_KINDS; kind++) {
		if (!model->lost[kind] || kind == HMMTRACE_LOST_EVENTS)
			continue;
		fprintf(stderr, "hmmtrace: lost %llu in the last %.1f s: %s\n",
			(unsigned long long)model->lost[kind], model->interval_seconds,
			lost_kinds[kind].meaning);
	}
}

static void write_interval(const struct model *model)
{
	static void (*const by_subcommand[])(const struct model *model) = {
		[SUBCOMMAND_TOP] = write_top, [SUBCOMMAND_LATENCY] = write_latency,
		[SUBCOMMAND_RETRIES] = write_retries, [SUBCOMMAND_SNOOP] = write_snoop,
		[SUBCOMMAND_CAUSES] = write_causes,
	};

	by_subcommand[model->subcommand](model);
	write_losses(model);
	fflush(stdout);
}

static void write_event(const struct snoop_event *event)
{
	const struct hmmtrace_event_record *record = event->record;

	printf("%12.6f %-16.16s %7u %7u %-26s %-12.12s 0x%012llx-0x%012llx seq %-6llu ret %-4d "
	       "%9.3f us%s%s %s\n", event->seconds, record->comm, record->tid, record->tgid,
	       event->short_name, event->driver, (unsigned long long)record->start,
	       (unsigned long long)record->end, (unsigned long long)record->seq, record->ret,
	       record->duration_ns / 1e3, record->flags & HMMTRACE_FLAG_WAITED ? " waited" : "",
	       record->flags & HMMTRACE_FLAG_DEFERRED ? " deferred" : "",
	       event->range_event ? event->range_event : "");
}

static void stack(const char *const *frames, size_t depth)
{
	for (size_t index = 0; index < depth; index++)
		printf("      %s\n", frames[index]);
}

static void write_livelock(const struct livelock *livelock)
{
	const struct hmmtrace_report *report = livelock->report;
	const struct hmmtrace_invalidator *invalidator = &report->invalidator;

	printf("\nLIVELOCK  pid %u  tid %u (%.16s)  driver %s  range 0x%llx-0x%llx\n"
	       "  still retrying after %s%.1f ms: %u retries since %s\n"
	       "  retrying task's kernel stack:\n", report->tgid, report->tid, report->comm,
	       livelock->driver, (unsigned long long)report->start,
	       (unsigned long long)report->last, report->began_unseen ? "at least " : "",
	       report->duration_ns / 1e6, report->retries,
	       report->began_unseen ? "hmmtrace attached (it was retrying already)" :
				      "the fault began");
	stack(livelock->kernel_stack, livelock->kernel_depth);
	printf("  retrying task's user stack:\n");
	stack(livelock->user_stack, livelock->user_depth);
	if (!livelock->user_depth)
		printf("      (none: the retrying task is a kernel thread)\n");
	if (invalidator->tid) {
		printf("  last invalidated by pid %u tid %u (%.16s), kernel stack:\n",
		       invalidator->tgid, invalidator->tid, invalidator->comm);
		stack(livelock->invalidator_stack, livelock->invalidator_depth);
	} else {
		printf("  no invalidation of this range was seen since hmmtrace started\n");
	}
	fflush(stdout);
}

const struct writer text_writer = {
	.interval = write_interval, .event = write_event, .livelock = write_livelock,
};
