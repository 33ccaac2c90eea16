// SPDX-License-Identifier: GPL-2.0-only
/*
 * The names of causes. A path is the first entry of the table below that
 * the stack holds, so the table's order decides: a THP split inside a
 * munmap() is a split, and reclaim's try_to_unmap() is reclaim, not an
 * unmap of a page.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cause_names.h"
#include "hmmtrace_syscalls.h"

#define ARRAY_SIZE(array) (sizeof(array) / sizeof((array)[0]))

const char *syscall_name(int number)
{
	if (number < 0 || (size_t)number >= ARRAY_SIZE(syscall_names))
		return NULL;
	return syscall_names[number];
}

void kernel_thread_class(const char *comm, char *class_name, size_t size)
{
	size_t length = strcspn(comm, "/");

	/* kswapd0, kcompactd1: one thread per node, one class. */
	while (length > 1 && isdigit((unsigned char)comm[length - 1]))
		length--;
	snprintf(class_name, size, "%.*s", (int)length, comm);
}

/* Function -> path, most specific first: the functions of mm/ (6.1 to 6.12) behind each kind. */
static const struct {
	const char *function;
	const char *path;
} paths[] = {
	{ "__split_huge_pmd", "thp_split" },
	{ "split_huge_pmd_address", "thp_split" },
	{ "__split_huge_pud", "thp_split" },
	{ "split_huge_page_to_list_to_order", "thp_split" },
	{ "split_huge_page_to_list", "thp_split" },
	{ "collapse_huge_page", "thp_collapse" },
	{ "collapse_pte_mapped_thp", "thp_collapse" },
	{ "shrink_folio_list", "reclaim" },
	{ "reclaim_folio_list", "reclaim" },
	{ "reclaim_pages", "reclaim" },
	{ "migrate_vma_setup", "device_migration" },
	{ "migrate_device_range", "device_migration" },
	{ "make_device_exclusive_range", "exclusive" },
	{ "migrate_pages_batch", "migration" },
	{ "migrate_pages", "migration" },
	{ "try_to_merge_one_page", "ksm" },
	{ "cmp_and_merge_page", "ksm" },
	{ "ksm_do_scan", "ksm" },
	{ "wp_page_copy", "cow" },
	{ "do_wp_page", "cow" },
	{ "copy_page_range", "fork" },
	{ "change_protection", "protection" },
	{ "change_prot_numa", "protection" },
	{ "move_page_tables", "move" },
	{ "madvise_free_single_vma", "zap" },
	{ "zap_page_range_single", "zap" },
	{ "zap_page_range", "zap" },
	{ "__oom_reap_task_mm", "oom_reap" },
	{ "__mmu_notifier_release", "release" },
	{ "unmap_vmas", "unmap" },
	{ "try_to_unmap_one", "unmap_page" },
	{ "try_to_migrate_one", "migration" },
};

/* Whether a stack's NAME is FUNCTION, or a copy the compiler made of it (.constprop.0, .isra.0). */
static bool same_function(const char *name, const char *function)
{
	size_t length = strlen(function);

	return name && !strncmp(name, function, length) &&
	       (name[length] == '\0' || name[length] == '.');
}

const char *cause_path(const char *const *names, size_t depth)
{
	if (!depth)
		return "unknown";
	for (size_t index = 0; index < ARRAY_SIZE(paths); index++)
		for (size_t frame = 0; frame < depth; frame++)
			if (same_function(names[frame], paths[index].function))
				return paths[index].path;
	return "other";
}

static bool stack_has(const char *const *names, size_t depth, const char *function, size_t *at)
{
	for (size_t frame = 0; frame < depth; frame++)
		if (same_function(names[frame], function)) {
			*at = frame;
			return true;
		}
	return false;
}

void cause_kernel_entry(const char *const *names, size_t depth, bool kernel_thread,
			const char *thread_class, char *entry, size_t size)
{
	const char *name = kernel_thread ? thread_class : "kernel";
	size_t frame;

	if (kernel_thread) {
		/* A kworker runs work items: the work function is the entry point. */
		if ((stack_has(names, depth, "process_one_work", &frame) ||
		     stack_has(names, depth, "process_scheduled_works", &frame)) && frame > 0)
			name = names[frame - 1];
		else if (stack_has(names, depth, "kthread", &frame) && frame > 0)
			name = names[frame - 1];
	} else if (stack_has(names, depth, "task_numa_work", &frame)) {
		name = "task_numa_work";
	} else if (stack_has(names, depth, "exc_page_fault", &frame) ||
		   stack_has(names, depth, "handle_mm_fault", &frame)) {
		name = "page_fault";
	}
	snprintf(entry, size, "%s", name ? name : "kernel");
}
