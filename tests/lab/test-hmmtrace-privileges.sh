#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace as a user that is not root, with setpriv, both ways:
#
#   - without a capability it needs, it exits 3 at start with one line that
#     names exactly what is missing: each of CAP_BPF, CAP_PERFMON and
#     CAP_SYSLOG (which /proc/kallsyms needs to show addresses at this
#     kernel.perf_event_paranoid; at 1 it is not needed, and that runs),
#     CAP_SYS_ADMIN for kprobes at perf_event_paranoid=3 (fentry's module
#     callbacks take kprobes without it), and kernel.kptr_restrict=2, which hides the
#     addresses from root;
#   - with only the minimum (uid 65534, CAP_BPF, CAP_PERFMON, CAP_SYSLOG;
#     plus CAP_SYS_ADMIN for kprobes at paranoid 3; at 2 they do without,
#     on Debian's kernels too, and fentry hooks its module callback with a
#     kprobe) under a
#     64 KiB RLIMIT_MEMLOCK, every mode of this kernel attaches and its
#     counts, in rows named for sim_mirror, equal the storm's ground truth;
#     so does a root run with the kernel's BTF hidden and `--btf` given a
#     copy of it (raw_tp or kprobe: tp_btf and fentry need the kernel's own),
#     while the same run without `--btf` exits 4.
#
#   HMMTRACE=PATH   test that binary instead of build/hmmtrace

. tests/lib.sh

hmmtrace=${HMMTRACE:-build/hmmtrace}
workload=build/tests/sim_mirror_workload
work=$(mktemp -d)
nobody=65534

if [ ! -x "$hmmtrace" ]; then
	fail hmmtrace-privileges "$hmmtrace is not built (make hmmtrace)"
	exit 0
fi

# as_user CAPABILITIES: sets the array "user" to the command prefix that runs
# a command as uid and gid 65534 with no groups and exactly CAPABILITIES
# (comma-separated, like "bpf,perfmon"; empty for none) effective,
# inheritable, ambient and in the bounding set, with 64 KiB of RLIMIT_MEMLOCK
# (BPF memory is charged to the memory cgroup instead). Every command of it
# execs the next, so a tracer's pid is hmmtrace's.
as_user() {
	local list=-all capability
	for capability in ${1//,/ }; do
		list+=",+$capability"
	done
	user=(prlimit --memlock=65536:65536 setpriv --reuid=$nobody --regid=$nobody --clear-groups
		--inh-caps="$list" --ambient-caps="$list" --bounding-set="$list")
}

# expect_refused NAME CAPABILITIES PATTERN ARGUMENTS...: hmmtrace as that
# user exits 3 with one line that matches the extended regex PATTERN.
expect_refused() {
	local name=$1 capabilities=$2 pattern=$3 status=0
	shift 3
	as_user "$capabilities"
	"${user[@]}" "$hmmtrace" "$@" >/dev/null 2>"$work/$name.err" || status=$?
	if [ "$status" -eq 3 ] && grep -Eq -- "$pattern" "$work/$name.err" &&
		[ "$(wc -l <"$work/$name.err")" -eq 1 ]; then
		pass "hmmtrace-privileges.$name"
	else
		fail "hmmtrace-privileges.$name" "exit $status (wanted 3): $(head -c 300 "$work/$name.err")"
	fi
}

kptr_restrict=$(cat /proc/sys/kernel/kptr_restrict)
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
# The kernel's rule (kallsyms_show_value()): addresses without CAP_SYSLOG
# only at kptr_restrict 0 with perf_event_paranoid 1 or less.
syslog_needed=true
[ "$kptr_restrict" -eq 0 ] && [ "$paranoid" -le 1 ] && syslog_needed=false
echo "# kernel.kptr_restrict=$kptr_restrict kernel.perf_event_paranoid=$paranoid" \
	"RLIMIT_MEMLOCK=$(ulimit -l) KiB"

if [ -d /sys/kernel/tracing/events/mmu_notifier ]; then
	modes=(tp_btf raw_tp)
	btf_mode=raw_tp
else
	modes=(kprobe fentry)
	btf_mode=kprobe
fi
insmod "build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko"

# Each capability missing alone, then all of them.
syslog_clause="CAP_SYSLOG \(without it kernel\.kptr_restrict=$kptr_restrict and kernel\.perf_event_paranoid=$paranoid hide the /proc/kallsyms addresses"
expect_refused missing-bpf perfmon,syslog "not permitted: missing CAP_BPF; run as root" top
expect_refused missing-perfmon bpf,syslog "not permitted: missing CAP_PERFMON; run as root" top
if $syslog_needed; then
	expect_refused missing-all "" "not permitted: missing CAP_BPF, CAP_PERFMON and $syslog_clause" top
	expect_refused missing-syslog bpf,perfmon "not permitted: missing $syslog_clause" top
else
	expect_refused missing-all "" "not permitted: missing CAP_BPF and CAP_PERFMON; run as root" top
	skip hmmtrace-privileges.missing-syslog "perf_event_paranoid=$paranoid shows every user the kallsyms addresses"
fi

# CAP_SYSLOG is needed because of perf_event_paranoid: at 1 (with
# kptr_restrict 0) the kernel shows the addresses, and CAP_BPF with
# CAP_PERFMON is enough to get past the checks and attach.
if [ "$kptr_restrict" -eq 0 ] && [ "$paranoid" -ge 2 ]; then
	status=0
	sysctl -q kernel.perf_event_paranoid=1
	as_user bpf,perfmon
	"${user[@]}" "$hmmtrace" top -d 1 >/dev/null 2>"$work/paranoid-1.err" || status=$?
	sysctl -q kernel.perf_event_paranoid="$paranoid"
	check hmmtrace-privileges.no-syslog-at-paranoid-1 sh -c \
		"[ $status -eq 0 ] && grep -q 'Ctrl-C to stop' '$work/paranoid-1.err' || { head -c 300 '$work/paranoid-1.err'; false; }"
fi

# kptr_restrict=2 hides the addresses even from root: named, not an empty table.
status=0
sysctl -q kernel.kptr_restrict=2
"$hmmtrace" top -d 1 >/dev/null 2>"$work/kptr-restrict-2.err" || status=$?
sysctl -q kernel.kptr_restrict="$kptr_restrict"
check hmmtrace-privileges.kptr-restrict-2 sh -c \
	"[ $status -eq 3 ] && grep -q 'kernel.kptr_restrict=2 hides' '$work/kptr-restrict-2.err' && [ \$(wc -l <'$work/kptr-restrict-2.err') -eq 1 ] || { echo exit $status; head -c 300 '$work/kptr-restrict-2.err'; false; }"

# fentry finds a module's BTF by id, which needs CAP_SYS_ADMIN: without it a
# module's callback takes a kprobe, as one without BTF does. Kprobes need
# CAP_SYS_ADMIN where perf_event_open(2) is closed to everyone else (the
# lab's kernels carry Debian's patch for that: perf_event_paranoid=3,
# Debian's default), so there both modes are refused without it.
kprobe_capabilities=bpf,perfmon,syslog
[ "$paranoid" -ge 3 ] && kprobe_capabilities+=,sys_admin
if [[ " ${modes[*]} " == *" kprobe "* ]]; then
	perf_clause="missing CAP_SYS_ADMIN, which perf_event_open\(2\) needs for kprobes at kernel\.perf_event_paranoid=3"
	sysctl -q kernel.perf_event_paranoid=3
	expect_refused fentry-missing-sys-admin bpf,perfmon,syslog "not permitted: fentry: $perf_clause\$" \
		top --mode fentry
	expect_refused kprobe-missing-sys-admin bpf,perfmon,syslog "not permitted: kprobe: $perf_clause\$" \
		top --mode kprobe
	expect_refused stock-missing-sys-admin bpf,perfmon,syslog \
		"not permitted: .*; fentry: $perf_clause; kprobe: $perf_clause\$" top
	sysctl -q kernel.perf_event_paranoid="$paranoid"
fi

# The kernel's BTF, copied, then hidden wherever libbpf looks for it.
cp /sys/kernel/btf/vmlinux "$work/vmlinux.btf"
: >"$work/empty"
release=$(uname -r)
btf_locations=(/sys/kernel/btf/vmlinux /boot/vmlinux-$release /lib/modules/$release/vmlinux-$release
	/lib/modules/$release/build/vmlinux /usr/lib/modules/$release/kernel/vmlinux
	/usr/lib/debug/boot/vmlinux-$release /usr/lib/debug/boot/vmlinux-$release.debug
	/usr/lib/debug/lib/modules/$release/vmlinux)
# The command prefix that runs a command in a mount namespace where every
# place libbpf looks for the kernel's BTF in is an empty file.
without_kernel_btf=(unshare -m sh -c 'empty=$1; shift; while [ "$1" != -- ]; do
	[ -e "$1" ] && mount --bind "$empty" "$1"; shift; done; shift; exec "$@"'
	hide "$work/empty" "${btf_locations[@]}" --)
status=0
"${without_kernel_btf[@]}" "$hmmtrace" top -d 1 >/dev/null 2>"$work/no-btf.err" || status=$?
check hmmtrace-privileges.hidden-btf-exits-4 sh -c \
	"[ $status -eq 4 ] && grep -q 'this kernel has no BTF' '$work/no-btf.err' && [ \$(wc -l <'$work/no-btf.err') -eq 1 ] || { echo exit $status; head -c 300 '$work/no-btf.err'; false; }"

# start_tracer NAME COMMAND...: a tracer (COMMAND ends with hmmtrace's
# arguments) in the background, back once attached.
start_tracer() {
	local name=$1
	shift
	"$@" --json >"$work/$name.json" 2>"$work/$name.err" &
	echo $! >"$work/$name.pid"
	for _ in $(seq 900); do
		grep -q 'Ctrl-C to stop' "$work/$name.err" && return 0
		kill -0 "$(cat "$work/$name.pid")" 2>/dev/null || break
		sleep 0.1
	done
	fail "hmmtrace-privileges.$name.attaches" "$(head -c 300 "$work/$name.err")"
	return 1
}

truth() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["counters"][sys.argv[2]])' "$@"
}

# The storm, deterministic, waits at a gate until every tracer is attached.
mkfifo "$work/go"
sh -c 'read -r _ <"$1"; shift; exec "$@"' gate "$work/go" \
	"$workload" storm --iterations 2 --json >"$work/storm.truth" &
storm_pid=$!
tracers=()
# Where kprobes need CAP_SYS_ADMIN at paranoid 3, at 2 they do not: a tracer
# opened then keeps its perf events after the sysctl is set back.
if [[ " ${modes[*]} " == *" kprobe "* ]] && [ "$paranoid" -ge 3 ]; then
	sysctl -q kernel.perf_event_paranoid=2
	as_user bpf,perfmon,syslog
	start_tracer minimum-kprobe-paranoid-2 "${user[@]}" "$hmmtrace" top --mode kprobe \
		-p "$storm_pid" && tracers+=(minimum-kprobe-paranoid-2)
	start_tracer minimum-fentry-paranoid-2 "${user[@]}" "$hmmtrace" top --mode fentry \
		-p "$storm_pid" && tracers+=(minimum-fentry-paranoid-2)
	sysctl -q kernel.perf_event_paranoid="$paranoid"
fi
for mode in "${modes[@]}"; do
	# fentry's callback takes a kprobe without CAP_SYS_ADMIN, so it needs what kprobes do.
	capabilities=$kprobe_capabilities
	as_user "$capabilities"
	start_tracer "minimum-$mode" "${user[@]}" "$hmmtrace" top --mode "$mode" -p "$storm_pid" &&
		tracers+=("minimum-$mode")
done
start_tracer btf-file "${without_kernel_btf[@]}" "$hmmtrace" top --btf "$work/vmlinux.btf" \
	-p "$storm_pid" && tracers+=(btf-file)
echo go >"$work/go"
wait "$storm_pid"
for name in "${tracers[@]}"; do
	status=0
	kill -INT "$(cat "$work/$name.pid")"
	wait "$(cat "$work/$name.pid")" || status=$?
	check "hmmtrace-privileges.$name.exits-0" sh -c "[ $status -eq 0 ] || { tail -c 300 '$work/$name.err'; false; }"
done

inserts=$(truth "$work/storm.truth" inserts)
# The workload exits with its ranges live: one release and one unmap invalidation each.
invalidations=$(($(truth "$work/storm.truth" invalidations) + 2 * inserts))
read_begins=$(truth "$work/storm.truth" read_begins)
for name in "${tracers[@]}"; do
	# Rows of driver sim_mirror exist only when mirror_invalidate was named.
	run_checker "hmmtrace-privileges.$name" python3 tests/lab/hmmtrace_totals.py \
		"$work/$name.json" top sim_mirror "{\"rows\": [1, 1000000], \"inserts\": $inserts,
		\"removes\": $inserts, \"invalidations\": $invalidations, \"read_begins\": $read_begins}"
done
# Without CAP_SYS_ADMIN (at paranoid 2) fentry's module callback is a kprobe, the rest fentry.
fentry_without_sys_admin=minimum-fentry
[ "$paranoid" -ge 3 ] && fentry_without_sys_admin=minimum-fentry-paranoid-2
if [[ " ${modes[*]} " != *" fentry "* ]]; then
	skip hmmtrace-privileges.fentry-without-sys-admin.hooks "no fentry mode on this kernel"
elif [[ " ${tracers[*]} " != *" $fentry_without_sys_admin "* ]]; then
	fail hmmtrace-privileges.fentry-without-sys-admin.hooks "$fentry_without_sys_admin did not attach"
else
	run_checker hmmtrace-privileges.fentry-without-sys-admin.hooks python3 - \
		"$work/$fentry_without_sys_admin.json" <<'EOF'
import json, sys
hooks = {}
for line in open(sys.argv[1]):
    hooks.update(json.loads(line).get("hooks", {}))
checks = {
    "has-hooks": (len(hooks) > 0, f"{len(hooks)} hooks"),
    "callback-kprobe": (hooks.get("mirror_invalidate [sim_mirror]") == "kprobe", json.dumps(hooks)[:300]),
    "read-begin-fentry": (hooks.get("mmu_interval_read_begin") == "fentry", json.dumps(hooks)[:300]),
}
for name, (held, detail) in checks.items():
    print(f"{'PASS' if held else 'FAIL'}\t{name}\t{detail}")
EOF
fi
if [[ " ${tracers[*]} " == *" btf-file "* ]]; then
	check "hmmtrace-privileges.btf-file.mode-$btf_mode" \
		grep -q "\"mode\": \"$btf_mode\"" "$work/btf-file.json"
	check hmmtrace-privileges.btf-file.says-nothing-else sh -c \
		"[ \$(grep -vc 'Ctrl-C to stop\|^hmmtrace: stock kernel' '$work/btf-file.err') -eq 0 ] || { head -c 300 '$work/btf-file.err'; false; }"
fi

rmmod sim_mirror
rm -rf "$work"
