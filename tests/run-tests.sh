#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The test runner behind `make check`: host unit tests, then the lab tests in
# one guest boot of our kernel, then the stock-kernel tests on Debian's kernel. It prints a line per test and ends with exactly one summary
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

# Debian's own kernel, the production case: no patches, no test_hmm.
debian_scripts=()
for script in tests/lab/test-sim-mirror.sh tests/lab/test-hmmtrace.sh; do
	selected "$script" && debian_scripts+=("$script")
done
if [ ${#debian_scripts[@]} -gt 0 ]; then
	source_version=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null)
	debian_kernel=${HMMTRACE_CACHE:-$HOME/.cache/hmmtrace}/$source_version/debian
	echo "== lab tests on Debian's stock kernel"
	if [ ! -f "$debian_kernel/kernel.release" ]; then
		skip debian-kernel "Debian's kernel is not prepared (make kernel KERNEL_VARIANT=debian)"
	else
		debian_results=$results_dir/debian.results
		: >"$debian_results"
		HMMTRACE_RESULTS=$debian_results HMMTRACE_RESULT_PREFIX=debian: KERNEL_VARIANT=debian \
			LAB_ENV="HMMTRACE_RESULTS HMMTRACE_RESULT_PREFIX ${LAB_ENV:-}" \
			tests/lab/run-lab.sh "tests/lab/guest-tests.sh ${debian_scripts[*]}"
		status=$?
		[ $status -eq 0 ] || fail debian-lab "the Debian kernel's lab run exited with status $status"
	fi
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
