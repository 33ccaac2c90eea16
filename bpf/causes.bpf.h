/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Why invalidations happen, for `causes`: each invalidation a driver's
 * callback takes is counted under its cause (struct hmmtrace_cause_key):
 * the range's event, the invalidating context, the syscall it is in and,
 * when asked, its kernel stack, from which user space names the entry point
 * and what the mm was doing. A subscription remembers its last cause, so
 * that the faults which follow within refault_ns (ping-pong) and their
 * go-rounds are charged to it.
 *
 * The callback runs in the invalidating context (a process in a syscall or
 * a fault, or a kernel thread: kswapd, khugepaged, ksmd, ...), so current
 * is the culprit, whatever the attach mode.
 */
#ifndef HMMTRACE_CAUSES_BPF_H
#define HMMTRACE_CAUSES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "hmmtrace.h"
#include "histograms.bpf.h"
#include "kernel_access.bpf.h"
#include "knobs.bpf.h"
#include "maps.bpf.h"
#include "records.bpf.h"

#define PF_KTHREAD	0x00200000
#define ENOSYS		38
#define PAGE_SHIFT	12

/* A subscription's last invalidation: when, and its cause. */
struct last_invalidation {
	__u64 timestamp_ns;
	struct hmmtrace_cause_key cause;
};

/* User space shrinks it to one entry unless `causes` runs. */
MAP(BPF_MAP_TYPE_LRU_HASH, __u64, struct last_invalidation, MAX_SUBSCRIPTIONS)
	last_invalidations SEC(".maps") __weak;

/*
 * The syscall TASK is in, from its user registers. x86-64's entry code
 * stores the number in orig_ax and -ENOSYS in ax, which stays until the
 * syscall returns. An exception (a page fault) stores its error code in
 * orig_ax and an interrupt a negative vector, and both leave the user's ax,
 * which is -ENOSYS only by chance. So task work that runs on the way back
 * to user space (task_numa_work) is in no syscall: ax holds the result.
 */
static __always_inline __s32 syscall_in_progress(struct task_struct *task)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	long number, result;

	if (!regs)
		return HMMTRACE_NO_SYSCALL;
	number = BPF_CORE_READ(regs, orig_ax);
	result = BPF_CORE_READ(regs, ax);
	return number >= 0 && result == -ENOSYS ? (__s32)number : HMMTRACE_NO_SYSCALL;
}

/* What an invalidation covers of a subscription. */
struct invalidation_extent {
	__u64 pages;
	bool covers_all;	/* the whole subscription, and more (exit's 0..~0 among them) */
};

static __always_inline struct invalidation_extent
invalidation_extent(const struct mmu_interval_notifier *interval_sub,
		    const struct mmu_notifier_range *range, bool btf_typed)
{
	__u64 start = KERNEL_FIELD(btf_typed, range, start);
	__u64 end = KERNEL_FIELD(btf_typed, range, end);
	__u64 first = KERNEL_FIELD(btf_typed, interval_sub, interval_tree.start);
	__u64 after = KERNEL_FIELD(btf_typed, interval_sub, interval_tree.last) + 1;
	__u64 low = start > first ? start : first;
	__u64 high = end < after ? end : after;

	return (struct invalidation_extent){
		.pages = high > low ? (high - low + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT : 0,
		.covers_all = start <= first && end >= after && (start < first || end > after),
	};
}

/* The cause of an invalidation by current, with its stack if asked for. */
static __always_inline struct hmmtrace_cause_key
cause_of(void *ctx, const struct mmu_notifier_range *range, __u64 callback, bool btf_typed)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct hmmtrace_cause_key key = { .callback = callback, .stack_id = -1 };
	__u32 flags = BPF_CORE_READ(task, flags);

	key.event = KERNEL_FIELD(btf_typed, range, event);
	key.kernel_thread = !!(flags & PF_KTHREAD);
	key.context = key.kernel_thread ? current_tid() : current_tgid();
	key.syscall = key.kernel_thread ? HMMTRACE_NO_SYSCALL : syscall_in_progress(task);
	if (cause_stacks) {
		key.stack_id = bpf_get_stackid(ctx, &stacks, 0);
		/* Counted without its stack, and said so. */
		if (key.stack_id < 0)
			count_lost(HMMTRACE_LOST_STACKS);
	}
	return key;
}

/* An invalidation of INTERVAL_SUB by the driver of CALLBACK: charge it to its cause. */
static __always_inline void count_cause(void *ctx, const struct mmu_interval_notifier *interval_sub,
					const struct mmu_notifier_range *range, __u64 callback,
					const struct invalidation_extent *extent, __u64 duration_ns,
					bool btf_typed)
{
	static const struct hmmtrace_cause zero;
	struct last_invalidation last = { .cause = cause_of(ctx, range, callback, btf_typed) };
	__u64 subscription_key = (__u64)interval_sub;
	struct hmmtrace_cause *cause;

	cause = map_lookup_or_try_init(&causes, &last.cause, &zero);
	if (!cause) {
		count_lost(HMMTRACE_LOST_CAUSES);
		return;
	}
	cause->invalidations++;
	cause->pages += extent->pages;
	cause->callback_ns += duration_ns;
	cause->invalidate_all += extent->covers_all;
	if (!cause->comm[0])
		bpf_get_current_comm(cause->comm, sizeof(cause->comm));
	last.timestamp_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&last_invalidations, &subscription_key, &last, BPF_ANY);
}

/*
 * A new fault on INTERVAL_SUB at NOW: a refault if the subscription was
 * invalidated within refault_ns, charged to that invalidation's cause,
 * which CAUSE_KEY is set to, for its go-rounds.
 */
static __always_inline bool count_refault(const struct mmu_interval_notifier *interval_sub,
					  __u64 now, struct hmmtrace_cause_key *cause_key)
{
	__u64 subscription_key = (__u64)interval_sub;
	struct last_invalidation *last;
	struct hmmtrace_cause *cause;

	if (!attribute_causes)
		return false;
	last = bpf_map_lookup_elem(&last_invalidations, &subscription_key);
	if (!last || now < last->timestamp_ns || now - last->timestamp_ns > refault_ns)
		return false;
	*cause_key = last->cause;
	cause = bpf_map_lookup_elem(&causes, cause_key);
	if (cause)
		cause->refaults++;
	return true;
}

/* A go-round of a refault: a read_retry collision, or -EBUSY. */
static __always_inline void count_refault_go_round(const struct hmmtrace_cause_key *cause_key,
						   bool ebusy)
{
	struct hmmtrace_cause *cause = bpf_map_lookup_elem(&causes, cause_key);

	if (!cause)
		return;
	if (ebusy)
		cause->refault_ebusy++;
	else
		cause->refault_retries++;
}

/* latency: hmm_range_fault() time of the driver of CALLBACK by the fault's size. */
static __always_inline void count_fault_size(const struct hmm_range *range, __u64 callback,
					     __u64 duration_ns, bool btf_typed)
{
	static const struct hmmtrace_histogram zero;
	__u64 start = KERNEL_FIELD(btf_typed, range, start);
	__u64 end = KERNEL_FIELD(btf_typed, range, end);
	struct hmmtrace_fault_size_key key = { .callback = callback };
	struct hmmtrace_histogram *histogram;

	key.pages_slot = log2_slot(end > start ? (end - start) >> PAGE_SHIFT : 0);
	histogram = map_lookup_or_try_init(&fault_sizes, &key, &zero);
	if (!histogram) {
		count_lost(HMMTRACE_LOST_STATS);
		return;
	}
	histogram->count++;
	histogram->total_ns += duration_ns;
	histogram_add(histogram->slots, duration_ns);
}

#endif /* HMMTRACE_CAUSES_BPF_H */
