// SPDX-License-Identifier: GPL-2.0-only
/*
 * The stock modes, on kernels without kernel/patches: the exported notifier
 * functions of bpf/handlers.h and the drivers' invalidate callbacks, with
 * fentry/fexit (BTF-typed arguments) or kprobe/kretprobe; user space loads
 * one family, and in fentry mode kprobes for callbacks without BTF. The entry side of a function remembers its arguments and
 * time, the return side counts (bpf/counting.bpf.h).
 *
 * read_retry and check_retry are inlined there, so read_retry collisions
 * are inferred (see retry_inferred()) and check_retry is not seen apart
 * from hmm_range_fault()'s -EBUSY.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "counting.bpf.h"
#include "handlers.h"

/* Arguments and entry times, from a function's entry to its return. */
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
	__u32 would_wait;	/* read_begin: an invalidation was in flight at entry */
	__u32 padding;
	__u64 object;		/* the subscription, the mmu_notifier_range or the hmm_range */
	__u64 range;		/* callbacks: the mmu_notifier_range invalidated */
	__u64 cur_seq;		/* callbacks: the invalidation's seq */
	__u64 started_ns;
};

/*
 * User space shrinks it to one entry in the tracepoint modes. A plain hash:
 * an LRU would evict a call in progress without a word. Every entry is
 * taken out at its return, or at its thread's exit (task_exited()).
 */
MAP(BPF_MAP_TYPE_HASH, struct pending_key, struct pending_value, MAX_PENDING)
	pending SEC(".maps");

/*
 * A range start with no room goes untimed, as one range_starts has no room
 * for: it is counted as that. Every other call's event goes uncounted.
 */
static __always_inline int remember_call(__u32 call, struct pending_value *value)
{
	struct pending_key key = { .tid = current_tid(), .call = call };

	value->started_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&pending, &key, value, BPF_ANY))
		count_lost(call == PENDING_RANGE_START ? HMMTRACE_LOST_RANGE_STARTS :
							 HMMTRACE_LOST_PENDING);
	return 0;
}

/* An entry handler's record: CALL, and the pending_value fields that follow. */
#define REMEMBER(call, ...) remember_call(call, &(struct pending_value){ __VA_ARGS__ })

/* read_begin sleeps exactly when an invalidation of this subscription is in flight. */
static __always_inline int read_begin_entered(const struct mmu_interval_notifier *interval_sub,
					      bool btf_typed)
{
	__u64 own_seq = KERNEL_FIELD(btf_typed, interval_sub, invalidate_seq);
	__u64 mm_seq = btf_typed ? interval_sub->mm->notifier_subscriptions->invalidate_seq :
				   BPF_CORE_READ(interval_sub, mm, notifier_subscriptions, invalidate_seq);

	return REMEMBER(PENDING_READ_BEGIN, .object = (__u64)interval_sub,
			.would_wait = own_seq == mm_seq);
}

/*
 * A remembered CALL returned RET: count it, with what its entry saw. The
 * entry is taken out of `pending` first. CALL is a constant in every
 * handler, so only its case is compiled in.
 */
static __always_inline int call_returned(void *ctx, __u32 call, long ret)
{
	struct pending_key key = { .tid = current_tid(), .call = call };
	struct pending_value *found = bpf_map_lookup_elem(&pending, &key);
	struct pending_value entry;
	__u64 elapsed_ns;

	if (!found)
		return 0;
	entry = *found;
	bpf_map_delete_elem(&pending, &key);
	elapsed_ns = bpf_ktime_get_ns() - entry.started_ns;
	switch (call) {
	case PENDING_INSERT:
		return ret ? 0 : count_insert((const void *)entry.object, false, false);
	case PENDING_READ_BEGIN:
		return count_read_begin(ctx, (const void *)entry.object, ret, entry.would_wait,
					entry.would_wait ? elapsed_ns : 0, false);
	case PENDING_RANGE_START:
		return range_started((const void *)entry.object, false, ret, entry.started_ns,
				     elapsed_ns);
	case PENDING_CALLBACK:
		return count_invalidate(ctx, (const void *)entry.object, (const void *)entry.range,
					entry.cur_seq, ret, elapsed_ns, false);
	case PENDING_RANGE_FAULT:
		return count_range_fault(ctx, (const void *)entry.object, ret, elapsed_ns, false);
	}
	return 0;
}

/*
 * Each function's arguments, and what its entry and return handlers do
 * (ENTERED_<name>, RETURNED_<name>, with the arguments and `ret` in scope).
 */
#define ARGUMENTS_insert struct mmu_interval_notifier *interval_sub, struct mm_struct *mm,	\
			 unsigned long start, unsigned long length,				\
			 const struct mmu_interval_notifier_ops *ops
#define RETURN_TYPE_insert int
#define ENTERED_insert REMEMBER(PENDING_INSERT, .object = (__u64)interval_sub)
#define RETURNED_insert call_returned(ctx, PENDING_INSERT, ret)

#define ARGUMENTS_insert_locked ARGUMENTS_insert
#define RETURN_TYPE_insert_locked int
#define ENTERED_insert_locked ENTERED_insert
#define RETURNED_insert_locked RETURNED_insert

#define ARGUMENTS_remove struct mmu_interval_notifier *interval_sub
#define ENTERED_remove count_remove(interval_sub, false, 0, btf_typed)

#define ARGUMENTS_read_begin struct mmu_interval_notifier *interval_sub
#define RETURN_TYPE_read_begin unsigned long
#define ENTERED_read_begin read_begin_entered(interval_sub, btf_typed)
#define RETURNED_read_begin call_returned(ctx, PENDING_READ_BEGIN, ret)

#define ARGUMENTS_range_start struct mmu_notifier_range *range
#define RETURN_TYPE_range_start int
#define ENTERED_range_start REMEMBER(PENDING_RANGE_START, .object = (__u64)range)
#define RETURNED_range_start call_returned(ctx, PENDING_RANGE_START, ret)

#define ARGUMENTS_range_end struct mmu_notifier_range *range
#define ENTERED_range_end range_ended(range, btf_typed)

#define ARGUMENTS_range_fault struct hmm_range *range
#define RETURN_TYPE_range_fault int
#define ENTERED_range_fault REMEMBER(PENDING_RANGE_FAULT, .object = (__u64)range)
#define RETURNED_range_fault call_returned(ctx, PENDING_RANGE_FAULT, ret)

/*
 * fexit sees the arguments again before the return value; kretprobe sees
 * only the return value, hence remember_call().
 */
#define STOCK_SIDES_ENTRY(name, function)						\
	HANDLER("fentry/" #function, BPF_PROG, (fentry_##name, ARGUMENTS_##name), true,	\
		ENTERED_##name)								\
	HANDLER("kprobe/" #function, BPF_KPROBE, (kprobe_##name, ARGUMENTS_##name), false,	\
		ENTERED_##name)
#define STOCK_SIDES_ENTRY_RETURN(name, function)					\
	STOCK_SIDES_ENTRY(name, function)						\
	HANDLER("fexit/" #function, BPF_PROG,						\
		(fexit_##name, ARGUMENTS_##name, RETURN_TYPE_##name ret), true,		\
		RETURNED_##name)							\
	HANDLER("kretprobe/" #function, BPF_KRETPROBE,					\
		(kretprobe_##name, RETURN_TYPE_##name ret), false, RETURNED_##name)
#define STOCK_HANDLERS(name, function, sides, need, use) STOCK_SIDES_##sides(name, function)

HMMTRACE_STOCK_HANDLERS(STOCK_HANDLERS)

/*
 * The drivers' invalidate callbacks: in fentry mode one pair per callback
 * slot, each aimed by user space at its callback; in kprobe mode one pair
 * attached to them all, which fentry mode also attaches to the callbacks
 * of modules without BTF.
 */
#define CALLBACK_ARGUMENTS struct mmu_interval_notifier *interval_sub,		\
			   const struct mmu_notifier_range *range,		\
			   unsigned long cur_seq
#define CALLBACK_ENTERED REMEMBER(PENDING_CALLBACK, .object = (__u64)interval_sub,	\
				  .range = (__u64)range, .cur_seq = cur_seq)
#define CALLBACK_RETURNED call_returned(ctx, PENDING_CALLBACK, ret)

#define CALLBACK_HANDLERS(slot)								\
	HANDLER("fentry", BPF_PROG, (fentry_callback_##slot, CALLBACK_ARGUMENTS), true,	\
		CALLBACK_ENTERED)							\
	HANDLER("fexit", BPF_PROG, (fexit_callback_##slot, CALLBACK_ARGUMENTS, bool ret),	\
		true, CALLBACK_RETURNED)

HMMTRACE_CALLBACK_SLOTS(CALLBACK_HANDLERS)
HANDLER("kprobe", BPF_KPROBE, (kprobe_callback, CALLBACK_ARGUMENTS), false, CALLBACK_ENTERED)
HANDLER("kretprobe", BPF_KRETPROBE, (kretprobe_callback, bool ret), false, CALLBACK_RETURNED)

char LICENSE[] SEC("license") = "GPL";
