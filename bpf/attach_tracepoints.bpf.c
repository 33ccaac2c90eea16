// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tracepoint modes, on kernels with kernel/patches: every event is
 * observed. Each event of bpf/handlers.h gets a tp_btf handler (BTF-typed
 * arguments, where the kernel has BTF for the event) and a raw_tp handler;
 * user space loads one family. Both feed bpf/counting.bpf.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "counting.bpf.h"
#include "handlers.h"
#include "hmmtrace_events.h"

/*
 * tp_btf arguments are trusted pointers, and for each load through one, on
 * each path it explores, the verifier looks a name up in vmlinux's BTF
 * (btf_nested_type_is_trusted(): a walk of its ~100k types). Under TCG that
 * was half of a tp_btf load, 2 to 3 s. A read-only cast makes them untrusted:
 * the same loads, as probe loads, and the cast is a move once verified.
 * Nothing here needs them trusted: no kfunc or helper takes them.
 */
extern void *bpf_rdonly_cast(const void *object, __u32 btf_id) __ksym __weak;

#define UNTRUSTED(pointer, type) \
	(btf_typed ? (const type *)bpf_rdonly_cast(pointer, bpf_core_type_id_kernel(type)) : (pointer))
#define INTERVAL_SUB UNTRUSTED(interval_sub, struct mmu_interval_notifier)
#define NOTIFIER_RANGE UNTRUSTED(range, struct mmu_notifier_range)
#define HMM_RANGE UNTRUSTED(range, struct hmm_range)

/* What each event counts, with its arguments (HMMTRACE_ARGS_<event>) in scope. */
#define COUNT_mmu_interval_notifier_insert count_insert(INTERVAL_SUB, deferred, btf_typed)
#define COUNT_mmu_interval_notifier_remove count_remove(INTERVAL_SUB, waited, wait_ns, btf_typed)
#define COUNT_mmu_interval_notifier_invalidate \
	count_invalidate(ctx, INTERVAL_SUB, NOTIFIER_RANGE, cur_seq, ret, duration_ns, btf_typed)
#define COUNT_mmu_interval_read_begin \
	count_read_begin(ctx, INTERVAL_SUB, seq, waited, wait_ns, btf_typed)
#define COUNT_mmu_interval_read_retry \
	count_retry(ctx, INTERVAL_SUB, HMMTRACE_EVENT_MMU_INTERVAL_READ_RETRY, seq, btf_typed)
#define COUNT_mmu_interval_check_retry \
	count_retry(ctx, INTERVAL_SUB, HMMTRACE_EVENT_MMU_INTERVAL_CHECK_RETRY, seq, btf_typed)
#define COUNT_hmm_range_fault count_range_fault(ctx, HMM_RANGE, ret, duration_ns, btf_typed)
/* The start event fires after the subscribers ran, and carries their time. */
#define COUNT_mmu_notifier_invalidate_range_start \
	range_started(NOTIFIER_RANGE, btf_typed, ret, bpf_ktime_get_ns() - duration_ns, duration_ns)
#define COUNT_mmu_notifier_invalidate_range_end range_ended(NOTIFIER_RANGE, btf_typed)

#define TRACEPOINT_HANDLERS(event, use)							\
	HANDLER("tp_btf/" #event, BPF_PROG, (tp_##event, HMMTRACE_ARGS_##event), true,	\
		COUNT_##event)								\
	HANDLER("raw_tp/" #event, BPF_PROG, (raw_tp_##event, HMMTRACE_ARGS_##event), false,	\
		COUNT_##event)

HMMTRACE_TRACEPOINT_HANDLERS(TRACEPOINT_HANDLERS)

char LICENSE[] SEC("license") = "GPL";
