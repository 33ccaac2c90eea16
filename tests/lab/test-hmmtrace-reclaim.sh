#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Reclaim: a run beside many short-lived processes keeps counting the last
# one. `hmmtrace top --by process` watches `sim_mirror_workload churn`
# (processes that each mirror one page, read it, remove it and exit) with a
# stats map far smaller than the processes (--map-entries): exited
# processes' groups must be reclaimed (tools/reclaim.c) for each newcomer to
# find room. Their inserts, read_begins, hmm_range_fault()s and removes
# must be sim_mirror's, with nothing lost, and the last process must have a
# row, and the mm_owners entries of exited processes must be gone. Then
# causes beside processes that each are a cause of their own, and top (on
# the faults hash) and retries (publishing there from task storage)
# sweeping at every read beside the race's live faults, which must stay
# exact. The positive controls run fewer processes with reclaim off
# (HMMTRACE_RECLAIM=0): the same maps fill, and counted plus lost is still
# the truth.
#
#   HMMTRACE_RECLAIM_PROCESSES=N   churn N processes instead of 10000

. tests/lib.sh

hmmtrace=build/hmmtrace
workload=build/tests/sim_mirror_workload
processes=${HMMTRACE_RECLAIM_PROCESSES:-10000}
# Far fewer than the processes, and more than the hot slots (32), the
# processes alive at once (4) and those reaped in one interval, whose
# groups wait for the next read.
entries=512
work=$(mktemp -d)
. tests/lab/hmmtrace_tracers.sh

need_sim_mirror hmmtrace-reclaim

# churn NAME PROCESSES ENTRIES [AT_ONCE]: the tracer NAME, with a stats map
# of ENTRIES, around PROCESSES short-lived processes, AT_ONCE (4) at a time.
churn() {
	local name=$1 count=$2 began
	start_tracer "$name" top -i 1 --by process --map-entries "stats=$3" || return 1
	began=$(date +%s)
	if ! "$workload" churn --iterations "$count" --threads "${4:-4}" --json >"$work/$name.truth" \
		2>"$work/$name.workload.err"; then
		fail "hmmtrace-reclaim.$name.workload" "$(tail -c 300 "$work/$name.workload.err")"
		stop_tracer "$name"
		return 1
	fi
	echo "# $count processes in $(($(date +%s) - began)) s"
	# Two sweeps (HMMTRACE_SWEEP_SECONDS=2): an exited owner's entry goes at the second.
	sleep 5
	python3 -c 'import json, sys
sys.path.insert(0, "tests/bench")
import soak
print(json.dumps(soak.map_entries(int(sys.argv[1]))))' "$(cat "$work/$name.pid")" \
		>"$work/$name.maps" 2>"$work/$name.maps.err"
	stop_tracer "$name"
}

# owners NAME CHECK MAXIMUM|MINIMUM N: tracer NAME's mm_owners entries, at
# the churn's end, at most or at least N.
owners() {
	verdict "hmmtrace-reclaim.$1.$2" python3 -c 'import json, sys
entries = json.load(open(sys.argv[1])).get("mm_owners")
print(f"mm_owners held {entries} entries ({sys.argv[2]} {sys.argv[3]})")
if entries is None:
    sys.exit(1)
sys.exit(not (entries <= int(sys.argv[3]) if sys.argv[2] == "maximum" else entries >= int(sys.argv[3])))
' "$work/$1.maps" "$3" "$4"
}

fields=inserts,read_begins,range_faults,removes
counters=inserts,read_begins,faults,removes
HMMTRACE_SWEEP_SECONDS=2
export HMMTRACE_SWEEP_SECONDS
if churn churned "$processes" "$entries"; then
	# None is alive when the map is read: the 4 allowed are slack for the
	# last processes' entries, should the two sweeps slip past the sleep.
	owners churned owners-reclaimed maximum 4
	verdict hmmtrace-reclaim.counts python3 tests/lab/lost_check.py "$work/churned.json" \
		"$work/churned.truth" "$fields" "$counters" stats none
	verdict hmmtrace-reclaim.last-process-counted python3 -c 'import json, sys

last = json.load(open(sys.argv[2])).get("last_pid")
rows = [row for line in open(sys.argv[1]) if line.startswith("{")
        for row in json.loads(line).get("rows", []) if row.get("group") == str(last)]
inserts = sum(row.get("inserts", 0) for row in rows)
print(f"the last process, {last}: {len(rows)} rows, {inserts} inserts")
sys.exit(not (last and inserts == 1))
' "$work/churned.json" "$work/churned.truth"
fi

# Causes of exited processes: each churned process exits with its range
# live, a cause of its own (release and unmap, from exit_group). causes
# retires a reaped process's entries and merges them by cause and comm
# (tools/causes.c), so a causes map smaller than the processes' causes
# still attributes every invalidation. With reclaim off (the control) the
# map fills, and attributed plus lost is still the truth.
causes_churn() {
	local name=$1
	start_tracer "$name" causes -i 1 --no-stacks --map-entries "causes=$3" || return 1
	if ! "$workload" churn --exit-subscribed --iterations "$2" --threads 4 --json \
		>"$work/$name.truth" 2>"$work/$name.workload.err"; then
		fail "hmmtrace-reclaim.$name.workload" "$(tail -c 300 "$work/$name.workload.err")"
		stop_tracer "$name"
		return 1
	fi
	sleep 2
	stop_tracer "$name"
	verdict "hmmtrace-reclaim.$name.attributed-plus-lost" python3 -c 'import json, sys
objects = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
truth = json.load(open(sys.argv[2]))["counters"]["invalidations"]
rows = [row for o in objects for row in o.get("causes", []) if row.get("driver") == "sim_mirror"]
attributed = sum(row["invalidations"] for row in rows)
lost = sum(o["causes_lost"] for o in objects)
print(f"{len(objects)} intervals, {len(rows)} rows: {attributed} attributed + {lost} lost, "
      f"truth {truth} (lost wanted: {sys.argv[3]})")
sys.exit(not (objects and rows and truth > 0 and attributed + lost == truth and
              (lost > 0 if sys.argv[3] == "some" else lost == 0)))
' "$work/$name.json" "$work/$name.truth" "$4"
}

causes_churn causes-churned 2000 1024 none

# Sweeps beside live faults: tracers sweeping at every read (-i 0.2) while
# the race's faults begin, complete and collide. A fault that began after a
# sweep read its clock once looked idle for centuries and was deleted live,
# losing a completion or a collision's withdrawal of one. Two tracers sweep
# the faults hash: top on it (--fault-state hash, the fallback), and retries,
# whose retried faults are published there from task storage. Their counts
# must be sim_mirror's: exactly in the tracepoint modes, else within the
# bounds of test-hmmtrace.sh's race. The sweeps' own count is the positive
# control.
HMMTRACE_SWEEP_SECONDS=0
export HMMTRACE_SWEEP_SECONDS
# Stock kernels infer retries within --retry-gap-ms: as test-hmmtrace.sh's race does under TCG.
gap=()
[ -d /sys/kernel/tracing/events/mmu_notifier ] || gap=(--retry-gap-ms 200)
sweepers=()
start_tracer swept-race top -v -i 0.2 --fault-state hash "${gap[@]}" && sweepers+=(swept-race)
start_tracer swept-race-retries retries -v -i 0.2 "${gap[@]}" && sweepers+=(swept-race-retries)
if [ ${#sweepers[@]} -gt 0 ]; then
	"$workload" race --duration 10 --retry-window-us 2000 --json >"$work/swept-race.truth"
	faults=$(truth "$work/swept-race.truth" faults)
	retries=$(truth "$work/swept-race.truth" retries)
	invalidations=$(($(truth "$work/swept-race.truth" invalidations) + \
		2 * $(truth "$work/swept-race.truth" inserts)))
	echo "# $faults faults, $retries retries"
fi
for name in "${sweepers[@]}"; do
	stop_tracer "$name"
	mode=$(python3 -c 'import json, sys
print(next(json.loads(line)["mode"] for line in open(sys.argv[1]) if line.startswith("{")))' \
		"$work/$name.json" 2>/dev/null)
	exact=false
	exact_mode "$mode" && exact=true
	race_bounds "$exact" "$faults" "$retries" "$invalidations"
	echo "# $name: mode ${mode:-unknown}"
	# top on the hash; retries where bpftool says the mode has task storage.
	store=hash
	[ "$name" = swept-race-retries ] && store=$(expected_fault_state "$mode")
	begins=", \"fault_state.${store:-task}\": \"=intervals\""
	[ "$name" = swept-race ] && begins="$begins, \"read_begins\": $(truth "$work/swept-race.truth" read_begins)"
	compare "$name" sim_mirror "{\"faults_completed\": $completed, \"read_retries\": $retried$begins}"
	# Sweeping at every read: a sweep for each interval written but the first.
	# Interval objects only: retries also writes a line per livelock report.
	intervals=$(grep -c '"interval_s"' "$work/$name.json")
	sweeps=$(sed -n 's/^hmmtrace: reclaim: \([0-9]*\) sweeps.*/\1/p' "$work/$name.err")
	if [ "$intervals" -ge 10 ] && [ "${sweeps:-0}" -ge $((intervals - 1)) ]; then
		pass "hmmtrace-reclaim.$name.swept-throughout"
	else
		fail "hmmtrace-reclaim.$name.swept-throughout" \
			"${sweeps:-no} sweeps in $intervals intervals (wanted one a read): $(grep 'reclaim:' "$work/$name.err")"
	fi
done
unset HMMTRACE_SWEEP_SECONDS

# The positive control, with reclaim off: 5 times as many processes as room.
HMMTRACE_RECLAIM=0
export HMMTRACE_RECLAIM
if churn unreclaimed 640 128 16; then
	verdict hmmtrace-reclaim.control-fills-without-reclaim python3 tests/lab/lost_check.py \
		"$work/unreclaimed.json" "$work/unreclaimed.truth" "$fields" "$counters" stats lost
	# mm_structs are reused, so 640 processes leave only some tens of
	# distinct mms (14 and 39 measured at 4 at a time); 16 alive at once
	# leave at least that many, twice the bound the reclaimed run keeps.
	owners unreclaimed control-owners-kept minimum 8
fi
# 800 processes' 1600 causes, in room for 1024.
causes_churn causes-unreclaimed 800 1024 some
unset HMMTRACE_RECLAIM HMMTRACE_SWEEP_SECONDS

rmmod sim_mirror || fail hmmtrace-reclaim.unload-sim_mirror "rmmod sim_mirror failed"
rm -rf "$work"
