// SPDX-License-Identifier: GPL-2.0-only
/*
 * hmmtrace: MMU interval notifier latency, read_begin waits and seq retries,
 * per driver, per process or per range.
 *
 * This first version has `top` on the tracepoints of kernel/patches (tp_btf,
 * else raw_tp). The fentry/kprobe fallback for stock kernels, `latency`,
 * `retries` and `snoop` are still to come.
 */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "hmmtrace.h"
#include "hmmtrace.skel.h"
#include "kallsyms.h"

/* Distinct exit codes, so scripts can tell failures apart. */
enum exit_code {
	EXIT_OK = 0,
	EXIT_USAGE = 2,
	EXIT_NOT_ROOT = 3,
	EXIT_NO_BTF = 4,
	EXIT_NO_TRACEPOINTS = 5,
	EXIT_BPF_FAILED = 6,
};

enum attach_mode { MODE_TP_BTF, MODE_RAW_TP };
static const char *const mode_names[] = { "tp_btf", "raw_tp" };
static const char *const grouping_names[] = { "driver", "process", "range" };

static struct environment {
	enum hmmtrace_grouping grouping;
	double interval;
	long count;
	double duration;
	pid_t pid;
	const char *driver;
	bool json;
	bool verbose;
} environment = { .interval = 1.0, .count = -1, .duration = -1 };

static volatile sig_atomic_t exiting;

static void handle_signal(int signal_number)
{
	(void)signal_number;
	exiting = 1;
}

static int print_libbpf_log(enum libbpf_print_level level, const char *format, va_list arguments)
{
	if (level == LIBBPF_DEBUG && !environment.verbose)
		return 0;
	return vfprintf(stderr, format, arguments);
}

const char *argp_program_version = "hmmtrace 0.1";
static const char documentation[] =
	"Observe the MMU interval notifier: invalidations, read_begin waits and retries.\n"
	"\n"
	"USAGE: hmmtrace top [--by driver|process|range] [-i SECONDS] [-c COUNT] [-p PID]\n"
	"                    [--driver NAME] [--json] [-v]\n"
	"\n"
	"EXAMPLES:\n"
	"    hmmtrace top                   # one row per driver, every second\n"
	"    hmmtrace top --by range -i 5   # one row per subscribed range, every 5 s\n"
	"    hmmtrace top -p 1234 --json    # one process, as JSON, one object per interval\n";

static const struct argp_option argument_options[] = {
	{ "by", 'b', "GROUP", 0, "Rows per driver (default), process or range", 0 },
	{ "interval", 'i', "SECONDS", 0, "Refresh interval (default 1)", 0 },
	{ "count", 'c', "COUNT", 0, "Stop after COUNT intervals", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after SECONDS", 0 },
	{ "pid", 'p', "PID", 0, "Only the process PID", 0 },
	{ "driver", 'D', "NAME", 0, "Only rows of driver NAME", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per interval", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's log", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show this help", 0 },
	{},
};

static double parse_seconds(const char *text, struct argp_state *state)
{
	char *end;
	double value = strtod(text, &end);

	if (*end || value <= 0 || value > 86400)
		argp_error(state, "invalid number of seconds: %s", text);
	return value;
}

static error_t parse_argument(int key, char *argument, struct argp_state *state)
{
	char *end;

	switch (key) {
	case 'b':
		for (int group = 0; group < 3; group++)
			if (!strcmp(argument, grouping_names[group])) {
				environment.grouping = group;
				return 0;
			}
		argp_error(state, "--by takes driver, process or range, not %s", argument);
		break;
	case 'i':
		environment.interval = parse_seconds(argument, state);
		break;
	case 'd':
		environment.duration = parse_seconds(argument, state);
		break;
	case 'c':
		environment.count = strtol(argument, &end, 10);
		if (*end || environment.count < 1)
			argp_error(state, "invalid count: %s", argument);
		break;
	case 'p':
		environment.pid = strtol(argument, &end, 10);
		if (*end || environment.pid < 1)
			argp_error(state, "invalid pid: %s", argument);
		break;
	case 'D':
		environment.driver = argument;
		break;
	case 'j':
		environment.json = true;
		break;
	case 'v':
		environment.verbose = true;
		break;
	case 'h':
		argp_state_help(state, stderr, ARGP_HELP_STD_HELP);
		break;
	case ARGP_KEY_ARG:
		if (state->arg_num > 0 || strcmp(argument, "top"))
			argp_error(state, "unknown subcommand: %s (this version has: top)", argument);
		break;
	case ARGP_KEY_END:
		if (state->arg_num < 1)
			argp_error(state, "a subcommand is required (this version has: top)");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* Our tracepoints have BTF prototypes (btf_trace_<event>) when tp_btf works. */
static int pick_mode(enum attach_mode *mode)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();

	if (!vmlinux) {
		fprintf(stderr, "hmmtrace: this kernel has no BTF (/sys/kernel/btf/vmlinux); "
			"CO-RE needs CONFIG_DEBUG_INFO_BTF\n");
		return EXIT_NO_BTF;
	}
	if (btf__find_by_name_kind(vmlinux, "btf_trace_mmu_interval_read_begin",
				   BTF_KIND_TYPEDEF) > 0)
		*mode = MODE_TP_BTF;
	else if (!access("/sys/kernel/tracing/events/mmu_notifier/mmu_interval_read_begin", F_OK))
		*mode = MODE_RAW_TP;
	else {
		btf__free(vmlinux);
		fprintf(stderr, "hmmtrace: this kernel has no mmu_notifier tracepoints "
			"(kernel/patches); the fentry/kprobe fallback is not implemented yet\n");
		return EXIT_NO_TRACEPOINTS;
	}
	btf__free(vmlinux);
	return EXIT_OK;
}

static void choose_programs(struct hmmtrace_bpf *skeleton, enum attach_mode mode)
{
	struct bpf_program *program;

	bpf_object__for_each_program(program, skeleton->obj) {
		const char *name = bpf_program__name(program);
		size_t length = strlen(name);
		bool is_btf = length > 4 && !strcmp(name + length - 4, "_btf");

		bpf_program__set_autoload(program, is_btf == (mode == MODE_TP_BTF));
	}
}

/* One row: a group's totals over the interval. */
struct row {
	__u64 group;
	struct hmmtrace_stats delta;
	struct hmmtrace_stats total;
	char name[160];
	char driver[64];
};

struct table {
	struct row *rows;
	size_t count;
	size_t capacity;
};

static struct row *find_row(struct table *table, __u64 group)
{
	for (size_t index = 0; index < table->count; index++)
		if (table->rows[index].group == group)
			return &table->rows[index];
	if (table->count == table->capacity) {
		size_t capacity = table->capacity ? 2 * table->capacity : 64;
		struct row *rows = realloc(table->rows, capacity * sizeof(*rows));

		if (!rows)
			return NULL;
		table->rows = rows;
		table->capacity = capacity;
	}
	memset(&table->rows[table->count], 0, sizeof(table->rows[0]));
	table->rows[table->count].group = group;
	return &table->rows[table->count++];
}

static void add_stats(struct hmmtrace_stats *sum, const struct hmmtrace_stats *part)
{
	__u64 *to = (__u64 *)sum;
	const __u64 *from = (const __u64 *)part;

	for (size_t index = 0; index < sizeof(*sum) / sizeof(__u64); index++)
		to[index] += from[index];
}

static void subtract_stats(struct hmmtrace_stats *result, const struct hmmtrace_stats *now,
			   const struct hmmtrace_stats *before)
{
	__u64 *to = (__u64 *)result;
	const __u64 *a = (const __u64 *)now, *b = (const __u64 *)before;

	for (size_t index = 0; index < sizeof(*result) / sizeof(__u64); index++)
		to[index] = a[index] - b[index];
}

/* Sum the per-CPU values of every group; rows keep last interval's totals. */
static int read_stats(int map_fd, struct table *table)
{
	int cpus = libbpf_num_possible_cpus();
	struct hmmtrace_stats *per_cpu = calloc(cpus, sizeof(*per_cpu));
	__u64 key, next_key, *previous = NULL;

	if (!per_cpu)
		return -ENOMEM;
	while (!bpf_map_get_next_key(map_fd, previous, &next_key)) {
		struct hmmtrace_stats total = {};
		struct row *row;

		key = next_key;
		previous = &key;
		if (bpf_map_lookup_elem(map_fd, &key, per_cpu))
			continue;
		for (int cpu = 0; cpu < cpus; cpu++)
			add_stats(&total, &per_cpu[cpu]);
		row = find_row(table, key);
		if (!row)
			break;
		subtract_stats(&row->delta, &total, &row->total);
		row->total = total;
	}
	free(per_cpu);
	return 0;
}

/* The latency below which a fraction of the interval's callbacks finished. */
static __u64 percentile_ns(const struct hmmtrace_stats *stats, double fraction)
{
	__u64 seen = 0, wanted = (__u64)(stats->invalidations * fraction + 0.5);

	if (!stats->invalidations)
		return 0;
	for (int slot = 0; slot < HMMTRACE_LATENCY_SLOTS; slot++) {
		seen += stats->invalidate_slots[slot];
		if (seen >= wanted && seen)
			return 2ULL << slot;	/* upper bound of the log2 bucket */
	}
	return 2ULL << (HMMTRACE_LATENCY_SLOTS - 1);
}

static void name_row(struct row *row, int ranges_fd, const struct kallsyms *symbols)
{
	struct hmmtrace_range_info info;
	__u64 callback = row->group;

	if (environment.grouping == HMMTRACE_BY_PROCESS) {
		snprintf(row->name, sizeof(row->name), "%llu", (unsigned long long)row->group);
		snprintf(row->driver, sizeof(row->driver), "-");
		return;
	}
	if (environment.grouping == HMMTRACE_BY_RANGE) {
		if (bpf_map_lookup_elem(ranges_fd, &row->group, &info)) {
			snprintf(row->name, sizeof(row->name), "0x%llx", (unsigned long long)row->group);
			snprintf(row->driver, sizeof(row->driver), "?");
			return;
		}
		callback = info.invalidate;
		snprintf(row->name, sizeof(row->name), "pid %u [0x%llx-0x%llx]", info.tgid,
			 (unsigned long long)info.start, (unsigned long long)info.last);
	}
	kallsyms_driver(symbols, callback, row->driver, sizeof(row->driver),
			environment.grouping == HMMTRACE_BY_DRIVER ? row->name : NULL,
			sizeof(row->name));
}

/*
 * Go-rounds per completed fault. A fault completes when hmm_range_fault()
 * succeeded and read_retry then found no collision; drivers that do not use
 * hmm_range_fault() complete every read_begin that did not retry. A driver
 * that never completes (the stale-seq livelock) has an infinite ratio.
 */
static double retry_ratio(const struct hmmtrace_stats *stats)
{
	__u64 retries = stats->read_retries + stats->range_fault_ebusy;
	__u64 attempts = stats->range_faults ? stats->range_faults - stats->range_fault_ebusy :
					       stats->read_begins;
	__u64 completed = attempts > stats->read_retries ? attempts - stats->read_retries : 0;

	if (!completed)
		return retries ? INFINITY : 0;
	return (double)retries / completed;
}

static double per_second(__u64 count, double seconds)
{
	return seconds > 0 ? count / seconds : 0;
}

static void print_interval(struct table *table, int ranges_fd, const struct kallsyms *symbols,
			   double seconds, enum attach_mode mode)
{
	time_t now = time(NULL);
	bool first = true;

	if (environment.json) {
		printf("{\"time\": %lld, \"mode\": \"%s\", \"by\": \"%s\", \"interval_s\": %.3f, \"rows\": [",
		       (long long)now, mode_names[mode], grouping_names[environment.grouping], seconds);
	} else {
		printf("\nhmmtrace top  mode %s  by %s  interval %.1f s\n", mode_names[mode],
		       grouping_names[environment.grouping], seconds);
		printf("%-40s %-12s %9s %9s %9s %8s %9s %8s %7s %7s %7s %7s\n", "GROUP", "DRIVER",
		       "INVAL/s", "P50(us)", "P99(us)", "WAITS", "WAIT(ms)", "RETRY/s", "RATIO",
		       "EBUSY/s", "INSERT", "REMOVE");
	}
	for (size_t index = 0; index < table->count; index++) {
		struct row *row = &table->rows[index];
		const struct hmmtrace_stats *delta = &row->delta;
		__u64 retries = delta->read_retries + delta->range_fault_ebusy;
		double ratio = retry_ratio(delta);
		char ratio_text[32];

		/* JSON has no infinity: a fault that never completes is null. */
		if (isinf(ratio))
			snprintf(ratio_text, sizeof(ratio_text), "null");
		else
			snprintf(ratio_text, sizeof(ratio_text), "%.4f", ratio);

		if (!delta->inserts && !delta->removes && !delta->invalidations && !delta->read_begins &&
		    !delta->range_faults)
			continue;
		name_row(row, ranges_fd, symbols);
		if (environment.driver && strcmp(environment.driver, row->driver))
			continue;
		if (environment.json) {
			printf("%s{\"group\": \"%s\", \"driver\": \"%s\", \"inserts\": %llu, "
			       "\"removes\": %llu, \"invalidations\": %llu, \"invalidate_failures\": %llu, "
			       "\"invalidate_p50_ns\": %llu, \"invalidate_p99_ns\": %llu, "
			       "\"read_begins\": %llu, \"read_begin_waits\": %llu, \"read_begin_wait_ns\": %llu, "
			       "\"read_retries\": %llu, \"check_retries\": %llu, \"range_faults\": %llu, "
			       "\"range_fault_ebusy\": %llu, \"retry_ratio\": %s}",
			       first ? "" : ", ", row->name, row->driver,
			       (unsigned long long)delta->inserts, (unsigned long long)delta->removes,
			       (unsigned long long)delta->invalidations,
			       (unsigned long long)delta->invalidate_failures,
			       (unsigned long long)percentile_ns(delta, 0.5),
			       (unsigned long long)percentile_ns(delta, 0.99),
			       (unsigned long long)delta->read_begins,
			       (unsigned long long)delta->read_begin_waits,
			       (unsigned long long)delta->read_begin_wait_ns,
			       (unsigned long long)delta->read_retries,
			       (unsigned long long)delta->check_retries,
			       (unsigned long long)delta->range_faults,
			       (unsigned long long)delta->range_fault_ebusy, ratio_text);
		} else {
			printf("%-40.40s %-12.12s %9.0f %9.1f %9.1f %8llu %9.1f %8.0f %7.2f %7.0f %7llu %7llu\n",
			       row->name, row->driver, per_second(delta->invalidations, seconds),
			       percentile_ns(delta, 0.5) / 1000.0, percentile_ns(delta, 0.99) / 1000.0,
			       (unsigned long long)delta->read_begin_waits,
			       delta->read_begin_wait_ns / 1e6, per_second(retries, seconds),
			       ratio, per_second(delta->range_fault_ebusy, seconds),
			       (unsigned long long)delta->inserts, (unsigned long long)delta->removes);
		}
		first = false;
	}
	if (environment.json)
		printf("]}\n");
	fflush(stdout);
}

static double monotonic_seconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

static void sleep_seconds(double seconds)
{
	struct timespec pause = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };

	nanosleep(&pause, NULL);	/* a signal ends it early */
}

int main(int argc, char **argv)
{
	static const struct argp parser = {
		.options = argument_options, .parser = parse_argument, .doc = documentation,
	};
	struct hmmtrace_bpf *skeleton;
	struct kallsyms *symbols;
	struct table table = {};
	enum attach_mode mode;
	double started, last;
	long intervals = 0;
	int status;

	argp_err_exit_status = EXIT_USAGE;
	if (argp_parse(&parser, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	if (geteuid() != 0) {
		fprintf(stderr, "hmmtrace: must run as root (it loads BPF programs)\n");
		return EXIT_NOT_ROOT;
	}
	libbpf_set_print(print_libbpf_log);
	status = pick_mode(&mode);
	if (status)
		return status;

	skeleton = hmmtrace_bpf__open();
	if (!skeleton) {
		fprintf(stderr, "hmmtrace: cannot open the BPF object: %s\n", strerror(errno));
		return EXIT_BPF_FAILED;
	}
	skeleton->rodata->grouping = environment.grouping;
	skeleton->rodata->target_tgid = environment.pid;
	choose_programs(skeleton, mode);
	status = hmmtrace_bpf__load(skeleton);
	if (!status)
		status = hmmtrace_bpf__attach(skeleton);
	if (status) {
		fprintf(stderr, "hmmtrace: cannot load or attach the BPF programs (%s): %s\n",
			mode_names[mode], strerror(-status));
		hmmtrace_bpf__destroy(skeleton);
		return EXIT_BPF_FAILED;
	}
	symbols = kallsyms_load();
	signal(SIGINT, handle_signal);
	signal(SIGTERM, handle_signal);
	if (!environment.json)
		fprintf(stderr, "hmmtrace: attached in %s mode; Ctrl-C to stop\n", mode_names[mode]);

	started = last = monotonic_seconds();
	while (!exiting) {
		double now;

		sleep_seconds(environment.interval - (monotonic_seconds() - last));
		now = monotonic_seconds();
		/* The last, partial interval is printed too: no event is dropped. */
		read_stats(bpf_map__fd(skeleton->maps.stats), &table);
		print_interval(&table, bpf_map__fd(skeleton->maps.ranges), symbols, now - last, mode);
		last = now;
		intervals++;
		if ((environment.count > 0 && intervals >= environment.count) ||
		    (environment.duration > 0 && now - started >= environment.duration))
			break;
	}
	hmmtrace_bpf__destroy(skeleton);
	kallsyms_free(symbols);
	free(table.rows);
	return EXIT_OK;
}
