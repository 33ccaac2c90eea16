#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# How causes names an invalidation, without a kernel: paths and entry points
# from stacks of the kinds the lab's kernels take, kernel-thread classes and
# syscall names (tests/unit/cause_names_test.c). The lab's
# test-hmmtrace-causes.sh checks the same names on real invalidations.

. tests/lib.sh

unit=build/tests/cause_names_test
if [ -x "$unit" ]; then
	run_checker "" "$unit"
else
	fail cause-names.built "$unit is not built (make test-programs)"
fi
