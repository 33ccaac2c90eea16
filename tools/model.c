// SPDX-License-Identifier: GPL-2.0-only
/*
 * The model's schema (every row field, its type and which subcommand shows
 * it), the fields derived from a row's counters, the row table, and the
 * log2 histogram arithmetic.
 */
#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

const char *const subcommand_names[SUBCOMMAND_COUNT] = {
	"top", "latency", "retries", "snoop", "export", "causes",
};
const char *const grouping_names[] = { "driver", "process", "range" };

/* enum hmmtrace_lost by the name every writer gives it, and what it costs. */
const struct lost_kind lost_kinds[HMMTRACE_LOST_KINDS] = {
	[HMMTRACE_LOST_EVENTS] = { "events", "snoop records the ring buffer had no room for" },
	[HMMTRACE_LOST_REPORTS] = { "reports", "retry reports the ring buffer had no room for" },
	[HMMTRACE_LOST_STATS] = { "stats", "events not counted: the stats map is full" },
	[HMMTRACE_LOST_CAUSES] = { "causes", "invalidations not attributed: the causes map is full" },
	[HMMTRACE_LOST_STACKS] = { "stacks", "invalidations counted without their stack: no room "
				   "in the stacks map (full, or the hash bucket taken)" },
	[HMMTRACE_LOST_SUBSCRIPTIONS] = { "subscriptions", "events not counted: the subscriptions "
					  "map is full" },
	[HMMTRACE_LOST_FAULTS] = { "faults", "faults not followed (their completion and go-rounds "
				   "untold): the faults map is full, or a task's storage or slots" },
	[HMMTRACE_LOST_PENDING] = { "pending", "calls not counted: the pending map is full" },
	[HMMTRACE_LOST_RANGE_STARTS] = { "range_starts", "invalidation ranges not timed: the "
					 "range_starts (or pending) map is full" },
	[HMMTRACE_LOST_INVALIDATORS] = { "invalidators", "invalidating tasks not remembered for "
					 "livelock reports: the invalidators map is full" },
	[HMMTRACE_LOST_RECURSION] = { "recursion", "events the kernel did not run hmmtrace for: "
				      "its program was already running on that CPU" },
};

__u64 lost_sum(const __u64 lost[HMMTRACE_LOST_KINDS])
{
	__u64 sum = 0;

	for (int kind = 0; kind < HMMTRACE_LOST_KINDS; kind++)
		sum += lost[kind];
	return sum;
}

const struct field_description row_fields[ROW_FIELD_COUNT] = ROW_FIELD_DESCRIPTIONS;

static const enum row_field top_fields[] = { TOP_ROW_FIELDS };
static const enum row_field latency_fields[] = { LATENCY_ROW_FIELDS };
static const enum row_field retries_fields[] = { RETRIES_ROW_FIELDS };

#define VIEW(fields) { fields, sizeof(fields) / sizeof(fields[0]) }
const struct row_view top_row_view = VIEW(top_fields);
const struct row_view latency_row_view = VIEW(latency_fields);
const struct row_view retries_row_view = VIEW(retries_fields);

static const __u64 *stats_member(const struct hmmtrace_stats *stats, size_t offset)
{
	return (const __u64 *)((const char *)stats + offset);
}

static struct field_value derived_value(const struct row *row, const struct hmmtrace_stats *stats,
					enum field_type type, enum derived_value derived)
{
	struct field_value value = { .type = type };

	if (derived == DERIVED_RETRY_RATIO)
		value.ratio = row->retry_ratio;
	else if (derived == DERIVED_STORM)
		value.flag = row->storm;
	else if (derived == DERIVED_INVALIDATE_P50_NS)
		value.count = row->invalidate_p50_ns;
	else if (derived == DERIVED_INVALIDATE_P99_NS)
		value.count = row->invalidate_p99_ns;
	else
		value.count = stats->read_retries + stats->range_fault_ebusy;
	return value;
}

struct field_value row_value_of(const struct row *row, const struct hmmtrace_stats *stats,
				enum row_field field)
{
	const struct field_description *description = &row_fields[field];
	struct field_value value = { .type = description->type };

	if (description->source == ROW_SOURCE_DERIVED)
		return derived_value(row, stats, description->type, description->derived);
	if (description->source == ROW_SOURCE_COUNTER) {
		value.count = *stats_member(stats, description->counter);
		return value;
	}
	value.histogram.slots = stats_member(stats, description->slots);
	if (description->type == FIELD_TIMED_HISTOGRAM)
		value.histogram.count = *stats_member(stats, description->counter);
	return value;
}

struct field_value row_value(const struct row *row, enum row_field field)
{
	return row_value_of(row, &row->delta, field);
}

__u64 slots_total(const __u64 *slots)
{
	__u64 total = 0;

	for (int slot = 0; slot < HMMTRACE_SLOTS; slot++)
		total += slots[slot];
	return total;
}

/* ceil-log2 buckets: slot 0 holds 0, slot 1 holds 1, slot k >= 2 holds [2^(k-2) + 1, 2^(k-1)]. */
__u64 slot_low(int slot)
{
	return slot >= 2 ? (1ULL << (slot - 2)) + 1 : (__u64)slot;
}

__u64 slot_high(int slot)
{
	return slot >= 1 ? 1ULL << (slot - 1) : 0;
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
			return slot_high(slot);
	}
	return slot_high(HMMTRACE_SLOTS - 1);
}
