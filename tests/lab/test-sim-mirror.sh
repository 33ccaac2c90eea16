#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The simulated mirroring device (kernel/drivers/sim_mirror) on the lab kernel:
# - every workload scenario meets its exact or bounded expectations and its
#   coherence checks; the livelock mode stalls for about 1000 ms;
# - the bad-input ioctl suite;
# - an exit with live ranges, and load/unload cycles with live ranges,
#   leave no range behind;
# - it runs at the same time as test_hmm;
# - on a kernel with our tracepoints, system-wide perf counts of the events
#   equal the driver's ground truth.
#
#   SIM_MIRROR_MANY_RANGES=N   ranges of the many-ranges scenario (100000)
#   SIM_MIRROR_LOAD_CYCLES=N   load/unload cycles (20)
# The debug lane sets both lower: under KASAN and lockdep 100k ranges take
# 98 s of emulated time and a cycle 3 s, and the sizes test no new path.

. tests/lib.sh

many_ranges=${SIM_MIRROR_MANY_RANGES:-100000}
load_cycles=${SIM_MIRROR_LOAD_CYCLES:-20}

module=build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko
workload=build/tests/sim_mirror_workload
counters=/sys/kernel/debug/sim_mirror/counters
work=$(mktemp -d)

if [ ! -f "$module" ]; then
	fail sim-mirror "$module is not built (make driver KERNEL_VARIANT=$KERNEL_VARIANT)"
	exit 0
fi
if ! insmod "$module" 2>"$work/insmod.err"; then
	fail sim-mirror.load "$(cat "$work/insmod.err")"
	exit 0
fi
pass sim-mirror.load

json_field() {
	python3 -c 'import json, sys; value = json.loads(sys.stdin.read())[sys.argv[1]]; print(value if value is not None else "")' "$1"
}

# run_scenario NAME ARGS...: pass when the workload says every check held.
run_scenario() {
	local name=$1 output skipped
	shift
	if ! output=$("$workload" "$@" --json 2>&1); then
		fail "sim-mirror.scenario.$name" "$(tail -n 2 <<<"$output")"
		return 1
	fi
	skipped=$(json_field skipped <<<"$output")
	if [ -n "$skipped" ]; then
		skip "sim-mirror.scenario.$name" "$skipped"
	else
		pass "sim-mirror.scenario.$name"
	fi
	echo "$output" >"$work/$name.json"
}

run_scenario fault-sweep fault-sweep
run_scenario fault-sweep-one-engine fault-sweep --engines 1 --batch-pages 7
run_scenario storm storm --iterations 5
run_scenario mprotect mprotect --iterations 4
run_scenario fork-cow fork-cow
run_scenario thp thp --ranges 2
run_scenario migrate migrate
run_scenario race race --duration 2 --threads 2 --retry-window-us 2000
run_scenario one-range many-ranges --ranges 1
run_scenario "$many_ranges-ranges" many-ranges --ranges "$many_ranges"
run_scenario bad-input bad-input
run_scenario nonblocking nonblocking
if run_scenario livelock livelock --duration 5; then
	stall=$(json_field longest_access_ms <"$work/livelock.json")
	if python3 -c 'import sys; sys.exit(not 900 <= float(sys.argv[1]) <= 2000)' "$stall"; then
		pass sim-mirror.livelock-stalls-about-1000ms
	else
		fail sim-mirror.livelock-stalls-about-1000ms "the longest stalled access took $stall ms"
	fi
fi

# A process that exits with live ranges (fault-sweep never removes its
# own): the release path removes them all. Its inserts show there were some.
"$workload" fault-sweep --json >"$work/exit.json"
live_at_exit=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["counters"]["inserts"])' <"$work/exit.json")
check sim-mirror.exit-removes-every-range sh -c \
	"[ '${live_at_exit:-0}' -ge 1 ] && grep -qx 'live_ranges 0' '$counters'"

# Load/unload cycles with live ranges at each process exit.
rmmod sim_mirror
dmesg -C
cycles_ok=0
for cycle in $(seq "$load_cycles"); do
	insmod "$module" && "$workload" fault-sweep --ranges 2 >/dev/null && rmmod sim_mirror &&
		cycles_ok=$((cycles_ok + 1))
done
clean_unloads=$(dmesg | grep -c 'sim_mirror: unloaded with 0 live ranges')
if [ "$cycles_ok" -eq "$load_cycles" ] && [ "$clean_unloads" -eq "$load_cycles" ] &&
	! grep -q '^sim_mirror ' /proc/modules; then
	pass "sim-mirror.$load_cycles-load-unload-cycles"
else
	fail "sim-mirror.$load_cycles-load-unload-cycles" "$cycles_ok cycles ran, $clean_unloads unloads left no range"
fi
insmod "$module"

# Side by side with test_hmm: both mirror the same kind of address space.
if modprobe test_hmm 2>/dev/null; then
	build/tests/test_hmm_phases --race-seconds 2 >"$work/test_hmm.json" &
	test_hmm_pid=$!
	"$workload" race --duration 2 --json >"$work/concurrent.json"
	race_status=$?
	wait "$test_hmm_pid"
	test_hmm_status=$?
	if [ $race_status -eq 0 ] && [ $test_hmm_status -eq 0 ]; then
		pass sim-mirror.concurrent-with-test_hmm
	else
		fail sim-mirror.concurrent-with-test_hmm "sim_mirror exited $race_status, test_hmm_phases $test_hmm_status"
	fi
	rmmod test_hmm
else
	skip sim-mirror.concurrent-with-test_hmm "this kernel has no test_hmm module"
fi

# The tracepoints against the driver's ground truth. Engines are kworkers,
# so count system-wide; nothing else in the guest uses interval notifiers.
compare_with_tracepoints() {
	local name=$1 perf_output="$work/$1.perf"
	shift
	perf stat -a -x, -o "$perf_output" \
		-e mmu_notifier:mmu_interval_notifier_insert \
		-e mmu_notifier:mmu_interval_notifier_remove \
		-e mmu_notifier:mmu_interval_notifier_invalidate \
		-e mmu_notifier:mmu_interval_read_begin \
		-e mmu_notifier:mmu_interval_read_retry \
		-e hmm:hmm_range_fault --filter 'ret == -16' \
		-- "$workload" "$@" --json >"$work/$name.truth" 2>/dev/null
	run_checker "sim-mirror.tracepoints.$name" python3 - "$perf_output" "$work/$name.truth" <<'EOF'
import json, sys
counts = {}
for line in open(sys.argv[1]):
    columns = line.strip().split(",")
    if len(columns) > 2 and ":" in columns[2]:
        counts[columns[2].split(":", 1)[1]] = int(columns[0])
truth = json.load(open(sys.argv[2]))["counters"]
# The workload reports, then exits with its ranges live: mm teardown
# invalidates each once on the release path and once more in exit_mmap's
# unmap, and closing the device removes each.
at_exit = {"mmu_interval_notifier_remove": truth["inserts"],
           "mmu_interval_notifier_invalidate": truth["invalidations"] + 2 * truth["inserts"]}
pairs = [("mmu_interval_notifier_insert", "inserts"),
         ("mmu_interval_notifier_remove", "inserts"),
         ("mmu_interval_notifier_invalidate", "invalidations"),
         ("mmu_interval_read_begin", "read_begins"),
         ("mmu_interval_read_retry", "retries"),
         ("hmm_range_fault", "ebusy")]
for event, counter in pairs:
    want = at_exit.get(event, truth[counter])
    status = "PASS" if counts.get(event) == want else "FAIL"
    print(f"{status}\t{event}-matches-{counter}\tperf counted {counts.get(event)}, want {want} from the driver's {truth[counter]}")
EOF
}

if [ -d /sys/kernel/tracing/events/mmu_notifier ]; then
	compare_with_tracepoints storm storm --iterations 3
	compare_with_tracepoints race race --duration 2 --retry-window-us 2000
	# The non-blockable path: a refused callback makes range_start fail with -EAGAIN.
	perf stat -a -x, -o "$work/nonblocking.perf" \
		-e mmu_notifier:mmu_notifier_invalidate_range_start --filter 'ret == -11' \
		-e mmu_notifier:mmu_interval_notifier_invalidate --filter 'ret == 0' \
		-- "$workload" nonblocking --json >"$work/nonblocking.truth" 2>/dev/null
	failures=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["counters"]["nonblocking_failures"])' \
		"$work/nonblocking.truth")
	eagain=$(awk -F, '/invalidate_range_start/ { print $1 }' "$work/nonblocking.perf")
	refused=$(awk -F, '/interval_notifier_invalidate/ { print $1 }' "$work/nonblocking.perf")
	if [ "${failures:-0}" -ge 1 ] && [ "$eagain" = "$failures" ] && [ "$refused" = "$failures" ]; then
		pass sim-mirror.tracepoints.nonblocking-eagain
	else
		fail sim-mirror.tracepoints.nonblocking-eagain \
			"driver refused $failures, range_start -EAGAIN $eagain, invalidate false $refused"
	fi
else
	skip sim-mirror.tracepoints "this kernel ($(uname -r)) has no mmu_notifier events"
fi

rmmod sim_mirror
rm -rf "$work"
