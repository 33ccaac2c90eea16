#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Every patch in kernel/patches passes the kernel's checkpatch.pl --strict and
# carries a Signed-off-by and a commit message that explains itself.

. tests/lib.sh

source_version=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null)
kernel_tree=${HMMTRACE_CACHE:-$HOME/.cache/hmmtrace}/$source_version/pristine
if [ ! -x "$kernel_tree/scripts/checkpatch.pl" ]; then
	skip patch-style "no unpacked kernel tree with checkpatch.pl (run 'make kernel')"
	exit 0
fi

# Run from the kernel tree, as a kernel developer would, with Debian's python3
# first so that spdxcheck.py finds python3-ply and python3-git (it runs in a
# git tree, as the pristine tree is).
for patch in "$PWD"/kernel/patches/*.patch; do
	name=patch-style.$(basename "$patch" .patch | cut -c1-4)
	report=$(cd "$kernel_tree" && PATH=/usr/bin:$PATH scripts/checkpatch.pl --strict --quiet "$patch" 2>&1)
	if [ -n "$report" ]; then
		findings=$(grep -E '^(ERROR|WARNING|CHECK)' <<<"$report" | head -n 3)
		fail "$name.checkpatch" "${findings:-$(head -n 2 <<<"$report")}"
	else
		pass "$name.checkpatch"
	fi
	body_lines=$(sed -n '/^Subject:/,/^---$/p' "$patch" | grep -vc -e '^Subject:' -e '^---$' -e '^Signed-off-by:' -e '^$')
	if grep -q '^Signed-off-by: .* <.*@.*>$' "$patch" && [ "$body_lines" -ge 5 ]; then
		pass "$name.message"
	else
		fail "$name.message" "needs a Signed-off-by and a commit message of 5 or more lines ($body_lines)"
	fi
done
