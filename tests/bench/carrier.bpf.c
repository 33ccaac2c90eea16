// SPDX-License-Identifier: GPL-2.0-only
/*
 * hmmtrace's real counting functions on a carrier the host can attach:
 * raw_syscalls:sys_enter, for getpid() only, with a synthetic subscription
 * and range as the event. The bench times a getpid() loop with and without
 * it (ebpf_exporter's method), natively, where the lab can only emulate.
 *
 * The synthetic objects are cast to their kernel types, so the counting
 * loads their fields as it does from tp_btf's arguments: the path measured
 * is the tracepoint mode's. Only the counting layer (bpf/counting.bpf.h and
 * what it builds on) is included, not the attach families.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "counting.bpf.h"

#define GETPID 39

extern void *bpf_rdonly_cast(const void *object, __u32 btf_id) __ksym;

const volatile __u32 carrier_tgid;

static struct mmu_interval_notifier synthetic_subscription;
static struct mmu_interval_notifier_ops synthetic_ops;
static struct mmu_notifier_range synthetic_range;

/*
 * The subscription of a range the carrier owns, as a real one would be:
 * its ops, callback and mm are set on the first call (BPF cannot relocate
 * pointers in initialized data). The callback is any nonzero address.
 */
static __always_inline const struct mmu_interval_notifier *carrier_subscription(void)
{
	if (!synthetic_subscription.ops) {
		synthetic_ops.invalidate = (void *)&synthetic_ops;
		synthetic_subscription.ops = (void *)&synthetic_ops;
		synthetic_subscription.mm = bpf_get_current_task_btf()->mm;
		synthetic_range.mm = synthetic_subscription.mm;
	}
	return bpf_rdonly_cast(&synthetic_subscription,
			       bpf_core_type_id_kernel(struct mmu_interval_notifier));
}

/* The range of an invalidation of the carrier's address space. */
static __always_inline const struct mmu_notifier_range *carrier_range(void)
{
	return bpf_rdonly_cast(&synthetic_range, bpf_core_type_id_kernel(struct mmu_notifier_range));
}

static __always_inline bool carrier_call(const struct trace_event_raw_sys_enter *ctx)
{
	return ctx->id == GETPID && bpf_get_current_pid_tgid() >> 32 == carrier_tgid;
}

/*
 * One handler per event, as the tracepoint mode's handler counts it. Each
 * runs alone, over and over: a read_begin is a new fault of a known
 * (task, subscription) each time; an hmm_range_fault() success after the
 * first finds its fault completed already; a range end finds no start.
 */
#define CARRIER_HANDLER(event, counting)				\
	SEC("tracepoint/raw_syscalls/sys_enter")			\
	int carrier_##event(struct trace_event_raw_sys_enter *ctx)	\
	{								\
		if (!carrier_call(ctx))					\
			return 0;					\
		return counting;					\
	}

CARRIER_HANDLER(insert, count_insert(carrier_subscription(), false, true))
CARRIER_HANDLER(remove, count_remove(carrier_subscription(), false, 0, true))
CARRIER_HANDLER(range_start, range_started(carrier_range(), true, 0, bpf_ktime_get_ns(), 1000))
CARRIER_HANDLER(range_end, range_ended(carrier_range(), true))
CARRIER_HANDLER(invalidate, count_invalidate(ctx, carrier_subscription(), carrier_range(), 3, true,
					     1000, true))
/* The same invalidation while a fault is in flight (carrier.c sets it): retries takes a stack. */
CARRIER_HANDLER(invalidate_fault_in_flight, count_invalidate(ctx, carrier_subscription(),
							     carrier_range(), 3, true, 1000, true))
CARRIER_HANDLER(read_begin, count_read_begin(ctx, carrier_subscription(), 2, false, 0, true))
CARRIER_HANDLER(read_retry, count_retry(ctx, carrier_subscription(),
					HMMTRACE_EVENT_MMU_INTERVAL_READ_RETRY, 2, true))
CARRIER_HANDLER(check_retry, count_retry(ctx, carrier_subscription(),
					 HMMTRACE_EVENT_MMU_INTERVAL_CHECK_RETRY, 2, true))
CARRIER_HANDLER(hmm_range_fault, count_range_fault_of(ctx, carrier_subscription(), NULL, 0, 1000, true))

/*
 * The method's control: the empty handler plus a known amount of work,
 * dependent squarings the compiler cannot fold (x86: an imul and an add,
 * about 4 cycles each), so that 4 of them add about 5 ns and 8 twice that.
 */
__u64 padding_sink;

static __always_inline int with_squarings(const struct trace_event_raw_sys_enter *ctx,
					  int squarings)
{
	__u64 value = ctx->args[0] | 3;

	for (int squaring = 0; squaring < squarings; squaring++)
		value = value * value + 1;
	padding_sink = value;
	return 0;
}

CARRIER_HANDLER(empty_plus_4_squarings, with_squarings(ctx, 4))
CARRIER_HANDLER(empty_plus_8_squarings, with_squarings(ctx, 8))

/*
 * Parts of the fault path, alone: one clock read (bpf_ktime_get_ns(), which
 * a hypervisor may make dear), one lookup of the subscriptions hash, and
 * the task's slot in task local storage.
 */
__u64 clock_sink;

CARRIER_HANDLER(clock_read, (clock_sink = bpf_ktime_get_ns(), 0))
CARRIER_HANDLER(subscription_lookup, (subscription_of(carrier_subscription(), true) ? 0 : 1))
CARRIER_HANDLER(task_slot, (task_fault_of(carrier_subscription()) ? 0 : 1))

/* The same filter and nothing else: what the carrier itself costs. */
SEC("tracepoint/raw_syscalls/sys_enter")
int carrier_empty(struct trace_event_raw_sys_enter *ctx)
{
	if (!carrier_call(ctx))
		return 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
