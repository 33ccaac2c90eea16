#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make install lays out exactly the tree the Makefile promises under PREFIX
# (default /usr/local) in a DESTDIR, with the right modes; the installed
# binary runs; the man page formats without a warning; the exporter's
# systemd unit names the installed paths and passes systemd-analyze verify;
# STATIC=1 installs the static binary; the flame graph assets are installed
# when they were built and not otherwise, where hmmtrace finds them; and
# make uninstall removes what install put, and nothing else.

. tests/lib.sh

work=$(mktemp -d)
umask 022

# staged_tree DIRECTORY: every entry under DIRECTORY as "TYPE MODE PATH", sorted.
staged_tree() {
	(cd "$1" && find . -mindepth 1 -printf '%y %m %P\n' | LC_ALL=C sort)
}

# install_into NAME DIRECTORY MAKE_ARGUMENTS...: make install there, or fail NAME.
install_into() {
	local name=$1 directory=$2
	shift 2
	if make --no-print-directory install DESTDIR="$directory" "$@" >"$work/$name.log" 2>&1; then
		pass "install.$name.runs"
	else
		fail "install.$name.runs" "make install $* failed: $(tail -n 3 "$work/$name.log")"
		return 1
	fi
}

# check_tree NAME DIRECTORY EXPECTED: the staged tree is EXPECTED, entry for entry
# (in any order).
check_tree() {
	local name=$1 directory=$2 expected
	expected=$(LC_ALL=C sort <<<"$3")
	if [ "$(staged_tree "$directory")" = "$expected" ]; then
		pass "install.$name.tree"
	else
		fail "install.$name.tree" "$(diff <(echo "$expected") <(staged_tree "$directory") | grep '^[<>]' |
			head -n 6 | tr '\n' ';')"
	fi
}

# man_page_warnings PAGE: what troff says formatting PAGE, nothing when all is well.
man_page_warnings() {
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$1" 2>&1 >/dev/null
}

# check_unit NAME STAGE UNIT_DIRECTORY BINARY ENVIRONMENT_FILE: the installed
# unit runs BINARY with ENVIRONMENT_FILE's options, keeps no placeholder, and
# systemd-analyze verify finds nothing wrong with it (a unit with a typo in
# a key is the control that it would).
check_unit() {
	local name=$1 stage=$2 directory=$3 binary=$4 environment=$5
	local unit=$stage$directory/hmmtrace-export.service
	check "install.$name.unit-runs-the-installed-binary" \
		grep -qx "ExecStart=$binary export \$HMMTRACE_EXPORT_OPTIONS" "$unit"
	check "install.$name.unit-reads-its-options" grep -qx "EnvironmentFile=-$environment" "$unit"
	check "install.$name.unit-has-no-placeholder" sh -c "! grep -qE '@[A-Z_]+@' '$unit'"
	if ! command -v systemd-analyze >/dev/null; then
		skip "install.$name.unit-verifies" "systemd-analyze is not installed (systemd)"
		return
	fi
	# verify wants the binary where the unit says: a copy of the tree at /.
	mkdir -p "$work/verify-$name"
	sed "s|^ExecStart=$binary|ExecStart=$stage$binary|" "$unit" >"$work/verify-$name/hmmtrace-export.service"
	sed 's/^NoNewPrivileges=/NoNewPrivilegez=/' "$work/verify-$name/hmmtrace-export.service" \
		>"$work/verify-$name/broken-export.service"
	if systemd-analyze verify --man=no "$work/verify-$name/broken-export.service" >/dev/null 2>&1 &&
	   [ -z "$(systemd-analyze verify --man=no "$work/verify-$name/broken-export.service" 2>&1)" ]; then
		fail "install.$name.unit-verify-sees-errors" "a unit with an unknown key passed"
		return
	fi
	local verified
	verified=$(systemd-analyze verify --man=no "$work/verify-$name/hmmtrace-export.service" 2>&1)
	if [ -z "$verified" ]; then
		pass "install.$name.unit-verifies"
	else
		fail "install.$name.unit-verifies" "$(head -n 3 <<<"$verified" | tr '\n' ';')"
	fi
}

# The control of unit-has-no-placeholder: the template has them.
check install.unit-template-has-placeholders grep -qE '@[A-Z_]+@' dist/systemd/hmmtrace-export.service.in

# The default install without the flame graph assets (FLAMEGRAPH_ASSETS names
# where they would be), the PREFIX=/usr one with them when npm can build them.
mkdir -p "$work/no-flamegraph-assets"
flamegraph_files="d3.min.js d3-flamegraph.min.js d3-flamegraph.css LICENSES"
flamegraph_assets=
if ! command -v npm >/dev/null; then
	skip install.flamegraph-assets "npm is not installed (make deps installs it): the assets cannot be built"
elif make --no-print-directory flamegraph-assets build/tests/flamegraph_render >"$work/assets.log" 2>&1; then
	flamegraph_assets=build/flamegraph
else
	fail install.flamegraph-assets "make flamegraph-assets: $(tail -n 3 "$work/assets.log")"
fi

stage=$work/default
if install_into default "$stage" FLAMEGRAPH_ASSETS="$work/no-flamegraph-assets"; then
	check_tree default "$stage" "d 755 usr
d 755 usr/local
d 755 usr/local/lib
d 755 usr/local/lib/systemd
d 755 usr/local/lib/systemd/system
d 755 usr/local/sbin
d 755 usr/local/share
d 755 usr/local/share/hmmtrace
d 755 usr/local/share/hmmtrace/grafana
d 755 usr/local/share/hmmtrace/prometheus
d 755 usr/local/share/man
d 755 usr/local/share/man/man8
f 644 usr/local/lib/systemd/system/hmmtrace-export.service
f 644 usr/local/share/hmmtrace/grafana/hmmtrace.json
f 644 usr/local/share/hmmtrace/prometheus/hmmtrace-rules.yml
f 644 usr/local/share/man/man8/hmmtrace.8
f 755 usr/local/sbin/hmmtrace"
	check_unit default "$stage" /usr/local/lib/systemd/system /usr/local/sbin/hmmtrace \
		/usr/local/etc/default/hmmtrace-export
	installed=$stage/usr/local/sbin/hmmtrace
	check install.default.is-the-build cmp "$installed" build/hmmtrace
	help_status=0
	"$installed" --help >"$work/help" 2>&1 || help_status=$?
	check install.default.binary-runs sh -c "[ $help_status -eq 0 ] && grep -q 'EXIT STATUS' '$work/help'"

	# The man page as lintian formats it: every troff warning is on stderr.
	# A page with an undefined macro is the control that warnings show.
	page=$stage/usr/local/share/man/man8/hmmtrace.8
	if command -v man >/dev/null && command -v groff >/dev/null; then
		printf '.TH BROKEN 8\n.SH NAME\n.NOSUCHMACRO broken\n' >"$work/broken.8"
		check install.man-page.warnings-are-seen grep -q NOSUCHMACRO <(man_page_warnings "$work/broken.8")
		warnings=$(man_page_warnings "$page")
		if [ -z "$warnings" ]; then
			pass install.man-page.formats-without-warnings
		else
			fail install.man-page.formats-without-warnings "$(head -n 3 <<<"$warnings")"
		fi
		LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" >"$work/page.txt" 2>&1
		check install.man-page.renders sh -c "grep -q '^HMMTRACE(8)' '$work/page.txt' &&
			grep -q '^NAME' '$work/page.txt' && grep -q '^SYNOPSIS' '$work/page.txt' &&
			grep -q '^EXIT STATUS' '$work/page.txt'"
	else
		skip install.man-page "man or groff is not installed (man-db, groff-base)"
	fi

	# Another package's file beside ours must survive, and is the control
	# that the listing after uninstall sees files.
	touch "$stage/usr/local/sbin/another-tool"
	if make --no-print-directory uninstall DESTDIR="$stage" >"$work/uninstall.log" 2>&1; then
		remaining=$(cd "$stage" && find . -mindepth 1 ! -type d -printf '%P\n')
		check install.uninstall.removes-what-install-put test "$remaining" = usr/local/sbin/another-tool
	else
		fail install.uninstall.runs "make uninstall failed: $(tail -n 3 "$work/uninstall.log")"
	fi
fi

# PREFIX=/usr, as a package build would, with the static binary.
stage=$work/usr-static
flamegraph_tree=
if [ -n "$flamegraph_assets" ]; then
	flamegraph_tree=$'\nd 755 usr/share/hmmtrace/flamegraph'
	for file in $flamegraph_files; do
		flamegraph_tree+=$'\n'"f 644 usr/share/hmmtrace/flamegraph/$file"
	done
fi
if install_into usr-static "$stage" PREFIX=/usr STATIC=1 FLAMEGRAPH_ASSETS="${flamegraph_assets:-$work/no-flamegraph-assets}"; then
	check_tree usr-static "$stage" "d 755 usr
d 755 usr/lib
d 755 usr/lib/systemd
d 755 usr/lib/systemd/system
d 755 usr/sbin
d 755 usr/share
d 755 usr/share/hmmtrace
d 755 usr/share/hmmtrace/grafana
d 755 usr/share/hmmtrace/prometheus
d 755 usr/share/man
d 755 usr/share/man/man8
f 644 usr/lib/systemd/system/hmmtrace-export.service
f 644 usr/share/hmmtrace/grafana/hmmtrace.json
f 644 usr/share/hmmtrace/prometheus/hmmtrace-rules.yml
f 644 usr/share/man/man8/hmmtrace.8
f 755 usr/sbin/hmmtrace$flamegraph_tree"
	if [ -n "$flamegraph_assets" ]; then
		check install.usr-static.flamegraph-assets-are-the-build sh -c "for file in $flamegraph_files; do
			cmp '$flamegraph_assets/'\$file '$stage/usr/share/hmmtrace/flamegraph/'\$file || exit 1; done"
		# A binary in the installed sbin finds them, as hmmtrace causes --html would;
		# it is taken out again before uninstall.
		cp build/tests/flamegraph_render "$stage/usr/sbin/"
		check install.usr-static.flamegraph-assets-are-found test \
			"$(env -u HMMTRACE_FLAMEGRAPH_ASSETS "$stage/usr/sbin/flamegraph_render" --assets 2>&1)" = \
			"$stage/usr/share/hmmtrace/flamegraph"
		rm -f "$stage/usr/sbin/flamegraph_render"
	fi
	check_unit usr-static "$stage" /usr/lib/systemd/system /usr/sbin/hmmtrace /etc/default/hmmtrace-export
	check install.usr-static.is-the-static-build cmp "$stage/usr/sbin/hmmtrace" build/static/hmmtrace
	make --no-print-directory uninstall DESTDIR="$stage" PREFIX=/usr >/dev/null 2>&1
	check install.usr-static.uninstall-leaves-no-file test -z "$(find "$stage" ! -type d)"
fi
rm -rf "$work"
