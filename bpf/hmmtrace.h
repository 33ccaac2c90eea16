/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The layouts hmmtrace's BPF programs and its user space share: aggregation
 * keys and values, and the records of the two ring buffers. Event arguments
 * come from the catalog (build/include/hmmtrace_events.h, generated from
 * tracepoints/events.json), and so do the event identifiers used here.
 */
#ifndef HMMTRACE_H
#define HMMTRACE_H

enum hmmtrace_grouping {
	HMMTRACE_BY_DRIVER,	/* group = the ops->invalidate callback */
	HMMTRACE_BY_PROCESS,	/* group = tgid owning the mm */
	HMMTRACE_BY_SUBSCRIPTION,	/* group = the interval_sub address (`--by range`) */
};

/*
 * How the BPF side is attached; user space picks one (bpf/handlers.h lists
 * each mode's programs), and the BPF side infers retries in the last two.
 */
enum hmmtrace_mode {
	HMMTRACE_MODE_TP_BTF,
	HMMTRACE_MODE_RAW_TP,
	HMMTRACE_MODE_FENTRY,
	HMMTRACE_MODE_KPROBE,
	HMMTRACE_MODE_COUNT,
};

/*
 * ceil-log2 buckets (bpf/histograms.bpf.h): slot 0 holds 0, slot 1 holds 1,
 * slot k >= 2 holds [2^(k-2) + 1, 2^(k-1)]: each slot is one Prometheus `le`
 * bucket, le = 2^(k-1). 40 slots reach 2^38 ns, about 4.6 minutes.
 */
#define HMMTRACE_SLOTS 40

/*
 * Cumulative since attach, per CPU (by subscription: one value for all
 * CPUs, see stats_add()): user space diffs snapshots, so nothing is lost
 * between reads. Every field is a __u64 so user space can sum and
 * diff the structure as an array.
 */
struct hmmtrace_stats {
	__u64 inserts;
	__u64 removes;
	__u64 invalidations;
	__u64 invalidate_failures;	/* callback returned false */
	__u64 invalidate_ns;
	__u64 read_begins;
	__u64 read_begin_waits;
	__u64 read_begin_wait_ns;
	__u64 read_retries;		/* collisions under the driver lock (inferred on stock kernels) */
	__u64 check_retries;
	__u64 range_faults;		/* hmm_range_fault() calls */
	__u64 range_fault_ebusy;
	__u64 range_fault_successes;	/* hmm_range_fault() calls that returned 0 */
	__u64 range_fault_errors;	/* hmm_range_fault() failures other than -EBUSY */
	__u64 faults_completed;		/* hmm_range_fault() success that no collision undid */
	__u64 fault_ns;			/* first read_begin to mapped, summed */
	__u64 fault_retries;		/* go-rounds of the completed faults, summed */
	__u64 invalidated_pages;	/* pages of the subscription each invalidation covered */
	__u64 invalidate_all;		/* invalidations covering the whole subscription, and more */
	__u64 invalidate_slots[HMMTRACE_SLOTS];
	__u64 wait_slots[HMMTRACE_SLOTS];
	__u64 fault_slots[HMMTRACE_SLOTS];
	__u64 retries_per_fault_slots[HMMTRACE_SLOTS];
	__u64 invalidated_pages_slots[HMMTRACE_SLOTS];	/* latency, export: pages per invalidation */
};

/* Groups counted in array slots before the hash (see hot_group_keys). */
#define HMMTRACE_HOT_GROUPS 32

/* Range start->end latency, per enum mmu_notifier_event; the last index is "other". */
#define HMMTRACE_RANGE_EVENTS 9

struct hmmtrace_histogram {
	__u64 count;
	__u64 total_ns;
	__u64 slots[HMMTRACE_SLOTS];
};

/*
 * --driver: the callbacks (ops->invalidate) of the driver asked for, at most
 * this many (hfi1 and test_hmm have two each).
 */
#define HMMTRACE_DRIVER_CALLBACKS 8

/* What user space needs to name a subscription (the `subscriptions` map). */
struct hmmtrace_subscription {
	__u64 start;
	__u64 last;
	__u64 invalidate;		/* ops->invalidate */
	__u64 first_seen_ns;		/* its insert, or when hmmtrace first saw it */
	__u32 tgid;
	__u32 removed;			/* its remove was seen: no longer live */
};

/*
 * `causes`: why invalidations happen. One key per (group, cause): the
 * range's enum mmu_notifier_event, the invalidating context and its kernel
 * stack. User space names the entry point (the syscall, else the kernel path)
 * and what the mm was doing from the stack.
 */
#define HMMTRACE_NO_SYSCALL (-1)

struct hmmtrace_cause_key {
	__u64 callback;			/* the driver's ops->invalidate: causes are per driver */
	__s32 stack_id;			/* in the stacks map; negative: not taken, or lost */
	__s32 syscall;			/* the syscall in progress, or HMMTRACE_NO_SYSCALL */
	__u32 context;			/* a process's tgid, or a kernel thread's pid */
	__u16 event;			/* enum mmu_notifier_event */
	__u16 kernel_thread;		/* the context is a kernel thread (PF_KTHREAD) */
};

/* Per CPU, cumulative since attach, like struct hmmtrace_stats. */
struct hmmtrace_cause {
	__u64 invalidations;
	__u64 pages;			/* of the subscriptions, as in invalidated_pages */
	__u64 callback_ns;
	__u64 invalidate_all;
	__u64 refaults;			/* new faults within --refault-ms of one of these */
	__u64 refault_retries;		/* read_retry collisions those faults went round on */
	__u64 refault_ebusy;		/* and their hmm_range_fault() -EBUSY */
	char comm[16];			/* the context's, as last seen on this CPU */
};

/* `latency`: hmm_range_fault() time per driver and fault size, log2 of its pages. */
struct hmmtrace_fault_size_key {
	__u64 callback;			/* the driver's ops->invalidate */
	__u32 pages_slot;		/* log2_slot() of the pages asked for */
	__u32 padding;
};

/* A fault in progress: one task going round on one subscription. */
struct hmmtrace_fault_key {
	__u64 interval_sub;
	__u32 tid;
	__u32 padding;
};

/*
 * What user space may read of a fault's state: the `faults` map's values
 * start with it (their full size is bpf_map__value_size(); the rest is the
 * BPF side's own, in bpf/faults.bpf.h).
 */
struct hmmtrace_fault_summary {
	__u64 started_ns;		/* first read_begin of the fault */
	__u64 last_retry_ns;
	__u64 total_retries;		/* over every fault of this task on this subscription */
	__u32 retries;			/* in this fault */
	__u32 tgid;
	__u32 completed;		/* hmm_range_fault() succeeded; a collision may still undo it */
	__u32 began_unseen;		/* retrying before hmmtrace attached: the start is later than true */
	__u32 livelocked;		/* reported as a livelock, and not finished since */
	__u32 padding;
	char comm[16];
};

/* The task that last invalidated a subscription, for livelock reports. */
struct hmmtrace_invalidator {
	__u64 timestamp_ns;
	__u32 tid;
	__u32 tgid;
	__s32 stack_id;			/* in the stacks map, or negative */
	__u32 padding;
	char comm[16];
};

/*
 * What the `lost` map counts, per CPU, since attach: every place an event
 * can fail to count, by the map or ring that had no room. Each is shown as
 * `lost` (tools/README.md says what each kind costs).
 */
enum hmmtrace_lost {
	HMMTRACE_LOST_EVENTS,		/* snoop records the `events` ring had no room for */
	HMMTRACE_LOST_REPORTS,		/* livelocks and streaks the `reports` ring had no room for */
	HMMTRACE_LOST_STATS,		/* events no stats slot took: the map full or out of memory */
	HMMTRACE_LOST_CAUSES,		/* invalidations no causes entry took: the map full */
	HMMTRACE_LOST_STACKS,		/* stacks with no room: the map full, or their hash bucket another's (counted stackless) */
	HMMTRACE_LOST_SUBSCRIPTIONS,	/* events of a subscription `subscriptions` had no room for: uncounted */
	HMMTRACE_LOST_FAULTS,		/* faults `faults` had no room for: their completion and go-rounds untold */
	HMMTRACE_LOST_PENDING,		/* stock modes: calls `pending` had no room for, so their event is uncounted */
	HMMTRACE_LOST_RANGE_STARTS,	/* range starts `range_starts` (or `pending`) had no room for: untimed */
	HMMTRACE_LOST_INVALIDATORS,	/* invalidations `invalidators` could not remember: livelock reports without their invalidator */
	HMMTRACE_LOST_RECURSION,	/* user space's: runs the kernel skipped, the program already running on that CPU (fentry: 5.11+; kprobe, raw_tp: 6.7+) */
HMMTRACE_LOST_KINDS,
};

/* Flags of a snooped event. */
#define HMMTRACE_FLAG_WAITED	(1U << 0)	/* read_begin slept; remove waited */
#define HMMTRACE_FLAG_DEFERRED	(1U << 1)	/* insert deferred by an invalidation */
#define HMMTRACE_FLAG_INFERRED	(1U << 2)	/* a retry inferred, not observed */

/* One snooped event (the `events` ring buffer). */
struct hmmtrace_event_record {
	__u64 timestamp_ns;
	__u64 interval_sub;		/* or the mmu_notifier_range, for range events */
	__u64 callback;			/* ops->invalidate, when there is a subscription */
	__u64 start;
	__u64 end;			/* exclusive */
	__u64 seq;			/* read_begin's seq, the collision's seq, invalidate's cur_seq */
	__u64 duration_ns;		/* invalidate, range start, hmm_range_fault; read_begin/remove wait */
	__s32 ret;
	__u32 event;			/* enum hmmtrace_event of the catalog */
	__u32 tid;
	__u32 tgid;			/* owner of the address space */
	__u32 flags;
	__u32 range_event;		/* enum mmu_notifier_event, for range and invalidate events */
	char comm[16];
};

#define HMMTRACE_STACK_DEPTH 32

enum hmmtrace_report_kind {
	HMMTRACE_REPORT_LIVELOCK,	/* a fault still retrying past the threshold */
	HMMTRACE_REPORT_STREAK,		/* a fault that retried, at its (tentative) completion */
};

/* The `reports` ring buffer: livelocks and retry streaks. */
struct hmmtrace_report {
	__u32 kind;
	__u32 tid;
	__u32 tgid;
	__u32 retries;
	__u32 began_unseen;		/* the streak was already on when hmmtrace attached */
	__u32 padding;
	__u64 interval_sub;
	__u64 callback;
	__u64 start;
	__u64 last;
	__u64 started_ns;
	__u64 duration_ns;
	char comm[16];
	struct hmmtrace_invalidator invalidator;
	__s32 kernel_stack_bytes;	/* negative: could not be read */
	__s32 user_stack_bytes;
	__u64 kernel_stack[HMMTRACE_STACK_DEPTH];
	__u64 user_stack[HMMTRACE_STACK_DEPTH];
};

#endif /* HMMTRACE_H */
