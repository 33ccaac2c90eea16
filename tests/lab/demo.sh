#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make demo` runs this inside the lab guest. hmmtrace top and hmmtrace
# retries watch two mirroring drivers (test_hmm and the simulated
# sim_mirror) through a mixed workload: device faults and a COW storm, an
# invalidation storm, faults racing CPU writers, the stale-seq livelock, and
# the kernel's own hmm-tests. Then it prints what hmmtrace saw.

set -euo pipefail

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== lab guest: Linux $(uname -r), $(getconf _NPROCESSORS_ONLN) CPUs"
read -r coherent_dev0 coherent_dev1 <<<"${LAB_COHERENT_MEMORY:-}"
modprobe test_hmm ${coherent_dev0:+spm_addr_dev0=$coherent_dev0 spm_addr_dev1=$coherent_dev1}
insmod "build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko"

# One top table for the whole run (the interval outlasts it), and retries.
build/hmmtrace top -i 3600 >"$work/top" 2>"$work/top.err" &
top_pid=$!
build/hmmtrace retries >"$work/retries" 2>"$work/retries.err" &
retries_pid=$!
for _ in $(seq 300); do
	grep -q 'Ctrl-C' "$work/top.err" && grep -q 'Ctrl-C' "$work/retries.err" && break
	sleep 0.1
done
sed 's/^hmmtrace: /== hmmtrace: /' "$work/top.err"

echo "-- test_hmm: device reads, and a COW storm from a device write (one -EBUSY per chunk)"
build/tests/test_hmm_phases --race-seconds 2 >/dev/null
echo "-- sim_mirror: an invalidation storm (MADV_DONTNEED and refault, 20 rounds)"
build/tests/sim_mirror_workload storm --iterations 20 >/dev/null
echo "-- sim_mirror: device faults racing CPU writers (read_retry collisions and -EBUSY)"
build/tests/sim_mirror_workload race --duration 3 --threads 2 --retry-window-us 2000 >/dev/null
echo "-- sim_mirror: the stale-seq livelock bug (a fault spins on -EBUSY until the 1000 ms timeout)"
build/tests/sim_mirror_workload livelock --duration 3 | grep -E 'longest'
echo "-- hmm-tests (tools/testing/selftests/mm/hmm-tests.c from the same source tree)"
"$LAB_KERNEL_DIR/hmm-tests" 2>&1 | grep -E '^# Totals'

kill -INT "$top_pid" "$retries_pid"
wait "$top_pid" "$retries_pid"

echo
echo "================ hmmtrace top: the whole run, one row per driver ================"
echo "(! marks a storm; RATIO is retries per completed fault; the livelocked driver's ratio is high)"
cat "$work/top"
echo
echo "================ hmmtrace retries: livelocks as they were caught, then the summary ================"
cat "$work/retries"
rmmod sim_mirror
rmmod test_hmm
