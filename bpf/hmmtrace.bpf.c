// SPDX-License-Identifier: GPL-2.0-only
/*
 * hmmtrace's BPF side. The counting lives in the count_*() functions; thin
 * handlers feed them from one of four attach modes, and user space loads
 * only the handlers of the mode it picked:
 *
 *   tp_btf, raw_tp   the tracepoints of kernel/patches: every event observed
 *   fentry, kprobe   stock kernels: the exported notifier functions and the
 *                    known drivers' invalidate callbacks. read_retry and
 *                    check_retry are inlined there, so read_retry collisions
 *                    are inferred (see fault_began()) and check_retry is not
 *                    seen apart from hmm_range_fault()'s -EBUSY.
 *
 * Aggregates are cumulative per-CPU maps (hot_group_stats, then stats), so
 * no event is lost between user space's reads. Faults are tracked per task
 * and subscription in every mode (completed faults are top's ratio
 * denominator); stacks, the livelock detector, range timing and the event
 * stream are enabled by knobs, so `top` does not pay for them. An
 * invalidation, the event that storms, costs `top` array lookups the
 * verifier inlines (see hot_slot()).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "hmmtrace.h"
#include "hmmtrace_events.h"

#define MAX_GROUPS	16384
#define MAX_RANGES	262144
#define MAX_FAULTS	65536
#define MAX_PENDING	16384
#define EBUSY		16
#define HOT_PROBES	4

const volatile __u32 grouping = HMMTRACE_BY_DRIVER;
const volatile __u32 target_tgid;		/* 0: every process */
const volatile bool infer_retries;		/* stock kernels: no read_retry event */
const volatile bool report_streaks;
const volatile bool capture_invalidators;	/* stack of each invalidating task */
const volatile __u64 livelock_ns;		/* 0: no livelock detection */
const volatile bool snoop;
const volatile bool time_ranges;		/* range start -> end histograms */
/* Stock kernels: a go-round later than this after a completed fault is a new fault. */
const volatile __u64 inferred_retry_gap_ns = 10000000;

/*
 * Not preallocated: a histogram-laden value per CPU per group adds up on a
 * 256-CPU host, so memory follows the groups that exist. User space sizes it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAX_GROUPS);
	__type(key, __u64);
	__type(value, struct hmmtrace_stats);
} stats SEC(".maps");

/*
 * The first groups seen by driver or process (a host has few of either)
 * count in array slots instead, which the verifier inlines: no helper call
 * on the hot path. hot_group_keys[slot] is the group owning the slot, 0
 * while free; user space reads both maps.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HMMTRACE_HOT_GROUPS);
	__type(key, __u32);
	__type(value, __u64);
} hot_group_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HMMTRACE_HOT_GROUPS);
	__type(key, __u32);
	__type(value, struct hmmtrace_stats);
} hot_group_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HMMTRACE_RANGE_EVENTS);
	__type(key, __u32);
	__type(value, struct hmmtrace_histogram);
} range_latency SEC(".maps");

/* interval_sub -> what names it; filled when a subscription is first seen. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_RANGES);
	__type(key, __u64);
	__type(value, struct hmmtrace_range_info);
} ranges SEC(".maps");

/* mm -> tgid, learned when a task of that mm is current (faults may run in kworkers). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_GROUPS);
	__type(key, __u64);
	__type(value, __u32);
} mm_owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_FAULTS);
	__type(key, struct hmmtrace_fault_key);
	__type(value, struct hmmtrace_fault);
} faults SEC(".maps");

/*
 * mmu_notifier_range -> when its invalidation started. A plain hash: an LRU
 * update costs more, and every start is ended or deleted (range_started()).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PENDING);
	__type(key, __u64);
	__type(value, __u64);
} range_starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_RANGES);
	__type(key, __u64);
	__type(value, struct hmmtrace_invalidator);
} invalidators SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, HMMTRACE_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);		/* user space resizes it for snoop */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} reports SEC(".maps");

/* Records either ring buffer had no room for: [0] events, [1] reports. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} dropped SEC(".maps");

/* Stock kernels: arguments and entry times, from a function's entry to its return. */
enum pending_call {
	PENDING_INSERT,
	PENDING_READ_BEGIN,
	PENDING_RANGE_START,
	PENDING_CALLBACK,
	PENDING_RANGE_FAULT,
};

struct pending_key {
	__u32 tid;
	__u32 call;
};

struct pending_value {
	__u64 argument;
	__u64 extra;
	__u64 started_ns;
	__u64 flag;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_PENDING);
	__type(key, struct pending_key);
	__type(value, struct pending_value);
} pending SEC(".maps");

static __always_inline __u32 current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

/*
 * A field of a kernel object. tp_btf and fentry handlers hold BTF-typed
 * pointers and load it directly; raw_tp and kprobe handlers, and pointers
 * kept in maps, need a probe read, which costs far more. DIRECT is a
 * constant in every handler, so the other branch is compiled out before the
 * verifier sees it.
 */
#define KERNEL_FIELD(direct, pointer, field) \
	((direct) ? (pointer)->field : BPF_CORE_READ(pointer, field))

/* mm->owner exists with CONFIG_MEMCG (every distribution kernel; not the lab's). */
struct mm_struct___memcg {
	struct task_struct *owner;
} __attribute__((preserve_access_index));

static __always_inline bool kernel_has_mm_owner(void)
{
	return bpf_core_field_exists(((struct mm_struct___memcg *)0)->owner);
}

/*
 * The tgid owning an mm. In the owner's own context that is current's tgid;
 * elsewhere (kworkers serving faults, kswapd) it is mm->owner's, and without
 * CONFIG_MEMCG, or once the owner has exited (mm->owner is NULL while
 * exit_mmap() releases the subscriptions), what learn_owner() saw at the
 * owner's inserts and, without CONFIG_MEMCG, range starts.
 */
static __always_inline __u32 owner_of(const struct mm_struct *mm, bool direct)
{
	const struct mm_struct___memcg *memcg_mm = (const void *)mm;
	const struct mm_struct *current_mm;
	const struct task_struct *owner;
	__u64 mm_key = (__u64)mm;
	__u32 *known;

	if (direct)
		current_mm = bpf_get_current_task_btf()->mm;
	else
		current_mm = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), mm);
	if (current_mm == mm)
		return bpf_get_current_pid_tgid() >> 32;
	if (!mm)
		return 0;
	if (kernel_has_mm_owner()) {
		owner = direct ? memcg_mm->owner : BPF_CORE_READ(memcg_mm, owner);
		if (owner)
			return direct ? owner->tgid : BPF_CORE_READ(owner, tgid);
	}
	known = bpf_map_lookup_elem(&mm_owners, &mm_key);
	return known ? *known : 0;
}

static __always_inline void learn_owner(const struct mm_struct *mm, __u32 tgid)
{
	__u64 mm_key = (__u64)mm;
	__u32 *known = bpf_map_lookup_elem(&mm_owners, &mm_key);

	if (!known || *known != tgid)
		bpf_map_update_elem(&mm_owners, &mm_key, &tgid, BPF_ANY);
}

static __always_inline bool filtered_out(__u32 tgid)
{
	return target_tgid && tgid != target_tgid;
}

static __always_inline __u64 callback_of(const struct mmu_interval_notifier *interval_sub,
					bool direct)
{
	if (direct)
		return (__u64)interval_sub->ops->invalidate;
	return (__u64)BPF_CORE_READ(interval_sub, ops, invalidate);
}

static __always_inline __u32 tgid_of_sub(const struct mmu_interval_notifier *interval_sub,
					 bool direct)
{
	return owner_of(KERNEL_FIELD(direct, interval_sub, mm), direct);
}

/*
 * What hmmtrace knows of a subscription: read from it once, when first seen,
 * so that later events cost one lookup and no reads of kernel memory. An
 * owner unknown then (a kworker's event before any of the owner's) is
 * looked for again.
 */
static __always_inline struct hmmtrace_range_info *
subscription_of(const struct mmu_interval_notifier *interval_sub, bool direct)
{
	__u64 key = (__u64)interval_sub;
	struct hmmtrace_range_info *known = bpf_map_lookup_elem(&ranges, &key);
	struct hmmtrace_range_info fresh = {};

	if (known) {
		if (!known->tgid)
			known->tgid = tgid_of_sub(interval_sub, direct);
		return known;
	}
	fresh.start = KERNEL_FIELD(direct, interval_sub, interval_tree.start);
	fresh.last = KERNEL_FIELD(direct, interval_sub, interval_tree.last);
	fresh.invalidate = callback_of(interval_sub, direct);
	fresh.first_seen_ns = bpf_ktime_get_ns();
	fresh.tgid = tgid_of_sub(interval_sub, direct);
	bpf_map_update_elem(&ranges, &key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&ranges, &key);
}

/* The group an event counts in, by the grouping user space chose. */
static __always_inline __u64 group_of(const struct mmu_interval_notifier *interval_sub,
				      __u64 callback, __u32 tgid)
{
	if (grouping == HMMTRACE_BY_PROCESS)
		return tgid;
	if (grouping == HMMTRACE_BY_RANGE)
		return (__u64)interval_sub;
	return callback;
}

/*
 * A group's hot slot: a few probes from a multiplicative hash, claimed with
 * a compare-and-swap when free. NULL when the probed slots belong to others
 * (the group counts in the hash, always, as its probes never change).
 */
static __always_inline struct hmmtrace_stats *hot_slot(__u64 group)
{
	/*
	 * Fibonacci hashing of the low half: a callback loaded from a BTF
	 * pointer is itself a pointer to the verifier, which allows no
	 * arithmetic on it but a 32-bit copy.
	 */
	__u32 slot = ((__u32)group * 2654435769U >> 16) % HMMTRACE_HOT_GROUPS;
	__u64 *key, owner;

	for (int probe = 0; probe < HOT_PROBES; probe++) {
		key = bpf_map_lookup_elem(&hot_group_keys, &slot);
		if (!key)
			return NULL;
		owner = *key;
		if (!owner) {
			owner = __sync_val_compare_and_swap(key, 0, group);
			if (!owner)
				owner = group;
		}
		if (owner == group)
			return bpf_map_lookup_elem(&hot_group_stats, &slot);
		slot = (slot + 1) % HMMTRACE_HOT_GROUPS;
	}
	return NULL;
}

/*
 * A group's stats slot: a hot slot, else its hash entry, made on its first
 * event. Ranges (--by range) are many and go to the hash, which names them.
 */
static __always_inline struct hmmtrace_stats *
stats_slot(const struct mmu_interval_notifier *interval_sub, __u64 group, bool direct)
{
	static const struct hmmtrace_stats zero;
	struct hmmtrace_stats *slot;

	if (grouping != HMMTRACE_BY_RANGE && group) {
		slot = hot_slot(group);
		if (slot)
			return slot;
	}
	slot = bpf_map_lookup_elem(&stats, &group);
	if (slot)
		return slot;
	if (grouping == HMMTRACE_BY_RANGE)
		subscription_of(interval_sub, direct);
	bpf_map_update_elem(&stats, &group, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&stats, &group);
}

/*
 * Where an event of a fault (read_begin, a retry, hmm_range_fault) counts:
 * its subscription's info, which fault tracking needs, and stats slot; false
 * when the event is filtered out (another process) or cannot count.
 */
static __always_inline bool counted(const struct mmu_interval_notifier *interval_sub, bool direct,
				    struct hmmtrace_range_info **info, struct hmmtrace_stats **stats)
{
	*info = subscription_of(interval_sub, direct);
	if (!*info || filtered_out((*info)->tgid))
		return false;
	*stats = stats_slot(interval_sub, group_of(interval_sub, (*info)->invalidate, (*info)->tgid),
			    direct);
	return *stats != NULL;
}

/*
 * Where an event that needs nothing else of its subscription counts
 * (invalidations, removes): the group straight from the subscription, and
 * its stats slot. The owner is looked up only when something uses it; if the
 * mm no longer says (its owner exited), the subscription's remembered one.
 */
static __always_inline struct hmmtrace_stats *
counted_directly(const struct mmu_interval_notifier *interval_sub, bool direct, __u32 *tgid)
{
	bool owner_used = target_tgid || grouping == HMMTRACE_BY_PROCESS || snoop;
	struct hmmtrace_range_info *known;
	__u64 key = (__u64)interval_sub;

	*tgid = owner_used ? tgid_of_sub(interval_sub, direct) : 0;
	if (owner_used && !*tgid) {
		known = bpf_map_lookup_elem(&ranges, &key);
		*tgid = known ? known->tgid : 0;
	}
	if (filtered_out(*tgid))
		return NULL;
	return stats_slot(interval_sub,
			  group_of(interval_sub, grouping == HMMTRACE_BY_DRIVER ?
						 callback_of(interval_sub, direct) : 0, *tgid),
			  direct);
}

/* bcc's log2 slot: 0 -> 0, 1 -> 1, 2..3 -> 2, 4..7 -> 3, ...; by halving, not a loop. */
static __always_inline __u32 log2_slot(__u64 value)
{
	__u32 slot = 1;

	if (!value)
		return 0;
	for (int shift = 32; shift; shift >>= 1) {
		if (value >> shift) {
			value >>= shift;
			slot += shift;
		}
	}
	return slot < HMMTRACE_SLOTS ? slot : HMMTRACE_SLOTS - 1;
}

/* One value into a log2 histogram (the bound check is for the verifier). */
static __always_inline void histogram_add(__u64 *slots, __u64 value)
{
	__u32 slot = log2_slot(value);

	if (slot < HMMTRACE_SLOTS)
		slots[slot]++;
}

static __always_inline void count_drop(__u32 ring)
{
	__u64 *drops = bpf_map_lookup_elem(&dropped, &ring);

	if (drops)
		(*drops)++;
}

/* A snooped event with the subscription's fields filled; the caller adds the rest and submits. */
static __always_inline struct hmmtrace_event_record *
record_event(__u32 event, const struct mmu_interval_notifier *interval_sub, __u32 tgid,
	     bool direct)
{
	struct hmmtrace_event_record *record;

	record = bpf_ringbuf_reserve(&events, sizeof(*record), 0);
	if (!record) {
		count_drop(0);
		return NULL;
	}
	record->timestamp_ns = bpf_ktime_get_ns();
	record->interval_sub = (__u64)interval_sub;
	record->callback = interval_sub ? callback_of(interval_sub, direct) : 0;
	record->start = interval_sub ? KERNEL_FIELD(direct, interval_sub, interval_tree.start) : 0;
	record->end = interval_sub ? KERNEL_FIELD(direct, interval_sub, interval_tree.last) + 1 : 0;
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

static __always_inline void report(void *ctx, __u32 kind,
				   const struct mmu_interval_notifier *interval_sub,
				   const struct hmmtrace_fault *fault, __u64 now)
{
	struct hmmtrace_invalidator *invalidator;
	struct hmmtrace_report *record;
	__u64 key = (__u64)interval_sub;

	record = bpf_ringbuf_reserve(&reports, sizeof(*record), 0);
	if (!record) {
		count_drop(1);
		return;
	}
	record->kind = kind;
	record->tid = current_tid();
	record->tgid = fault->tgid;
	record->retries = fault->retries;
	record->began_unseen = fault->began_unseen;
	record->unfinished = 0;
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

/*
 * Fault tracking. A fault is one task going round on one subscription until
 * hmm_range_fault() succeeds and no collision undoes it. Its completion is
 * counted as soon as hmm_range_fault() succeeds, so the numbers are current
 * at every read; a read_retry collision that follows withdraws it again.
 */
/*
 * This task's fault on this subscription. Subscriptions are freed and their
 * addresses reused: state older than the subscription belongs to another.
 */
static __always_inline struct hmmtrace_fault *
fault_of(const struct mmu_interval_notifier *interval_sub,
	 const struct hmmtrace_range_info *info)
{
	struct hmmtrace_fault_key key = { .interval_sub = (__u64)interval_sub,
					  .tid = current_tid() };
	struct hmmtrace_fault *fault = bpf_map_lookup_elem(&faults, &key);

	if (!fault)
		return NULL;
	if (fault->started_ns < info->first_seen_ns) {
		bpf_map_delete_elem(&faults, &key);
		return NULL;
	}
	return fault;
}

static __always_inline void withdraw_completion(struct hmmtrace_stats *stats,
						struct hmmtrace_fault *fault)
{
	__u32 fault_slot = fault->fault_slot, retries_slot = fault->retries_slot;

	stats->faults_completed--;
	stats->fault_ns -= fault->completed_after_ns;
	if (fault_slot < HMMTRACE_SLOTS)
		stats->fault_slots[fault_slot]--;
	if (retries_slot < HMMTRACE_SLOTS)
		stats->retries_per_fault_slots[retries_slot]--;
}

/* A task retrying since before hmmtrace attached: its streak starts now. */
static __always_inline struct hmmtrace_fault *
fault_seen_retrying(const struct mmu_interval_notifier *interval_sub,
		    const struct hmmtrace_range_info *info, __u64 now)
{
	struct hmmtrace_fault_key key = { .interval_sub = (__u64)interval_sub,
					  .tid = current_tid() };
	struct hmmtrace_fault fresh = { .started_ns = now, .livelock_clock_ns = now,
					.began_unseen = 1 };

	fresh.last_seq = BPF_CORE_READ(interval_sub, invalidate_seq);
	fresh.tgid = info->tgid;
	bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
	bpf_map_update_elem(&faults, &key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&faults, &key);
}

static __always_inline void fault_retried(void *ctx, const struct mmu_interval_notifier *interval_sub,
					  const struct hmmtrace_range_info *info,
					  struct hmmtrace_stats *stats, __u64 now)
{
	struct hmmtrace_fault *fault;

	fault = fault_of(interval_sub, info);
	if (!fault)
		fault = fault_seen_retrying(interval_sub, info, now);
	if (!fault)
		return;
	if (fault->outcome == HMMTRACE_OUTCOME_COMPLETED)
		withdraw_completion(stats, fault);
	fault->outcome = HMMTRACE_OUTCOME_RETRIED;
	fault->retries++;
	fault->total_retries++;
	fault->last_retry_ns = now;
	if (livelock_ns && !fault->livelock_reported && now - fault->livelock_clock_ns >= livelock_ns) {
		fault->livelock_reported = 1;
		report(ctx, HMMTRACE_REPORT_LIVELOCK, interval_sub, fault, now);
	}
}

/*
 * A read_begin either starts a fault or goes round in one. With tracepoints
 * the collision was seen, so the previous outcome says which. On stock
 * kernels read_retry is inlined: a read_begin whose seq moved since the same
 * task's previous one, with no -EBUSY in between and within
 * inferred_retry_gap_ns of its last successful hmm_range_fault(), is counted
 * as a read_retry collision. A collision always moves the seq, and a driver
 * goes round at once, so none is missed; a new fault that follows an
 * invalidation of the range that quickly is counted too. So the inferred
 * count lies between the truth and the truth plus the range's invalidations.
 *
 * Back-to-back faults that follow invalidations look like one long streak
 * there, so an inferred retry restarts the livelock detector's clock: on
 * stock kernels a livelock is a task that keeps getting -EBUSY.
 */
static __always_inline void fault_began(void *ctx, const struct mmu_interval_notifier *interval_sub,
					const struct hmmtrace_range_info *info,
					struct hmmtrace_stats *stats, __u64 seq, __u64 now, bool direct)
{
	struct hmmtrace_fault_key key = { .interval_sub = (__u64)interval_sub,
					  .tid = current_tid() };
	struct hmmtrace_fault *fault, fresh = {};

	fault = fault_of(interval_sub, info);
	if (fault && fault->outcome == HMMTRACE_OUTCOME_RETRIED) {
		fault->last_seq = seq;
		fault->outcome = HMMTRACE_OUTCOME_NONE;
		return;
	}
	if (fault && infer_retries && seq != fault->last_seq &&
	    (fault->outcome != HMMTRACE_OUTCOME_COMPLETED ||
	     now - fault->started_ns - fault->completed_after_ns <= inferred_retry_gap_ns)) {
		struct hmmtrace_event_record *record;

		stats->read_retries++;
		fault_retried(ctx, interval_sub, info, stats, now);
		fault->livelock_clock_ns = now;
		if (snoop && (record = record_event(HMMTRACE_EVENT_MMU_INTERVAL_READ_RETRY,
						    interval_sub, info->tgid, direct))) {
			record->seq = fault->last_seq;
			record->flags = HMMTRACE_FLAG_INFERRED;
			bpf_ringbuf_submit(record, 0);
		}
		fault->last_seq = seq;
		fault->outcome = HMMTRACE_OUTCOME_NONE;
		return;
	}
	/* A new fault of a known (task, range): reset in place, a map update costs more. */
	if (fault) {
		fault->started_ns = now;
		fault->livelock_clock_ns = now;
		fault->last_seq = seq;
		fault->retries = 0;
		fault->outcome = HMMTRACE_OUTCOME_NONE;
		fault->livelock_reported = 0;
		fault->began_unseen = 0;
		return;
	}
	fresh.started_ns = now;
	fresh.livelock_clock_ns = now;
	fresh.last_seq = seq;
	fresh.tgid = info->tgid;
	bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
	bpf_map_update_elem(&faults, &key, &fresh, BPF_ANY);
}

static __always_inline void fault_completed(void *ctx, const struct mmu_interval_notifier *interval_sub,
					  const struct hmmtrace_range_info *info,
					    struct hmmtrace_stats *stats, __u64 now)
{
	struct hmmtrace_fault *fault;
	__u32 fault_slot, retries_slot;

	fault = fault_of(interval_sub, info);
	if (!fault || fault->outcome == HMMTRACE_OUTCOME_COMPLETED)
		return;
	fault->outcome = HMMTRACE_OUTCOME_COMPLETED;
	fault->completed_after_ns = now - fault->started_ns;
	fault_slot = log2_slot(fault->completed_after_ns);
	retries_slot = log2_slot(fault->retries);
	fault->fault_slot = fault_slot;
	fault->retries_slot = retries_slot;
	stats->faults_completed++;
	stats->fault_ns += fault->completed_after_ns;
	if (fault_slot < HMMTRACE_SLOTS)
		stats->fault_slots[fault_slot]++;
	if (retries_slot < HMMTRACE_SLOTS)
		stats->retries_per_fault_slots[retries_slot]++;
	if (report_streaks && fault->retries)
		report(ctx, HMMTRACE_REPORT_STREAK, interval_sub, fault, now);
}

/*
 * The counting, shared by every mode. DIRECT says the pointers are BTF-typed
 * (tp_btf, fentry/fexit arguments), so fields are loaded, not probe-read.
 */

static __always_inline int count_insert(const struct mmu_interval_notifier *interval_sub,
					bool deferred, bool direct)
{
	struct hmmtrace_event_record *record;
	struct hmmtrace_range_info *info;
	struct hmmtrace_stats *stats;
	__u64 key = (__u64)interval_sub;
	__u32 tgid;

	/* A new subscription may reuse a removed one's address: forget that one. */
	bpf_map_delete_elem(&ranges, &key);
	info = subscription_of(interval_sub, direct);
	tgid = info ? info->tgid : 0;
	if (tgid)
		learn_owner(KERNEL_FIELD(direct, interval_sub, mm), tgid);
	if (!info || filtered_out(tgid))
		return 0;
	stats = stats_slot(interval_sub, group_of(interval_sub, info->invalidate, tgid), direct);
	if (stats)
		stats->inserts++;
	if (snoop && (record = record_event(HMMTRACE_EVENT_MMU_INTERVAL_NOTIFIER_INSERT,
					    interval_sub, tgid, direct))) {
		record->seq = KERNEL_FIELD(direct, interval_sub, invalidate_seq);
		record->flags = deferred ? HMMTRACE_FLAG_DEFERRED : 0;
		bpf_ringbuf_submit(record, 0);
	}
	return 0;
}

static __always_inline int count_remove(const struct mmu_interval_notifier *interval_sub,
					bool waited, __u64 wait_ns, bool direct)
{
	struct hmmtrace_event_record *record;
	struct hmmtrace_stats *stats;
	__u64 key = (__u64)interval_sub;
	__u32 tgid;

	stats = counted_directly(interval_sub, direct, &tgid);
	if (!stats)
		return 0;
	stats->removes++;
	if (snoop && (record = record_event(HMMTRACE_EVENT_MMU_INTERVAL_NOTIFIER_REMOVE,
					    interval_sub, tgid, direct))) {
		record->duration_ns = wait_ns;
		record->flags = waited ? HMMTRACE_FLAG_WAITED : 0;
		bpf_ringbuf_submit(record, 0);
	}
	/*
	 * The range's info stays: user space names rows and retry lists with
	 * it after the remove, and an insert at the same address replaces it.
	 */
	if (capture_invalidators)
		bpf_map_delete_elem(&invalidators, &key);
	return 0;
}

/* The hot path: no helper call for `top`, unless a knob asks for more. */
static __always_inline int count_invalidate(void *ctx,
					    const struct mmu_interval_notifier *interval_sub,
					    const struct mmu_notifier_range *range,
					    __u64 cur_seq, bool ret, __u64 duration_ns, bool direct)
{
	struct hmmtrace_event_record *record;
	struct hmmtrace_stats *stats;
	__u32 tgid;

	stats = counted_directly(interval_sub, direct, &tgid);
	if (!stats)
		return 0;
	stats->invalidations++;
	stats->invalidate_failures += !ret;
	stats->invalidate_ns += duration_ns;
	histogram_add(stats->invalidate_slots, duration_ns);
	if (capture_invalidators) {
		struct hmmtrace_invalidator invalidator = {
			.timestamp_ns = bpf_ktime_get_ns(),
			.tid = current_tid(),
			.tgid = bpf_get_current_pid_tgid() >> 32,
		};
		__u64 key = (__u64)interval_sub;

		invalidator.stack_id = bpf_get_stackid(ctx, &stacks, 0);
		bpf_get_current_comm(invalidator.comm, sizeof(invalidator.comm));
		bpf_map_update_elem(&invalidators, &key, &invalidator, BPF_ANY);
	}
	if (snoop && (record = record_event(HMMTRACE_EVENT_MMU_INTERVAL_NOTIFIER_INVALIDATE,
					    interval_sub, tgid, direct))) {
		record->seq = cur_seq;
		record->ret = ret;
		record->duration_ns = duration_ns;
		record->range_event = KERNEL_FIELD(direct, range, event);
		bpf_ringbuf_submit(record, 0);
	}
	return 0;
}

static __always_inline int count_read_begin(void *ctx,
					    const struct mmu_interval_notifier *interval_sub,
					    __u64 seq, bool waited, __u64 wait_ns, bool direct)
{
	struct hmmtrace_range_info *info;
	struct hmmtrace_event_record *record;
	struct hmmtrace_stats *stats;

	if (!counted(interval_sub, direct, &info, &stats))
		return 0;
	stats->read_begins++;
	if (waited) {
		stats->read_begin_waits++;
		stats->read_begin_wait_ns += wait_ns;
		histogram_add(stats->wait_slots, wait_ns);
	}
	fault_began(ctx, interval_sub, info, stats, seq, bpf_ktime_get_ns(), direct);
	if (snoop && (record = record_event(HMMTRACE_EVENT_MMU_INTERVAL_READ_BEGIN,
					    interval_sub, info->tgid, direct))) {
		record->seq = seq;
		record->duration_ns = wait_ns;
		record->flags = waited ? HMMTRACE_FLAG_WAITED : 0;
		bpf_ringbuf_submit(record, 0);
	}
	return 0;
}

static __always_inline int count_retry(void *ctx, const struct mmu_interval_notifier *interval_sub,
				       __u32 event, __u64 seq, bool direct)
{
	struct hmmtrace_range_info *info;
	struct hmmtrace_event_record *record;
	struct hmmtrace_stats *stats;

	if (!counted(interval_sub, direct, &info, &stats))
		return 0;
	if (event == HMMTRACE_EVENT_MMU_INTERVAL_READ_RETRY) {
		stats->read_retries++;
		fault_retried(ctx, interval_sub, info, stats, bpf_ktime_get_ns());
	} else {
		/* Inside hmm_range_fault(), its -EBUSY counts the go-round. */
		stats->check_retries++;
	}
	if (snoop && (record = record_event(event, interval_sub, info->tgid, direct))) {
		record->seq = seq;
		bpf_ringbuf_submit(record, 0);
	}
	return 0;
}

static __always_inline int count_range_fault(void *ctx, const struct hmm_range *range, int ret,
					     __u64 duration_ns, bool direct)
{
	const struct mmu_interval_notifier *interval_sub = KERNEL_FIELD(direct, range, notifier);
	struct hmmtrace_range_info *info;
	struct hmmtrace_event_record *record;
	struct hmmtrace_stats *stats;

	if (!counted(interval_sub, direct, &info, &stats))
		return 0;
	stats->range_faults++;
	if (ret == -EBUSY) {
		stats->range_fault_ebusy++;
		fault_retried(ctx, interval_sub, info, stats, bpf_ktime_get_ns());
	} else if (!ret) {
		fault_completed(ctx, interval_sub, info, stats, bpf_ktime_get_ns());
	}
	if (snoop && (record = record_event(HMMTRACE_EVENT_HMM_RANGE_FAULT, interval_sub, info->tgid,
					    direct))) {
		record->seq = KERNEL_FIELD(direct, range, notifier_seq);
		record->start = KERNEL_FIELD(direct, range, start);
		record->end = KERNEL_FIELD(direct, range, end);
		record->ret = ret;
		record->duration_ns = duration_ns;
		bpf_ringbuf_submit(record, 0);
	}
	return 0;
}

/*
 * Range starts and ends matter to `latency` and `snoop`; without
 * CONFIG_MEMCG, starts also teach kworkers' events their owner. User space
 * attaches them only when one of those needs them.
 */
static __always_inline int range_started(const struct mmu_notifier_range *range, bool direct,
					 int ret, __u64 started_ns, __u64 duration_ns)
{
	struct hmmtrace_event_record *record;
	const struct mm_struct *mm = KERNEL_FIELD(direct, range, mm);
	__u64 key = (__u64)range;
	__u32 tgid = owner_of(mm, direct);

	/* Ranges start in the owner's context: kworkers' events learn it here. */
	if (tgid && !kernel_has_mm_owner())
		learn_owner(mm, tgid);
	if (filtered_out(tgid) || !(time_ranges || snoop))
		return 0;
	/* A failed non-blockable start is never ended. */
	if (ret)
		bpf_map_delete_elem(&range_starts, &key);
	else
		bpf_map_update_elem(&range_starts, &key, &started_ns, BPF_ANY);
	if (snoop && (record = record_event(HMMTRACE_EVENT_MMU_NOTIFIER_INVALIDATE_RANGE_START,
					    NULL, tgid, direct))) {
		record->interval_sub = key;
		record->start = KERNEL_FIELD(direct, range, start);
		record->end = KERNEL_FIELD(direct, range, end);
		record->ret = ret;
		record->duration_ns = duration_ns;
		record->range_event = KERNEL_FIELD(direct, range, event);
		bpf_ringbuf_submit(record, 0);
	}
	return 0;
}

static __always_inline int range_ended(const struct mmu_notifier_range *range, bool direct)
{
	struct hmmtrace_event_record *record;
	struct hmmtrace_histogram *histogram;
	__u64 key = (__u64)range, *started, elapsed = 0;
	__u32 tgid, event;

	if (!(time_ranges || snoop))
		return 0;
	tgid = owner_of(KERNEL_FIELD(direct, range, mm), direct);
	if (filtered_out(tgid))
		return 0;
	event = KERNEL_FIELD(direct, range, event);
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
	if (snoop && (record = record_event(HMMTRACE_EVENT_MMU_NOTIFIER_INVALIDATE_RANGE_END,
					    NULL, tgid, direct))) {
		record->interval_sub = key;
		record->start = KERNEL_FIELD(direct, range, start);
		record->end = KERNEL_FIELD(direct, range, end);
		record->duration_ns = elapsed;
		record->range_event = event;
		bpf_ringbuf_submit(record, 0);
	}
	return 0;
}

/*
 * Mode 1: the tracepoints. Each handler twice, tp_btf where the kernel has
 * BTF for the event, else raw_tp. Names start with tp_ and raw_tp_.
 */
#define TRACEPOINT_HANDLER(event, body)						\
	SEC("tp_btf/" #event)							\
	int BPF_PROG(tp_##event, HMMTRACE_ARGS_##event)				\
	{									\
		const bool direct __attribute__((unused)) = true;		\
		return body;							\
	}									\
	SEC("raw_tp/" #event)							\
	int BPF_PROG(raw_tp_##event, HMMTRACE_ARGS_##event)			\
	{									\
		const bool direct __attribute__((unused)) = false;		\
		return body;							\
	}

TRACEPOINT_HANDLER(mmu_interval_notifier_insert, count_insert(interval_sub, deferred, direct))
TRACEPOINT_HANDLER(mmu_interval_notifier_remove,
		   count_remove(interval_sub, waited, wait_ns, direct))
TRACEPOINT_HANDLER(mmu_interval_notifier_invalidate,
		   count_invalidate(ctx, interval_sub, range, cur_seq, ret, duration_ns, direct))
TRACEPOINT_HANDLER(mmu_interval_read_begin,
		   count_read_begin(ctx, interval_sub, seq, waited, wait_ns, direct))
TRACEPOINT_HANDLER(mmu_interval_read_retry,
		   count_retry(ctx, interval_sub, HMMTRACE_EVENT_MMU_INTERVAL_READ_RETRY, seq, direct))
TRACEPOINT_HANDLER(mmu_interval_check_retry,
		   count_retry(ctx, interval_sub, HMMTRACE_EVENT_MMU_INTERVAL_CHECK_RETRY, seq, direct))
TRACEPOINT_HANDLER(hmm_range_fault, count_range_fault(ctx, range, ret, duration_ns, direct))
/* The start event fires after the subscribers ran, and carries their time. */
TRACEPOINT_HANDLER(mmu_notifier_invalidate_range_start,
		   range_started(range, direct, ret, bpf_ktime_get_ns() - duration_ns, duration_ns))
TRACEPOINT_HANDLER(mmu_notifier_invalidate_range_end, range_ended(range, direct))

/*
 * Mode 2: stock kernels. The entry side of each function records its
 * arguments and time; the return side counts. fentry/fexit and
 * kprobe/kretprobe handlers share these.
 */
static __always_inline int remember_call(__u32 call, __u64 argument, __u64 extra, __u64 flag)
{
	struct pending_key key = { .tid = current_tid(), .call = call };
	struct pending_value value = {
		.argument = argument, .extra = extra,
		.started_ns = bpf_ktime_get_ns(), .flag = flag,
	};

	bpf_map_update_elem(&pending, &key, &value, BPF_ANY);
	return 0;
}

/* The remembered call, removed from the map and copied to *value. */
static __always_inline bool recall(__u32 call, struct pending_value *value)
{
	struct pending_key key = { .tid = current_tid(), .call = call };
	struct pending_value *found = bpf_map_lookup_elem(&pending, &key);

	if (!found)
		return false;
	*value = *found;
	bpf_map_delete_elem(&pending, &key);
	return true;
}

static __always_inline int insert_returned(int ret)
{
	struct pending_value call;

	if (!recall(PENDING_INSERT, &call) || ret)
		return 0;
	return count_insert((const struct mmu_interval_notifier *)call.argument, false, false);
}

/* read_begin sleeps exactly when an invalidation of this subscription is in flight. */
static __always_inline int read_begin_entered(const struct mmu_interval_notifier *interval_sub,
					      bool direct)
{
	__u64 own_seq = KERNEL_FIELD(direct, interval_sub, invalidate_seq);
	__u64 mm_seq = direct ? interval_sub->mm->notifier_subscriptions->invalidate_seq :
				BPF_CORE_READ(interval_sub, mm, notifier_subscriptions, invalidate_seq);

	remember_call(PENDING_READ_BEGIN, (__u64)interval_sub, 0, own_seq == mm_seq);
	return 0;
}

static __always_inline int read_begin_returned(void *ctx, __u64 seq)
{
	struct pending_value call;

	if (!recall(PENDING_READ_BEGIN, &call))
		return 0;
	return count_read_begin(ctx, (const struct mmu_interval_notifier *)call.argument, seq,
				call.flag, call.flag ? bpf_ktime_get_ns() - call.started_ns : 0, false);
}

static __always_inline int range_start_returned(int ret)
{
	struct pending_value call;

	if (!recall(PENDING_RANGE_START, &call))
		return 0;
	return range_started((const struct mmu_notifier_range *)call.argument, false, ret,
			     call.started_ns, bpf_ktime_get_ns() - call.started_ns);
}

static __always_inline int callback_returned(void *ctx, bool ret)
{
	struct pending_value call;

	if (!recall(PENDING_CALLBACK, &call))
		return 0;
	return count_invalidate(ctx, (const struct mmu_interval_notifier *)call.argument,
				(const struct mmu_notifier_range *)call.extra, call.flag, ret,
				bpf_ktime_get_ns() - call.started_ns, false);
}

static __always_inline int range_fault_returned(void *ctx, int ret)
{
	struct pending_value call;

	if (!recall(PENDING_RANGE_FAULT, &call))
		return 0;
	return count_range_fault(ctx, (const struct hmm_range *)call.argument, ret,
				 bpf_ktime_get_ns() - call.started_ns, false);
}

/*
 * Each hook twice: fentry/fexit (names fentry_, fexit_) and kprobe/kretprobe
 * (names kprobe_, kretprobe_). fexit sees the arguments again before the
 * return value; kretprobe sees only the return value, hence remember_call().
 */
#define UNPACK(...) __VA_ARGS__

#define STOCK_ENTRY(name, function, arguments, body)				\
	SEC("fentry/" function)							\
	int BPF_PROG(fentry_##name, UNPACK arguments)				\
	{									\
		const bool direct __attribute__((unused)) = true;		\
		return body;							\
	}									\
	SEC("kprobe/" function)							\
	int BPF_KPROBE(kprobe_##name, UNPACK arguments)				\
	{									\
		const bool direct __attribute__((unused)) = false;		\
		return body;							\
	}

#define STOCK_RETURN(name, function, arguments, return_type, body)		\
	SEC("fexit/" function)							\
	int BPF_PROG(fexit_##name, UNPACK arguments, return_type ret)		\
	{ return body; }							\
	SEC("kretprobe/" function)						\
	int BPF_KRETPROBE(kretprobe_##name, return_type ret) { return body; }

#define INSERT_ARGUMENTS (struct mmu_interval_notifier *interval_sub,		\
			  struct mm_struct *mm, unsigned long start,		\
			  unsigned long length,					\
			  const struct mmu_interval_notifier_ops *ops)

STOCK_ENTRY(insert, "mmu_interval_notifier_insert", INSERT_ARGUMENTS,
	    remember_call(PENDING_INSERT, (__u64)interval_sub, 0, 0))
STOCK_RETURN(insert, "mmu_interval_notifier_insert", INSERT_ARGUMENTS, int,
	     insert_returned(ret))
STOCK_ENTRY(insert_locked, "mmu_interval_notifier_insert_locked", INSERT_ARGUMENTS,
	    remember_call(PENDING_INSERT, (__u64)interval_sub, 0, 0))
STOCK_RETURN(insert_locked, "mmu_interval_notifier_insert_locked", INSERT_ARGUMENTS, int,
	     insert_returned(ret))
STOCK_ENTRY(remove, "mmu_interval_notifier_remove",
	    (struct mmu_interval_notifier *interval_sub),
	    count_remove(interval_sub, false, 0, direct))
STOCK_ENTRY(read_begin, "mmu_interval_read_begin",
	    (struct mmu_interval_notifier *interval_sub),
	    read_begin_entered(interval_sub, direct))
STOCK_RETURN(read_begin, "mmu_interval_read_begin",
	     (struct mmu_interval_notifier *interval_sub), unsigned long,
	     read_begin_returned(ctx, ret))
STOCK_ENTRY(range_start, "__mmu_notifier_invalidate_range_start",
	    (struct mmu_notifier_range *range),
	    remember_call(PENDING_RANGE_START, (__u64)range, 0, 0))
STOCK_RETURN(range_start, "__mmu_notifier_invalidate_range_start",
	     (struct mmu_notifier_range *range), int, range_start_returned(ret))
STOCK_ENTRY(range_end, "__mmu_notifier_invalidate_range_end",
	    (struct mmu_notifier_range *range), range_ended(range, direct))
STOCK_ENTRY(range_fault, "hmm_range_fault", (struct hmm_range *range),
	    remember_call(PENDING_RANGE_FAULT, (__u64)range, 0, 0))
STOCK_RETURN(range_fault, "hmm_range_fault", (struct hmm_range *range), int,
	     range_fault_returned(ctx, ret))

/*
 * The drivers' invalidate callbacks: one fentry/fexit pair per callback
 * found in the running kernel, each aimed by user space at its target.
 */
#define CALLBACK_HANDLERS(index)						\
	SEC("fentry")								\
	int BPF_PROG(fentry_callback_##index,					\
		     struct mmu_interval_notifier *interval_sub,		\
		     const struct mmu_notifier_range *range,			\
		     unsigned long cur_seq)					\
	{									\
		return remember_call(PENDING_CALLBACK, (__u64)interval_sub,	\
				     (__u64)range, cur_seq);			\
	}									\
	SEC("fexit")								\
	int BPF_PROG(fexit_callback_##index,					\
		     struct mmu_interval_notifier *interval_sub,		\
		     const struct mmu_notifier_range *range,			\
		     unsigned long cur_seq, bool ret)				\
	{									\
		return callback_returned(ctx, ret);				\
	}

CALLBACK_HANDLERS(0)
CALLBACK_HANDLERS(1)
CALLBACK_HANDLERS(2)
CALLBACK_HANDLERS(3)
CALLBACK_HANDLERS(4)
CALLBACK_HANDLERS(5)
CALLBACK_HANDLERS(6)
CALLBACK_HANDLERS(7)

/* The callbacks: user space attaches these two to every callback it found. */
SEC("kprobe")
int BPF_KPROBE(kprobe_callback, struct mmu_interval_notifier *interval_sub,
	       const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	return remember_call(PENDING_CALLBACK, (__u64)interval_sub, (__u64)range, cur_seq);
}

SEC("kretprobe")
int BPF_KRETPROBE(kretprobe_callback, bool ret)
{
	return callback_returned(ctx, ret);
}

char LICENSE[] SEC("license") = "GPL";
