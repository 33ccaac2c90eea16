#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Compile the patched tree in the configurations the lab kernel does not use:
#
#   no-tracing        the lab config without any tracer: CONFIG_TRACING=n,
#                     so the header inlines take their empty stubs
#   no-mmu-notifier   tinyconfig plus the platform options only: nothing
#                     selects MMU_NOTIFIER, so the header's !MMU_NOTIFIER half
#                     is used and mm/mmu_notifier.c is not built
#
# A full kernel build per configuration would cost about 8 minutes each, so
# this compiles what the series can break there instead: the two files it
# changes (when they are built at all), the module that inlines read_retry
# (lib/test_hmm.o), and files that include the changed header without using
# it (fs/open.o, kernel/fork.o, mm/memory.o). The configuration is verified
# first, so a variant cannot silently test the wrong thing.
#
#   kernel/check-configs.sh [no-tracing|no-mmu-notifier]...

set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$repo_root/kernel/build-kernel.sh"

# Fragment lines that turn a tracer on; without them nothing selects TRACING.
tracing_options='KPROBE|UPROBE|BPF_EVENTS|FTRACE|FUNCTION_|FPROBE|DYNAMIC_FTRACE'

variant_fragment() {
	case $1 in
	no-tracing)
		grep -Ev "^CONFIG_($tracing_options)" "$fragment"
		;;
	no-mmu-notifier)
		sed -n '1,/^# The memory features/p' "$fragment" | grep '^CONFIG_'
		;;
	esac
}

variant_requirements() {
	case $1 in
	no-tracing) printf '%s\n' '# CONFIG_TRACING is not set' CONFIG_MMU_NOTIFIER=y CONFIG_HMM_MIRROR=y CONFIG_TEST_HMM=m ;;
	no-mmu-notifier) printf '%s\n' '# CONFIG_MMU_NOTIFIER is not set' '# CONFIG_HMM_MIRROR is not set' ;;
	esac
}

variant_objects() {
	case $1 in
	no-tracing) echo mm/mmu_notifier.o mm/hmm.o lib/test_hmm.o fs/open.o kernel/fork.o mm/memory.o ;;
	no-mmu-notifier) echo fs/open.o kernel/fork.o mm/memory.o mm/rmap.o ;;
	esac
}

check_variant() {
	local name=$1 tree=$2 objects=$2/obj-$1
	mkdir -p "$objects"
	variant_fragment "$name" >"$objects/variant.config"
	variant_requirements "$name" >"$objects/requirements.config"
	kernel_make "$tree" "$objects" -s tinyconfig
	(cd "$objects" && "$tree/scripts/kconfig/merge_config.sh" -m -O "$objects" \
		"$objects/.config" "$objects/variant.config" >/dev/null)
	kernel_make "$tree" "$objects" -s olddefconfig
	verify_config "$objects/requirements.config" "$objects/.config" ||
		die "$name: the configuration is not the one this check is for"
	log "$name: compiling $(variant_objects "$name")"
	# shellcheck disable=SC2046
	kernel_make "$tree" "$objects" -s $(variant_objects "$name")
	# Without tracing, a module inlining read_retry must not need the
	# tracepoint or its helper, or it would not load.
	if [ "$name" = no-tracing ] &&
		nm -u "$objects/lib/test_hmm.o" | grep -E '__tracepoint_mmu_interval|__mmu_interval_do_trace'; then
		die "$name: lib/test_hmm.o references tracing symbols"
	fi
}

main_check() {
	local version tree name names=("$@")
	[ ${#names[@]} -gt 0 ] || names=(no-tracing no-mmu-notifier)
	version=$(source_version)
	tree=$cache_root/$version/source-patched
	[ -d "$tree/obj" ] || die "no patched tree in $tree: run 'make kernel' first"
	exec 9>"$cache_root/$version/patched/.lock"
	flock 9
	for name in "${names[@]}"; do
		case $name in
		no-tracing | no-mmu-notifier) check_variant "$name" "$tree" ;;
		*) die "unknown configuration '$name'" ;;
		esac
	done
}

main_check "$@"
