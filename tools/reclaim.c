// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reclaim: what exited processes and removed subscriptions leave behind,
 * so that an exporter running for weeks, or top --by process beside 10k
 * short-lived processes, keeps counting the newest.
 *
 * Groups (--by process, --by range): a read that finds a group gone (its
 * process reaped, so past its exit's events; its subscription removed)
 * takes its stats entry out with BPF_MAP_LOOKUP_AND_DELETE_ELEM, so no
 * event since the read is lost, and adds what it held to the row's base,
 * which a later entry of the same group counts on from. The next read
 * frees the row, unless a late event made the entry again. Hot slots are never reclaimed: there
 * are HMMTRACE_HOT_GROUPS of them, and the BPF side owns them for good.
 *
 * The rest is swept every SWEEP_SECONDS: subscriptions marked removed at
 * the previous sweep (their rows are named by then), faults of removed
 * subscriptions or idle for IDLE_FAULT_SECONDS, the stock modes' pending
 * calls of threads that are gone, and mm_owners entries whose owner was
 * gone at two sweeps in a row.
 *
 * HMMTRACE_RECLAIM=0 turns it all off: the tests' positive control, which
 * shows the maps filling without it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "grow.h"
#include "model_read.h"

#define SWEEP_SECONDS 10.0
/*
 * A fault with no event for this long is over: a livelock retries all the
 * time, and hmm_range_fault() gives up after HMM_RANGE_DEFAULT_TIMEOUT (1 s).
 */
#define IDLE_FAULT_SECONDS 60
/* Every this many reads, every row is checked for a process gone, not only the active ones. */
#define FULL_CHECK_READS 10

/*
 * HMMTRACE_SWEEP_SECONDS sets the sweep's period, 0 for every read (a test
 * sweeps so beside live faults); SWEEP_SECONDS otherwise. -1 when it is not
 * a number of seconds from 0 to a day: main() refuses that before attaching.
 */
double reclaim_sweep_seconds(void)
{
	const char *setting = getenv("HMMTRACE_SWEEP_SECONDS");
	double seconds;
	char *end;

	if (!setting)
		return SWEEP_SECONDS;
	seconds = strtod(setting, &end);
	/* Written so that NaN, which compares false with everything, is refused too. */
	if (end == setting || *end || !(seconds >= 0 && seconds <= 86400))
		return -1;
	return seconds;
}

bool reclaim_enabled(void)
{
	static int enabled = -1;

	if (enabled < 0) {
		const char *setting = getenv("HMMTRACE_RECLAIM");

		enabled = !setting || strcmp(setting, "0");
	}
	return enabled;
}

/* Whether process (or thread) ID has exited: kill(0) finds no such task (a zombie is still there). */
bool reclaim_task_gone(__u64 id)
{
	return id && id < (1ULL << 31) && kill((pid_t)id, 0) && errno == ESRCH;
}

static bool hot_group(const struct reclaim_state *state, __u64 group)
{
	for (size_t slot = 0; slot < HMMTRACE_HOT_GROUPS; slot++)
		if (state->hot_groups[slot] == group)
			return true;
	return false;
}

static int add_group(__u64 **groups, size_t *count, size_t *capacity, __u64 group)
{
	if (grow(groups, capacity, *count + 1, sizeof(**groups)))
		return -ENOMEM;
	(*groups)[(*count)++] = group;
	return 0;
}

/* KEY's subscription: 1 when marked removed, 0 when live, -errno when it has no entry. */
static int subscription_removed(const struct model_reader *reader, __u64 key)
{
	struct hmmtrace_subscription info;

	if (bpf_map_lookup_elem(reader->maps.subscriptions, &key, &info))
		return -errno;
	return info.removed ? 1 : 0;
}

/* Whether KEY's subscription is known to be removed: marked so, or its entry deleted. */
static bool subscription_gone(const struct model_reader *reader, __u64 key)
{
	int removed = subscription_removed(reader, key);

	return removed == 1 || removed == -ENOENT;
}

/* Whether GROUP is gone for good: checked again as it is retired (a pid may be reused). */
static bool group_gone(const struct model_reader *reader, __u64 group)
{
	if (options.grouping == HMMTRACE_BY_PROCESS)
		return reclaim_task_gone(group);
	return subscription_gone(reader, group);
}

/* The row's counters become what it held plus what the entry held, VALUES (per CPU). */
static int retire_row(struct model_reader *reader, struct row *row, const void *values,
		      bool found)
{
	const struct group_maps *maps = &reader->maps.groups;
	int cpus = maps->stats_per_cpu ? libbpf_num_possible_cpus() : 1;
	struct hmmtrace_stats held = {};
	__u64 *base, *total = (__u64 *)&row->total, *delta = (__u64 *)&row->delta;

	if (!row->base) {
		row->base = calloc(1, sizeof(*row->base));
		if (!row->base)
			return -ENOMEM;
	}
	if (found)
		per_cpu_sum((__u64 *)&held, values, sizeof(held), sizeof(held), cpus);
	base = (__u64 *)row->base;
	if (row->read_number != reader->read_number) {
		memset(&row->delta, 0, sizeof(row->delta));
		row->read_number = reader->read_number;
	}
	for (size_t index = 0; index < sizeof(held) / sizeof(__u64); index++) {
		base[index] += ((const __u64 *)&held)[index];
		delta[index] += base[index] - total[index];
		total[index] = base[index];
	}
	row->retired = reader->read_number;
	return 0;
}

/* The candidates, checked again: their entries out, into their rows. */
static int retire_candidates(struct model_reader *reader)
{
	struct reclaim_state *state = &reader->reclaim;
	const struct group_maps *maps = &reader->maps.groups;
	size_t value_size = maps->stats_per_cpu ?
			    libbpf_num_possible_cpus() * ((sizeof(struct hmmtrace_stats) + 7) & ~7UL) :
			    sizeof(struct hmmtrace_stats);
	void *values = malloc(value_size);
	int status = 0;

	if (!values)
		return -ENOMEM;
	for (size_t index = 0; index < state->candidate_count && !status; index++) {
		__u64 group = state->candidates[index];
		struct row *row = row_table_find(&reader->table, group);
		bool found;

		if (!row || row->retired == reader->read_number || hot_group(state, group) ||
		    !group_gone(reader, group))
			continue;
		found = !bpf_map_lookup_and_delete_elem(maps->stats, &group, values);
		if (!found && errno != ENOENT) {
			status = -errno;
			break;
		}
		status = retire_row(reader, row, values, found);
		if (!status)
			state->retired++;
	}
	free(values);
	state->candidate_count = 0;
	return status;
}

/* Groups this read found gone. */
static int choose_candidates(struct model_reader *reader)
{
	struct reclaim_state *state = &reader->reclaim;
	bool every_row = reader->read_number % FULL_CHECK_READS == 0;
	struct row_table *table = &reader->table;

	for (size_t index = 0; index < table->count; index++) {
		struct row *row = table->rows[index];
		bool seen = row->read_number == reader->read_number;
		bool gone;

		if (row->retired || hot_group(state, row->group))
			continue;
		if (options.grouping == HMMTRACE_BY_PROCESS)
			gone = (seen || every_row) && reclaim_task_gone(row->group);
		else
			gone = seen && row->delta.removes && subscription_gone(reader, row->group);
		if (gone && add_group(&state->candidates, &state->candidate_count,
				      &state->candidate_capacity, row->group))
			return -ENOMEM;
	}
	return 0;
}

/*
 * Rows retired by the last read go, unless a late event made their entry
 * again (then they are retired again). Their series go with them; export's
 * "other" keeps what a folded one had (export_forget_row()).
 */
static int free_retired_rows(struct model_reader *reader)
{
	struct reclaim_state *state = &reader->reclaim;
	struct row_table *table = &reader->table;
	size_t kept = 0;
	int status = 0;

	for (size_t index = 0; index < table->count; index++) {
		struct row *row = table->rows[index];

		if (!row->retired || row->retired >= reader->read_number) {
			table->rows[kept++] = row;
			continue;
		}
		if (!bpf_map_lookup_elem(reader->maps.groups.stats, &row->group,
					 state->scratch_stats)) {
			row->retired = 0;
			table->rows[kept++] = row;
			status = add_group(&state->candidates, &state->candidate_count,
					   &state->candidate_capacity, row->group);
			continue;
		}
		export_forget_row(reader, row);
		free(row->reported);
		free(row->base);
		free(row);
		state->freed++;
	}
	if (kept != table->count) {
		table->count = kept;
		status = status ? status : row_table_rehash(table);
	}
	return status;
}

static int read_hot_groups(struct model_reader *reader)
{
	struct reclaim_state *state = &reader->reclaim;

	for (__u32 slot = 0; slot < HMMTRACE_HOT_GROUPS; slot++)
		if (bpf_map_lookup_elem(reader->maps.groups.hot_group_keys, &slot,
					&state->hot_groups[slot]))
			return -errno;
	return 0;
}

int reclaim_groups_before_read(struct model_reader *reader)
{
	struct reclaim_state *state = &reader->reclaim;

	if (options.grouping == HMMTRACE_BY_DRIVER || !reader->session->skeleton ||
	    !reclaim_enabled())
		return 0;
	if (!state->scratch_stats) {
		size_t size = libbpf_num_possible_cpus() *
			      ((sizeof(struct hmmtrace_stats) + 7) & ~7UL);

		state->scratch_stats = malloc(size);
		if (!state->scratch_stats)
			return -ENOMEM;
	}
	return free_retired_rows(reader);
}

int reclaim_groups_after_read(struct model_reader *reader)
{
	int status;

	if (options.grouping == HMMTRACE_BY_DRIVER || !reader->session->skeleton ||
	    !reclaim_enabled())
		return 0;
	status = read_hot_groups(reader);
	if (!status)
		status = choose_candidates(reader);
	if (!status)
		status = retire_candidates(reader);
	return status;
}

/* The sweep's lists: keys to delete once the walk is over (deleting mid-walk restarts it). */
struct sweep_walk {
	struct model_reader *reader;
	__u64 now_ns;
	void *keys;
	size_t key_size;
	size_t count;
	size_t capacity;
};

static int sweep_keep(struct sweep_walk *walk, const void *key)
{
	if (grow(&walk->keys, &walk->capacity, walk->count + 1, walk->key_size))
		return -ENOMEM;
	memcpy((char *)walk->keys + walk->count++ * walk->key_size, key, walk->key_size);
	return 0;
}

static void sweep_delete(int map_fd, struct sweep_walk *walk)
{
	for (size_t index = 0; index < walk->count; index++)
		if (!bpf_map_delete_elem(map_fd, (char *)walk->keys + index * walk->key_size))
			walk->reader->reclaim.swept++;
	walk->count = 0;
}

static int removed_subscription(void *context, const void *key, const void *value)
{
	const struct hmmtrace_subscription *info = value;

	return info->removed ? sweep_keep(context, key) : 0;
}

static bool listed(const __u64 *keys, size_t count, __u64 key)
{
	for (size_t index = 0; index < count; index++)
		if (keys[index] == key)
			return true;
	return false;
}

/*
 * What is deleted only when two sweeps in a row found it: of the keys this
 * walk found, those in LAST (the previous sweep's) go to RIPE, which looks
 * each up again before it deletes it; the rest are LAST for the next sweep.
 */
static void sweep_found_twice(struct sweep_walk *walk, struct key_list *last, int status,
			      void (*ripe)(struct model_reader *reader, __u64 key))
{
	size_t found_once = 0;

	for (size_t index = 0; !status && index < walk->count; index++) {
		__u64 key = ((__u64 *)walk->keys)[index];

		if (listed(last->keys, last->count, key))
			ripe(walk->reader, key);
		else
			((__u64 *)walk->keys)[found_once++] = key;
	}
	free(last->keys);
	*last = (struct key_list){ .keys = walk->keys, .count = status ? 0 : found_once,
				   .capacity = walk->capacity };
}

/* One removed since might have been inserted again at its address. */
static void delete_removed_subscription(struct model_reader *reader, __u64 key)
{
	if (!subscription_gone(reader, key))
		return;
	if (!bpf_map_delete_elem(reader->maps.subscriptions, &key))
		reader->reclaim.swept++;
	bpf_map_delete_elem(reader->maps.invalidators, &key);
}

/*
 * Subscriptions removed at the last sweep too go now, with their
 * invalidator; the newly removed stay for the rows that name them.
 */
static int sweep_subscriptions(struct model_reader *reader)
{
	struct sweep_walk walk = { .reader = reader, .key_size = sizeof(__u64) };
	int status = map_for_each(reader->maps.subscriptions, false, removed_subscription, &walk);

	sweep_found_twice(&walk, &reader->reclaim.removed, status, delete_removed_subscription);
	return status;
}

/*
 * A fault goes when its subscription is marked removed, or when it has been
 * idle past IDLE_FAULT_SECONDS. A subscription with no entry is not taken
 * for removed: one inserted before hmmtrace started has none until its first
 * event, and a live fault must not lose its state (and its completion).
 */
static int stale_fault(void *context, const void *key, const void *value)
{
	struct sweep_walk *walk = context;
	const struct hmmtrace_fault_key *fault = key;
	const struct hmmtrace_fault_summary *summary = value;
	__u64 last = summary->last_retry_ns > summary->started_ns ? summary->last_retry_ns :
		     summary->started_ns;

	/*
	 * Signed: a fault that began after the walk read its clock is not
	 * idle. Unsigned, its age wrapped to centuries and the sweep deleted
	 * it live, losing its completion or the collision's withdrawal of it.
	 */
	if ((__s64)(walk->now_ns - last) > IDLE_FAULT_SECONDS * 1000000000LL ||
	    subscription_removed(walk->reader, fault->interval_sub) == 1)
		return sweep_keep(walk, key);
	return 0;
}

/* pending's key begins with the thread's id (bpf/attach_stock.bpf.c). */
static int gone_thread_call(void *context, const void *key, const void *value)
{
	(void)value;
	return reclaim_task_gone(*(const __u32 *)key) ? sweep_keep(context, key) : 0;
}

/* mm_owners' value is the owner's tgid (bpf/kernel_access.bpf.h). */
static int gone_owner(void *context, const void *key, const void *value)
{
	return reclaim_task_gone(*(const __u32 *)value) ? sweep_keep(context, key) : 0;
}

/* Its address may be a new mm's by then, whose owner learn_owner() wrote. */
static void delete_orphaned_owner(struct model_reader *reader, __u64 key)
{
	__u32 owner;

	if (!bpf_map_lookup_elem(reader->maps.mm_owners, &key, &owner) && reclaim_task_gone(owner) &&
	    !bpf_map_delete_elem(reader->maps.mm_owners, &key))
		reader->reclaim.swept++;
}

/*
 * An mm outlives its owner while another holds it (a driver's fault, a
 * kworker's mmget): its release events may still come, and name the owner
 * from here. So an entry goes when its owner was already gone at the
 * previous sweep. The map is an LRU, its bound: the sweep keeps it short
 * of that, where eviction would take live owners too.
 */
static int sweep_owners(struct model_reader *reader)
{
	struct sweep_walk walk = { .reader = reader, .key_size = sizeof(__u64) };
	int status = map_for_each(reader->maps.mm_owners, false, gone_owner, &walk);

	sweep_found_twice(&walk, &reader->reclaim.orphaned, status, delete_orphaned_owner);
	return status;
}

int reclaim_sweep(struct model_reader *reader)
{
	struct reclaim_state *state = &reader->reclaim;
	struct sweep_walk walk = { .reader = reader, .now_ns = monotonic_nanoseconds() };
	double now = monotonic_seconds();
	int status;

	if (!reader->session->skeleton || !reclaim_enabled())
		return 0;
	if (!state->last_sweep)
		state->last_sweep = now;
	if (now - state->last_sweep < reclaim_sweep_seconds())
		return 0;
	state->last_sweep = now;
	state->sweeps++;
	/* Faults first: their subscriptions' removed marks go with the entries. */
	walk.key_size = sizeof(struct hmmtrace_fault_key);
	status = map_for_each(reader->maps.faults, false, stale_fault, &walk);
	sweep_delete(reader->maps.faults, &walk);
	if (!status)
		status = sweep_subscriptions(reader);
	walk.key_size = 2 * sizeof(__u32);
	if (!status && reader->maps.pending >= 0)
		status = map_for_each(reader->maps.pending, false, gone_thread_call, &walk);
	sweep_delete(reader->maps.pending, &walk);
	free(walk.keys);
	if (!status && reader->maps.mm_owners >= 0)
		status = sweep_owners(reader);
	return status;
}

/* One line for -v: the tests' evidence that reclaim ran. */
void reclaim_summary(const struct reclaim_state *state, FILE *file)
{
	fprintf(file, "hmmtrace: reclaim: %lu sweeps, %lu entries swept, %lu groups retired, "
		"%lu rows freed\n", state->sweeps, state->swept, state->retired, state->freed);
}

void reclaim_free(struct reclaim_state *state)
{
	free(state->candidates);
	free(state->removed.keys);
	free(state->orphaned.keys);
	free(state->scratch_stats);
	*state = (struct reclaim_state){};
}
