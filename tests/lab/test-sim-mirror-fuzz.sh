#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The sim_mirror concurrency fuzzer (tests/workloads/sim_mirror_fuzz.c) on the
# lab kernel: FUZZ_SEEDS runs (default 2) of FUZZ_SECONDS each (default 60),
# each with a fresh module. Each seed is printed, so a failure replays with
#   build/tests/sim_mirror_fuzz --seed N --seconds S
# (FUZZ_SEED_LIST="N ..." runs those seeds instead of new ones). Each run must
# exit 0 (the driver did nothing user space can see as wrong), must have
# issued ioctls of every kind and raced them with forks, closes and address
# space changes (its summary, parsed: zero or absent fails), and must leave
# no live range once its processes exited; the module must then unload
# saying so.

. tests/lib.sh

module=build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko
fuzzer=build/tests/sim_mirror_fuzz
counters=/sys/kernel/debug/sim_mirror/counters
seconds=${FUZZ_SECONDS:-60}
seed_count=${FUZZ_SEEDS:-2}
kinds="add_range remove_range read write set_knobs get_knobs get_counters reset_counters unknown"
events="forks grandchildren closes munmaps mremaps mprotects madvises touches worker_exits integrity_checks counter_checks"
work=$(mktemp -d)

if ! [[ $seconds =~ ^[1-9][0-9]*$ ]] || ! [[ $seed_count =~ ^[1-9][0-9]*$ ]]; then
	fail sim-mirror-fuzz "FUZZ_SECONDS and FUZZ_SEEDS must be positive numbers, not '$seconds' and '$seed_count'"
	exit 0
fi
for file in "$module" "$fuzzer"; do
	if [ ! -f "$file" ]; then
		fail sim-mirror-fuzz "$file is not built (make test-programs driver KERNEL_VARIANT=$KERNEL_VARIANT)"
		exit 0
	fi
done
if [ -n "${FUZZ_SEED_LIST:-}" ]; then
	read -r -a seed_list <<<"$FUZZ_SEED_LIST"
	seed_count=${#seed_list[@]}
fi

# summary_value OUTPUT LINE-PREFIX FIELD: FIELD=N from the summary line, or nothing.
summary_value() {
	sed -n "s/^$2 .*\\b$3=\\([0-9][0-9]*\\).*/\\1/p" "$1" | head -n 1
}

grep -q '^sim_mirror ' /proc/modules && rmmod sim_mirror
runs_ok=0
seeds_run=()
for run in $(seq "$seed_count"); do
	name=sim-mirror-fuzz.run-$run
	output=$work/run-$run.out
	errors=$work/run-$run.err
	if ! insmod "$module" 2>"$errors"; then
		fail "$name.load" "$(cat "$errors")"
		continue
	fi
	seed_option=()
	[ -n "${FUZZ_SEED_LIST:-}" ] && seed_option=(--seed "${seed_list[run - 1]}")
	status=0
	"$fuzzer" "${seed_option[@]}" --seconds "$seconds" >"$output" 2>"$errors" || status=$?
	seed=$(sed -n '1s/^seed \([0-9][0-9]*\)$/\1/p' "$output")
	last_seed=$(tail -n 1 "$output" | sed -n 's/^seed \([0-9][0-9]*\)$/\1/p')
	echo "sim-mirror-fuzz: run $run: seed ${seed:-unknown}, $seconds s (replay: $fuzzer --seed ${seed:-N} --seconds $seconds)"
	seeds_run+=("${seed:-unknown}")
	run_ok=1

	if [ -z "$seed" ] || [ "$seed" != "$last_seed" ]; then
		fail "$name.seed-printed" "the output does not start and end with the same 'seed N' line"
		run_ok=0
	fi
	if [ "$status" -eq 0 ]; then
		record_result PASS "$name.exit-0" "seed $seed, $seconds s"
	else
		fail "$name.exit-0" "seed $seed: exit $status; $(grep -m 3 '^violation' "$errors" | tr '\n' ' ')$(tail -n 2 "$errors" | tr '\n' ' ')"
		run_ok=0
	fi

	# Positive control: every kind of ioctl was issued, every race happened.
	missing=
	for kind in $kinds; do
		total=$(summary_value "$output" "ioctl $kind" total)
		[ "${total:-0}" -gt 0 ] || missing+=" ioctl:$kind=${total:-absent}"
	done
	for event in $events; do
		total=$(summary_value "$output" events "$event")
		[ "${total:-0}" -gt 0 ] || missing+=" $event=${total:-absent}"
	done
	if [ -z "$missing" ]; then
		record_result PASS "$name.every-kind-issued" "seed $seed, $seconds s: 9 ioctl kinds, $(echo $events | wc -w) race kinds"
	else
		fail "$name.every-kind-issued" "seed $seed: none of$missing"
		run_ok=0
	fi

	# Every fuzz process exited: no range may be left.
	live=$(sed -n 's/^live_ranges \([0-9-][0-9]*\)$/\1/p' "$counters")
	if [ "$live" = 0 ]; then
		record_result PASS "$name.no-live-ranges" "seed $seed, $seconds s"
	else
		fail "$name.no-live-ranges" "seed $seed: debugfs shows live_ranges '${live:-absent}' after every fuzz process exited"
		run_ok=0
	fi

	dmesg -C
	if rmmod sim_mirror 2>"$errors" && ! grep -q '^sim_mirror ' /proc/modules &&
		dmesg | grep -q 'sim_mirror: unloaded with 0 live ranges'; then
		record_result PASS "$name.unload" "seed $seed, $seconds s"
	else
		fail "$name.unload" "seed $seed: $(cat "$errors") $(dmesg | grep sim_mirror | tail -n 1)"
		run_ok=0
		grep -q '^sim_mirror ' /proc/modules && break
	fi
	runs_ok=$((runs_ok + run_ok))
done

if [ "$runs_ok" -eq "$seed_count" ]; then
	record_result PASS sim-mirror-fuzz "$seed_count seeds x $seconds s fuzzed, $((seed_count * seconds)) s in all (seeds ${seeds_run[*]})"
else
	fail sim-mirror-fuzz "$runs_ok of $seed_count seeds ($seconds s each) ran clean (seeds ${seeds_run[*]})"
fi
rm -rf "$work"
