#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Prepare Debian's stock kernel, the production case, for the lab:
# linux-image-<release> and linux-headers-<release> of the same 6.12 release
# as linux-source-6.12 (make deps installs them). The result is a kernel
# directory like the ones kernel/build-kernel.sh makes:
#
#   $HMMTRACE_CACHE/<source version>/debian/
#     bzImage            -> /boot/vmlinuz-<release>
#     kernel.release
#     build-tree         where out-of-tree modules build (the headers)
#     initramfs-modules  the modules the lab's /init must load before it can
#                        mount its 9p shares, in load order
#
# Everything else (the rest of /lib/modules/<release>) the guest sees through
# the host's root filesystem. With --packages it only names the two packages.

set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$repo_root/kernel/build-kernel.sh"

# 6.12.117-1~deb12u1 -> 6.12.117+deb12-amd64
debian_release() {
	local version=$1
	echo "${version%%-*}+deb12-amd64"
}

# Print the module files NAME needs, dependencies first, from modules.dep.
resolve_module() {
	local modules_directory=$1 name=$2 line file dependency
	line=$(grep -E "(^|/)${name}\.ko(\.xz|\.zst|\.gz)?:" "$modules_directory/modules.dep" || true)
	[ -n "$line" ] || return 0	# built in
	file=${line%%:*}
	for dependency in ${line#*:}; do
		dependency=$(basename "$dependency")
		resolve_module "$modules_directory" "${dependency%%.ko*}"
	done
	echo "$modules_directory/$file"
}

main_debian() {
	local version release out modules_directory
	version=$(source_version)
	if [ "${1:-}" = --packages ]; then
		release=$(debian_release "$version")
		echo "linux-image-$release linux-headers-$release"
		return
	fi
	release=$(debian_release "$version")
	modules_directory=/lib/modules/$release
	[ -f "/boot/vmlinuz-$release" ] && [ -d "/usr/src/linux-headers-$release" ] ||
		die "linux-image-$release and linux-headers-$release are missing: run 'make deps'"
	out=$cache_root/$version/debian
	mkdir -p "$out"
	ln -sfn "/boot/vmlinuz-$release" "$out/bzImage"
	echo "$release" >"$out/kernel.release"
	echo "/usr/src/linux-headers-$release" >"$out/build-tree"
	for name in virtio_pci 9pnet_virtio 9p overlay; do
		resolve_module "$modules_directory" "$name"
	done | awk '!seen[$0]++' >"$out/initramfs-modules"
	log "Debian kernel $release ready in $out"
}

main_debian "$@"
