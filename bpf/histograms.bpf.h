/* SPDX-License-Identifier: GPL-2.0-only */
/* bcc-style log2 histograms (layout in bpf/hmmtrace.h, HMMTRACE_SLOTS). */
#ifndef HMMTRACE_HISTOGRAMS_BPF_H
#define HMMTRACE_HISTOGRAMS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "hmmtrace.h"
#include "knobs.bpf.h"

/*
 * Adds VALUE to a counter of a group's stats. By driver or process the
 * stats are per CPU. By subscription there may be 100k groups, and a
 * per-CPU value each is too much memory (1.4 KB per CPU per subscription)
 * whose atomic per-CPU allocations also fail while many subscriptions
 * appear at once: there one value serves every CPU, and adds are atomic.
 * shared_stats is a constant to the verifier, which drops the other branch.
 */
#define stats_add(counter, value)					\
	do {								\
		if (shared_stats)					\
			__sync_fetch_and_add(&(counter), (value));	\
		else							\
			(counter) += (value);				\
	} while (0)

/*
 * The ceil-log2 slot, the convention Prometheus exporters settled on
 * (ebpf_exporter's exp2 buckets): 0 -> 0, 1 -> 1, 2 -> 2, 3..4 -> 3,
 * 5..8 -> 4, ...: slot k >= 1 holds (2^(k-2), 2^(k-1)], so an exact power
 * of two stays in the bucket it bounds, and each slot is one `le` bucket.
 * The floor-log2 of value - 1, by halving, not a loop.
 */
static __always_inline __u32 log2_slot(__u64 value)
{
	__u32 slot = 2;

	if (value <= 1)
		return value;
	value -= 1;
	for (int shift = 32; shift; shift >>= 1) {
		if (value >> shift) {
			value >>= shift;
			slot += shift;
		}
	}
	return slot < HMMTRACE_SLOTS ? slot : HMMTRACE_SLOTS - 1;
}

/* Count one value in SLOT of a histogram (the bound check is for the verifier). */
static __always_inline void histogram_count(__u64 *slots, __u32 slot)
{
	if (slot < HMMTRACE_SLOTS)
		stats_add(slots[slot], 1);
}

/* Take back what histogram_count() counted. */
static __always_inline void histogram_uncount(__u64 *slots, __u32 slot)
{
	if (slot < HMMTRACE_SLOTS)
		stats_add(slots[slot], -1);
}

/* One value into a log2 histogram. */
static __always_inline void histogram_add(__u64 *slots, __u64 value)
{
	histogram_count(slots, log2_slot(value));
}

#endif /* HMMTRACE_HISTOGRAMS_BPF_H */
