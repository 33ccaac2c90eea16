#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace on the host, a kernel with no attach point at all (no HMM
# tracepoints, fentry refused, kprobes compiled out): it must say exactly
# that, in one line, with its own exit status. Where the host can attach
# after all, the check is skipped, never passed.

. tests/lib.sh

hmmtrace=build/hmmtrace
if [ ! -x "$hmmtrace" ]; then
	fail hmmtrace-host "$hmmtrace is not built (make hmmtrace)"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	skip hmmtrace-host.no-attach-point "needs root to try attaching"
	exit 0
fi
status=0
timeout 60 "$hmmtrace" top -c 1 >/dev/null 2>build/hmmtrace-host.err || status=$?
if [ "$status" -eq 0 ]; then
	skip hmmtrace-host.no-attach-point "this host can attach hmmtrace ($(uname -r)); the lab tests cover it"
else
	check hmmtrace-host.no-attach-point-exits-5 test "$status" -eq 5
	check hmmtrace-host.says-why-in-one-line sh -c "[ \$(wc -l <build/hmmtrace-host.err) -eq 1 ] &&
		grep -q '^hmmtrace: no attach point on this kernel: tp_btf: .*; raw_tp: .*; fentry: .*; kprobe: ' build/hmmtrace-host.err"
fi
rm -f build/hmmtrace-host.err
