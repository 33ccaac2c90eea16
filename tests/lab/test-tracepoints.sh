#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The events of kernel/patches, on the lab kernel, with test_hmm:
# - the live format files and BTF prototypes equal tracepoints/events.json;
# - a deterministic test_hmm workload (tests/workloads/test_hmm_phases), read
#   through trace_pipe, produces exactly the events each phase must, with the
#   right field values; a racing run shows collisions and, at exit, the
#   release-path invalidation;
# - perf stat counts of the same workload equal the expected totals, and
#   perf trace shows the events.

. tests/lib.sh

tracefs=/sys/kernel/tracing
workload=build/tests/test_hmm_phases
checker=tests/lab/check_notifier_events.py
work=$(mktemp -d)
instance=$tracefs/instances/hmmtrace-test

if [ ! -d "$tracefs/events/mmu_notifier" ]; then
	skip tracepoints "this kernel ($(uname -r)) has no mmu_notifier events"
	exit 0
fi

check tracepoints.catalog-matches-format-files python3 tracepoints/catalog.py check-format "$tracefs"
bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$work/vmlinux.btf.c"
check tracepoints.catalog-matches-btf python3 tracepoints/catalog.py check-btf "$work/vmlinux.btf.c"

if ! modprobe test_hmm; then
	fail tracepoints.load-test_hmm "modprobe test_hmm failed"
	exit 0
fi

# The instance keeps this test's events apart; no overwrite keeps the first
# phases when a race fills the buffer, and a global clock orders the CPUs.
start_capture() {
	rmdir "$instance" 2>/dev/null
	mkdir "$instance"
	echo global >"$instance/trace_clock"
	echo 0 >"$instance/options/overwrite"
	echo 16384 >"$instance/buffer_size_kb"
	echo 1 >"$instance/events/mmu_notifier/enable"
	echo 1 >"$instance/events/hmm/enable"
}

stop_capture() {
	echo 0 >"$instance/tracing_on"
}

unread_entries() {
	cat "$instance"/per_cpu/cpu*/stats | awk '/^entries:/ { sum += $2 } END { print sum + 0 }'
}

# Run 1: trace_pipe, deterministic phases only, then close.
start_capture
cat "$instance/trace_pipe" >"$work/pipe.trace" &
reader=$!
"$workload" --race-seconds 0 --trace-marker "$instance/trace_marker" >"$work/run1.json"
status=$?
stop_capture
for _ in $(seq 50); do
	[ "$(unread_entries)" -eq 0 ] && break
	sleep 0.1
done
kill "$reader"
wait "$reader" 2>/dev/null
if [ $status -ne 0 ]; then
	fail tracepoints.workload "test_hmm_phases exited with $status"
else
	run_checker "" python3 "$checker" trace tracepoints.pipe "$work/pipe.trace" "$work/run1.json"
fi

# Run 2: a racing thread forces collisions; the device stays open at exit.
start_capture
"$workload" --race-seconds 3 --exit-open --trace-marker "$instance/trace_marker" >"$work/run2.json"
status=$?
stop_capture
cat "$instance/trace" >"$work/race.trace"
if [ $status -ne 0 ]; then
	fail tracepoints.race-workload "test_hmm_phases exited with $status"
else
	run_checker "" python3 "$checker" trace tracepoints.race "$work/race.trace" "$work/run2.json"
	echo "# race run: $(grep -c mmu_interval_read_retry: "$work/race.trace") read_retry," \
		"$(grep -c mmu_interval_check_retry: "$work/race.trace") check_retry," \
		"$(grep -c 'waited=1' "$work/race.trace") read_begin waits in $(python3 -c \
		'import json,sys; print(json.load(open(sys.argv[1]))["race_reads"])' "$work/run2.json") device reads"
fi
rmdir "$instance"

# perf stat: every event counted, and the counts are the expected totals.
perf stat -x, -e 'mmu_notifier:*' -e 'hmm:*' -o "$work/perf.csv" -- \
	"$workload" --race-seconds 0 >"$work/run3.json"
status=$?
if [ $status -ne 0 ]; then
	fail tracepoints.perf-stat "perf stat exited with $status: $(tail -n 2 "$work/perf.csv")"
else
	run_checker "" python3 "$checker" perf-stat tracepoints "$work/perf.csv" "$work/run3.json"
fi

# perf trace decodes the events through libtraceevent.
perf trace --no-syscalls -e 'mmu_notifier:mmu_interval_notifier_*' -o "$work/perf.trace" -- \
	"$workload" --race-seconds 0 >/dev/null 2>"$work/perf-trace.err"
inserts=$(grep -c 'mmu_interval_notifier_insert' "$work/perf.trace" 2>/dev/null)
removes=$(grep -c 'mmu_interval_notifier_remove' "$work/perf.trace" 2>/dev/null)
if [ "${inserts:-0}" -eq 1 ] && [ "${removes:-0}" -eq 1 ] && grep -q 'invalidate: 0x' "$work/perf.trace"; then
	pass tracepoints.perf-trace
else
	fail tracepoints.perf-trace "insert $inserts, remove $removes: $(head -c 300 "$work/perf-trace.err")"
fi

rmmod test_hmm
rm -rf "$work"
