# SPDX-License-Identifier: GPL-2.0-only
#
# Sourced by the lab tests that run hmmtrace against sim_mirror's ground
# truth (test-hmmtrace.sh, test-hmmtrace-static.sh), after tests/lib.sh.
# The sourcing script sets:
#
#   hmmtrace   the binary to run
#   work       a directory for each tracer's output (NAME.json, NAME.err, ...)
#
# Tracers run in the caller's working directory; the checkers are found
# beside this file, so the caller may run from anywhere.

hmmtrace_tracers_directory=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# need_sim_mirror PREFIX: hmmtrace, the workload and sim_mirror are built,
# and sim_mirror is loaded; else PREFIX fails, saying which, and the test
# script exits (nothing of it could run).
need_sim_mirror() {
	local prefix=$1 built
	for built in "$hmmtrace" build/tests/sim_mirror_workload \
		"build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko"; do
		if [ ! -f "$built" ]; then
			fail "$prefix" "$built is not built (make hmmtrace test-programs driver)"
			exit 0
		fi
	done
	if ! insmod "build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko" 2>"$work/insmod.err"; then
		fail "$prefix.load-sim_mirror" "$(cat "$work/insmod.err")"
		exit 0
	fi
}

# start_tracer NAME SUBCOMMAND ARGUMENTS...: hmmtrace in the background, back once attached.
start_tracer() {
	local name=$1
	shift
	echo "$1" >"$work/$name.subcommand"
	"$hmmtrace" "$@" --json >"$work/$name.json" 2>"$work/$name.err" &
	echo $! >"$work/$name.pid"
	# Attaching is not timed here; a dozen fentry tracers under TCG take a while.
	for _ in $(seq 900); do
		grep -q 'Ctrl-C to stop' "$work/$name.err" && return 0
		kill -0 "$(cat "$work/$name.pid")" 2>/dev/null || break
		sleep 0.1
	done
	fail "hmmtrace.$name.attaches" "$(kill -0 "$(cat "$work/$name.pid")" 2>/dev/null &&
		echo "not attached after 90 s: ")$(head -c 300 "$work/$name.err")"
	return 1
}

# stop_tracer NAME [SIGNAL]: stop it; it must exit 0.
stop_tracer() {
	local name=$1 signal=${2:-INT} status=0
	kill -"$signal" "$(cat "$work/$name.pid")"
	wait "$(cat "$work/$name.pid")" || status=$?
	if [ "$status" -eq 0 ]; then
		pass "hmmtrace.$name.exits-0-on-sig${signal,,}"
	else
		fail "hmmtrace.$name.exits-0-on-sig${signal,,}" "exited $status: $(tail -c 300 "$work/$name.err")"
	fi
}

# compare NAME DRIVER EXPECTED_JSON: tracer NAME's output against
# EXPECTED_JSON, as tests/lab/hmmtrace_totals.py defines it.
compare() {
	local name=$1 driver=$2 expected=$3
	run_checker "hmmtrace.$name" python3 "$hmmtrace_tracers_directory/hmmtrace_totals.py" "$work/$name.json" \
		"$(cat "$work/$name.subcommand")" "$driver" "$expected"
}

# reported NAME DRIVER KEY: the total of KEY in tracer NAME's output, as
# hmmtrace_totals.py sums it; nothing when it was never reported.
reported() {
	python3 -c '
import sys
sys.path.insert(0, sys.argv[5])
import hmmtrace_totals
keys = hmmtrace_totals.summarize(sys.argv[1], sys.argv[2], sys.argv[3]).keys()
if sys.argv[4] in keys:
    print(keys[sys.argv[4]])' "$work/$1.json" "$(cat "$work/$1.subcommand")" "$2" "$3" \
		"$hmmtrace_tracers_directory" 2>/dev/null
}

# exact_mode MODE: whether MODE observes every event (our tracepoints).
exact_mode() {
	[ "$1" = tp_btf ] || [ "$1" = raw_tp ]
}

# expected_fault_state MODE: where hmmtrace in MODE must keep fault state
# here (task or hash), as bpftool's own probe of the kernel says: task local
# storage where the map type exists and, for raw_tp and kprobe programs,
# their helper list has bpf_task_storage_get (tracing programs, tp_btf and
# fentry, have it with the map type). Empty when bpftool cannot tell. The
# probe is taken once per test, in $work: it loads a program per helper and
# program type, 50 s under TCG on the debug kernel.
expected_fault_state() {
	local features program_type probed
	probed=$work/bpftool-features-$(uname -r)
	if [ ! -s "$probed" ]; then
		bpftool feature probe kernel >"$probed" 2>/dev/null || {
			rm -f "$probed"
			return 0
		}
	fi
	features=$(cat "$probed")
	grep -q 'map_type task_storage is available' <<<"$features" || { echo hash; return 0; }
	case $1 in
	raw_tp) program_type=raw_tracepoint ;;
	kprobe) program_type=kprobe ;;
	*) echo task; return 0 ;;
	esac
	awk -v type="$program_type" '
		/^eBPF helpers supported for program type / { inside = ($NF == type ":") }
		inside && $2 == "bpf_task_storage_get" { found = 1 }
		END { print found ? "task" : "hash" }' <<<"$features"
}

# race_bounds EXACT FAULTS RETRIES INVALIDATIONS: what a race's truth makes
# of read_retries and faults_completed, in retried and completed: exactly
# with the tracepoints (EXACT true); on stock kernels, where read_retry
# collisions are inferred (as many as the truth, plus at most one per
# invalidation), each run's own read_retries bound its completions.
race_bounds() {
	if $1; then
		retried=$3 completed=$2
	else
		retried="[$3, $(($3 + $4))]"
		completed="[\"=$(($2 + $3))-read_retries\", $2]"
	fi
}

# truth FILE COUNTER: COUNTER of the ground truth that sim_mirror_workload
# --json wrote to FILE.
truth() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["counters"][sys.argv[2]])' "$@"
}

# expect_exit_of PREFIX NAME CODE PATTERN COMMAND...: COMMAND exits with CODE
# and says PATTERN on stderr, in one line (PREFIX.NAME is the result).
expect_exit_of() {
	local prefix=$1 name=$2 code=$3 pattern=$4 status=0
	shift 4
	"$@" >/dev/null 2>"$work/$name.err" || status=$?
	if [ "$status" -eq "$code" ] && grep -q -- "$pattern" "$work/$name.err" &&
		[ "$(wc -l <"$work/$name.err")" -eq 1 ]; then
		pass "$prefix.$name"
	else
		fail "$prefix.$name" "exit $status (wanted $code): $(head -c 300 "$work/$name.err")"
	fi
}
