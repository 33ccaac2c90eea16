// SPDX-License-Identifier: GPL-2.0-only
/*
 * hmmtrace: MMU interval notifier latency, read_begin waits and seq retries,
 * per driver, per process or per range.
 *
 * This file parses the command line, opens a session (attach.c picks the
 * mode), then runs the interval loop; each subcommand prints from its own
 * file.
 */
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "export.h"
#include "flamegraph.h"
#include "replace_file.h"
#include "model_read.h"
#include "privileges.h"
#include "hmmtrace.skel.h"
#include "hmmtrace_events.h"

struct options options = {
	.mode = -1, .fault_store = -1, .interval = -1, .count = -1, .duration = -1, .livelock_ms = 100,
	.retry_gap_ms = 10,
	.events_mask = (1U << HMMTRACE_EVENT_COUNT) - 1, .top_rows = 10, .max_series = 200,
	.refault_ms = 10, .take_stacks = true,
};

static volatile sig_atomic_t exiting;

static void handle_signal(int signal_number)
{
	(void)signal_number;
	exiting = 1;
}

/* libbpf's warnings always reach the user; its debug output only with -v. */
static int print_libbpf_log(enum libbpf_print_level level, const char *format, va_list arguments)
{
	if (level == LIBBPF_DEBUG && !options.verbose)
		return 0;
	return vfprintf(stderr, format, arguments);
}

const char *argp_program_version = "hmmtrace " HMMTRACE_VERSION;
static const char documentation[] =
	"Observe the MMU interval notifier: invalidations, read_begin waits, seq retries.\n"
	"\n"
	"USAGE: hmmtrace top|latency|retries|snoop|export|causes [OPTIONS]\n"
	"\n"
	"  top      a live table per driver, process or range, refreshed every interval\n"
	"  latency  log2 histograms: range start->end per event, invalidate callback,\n"
	"           read_begin wait, fault-to-mapped time and pages per invalidation,\n"
	"           per driver; hmm_range_fault() time by fault size\n"
	"  retries  retries per fault, the top (task, range) pairs, the longest streaks,\n"
	"           and livelocks, reported at once with stacks\n"
	"  snoop    every event as it happens, from a ring buffer; drops are counted\n"
	"  export   Prometheus metrics on --listen (default " EXPORT_DEFAULT_LISTEN "), /metrics,\n"
	"           or node_exporter's textfile collector format in --textfile\n"
	"  causes   who invalidates, per driver: the event, the process or kernel\n"
	"           thread, its syscall or kernel path, and what it cost: pages,\n"
	"           callback time, refaults and their retries; stacks and flame graphs\n"
	"\n"
	"EXAMPLES:\n"
	"    hmmtrace top                        # one row per driver, every second\n"
	"    hmmtrace top --by range --sort ratio -i 5\n"
	"    hmmtrace top -p 1234 --json -c 10   # one process, 10 JSON objects\n"
	"    hmmtrace latency -d 10              # histograms of 10 seconds\n"
	"    hmmtrace retries --livelock-ms 50   # report faults retrying for 50 ms\n"
	"    hmmtrace snoop --driver amdgpu\\ gfx -e invalidate,hmm_range_fault\n"
	"    hmmtrace top --mode kprobe          # force the stock-kernel fallback\n"
	"    hmmtrace export --listen 127.0.0.1:9476\n"
	"    hmmtrace export --textfile /var/lib/prometheus/node-exporter/hmmtrace.prom\n"
	"    hmmtrace causes -d 10 --stacks 5   # who invalidated in 10 s, and how\n"
	"    hmmtrace causes -d 30 --html causes.html --folded causes.folded\n"
	"\n"
	"EXIT STATUS:\n"
	"    0  success, also when stopped by SIGINT or SIGTERM\n"
	"    1  a failure while tracing\n"
	"    2  bad usage: unknown subcommand or option, bad number\n"
	"    3  not permitted: needs root, or CAP_BPF, CAP_PERFMON (and CAP_SYSLOG\n"
	"       where /proc/kallsyms hides addresses; CAP_SYS_ADMIN for kprobes at\n"
	"       perf_event_paranoid=3); the message names what is missing\n"
	"    4  no kernel BTF (try --btf PATH)\n"
	"    5  no attach point on this kernel\n"
	"    6  BPF load or attach failed: in the forced --mode, or no mode\n"
	"       attached and one failed to load\n"
	"    7  no such process\n"
	"    8  no such driver\n"
	"    9  export: cannot listen on --listen (the port is in use, say)\n"
	"   10  cannot write --textfile (export), --folded or --html (causes)\n"
	"   11  causes --html: the flame graph's assets are not installed\n"
	"\v"
	"Modes: tp_btf, raw_tp (kernels with hmmtrace's tracepoints), fentry, kprobe\n"
	"(stock kernels: read_retry collisions and read_begin waits are inferred).\n"
	"See hmmtrace(8).";

enum long_only_option {
	OPTION_BTF = 256, OPTION_MODE, OPTION_LIVELOCK_MS, OPTION_TOP, OPTION_RETRY_GAP_MS,
	OPTION_LISTEN, OPTION_TEXTFILE, OPTION_MAX_SERIES, OPTION_REFAULT_MS, OPTION_STACKS,
	OPTION_NO_STACKS, OPTION_FOLDED, OPTION_HTML, OPTION_WEIGHT, OPTION_MAP_ENTRIES,
	OPTION_FAULT_STATE,
};

static const struct argp_option argument_options[] = {
	{ "by", 'b', "GROUP", 0, "Rows per driver (default), process or range", 0 },
	{ "interval", 'i', "SECONDS", 0,
	  "Print every SECONDS (top, snoop: 1; latency, retries: once at the end)", 0 },
	{ "count", 'c', "COUNT", 0, "Stop after COUNT intervals", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after SECONDS", 0 },
	{ "pid", 'p', "PID", 0, "Only address spaces of process PID", 0 },
	{ "driver", 'D', "NAME", 0, "Only the driver NAME (as shown in the DRIVER column)", 0 },
	{ "sort", 's', "COLUMN", 0,
	  "top: sort by invalidations (default), p99, waits, retries, ratio, ebusy, inserts, "
	  "removes or group", 0 },
	{ "events", 'e', "LIST", 0, "snoop: only these events (comma-separated, e.g. "
	  "invalidate,read_retry,hmm_range_fault)", 0 },
	{ "livelock-ms", OPTION_LIVELOCK_MS, "MS", 0,
	  "retries, export: report a fault still retrying after MS milliseconds (default 100)", 0 },
	{ "listen", OPTION_LISTEN, "ADDRESS:PORT", 0,
	  "export: serve /metrics here (default " EXPORT_DEFAULT_LISTEN ")", 0 },
	{ "textfile", OPTION_TEXTFILE, "PATH", 0,
	  "export: write PATH every interval (default 15 s), atomically, instead", 0 },
	{ "max-series", OPTION_MAX_SERIES, "N", 0,
	  "export: groups with series of their own; the rest sum into \"other\" (default 200)", 0 },
	{ "top", OPTION_TOP, "N", 0, "retries: rows in the top lists (default 10)", 0 },
	{ "refault-ms", OPTION_REFAULT_MS, "MS", 0,
	  "causes, export: a fault within MS of its range's invalidation is a refault (default 10)", 0 },
	{ "stacks", OPTION_STACKS, "N", 0,
	  "causes: show the N kernel stacks with most invalidations, per driver", 0 },
	{ "no-stacks", OPTION_NO_STACKS, NULL, 0, "causes: take no kernel stacks (cheaper): the "
	  "entry is the syscall or the kernel thread, the path unknown", 0 },
	{ "folded", OPTION_FOLDED, "FILE", 0, "causes: write folded stacks to FILE at the end, "
	  "for flamegraph.pl and speedscope", 0 },
	{ "html", OPTION_HTML, "FILE", 0, "causes: write a self-contained flame graph page to FILE "
	  "at the end", 0 },
	{ "weight", OPTION_WEIGHT, "WHAT", 0, "causes: weigh stacks by invalidations (default) or "
	  "time (callback time)", 0 },
	{ "retry-gap-ms", OPTION_RETRY_GAP_MS, "MS", 0,
	  "stock kernels: a read_begin within MS of the task's last successful "
	  "hmm_range_fault() on a range whose seq moved is a retry (default 10)", 0 },
	{ "mode", OPTION_MODE, "MODE", 0, "tp_btf, raw_tp, fentry or kprobe (default: the "
	  "first that works)", 0 },
	{ "fault-state", OPTION_FAULT_STATE, "WHERE", 0, "Keep each task's fault state in task "
	  "local storage (task, the default where the kernel allows it) or in a hash (hash)", 0 },
	{ "map-entries", OPTION_MAP_ENTRIES, "MAP=N,...", 0, "Size these maps (stats, "
	  "subscriptions, faults, pending, range_starts, invalidators, causes, stacks) to N "
	  "entries: what does not fit is counted as lost", 0 },
	{ "btf", OPTION_BTF, "PATH", 0, "Kernel BTF to use when /sys/kernel/btf/vmlinux is "
	  "missing", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per interval or event", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's log, every hook with its mechanism, where fault "
	  "state lives and the attach phases' times", 0 },
	{ "help", 'h', NULL, 0, "Show this help", 0 },
	{},
};

static const char *const weight_names[] = { "invalidations", "time" };

static bool refault_given;

static const char *const sort_names[] = {
	"invalidations", "p99", "waits", "retries", "ratio", "ebusy", "inserts", "removes", "group",
};

/* Usage errors are one line, with the exit status the man page lists. */
static void usage_error(const char *format, ...)
{
	va_list arguments;

	va_start(arguments, format);
	fprintf(stderr, "hmmtrace: ");
	vfprintf(stderr, format, arguments);
	fprintf(stderr, " (see hmmtrace --help)\n");
	va_end(arguments);
	exit(EXIT_USAGE);
}

static int lookup_name(const char *name, const char *const *names, int count)
{
	for (int index = 0; index < count; index++)
		if (!strcmp(name, names[index]))
			return index;
	return -1;
}

/* One of NAMES, or a usage error that says which ones. */
static int parse_choice(const char *argument, const char *const *names, int count,
			const char *option)
{
	int index = lookup_name(argument, names, count);
	char known[256] = "";

	if (index >= 0)
		return index;
	for (int name = 0; name < count; name++)
		snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
			 name ? name == count - 1 ? " or " : ", " : "", names[name]);
	usage_error("%s takes %s, not %s", option, known, argument);
	return -1;
}

static double parse_seconds(const char *text)
{
	char *end;
	double value = strtod(text, &end);

	/* Written so that NaN, which compares false with everything, is refused too. */
	if (end == text || *end || !(value > 0 && value <= 86400))
		usage_error("invalid number of seconds: %s", text);
	return value;
}

static long parse_count(const char *text, long low, long high)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || end == text || *end || value < low || value > high)
		usage_error("invalid number: %s (expected %ld to %ld)", text, low, high);
	return value;
}

static void parse_events(char *list)
{
	options.events_mask = 0;
	for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
		int event = snoop_event_by_name(name);

		if (event < 0)
			usage_error("unknown event: %s", name);
		options.events_mask |= 1U << event;
	}
}

/* --map-entries stats=8,faults=4: each map named once, 1 to 16M entries. */
static void parse_map_entries(char *list)
{
	for (char *pair = strtok(list, ","); pair; pair = strtok(NULL, ",")) {
		char *equals = strchr(pair, '=');
		int map;

		if (!equals)
			usage_error("--map-entries takes MAP=N, not %s", pair);
		*equals = '\0';
		map = parse_choice(pair, resizable_map_names, RESIZABLE_MAP_COUNT, "--map-entries");
		if (options.map_entries[map])
			usage_error("--map-entries names %s twice", pair);
		options.map_entries[map] = parse_count(equals + 1, 1, 1 << 24);
	}
}

static error_t parse_argument(int key, char *argument, struct argp_state *state)
{
	int index;

	switch (key) {
	case 'b':
		options.grouping = parse_choice(argument, grouping_names, 3, "--by");
		break;
	case 's':
		options.sort = parse_choice(argument, sort_names, 9, "--sort");
		break;
	case OPTION_MODE:
		options.mode = parse_choice(argument, mode_names, HMMTRACE_MODE_COUNT, "--mode");
		break;
	case OPTION_FAULT_STATE:
		options.fault_store = parse_choice(argument, fault_store_names, FAULT_STORE_COUNT,
						   "--fault-state");
		break;
	case 'i':
		options.interval = parse_seconds(argument);
		break;
	case 'd':
		options.duration = parse_seconds(argument);
		break;
	case 'c':
		options.count = parse_count(argument, 1, 1000000000);
		break;
	case 'p':
		options.pid = parse_count(argument, 1, 4194304);
		break;
	case 'D':
		options.driver = argument;
		break;
	case 'e':
		parse_events(argument);
		break;
	case OPTION_LIVELOCK_MS:
		options.livelock_ms = parse_count(argument, 1, 3600000);
		break;
	case OPTION_RETRY_GAP_MS:
		options.retry_gap_ms = parse_count(argument, 1, 60000);
		break;
	case OPTION_TOP:
		options.top_rows = parse_count(argument, 1, 100000);
		break;
	case OPTION_BTF:
		options.btf_path = argument;
		break;
	case OPTION_LISTEN:
		options.listen = argument;
		break;
	case OPTION_TEXTFILE:
		options.textfile = argument;
		break;
	case OPTION_MAX_SERIES:
		options.max_series = parse_count(argument, 1, 100000);
		break;
	case OPTION_REFAULT_MS:
		refault_given = true;
		options.refault_ms = parse_count(argument, 1, 3600000);
		break;
	case OPTION_STACKS:
		options.cause_stacks = parse_count(argument, 1, 1000);
		break;
	case OPTION_NO_STACKS:
		options.take_stacks = false;
		break;
	case OPTION_FOLDED:
		options.folded_path = argument;
		break;
	case OPTION_HTML:
		options.html_path = argument;
		break;
	case OPTION_MAP_ENTRIES:
		parse_map_entries(argument);
		break;
	case OPTION_WEIGHT:
		index = parse_choice(argument, weight_names, 2, "--weight");
		options.weight_by_time = index == 1;
		break;
	case 'j':
		options.json = true;
		break;
	case 'v':
		options.verbose = true;
		break;
	case 'h':
		/* ARGP_NO_ERRS implies ARGP_NO_EXIT, so help exits here. */
		argp_help(state->root_argp, stdout, ARGP_HELP_STD_HELP, "hmmtrace");
		exit(EXIT_OK);
	case ARGP_KEY_ARG:
		index = lookup_name(argument, subcommand_names, SUBCOMMAND_COUNT);
		if (state->arg_num > 0)
			usage_error("unexpected argument: %s", argument);
		if (index < 0)
			usage_error("unknown subcommand: %s (top, latency, retries, snoop, export or causes)",
				   argument);
		options.subcommand = index;
		break;
	case ARGP_KEY_END:
		if (state->arg_num < 1)
			usage_error("a subcommand is required: top, latency, retries, snoop, export or "
				    "causes");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* The arguments that look like options but match none, or NULL. */
static const char *unknown_options(int argc, char **argv)
{
	static char list[256];

	list[0] = '\0';
	for (int index = 1; index < argc; index++) {
		const char *argument = argv[index];
		bool known = false;
		size_t length = strlen(list);

		if (argument[0] != '-' || !argument[1])
			continue;
		for (const struct argp_option *option = argument_options; option->key; option++) {
			size_t name_length = option->name ? strlen(option->name) : 0;

			if (argument[1] == '-' ? option->name && !strncmp(argument + 2, option->name,
									  name_length) &&
						 (argument[2 + name_length] == '\0' ||
						  argument[2 + name_length] == '=') :
						 option->key == argument[1])
				known = true;
		}
		if (!known)
			snprintf(list + length, sizeof(list) - length, "%s%s", length ? " " : "",
				 argument);
	}
	return list[0] ? list : NULL;
}

static int check_environment(void)
{
	int status = privileges_check();

	if (status)
		return status;
	if (options.pid && kill(options.pid, 0) && errno == ESRCH) {
		fprintf(stderr, "hmmtrace: no process with pid %d\n", options.pid);
		return EXIT_NO_SUCH_PROCESS;
	}
	return EXIT_OK;
}

static void sleep_seconds(double seconds)
{
	struct timespec pause;

	if (seconds <= 0)
		return;
	pause.tv_sec = (time_t)seconds;
	pause.tv_nsec = (long)((seconds - pause.tv_sec) * 1e9);
	nanosleep(&pause, NULL);	/* a signal ends it early */
}

/* The one path of an interval: the maps, read once into the model, then the writer. */
static int write_interval(struct model_reader *reader, double seconds)
{
	struct model model;
	int status = model_read(reader, seconds, &model);

	if (status) {
		fprintf(stderr, "hmmtrace: reading the BPF maps failed: %s\n", strerror(-status));
		return EXIT_FAILURE_AT_RUN;
	}
	reader->writer->interval(&model);
	return EXIT_OK;
}

static void announce(struct session *session)
{
	const char *limits = mode_limits_text(session->mode);

	/* Always on stderr: scripts wait for this line to know tracing has begun. */
	fprintf(stderr, "hmmtrace: %s in %s mode; Ctrl-C to stop\n",
		subcommand_names[options.subcommand], mode_names[session->mode]);
	if (options.verbose) {
		fprintf(stderr, "hmmtrace: fault state in %s\n",
			session->fault_store == FAULT_STORE_TASK ? "task local storage" :
			"the faults hash");
		fprintf(stderr, "hmmtrace: attach phases (ms; objects loaded: %d):", session->loads);
		for (int phase = 0; phase < PHASE_COUNT; phase++)
			fprintf(stderr, " %s %.1f", attach_phase_names[phase],
				session->phase_seconds[phase] * 1000);
		fprintf(stderr, "\n");
	}
	if (options.subcommand == SUBCOMMAND_EXPORT)
		fprintf(stderr, "hmmtrace: exporting %s%s%s\n",
			options.textfile ? "to " : "on http://", options.textfile ? options.textfile :
			options.listen, options.textfile ? "" : "/metrics");
	if (limits)
		fprintf(stderr, "hmmtrace: %s (%s)\n", limits,
			session->callbacks[0] ? session->callbacks : "no known callback is loaded");
}

/* Records written as they come: retries' reports, snoop's events. */
static struct ring_buffer *open_ring_buffer(struct model_reader *reader)
{
	struct hmmtrace_bpf *skeleton = reader->session->skeleton;

	if (options.subcommand == SUBCOMMAND_RETRIES)
		return ring_buffer__new(bpf_map__fd(skeleton->maps.reports),
					retries_handle_report, reader, NULL);
	if (options.subcommand == SUBCOMMAND_SNOOP)
		return ring_buffer__new(bpf_map__fd(skeleton->maps.events),
					snoop_handle_event, reader, NULL);
	return NULL;
}

/* Wait for the next interval, handing ring buffer records over meanwhile. */
static int wait_until(struct ring_buffer *ring, double deadline)
{
	while (!exiting) {
		double left = deadline - monotonic_seconds();
		int status;

		if (left <= 0)
			return 0;
		if (!ring) {
			sleep_seconds(left);
			continue;
		}
		status = ring_buffer__poll(ring, left > 0.1 ? 100 : (int)(left * 1000) + 1);
		if (status < 0 && status != -EINTR)
			return status;
	}
	return 0;
}

static int run(struct model_reader *reader)
{
	struct ring_buffer *ring = open_ring_buffer(reader);
	double started = monotonic_seconds(), last = started, end = 1e300;
	long intervals = 0;
	int status = 0, written = EXIT_OK;

	if ((options.subcommand == SUBCOMMAND_RETRIES || options.subcommand == SUBCOMMAND_SNOOP) &&
	    !ring) {
		fprintf(stderr, "hmmtrace: cannot open the ring buffer: %s\n", strerror(errno));
		return EXIT_BPF_FAILED;
	}
	if (options.duration > 0)
		end = started + options.duration;
	while (!exiting && !status && written == EXIT_OK) {
		double next = options.interval > 0 ? last + options.interval : end;
		double now;

		status = wait_until(ring, next < end ? next : end);
		now = monotonic_seconds();
		if (exiting || now >= end)
			break;
		if (options.interval > 0) {
			written = write_interval(reader, now - last);
			last = now;
			if (options.count > 0 && ++intervals >= options.count)
				break;
		}
	}
	/* What is left: queued records, and the last (partial or only) interval. */
	if (ring)
		ring_buffer__consume(ring);
	if (written == EXIT_OK && !(options.count > 0 && intervals >= options.count))
		written = write_interval(reader, monotonic_seconds() - last);
	ring_buffer__free(ring);
	if (status) {
		fprintf(stderr, "hmmtrace: reading the ring buffer failed: %s\n", strerror(-status));
		return EXIT_FAILURE_AT_RUN;
	}
	return written;
}

/* What export takes, checked before attaching; the other subcommands refuse its options. */
static void check_export_options(void)
{
	bool export = options.subcommand == SUBCOMMAND_EXPORT;

	if (!export) {
		if (options.listen || options.textfile)
			usage_error("--listen and --textfile are export's options");
		return;
	}
	if (options.listen && options.textfile)
		usage_error("export takes --listen or --textfile, not both");
	if (options.grouping == HMMTRACE_BY_SUBSCRIPTION)
		usage_error("export groups by driver or process: a series per range is unbounded");
	if (options.json || options.count > 0)
		usage_error("export writes Prometheus' format, without --json or --count");
#ifndef HMMTRACE_HTTP
	if (!options.textfile)
		usage_error("this hmmtrace is built without libmicrohttpd (STATIC=1): export "
			    "needs --textfile");
#endif
	if (!options.textfile && !options.listen)
		options.listen = EXPORT_DEFAULT_LISTEN;
	if (options.interval < 0)
		options.interval = 15;
}

/* What causes takes, checked before attaching; the other subcommands refuse its options. */
static void check_causes_options(void)
{
	if (options.subcommand != SUBCOMMAND_CAUSES) {
		if (options.cause_stacks || !options.take_stacks || options.folded_path ||
		    options.html_path || options.weight_by_time)
			usage_error("--stacks, --no-stacks, --folded, --html and --weight are causes' "
				    "options");
		/* export counts refaults per cause too. */
		if (refault_given && options.subcommand != SUBCOMMAND_EXPORT)
			usage_error("--refault-ms is causes' and export's option");
		return;
	}
	if (options.grouping != HMMTRACE_BY_DRIVER)
		usage_error("causes has a row per driver and cause: --by is not for it");
	if (!options.take_stacks && (options.cause_stacks || options.folded_path || options.html_path))
		usage_error("--stacks, --folded and --html show stacks: not with --no-stacks");
}

/* causes: what the stacks go to at the end, checked first, so that a failure costs no attach. */
static int check_causes_outputs(void)
{
	const char *paths[] = { options.folded_path, options.html_path };
	char temporary[REPLACE_FILE_TEMPORARY_SIZE];
	int status;

	if (options.html_path && !flamegraph_assets_directory()) {
		fprintf(stderr, "hmmtrace: %s\n", flamegraph_assets_missing_reason());
		return EXIT_NO_FLAMEGRAPH_ASSETS;
	}
	for (size_t index = 0; index < sizeof(paths) / sizeof(paths[0]); index++) {
		if (!paths[index])
			continue;
		status = replace_file_check(paths[index], temporary);
		if (status) {
			fprintf(stderr, "hmmtrace: cannot write %s: %s\n", temporary, strerror(-status));
			return EXIT_CANNOT_WRITE;
		}
	}
	return EXIT_OK;
}

/*
 * causes: every stack since start, folded and drawn, each file written
 * beside and renamed over its path, so that a failure leaves what was there.
 */
static int write_causes_stacks(struct model_reader *reader)
{
	char folded_temporary[REPLACE_FILE_TEMPORARY_SIZE], html_temporary[REPLACE_FILE_TEMPORARY_SIZE];
	FILE *folded = NULL, *html = NULL;
	int written, status = 0;

	if (!options.folded_path && !options.html_path)
		return EXIT_OK;
	if (options.folded_path)
		folded = replace_file_begin(options.folded_path, 0644, folded_temporary);
	if (options.html_path)
		html = replace_file_begin(options.html_path, 0644, html_temporary);
	written = (folded || !options.folded_path) && (html || !options.html_path) &&
		  !causes_write_stacks(reader, folded, html);
	if (options.folded_path)
		status = replace_file_finish(folded, folded_temporary, options.folded_path, written);
	if (options.html_path) {
		int html_status = replace_file_finish(html, html_temporary, options.html_path,
						      written);

		status = status ? status : html_status;
	}
	if (!status)
		return EXIT_OK;
	fprintf(stderr, "hmmtrace: writing %s failed: %s\n",
		options.html_path && options.folded_path ? "the stacks" :
		options.html_path ? options.html_path : options.folded_path, strerror(-status));
	return EXIT_CANNOT_WRITE;
}

/* export: the socket or the textfile's directory first, so that a failure costs no attach. */
static int open_export_output(int *listen_fd)
{
	int status;

	*listen_fd = -1;
	if (options.subcommand != SUBCOMMAND_EXPORT)
		return EXIT_OK;
	if (options.textfile) {
		status = export_check_textfile(options.textfile);
		return status ? -status : EXIT_OK;
	}
	status = export_listen_socket(options.listen);
	if (status < 0)
		return -status;
	*listen_fd = status;
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct argp parser = {
		.options = argument_options, .parser = parse_argument, .doc = documentation,
	};
	struct session session = {};
	struct model_reader reader;
	int status, listen_fd = -1;

	argp_err_exit_status = EXIT_USAGE;
	/* getopt's own messages would take two lines; name the culprit in one. */
	if (argp_parse(&parser, argc, argv, ARGP_NO_HELP | ARGP_NO_ERRS, NULL, NULL)) {
		const char *unknown = unknown_options(argc, argv);

		if (unknown)
			usage_error("unknown option: %s", unknown);
		usage_error("an option is missing its value");
	}
	check_export_options();
	check_causes_options();
	/* tools/reclaim.c's test knob, refused before anything attaches. */
	if (reclaim_sweep_seconds() < 0)
		usage_error("HMMTRACE_SWEEP_SECONDS takes seconds from 0 to 86400, not %s",
			    getenv("HMMTRACE_SWEEP_SECONDS"));
	if (options.interval < 0)
		options.interval = options.subcommand == SUBCOMMAND_TOP ||
				   options.subcommand == SUBCOMMAND_SNOOP ||
				   options.subcommand == SUBCOMMAND_CAUSES || options.count > 0 ? 1 : 0;
	status = check_environment();
	if (!status)
		status = open_export_output(&listen_fd);
	if (!status)
		status = check_causes_outputs();
	if (status) {
		if (listen_fd >= 0)
			close(listen_fd);
		return status;
	}
	libbpf_set_print(print_libbpf_log);
	status = session_open(&session);
	if (status) {
		if (listen_fd >= 0)
			close(listen_fd);
		return status;
	}
	signal(SIGINT, handle_signal);
	signal(SIGTERM, handle_signal);
	signal(SIGPIPE, SIG_IGN);
	announce(&session);
	if (options.subcommand == SUBCOMMAND_EXPORT) {
		/* Livelocks are counted, not written: export has no writer of its own. */
		model_reader_init(&reader, &session, NULL, NULL);
		status = export_run(&reader, listen_fd, &exiting);
	} else {
		model_reader_init(&reader, &session, NULL,
				  options.json ? &json_writer : &text_writer);
		status = run(&reader);
		if (options.subcommand == SUBCOMMAND_CAUSES) {
			int written = write_causes_stacks(&reader);

			status = status ? status : written;
		}
	}
	if (options.verbose)
		reclaim_summary(&reader.reclaim, stderr);
	model_reader_free(&reader);
	session_destroy(&session);
	return status;
}
