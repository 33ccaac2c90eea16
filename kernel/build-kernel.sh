#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build the lab kernel: Debian's linux-source-6.12, our patch series, and
# tinyconfig plus kernel/config/lab.config. Everything lands in a cache outside
# the clone so that every clone and every CI run on this machine shares it.
#
#   KERNEL_VARIANT=patched (default)  pristine source + kernel/patches/*.patch
#   KERNEL_VARIANT=stock              pristine source, same config
#   KERNEL_VARIANT=debug              the patched source, the same config plus
#                                     kernel/config/debug.config (lockdep,
#                                     KASAN, KFENCE, DEBUG_VM, kmemleak)
#
# The result is $HMMTRACE_CACHE/<source version>/<variant>/:
#   bzImage, modules/lib/modules/<release>/ (with build -> the object tree and
#   source -> the source tree, as a distribution's), hmm-tests, kernel.release,
#   source-tree, build-tree (where out-of-tree modules build: <source tree>/obj)
#
# Sourcing this file (from tests) defines the functions without building.

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source_tarball=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
cache_root=${HMMTRACE_CACHE:-$HOME/.cache/hmmtrace}
variant=${KERNEL_VARIANT:-patched}
fragment=$repo_root/kernel/config/lab.config
debug_fragment=$repo_root/kernel/config/debug.config
jobs=${KERNEL_JOBS:-$(nproc)}

die() {
	echo "build-kernel: $*" >&2
	exit 1
}

log() {
	echo "build-kernel: $*" >&2
}

# The patches git am applies, in order: every *.patch but the cover letter
# (git format-patch --cover-letter's 0000-cover-letter.patch has no diff, and
# git am refuses an empty patch). Editing the cover letter rebuilds nothing.
series_files() {
	local patch_dir=$1
	find "$patch_dir" -maxdepth 1 -name '*.patch' ! -name 0000-cover-letter.patch -type f |
		LC_ALL=C sort
}

# A fingerprint of the series: it changes when any patch is added, removed,
# renamed or edited, and only then is the series reapplied.
series_fingerprint() {
	local patch_dir=$1 patch
	{
		while read -r patch; do
			[ -n "$patch" ] || continue
			basename "$patch"
			sha256sum <"$patch"
		done < <(series_files "$patch_dir")
	} | sha256sum | cut -d' ' -f1
}

git_in() {
	local tree=$1
	shift
	git -C "$tree" -c user.name=hmmtrace-lab -c user.email=lab@hmmtrace.invalid \
		-c advice.detachedHead=false -c gc.auto=0 "$@"
}

# Reset $tree to the pristine tag and apply the series with `git am`, exactly as
# a reviewer would. Files the series does not touch keep their mtime, so the
# kernel rebuild after a series change stays incremental.
apply_series() {
	local tree=$1 patch_dir=$2 patch output
	git_in "$tree" am --abort >/dev/null 2>&1 || true
	git_in "$tree" reset -q --hard pristine
	git_in "$tree" clean -q -fdx -e '/obj*'
	while read -r patch; do
		[ -n "$patch" ] || continue
		if ! output=$(git_in "$tree" am "$patch" 2>&1); then
			git_in "$tree" am --abort >/dev/null 2>&1 || true
			echo "build-kernel: patch $(basename "$patch") does not apply with git am to pristine 6.12:" >&2
			grep -v '^hint:' <<<"$output" | head -n 5 | sed 's/^/  /' >&2
			return 1
		fi
	done < <(series_files "$patch_dir")
}

# Every line of the fragment must hold in the final .config. Kconfig drops an
# option silently when a dependency is missing, so name each one that did.
verify_config() {
	local fragment_file=$1 dotconfig=$2 line name want have dropped=()
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			name=${BASH_REMATCH[1]}
			want=${BASH_REMATCH[2]}
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
			name=${BASH_REMATCH[1]}
			want=n
		else
			continue
		fi
		have=$(grep -E "^$name=" "$dotconfig" | tail -n 1 | cut -d= -f2- || true)
		[ -n "$have" ] || have=n
		[ "$have" = "$want" ] || dropped+=("$name (want $want, got $have)")
	done <"$fragment_file"
	if [ ${#dropped[@]} -gt 0 ]; then
		printf 'build-kernel: option dropped from .config: %s\n' "${dropped[@]}" >&2
		return 1
	fi
}

source_version() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null ||
		stat -c %Y "$source_tarball"
}

kernel_make() {
	local source_tree=$1 object_dir=$2
	shift 2
	# Identical variables on every call, or Kbuild rebuilds everything.
	CCACHE_DIR=$cache_root/ccache CCACHE_NOHASHDIR=true CCACHE_BASEDIR=$cache_root \
		KBUILD_BUILD_TIMESTAMP='2024-11-17 00:00:00' KBUILD_BUILD_USER=hmmtrace \
		KBUILD_BUILD_HOST=lab \
		make -C "$source_tree" O="$object_dir" ARCH=x86_64 \
		CC="ccache gcc" HOSTCC="ccache gcc" LOCALVERSION="-$variant" \
		-j"$jobs" "$@"
}

# Unpack the tarball once into a git repository tagged `pristine`. The stock
# variant builds from it directly; the patched one from a worktree.
prepare_pristine() {
	local pristine=$1
	[ -f "$pristine/.hmmtrace-pristine" ] && return 0
	[ -r "$source_tarball" ] || die "$source_tarball is missing: run 'make deps'"
	log "unpacking $(basename "$source_tarball") into $pristine"
	rm -rf "$pristine" "$pristine.partial"
	mkdir -p "$pristine.partial"
	tar -xJf "$source_tarball" -C "$pristine.partial" --strip-components=1
	git_in "$pristine.partial" init -q
	git_in "$pristine.partial" add -A -f
	git_in "$pristine.partial" commit -q -m "linux-source-6.12 $(source_version)"
	git_in "$pristine.partial" tag pristine
	mv "$pristine.partial" "$pristine"
	touch "$pristine/.hmmtrace-pristine"
}

prepare_patched() {
	local pristine=$1 tree=$2 patch_dir=$3 fingerprint
	fingerprint=$(series_fingerprint "$patch_dir")
	if [ ! -d "$tree/.git" ] && [ ! -f "$tree/.git" ]; then
		rm -rf "$tree"
		git_in "$pristine" worktree prune
		git_in "$pristine" worktree add -q --detach "$tree" pristine
	fi
	[ "$(cat "$tree.series" 2>/dev/null)" = "$fingerprint" ] && return 0
	log "applying $(series_files "$patch_dir" | wc -l) patch(es) from kernel/patches"
	rm -f "$tree.series"
	apply_series "$tree" "$patch_dir" || exit 1
	echo "$fingerprint" >"$tree.series"
}

# The fragments of a variant, in merge order: later ones win.
variant_fragments() {
	echo "$fragment"
	[ "$variant" != debug ] || echo "$debug_fragment"
}

configure() {
	local tree=$1 objects=$2 stamp fingerprint fragments=() fragment_file
	mapfile -t fragments < <(variant_fragments)
	fingerprint=$( (cat "${fragments[@]}"; series_fingerprint "$repo_root/kernel/patches") |
		sha256sum | cut -d' ' -f1)
	stamp=$objects/.hmmtrace-config
	if [ "$(cat "$stamp" 2>/dev/null)" != "$fingerprint" ]; then
		log "configuring: tinyconfig + ${fragments[*]#"$repo_root/"}"
		rm -f "$stamp"
		kernel_make "$tree" "$objects" -s tinyconfig
		(cd "$objects" && "$tree/scripts/kconfig/merge_config.sh" -m -O "$objects" \
			"$objects/.config" "${fragments[@]}" >/dev/null)
		kernel_make "$tree" "$objects" -s olddefconfig
		echo "$fingerprint" >"$stamp"
	fi
	for fragment_file in "${fragments[@]}"; do
		verify_config "$fragment_file" "$objects/.config" || {
			rm -f "$stamp"
			die "${fragment_file#"$repo_root/"} does not hold; fix the fragment"
		}
	done
}

build_hmm_tests() {
	local tree=$1 output=$2 selftests=$1/tools/testing/selftests
	[ "$output" -nt "$selftests/mm/hmm-tests.c" ] && return 0
	gcc -static -O2 -U_FORTIFY_SOURCE -I "$tree" -I "$selftests" -I "$selftests/mm" \
		-o "$output" "$selftests/mm/hmm-tests.c" -lrt -lpthread -lm
}

main() {
	local version pristine tree out objects release start=$SECONDS
	case $variant in
	patched | stock | debug) ;;
	*) die "KERNEL_VARIANT must be 'patched', 'stock' or 'debug' (or Debian's: debian, debian-6.1), not '$variant'" ;;
	esac
	for tool in git gcc make ccache flex bison bc pahole xz; do
		command -v "$tool" >/dev/null || die "$tool is missing: run 'make deps'"
	done
	version=$(source_version)
	pristine=$cache_root/$version/pristine
	out=$cache_root/$version/$variant
	mkdir -p "$out"
	exec 9>"$out/.lock"
	flock 9

	prepare_pristine "$pristine"
	if [ "$variant" = stock ]; then
		tree=$pristine
	else
		tree=$cache_root/$version/source-patched
		# patched and debug share the tree: one applies the series at a time.
		exec 8>"$tree.lock"
		flock 8
		prepare_patched "$pristine" "$tree" "$repo_root/kernel/patches"
		flock -u 8
	fi
	# Objects in a direct subdirectory make Kbuild use srctree=.., so both
	# variants compile with identical relative paths and share ccache hits.
	# The debug kernel has its own, beside the patched one's.
	objects=$tree/obj
	[ "$variant" != debug ] || objects=$tree/obj-debug
	mkdir -p "$objects"
	configure "$tree" "$objects"

	log "building bzImage and modules ($variant, -j$jobs)"
	kernel_make "$tree" "$objects" -s bzImage modules
	release=$(kernel_make "$tree" "$objects" -s kernelrelease)
	rm -rf "$out/modules.new"
	kernel_make "$tree" "$objects" -s INSTALL_MOD_PATH="$out/modules.new" \
		INSTALL_MOD_STRIP=1 modules_install
	# A distribution's layout: build is the object tree (modules_install
	# links it) and source the tree it was built from, which Kbuild no longer
	# links. bpftrace needs both to parse tracepoint formats (args->field).
	ln -sfn "$tree" "$out/modules.new/lib/modules/$release/source"
	rm -rf "$out/modules"
	mv "$out/modules.new" "$out/modules"
	cp "$objects/arch/x86/boot/bzImage" "$out/bzImage.new"
	mv "$out/bzImage.new" "$out/bzImage"
	echo "$release" >"$out/kernel.release"
	echo "$tree" >"$out/source-tree"
	echo "$objects" >"$out/build-tree"
	build_hmm_tests "$tree" "$out/hmm-tests"
	log "kernel $release ready in $out ($((SECONDS - start)) s)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	main "$@"
fi
