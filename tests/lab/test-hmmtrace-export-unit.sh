#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace export as its systemd unit runs it: not root (uid 65534), with
# exactly the unit's AmbientCapabilities, read from
# dist/systemd/hmmtrace-export.service.in, and RLIMIT_MEMLOCK as the unit
# sets it. It attaches in this kernel's first mode, serves /metrics, and
# what it serves after a storm equals the storm's ground truth; SIGTERM
# stops it with status 0 and no link left; and its --textfile output. The
# control: the same user without CAP_BPF and CAP_SYS_ADMIN (which implies
# it) is refused with exit 3.
#
#   HMMTRACE=PATH   test that binary instead of build/hmmtrace

. tests/lib.sh

hmmtrace=${HMMTRACE:-build/hmmtrace}
workload=build/tests/sim_mirror_workload
unit=dist/systemd/hmmtrace-export.service.in
work=$(mktemp -d)
port=9477

if [ ! -x "$hmmtrace" ]; then
	fail export-unit "$hmmtrace is not built (make hmmtrace)"
	exit 0
fi

# unit_capabilities KEY: the unit's KEY= list as setpriv takes it: "+bpf,+perfmon".
unit_capabilities() {
	sed -n "s/^$1=//p" "$unit" | tr ' ' '\n' | sed -n 's/^CAP_\(.*\)/+\L\1/p' | paste -sd,
}

ambient=$(unit_capabilities AmbientCapabilities)
bounding=$(unit_capabilities CapabilityBoundingSet)
check export-unit.has-capabilities test -n "$ambient"
check export-unit.bounding-set-is-the-ambient-set test "$ambient" = "$bounding"
memlock=$(sed -n 's/^LimitMEMLOCK=//p' "$unit")
[ "$memlock" = infinity ] && memlock=unlimited
check export-unit.has-memlock-limit test -n "$memlock"

# as_unit_user CAPABILITIES: sets the array "user" to the command prefix
# that runs a command as the unit's user with exactly CAPABILITIES. Each
# command of it execs the next, so a background exporter's pid is its own.
as_unit_user() {
	user=(prlimit --memlock="$memlock:$memlock" setpriv --reuid=65534 --regid=65534 --clear-groups
		--inh-caps="-all,$1" --ambient-caps="-all,$1" --bounding-set="-all,$1")
}

ip link set lo up

# The control: the unit's set without CAP_BPF is refused at once (the
# timeout only stops a run that was wrongly let through).
without_bpf=$(tr , '\n' <<<"$ambient" | grep -vxE '\+(bpf|sys_admin)' | paste -sd,)
status=0
as_unit_user "$without_bpf"
"${user[@]}" timeout 60 "$hmmtrace" export --listen 127.0.0.1:$port \
	>/dev/null 2>"$work/no-bpf.err" || status=$?
check export-unit.refused-without-cap-bpf sh -c \
	"[ $status -eq 3 ] && grep -q 'missing CAP_BPF' '$work/no-bpf.err' || { echo exit $status; head -c 300 '$work/no-bpf.err'; false; }"

insmod "build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko"
as_unit_user "$ambient"
"${user[@]}" "$hmmtrace" export --listen 127.0.0.1:$port 2>"$work/export.err" &
exporter=$!
for _ in $(seq 900); do
	grep -q '^hmmtrace: exporting on' "$work/export.err" && break
	kill -0 "$exporter" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q '^hmmtrace: exporting on' "$work/export.err"; then
	fail export-unit.attaches "$(head -c 300 "$work/export.err")"
	kill "$exporter" 2>/dev/null
	rmmod sim_mirror
	exit 0
fi
pass export-unit.attaches

"$workload" storm --iterations 2 --json >"$work/storm.truth"
scrape() {
	python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())' \
		"http://127.0.0.1:$port/metrics" >"$1"
}
check export-unit.scrape scrape "$work/metrics"

truth() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["counters"][sys.argv[2]])' "$@"
}
# expect_metric NAME EXPECTED: the sim_mirror driver's NAME, summed, is EXPECTED.
expect_metric() {
	local got
	got=$(python3 tests/lab/exposition.py "$work/metrics" "$1" driver=sim_mirror 2>&1)
	if [ "$got" = "$2" ]; then
		pass "export-unit.$1"
	else
		fail "export-unit.$1" "got $got, want $2"
	fi
}
inserts=$(truth "$work/storm.truth" inserts)
# The workload exits with its ranges live: one release and one unmap invalidation each.
expect_metric hmmtrace_subscription_inserts_total "$inserts"
expect_metric hmmtrace_subscription_removes_total "$inserts"
expect_metric hmmtrace_invalidations_total $(($(truth "$work/storm.truth" invalidations) + 2 * inserts))
expect_metric hmmtrace_read_begins_total "$(truth "$work/storm.truth" read_begins)"
mode=$(sed -n 's/^hmmtrace: export in \([a-z_]*\) mode.*/\1/p' "$work/export.err")
check export-unit.info-names-the-mode grep -q "^hmmtrace_info{mode=\"$mode\"," "$work/metrics"

# hmmtrace's programs, as bpftool names them (the first 15 bytes of each).
hmmtrace_programs() {
	bpftool prog show 2>/dev/null | grep -cE ' name (tp|raw_tp|fentry|fexit|kprobe|kretprobe)_' || true
}
# The positive control of the detach check: while it runs, they are there.
check export-unit.programs-while-running test "$(hmmtrace_programs)" -gt 0
status=0
kill -TERM "$exporter"
wait "$exporter" || status=$?
check export-unit.sigterm-exits-0 sh -c "[ $status -eq 0 ] || { tail -c 300 '$work/export.err'; false; }"
check export-unit.sigterm-detaches test "$(hmmtrace_programs)" -eq 0
# node_exporter's textfile, as a unit with UMask=0077 writes it: every
# interval, renamed into place, readable by node_exporter's user, linted by
# promtool, and no temporary file left after SIGINT (the HTTP run above
# is stopped with SIGTERM: between them, both signals).
mkdir "$work/textfile"
(umask 077 && exec "$hmmtrace" export --textfile "$work/textfile/hmmtrace.prom" -i 1 \
	2>"$work/textfile.err") &
writer=$!
for _ in $(seq 600); do
	[ -s "$work/textfile/hmmtrace.prom" ] && break
	kill -0 "$writer" 2>/dev/null || break
	sleep 0.1
done
sleep 2
check export-unit.textfile-written sh -c \
	"python3 tests/lab/exposition.py '$work/textfile/hmmtrace.prom' hmmtrace_info >/dev/null || { head -c 300 '$work/textfile.err'; false; }"
check export-unit.textfile-readable-by-all test "$(stat -c %a "$work/textfile/hmmtrace.prom" 2>/dev/null)" = 644
if command -v promtool >/dev/null; then
	check export-unit.textfile-lints promtool check metrics <"$work/textfile/hmmtrace.prom"
else
	skip export-unit.textfile-lints "promtool is missing (Debian's prometheus package)"
fi
status=0
kill -INT "$writer"
wait "$writer" || status=$?
check export-unit.textfile-sigint-exits-0 test "$status" -eq 0
check export-unit.textfile-leaves-only-its-file test "$(ls "$work/textfile")" = hmmtrace.prom
rmmod sim_mirror
rm -rf "$work"
