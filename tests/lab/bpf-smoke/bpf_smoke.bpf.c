// SPDX-License-Identifier: GPL-2.0-only
/*
 * The lab's BPF smoke test: count getppid() calls of one process twice, through
 * a classic tracepoint and through tp_btf (which needs the guest's vmlinux BTF).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define GETPPID_SYSCALL_NR 110	/* x86_64 */

struct pt_regs;

const volatile __u32 target_tgid;

__u64 tracepoint_count;
__u64 tp_btf_count;

static __always_inline int is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_getppid_tracepoint(void *context)
{
	if (is_target())
		__sync_fetch_and_add(&tracepoint_count, 1);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(count_getppid_tp_btf, struct pt_regs *regs, long syscall_nr)
{
	if (syscall_nr == GETPPID_SYSCALL_NR && is_target())
		__sync_fetch_and_add(&tp_btf_count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
