# SPDX-License-Identifier: GPL-2.0-only
#
# Sourced by the bench scripts. stop_process PID: SIGTERM (a background job
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
