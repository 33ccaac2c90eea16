#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace's command line, fuzzed (tests/host/hmmtrace_argv_fuzz.py) with
# the sanitized build (make hmmtrace SANITIZE=1): every invocation exits
# with a documented status, never by a signal, never by timing out, never
# with a sanitizer report. Here hmmtrace cannot attach, so the invocations
# that pass the command line end with an attach or privileges status (3 to
# 6); tests/lab/test-hmmtrace-sanitized.sh fuzzes where they trace.
#
# Positive controls first: the binary is instrumented and ASan's runtime
# runs in it, and a program built with the same flags has each kind of
# error reported and caught as the fuzzer catches them; the fuzzer itself
# must see both usage errors and invocations past the command line.
#
#   HMMTRACE_FUZZ_SEED=N   replay that seed (the default is a new one, printed)
#   HMMTRACE_FUZZ_RUNS=N   invocations (default 300; at most 120 s of them)

. tests/lib.sh

binary=build/sanitize/hmmtrace
control=build/sanitize/sanitizer-control
if [ ! -x "$binary" ] || [ ! -x "$control" ]; then
	fail argv-fuzz "$binary or $control is not built (make hmmtrace SANITIZE=1)"
	exit 0
fi
run_checker argv-fuzz.sanitized python3 tests/sanitizers.py binary "$binary"
run_checker argv-fuzz.sanitizers python3 tests/sanitizers.py control "$control"

log=build/argv-fuzz.log
work=$(mktemp -d)
run_checker argv-fuzz python3 tests/host/hmmtrace_argv_fuzz.py "$binary" \
	${HMMTRACE_FUZZ_SEED:+--seed "$HMMTRACE_FUZZ_SEED"} --runs "${HMMTRACE_FUZZ_RUNS:-300}" \
	--seconds 120 --timeout 30 --work "$work" --log "$log"
# The seed, what failed (with the command that replays it) and the statuses.
head -n 60 "$log"
rm -rf "$work"
