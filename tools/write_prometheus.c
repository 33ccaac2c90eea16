// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Prometheus writer: an export model in the text exposition format
 * 0.0.4, metric by metric in the order of tools/metrics.json, which names
 * and describes them. Label values and help texts are escaped here only.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "model.h"
#include "hmmtrace_metrics.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };
enum metric_scope { METRIC_PER_GROUP, METRIC_PER_RANGE_EVENT, METRIC_PER_EXPORTER, METRIC_PER_CAUSE };

static const char *const metric_type_names[] = { "counter", "gauge", "histogram" };

/* One series of a metric told apart by the label `by`: its value and field. */
struct metric_series {
	const char *label_value;
	enum row_field field;
};

struct metric_description {
	const char *name;
	enum metric_type type;
	const char *help;
	enum metric_scope scope;
	enum row_field field;		/* ROW_FIELD_COUNT: none */
	enum row_field sum;		/* a histogram's sum */
	enum metric_value value;	/* the exporter's own values */
	const char *by;
	struct metric_series series[3];
	size_t series_count;
	int first_slot, last_slot;	/* a histogram's buckets */
	bool in_seconds;		/* nanoseconds, exported in seconds */
	size_t cause_counter;		/* per cause: the offset in struct hmmtrace_cause */
};

static const struct metric_description metrics[METRIC_COUNT] = METRIC_DESCRIPTIONS;

/* The label value as the format wants it: backslash, quote and newline escaped. */
static void label_value(FILE *output, const char *text)
{
	for (; *text; text++) {
		if (*text == '\\' || *text == '"')
			fprintf(output, "\\%c", *text);
		else if (*text == '\n')
			fputs("\\n", output);
		else
			fputc(*text, output);
	}
}

/* `{name="value",...}` from NULL-terminated name, value pairs, and LE if not NULL. */
static void labels(FILE *output, const char *const *pairs, const char *le)
{
	bool first = true;

	if (!pairs[0] && !le)
		return;
	fputc('{', output);
	for (size_t index = 0; pairs[index]; index += 2) {
		fprintf(output, "%s%s=\"", first ? "" : ",", pairs[index]);
		label_value(output, pairs[index + 1]);
		fputc('"', output);
		first = false;
	}
	if (le)
		fprintf(output, "%sle=\"%s\"", first ? "" : ",", le);
	fputc('}', output);
}

/* Nanoseconds as seconds, exactly: the digits of the integer, with the point moved. */
static void format_seconds(char *text, size_t size, __u64 nanoseconds)
{
	int length = snprintf(text, size, "%llu.%09llu", nanoseconds / 1000000000ULL,
			      nanoseconds % 1000000000ULL);

	while (length > 2 && text[length - 1] == '0' && text[length - 2] != '.')
		text[--length] = '\0';
}

static void sample(FILE *output, const char *name, const char *suffix, const char *const *pairs,
		   const char *le, const char *value)
{
	fprintf(output, "%s%s", name, suffix);
	labels(output, pairs, le);
	fprintf(output, " %s\n", value);
}

static void sample_count(FILE *output, const char *name, const char *suffix,
			 const char *const *pairs, const char *le, __u64 count)
{
	char text[32];

	snprintf(text, sizeof(text), "%llu", (unsigned long long)count);
	sample(output, name, suffix, pairs, le, text);
}

static void sample_nanoseconds(FILE *output, const char *name, const char *suffix,
			       const char *const *pairs, __u64 nanoseconds)
{
	char text[32];

	format_seconds(text, sizeof(text), nanoseconds);
	sample(output, name, suffix, pairs, NULL, text);
}

static void sample_number(FILE *output, const char *name, const char *const *pairs, double value)
{
	char text[40];

	snprintf(text, sizeof(text), "%.17g", value);
	sample(output, name, "", pairs, NULL, text);
}

/*
 * Cumulative ceil-log2 buckets: slot k holds the values up to 2^(k-1),
 * so each slot's upper bound is its `le`. The slots below the first bucket
 * count in it; those above the last, only in +Inf.
 */
static void histogram(FILE *output, const struct metric_description *metric,
		      const char *const *pairs, const __u64 *slots, __u64 sum)
{
	__u64 cumulative = 0;
	char le[32];
	int slot;

	for (slot = 0; slot <= metric->last_slot; slot++) {
		cumulative += slots[slot];
		if (slot < metric->first_slot)
			continue;
		if (metric->in_seconds)
			format_seconds(le, sizeof(le), slot_high(slot));
		else
			snprintf(le, sizeof(le), "%llu", (unsigned long long)slot_high(slot));
		sample_count(output, metric->name, "_bucket", pairs, le, cumulative);
	}
	for (; slot < HMMTRACE_SLOTS; slot++)
		cumulative += slots[slot];
	sample_count(output, metric->name, "_bucket", pairs, "+Inf", cumulative);
	if (metric->in_seconds)
		sample_nanoseconds(output, metric->name, "_sum", pairs, sum);
	else
		sample_count(output, metric->name, "_sum", pairs, NULL, sum);
	sample_count(output, metric->name, "_count", pairs, NULL, cumulative);
}

/* A counter or gauge made of one row field. */
static void field_sample(FILE *output, const char *name, const char *const *pairs,
			 const struct row *row, enum row_field field)
{
	struct field_value value = row_value_of(row, row->reported, field);

	if (value.type == FIELD_NANOSECONDS)
		sample_nanoseconds(output, name, "", pairs, value.count);
	else
		sample_count(output, name, "", pairs, NULL, value.count);
}

static __u64 row_own_value(const struct row *row, enum metric_value value)
{
	switch (value) {
	case METRIC_VALUE_LIVE_SUBSCRIPTIONS:
		return row->live_subscriptions;
	case METRIC_VALUE_LIVELOCKS:
		return row->livelocks;
	case METRIC_VALUE_LIVELOCKED_FAULTS:
		return row->livelocked_faults;
	default:
		return 0;
	}
}

/*
 * A group's labels: driver and callback, or pid; room for one more pair.
 * The callback is the symbol alone: its module is the driver label.
 */
static void group_labels(const struct model *model, const struct row *row, const char **pairs,
			 char *callback, size_t size)
{
	size_t count = 0;

	if (model->grouping == HMMTRACE_BY_PROCESS) {
		pairs[count++] = "pid";
		pairs[count++] = row->name;
	} else {
		pairs[count++] = "driver";
		pairs[count++] = row->driver;
		snprintf(callback, size, "%.*s", (int)strcspn(row->name, " "), row->name);
		pairs[count++] = "callback";
		pairs[count++] = callback;
	}
	pairs[count] = NULL;
}

static void group_metric(FILE *output, const struct model *model,
			 const struct metric_description *metric)
{
	for (size_t index = 0; index < model->row_count; index++) {
		const struct row *row = model->rows[index];
		const char *pairs[8];
		char callback[sizeof(row->name)];
		size_t last;

		group_labels(model, row, pairs, callback, sizeof(callback));
		for (last = 0; pairs[last]; last++)
			;
		if (metric->type == METRIC_HISTOGRAM) {
			struct field_value slots = row_value_of(row, row->reported, metric->field);
			struct field_value sum = row_value_of(row, row->reported, metric->sum);

			histogram(output, metric, pairs, slots.histogram.slots, sum.count);
		} else if (metric->value != METRIC_VALUE_NONE) {
			sample_count(output, metric->name, "", pairs, NULL,
				     row_own_value(row, metric->value));
		} else if (metric->series_count) {
			pairs[last] = metric->by;
			pairs[last + 2] = NULL;
			for (size_t series = 0; series < metric->series_count; series++) {
				pairs[last + 1] = metric->series[series].label_value;
				field_sample(output, metric->name, pairs, row,
					     metric->series[series].field);
			}
		} else {
			field_sample(output, metric->name, pairs, row, metric->field);
		}
	}
}

static void range_event_metric(FILE *output, const struct model *model,
			       const struct metric_description *metric)
{
	for (size_t index = 0; index < model->range_count; index++) {
		const struct range_latency *range = &model->ranges[index];
		const char *pairs[] = { "event", range->event, NULL };

		histogram(output, metric, pairs, range->histogram.slots, range->histogram.total_ns);
	}
}

/* Per cause: driver, callback, event, context and entry; no pid, whose series are unbounded. */
static void cause_metric(FILE *output, const struct model *model,
			 const struct metric_description *metric)
{
	for (size_t index = 0; index < model->causes.row_count; index++) {
		const struct cause_row *row = &model->causes.rows[index];
		const char *pairs[] = { "driver", row->driver, "callback", row->callback,
					"event", row->event, "context", row->context,
					"entry", row->entry, NULL };
		__u64 value = *(const __u64 *)((const char *)&row->counts + metric->cause_counter);

		if (metric->in_seconds)
			sample_nanoseconds(output, metric->name, "", pairs, value);
		else
			sample_count(output, metric->name, "", pairs, NULL, value);
	}
}

/* Whether a field is in a NULL-terminated list of field names. */
static bool listed(const char *const *names, enum row_field field)
{
	for (; names && *names; names++)
		if (!strcmp(*names, row_fields[field].name))
			return true;
	return false;
}

/*
 * For every per-group metric a stock mode infers (or cannot see), whether
 * this mode does: always present, so that a rule can test it.
 */
static void metric_sources(FILE *output, const struct model *model, bool unavailable)
{
	const char *const *candidates = unavailable ? model->export.may_be_unavailable :
				       model->export.may_be_inferred;
	const char *const *current = unavailable ? model->unavailable : model->inferred;
	const char *name = unavailable ? "hmmtrace_metric_unavailable" : "hmmtrace_metric_inferred";

	for (size_t index = 0; index < METRIC_COUNT; index++) {
		const struct metric_description *metric = &metrics[index];
		const char *pairs[] = { "metric", metric->name, NULL };

		if (metric->scope != METRIC_PER_GROUP || metric->field == ROW_FIELD_COUNT ||
		    !listed(candidates, metric->field))
			continue;
		sample_count(output, name, "", pairs, NULL, listed(current, metric->field));
	}
}


static void exporter_metric(FILE *output, const struct model *model,
			    const struct metric_description *metric)
{
	const struct export_part *part = &model->export;

	switch (metric->value) {
	case METRIC_VALUE_INFO: {
		const char *pairs[] = { "mode", mode_names[model->mode], "kernel_release",
					part->kernel_release, "version", part->version, NULL };

		sample_count(output, metric->name, "", pairs, NULL, 1);
		break;
	}
	case METRIC_VALUE_METRIC_INFERRED:
	case METRIC_VALUE_METRIC_UNAVAILABLE:
		metric_sources(output, model, metric->value == METRIC_VALUE_METRIC_UNAVAILABLE);
		break;
	case METRIC_VALUE_EVENTS_LOST:
		for (int kind = 0; kind < HMMTRACE_LOST_KINDS; kind++) {
			const char *pairs[] = { "kind", lost_kinds[kind].name, NULL };

			sample_count(output, metric->name, "", pairs, NULL, model->lost_total[kind]);
		}
		break;
	case METRIC_VALUE_SERIES_FOLDED:
		sample_count(output, metric->name, "", (const char *[]){ NULL }, NULL,
			     part->series_folded);
		break;
	case METRIC_VALUE_BPF_STATS_ENABLED:
		sample_count(output, metric->name, "", (const char *[]){ NULL }, NULL,
			     part->bpf_stats_enabled);
		break;
	case METRIC_VALUE_PROGRAM_RUN_SECONDS:
	case METRIC_VALUE_PROGRAM_RUNS:
		for (size_t index = 0; index < part->program_count; index++) {
			const struct program_runs *program = &part->programs[index];
			const char *pairs[] = { "program", program->name, NULL };

			if (metric->value == METRIC_VALUE_PROGRAM_RUNS)
				sample_count(output, metric->name, "", pairs, NULL, program->run_count);
			else
				sample_nanoseconds(output, metric->name, "", pairs,
						   program->run_time_ns);
		}
		break;
	case METRIC_VALUE_START_TIME:
		sample_number(output, metric->name, (const char *[]){ NULL }, part->start_time);
		break;
	case METRIC_VALUE_SCRAPE_DURATION:
		sample_number(output, metric->name, (const char *[]){ NULL },
			      monotonic_seconds() - part->read_started);
		break;
	default:
		break;
	}
}

/* HELP text escaping: backslash and newline. */
static void help(FILE *output, const struct metric_description *metric)
{
	fprintf(output, "# HELP %s ", metric->name);
	for (const char *text = metric->help; *text; text++) {
		if (*text == '\\')
			fputs("\\\\", output);
		else if (*text == '\n')
			fputs("\\n", output);
		else
			fputc(*text, output);
	}
	fprintf(output, "\n# TYPE %s %s\n", metric->name, metric_type_names[metric->type]);
}

void prometheus_write(FILE *output, const struct model *model)
{
	for (size_t index = 0; index < METRIC_COUNT; index++) {
		const struct metric_description *metric = &metrics[index];

		help(output, metric);
		if (metric->scope == METRIC_PER_GROUP)
			group_metric(output, model, metric);
		else if (metric->scope == METRIC_PER_RANGE_EVENT)
			range_event_metric(output, model, metric);
		else if (metric->scope == METRIC_PER_CAUSE)
			cause_metric(output, model, metric);
		else
			exporter_metric(output, model, metric);
	}
}
