#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs inside the lab guest (tests/run-tests.sh starts it): each lab test
# script in turn, from the repository root.

set -uo pipefail
. tests/lib.sh

for script in "$@"; do
	run_test_script "$script"
done
exit 0
