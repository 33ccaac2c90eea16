#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Watch long-running hmmtrace processes for growth: make bench's soak stage.

    soak.py --seconds S --every S --metrics URL --output FILE NAME=PID...

Every --every seconds, for each named process: its resident set (VmRSS) and
peak (VmHWM), its open file descriptors, the entries of each BPF map it
holds (found in its fdinfo, counted by bpftool), and the BPF links on the system.
Meanwhile a thread scrapes the exporter at URL every second and checks that
no counter (a _total, _count, _sum or _bucket sample of the same labels)
ever went down. One JSON line per sample goes to FILE, and a last one with
the scrape and monotonicity totals. A process that exits ends the soak
early, and says so.
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
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


def held_maps(pid):
    """The BPF maps PID holds open, by id, from its descriptors' fdinfo.

    bpftool's "pids" field needs a bpftool built with its own skeletons;
    fdinfo is there on every kernel.
    """
    maps = {}
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as fdinfo:
                fields = dict(line.rstrip("\n").split(":\t", 1) for line in fdinfo if ":\t" in line)
        except OSError:
            continue
        if "map_id" in fields:
            maps[int(fields["map_id"])] = int(fields["map_type"])
    return maps


# Maps whose entries are fixed at creation: counting them says nothing. Task
# local storage (task_faults) holds a value per live task, freed with it, and
# cannot be dumped: it cannot grow with exited processes.
FIXED_SIZE_TYPES = {"ringbuf", "array", "percpu_array", "stack_trace", "prog_array",
                    "perf_event_array", "task_storage"}


def map_entries(pid):
    """Entries of each hash map PID holds, by name: what reclamation keeps flat."""
    entries = {}
    for map_id in held_maps(pid):
        info = bpftool_json("map", "show", "id", str(map_id))
        if info.get("type") in FIXED_SIZE_TYPES:
            continue
        name = info.get("name", str(map_id))
        entries[name] = entries.get(name, 0) + len(bpftool_json("map", "dump", "id", str(map_id)))
    if not entries:
        raise KeyError(f"process {pid} holds no BPF hash map")
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
        except (OSError, ValueError, http.client.HTTPException):
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
    # Scrapes go on once a second in their own thread: a sample, which
    # dumps every map through bpftool, can take seconds under TCG.
    stop_scraping = threading.Event()

    def scrape_loop():
        while not stop_scraping.wait(1):
            monotonic.scrape()

    scraper = threading.Thread(target=scrape_loop, daemon=True)
    began = time.monotonic()
    scraper.start()
    next_sample = began
    samples = 0
    ended_early = None
    with open(arguments.output, "a", buffering=1) as output:
        try:
            while time.monotonic() - began <= arguments.seconds:
                try:
                    output.write(json.dumps(sample(processes, began)) + "\n")
                except (OSError, KeyError, ValueError, subprocess.CalledProcessError) as error:
                    ended_early = f"a sample failed (a process gone, or its maps unreadable): {error}"
                    break
                samples += 1
                next_sample += arguments.every
                time.sleep(max(0.0, next_sample - time.monotonic()))
        finally:
            stop_scraping.set()
            scraper.join()
        output.write(json.dumps({
            "stage": "soak-summary", "seconds": round(time.monotonic() - began, 1),
            "samples": samples, "scrapes": monotonic.scrapes,
            "failed_scrapes": monotonic.failed, "comparisons": monotonic.comparisons,
            "decreases": monotonic.decreases[:20], "decrease_count": len(monotonic.decreases),
            "ended_early": ended_early}) + "\n")
    # A soak that could not compare its counters showed nothing.
    return 1 if ended_early or not monotonic.comparisons else 0


if __name__ == "__main__":
    sys.exit(main())
