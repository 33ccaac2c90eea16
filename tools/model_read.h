/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * From the session's maps and ring buffers to the model: what persists
 * between intervals (the totals the deltas are taken from, the retry
 * streaks reported so far, snoop's counters), and the one read per interval.
 */
#ifndef HMMTRACE_MODEL_READ_H
#define HMMTRACE_MODEL_READ_H

#include "map_read.h"
#include "model.h"
#include "session.h"

#define STREAKS_KEPT 64

/* retries.c: streaks and livelocks from the `reports` ring buffer, pairs from the faults map. */
struct retries_state {
	struct streak streaks[2 * STREAKS_KEPT];
	size_t streak_count;
	unsigned long livelocks;
	/* This interval's lists, which the model points into. */
	struct retry_pair *pairs;
	size_t pair_count;
	size_t pair_capacity;
	struct streak *longest;
	char (*longest_drivers)[64];
	size_t longest_count;
	size_t longest_capacity;
	size_t drivers_capacity;
};

/* snoop.c: what the `events` ring buffer delivered. */
struct snoop_state {
	__u64 first_timestamp_ns;
	unsigned long long events_shown;	/* since the last interval */
};

/* export_read.c: what the exporter keeps between scrapes. */
struct export_state {
	struct row other;		/* the groups over --max-series, summed */
	struct hmmtrace_stats other_retired;	/* what other's freed rows had reported */
	struct program_runs *programs;
	size_t program_count;
	size_t program_capacity;
	char kernel_release[65];
	double start_time;
	bool folding_said;
	size_t groups_named;		/* rows when /proc/kallsyms was last read */
	struct kallsyms **retired_symbols;	/* earlier reads, which attach.c may point into */
	size_t retired_count;
	size_t retired_capacity;
};

/* causes.c: every key of the causes map seen so far, and the interval's rows. */
struct cause_entry;
struct stack_names;

struct causes_state {
	unsigned long read_number;
	struct cause_entry **buckets;	/* open addressing, by key */
	size_t bucket_count;
	struct cause_entry **entries;	/* in the order first seen */
	size_t count;
	size_t capacity;
	struct stack_names **stack_names;	/* by stack id, symbolized once */
	size_t stack_name_count;
	struct cause_row *rows;
	size_t row_count;
	size_t row_capacity;
	struct cause_stack *stacks;
	size_t stack_count;
	size_t stack_capacity;
};

/* fault_sizes.c: latency's fault time by size, the totals the deltas are taken from. */
struct fault_size_total {
	struct hmmtrace_fault_size_key key;
	struct hmmtrace_histogram total;
};

struct fault_sizes_state {
	struct fault_size_total *totals;
	size_t count;
	size_t capacity;
	struct fault_size_latency *shown;
	size_t shown_capacity;
};

/* reclaim.c: keys one sweep found, for the next to find again. */
struct key_list {
	__u64 *keys;
	size_t count;
	size_t capacity;
};

/* reclaim.c: what the reads between sweeps carry. */
struct reclaim_state {
	__u64 *candidates;		/* groups found gone, retired in this read */
	size_t candidate_count;
	size_t candidate_capacity;
	struct key_list removed;	/* subscriptions removed at the last sweep */
	struct key_list orphaned;	/* mm_owners keys whose owner was gone at the last sweep */
	__u64 hot_groups[HMMTRACE_HOT_GROUPS];
	void *scratch_stats;		/* one stats value, per CPU */
	double last_sweep;
	/* Since start, for -v (reclaim_summary()): groups retired, rows freed, sweeps, entries swept. */
	unsigned long retired;
	unsigned long freed;
	unsigned long sweeps;
	unsigned long swept;
};

/* The maps a model is read from, by file descriptor. */
struct model_maps {
	struct group_maps groups;
	int range_latency;
	int subscriptions;
	int invalidators;
	int faults;
	int pending;
	int mm_owners;
	int stacks;
	int lost;
	int causes;
	int fault_sizes;
};

/* The last callback resolved to its driver. */
struct driver_cache {
	__u64 callback;
	char driver[64];
};

struct model_reader {
	struct session *session;
	struct model_maps maps;
	const struct writer *writer;
	struct model *model;		/* the one being read */
	struct row_table table;
	unsigned long read_number;
	struct hmmtrace_histogram range_totals[HMMTRACE_RANGE_EVENTS];
	__u64 lost_totals[HMMTRACE_LOST_KINDS];
	struct driver_cache driver_cache;
	struct row **shown;
	size_t shown_capacity;
	struct retries_state retries;
	struct snoop_state snoop;
	struct export_state export;
	struct causes_state causes;
	struct fault_sizes_state fault_sizes;
	struct reclaim_state reclaim;
};

/* The session's maps, or MAPS when not NULL (the bench makes its own). */
void model_reader_init(struct model_reader *reader, struct session *session,
		       const struct model_maps *maps, const struct writer *writer);
void model_reader_free(struct model_reader *reader);

/* The interval that just ended, SECONDS long, into MODEL (valid until the next read). */
int model_read(struct model_reader *reader, double seconds, struct model *model);

/* retries.c */
int retries_handle_report(void *context, void *record, size_t size);
int retries_read(struct model_reader *reader, struct retries_part *part);
void retries_free(struct retries_state *state);

/* retries.c: per group, the faults reported livelocked and retrying now (export). */
int retries_count_livelocked(struct model_reader *reader);

/* export_read.c */
int export_read(struct model_reader *reader, struct model *model);
void export_refresh_symbols(struct model_reader *reader);
__u64 export_group_of_subscription(const struct hmmtrace_subscription *info);
void export_free(struct export_state *state);

/* causes.c: the interval's causes, and at the end every stack since start, folded and drawn. */
int causes_read(struct model_reader *reader, double seconds, struct model *model);
int causes_write_stacks(struct model_reader *reader, FILE *folded, FILE *html);
void causes_free(struct causes_state *state);

/* fault_sizes.c */
int fault_sizes_read(struct model_reader *reader, struct model *model);
void fault_sizes_free(struct fault_sizes_state *state);

/*
 * reclaim.c: exited processes' and removed subscriptions' groups, around
 * each read of the groups, and every few seconds the rest of their state.
 */
bool reclaim_enabled(void);
double reclaim_sweep_seconds(void);
bool reclaim_task_gone(__u64 id);
int reclaim_groups_before_read(struct model_reader *reader);
int reclaim_groups_after_read(struct model_reader *reader);
int reclaim_sweep(struct model_reader *reader);
void reclaim_summary(const struct reclaim_state *state, FILE *file);
void reclaim_free(struct reclaim_state *state);

/* export_read.c: a row about to be freed, whose series goes (a folded one's stays in other). */
void export_forget_row(struct model_reader *reader, const struct row *row);

/* snoop.c */
int snoop_handle_event(void *context, void *record, size_t size);
int snoop_event_by_name(const char *name);
void snoop_read(struct model_reader *reader, struct model *model);

#endif /* HMMTRACE_MODEL_READ_H */
