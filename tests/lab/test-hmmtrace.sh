#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace top against ground truth: while it runs, a deterministic
# workload's counts as hmmtrace reports them (summed over its JSON intervals)
# must equal what the driver counted. Also: bad input exits with distinct
# codes, a kernel without our tracepoints is refused clearly, and Ctrl-C
# detaches every BPF link.

. tests/lib.sh

hmmtrace=build/hmmtrace
work=$(mktemp -d)

if [ ! -x "$hmmtrace" ]; then
	fail hmmtrace "$hmmtrace is not built (make hmmtrace)"
	exit 0
fi

status=0
"$hmmtrace" top --by nonsense >/dev/null 2>&1 || status=$?
check hmmtrace.bad-flag-exits-2 test $status -eq 2
setpriv --reuid=65534 --regid=65534 --clear-groups "$hmmtrace" top >/dev/null 2>"$work/nonroot.err"
status=$?
check hmmtrace.non-root-exits-3 sh -c "[ $status -eq 3 ] && grep -q 'must run as root' '$work/nonroot.err'"

if [ ! -d /sys/kernel/tracing/events/mmu_notifier ]; then
	status=0
	"$hmmtrace" top -c 1 >/dev/null 2>"$work/stock.err" || status=$?
	check hmmtrace.refuses-kernel-without-tracepoints \
		sh -c "[ $status -eq 5 ] && grep -q 'no mmu_notifier tracepoints' '$work/stock.err'"
	exit 0
fi

links_before=$(bpftool link list 2>/dev/null | grep -c '^[0-9]')

# observe NAME DRIVER COMMAND...: run COMMAND (which prints the driver's
# ground truth as JSON) under hmmtrace top, then stop hmmtrace with SIGINT.
observe() {
	local name=$1 top_pid
	shift
	"$hmmtrace" top --json -i 1 >"$work/$name.top" 2>"$work/$name.err" &
	top_pid=$!
	# Attached once the first interval is printed.
	for _ in $(seq 100); do
		[ -s "$work/$name.top" ] && break
		sleep 0.2
	done
	"$@" >"$work/$name.truth"
	sleep 1.2
	kill -INT "$top_pid"
	wait "$top_pid"
	echo $?
}

# compare NAME DRIVER EXPECTED_JSON: hmmtrace's totals for DRIVER against EXPECTED.
compare() {
	local name=$1 driver=$2 expected=$3
	python3 - "$work/$name.top" "$driver" "$expected" <<'EOF' | while IFS=$'\t' read -r status test reason; do
import json, sys
totals = {}
for line in open(sys.argv[1]):
    for row in json.loads(line)["rows"]:
        if row["driver"] == sys.argv[2]:
            for key, value in row.items():
                if isinstance(value, int):
                    totals[key] = totals.get(key, 0) + value
for key, want in json.loads(sys.argv[3]).items():
    have = totals.get(key, 0)
    print(f"{'PASS' if have == want else 'FAIL'}\t{key}\thmmtrace reported {have}, the ground truth is {want}")
EOF
		record_result "$status" "hmmtrace.top.$name.$test" "$([ "$status" = PASS ] || echo "$reason")"
	done
}

truth_field() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["counters"][sys.argv[2]])' "$@"
}

# sim_mirror: its counters are the ground truth. The workload exits with its
# ranges live: teardown adds one release and one unmap invalidation per range.
insmod "build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko"
for scenario in storm race; do
	case $scenario in
	storm) arguments=(storm --iterations 3) ;;
	race) arguments=(race --duration 2 --retry-window-us 2000) ;;
	esac
	status=$(observe "sim_mirror-$scenario" build/tests/sim_mirror_workload "${arguments[@]}" --json)
	check "hmmtrace.top.sim_mirror-$scenario.exits-0-on-sigint" test "$status" -eq 0
	truth=$work/sim_mirror-$scenario.truth
	inserts=$(truth_field "$truth" inserts)
	compare "sim_mirror-$scenario" sim_mirror "{
		\"inserts\": $inserts, \"removes\": $inserts,
		\"invalidations\": $(($(truth_field "$truth" invalidations) + 2 * inserts)),
		\"read_begins\": $(truth_field "$truth" read_begins),
		\"read_retries\": $(truth_field "$truth" retries),
		\"range_fault_ebusy\": $(truth_field "$truth" ebusy)}"
done
rmmod sim_mirror

# test_hmm: test_hmm_phases' deterministic phases, then it closes the device.
if modprobe test_hmm 2>/dev/null; then
	status=$(observe test_hmm build/tests/test_hmm_phases --race-seconds 0)
	chunks=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["chunks"])' "$work/test_hmm.truth")
	pages=$((chunks * 64))
	compare test_hmm test_hmm "{
		\"inserts\": 1, \"removes\": 1, \"invalidations\": $((pages + 2)),
		\"read_begins\": $((4 * chunks)), \"read_retries\": 0, \"check_retries\": $chunks,
		\"range_faults\": $((4 * chunks)), \"range_fault_ebusy\": $chunks}"
	rmmod test_hmm
fi

links_after=$(bpftool link list 2>/dev/null | grep -c '^[0-9]')
check hmmtrace.sigint-detaches-every-link test "$links_after" -eq "$links_before"
rm -rf "$work"
