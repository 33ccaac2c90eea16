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
	}
	return bpf_rdonly_cast(&synthetic_subscription,
			       bpf_core_type_id_kernel(struct mmu_interval_notifier));
}

static __always_inline bool carrier_call(const struct trace_event_raw_sys_enter *ctx)
{
	return ctx->id == GETPID && bpf_get_current_pid_tgid() >> 32 == carrier_tgid;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int carrier_invalidate(struct trace_event_raw_sys_enter *ctx)
{
	if (!carrier_call(ctx))
		return 0;
	return count_invalidate(ctx, carrier_subscription(),
				bpf_rdonly_cast(&synthetic_range,
						bpf_core_type_id_kernel(struct mmu_notifier_range)),
				3, true, 1000, true);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int carrier_read_begin(struct trace_event_raw_sys_enter *ctx)
{
	if (!carrier_call(ctx))
		return 0;
	return count_read_begin(ctx, carrier_subscription(), 2, false, 0, true);
}

/* The same filter and nothing else: what the carrier itself costs. */
SEC("tracepoint/raw_syscalls/sys_enter")
int carrier_empty(struct trace_event_raw_sys_enter *ctx)
{
	if (!carrier_call(ctx))
		return 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
