#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Compare what hmmtrace reported (its --json output) with expectations.

    hmmtrace_totals.py FILE DRIVER EXPECTED_JSON

FILE holds the JSON lines of one hmmtrace run (any subcommand). The run's
numbers for DRIVER are summed over its intervals into flat keys:

  top, retries   every integer of a row ("inserts", "read_retries", ...)
  latency        "<kind>.count" and "<kind>.histogram_total" for invalidate,
                 read_begin_wait and fault_to_mapped; "ranges.count" and
                 "ranges.histogram_total" over every range event
  retries        "retries_per_fault.histogram_total", "livelocks" (reports
                 of DRIVER)
  snoop          "events.<event name>" for DRIVER's events, "events.range"
                 for range start/end events, "dropped_total"

EXPECTED_JSON maps a key to a number (exact), [low, high] (inclusive), or
"=OTHER", the total of another key (a histogram against its count).
Prints one line per key: PASS|FAIL, the key, and what was compared.
"""
import json
import sys


def histogram_total(histogram):
    return sum(bucket[2] for bucket in histogram)


def add(totals, key, value):
    totals[key] = totals.get(key, 0) + value


def summarize(path, driver):
    totals = {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if "livelock" in record:
            if record["livelock"]["driver"] == driver:
                add(totals, "livelocks", 1)
            continue
        if "event" in record and "timestamp_ns" in record:
            if record["event"].startswith("mmu_notifier_invalidate_range"):
                add(totals, "events.range", 1)
            elif record["driver"] == driver:
                add(totals, "events." + record["event"], 1)
            continue
        if record.get("subcommand") == "snoop":
            totals["dropped_total"] = record["dropped_total"]
            continue
        for histogram in record.get("ranges", []):
            add(totals, "ranges.count", histogram["count"])
            add(totals, "ranges.histogram_total", histogram_total(histogram["histogram"]))
        for row in record.get("rows", []):
            if row["driver"] != driver:
                continue
            for key, value in row.items():
                if isinstance(value, bool):
                    continue
                if isinstance(value, int):
                    add(totals, key, value)
                elif isinstance(value, dict):
                    add(totals, key + ".count", value["count"])
                    add(totals, key + ".histogram_total", histogram_total(value["histogram"]))
                elif key == "retries_per_fault":
                    add(totals, key + ".histogram_total", histogram_total(value))
    return totals


def main():
    path, driver, expected = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    totals = summarize(path, driver)
    for key, want in expected.items():
        have = totals.get(key, 0)
        if isinstance(want, str) and want.startswith("="):
            want = totals.get(want[1:], 0)
        if isinstance(want, list):
            held = want[0] <= have <= want[1]
            wanted = f"between {want[0]} and {want[1]}"
        else:
            held = have == want
            wanted = str(want)
        print(f"{'PASS' if held else 'FAIL'}\t{key}\thmmtrace reported {have}, expected {wanted}")


if __name__ == "__main__":
    main()
