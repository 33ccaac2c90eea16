/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What hmmtrace's parts share: the exit codes, the options and the attached
 * session (attach.c). What is read from the session's maps is the model
 * (model.h), which the writers render.
 */
#ifndef HMMTRACE_SESSION_H
#define HMMTRACE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

#include "hmmtrace.h"
#include "kallsyms.h"
#include "model.h"

#define HMMTRACE_VERSION "0.3"

/*
 * Distinct exit codes, 0 to 11 in this order, as --help and the man page
 * list them: success (also after SIGINT or SIGTERM), a failure while
 * tracing, bad usage, not permitted, no kernel BTF, no attach point, BPF
 * load or attach failed, no such process, no such driver; and export's:
 * cannot listen (the port in use, say), cannot write the textfile (also
 * causes' --folded and --html files); causes --html without the flame
 * graph's assets.
 */
enum exit_code {
	EXIT_OK, EXIT_FAILURE_AT_RUN, EXIT_USAGE, EXIT_NOT_PERMITTED, EXIT_NO_BTF,
	EXIT_NO_ATTACH_POINT, EXIT_BPF_FAILED, EXIT_NO_SUCH_PROCESS, EXIT_NO_SUCH_DRIVER,
	EXIT_CANNOT_LISTEN, EXIT_CANNOT_WRITE, EXIT_NO_FLAMEGRAPH_ASSETS,
};

enum sort_column {
	SORT_INVALIDATIONS, SORT_P99, SORT_WAITS, SORT_RETRIES, SORT_RATIO, SORT_EBUSY,
	SORT_INSERTS, SORT_REMOVES, SORT_GROUP,
};

/*
 * The maps --map-entries may size, so that tests can fill them: every map
 * whose lack of room is counted as lost (enum hmmtrace_lost).
 */
enum resizable_map {
	RESIZABLE_STATS, RESIZABLE_SUBSCRIPTIONS, RESIZABLE_FAULTS, RESIZABLE_PENDING,
	RESIZABLE_RANGE_STARTS, RESIZABLE_INVALIDATORS, RESIZABLE_CAUSES, RESIZABLE_STACKS,
	RESIZABLE_MAP_COUNT,
};

extern const char *const resizable_map_names[RESIZABLE_MAP_COUNT];

struct options {
	enum subcommand subcommand;
	enum hmmtrace_grouping grouping;
	int mode;			/* enum hmmtrace_mode, or -1 to pick */
	int fault_store;		/* enum fault_store, or -1: task storage where it works */
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
	const char *listen;		/* export: ADDRESS:PORT */
	const char *textfile;		/* export: instead, this file */
	unsigned int max_series;	/* export: groups with their own series */
	double refault_ms;		/* causes: a fault this soon after an invalidation refaults */
	bool take_stacks;		/* causes: a kernel stack per invalidation (--no-stacks: none) */
	unsigned int cause_stacks;	/* causes --stacks N: the top N stacks per driver */
	const char *folded_path;	/* causes: folded stacks at the end, here */
	const char *html_path;		/* causes: the flame graph page at the end, here */
	bool weight_by_time;		/* causes: stacks weighed by callback time */
	bool json;
	bool verbose;
	/* --map-entries: sizes given for maps, by name (enum resizable_map), 0 where not */
	unsigned int map_entries[RESIZABLE_MAP_COUNT];
};

extern struct options options;

struct hmmtrace_bpf;

/*
 * The phases of attaching, timed for -v and the bench: each mode tried adds
 * its own to open, probe, load (the verifier's time) and attach.
 */
enum attach_phase {
	PHASE_BTF, PHASE_KALLSYMS, PHASE_PROBE, PHASE_OPEN, PHASE_LOAD, PHASE_ATTACH,
	PHASE_COUNT,
};

extern const char *const attach_phase_names[PHASE_COUNT];

struct session {
	struct hmmtrace_bpf *skeleton;
	enum hmmtrace_mode mode;
	enum fault_store fault_store;
	struct kallsyms *symbols;
	bool symbols_lost;		/* reading them ran out of memory */
	/*
	 * vmlinux BTF while attaching (session_btf()), freed before each load:
	 * libbpf parses a copy of its own there (in fentry mode already when
	 * the targets are set), and two are megabytes more.
	 */
	struct btf *btf;
	/* Callbacks attached in the stock modes, "symbol [module]" each. */
	char callbacks[256];
	/* Every hook attached, with its mechanism, for the model's envelope. */
	struct hook hooks[HOOK_CAPACITY];
	size_t hook_count;
	/* enum mmu_notifier_event names from the kernel's BTF. */
	char range_event_names[HMMTRACE_RANGE_EVENTS][24];
	struct bpf_link **links;	/* the stock modes' callback links */
	size_t link_count;
	double phase_seconds[PHASE_COUNT];
	int loads;			/* objects opened and loaded: a mode each, a fallback more */
};

/*
 * attach.c: session_open() resolves --driver, picks a mode and attaches it,
 * or returns the exit status, having said why in one line on stderr (after
 * libbpf's own warnings, if any) and left nothing open; session_destroy()
 * releases everything a session owns.
 */
int session_open(struct session *session);
void session_destroy(struct session *session);

#endif /* HMMTRACE_SESSION_H */
