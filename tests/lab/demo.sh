#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make demo` runs this inside the lab guest: hmmtrace top watching two
# mirroring drivers (test_hmm and the simulated sim_mirror) through a COW
# storm, an invalidation storm, a race that forces retries and the stale-seq
# livelock, then the kernel's own hmm-tests.

set -euo pipefail

echo "== lab guest: Linux $(uname -r), $(getconf _NPROCESSORS_ONLN) CPUs"
read -r coherent_dev0 coherent_dev1 <<<"${LAB_COHERENT_MEMORY:-}"
modprobe test_hmm ${coherent_dev0:+spm_addr_dev0=$coherent_dev0 spm_addr_dev1=$coherent_dev1}
insmod "build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko"

if [ ! -d /sys/kernel/tracing/events/mmu_notifier ]; then
	echo "== this kernel has no mmu_notifier tracepoints; hmmtrace's fallback mode is still to come"
else
	echo "== hmmtrace top -i 2 (one row per driver)"
	build/hmmtrace top -i 2 &
	top_pid=$!
	sleep 3
	echo "-- test_hmm: device READ and a COW storm from a device WRITE"
	build/tests/test_hmm_phases --race-seconds 2 >/dev/null
	echo "-- sim_mirror: an invalidation storm, then device faults racing CPU writers"
	build/tests/sim_mirror_workload storm --iterations 20 >/dev/null
	build/tests/sim_mirror_workload race --duration 3 --threads 2 --retry-window-us 2000 >/dev/null
	echo "-- sim_mirror: the stale-seq livelock (each stalled fault spins for 1000 ms)"
	build/tests/sim_mirror_workload livelock --duration 3 | grep -E 'timeouts|longest'
	sleep 2
	kill -INT "$top_pid"
	wait "$top_pid" || true
fi

echo
echo "== hmm-tests (tools/testing/selftests/mm/hmm-tests.c from the same source tree)"
"$LAB_KERNEL_DIR/hmm-tests" 2>&1 | grep -E '^# Totals'
rmmod sim_mirror
rmmod test_hmm
