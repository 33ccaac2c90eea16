#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The committed vmlinux.h (bpf/vmlinux/README.md) must match the series:
# every event of tracepoints/events.json has its btf_trace_<event> prototype
# there, with the catalog's arguments (tracepoints/catalog.py reads both),
# and, when the patched kernel is cached, a fresh `make vmlinux-header`
# would write the same file. Without the kernel that part is skipped.

. tests/lib.sh

header=bpf/vmlinux/x86/vmlinux.h
work=$(mktemp -d)

if [ ! -s "$header" ]; then
	fail vmlinux-header.committed "$header is missing or empty"
	exit 0
fi

# Each prototype against the catalog; the count of prototypes found is the
# positive control, and so is a copy of the header with an argument added
# to one prototype, on which the same comparison must newly fail for that
# event alone.
run_checker vmlinux-header python3 - "$header" <<'PYTHON'
import sys
sys.path.insert(0, "tracepoints")
import catalog

with open(sys.argv[1]) as header_file:
    header = header_file.read()
events = catalog.load()["events"]


def matches(event, text):
    expected = [catalog.normalize_type(arg["type"]) for arg in event["args"]]
    return catalog.btf_prototype(event, text) == expected


found = [event for event in events if catalog.btf_prototype(event, header) is not None]
print(f"{'PASS' if found and len(found) == len(events) else 'FAIL'}\tprototypes-found\t"
      f"{len(found)} btf_trace_* prototypes of the catalog's {len(events)} events")
for event in events:
    prototype = catalog.btf_prototype(event, header)
    print(f"{'PASS' if matches(event, header) else 'FAIL'}\tprototype.{event['name']}\t"
          f"header: {prototype}, catalog: {[arg['type'] for arg in event['args']]}")

first = events[0]
mutated = header.replace(f"(*btf_trace_{first['name']})(void *, ",
                         f"(*btf_trace_{first['name']})(void *, long, ", 1)
caught = [event["name"] for event in events if matches(event, header) and not matches(event, mutated)]
print(f"{'PASS' if mutated != header and caught == [first['name']] else 'FAIL'}\tcatches-a-changed-prototype\t"
      f"an extra argument in btf_trace_{first['name']} was caught for {caught}")
PYTHON

# A fresh dump of the patched kernel's BTF, through the generator that
# `make vmlinux-header` runs, must be the committed file.
source_version=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null)
kernel_directory=${HMMTRACE_CACHE:-$HOME/.cache/hmmtrace}/$source_version/patched
status=0
bpf/vmlinux/generate.sh "$kernel_directory" >"$work/vmlinux.h" 2>"$work/generate.err" || status=$?
if [ "$status" -eq 3 ]; then
	skip vmlinux-header.current "no patched kernel in $kernel_directory to regenerate it from"
elif [ "$status" -ne 0 ]; then
	fail vmlinux-header.current "bpf/vmlinux/generate.sh exited $status: $(tail -n 2 "$work/generate.err")"
elif cmp -s "$header" "$work/vmlinux.h"; then
	pass vmlinux-header.current
else
	fail vmlinux-header.current "$header differs from the patched kernel's BTF in $(diff "$header" "$work/vmlinux.h" |
		grep -c '^[<>]') lines: run 'make vmlinux-header' and commit it"
fi
rm -rf "$work"
