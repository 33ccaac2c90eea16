/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fault state machine. A fault is one task going round on one
 * subscription until hmm_range_fault() succeeds and no collision undoes it.
 * Its completion is counted as soon as hmm_range_fault() succeeds, so the
 * numbers are current at every read; a read_retry collision that follows
 * withdraws it again.
 */
#ifndef HMMTRACE_FAULTS_BPF_H
#define HMMTRACE_FAULTS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "hmmtrace.h"
#include "hmmtrace_events.h"
#include "causes.bpf.h"
#include "groups.bpf.h"
#include "histograms.bpf.h"
#include "kernel_access.bpf.h"
#include "knobs.bpf.h"
#include "maps.bpf.h"
#include "records.bpf.h"

#define MAX_FAULTS 65536

enum fault_outcome {
	FAULT_OUTCOME_NONE,		/* read_begin seen, nothing since */
	FAULT_OUTCOME_RETRIED,		/* a collision or -EBUSY: the task goes round */
	FAULT_OUTCOME_COMPLETED,	/* hmm_range_fault() succeeded; a collision may still undo it */
};

/* A fault in progress; user space reads only the summary (see bpf/hmmtrace.h). */
struct fault_state {
	struct hmmtrace_fault_summary summary;
	__u64 last_seq;			/* what the latest read_begin returned */
	__u64 completed_after_ns;	/* what a tentative completion added to fault_ns */
	__u64 livelock_clock_ns;	/* the livelock detector's start: see fault_began() */
	__u32 outcome;			/* enum fault_outcome of the latest go-round */
	__u32 fault_slot;		/* buckets a tentative completion counted into */
	__u32 retries_slot;
	__u32 refault;			/* causes: it began soon after an invalidation... */
	__u32 padding;
	struct hmmtrace_cause_key refault_cause;	/* ...of this cause */
};

/*
 * A plain hash, not an LRU: an LRU would evict a fault in progress without
 * a word. A full map is counted (HMMTRACE_LOST_FAULTS), and user space
 * reclaims the state of removed subscriptions and idle faults (reclaim.c).
 */
MAP(BPF_MAP_TYPE_HASH, struct hmmtrace_fault_key, struct fault_state, MAX_FAULTS)
	faults SEC(".maps") __weak;

static __always_inline struct hmmtrace_fault_key
fault_key(const struct mmu_interval_notifier *interval_sub)
{
	return (struct hmmtrace_fault_key){ .interval_sub = (__u64)interval_sub,
					    .tid = current_tid() };
}

static __always_inline void set_outcome(struct fault_state *fault, enum fault_outcome outcome)
{
	fault->outcome = outcome;
	fault->summary.completed = outcome == FAULT_OUTCOME_COMPLETED;
}

/* A fault's clocks and seq at its first read_begin, NOW. */
static __always_inline void fault_start(struct fault_state *fault, __u64 seq, __u64 now)
{
	fault->summary.started_ns = now;
	fault->livelock_clock_ns = now;
	fault->last_seq = seq;
}

/* A (task, subscription) seen for the first time: who the task is. */
static __always_inline void fault_name(struct fault_state *fault,
				       const struct hmmtrace_subscription *subscription)
{
	fault->summary.tgid = subscription->tgid;
	bpf_get_current_comm(fault->summary.comm, sizeof(fault->summary.comm));
}

/*
 * This task's fault on this subscription. Subscriptions are freed and their
 * addresses reused: state older than the subscription belongs to another.
 */
static __always_inline struct fault_state *
fault_of(const struct mmu_interval_notifier *interval_sub,
	 const struct hmmtrace_subscription *subscription)
{
	struct hmmtrace_fault_key key = fault_key(interval_sub);
	struct fault_state *fault = bpf_map_lookup_elem(&faults, &key);

	if (!fault)
		return NULL;
	if (fault->summary.started_ns < subscription->first_seen_ns) {
		bpf_map_delete_elem(&faults, &key);
		return NULL;
	}
	return fault;
}

static __always_inline void withdraw_completion(struct hmmtrace_stats *stats,
						struct fault_state *fault)
{
	stats_add(stats->faults_completed, -1);
	stats_add(stats->fault_ns, -(fault->completed_after_ns));
	stats_add(stats->fault_retries, -(__u64)fault->summary.retries);
	histogram_uncount(stats->fault_slots, fault->fault_slot);
	histogram_uncount(stats->retries_per_fault_slots, fault->retries_slot);
}

/* A task retrying since before hmmtrace attached: its streak starts now. */
static __always_inline struct fault_state *
fault_seen_retrying(const struct mmu_interval_notifier *interval_sub,
		    const struct hmmtrace_subscription *subscription, __u64 now)
{
	struct hmmtrace_fault_key key = fault_key(interval_sub);
	struct fault_state fresh = { .summary.began_unseen = 1 };

	struct fault_state *fault;

	fault_start(&fresh, BPF_CORE_READ(interval_sub, invalidate_seq), now);
	fault_name(&fresh, subscription);
	fault = map_lookup_or_try_init(&faults, &key, &fresh);
	if (!fault)
		count_lost(HMMTRACE_LOST_FAULTS);
	return fault;
}

/* A read_retry collision, or hmm_range_fault()'s -EBUSY (EBUSY): the task goes round. */
static __always_inline void fault_retried(void *ctx,
					  const struct mmu_interval_notifier *interval_sub,
					  const struct event_slot *slot, __u64 now, bool ebusy)
{
	struct fault_state *fault = fault_of(interval_sub, slot->subscription);

	if (!fault)
		fault = fault_seen_retrying(interval_sub, slot->subscription, now);
	if (!fault)
		return;
	if (fault->outcome == FAULT_OUTCOME_COMPLETED)
		withdraw_completion(slot->stats, fault);
	set_outcome(fault, FAULT_OUTCOME_RETRIED);
	fault->summary.retries++;
	fault->summary.total_retries++;
	fault->summary.last_retry_ns = now;
	if (fault->refault)
		count_refault_go_round(&fault->refault_cause, ebusy);
	if (livelock_ns && !fault->summary.livelocked && now - fault->livelock_clock_ns >= livelock_ns) {
		fault->summary.livelocked = 1;
		report(ctx, HMMTRACE_REPORT_LIVELOCK, interval_sub, &fault->summary, now);
	}
}

/*
 * Stock kernels: whether a read_begin that found FAULT is the go-round of a
 * collision that went unseen. read_retry is inlined there: a read_begin
 * whose seq moved since the same task's previous one, with no -EBUSY in
 * between and within inferred_retry_gap_ns of its last successful
 * hmm_range_fault(), is counted as a read_retry collision. A collision
 * always moves the seq, and a driver goes round at once, so none is missed;
 * a new fault that follows an invalidation of the range that quickly is
 * counted too. So the inferred count lies between the truth and the truth
 * plus the range's invalidations.
 */
static __always_inline bool retry_inferred(const struct fault_state *fault, __u64 seq, __u64 now)
{
	return infer_retries && seq != fault->last_seq &&
	       (fault->outcome != FAULT_OUTCOME_COMPLETED ||
		now - fault->summary.started_ns - fault->completed_after_ns <= inferred_retry_gap_ns);
}

/*
 * A read_begin either starts a fault or goes round in one. With tracepoints
 * the collision was seen, so the previous outcome says which; on stock
 * kernels see retry_inferred().
 *
 * Back-to-back faults that follow invalidations look like one long streak
 * there, so an inferred retry restarts the livelock detector's clock: on
 * stock kernels a livelock is a task that keeps getting -EBUSY.
 */
static __always_inline void fault_began(void *ctx, const struct mmu_interval_notifier *interval_sub,
					const struct event_slot *slot, __u64 seq, __u64 now,
					bool btf_typed)
{
	struct fault_state *fault = fault_of(interval_sub, slot->subscription);
	struct hmmtrace_fault_key key = fault_key(interval_sub);
	struct fault_state fresh = {};

	if (fault && fault->outcome == FAULT_OUTCOME_RETRIED) {
		fault->last_seq = seq;
		set_outcome(fault, FAULT_OUTCOME_NONE);
		return;
	}
	if (fault && retry_inferred(fault, seq, now)) {
		stats_add(slot->stats->read_retries, 1);
		fault_retried(ctx, interval_sub, slot, now, false);
		fault->livelock_clock_ns = now;
		SNOOP(HMMTRACE_EVENT_MMU_INTERVAL_READ_RETRY, interval_sub, slot->tgid, btf_typed,
		      record->seq = fault->last_seq, record->flags = HMMTRACE_FLAG_INFERRED);
		fault->last_seq = seq;
		set_outcome(fault, FAULT_OUTCOME_NONE);
		return;
	}
	/* A new fault of a known (task, subscription): reset in place, a map update costs more. */
	if (fault) {
		fault_start(fault, seq, now);
		fault->summary.retries = 0;
		fault->summary.began_unseen = 0;
		fault->summary.livelocked = 0;
		fault->refault = count_refault(interval_sub, now, &fault->refault_cause);
		set_outcome(fault, FAULT_OUTCOME_NONE);
		return;
	}
	fault_start(&fresh, seq, now);
	fault_name(&fresh, slot->subscription);
	fresh.refault = count_refault(interval_sub, now, &fresh.refault_cause);
	/* Without it the fault's completion cannot be told: counted as lost. */
	if (bpf_map_update_elem(&faults, &key, &fresh, BPF_ANY))
		count_lost(HMMTRACE_LOST_FAULTS);
}

/* hmm_range_fault() succeeded: the fault completes, unless a collision follows. */
static __always_inline void fault_completed(void *ctx,
					    const struct mmu_interval_notifier *interval_sub,
					    const struct event_slot *slot, __u64 now)
{
	struct hmmtrace_stats *stats = slot->stats;
	struct fault_state *fault = fault_of(interval_sub, slot->subscription);

	if (!fault || fault->outcome == FAULT_OUTCOME_COMPLETED)
		return;
	set_outcome(fault, FAULT_OUTCOME_COMPLETED);
	fault->completed_after_ns = now - fault->summary.started_ns;
	fault->fault_slot = log2_slot(fault->completed_after_ns);
	fault->retries_slot = log2_slot(fault->summary.retries);
	stats_add(stats->faults_completed, 1);
	stats_add(stats->fault_ns, fault->completed_after_ns);
	stats_add(stats->fault_retries, fault->summary.retries);
	histogram_count(stats->fault_slots, fault->fault_slot);
	histogram_count(stats->retries_per_fault_slots, fault->retries_slot);
	if (report_streaks && fault->summary.retries)
		report(ctx, HMMTRACE_REPORT_STREAK, interval_sub, &fault->summary, now);
}

#endif /* HMMTRACE_FAULTS_BPF_H */
