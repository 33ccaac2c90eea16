#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The lab's kernel-log check (tests/lab/kernel_log.py), which fails a lab
# test for any splat the kernel printed during it, on saved logs: each kind
# of report a debug kernel prints is found and named, and a clean boot log
# with the debug tools' own banners is clean. The lab runs the same check on
# the live log after every test (tests/lab/guest-tests.sh).

. tests/lib.sh

fixtures=tests/host/fixtures/kernel-logs
checker=tests/lab/kernel_log.py
found=0
for log in "$fixtures"/*.log; do
	kind=$(basename "$log" .log)
	[ "$kind" = clean ] && continue
	found=$((found + 1))
	output=$(python3 "$checker" scan "$log")
	status=$?
	first=$(head -n 1 <<<"$output")
	if [ $status -eq 1 ] && [ "${first%%:*}" = "$kind" ]; then
		pass "kernel-log.finds.$kind"
	else
		fail "kernel-log.finds.$kind" "status $status, first finding '${first}'"
	fi
done
if [ $found -ge 8 ]; then pass kernel-log.fixtures; else fail kernel-log.fixtures "only $found splat fixtures"; fi

output=$(python3 "$checker" scan "$fixtures/clean.log")
status=$?
if [ $status -eq 0 ] && [ -z "$output" ]; then
	pass kernel-log.clean-boot-is-clean
else
	fail kernel-log.clean-boot-is-clean "status $status: $output"
fi

# A report of code outside hmmtrace that is known (KNOWN in kernel_log.py)
# is named as known, exit 4: the lab counts it as a known failure.
known=0
for log in tests/host/fixtures/kernel-logs-known/*.log; do
	[ -f "$log" ] || continue
	known=$((known + 1))
	output=$(python3 "$checker" scan "$log")
	status=$?
	if [ $status -eq 4 ] && [[ $(head -n 1 <<<"$output") == known:* ]]; then
		pass "kernel-log.known.$(basename "$log" .log)"
	else
		fail "kernel-log.known.$(basename "$log" .log)" "status $status: $(head -n 1 <<<"$output")"
	fi
done
[ $known -gt 0 ] || fail kernel-log.known "no fixture of a known report"

# kmemleak's report, read after each lab test: test_hmm's known leak of its
# devices (the report the debug lane saw, and the same while test_hmm is
# loaded again, its frames named) is named as known, and a leak of
# sim_mirror's beside it still fails.
fixture=tests/host/fixtures/kmemleak
output=$(python3 "$checker" leaks "$fixture/test_hmm-device-known.txt")
status=$?
if [ $status -eq 4 ] && [ "$(grep -c '^known: kmemleak: 3 objects' <<<"$output")" -eq 1 ] &&
	[ "$(wc -l <<<"$output")" -eq 1 ]; then
	pass kernel-log.kmemleak.known-test_hmm-devices
else
	fail kernel-log.kmemleak.known-test_hmm-devices "status $status: $output"
fi
output=$(python3 "$checker" leaks "$fixture/sim_mirror-range-beside-known.txt")
status=$?
if [ $status -eq 1 ] && [[ $(head -n 1 <<<"$output") == "kmemleak: unreferenced object "*"from register_range+"* ]] &&
	[[ $(sed -n 2p <<<"$output") == "known: kmemleak: 1 objects"* ]]; then
	pass kernel-log.kmemleak.unknown-beside-known-fails
else
	fail kernel-log.kmemleak.unknown-beside-known-fails "status $status: $output"
fi
output=$(python3 "$checker" leaks /dev/null)
status=$?
if [ $status -eq 0 ] && [ -z "$output" ]; then
	pass kernel-log.kmemleak.empty-report-is-clean
else
	fail kernel-log.kmemleak.empty-report-is-clean "status $status: $output"
fi

python3 "$checker" bogus >/dev/null 2>&1
status=$?
if [ $status -eq 64 ]; then pass kernel-log.usage-error; else fail kernel-log.usage-error "a bad command exited $status"; fi
