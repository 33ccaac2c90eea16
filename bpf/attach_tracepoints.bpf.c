// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tracepoint modes, on kernels with kernel/patches: every event is
 * observed. Each event of bpf/handlers.h gets a tp_btf handler (BTF-typed
 * arguments, where the kernel has BTF for the event) and a raw_tp handler;
 * user space loads one family. Both feed bpf/counting.bpf.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "counting.bpf.h"
#include "handlers.h"
#include "hmmtrace_events.h"

/* What each event counts, with its arguments (HMMTRACE_ARGS_<event>) in scope. */
#define COUNT_mmu_interval_notifier_insert count_insert(interval_sub, deferred, btf_typed)
#define COUNT_mmu_interval_notifier_remove count_remove(interval_sub, waited, wait_ns, btf_typed)
#define COUNT_mmu_interval_notifier_invalidate \
	count_invalidate(ctx, interval_sub, range, cur_seq, ret, duration_ns, btf_typed)
#define COUNT_mmu_interval_read_begin \
	count_read_begin(ctx, interval_sub, seq, waited, wait_ns, btf_typed)
#define COUNT_mmu_interval_read_retry \
	count_retry(ctx, interval_sub, HMMTRACE_EVENT_MMU_INTERVAL_READ_RETRY, seq, btf_typed)
#define COUNT_mmu_interval_check_retry \
	count_retry(ctx, interval_sub, HMMTRACE_EVENT_MMU_INTERVAL_CHECK_RETRY, seq, btf_typed)
#define COUNT_hmm_range_fault count_range_fault(ctx, range, ret, duration_ns, btf_typed)
/* The start event fires after the subscribers ran, and carries their time. */
#define COUNT_mmu_notifier_invalidate_range_start \
	range_started(range, btf_typed, ret, bpf_ktime_get_ns() - duration_ns, duration_ns)
#define COUNT_mmu_notifier_invalidate_range_end range_ended(range, btf_typed)

#define TRACEPOINT_HANDLERS(event, use)							\
	HANDLER("tp_btf/" #event, BPF_PROG, (tp_##event, HMMTRACE_ARGS_##event), true,	\
		COUNT_##event)								\
	HANDLER("raw_tp/" #event, BPF_PROG, (raw_tp_##event, HMMTRACE_ARGS_##event), false,	\
		COUNT_##event)

HMMTRACE_TRACEPOINT_HANDLERS(TRACEPOINT_HANDLERS)

char LICENSE[] SEC("license") = "GPL";
