# SPDX-License-Identifier: GPL-2.0-only
#
# Sourced by the bench scripts: starting and stopping processes.
#
# stop_process PID: SIGTERM (a background job
# of a script starts with SIGINT ignored), then SIGKILL after 10 s: a tracer
# that hangs on exit (bpftrace does, under TCG) costs 10 s, not the bench.
stop_process() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# wait_for_output FILE PATTERN PID SECONDS: until FILE has PATTERN, PID
# exits or SECONDS pass; returns whether FILE has PATTERN.
wait_for_output() {
	local file=$1 pattern=$2 pid=$3 seconds=$4
	for _ in $(seq $((seconds * 10))); do
		grep -q -e "$pattern" "$file" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q -e "$pattern" "$file" 2>/dev/null
}
