#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace built with AddressSanitizer, LeakSanitizer and
# UndefinedBehaviorSanitizer (make hmmtrace SANITIZE=1), through
# tests/lab/test-hmmtrace.sh's checks in this kernel's first mode (every
# invocation there: the bad input, the storm's four tracers at once, the
# filters and groupings, the race, the livelock report, the automatic
# choice, test_hmm), then through the argv fuzzer
# (tests/host/hmmtrace_argv_fuzz.py) as root, where valid invocations
# attach and trace. The suite's results count again, prefixed
# "sanitized:"; a sanitizer report fails, named by its invocation.
#
# Reports go to stderr, which the suite keeps per invocation
# (HMMTRACE_WORK): NAME.err of each tracer and bad-input check, which the
# scan reads after it, naming the invocation by its file. The positive
# controls come first, in this guest: the binary is instrumented and ASan's
# runtime runs in it, and a program built with the same flags has a leak
# (LeakSanitizer stops threads with ptrace: root here), a heap overflow and
# a signed overflow each reported and found. The scan fails on no stderr
# log at all.

. tests/lib.sh

binary=build/sanitize/hmmtrace
control=build/sanitize/sanitizer-control
if [ ! -x "$binary" ] || [ ! -x "$control" ]; then
	fail hmmtrace-sanitized "$binary or $control is not built (make hmmtrace SANITIZE=1)"
	exit 0
fi
run_checker hmmtrace-sanitized python3 tests/sanitizers.py binary "$binary"
run_checker hmmtrace-sanitized python3 tests/sanitizers.py control "$control"

logs=$(mktemp -d)
started=$SECONDS
(
	eval "$(python3 tests/sanitizers.py environment)"
	export HMMTRACE=$binary HMMTRACE_FIRST_MODE_ONLY=1 HMMTRACE_WORK=$logs
	export HMMTRACE_RESULT_PREFIX=${HMMTRACE_RESULT_PREFIX:-}sanitized:
	run_test_script tests/lab/test-hmmtrace.sh
)
run_checker hmmtrace-sanitized.suite python3 tests/sanitizers.py scan "$logs"
echo "hmmtrace-sanitized: the suite took $((SECONDS - started)) s"

# The fuzzer, bounded in time; sim_mirror loaded, so that --driver sim_mirror
# is a driver here. It reads each invocation's stderr itself.
fuzz=$(mktemp -d)
insmod "build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko"
started=$SECONDS
run_checker hmmtrace-sanitized.argv-fuzz python3 tests/host/hmmtrace_argv_fuzz.py "$binary" \
	${HMMTRACE_FUZZ_SEED:+--seed "$HMMTRACE_FUZZ_SEED"} --runs "${HMMTRACE_FUZZ_RUNS:-60}" \
	--seconds 60 --timeout 90 --work "$fuzz" --log "$fuzz.log"
head -n 60 "$fuzz.log"
echo "hmmtrace-sanitized: the fuzzer took $((SECONDS - started)) s"
rmmod sim_mirror
rm -rf "$logs" "$fuzz" "$fuzz.log"
