// SPDX-License-Identifier: GPL-2.0-only
/*
 * hmmtrace's BPF side, on the tracepoints of kernel/patches. Every handler
 * exists as tp_btf and as raw_tp; user space keeps the pair the kernel
 * supports. Events are aggregated into a per-CPU hash keyed by driver
 * callback, process or range, cumulatively, so no event is lost.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "hmmtrace.h"
#include "hmmtrace_events.h"

#define MAX_GROUPS	16384
#define MAX_RANGES	262144

const volatile __u32 grouping = HMMTRACE_BY_DRIVER;
const volatile __u32 target_tgid;	/* 0: every process */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MAX_GROUPS);
	__type(key, __u64);
	__type(value, struct hmmtrace_stats);
} stats SEC(".maps");

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

static __always_inline __u32 owner_of(const struct mm_struct *mm)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	__u64 mm_key = (__u64)mm;
	__u32 *known, tgid;

	if (task->mm == mm) {
		tgid = task->tgid;
		known = bpf_map_lookup_elem(&mm_owners, &mm_key);
		if (!known || *known != tgid)
			bpf_map_update_elem(&mm_owners, &mm_key, &tgid, BPF_ANY);
		return tgid;
	}
	known = bpf_map_lookup_elem(&mm_owners, &mm_key);
	return known ? *known : 0;
}

static __always_inline __u64 callback_of(const struct mmu_interval_notifier *interval_sub)
{
	return (__u64)BPF_CORE_READ(interval_sub, ops, invalidate);
}

static __always_inline void remember_range(const struct mmu_interval_notifier *interval_sub,
					   __u32 tgid)
{
	__u64 key = (__u64)interval_sub;
	struct hmmtrace_range_info info = {};

	if (bpf_map_lookup_elem(&ranges, &key))
		return;
	info.start = BPF_CORE_READ(interval_sub, interval_tree.start);
	info.last = BPF_CORE_READ(interval_sub, interval_tree.last);
	info.invalidate = callback_of(interval_sub);
	info.tgid = tgid;
	bpf_map_update_elem(&ranges, &key, &info, BPF_NOEXIST);
}

/* The stats slot an event of this subscription counts into, or NULL to drop it. */
static __always_inline struct hmmtrace_stats *
stats_for(const struct mmu_interval_notifier *interval_sub)
{
	static const struct hmmtrace_stats zero;
	const struct mm_struct *mm = BPF_CORE_READ(interval_sub, mm);
	__u32 tgid = owner_of(mm);
	struct hmmtrace_stats *slot;
	__u64 group;

	if (target_tgid && tgid != target_tgid)
		return NULL;
	remember_range(interval_sub, tgid);
	if (grouping == HMMTRACE_BY_PROCESS)
		group = tgid;
	else if (grouping == HMMTRACE_BY_RANGE)
		group = (__u64)interval_sub;
	else
		group = callback_of(interval_sub);
	slot = bpf_map_lookup_elem(&stats, &group);
	if (slot)
		return slot;
	bpf_map_update_elem(&stats, &group, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&stats, &group);
}

static __always_inline __u32 log2_slot(__u64 value)
{
	__u32 slot = 0;

	/* Bounded loop: the verifier sees at most 64 iterations. */
	for (int bit = 0; bit < 64 && value > 1; bit++) {
		value >>= 1;
		slot++;
	}
	return slot < HMMTRACE_LATENCY_SLOTS ? slot : HMMTRACE_LATENCY_SLOTS - 1;
}

static __always_inline int on_insert(const struct mmu_interval_notifier *interval_sub)
{
	struct hmmtrace_stats *slot = stats_for(interval_sub);

	if (slot)
		slot->inserts++;
	return 0;
}

static __always_inline int on_remove(const struct mmu_interval_notifier *interval_sub)
{
	struct hmmtrace_stats *slot = stats_for(interval_sub);
	__u64 key = (__u64)interval_sub;

	if (slot)
		slot->removes++;
	/*
	 * Per range, user space still has to name this row after the remove;
	 * otherwise forget it, since the address will be reused.
	 */
	if (grouping != HMMTRACE_BY_RANGE)
		bpf_map_delete_elem(&ranges, &key);
	return 0;
}

static __always_inline int on_invalidate(const struct mmu_interval_notifier *interval_sub,
					 bool ret, __u64 duration_ns)
{
	struct hmmtrace_stats *slot = stats_for(interval_sub);
	__u32 bucket = log2_slot(duration_ns);

	if (!slot)
		return 0;
	slot->invalidations++;
	slot->invalidate_failures += !ret;
	slot->invalidate_ns += duration_ns;
	if (bucket < HMMTRACE_LATENCY_SLOTS)
		slot->invalidate_slots[bucket]++;
	return 0;
}

static __always_inline int on_read_begin(const struct mmu_interval_notifier *interval_sub,
					 bool waited, __u64 wait_ns)
{
	struct hmmtrace_stats *slot = stats_for(interval_sub);

	if (!slot)
		return 0;
	slot->read_begins++;
	slot->read_begin_waits += waited;
	slot->read_begin_wait_ns += wait_ns;
	return 0;
}

static __always_inline int on_retry(const struct mmu_interval_notifier *interval_sub,
				    bool under_lock)
{
	struct hmmtrace_stats *slot = stats_for(interval_sub);

	if (!slot)
		return 0;
	if (under_lock)
		slot->read_retries++;
	else
		slot->check_retries++;
	return 0;
}

static __always_inline int on_range_fault(const struct hmm_range *range, int ret)
{
	struct hmmtrace_stats *slot = stats_for(BPF_CORE_READ(range, notifier));

	if (!slot)
		return 0;
	slot->range_faults++;
	slot->range_fault_ebusy += ret == -16;	/* -EBUSY */
	return 0;
}

/* Each handler twice: tp_btf where the kernel has BTF for it, else raw_tp. */
#define HANDLER(event, body)							\
	SEC("tp_btf/" #event)							\
	int BPF_PROG(event##_btf, HMMTRACE_ARGS_##event) { return body; }	\
	SEC("raw_tp/" #event)							\
	int BPF_PROG(event##_raw, HMMTRACE_ARGS_##event) { return body; }

HANDLER(mmu_interval_notifier_insert, on_insert(interval_sub))
HANDLER(mmu_interval_notifier_remove, on_remove(interval_sub))
HANDLER(mmu_interval_notifier_invalidate, on_invalidate(interval_sub, ret, duration_ns))
HANDLER(mmu_interval_read_begin, on_read_begin(interval_sub, waited, wait_ns))
HANDLER(mmu_interval_read_retry, on_retry(interval_sub, true))
HANDLER(mmu_interval_check_retry, on_retry(interval_sub, false))
HANDLER(hmm_range_fault, on_range_fault(range, ret))

char LICENSE[] SEC("license") = "GPL";
