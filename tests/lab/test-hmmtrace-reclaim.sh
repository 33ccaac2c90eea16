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
