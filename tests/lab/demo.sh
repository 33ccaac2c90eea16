#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make demo` runs this inside the lab guest. Until hmmtrace itself lands, it
# shows the lab and the new tracepoints: test_hmm driven through a COW storm
# and a racing phase, counted by perf and excerpted from trace_pipe, then the
# kernel's own hmm-tests.

set -euo pipefail

tracefs=/sys/kernel/tracing
workload=build/tests/test_hmm_phases

echo "== lab guest: Linux $(uname -r), $(getconf _NPROCESSORS_ONLN) CPUs"
read -r coherent_dev0 coherent_dev1 <<<"${LAB_COHERENT_MEMORY:-}"
modprobe test_hmm ${coherent_dev0:+spm_addr_dev0=$coherent_dev0 spm_addr_dev1=$coherent_dev1}
echo "== test_hmm loaded: $(echo /dev/hmm_dmirror*)"

if [ -d "$tracefs/events/mmu_notifier" ]; then
	echo
	echo "== perf stat -e 'mmu_notifier:*' -e 'hmm:*' -- $workload --race-seconds 2"
	perf stat -e 'mmu_notifier:*' -e 'hmm:*' -- "$workload" --race-seconds 2 2>&1 >/dev/null |
		grep -E 'mmu_notifier:|hmm:'
	echo
	echo "== a few events from trace_pipe (a device WRITE over zero pages: COW, -EBUSY, retry)"
	echo 1 >"$tracefs/events/mmu_notifier/enable"
	echo 1 >"$tracefs/events/hmm/enable"
	echo >"$tracefs/trace"
	"$workload" --race-seconds 0 >/dev/null
	echo 0 >"$tracefs/events/mmu_notifier/enable"
	echo 0 >"$tracefs/events/hmm/enable"
	grep -m1 -A12 'hmmtrace-phase=cow' "$tracefs/trace" | cut -c1-160 || true
	grep -m3 -E 'hmm_range_fault: .*ret=-16|mmu_interval_check_retry:' "$tracefs/trace" | cut -c1-160 || true
else
	echo "== this kernel has no mmu_notifier tracepoints (KERNEL_VARIANT=stock?)"
fi

echo
echo "== hmm-tests (tools/testing/selftests/mm/hmm-tests.c from the same source tree)"
"$LAB_KERNEL_DIR/hmm-tests" 2>&1 | grep -E '^# Totals'
rmmod test_hmm
