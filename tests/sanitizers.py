#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""How the tests run the sanitized hmmtrace (make hmmtrace SANITIZE=1) and
tell a sanitizer's report: the one definition that the argv fuzzer
(tests/host/hmmtrace_argv_fuzz.py) and the lab's sanitized run
(tests/lab/test-hmmtrace-sanitized.sh) share.

  sanitizers.py environment [--log-path PREFIX]
      the ASAN_OPTIONS and UBSAN_OPTIONS lines to export; with a PREFIX,
      each report goes to PREFIX.PID instead of stderr
  sanitizers.py binary PROGRAM
      that PROGRAM itself is sanitized: calls into ASan's and UBSan's report
      handlers, and ASan's runtime answers ASAN_OPTIONS=help=1 when it runs
  sanitizers.py control PROGRAM
      the positive control: PROGRAM (build/sanitize/sanitizer-control) makes
      a leak, a heap overflow and a signed overflow, each of which must be
      reported and exit SANITIZER_EXIT, and a clean run, which must not
  sanitizers.py scan PREFIX INVOCATIONS
      every report PREFIX.PID, named by its invocation (INVOCATIONS: lines of
      "PID ARGUMENTS..."); a result line per report, or one that found none

binary, control and scan print result lines (STATUS<TAB>NAME<TAB>REASON) for
tests/lib.sh's run_checker.
"""

import glob
import os
import re
import shlex
import subprocess
import sys

# Not one of hmmtrace's exit statuses (0 to 11), so that a report can never
# pass as a documented exit.
SANITIZER_EXIT = 99
REPORT = re.compile(r"ERROR: AddressSanitizer|runtime error:|LeakSanitizer")
# LeakSanitizer comes with AddressSanitizer (detect_leaks); it stops the
# process's threads with ptrace, so it works as root (the lab) and where
# ptrace is allowed.
ASAN_OPTIONS = f"detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode={SANITIZER_EXIT}"
UBSAN_OPTIONS = f"print_stacktrace=1:halt_on_error=1:exitcode={SANITIZER_EXIT}"


def options(log_path=None):
    suffix = f":log_path={log_path}" if log_path else ""
    return {"ASAN_OPTIONS": ASAN_OPTIONS + suffix, "UBSAN_OPTIONS": UBSAN_OPTIONS + suffix}


def environment(log_path=None):
    return dict(os.environ, **options(log_path))


def is_report(text, status):
    return bool(REPORT.search(text)) or status == SANITIZER_EXIT


def binary(program):
    """PROGRAM is instrumented by both sanitizers, and ASan's runtime runs in it."""
    results = []
    try:
        symbols = subprocess.run(["readelf", "--dyn-syms", "-W", program], capture_output=True,
                                 text=True, errors="replace").stdout
    except OSError as error:
        symbols = ""
        results.append(("FAIL", "binary.readelf", str(error)))
    for name, prefix in (("asan-instrumented", "__asan_report_"),
                         ("ubsan-instrumented", "__ubsan_handle_")):
        count = symbols.count(prefix)
        results.append(("PASS" if count else "FAIL", f"binary.{name}",
                        f"{count} {prefix}* symbols" if count else
                        f"{program} calls no {prefix}*: not built with SANITIZE=1"))
    try:
        run = subprocess.run([program, "--help"], env=dict(os.environ, ASAN_OPTIONS="help=1"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        said = run.stderr.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired) as error:
        said = str(error)
    live = "Available flags for AddressSanitizer" in said
    results.append(("PASS" if live else "FAIL", "binary.asan-runtime-runs",
                    "" if live else f"ASAN_OPTIONS=help=1 got no flag list: {said.strip()[:200]}"))
    return results


def control(program):
    """Each kind of error reported and caught; the clean run not."""
    results = []
    for what, wanted in (("leak", "LeakSanitizer"), ("overflow", "ERROR: AddressSanitizer"),
                         ("undefined", "runtime error:"), ("clean", None)):
        try:
            run = subprocess.run([program, what], env=environment(), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            results.append(("FAIL", f"control.{what}", f"{program} did not run: {error}"))
            continue
        stderr = run.stderr.decode("utf-8", "replace")
        if wanted is None:
            held = run.returncode == 0 and not is_report(stderr, run.returncode)
            detail = f"exit {run.returncode}: {stderr.strip()[-200:]}"
        else:
            held = wanted in stderr and run.returncode == SANITIZER_EXIT
            detail = (f"exit {run.returncode} (wanted {SANITIZER_EXIT}) and "
                      f"{'a' if wanted in stderr else 'no'} '{wanted}' report: {stderr.strip()[:200]}")
        results.append(("PASS" if held else "FAIL", f"control.{what}", "" if held else detail))
    return results


def scan(prefix, invocations_path):
    """Every report file PREFIX.PID, named by the invocation whose pid it is."""
    invocations = {}
    try:
        for line in open(invocations_path, errors="replace"):
            pid, _, arguments = line.rstrip("\n").partition(" ")
            invocations[pid] = arguments
    except OSError:
        pass
    results = [("PASS" if invocations else "FAIL", "invocations",
                f"{len(invocations)} invocations" if invocations else
                f"no invocation was recorded in {invocations_path}")]
    reports = 0
    for path in sorted(glob.glob(glob.escape(prefix) + ".*")):
        text = open(path, errors="replace").read()
        pid = path.rsplit(".", 1)[1]
        first = next((line for line in text.splitlines() if REPORT.search(line)),
                     text.strip().splitlines()[0] if text.strip() else "an empty report")
        reports += 1
        results.append(("FAIL", f"report.{pid}",
                        f"hmmtrace {invocations.get(pid, '(pid not recorded)')}: {first.strip()[:300]}"
                        f" ({path})"))
    if not reports:
        results.append(("PASS", "no-report", f"no report from {len(invocations)} invocations"))
    return results


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "environment":
        log_path = sys.argv[3] if len(sys.argv) == 4 and sys.argv[2] == "--log-path" else None
        for name, value in options(log_path).items():
            print(f"export {name}={shlex.quote(value)}")
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "binary":
        results = binary(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "control":
        results = control(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "scan":
        results = scan(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for status, name, reason in results:
        print(f"{status}\t{name}\t{reason}".replace("\n", " "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
