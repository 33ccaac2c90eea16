/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The layouts hmmtrace's BPF programs and its user space share: the
 * aggregation key and value. Event arguments come from the catalog
 * (build/include/hmmtrace_events.h, generated from tracepoints/events.json).
 */
#ifndef HMMTRACE_H
#define HMMTRACE_H

enum hmmtrace_grouping {
	HMMTRACE_BY_DRIVER,	/* group = the ops->invalidate callback */
	HMMTRACE_BY_PROCESS,	/* group = tgid owning the mm */
	HMMTRACE_BY_RANGE,	/* group = the interval_sub address */
};

#define HMMTRACE_LATENCY_SLOTS 40	/* log2 buckets of nanoseconds */

/*
 * Cumulative since attach, per CPU: user space diffs snapshots, so nothing
 * is lost between reads.
 */
struct hmmtrace_stats {
	__u64 inserts;
	__u64 removes;
	__u64 invalidations;
	__u64 invalidate_failures;	/* callback returned false */
	__u64 invalidate_ns;
	__u64 invalidate_slots[HMMTRACE_LATENCY_SLOTS];
	__u64 read_begins;
	__u64 read_begin_waits;
	__u64 read_begin_wait_ns;
	__u64 read_retries;
	__u64 check_retries;
	__u64 range_faults;		/* hmm_range_fault() calls */
	__u64 range_fault_ebusy;
};

/* What user space needs to name a subscription. */
struct hmmtrace_range_info {
	__u64 start;
	__u64 last;
	__u64 invalidate;		/* ops->invalidate */
	__u32 tgid;
	__u32 padding;
};

#endif /* HMMTRACE_H */
