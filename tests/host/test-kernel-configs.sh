#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The series also compiles with CONFIG_TRACING=n and with
# CONFIG_MMU_NOTIFIER=n (kernel/check-configs.sh says what is compiled).

. tests/lib.sh

source_version=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null)
if [ ! -d "${HMMTRACE_CACHE:-$HOME/.cache/hmmtrace}/$source_version/source-patched/obj" ]; then
	skip kernel-configs "the patched kernel is not built (make kernel)"
	exit 0
fi
for configuration in no-tracing no-mmu-notifier; do
	if output=$(kernel/check-configs.sh "$configuration" 2>&1); then
		pass "kernel-configs.$configuration"
	else
		fail "kernel-configs.$configuration" "$(tail -n 3 <<<"$output")"
	fi
done
