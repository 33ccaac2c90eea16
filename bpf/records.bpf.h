/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The two ring buffers' records: `events` for snoop, `reports` for
 * livelocks and retry streaks. A record the buffer has no room for is
 * counted in `lost`, never lost silently. A record nobody asked for
 * (snoop -e, --driver, -p) is never reserved, so it takes no room and is
 * no drop.
 */
#ifndef HMMTRACE_RECORDS_BPF_H
#define HMMTRACE_RECORDS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "hmmtrace.h"
#include "kernel_access.bpf.h"
#include "knobs.bpf.h"
#include "maps.bpf.h"

static __always_inline void count_lost(__u32 kind)
{
	__u64 *drops = bpf_map_lookup_elem(&lost, &kind);

	if (drops)
		(*drops)++;
}

/*
 * A snooped event's record, NULL unless `snoop -e` asked for EVENT (and the
 * ring had room). The subscription's fields are filled (INTERVAL_SUB is NULL
 * for range events); the caller sets the event's own.
 */
static __always_inline struct hmmtrace_event_record *
snoop_record(__u32 event, const struct mmu_interval_notifier *interval_sub, __u32 tgid,
	     bool btf_typed)
{
	struct hmmtrace_event_record *record;

	if (!(snoop_events & (1U << event)))
		return NULL;
	record = bpf_ringbuf_reserve(&events, sizeof(*record), 0);
	if (!record) {
		count_lost(HMMTRACE_LOST_EVENTS);
		return NULL;
	}
	record->timestamp_ns = bpf_ktime_get_ns();
	record->interval_sub = (__u64)interval_sub;
	record->callback = interval_sub ? callback_of(interval_sub, btf_typed) : 0;
	record->start = interval_sub ? KERNEL_FIELD(btf_typed, interval_sub, interval_tree.start) : 0;
	record->end = interval_sub ? KERNEL_FIELD(btf_typed, interval_sub, interval_tree.last) + 1 : 0;
	record->seq = 0;
	record->duration_ns = 0;
	record->ret = 0;
	record->event = event;
	record->tid = current_tid();
	record->tgid = tgid;
	record->flags = 0;
	record->range_event = 0;
	bpf_get_current_comm(record->comm, sizeof(record->comm));
	return record;
}

/*
 * Snoop an event if asked: the assignments that follow (to `record`, the
 * snoop_record()) run only then, and the record is submitted.
 */
#define SNOOP(event, interval_sub, tgid, btf_typed, ...)				\
	do {										\
		struct hmmtrace_event_record *record =					\
			snoop_record(event, interval_sub, tgid, btf_typed);		\
											\
		if (record) {								\
			__VA_ARGS__;							\
			bpf_ringbuf_submit(record, 0);					\
		}									\
	} while (0)

/* A livelock (with the retrying task's stacks) or a retry streak, into `reports`. */
static __always_inline void report(void *ctx, __u32 kind,
				   const struct mmu_interval_notifier *interval_sub,
				   const struct hmmtrace_fault_summary *fault, __u64 now)
{
	struct hmmtrace_invalidator *invalidator;
	struct hmmtrace_report *record;
	__u64 key = (__u64)interval_sub;

	record = bpf_ringbuf_reserve(&reports, sizeof(*record), 0);
	if (!record) {
		count_lost(HMMTRACE_LOST_REPORTS);
		return;
	}
	record->kind = kind;
	record->tid = current_tid();
	record->tgid = fault->tgid;
	record->retries = fault->retries;
	record->began_unseen = fault->began_unseen;
	record->padding = 0;
	record->interval_sub = key;
	record->callback = callback_of(interval_sub, false);
	record->start = BPF_CORE_READ(interval_sub, interval_tree.start);
	record->last = BPF_CORE_READ(interval_sub, interval_tree.last);
	record->started_ns = fault->started_ns;
	record->duration_ns = now - fault->started_ns;
	__builtin_memcpy(record->comm, fault->comm, sizeof(record->comm));
	invalidator = bpf_map_lookup_elem(&invalidators, &key);
	if (invalidator) {
		record->invalidator = *invalidator;
	} else {
		__builtin_memset(&record->invalidator, 0, sizeof(record->invalidator));
		record->invalidator.stack_id = -1;
	}
	if (kind == HMMTRACE_REPORT_LIVELOCK) {
		record->kernel_stack_bytes = bpf_get_stack(ctx, record->kernel_stack,
							   sizeof(record->kernel_stack), 0);
		record->user_stack_bytes = bpf_get_stack(ctx, record->user_stack,
							 sizeof(record->user_stack),
							 BPF_F_USER_STACK);
	} else {
		record->kernel_stack_bytes = -1;
		record->user_stack_bytes = -1;
	}
	bpf_ringbuf_submit(record, 0);
}

#endif /* HMMTRACE_RECORDS_BPF_H */
