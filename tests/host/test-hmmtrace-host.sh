#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace on the host, a kernel it cannot trace (no HMM tracepoints,
# fentry refused, kprobes compiled out): it must say why for every mode, in
# one line of its own (libbpf's warnings may come before it), with its own
# exit status: 5 when no mode found its attach points, 6 when one did and
# the kernel would not load or attach it. Where the host can attach after
# all, the check is skipped, never passed.

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
	case $status in
	5) why='no attach point on this kernel' ;;
	6) why='cannot load or attach the BPF programs' ;;
	*) why="exit status $status" ;;
	esac
	check hmmtrace-host.no-attach-point-exits-5-or-6 test "$status" -eq 5 -o "$status" -eq 6
	check hmmtrace-host.says-why-in-one-line sh -c "[ \$(grep -vc '^libbpf: ' build/hmmtrace-host.err) -eq 1 ] &&
		grep -q '^hmmtrace: $why: tp_btf: .*; raw_tp: .*; fentry: .*; kprobe: ' build/hmmtrace-host.err"
fi
rm -f build/hmmtrace-host.err
