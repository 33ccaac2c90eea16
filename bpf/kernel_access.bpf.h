/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reading the kernel's objects: a subscription's fields, its callback, and
 * the process owning an address space.
 *
 * Handlers hold two kinds of pointers. tp_btf and fentry/fexit arguments are
 * BTF-typed: their fields are plain loads. raw_tp and kprobe arguments, and
 * pointers kept in maps, are not, and need a probe read, which costs far
 * more. Every function here takes BTF_TYPED, a constant in each handler, so
 * the other branch is compiled out before the verifier sees it.
 */
#ifndef HMMTRACE_KERNEL_ACCESS_BPF_H
#define HMMTRACE_KERNEL_ACCESS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "maps.bpf.h"

#define KERNEL_FIELD(btf_typed, pointer, field) \
	((btf_typed) ? (pointer)->field : BPF_CORE_READ(pointer, field))

/*
 * One handler: in SECTION, the program DEFINE(ARGUMENTS) (BPF_PROG,
 * BPF_KPROBE, ...), whose pointers are BTF-typed if TYPED; it returns BODY,
 * with the arguments and btf_typed in scope.
 */
#define HANDLER(section, define, arguments, typed, body)			\
	SEC(section)								\
	int define arguments							\
	{									\
		const bool btf_typed __attribute__((unused)) = typed;		\
										\
		return body;							\
	}

static __always_inline __u32 current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

static __always_inline __u32 current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

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
static __always_inline __u32 owner_of(const struct mm_struct *mm, bool btf_typed)
{
	const struct mm_struct___memcg *memcg_mm = (const void *)mm;
	const struct mm_struct *current_mm;
	const struct task_struct *owner;
	__u64 mm_key = (__u64)mm;
	__u32 *known;

	if (btf_typed)
		current_mm = bpf_get_current_task_btf()->mm;
	else
		current_mm = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), mm);
	if (current_mm == mm)
		return current_tgid();
	if (!mm)
		return 0;
	if (kernel_has_mm_owner()) {
		owner = KERNEL_FIELD(btf_typed, memcg_mm, owner);
		if (owner)
			return KERNEL_FIELD(btf_typed, owner, tgid);
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

/* The subscription's ops->invalidate: what names its driver. */
static __always_inline __u64 callback_of(const struct mmu_interval_notifier *interval_sub,
					 bool btf_typed)
{
	if (btf_typed)
		return (__u64)interval_sub->ops->invalidate;
	return (__u64)BPF_CORE_READ(interval_sub, ops, invalidate);
}

static __always_inline __u32 owner_of_subscription(const struct mmu_interval_notifier *interval_sub,
						   bool btf_typed)
{
	return owner_of(KERNEL_FIELD(btf_typed, interval_sub, mm), btf_typed);
}

#endif /* HMMTRACE_KERNEL_ACCESS_BPF_H */
