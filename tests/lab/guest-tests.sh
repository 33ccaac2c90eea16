#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs inside the lab guest (tests/run-tests.sh starts it): each lab test
# script in turn, from the repository root.

set -uo pipefail
. tests/lib.sh

# Compaction must leave the workloads' mlocked buffers alone: migrating a
# page invalidates its range, which no workload can predict, and
# sim_mirror_workload many-ranges counts 100k ranges' invalidations exactly.
if [ -w /proc/sys/vm/compact_unevictable_allowed ]; then
	echo 0 >/proc/sys/vm/compact_unevictable_allowed
fi

for script in "$@"; do
	run_test_script "$script"
done
exit 0
