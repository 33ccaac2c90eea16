#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Read a Prometheus text exposition (what `hmmtrace export` serves).

  exposition.py FILE NAME [LABEL=VALUE ...]

prints the sum of the samples named NAME whose labels include every
LABEL=VALUE given, and fails (exit 1, one line on stderr) when the body has
no sample at all or none that matches: a check never reads a missing
series as zero. As a module, samples(text) gives (name, labels, value)
tuples.
"""

import re
import sys

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def unescape(value):
    return re.sub(r'\\(.)', lambda match: "\n" if match.group(1) == "n" else match.group(1), value)


def samples(text):
    found = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        if not match:
            raise ValueError(f"not a sample line: {line[:120]}")
        labels = {name: unescape(value) for name, value in LABEL.findall(match.group(2) or "")}
        found.append((match.group(1), labels, float(match.group(3))))
    return found


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: exposition.py FILE NAME [LABEL=VALUE ...]")
    wanted = dict(pair.split("=", 1) for pair in sys.argv[3:])
    with open(sys.argv[1]) as body:
        every = samples(body.read())
    if not every:
        sys.exit(f"exposition.py: {sys.argv[1]} has no samples")
    matching = [value for name, labels, value in every
                if name == sys.argv[2] and all(labels.get(key) == value_ for key, value_ in wanted.items())]
    if not matching:
        sys.exit(f"exposition.py: no sample {sys.argv[2]} {wanted} among {len(every)}")
    total = sum(matching)
    print(int(total) if total == int(total) else total)


if __name__ == "__main__":
    main()
