// SPDX-License-Identifier: GPL-2.0-only
/*
 * hmmtrace's real counting functions on a carrier the host can attach:
 * raw_syscalls:sys_enter, for getpid() only, with a synthetic subscription
 * and range as the event. The bench times a getpid() loop with and without
 * it (ebpf_exporter's method), natively, where the lab can only emulate.
 */
#include "hmmtrace.bpf.c"

#define GETPID 39

const volatile __u32 carrier_tgid;

/* Zeroed: the reads behave as for a subscription hmmtrace has not named yet. */
static struct mmu_interval_notifier synthetic_subscription;
static struct mmu_notifier_range synthetic_range;

SEC("tracepoint/raw_syscalls/sys_enter")
int carrier_invalidate(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->id != GETPID || bpf_get_current_pid_tgid() >> 32 != carrier_tgid)
		return 0;
	return count_invalidate(ctx, &synthetic_subscription, &synthetic_range, 3, true, 1000);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int carrier_read_begin(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->id != GETPID || bpf_get_current_pid_tgid() >> 32 != carrier_tgid)
		return 0;
	return count_read_begin(ctx, &synthetic_subscription, 2, false, 0);
}

/* The same filter and nothing else: what the carrier itself costs. */
SEC("tracepoint/raw_syscalls/sys_enter")
int carrier_empty(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->id != GETPID || bpf_get_current_pid_tgid() >> 32 != carrier_tgid)
		return 0;
	return 0;
}
