#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Check what the tracepoints reported for tests/workloads/test_hmm_phases
against what each of its phases must produce.

  check_notifier_events.py trace NAME TRACE WORKLOAD_JSON
      an ftrace text capture, field by field, phase by phase
  check_notifier_events.py perf-stat NAME PERF_STAT_CSV WORKLOAD_JSON
      `perf stat -x,` counts of a run with --race-seconds 0, event by event

Prints one result per line, "STATUS<TAB>NAME<TAB>REASON", for tests/lib.sh.
"""

import json
import re
import sys

LINE = re.compile(r"^\s*(?P<task>.*?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[\d+\]\s+(?:\S+\s+)?"
                  r"(?P<timestamp>[\d.]+): (?P<event>\w+): (?P<body>.*)$")
EVENT_NAMES = {0: "unmap", 1: "clear", 5: "release"}
EBUSY = -16
CALLBACK = "dmirror_interval_invalidate"
results = []
result_prefix = "tracepoints"


def result(status, name, reason=""):
    results.append(f"{status}\t{result_prefix}.{name}\t{reason}")


def expect(name, condition, reason):
    result("PASS" if condition else "FAIL", name, "" if condition else reason)


def parse_fields(body):
    """key=value pairs; a value may continue past a space (%ps adds ' [module]')."""
    fields, key = {}, None
    for token in body.split(" "):
        if "=" in token and re.match(r"^\w+=", token):
            key, value = token.split("=", 1)
            fields[key] = value
        elif key:
            fields[key] += " " + token
    return fields


def number(value):
    return int(value, 0)


def load_phases(trace_path, workload_pid):
    """Events of the workload's mm, grouped by the phase marker before them."""
    phases, phase, workload_mm = {}, None, None
    with open(trace_path) as trace:
        for line in trace:
            match = LINE.match(line)
            if not match:
                continue
            event, body = match.group("event"), match.group("body").strip()
            if event == "tracing_mark_write":
                marker = re.search(r"hmmtrace-phase=([\w-]+)", body)
                if marker and int(match.group("pid")) == workload_pid:
                    phase = marker.group(1)
                    phases.setdefault(phase, [])
                continue
            fields = parse_fields(body)
            if (event == "mmu_interval_notifier_insert" and phase == "open" and
                    int(match.group("pid")) == workload_pid):
                workload_mm = fields["mm"]
            if phase is None or workload_mm is None or fields.get("mm") != workload_mm:
                continue
            phases[phase].append((event, fields))
    return phases


def of(events, name):
    return [fields for event, fields in events if event == name]


def check_chunks(phase, events, buffer, chunks, chunk_pages):
    """One read_begin and one successful hmm_range_fault per chunk, tiling the buffer."""
    faults = of(events, "hmm_range_fault")
    expect(f"{phase}.read_begin-per-chunk", len(of(events, "mmu_interval_read_begin")) == chunks,
           f"{len(of(events, 'mmu_interval_read_begin'))} read_begin, want {chunks}")
    tiles = sorted((number(f["start"]), number(f["end"])) for f in faults)
    want = [(buffer[0] + i * chunk_pages * 4096, buffer[0] + (i + 1) * chunk_pages * 4096)
            for i in range(chunks)]
    expect(f"{phase}.hmm_range_fault-tiles-buffer",
           tiles == want and all(number(f["ret"]) == 0 and number(f["npages"]) == chunk_pages
                                 for f in faults),
           f"hmm_range_fault ranges {tiles[:3]}..., rets {[f['ret'] for f in faults][:5]}")


def check_single_range(phase, events, buffer, event_name, interval_sub):
    starts = of(events, "mmu_notifier_invalidate_range_start")
    ends = of(events, "mmu_notifier_invalidate_range_end")
    invalidations = of(events, "mmu_interval_notifier_invalidate")
    want = (buffer[0], buffer[1])
    expect(f"{phase}.range-start", len(starts) == 1 and
           (number(starts[0]["start"]), number(starts[0]["end"])) == want and
           starts[0]["event"] == event_name and number(starts[0]["ret"]) == 0 and
           number(starts[0]["flags"]) & 1 == 1 and number(starts[0]["duration_ns"]) > 0,
           f"range_start events {starts}")
    expect(f"{phase}.range-end-pairs-start",
           len(ends) == 1 and len(starts) == 1 and ends[0]["range"] == starts[0]["range"] and
           ends[0]["event"] == event_name,
           f"range_end events {ends}")
    expect(f"{phase}.interval-invalidate",
           len(invalidations) == 1 and invalidations[0]["interval_sub"] == interval_sub and
           invalidations[0]["invalidate"].startswith(CALLBACK) and
           invalidations[0]["range"] == starts[0]["range"] and
           (number(invalidations[0]["start"]), number(invalidations[0]["end"])) == want and
           number(invalidations[0]["ret"]) == 1 and number(invalidations[0]["cur_seq"]) % 2 == 1,
           f"invalidate events {invalidations}")


def expected_totals(workload):
    """Event counts of a run without the race phase, as perf stat sees it:
    do_exit() stops the task's counters before exit_mm(), so exit_mmap's
    range is not counted."""
    chunks, pages = workload["chunks"], workload["pages"]
    ranges = 1 + 1 + pages   # madvise, munmap, one COW per page
    return {
        "mmu_interval_notifier_insert": 1,
        "mmu_interval_notifier_remove": 1,
        "mmu_notifier_invalidate_range_start": ranges,
        "mmu_notifier_invalidate_range_end": ranges,
        "mmu_interval_notifier_invalidate": ranges,
        "mmu_interval_read_begin": 4 * chunks,
        "mmu_interval_read_retry": 0,
        "mmu_interval_check_retry": chunks,
        "hmm_range_fault": 4 * chunks,
    }


def check_perf_stat(perf_path, workload_path):
    with open(workload_path) as workload_file:
        workload = json.load(workload_file)
    counts = {}
    with open(perf_path) as perf_output:
        for line in perf_output:
            columns = line.strip().split(",")
            if len(columns) > 2 and ":" in columns[2]:
                counts[columns[2].split(":", 1)[1]] = columns[0]
    for event, want in expected_totals(workload).items():
        have = counts.get(event)
        expect(f"perf-stat.{event}", have == str(want), f"perf counted {have}, want {want}")


def check_trace(trace_path, workload_path):
    with open(workload_path) as workload_file:
        workload = json.load(workload_file)
    chunks, chunk_pages = workload["chunks"], workload["chunk_pages"]
    phases = load_phases(trace_path, workload["pid"])

    opened = phases.get("open", [])
    inserts = of(opened, "mmu_interval_notifier_insert")
    expect("open.insert", len(inserts) == 1 and number(inserts[0]["start"]) == 0 and
           number(inserts[0]["last"]) == 0xffffffffffffefff and
           inserts[0]["invalidate"].startswith(CALLBACK) and
           number(inserts[0]["seq"]) % 2 == 1 and inserts[0]["deferred"] == "0",
           f"insert events {inserts}")
    if len(inserts) != 1:
        return
    interval_sub = inserts[0]["interval_sub"]

    present = phases.get("read-present", [])
    check_chunks("read-present", present, workload["present"], chunks, chunk_pages)
    expect("read-present.no-retries",
           not of(present, "mmu_interval_check_retry") and not of(present, "mmu_interval_read_retry"),
           "retry events without any invalidation")
    expect("read-present.faults", workload["read_present_faults"] == 1,
           f"test_hmm counted {workload['read_present_faults']} faults")

    check_single_range("madvise", phases.get("madvise", []), workload["present"], "clear",
                       interval_sub)
    check_single_range("munmap", phases.get("munmap", []), workload["present"], "unmap",
                       interval_sub)

    cow = phases.get("cow", [])
    pages = workload["pages"]
    cow_start, cow_end = workload["cow"]
    begins = of(cow, "mmu_interval_read_begin")
    faults = of(cow, "hmm_range_fault")
    busy = [f for f in faults if number(f["ret"]) == EBUSY]
    check_retries = of(cow, "mmu_interval_check_retry")
    invalidations = of(cow, "mmu_interval_notifier_invalidate")
    expect("cow.read_begin", len(begins) == 3 * chunks,
           f"{len(begins)} read_begin, want {3 * chunks} (READ {chunks}, WRITE {2 * chunks})")
    expect("cow.hmm_range_fault-ebusy-once-per-chunk",
           len(faults) == 3 * chunks and len(busy) == chunks,
           f"{len(faults)} hmm_range_fault with {len(busy)} -EBUSY, want {3 * chunks} and {chunks}")
    expect("cow.check_retry-once-per-chunk",
           len(check_retries) == chunks and all(
               f["interval_sub"] == interval_sub and f["seq"] != f["current_seq"] and
               number(f["current_seq"]) % 2 == 1 for f in check_retries),
           f"{len(check_retries)} check_retry, want {chunks}: {check_retries[:2]}")
    expect("cow.invalidate-each-page",
           len(invalidations) == pages and all(
               number(f["end"]) - number(f["start"]) == 4096 and
               cow_start <= number(f["start"]) < cow_end and f["event"] == "clear" and
               number(f["ret"]) == 1 and number(f["duration_ns"]) > 0 for f in invalidations),
           f"{len(invalidations)} page invalidations, want {pages}")
    expect("cow.no-read-retry", not of(cow, "mmu_interval_read_retry"),
           "read_retry without a concurrent invalidation")
    expect("cow.faults", workload["cow_read_faults"] == 1 and workload["cow_write_faults"] == 1,
           f"test_hmm counted {workload['cow_read_faults']} and {workload['cow_write_faults']}")

    raced = phases.get("race")
    if raced is not None:
        read_retries = of(raced, "mmu_interval_read_retry")
        check_retries = of(raced, "mmu_interval_check_retry")
        expect("race.collisions-seen", check_retries or read_retries,
               f"no collision in {workload['race_reads']} device reads")
        # Collisions hit the device's subscription and SNAPSHOT's temporary ones.
        subscriptions = {interval_sub} | {f["interval_sub"] for f in of(raced, "mmu_interval_notifier_insert")}
        expect("race.retry-fields", all(f["seq"] != f["current_seq"] and f["interval_sub"] in subscriptions
                                        for f in read_retries + check_retries),
               "a retry event with seq == current_seq or of an unknown subscription")
        if read_retries:
            result("PASS", "race.read_retry")
        else:
            result("SKIP", "race.read_retry",
                   f"no read_retry collision in {workload['race_reads']} device reads "
                   "(test_hmm has no way to widen the window)")
        waits = [f for f in of(raced, "mmu_interval_read_begin") if f["waited"] == "1"]
        expect("race.read_begin-wait-timed", all(number(f["wait_ns"]) > 0 for f in waits),
               "a read_begin that waited reports wait_ns 0")
        # SNAPSHOT subscribes a temporary range for each call.
        inserts = of(raced, "mmu_interval_notifier_insert")
        removes = of(raced, "mmu_interval_notifier_remove")
        expect("race.snapshot-insert-remove-balance",
               inserts and sorted(f["interval_sub"] for f in inserts) ==
               sorted(f["interval_sub"] for f in removes),
               f"{len(inserts)} inserts, {len(removes)} removes")
        expect("race.insert-seq-odd", all(number(f["seq"]) % 2 == 1 for f in inserts),
               "an insert started with an even seq")
        expect("race.remove-wait-timed",
               all(number(f["wait_ns"]) > 0 for f in removes if f["waited"] == "1") and
               all(number(f["wait_ns"]) == 0 for f in removes if f["waited"] == "0"),
               "wait_ns disagrees with waited")
        for kind, events in (("insert-deferred", [f for f in inserts if f["deferred"] == "1"]),
                             ("remove-waited", [f for f in removes if f["waited"] == "1"]),
                             ("read_begin-waited", waits)):
            if events:
                result("PASS", f"race.{kind}")
            else:
                result("SKIP", f"race.{kind}", "the race never hit this window in this run")

    if workload["exit_open"]:
        done = phases.get("done", [])
        releases = [f for f in of(done, "mmu_interval_notifier_invalidate") if f["event"] == "release"]
        expect("exit.release-invalidate",
               len(releases) == 1 and releases[0]["interval_sub"] == interval_sub and
               number(releases[0]["start"]) == 0 and
               number(releases[0]["end"]) == 0xffffffffffffffff and number(releases[0]["ret"]) == 1,
               f"release invalidations {releases}")
        removes = of(done, "mmu_interval_notifier_remove")
    else:
        removes = of(phases.get("close", []), "mmu_interval_notifier_remove")
    expect("close.remove", len(removes) == 1 and removes[0]["interval_sub"] == interval_sub and
           removes[0]["invalidate"].startswith(CALLBACK) and number(removes[0]["start"]) == 0 and
           removes[0]["waited"] == "0" and number(removes[0]["wait_ns"]) == 0,
           f"remove events {removes}")


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] not in ("trace", "perf-stat"):
        sys.exit(__doc__)
    result_prefix = sys.argv[2]
    try:
        if sys.argv[1] == "trace":
            check_trace(sys.argv[3], sys.argv[4])
        else:
            check_perf_stat(sys.argv[3], sys.argv[4])
    except (OSError, ValueError, KeyError) as error:
        result("FAIL", "input", f"{type(error).__name__}: {error}")
    print("\n".join(results))
