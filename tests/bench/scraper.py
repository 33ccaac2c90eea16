#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Scrape an exporter at a fixed rate, as Prometheus does, until killed.

    scraper.py URL LOG [--interval SECONDS]

Appends one line per scrape to LOG: the wall clock in nanoseconds when the
scrape began (as `date +%s%N` prints it), then the body's line count, or
`failed` and why. One process for the whole run, so that a scrape costs
the guest one HTTP request, not a process start.
"""
import argparse
import time
import urllib.request


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("log")
    parser.add_argument("--interval", type=float, default=1.0)
    arguments = parser.parse_args()
    next_scrape = time.monotonic()
    with open(arguments.log, "a", buffering=1) as log:
        while True:
            began = time.time_ns()
            try:
                with urllib.request.urlopen(arguments.url, timeout=10) as response:
                    outcome = str(response.read().count(b"\n"))
            except OSError as error:
                outcome = f"failed {error}".replace("\n", " ")
            log.write(f"{began} {outcome}\n")
            # A fixed rate, not a fixed gap: a slow scrape does not slow the next.
            next_scrape += arguments.interval
            time.sleep(max(0.0, next_scrape - time.monotonic()))


if __name__ == "__main__":
    main()
