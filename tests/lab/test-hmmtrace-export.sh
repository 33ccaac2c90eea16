#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace export against a real Prometheus (Debian's), both in the guest on
# its loopback: Prometheus scrapes the exporter and evaluates
# dashboards/prometheus/hmmtrace-rules.yml every second while sim_mirror runs
# storm, race and livelock, with `hmmtrace top` beside the exporter. Then
# tests/lab/prometheus_check.py asks Prometheus' HTTP API whether the
# counters equal the workloads' ground truth (exactly; in stock modes the
# inferred ones within test-hmmtrace.sh's bounds) and what top saw, whether
# every expression of the rules and the dashboard has samples, whether the
# livelock alert fired after the livelock and never during storm or race,
# and whether any counter was reset; and asks the exporter for 20 bodies at
# once and for one scrape beside stalled clients. Here: the port in use
# (exit 9, one line) and SIGTERM (exit 0, no BPF link left).
#
# Skipped without /usr/bin/prometheus (Debian's prometheus package).
#
#   HMMTRACE=PATH   test that binary instead of build/hmmtrace

. tests/lib.sh

hmmtrace=${HMMTRACE:-build/hmmtrace}
workload=build/tests/sim_mirror_workload
work=$(mktemp -d)
exporter_address=127.0.0.1:9476
prometheus_port=9090
rules=$PWD/dashboards/prometheus/hmmtrace-rules.yml
. tests/lab/hmmtrace_tracers.sh
. tests/lab/prometheus_server.sh

if [ ! -x "$hmmtrace" ]; then
	fail export "$hmmtrace is not built (make hmmtrace)"
	exit 0
fi
if [ ! -x "$prometheus_binary" ] || ! command -v promtool >/dev/null; then
	skip export "$prometheus_binary or promtool is missing (Debian's prometheus package, make deps)"
	exit 0
fi
if [ ! -f "$rules" ]; then
	fail export "$rules is missing"
	exit 0
fi
if ! "$hmmtrace" export --help >/dev/null 2>&1; then
	fail export "$hmmtrace has no export subcommand"
	exit 0
fi

# Without our tracepoints hmmtrace infers read_retries within
# --retry-gap-ms of the last hmm_range_fault(); under TCG a woken kworker can
# take longer than the default 10 ms to go round (as in test-hmmtrace.sh).
gap=()
[ -d /sys/kernel/tracing/events/mmu_notifier ] || gap=(--retry-gap-ms 200)

ip link set lo up
links_before=$(bpf_links)
insmod "build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko"

# start_exporter: hmmtrace export in the background, back once it serves.
# Its livelock threshold is 500 ms, not 100: under TCG, on a loaded host,
# race's writers can hold a fault retrying past 100 ms (seen on Debian's 6.1),
# while the livelock scenario's stalls last the 1000 ms HMM timeout.
start_exporter() {
	"$hmmtrace" export --listen "$exporter_address" --livelock-ms 500 "${gap[@]}" >"$work/export.out" 2>"$work/export.err" &
	exporter_pid=$!
	for _ in $(seq 900); do
		grep -q 'exporting on' "$work/export.err" && return 0
		kill -0 "$exporter_pid" 2>/dev/null || break
		sleep 0.1
	done
	fail export.serves "$(head -c 300 "$work/export.err")"
	return 1
}

# phase NAME ARGUMENTS...: one workload, its ground truth in NAME.truth and
# its start and end, on the guest's clock, in phases.
phase() {
	local name=$1 started status=0
	shift
	started=$EPOCHREALTIME
	"$workload" "$name" "$@" --json >"$work/$name.truth" || status=$?
	echo "$name $started $EPOCHREALTIME" >>"$work/phases"
	[ "$status" -eq 0 ] || fail "export.$name-workload" "exited $status: $(head -c 300 "$work/$name.truth")"
}

# wait_for_scrape_after TIME: until Prometheus holds a scrape that began
# after TIME (unix seconds); at most 30 s.
wait_for_scrape_after() {
	local scraped
	for _ in $(seq 300); do
		scraped=$(prometheus_get '/api/v1/query?query=timestamp%28hmmtrace_info%29' |
			sed -n 's/.*"value":\[[0-9.]*,"\([0-9.]*\)"\].*/\1/p')
		[ -n "$scraped" ] && awk -v scraped="$scraped" -v after="$1" 'BEGIN { exit !(scraped > after) }' &&
			return 0
		sleep 0.1
	done
	fail export.scraped-between-phases "no scrape after $1 within 30 s"
}

run_phases() {
	# Prometheus' first scrape comes some 6 s after it is ready (its
	# target discovery batches updates every 5 s); it must precede the
	# first workload, so that every phase's range holds samples.
	for _ in $(seq 600); do
		prometheus_get '/api/v1/query?query=up' | grep -q '"value":\[[0-9.]*,"1"\]' && break
		sleep 0.1
	done
	if ! prometheus_get '/api/v1/query?query=up' | grep -q '"value":\[[0-9.]*,"1"\]'; then
		fail export.scraped "Prometheus never scraped $exporter_address: $(tail -c 300 "$work/prometheus/prometheus.log")"
		return 1
	fi
	pass export.scraped
	phase storm --iterations 3
	phase race --duration 2 --retry-window-us 2000
	# Stock modes' inferred counts are bounded for storm and race, as in
	# test-hmmtrace.sh, not for the livelock's stalls: the checker reads
	# them from the last scrape before the livelock, so one must come first.
	wait_for_scrape_after "$(tail -n 1 "$work/phases" | cut -d' ' -f3)"
	phase livelock --duration 3
	# The port in use: one line and exit 9, before anything is attached.
	local status=0
	"$hmmtrace" export --listen "$exporter_address" >/dev/null 2>"$work/in-use.err" || status=$?
	if [ "$status" -eq 9 ] && [ "$(wc -l <"$work/in-use.err")" -eq 1 ] &&
		grep -q "cannot listen on $exporter_address" "$work/in-use.err"; then
		pass export.exit.port-in-use
	else
		fail export.exit.port-in-use "exit $status (wanted 9): $(head -c 300 "$work/in-use.err")"
	fi
	run_checker export python3 tests/lab/prometheus_check.py "$work" "$prometheus_url" "http://$exporter_address"
}

# Prometheus starts while the exporter attaches: both take seconds under TCG.
prometheus_launch "$work/prometheus" "$prometheus_port" "$exporter_address" "$rules"
if start_exporter; then
	links_while=$(bpf_links)
	if start_tracer top top "${gap[@]}"; then
		if prometheus_wait_ready; then
			echo "prometheus ready $prometheus_ready_seconds s after its start (the exporter attached meanwhile)"
			run_phases
		else
			fail export.prometheus-starts "$(tail -c 300 "$work/prometheus/prometheus.log")"
		fi
		stop_tracer top
	fi
	kill -TERM "$exporter_pid"
	status=0
	wait "$exporter_pid" || status=$?
	if [ "$status" -eq 0 ]; then
		pass export.exits-0-on-sigterm
	else
		fail export.exits-0-on-sigterm "exited $status: $(tail -c 300 "$work/export.err")"
	fi
	check_links_released export.sigterm-detaches-every-link "$links_before" "$links_while" 1 "$(bpf_links)"
fi
prometheus_stop
rmmod sim_mirror
rm -rf "$work"
