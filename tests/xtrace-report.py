#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Where a traced lab test spent its time: tests/xtrace-report.py LOG, for a
# log that HMMTRACE_XTRACE wrote (tests/lib.sh: PS4 is '+ TIME FUNCTION_DEPTH ',
# the pluses counting nested shells). Each line is charged the time until
# the next traced line; the script's own lines (the shallowest shell and
# function depth after its first line, which sources it) are also charged
# the time until the next one of them, with all that they called.
import collections, re, sys

if len(sys.argv) != 2:
    sys.exit("usage: tests/xtrace-report.py LOG")
lines = []
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"^(\++) (\d+\.\d+) (?:(\d+) )?(.*)$", line.rstrip("\n"))
    if m:
        lines.append(((len(m.group(1)), int(m.group(3) or 0)), float(m.group(2)), m.group(4)))
by_command = collections.Counter()
spans = []
for (depth, t, text), (_, t_next, _) in zip(lines, lines[1:]):
    d = t_next - t
    word = text.split()[0] if text.split() else ""
    by_command[word] += d
    spans.append((d, depth[0], text[:150]))
if not lines:
    sys.exit(f"{sys.argv[1]}: no traced lines")
print(f"total {lines[-1][1] - lines[0][1]:.1f} s over {len(lines)} lines")
for word, d in by_command.most_common(25):
    print(f"{d:8.1f} s  {word}")
print("--- longest lines")
for d, depth, text in sorted(spans, reverse=True)[:40]:
    print(f"{d:8.1f} s  {'+' * depth} {text}")
print("--- top-level lines (time until the next top-level line)")
script_depth = min(depth for depth, _, _ in lines[1:]) if len(lines) > 1 else 1
top = [(t, text) for depth, t, text in lines if depth == script_depth]
spans1 = [(b[0] - a[0], a[1][:150]) for a, b in zip(top, top[1:])]
for d, text in sorted(spans1, reverse=True)[:40]:
    print(f"{d:8.1f} s  {text}")
