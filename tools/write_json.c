// SPDX-License-Identifier: GPL-2.0-only
/*
 * The JSON lines writer: one object per interval, snooped event or livelock,
 * in the schema of tools/README.md. Rows of every subcommand go through one
 * row serializer, driven by the subcommand's view of the row fields.
 */
#include <stdio.h>
#include <string.h>

#include "json_writer.h"
#include "model.h"

static struct json_writer output;

static struct json_writer *writer(void)
{
	if (!output.output)
		json_writer_init(&output, stdout);
	return &output;
}

/* "NAME": [COUNT strings]. */
static void string_list(struct json_writer *json, const char *name, const char *const *items,
			size_t count)
{
	json_name(json, name);
	json_open(json, '[');
	for (size_t index = 0; index < count; index++)
		json_string(json, items[index]);
	json_close(json, ']');
}

static size_t length_of(const char *const *items)
{
	size_t count = 0;

	while (items && items[count])
		count++;
	return count;
}

/* [[low, high, count], ...] for the non-empty buckets. */
static void histogram(struct json_writer *json, const __u64 *slots)
{
	json_open(json, '[');
	for (int slot = 0; slot < HMMTRACE_SLOTS; slot++) {
		if (!slots[slot])
			continue;
		json_open(json, '[');
		json_uint(json, slot_low(slot));
		json_uint(json, slot_high(slot));
		json_uint(json, slots[slot]);
		json_close(json, ']');
	}
	json_close(json, ']');
}

static void field(struct json_writer *json, const char *name, struct field_value value)
{
	json_constant_name(json, name);
	switch (value.type) {
	case FIELD_COUNT:
	case FIELD_NANOSECONDS:
		json_uint(json, value.count);
		break;
	case FIELD_RATIO:
		/* JSON has no infinity: a fault that never completes is null. */
		json_float(json, 4, value.ratio);
		break;
	case FIELD_FLAG:
		json_bool(json, value.flag);
		break;
	case FIELD_HISTOGRAM:
		histogram(json, value.histogram.slots);
		break;
	case FIELD_TIMED_HISTOGRAM:
		json_open(json, '{');
		json_fields(json, "count:U", value.histogram.count);
		json_name(json, "histogram");
		histogram(json, value.histogram.slots);
		json_close(json, '}');
		break;
	}
}

/* The one row serializer of top, latency and retries. */
static void row(struct json_writer *json, const struct row *row, const struct row_view *view)
{
	json_open(json, '{');
	json_fields(json, "group:s driver:s", row->name, row->driver);
	for (size_t index = 0; index < view->count; index++)
		field(json, row_fields[view->fields[index]].name,
		      row_value(row, view->fields[index]));
	json_close(json, '}');
}

static void rows(struct json_writer *json, const struct model *model)
{
	json_name(json, "rows");
	json_open(json, '[');
	for (size_t index = 0; index < model->row_count; index++)
		row(json, model->rows[index], model->view);
	json_close(json, ']');
}

static void range_latencies(struct json_writer *json, const struct model *model)
{
	json_name(json, "ranges");
	json_open(json, '[');
	for (size_t index = 0; index < model->range_count; index++) {
		const struct range_latency *range = &model->ranges[index];

		json_open(json, '{');
		json_fields(json, "event:s count:U total_ns:U", range->event, range->histogram.count,
			    range->histogram.total_ns);
		json_name(json, "histogram");
		histogram(json, range->histogram.slots);
		json_close(json, '}');
	}
	json_close(json, ']');
}

/* latency: "fault_sizes": hmm_range_fault() time per driver and log2 fault size. */
static void fault_sizes(struct json_writer *json, const struct model *model)
{
	json_name(json, "fault_sizes");
	json_open(json, '[');
	for (size_t index = 0; index < model->fault_size_count; index++) {
		const struct fault_size_latency *size = &model->fault_sizes[index];

		json_open(json, '{');
		json_fields(json, "driver:s pages_low:U pages_high:U count:U total_ns:U",
			    size->driver, size->pages_low, size->pages_high, size->histogram.count,
			    size->histogram.total_ns);
		json_name(json, "histogram");
		histogram(json, size->histogram.slots);
		json_close(json, '}');
	}
	json_close(json, ']');
}

static void cause_rows(struct json_writer *json, const struct causes_part *causes)
{
	json_name(json, "causes");
	json_open(json, '[');
	for (size_t index = 0; index < causes->row_count; index++) {
		const struct cause_row *row = &causes->rows[index];
		const struct hmmtrace_cause *counts = &row->counts;

		json_open(json, '{');
		json_fields(json, "driver:s callback:s event:s context:s context_kind:s pid:u",
			    row->driver, row->callback, row->event, row->context,
			    row->kernel_thread ? "kernel_thread" : "process", row->pid);
		json_fields(json, "entry:s entry_kind:s path:s", row->entry,
			    row->entry_is_syscall ? "syscall" : "kernel", row->path);
		json_fields(json, "invalidations:U invalidations_per_s:f3 pages:U callback_ns:U "
			    "invalidate_all:U refaults:U refault_retries:U refault_ebusy:U",
			    counts->invalidations, row->invalidations_per_second, counts->pages,
			    counts->callback_ns, counts->invalidate_all, counts->refaults,
			    counts->refault_retries, counts->refault_ebusy);
		json_close(json, '}');
	}
	json_close(json, ']');
}

static void cause_stacks(struct json_writer *json, const struct causes_part *causes)
{
	json_name(json, "stacks");
	json_open(json, '[');
	for (size_t index = 0; index < causes->stack_count; index++) {
		const struct cause_stack *stack = &causes->stacks[index];

		json_open(json, '{');
		json_fields(json, "driver:s invalidations:U callback_ns:U", stack->driver,
			    stack->invalidations, stack->callback_ns);
		string_list(json, "frames", stack->frames, stack->depth);
		json_close(json, '}');
	}
	json_close(json, ']');
}

/* A subscription's "0xstart-0xlast". */
static void range_field(struct json_writer *json, __u64 start, __u64 last)
{
	json_name(json, "range");
	json_string_format(json, "0x%llx-0x%llx", (unsigned long long)start,
			   (unsigned long long)last);
}

static void pair_fields(struct json_writer *json, const struct retries_part *retries,
			size_t index)
{
	const struct retry_pair *pair = &retries->pairs[index];

	json_fields(json, "tid:u comm:c pid:u driver:s range:s retries:U", pair->tid, pair->comm,
		    pair->tgid, pair->driver, pair->range, pair->retries);
}

static void streak_fields(struct json_writer *json, const struct retries_part *retries,
			  size_t index)
{
	const struct streak *streak = &retries->streaks[index];

	json_fields(json, "tid:u comm:c pid:u driver:s", streak->tid, streak->comm, streak->tgid,
		    retries->streak_drivers[index]);
	range_field(json, streak->start, streak->last);
	json_fields(json, "retries:u duration_ns:U completed:b", streak->retries,
		    streak->duration_ns, streak->completed);
}

/* "NAME": [COUNT objects], each filled by FIELDS. */
static void object_list(struct json_writer *json, const char *name, size_t count,
			void (*fields)(struct json_writer *json, const struct retries_part *retries,
				       size_t index),
			const struct retries_part *retries)
{
	json_name(json, name);
	json_open(json, '[');
	for (size_t index = 0; index < count; index++) {
		json_open(json, '{');
		fields(json, retries, index);
		json_close(json, '}');
	}
	json_close(json, ']');
}

static void retry_lists(struct json_writer *json, const struct retries_part *retries)
{
	object_list(json, "top_pairs", retries->pair_count, pair_fields, retries);
	object_list(json, "longest_streaks", retries->streak_count, streak_fields, retries);
}

/* What each subcommand's interval object holds after its envelope. */
static void top_body(struct json_writer *json, const struct model *model)
{
	rows(json, model);
}

/* "hooks": {"function, event or callback": "mechanism", ...}. */
static void hooks(struct json_writer *json, const struct model *model)
{
	json_name(json, "hooks");
	json_open(json, '{');
	for (size_t index = 0; index < model->hook_count; index++) {
		json_name(json, model->hooks[index].name);
		json_string(json, mode_names[model->hooks[index].mechanism]);
	}
	json_close(json, '}');
}

static void latency_body(struct json_writer *json, const struct model *model)
{
	json_fields(json, "unit:s", "ns");
	range_latencies(json, model);
	fault_sizes(json, model);
	rows(json, model);
}

static void causes_body(struct json_writer *json, const struct model *model)
{
	const struct causes_part *causes = &model->causes;

	json_fields(json, "stacks_taken:b causes_lost:U stacks_lost:U", causes->stacks_taken,
		    causes->lost, causes->stacks_lost);
	cause_rows(json, causes);
	cause_stacks(json, causes);
}

static void retries_body(struct json_writer *json, const struct model *model)
{
	json_fields(json, "livelocks:U reports_dropped:U", (__u64)model->retries.livelocks,
		    model->lost[HMMTRACE_LOST_REPORTS]);
	rows(json, model);
	retry_lists(json, &model->retries);
}

static void snoop_body(struct json_writer *json, const struct model *model)
{
	json_fields(json, "events:U dropped:U dropped_total:U", (__u64)model->snoop.events,
		    (__u64)model->snoop.dropped, (__u64)model->snoop.dropped_total);
}

/* {"stats": N, ...}: every kind of enum hmmtrace_lost, zero or not. */
static void lost_counts(struct json_writer *json, const char *name,
			const __u64 counts[HMMTRACE_LOST_KINDS])
{
	json_name(json, name);
	json_open(json, '{');
	for (int kind = 0; kind < HMMTRACE_LOST_KINDS; kind++) {
		json_name(json, lost_kinds[kind].name);
		json_uint(json, counts[kind]);
	}
	json_close(json, '}');
}

static void write_interval(const struct model *model)
{
	static void (*const bodies[])(struct json_writer *json, const struct model *model) = {
		[SUBCOMMAND_TOP] = top_body, [SUBCOMMAND_LATENCY] = latency_body,
		[SUBCOMMAND_RETRIES] = retries_body, [SUBCOMMAND_SNOOP] = snoop_body,
		[SUBCOMMAND_CAUSES] = causes_body,
	};
	struct json_writer *json = writer();

	json_open(json, '{');
	json_fields(json, "time:U subcommand:s mode:s fault_state:s", (__u64)model->time,
		    subcommand_names[model->subcommand], mode_names[model->mode],
		    fault_store_names[model->fault_store]);
	hooks(json, model);
	string_list(json, "inferred", model->inferred, length_of(model->inferred));
	string_list(json, "unavailable", model->unavailable, length_of(model->unavailable));
	if (model->subcommand == SUBCOMMAND_TOP)
		json_fields(json, "by:s", grouping_names[model->grouping]);
	json_fields(json, "interval_s:f3", model->interval_seconds);
	lost_counts(json, "lost", model->lost);
	lost_counts(json, "lost_total", model->lost_total);
	bodies[model->subcommand](json, model);
	json_close(json, '}');
}

static void write_event(const struct snoop_event *event)
{
	const struct hmmtrace_event_record *record = event->record;
	struct json_writer *json = writer();

	json_open(json, '{');
	json_fields(json, "timestamp_ns:U event:s mode:s pid:u tid:u comm:c driver:s callback:s",
		    (__u64)record->timestamp_ns, event->name, mode_names[event->mode],
		    record->tgid, record->tid, record->comm, event->driver, event->callback);
	/* Range start/end have no subscription: the address is the mmu_notifier_range's. */
	json_fields(json, event->range_scoped ? "range:x" : "interval_sub:x",
		    (__u64)record->interval_sub);
	json_fields(json, "start:x end:x seq:U ret:d duration_ns:U waited:b deferred:b inferred:b",
		    (__u64)record->start, (__u64)record->end, (__u64)record->seq, record->ret,
		    (__u64)record->duration_ns, !!(record->flags & HMMTRACE_FLAG_WAITED),
		    !!(record->flags & HMMTRACE_FLAG_DEFERRED),
		    !!(record->flags & HMMTRACE_FLAG_INFERRED));
	json_name(json, "range_event");
	if (event->range_event)
		json_string(json, event->range_event);
	else
		json_null(json);
	json_close(json, '}');
}

static void write_livelock(const struct livelock *livelock)
{
	const struct hmmtrace_report *report = livelock->report;
	const struct hmmtrace_invalidator *invalidator = &report->invalidator;
	struct json_writer *json = writer();

	json_open(json, '{');
	json_fields(json, "time:U subcommand:s mode:s", (__u64)livelock->time, "retries",
		    mode_names[livelock->mode]);
	json_name(json, "livelock");
	json_open(json, '{');
	json_fields(json, "pid:u tid:u comm:c driver:s callback:s", report->tgid, report->tid,
		    report->comm, livelock->driver, livelock->callback);
	range_field(json, report->start, report->last);
	json_fields(json, "retries:u duration_ns:U", report->retries,
		    (__u64)report->duration_ns);
	string_list(json, "kernel_stack", livelock->kernel_stack, livelock->kernel_depth);
	string_list(json, "user_stack", livelock->user_stack, livelock->user_depth);
	json_fields(json, "began_before_attach:b", !!report->began_unseen);
	json_name(json, "invalidator");
	if (invalidator->tid) {
		json_open(json, '{');
		json_fields(json, "pid:u tid:u comm:c", invalidator->tgid, invalidator->tid,
			    invalidator->comm);
		string_list(json, "kernel_stack", livelock->invalidator_stack,
			    livelock->invalidator_depth);
		json_close(json, '}');
	} else {
		json_null(json);
	}
	json_close(json, '}');
	json_close(json, '}');
}

const struct writer json_writer = {
	.interval = write_interval, .event = write_event, .livelock = write_livelock,
};
