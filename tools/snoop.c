// SPDX-License-Identifier: GPL-2.0-only
/*
 * hmmtrace snoop: every event as it happens, from the `events` ring buffer,
 * each written the moment it arrives. Events the buffer had no room for are
 * counted in BPF and reported with every interval, never hidden.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "model_read.h"

static const char *const event_names[HMMTRACE_EVENT_COUNT] = { HMMTRACE_EVENT_NAMES };

/* The short name: the catalog's without its "mmu_interval_"/"mmu_notifier_" prefix. */
static const char *short_name(__u32 event)
{
	static const char *const prefixes[] = {
		"mmu_interval_notifier_", "mmu_interval_", "mmu_notifier_",
	};
	const char *name = event < HMMTRACE_EVENT_COUNT ? event_names[event] : "?";

	for (size_t index = 0; index < sizeof(prefixes) / sizeof(prefixes[0]); index++)
		if (!strncmp(name, prefixes[index], strlen(prefixes[index])))
			return name + strlen(prefixes[index]);
	return name;
}

int snoop_event_by_name(const char *name)
{
	for (int event = 0; event < HMMTRACE_EVENT_COUNT; event++)
		if (!strcmp(name, event_names[event]) || !strcmp(name, short_name(event)))
			return event;
	return -1;
}

static bool range_scoped(__u32 event)
{
	return event == HMMTRACE_EVENT_MMU_NOTIFIER_INVALIDATE_RANGE_START ||
	       event == HMMTRACE_EVENT_MMU_NOTIFIER_INVALIDATE_RANGE_END;
}

int snoop_handle_event(void *context, void *record, size_t size)
{
	struct model_reader *reader = context;
	struct session *session = reader->session;
	struct snoop_state *state = &reader->snoop;
	const struct hmmtrace_event_record *raw = record;
	char driver[64] = "-", callback[160] = "-";
	struct snoop_event event = { .record = raw, .mode = session->mode };

	/* -e, -p and --driver were applied in BPF: every record here was asked for. */
	if (size < sizeof(*raw) || raw->event >= HMMTRACE_EVENT_COUNT)
		return 0;
	event.range_scoped = range_scoped(raw->event);
	if (!event.range_scoped)
		kallsyms_driver(session->symbols, raw->callback, driver, sizeof(driver), callback,
				sizeof(callback));
	if (!state->first_timestamp_ns)
		state->first_timestamp_ns = raw->timestamp_ns;
	state->events_shown++;
	event.name = event_names[raw->event];
	event.short_name = short_name(raw->event);
	event.driver = driver;
	event.callback = callback;
	if (event.range_scoped || raw->event == HMMTRACE_EVENT_MMU_INTERVAL_NOTIFIER_INVALIDATE)
		event.range_event = session->range_event_names[raw->range_event < HMMTRACE_RANGE_EVENTS ?
							       raw->range_event :
							       HMMTRACE_RANGE_EVENTS - 1];
	event.seconds = (raw->timestamp_ns - state->first_timestamp_ns) / 1e9;
	reader->writer->event(&event);
	return 0;
}

/* Events shown since the last interval, and those the ring buffer had no room for. */
void snoop_read(struct model_reader *reader, struct model *model)
{
	model->snoop.events = reader->snoop.events_shown;
	model->snoop.dropped = model->lost[HMMTRACE_LOST_EVENTS];
	model->snoop.dropped_total = model->lost_total[HMMTRACE_LOST_EVENTS];
	reader->snoop.events_shown = 0;
}
