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
# row. The positive control runs fewer processes with reclaim off
# (HMMTRACE_RECLAIM=0): the same map fills, and counted plus lost is still
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

# churn NAME PROCESSES ENTRIES: the tracer NAME, with a stats map of
# ENTRIES, around PROCESSES short-lived processes.
churn() {
	local name=$1 count=$2 began
	start_tracer "$name" top -i 1 --by process --map-entries "stats=$3" || return 1
	began=$(date +%s)
	if ! "$workload" churn --iterations "$count" --threads 4 --json >"$work/$name.truth" \
		2>"$work/$name.workload.err"; then
		fail "hmmtrace-reclaim.$name.workload" "$(tail -c 300 "$work/$name.workload.err")"
		stop_tracer "$name"
		return 1
	fi
	echo "# $count processes in $(($(date +%s) - began)) s"
	sleep 2
	stop_tracer "$name"
}

fields=inserts,read_begins,range_faults,removes
counters=inserts,read_begins,faults,removes
if churn churned "$processes" "$entries"; then
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

# Sweeps beside live faults: top sweeping at every read (-i 0.2) while the
# race's faults begin, complete and collide. A fault that began after a
# sweep read its clock once looked idle for centuries and was deleted live,
# losing a completion or a collision's withdrawal of one. Its counts must be
# sim_mirror's: exactly in the tracepoint modes, else within the bounds of
# test-hmmtrace.sh's race. The sweeps' own count is the positive control.
HMMTRACE_SWEEP_SECONDS=0
export HMMTRACE_SWEEP_SECONDS
if start_tracer swept-race top -v -i 0.2; then
	"$workload" race --duration 10 --retry-window-us 2000 --json >"$work/swept-race.truth"
	stop_tracer swept-race
	faults=$(truth "$work/swept-race.truth" faults)
	retries=$(truth "$work/swept-race.truth" retries)
	invalidations=$(($(truth "$work/swept-race.truth" invalidations) + \
		2 * $(truth "$work/swept-race.truth" inserts)))
	mode=$(python3 -c 'import json, sys
print(next(json.loads(line)["mode"] for line in open(sys.argv[1]) if line.startswith("{")))' \
		"$work/swept-race.json" 2>/dev/null)
	case "$mode" in
	tp_btf | raw_tp) retried=$retries completed=$faults ;;
	*)
		retried="[$retries, $((retries + invalidations))]"
		completed="[\"=$((faults + retries))-read_retries\", $faults]"
		;;
	esac
	echo "# mode ${mode:-unknown}: $faults faults, $retries retries"
	compare swept-race sim_mirror "{\"faults_completed\": $completed,
		\"read_retries\": $retried, \"read_begins\": $(truth "$work/swept-race.truth" read_begins)}"
	sweeps=$(sed -n 's/^hmmtrace: reclaim: \([0-9]*\) sweeps.*/\1/p' "$work/swept-race.err")
	if [ "${sweeps:-0}" -ge 20 ]; then
		pass hmmtrace-reclaim.swept-race.swept-throughout
	else
		fail hmmtrace-reclaim.swept-race.swept-throughout \
			"${sweeps:-no} sweeps reported (wanted at least 20): $(grep 'reclaim:' "$work/swept-race.err")"
	fi
fi
unset HMMTRACE_SWEEP_SECONDS

# The positive control, with reclaim off: 5 times as many processes as room.
HMMTRACE_RECLAIM=0
export HMMTRACE_RECLAIM
if churn unreclaimed 640 128; then
	verdict hmmtrace-reclaim.control-fills-without-reclaim python3 tests/lab/lost_check.py \
		"$work/unreclaimed.json" "$work/unreclaimed.truth" "$fields" "$counters" stats lost
fi
unset HMMTRACE_RECLAIM

rmmod sim_mirror || fail hmmtrace-reclaim.unload-sim_mirror "rmmod sim_mirror failed"
rm -rf "$work"
