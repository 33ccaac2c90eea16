// SPDX-License-Identifier: GPL-2.0-only
/*
 * causes: the `causes` map into the model. Each BPF key (a driver, an
 * event, a context, a syscall and a stack) is named once, when first seen:
 * its stack says the entry point (unless a syscall does) and what the mm
 * was doing. The interval's rows merge the keys that name the same cause,
 * so kworkers make one row per work function and a process one row per
 * cause however many stacks it took. At the end, the totals go out as
 * folded stacks (--folded) and a flame graph (--html).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cause_names.h"
#include "flamegraph.h"
#include "grow.h"
#include "model_read.h"

/* A stack, symbolized once: bare names, innermost first, from the traced code down. */
struct stack_names {
	const char *names[HMMTRACE_STACK_DEPTH];
	size_t depth;
	const char *path;
};

/* One key of the causes map: its totals since attach, and its names. */
struct cause_entry {
	struct hmmtrace_cause_key key;
	struct hmmtrace_cause total;
	struct hmmtrace_cause delta;
	unsigned long read_number;
	struct cause_row names;		/* everything but the counts */
	const struct stack_names *stack;	/* NULL: none was taken */
	unsigned long gone;		/* the read that found its process gone (0: live) */
};

/*
 * The context of a retired entry: its process's comm, hashed, with a bit no
 * tgid has. The causes of exited processes merge into one entry per cause
 * and comm, which the BPF side never makes.
 */
#define RETIRED_CONTEXT (1U << 31)

/* The counters of struct hmmtrace_cause, before comm: summed and diffed as __u64s. */
#define CAUSE_COUNTERS_SIZE offsetof(struct hmmtrace_cause, comm)
#define CAUSE_COUNTERS (CAUSE_COUNTERS_SIZE / sizeof(__u64))

static __u64 key_hash(const struct hmmtrace_cause_key *key)
{
	const unsigned char *byte = (const unsigned char *)key;
	__u64 hash = 0xcbf29ce484222325ULL;

	for (size_t index = 0; index < sizeof(*key); index++)
		hash = (hash ^ byte[index]) * 0x100000001b3ULL;
	return hash;
}

static __u32 retired_context(const char *comm)
{
	__u32 hash = 2166136261U;

	for (size_t index = 0; index < 16 && comm[index]; index++)
		hash = (hash ^ (unsigned char)comm[index]) * 16777619U;
	return RETIRED_CONTEXT | (hash & ~RETIRED_CONTEXT);
}

/* Open addressing, kept at most half full, as the row table is. */
static struct cause_entry **bucket_of(struct causes_state *state,
				      const struct hmmtrace_cause_key *key)
{
	size_t mask = state->bucket_count - 1;

	for (size_t bucket = key_hash(key) & mask;; bucket = (bucket + 1) & mask) {
		struct cause_entry **slot = &state->buckets[bucket];

		if (!*slot || !memcmp(&(*slot)->key, key, sizeof(*key)))
			return slot;
	}
}

static int rehash(struct causes_state *state)
{
	size_t bucket_count = state->bucket_count ? 2 * state->bucket_count : 256;
	struct cause_entry **buckets = calloc(bucket_count, sizeof(*buckets));

	if (!buckets)
		return -ENOMEM;
	free(state->buckets);
	state->buckets = buckets;
	state->bucket_count = bucket_count;
	for (size_t index = 0; index < state->count; index++)
		*bucket_of(state, &state->entries[index]->key) = state->entries[index];
	return 0;
}

/* The buckets again after entries went or changed their key. */
static void rebuild_buckets(struct causes_state *state)
{
	memset(state->buckets, 0, state->bucket_count * sizeof(*state->buckets));
	for (size_t index = 0; index < state->count; index++)
		*bucket_of(state, &state->entries[index]->key) = state->entries[index];
}

static struct cause_entry *entry_of(struct causes_state *state,
				    const struct hmmtrace_cause_key *key)
{
	struct cause_entry **slot, *entry;

	if ((2 * (state->count + 1) > state->bucket_count && rehash(state)) ||
	    grow(&state->entries, &state->capacity, state->count + 1, sizeof(*state->entries)))
		return NULL;
	slot = bucket_of(state, key);
	if (*slot)
		return *slot;
	entry = calloc(1, sizeof(*entry));
	if (!entry)
		return NULL;
	entry->key = *key;
	state->entries[state->count++] = entry;
	*slot = entry;
	return entry;
}

/* The stack at STACK_ID, symbolized the first time it is asked for; NULL if unreadable. */
static const struct stack_names *stack_names_of(struct model_reader *reader, __s32 stack_id)
{
	struct causes_state *state = &reader->causes;
	const struct kallsyms *symbols = reader->session->symbols;
	__u64 addresses[HMMTRACE_STACK_DEPTH] = {};
	struct stack_names *stack;
	size_t first;

	if (stack_id < 0)
		return NULL;
	if ((size_t)stack_id < state->stack_name_count && state->stack_names[stack_id])
		return state->stack_names[stack_id];
	if (bpf_map_lookup_elem(reader->maps.stacks, &stack_id, addresses))
		return NULL;
	if ((size_t)stack_id >= state->stack_name_count) {
		size_t count = (size_t)stack_id + 1, capacity = state->stack_name_count;

		if (grow(&state->stack_names, &capacity, count, sizeof(*state->stack_names)))
			return NULL;
		memset(state->stack_names + state->stack_name_count, 0,
		       (capacity - state->stack_name_count) * sizeof(*state->stack_names));
		state->stack_name_count = capacity;
	}
	stack = calloc(1, sizeof(*stack));
	if (!stack)
		return NULL;
	first = kallsyms_first_traced_frame(symbols, addresses, HMMTRACE_STACK_DEPTH);
	for (size_t index = first; index < HMMTRACE_STACK_DEPTH && addresses[index]; index++) {
		const char *name = kallsyms_name(symbols, addresses[index]);

		stack->names[stack->depth++] = name ? name : "[unknown]";
	}
	stack->path = cause_path(stack->names, stack->depth);
	state->stack_names[stack_id] = stack;
	return stack;
}

/* An entry's names, from its key, its comm and its stack. */
static void name_entry(struct model_reader *reader, struct cause_entry *entry, const char *comm)
{
	const struct hmmtrace_cause_key *key = &entry->key;
	struct session *session = reader->session;
	struct cause_row *names = &entry->names;
	const char *syscall;

	kallsyms_driver(session->symbols, key->callback, names->driver, sizeof(names->driver),
			names->callback, sizeof(names->callback));
	names->event = session->range_event_names[key->event < HMMTRACE_RANGE_EVENTS ?
						  key->event : HMMTRACE_RANGE_EVENTS - 1];
	names->kernel_thread = key->kernel_thread;
	if (key->kernel_thread)
		kernel_thread_class(comm, names->context, sizeof(names->context));
	else
		snprintf(names->context, sizeof(names->context), "%.16s", comm);
	names->pid = key->kernel_thread ? 0 : key->context;
	entry->stack = stack_names_of(reader, key->stack_id);
	names->path = entry->stack ? entry->stack->path : cause_path(NULL, 0);
	names->entry_is_syscall = key->syscall >= 0;
	if (names->entry_is_syscall) {
		syscall = syscall_name(key->syscall);
		if (syscall)
			snprintf(names->entry, sizeof(names->entry), "%s", syscall);
		else
			snprintf(names->entry, sizeof(names->entry), "syscall_%d", key->syscall);
		return;
	}
	cause_kernel_entry(entry->stack ? entry->stack->names : NULL,
			   entry->stack ? entry->stack->depth : 0, key->kernel_thread,
			   names->context, names->entry, sizeof(names->entry));
}

struct causes_walk {
	struct model_reader *reader;
	int cpus;
	size_t value_size;
};

static int take_cause(void *context, const void *key, const void *value)
{
	struct causes_walk *walk = context;
	struct causes_state *state = &walk->reader->causes;
	struct cause_entry *entry = entry_of(state, key);
	struct hmmtrace_cause total = {};
	const char *comm = "";
	__u64 *now = (__u64 *)&total, *before, *delta;

	if (!entry)
		return -ENOMEM;
	per_cpu_sum(now, value, CAUSE_COUNTERS_SIZE, walk->value_size, walk->cpus);
	/* Each CPU's copy has the comm of the first invalidation it counted. */
	for (int cpu = 0; cpu < walk->cpus && !comm[0]; cpu++)
		comm = ((const struct hmmtrace_cause *)((const char *)value +
							cpu * walk->value_size))->comm;
	if (!entry->names.event)
		name_entry(walk->reader, entry, comm);
	before = (__u64 *)&entry->total;
	delta = (__u64 *)&entry->delta;
	for (size_t index = 0; index < CAUSE_COUNTERS; index++)
		delta[index] = now[index] - before[index];
	memcpy(before, now, CAUSE_COUNTERS_SIZE);
	entry->read_number = walk->reader->causes.read_number;
	return 0;
}

static bool same_cause(const struct cause_row *row, const struct cause_row *names,
		       bool cumulative)
{
	return row->event == names->event && (cumulative || row->pid == names->pid) &&
	       row->kernel_thread == names->kernel_thread && row->path == names->path &&
	       !strcmp(row->callback, names->callback) && !strcmp(row->context, names->context) &&
	       !strcmp(row->entry, names->entry);
}

static void add_counts(struct hmmtrace_cause *sum, const struct hmmtrace_cause *part)
{
	__u64 *to = (__u64 *)sum;
	const __u64 *from = (const __u64 *)part;

	for (size_t index = 0; index < CAUSE_COUNTERS; index++)
		to[index] += from[index];
}

static bool entry_active(const struct cause_entry *entry, unsigned long read_number)
{
	return entry->read_number == read_number &&
	       (entry->delta.invalidations || entry->delta.refaults ||
		entry->delta.refault_retries || entry->delta.refault_ebusy);
}

/* export: the causes past --max-series, summed into one row per driver. */
static void fold_into_other(struct cause_row *row)
{
	static const char other[] = "other";

	row->event = other;
	row->path = other;
	/* Only the labels tell rows apart: one "other" row per driver. */
	row->kernel_thread = false;
	row->entry_is_syscall = false;
	row->pid = 0;
	snprintf(row->context, sizeof(row->context), "%s", other);
	snprintf(row->entry, sizeof(row->entry), "%s", other);
}

static struct cause_row *row_of(struct causes_state *state, const struct cause_row *names,
				bool cumulative)
{
	for (size_t index = 0; index < state->row_count; index++)
		if (same_cause(&state->rows[index], names, cumulative))
			return &state->rows[index];
	return NULL;
}

/*
 * The interval's rows: active entries merged by the cause they name. For
 * export, every entry's totals (a series must not vanish), without pids
 * (a series per process is unbounded); the first --max-series causes in
 * the order first seen have rows of their own, and an entry of a cause
 * seen later goes to its driver's "other" row. Entries are only ever
 * appended, so every read makes the same rows: no series changes.
 */
static int merge_rows(struct causes_state *state, bool cumulative, double seconds)
{
	size_t own_rows = 0;

	state->row_count = 0;
	for (size_t index = 0; index < state->count; index++) {
		const struct cause_entry *entry = state->entries[index];
		struct cause_row names = entry->names, *row;
		bool folded = false;

		if (!cumulative && !entry_active(entry, state->read_number))
			continue;
		if (cumulative)
			names.pid = 0;
		row = row_of(state, &names, cumulative);
		if (!row && cumulative && own_rows >= options.max_series) {
			fold_into_other(&names);
			folded = true;
			row = row_of(state, &names, cumulative);
		}
		if (!row) {
			if (grow(&state->rows, &state->row_capacity, state->row_count + 1,
				 sizeof(*state->rows)))
				return -ENOMEM;
			row = &state->rows[state->row_count++];
			*row = names;
			memset(&row->counts, 0, sizeof(row->counts));
			own_rows += !folded;
		}
		add_counts(&row->counts, cumulative ? &entry->total : &entry->delta);
	}
	for (size_t index = 0; index < state->row_count; index++)
		state->rows[index].invalidations_per_second =
			seconds > 0 ? state->rows[index].counts.invalidations / seconds : 0;
	return 0;
}

static int by_invalidations(const void *left, const void *right)
{
	const struct cause_row *a = left, *b = right;
	int by_driver = strcmp(a->driver, b->driver);

	if (by_driver)
		return by_driver;
	if (a->counts.invalidations != b->counts.invalidations)
		return a->counts.invalidations < b->counts.invalidations ? 1 : -1;
	return strcmp(a->context, b->context);
}

static int stack_by_invalidations(const void *left, const void *right)
{
	const struct cause_stack *a = left, *b = right;
	int by_driver = strcmp(a->driver, b->driver);

	if (by_driver)
		return by_driver;
	if (a->invalidations != b->invalidations)
		return a->invalidations < b->invalidations ? 1 : -1;
	return a->frames < b->frames ? -1 : a->frames > b->frames;
}

/* --stacks N: the interval's stacks by driver, the N with most invalidations each. */
static int top_stacks(struct causes_state *state, size_t wanted)
{
	size_t kept = 0;

	state->stack_count = 0;
	for (size_t index = 0; index < state->count; index++) {
		const struct cause_entry *entry = state->entries[index];
		struct cause_stack *stack = NULL;

		if (!entry_active(entry, state->read_number) || !entry->stack ||
		    !entry->delta.invalidations)
			continue;
		for (size_t existing = 0; existing < state->stack_count && !stack; existing++)
			if (state->stacks[existing].frames == entry->stack->names &&
			    !strcmp(state->stacks[existing].driver, entry->names.driver))
				stack = &state->stacks[existing];
		if (!stack) {
			if (grow(&state->stacks, &state->stack_capacity, state->stack_count + 1,
				 sizeof(*state->stacks)))
				return -ENOMEM;
			stack = &state->stacks[state->stack_count++];
			*stack = (struct cause_stack){
				.driver = entry->names.driver, .frames = entry->stack->names,
				.depth = entry->stack->depth,
			};
		}
		stack->invalidations += entry->delta.invalidations;
		stack->callback_ns += entry->delta.callback_ns;
	}
	sort_items(state->stacks, state->stack_count, sizeof(*state->stacks),
		   stack_by_invalidations);
	for (size_t index = 0, in_driver = 0; index < state->stack_count; index++) {
		if (index && strcmp(state->stacks[index].driver, state->stacks[index - 1].driver))
			in_driver = 0;
		if (in_driver++ < wanted)
			state->stacks[kept++] = state->stacks[index];
	}
	state->stack_count = kept;
	return 0;
}

/*
 * The entries of processes gone (reaped, so past their exit): their BPF
 * entries out with lookup-and-delete, what came since the walk in this
 * interval. The next read merges them (merge_gone_entries()), so that an
 * exporter beside short-lived processes keeps room in the causes map and
 * memory for the newest.
 */
static int retire_gone_processes(struct model_reader *reader, const struct causes_walk *walk)
{
	struct causes_state *state = &reader->causes;
	bool every_entry = state->read_number % 10 == 0;
	char *values = malloc(walk->cpus * walk->value_size);

	if (!values)
		return -ENOMEM;
	for (size_t index = 0; index < state->count; index++) {
		struct cause_entry *entry = state->entries[index];
		bool visited = entry->read_number == state->read_number;
		struct hmmtrace_cause now = entry->total;
		__u64 *after = (__u64 *)&now, *before = (__u64 *)&entry->total;
		__u64 *delta = (__u64 *)&entry->delta;

		if (entry->key.kernel_thread || (entry->key.context & RETIRED_CONTEXT) ||
		    entry->gone || !(visited || every_entry) || !reclaim_task_gone(entry->key.context))
			continue;
		if (!bpf_map_lookup_and_delete_elem(reader->maps.causes, &entry->key, values))
			per_cpu_sum(after, values, CAUSE_COUNTERS_SIZE, walk->value_size, walk->cpus);
		if (!visited)
			memset(&entry->delta, 0, CAUSE_COUNTERS_SIZE);
		for (size_t counter = 0; counter < CAUSE_COUNTERS; counter++)
			delta[counter] += after[counter] - before[counter];
		memcpy(before, after, CAUSE_COUNTERS_SIZE);
		entry->read_number = state->read_number;
		entry->gone = state->read_number;
	}
	free(values);
	return 0;
}

/* Entries retired by an earlier read, into their (cause, comm)'s retired entry. */
static void merge_gone_entries(struct causes_state *state)
{
	size_t kept = 0;
	bool changed = false;

	for (size_t index = 0; index < state->count; index++) {
		struct cause_entry *entry = state->entries[index], *into = NULL;
		struct hmmtrace_cause_key key = entry->key;

		if (!entry->gone || entry->gone >= state->read_number) {
			state->entries[kept++] = entry;
			continue;
		}
		key.context = retired_context(entry->names.context);
		changed = true;
		for (size_t other = 0; other < kept && !into; other++)
			if ((state->entries[other]->key.context & RETIRED_CONTEXT) &&
			    !memcmp(&state->entries[other]->key, &key, sizeof(key)))
				into = state->entries[other];
		if (into) {
			add_counts(&into->total, &entry->total);
			free(entry);
			continue;
		}
		/* The first of its cause and comm: it becomes the retired entry, in its place. */
		entry->key = key;
		entry->names.pid = 0;
		entry->gone = 0;
		memset(&entry->delta, 0, CAUSE_COUNTERS_SIZE);
		state->entries[kept++] = entry;
	}
	state->count = kept;
	if (changed)
		rebuild_buckets(state);
}

int causes_read(struct model_reader *reader, double seconds, struct model *model)
{
	struct causes_state *state = &reader->causes;
	struct causes_walk walk = {
		.reader = reader, .cpus = libbpf_num_possible_cpus(),
		.value_size = (sizeof(struct hmmtrace_cause) + 7) & ~(size_t)7,
	};
	bool cumulative = model->subcommand == SUBCOMMAND_EXPORT;
	int status;

	/* The bench's readers have no causes map. */
	if (reader->maps.causes < 0) {
		model->causes = (struct causes_part){};
		return 0;
	}
	state->read_number++;
	if (reclaim_enabled())
		merge_gone_entries(state);
	status = map_for_each(reader->maps.causes, true, take_cause, &walk);
	if (!status && reclaim_enabled())
		status = retire_gone_processes(reader, &walk);
	if (!status)
		status = merge_rows(state, cumulative, seconds);
	if (!status && options.cause_stacks)
		status = top_stacks(state, options.cause_stacks);
	if (status)
		return status;
	/* Export keeps the order first seen: series come out in the same order every scrape. */
	if (!cumulative)
		sort_items(state->rows, state->row_count, sizeof(*state->rows), by_invalidations);
	model->causes = (struct causes_part){
		.rows = state->rows, .row_count = state->row_count,
		.stacks_taken = !cumulative && options.take_stacks,
		.stacks = state->stacks, .stack_count = options.cause_stacks ? state->stack_count : 0,
		.lost = model->lost[HMMTRACE_LOST_CAUSES],
		.stacks_lost = model->lost[HMMTRACE_LOST_STACKS],
	};
	return 0;
}

/* One folded line: "context;outermost;...;innermost;callback", and its weight. */
struct folded_line {
	char *text;
	__u64 value;
};

static int by_text(const void *left, const void *right)
{
	return strcmp(((const struct folded_line *)left)->text,
		      ((const struct folded_line *)right)->text);
}

/* Spaces end a folded line's stack and semicolons split it: neither may be in a frame. */
static void make_frame_safe(char *text)
{
	for (; *text; text++)
		if (*text == ' ' || *text == ';')
			*text = '_';
}

static char *fold(const struct cause_entry *entry, const char *callback)
{
	const struct stack_names *stack = entry->stack;
	size_t size = strlen(entry->names.context) + strlen(callback) + 2;
	char *text, *end;

	for (size_t index = 0; index < stack->depth; index++)
		size += strlen(stack->names[index]) + 1;
	text = malloc(size);
	if (!text)
		return NULL;
	end = text + sprintf(text, "%s", entry->names.context);
	make_frame_safe(text);
	for (size_t index = stack->depth; index-- > 0;)
		end += sprintf(end, ";%s", stack->names[index]);
	/* The callback itself: fexit and the tracepoint see the stack after it returned. */
	sprintf(end, ";%s", callback);
	return text;
}

/* Every stack since start, merged, heaviest weight last as flamegraph.pl sorts: by text. */
static int folded_lines(const struct model_reader *reader, struct folded_line **lines,
			size_t *count)
{
	const struct causes_state *state = &reader->causes;
	size_t capacity = 0, kept = 0;

	*lines = NULL;
	*count = 0;
	for (size_t index = 0; index < state->count; index++) {
		const struct cause_entry *entry = state->entries[index];
		__u64 value = options.weight_by_time ? entry->total.callback_ns :
			      entry->total.invalidations;
		const char *callback;

		if (!entry->stack || !value)
			continue;
		if (grow(lines, &capacity, *count + 1, sizeof(**lines)))
			return -ENOMEM;
		callback = kallsyms_name(reader->session->symbols, entry->key.callback);
		(*lines)[*count].text = fold(entry, callback ? callback : entry->names.callback);
		(*lines)[*count].value = value;
		if (!(*lines)[(*count)++].text)
			return -ENOMEM;
	}
	sort_items(*lines, *count, sizeof(**lines), by_text);
	for (size_t index = 0; index < *count; index++) {
		if (kept && !strcmp((*lines)[kept - 1].text, (*lines)[index].text)) {
			(*lines)[kept - 1].value += (*lines)[index].value;
			free((*lines)[index].text);
			continue;
		}
		(*lines)[kept++] = (*lines)[index];
	}
	*count = kept;
	return 0;
}

static int write_html(FILE *output, const struct folded_line *lines, size_t count)
{
	struct folded_stack *stacks = calloc(count ? count : 1, sizeof(*stacks));
	int status;

	if (!stacks)
		return -ENOMEM;
	for (size_t index = 0; index < count; index++)
		stacks[index] = (struct folded_stack){ lines[index].text, lines[index].value };
	status = flamegraph_write_html(output, "hmmtrace causes: invalidating kernel stacks",
				       options.weight_by_time ? "ns of callback time" :
				       "invalidations", stacks, count,
				       flamegraph_assets_directory());
	free(stacks);
	return status;
}

int causes_write_stacks(struct model_reader *reader, FILE *folded, FILE *html)
{
	struct folded_line *lines;
	size_t count;
	int status = folded_lines(reader, &lines, &count);

	for (size_t index = 0; !status && folded && index < count; index++)
		if (fprintf(folded, "%s %llu\n", lines[index].text,
			    (unsigned long long)lines[index].value) < 0)
			status = -EIO;
	if (!status && html)
		status = write_html(html, lines, count);
	for (size_t index = 0; index < count; index++)
		free(lines[index].text);
	free(lines);
	return status;
}

void causes_free(struct causes_state *state)
{
	for (size_t index = 0; index < state->count; index++)
		free(state->entries[index]);
	for (size_t index = 0; index < state->stack_name_count; index++)
		free(state->stack_names[index]);
	free(state->entries);
	free(state->buckets);
	free(state->stack_names);
	free(state->rows);
	free(state->stacks);
	memset(state, 0, sizeof(*state));
}
