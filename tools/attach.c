// SPDX-License-Identifier: GPL-2.0-only
/*
 * Picking and attaching a mode: tp_btf, else raw_tp (our tracepoints), else
 * fentry/fexit, else kprobes (stock kernels). Each candidate is tried for
 * real, and when none works the one-line error says why each failed. Which
 * programs a mode has is the handler table of bpf/handlers.h. fentry needs
 * BTF for its target, so in fentry mode a callback whose module has none
 * (built against headers without vmlinux, as DKMS modules often are) takes
 * kprobe mode's callback handlers: each hook gets the best mechanism it
 * allows, and the session records which (session->hooks).
 *
 * The session owns what it opened: session_open() leaves nothing behind
 * when it fails, and session_destroy() releases the rest.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "handlers.h"
#include "privileges.h"
#include "session.h"
#include "hmmtrace.skel.h"

#define ARRAY_SIZE(array) (sizeof(array) / sizeof((array)[0]))

#define CAUSE_STACKS 16384

const char *const mode_names[HMMTRACE_MODE_COUNT] = { "tp_btf", "raw_tp", "fentry", "kprobe" };
const char *const fault_store_names[FAULT_STORE_COUNT] = { "task", "hash" };
const char *const attach_phase_names[PHASE_COUNT] = {
	"btf", "kallsyms", "probe", "open", "load", "attach",
};

/* Time since STARTED, added to PHASE; returns now, the next phase's start. */
static double phase_done(struct session *session, enum attach_phase phase, double started)
{
	double now = monotonic_seconds();

	session->phase_seconds[phase] += now - started;
	return now;
}

/*
 * Whether libbpf finds the running kernel's own BTF, which tp_btf and fentry
 * programs are verified against; --btf only stands in for it in hmmtrace's
 * lookups and libbpf's CO-RE relocations (raw_tp, kprobe).
 */
static bool kernel_btf_found = true;

/* A program's kernel target: fixed by the table, or a callback found at run time. */
enum handler_target {
	TARGET_FIXED,		/* the tracepoint or function named in the table */
	TARGET_CALLBACK_SLOT,	/* fentry mode: aimed at one callback before load */
	TARGET_EVERY_CALLBACK,	/* kprobes attached to each callback that takes them */
};

struct handler {
	const char *program;
	enum hmmtrace_mode mode;
	const char *target;		/* the event or function, for TARGET_FIXED */
	bool required;
	enum hmmtrace_handler_use use;
	enum handler_target kind;
	int slot;			/* TARGET_CALLBACK_SLOT */
	bool on_return;			/* fexit, kretprobe */
};

#define HANDLER_REQUIRED true
#define HANDLER_OPTIONAL false

#define TRACEPOINT_ROW(prefix, event, row_mode, when)					\
	{ .program = prefix #event, .mode = row_mode, .target = #event, .required = true,	\
	  .use = HMMTRACE_USE_##when },
#define TRACEPOINT_ROWS(event, when)							\
	TRACEPOINT_ROW("tp_", event, HMMTRACE_MODE_TP_BTF, when)				\
	TRACEPOINT_ROW("raw_tp_", event, HMMTRACE_MODE_RAW_TP, when)

#define STOCK_ROW(prefix, name, row_mode, function, need, when, returns)			\
	{ .program = prefix #name, .mode = row_mode, .target = #function,		\
	  .required = HANDLER_##need, .use = HMMTRACE_USE_##when, .on_return = returns },
#define STOCK_ROWS_ENTRY(name, function, need, when)					\
	STOCK_ROW("fentry_", name, HMMTRACE_MODE_FENTRY, function, need, when, false)	\
	STOCK_ROW("kprobe_", name, HMMTRACE_MODE_KPROBE, function, need, when, false)
#define STOCK_ROWS_ENTRY_RETURN(name, function, need, when)				\
	STOCK_ROWS_ENTRY(name, function, need, when)					\
	STOCK_ROW("fexit_", name, HMMTRACE_MODE_FENTRY, function, need, when, true)	\
	STOCK_ROW("kretprobe_", name, HMMTRACE_MODE_KPROBE, function, need, when, true)
#define STOCK_ROWS(name, function, sides, need, when) STOCK_ROWS_##sides(name, function, need, when)

#define CALLBACK_SLOT_ROW(prefix, index, returns)						\
	{ .program = prefix #index, .mode = HMMTRACE_MODE_FENTRY,				\
	  .kind = TARGET_CALLBACK_SLOT, .slot = index, .on_return = returns },
#define CALLBACK_SLOT_ROWS(index)							\
	CALLBACK_SLOT_ROW("fentry_callback_", index, false)				\
	CALLBACK_SLOT_ROW("fexit_callback_", index, true)

static const struct handler handlers[] = {
	HMMTRACE_TRACEPOINT_HANDLERS(TRACEPOINT_ROWS)
	HMMTRACE_STOCK_HANDLERS(STOCK_ROWS)
	HMMTRACE_CALLBACK_SLOTS(CALLBACK_SLOT_ROWS)
	{ .program = "kprobe_callback", .mode = HMMTRACE_MODE_KPROBE,
	  .kind = TARGET_EVERY_CALLBACK },
	{ .program = "kretprobe_callback", .mode = HMMTRACE_MODE_KPROBE,
	  .kind = TARGET_EVERY_CALLBACK, .on_return = true },
};

bool mode_observes_everything(enum hmmtrace_mode mode)
{
	return mode == HMMTRACE_MODE_TP_BTF || mode == HMMTRACE_MODE_RAW_TP;
}

const char *mode_limits_text(enum hmmtrace_mode mode)
{
	if (mode_observes_everything(mode))
		return NULL;
	return "stock kernel: read_retry and check_retry are inlined, so read_retry collisions are "
	       "inferred: a task's read_begin whose seq moved, with no -EBUSY between and within "
	       "--retry-gap-ms of its last hmm_range_fault() (between the true count and that plus the "
	       "range's invalidations); read_begin waits are predicted from the seqs at entry; "
	       "check_retry, deferred inserts and remove waits are not seen; invalidations are "
	       "seen only for the callbacks attached";
}

/*
 * The session's symbol table, read when first needed: tp_btf needs none to
 * attach, and reads it after libbpf's load has freed its copy of the BTF,
 * which keeps the peak of memory lower. NULL when out of memory, and then
 * for good (session->symbols_lost): no mode may take that for "no such
 * symbol", and session_open() says it.
 */
static struct kallsyms *session_symbols(struct session *session)
{
	double started = monotonic_seconds();

	if (!session->symbols && !session->symbols_lost) {
		session->symbols = kallsyms_load();
		session->symbols_lost = !session->symbols;
		phase_done(session, PHASE_KALLSYMS, started);
	}
	return session->symbols;
}

static bool kernel_has_function(const struct btf *btf, struct session *session,
				enum hmmtrace_mode mode, const char *function)
{
	if (mode == HMMTRACE_MODE_FENTRY)
		return btf__find_by_name_kind(btf, function, BTF_KIND_FUNC) > 0;
	return kallsyms_has_symbol(session_symbols(session), function);
}

/* Why a mode cannot be tried at all, or NULL. */
static const char *mode_unavailable(enum hmmtrace_mode mode, const struct btf *btf,
				    struct session *session)
{
	if (!kernel_btf_found && (mode == HMMTRACE_MODE_TP_BTF || mode == HMMTRACE_MODE_FENTRY))
		return "the kernel has no BTF of its own (--btf serves raw_tp and kprobe)";
	switch (mode) {
	case HMMTRACE_MODE_TP_BTF:
		if (btf__find_by_name_kind(btf, "btf_trace_mmu_interval_read_begin",
					   BTF_KIND_TYPEDEF) <= 0)
			return "no mmu_notifier tracepoints (they come with kernel/patches)";
		return NULL;
	case HMMTRACE_MODE_RAW_TP:
		if (!kallsyms_has_symbol(session_symbols(session),
					 "__traceiter_mmu_interval_read_begin"))
			return "no mmu_interval_read_begin tracepoint";
		return NULL;
	case HMMTRACE_MODE_FENTRY:
		if (!kernel_has_function(btf, session, mode, "mmu_interval_read_begin"))
			return "no BTF for mmu_interval_read_begin (CONFIG_MMU_NOTIFIER off?)";
		return NULL;
	case HMMTRACE_MODE_KPROBE:
		if (access("/sys/bus/event_source/devices/kprobe", F_OK))
			return "kprobes are not built in (CONFIG_KPROBES)";
		if (!kallsyms_has_symbol(session_symbols(session), "mmu_interval_read_begin"))
			return "no mmu_interval_read_begin in /proc/kallsyms (CONFIG_MMU_NOTIFIER off?)";
		return NULL;
	default:
		return "unknown mode";
	}
}

/*
 * Whether a struct or union has the member, also inside its anonymous structs
 * and unions, where CO-RE finds it too: mm_struct keeps every field in one
 * (for layout randomization), so its owner is never a direct member.
 */
static bool type_has_member(const struct btf *btf, const struct btf_type *type, const char *member)
{
	const struct btf_member *members = btf_members(type);

	for (int index = 0; index < btf_vlen(type); index++) {
		const char *name = btf__name_by_offset(btf, members[index].name_off);
		const struct btf_type *nested;

		if (name && name[0]) {
			if (!strcmp(name, member))
				return true;
			continue;
		}
		nested = btf__type_by_id(btf, members[index].type);
		if (nested && btf_is_composite(nested) && type_has_member(btf, nested, member))
			return true;
	}
	return false;
}

/* Whether the running kernel's struct has the member (CONFIG_MEMCG's mm_struct.owner, say). */
static bool kernel_has_member(const struct btf *btf, const char *struct_name, const char *member)
{
	int type_id = btf__find_by_name_kind(btf, struct_name, BTF_KIND_STRUCT);

	return type_id > 0 && type_has_member(btf, btf__type_by_id(btf, type_id), member);
}

static bool ranges_timed(void)
{
	return options.subcommand == SUBCOMMAND_LATENCY || options.subcommand == SUBCOMMAND_SNOOP ||
	       options.subcommand == SUBCOMMAND_EXPORT;
}

/* See enum hmmtrace_handler_use. */
static bool handler_wanted(const struct handler *handler, bool owners_from_mm)
{
	switch (handler->use) {
	case HMMTRACE_USE_RANGE_END:
		return ranges_timed();
	case HMMTRACE_USE_RANGE_START:
		return ranges_timed() || !owners_from_mm;
	default:
		return true;
	}
}

/* What --driver resolved to, and the stock modes' callbacks to attach. */
struct callbacks {
	struct kallsyms_callback driver[HMMTRACE_DRIVER_CALLBACKS];
	size_t driver_count;		/* 0: no --driver */
	struct kallsyms_callback attached[HMMTRACE_CALLBACK_SLOT_COUNT];
	/* The mode's mechanism, or kprobe for a callback without BTF in fentry mode. */
	enum hmmtrace_mode mechanism[HMMTRACE_CALLBACK_SLOT_COUNT];
	size_t attached_count;
};

static bool callbacks_use(const struct callbacks *callbacks, enum hmmtrace_mode mechanism)
{
	for (size_t index = 0; index < callbacks->attached_count; index++)
		if (callbacks->mechanism[index] == mechanism)
			return true;
	return false;
}

/* Whether a handler serves the mode: its own, or fentry mode's kprobes for callbacks without BTF. */
static bool handler_in_mode(const struct handler *handler, enum hmmtrace_mode mode)
{
	return handler->mode == mode ||
	       (handler->kind == TARGET_EVERY_CALLBACK && mode == HMMTRACE_MODE_FENTRY);
}

/* The map names --map-entries takes (tools/session.h), as the skeleton has them. */
const char *const resizable_map_names[RESIZABLE_MAP_COUNT] = {
	"stats", "subscriptions", "faults", "pending", "range_starts", "invalidators", "causes",
	"stacks",
};

/* --map-entries, over every size chosen above. */
static void size_given_maps(struct hmmtrace_bpf *skeleton)
{
	for (int map = 0; map < RESIZABLE_MAP_COUNT; map++) {
		struct bpf_map *found;

		if (!options.map_entries[map])
			continue;
		found = bpf_object__find_map_by_name(skeleton->obj, resizable_map_names[map]);
		if (found)
			bpf_map__set_max_entries(found, options.map_entries[map]);
	}
}

/*
 * Whether the mode's fault programs can keep their state in task local
 * storage: the map type, and its helper in their program type. Tracing
 * programs (tp_btf, fentry/fexit) have both since 5.11; raw_tp and kprobe
 * programs may lack the helper, so it is asked of the kernel, not of its
 * version.
 */
static bool task_storage_usable(enum hmmtrace_mode mode)
{
	static const enum bpf_prog_type fault_program_types[HMMTRACE_MODE_COUNT] = {
		[HMMTRACE_MODE_TP_BTF] = BPF_PROG_TYPE_TRACING,
		[HMMTRACE_MODE_RAW_TP] = BPF_PROG_TYPE_RAW_TRACEPOINT,
		[HMMTRACE_MODE_FENTRY] = BPF_PROG_TYPE_TRACING,
		[HMMTRACE_MODE_KPROBE] = BPF_PROG_TYPE_KPROBE,
	};
	enum bpf_prog_type type = fault_program_types[mode];

	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) <= 0)
		return false;
	return type == BPF_PROG_TYPE_TRACING ||
	       libbpf_probe_bpf_helper(type, BPF_FUNC_task_storage_get, NULL) > 0;
}

/* Where fault state goes: and what the maps of the other place need. */
static void set_fault_store(struct hmmtrace_bpf *skeleton, enum fault_store store)
{
	skeleton->rodata->faults_in_task_storage = store == FAULT_STORE_TASK;
	/* retries and export read retried faults: with task storage, those alone are in `faults`. */
	skeleton->rodata->publish_retried_faults = options.subcommand == SUBCOMMAND_RETRIES ||
						   options.subcommand == SUBCOMMAND_EXPORT;
	if (store == FAULT_STORE_TASK && !skeleton->rodata->publish_retried_faults)
		bpf_map__set_max_entries(skeleton->maps.faults, 1);
	/* A kernel without the map type: an unused stand-in, so that the object loads. */
	if (store == FAULT_STORE_HASH &&
	    libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) <= 0) {
		bpf_map__set_type(skeleton->maps.task_faults, BPF_MAP_TYPE_HASH);
		bpf_map__set_max_entries(skeleton->maps.task_faults, 1);
	}
}

static void set_knobs(struct hmmtrace_bpf *skeleton, enum hmmtrace_mode mode,
		      const struct callbacks *callbacks, enum fault_store store)
{
	bool stock = !mode_observes_everything(mode);
	/* export counts causes too, without stacks: they cost a stack walk per invalidation. */
	bool causes = options.subcommand == SUBCOMMAND_CAUSES ||
		      options.subcommand == SUBCOMMAND_EXPORT;
	static const __u32 groups_by_grouping[] = {
		[HMMTRACE_BY_DRIVER] = 1024, [HMMTRACE_BY_PROCESS] = 16384,
		[HMMTRACE_BY_SUBSCRIPTION] = 262144,
	};

	skeleton->rodata->grouping = options.grouping;
	skeleton->rodata->target_tgid = options.pid;
	skeleton->rodata->driver_callback_count = callbacks->driver_count;
	for (size_t index = 0; index < callbacks->driver_count; index++)
		skeleton->rodata->driver_callbacks[index] = callbacks->driver[index].address;
	skeleton->rodata->infer_retries = stock;
	skeleton->rodata->inferred_retry_gap_ns = (__u64)(options.retry_gap_ms * 1e6);
	skeleton->rodata->report_streaks = options.subcommand == SUBCOMMAND_RETRIES;
	skeleton->rodata->capture_invalidators = options.subcommand == SUBCOMMAND_RETRIES;
	skeleton->rodata->livelock_ns = options.subcommand == SUBCOMMAND_RETRIES ||
					options.subcommand == SUBCOMMAND_EXPORT ?
					(__u64)(options.livelock_ms * 1e6) : 0;
	skeleton->rodata->snoop_events = options.subcommand == SUBCOMMAND_SNOOP ?
					 options.events_mask : 0;
	skeleton->rodata->time_ranges = ranges_timed();
	skeleton->rodata->attribute_causes = causes;
	skeleton->rodata->cause_stacks = options.subcommand == SUBCOMMAND_CAUSES &&
					 options.take_stacks;
	skeleton->rodata->refault_ns = (__u64)(options.refault_ms * 1e6);
	skeleton->rodata->size_histograms = options.subcommand == SUBCOMMAND_LATENCY ||
					    options.subcommand == SUBCOMMAND_EXPORT;
	skeleton->rodata->time_fault_sizes = options.subcommand == SUBCOMMAND_LATENCY;
	/* Top and snoop show no fault times; stock kernels' inference and `faults`' reclaim need them. */
	skeleton->rodata->time_faults = stock || store == FAULT_STORE_HASH ||
					(options.subcommand != SUBCOMMAND_TOP &&
					 options.subcommand != SUBCOMMAND_SNOOP);
	bpf_map__set_max_entries(skeleton->maps.stats, groups_by_grouping[options.grouping]);
	/* By subscription, one value for all CPUs (see stats_add() in bpf/histograms.bpf.h). */
	if (options.grouping == HMMTRACE_BY_SUBSCRIPTION) {
		skeleton->rodata->shared_stats = true;
		bpf_map__set_type(skeleton->maps.stats, BPF_MAP_TYPE_HASH);
	}
	/* Maps a subcommand or mode does not use stay, nearly empty. */
	if (options.subcommand != SUBCOMMAND_RETRIES)
		bpf_map__set_max_entries(skeleton->maps.invalidators, 1);
	/* causes: a stack per distinct invalidating path; a host has a few hundred. */
	if (skeleton->rodata->cause_stacks)
		bpf_map__set_max_entries(skeleton->maps.stacks, CAUSE_STACKS);
	else if (options.subcommand != SUBCOMMAND_RETRIES)
		bpf_map__set_max_entries(skeleton->maps.stacks, 1);
	if (!causes) {
		bpf_map__set_max_entries(skeleton->maps.causes, 1);
		bpf_map__set_max_entries(skeleton->maps.last_invalidations, 1);
	}
	if (options.subcommand != SUBCOMMAND_LATENCY)
		bpf_map__set_max_entries(skeleton->maps.fault_sizes, 1);
	if (!ranges_timed())
		bpf_map__set_max_entries(skeleton->maps.range_starts, 1);
	if (!stock)
		bpf_map__set_max_entries(skeleton->maps.pending, 1);
	/* The event stream's buffer is only worth its memory when snooping. */
	bpf_map__set_max_entries(skeleton->maps.events,
				 options.subcommand == SUBCOMMAND_SNOOP ? 16 << 20 : 4096);
	set_fault_store(skeleton, store);
	size_given_maps(skeleton);
}

/* Whether to load a handler of the mode, aimed where this kernel has its target. */
static int choose_program(struct bpf_program *program, const struct handler *handler,
			  const struct btf *btf, struct session *session,
			  const struct callbacks *callbacks, const char **missing)
{
	bool load;

	switch (handler->kind) {
	case TARGET_CALLBACK_SLOT:
		load = (size_t)handler->slot < callbacks->attached_count &&
		       callbacks->mechanism[handler->slot] == HMMTRACE_MODE_FENTRY;
		bpf_program__set_autoattach(program, false);
		if (load && bpf_program__set_attach_target(program, 0,
							   callbacks->attached[handler->slot].symbol))
			return -EINVAL;
		break;
	case TARGET_EVERY_CALLBACK:
		load = callbacks_use(callbacks, HMMTRACE_MODE_KPROBE);
		bpf_program__set_autoattach(program, false);
		break;
	default:
		load = mode_observes_everything(handler->mode) ||
		       kernel_has_function(btf, session, handler->mode, handler->target);
		if (!load && handler->required) {
			*missing = handler->target;
			return -ENOENT;
		}
	}
	return bpf_program__set_autoload(program, load);
}

/* Load the mode's handlers that this kernel can take, and nothing else. */
static int choose_programs(struct session *session, const struct btf *btf,
			   const struct callbacks *callbacks, const char **missing)
{
	bool owners_from_mm = kernel_has_member(btf, "mm_struct", "owner");
	struct bpf_object *object = session->skeleton->obj;
	struct bpf_program *program;
	int status;

	bpf_object__for_each_program(program, object)
		bpf_program__set_autoload(program, false);
	for (size_t index = 0; index < ARRAY_SIZE(handlers); index++) {
		const struct handler *handler = &handlers[index];

		if (!handler_in_mode(handler, session->mode) ||
		    !handler_wanted(handler, owners_from_mm))
			continue;
		program = bpf_object__find_program_by_name(object, handler->program);
		if (!program)
			return -ENOENT;
		status = choose_program(program, handler, btf, session, callbacks, missing);
		if (status)
			return status;
	}
	return 0;
}

/* The callback handler of MECHANISM for SLOT (or all slots), entry or return side. */
static struct bpf_program *callback_program(struct session *session, enum hmmtrace_mode mechanism,
					    size_t slot, bool on_return)
{
	for (size_t index = 0; index < ARRAY_SIZE(handlers); index++) {
		const struct handler *handler = &handlers[index];

		if (handler->mode == mechanism && handler->on_return == on_return &&
		    (handler->kind == TARGET_EVERY_CALLBACK ||
		     (handler->kind == TARGET_CALLBACK_SLOT && (size_t)handler->slot == slot)))
			return bpf_object__find_program_by_name(session->skeleton->obj,
								 handler->program);
	}
	return NULL;
}

/* "symbol [module]" appended to a comma-separated list. */
static void append_callback(char *list, size_t size, const struct kallsyms_callback *callback,
			    const char *note)
{
	size_t length = strlen(list);

	snprintf(list + length, size - length, "%s%s%s%s%s%s", length ? ", " : "",
		 callback->symbol, callback->module ? " [" : "",
		 callback->module ? callback->module : "", callback->module ? "]" : "",
		 note ? note : "");
}

/* The hook, for the model's envelope; the table has room for every mode's. */
static void record_hook(struct session *session, const char *name, enum hmmtrace_mode mechanism)
{
	struct hook *hook;

	for (size_t index = 0; index < session->hook_count; index++)
		if (!strcmp(session->hooks[index].name, name))
			return;	/* the return side of a function already recorded */
	if (session->hook_count == ARRAY_SIZE(session->hooks))
		return;
	hook = &session->hooks[session->hook_count++];
	snprintf(hook->name, sizeof(hook->name), "%s", name);
	hook->mechanism = mechanism;
}

/* The table's hooks that were loaded, and so attached with the skeleton. */
static void record_fixed_hooks(struct session *session)
{
	for (size_t index = 0; index < ARRAY_SIZE(handlers); index++) {
		const struct handler *handler = &handlers[index];
		struct bpf_program *program;

		if (handler->mode != session->mode || handler->kind != TARGET_FIXED)
			continue;
		program = bpf_object__find_program_by_name(session->skeleton->obj,
							   handler->program);
		if (program && bpf_program__autoload(program))
			record_hook(session, handler->target, session->mode);
	}
}

static struct bpf_link *attach_callback(struct session *session, enum hmmtrace_mode mechanism,
					size_t slot, bool on_return, const char *symbol)
{
	struct bpf_program *program = callback_program(session, mechanism, slot, on_return);

	if (!program) {
		errno = ENOENT;
		return NULL;
	}
	if (mechanism == HMMTRACE_MODE_KPROBE)
		return bpf_program__attach_kprobe(program, on_return, symbol);
	return bpf_program__attach(program);
}

/*
 * The callbacks are attached one by one: a callback the kernel will not let
 * us trace costs its own invalidations, not the whole mode.
 */
static int attach_callbacks(struct session *session, const struct callbacks *callbacks)
{
	char failed[256] = "";

	session->links = calloc(2 * callbacks->attached_count, sizeof(*session->links));
	if (!session->links)
		return -ENOMEM;
	for (size_t index = 0; index < callbacks->attached_count; index++) {
		const struct kallsyms_callback *callback = &callbacks->attached[index];
		enum hmmtrace_mode mechanism = callbacks->mechanism[index];
		struct bpf_link *entry, *exit_side = NULL;
		char note[64], name[sizeof(session->hooks[0].name)] = "";

		entry = attach_callback(session, mechanism, index, false, callback->symbol);
		if (entry)
			exit_side = attach_callback(session, mechanism, index, true, callback->symbol);
		if (!exit_side) {
			snprintf(note, sizeof(note), " (%s)", strerror(errno));
			bpf_link__destroy(entry);
			append_callback(failed, sizeof(failed), callback, note);
			continue;
		}
		session->links[session->link_count++] = entry;
		session->links[session->link_count++] = exit_side;
		append_callback(session->callbacks, sizeof(session->callbacks), callback, NULL);
		append_callback(name, sizeof(name), callback, NULL);
		record_hook(session, name, mechanism);
	}
	if (failed[0])
		fprintf(stderr, "hmmtrace: cannot attach to %s: their invalidations are not seen\n",
			failed);
	return 0;
}

/* The links and the skeleton, so that another mode can be tried; the symbols stay. */
static void session_detach(struct session *session)
{
	for (size_t index = 0; index < session->link_count; index++)
		bpf_link__destroy(session->links[index]);
	free(session->links);
	session->links = NULL;
	session->link_count = 0;
	session->callbacks[0] = '\0';
	session->hook_count = 0;
	hmmtrace_bpf__destroy(session->skeleton);
	session->skeleton = NULL;
}

/* The BTF of the module last asked about: a driver's callbacks are neighbours by address. */
struct module_btf {
	const char *module;
	struct btf *btf;
};

/*
 * Whether fentry can aim at the callback: whether its function is in the
 * BTF of vmlinux or of its module (/sys/kernel/btf/<module>), which is
 * where libbpf looks for a target when it loads.
 */
static bool callback_has_btf(const struct btf *vmlinux_btf, struct module_btf *last,
			     const struct kallsyms_callback *callback)
{
	const struct btf *btf = vmlinux_btf;

	if (callback->module) {
		if (!last->module || strcmp(last->module, callback->module)) {
			btf__free(last->btf);
			last->module = callback->module;
			/* A split BTF only reads its base. */
			last->btf = btf__load_module_btf(callback->module, (struct btf *)vmlinux_btf);
		}
		btf = last->btf;
	}
	return btf && btf__find_by_name_kind(btf, callback->symbol, BTF_KIND_FUNC) > 0;
}

/*
 * Each callback's mechanism: the mode's, but a kprobe where fentry has no
 * BTF to aim with, or may not read it: libbpf finds a module's BTF by id,
 * which the kernel hands out only with CAP_SYS_ADMIN.
 */
static void choose_mechanisms(const struct btf *btf, struct callbacks *callbacks,
			      enum hmmtrace_mode mode)
{
	bool module_btf_readable = privileges_module_btf_readable();
	struct module_btf last = { NULL, NULL };

	for (size_t index = 0; index < callbacks->attached_count; index++) {
		const struct kallsyms_callback *callback = &callbacks->attached[index];
		bool without_btf = mode == HMMTRACE_MODE_FENTRY &&
				   ((callback->module && !module_btf_readable) ||
				    !callback_has_btf(btf, &last, callback));

		callbacks->mechanism[index] = without_btf ? HMMTRACE_MODE_KPROBE : mode;
	}
	btf__free(last.btf);
}

/*
 * Stock modes: the driver table's callbacks this kernel has, or with
 * --driver exactly the driver's (an unknown callback named by its symbol
 * included, which the table would not offer); as many as there are slots.
 */
static void choose_callbacks(struct session *session, const struct btf *btf,
			     struct callbacks *callbacks)
{
	struct kallsyms_callback known[4 * HMMTRACE_CALLBACK_SLOT_COUNT];
	size_t count = kallsyms_known_callbacks(session_symbols(session), known,
						ARRAY_SIZE(known));

	callbacks->attached_count = 0;
	if (callbacks->driver_count) {
		for (size_t index = 0; index < callbacks->driver_count &&
		     index < ARRAY_SIZE(callbacks->attached); index++)
			callbacks->attached[callbacks->attached_count++] = callbacks->driver[index];
	} else {
		for (size_t index = 0; index < count &&
		     callbacks->attached_count < ARRAY_SIZE(callbacks->attached); index++)
			callbacks->attached[callbacks->attached_count++] = known[index];
	}
	choose_mechanisms(btf, callbacks, session->mode);
}

enum mode_outcome { MODE_ATTACHED, MODE_NO_ATTACH_POINT, MODE_BPF_FAILED, MODE_NOT_PERMITTED };

/* Whether the mode opens kprobes: all of kprobe mode's, or fentry's callbacks without BTF. */
static bool kprobes_needed(enum hmmtrace_mode mode, const struct callbacks *callbacks)
{
	return mode == HMMTRACE_MODE_KPROBE ||
	       (mode == HMMTRACE_MODE_FENTRY && callbacks_use(callbacks, HMMTRACE_MODE_KPROBE));
}

static struct btf *load_btf(void)
{
	/* Asked quietly: hmmtrace says itself, in one line, what is missing. */
	libbpf_print_fn_t print = libbpf_set_print(NULL);
	struct btf *btf = btf__load_vmlinux_btf();

	libbpf_set_print(print);
	kernel_btf_found = btf != NULL;
	if (options.btf_path) {
		btf__free(btf);
		btf = btf__parse(options.btf_path, NULL);
	}
	if (btf)
		return btf;
	if (options.btf_path)
		fprintf(stderr, "hmmtrace: cannot read BTF from %s: %s\n", options.btf_path,
			strerror(errno));
	else
		fprintf(stderr, "hmmtrace: this kernel has no BTF (/sys/kernel/btf/vmlinux, "
			"CONFIG_DEBUG_INFO_BTF); pass --btf PATH to use a BTF file for it\n");
	return NULL;
}

/* The session's vmlinux BTF, read again if a load released it; NULL if it cannot be read. */
static const struct btf *session_btf(struct session *session)
{
	if (!session->btf)
		session->btf = load_btf();
	return session->btf;
}

static void release_btf(struct session *session)
{
	btf__free(session->btf);
	session->btf = NULL;
}

/*
 * Try one mode for real, with fault state in STORE; WHY says what stopped
 * it, and LOAD_REFUSED whether that was the kernel refusing the programs.
 */
static enum mode_outcome try_mode_with(struct session *session, enum hmmtrace_mode mode,
				       struct callbacks *callbacks, enum fault_store store,
				       char *why, size_t why_size, bool *load_refused)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_options, .btf_custom_path = options.btf_path);
	const struct btf *btf = session_btf(session);
	const char *unavailable = btf ? mode_unavailable(mode, btf, session) :
				  "cannot read the kernel's BTF again";
	const char *missing = NULL;
	double started;
	int status;

	if (unavailable) {
		snprintf(why, why_size, "%s", unavailable);
		return MODE_NO_ATTACH_POINT;
	}
	session->mode = mode;
	callbacks->attached_count = 0;
	if (!mode_observes_everything(mode))
		choose_callbacks(session, btf, callbacks);
	if (kprobes_needed(mode, callbacks) && !privileges_perf_events_open(why, why_size))
		return MODE_NOT_PERMITTED;
	*load_refused = false;
	session->fault_store = store;
	session->loads++;
	started = monotonic_seconds();
	session->skeleton = hmmtrace_bpf__open_opts(&open_options);
	if (!session->skeleton) {
		snprintf(why, why_size, "cannot open the BPF object: %s", strerror(errno));
		return MODE_BPF_FAILED;
	}
	set_knobs(session->skeleton, mode, callbacks, session->fault_store);
	status = choose_programs(session, btf, callbacks, &missing);
	started = phase_done(session, PHASE_OPEN, started);
	if (status == -ENOENT && missing) {
		snprintf(why, why_size, "no %s in this kernel", missing);
		session_detach(session);
		return MODE_NO_ATTACH_POINT;
	}
	if (!status) {
		release_btf(session);
		status = hmmtrace_bpf__load(session->skeleton);
		*load_refused = status != 0;
	}
	started = phase_done(session, PHASE_LOAD, started);
	if (!status)
		status = hmmtrace_bpf__attach(session->skeleton);
	if (!status)
		record_fixed_hooks(session);
	if (!status && callbacks->attached_count)
		status = attach_callbacks(session, callbacks);
	phase_done(session, PHASE_ATTACH, started);
	if (!status)
		return MODE_ATTACHED;
	snprintf(why, why_size, "%s", status == -EPERM ? "the kernel refused to load it (EPERM)" :
				      strerror(-status));
	session_detach(session);
	return MODE_BPF_FAILED;
}

/*
 * Try one mode for real; WHY says what stopped it. Fault state goes in task
 * storage where the kernel says the mode's programs may have it. Older
 * libbpf probes read a newer kernel's refusal as support, so a load refused
 * with task storage is tried once more with the hash (not one that failed
 * to attach), unless --fault-state task asked for it.
 */
static enum mode_outcome try_mode(struct session *session, enum hmmtrace_mode mode,
				  struct callbacks *callbacks, char *why, size_t why_size)
{
	double started = monotonic_seconds();
	bool usable = task_storage_usable(mode), load_refused;
	enum mode_outcome outcome;

	phase_done(session, PHASE_PROBE, started);
	if (options.fault_store == FAULT_STORE_TASK && !usable) {
		snprintf(why, why_size, "no task local storage for %s programs in this kernel",
			 mode_names[mode]);
		return MODE_NO_ATTACH_POINT;
	}
	if (options.fault_store == FAULT_STORE_HASH || !usable)
		return try_mode_with(session, mode, callbacks, FAULT_STORE_HASH, why, why_size,
				     &load_refused);
	outcome = try_mode_with(session, mode, callbacks, FAULT_STORE_TASK, why, why_size,
				&load_refused);
	if (outcome == MODE_BPF_FAILED && load_refused && options.fault_store != FAULT_STORE_TASK)
		outcome = try_mode_with(session, mode, callbacks, FAULT_STORE_HASH, why,
					why_size, &load_refused);
	return outcome;
}

static void read_range_event_names(struct session *session, const struct btf *btf)
{
	int type_id = btf__find_by_name_kind(btf, "mmu_notifier_event", BTF_KIND_ENUM);
	const struct btf_type *type = type_id > 0 ? btf__type_by_id(btf, type_id) : NULL;

	for (int index = 0; index < HMMTRACE_RANGE_EVENTS; index++)
		snprintf(session->range_event_names[index], sizeof(session->range_event_names[0]),
			 index == HMMTRACE_RANGE_EVENTS - 1 ? "other" : "event %d", index);
	for (int index = 0; type && index < btf_vlen(type); index++) {
		const struct btf_enum *value = btf_enum(type) + index;
		const char *name = btf__name_by_offset(btf, value->name_off);

		if (value->val < 0 || value->val >= HMMTRACE_RANGE_EVENTS - 1)
			continue;
		char *lowered = session->range_event_names[value->val];

		if (!strncmp(name, "MMU_NOTIFY_", 11))
			name += 11;
		snprintf(lowered, sizeof(session->range_event_names[0]), "%s", name);
		for (; *lowered; lowered++)
			*lowered = tolower((unsigned char)*lowered);
	}
}

/* The first mode that attaches, or the exit status with each mode's reason in one line. */
static int attach_first_mode(struct session *session, struct callbacks *callbacks)
{
	int first = options.mode >= 0 ? options.mode : 0;
	int last = options.mode >= 0 ? options.mode : HMMTRACE_MODE_COUNT - 1;
	bool bpf_failed = false, not_permitted = false;
	char reasons[1024] = "";

	for (int mode = first; mode <= last; mode++) {
		size_t length = strlen(reasons);
		enum mode_outcome outcome;
		char why[256];

		outcome = try_mode(session, mode, callbacks, why, sizeof(why));
		if (session->symbols_lost) {
			session_detach(session);
			return -ENOMEM;
		}
		if (outcome == MODE_ATTACHED)
			return EXIT_OK;
		bpf_failed |= outcome == MODE_BPF_FAILED;
		not_permitted |= outcome == MODE_NOT_PERMITTED;
		snprintf(reasons + length, sizeof(reasons) - length, "%s%s: %s",
			 length ? "; " : "", mode_names[mode], why);
	}
	if (bpf_failed) {
		fprintf(stderr, "hmmtrace: cannot load or attach the BPF programs: %s\n", reasons);
		return EXIT_BPF_FAILED;
	}
	if (not_permitted) {
		fprintf(stderr, "hmmtrace: not permitted: %s\n", reasons);
		return EXIT_NOT_PERMITTED;
	}
	fprintf(stderr, "hmmtrace: no attach point on this kernel: %s\n", reasons);
	return EXIT_NO_ATTACH_POINT;
}

/* --driver, resolved before anything is loaded: the knob's callbacks, or why there are none. */
static int resolve_driver(struct session *session, struct callbacks *callbacks)
{
	char error[256];

	callbacks->driver_count = 0;
	if (!options.driver)
		return EXIT_OK;
	callbacks->driver_count = kallsyms_driver_callbacks(session_symbols(session), options.driver,
							    callbacks->driver,
							    ARRAY_SIZE(callbacks->driver),
							    error, sizeof(error));
	if (session->symbols_lost)
		return -ENOMEM;
	if (callbacks->driver_count)
		return EXIT_OK;
	fprintf(stderr, "hmmtrace: %s\n", error);
	return EXIT_NO_SUCH_DRIVER;
}

int session_open(struct session *session)
{
	double started = monotonic_seconds();
	struct callbacks callbacks;
	int status;

	if (!session_btf(session))
		return EXIT_NO_BTF;
	read_range_event_names(session, session->btf);
	phase_done(session, PHASE_BTF, started);
	status = resolve_driver(session, &callbacks);
	if (!status)
		status = attach_first_mode(session, &callbacks);
	/*
	 * Stacks begin in our programs and trampolines, whose [bpf] symbols
	 * came with the attach: read again for the subcommands that show
	 * stacks, and read for the first time if no mode needed them.
	 */
	if (!status && (options.subcommand == SUBCOMMAND_RETRIES ||
			options.subcommand == SUBCOMMAND_CAUSES)) {
		kallsyms_free(session->symbols);
		session->symbols = NULL;
	}
	if (!status && !session_symbols(session))
		status = -ENOMEM;
	release_btf(session);
	if (status == -ENOMEM) {
		fprintf(stderr, "hmmtrace: out of memory reading /proc/kallsyms\n");
		status = EXIT_FAILURE_AT_RUN;
	}
	if (status)
		session_destroy(session);
	return status;
}

void session_destroy(struct session *session)
{
	session_detach(session);
	kallsyms_free(session->symbols);
	session->symbols = NULL;
}
