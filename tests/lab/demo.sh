#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make demo` runs this inside the lab guest. Until hmmtrace itself lands, it
# shows the lab: our kernel, test_hmm, and the kernel's HMM selftest.

set -euo pipefail

echo "== lab guest: Linux $(uname -r), $(getconf _NPROCESSORS_ONLN) CPUs, THP=$(grep -o '\[[a-z]*\]' /sys/kernel/mm/transparent_hugepage/enabled)"
modprobe test_hmm
echo "== test_hmm loaded: $(ls /dev/hmm_dmirror*)"
echo "== hmm-tests (tools/testing/selftests/mm/hmm-tests.c from the same source tree)"
"$LAB_KERNEL_DIR/hmm-tests" 2>&1 | grep -E '^(ok|not ok|# Totals)'
rmmod test_hmm
