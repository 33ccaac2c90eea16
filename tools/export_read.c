// SPDX-License-Identifier: GPL-2.0-only
/*
 * What `export` adds to a read of the model: per group, the live
 * subscriptions and the faults livelocked now; every row's totals held
 * monotonic; the groups over --max-series folded into one `other` row; and
 * the kernel's accounting of hmmtrace's BPF programs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "grow.h"
#include "model_read.h"
#include "hmmtrace.skel.h"

#define SCALAR_COUNTERS (offsetof(struct hmmtrace_stats, invalidate_slots) / sizeof(__u64))
#define HISTOGRAMS ((sizeof(struct hmmtrace_stats) / sizeof(__u64) - SCALAR_COUNTERS) / \
		    HMMTRACE_SLOTS)

/*
 * Prometheus takes a counter that goes down for a restart, but the BPF side
 * withdraws a fault's completion when a collision undoes it. So each
 * counter, and each histogram's cumulative bucket, is exported at the
 * highest value it has had: a withdrawn completion stays counted until the
 * fault's next completion catches up, which, as every withdrawn fault goes
 * round again, is at most the length of one go-round.
 */
static void hold_monotonic(struct hmmtrace_stats *reported, const struct hmmtrace_stats *total)
{
	__u64 *held = (__u64 *)reported;
	const __u64 *now = (const __u64 *)total;

	for (size_t index = 0; index < SCALAR_COUNTERS; index++)
		if (now[index] > held[index])
			held[index] = now[index];
	for (size_t histogram = 0; histogram < HISTOGRAMS; histogram++) {
		__u64 *held_slots = held + SCALAR_COUNTERS + histogram * HMMTRACE_SLOTS;
		const __u64 *slots = now + SCALAR_COUNTERS + histogram * HMMTRACE_SLOTS;
		__u64 held_below = 0, now_below = 0, cumulative_below = 0;

		for (int slot = 0; slot < HMMTRACE_SLOTS; slot++) {
			__u64 cumulative;

			held_below += held_slots[slot];
			now_below += slots[slot];
			cumulative = held_below > now_below ? held_below : now_below;
			/* Maxima of two sequences rising with slot rise too: no slot goes negative. */
			held_slots[slot] = cumulative - cumulative_below;
			cumulative_below = cumulative;
		}
	}
}

static void add_stats(struct hmmtrace_stats *sum, const struct hmmtrace_stats *part)
{
	__u64 *into = (__u64 *)sum;
	const __u64 *from = (const __u64 *)part;

	for (size_t index = 0; index < sizeof(*sum) / sizeof(__u64); index++)
		into[index] += from[index];
}

/* The row a subscription counts in, as the BPF side's group_of() picks it (not by range). */
__u64 export_group_of_subscription(const struct hmmtrace_subscription *info)
{
	return options.grouping == HMMTRACE_BY_PROCESS ? info->tgid : info->invalidate;
}

static int count_live_subscription(void *context, const void *key, const void *value)
{
	struct model_reader *reader = context;
	const struct hmmtrace_subscription *info = value;
	struct row *row;

	(void)key;
	if (info->removed || (options.pid && info->tgid != (__u32)options.pid))
		return 0;
	row = row_table_find(&reader->table, export_group_of_subscription(info));
	if (row)
		row->live_subscriptions++;
	return 0;
}

/*
 * Rows beyond --max-series, in first-seen order, are summed into `other`.
 * A group never moves: whether it has a series of its own is settled when
 * it is first exported, and a row reclaimed later (its process exited)
 * leaves its room to a new group and what it had in other.
 */
static void fold_rows(struct export_state *state, struct model *model)
{
	struct row *other = &state->other;
	size_t own = 0, folded = 0;

	memcpy(&other->total, &state->other_retired, sizeof(other->total));
	other->livelocks = 0;
	other->livelocked_faults = 0;
	other->live_subscriptions = 0;
	for (size_t index = 0; index < model->row_count; index++) {
		struct row *row = model->rows[index];

		if (!row->fold_decided) {
			row->folded = own >= options.max_series;
			row->fold_decided = true;
		}
		if (!row->folded) {
			model->rows[own++] = row;
			continue;
		}
		add_stats(&other->total, row->reported);
		other->livelocks += row->livelocks;
		other->livelocked_faults += row->livelocked_faults;
		other->live_subscriptions += row->live_subscriptions;
		folded++;
	}
	model->row_count = own;
	if (!folded && !state->folding_said)
		return;
	if (!state->folding_said)
		fprintf(stderr, "hmmtrace: over %u groups (--max-series): the rest are summed into "
			"the series labelled other\n", options.max_series);
	state->folding_said = true;
	other->reported = &other->total;
	snprintf(other->name, sizeof(other->name), "other");
	snprintf(other->driver, sizeof(other->driver), "other");
	model->export.series_folded = folded;
	model->rows[model->row_count++] = other;
}

void export_forget_row(struct model_reader *reader, const struct row *row)
{
	if (row->folded && row->reported)
		add_stats(&reader->export.other_retired, row->reported);
}

static bool bpf_stats_enabled(void)
{
	FILE *file = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
	int enabled = 0;

	if (!file)
		return false;
	if (fscanf(file, "%d", &enabled) != 1)
		enabled = 0;
	fclose(file);
	return enabled;
}

/* Every loaded program's run time and count, as bpftool prog shows them. */
static int read_programs(struct model_reader *reader, struct export_part *part)
{
	struct export_state *state = &reader->export;
	struct bpf_program *program;

	state->program_count = 0;
	part->bpf_stats_enabled = bpf_stats_enabled();
	/* (The bench reads maps of its own, without a skeleton.) */
	if (!reader->session->skeleton)
		return 0;
	bpf_object__for_each_program(program, reader->session->skeleton->obj) {
		struct bpf_prog_info info = {};
		__u32 length = sizeof(info);
		int fd = bpf_program__fd(program);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &length))
			continue;
		if (grow(&state->programs, &state->program_capacity, state->program_count + 1,
			 sizeof(*state->programs)))
			return -ENOMEM;
		state->programs[state->program_count++] = (struct program_runs){
			.name = bpf_program__name(program), .run_time_ns = info.run_time_ns,
			.run_count = info.run_cnt,
		};
	}
	part->programs = state->programs;
	part->program_count = state->program_count;
	return 0;
}

static int reported_of(struct row *row)
{
	if (!row->reported) {
		row->reported = calloc(1, sizeof(*row->reported));
		if (!row->reported)
			return -ENOMEM;
	}
	hold_monotonic(row->reported, &row->total);
	return 0;
}

int export_read(struct model_reader *reader, struct model *model)
{
	struct export_state *state = &reader->export;
	struct export_part *part = &model->export;
	int status;

	if (!state->kernel_release[0]) {
		struct utsname names;

		uname(&names);
		snprintf(state->kernel_release, sizeof(state->kernel_release), "%s", names.release);
	}
	for (size_t index = 0; index < model->row_count; index++) {
		struct row *row = model->rows[index];

		row->live_subscriptions = 0;
		row->livelocked_faults = 0;
		status = reported_of(row);
		if (status)
			return status;
	}
	status = map_for_each(reader->maps.subscriptions, false, count_live_subscription, reader);
	if (!status)
		status = retries_count_livelocked(reader);
	if (!status)
		status = read_programs(reader, part);
	if (status)
		return status;
	part->kernel_release = state->kernel_release;
	part->version = HMMTRACE_VERSION;
	part->start_time = state->start_time;
	fold_rows(state, model);
	return 0;
}

/*
 * An exporter runs for weeks: a driver loaded after it started has a new
 * group whose callback the symbols read at attach cannot name (they would
 * name it after the last symbol below it). New groups are rare (a callback,
 * or a process), so each read that finds one reads /proc/kallsyms again
 * before the rows are named.
 */
void export_refresh_symbols(struct model_reader *reader)
{
	struct export_state *state = &reader->export;
	struct session *session = reader->session;
	struct kallsyms *fresh;

	if (!state->groups_named) {
		state->groups_named = reader->table.count;
		return;
	}
	if (reader->table.count <= state->groups_named || options.grouping != HMMTRACE_BY_DRIVER)
		return;
	state->groups_named = reader->table.count;
	if (grow(&state->retired_symbols, &state->retired_capacity, state->retired_count + 1,
		 sizeof(*state->retired_symbols)))
		return;
	fresh = kallsyms_load();
	if (!fresh)
		return;
	state->retired_symbols[state->retired_count++] = session->symbols;
	session->symbols = fresh;
	reader->driver_cache = (struct driver_cache){};
}

void export_free(struct export_state *state)
{
	for (size_t index = 0; index < state->retired_count; index++)
		kallsyms_free(state->retired_symbols[index]);
	free(state->retired_symbols);
	free(state->programs);
	state->programs = NULL;
	state->retired_symbols = NULL;
}
