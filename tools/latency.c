// SPDX-License-Identifier: GPL-2.0-only
/*
 * hmmtrace latency: bcc-style log2 histograms of invalidation ranges
 * (start to end, per event type), the invalidate callback, the read_begin
 * wait and fault-to-mapped time (first read_begin to the hmm_range_fault()
 * that no collision undid), per driver, process or range.
 */
#include <stdio.h>
#include <time.h>

#include "session.h"

struct latency_kind {
	const char *key;	/* in JSON */
	const char *title;
	size_t slots_offset;
	size_t count_offset;
};

static const struct latency_kind kinds[] = {
	{ "invalidate", "invalidate callback", offsetof(struct hmmtrace_stats, invalidate_slots),
	  offsetof(struct hmmtrace_stats, invalidations) },
	{ "read_begin_wait", "read_begin wait", offsetof(struct hmmtrace_stats, wait_slots),
	  offsetof(struct hmmtrace_stats, read_begin_waits) },
	{ "fault_to_mapped", "fault to mapped", offsetof(struct hmmtrace_stats, fault_slots),
	  offsetof(struct hmmtrace_stats, faults_completed) },
};

#define FIELD(stats, offset, type) ((const type *)((const char *)(stats) + (offset)))

static void print_json(struct session *session, double seconds)
{
	struct table *table = &session->table;
	bool first = true;

	printf("{\"time\": %lld, \"subcommand\": \"latency\", \"mode\": \"%s\", %s, "
	       "\"interval_s\": %.3f, \"unit\": \"ns\", \"ranges\": [",
	       (long long)time(NULL), mode_names[session->mode], mode_inferred_json(session->mode),
	       seconds);
	for (int event = 0; event < HMMTRACE_RANGE_EVENTS; event++) {
		const struct hmmtrace_histogram *histogram = &table->range_delta[event];

		if (!histogram->count)
			continue;
		printf("%s{\"event\": \"%s\", \"count\": %llu, \"total_ns\": %llu, \"histogram\": ",
		       first ? "" : ", ", session->range_event_names[event],
		       (unsigned long long)histogram->count, (unsigned long long)histogram->total_ns);
		histogram_print_json(histogram->slots);
		printf("}");
		first = false;
	}
	printf("], \"rows\": [");
	first = true;
	for (size_t index = 0; index < table->count; index++) {
		struct row *row = &table->rows[index];

		if (!row_shown(session, row))
			continue;
		printf("%s{\"group\": ", first ? "" : ", ");
		print_json_string(row->name);
		printf(", \"driver\": ");
		print_json_string(row->driver);
		for (size_t kind = 0; kind < sizeof(kinds) / sizeof(kinds[0]); kind++) {
			printf(", \"%s\": {\"count\": %llu, \"histogram\": ", kinds[kind].key,
			       (unsigned long long)*FIELD(&row->delta, kinds[kind].count_offset, __u64));
			histogram_print_json(FIELD(&row->delta, kinds[kind].slots_offset, __u64));
			printf("}");
		}
		printf("}");
		first = false;
	}
	printf("]}\n");
}

static void print_text(struct session *session, double seconds)
{
	struct table *table = &session->table;
	char title[512];

	printf("\nhmmtrace latency  mode %s  interval %.1f s\n", mode_names[session->mode], seconds);
	for (int event = 0; event < HMMTRACE_RANGE_EVENTS; event++) {
		const struct hmmtrace_histogram *histogram = &table->range_delta[event];

		if (!histogram->count)
			continue;
		snprintf(title, sizeof(title), "invalidation range start -> end, event %s: %llu ranges, "
			 "average %.1f us", session->range_event_names[event],
			 (unsigned long long)histogram->count,
			 histogram->total_ns / 1e3 / histogram->count);
		histogram_print(title, "nsecs", histogram->slots);
	}
	for (size_t index = 0; index < table->count; index++) {
		struct row *row = &table->rows[index];

		if (!row_shown(session, row))
			continue;
		for (size_t kind = 0; kind < sizeof(kinds) / sizeof(kinds[0]); kind++) {
			const __u64 *slots = FIELD(&row->delta, kinds[kind].slots_offset, __u64);

			if (!slots_total(slots))
				continue;
			snprintf(title, sizeof(title), "%s, %s %s (%s)", kinds[kind].title,
				 options.grouping == HMMTRACE_BY_DRIVER ? "driver" : "group",
				 options.grouping == HMMTRACE_BY_DRIVER ? row->driver : row->name,
				 options.grouping == HMMTRACE_BY_DRIVER ? row->name : row->driver);
			histogram_print(title, "nsecs", slots);
		}
	}
}

void latency_print(struct session *session, double seconds)
{
	if (options.json)
		print_json(session, seconds);
	else
		print_text(session, seconds);
	fflush(stdout);
}
