#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""hmmtrace -v's attach phases, from its stderr, as one JSON object.

    attach_phases.py STDERR_FILE

The line is "hmmtrace: attach phases (ms; objects loaded: N): btf MS
kallsyms MS probe MS open MS load MS attach MS". Prints {"btf": MS, ...,
"objects_loaded": N}; exits 1, saying why, when there is no such line or
it lacks a phase.
"""
import json
import re
import sys

PHASES = ("btf", "kallsyms", "probe", "open", "load", "attach")


def main():
    text = open(sys.argv[1], errors="replace").read()
    match = re.search(r"attach phases \(ms; objects loaded: (\d+)\): (.*)", text)
    if not match:
        sys.exit(f"attach_phases: no attach phases line in {sys.argv[1]}: {text[:200]!r}")
    words = match.group(2).split()
    phases = {name: float(value) for name, value in zip(words[0::2], words[1::2])}
    missing = [name for name in PHASES if name not in phases]
    if missing:
        sys.exit(f"attach_phases: no {', '.join(missing)} in {match.group(0)!r}")
    print(json.dumps({**{name: phases[name] for name in PHASES},
                      "objects_loaded": int(match.group(1))}))


if __name__ == "__main__":
    main()
