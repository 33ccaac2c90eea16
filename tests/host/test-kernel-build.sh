#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kernel/build-kernel.sh refuses, by name, a config fragment whose options
# Kconfig dropped and a patch that does not apply with `git am`, reapplies the
# series only when it changed, and leaves the cover letter out of both. The
# real series applies with `git am` to the pristine 6.12 tree, and its cover
# letter's shortlog and diffstat are the ones git format-patch makes of it. The
# lab kernel's module directory links build and source as a distribution's.

. tests/lib.sh
. kernel/build-kernel.sh

workspace=$(mktemp -d)
trap 'rm -rf "$workspace"' EXIT

# verify_config
cat >"$workspace/fragment" <<'FRAGMENT'
# a comment
CONFIG_KEPT=y
CONFIG_MODULAR=m
CONFIG_NUMBER=8
# CONFIG_UNWANTED is not set
FRAGMENT
printf 'CONFIG_KEPT=y\nCONFIG_MODULAR=m\nCONFIG_NUMBER=8\n' >"$workspace/good.config"
printf 'CONFIG_KEPT=y\nCONFIG_NUMBER=4\nCONFIG_UNWANTED=y\n' >"$workspace/bad.config"

check kernel-build.config-holds verify_config "$workspace/fragment" "$workspace/good.config"
if verify_config "$workspace/fragment" "$workspace/bad.config" 2>"$workspace/verify.err"; then
	fail kernel-build.config-dropped-option-fails "a .config missing options was accepted"
else
	missing=
	for expected in "CONFIG_MODULAR (want m, got n)" "CONFIG_NUMBER (want 8, got 4)" \
		"CONFIG_UNWANTED (want n, got y)"; do
		grep -qF "$expected" "$workspace/verify.err" || missing+="$expected; "
	done
	if [ -z "$missing" ] && ! grep -q CONFIG_KEPT "$workspace/verify.err"; then
		pass kernel-build.config-dropped-option-fails
	else
		fail kernel-build.config-dropped-option-fails "not named: $missing"
	fi
fi

# apply_series against a small tree tagged `pristine`, as the kernel tree is.
tree=$workspace/tree
patches=$workspace/patches
mkdir -p "$tree" "$patches"
printf 'one\ntwo\nthree\n' >"$tree/file.c"
git_in "$tree" init -q
git_in "$tree" add -A
git_in "$tree" commit -q -m pristine
git_in "$tree" tag pristine
sed -i 's/two/TWO/' "$tree/file.c"
git_in "$tree" commit -q -am "file: shout two" -m "Signed-off-by: Lab <lab@hmmtrace.invalid>"
git_in "$tree" format-patch -q -1 -o "$patches"
git_in "$tree" format-patch -q --cover-letter -1 -o "$workspace/cover"
git_in "$tree" reset -q --hard pristine

fingerprint_before=$(series_fingerprint "$patches")
# The cover letter git format-patch --cover-letter writes: no diff.
cp "$workspace/cover/0000-cover-letter.patch" "$patches/"
if [ "$(series_files "$patches" | xargs -n1 basename)" = 0001-file-shout-two.patch ] &&
	[ "$(series_fingerprint "$patches")" = "$fingerprint_before" ]; then
	pass kernel-build.cover-letter-not-in-series
else
	fail kernel-build.cover-letter-not-in-series "series: $(series_files "$patches" | xargs -n1 basename | tr '\n' ' ')"
fi
if apply_series "$tree" "$patches" 2>"$workspace/apply.err" && grep -q TWO "$tree/file.c"; then
	pass kernel-build.series-applies
else
	fail kernel-build.series-applies "$(cat "$workspace/apply.err")"
fi

sed 's/^-two$/-deux/' "$patches/0001-file-shout-two.patch" >"$patches/0002-broken.patch"
check kernel-build.series-change-changes-fingerprint \
	test "$(series_fingerprint "$patches")" != "$fingerprint_before"
if apply_series "$tree" "$patches" 2>"$workspace/apply.err"; then
	fail kernel-build.broken-patch-fails "a patch that cannot apply was accepted"
elif grep -q "0002-broken.patch does not apply" "$workspace/apply.err"; then
	pass kernel-build.broken-patch-fails
else
	fail kernel-build.broken-patch-fails "error does not name the patch: $(cat "$workspace/apply.err")"
fi

# The real series, with git am, onto a sparse clone of the cached pristine
# tree (only the files the series touches are checked out).
version=$(source_version)
pristine=$cache_root/$version/pristine
if [ ! -f "$pristine/.hmmtrace-pristine" ]; then
	skip kernel-build.series-applies-to-pristine "no pristine tree in $pristine (run 'make kernel')"
else
	clone=$workspace/series
	paths=$(series_files "$repo_root/kernel/patches" | xargs sed -n 's#^diff --git a/\([^ ]*\) b/\([^ ]*\)$#/\1\n/\2#p' | sort -u)
	git clone -q --shared --no-checkout "$pristine" "$clone" &&
		git_in "$clone" sparse-checkout set --no-cone $paths &&
		git_in "$clone" checkout -q pristine
	patch_count=$(series_files "$repo_root/kernel/patches" | wc -l)
	if apply_series "$clone" "$repo_root/kernel/patches" 2>"$workspace/apply.err" &&
		[ "$(git_in "$clone" rev-list --count pristine..HEAD)" -eq "$patch_count" ] &&
		[ "$patch_count" -ge 1 ]; then
		pass kernel-build.series-applies-to-pristine
		# The shortlog and diffstat: from the "Author (N):" line to the
		# signature separator.
		summary() { sed -n '/^[^ ].* ([0-9]*):$/,/^-- $/p'; }
		cover=$repo_root/kernel/patches/0000-cover-letter.patch
		expected=$(git_in "$clone" format-patch -q --cover-letter --stdout pristine..HEAD | summary)
		if [ ! -f "$cover" ]; then
			fail kernel-build.cover-letter-summary-current "kernel/patches/0000-cover-letter.patch is missing"
		elif [ -n "$expected" ] && diff -u <(summary <"$cover") <(cat <<<"$expected") >"$workspace/summary.diff"; then
			pass kernel-build.cover-letter-summary-current
		else
			fail kernel-build.cover-letter-summary-current "the shortlog or diffstat is not the series' (regenerate with git format-patch --cover-letter): $(grep '^[-+][^-+]' "$workspace/summary.diff" | head -n 2 | tr '\n' ' ')"
		fi
	else
		fail kernel-build.series-applies-to-pristine "$(cat "$workspace/apply.err")"
	fi
fi

# bpftrace (and any out-of-tree build) looks in /lib/modules/<release>/source
# for the kernel headers and in build for the generated ones.
modules=$cache_root/$version/patched/modules/lib/modules/$(cat "$cache_root/$version/patched/kernel.release" 2>/dev/null)
if [ ! -f "$cache_root/$version/patched/kernel.release" ]; then
	skip kernel-build.module-directory-links-headers "the patched kernel is not built (make kernel)"
elif [ -f "$modules/source/include/linux/kconfig.h" ] && [ -f "$modules/build/include/generated/autoconf.h" ] &&
	[ -f "$modules/build/Makefile" ]; then
	pass kernel-build.module-directory-links-headers
else
	fail kernel-build.module-directory-links-headers "$modules: source -> $(readlink "$modules/source"), build -> $(readlink "$modules/build"); bpftrace cannot read args->field"
fi
