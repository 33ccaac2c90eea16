#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs inside the lab guest for `make bench` (tests/bench/bench.sh boots it):
# one stage of the bench, each measurement one JSON line appended to
# $BENCH_OUTPUT. Everything compared is measured here, side by side, in
# interleaved rounds.
#
#   guest-bench.sh disabled      the microbench with no tracer (patched or stock kernel)
#   guest-bench.sh tracers       the same with each tracer on, interleaved
#   guest-bench.sh scaling       hit and miss latency against the subscription count
#   guest-bench.sh tool          hmmtrace's attach time (in phases), memory and CPU, and
#                                bpftrace's attach time and memory for the same aggregation
#   guest-bench.sh scale         top --by range's memory at 1k-100k subscriptions, and an
#                                export scrape's time at 200-10k series
#   guest-bench.sh export        hmmtrace export's CPU, scraped once a second
#   guest-bench.sh retries       sim_mirror's retries per fault against the race window
#   guest-bench.sh causes        the invalidate handler's run time: top, causes --no-stacks, causes
#
# BENCH_SCALE=smoke shrinks every stage to seconds (make check runs that).

set -euo pipefail
: "${BENCH_OUTPUT:?BENCH_OUTPUT must name the results file}"
. tests/bench/stop-process.sh

stage=$1
bench=build/tests/notifier_bench
hmmtrace=build/hmmtrace
workload=build/tests/sim_mirror_workload
smoke=false
[ "${BENCH_SCALE:-full}" = smoke ] && smoke=true
repeat=5
$smoke && repeat=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

insmod "build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko"
trap 'rmmod sim_mirror 2>/dev/null; rm -rf "$work"' EXIT

emit() {
	echo "$1" >>"$BENCH_OUTPUT"
}

# wait_for_attach FILE [PATTERN]: until hmmtrace (or bpftrace) says it is
# tracing, or says PATTERN.
wait_for_attach() {
	for _ in $(seq 600); do
		if [ $# -gt 1 ]; then
			grep -q -e "$2" "$1" 2>/dev/null && return 0
		else
			grep -q -e 'Ctrl-C' -e 'Attaching' "$1" 2>/dev/null && return 0
		fi
		sleep 0.05
	done
	echo "guest-bench: the tracer did not attach: $(head -c 300 "$1")" >&2
	return 1
}

# The tracers of the events-on comparison: start_TRACER, and stop_tracer.
start_tracer() {
	local tracer=$1
	tracer_pid=
	case $tracer in
	none) return 0 ;;
	hmmtrace) "$hmmtrace" top --json -i 3600 >"$work/top.json" 2>"$work/tracer.err" & ;;
	# The other modes, the same aggregation: hmmtrace-MODE.
	hmmtrace-*)
		"$hmmtrace" top --mode "${tracer#hmmtrace-}" --json -i 3600 >"$work/top.json" \
			2>"$work/tracer.err" &
		;;
	snoop) "$hmmtrace" snoop --json -i 3600 >"$work/snoop.json" 2>"$work/tracer.err" & ;;
	bpftrace) bpftrace tests/bench/aggregate.bt >"$work/tracer.err" 2>&1 & ;;
	perf)
		perf record -q -a -o "$work/perf.data" -e 'mmu_notifier:*' >/dev/null 2>"$work/tracer.err" &
		tracer_pid=$!
		sleep 2
		return 0
		;;
	ftrace)
		echo 0 >/sys/kernel/tracing/tracing_on
		echo >/sys/kernel/tracing/trace
		echo 1 >/sys/kernel/tracing/events/mmu_notifier/enable
		echo 1 >/sys/kernel/tracing/tracing_on
		return 0
		;;
	esac
	tracer_pid=$!
	wait_for_attach "$work/tracer.err" || return 1
	# bpftrace says "Attaching" long before, under TCG, its program is on
	# the tracepoint: wait until the kernel shows it there.
	if [ "$tracer" = bpftrace ]; then
		for _ in $(seq 600); do
			bpftool perf list 2>/dev/null |
				grep -q "pid $tracer_pid .*mmu_interval_notifier_invalidate" && return 0
			sleep 0.1
		done
		echo "guest-bench: bpftrace never attached to the tracepoint" >&2
		return 1
	fi
}

stop_tracer() {
	local tracer=$1
	case $tracer in
	none) ;;
	ftrace)
		echo 0 >/sys/kernel/tracing/events/mmu_notifier/enable
		echo >/sys/kernel/tracing/trace
		;;
	*)
		stop_process "$tracer_pid"
		;;
	esac
}

case $stage in
disabled)
	operations=20000
	$smoke && operations=200
	# Under icount the clock counts instructions and a process's rounds agree
	# to 0.1 %, but remap and fault have modes some percent apart from one
	# process to the next (where the mapping lands; a fault waits for an
	# engine, a kworker on any CPU): several processes per boot. All stay on
	# CPU 0, since remap cost 7 % more on CPU 1, the other NUMA node.
	processes=1
	[ "${BENCH_CLOCK:-wall}" = instructions ] && ! $smoke && processes=3
	for process in $(seq "$processes"); do
		emit "{\"stage\": \"disabled\", \"kernel\": \"$KERNEL_VARIANT\", \"clock\": \"${BENCH_CLOCK:-wall}\", \"process\": $process, \"result\": $(taskset -c 0 "$bench" --subscriptions 64 --operations $operations --repeat $repeat)}"
	done
	;;
tracers)
	operations=20000
	$smoke && operations=200
	# hmmtrace is the first mode that works, tp_btf here; the other modes
	# beside it, for their ratio to it in the same boot.
	tracers=(none hmmtrace hmmtrace-raw_tp hmmtrace-fentry hmmtrace-kprobe snoop bpftrace perf ftrace)
	# Rounds rotate the order, so no tracer always runs first or last.
	for round in $(seq 0 $((repeat - 1))); do
		for index in "${!tracers[@]}"; do
			tracer=${tracers[$(((index + round) % ${#tracers[@]}))]}
			if ! start_tracer "$tracer"; then
				stop_tracer "$tracer"
				emit "{\"stage\": \"tracers\", \"round\": $round, \"tracer\": \"$tracer\", \"failed\": \"did not attach\"}"
				continue
			fi
			result=$("$bench" --subscriptions 64 --operations $operations --repeat 1 --only hit)
			# bpftrace prints its counts each second: let it print the final ones.
			[ "$tracer" != bpftrace ] || sleep 1.5
			stop_tracer "$tracer"
			# What the tracer saw, to check it against the driver's count.
			seen=null
			case $tracer in
			snoop) seen=$(python3 tests/bench/seen.py snoop "$work/snoop.json") ;;
			hmmtrace*) seen=$(python3 tests/bench/seen.py top "$work/top.json") ;;
			bpftrace) seen=$(python3 tests/bench/seen.py bpftrace "$work/tracer.err") ;;
			esac
			emit "{\"stage\": \"tracers\", \"round\": $round, \"tracer\": \"$tracer\", \"seen\": $seen, \"result\": $result}"
		done
	done
	;;
scaling)
	counts=(1 10 100 1000 10000 100000)
	$smoke && counts=(1 10)
	# Discarded: the first run after the tracers stage was up to 2x slower
	# in every operation (TCG translating cold paths, tracers' exit work).
	"$bench" --subscriptions 1 --operations 2000 --repeat 1 >/dev/null
	for count in "${counts[@]}"; do
		# One process per count: registering 100k subscriptions takes a while under TCG.
		emit "{\"stage\": \"scaling\", \"result\": $("$bench" --subscriptions "$count" --operations 2000 --repeat $repeat)}"
	done
	;;
tool)
	storm_operations=400000
	$smoke && storm_operations=2000
	# Each round: hmmtrace, then bpftrace doing the same aggregation
	# (tests/bench/aggregate.bt), each from its start until its probes are
	# live, and its peak memory over the same storm.
	for round in $(seq 0 $((repeat - 1))); do
		# The attach's phases from -v, in a run of its own: -v also prints
		# libbpf's debug log, which would slow the timed run below.
		"$hmmtrace" top -v -i 1 >/dev/null 2>"$work/phases.err" &
		pid=$!
		wait_for_attach "$work/phases.err" 'Ctrl-C' || exit 1
		stop_process "$pid"
		phases=$(python3 tests/bench/attach_phases.py "$work/phases.err") || exit 1
		began=$(date +%s%N)
		# As it is used: one table a second.
		"$hmmtrace" top -i 1 >/dev/null 2>"$work/tool.err" &
		pid=$!
		wait_for_attach "$work/tool.err"
		attached=$(date +%s%N)
		# CPU over 3 s idle, then over a storm; utime+stime in clock ticks.
		ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
		idle_began=$(ticks)
		sleep 3
		idle_ticks=$(($(ticks) - idle_began))
		storm_began=$(ticks)
		storm_clock=$(date +%s%N)
		# Long enough for the 100 Hz tick count to mean something (seconds).
		storm=$("$bench" --subscriptions 64 --operations $storm_operations --repeat 1 --only hit)
		storm_ticks=$(($(ticks) - storm_began))
		storm_ns=$(($(date +%s%N) - storm_clock))
		rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
		kill -INT "$pid"
		wait "$pid"
		emit "{\"stage\": \"tool\", \"round\": $round, \"attach_ms\": $(((attached - began) / 1000000)), \"phases_ms\": $phases, \"rss_kib\": $rss, \"ticks_per_second\": $(getconf CLK_TCK), \"idle_ticks\": $idle_ticks, \"idle_seconds\": 3, \"storm_ticks\": $storm_ticks, \"storm_ns\": $storm_ns, \"storm\": $storm}"

		began=$(date +%s%N)
		start_tracer bpftrace || exit 1
		attached=$(date +%s%N)
		"$bench" --subscriptions 64 --operations $storm_operations --repeat 1 --only hit >/dev/null
		rss=$(awk '/VmHWM/ {print $2}' "/proc/$tracer_pid/status")
		stop_tracer bpftrace
		emit "{\"stage\": \"tool-bpftrace\", \"round\": $round, \"attach_ms\": $(((attached - began) / 1000000)), \"rss_kib\": $rss}"
	done
	;;
scale)
	# What grows with the subscriptions: top --by range's peak memory with
	# 1k, 10k and 100k held (one row each), and one export scrape's time in
	# user space (tests/bench/interval_cost.c: the model and the Prometheus
	# writer on real maps) at about 200, 1k and 10k series (1, 9 and 88
	# groups of some 113 series).
	for groups in 1 9 88; do
		result=$(build/bench/interval_cost --export --rows "$groups" --intervals $($smoke && echo 2 || echo 10) 2>"$work/scrape.err") ||
			{ echo "guest-bench: interval_cost: $(head -c 300 "$work/scrape.err")" >&2; exit 1; }
		emit "{\"stage\": \"scrape\", \"result\": $result}"
	done
	subscription_counts=(1000 10000 100000)
	$smoke && subscription_counts=(100)
	for count in "${subscription_counts[@]}"; do
		"$hmmtrace" top --by range -i 1 --json >"$work/scale.json" 2>"$work/scale.err" &
		pid=$!
		wait_for_attach "$work/scale.err" || exit 1
		"$workload" many-ranges --ranges "$count" --hold-seconds 8 >/dev/null 2>"$work/many.err" &
		workload_pid=$!
		# Registering 100k ranges takes minutes under TCG.
		wait_for_output "$work/many.err" holding "$workload_pid" 300 ||
			{ echo "guest-bench: many-ranges never held its ranges: $(head -c 300 "$work/many.err")" >&2; exit 1; }
		wait "$workload_pid" || { echo "guest-bench: many-ranges failed" >&2; exit 1; }
		# The peak so far: every range was in the map for the hold's 8 s.
		rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
		kill -INT "$pid"
		wait "$pid"
		# The distinct rows over the intervals: an interval shows the ranges active in it.
		rows=$(python3 -c '
import json, sys
print(len({row["group"] for line in open(sys.argv[1]) if line.startswith("{")
           for row in json.loads(line).get("rows", [])}))' "$work/scale.json")
		emit "{\"stage\": \"scale\", \"subscriptions\": $count, \"rows\": $rows, \"rss_kib\": $rss}"
	done
	;;
export)
	# hmmtrace export as Prometheus uses it, scraped once a second (by
	# scraper.py, whose own CPU is not counted): the exporter's CPU
	# (utime+stime) over an idle window, then over the tool stage's storm
	# (seconds long: several scrapes). One exporter for every round, as a
	# fleet runs it for days.
	storm_operations=400000
	idle_seconds=5
	$smoke && storm_operations=2000 idle_seconds=2
	# The guest boots with its loopback down.
	ip link set lo up
	"$hmmtrace" export --listen 127.0.0.1:9476 >/dev/null 2>"$work/export.err" &
	pid=$!
	if ! wait_for_attach "$work/export.err" 'exporting on'; then
		stop_process "$pid"
		exit 1
	fi
	: >"$work/scrapes.log"
	python3 tests/bench/scraper.py http://127.0.0.1:9476/metrics "$work/scrapes.log" &
	scraper_pid=$!
	# Python takes seconds to start under TCG: the rounds begin at its first scrape.
	for _ in $(seq 600); do
		[ -s "$work/scrapes.log" ] && break
		sleep 0.1
	done
	if [ ! -s "$work/scrapes.log" ]; then
		echo "guest-bench: no scrape within 60 s" >&2
		stop_process "$scraper_pid"
		stop_process "$pid"
		exit 1
	fi
	ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
	# scrapes BEGAN END: the scrapes that began between the two clocks and got a body.
	scrapes() { awk -v began="$1" -v end="$2" '$1 >= began && $1 <= end && $2 != "failed"' \
		"$work/scrapes.log" | wc -l; }
	for round in $(seq 0 $((repeat - 1))); do
		idle_began=$(ticks)
		idle_clock=$(date +%s%N)
		sleep "$idle_seconds"
		idle_ticks=$(($(ticks) - idle_began))
		idle_end=$(date +%s%N)
		storm_began=$(ticks)
		storm_clock=$(date +%s%N)
		storm=$("$bench" --subscriptions 64 --operations $storm_operations --repeat 1 --only hit)
		storm_ticks=$(($(ticks) - storm_began))
		storm_end=$(date +%s%N)
		emit "{\"stage\": \"export\", \"round\": $round, \"ticks_per_second\": $(getconf CLK_TCK), \"idle_ticks\": $idle_ticks, \"idle_ns\": $((idle_end - idle_clock)), \"idle_scrapes\": $(scrapes "$idle_clock" "$idle_end"), \"storm_ticks\": $storm_ticks, \"storm_ns\": $((storm_end - storm_clock)), \"storm_scrapes\": $(scrapes "$storm_clock" "$storm_end"), \"body_lines\": $(awk '$2 != "failed" {lines = $2} END {print lines + 0}' "$work/scrapes.log"), \"storm\": $storm}"
	done
	stop_process "$scraper_pid"
	failed=$(awk '$2 == "failed"' "$work/scrapes.log" | wc -l)
	status=0
	kill -TERM "$pid"
	wait "$pid" || status=$?
	if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
		echo "guest-bench: the exporter exited with $status; $failed scrapes failed: $(grep -m 1 ' failed' "$work/scrapes.log"; tail -n 2 "$work/export.err")" >&2
		exit 1
	fi
	;;
causes)
	# What attributing causes costs an invalidation, by the kernel's own
	# per-program accounting (kernel.bpf_stats_enabled: run_time_ns over
	# run_cnt of the invalidate handler), in interleaved rounds of top,
	# causes without stacks and causes, each on the same storm.
	sysctl -qw kernel.bpf_stats_enabled=1
	iterations=20
	$smoke && iterations=2
	for round in $(seq 0 $((repeat - 1))); do
		for configuration in top causes-without-stacks causes; do
			case $configuration in
			top) arguments=(top) ;;
			causes-without-stacks) arguments=(causes --no-stacks) ;;
			causes) arguments=(causes) ;;
			esac
			"$hmmtrace" "${arguments[@]}" -i 3600 >/dev/null 2>"$work/causes.err" &
			pid=$!
			if ! wait_for_attach "$work/causes.err"; then
				stop_process "$pid"
				exit 1
			fi
			"$workload" storm --ranges 16 --iterations "$iterations" >/dev/null
			runs=$(bpftool -j prog show | python3 -c 'import json, sys
for program in json.load(sys.stdin):
    if program.get("name") == "tp_mmu_interval_notifier_invalidate" and program.get("run_cnt"):
        print(program["run_cnt"], program["run_time_ns"])')
			stop_process "$pid"
			[ -n "$runs" ] || { echo "guest-bench: no run time for the invalidate handler" >&2; exit 1; }
			emit "{\"stage\": \"causes\", \"round\": $round, \"configuration\": \"$configuration\", \"runs\": ${runs% *}, \"run_time_ns\": ${runs#* }}"
		done
	done
	sysctl -qw kernel.bpf_stats_enabled=0
	;;
retries)
	windows=(0 100 500 1000 2000)
	$smoke && windows=(0 1000)
	for threads in 1 2; do
		for window in "${windows[@]}"; do
			result=$("$workload" race --duration "$($smoke && echo 1 || echo 2)" --threads "$threads" \
				--retry-window-us "$window" --json)
			emit "{\"stage\": \"retries\", \"threads\": $threads, \"window_us\": $window, \"result\": $result}"
		done
	done
	;;
soak)
	# top --by process and the exporter side by side for SOAK_SECONDS (10
	# minutes; 30 s in the smoke), while short-lived processes come and go
	# with storms, COW faults and exits throughout: tests/bench/soak.py
	# samples their memory, descriptors, map entries and the links, and
	# checks that no exported counter goes down.
	seconds=${SOAK_SECONDS:-600}
	every=30
	$smoke && seconds=30 every=10
	ip link set lo up
	"$hmmtrace" top --by process --json -i 10 >"$work/soak-top.json" 2>"$work/soak-top.err" &
	top_pid=$!
	"$hmmtrace" export --listen 127.0.0.1:9477 >/dev/null 2>"$work/soak-export.err" &
	export_pid=$!
	if ! wait_for_attach "$work/soak-top.err" || ! wait_for_attach "$work/soak-export.err" 'exporting on'; then
		stop_process "$top_pid"
		stop_process "$export_pid"
		exit 1
	fi
	# The churn: one new process after another, each its own group, until
	# the stop file appears (a killed loop would leave its last workload
	# running). Each round's failures are counted, not hidden.
	(
		rounds=0 failures=0
		while [ ! -e "$work/stop-churn" ]; do
			for scenario in "storm --ranges 4 --pages 128 --iterations 10" \
				"fork-cow --ranges 2 --pages 256" "churn --iterations 20 --threads 4"; do
				# shellcheck disable=SC2086 # the scenario is its words
				"$workload" $scenario >/dev/null 2>>"$work/churn.err" || failures=$((failures + 1))
			done
			rounds=$((rounds + 1))
		done
		echo "$rounds $failures" >"$work/churn.counts"
	) &
	churn_pid=$!
	soak_status=0
	python3 tests/bench/soak.py --seconds "$seconds" --every "$every" \
		--metrics http://127.0.0.1:9477/metrics --output "$BENCH_OUTPUT" \
		top="$top_pid" export="$export_pid" || soak_status=$?
	touch "$work/stop-churn"
	wait "$churn_pid" || true
	stop_process "$top_pid"
	stop_process "$export_pid"
	churn_rounds=0 churn_failures=-1
	read -r churn_rounds churn_failures <"$work/churn.counts" || true
	intervals=$(grep -c . "$work/soak-top.json" || true)
	emit "{\"stage\": \"soak-top\", \"intervals\": ${intervals:-0}, \"churn_rounds\": $churn_rounds, \"churn_failures\": $churn_failures}"
	if [ "$soak_status" -ne 0 ]; then
		echo "guest-bench: the soak ended early: $(tail -n 2 "$work/soak-top.err" "$work/soak-export.err")" >&2
		exit 1
	fi
	if [ "$churn_failures" -ne 0 ] || [ "$churn_rounds" -eq 0 ]; then
		echo "guest-bench: the churn failed $churn_failures times in $churn_rounds rounds: $(tail -n 2 "$work/churn.err")" >&2
		exit 1
	fi
	;;
*)
	echo "guest-bench: unknown stage $stage" >&2
	exit 2
	;;
esac
