#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs inside the lab guest (tests/run-tests.sh starts it): each lab test
# script in turn, from the repository root.

set -uo pipefail
. tests/lib.sh

# Compaction must leave the workloads' mlocked buffers alone: migrating a
# page invalidates its range, which no workload can predict, and
# sim_mirror_workload many-ranges counts 100k ranges' invalidations exactly.
if [ -w /proc/sys/vm/compact_unevictable_allowed ]; then
	echo 0 >/proc/sys/vm/compact_unevictable_allowed
fi

kmemleak=/sys/kernel/debug/kmemleak

# worse_status A B: the worse of two kernel_log.py statuses, from worst: 3
# (a log it could not read, or any status it does not document), 1 (a
# splat or a leak), 4 (only known ones), 0 (nothing).
worse_status() {
	local value
	for value in "$1" "$2"; do
		case $value in 0 | 1 | 3 | 4) ;; *) echo 3; return ;; esac
	done
	for value in 3 1 4; do
		if [ "$1" = "$value" ] || [ "$2" = "$value" ]; then
			echo "$value"
			return
		fi
	done
	echo 0
}

# kernel_log_check NAME: fail NAME.kernel-log for every splat the kernel
# printed since NAME's marker (tests/lab/kernel_log.py), and, on a kernel
# with kmemleak, for every object NAME leaked. kmemleak reports only objects
# older than 5 s that no scan found referenced, hence the wait.
kernel_log_check() {
	local name=$1 findings status leaks leak_status
	findings=$(python3 tests/lab/kernel_log.py check "$name")
	status=$?
	if [ -w "$kmemleak" ]; then
		sleep 6
		echo scan >"$kmemleak"
		leaks=$(python3 tests/lab/kernel_log.py leaks "$kmemleak")
		leak_status=$?
		if [ -n "$leaks" ]; then
			findings+=${findings:+$'\n'}$leaks
			# The whole report, for whoever reads the run's stderr.
			echo "kmemleak during $name:" >&2
			cat "$kmemleak" >&2
		fi
		echo clear >"$kmemleak"
		status=$(worse_status "$status" "$leak_status")
	fi
	case $status in
	0) pass "$name.kernel-log" ;;
	1 | 4) [ -n "$findings" ] || fail "$name.kernel-log" "a checker exited $status and named nothing"
	   while IFS= read -r finding; do
		case $finding in
		'') ;;
		known:*) xfail "$name.kernel-log" "${finding#known: }" ;;
		*) fail "$name.kernel-log" "$finding" ;;
		esac
	   done <<<"$findings" ;;
	*) fail "$name.kernel-log" "${findings:-kernel_log.py exited with status $status}" ;;
	esac
}

# What the kernel said while it booted, then each test with its own log.
# Objects allocated before the tests are not theirs to leak.
if [ -w "$kmemleak" ]; then
	echo scan >"$kmemleak"
	echo clear >"$kmemleak"
fi
findings=$(python3 tests/lab/kernel_log.py boot)
case $? in
0) pass boot.kernel-log ;;
*) fail boot.kernel-log "$(head -n 1 <<<"$findings")" ;;
esac
# The positive control, on the live log: a WARNING line written after a
# marker of its own must be found (user space may write to /dev/kmsg).
python3 tests/lab/kernel_log.py begin kernel-log-self-test &&
	echo "<4>WARNING: CPU: 0 PID: 1 at hmmtrace-lab self-test, not a kernel report" >/dev/kmsg
findings=$(python3 tests/lab/kernel_log.py check kernel-log-self-test)
case "$?:$findings" in
"1:warning: "*) pass kernel-log.self-test-finds-a-warning ;;
*) fail kernel-log.self-test-finds-a-warning "the check said: ${findings:-nothing}" ;;
esac
for script in "$@"; do
	name=$(basename "$script" .sh)
	python3 tests/lab/kernel_log.py begin "$name" ||
		fail "$name.kernel-log" "cannot write the test's marker to /dev/kmsg"
	began=$SECONDS
	run_test_script "$script"
	kernel_log_check "$name"
	# What each test costs in this boot, for the README's make check budget,
	# and the memory it leaves: files left in the guest's tmpfs (Shmem) are
	# RAM that every later test goes without.
	echo "# $name took $((SECONDS - began)) s (guest time);" \
		"$(awk '/^(MemAvailable|Shmem):/ { printf "%s %d MiB ", $1, $2 / 1024 }' /proc/meminfo)"
done
exit 0
