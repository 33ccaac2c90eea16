/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fault state machine. A fault is one task going round on one
 * subscription until hmm_range_fault() succeeds and no collision undoes it.
 * Its completion is counted as soon as hmm_range_fault() succeeds, so the
 * numbers are current at every read; a read_retry collision that follows
 * withdraws it again.
 *
 * Where the state lives: in task local storage when the kernel lets these
 * programs have it (user space probes that, tools/attach.c), a few slots
 * per task, one per subscription it faults on at once, found with one
 * helper call and no hash lookup or update. A fault that goes round is
 * published to `faults` too, the map user space reads (retries' pairs and
 * streaks, export's livelocked faults), and lives there from then on.
 * Without task storage every fault lives in `faults`.
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
#define TASK_FAULT_SLOTS 4
#define NO_FACTS (~0ULL)

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
	__u32 in_flight;		/* retries: counted in faults_in_flight */
	struct hmmtrace_cause_key refault_cause;	/* ...of this cause */
};

/*
 * A plain hash, not an LRU: an LRU would evict a fault in progress without
 * a word. A full map is counted (HMMTRACE_LOST_FAULTS), and user space
 * reclaims the state of removed subscriptions and idle faults (reclaim.c).
 */
MAP(BPF_MAP_TYPE_HASH, struct hmmtrace_fault_key, struct fault_state, MAX_FAULTS)
	faults SEC(".maps") __weak;

/*
 * One (task, subscription) in the task's storage: the subscription's facts,
 * so that its events skip the `subscriptions` hash, and the fault's state
 * until it is published.
 */
struct task_fault {
	__u64 interval_sub;		/* 0: a free slot */
	__u64 facts_changes;		/* subscription_changes when the facts were read; NO_FACTS */
	__u64 invalidate;		/* the facts: the subscription's callback, ... */
	__u64 first_seen_ns;		/* ...when it was first seen (which one it is)... */
	__u32 tgid;			/* ...and its owner */
	__u16 holds_fault;		/* state is this task's fault on the subscription */
	__u16 published;		/* the state is in `faults`: the fault went round */
	struct fault_state state;
};

struct task_faults {
	struct task_fault slots[TASK_FAULT_SLOTS];
	__u32 next_victim;		/* round robin, when every slot's fault is in progress */
	__u32 padding;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_faults);
} task_faults SEC(".maps") __weak;

/*
 * Inserts and removes seen. Each makes every task's cached facts stale: a
 * subscription's address is reused once it is removed. Inserts and removes
 * are rare beside faults, so the caches rarely miss.
 */
__u64 subscription_changes __weak;
/* Whether any fault was published: until then a new slot looks for none in `faults`. */
__u32 faults_published __weak;

static __always_inline struct hmmtrace_fault_key
fault_key(const struct mmu_interval_notifier *interval_sub)
{
	return (struct hmmtrace_fault_key){ .interval_sub = (__u64)interval_sub,
					    .tid = current_tid() };
}

/*
 * retries: FAULT starts flying (IN_FLIGHT) or lands (completed at
 * COMPLETED_NS, or dropped: 0); see faults_in_flight.
 */
static __always_inline void set_in_flight(const struct mmu_interval_notifier *interval_sub,
					  struct fault_state *fault, bool in_flight,
					  __u64 completed_ns)
{
	struct fault_flight *flight;

	if (!capture_invalidators || fault->in_flight == in_flight)
		return;
	flight = faults_in_flight_of(interval_sub);
	if (!flight)
		return;
	__sync_fetch_and_add(&flight->in_flight, in_flight ? 1 : -1);
	if (completed_ns)
		flight->completed_ns = completed_ns;
	fault->in_flight = in_flight;
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
static __always_inline void fault_name(struct fault_state *fault, __u32 tgid)
{
	fault->summary.tgid = tgid;
	bpf_get_current_comm(fault->summary.comm, sizeof(fault->summary.comm));
}

/* Whether a slot can go to another subscription as it is: no state, or its state in `faults`. */
static __always_inline bool task_fault_reusable(const struct task_fault *task_fault)
{
	return task_fault->published || !task_fault->holds_fault;
}

/* Whether a slot's subscription was removed (or its entry reclaimed): its fault is over. */
static __always_inline bool task_fault_orphaned(const struct task_fault *task_fault)
{
	const struct hmmtrace_subscription *known =
		bpf_map_lookup_elem(&subscriptions, &task_fault->interval_sub);

	return !known || known->removed;
}

/*
 * A slot for subscription KEY: one that holds no state, else a completed
 * fault's (lost only if a collision still undoes it), else one whose
 * subscription is gone (a fault abandoned, or cut short by the remove),
 * else the next in turn. A kworker faulting for many subscriptions, one
 * after another, reuses them.
 */
static __always_inline struct task_fault *claim_task_fault(struct task_faults *task, __u64 key)
{
	struct hmmtrace_fault_key published_key = { .interval_sub = key, .tid = current_tid() };
	struct task_fault *task_fault = NULL;

	for (int index = 0; index < TASK_FAULT_SLOTS && !task_fault; index++)
		if (task_fault_reusable(&task->slots[index]))
			task_fault = &task->slots[index];
	for (int index = 0; index < TASK_FAULT_SLOTS && !task_fault; index++)
		if (task->slots[index].state.outcome == FAULT_OUTCOME_COMPLETED)
			task_fault = &task->slots[index];
	for (int index = 0; index < TASK_FAULT_SLOTS && !task_fault; index++)
		if (task_fault_orphaned(&task->slots[index])) {
			task_fault = &task->slots[index];
			set_in_flight((const void *)task_fault->interval_sub, &task_fault->state, false,
				      0);
		}
	if (!task_fault) {
		/* More faults in progress at once than slots: one loses its state. */
		task_fault = &task->slots[task->next_victim++ % TASK_FAULT_SLOTS];
		set_in_flight((const void *)task_fault->interval_sub, &task_fault->state, false, 0);
		count_lost(HMMTRACE_LOST_FAULTS);
	}
	task_fault->interval_sub = key;
	task_fault->facts_changes = NO_FACTS;
	task_fault->first_seen_ns = 0;
	/* A published fault whose slot was given away: its state is still in `faults`. */
	task_fault->published = faults_published &&
				bpf_map_lookup_elem(&faults, &published_key) != NULL;
	task_fault->holds_fault = 0;
	return task_fault;
}

/* The current task's slot for INTERVAL_SUB; NULL (counted) when its storage cannot be had. */
static __always_inline struct task_fault *
task_fault_of(const struct mmu_interval_notifier *interval_sub)
{
	struct task_faults *task = bpf_task_storage_get(&task_faults, bpf_get_current_task_btf(),
							NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	__u64 key = (__u64)interval_sub;

	if (!task) {
		count_lost(HMMTRACE_LOST_FAULTS);
		return NULL;
	}
	for (int index = 0; index < TASK_FAULT_SLOTS; index++)
		if (task->slots[index].interval_sub == key)
			return &task->slots[index];
	return claim_task_fault(task, key);
}

/* A subscription came or went: every task's cached facts are stale. */
static __always_inline void subscriptions_changed(void)
{
	if (faults_in_task_storage)
		__sync_fetch_and_add(&subscription_changes, 1);
}

/* Forget this task's fault on INTERVAL_SUB, wherever it lives. */
static __always_inline void forget_fault(const struct mmu_interval_notifier *interval_sub,
					 struct task_fault *task_fault)
{
	struct hmmtrace_fault_key key = fault_key(interval_sub);

	if (!task_fault || task_fault->published)
		bpf_map_delete_elem(&faults, &key);
	if (task_fault) {
		if (!task_fault->published && task_fault->holds_fault)
			set_in_flight(interval_sub, &task_fault->state, false, 0);
		task_fault->published = 0;
		task_fault->holds_fault = 0;
	}
}

/*
 * The subscription's facts, read again, into the task's slot. A slot's
 * fault belongs to the subscription it was first seen as: another at the
 * same address is another subscription, and the fault is forgotten. An
 * owner not known yet is looked for again (subscription_of()): not cached.
 */
static __always_inline void learn_facts(const struct mmu_interval_notifier *interval_sub,
					struct task_fault *task_fault,
					const struct event_slot *slot, __u64 changes)
{
	if (task_fault->first_seen_ns != slot->first_seen_ns) {
		/* 0: a slot just claimed, whose published fault fault_of() checks by time. */
		if (task_fault->first_seen_ns && (task_fault->holds_fault || task_fault->published))
			forget_fault(interval_sub, task_fault);
		task_fault->first_seen_ns = slot->first_seen_ns;
	}
	if (!slot->tgid)
		return;
	task_fault->facts_changes = changes;
	task_fault->tgid = slot->tgid;
	task_fault->invalidate = slot->callback;
}

/*
 * Where an event of a fault (read_begin, a retry, hmm_range_fault) counts:
 * its subscription's facts, which fault tracking needs, the task's slot,
 * and the stats slot. The facts come from the task's slot while no insert
 * or remove came since they were read, else from `subscriptions`. False
 * when the event is not wanted (another process or driver) or cannot count.
 */
static __always_inline bool lookup_fault_event(const struct mmu_interval_notifier *interval_sub,
					       bool btf_typed, struct event_slot *slot)
{
	struct task_fault *task_fault = faults_in_task_storage ? task_fault_of(interval_sub) : NULL;
	/* Read before the subscription: an insert meanwhile leaves the facts stale. */
	__u64 changes = subscription_changes;
	struct hmmtrace_subscription *subscription;

	if (task_fault && task_fault->facts_changes == changes) {
		slot->tgid = task_fault->tgid;
		slot->callback = task_fault->invalidate;
		slot->first_seen_ns = task_fault->first_seen_ns;
	} else {
		subscription = subscription_of(interval_sub, btf_typed);
		if (!subscription) {
			count_lost(HMMTRACE_LOST_SUBSCRIPTIONS);
			return false;
		}
		slot->tgid = subscription->tgid;
		slot->callback = subscription->invalidate;
		slot->first_seen_ns = subscription->first_seen_ns;
		if (task_fault)
			learn_facts(interval_sub, task_fault, slot, changes);
	}
	if (!wanted(slot->tgid, slot->callback))
		return false;
	slot->task_fault = task_fault;
	slot->group = group_of(interval_sub, slot->callback, slot->tgid);
	slot->stats = stats_slot(interval_sub, slot->group, btf_typed);
	return slot->stats != NULL;
}

/*
 * This task's fault on this subscription: in its slot, or in `faults` once
 * published (or without task storage). Subscriptions are freed and their
 * addresses reused: state older than the subscription belongs to another.
 */
static __always_inline struct fault_state *
fault_of(const struct mmu_interval_notifier *interval_sub, const struct event_slot *slot)
{
	struct hmmtrace_fault_key key = fault_key(interval_sub);
	struct task_fault *task_fault = slot->task_fault;
	struct fault_state *fault;

	if (faults_in_task_storage && !task_fault)
		return NULL;
	/* A slot's fault is its subscription's: see learn_facts(). */
	if (task_fault && !task_fault->published)
		return task_fault->holds_fault ? &task_fault->state : NULL;
	fault = bpf_map_lookup_elem(&faults, &key);
	/* Published, then reclaimed by user space (reclaim.c): start again in the slot. */
	if (!fault) {
		if (task_fault)
			forget_fault(interval_sub, task_fault);
		return NULL;
	}
	/* Faults in `faults` are timed (time_faults): older than the subscription, another's. */
	if (fault->summary.started_ns < slot->first_seen_ns) {
		set_in_flight(interval_sub, fault, false, 0);
		forget_fault(interval_sub, task_fault);
		return NULL;
	}
	return fault;
}

/* Keep FRESH as this task's new fault: in its slot, else in `faults`; NULL (counted) when full. */
static __always_inline struct fault_state *
keep_fault(const struct mmu_interval_notifier *interval_sub, const struct event_slot *slot,
	   const struct fault_state *fresh)
{
	struct hmmtrace_fault_key key = fault_key(interval_sub);
	struct fault_state *fault;

	if (slot->task_fault) {
		slot->task_fault->state = *fresh;
		slot->task_fault->holds_fault = 1;
		return &slot->task_fault->state;
	}
	if (faults_in_task_storage)
		return NULL;
	/* Without it the fault's completion cannot be told: counted as lost. */
	if (bpf_map_update_elem(&faults, &key, fresh, BPF_ANY) ||
	    !(fault = bpf_map_lookup_elem(&faults, &key))) {
		count_lost(HMMTRACE_LOST_FAULTS);
		return NULL;
	}
	return fault;
}

/*
 * A fault in its slot that goes round: published to `faults`, where user
 * space sees it, and tracked there from now on. Top reads no faults: it
 * publishes none. A full `faults` is counted; the counts stay exact, as the
 * slot keeps the state, but retries does not see the fault.
 */
static __always_inline struct fault_state *
publish_fault(const struct mmu_interval_notifier *interval_sub, const struct event_slot *slot,
	      struct fault_state *fault)
{
	struct hmmtrace_fault_key key = fault_key(interval_sub);
	struct task_fault *task_fault = slot->task_fault;
	struct fault_state *published;

	if (!publish_retried_faults || !task_fault || task_fault->published)
		return fault;
	if (bpf_map_update_elem(&faults, &key, fault, BPF_ANY) ||
	    !(published = bpf_map_lookup_elem(&faults, &key))) {
		count_lost(HMMTRACE_LOST_FAULTS);
		return fault;
	}
	task_fault->published = 1;
	faults_published = 1;
	return published;
}

/* Now, if faults are timed (see time_faults); a clock read costs more than the rest of an event. */
static __always_inline __u64 fault_clock(void)
{
	return time_faults ? bpf_ktime_get_ns() : 0;
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
		    const struct event_slot *slot, __u64 now)
{
	struct fault_state fresh = { .summary.began_unseen = 1 };

	fault_start(&fresh, BPF_CORE_READ(interval_sub, invalidate_seq), now);
	fault_name(&fresh, slot->tgid);
	return keep_fault(interval_sub, slot, &fresh);
}

/*
 * A read_retry collision, or hmm_range_fault()'s -EBUSY (EBUSY): the task
 * goes round. NOW is 0 when the caller read no clock. Returns where the
 * fault's state lives now (it may have been published), or NULL.
 */
static __always_inline struct fault_state *
fault_retried(void *ctx, const struct mmu_interval_notifier *interval_sub,
	      const struct event_slot *slot, __u64 now, bool ebusy)
{
	struct fault_state *fault = fault_of(interval_sub, slot);

	if (!now)
		now = fault_clock();
	if (!fault)
		fault = fault_seen_retrying(interval_sub, slot, now);
	if (!fault)
		return NULL;
	fault = publish_fault(interval_sub, slot, fault);
	set_in_flight(interval_sub, fault, true, 0);
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
	return fault;
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
					const struct event_slot *slot, __u64 seq, bool btf_typed)
{
	struct fault_state *fault = fault_of(interval_sub, slot);
	struct fault_state fresh = {};
	__u64 now;

	/* The go-round of a collision seen: the fault's clocks run on. */
	if (fault && fault->outcome == FAULT_OUTCOME_RETRIED) {
		fault->last_seq = seq;
		set_outcome(fault, FAULT_OUTCOME_NONE);
		return;
	}
	now = fault_clock();
	if (fault && retry_inferred(fault, seq, now)) {
		stats_add(slot->stats->read_retries, 1);
		fault = fault_retried(ctx, interval_sub, slot, now, false);
		if (!fault)
			return;
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
		set_in_flight(interval_sub, fault, true, 0);
		return;
	}
	fault_start(&fresh, seq, now);
	fault_name(&fresh, slot->tgid);
	fresh.refault = count_refault(interval_sub, now, &fresh.refault_cause);
	fault = keep_fault(interval_sub, slot, &fresh);
	if (fault)
		set_in_flight(interval_sub, fault, true, 0);
}

/* hmm_range_fault() succeeded: the fault completes, unless a collision follows. */
static __always_inline void fault_completed(void *ctx,
					    const struct mmu_interval_notifier *interval_sub,
					    const struct event_slot *slot)
{
	struct hmmtrace_stats *stats = slot->stats;
	struct fault_state *fault = fault_of(interval_sub, slot);
	__u64 now;

	if (!fault || fault->outcome == FAULT_OUTCOME_COMPLETED)
		return;
	now = fault_clock();
	set_outcome(fault, FAULT_OUTCOME_COMPLETED);
	set_in_flight(interval_sub, fault, false, now);
	/* Untimed, no time bucket is counted, and none is taken back (histogram_uncount()). */
	fault->completed_after_ns = time_faults ? now - fault->summary.started_ns : 0;
	fault->fault_slot = time_faults ? log2_slot(fault->completed_after_ns) : HMMTRACE_SLOTS;
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
