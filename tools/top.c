// SPDX-License-Identifier: GPL-2.0-only
/*
 * hmmtrace top: one row per driver, process or range, refreshed each
 * interval, sorted by any column. Storms are flagged: a row invalidating
 * more than STORM_INVALIDATIONS_PER_SECOND, or going round more often than
 * it completes faults (a retry ratio of 1 or more).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "session.h"

#define STORM_INVALIDATIONS_PER_SECOND 1000.0

static double interval_seconds;

static double per_second(__u64 count)
{
	return interval_seconds > 0 ? count / interval_seconds : 0;
}

static bool storm(const struct row *row)
{
	return per_second(row->delta.invalidations) >= STORM_INVALIDATIONS_PER_SECOND ||
	       retry_ratio(&row->delta) >= 1.0;
}

static double sort_value(const struct row *row)
{
	const struct hmmtrace_stats *delta = &row->delta;

	switch (options.sort) {
	case SORT_P99:
		return histogram_percentile(delta->invalidate_slots, delta->invalidations, 0.99);
	case SORT_WAITS:
		return delta->read_begin_wait_ns;
	case SORT_RETRIES:
		return delta->read_retries + delta->range_fault_ebusy;
	case SORT_RATIO:
		return retry_ratio(delta);
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

static int by_sort_column(const void *left, const void *right)
{
	const struct row *a = left, *b = right;
	double first, second;

	if (options.sort == SORT_GROUP)
		return strcmp(a->name, b->name);
	first = sort_value(a);
	second = sort_value(b);
	return first < second ? 1 : first > second ? -1 : 0;
}

static void print_row_json(const struct row *row, bool first)
{
	const struct hmmtrace_stats *delta = &row->delta;
	double ratio = retry_ratio(delta);

	printf("%s{\"group\": ", first ? "" : ", ");
	print_json_string(row->name);
	printf(", \"driver\": ");
	print_json_string(row->driver);
	printf(", \"inserts\": %llu, \"removes\": %llu, \"invalidations\": %llu, "
	       "\"invalidate_failures\": %llu, \"invalidate_p50_ns\": %llu, "
	       "\"invalidate_p99_ns\": %llu, \"read_begins\": %llu, \"read_begin_waits\": %llu, "
	       "\"read_begin_wait_ns\": %llu, \"read_retries\": %llu, \"check_retries\": %llu, "
	       "\"range_faults\": %llu, \"range_fault_ebusy\": %llu, \"faults_completed\": %llu, ",
	       (unsigned long long)delta->inserts, (unsigned long long)delta->removes,
	       (unsigned long long)delta->invalidations,
	       (unsigned long long)delta->invalidate_failures,
	       (unsigned long long)histogram_percentile(delta->invalidate_slots,
							delta->invalidations, 0.5),
	       (unsigned long long)histogram_percentile(delta->invalidate_slots,
							delta->invalidations, 0.99),
	       (unsigned long long)delta->read_begins, (unsigned long long)delta->read_begin_waits,
	       (unsigned long long)delta->read_begin_wait_ns,
	       (unsigned long long)delta->read_retries, (unsigned long long)delta->check_retries,
	       (unsigned long long)delta->range_faults,
	       (unsigned long long)delta->range_fault_ebusy,
	       (unsigned long long)delta->faults_completed);
	/* JSON has no infinity: a fault that never completes is null. */
	if (isinf(ratio))
		printf("\"retry_ratio\": null");
	else
		printf("\"retry_ratio\": %.4f", ratio);
	printf(", \"storm\": %s}", storm(row) ? "true" : "false");
}

static void print_row_text(const struct row *row)
{
	const struct hmmtrace_stats *delta = &row->delta;

	printf("%c %-38.38s %-12.12s %9.0f %9.1f %9.1f %8llu %9.1f %8.0f %7.2f %7.0f %7llu %7llu\n",
	       storm(row) ? '!' : ' ', row->name, row->driver, per_second(delta->invalidations),
	       histogram_percentile(delta->invalidate_slots, delta->invalidations, 0.5) / 1000.0,
	       histogram_percentile(delta->invalidate_slots, delta->invalidations, 0.99) / 1000.0,
	       (unsigned long long)delta->read_begin_waits, delta->read_begin_wait_ns / 1e6,
	       per_second(delta->read_retries + delta->range_fault_ebusy), retry_ratio(delta),
	       per_second(delta->range_fault_ebusy), (unsigned long long)delta->inserts,
	       (unsigned long long)delta->removes);
}

void top_print(struct session *session, double seconds)
{
	static const char *const grouping_names[] = { "driver", "process", "range" };
	struct table *table = &session->table;
	struct row *shown = calloc(table->count + 1, sizeof(*shown));
	size_t shown_count = 0;

	if (!shown)
		return;
	interval_seconds = seconds;
	for (size_t index = 0; index < table->count; index++) {
		struct row *row = &table->rows[index];

		if (row_shown(session, row))
			shown[shown_count++] = *row;
	}
	qsort(shown, shown_count, sizeof(*shown), by_sort_column);
	if (options.json) {
		printf("{\"time\": %lld, \"subcommand\": \"top\", \"mode\": \"%s\", %s, "
		       "\"by\": \"%s\", \"interval_s\": %.3f, \"rows\": [",
		       (long long)time(NULL), mode_names[session->mode],
		       mode_inferred_json(session->mode), grouping_names[options.grouping], seconds);
		for (size_t index = 0; index < shown_count; index++)
			print_row_json(&shown[index], index == 0);
		printf("]}\n");
	} else {
		printf("\nhmmtrace top  mode %s  by %s  interval %.1f s%s\n", mode_names[session->mode],
		       grouping_names[options.grouping], seconds,
		       mode_observes_everything(session->mode) ? "" : "  (RETRY/s, WAITS inferred)");
		printf("  %-38s %-12s %9s %9s %9s %8s %9s %8s %7s %7s %7s %7s\n", "GROUP", "DRIVER",
		       "INVAL/s", "P50(us)", "P99(us)", "WAITS", "WAIT(ms)", "RETRY/s", "RATIO",
		       "EBUSY/s", "INSERT", "REMOVE");
		for (size_t index = 0; index < shown_count; index++)
			print_row_text(&shown[index]);
	}
	fflush(stdout);
	free(shown);
}
