// SPDX-License-Identifier: GPL-2.0-only
/*
 * The model's schema (every row field, its type and which subcommand shows
 * it), the fields derived from a row's counters, the row table, and the
 * log2 histogram arithmetic.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

const char *const subcommand_names[] = { "top", "latency", "retries", "snoop" };
const char *const grouping_names[] = { "driver", "process", "range" };

const struct field_description row_fields[ROW_FIELD_COUNT] = {
	[ROW_INSERTS] = { "inserts", FIELD_COUNT, "interval subscriptions added" },
	[ROW_REMOVES] = { "removes", FIELD_COUNT, "interval subscriptions removed" },
	[ROW_INVALIDATIONS] = { "invalidations", FIELD_COUNT, "ops->invalidate calls" },
	[ROW_INVALIDATE_FAILURES] = { "invalidate_failures", FIELD_COUNT,
				      "invalidate calls that returned false" },
	[ROW_INVALIDATE_P50] = { "invalidate_p50_ns", FIELD_NANOSECONDS,
				 "invalidate callback median, upper bound of its log2 bucket" },
	[ROW_INVALIDATE_P99] = { "invalidate_p99_ns", FIELD_NANOSECONDS,
				 "invalidate callback 99th percentile, upper bound of its log2 bucket" },
	[ROW_READ_BEGINS] = { "read_begins", FIELD_COUNT, "mmu_interval_read_begin() calls" },
	[ROW_READ_BEGIN_WAITS] = { "read_begin_waits", FIELD_COUNT,
				   "read_begins that slept on an invalidation in progress" },
	[ROW_READ_BEGIN_WAIT_TIME] = { "read_begin_wait_ns", FIELD_NANOSECONDS,
				       "time read_begins slept" },
	[ROW_READ_RETRIES] = { "read_retries", FIELD_COUNT,
			       "mmu_interval_read_retry() collisions" },
	[ROW_CHECK_RETRIES] = { "check_retries", FIELD_COUNT,
				"mmu_interval_check_retry() collisions" },
	[ROW_FAULT_RANGES] = { "range_faults", FIELD_COUNT, "hmm_range_fault() calls" },
	[ROW_FAULT_RANGE_EBUSY] = { "range_fault_ebusy", FIELD_COUNT,
				    "hmm_range_fault() calls that returned -EBUSY" },
	[ROW_FAULTS_COMPLETED] = { "faults_completed", FIELD_COUNT,
				   "faults that no collision undid" },
	[ROW_RETRY_RATIO] = { "retry_ratio", FIELD_RATIO, "go-rounds per completed fault" },
	[ROW_STORM] = { "storm", FIELD_FLAG,
			"over 1000 invalidations/s, or a retry ratio of 1 or more" },
	[ROW_INVALIDATE_LATENCY] = { "invalidate", FIELD_TIMED_HISTOGRAM, "invalidate callback" },
	[ROW_READ_BEGIN_WAIT_LATENCY] = { "read_begin_wait", FIELD_TIMED_HISTOGRAM,
					  "read_begin wait" },
	[ROW_FAULT_TO_MAPPED_LATENCY] = { "fault_to_mapped", FIELD_TIMED_HISTOGRAM,
					  "fault to mapped" },
	[ROW_RETRIES_PER_FAULT] = { "retries_per_fault", FIELD_HISTOGRAM, "retries per fault" },
	[ROW_GO_ROUNDS] = { "go_rounds", FIELD_COUNT,
			    "read_retry collisions and hmm_range_fault() -EBUSY" },
};

static const enum row_field top_fields[] = {
	ROW_INSERTS, ROW_REMOVES, ROW_INVALIDATIONS, ROW_INVALIDATE_FAILURES, ROW_INVALIDATE_P50,
	ROW_INVALIDATE_P99, ROW_READ_BEGINS, ROW_READ_BEGIN_WAITS, ROW_READ_BEGIN_WAIT_TIME,
	ROW_READ_RETRIES, ROW_CHECK_RETRIES, ROW_FAULT_RANGES, ROW_FAULT_RANGE_EBUSY,
	ROW_FAULTS_COMPLETED, ROW_RETRY_RATIO, ROW_STORM,
};
static const enum row_field latency_fields[] = {
	ROW_INVALIDATE_LATENCY, ROW_READ_BEGIN_WAIT_LATENCY, ROW_FAULT_TO_MAPPED_LATENCY,
};
static const enum row_field retries_fields[] = {
	ROW_FAULTS_COMPLETED, ROW_READ_RETRIES, ROW_FAULT_RANGE_EBUSY, ROW_RETRIES_PER_FAULT,
};

#define VIEW(fields) { fields, sizeof(fields) / sizeof(fields[0]) }
const struct row_view top_row_view = VIEW(top_fields);
const struct row_view latency_row_view = VIEW(latency_fields);
const struct row_view retries_row_view = VIEW(retries_fields);

static struct field_value count_value(__u64 count)
{
	return (struct field_value){ .type = FIELD_COUNT, .count = count };
}

static struct field_value duration_value(__u64 nanoseconds)
{
	return (struct field_value){ .type = FIELD_NANOSECONDS, .count = nanoseconds };
}

static struct field_value histogram_value(enum field_type type, __u64 count, const __u64 *slots)
{
	return (struct field_value){ .type = type, .histogram = { count, slots } };
}

struct field_value row_value(const struct row *row, enum row_field field)
{
	const struct hmmtrace_stats *delta = &row->delta;

	switch (field) {
	case ROW_INSERTS:
		return count_value(delta->inserts);
	case ROW_REMOVES:
		return count_value(delta->removes);
	case ROW_INVALIDATIONS:
		return count_value(delta->invalidations);
	case ROW_INVALIDATE_FAILURES:
		return count_value(delta->invalidate_failures);
	case ROW_INVALIDATE_P50:
		return duration_value(row->invalidate_p50_ns);
	case ROW_INVALIDATE_P99:
		return duration_value(row->invalidate_p99_ns);
	case ROW_READ_BEGINS:
		return count_value(delta->read_begins);
	case ROW_READ_BEGIN_WAITS:
		return count_value(delta->read_begin_waits);
	case ROW_READ_BEGIN_WAIT_TIME:
		return duration_value(delta->read_begin_wait_ns);
	case ROW_READ_RETRIES:
		return count_value(delta->read_retries);
	case ROW_CHECK_RETRIES:
		return count_value(delta->check_retries);
	case ROW_FAULT_RANGES:
		return count_value(delta->range_faults);
	case ROW_FAULT_RANGE_EBUSY:
		return count_value(delta->range_fault_ebusy);
	case ROW_FAULTS_COMPLETED:
		return count_value(delta->faults_completed);
	case ROW_RETRY_RATIO:
		return (struct field_value){ .type = FIELD_RATIO, .ratio = row->retry_ratio };
	case ROW_STORM:
		return (struct field_value){ .type = FIELD_FLAG, .flag = row->storm };
	case ROW_INVALIDATE_LATENCY:
		return histogram_value(FIELD_TIMED_HISTOGRAM, delta->invalidations,
				       delta->invalidate_slots);
	case ROW_READ_BEGIN_WAIT_LATENCY:
		return histogram_value(FIELD_TIMED_HISTOGRAM, delta->read_begin_waits,
				       delta->wait_slots);
	case ROW_FAULT_TO_MAPPED_LATENCY:
		return histogram_value(FIELD_TIMED_HISTOGRAM, delta->faults_completed,
				       delta->fault_slots);
	case ROW_GO_ROUNDS:
		return count_value(delta->read_retries + delta->range_fault_ebusy);
	case ROW_RETRIES_PER_FAULT:
	default:
		return histogram_value(FIELD_HISTOGRAM, 0, delta->retries_per_fault_slots);
	}
}

__u64 slots_total(const __u64 *slots)
{
	__u64 total = 0;

	for (int slot = 0; slot < HMMTRACE_SLOTS; slot++)
		total += slots[slot];
	return total;
}

/* bcc's log2 buckets: slot 0 holds 0, slot k holds [2^(k-1), 2^k - 1]. */
__u64 slot_low(int slot)
{
	return slot ? 1ULL << (slot - 1) : 0;
}

__u64 slot_high(int slot)
{
	return slot ? (1ULL << slot) - 1 : 0;
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
