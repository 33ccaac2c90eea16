/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One interval as hmmtrace reports it, whatever the output format: the
 * envelope (time, subcommand, mode, what the mode infers or cannot see),
 * rows of named, typed fields, and the parts one subcommand adds (range
 * histograms, retry lists, drop counts). model_read.c fills it from the
 * maps once per interval; the writers (write_text.c, write_json.c) only
 * render it. Events that are printed as they come (snoop's records,
 * livelock reports) are models of their own, at the end of this file.
 * `export` reads the same model cumulatively: every row seen since start,
 * with its totals held monotonic for Prometheus (export_read.c).
 */
#ifndef HMMTRACE_MODEL_H
#define HMMTRACE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <linux/types.h>

#include "hmmtrace.h"
#include "hmmtrace_events.h"

enum subcommand {
	SUBCOMMAND_TOP, SUBCOMMAND_LATENCY, SUBCOMMAND_RETRIES, SUBCOMMAND_SNOOP, SUBCOMMAND_EXPORT,
	SUBCOMMAND_CAUSES, SUBCOMMAND_COUNT,
};

extern const char *const subcommand_names[];
extern const char *const grouping_names[];
extern const char *const mode_names[HMMTRACE_MODE_COUNT];

/* Where the BPF side keeps fault state (bpf/faults.bpf.h). */
enum fault_store { FAULT_STORE_TASK, FAULT_STORE_HASH, FAULT_STORE_COUNT };
extern const char *const fault_store_names[FAULT_STORE_COUNT];

/* A kind of loss (enum hmmtrace_lost): its name in every output, and what it means. */
struct lost_kind {
	const char *name;
	const char *meaning;
};

extern const struct lost_kind lost_kinds[HMMTRACE_LOST_KINDS];

/* Every kind's count, summed: what the text headers show as `lost`. */
__u64 lost_sum(const __u64 lost[HMMTRACE_LOST_KINDS]);

/* What a field holds, which decides how every writer renders it. */
enum field_type {
	FIELD_COUNT,		/* events in the interval */
	FIELD_NANOSECONDS,	/* a duration, or a percentile of one */
	FIELD_RATIO,		/* may be infinite: a fault that never completes */
	FIELD_FLAG,
	FIELD_HISTOGRAM,	/* log2 buckets */
	FIELD_TIMED_HISTOGRAM,	/* an event count with the log2 histogram of its durations */
};

/* Where a field's value comes from. */
enum row_source {
	ROW_SOURCE_COUNTER,	/* a struct hmmtrace_stats counter */
	ROW_SOURCE_SLOTS,	/* a histogram's slots, with the counter of its values */
	ROW_SOURCE_DERIVED,	/* computed once per interval: enum derived_value */
};

enum derived_value {
	DERIVED_NONE,
	DERIVED_INVALIDATE_P50_NS,
	DERIVED_INVALIDATE_P99_NS,
	DERIVED_RETRY_RATIO,
	DERIVED_STORM,
	DERIVED_GO_ROUNDS,
};

/* enum row_field and the tables below come from tools/fields.json. */
#include "hmmtrace_fields.h"

struct field_description {
	const char *name;	/* the JSON key, and the base of other formats' names */
	enum field_type type;
	const char *title;	/* for text and help: what it counts */
	enum row_source source;
	enum derived_value derived;
	size_t counter;		/* offsets in struct hmmtrace_stats */
	size_t slots;
};

extern const struct field_description row_fields[ROW_FIELD_COUNT];

struct field_value {
	enum field_type type;
	union {
		__u64 count;		/* FIELD_COUNT, FIELD_NANOSECONDS */
		double ratio;
		bool flag;
		struct {
			__u64 count;	/* FIELD_TIMED_HISTOGRAM: the events */
			const __u64 *slots;
		} histogram;
	};
};

/* Which fields a subcommand's rows carry, in order. */
struct row_view {
	const enum row_field *fields;
	size_t count;
};

extern const struct row_view top_row_view, latency_row_view, retries_row_view;

/*
 * One group (a driver's callback, a process, a subscription): its totals
 * since attach and what the interval added. A host can hold 100k
 * subscriptions, so rows are found by hash and sorted by pointer.
 */
struct row {
	__u64 group;
	struct hmmtrace_stats total;
	struct hmmtrace_stats delta;
	/* Derived once per interval, so sorting and writers never recompute them. */
	__u64 invalidate_p50_ns;
	__u64 invalidate_p99_ns;
	double retry_ratio;
	double sort_value;		/* by the --sort column */
	bool storm;
	unsigned long read_number;	/* the read that last saw this group */
	char name[160];
	char driver[64];
	/* export: what was last exported, never less than before (export_read.c) */
	struct hmmtrace_stats *reported;
	bool fold_decided;		/* export: whether it has a series of its own is settled... */
	bool folded;			/* ...and it sums into other (--max-series) */
	/* reclaim.c: what its freed entries held, and the read that retired it (0: live) */
	struct hmmtrace_stats *base;
	unsigned long retired;
	__u64 livelocks;		/* reported by the BPF side, since start */
	__u32 livelocked_faults;	/* retrying past --livelock-ms now */
	__u32 live_subscriptions;
	/* What the name was made from, so that it is made again only when that changes. */
	struct hmmtrace_subscription named_from;
	unsigned long named;		/* the read that named it */
};

/* A field of the interval (row->delta), or of STATS (the totals, say). */
struct field_value row_value(const struct row *row, enum row_field field);
struct field_value row_value_of(const struct row *row, const struct hmmtrace_stats *stats,
				enum row_field field);

/* Range start -> end latency of one enum mmu_notifier_event. */
struct range_latency {
	const char *event;		/* "unmap", "clear", ... as the kernel's BTF names it */
	struct hmmtrace_histogram histogram;	/* of the interval; export: since start */
};

/* latency: hmm_range_fault() time of one driver's faults of one log2 size. */
struct fault_size_latency {
	char driver[64];
	__u64 pages_low;		/* the size's bucket, in pages */
	__u64 pages_high;
	struct hmmtrace_histogram histogram;	/* of the interval */
};

/*
 * causes: one driver's invalidations of one cause in the interval. The
 * cause is the range's event, the context (a process, or a kernel thread's
 * class), its entry point into the kernel and what the mm was doing.
 */
struct cause_row {
	char driver[64];
	char callback[160];		/* "symbol [module]" */
	const char *event;		/* enum mmu_notifier_event, as BTF names it */
	char context[24];		/* comm, or the kernel thread's class */
	bool kernel_thread;
	__u32 pid;			/* a process's tgid; 0 for a class of kernel threads */
	char entry[64];			/* the syscall, else the kernel path's function */
	bool entry_is_syscall;
	const char *path;		/* "zap", "unmap", "protection", ... (cause_names.c) */
	struct hmmtrace_cause counts;	/* of the interval; comm unused */
	double invalidations_per_second;
};

/* A kernel stack that invalidated one driver's subscriptions, with what it cost. */
struct cause_stack {
	const char *driver;
	const char *const *frames;	/* innermost first: bare symbol names */
	size_t depth;
	__u64 invalidations;
	__u64 callback_ns;
};

struct causes_part {
	const struct cause_row *rows;	/* most invalidations first */
	size_t row_count;
	bool stacks_taken;		/* entry and path come from stacks */
	const struct cause_stack *stacks;	/* --stacks: the top N per driver */
	size_t stack_count;
	__u64 lost;			/* invalidations no causes entry took, in the interval */
	__u64 stacks_lost;		/* invalidations counted without their stack */
};

/* A (task, subscription) pair that retried, for `retries`. */
struct retry_pair {
	__u32 tid;
	__u32 tgid;
	__u64 retries;			/* since start */
	char comm[16];
	char range[48];			/* the subscription's "0xstart-0xlast" */
	char driver[64];
};

/* A fault that went round: from a streak report, or still unfinished in the faults map. */
struct streak {
	__u32 tid;
	__u32 tgid;
	__u32 retries;
	bool completed;
	__u64 subscription;
	__u64 callback;
	__u64 start;
	__u64 last;
	__u64 started_ns;
	__u64 duration_ns;
	char comm[16];
};

struct retries_part {
	unsigned long livelocks;	/* reported so far */
	const struct retry_pair *pairs;
	size_t pair_count;
	const struct streak *streaks;	/* longest first, with their driver names */
	const char (*streak_drivers)[64];
	size_t streak_count;
};

/*
 * A kernel function or tracepoint hmmtrace is attached to, and with what:
 * its mode's mechanism, except in fentry mode a callback whose module has
 * no BTF, which takes a kprobe. fentry stands for fentry and fexit, kprobe
 * for kprobe and kretprobe.
 */
struct hook {
	char name[128];			/* a function, an event, or a callback's "symbol [module]" */
	enum hmmtrace_mode mechanism;
};

#define HOOK_CAPACITY 32

struct snoop_part {
	unsigned long long events;	/* shown in the interval */
	unsigned long long dropped;	/* in the interval */
	unsigned long long dropped_total;
};

/* A BPF program's run time, as the kernel accounts it (kernel.bpf_stats_enabled). */
struct program_runs {
	const char *name;
	__u64 run_time_ns;
	__u64 run_count;
};

/* What export adds: the exporter's own state. */
struct export_part {
	const char *kernel_release;
	const char *version;
	double start_time;		/* since the epoch */
	double read_started;		/* CLOCK_MONOTONIC, for the scrape's duration */
	bool bpf_stats_enabled;
	const struct program_runs *programs;
	size_t program_count;
	size_t series_folded;		/* groups summed into the `other` row */
	const char *const *may_be_inferred;	/* fields a stock mode infers */
	const char *const *may_be_unavailable;	/* fields a stock mode cannot see */
};

struct model {
	/* The envelope. */
	time_t time;
	enum subcommand subcommand;
	enum hmmtrace_mode mode;
	enum fault_store fault_store;
	enum hmmtrace_grouping grouping;
	double interval_seconds;
	const char *const *inferred;	/* NULL-terminated field names */
	const char *const *unavailable;
	const struct hook *hooks;	/* every hook attached, with its mechanism */
	size_t hook_count;
	bool show_every_hook;		/* text: list them all (-v), not only those off the mode */
	/* Lost in the interval, and counted: enum hmmtrace_lost. */
	__u64 lost[HMMTRACE_LOST_KINDS];
	__u64 lost_total[HMMTRACE_LOST_KINDS];
	/* Rows with activity in the interval, in the order to show them. */
	struct row **rows;
	size_t row_count;
	const struct row_view *view;
	/* latency: the range events that ended in the interval, in event order */
	struct range_latency ranges[HMMTRACE_RANGE_EVENTS];
	size_t range_count;
	/* latency: hmm_range_fault() time by fault size, per driver */
	const struct fault_size_latency *fault_sizes;
	size_t fault_size_count;
	struct causes_part causes;
	/* retries, snoop */
	struct retries_part retries;
	struct snoop_part snoop;
	struct export_part export;
};

bool mode_observes_everything(enum hmmtrace_mode mode);
/* The stock modes' limits in one sentence, or NULL. */
const char *mode_limits_text(enum hmmtrace_mode mode);

/* log2 histogram helpers, shared by the model and the writers. */
__u64 histogram_percentile(const __u64 *slots, __u64 total, double fraction);
__u64 slots_total(const __u64 *slots);
__u64 slot_low(int slot);
__u64 slot_high(int slot);

/* A snooped event, its addresses resolved. */
struct snoop_event {
	const struct hmmtrace_event_record *record;
	enum hmmtrace_mode mode;
	const char *name;		/* the catalog's */
	const char *short_name;		/* without mmu_interval_/mmu_notifier_ */
	const char *driver;
	const char *callback;
	const char *range_event;	/* NULL unless the event has one */
	bool range_scoped;		/* range start/end: no subscription */
	double seconds;			/* since the first event shown */
};

/* A livelock, its stacks symbolized. */
struct livelock {
	time_t time;			/* when it was caught */
	const struct hmmtrace_report *report;
	enum hmmtrace_mode mode;
	const char *driver;
	const char *callback;
	const char *const *kernel_stack;
	size_t kernel_depth;
	const char *const *user_stack;
	size_t user_depth;
	const char *const *invalidator_stack;	/* NULL when no invalidator was seen */
	size_t invalidator_depth;
};

/* Each output format renders the same models. */
struct writer {
	void (*interval)(const struct model *model);
	void (*event)(const struct snoop_event *event);
	void (*livelock)(const struct livelock *livelock);
};

extern const struct writer text_writer, json_writer;

/* The Prometheus text exposition format (0.0.4), of an export model. */
void prometheus_write(FILE *output, const struct model *model);


/*
 * The rows of every group seen since attach, found by hash. Rows are
 * allocated one by one and never move, so the model holds pointers.
 */
struct row_table {
	struct row **buckets;		/* open addressing, by group */
	size_t bucket_count;		/* a power of two, at least twice count */
	struct row **rows;		/* in the order first seen */
	size_t count;
	size_t capacity;
};

struct row *row_table_find(const struct row_table *table, __u64 group);
/* The group's row, made zeroed on first sight; NULL if out of memory. */
struct row *row_table_get(struct row_table *table, __u64 group);
void row_table_free(struct row_table *table);
/* After rows were taken out of table->rows: the buckets made again. */
int row_table_rehash(struct row_table *table);

#endif /* HMMTRACE_MODEL_H */
