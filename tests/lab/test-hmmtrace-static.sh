#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The static hmmtrace (make hmmtrace STATIC=1) is one self-contained file: a
# copy of it alone in a fresh directory, run from another one, with no
# build/ beside it and no shared library, traces a deterministic sim_mirror
# storm in the mode this kernel offers, and its counts equal the workload's
# own exactly.

. tests/lib.sh

repo_root=$(pwd)
static_build=build/static/hmmtrace
workload=$repo_root/build/tests/sim_mirror_workload
driver=$repo_root/build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko

if [ ! -x "$static_build" ]; then
	fail hmmtrace-static "$static_build is not built (make hmmtrace STATIC=1)"
	exit 0
fi
alone=$(mktemp -d)
work=$(mktemp -d)
cp "$static_build" "$alone/hmmtrace"
hmmtrace=$alone/hmmtrace
. tests/lab/hmmtrace_tracers.sh
cd "$work"
check hmmtrace-static.copied-alone test "$(ls -A "$alone")" = hmmtrace

# No interpreter and no dynamic section; the shell running this test, a
# dynamic executable, is the control that readelf shows them where they are.
check hmmtrace-static.readelf-sees-dynamic-executables sh -c \
	"readelf -lW '$BASH' | grep -q 'Requesting program interpreter' && readelf -d '$BASH' | grep -q NEEDED"
check hmmtrace-static.no-interpreter sh -c \
	"readelf -lW '$hmmtrace' | grep -q LOAD && ! readelf -lW '$hmmtrace' | grep -q INTERP"
check hmmtrace-static.no-dynamic-section sh -c \
	"readelf -d '$hmmtrace' | grep -q 'There is no dynamic section in this file'"
help_status=0
"$hmmtrace" --help >"$work/help" 2>&1 || help_status=$?
check hmmtrace-static.help sh -c "[ $help_status -eq 0 ] && grep -q 'EXIT STATUS' '$work/help'"

insmod "$driver"
links_before=$(bpf_links)
# The mode is hmmtrace's choice on this kernel; the counts compared are
# exact in every mode (tests/lab/test-hmmtrace.sh's storm).
if start_tracer static-top top; then
	links_while_tracing=$(bpf_links)
	"$workload" storm --iterations 3 --json >"$work/storm.truth"
	stop_tracer static-top
	inserts=$(truth "$work/storm.truth" inserts)
	# The workload exits with its ranges live: one release and one unmap invalidation each.
	compare static-top sim_mirror "{\"inserts\": $inserts, \"removes\": $inserts,
		\"invalidations\": $(($(truth "$work/storm.truth" invalidations) + 2 * inserts)),
		\"read_begins\": $(truth "$work/storm.truth" read_begins)}"
	check_links_released hmmtrace-static.releases-its-links "$links_before" "$links_while_tracing" 1 "$(bpf_links)"
	echo "hmmtrace-static: traced in $(python3 -c 'import json, sys
print(" ".join(sorted({json.loads(line).get("mode", "?") for line in open(sys.argv[1])})))' \
		"$work/static-top.json" 2>&1) mode"
fi
rmmod sim_mirror
cd "$repo_root"
rm -rf "$alone" "$work"
