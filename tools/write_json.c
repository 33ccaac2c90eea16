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

/* A kernel char[16] that may fill its array. */
static void comm_field(struct json_writer *json, const char *name, const char *comm)
{
	char text[17];

	memcpy(text, comm, 16);
	text[16] = '\0';
	json_string_field(json, name, text);
}

static void string_list(struct json_writer *json, const char *name, const char *const *items,
			size_t count)
{
	json_name(json, name);
	json_start_array(json);
	for (size_t index = 0; items && (count ? index < count : items[index] != NULL); index++)
		json_string(json, items[index]);
	json_end_array(json);
}

/* [[low, high, count], ...] for the non-empty buckets. */
static void histogram(struct json_writer *json, const __u64 *slots)
{
	json_start_array(json);
	for (int slot = 0; slot < HMMTRACE_SLOTS; slot++) {
		if (!slots[slot])
			continue;
		json_start_array(json);
		json_uint(json, slot_low(slot));
		json_uint(json, slot_high(slot));
		json_uint(json, slots[slot]);
		json_end_array(json);
	}
	json_end_array(json);
}

static void field(struct json_writer *json, const char *name, struct field_value value)
{
	json_name(json, name);
	switch (value.type) {
	case FIELD_COUNT:
	case FIELD_NANOSECONDS:
		json_uint(json, value.count);
		break;
	case FIELD_RATIO:
		/* JSON has no infinity: a fault that never completes is null. */
		json_float(json, "%.4f", value.ratio);
		break;
	case FIELD_FLAG:
		json_bool(json, value.flag);
		break;
	case FIELD_HISTOGRAM:
		histogram(json, value.histogram.slots);
		break;
	case FIELD_TIMED_HISTOGRAM:
		json_start_object(json);
		json_uint_field(json, "count", value.histogram.count);
		json_name(json, "histogram");
		histogram(json, value.histogram.slots);
		json_end_object(json);
		break;
	}
}

/* The one row serializer of top, latency and retries. */
static void row(struct json_writer *json, const struct row *row, const struct row_view *view)
{
	json_start_object(json);
	json_string_field(json, "group", row->name);
	json_string_field(json, "driver", row->driver);
	for (size_t index = 0; index < view->count; index++)
		field(json, row_fields[view->fields[index]].name,
		      row_value(row, view->fields[index]));
	json_end_object(json);
}

static void envelope(struct json_writer *json, const struct model *model)
{
	json_uint_field(json, "time", (__u64)model->time);
	json_string_field(json, "subcommand", subcommand_names[model->subcommand]);
	json_string_field(json, "mode", mode_names[model->mode]);
	string_list(json, "inferred", model->inferred, 0);
	string_list(json, "unavailable", model->unavailable, 0);
}

static void rows(struct json_writer *json, const struct model *model)
{
	json_name(json, "rows");
	json_start_array(json);
	for (size_t index = 0; index < model->row_count; index++)
		row(json, model->rows[index], model->view);
	json_end_array(json);
}

static void range_latencies(struct json_writer *json, const struct model *model)
{
	json_name(json, "ranges");
	json_start_array(json);
	for (int event = 0; event < HMMTRACE_RANGE_EVENTS; event++) {
		const struct hmmtrace_histogram *delta = &model->ranges[event].delta;

		if (!delta->count)
			continue;
		json_start_object(json);
		json_string_field(json, "event", model->ranges[event].event);
		json_uint_field(json, "count", delta->count);
		json_uint_field(json, "total_ns", delta->total_ns);
		json_name(json, "histogram");
		histogram(json, delta->slots);
		json_end_object(json);
	}
	json_end_array(json);
}

static void task_fields(struct json_writer *json, __u32 tid, const char *comm, __u32 pid,
			const char *driver)
{
	json_uint_field(json, "tid", tid);
	comm_field(json, "comm", comm);
	json_uint_field(json, "pid", pid);
	json_string_field(json, "driver", driver);
}

/* A subscription's "0xstart-0xlast". */
static void range_field(struct json_writer *json, __u64 start, __u64 last)
{
	json_name(json, "range");
	json_string_format(json, "0x%llx-0x%llx", (unsigned long long)start,
			   (unsigned long long)last);
}

static void retry_lists(struct json_writer *json, const struct retries_part *retries)
{
	json_name(json, "top_pairs");
	json_start_array(json);
	for (size_t index = 0; index < retries->pair_count; index++) {
		const struct retry_pair *pair = &retries->pairs[index];

		json_start_object(json);
		task_fields(json, pair->tid, pair->comm, pair->tgid, pair->driver);
		json_string_field(json, "range", pair->range);
		json_uint_field(json, "retries", pair->retries);
		json_end_object(json);
	}
	json_end_array(json);
	json_name(json, "longest_streaks");
	json_start_array(json);
	for (size_t index = 0; index < retries->streak_count; index++) {
		const struct streak *streak = &retries->streaks[index];

		json_start_object(json);
		task_fields(json, streak->tid, streak->comm, streak->tgid,
			    retries->streak_drivers[index]);
		range_field(json, streak->start, streak->last);
		json_uint_field(json, "retries", streak->retries);
		json_uint_field(json, "duration_ns", streak->duration_ns);
		json_bool_field(json, "completed", streak->completed);
		json_end_object(json);
	}
	json_end_array(json);
}

static void write_interval(const struct model *model)
{
	struct json_writer *json = writer();

	json_start_object(json);
	envelope(json, model);
	if (model->subcommand == SUBCOMMAND_TOP)
		json_string_field(json, "by", grouping_names[model->grouping]);
	json_float_field(json, "interval_s", "%.3f", model->interval_seconds);
	switch (model->subcommand) {
	case SUBCOMMAND_TOP:
		rows(json, model);
		break;
	case SUBCOMMAND_LATENCY:
		json_string_field(json, "unit", "ns");
		range_latencies(json, model);
		rows(json, model);
		break;
	case SUBCOMMAND_RETRIES:
		json_uint_field(json, "livelocks", model->retries.livelocks);
		rows(json, model);
		retry_lists(json, &model->retries);
		break;
	case SUBCOMMAND_SNOOP:
		json_uint_field(json, "events", model->snoop.events);
		json_uint_field(json, "dropped", model->snoop.dropped);
		json_uint_field(json, "dropped_total", model->snoop.dropped_total);
		break;
	}
	json_end_object(json);
}

static void flags(struct json_writer *json, __u32 flags)
{
	json_bool_field(json, "waited", flags & HMMTRACE_FLAG_WAITED);
	json_bool_field(json, "deferred", flags & HMMTRACE_FLAG_DEFERRED);
	json_bool_field(json, "inferred", flags & HMMTRACE_FLAG_INFERRED);
}

static void write_event(const struct snoop_event *event)
{
	const struct hmmtrace_event_record *record = event->record;
	struct json_writer *json = writer();

	json_start_object(json);
	json_uint_field(json, "timestamp_ns", record->timestamp_ns);
	json_string_field(json, "event", event->name);
	json_string_field(json, "mode", mode_names[event->mode]);
	json_uint_field(json, "pid", record->tgid);
	json_uint_field(json, "tid", record->tid);
	comm_field(json, "comm", record->comm);
	json_string_field(json, "driver", event->driver);
	json_string_field(json, "callback", event->callback);
	json_hex_field(json, event->range_scoped ? "range" : "interval_sub", record->interval_sub);
	json_hex_field(json, "start", record->start);
	json_hex_field(json, "end", record->end);
	json_uint_field(json, "seq", record->seq);
	json_int_field(json, "ret", record->ret);
	json_uint_field(json, "duration_ns", record->duration_ns);
	flags(json, record->flags);
	json_name(json, "range_event");
	if (event->range_event)
		json_string(json, event->range_event);
	else
		json_null(json);
	json_end_object(json);
}

static void stack(struct json_writer *json, const char *name, const char *const *frames,
		  size_t depth)
{
	json_name(json, name);
	json_start_array(json);
	for (size_t index = 0; index < depth; index++)
		json_string(json, frames[index]);
	json_end_array(json);
}

static void write_livelock(const struct livelock *livelock)
{
	const struct hmmtrace_report *report = livelock->report;
	const struct hmmtrace_invalidator *invalidator = &report->invalidator;
	struct json_writer *json = writer();

	json_start_object(json);
	json_uint_field(json, "time", (__u64)time(NULL));
	json_string_field(json, "subcommand", "retries");
	json_string_field(json, "mode", mode_names[livelock->mode]);
	json_name(json, "livelock");
	json_start_object(json);
	json_uint_field(json, "pid", report->tgid);
	json_uint_field(json, "tid", report->tid);
	comm_field(json, "comm", report->comm);
	json_string_field(json, "driver", livelock->driver);
	json_string_field(json, "callback", livelock->callback);
	range_field(json, report->start, report->last);
	json_uint_field(json, "retries", report->retries);
	json_uint_field(json, "duration_ns", report->duration_ns);
	stack(json, "kernel_stack", livelock->kernel_stack, livelock->kernel_depth);
	stack(json, "user_stack", livelock->user_stack, livelock->user_depth);
	json_bool_field(json, "began_before_attach", report->began_unseen);
	json_name(json, "invalidator");
	if (invalidator->tid) {
		json_start_object(json);
		json_uint_field(json, "pid", invalidator->tgid);
		json_uint_field(json, "tid", invalidator->tid);
		comm_field(json, "comm", invalidator->comm);
		stack(json, "kernel_stack", livelock->invalidator_stack,
		      livelock->invalidator_depth);
		json_end_object(json);
	} else {
		json_null(json);
	}
	json_end_object(json);
	json_end_object(json);
}

const struct writer json_writer = {
	.interval = write_interval, .event = write_event, .livelock = write_livelock,
};
