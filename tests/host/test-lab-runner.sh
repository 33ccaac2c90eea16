#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tests/lab/run-lab.sh hands back the guest command's stdout, stderr and exit
# status separately, and kills a guest that runs past its bound with a clear
# message and status 124.

. tests/lib.sh

workspace=$(mktemp -d)
trap 'rm -rf "$workspace"' EXIT

tests/lab/run-lab.sh 'echo "to stdout"; echo "to stderr" >&2; exit 7' \
	>"$workspace/stdout" 2>"$workspace/stderr"
status=$?
if [ $status -eq 7 ] && [ "$(cat "$workspace/stdout")" = "to stdout" ] &&
	[ "$(cat "$workspace/stderr")" = "to stderr" ]; then
	pass lab-runner.streams-and-status
else
	fail lab-runner.streams-and-status "status $status, stdout '$(head -c 200 "$workspace/stdout")', stderr '$(head -c 200 "$workspace/stderr")'"
fi

LAB_TIMEOUT=20 tests/lab/run-lab.sh 'sleep 600' >"$workspace/stdout" 2>"$workspace/stderr"
status=$?
if [ $status -eq 124 ] && grep -q "did not finish within 20 s and was killed" "$workspace/stderr"; then
	pass lab-runner.hung-guest-is-killed
else
	fail lab-runner.hung-guest-is-killed "status $status, stderr: $(head -c 300 "$workspace/stderr")"
fi
