#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""What a tracer saw during one bench round, as one JSON object.

    seen.py snoop FILE   {"events": N, "invalidations": N, "dropped": N}
    seen.py top FILE     {"invalidations": N} for sim_mirror
    seen.py bpftrace FILE  {"invalidations": N}, from the maps bpftrace printed at exit
"""
import json
import sys

kind, path = sys.argv[1], sys.argv[2]
seen = {"events": 0, "invalidations": 0, "dropped": 0}
if kind == "bpftrace":
    # "@invalidations[0xffffffffc0a01234]: 20128", one line per callback,
    # printed each second and at exit: the latest value of each counts.
    latest = {}
    for line in open(path):
        if line.startswith("@invalidations["):
            key, value = line.rsplit(":", 1)
            latest[key] = int(value)
    print(json.dumps({"invalidations": sum(latest.values())}))
    sys.exit(0)
for line in open(path):
    if not line.startswith("{"):
        continue
    record = json.loads(line)
    if kind == "snoop":
        if "timestamp_ns" in record:
            seen["events"] += 1
            seen["invalidations"] += record["event"] == "mmu_interval_notifier_invalidate"
        elif "dropped_total" in record:
            seen["dropped"] = record["dropped_total"]
    else:
        for row in record.get("rows", []):
            if row["driver"] == "sim_mirror":
                seen["invalidations"] += row["invalidations"]
if kind == "top":
    del seen["events"], seen["dropped"]
print(json.dumps(seen))
