/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What hmmtrace's parts share: the options, the attached session and the
 * per-group table read from the BPF maps. Each subcommand lives in its own
 * file (top.c, latency.c, retries.c, snoop.c) and prints from a session.
 */
#ifndef HMMTRACE_SESSION_H
#define HMMTRACE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

#include "hmmtrace.h"
#include "kallsyms.h"

/* Distinct exit codes, listed in --help and the man page. */
enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILURE_AT_RUN = 1,
	EXIT_USAGE = 2,
	EXIT_NOT_PERMITTED = 3,
	EXIT_NO_BTF = 4,
	EXIT_NO_ATTACH_POINT = 5,
	EXIT_BPF_FAILED = 6,
	EXIT_NO_SUCH_PROCESS = 7,
	EXIT_NO_SUCH_DRIVER = 8,
};

enum subcommand { SUBCOMMAND_TOP, SUBCOMMAND_LATENCY, SUBCOMMAND_RETRIES, SUBCOMMAND_SNOOP };

enum sort_column {
	SORT_INVALIDATIONS, SORT_P99, SORT_WAITS, SORT_RETRIES, SORT_RATIO, SORT_EBUSY,
	SORT_INSERTS, SORT_REMOVES, SORT_GROUP,
};

struct options {
	enum subcommand subcommand;
	enum hmmtrace_grouping grouping;
	int mode;			/* enum hmmtrace_mode, or -1 to pick */
	enum sort_column sort;
	double interval;		/* 0: once, at the end */
	long count;
	double duration;
	pid_t pid;
	const char *driver;
	const char *btf_path;
	double livelock_ms;
	double retry_gap_ms;		/* stock kernels' retry inference window */
	unsigned int events_mask;	/* snoop: 1 << enum hmmtrace_event */
	unsigned int top_rows;
	bool json;
	bool verbose;
};

extern struct options options;
extern const char *const mode_names[HMMTRACE_MODE_COUNT];

/* One row: a group's totals over the interval. */
struct row {
	__u64 group;
	struct hmmtrace_stats delta;
	struct hmmtrace_stats total;
	struct hmmtrace_stats reading;	/* this read's sum over the maps, before the delta */
	char name[160];
	char driver[64];
};

struct table {
	struct row *rows;
	size_t count;
	size_t capacity;
	struct hmmtrace_histogram range_delta[HMMTRACE_RANGE_EVENTS];
	struct hmmtrace_histogram range_total[HMMTRACE_RANGE_EVENTS];
};

struct hmmtrace_bpf;

struct session {
	struct hmmtrace_bpf *skeleton;
	enum hmmtrace_mode mode;
	struct kallsyms *symbols;
	struct table table;
	/* Callbacks attached in the stock modes, "symbol [module]" each. */
	char callbacks[256];
	/* enum mmu_notifier_event names from the kernel's BTF. */
	char range_event_names[HMMTRACE_RANGE_EVENTS][24];
	struct bpf_link **links;	/* the stock modes' callback links */
	size_t link_count;
};

/*
 * attach.c: session_open() resolves --driver, picks a mode and attaches it,
 * or exits with the status and one line on stderr, leaving nothing open;
 * session_destroy() releases everything a session owns.
 */
int session_open(struct session *session);
void session_destroy(struct session *session);
bool mode_observes_everything(enum hmmtrace_mode mode);
/* A JSON array of the columns the mode infers or cannot see, and its prose twin. */
const char *mode_inferred_json(enum hmmtrace_mode mode);
const char *mode_limits_text(enum hmmtrace_mode mode);

/* stats.c */
int table_read(struct session *session);
bool row_shown(struct session *session, struct row *row);
__u64 histogram_percentile(const __u64 *slots, __u64 total, double fraction);
__u64 slots_total(const __u64 *slots);
void histogram_print(const char *title, const char *unit, const __u64 *slots);
void histogram_print_json(const __u64 *slots);
double retry_ratio(const struct hmmtrace_stats *stats);
void print_json_string(const char *text);

/* One per subcommand: print what the last interval (or the whole run) saw. */
void top_print(struct session *session, double seconds);
void latency_print(struct session *session, double seconds);
void retries_print(struct session *session, double seconds);
int retries_handle_report(void *context, void *record, size_t size);
int snoop_handle_event(void *context, void *record, size_t size);
int snoop_event_by_name(const char *name);
void snoop_print_drops(struct session *session, double seconds);

#endif /* HMMTRACE_SESSION_H */
