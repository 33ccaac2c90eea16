/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What hmmtrace needs of the user running it, checked before anything is
 * loaded, so that a missing privilege is one line and exit status 3, never
 * an empty table:
 *
 *   CAP_BPF and CAP_PERFMON	load and attach tracing programs, open the
 *				kprobe PMU (CAP_SYS_ADMIN stands for both)
 *   CAP_SYSLOG			only where /proc/kallsyms hides its addresses
 *				from this user (kernel.kptr_restrict=1, or 0
 *				with kernel.perf_event_paranoid above 1): they
 *				name the callbacks, resolve --driver and
 *				symbolize stacks
 *   CAP_SYS_ADMIN		fentry on a callback in a module: libbpf finds
 *				the module's BTF by id (BPF_BTF_GET_NEXT_ID),
 *				which the kernel allows only with it; and
 *				kprobes where perf_event_open(2) is closed to
 *				everyone else (Debian's kernels at their
 *				default kernel.perf_event_paranoid=3)
 *
 * RLIMIT_MEMLOCK does not matter: the kernels hmmtrace runs on (5.11 and
 * later) charge BPF memory to the memory cgroup instead.
 */
#ifndef HMMTRACE_PRIVILEGES_H
#define HMMTRACE_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>

/*
 * EXIT_OK, or EXIT_NOT_PERMITTED having said in one line on stderr exactly
 * which capabilities (or which sysctl) are missing.
 */
int privileges_check(void);

/* Whether libbpf can reach modules' BTF: fentry on module functions. */
bool privileges_module_btf_readable(void);

/*
 * Whether perf_event_open(2), which kprobes are opened with, is open to this
 * user; if not, WHY says what is missing.
 */
bool privileges_perf_events_open(char *why, size_t why_size);

#endif /* HMMTRACE_PRIVILEGES_H */
