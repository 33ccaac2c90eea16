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

TRACED = re.compile(r"^(\++) (\d+\.\d+) (?:(\d+) )?(.*)$")

if len(sys.argv) != 2:
    sys.exit("usage: tests/xtrace-report.py LOG")
traced = []  # ((shell depth, function depth), seconds, command)
for line in open(sys.argv[1], errors="replace"):
    match = TRACED.match(line.rstrip("\n"))
    if match:
        depth = (len(match.group(1)), int(match.group(3) or 0))
        traced.append((depth, float(match.group(2)), match.group(4)))
if not traced:
    sys.exit(f"{sys.argv[1]}: no traced lines")

by_command = collections.Counter()
longest = []
for (depth, began, command), (_, ended, _) in zip(traced, traced[1:]):
    words = command.split()
    by_command[words[0] if words else ""] += ended - began
    longest.append((ended - began, depth[0], command[:150]))

print(f"total {traced[-1][1] - traced[0][1]:.1f} s over {len(traced)} lines")
for command, seconds in by_command.most_common(25):
    print(f"{seconds:8.1f} s  {command}")
print("--- longest lines")
for seconds, shell_depth, command in sorted(longest, reverse=True)[:40]:
    print(f"{seconds:8.1f} s  {'+' * shell_depth} {command}")
print("--- the script's own lines (time until its next line)")
script_depth = min(depth for depth, _, _ in traced[1:]) if len(traced) > 1 else traced[0][0]
own = [(began, command) for depth, began, command in traced if depth == script_depth]
spans = [(after[0] - line[0], line[1][:150]) for line, after in zip(own, own[1:])]
for seconds, command in sorted(spans, reverse=True)[:40]:
    print(f"{seconds:8.1f} s  {command}")
