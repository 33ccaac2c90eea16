#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Run one shell command inside the lab guest and hand back its stdout, stderr
# and exit status, as if it had run here.
#
#   tests/lab/run-lab.sh 'uname -r; nproc'
#
# The guest boots the kernel from kernel/build-kernel.sh with a busybox
# initramfs, chroots into this machine's root filesystem (shared read-only over
# 9p, writable through a tmpfs overlay) and runs the command as root from the
# repository root, with tracefs, debugfs and bpffs mounted.
#
# Environment:
#   KERNEL_VARIANT    patched (default), stock, debian or debian-6.1 (Debian's
#                     own 6.12 and 6.1, prepared by kernel/debian-kernel.sh)
#   LAB_KERNEL_DIR    a directory with bzImage and modules/ (default: the cache)
#   LAB_TIMEOUT       seconds before a guest is killed (default 600)
#   LAB_ACCEL         tcg (default), tcg-icount (the guest's clock counts its
#                     instructions: what make bench times the series with) or
#                     kvm; kvm falls back to tcg if the guest makes no progress
#                     within LAB_KVM_BOOT_SECONDS (default 60)
#   LAB_MEMORY        guest memory (default 2G; 2G or more also reserves the
#                     device-coherent window below)
#   LAB_CPUS          guest CPUs (default 2); an even number gives the guest
#                     two NUMA nodes, each its own socket
#   LAB_APPEND        extra kernel command line
#   LAB_ENV           names of host variables to pass into the guest
#
# Device-coherent memory: test_hmm's coherent devices need two 256 MiB ranges
# of CPU-addressable memory that the kernel does not own (spm_addr_dev0/1). The
# guest reserves [1 GiB, 1.5 GiB) with memmap= and exports their start
# addresses as LAB_COHERENT_MEMORY.
#
# Exit status: the command's own, or 124 when the guest was killed for running
# too long, 125 when the lab itself failed (no kernel, no QEMU, guest crashed).

set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
lab_dir=$repo_root/build/lab
timeout_seconds=${LAB_TIMEOUT:-600}
accel=${LAB_ACCEL:-tcg}
kvm_boot_seconds=${LAB_KVM_BOOT_SECONDS:-60}
variant=${KERNEL_VARIANT:-patched}

lab_error() {
	echo "lab: $*" >&2
	exit 125
}

[ $# -eq 1 ] && [ -n "$1" ] || {
	echo "usage: $0 'shell command'" >&2
	exit 2
}
command_text=$1

[[ $timeout_seconds =~ ^[1-9][0-9]*$ ]] || lab_error "LAB_TIMEOUT must be a positive number of seconds"
command -v qemu-system-x86_64 >/dev/null || lab_error "qemu-system-x86_64 is missing: run 'make deps'"
[ -x /bin/busybox ] || lab_error "/bin/busybox is missing: run 'make deps' (busybox-static)"

kernel_directory() {
	local version
	if [ -n "${LAB_KERNEL_DIR:-}" ]; then
		echo "$LAB_KERNEL_DIR"
		return
	fi
	version=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null) ||
		lab_error "linux-source-6.12 is not installed: run 'make deps'"
	echo "${HMMTRACE_CACHE:-$HOME/.cache/hmmtrace}/$version/$variant"
}

memory=${LAB_MEMORY:-2G}
case $memory in
*G) memory_mib=$((${memory%G} * 1024)) ;;
*M) memory_mib=${memory%M} ;;
*) lab_error "LAB_MEMORY must look like 2G or 2048M, not '$memory'" ;;
esac
coherent_memory_append=
coherent_memory_starts=
if [ "$memory_mib" -ge 2048 ]; then
	coherent_memory_append='memmap=512M$0x40000000'
	coherent_memory_starts="0x40000000 0x50000000"
fi

# Two NUMA nodes, each with half the memory and half the CPUs, so that page
# migration between nodes can be exercised. Automatic NUMA balancing (on in
# Debian's kernel) is disabled on the command line: its scans invalidate
# mirrored ranges on their own schedule, which would make counts inexact.
# Each node is its own socket: CPUs on one socket share a last-level cache,
# and a kernel that sees an LLC span two nodes warns at boot
# (topology_sane() in Debian's kernels), which fails boot.kernel-log.
cpus=${LAB_CPUS:-2}
numa_options=()
smp_topology=$cpus
if [ "$cpus" -ge 2 ] && [ $((cpus % 2)) -eq 0 ] && [ $((memory_mib % 2)) -eq 0 ]; then
	smp_topology="$cpus,sockets=2,cores=$((cpus / 2)),threads=1"
	numa_options=(
		-object "memory-backend-ram,id=node0,size=$((memory_mib / 2))M"
		-object "memory-backend-ram,id=node1,size=$((memory_mib / 2))M"
		-numa "node,nodeid=0,cpus=0-$((cpus / 2 - 1)),memdev=node0"
		-numa "node,nodeid=1,cpus=$((cpus / 2))-$((cpus - 1)),memdev=node1"
	)
fi

kernel_dir=$(kernel_directory)
[ -f "$kernel_dir/bzImage" ] ||
	lab_error "no kernel in $kernel_dir: run 'make kernel KERNEL_VARIANT=$variant'"

# Kernels with 9p and overlayfs as modules (Debian's) list them in
# initramfs-modules; /init loads them before it mounts its shares.
build_initramfs() {
	local image=$lab_dir/initramfs-$(basename "$kernel_dir").cpio.gz staging module
	local module_list=$kernel_dir/initramfs-modules
	if [ -f "$image" ] && [ "$image" -nt "$repo_root/tests/lab/init" ] &&
		[ "$image" -nt /bin/busybox ] &&
		{ [ ! -f "$module_list" ] || [ "$image" -nt "$module_list" ]; }; then
		echo "$image"
		return
	fi
	staging=$(mktemp -d)
	mkdir -p "$staging"/{bin,dev,proc,sys,mnt,tmp,lib/modules}
	cp /bin/busybox "$staging/bin/busybox"
	cp "$repo_root/tests/lab/init" "$staging/init"
	chmod 755 "$staging/init"
	if [ -f "$module_list" ]; then
		while read -r module; do
			case $module in
			*.xz) xz -dc "$module" ;;
			*.zst) zstd -dcq "$module" ;;
			*.gz) gzip -dc "$module" ;;
			*) cat "$module" ;;
			esac >"$staging/lib/modules/$(basename "${module%.ko*}").ko"
			basename "${module%.ko*}.ko" >>"$staging/modules.load"
		done <"$module_list"
	fi
	(cd "$staging" && find . | cpio -o -H newc --quiet | gzip -1) >"$image.partial"
	mv "$image.partial" "$image"
	rm -rf "$staging"
	echo "$image"
}

# Single-quote a value for the guest's /bin/sh (dash has no $'...').
shell_quote() {
	printf "'%s'" "${1//\'/\'\\\'\'}"
}

mkdir -p "$lab_dir/runs"
initramfs=$(build_initramfs)
run_dir=$(mktemp -d "$lab_dir/runs/run.XXXXXX")
printf '%s\n' "$command_text" >"$run_dir/command"
{
	for name in ${LAB_ENV:-}; do
		[ -n "${!name+set}" ] || continue
		printf 'export %s=%s\n' "$name" "$(shell_quote "${!name}")"
	done
	printf 'export KERNEL_VARIANT=%s\n' "$(shell_quote "$variant")"
	printf 'export LAB_KERNEL_DIR=%s\n' "$(shell_quote "$kernel_dir")"
	printf 'export LAB_RUN_DIR=%s\n' "$(shell_quote "$run_dir")"
	printf 'export LAB_COHERENT_MEMORY=%s\n' "$(shell_quote "$coherent_memory_starts")"
} >"$run_dir/environment"

qemu_pid=
stream_pids=()

stop_guest() {
	if [ -n "$qemu_pid" ]; then
		kill -9 "$qemu_pid" 2>/dev/null || true
		while guest_running; do sleep 0.1; done
	fi
	qemu_pid=
}
trap 'stop_guest; kill "${stream_pids[@]}" 2>/dev/null; exit 130' INT TERM

start_guest() {
	local accelerator_options
	case $1 in
	# One host thread runs every vCPU. With a thread per vCPU (MTTCG), QEMU
	# 7.2 sometimes let a vCPU run code another had just rewritten: the
	# guest died with "Oops: int3" at a site that ftrace or a static key
	# had finished patching (ksys_read+0x1, __schedule). One thread also
	# ran the sim_mirror suite faster here (95 s against 114 s).
	tcg) accelerator_options=(-accel tcg,thread=single -cpu max) ;;
	# The guest's clock counts its instructions, one nanosecond each, so a
	# timing inside it is an instruction count, whatever the host is doing.
	tcg-icount) accelerator_options=(-accel tcg,thread=single -icount shift=0,sleep=off -cpu max) ;;
	kvm) accelerator_options=(-accel kvm -cpu host) ;;
	*) lab_error "LAB_ACCEL must be tcg, tcg-icount or kvm, not '$1'" ;;
	esac
	rm -f "$run_dir/booted"
	# An emulated CPU runs tens of times slower than the host, and the host
	# may not schedule QEMU's one thread for seconds: Debian's kcompactd
	# tripped the 20 s soft-lockup watchdog in CI. These are syzbot's
	# thresholds for emulated machines; a real lockup still reports, later.
	local guest_options="watchdog_thresh=55 workqueue.watchdog_thresh=140 rcupdate.rcu_cpu_stall_timeout=100"
	# The debug kernel (KASAN, lockdep, kmemleak) interprets ACPI's AML so
	# slowly that the PCI routing method (_PRT, a loop over 128 entries)
	# hits ACPICA's 30 s loop timeout, again and again, and the boot never
	# ends; the BIOS's PIR table routes the same interrupts.
	[ "$variant" = debug ] && guest_options+=" pci=noacpi"
	qemu-system-x86_64 "${accelerator_options[@]}" \
		-m "$memory" -smp "$smp_topology" "${numa_options[@]}" \
		-display none -no-reboot -monitor none -serial "file:$run_dir/console.log" \
		-kernel "$kernel_dir/bzImage" -initrd "$initramfs" \
		-append "console=ttyS0 rdinit=/init panic=-1 oops=panic loglevel=4 numa_balancing=disable $guest_options hmmtrace.repo=$repo_root hmmtrace.run=$run_dir hmmtrace.kernel_dir=$kernel_dir $coherent_memory_append ${LAB_APPEND:-}" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap,id=hostroot \
		-virtfs "local,path=$repo_root,mount_tag=repo,security_model=none,multidevs=remap,id=repo" \
		</dev/null >"$run_dir/qemu.log" 2>&1 &
	qemu_pid=$!
	# The status comes from the guest; QEMU's own death is reported below.
	disown "$qemu_pid"
}

guest_running() {
	kill -0 "$qemu_pid" 2>/dev/null
}

# KVM is opt-in; under a PVM host it crawls and then stops with an internal
# error while QEMU stays up paused, so only trust it once /init has run.
if [ "$accel" = kvm ]; then
	start_guest kvm
	waited=0
	while guest_running && [ ! -e "$run_dir/booted" ] && [ $waited -lt "$kvm_boot_seconds" ]; do
		sleep 1
		waited=$((waited + 1))
	done
	if [ ! -e "$run_dir/booted" ]; then
		if guest_running; then
			why="made no progress in ${kvm_boot_seconds} s"
		else
			why="stopped: $(grep -v '^$' "$run_dir/qemu.log" | head -n 1)"
		fi
		stop_guest
		echo "lab: warning: the KVM guest $why; falling back to TCG" >&2
		accel=tcg
	fi
fi
[ -n "$qemu_pid" ] || start_guest "$accel"

tail -n +1 -F --pid="$qemu_pid" "$run_dir/stdout" 2>/dev/null &
stream_pids+=($!)
tail -n +1 -F --pid="$qemu_pid" "$run_dir/stderr" >&2 2>/dev/null &
stream_pids+=($!)

deadline=$((SECONDS + timeout_seconds))
while guest_running && [ $SECONDS -lt $deadline ]; do
	sleep 0.2
done
timed_out=false
if guest_running; then
	timed_out=true
	stop_guest
fi
wait "${stream_pids[@]}" 2>/dev/null || true
cp "$run_dir/console.log" "$lab_dir/last-console.log" 2>/dev/null || true

if [ -f "$run_dir/status" ]; then
	status=$(cat "$run_dir/status")
	[ "${LAB_KEEP_RUN:-0}" = 1 ] || rm -rf "$run_dir"
	exit "$status"
fi
if $timed_out; then
	echo "lab: the guest did not finish within ${timeout_seconds} s and was killed ($accel); console: $run_dir/console.log" >&2
	exit 124
fi
echo "lab: the guest stopped before the command finished ($accel); last console lines from $run_dir/console.log:" >&2
# tests/lab/guest-tests.sh marks each test's start on the console.
running=$(sed -n 's/.*hmmtrace-lab: begin //p' "$run_dir/console.log" 2>/dev/null | tail -n 1)
[ -z "$running" ] || echo "lab: the test running then: $running" >&2
tail -n 15 "$run_dir/console.log" | sed 's/^/lab:   /' >&2 || true
grep -v '^$' "$run_dir/qemu.log" | head -n 5 | sed 's/^/lab: qemu: /' >&2 || true
exit 125
