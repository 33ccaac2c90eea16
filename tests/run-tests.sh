#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The test runner behind `make check`: host unit tests, then the lab tests in
# one guest boot of our kernel, then hmmtrace's fallback on the unpatched kernel and the stock-kernel tests
# on Debian's kernels (its 6.12 and Debian 12's default, 6.1). It prints a line per test and ends with exactly one summary
# line, `N passed, N failed, N skipped`, and exits non-zero if anything failed.
#
#   TESTS=pattern   run only test scripts whose file name matches the glob

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
# bpftrace on every field, the bench smoke) that is about 15 minutes under
# TCG, more than run-lab.sh's default guard of 10.
export LAB_TIMEOUT=${LAB_TIMEOUT:-2100}

selected() {
	[[ $(basename "$1") == ${TESTS:-*} ]]
}

echo "== host tests"
for script in tests/host/test-*.sh; do
	selected "$script" && run_test_script "$script"
done

echo "== lab tests (guest: ${KERNEL_VARIANT:-patched} kernel, ${LAB_ACCEL:-tcg})"
lab_scripts=()
for script in tests/lab/test-*.sh; do
	selected "$script" && lab_scripts+=("$script")
done
if [ ${#lab_scripts[@]} -gt 0 ]; then
	lab_results=$results_dir/lab.results
	: >"$lab_results"
	HMMTRACE_RESULTS=$lab_results LAB_ENV="HMMTRACE_RESULTS ${LAB_ENV:-}" \
		tests/lab/run-lab.sh "tests/lab/guest-tests.sh ${lab_scripts[*]}"
	status=$?
	case $status in
	0) ;;
	124) fail lab "the guest timed out; later lab tests did not run" ;;
	125) fail lab "the lab could not run the tests (see above)" ;;
	*) fail lab "the guest's test driver exited with status $status" ;;
	esac
fi

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

# What every other kernel runs (the patched one runs all of tests/lab/test-*.sh):
# the hmmtrace suite, the static binary alone, the privilege checks, and
# hmmtrace beside a module without BTF.
stock_kernel_scripts=(tests/lab/test-hmmtrace.sh tests/lab/test-hmmtrace-static.sh
	tests/lab/test-hmmtrace-privileges.sh tests/lab/test-hmmtrace-no-btf-modules.sh)
# Our kernel without the patches: hmmtrace's fentry and kprobe fallback.
run_on_kernel stock "the same kernel without our patches" "${stock_kernel_scripts[@]}"
# Debian's own kernels, the production cases: no patches, no test_hmm.
run_on_kernel debian "Debian's stock kernel" tests/lab/test-sim-mirror.sh "${stock_kernel_scripts[@]}"
# Debian 12's default kernel: other struct layouts and helpers, CONFIG_MEMCG's
# mm->owner, and headers without vmlinux, so sim_mirror itself has no BTF there.
run_on_kernel debian-6.1 "Debian 12's default kernel (6.1)" tests/lab/test-sim-mirror.sh tests/lab/test-hmmtrace.sh

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
