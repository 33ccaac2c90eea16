/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The knobs user space sets before load (tools/attach.c, set_knobs()). They
 * are const volatile: the verifier knows their values and drops the code
 * they switch off, so `top` does not pay for what `retries` or `snoop` need.
 *
 * Every BPF source file includes this: the definitions are weak, and the
 * linker (bpftool gen object) keeps one of each.
 */
#ifndef HMMTRACE_KNOBS_BPF_H
#define HMMTRACE_KNOBS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "hmmtrace.h"

const volatile __u32 grouping __weak = HMMTRACE_BY_DRIVER;
const volatile __u32 target_tgid __weak;		/* 0: every process */
/* --driver: the driver's callbacks; a count of 0 lets every driver through. */
const volatile __u32 driver_callback_count __weak;
const volatile __u64 driver_callbacks[HMMTRACE_DRIVER_CALLBACKS] __weak;
const volatile bool infer_retries __weak;		/* stock kernels: no read_retry event */
const volatile bool report_streaks __weak;
/* retries: each subscription's last invalidating task, with a stack if it could cause a go-round */
const volatile bool capture_invalidators __weak;
const volatile __u64 livelock_ns __weak;		/* 0: no livelock detection */
/* snoop: 1 << enum hmmtrace_event for each event to record; 0 when not snooping. */
const volatile __u32 snoop_events __weak;
const volatile bool time_ranges __weak;			/* range start -> end histograms */
/* --by range: one stats value per subscription for all CPUs, added to atomically. */
const volatile bool shared_stats __weak;
/* causes: charge invalidations to their causes, with kernel stacks if asked. */
const volatile bool attribute_causes __weak;
const volatile bool cause_stacks __weak;
/* causes: a fault this soon after its subscription's invalidation is a refault. */
const volatile __u64 refault_ns __weak = 10000000;
/* latency, export: pages per invalidation; latency: fault time by fault size. */
const volatile bool size_histograms __weak;
const volatile bool time_fault_sizes __weak;
/* Stock kernels: a go-round later than this after a completed fault is a new fault. */
const volatile __u64 inferred_retry_gap_ns __weak = 10000000;
/*
 * retries: how long after a fault's completion an invalidation of its
 * subscription can still make it go round. A driver's read_retry follows
 * hmm_range_fault() within microseconds unless its task is preempted, and a
 * preemption on a loaded host (or under emulation) lasts tens of
 * milliseconds: so the HMM timeout, 1 s, not --retry-gap-ms.
 */
const volatile __u64 collision_window_ns __weak = 1000000000;
/* Fault state in task local storage, where the kernel allows it (bpf/faults.bpf.h). */
const volatile bool faults_in_task_storage __weak;
/* Retried faults into `faults` as well, for user space: retries and export read them. */
const volatile bool publish_retried_faults __weak;
/*
 * Faults' clocks: their time to mapped, the livelock detector, refaults,
 * stock kernels' retry inference, and the ages user space reclaims `faults`
 * by. Top with task storage and tracepoints needs none of them.
 */
const volatile bool time_faults __weak = true;

#endif /* HMMTRACE_KNOBS_BPF_H */
