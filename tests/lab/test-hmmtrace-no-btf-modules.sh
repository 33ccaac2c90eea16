#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace beside a module without BTF, as DKMS drivers and every module
# built against Debian 12's 6.1 headers are: fentry cannot aim at such a
# callback, so fentry mode attaches it with a kprobe and the rest with
# fentry. With sim_mirror stripped of its BTF (make driver builds
# build/sim_mirror/<variant>-no-btf/), during one deterministic storm:
#   - `--mode fentry` attaches; its JSON says the callback uses kprobe and
#     the notifier functions fentry, and its counts equal the driver's own;
#   - `-v` lists every hook by mechanism, and the plain header the kprobe one;
#   - automatic mode picks fentry, not kprobe, with the same hooks and counts
#     (where our tracepoints exist it picks tp_btf, which sees every callback);
# then, as the positive control, the same storm with sim_mirror's BTF
# loaded: the callback is attached with fentry. No BPF link is left behind.

. tests/lib.sh

hmmtrace=${HMMTRACE:-build/hmmtrace}
workload=build/tests/sim_mirror_workload
with_btf=build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko
without_btf=build/sim_mirror/$KERNEL_VARIANT-no-btf/sim_mirror.ko
callback="mirror_invalidate [sim_mirror]"
work=$(mktemp -d)

for needed in "$hmmtrace" "$workload" "$with_btf" "$without_btf"; do
	if [ ! -e "$needed" ]; then
		fail no-btf-modules.built "$needed is not built (make hmmtrace test-programs driver)"
		exit 0
	fi
done
if [ ! -e /sys/kernel/btf/vmlinux ]; then
	skip no-btf-modules "this kernel has no BTF: no fentry mode at all"
	exit 0
fi
if lsmod | grep -q '^sim_mirror '; then
	fail no-btf-modules.sim_mirror-unloaded "sim_mirror is loaded already: another test left it"
	exit 0
fi

# Automatic mode takes our tracepoints where they exist: there the callbacks
# are no hook of their own.
auto_mode=fentry
[ -d /sys/kernel/tracing/events/mmu_notifier ] && auto_mode=tp_btf

# start_tracer NAME ARGUMENTS...: hmmtrace in the background into
# $work/NAME.out, back once attached (then attached NAME holds).
start_tracer() {
	local name=$1
	shift
	"$hmmtrace" "$@" >"$work/$name.out" 2>"$work/$name.err" &
	echo $! >"$work/$name.pid"
	for _ in $(seq 900); do
		if grep -q 'Ctrl-C to stop' "$work/$name.err"; then
			touch "$work/$name.attached"
			return 0
		fi
		kill -0 "$(cat "$work/$name.pid")" 2>/dev/null || break
		sleep 0.1
	done
	fail "no-btf-modules.$name.attaches" "$(kill -0 "$(cat "$work/$name.pid")" 2>/dev/null &&
		echo "not attached after 90 s: ")$(head -c 300 "$work/$name.err")"
	return 1
}

attached() {
	[ -e "$work/$1.attached" ]
}

# stop_tracer NAME: SIGINT; it must exit 0.
stop_tracer() {
	local name=$1 status=0
	kill -INT "$(cat "$work/$name.pid")" 2>/dev/null
	wait "$(cat "$work/$name.pid")" || status=$?
	if [ "$status" -eq 0 ]; then
		pass "no-btf-modules.$name.exits-0"
	else
		fail "no-btf-modules.$name.exits-0" "exited $status: $(tail -c 300 "$work/$name.err")"
	fi
}

truth() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["counters"][sys.argv[2]])' "$@"
}

# gate_storm TRUTH: the storm, deterministic, waiting to be released
# (release_storm) into TRUTH once the tracers are attached.
gate_storm() {
	rm -f "$work/go"
	mkfifo "$work/go"
	sh -c 'read -r _ <"$1"; shift; exec "$@"' gate "$work/go" \
		"$workload" storm --iterations 2 --json >"$1" &
	storm_pid=$!
}

release_storm() {
	echo go >"$work/go"
	wait "$storm_pid"
}

# counts NAME TRUTH: the JSON tracer's sim_mirror row sums against the
# storm's ground truth, exactly. The workload exits with its ranges live:
# one release and one unmap invalidation each.
counts() {
	local name=$1 truth_file=$2 inserts
	inserts=$(truth "$truth_file" inserts)
	run_checker "no-btf-modules.$name" python3 tests/lab/hmmtrace_totals.py "$work/$name.out" \
		top sim_mirror "{\"inserts\": $inserts, \"removes\": $inserts,
		\"invalidations\": $(($(truth "$truth_file" invalidations) + 2 * inserts)),
		\"read_begins\": $(truth "$truth_file" read_begins), \"range_fault_ebusy\": 0}"
}

# hooks NAME MODE CALLBACK_MECHANISM: every interval object of the JSON
# tracer says MODE, the notifier functions (or events) attached with MODE,
# and the callback with CALLBACK_MECHANISM ("absent": no hook of its own).
hooks() {
	run_checker "no-btf-modules.$1" python3 - "$work/$1.out" "$2" "$3" "$callback" <<'EOF'
import json, sys
path, mode, callback_mechanism, callback = sys.argv[1:5]
core = ("mmu_interval_notifier_insert", "mmu_interval_notifier_remove", "mmu_interval_read_begin")
objects = [json.loads(line) for line in open(path) if line.strip()]
intervals = [record for record in objects if record.get("subcommand") == "top"]
def check(name, held, detail):
    print(f"{'PASS' if held else 'FAIL'}\t{name}\t{detail}")
check("intervals", len(intervals) > 0, f"{len(intervals)} top interval objects of {len(objects)}")
modes = sorted({record.get("mode") for record in intervals})
check("mode", intervals and modes == [mode], f"modes {modes}, expected {mode}")
hook_sets = [record.get("hooks") for record in intervals]
check("hooks-every-interval", intervals and all(isinstance(hooks, dict) and hooks for hooks in hook_sets),
      f"{sum(isinstance(hooks, dict) and bool(hooks) for hooks in hook_sets)} of {len(intervals)} "
      "intervals carry a non-empty \"hooks\" object")
first = hook_sets[0] if hook_sets and isinstance(hook_sets[0], dict) else {}
check("hooks-constant", intervals and all(hooks == hook_sets[0] for hooks in hook_sets),
      "hooks change between intervals")
seen = {function: first.get(function) for function in core}
check("core-hooks", intervals and all(value == mode for value in seen.values()),
      f"{seen}, expected {mode}")
have = first.get(callback, "absent")
check("callback-hook", intervals and have == callback_mechanism,
      f"{callback}: {have}, expected {callback_mechanism}")
EOF
}

links_before=$(bpf_links)
links_while_tracing=

# sim_mirror without BTF.
check no-btf-modules.stripped-module-loads insmod "$without_btf"
check no-btf-modules.stripped-module-has-no-btf sh -c \
	'grep -q "^sim_mirror " /proc/modules && [ ! -e /sys/kernel/btf/sim_mirror ]'
tracers=(fentry fentry_verbose automatic)
gate_storm "$work/stripped.truth"
start_tracer fentry top --mode fentry --json
start_tracer fentry_verbose top --mode fentry -v
start_tracer automatic top --json
# The link check's positive control (at the end): these tracers' links.
links_while_tracing=$(bpf_links)
release_storm
for tracer in "${tracers[@]}"; do
	stop_tracer "$tracer"
done
if attached fentry; then
	counts fentry "$work/stripped.truth"
	hooks fentry fentry kprobe
fi
if attached automatic; then
	counts automatic "$work/stripped.truth"
	if [ "$auto_mode" = fentry ]; then
		hooks automatic fentry kprobe
	else
		hooks automatic tp_btf absent
	fi
fi
# The text header: with -v every hook by mechanism, else only those off the mode.
kprobe_line="  attached with kprobe: $callback"
if attached fentry_verbose; then
	check no-btf-modules.verbose-lists-every-hook sh -c "
		grep -q '^hmmtrace top  mode fentry ' '$work/fentry_verbose.out' &&
		grep -qxF '$kprobe_line' '$work/fentry_verbose.out' &&
		grep -q '^  attached with fentry: .*mmu_interval_read_begin' '$work/fentry_verbose.out'"
fi
plain_status=0
"$hmmtrace" top --mode fentry -i 0.5 -c 1 >"$work/plain.out" 2>"$work/plain.err" || plain_status=$?
check no-btf-modules.header-names-the-kprobe-hook sh -c "
	[ $plain_status -eq 0 ] && grep -qxF '$kprobe_line' '$work/plain.out' &&
	! grep -q 'attached with fentry' '$work/plain.out'"
rmmod sim_mirror

# The positive control: the same module with its BTF, attached with fentry.
insmod "$with_btf"
if [ ! -e /sys/kernel/btf/sim_mirror ]; then
	skip no-btf-modules.with-btf "sim_mirror built for this kernel has no BTF either (its headers ship no vmlinux)"
else
	gate_storm "$work/with-btf.truth"
	start_tracer fentry_with_btf top --mode fentry --json
	release_storm
	stop_tracer fentry_with_btf
	if attached fentry_with_btf; then
		counts fentry_with_btf "$work/with-btf.truth"
		hooks fentry_with_btf fentry fentry
	fi
fi
rmmod sim_mirror

# Three tracers ran at once above, each with links of its own.
check_links_released no-btf-modules.detach-every-link "$links_before" "$links_while_tracing" 3 "$(bpf_links)"
rm -rf "$work"
