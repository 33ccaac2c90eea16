#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A libbpf skeleton loads in the guest, attaches a tracepoint and a tp_btf
# program, and both count exactly the getppid() calls the loader makes.

. tests/lib.sh

if [ ! -x build/tests/bpf-smoke ]; then
	skip bpf.smoke "build/tests/bpf-smoke is not built (make test-programs)"
	exit 0
fi
check bpf.smoke build/tests/bpf-smoke
