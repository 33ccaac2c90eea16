// SPDX-License-Identifier: GPL-2.0-only
/*
 * tools/cause_names.c against stacks of the kind the lab's kernels take
 * (innermost first, as kallsyms_name() gives them): each path and entry
 * point it must name, and the cases where a broader frame lies further out
 * (reclaim's try_to_unmap_one(), a split inside munmap()). Prints one
 * "PASS|FAIL<TAB>name<TAB>detail" line per case.
 */
#include <stdio.h>
#include <string.h>

#include "cause_names.h"

#define ARRAY_SIZE(array) (sizeof(array) / sizeof((array)[0]))

static int failures;

static void expect(const char *name, const char *have, const char *want)
{
	bool held = have && !strcmp(have, want);

	failures += !held;
	printf("%s\tcause-names.%s\t%s%s\n", held ? "PASS" : "FAIL", name, held ? "" : "named ",
	       held ? "" : have ? have : "(null)");
}

struct case_stack {
	const char *name;
	bool kernel_thread;
	const char *thread_class;
	const char *frames[16];
	const char *path;
	const char *entry;
};

static const struct case_stack cases[] = {
	{ "madvise-dontneed", false, NULL,
	  { "mn_itree_invalidate", "__mmu_notifier_invalidate_range_start",
	    "zap_page_range_single", "madvise_vma_behavior", "do_madvise", "__x64_sys_madvise",
	    "do_syscall_64", "entry_SYSCALL_64_after_hwframe" }, "zap", "kernel" },
	{ "pageout-is-reclaim", false, NULL,
	  { "mn_itree_invalidate", "__mmu_notifier_invalidate_range_start", "try_to_unmap_one",
	    "rmap_walk_anon", "try_to_unmap", "shrink_folio_list", "reclaim_folio_list",
	    "reclaim_pages", "madvise_cold_or_pageout_pte_range", "do_madvise" },
	  "reclaim", "kernel" },
	{ "split-inside-munmap", false, NULL,
	  { "mn_itree_invalidate", "__mmu_notifier_invalidate_range_start", "__split_huge_pmd",
	    "unmap_page_range", "unmap_vmas", "vms_clear_ptes", "do_vmi_munmap",
	    "__x64_sys_munmap" }, "thp_split", "kernel" },
	{ "exit-release", false, NULL,
	  { "mn_itree_invalidate", "__mmu_notifier_release", "exit_mmap", "__mmput", "do_exit" },
	  "release", "kernel" },
	{ "numa-scan", false, NULL,
	  { "mn_itree_invalidate", "__mmu_notifier_invalidate_range_start", "change_protection",
	    "change_prot_numa", "task_numa_work", "task_work_run", "irqentry_exit_to_user_mode" },
	  "protection", "task_numa_work" },
	{ "cow-fault", false, NULL,
	  { "mn_itree_invalidate", "__mmu_notifier_invalidate_range_start", "wp_page_copy",
	    "do_wp_page", "__handle_mm_fault", "handle_mm_fault", "do_user_addr_fault",
	    "exc_page_fault", "asm_exc_page_fault" }, "cow", "page_fault" },
	{ "khugepaged", true, "khugepaged",
	  { "mn_itree_invalidate", "__mmu_notifier_invalidate_range_start", "collapse_huge_page",
	    "hpage_collapse_scan_pmd", "khugepaged_scan_mm_slot", "khugepaged", "kthread",
	    "ret_from_fork" }, "thp_collapse", "khugepaged" },
	{ "ksmd", true, "ksmd",
	  { "mn_itree_invalidate", "__mmu_notifier_invalidate_range_start",
	    "try_to_merge_one_page", "cmp_and_merge_page", "ksm_do_scan", "ksm_scan_thread",
	    "kthread" }, "ksm", "ksm_scan_thread" },
	{ "kworker-work-function", true, "kworker",
	  { "mn_itree_invalidate", "__mmu_notifier_invalidate_range_start", "try_to_migrate_one",
	    "rmap_walk_anon", "migrate_pages_batch", "migrate_pages", "fault_batch_work",
	    "process_one_work", "worker_thread", "kthread" }, "migration", "fault_batch_work" },
	{ "compiler-copy", false, NULL,
	  { "mn_itree_invalidate", "__mmu_notifier_invalidate_range_start",
	    "change_protection.isra.0", "mprotect_fixup", "do_mprotect_pkey.constprop.0" },
	  "protection", "kernel" },
	{ "prefix-is-not-the-function", false, NULL,
	  { "mn_itree_invalidate", "unmap_vmas_extra" }, "other", "kernel" },
	{ "kworker-inlined-process-one-work", true, "kworker",
	  { "mn_itree_invalidate", "__mmu_notifier_invalidate_range_start", "migrate_pages",
	    "migrate_misplaced_folio", "do_numa_page", "handle_mm_fault", "hmm_vma_fault",
	    "hmm_range_fault", "fault_batch_work", "process_scheduled_works", "worker_thread",
	    "kthread" }, "migration", "fault_batch_work" },
	{ "madvise-dontneed-6.1", false, NULL,
	  { "mn_itree_invalidate", "__mmu_notifier_invalidate_range_start", "zap_page_range",
	    "madvise_vma_behavior", "do_madvise" }, "zap", "kernel" },
	{ "unknown-path", false, NULL,
	  { "mn_itree_invalidate", "some_driver_function" }, "other", "kernel" },
	{ "no-stack", true, "kswapd", {}, "unknown", "kswapd" },
};

static void classify(const struct case_stack *test)
{
	char name[96], entry[64];
	size_t depth = 0;

	while (depth < ARRAY_SIZE(test->frames) && test->frames[depth])
		depth++;
	snprintf(name, sizeof(name), "%s.path", test->name);
	expect(name, cause_path(test->frames, depth), test->path);
	cause_kernel_entry(test->frames, depth, test->kernel_thread, test->thread_class, entry,
			   sizeof(entry));
	snprintf(name, sizeof(name), "%s.entry", test->name);
	expect(name, entry, test->entry);
}

static void thread_class(const char *comm, const char *want)
{
	char class_name[24], name[64];

	kernel_thread_class(comm, class_name, sizeof(class_name));
	snprintf(name, sizeof(name), "thread-class.%s", comm);
	expect(name, class_name, want);
}

int main(void)
{
	for (size_t index = 0; index < ARRAY_SIZE(cases); index++)
		classify(&cases[index]);
	thread_class("kswapd0", "kswapd");
	thread_class("kcompactd1", "kcompactd");
	thread_class("kworker/u8:2", "kworker");
	thread_class("khugepaged", "khugepaged");
	thread_class("oom_reaper", "oom_reaper");
	expect("syscall.28", syscall_name(28), "madvise");
	expect("syscall.11", syscall_name(11), "munmap");
	expect("syscall.279", syscall_name(279), "move_pages");
	expect("syscall.negative-is-none", syscall_name(-1) ? "named" : "none", "none");
	expect("syscall.beyond-table-is-none", syscall_name(100000) ? "named" : "none", "none");
	return failures ? 1 : 0;
}
