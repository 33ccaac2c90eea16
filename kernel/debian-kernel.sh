#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Prepare one of Debian's own kernels, the production case, for the lab
# (make deps installs their packages):
#
#   KERNEL_VARIANT=debian      Debian's 6.12: linux-image-<release> and
#                              linux-headers-<release> of the same release as
#                              linux-source-6.12
#   KERNEL_VARIANT=debian-6.1  Debian 12's default kernel, 6.1:
#                              linux-image-6.1.0-<abi>-amd64 and its headers
#
# The 6.1 ABI number moves with Debian's point releases. The release is the
# newest 6.1.0-*-amd64 whose image and headers are both installed, so a
# prepared machine needs neither the network nor apt's lists; on a machine
# without one, the one linux-image-amd64 depends on (the current release).
#
# The result is a kernel directory like the ones kernel/build-kernel.sh makes:
#
#   $HMMTRACE_CACHE/<source version>/<variant>/
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

# The newest 6.1.0-<abi>-amd64 with image and headers installed, else the
# one the linux-image-amd64 metapackage depends on.
debian_6_1_release() {
	local release
	release=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 'linux-headers-6.1.0-*-amd64' 2>/dev/null |
		awk '$1 == "ii" { sub("^linux-headers-", "", $2); print $2 }' | sort -V |
		while read -r release; do
			[ -f "/boot/vmlinuz-$release" ] && echo "$release"
		done | tail -n 1)
	if [ -z "$release" ]; then
		release=$(apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *Depends: linux-image-\(6\.1\.0-[0-9]*-amd64\)$/\1/p' | head -n 1)
	fi
	[ -n "$release" ] ||
		die "no linux-image-6.1.0-*-amd64 is installed and apt does not know linux-image-amd64: run 'apt-get update', then 'make deps'"
	echo "$release"
}

variant_release() {
	case $variant in
	debian) debian_release "$(source_version)" ;;
	debian-6.1) debian_6_1_release ;;
	*) die "KERNEL_VARIANT must be 'debian' or 'debian-6.1', not '$variant'" ;;
	esac
}

# The package that installs /boot/vmlinuz-RELEASE. Debian's security archive
# publishes the unsigned build of a new release before its signed one (seen
# with 6.12.118): both install the same kernel, so take the signed one when
# it is installed or apt has it, else the unsigned one.
image_package() {
	local release=$1 package status candidate
	for package in "linux-image-$release" "linux-image-$release-unsigned"; do
		# Whole outputs, not grep -q: under pipefail an early exit fails the writer.
		status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null || true)
		candidate=$(apt-cache policy "$package" 2>/dev/null | sed -n 's/^ *Candidate: //p')
		if [[ $status == ii* ]] || [[ $candidate =~ ^[0-9] ]]; then
			echo "$package"
			return
		fi
	done
	echo "linux-image-$release"
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
	local release out modules_directory
	release=$(variant_release)
	if [ "${1:-}" = --packages ]; then
		echo "$(image_package "$release") linux-headers-$release"
		return
	fi
	modules_directory=/lib/modules/$release
	[ -f "/boot/vmlinuz-$release" ] && [ -d "/usr/src/linux-headers-$release" ] ||
		die "linux-image-$release and linux-headers-$release are missing: run 'make deps'"
	out=$cache_root/$(source_version)/$variant
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
