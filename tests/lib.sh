# SPDX-License-Identifier: GPL-2.0-only
#
# Sourced by every test script. A result is one line in $HMMTRACE_RESULTS
# (status, name, reason, tab-separated); tests/run-tests.sh counts only those
# lines, so a test that reports nothing counts as nothing.
#
#   pass NAME            the outcome was checked and held
#   fail NAME REASON     it did not hold
#   skip NAME REASON     it could not run here (never counted as passed)
#   xfail NAME REASON    a known failure with a known cause; counted as skipped
#                        and listed apart, never as passed

: "${HMMTRACE_RESULTS:?HMMTRACE_RESULTS must name the results file}"

# HMMTRACE_RESULT_PREFIX tells apart the same test run on another kernel.
record_result() {
	local status=$1 name=${HMMTRACE_RESULT_PREFIX:-}$2 reason=${3:-}
	reason=${reason//$'\t'/ }
	reason=${reason//$'\n'/ }
	printf '%s\t%s\t%s\n' "$status" "$name" "$reason" >>"$HMMTRACE_RESULTS"
	if [ -n "$reason" ]; then
		printf '%-5s %s: %s\n' "$status" "$name" "$reason"
	else
		printf '%-5s %s\n' "$status" "$name"
	fi
}

pass() { record_result PASS "$1"; }
fail() { record_result FAIL "$1" "${2:-}"; }
skip() { record_result SKIP "$1" "${2:-}"; }
xfail() { record_result XFAIL "$1" "${2:-}"; }

# check NAME COMMAND...: pass when COMMAND succeeds, fail with its output.
check() {
	local name=$1 output
	shift
	if output=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(printf '%s' "$output" | tail -n 3)"
	fi
}

# verdict NAME COMMAND...: pass when COMMAND succeeds; what it printed is
# shown either way, so the figures of a pass are in the log too.
verdict() {
	local name=$1 output status=0
	shift
	output=$("$@" 2>&1) || status=$?
	echo "# $name: $output"
	if [ "$status" -eq 0 ]; then
		pass "$name"
	else
		fail "$name" "$(printf '%s' "$output" | tail -n 2)"
	fi
}

# run_checker PREFIX COMMAND...: run a checker that prints one result a line,
# "STATUS<TAB>NAME<TAB>REASON" (PASS, FAIL, SKIP or XFAIL), and record each as
# PREFIX.NAME (NAME alone when PREFIX is empty). Its output goes to a file,
# not into a pipe, so no result is lost in a subshell; a checker that exits
# non-zero (a traceback), prints a line of another shape or no result at all
# is a failure of PREFIX.checker (of SCRIPT.checker without a PREFIX), with
# the end of what it said.
run_checker() {
	local prefix=$1 output errors status=0 result name reason results=0 malformed=0
	shift
	output=$(mktemp) errors=$(mktemp)
	"$@" >"$output" 2>"$errors" || status=$?
	while IFS=$'\t' read -r result name reason; do
		case $result in
		PASS) pass "${prefix:+$prefix.}$name" ;;
		FAIL | SKIP | XFAIL) record_result "$result" "${prefix:+$prefix.}$name" "$reason" ;;
		*)
			[ -z "$result$name$reason" ] || malformed=$((malformed + 1))
			continue
			;;
		esac
		results=$((results + 1))
	done <"$output"
	if [ "$status" -ne 0 ] || [ "$malformed" -gt 0 ] || [ "$results" -eq 0 ]; then
		fail "${prefix:-$(basename "$0")}.checker" \
			"$1 exited with status $status after $results results and $malformed malformed lines: $(tail -n 3 "$errors")"
	fi
	rm -f "$output" "$errors"
}

# bpf_links: how many BPF links exist, from `bpftool -j link list`; nothing
# at all when bpftool fails or prints anything but a list, so that a link
# count is never a zero made of a failure.
bpf_links() {
	bpftool -j link list 2>/dev/null | python3 -c '
import json, sys
links = json.load(sys.stdin)
if isinstance(links, list):
    print(len(links))' 2>/dev/null
}

# check_links_released NAME BEFORE WHILE TRACERS AFTER: bpf_links counts taken
# before any tracer started, while TRACERS tracers ran (the positive control:
# at least one link each) and after all had stopped, which must equal BEFORE.
check_links_released() {
	local name=$1 before=$2 while_tracing=$3 tracers=$4 after=$5
	if [ -z "$before" ] || [ -z "$while_tracing" ] || [ -z "$after" ]; then
		fail "$name" "bpftool -j link list failed or printed no list (before: '$before', while tracing: '$while_tracing', after: '$after')"
	elif [ "$while_tracing" -lt $((before + tracers)) ]; then
		fail "$name" "$tracers tracers showed $while_tracing links, $before before them: the count does not see their links"
	elif [ "$after" -ne "$before" ]; then
		fail "$name" "$before links before the tracers, $after after them"
	else
		pass "$name"
	fi
}

# run_test_script SCRIPT: run one test script. One that exits non-zero
# without reporting a failure still fails, so a crash is never silent.
# HMMTRACE_XTRACE=GLOB traces the scripts whose name (without .sh) matches
# it, each command with its time and function depth, into build/xtrace/
# (host-NAME.log, or KERNEL_VARIANT-[PREFIX-]NAME.log in the lab, PREFIX
# being the results' prefix beyond the kernel's, as the sanitized run of
# test-hmmtrace has): where a slow test spends its time
# (tests/xtrace-report.py sums it).
run_test_script() {
	local script=$1 failures_before status name log prefix
	failures_before=$(grep -c '^FAIL' "$HMMTRACE_RESULTS")
	name=$(basename "$script" .sh)
	if [ -n "${HMMTRACE_XTRACE:-}" ] && [[ $name == $HMMTRACE_XTRACE ]]; then
		if [ -n "${LAB_RUN_DIR:-}" ]; then
			prefix=${HMMTRACE_RESULT_PREFIX:-}
			prefix=${prefix#"${KERNEL_VARIANT:-patched}:"}
			log=${KERNEL_VARIANT:-patched}-${prefix//:/-}$name.log
		else
			log=host-$name.log
		fi
		# PS4 is set inside: bash takes none from the environment of root.
		# The trace goes to a local file first: the lab's build/ is 9p,
		# which writes each line through to the host. `set --` leaves the
		# script its own empty arguments.
		mkdir -p build/xtrace
		bash -c 'PS4="+ \$EPOCHREALTIME \${#FUNCNAME[@]} "; exec 9>"$1"; BASH_XTRACEFD=9
			set -- && set -x && . "$0"' "$script" "/tmp/xtrace-$name.log"
		status=$?
		mv "/tmp/xtrace-$name.log" "build/xtrace/$log"
	else
		bash "$script"
		status=$?
	fi
	if [ $status -ne 0 ] && [ "$(grep -c '^FAIL' "$HMMTRACE_RESULTS")" -eq "$failures_before" ]; then
		fail "$(basename "$script")" "exited with status $status"
	fi
}

# A mistyped command (127) or a malformed test or grep (2) is a bug in the
# test; without this it could pass by doing nothing.
set -o errtrace
trap 'test_bug_status=$?; if [ $test_bug_status -eq 127 ] || [ $test_bug_status -eq 2 ]; then fail "$(basename "$0"):$LINENO" "\"$BASH_COMMAND\" exited with status $test_bug_status"; fi' ERR
