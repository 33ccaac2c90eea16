/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The counting, one count_*() per event, shared by every attach mode (the
 * bpf/attach_*.bpf.c files feed it) and by the bench's carrier. BTF_TYPED
 * says the pointers are BTF-typed (see bpf/kernel_access.bpf.h).
 *
 * Aggregates are cumulative maps (hot_group_stats, then stats; per CPU,
 * but by subscription, see stats_add()), so no event is lost between user
 * space's reads. Faults are tracked per task
 * and subscription in every mode (completed faults are top's ratio
 * denominator); stacks, the livelock detector, range timing and the event
 * stream are switched on by knobs, so `top` does not pay for them. An
 * invalidation, the event that storms, costs `top` array lookups the
 * verifier inlines (see hot_slot()).
 */
#ifndef HMMTRACE_COUNTING_BPF_H
#define HMMTRACE_COUNTING_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "hmmtrace.h"
#include "hmmtrace_events.h"
#include "causes.bpf.h"
#include "faults.bpf.h"
#include "groups.bpf.h"
#include "histograms.bpf.h"
#include "kernel_access.bpf.h"
#include "knobs.bpf.h"
#include "maps.bpf.h"
#include "records.bpf.h"

#define EBUSY 16

static __always_inline int count_insert(const struct mmu_interval_notifier *interval_sub,
					bool deferred, bool btf_typed)
{
	struct hmmtrace_subscription *subscription;
	struct hmmtrace_stats *stats;
	__u64 key = (__u64)interval_sub;
	__u32 tgid;

	/* A new subscription may reuse a removed one's address: forget that one. */
	subscriptions_changed();
	bpf_map_delete_elem(&subscriptions, &key);
	subscription = subscription_of(interval_sub, btf_typed);
	tgid = subscription ? subscription->tgid : 0;
	if (tgid)
		learn_owner(KERNEL_FIELD(btf_typed, interval_sub, mm), tgid);
	if (!subscription) {
		count_lost(HMMTRACE_LOST_SUBSCRIPTIONS);
		return 0;
	}
	if (!wanted(tgid, subscription->invalidate))
		return 0;
	stats = stats_slot(interval_sub, group_of(interval_sub, subscription->invalidate, tgid),
			   btf_typed);
	if (stats)
		stats_add(stats->inserts, 1);
	SNOOP(HMMTRACE_EVENT_MMU_INTERVAL_NOTIFIER_INSERT, interval_sub, tgid, btf_typed,
	      record->seq = KERNEL_FIELD(btf_typed, interval_sub, invalidate_seq),
	      record->flags = deferred ? HMMTRACE_FLAG_DEFERRED : 0);
	return 0;
}

static __always_inline int count_remove(const struct mmu_interval_notifier *interval_sub,
					bool waited, __u64 wait_ns, bool btf_typed)
{
	__u64 key = (__u64)interval_sub;
	struct event_slot slot;

	/* Marked even when not counted (-p, --driver, a full map), so that user space reclaims it. */
	forget_subscription(interval_sub);
	subscriptions_changed();
	/*
	 * Its last invalidation can charge no refault now, and would charge a
	 * false one to an insert at the same address; left, it fills its LRU
	 * with the dead (the soak saw it grow by one per churned process).
	 */
	if (attribute_causes)
		bpf_map_delete_elem(&last_invalidations, &key);
	if (!lookup_subscription_event(interval_sub, btf_typed, &slot))
		return 0;
	stats_add(slot.stats->removes, 1);
	SNOOP(HMMTRACE_EVENT_MMU_INTERVAL_NOTIFIER_REMOVE, interval_sub, slot.tgid, btf_typed,
	      record->duration_ns = wait_ns, record->flags = waited ? HMMTRACE_FLAG_WAITED : 0);
	/*
	 * The subscription's entry stays: user space names rows and retry
	 * lists with it after the remove, then deletes it (tools/reclaim.c);
	 * an insert at the same address replaces it before that.
	 */
	if (capture_invalidators)
		bpf_map_delete_elem(&invalidators, &key);
	return 0;
}

/*
 * retries: whether an invalidation of INTERVAL_SUB at NOW can make a fault
 * of its slot go round: one is in flight, or completed so recently that the
 * driver's read_retry may still find the collision (collision_window_ns;
 * see faults_in_flight).
 */
static __always_inline bool fault_in_flight(const struct mmu_interval_notifier *interval_sub,
					    __u64 now)
{
	struct fault_flight *flight = faults_in_flight_of(interval_sub);

	return flight && (flight->in_flight > 0 ||
			  (__s64)(now - flight->completed_ns) <= (__s64)collision_window_ns);
}

/*
 * retries: the subscription's latest invalidating task, for livelock
 * reports. Only one that could make a fault go round (fault_in_flight())
 * can be a livelock's cause: its stack is taken, and a later invalidation
 * that could not does not replace it. Others cost no stack, which costs
 * microseconds. The entry is rewritten in place: no hash update but the
 * subscription's first, though a report on another CPU may then copy
 * fields of two invalidations.
 */
static __always_inline void remember_invalidator(void *ctx,
						 const struct mmu_interval_notifier *interval_sub)
{
	__u64 key = (__u64)interval_sub;
	struct hmmtrace_invalidator *known = bpf_map_lookup_elem(&invalidators, &key);
	struct hmmtrace_invalidator fresh = {};
	struct hmmtrace_invalidator *invalidator = known ? known : &fresh;
	__u64 now = bpf_ktime_get_ns();
	bool could_collide = fault_in_flight(interval_sub, now);

	if (known && known->stack_id >= 0 && !could_collide)
		return;
	invalidator->timestamp_ns = now;
	invalidator->tid = current_tid();
	invalidator->tgid = current_tgid();
	invalidator->stack_id = could_collide ? bpf_get_stackid(ctx, &stacks, 0) : -1;
	bpf_get_current_comm(invalidator->comm, sizeof(invalidator->comm));
	if (!known && bpf_map_update_elem(&invalidators, &key, &fresh, BPF_ANY))
		count_lost(HMMTRACE_LOST_INVALIDATORS);
}

/* The hot path: no helper call for `top`, unless a knob asks for more. */
static __always_inline int count_invalidate(void *ctx,
					    const struct mmu_interval_notifier *interval_sub,
					    const struct mmu_notifier_range *range,
					    __u64 cur_seq, bool ret, __u64 duration_ns, bool btf_typed)
{
	struct invalidation_extent extent;
	struct event_slot slot;
	struct hmmtrace_stats *stats;

	if (!lookup_subscription_event(interval_sub, btf_typed, &slot))
		return 0;
	extent = invalidation_extent(interval_sub, range, btf_typed);
	stats = slot.stats;
	stats_add(stats->invalidations, 1);
	stats_add(stats->invalidate_failures, !ret);
	stats_add(stats->invalidate_ns, duration_ns);
	stats_add(stats->invalidated_pages, extent.pages);
	stats_add(stats->invalidate_all, extent.covers_all);
	histogram_add(stats->invalidate_slots, duration_ns);
	if (size_histograms)
		histogram_add(stats->invalidated_pages_slots, extent.pages);
	if (attribute_causes)
		count_cause(ctx, interval_sub, range, slot.callback, &extent, duration_ns, btf_typed);
	if (capture_invalidators)
		remember_invalidator(ctx, interval_sub);
	SNOOP(HMMTRACE_EVENT_MMU_INTERVAL_NOTIFIER_INVALIDATE, interval_sub, slot.tgid, btf_typed,
	      record->seq = cur_seq, record->ret = ret, record->duration_ns = duration_ns,
	      record->range_event = KERNEL_FIELD(btf_typed, range, event));
	return 0;
}

static __always_inline int count_read_begin(void *ctx,
					    const struct mmu_interval_notifier *interval_sub,
					    __u64 seq, bool waited, __u64 wait_ns, bool btf_typed)
{
	struct event_slot slot;

	if (!lookup_fault_event(interval_sub, btf_typed, &slot))
		return 0;
	if (waited) {
		stats_add(slot.stats->read_begin_waits, 1);
		stats_add(slot.stats->read_begin_wait_ns, wait_ns);
		histogram_add(slot.stats->wait_slots, wait_ns);
	}
	stats_add(slot.stats->read_begins, 1);
	fault_began(ctx, interval_sub, &slot, seq, btf_typed);
	SNOOP(HMMTRACE_EVENT_MMU_INTERVAL_READ_BEGIN, interval_sub, slot.tgid, btf_typed,
	      record->seq = seq, record->duration_ns = wait_ns,
	      record->flags = waited ? HMMTRACE_FLAG_WAITED : 0);
	return 0;
}

/* A read_retry or check_retry collision (EVENT), observed: tracepoint modes only. */
static __always_inline int count_retry(void *ctx, const struct mmu_interval_notifier *interval_sub,
				       __u32 event, __u64 seq, bool btf_typed)
{
	struct event_slot slot;

	if (!lookup_fault_event(interval_sub, btf_typed, &slot))
		return 0;
	if (event == HMMTRACE_EVENT_MMU_INTERVAL_READ_RETRY) {
		stats_add(slot.stats->read_retries, 1);
		fault_retried(ctx, interval_sub, &slot, 0, false);
	} else {
		/* Inside hmm_range_fault(), its -EBUSY counts the go-round. */
		stats_add(slot.stats->check_retries, 1);
	}
	SNOOP(event, interval_sub, slot.tgid, btf_typed, record->seq = seq);
	return 0;
}

/*
 * hmm_range_fault() of INTERVAL_SUB returned RET; RANGE is read only for
 * latency's fault sizes and snoop's records (the bench's carrier passes a
 * subscription alone: its host may have no struct hmm_range).
 */
static __always_inline int count_range_fault_of(void *ctx,
						const struct mmu_interval_notifier *interval_sub,
						const struct hmm_range *range, int ret,
						__u64 duration_ns, bool btf_typed)
{
	struct event_slot slot;

	if (!lookup_fault_event(interval_sub, btf_typed, &slot))
		return 0;
	stats_add(slot.stats->range_faults, 1);
	if (time_fault_sizes)
		count_fault_size(range, slot.callback, duration_ns, btf_typed);
	if (ret == -EBUSY) {
		stats_add(slot.stats->range_fault_ebusy, 1);
		fault_retried(ctx, interval_sub, &slot, 0, true);
	} else if (!ret) {
		stats_add(slot.stats->range_fault_successes, 1);
		fault_completed(ctx, interval_sub, &slot);
	} else {
		stats_add(slot.stats->range_fault_errors, 1);
	}
	SNOOP(HMMTRACE_EVENT_HMM_RANGE_FAULT, interval_sub, slot.tgid, btf_typed,
	      record->seq = KERNEL_FIELD(btf_typed, range, notifier_seq),
	      record->start = KERNEL_FIELD(btf_typed, range, start),
	      record->end = KERNEL_FIELD(btf_typed, range, end),
	      record->ret = ret, record->duration_ns = duration_ns);
	return 0;
}

static __always_inline int count_range_fault(void *ctx, const struct hmm_range *range, int ret,
					     __u64 duration_ns, bool btf_typed)
{
	return count_range_fault_of(ctx, KERNEL_FIELD(btf_typed, range, notifier), range, ret,
				    duration_ns, btf_typed);
}

/*
 * Invalidation ranges (struct mmu_notifier_range) start and end: they matter
 * to `latency` and `snoop`; without CONFIG_MEMCG, starts also teach
 * kworkers' events their owner. User space attaches them only when one of
 * those needs them.
 *
 * A range belongs to an address space, not to a driver: -p filters them,
 * --driver does not filter latency's range histograms, and snoop shows no
 * range records with --driver (they name no driver).
 */
static __always_inline bool range_snooped(__u32 event)
{
	return !driver_callback_count && (snoop_events & (1U << event));
}

/* The records of a range event: the range's address in interval_sub. */
#define SNOOP_RANGE(event, range, tgid, btf_typed, ...)				\
	do {									\
		if (range_snooped(event))					\
			SNOOP(event, NULL, tgid, btf_typed,			\
			      record->interval_sub = (__u64)(range),		\
			      record->start = KERNEL_FIELD(btf_typed, range, start), \
			      record->end = KERNEL_FIELD(btf_typed, range, end),	\
			      __VA_ARGS__);					\
	} while (0)

static __always_inline int range_started(const struct mmu_notifier_range *range, bool btf_typed,
					 int ret, __u64 started_ns, __u64 duration_ns)
{
	const struct mm_struct *mm = KERNEL_FIELD(btf_typed, range, mm);
	__u64 key = (__u64)range;
	__u32 tgid = owner_of(mm, btf_typed);

	/* Ranges start in the owner's context: kworkers' events learn it here. */
	if (tgid && !kernel_has_mm_owner())
		learn_owner(mm, tgid);
	if (!process_wanted(tgid) || !(time_ranges || snoop_events))
		return 0;
	/* A failed non-blockable start is never ended. */
	if (ret)
		bpf_map_delete_elem(&range_starts, &key);
	else if (bpf_map_update_elem(&range_starts, &key, &started_ns, BPF_ANY))
		count_lost(HMMTRACE_LOST_RANGE_STARTS);
	SNOOP_RANGE(HMMTRACE_EVENT_MMU_NOTIFIER_INVALIDATE_RANGE_START, range, tgid, btf_typed,
		    record->ret = ret, record->duration_ns = duration_ns,
		    record->range_event = KERNEL_FIELD(btf_typed, range, event));
	return 0;
}

static __always_inline int range_ended(const struct mmu_notifier_range *range, bool btf_typed)
{
	struct hmmtrace_histogram *histogram;
	__u64 key = (__u64)range, *started, elapsed = 0;
	__u32 tgid, event;

	if (!(time_ranges || snoop_events))
		return 0;
	tgid = owner_of(KERNEL_FIELD(btf_typed, range, mm), btf_typed);
	if (!process_wanted(tgid))
		return 0;
	event = KERNEL_FIELD(btf_typed, range, event);
	if (event >= HMMTRACE_RANGE_EVENTS)
		event = HMMTRACE_RANGE_EVENTS - 1;
	started = bpf_map_lookup_elem(&range_starts, &key);
	if (started) {
		elapsed = bpf_ktime_get_ns() - *started;
		bpf_map_delete_elem(&range_starts, &key);
		histogram = bpf_map_lookup_elem(&range_latency, &event);
		if (histogram) {
			histogram->count++;
			histogram->total_ns += elapsed;
			histogram_add(histogram->slots, elapsed);
		}
	}
	SNOOP_RANGE(HMMTRACE_EVENT_MMU_NOTIFIER_INVALIDATE_RANGE_END, range, tgid, btf_typed,
		    record->duration_ns = elapsed, record->range_event = event);
	return 0;
}

#endif /* HMMTRACE_COUNTING_BPF_H */
