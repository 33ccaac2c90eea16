/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every BPF program of hmmtrace, declared once: the BPF side defines its
 * programs from these tables (bpf/attach_tracepoints.bpf.c and
 * bpf/attach_stock.bpf.c), and tools/attach.c loads and aims one mode's
 * programs from them. Each row is X(...) of an X-macro.
 */
#ifndef HMMTRACE_HANDLERS_H
#define HMMTRACE_HANDLERS_H

/*
 * When a handler is wanted. Range starts and ends cost every munmap() and
 * madvise(), so they are attached only for latency and snoop, and starts
 * also where the kernel has no mm->owner: there they teach kworkers' events
 * their owner.
 */
enum hmmtrace_handler_use {
	HMMTRACE_USE_ALWAYS,
	HMMTRACE_USE_RANGE_START,
	HMMTRACE_USE_RANGE_END,
};

/*
 * The tracepoint modes (kernel/patches): X(event, use) is the tp_btf
 * program tp_<event> and the raw_tp program raw_tp_<event>. The series adds
 * every event at once, so each is required.
 */
#define HMMTRACE_TRACEPOINT_HANDLERS(X)					\
	X(mmu_interval_notifier_insert, ALWAYS)				\
	X(mmu_interval_notifier_remove, ALWAYS)				\
	X(mmu_interval_notifier_invalidate, ALWAYS)			\
	X(mmu_interval_read_begin, ALWAYS)				\
	X(mmu_interval_read_retry, ALWAYS)				\
	X(mmu_interval_check_retry, ALWAYS)				\
	X(hmm_range_fault, ALWAYS)					\
	X(mmu_notifier_invalidate_range_start, RANGE_START)		\
	X(mmu_notifier_invalidate_range_end, RANGE_END)

/*
 * The stock modes: X(name, function, sides, need, use) is fentry_<name> and
 * kprobe_<name> on the function's entry and, when sides is
 * ENTRY_RETURN, fexit_<name> and kretprobe_<name> on its return. A
 * kernel without a REQUIRED function cannot be traced in the mode; an
 * OPTIONAL function's handlers are left unloaded where it is missing.
 */
#define HMMTRACE_STOCK_HANDLERS(X)						\
	X(insert, mmu_interval_notifier_insert, ENTRY_RETURN, REQUIRED, ALWAYS)		\
	X(insert_locked, mmu_interval_notifier_insert_locked, ENTRY_RETURN, OPTIONAL, ALWAYS) \
	X(remove, mmu_interval_notifier_remove, ENTRY, REQUIRED, ALWAYS)		\
	X(read_begin, mmu_interval_read_begin, ENTRY_RETURN, REQUIRED, ALWAYS)		\
	X(range_start, __mmu_notifier_invalidate_range_start, ENTRY_RETURN, OPTIONAL, RANGE_START) \
	X(range_end, __mmu_notifier_invalidate_range_end, ENTRY, OPTIONAL, RANGE_END)	\
	X(range_fault, hmm_range_fault, ENTRY_RETURN, OPTIONAL, ALWAYS)

/*
 * The drivers' invalidate callbacks, found at run time: X(slot) is the pair
 * fentry_callback_<slot>/fexit_callback_<slot>, aimed at one callback each
 * in fentry mode. Kprobe mode attaches its one pair,
 * kprobe_callback/kretprobe_callback, to every callback, and fentry mode
 * to each callback that fentry cannot aim at: one in a module without BTF.
 */
#define HMMTRACE_CALLBACK_SLOTS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define HMMTRACE_CALLBACK_SLOT_COUNT 8

#endif /* HMMTRACE_HANDLERS_H */
