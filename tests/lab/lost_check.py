#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Whether what hmmtrace counted plus what it says it lost is the ground truth.

    lost_check.py JSON TRUTH FIELDS COUNTERS KIND WANT [--driver NAME]

JSON holds one `hmmtrace top --json` run, TRUTH sim_mirror_workload's
--json report. FIELDS (comma-separated row fields, summed over every row of
every interval, of driver NAME if given) plus the run's lost_total[KIND]
must equal COUNTERS (comma-separated counters of the truth, summed). WANT
is "lost" when the run must have lost some (a map made too small), "none"
when it must have lost nothing, of any kind.

Nothing passes on nothing: no interval, an interval without "lost" and
"lost_total", a lost_total that is not the intervals' lost summed, or a
truth without the counters fails. Exit status 0 when it holds, 1 when not.
"""

import json
import sys


def main():
    if len(sys.argv) not in (7, 9) or sys.argv[6] not in ("lost", "none"):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 64
    path, truth_path, fields, counters, kind, want = sys.argv[1:7]
    driver = sys.argv[8] if len(sys.argv) == 9 else None
    intervals = []
    for line in open(path):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "rows" in record:
            intervals.append(record)
    if not intervals:
        print("no interval was parsed")
        return 1
    if not all(isinstance(i.get("lost"), dict) and isinstance(i.get("lost_total"), dict) and
               kind in i["lost"] for i in intervals):
        print(f"an interval has no lost or lost_total, or no kind {kind}")
        return 1
    lost_total = intervals[-1]["lost_total"]
    for name, total in lost_total.items():
        summed = sum(i["lost"].get(name, 0) for i in intervals)
        if summed != total:
            print(f"lost.{name} summed over the intervals is {summed}, lost_total says {total}")
            return 1
    counted = 0
    rows = 0
    for interval in intervals:
        for row in interval["rows"]:
            if driver and row.get("driver") != driver:
                continue
            rows += 1
            for field in fields.split(","):
                counted += row.get(field, 0)
    truth = json.load(open(truth_path)).get("counters", {})
    missing = [name for name in counters.split(",") if name not in truth]
    if missing:
        print(f"the truth has no {', '.join(missing)}")
        return 1
    expected = sum(truth[name] for name in counters.split(","))
    lost = lost_total[kind]
    summary = (f"{fields} counted {counted} in {rows} rows of {len(intervals)} intervals, "
               f"lost.{kind} {lost}, truth {counters} {expected}")
    if counted + lost != expected:
        fields_seen = {}
        for interval in intervals:
            for row in interval["rows"]:
                if not driver or row.get("driver") == driver:
                    for field in fields.split(","):
                        fields_seen[field] = fields_seen.get(field, 0) + row.get(field, 0)
        print(f"counted + lost != truth: {summary}; counted: {fields_seen}; the truth: {truth}; "
              f"lost: {lost_total}; hooks: {intervals[0].get('hooks')}")
        return 1
    if want == "lost" and not lost:
        print(f"nothing was lost, so the map was not too small: {summary}")
        return 1
    others = {name: total for name, total in lost_total.items() if total and name != kind}
    if want == "none" and (lost or others):
        print(f"lost {dict(others, **{kind: lost})}: {summary}")
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
