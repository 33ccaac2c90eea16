/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Naming an invalidation's cause, for `causes`: the syscall it came from,
 * the kernel thread's class, and from its kernel stack the entry point and
 * what the mm was doing (the path). Stacks are lists of bare symbol names,
 * innermost first, as kallsyms_name() gives them.
 */
#ifndef HMMTRACE_CAUSE_NAMES_H
#define HMMTRACE_CAUSE_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* The x86-64 syscall NUMBER's name, or NULL. */
const char *syscall_name(int number);

/* A kernel thread's class from its comm: kswapd0 -> kswapd, kworker/u8:2 -> kworker. */
void kernel_thread_class(const char *comm, char *class_name, size_t size);

/* What the mm was doing: "zap", "unmap", "protection", ..., or "other" ("unknown" without a stack). */
const char *cause_path(const char *const *names, size_t depth);

/*
 * Where an invalidation outside any syscall entered the kernel: a kernel
 * thread's function (its work function, for a kworker), "task_numa_work",
 * "page_fault", or "kernel"; without a stack, the thread's class or "kernel".
 */
void cause_kernel_entry(const char *const *names, size_t depth, bool kernel_thread,
			const char *thread_class, char *entry, size_t size);

#endif /* HMMTRACE_CAUSE_NAMES_H */
