#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The guest is what the lab promises: our kernel, two CPUs, root, the
# repository as the working directory, the trace filesystems mounted, and the
# host's perf, bpftool, bpftrace and python3 working against this kernel.

. tests/lib.sh

check lab.kernel-variant test "$(uname -r)" = "$(cat "$LAB_KERNEL_DIR/kernel.release")"
check lab.two-cpus test "$(getconf _NPROCESSORS_ONLN)" -ge 2
check lab.root test "$(id -u)" -eq 0
check lab.repository-cwd test -f tests/lab/run-lab.sh -a -w build
for mount_type in tracefs debugfs bpf; do
	check "lab.mounted.$mount_type" grep -q " $mount_type " /proc/mounts
done
check lab.modules-match-kernel modinfo -F vermagic test_hmm

getppid_loop=$(mktemp --suffix=.py)
printf 'import os\nfor _ in range(1000):\n    os.getppid()\n' >"$getppid_loop"

check lab.python3 test "$(python3 -c 'import os; print(os.uname().release)')" = "$(uname -r)"
check lab.bpftool.vmlinux-btf \
	sh -c "bpftool btf dump file /sys/kernel/btf/vmlinux format raw | grep -q \"STRUCT 'mmu_interval_notifier'\""

perf_count=$(perf stat -x, -e syscalls:sys_enter_getppid python3 "$getppid_loop" 2>&1 |
	awk -F, '/sys_enter_getppid/ { print $1 }')
check lab.perf.counts-getppid test "${perf_count:-none}" = 1000

bpftrace_count=$(bpftrace -q -e 'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @calls = count(); }' \
	-c "$(command -v python3) $getppid_loop" 2>&1 | awk '/@calls/ { print $2 }')
check lab.bpftrace.counts-getppid test "${bpftrace_count:-none}" = 1000
rm -f "$getppid_loop"
