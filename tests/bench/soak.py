#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Watch long-running hmmtrace processes for growth: make bench's soak stage.

    soak.py --seconds S --every S --metrics URL --output FILE NAME=PID...

Every --every seconds, for each named process: its resident set (VmRSS) and
peak (VmHWM), its open file descriptors, the entries of each BPF map it
holds (bpftool, by the map's owning pid), and the BPF links on the system.
Between samples it scrapes the exporter at URL every second and checks that
no counter (a _total, _count, _sum or _bucket sample of the same labels)
ever went down. One JSON line per sample goes to FILE, and a last one with
the scrape and monotonicity totals. A process that exits ends the soak
early, and says so.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([-+0-9.eEinfaN]+)")


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def bpftool_json(*arguments):
    output = subprocess.run(["bpftool", "--json", *arguments], capture_output=True,
                            text=True, check=True).stdout
    return json.loads(output or "[]")


def map_entries(pid):
    """Entries of each map PID holds, by name: what reclamation keeps flat."""
    entries = {}
    for bpf_map in bpftool_json("map", "show"):
        owners = {owner.get("pid") for owner in bpf_map.get("pids", [])}
        if pid not in owners or bpf_map.get("type") in ("ringbuf", "array", "percpu_array",
                                                         "stack_trace"):
            continue
        dump = bpftool_json("map", "dump", "id", str(bpf_map["id"]))
        name = bpf_map.get("name", str(bpf_map["id"]))
        entries[name] = entries.get(name, 0) + len(dump)
    return entries


def counters(body):
    values = {}
    for line in body.splitlines():
        match = SAMPLE.match(line)
        if match and match.group(1).endswith(COUNTER_SUFFIXES):
            values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return values


class Monotonic:
    """Every counter seen in two scrapes in a row, compared."""

    def __init__(self, url):
        self.url = url
        self.previous = {}
        self.scrapes = self.failed = self.comparisons = 0
        self.decreases = []

    def scrape(self):
        try:
            with urllib.request.urlopen(self.url, timeout=10) as response:
                current = counters(response.read().decode())
        except OSError:
            self.failed += 1
            return
        self.scrapes += 1
        for key, value in current.items():
            if key in self.previous:
                self.comparisons += 1
                if value < self.previous[key]:
                    self.decreases.append(f"{key}: {self.previous[key]} -> {value}")
        self.previous = current


def sample(processes, began):
    record = {"stage": "soak", "elapsed_s": round(time.monotonic() - began, 1),
              "links": len(bpftool_json("link", "show")), "processes": {}}
    for name, pid in processes.items():
        record["processes"][name] = {
            "rss_kib": status_kib(pid, "VmRSS"), "peak_rss_kib": status_kib(pid, "VmHWM"),
            "fds": len(os.listdir(f"/proc/{pid}/fd")), "map_entries": map_entries(pid)}
    return record


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--every", type=float, required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("processes", nargs="+", metavar="NAME=PID")
    arguments = parser.parse_args()
    processes = {name: int(pid) for name, pid in
                 (process.split("=", 1) for process in arguments.processes)}
    monotonic = Monotonic(arguments.metrics)
    began = time.monotonic()
    next_sample = began
    samples = 0
    ended_early = None
    with open(arguments.output, "a", buffering=1) as output:
        while time.monotonic() - began <= arguments.seconds:
            if time.monotonic() >= next_sample:
                try:
                    output.write(json.dumps(sample(processes, began)) + "\n")
                except (OSError, KeyError) as error:
                    ended_early = f"a process went away: {error}"
                    break
                samples += 1
                next_sample += arguments.every
            monotonic.scrape()
            time.sleep(1)
        output.write(json.dumps({
            "stage": "soak-summary", "seconds": round(time.monotonic() - began, 1),
            "samples": samples, "scrapes": monotonic.scrapes,
            "failed_scrapes": monotonic.failed, "comparisons": monotonic.comparisons,
            "decreases": monotonic.decreases[:20], "decrease_count": len(monotonic.decreases),
            "ended_early": ended_early}) + "\n")
    return 1 if ended_early else 0


if __name__ == "__main__":
    sys.exit(main())
