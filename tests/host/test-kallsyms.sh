#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The symbol table hmmtrace reads once per attach (tools/kallsyms.c), on
# this host's own /proc/kallsyms, against a plain reading of it
# (tests/unit/kallsyms_test.c): the same text symbols by name and address.

. tests/lib.sh

unit=build/tests/kallsyms_test
if [ -x "$unit" ]; then
	run_checker "" "$unit"
else
	fail kallsyms.built "$unit is not built (make test-programs)"
fi
