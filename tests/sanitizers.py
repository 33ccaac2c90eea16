#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""How the tests run the sanitized hmmtrace (make hmmtrace SANITIZE=1) and
tell a sanitizer's report: the one definition that the argv fuzzer
(tests/host/hmmtrace_argv_fuzz.py) and the lab's sanitized run
(tests/lab/test-hmmtrace-sanitized.sh) share. Reports go to stderr: ASan
would write them to log_path, but gcc 12's UBSan does not.

  sanitizers.py environment
      the ASAN_OPTIONS and UBSAN_OPTIONS lines to export
  sanitizers.py binary PROGRAM
      that PROGRAM itself is sanitized: calls into ASan's and UBSan's report
      handlers, and ASan's runtime answers ASAN_OPTIONS=help=1 when it runs
  sanitizers.py control PROGRAM
      the positive control: PROGRAM (build/sanitize/sanitizer-control) makes
      a leak, a heap overflow and a signed overflow, each of which must be
      reported, found by the scan's own test, and exit SANITIZER_EXIT; and a
      clean run, which must not
  sanitizers.py scan DIRECTORY
      every file in DIRECTORY (stderr logs, *.err), each named by its
      invocation (the file's name): a result line per report, or one that
      found none; no stderr log at all fails

binary, control and scan print result lines (STATUS<TAB>NAME<TAB>REASON)
for tests/lib.sh's run_checker.
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


def options():
    return {"ASAN_OPTIONS": ASAN_OPTIONS, "UBSAN_OPTIONS": UBSAN_OPTIONS}


def environment():
    return dict(os.environ, **options())


def first_report(text):
    """The first line of a sanitizer's report in TEXT, or None."""
    return next((line.strip() for line in text.splitlines() if REPORT.search(line)), None)


def is_report(text, status):
    return first_report(text) is not None or status == SANITIZER_EXIT


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
            found = first_report(stderr)
            held = found is not None and wanted in found and run.returncode == SANITIZER_EXIT
            detail = (f"exit {run.returncode} (wanted {SANITIZER_EXIT}), the report found: "
                      f"{found}, wanted '{wanted}': {stderr.strip()[:200]}")
        results.append(("PASS" if held else "FAIL", f"control.{what}", "" if held else detail))
    return results


def scan(directory):
    """Every file in DIRECTORY (the stderr logs, *.err, and what went with
    stdout into one), named by its file; no stderr log at all fails."""
    paths = sorted(path for path in glob.glob(os.path.join(glob.escape(directory), "*"))
                   if os.path.isfile(path))
    logs = sum(path.endswith(".err") for path in paths)
    results = [("PASS" if logs else "FAIL", "stderr-logs",
                f"{logs} stderr logs" if logs else f"no stderr log (*.err) in {directory}")]
    reports = 0
    for path in paths:
        found = first_report(open(path, errors="replace").read())
        if found is None:
            continue
        reports += 1
        name = os.path.basename(path).removesuffix(".err")
        results.append(("FAIL", f"report.{name}", f"{found[:300]} ({path})"))
    if logs and not reports:
        results.append(("PASS", "no-report", f"no report in {len(paths)} files, {logs} of them stderr logs"))
    return results


def main():
    if sys.argv[1:] == ["environment"]:
        for name, value in options().items():
            print(f"export {name}={shlex.quote(value)}")
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "binary":
        results = binary(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "control":
        results = control(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "scan":
        results = scan(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for status, name, reason in results:
        print(f"{status}\t{name}\t{reason}".replace("\n", " "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
