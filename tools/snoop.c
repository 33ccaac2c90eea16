// SPDX-License-Identifier: GPL-2.0-only
/*
 * hmmtrace snoop: every event as it happens, from a ring buffer. Events the
 * buffer had no room for are counted in BPF and reported, never hidden.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "session.h"
#include "hmmtrace.skel.h"
#include "hmmtrace_events.h"

static const char *const event_names[HMMTRACE_EVENT_COUNT] = { HMMTRACE_EVENT_NAMES };
static __u64 first_timestamp_ns;
static unsigned long long events_shown, drops_reported;

/* The short name: the catalog's without its "mmu_interval_"/"mmu_notifier_" prefix. */
static const char *short_name(__u32 event)
{
	const char *name = event < HMMTRACE_EVENT_COUNT ? event_names[event] : "?";

	if (!strncmp(name, "mmu_interval_notifier_", 22))
		return name + 22;
	if (!strncmp(name, "mmu_interval_", 13))
		return name + 13;
	if (!strncmp(name, "mmu_notifier_", 13))
		return name + 13;
	return name;
}

int snoop_event_by_name(const char *name)
{
	for (int event = 0; event < HMMTRACE_EVENT_COUNT; event++)
		if (!strcmp(name, event_names[event]) || !strcmp(name, short_name(event)))
			return event;
	return -1;
}

int snoop_handle_event(void *context, void *record, size_t size)
{
	struct session *session = context;
	const struct hmmtrace_event_record *event = record;
	bool range_event = event->event == HMMTRACE_EVENT_MMU_NOTIFIER_INVALIDATE_RANGE_START ||
			   event->event == HMMTRACE_EVENT_MMU_NOTIFIER_INVALIDATE_RANGE_END;
	char driver[64] = "-", callback[160] = "-";

	if (size < sizeof(*event) || !(options.events_mask & (1U << event->event)))
		return 0;
	if (!range_event)
		kallsyms_driver(session->symbols, event->callback, driver, sizeof(driver), callback,
				sizeof(callback));
	if (options.driver && strcmp(options.driver, driver))
		return 0;
	if (!first_timestamp_ns)
		first_timestamp_ns = event->timestamp_ns;
	events_shown++;
	if (options.json) {
		printf("{\"timestamp_ns\": %llu, \"event\": \"%s\", \"mode\": \"%s\", \"pid\": %u, "
		       "\"tid\": %u, \"comm\": ", (unsigned long long)event->timestamp_ns,
		       event_names[event->event], mode_names[session->mode], event->tgid, event->tid);
		print_json_string(event->comm);
		printf(", \"driver\": ");
		print_json_string(driver);
		printf(", \"callback\": ");
		print_json_string(callback);
		printf(", \"%s\": \"0x%llx\", \"start\": \"0x%llx\", \"end\": \"0x%llx\", "
		       "\"seq\": %llu, \"ret\": %d, \"duration_ns\": %llu, \"waited\": %s, "
		       "\"deferred\": %s, \"inferred\": %s, \"range_event\": ",
		       range_event ? "range" : "interval_sub", (unsigned long long)event->interval_sub,
		       (unsigned long long)event->start, (unsigned long long)event->end,
		       (unsigned long long)event->seq, event->ret,
		       (unsigned long long)event->duration_ns,
		       event->flags & HMMTRACE_FLAG_WAITED ? "true" : "false",
		       event->flags & HMMTRACE_FLAG_DEFERRED ? "true" : "false",
		       event->flags & HMMTRACE_FLAG_INFERRED ? "true" : "false");
		if (range_event || event->event == HMMTRACE_EVENT_MMU_INTERVAL_NOTIFIER_INVALIDATE)
			print_json_string(session->range_event_names[event->range_event <
				HMMTRACE_RANGE_EVENTS ? event->range_event : HMMTRACE_RANGE_EVENTS - 1]);
		else
			printf("null");
		printf("}\n");
		return 0;
	}
	printf("%12.6f %-16s %7u %7u %-26s %-12.12s 0x%012llx-0x%012llx seq %-6llu ret %-4d "
	       "%9.3f us%s%s %s\n", (event->timestamp_ns - first_timestamp_ns) / 1e9, event->comm,
	       event->tid, event->tgid, short_name(event->event), driver,
	       (unsigned long long)event->start, (unsigned long long)event->end,
	       (unsigned long long)event->seq, event->ret, event->duration_ns / 1e3,
	       event->flags & HMMTRACE_FLAG_WAITED ? " waited" : "",
	       event->flags & HMMTRACE_FLAG_DEFERRED ? " deferred" : "",
	       range_event || event->event == HMMTRACE_EVENT_MMU_INTERVAL_NOTIFIER_INVALIDATE ?
	       session->range_event_names[event->range_event < HMMTRACE_RANGE_EVENTS ?
					  event->range_event : HMMTRACE_RANGE_EVENTS - 1] : "");
	return 0;
}

/* Events lost since the last call, from the per-CPU drop counter. */
static unsigned long long new_drops(struct session *session)
{
	int cpus = libbpf_num_possible_cpus();
	__u64 *per_cpu = calloc(cpus, sizeof(*per_cpu)), total = 0;
	__u32 ring = 0;

	if (!per_cpu)
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(session->skeleton->maps.dropped), &ring, per_cpu))
		for (int cpu = 0; cpu < cpus; cpu++)
			total += per_cpu[cpu];
	free(per_cpu);
	total -= drops_reported;
	drops_reported += total;
	return total;
}

void snoop_print_drops(struct session *session, double seconds)
{
	unsigned long long drops = new_drops(session);

	if (options.json)
		printf("{\"time\": %lld, \"subcommand\": \"snoop\", \"mode\": \"%s\", %s, "
		       "\"interval_s\": %.3f, \"events\": %llu, \"dropped\": %llu, "
		       "\"dropped_total\": %llu}\n", (long long)time(NULL), mode_names[session->mode],
		       mode_inferred_json(session->mode), seconds, events_shown, drops,
		       drops_reported);
	else if (drops)
		fprintf(stderr, "hmmtrace: %llu events dropped in the last %.1f s (the ring buffer "
			"was full)\n", drops, seconds);
	events_shown = 0;
	fflush(stdout);
}
