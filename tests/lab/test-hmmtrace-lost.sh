#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# No silent loss: each map that can lack room is made too small with
# --map-entries while sim_mirror_workload runs, and what hmmtrace counted
# plus what it says it lost (lost_total, by kind) must be sim_mirror's own
# count, exactly (tests/lab/lost_check.py). Beside each, the same workload
# with the maps as hmmtrace sizes them must lose nothing: the pair shows
# that the loss comes from the size, and that lost is not always zero.
#
#   stats          --by range, 8 entries, 64 ranges: inserts, invalidations, removes
#   subscriptions  8 entries, 32 ranges: inserts, read_begins, hmm_range_fault()s
#   faults         1 entry, 32 ranges, --fault-state hash: completed faults
#                  against read_begins; and with task storage (the default),
#                  1 entry loses nothing, as top keeps no fault there
#   pending        1 entry, fentry mode, 4 threads racing: every call it remembers
#   invalidators   retries, 2 entries, 8 ranges stormed: every invalidation
#                  but the first two ranges' finds no room
#
#   HMMTRACE_LOST_CASES=PREFIX   only the cases whose name begins so

. tests/lib.sh

hmmtrace=build/hmmtrace
workload=build/tests/sim_mirror_workload
work=$(mktemp -d)
. tests/lab/hmmtrace_tracers.sh

need_sim_mirror hmmtrace-lost

# run_case NAME TRACER_ARGUMENTS WORKLOAD_ARGUMENTS: the tracer NAME
# (hmmtrace ... --json) around one workload run, whose truth is NAME.truth.
run_case() {
	local name=$1 tracer_arguments=$2 workload_arguments=$3
	# shellcheck disable=SC2086 # the arguments are words
	start_tracer "$name" $tracer_arguments || return 1
	# shellcheck disable=SC2086
	if ! "$workload" $workload_arguments --json >"$work/$name.truth" 2>"$work/$name.workload.err"; then
		fail "hmmtrace-lost.$name.workload" "$(tail -c 300 "$work/$name.workload.err")"
		stop_tracer "$name"
		return 1
	fi
	# The interval that holds the workload's last events is printed first.
	sleep 2
	stop_tracer "$name"
}

# lost_pair KIND SIZE FIELDS COUNTERS TRACER_ARGUMENTS WORKLOAD_ARGUMENTS:
# KIND's map at SIZE entries must lose some, and at hmmtrace's own size
# none, and in both FIELDS counted (summed over sim_mirror's rows) plus
# lost_total[KIND] must be COUNTERS (summed over the truth).
lost_pair() {
	local kind=$1 size=$2 fields=$3 counters=$4 tracer_arguments=$5 workload_arguments=$6
	local entries name want
	for entries in "$size" default; do
		name=$kind-$entries
		case $name in ${HMMTRACE_LOST_CASES:-*}*) ;; *) continue ;; esac
		if [ "$entries" = default ]; then
			want=none
			run_case "$name" "$tracer_arguments" "$workload_arguments" || continue
		else
			want=lost
			run_case "$name" "$tracer_arguments --map-entries $kind=$entries" \
				"$workload_arguments" || continue
		fi
		verdict "hmmtrace-lost.$name" python3 tests/lab/lost_check.py "$work/$name.json" \
			"$work/$name.truth" "$fields" "$counters" "$kind" "$want" --driver sim_mirror
	done
}

lost_pair stats 8 inserts,removes,invalidations inserts,removes,invalidations \
	"top -i 1 --by range" "many-ranges --ranges 64"
lost_pair subscriptions 8 inserts,read_begins,range_faults inserts,read_begins,faults \
	"top -i 1" "fault-sweep --ranges 32 --pages 16"
lost_pair faults 1 faults_completed read_begins "top -i 1 --fault-state hash" \
	"fault-sweep --ranges 32 --pages 16"
# The same with fault state in task storage, where the kernel has it for
# the mode: the hash of 1 entry is unused, so nothing is lost, and the
# faults are exact. The JSON's fault_state says which store ran.
name=faults-task-1
case $name in ${HMMTRACE_LOST_CASES:-*}*)
	if run_case "$name" "top -i 1 --map-entries faults=1" "fault-sweep --ranges 32 --pages 16"; then
		store=$(python3 -c 'import json, sys
stores = {json.loads(line).get("fault_state") for line in open(sys.argv[1]) if line.startswith("{")}
print(",".join(sorted(map(str, stores))))' "$work/$name.json")
		case $store in
		task)
			verdict "hmmtrace-lost.$name" python3 tests/lab/lost_check.py "$work/$name.json" \
				"$work/$name.truth" faults_completed read_begins faults none --driver sim_mirror ;;
		hash) skip "hmmtrace-lost.$name" "no task local storage for this mode's programs here" ;;
		*) fail "hmmtrace-lost.$name" "fault_state in the JSON: '$store', wanted task or hash" ;;
		esac
	fi ;;
esac
# Calls overlap across the threads and CPUs, and an invalidation can come
# inside an hmm_range_fault(): one entry is not enough for them. Each
# hmm_range_fault() is serviced (faults), collides (retries) or is -EBUSY;
# the ranges go before the truth is read, so the exit invalidates none.
lost_pair pending 1 inserts,read_begins,invalidations,range_faults \
	inserts,read_begins,invalidations,faults,retries,ebusy \
	"top -i 1 --mode fentry" "race --ranges 4 --pages 128 --threads 4 --unregister"

# invalidators: the first two ranges invalidated keep their entries (each
# invalidation replaces its own); each invalidation of the other six is lost,
# the exit's too. So of the invalidations a top beside it counts, 6 in 8.
ranges=8
for size in 2 default; do
	name=invalidators-$size
	case $name in ${HMMTRACE_LOST_CASES:-*}*) ;; *) continue ;; esac
	entries=$([ "$size" = default ] || echo "--map-entries invalidators=$size")
	start_tracer "$name-top" top -i 1 || continue
	# shellcheck disable=SC2086
	run_case "$name" "retries $entries" "storm --ranges $ranges --pages 64 --iterations 3" ||
		{ stop_tracer "$name-top"; continue; }
	stop_tracer "$name-top"
	verdict "hmmtrace-lost.$name" python3 -c '
import json, sys

def objects(path):
    return [json.loads(line) for line in open(path) if line.startswith("{")]

finals = [o for o in objects(sys.argv[1]) if "invalidators" in o.get("lost_total", {})]
counted = sum(row.get("invalidations", 0) for o in objects(sys.argv[2]) for row in o.get("rows", [])
              if row.get("driver") == "sim_mirror")
if not finals or not counted:
    sys.exit(f"no lost_total.invalidators ({len(finals)} objects) or no invalidations ({counted})")
ranges, size = int(sys.argv[3]), sys.argv[4]
expected = 0 if size == "default" else counted * (ranges - int(size)) // ranges
lost = finals[-1]["lost_total"]
others = {kind: value for kind, value in lost.items() if value and kind != "invalidators"}
found = lost["invalidators"]
print(f"lost.invalidators {found} of {counted} invalidations, expected {expected}; others: {others}")
sys.exit(not (found == expected and not others))' "$work/$name.json" "$work/$name-top.json" "$ranges" "$size"
done

rmmod sim_mirror || fail hmmtrace-lost.unload-sim_mirror "rmmod sim_mirror failed"
rm -rf "$work"
