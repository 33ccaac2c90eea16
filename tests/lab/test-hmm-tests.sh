#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The kernel's own HMM selftest (tools/testing/selftests/mm/hmm-tests.c, built
# from the same source tree as the kernel) against test_hmm.ko. Every case
# becomes one result, once with THP=madvise (the default) and once with
# THP=always.
#
# Known failures with THP=always: 6.12's make_device_exclusive_range() asks
# GUP for FOLL_SPLIT_PMD, which splits only the PMD mapping; the folio stays
# large and every tail page is refused, so HMM_DMIRROR_EXCLUSIVE returns
# -EBUSY. Upstream reworked this after 6.12 (make_device_exclusive() on a
# folio_walk). Only that exact failure of those three tests is reported as
# XFAIL; a pass is a pass and any other failure is a failure.
#
# The device-coherent variants run on the memory window tests/lab/run-lab.sh
# reserves (LAB_COHERENT_MEMORY); without it, hmm-tests skips them.

. tests/lib.sh

hmm_tests=$LAB_KERNEL_DIR/hmm-tests
thp_control=/sys/kernel/mm/transparent_hugepage/enabled
hugepages_control=/proc/sys/vm/nr_hugepages
exclusive_ebusy='Expected ret (-16) == 0 (0)'
exclusive_cause="known 6.12 bug with THP=always: make_device_exclusive_range() refuses the tail pages of a PTE-mapped THP (FOLL_SPLIT_PMD leaves the folio large), so HMM_DMIRROR_EXCLUSIVE returns -EBUSY"

# A known failure is the exclusive tests with THP=always failing with -EBUSY;
# any other way of failing is a real failure.
is_known_failure() {
	local thp=$1 test_name=$2 test_output=$3
	[ "$thp" = always ] &&
		[[ $test_name =~ ^hmm\.hmm_device_(private|coherent)\.exclusive(_mprotect|_cow)?$ ]] &&
		[[ $test_output == *"$exclusive_ebusy"* ]]
}

if [ ! -x "$hmm_tests" ]; then
	fail hmm-tests "$hmm_tests is missing; make kernel builds it"
	exit 0
fi
module_parameters=()
if [ -n "${LAB_COHERENT_MEMORY:-}" ]; then
	read -r coherent_dev0 coherent_dev1 <<<"$LAB_COHERENT_MEMORY"
	module_parameters=(spm_addr_dev0="$coherent_dev0" spm_addr_dev1="$coherent_dev1")
else
	echo "# no device-coherent memory window in this guest: the coherent variants will skip"
fi
if ! modprobe test_hmm "${module_parameters[@]}" 2>/tmp/modprobe.err; then
	fail hmm-tests.load-test_hmm "$(cat /tmp/modprobe.err)"
	exit 0
fi
pass hmm-tests.load-test_hmm

# run_suite THP_MODE: run hmm-tests once and turn each case into a result.
run_suite() {
	local thp=$1 output planned=0 reported=0 line test_name test_output="" reason
	local -A counted=([PASS]=0 [FAIL]=0 [SKIP]=0 [XFAIL]=0)
	echo "$thp" >"$thp_control"
	echo "# hmm-tests with THP=$thp"
	output=$("$hmm_tests" 2>&1)
	while IFS= read -r line; do
		if [[ $line =~ ^1\.\.([0-9]+)$ ]]; then
			planned=${BASH_REMATCH[1]}
		elif [[ $line =~ ^#\ +RUN ]]; then
			test_output=""
		elif [[ $line =~ ^(not\ )?ok\ [0-9]+\ ([^ ]+)(\ \#\ SKIP\ ?(.*))?$ ]]; then
			reported=$((reported + 1))
			test_name=${BASH_REMATCH[2]}
			local name="hmm-tests[thp=$thp] $test_name"
			if [ -n "${BASH_REMATCH[3]}" ]; then
				skip "$name" "${BASH_REMATCH[4]:-skipped by hmm-tests}"
				counted[SKIP]=$((counted[SKIP] + 1))
			elif [ -z "${BASH_REMATCH[1]}" ]; then
				pass "$name"
				counted[PASS]=$((counted[PASS] + 1))
			elif is_known_failure "$thp" "$test_name" "$test_output"; then
				xfail "$name" "$exclusive_cause"
				counted[XFAIL]=$((counted[XFAIL] + 1))
			else
				reason=$(grep -v -e 'FAIL ' -e 'Test terminated' <<<"$test_output" | head -n 2)
				fail "$name" "${reason:-no assertion message}"
				counted[FAIL]=$((counted[FAIL] + 1))
			fi
		else
			test_output+=$line$'\n'
		fi
	done <<<"$output"
	if [ "$planned" -eq 0 ] || [ "$reported" -ne "$planned" ]; then
		fail "hmm-tests[thp=$thp]" "reported $reported of $planned planned cases; last lines: $(tail -n 3 <<<"$output")"
	fi
	echo "# hmm-tests THP=$thp: ${counted[PASS]} pass, ${counted[FAIL]} fail, ${counted[SKIP]} skip, ${counted[XFAIL]} known failures"
}

# anon_write_hugetlbfs needs a free hugetlb page.
original_hugepages=$(cat "$hugepages_control")
echo 4 >"$hugepages_control"
original_thp=$(grep -o '\[[a-z]*\]' "$thp_control" | tr -d '[]')
# HMM_TESTS_THP="madvise" runs one setting only (the debug kernel's lane).
for thp in ${HMM_TESTS_THP:-madvise always}; do
	run_suite "$thp"
done
echo "$original_thp" >"$thp_control"
echo "$original_hugepages" >"$hugepages_control"
rmmod test_hmm || fail hmm-tests.unload-test_hmm "rmmod test_hmm failed"
