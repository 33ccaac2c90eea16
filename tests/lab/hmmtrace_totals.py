#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Compare what hmmtrace reported (its --json output) with expectations.

    hmmtrace_totals.py FILE SUBCOMMAND DRIVER EXPECTED_JSON

FILE holds the JSON lines of one `hmmtrace SUBCOMMAND --json` run. Its
numbers for DRIVER are summed over the run into flat keys. A key exists only
once the objects that carry it were parsed, so a key hmmtrace never printed
is a FAIL, never a 0:

  intervals      interval objects of SUBCOMMAND (always a key)
  fault_state.S  interval objects whose fault_state is S (task or hash), once
                 one said S
  rows           DRIVER's rows in them (once an interval had "rows")
  top, retries   each integer of DRIVER's rows ("inserts", "read_retries", ...),
                 once a row of DRIVER had it
  latency        "<kind>.count", "<kind>.histogram_total" for each {count,
                 histogram} of DRIVER's rows (invalidate, read_begin_wait,
                 fault_to_mapped); "ranges.count", "ranges.histogram_total"
                 over every range event type (once an interval had "ranges")
  retries        "retries_per_fault.histogram_total" of DRIVER's rows;
                 "livelocks": livelock reports of DRIVER, and
                 "livelocks_reported": the last interval's count (every
                 driver), both once an interval carried "livelocks"
  snoop          "events": event objects of every driver (once an interval
                 was parsed); "events.<event>": DRIVER's events of that
                 catalog name, "events.range": range start/end events (once
                 an event object was parsed); "interval.events",
                 "interval.dropped": the intervals' counts summed, and
                 "dropped_total": the last interval's

EXPECTED_JSON maps a key to a number (exact), [low, high] (inclusive), or
"=EXPRESSION": keys and integers joined by + and -, such as
"=fault_to_mapped.count" or "=1200-read_retries"; bounds may be expressions.

Prints one line per check, PASS|FAIL <TAB> name <TAB> what was compared:
first "parsed", which fails when no interval object of SUBCOMMAND was parsed,
a line was not JSON, an object was not in the schema (tools/README.md) or
came from another subcommand; then one per key of EXPECTED_JSON, each
failing too when nothing was parsed. Exit status: 0 when it compared, 2 on
bad arguments or an unreadable FILE.
"""
import json
import os
import re
import sys

SUBCOMMANDS = ("top", "latency", "retries", "snoop")
CATALOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                       "tracepoints", "events.json")


def histogram_total(histogram):
    return sum(bucket[2] for bucket in histogram)


class Run:
    """What one hmmtrace run printed, summed for one driver."""

    def __init__(self, subcommand, driver):
        self.subcommand, self.driver = subcommand, driver
        self.totals = {"intervals": 0}
        self.not_json = 0
        self.malformed = 0          # JSON, but not in hmmtrace's schema
        self.foreign = 0            # objects of another subcommand
        self.lost_total = {}        # the last interval's, shown with a failure

    def add(self, key, value):
        # hmmtrace's deltas wrap as its unsigned sums do: a fault completion
        # counted in one interval and withdrawn in the next is 2**64 - 1 there.
        self.totals[key] = (self.totals.get(key, 0) + value) % (1 << 64)

    def define(self, key):
        self.totals.setdefault(key, 0)

    def read(self, lines):
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                self.not_json += 1
                continue
            try:
                self.record(record)
            except (AttributeError, KeyError, TypeError, IndexError):
                self.malformed += 1

    def record(self, record):
        if "livelock" in record:
            self.livelock(record)
        elif "event" in record and "timestamp_ns" in record:
            self.event(record)
        elif record.get("subcommand") == self.subcommand:
            self.interval(record)
        else:
            self.foreign += 1

    def livelock(self, record):
        if record.get("subcommand") != self.subcommand:
            self.foreign += 1
        elif record["livelock"].get("driver") == self.driver:
            self.add("livelock_objects", 1)

    def event(self, record):
        if self.subcommand != "snoop":
            self.foreign += 1
            return
        self.add("events", 1)
        if record["event"].startswith("mmu_notifier_invalidate_range"):
            self.add("events.range", 1)
        elif record.get("driver") == self.driver:
            self.add("events." + record["event"], 1)

    def interval(self, record):
        self.add("intervals", 1)
        self.add("fault_state." + record["fault_state"], 1)
        if isinstance(record.get("lost_total"), dict):
            self.lost_total = record["lost_total"]
        if "livelocks" in record:
            self.define("livelock_objects")
            self.totals["livelocks_reported"] = record["livelocks"]
        if self.subcommand == "snoop":
            self.define("events")
            for key in ("events", "dropped"):
                if key in record:
                    self.add("interval." + key, record[key])
            if "dropped_total" in record:
                self.totals["dropped_total"] = record["dropped_total"]
        if "ranges" in record:
            self.define("ranges.count")
            self.define("ranges.histogram_total")
        for histogram in record.get("ranges", []):
            self.add("ranges.count", histogram["count"])
            self.add("ranges.histogram_total", histogram_total(histogram["histogram"]))
        if "rows" in record:
            self.define("rows")
        for row in record.get("rows", []):
            if row.get("driver") == self.driver:
                self.row(row)

    def row(self, row):
        self.add("rows", 1)
        for key, value in row.items():
            if isinstance(value, bool):
                continue
            if isinstance(value, int):
                self.add(key, value)
            elif isinstance(value, dict):
                self.add(key + ".count", value["count"])
                self.add(key + ".histogram_total", histogram_total(value["histogram"]))
            elif key == "retries_per_fault":
                self.add(key + ".histogram_total", histogram_total(value))

    def keys(self):
        """The totals as EXPECTED_JSON names them."""
        keys = dict(self.totals)
        if "livelock_objects" in keys:
            keys["livelocks"] = keys.pop("livelock_objects")
        if keys.get("events"):
            for name in catalog_event_names():
                keys.setdefault("events." + name, 0)
            keys.setdefault("events.range", 0)
        return keys


def catalog_event_names():
    with open(CATALOG) as catalog:
        return [event["name"] for event in json.load(catalog)["events"]]


TERM = re.compile(r"\s*([+-]?)\s*([A-Za-z_][\w.]*|\d+)\s*")


def evaluate(want, keys):
    """A number, or "=EXPRESSION": (value, None), or (None, why not)."""
    if isinstance(want, bool) or not isinstance(want, (int, str)):
        return None, f"expected value {want!r} is neither a number nor \"=EXPRESSION\""
    if isinstance(want, int):
        return want, None
    if not want.startswith("="):
        return None, f"expected value {want!r} does not start with '='"
    expression, total, position = want[1:], 0, 0
    while position < len(expression):
        term = TERM.match(expression, position)
        if not term or (position and not term.group(1)):
            return None, f"cannot parse {want!r}"
        sign, name = -1 if term.group(1) == "-" else 1, term.group(2)
        if name.isdigit():
            total += sign * int(name)
        elif name in keys:
            total += sign * keys[name]
        else:
            return None, f"{name} (in {want}) was never reported"
        position = term.end()
    if not expression:
        return None, f"cannot parse {want!r}"
    return total, None


def check(key, want, keys, nothing_parsed):
    """(held, what was compared)."""
    if nothing_parsed:
        return False, nothing_parsed
    if key not in keys:
        return False, f"hmmtrace never reported {key}"
    have = keys[key]
    bounds = want if isinstance(want, list) else [want]
    if len(bounds) not in (1, 2):
        return False, f"expected {want!r} is not a number, [low, high] or \"=EXPRESSION\""
    values = []
    for bound in bounds:
        value, why_not = evaluate(bound, keys)
        if why_not:
            return False, f"hmmtrace reported {have}; {why_not}"
        values.append(value)
    shown = [f"{value} ({bound})" if isinstance(bound, str) else str(value)
             for value, bound in zip(values, bounds)]
    if len(values) == 1:
        return have == values[0], f"hmmtrace reported {have}, expected {shown[0]}"
    return (values[0] <= have <= values[1],
            f"hmmtrace reported {have}, expected between {shown[0]} and {shown[1]}")


def compare(run, expected):
    """The result lines, "parsed" first."""
    keys = run.keys()
    parsed = (f"{keys['intervals']} {run.subcommand} interval objects, {keys.get('rows', 0)} rows "
              f"of {run.driver}, {keys.get('events', 0)} events, {keys.get('livelocks', 0)} "
              f"livelock reports; {run.not_json} lines not JSON, {run.malformed} objects not in "
              f"the schema, {run.foreign} objects of another subcommand")
    nothing_parsed = None
    if not keys["intervals"]:
        nothing_parsed = f"no {run.subcommand} interval object was parsed"
    parsed_held = not (nothing_parsed or run.not_json or run.malformed or run.foreign)
    lines = [("PASS" if parsed_held else "FAIL", "parsed", parsed)]
    # A count that missed says what the run lost, which may explain it.
    lost = {kind: count for kind, count in run.lost_total.items() if count}
    for key, want in expected.items():
        held, reason = check(key, want, keys, nothing_parsed)
        if not held and lost:
            reason += f" (the run lost {lost})"
        lines.append(("PASS" if held else "FAIL", key, reason))
    return lines


def summarize(path, subcommand, driver):
    run = Run(subcommand, driver)
    with open(path) as lines:
        run.read(lines)
    return run


def main():
    if len(sys.argv) != 5 or sys.argv[2] not in SUBCOMMANDS:
        sys.stderr.write(__doc__)
        sys.exit(2)
    path, subcommand, driver = sys.argv[1:4]
    try:
        expected = json.loads(sys.argv[4])
    except ValueError as error:
        sys.stderr.write(f"hmmtrace_totals.py: EXPECTED_JSON: {error}\n")
        sys.exit(2)
    if not isinstance(expected, dict) or not expected:
        sys.stderr.write("hmmtrace_totals.py: EXPECTED_JSON must be a non-empty object\n")
        sys.exit(2)
    try:
        run = summarize(path, subcommand, driver)
    except OSError as error:
        sys.stderr.write(f"hmmtrace_totals.py: {error}\n")
        sys.exit(2)
    for status, name, reason in compare(run, expected):
        print(f"{status}\t{name}\t{reason}")


if __name__ == "__main__":
    main()
