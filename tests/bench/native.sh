#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The native figures of `make bench`, taken on the host (the lab is
# emulated): hmmtrace's real handlers and bpftrace's equivalent on one
# carrier, raw_syscalls:sys_enter for getpid(), timed against the same loop
# without them, in alternating rounds. Appends JSON lines (stage "native")
# to $BENCH_OUTPUT; if the host cannot attach, one line says why.

set -euo pipefail
: "${BENCH_OUTPUT:?BENCH_OUTPUT must name the results file}"
. tests/bench/stop-process.sh
carrier=build/bench/carrier
calls=1000000
rounds=7
BENCH_SCALE=${BENCH_SCALE:-full}
if [ "$BENCH_SCALE" = smoke ]; then
	calls=20000
	rounds=3
fi

emit() {
	echo "$1" >>"$BENCH_OUTPUT"
}

# emit_unavailable TRACER HANDLER LOG: why TRACER could not be measured, the
# last lines of its log (libbpf's is many lines, with quotes) as JSON.
emit_unavailable() {
	emit "$(tail -n 4 "$3" | python3 -c 'import json, sys
record = {"stage": "native", "tracer": sys.argv[1]}
if sys.argv[2]:
    record["handler"] = sys.argv[2]
record["unavailable"] = " / ".join(line for line in sys.stdin.read().splitlines() if line.strip()) or "no output"
print(json.dumps(record))' "$1" "$2")"
}

# libbpf attaches the carrier's tracepoint programs by the event's id, and
# bpftrace reads its format: both from tracefs, which a fresh boot may not
# have mounted yet.
[ -d /sys/kernel/tracing/events ] && [ -n "$(ls /sys/kernel/tracing/events)" ] ||
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One interval of `top --by range` in user space, with every row active:
# hmmtrace's model and writers on maps the size of 1k, 10k and 100k live
# subscriptions.
interval_rows="1000 10000 100000"
interval_count=5
[ "$BENCH_SCALE" = smoke ] && interval_rows="1000 10000" && interval_count=2
for rows in $interval_rows; do
	if result=$(build/bench/interval_cost --rows "$rows" --intervals $interval_count 2>"$work/interval.err"); then
		emit "{\"stage\": \"native\", \"measure\": \"interval_cost\", \"result\": $result}"
	else
		emit_unavailable interval_cost "" "$work/interval.err"
	fi
done

# One scrape of `hmmtrace export --by process` in user space: the model
# read and the Prometheus body, with 10, 1k and 10k processes each a series
# of their own, and 10k under the default --max-series (200).
scrape_runs=("10" "1000" "10000" "10000 --max-series 200")
scrape_count=9
[ "$BENCH_SCALE" = smoke ] && scrape_runs=("10" "1000 --max-series 200") && scrape_count=2
for run in "${scrape_runs[@]}"; do
	# shellcheck disable=SC2086 # the run's words are its arguments
	if result=$(build/bench/interval_cost --export --rows $run --intervals $scrape_count 2>"$work/scrape.err"); then
		emit "{\"stage\": \"native\", \"measure\": \"scrape_cost\", \"result\": $result}"
	else
		emit_unavailable scrape_cost "" "$work/scrape.err"
	fi
done

for handler in empty invalidate read_begin; do
	if result=$("$carrier" --handler "$handler" --calls $calls --rounds $rounds 2>"$work/carrier.err"); then
		emit "{\"stage\": \"native\", \"tracer\": \"hmmtrace\", \"result\": $result}"
	else
		emit_unavailable hmmtrace "$handler" "$work/carrier.err"
	fi
done

# Every event's handler, per subcommand, timed by the kernel's own
# accounting (carrier --bpf-stats): what resolves a few nanoseconds. Top
# twice: fault state in task storage (the default), and in the hash that
# kernels without it fall back to.
for run in "top task" "top hash" "latency task" "retries task"; do
	read -r subcommand fault_state <<<"$run"
	if result=$("$carrier" --bpf-stats --subcommand "$subcommand" --fault-state "$fault_state" \
		--calls $calls --rounds $rounds 2>"$work/carrier.err"); then
		emit "{\"stage\": \"native\", \"measure\": \"handler_stats\", \"result\": $result}"
	else
		emit_unavailable hmmtrace "bpf_stats $subcommand $fault_state" "$work/carrier.err"
	fi
done

if ! command -v bpftrace >/dev/null; then
	emit '{"stage": "native", "tracer": "bpftrace", "unavailable": "bpftrace is not installed"}'
	exit 0
fi
for round in $(seq "$rounds"); do
	without=$("$carrier" --loop-only --calls $calls --rounds 1)
	bpftrace tests/bench/carrier.bt >"$work/bpftrace.out" 2>&1 &
	bpftrace_pid=$!
	if ! wait_for_output "$work/bpftrace.out" Attaching "$bpftrace_pid" 30; then
		emit_unavailable bpftrace "" "$work/bpftrace.out"
		kill "$bpftrace_pid" 2>/dev/null || true
		exit 0
	fi
	with=$("$carrier" --loop-only --calls $calls --rounds 1)
	stop_process "$bpftrace_pid"	# the round is already measured
	emit "{\"stage\": \"native\", \"tracer\": \"bpftrace\", \"round\": $round, \"without\": $without, \"with\": $with}"
done
