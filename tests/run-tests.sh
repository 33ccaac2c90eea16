#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The test runner behind `make check`: host unit tests, then the lab tests,
# one guest boot per kernel: every lab test on our kernel; the driver suite,
# the fuzzer, the tracepoints, hmmtrace and hmm-tests on our kernel under
# lockdep, KASAN and kmemleak; and the stock-kernel tests on Debian's kernels
# (its 6.12, and Debian 12's default, 6.1). It prints a line per test and
# ends with exactly one summary line, `N passed, N failed, N skipped`, and
# exits non-zero if anything failed.
#
# Each boot is QEMU TCG in one host thread, so the boots run in two lanes
# side by side (our kernel, then Debian 12's 6.1; the debug kernel, then
# Debian's 6.12), so that a cold `make check` on two cores takes about the
# longest lane plus the kernels' builds.
#
#   TESTS=pattern   run only test scripts whose file name matches the glob
#   LAB_LANES=1     boot the kernels one after another (default: 2 lanes
#                   when there are 2 CPUs or more)
#   HMMTRACE_XTRACE=glob  trace the test scripts whose name matches, with
#                   times, into build/xtrace/ (tests/lib.sh, run_test_script)

set -uo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
results_dir=$repo_root/build/test-results
rm -rf "$results_dir"
mkdir -p "$results_dir"
export HMMTRACE_RESULTS=$results_dir/host.results
: >"$HMMTRACE_RESULTS"
. tests/lib.sh

# One boot runs every lab test of a kernel: on the patched one (hmm-tests,
# sim_mirror, hmmtrace in four modes of which two here, 100k subscriptions,
# bpftrace on every field, the bench smoke) that is about 20 minutes under
# TCG beside the other lane, more than run-lab.sh's default guard of 10.
export LAB_TIMEOUT=${LAB_TIMEOUT:-3000}
if [ -n "${HMMTRACE_XTRACE:-}" ]; then
	rm -rf build/xtrace
	export LAB_ENV="HMMTRACE_XTRACE ${LAB_ENV:-}"
fi

selected() {
	[[ $(basename "$1") == ${TESTS:-*} ]]
}

echo "== host tests"
for script in tests/host/test-*.sh; do
	selected "$script" && run_test_script "$script"
done

# run_on_kernel VARIANT DESCRIPTION SCRIPTS...: the scripts in one boot of
# another kernel, their results prefixed with "VARIANT:".
run_on_kernel() {
	local variant=$1 description=$2 source_version kernel_dir scripts=() status
	shift 2
	for script in "$@"; do
		selected "$script" && scripts+=("$script")
	done
	[ ${#scripts[@]} -gt 0 ] || return 0
	source_version=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null)
	kernel_dir=${HMMTRACE_CACHE:-$HOME/.cache/hmmtrace}/$source_version/$variant
	echo "== lab tests on $description"
	if [ ! -f "$kernel_dir/kernel.release" ]; then
		skip "$variant-kernel" "the $variant kernel is not prepared (make kernel KERNEL_VARIANT=$variant)"
		return 0
	fi
	: >"$results_dir/$variant.results"
	HMMTRACE_RESULTS=$results_dir/$variant.results HMMTRACE_RESULT_PREFIX=$variant: \
		KERNEL_VARIANT=$variant LAB_ENV="HMMTRACE_RESULTS HMMTRACE_RESULT_PREFIX ${LAB_ENV:-}" \
		tests/lab/run-lab.sh "tests/lab/guest-tests.sh ${scripts[*]}"
	status=$?
	[ $status -eq 0 ] || fail "$variant-lab" "the $variant kernel's lab run exited with status $status"
}

# Every lab test, in one boot of our kernel (KERNEL_VARIANT, patched by
# default), but the fuzzer: it runs under the debug kernel, where its races
# are caught.
run_on_patched_kernel() {
	local lab_scripts=() script status
	for script in tests/lab/test-*.sh; do
		[ "$script" = tests/lab/test-sim-mirror-fuzz.sh ] && continue	# the debug lane's
		selected "$script" && lab_scripts+=("$script")
	done
	[ ${#lab_scripts[@]} -gt 0 ] || return 0
	echo "== lab tests (guest: ${KERNEL_VARIANT:-patched} kernel, ${LAB_ACCEL:-tcg})"
	: >"$results_dir/lab.results"
	HMMTRACE_RESULTS=$results_dir/lab.results LAB_ENV="HMMTRACE_RESULTS ${LAB_ENV:-}" \
		tests/lab/run-lab.sh "tests/lab/guest-tests.sh ${lab_scripts[*]}"
	status=$?
	case $status in
	0) ;;
	124) fail lab "the guest timed out; later lab tests did not run" ;;
	125) fail lab "the lab could not run the tests (see above)" ;;
	*) fail lab "the guest's test driver exited with status $status" ;;
	esac
}

# What Debian's kernels run, the production cases (no patches, no
# test_hmm): the hmmtrace suite in the stock modes, the static binary alone
# and the exporter beside Prometheus; on its 6.12 (the series' own base,
# unpatched) also causes in the stock modes, the privilege checks, hmmtrace
# beside a module without BTF and the exporter as its systemd unit runs it.
# Debian 12's default kernel has other struct layouts and helpers, and
# headers without vmlinux, so sim_mirror itself has no BTF there.
stock_kernel_scripts=(tests/lab/test-hmmtrace.sh tests/lab/test-hmmtrace-static.sh
	tests/lab/test-hmmtrace-export.sh)
debian_kernel_scripts=(tests/lab/test-sim-mirror.sh "${stock_kernel_scripts[@]}"
	tests/lab/test-hmmtrace-privileges.sh tests/lab/test-hmmtrace-no-btf-modules.sh
	tests/lab/test-hmmtrace-export-unit.sh)

# The patched kernel under lockdep, KASAN, KFENCE, DEBUG_VM and kmemleak
# (kernel/config/debug.config): the driver suite, the concurrency fuzzer,
# the tracepoints, hmmtrace in both tracepoint modes and hmm-tests (THP as
# the kernel sets it: the THP=always run repeats it for one known 6.12
# failure). Any report the kernel prints fails the test that was running
# (tests/lab/guest-tests.sh). hmm-tests goes last: lockdep turns itself off
# after its first report, and test_hmm has a known one (kernel_log.py).
# Under TCG these run several times slower than on the patched kernel (an
# hmmtrace attach takes 16 s, 100k subscriptions 98 s), so the rest of the
# lab stays there, and here the driver suite subscribes 10k ranges, cycles
# the module 5 times, and hmmtrace leaves its groupings and filters to the
# other kernels (the paths they take in the kernel are the same).
debug_kernel_scripts=(tests/lab/test-sim-mirror.sh tests/lab/test-sim-mirror-fuzz.sh
	tests/lab/test-tracepoints.sh tests/lab/test-hmmtrace.sh tests/lab/test-hmm-tests.sh)

# The lanes, balanced as measured in the cold run at d293c71 (each test's
# "took" line): our kernel (19.8 minutes) and Debian's 6.1 (6.2) in one;
# the debug kernel (23.3: its test-hmmtrace takes about 15, 19 attaches of
# about 25 s each) and Debian's 6.12 (6.7) in the other. The unpatched build of our own kernel
# (KERNEL_VARIANT=stock) is not booted here: Debian's 6.12 is the same
# kernel unpatched, as production runs it.
first_lane() {
	run_on_patched_kernel
	run_on_kernel debian-6.1 "Debian 12's default kernel (6.1)" "${debian_kernel_scripts[@]}"
}

second_lane() {
	HMM_TESTS_THP=madvise SIM_MIRROR_MANY_RANGES=10000 SIM_MIRROR_LOAD_CYCLES=5 HMMTRACE_FILTERS=0 \
		LAB_ENV="HMM_TESTS_THP SIM_MIRROR_MANY_RANGES SIM_MIRROR_LOAD_CYCLES HMMTRACE_FILTERS ${LAB_ENV:-}" \
		run_on_kernel debug "the patched kernel with lockdep, KASAN, KFENCE and kmemleak" \
		"${debug_kernel_scripts[@]}"
	run_on_kernel debian "Debian's stock kernel (6.12)" "${debian_kernel_scripts[@]}" \
		tests/lab/test-hmmtrace-causes.sh
}

lanes=${LAB_LANES:-$(($(nproc) >= 2 ? 2 : 1))}
if ! [[ $lanes =~ ^[1-9][0-9]*$ ]]; then
	echo "run-tests: LAB_LANES must be a positive number, not '$lanes'" >&2
	exit 2
fi
if [ "$lanes" -ge 2 ]; then
	# The second lane's lines are shown when it is done, so that each
	# lane's lines stay together; its results files are its own. It runs
	# in its own process group (set -m), which Ctrl-C does not reach, so
	# an interrupted run stops it here.
	set -m
	second_lane >"$results_dir/second-lane.log" 2>&1 &
	second_lane_pid=$!
	set +m
	trap 'kill -TERM -- -"$second_lane_pid" 2>/dev/null; exit 130' INT
	trap 'kill -TERM -- -"$second_lane_pid" 2>/dev/null; exit 143' TERM
	first_lane
	status=0
	wait "$second_lane_pid" || status=$?
	trap - INT TERM
	cat "$results_dir/second-lane.log"
	[ "$status" -eq 0 ] || fail second-lane "the second lane of lab boots exited with status $status"
else
	first_lane
	second_lane
fi

cat "$results_dir"/*.results >"$results_dir/all.results"
count() { grep -c "^$1"$'\t' "$results_dir/all.results"; }
passed=$(count PASS)
failed=$(count FAIL)
known=$(count XFAIL)
skipped=$(($(count SKIP) + known))
echo
if [ "$failed" -gt 0 ]; then
	echo "Failed:"
	grep $'^FAIL\t' "$results_dir/all.results" | cut -f2,3 | sed 's/\t/: /; s/^/  /'
fi
if [ "$known" -gt 0 ]; then
	echo "Known failures (counted as skipped, never as passed):"
	grep $'^XFAIL\t' "$results_dir/all.results" | cut -f2,3 | sed 's/\t/: /; s/^/  /'
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
