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

# run_test_script SCRIPT: run one test script. One that exits non-zero
# without reporting a failure still fails, so a crash is never silent.
run_test_script() {
	local script=$1 failures_before status
	failures_before=$(grep -c '^FAIL' "$HMMTRACE_RESULTS")
	bash "$script"
	status=$?
	if [ $status -ne 0 ] && [ "$(grep -c '^FAIL' "$HMMTRACE_RESULTS")" -eq "$failures_before" ]; then
		fail "$(basename "$script")" "exited with status $status"
	fi
}

# A mistyped command (127) or a malformed test or grep (2) is a bug in the
# test; without this it could pass by doing nothing.
set -o errtrace
trap 'test_bug_status=$?; if [ $test_bug_status -eq 127 ] || [ $test_bug_status -eq 2 ]; then fail "$(basename "$0"):$LINENO" "\"$BASH_COMMAND\" exited with status $test_bug_status"; fi' ERR
