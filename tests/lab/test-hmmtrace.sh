#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace against ground truth, in every mode this kernel offers: tp_btf
# (and raw_tp) with our tracepoints, fentry and kprobe without them, and the
# mode it chooses by itself (a storm watched by top). While
# hmmtrace runs, deterministic workloads print the driver's own counters,
# and what hmmtrace reports (summed over its JSON) must equal them; on stock
# kernels the inferred read_retry count must lie within its documented
# bounds. Also: histogram totals equal event counts, the livelock is
# reported during its stall and normal workloads never are, bad input exits with
# distinct codes, and SIGINT/SIGTERM leave no BPF link behind.
#
# No check passes on nothing: hmmtrace_totals.py fails on a run that printed
# no interval or never printed a key, and every check that expects zero
# (another pid, another driver, no livelock, no drop, no leaked link) has a
# twin in the same run, with the same filter, that must see its match.
#
#   HMMTRACE=PATH   test that binary instead of build/hmmtrace (a broken one
#                   shows what fails when hmmtrace prints nothing)
#   HMMTRACE_FIRST_MODE_ONLY=1   only the first of this kernel's modes (the
#                   one the automatic choice takes): the sanitized run's subset
#   HMMTRACE_FILTERS=0   leave out the groupings and filters beside the
#                   normal workloads (7 tracers a mode): the debug lane's
#                   subset, where each attach takes about 16 s
#   HMMTRACE_WORK=DIR   keep every invocation's output there (NAME.err its
#                   stderr), for the sanitized run's scan; else a temporary one

. tests/lib.sh

hmmtrace=${HMMTRACE:-build/hmmtrace}
workload=build/tests/sim_mirror_workload
work=${HMMTRACE_WORK:-$(mktemp -d)}
. tests/lab/hmmtrace_tracers.sh

if [ ! -x "$hmmtrace" ]; then
	fail hmmtrace "$hmmtrace is not built (make hmmtrace)"
	exit 0
fi

# expect_exit NAME CODE PATTERN ARGUMENTS...: hmmtrace exits with CODE and says PATTERN.
expect_exit() {
	local name=$1 code=$2 pattern=$3
	shift 3
	expect_exit_of hmmtrace.exit "$name" "$code" "$pattern" "$hmmtrace" "$@"
}

expect_exit bad-flag 2 "unknown option: --frobnicate" top --frobnicate
expect_exit missing-value 2 "missing its value" top -i
expect_exit bad-grouping 2 "--by takes" top --by nonsense
expect_exit bad-subcommand 2 "unknown subcommand" frobnicate
expect_exit bad-number 2 "invalid number of seconds" top -i abc
expect_exit bad-mode 2 "--mode takes" top --mode ebpf
expect_exit no-such-pid 7 "no process with pid 4000000" top -p 4000000
expect_exit no-such-driver 8 "no such driver: nosuch" top --driver nosuch -c 1
expect_exit no-btf-file 4 "cannot read BTF from /nonexistent" top --btf /nonexistent
expect_exit bad-retry-gap 2 "invalid number: 0" top --retry-gap-ms 0
help_status=0
"$hmmtrace" --help >"$work/help" 2>&1 || help_status=$?
check hmmtrace.help-lists-exit-codes sh -c "[ $help_status -eq 0 ] && grep -q 'EXIT STATUS' '$work/help' && grep -q '8  no such driver' '$work/help'"

links_before=$(bpf_links)
links_while_tracing=

if [ -d /sys/kernel/tracing/events/mmu_notifier ]; then
	modes=(tp_btf raw_tp)
else
	modes=(fentry kprobe)
fi
[ "${HMMTRACE_FIRST_MODE_ONLY:-}" = 1 ] && modes=("${modes[0]}")
insmod "build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko"
# --driver takes drivers whose callbacks this kernel has, so the other-driver
# check needs one loaded: test_hmm where it is built, else mlx5_ib's ODP
# (Debian's kernel).
other_driver=
if modprobe test_hmm 2>/dev/null; then
	other_driver=test_hmm
elif modprobe mlx5_ib 2>/dev/null; then
	other_driver="mlx5 odp"
fi

# Whether mm->owner exists here, from the kernel's own configuration rather
# than from the BTF reading of hmmtrace's that it checks (empty: unknown).
kernel_config=$(cat "$LAB_KERNEL_DIR/build-tree" 2>/dev/null)/.config
kernel_has_mm_owner=
if [ -r "$kernel_config" ]; then
	kernel_has_mm_owner=false
	grep -q '^CONFIG_MEMCG=y' "$kernel_config" && kernel_has_mm_owner=true
fi

# start_storm: the storm workload, deterministic, held until `echo go
# >"$work/go"`, so that tracers can attach to it first; its pid in storm_pid.
start_storm() {
	rm -f "$work/go"
	mkfifo "$work/go"
	sh -c 'read -r _ <"$1"; shift; exec "$@"' gate "$work/go" \
		"$workload" storm --iterations 3 --json >"$work/storm.truth" &
	storm_pid=$!
}

# storm_expectations EXACT TOP_NAME: what the storm's truth makes of each
# count (in inserts, invalidations, read_begins, retried, completed, mapped),
# exactly with tracepoints (EXACT true), else within bounds that the top
# tracer TOP_NAME's own read_retries set.
storm_expectations() {
	local exact=$1 top_name=$2 retries faults top_retries
	inserts=$(truth "$work/storm.truth" inserts)
	# The workload exits with its ranges live: one release and one unmap invalidation each.
	invalidations=$(($(truth "$work/storm.truth" invalidations) + 2 * inserts))
	read_begins=$(truth "$work/storm.truth" read_begins)
	retries=$(truth "$work/storm.truth" retries)
	faults=$(truth "$work/storm.truth" faults)
	# On stock kernels a completion is counted at every successful
	# hmm_range_fault(): the truth's faults, plus each success that a true
	# read_retry then undid. Each inferred read_retry withdraws at most one,
	# so faults + retries - read_retries (this run's own) <= faults_completed.
	# faults_completed <= faults as every true collision is inferred.
	# latency has no read_retries column: its bound takes the top run's,
	# which watched the same storm (none reported: the bound is exact, and
	# the top run's check fails).
	if $exact; then
		retried="0" completed="$faults" mapped="$faults"
	else
		retried="[$retries, $((retries + invalidations))]"
		completed="[\"=$((faults + retries))-read_retries\", $faults]"
		top_retries=$(reported "$top_name" sim_mirror read_retries)
		mapped="[$((faults + retries - ${top_retries:-0})), $faults]"
	fi
}

# compare_storm_top NAME [MORE]: the storm's counts, and MORE expectations
# (", \"key\": value, ...").
compare_storm_top() {
	compare "$1" sim_mirror "{\"inserts\": $inserts, \"removes\": $inserts,
		\"invalidations\": $invalidations, \"read_begins\": $read_begins,
		\"read_retries\": $retried, \"range_fault_ebusy\": 0, \"faults_completed\": $completed${2:-}}"
}

# The modes whose storm tracer attached, in the order tried: automatic
# choice (below) must take the first.
attached_modes=()
for mode in "${modes[@]}"; do
	exact=false
	exact_mode "$mode" && exact=true

	# The storm, watched by all four subcommands at once; top only for the
	# storm's pid, which must not lose the events that kworkers (faults) and
	# the exiting process (releases, removes) deliver.
	start_storm
	start_tracer "$mode-storm-top" top --mode "$mode" -p "$storm_pid" && attached_modes+=("$mode")
	for subcommand in latency retries snoop; do
		start_tracer "$mode-storm-$subcommand" "$subcommand" --mode "$mode"
	done
	# The link check's positive control (at the end): four tracers' links,
	# in the first mode that attached (a mode that fails has failed above).
	[ -z "$links_while_tracing" ] && [ "${attached_modes[0]:-}" = "$mode" ] &&
		links_while_tracing=$(bpf_links)
	echo go >"$work/go"
	wait "$storm_pid"
	for subcommand in top latency retries snoop; do
		stop_tracer "$mode-storm-$subcommand"
	done
	# Fault state in task storage where bpftool says the kernel has it for
	# the mode's programs, else in the hash; the race below runs the hash
	# beside it, so both stores are checked against the truth.
	fault_store=$(expected_fault_state "$mode")
	stored=
	if [ -n "$fault_store" ]; then
		stored=", \"fault_state.$fault_store\": \"=intervals\""
	else
		skip "hmmtrace.$mode-storm.fault-state" "bpftool cannot probe this kernel's features"
	fi
	storm_expectations "$exact" "$mode-storm-top"
	compare_storm_top "$mode-storm-top" "$stored"
	compare "$mode-storm-latency" sim_mirror "{\"invalidate.count\": $invalidations,
		\"invalidate.histogram_total\": $invalidations,
		\"fault_to_mapped.count\": $mapped, \"fault_to_mapped.histogram_total\": \"=fault_to_mapped.count\",
		\"read_begin_wait.histogram_total\": \"=read_begin_wait.count\",
		\"ranges.count\": [1, 1000000], \"ranges.histogram_total\": \"=ranges.count\"}"
	# No livelock here; the livelock scenario below is this check's positive control.
	compare "$mode-storm-retries" sim_mirror "{\"livelocks\": 0, \"livelocks_reported\": 0,
		\"faults_completed\": $completed, \"read_retries\": $retried,
		\"retries_per_fault.histogram_total\": \"=faults_completed\"$stored}"
	# Range starts cost every munmap(): top hooks them only where the kernel
	# has no mm->owner (CONFIG_MEMCG) to name the process of a kworker's
	# event; latency, which times ranges, always does (the positive control).
	run_checker "hmmtrace.$mode-storm" python3 - "$work/$mode-storm-top.json" \
		"$work/$mode-storm-latency.json" "$kernel_has_mm_owner" <<'EOF'
import json, sys
top, latency, has_mm_owner = sys.argv[1], sys.argv[2], sys.argv[3]
for name, path, wanted in (("latency-hooks-range-starts", latency, True),
                           ("top-hooks-range-starts-only-without-mm-owner", top,
                            has_mm_owner == "false")):
    intervals, hooks = 0, set()
    for line in open(path):
        record = json.loads(line) if line.strip() else {}
        if "hooks" in record:
            intervals += 1
            hooks |= set(record["hooks"])
    hooked = any("invalidate_range_start" in hook for hook in hooks)
    if has_mm_owner not in ("true", "false"):
        print(f"FAIL\t{name}\tthe kernel's .config is unreadable: is mm->owner there?")
    elif not intervals:
        print(f"FAIL\t{name}\tno interval object named its hooks")
    else:
        print(f"{'PASS' if hooked == wanted else 'FAIL'}\t{name}\t"
              f"range starts {'hooked' if hooked else 'not hooked'}, CONFIG_MEMCG "
              f"{'y' if has_mm_owner == 'true' else 'off'}: {sorted(hooks)}")
EOF
	# No drop, and every event shown counted: the intervals' counts are the events printed.
	compare "$mode-storm-snoop" sim_mirror "{\"dropped_total\": 0, \"interval.dropped\": 0,
		\"events\": \"=interval.events\",
		\"events.mmu_interval_notifier_insert\": $inserts,
		\"events.mmu_interval_notifier_remove\": $inserts,
		\"events.mmu_interval_notifier_invalidate\": $invalidations,
		\"events.mmu_interval_read_begin\": $read_begins}"

	if [ "${HMMTRACE_FILTERS:-1}" = 1 ]; then
		# Normal workloads never look like a livelock. Meanwhile, the other
		# groupings and filters: three processes of four ranges each, then 36 of
		# one range, more processes than hot slots, so some count in the hash.
		# Each filter that must see nothing has a twin in the same window that
		# must see exactly its match: -p of this shell beside -p of the first
		# workload, --driver of another driver beside --driver sim_mirror.
		rm -f "$work/go"
		mkfifo "$work/go"
		sh -c 'read -r _ <"$1"; shift; exec "$@"' gate "$work/go" \
			"$workload" fault-sweep --json >"$work/sweep.truth" &
		sweep_pid=$!
		start_tracer "$mode-normal-retries" retries --mode "$mode"
		start_tracer "$mode-normal-by-process" top --mode "$mode" --by process
		start_tracer "$mode-normal-by-range" top --mode "$mode" --by range
		start_tracer "$mode-normal-other-pid" top --mode "$mode" -p $$
		start_tracer "$mode-normal-this-pid" top --mode "$mode" -p "$sweep_pid"
		tracers=(retries by-process by-range other-pid this-pid this-driver)
		start_tracer "$mode-normal-this-driver" top --mode "$mode" --driver sim_mirror
		if [ -n "$other_driver" ]; then
			start_tracer "$mode-normal-other-driver" top --mode "$mode" --driver "$other_driver"
			tracers+=(other-driver)
		fi
		echo go >"$work/go"
		wait "$sweep_pid"
		for scenario in mprotect fork-cow; do
			"$workload" "$scenario" >/dev/null
		done
		for _ in $(seq 36); do
			"$workload" fault-sweep --ranges 1 >/dev/null
		done
		for tracer in "${tracers[@]}"; do
			stop_tracer "$mode-normal-$tracer" TERM
		done
		sweep_inserts=$(truth "$work/sweep.truth" inserts)
		compare "$mode-normal-retries" sim_mirror '{"livelocks": 0, "livelocks_reported": 0}'
		compare "$mode-normal-by-process" - '{"inserts": 48, "removes": 48}'
		compare "$mode-normal-by-range" sim_mirror '{"inserts": 48, "removes": 48}'
		compare "$mode-normal-other-pid" sim_mirror '{"rows": 0}'
		# Only the first workload's: it exits with its ranges live, as the storm does.
		compare "$mode-normal-this-pid" sim_mirror "{\"inserts\": $sweep_inserts,
			\"removes\": $sweep_inserts,
			\"invalidations\": $(($(truth "$work/sweep.truth" invalidations) + 2 * sweep_inserts)),
			\"read_begins\": $(truth "$work/sweep.truth" read_begins)}"
		if [ -n "$other_driver" ]; then
			compare "$mode-normal-other-driver" sim_mirror '{"rows": 0}'
		else
			skip "hmmtrace.$mode-normal-other-driver" "no driver but sim_mirror can be loaded in this kernel"
		fi
		compare "$mode-normal-this-driver" sim_mirror '{"inserts": 48, "removes": 48}'
	else
		skip "hmmtrace.$mode-normal" "HMMTRACE_FILTERS=0: the groupings and filters are left to the other kernels"
	fi

	# Faults racing CPU writers: collisions under the driver lock and -EBUSY.
	# On stock kernels a retry is inferred within --retry-gap-ms of the last
	# hmm_range_fault(); under TCG, with the writers hogging both vCPUs, a
	# woken kworker can take longer than the default 10 ms to go round. The
	# bounds hold for any window.
	gap=()
	$exact || gap=(--retry-gap-ms 200)
	start_tracer "$mode-race-top" top --mode "$mode" "${gap[@]}"
	start_tracer "$mode-race-top-hash" top --mode "$mode" --fault-state hash "${gap[@]}"
	start_tracer "$mode-race-retries" retries --mode "$mode" "${gap[@]}"
	"$workload" race --duration 2 --retry-window-us 2000 --json >"$work/race.truth"
	stop_tracer "$mode-race-top"
	stop_tracer "$mode-race-top-hash"
	stop_tracer "$mode-race-retries"
	inserts=$(truth "$work/race.truth" inserts)
	invalidations=$(($(truth "$work/race.truth" invalidations) + 2 * inserts))
	retries=$(truth "$work/race.truth" retries)
	ebusy=$(truth "$work/race.truth" ebusy)
	faults=$(truth "$work/race.truth" faults)
	race_bounds "$exact" "$faults" "$retries" "$invalidations"
	# The fallback's positive control: it ran on the hash.
	for name in race-top race-top-hash; do
		store=$stored
		[ "$name" = race-top-hash ] && store=', "fault_state.hash": "=intervals"'
		compare "$mode-$name" sim_mirror "{\"inserts\": $inserts, \"removes\": $inserts,
			\"invalidations\": $invalidations, \"read_begins\": $(truth "$work/race.truth" read_begins),
			\"read_retries\": $retried, \"range_fault_ebusy\": $ebusy, \"faults_completed\": $completed$store}"
	done
	compare "$mode-race-retries" sim_mirror "{\"faults_completed\": $completed,
		\"read_retries\": $retried, \"range_fault_ebusy\": $ebusy,
		\"retries_per_fault.histogram_total\": \"=faults_completed\"}"

	# The stale-seq livelock: reported while the workload runs, and from
	# inside its stall (the streak's age at the report is below the 1000 ms
	# HMM timeout that ends each stall), on the guest's own clock: a wall
	# clock bound here would time the host's load, not hmmtrace.
	# Counted as the normal workloads' "livelocks": 0 is, so it is that
	# check's positive control. Three stalls, not one: the report comes
	# 100 ms into the first, and with the workload's two threads spinning
	# on both vCPUs of a debug kernel, the tracer and this loop once got no
	# turn in the 900 ms that one stall leaves.
	start_tracer "$mode-livelock" retries --mode "$mode"
	"$workload" livelock --stalls 3 --duration 10 >/dev/null &
	livelock_pid=$!
	detected=
	while kill -0 "$livelock_pid" 2>/dev/null; do
		if grep -q '"livelock"' "$work/$mode-livelock.json"; then
			detected=yes
			break
		fi
		sleep 0.05
	done
	wait "$livelock_pid"
	stop_tracer "$mode-livelock"
	compare "$mode-livelock" sim_mirror '{"livelocks": [1, 1000], "livelocks_reported": "=livelocks"}'
	if [ -z "$detected" ]; then
		fail "hmmtrace.$mode-livelock.reported-while-running" "no livelock report while the workload ran"
	else
		pass "hmmtrace.$mode-livelock.reported-while-running"
		run_checker "hmmtrace.$mode-livelock" \
			python3 - "$work/$mode-livelock.json" "$livelock_pid" <<'EOF'
import json, sys
path, pid = sys.argv[1], int(sys.argv[2])
report = next(json.loads(line)["livelock"] for line in open(path) if '"livelock"' in line)
checks = {
    "reported-during-the-stall": (report["duration_ns"] < 1000e6,
                                  f"the streak was {report['duration_ns'] / 1e6:.1f} ms old when reported"),
    "names-the-process": (report["pid"] == pid, f"pid {report['pid']}, the workload is {pid}"),
    "names-the-driver": (report["driver"] == "sim_mirror", report["driver"]),
    "past-the-threshold": (report["duration_ns"] >= 100e6 and report["retries"] >= 1,
                           f"{report['retries']} retries in {report['duration_ns']} ns"),
    "has-the-retrying-stack": (any("fault_batch_work" in frame for frame in report["kernel_stack"]),
                               " ".join(report["kernel_stack"][:6])),
    "names-the-invalidator": (report["invalidator"] is not None and
                              report["invalidator"]["comm"] == "sim_mirror_work" and
                              len(report["invalidator"]["kernel_stack"]) > 0,
                              json.dumps(report["invalidator"])[:200]),
}
for name, (held, detail) in checks.items():
    print(f"{'PASS' if held else 'FAIL'}\t{name}\t{detail}")
EOF
	fi
done

# Automatic choice, as users run it: without --mode, hmmtrace takes the
# first mode that works here, which is the first of this kernel's modes
# above whose tracer attached, and counts the storm as that mode does.
start_storm
start_tracer automatic-storm-top top -v -p "$storm_pid"
echo go >"$work/go"
wait "$storm_pid"
stop_tracer automatic-storm-top
chosen=$(python3 -c '
import json, sys
modes = {json.loads(line).get("mode") for line in open(sys.argv[1]) if line.strip()}
print(" ".join(sorted(str(mode) for mode in modes)))' "$work/automatic-storm-top.json" 2>/dev/null)
if [ ${#attached_modes[@]} -eq 0 ]; then
	fail hmmtrace.automatic-storm-top.mode "no mode of ${modes[*]} attached above, so none can be expected"
elif [ "$chosen" = "${attached_modes[0]}" ]; then
	pass hmmtrace.automatic-storm-top.mode
else
	fail hmmtrace.automatic-storm-top.mode "its intervals said mode '$chosen', the first mode that attached above is ${attached_modes[0]}"
fi
exact=false
exact_mode "$chosen" && exact=true
storm_expectations "$exact" automatic-storm-top
compare_storm_top automatic-storm-top
# -v times attaching in phases (the bench's attach stage reads the same
# line): every phase named, the verifier's load and the attach not 0.
verdict hmmtrace.automatic-storm-top.attach-phases python3 -c 'import re, sys
lines = [line for line in open(sys.argv[1]) if line.startswith("hmmtrace: attach phases")]
phases = dict(re.findall(r" ([a-z]+) ([0-9.]+)", lines[0])) if lines else {}
print(lines[0].strip() if lines else "no attach phases line")
wanted = ("btf", "kallsyms", "probe", "open", "load", "attach")
sys.exit(not (all(name in phases for name in wanted) and float(phases["load"]) > 0 and
              float(phases["attach"]) > 0))' "$work/automatic-storm-top.err"
rmmod sim_mirror

# test_hmm: test_hmm_phases' deterministic phases, then it closes the device.
# lib/ is built without ftrace hooks, so on stock kernels its callbacks
# cannot be traced and its invalidations are not expected there.
if [ "$other_driver" = "mlx5 odp" ]; then
	modprobe -r mlx5_ib
fi
if modprobe test_hmm 2>/dev/null; then
	for mode in "${modes[@]}"; do
		start_tracer "$mode-test_hmm-top" top --mode "$mode"
		build/tests/test_hmm_phases --race-seconds 0 >"$work/test_hmm.truth"
		stop_tracer "$mode-test_hmm-top"
		chunks=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["chunks"])' "$work/test_hmm.truth")
		pages=$((chunks * 64))
		if [ "$mode" = tp_btf ] || [ "$mode" = raw_tp ]; then
			compare "$mode-test_hmm-top" test_hmm "{
				\"inserts\": 1, \"removes\": 1, \"invalidations\": $((pages + 2)),
				\"read_begins\": $((4 * chunks)), \"read_retries\": 0, \"check_retries\": $chunks,
				\"range_faults\": $((4 * chunks)), \"range_fault_ebusy\": $chunks}"
		else
			# The callback is unseen, so rows are keyed by the remembered range's callback.
			compare "$mode-test_hmm-top" test_hmm "{
				\"inserts\": 1, \"removes\": 1, \"read_begins\": $((4 * chunks)),
				\"range_faults\": $((4 * chunks)), \"range_fault_ebusy\": $chunks}"
		fi
	done
	rmmod test_hmm
fi

# Every tracer above was stopped by a signal: none may leave a link behind.
check_links_released hmmtrace.signals-detach-every-link "$links_before" "$links_while_tracing" 4 "$(bpf_links)"
[ -n "${HMMTRACE_WORK:-}" ] || rm -rf "$work"
