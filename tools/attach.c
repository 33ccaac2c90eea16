// SPDX-License-Identifier: GPL-2.0-only
/*
 * Picking and attaching a mode: tp_btf, else raw_tp (our tracepoints), else
 * fentry/fexit, else kprobes (stock kernels). Each candidate is tried for
 * real, and when none works the one-line error says why each failed.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "session.h"
#include "hmmtrace.skel.h"

const char *const mode_names[HMMTRACE_MODE_COUNT] = { "tp_btf", "raw_tp", "fentry", "kprobe" };

/* Handler name prefixes of each mode, as in bpf/hmmtrace.bpf.c. */
static const char *const mode_prefixes[HMMTRACE_MODE_COUNT][2] = {
	{ "tp_", NULL }, { "raw_tp_", NULL }, { "fentry_", "fexit_" }, { "kprobe_", "kretprobe_" },
};

/* The stock modes' fixed targets, by handler name suffix. */
static const struct {
	const char *suffix;
	const char *function;
	bool required;
} stock_targets[] = {
	{ "insert", "mmu_interval_notifier_insert", true },
	{ "insert_locked", "mmu_interval_notifier_insert_locked", false },
	{ "remove", "mmu_interval_notifier_remove", true },
	{ "read_begin", "mmu_interval_read_begin", true },
	{ "range_start", "__mmu_notifier_invalidate_range_start", false },
	{ "range_end", "__mmu_notifier_invalidate_range_end", false },
	{ "range_fault", "hmm_range_fault", false },
};

#define CALLBACK_SLOTS 8

bool mode_observes_everything(enum hmmtrace_mode mode)
{
	return mode == HMMTRACE_MODE_TP_BTF || mode == HMMTRACE_MODE_RAW_TP;
}

const char *mode_inferred_json(enum hmmtrace_mode mode)
{
	if (mode_observes_everything(mode))
		return "\"inferred\": [], \"unavailable\": []";
	return "\"inferred\": [\"read_retries\", \"read_begin_waits\"], "
	       "\"unavailable\": [\"check_retries\", \"insert_deferred\", \"remove_wait\"]";
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

static bool has_prefix(const char *text, const char *prefix)
{
	return prefix && !strncmp(text, prefix, strlen(prefix));
}

/* The suffix after the mode's prefix, or NULL if the handler is not the mode's. */
static const char *handler_suffix(const char *name, enum hmmtrace_mode mode)
{
	for (int side = 0; side < 2; side++)
		if (has_prefix(name, mode_prefixes[mode][side]))
			return name + strlen(mode_prefixes[mode][side]);
	return NULL;
}

static bool kernel_has_function(const struct btf *btf, const struct kallsyms *symbols,
				enum hmmtrace_mode mode, const char *function)
{
	if (mode == HMMTRACE_MODE_FENTRY)
		return btf__find_by_name_kind(btf, function, BTF_KIND_FUNC) > 0;
	return kallsyms_has_symbol(symbols, function);
}

/* Why a mode cannot be tried at all, or NULL. */
static const char *mode_unavailable(enum hmmtrace_mode mode, const struct btf *btf,
				    const struct kallsyms *symbols)
{
	switch (mode) {
	case HMMTRACE_MODE_TP_BTF:
		if (btf__find_by_name_kind(btf, "btf_trace_mmu_interval_read_begin",
					   BTF_KIND_TYPEDEF) <= 0)
			return "no mmu_notifier tracepoints (they come with kernel/patches)";
		return NULL;
	case HMMTRACE_MODE_RAW_TP:
		if (!kallsyms_has_symbol(symbols, "__traceiter_mmu_interval_read_begin"))
			return "no mmu_interval_read_begin tracepoint";
		return NULL;
	case HMMTRACE_MODE_FENTRY:
		if (!kernel_has_function(btf, symbols, mode, "mmu_interval_read_begin"))
			return "no BTF for mmu_interval_read_begin (CONFIG_MMU_NOTIFIER off?)";
		return NULL;
	case HMMTRACE_MODE_KPROBE:
		if (access("/sys/bus/event_source/devices/kprobe", F_OK))
			return "kprobes are not built in (CONFIG_KPROBES)";
		if (!kallsyms_has_symbol(symbols, "mmu_interval_read_begin"))
			return "no mmu_interval_read_begin in /proc/kallsyms (CONFIG_MMU_NOTIFIER off?)";
		return NULL;
	default:
		return "unknown mode";
	}
}

/* Whether the running kernel's struct has the member (CONFIG_MEMCG's mm_struct.owner, say). */
static bool kernel_has_member(const struct btf *btf, const char *struct_name, const char *member)
{
	int type_id = btf__find_by_name_kind(btf, struct_name, BTF_KIND_STRUCT);
	const struct btf_type *type = type_id > 0 ? btf__type_by_id(btf, type_id) : NULL;

	for (int index = 0; type && index < btf_vlen(type); index++)
		if (!strcmp(btf__name_by_offset(btf, btf_members(type)[index].name_off), member))
			return true;
	return false;
}

static bool ranges_timed(void)
{
	return options.subcommand == SUBCOMMAND_LATENCY || options.subcommand == SUBCOMMAND_SNOOP;
}

/*
 * Range starts and ends cost every munmap() and madvise(), so they are
 * attached only for latency and snoop, and starts also where the kernel has
 * no mm->owner: there they teach kworkers' events their owner.
 */
static bool range_handler_wanted(const char *suffix, bool owners_from_mm)
{
	if (strstr(suffix, "range_end"))
		return ranges_timed();
	if (strstr(suffix, "range_start"))
		return ranges_timed() || !owners_from_mm;
	return true;
}

static void set_knobs(struct hmmtrace_bpf *skeleton, enum hmmtrace_mode mode)
{
	bool stock = !mode_observes_everything(mode);
	static const __u32 groups_by_grouping[] = {
		[HMMTRACE_BY_DRIVER] = 1024, [HMMTRACE_BY_PROCESS] = 16384,
		[HMMTRACE_BY_SUBSCRIPTION] = 262144,
	};

	skeleton->rodata->grouping = options.grouping;
	skeleton->rodata->target_tgid = options.pid;
	skeleton->rodata->infer_retries = stock;
	skeleton->rodata->inferred_retry_gap_ns = (__u64)(options.retry_gap_ms * 1e6);
	skeleton->rodata->report_streaks = options.subcommand == SUBCOMMAND_RETRIES;
	skeleton->rodata->capture_invalidators = options.subcommand == SUBCOMMAND_RETRIES;
	skeleton->rodata->livelock_ns = options.subcommand == SUBCOMMAND_RETRIES ?
					(__u64)(options.livelock_ms * 1e6) : 0;
	skeleton->rodata->snoop_events = options.subcommand == SUBCOMMAND_SNOOP ?
					 options.events_mask : 0;
	skeleton->rodata->time_ranges = ranges_timed();
	bpf_map__set_max_entries(skeleton->maps.stats, groups_by_grouping[options.grouping]);
	/* Maps a subcommand or mode does not use stay, nearly empty. */
	if (options.subcommand != SUBCOMMAND_RETRIES) {
		bpf_map__set_max_entries(skeleton->maps.invalidators, 1);
		bpf_map__set_max_entries(skeleton->maps.stacks, 1);
	}
	if (!ranges_timed())
		bpf_map__set_max_entries(skeleton->maps.range_starts, 1);
	if (!stock)
		bpf_map__set_max_entries(skeleton->maps.pending, 1);
	/* The event stream's buffer is only worth its memory when snooping. */
	bpf_map__set_max_entries(skeleton->maps.events,
				 options.subcommand == SUBCOMMAND_SNOOP ? 16 << 20 : 4096);
}

/* Aim the stock mode's handlers at what this kernel has; leave the rest unloaded. */
static int choose_programs(struct session *session, const struct btf *btf,
			   struct kallsyms_callback *callbacks, size_t callback_count)
{
	enum hmmtrace_mode mode = session->mode;
	bool owners_from_mm = kernel_has_member(btf, "mm_struct", "owner");
	struct bpf_program *program;
	size_t used = 0;

	bpf_object__for_each_program(program, session->skeleton->obj) {
		const char *suffix = handler_suffix(bpf_program__name(program), mode);
		bool load = suffix != NULL && range_handler_wanted(suffix, owners_from_mm);

		if (load && !mode_observes_everything(mode)) {
			if (!strncmp(suffix, "callback", 8)) {
				/* fentry_callback_N is slot N; kprobe_callback serves them all. */
				long slot = suffix[8] == '_' ? strtol(suffix + 9, NULL, 10) : 0;

				load = (size_t)slot < callback_count && slot < CALLBACK_SLOTS;
				if (load && mode == HMMTRACE_MODE_FENTRY &&
				    bpf_program__set_attach_target(program, 0, callbacks[slot].symbol))
					return -EINVAL;
				bpf_program__set_autoattach(program, false);
			} else {
				for (size_t index = 0; index < sizeof(stock_targets) /
						       sizeof(stock_targets[0]); index++) {
					if (strcmp(suffix, stock_targets[index].suffix))
						continue;
					load = kernel_has_function(btf, session->symbols, mode,
								   stock_targets[index].function);
					if (!load && stock_targets[index].required)
						return -ENOENT;
				}
			}
		}
		bpf_program__set_autoload(program, load);
		used += load;
	}
	return used ? 0 : -ENOENT;
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

/*
 * The callbacks are attached one by one: a callback the kernel will not let
 * us trace costs its own invalidations, not the whole mode.
 */
static int attach_callbacks(struct session *session, struct kallsyms_callback *callbacks,
			    size_t callback_count)
{
	struct hmmtrace_bpf *skeleton = session->skeleton;
	struct bpf_program *fentry_slots[CALLBACK_SLOTS][2] = {
		{ skeleton->progs.fentry_callback_0, skeleton->progs.fexit_callback_0 },
		{ skeleton->progs.fentry_callback_1, skeleton->progs.fexit_callback_1 },
		{ skeleton->progs.fentry_callback_2, skeleton->progs.fexit_callback_2 },
		{ skeleton->progs.fentry_callback_3, skeleton->progs.fexit_callback_3 },
		{ skeleton->progs.fentry_callback_4, skeleton->progs.fexit_callback_4 },
		{ skeleton->progs.fentry_callback_5, skeleton->progs.fexit_callback_5 },
		{ skeleton->progs.fentry_callback_6, skeleton->progs.fexit_callback_6 },
		{ skeleton->progs.fentry_callback_7, skeleton->progs.fexit_callback_7 },
	};
	char failed[256] = "";

	session->callbacks[0] = '\0';
	session->links = calloc(2 * callback_count, sizeof(*session->links));
	if (!session->links)
		return -ENOMEM;
	for (size_t index = 0; index < callback_count; index++) {
		struct bpf_link *pair[2] = {};
		int error = 0;

		for (int side = 0; side < 2 && !error; side++) {
			if (session->mode == HMMTRACE_MODE_KPROBE)
				pair[side] = bpf_program__attach_kprobe(side ? skeleton->progs.kretprobe_callback :
									       skeleton->progs.kprobe_callback,
									side, callbacks[index].symbol);
			else
				pair[side] = bpf_program__attach(fentry_slots[index][side]);
			if (!pair[side])
				error = errno;
		}
		if (error) {
			char note[64];

			bpf_link__destroy(pair[0]);
			snprintf(note, sizeof(note), " (%s)", strerror(error));
			append_callback(failed, sizeof(failed), &callbacks[index], note);
			continue;
		}
		session->links[session->link_count++] = pair[0];
		session->links[session->link_count++] = pair[1];
		append_callback(session->callbacks, sizeof(session->callbacks), &callbacks[index],
				NULL);
	}
	if (failed[0])
		fprintf(stderr, "hmmtrace: cannot attach to %s: their invalidations are not seen\n",
			failed);
	return 0;
}

static int try_mode(struct session *session, enum hmmtrace_mode mode, const struct btf *btf)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_options, .btf_custom_path = options.btf_path);
	struct kallsyms_callback callbacks[CALLBACK_SLOTS];
	size_t callback_count = 0;
	int status;

	session->mode = mode;
	if (!mode_observes_everything(mode))
		callback_count = kallsyms_known_callbacks(session->symbols, callbacks, CALLBACK_SLOTS);
	session->skeleton = hmmtrace_bpf__open_opts(&open_options);
	if (!session->skeleton)
		return -errno;
	set_knobs(session->skeleton, mode);
	status = choose_programs(session, btf, callbacks, callback_count);
	if (!status)
		status = hmmtrace_bpf__load(session->skeleton);
	if (!status)
		status = hmmtrace_bpf__attach(session->skeleton);
	if (!status && callback_count)
		status = attach_callbacks(session, callbacks, callback_count);
	if (status)
		session_close(session);
	return status;
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

int session_open(struct session *session)
{
	struct btf *btf = options.btf_path ? btf__parse(options.btf_path, NULL) :
					     btf__load_vmlinux_btf();
	char reasons[1024] = "";
	int first = options.mode >= 0 ? options.mode : 0;
	int last = options.mode >= 0 ? options.mode : HMMTRACE_MODE_COUNT - 1;
	bool forced_mode_failed;

	if (!btf) {
		if (options.btf_path)
			fprintf(stderr, "hmmtrace: cannot read BTF from %s: %s\n", options.btf_path,
				strerror(errno));
		else
			fprintf(stderr, "hmmtrace: this kernel has no BTF (/sys/kernel/btf/vmlinux, "
				"CONFIG_DEBUG_INFO_BTF); pass --btf PATH to use a BTF file for it\n");
		return EXIT_NO_BTF;
	}
	read_range_event_names(session, btf);
	session->symbols = kallsyms_load();
	for (int mode = first; mode <= last; mode++) {
		const char *why = mode_unavailable(mode, btf, session->symbols);
		size_t length = strlen(reasons);
		int status;

		if (!why) {
			status = try_mode(session, mode, btf);
			if (!status) {
				/* Again, now with our programs' and trampolines' [bpf] symbols. */
				kallsyms_free(session->symbols);
				session->symbols = kallsyms_load();
				btf__free(btf);
				return EXIT_OK;
			}
			why = status == -EPERM ? "the kernel refused to load it (EPERM)" :
						 strerror(-status);
		}
		snprintf(reasons + length, sizeof(reasons) - length, "%s%s: %s",
			 length ? "; " : "", mode_names[mode], why);
	}
	forced_mode_failed = options.mode >= 0 && !mode_unavailable(options.mode, btf,
								     session->symbols);
	btf__free(btf);
	if (forced_mode_failed) {
		fprintf(stderr, "hmmtrace: cannot load or attach the BPF programs in %s\n", reasons);
		return EXIT_BPF_FAILED;
	}
	fprintf(stderr, "hmmtrace: no attach point on this kernel: %s\n", reasons);
	return EXIT_NO_ATTACH_POINT;
}

void session_close(struct session *session)
{
	for (size_t index = 0; index < session->link_count; index++)
		bpf_link__destroy(session->links[index]);
	free(session->links);
	session->links = NULL;
	session->link_count = 0;
	hmmtrace_bpf__destroy(session->skeleton);
	session->skeleton = NULL;
}
