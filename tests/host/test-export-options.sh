#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace export's bad input, which it refuses before attaching anything,
# so the host can check it: usage errors exit 2, a port in use 9 and an
# unwritable --textfile 10, each with one line; the static binary, which
# has no HTTP server, asks for --textfile. The control for the port: the
# same address free is not refused as in use.

. tests/lib.sh

hmmtrace=build/hmmtrace
static=build/static/hmmtrace
work=$(mktemp -d)

if [ ! -x "$hmmtrace" ]; then
	fail export-options "$hmmtrace is not built (make hmmtrace)"
	exit 0
fi

# expect_exit NAME STATUS PATTERN COMMAND...: COMMAND exits STATUS within
# 20 s, saying one line on stderr (after libbpf's, if any) that matches PATTERN.
expect_exit() {
	local name=$1 want=$2 pattern=$3 status=0
	shift 3
	timeout 20 "$@" >/dev/null 2>"$work/$name.err" || status=$?
	if [ "$status" -eq "$want" ] && [ "$(grep -vc '^libbpf: ' "$work/$name.err")" -eq 1 ] &&
		grep -Eq -- "$pattern" "$work/$name.err"; then
		pass "export-options.$name"
	else
		fail "export-options.$name" "exit $status (wanted $want): $(head -c 300 "$work/$name.err")"
	fi
}

expect_exit by-range 2 'a series per range is unbounded' "$hmmtrace" export --by range
expect_exit listen-no-port 2 '^hmmtrace: --listen takes ADDRESS:PORT, not localhost' \
	"$hmmtrace" export --listen localhost
expect_exit listen-port-too-big 2 'not :65536' "$hmmtrace" export --listen :65536
expect_exit listen-bad-address 2 '^hmmtrace: --listen 1\.2\.3\.4\.5:80: ' \
	"$hmmtrace" export --listen 1.2.3.4.5:80
expect_exit listen-and-textfile 2 'not both' "$hmmtrace" export --listen :9476 --textfile x.prom
expect_exit listen-without-export 2 "export's options" "$hmmtrace" top --listen :9476
expect_exit export-json 2 'without --json or --count' "$hmmtrace" export --json
if [ -x "$static" ]; then
	expect_exit static-needs-textfile 2 'built without libmicrohttpd .*needs --textfile' "$static" export
else
	fail export-options.static-needs-textfile "$static is not built (make hmmtrace STATIC=1)"
fi

# What comes after the privilege check needs root (or the capabilities).
if [ "$(id -u)" -ne 0 ]; then
	skip export-options.in-use "needs root: the privilege check comes first"
	rm -rf "$work"
	exit 0
fi
expect_exit textfile-unwritable 10 "^hmmtrace: cannot write $work/missing/hmmtrace\\.prom\\.[0-9]+\\.partial: No such file" \
	"$hmmtrace" export --textfile "$work/missing/hmmtrace.prom"

# A --textfile whose temporary name would not fit in PATH_MAX: refused
# (10), and the file there before is left whole. Cut at 4095 bytes, the
# temporary name was the path itself, which the check truncated and removed.
long_directory=$work/$(printf 'd%.0s' $(seq 200))
for _ in $(seq 19); do
	long_directory=$long_directory/$(printf 'd%.0s' $(seq 200))
done
long_path=$long_directory/$(printf 'm%.0s' $(seq $((4095 - ${#long_directory} - 1))))
if mkdir -p "$long_directory" && echo kept >"$long_path" && [ ${#long_path} -eq 4095 ]; then
	expect_exit textfile-name-too-long 10 ': File name too long$' "$hmmtrace" export --textfile "$long_path"
	check export-options.textfile-name-too-long.keeps-the-file test "$(cat "$long_path")" = kept
else
	fail export-options.textfile-name-too-long "cannot make a file with a 4095-byte path under $work"
fi

# A port held by another socket, then the same port free.
python3 - "$work/port" <<'PYTHON' &
import socket, sys, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
with open(sys.argv[1], "w") as port_file:
    port_file.write(str(listener.getsockname()[1]))
time.sleep(60)
PYTHON
holder=$!
for _ in $(seq 100); do
	[ -s "$work/port" ] && break
	sleep 0.1
done
port=$(cat "$work/port" 2>/dev/null)
if [ -z "$port" ]; then
	fail export-options.in-use "the port holder did not start"
else
	expect_exit in-use 9 "^hmmtrace: cannot listen on 127\\.0\\.0\\.1:$port: Address already in use\$" \
		"$hmmtrace" export --listen "127.0.0.1:$port"
	kill "$holder"
	wait "$holder" 2>/dev/null
	# Free, it goes on to attach: whatever this host makes of that, not exit 9.
	status=0
	timeout 20 "$hmmtrace" export --listen "127.0.0.1:$port" >/dev/null 2>"$work/free.err" || status=$?
	check export-options.free-port-is-not-in-use sh -c \
		"[ $status -ne 9 ] && ! grep -q 'cannot listen' '$work/free.err' || { echo exit $status; head -c 300 '$work/free.err'; false; }"
fi
rm -rf "$work"
