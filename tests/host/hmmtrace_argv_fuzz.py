#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A bounded, seeded fuzzer of hmmtrace's command line.

Each invocation is a random subcommand (or a bogus one, or none) with
random options from hmmtrace --help and random values: valid ones, and
negative, huge, empty, non-numeric, overlong, unicode, not UTF-8 at all,
or missing. Each runs under timeout(1). It must exit with one of the
documented statuses (0 to 11, hmmtrace.8's EXIT STATUS), never by a
signal, never time out, and never print a sanitizer report.

Every invocation starts with `-d 1 -c 1`, which a random option may
override with a bad value but never with a valid one that runs longer, so
that where hmmtrace can attach (the lab, as root) a valid invocation ends
by itself; on a host that cannot attach, valid invocations end with an
attach or privileges status (3 to 6), which is documented too.

The same seed makes the same invocations: the seed is printed, and
--seed replays it (with --only N, a single invocation).

Prints one result a line (STATUS<TAB>NAME<TAB>REASON) for run_checker;
the seed, the invocations that failed and the distribution of exit
statuses go to --log (else stderr).
"""

import argparse
import collections
import os
import random
import re
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sanitizers  # noqa: E402  (tests/sanitizers.py)

DOCUMENTED_EXITS = set(range(12))
USAGE_EXIT = 2
# Past the command line: it traced (0), or could not attach here (3 to 6).
BEYOND_USAGE_EXITS = {0, 3, 4, 5, 6}
SUBCOMMANDS = ["top", "latency", "retries", "snoop", "causes", "export"]


class Generator:
    """Invocations from one seed; WORK is a directory for the file options."""

    def __init__(self, seed, work):
        self.random = random.Random(seed)
        self.work = work

    def pick(self, choices):
        return self.random.choice(choices)

    def bad_value(self):
        r = self.random
        return self.pick([
            "", " ", "-1", "-0", "0", "-2147483649", "2147483648", "9223372036854775808",
            "18446744073709551616", "1e309", "-1e309", "inf", "nan", "-nan", "0x10", "1.5.5",
            "abc", "1abc", "１２", "日本語", "é", "\u202e1", "🦀", "\t", "%s%n%s", "../..",
            "9" * r.randint(20, 400), "A" * r.randint(300, 5000), "-", "--", "=",
            # Not UTF-8: surrogateescape gives subprocess these bytes back.
            b"\xff\xfe\x80".decode("utf-8", "surrogateescape"),
        ])

    def path_value(self):
        return self.pick([
            os.path.join(self.work, "out-%d" % self.random.randint(0, 9)),
            os.path.join(self.work, "no-such-directory", "file"),
            "/proc/version", "/", "/dev/null", "/nonexistent",
            os.path.join(self.work, "x" * self.random.choice([200, 255, 256, 4000])),
            self.work + "/" + "d/" * 2100 + "f",
        ])

    def valid_value(self, option):
        r = self.random
        values = {
            "-b": ["driver", "process", "range"], "--by": ["driver", "process", "range"],
            # Never longer than the -d 1 every invocation starts with.
            "-i": ["0.2", "0.5", "1", "3600", "86400"],
            "--interval": ["0.2", "1", "1e-3"],
            "-c": ["1", "2", "1000000000"], "--count": ["1", "3"],
            "-d": ["0.3", "0.5", "1", "1e-3"], "--duration": ["0.5", "1"],
            "-p": ["1", str(4000000)], "--pid": ["1"],
            "-D": ["sim_mirror", "test_hmm", "amdgpu gfx", "mirror_invalidate", "nosuch"],
            "--driver": ["sim_mirror", "mlx5 odp"],
            "-s": ["invalidations", "p99", "waits", "retries", "ratio", "ebusy", "inserts",
                   "removes", "group"],
            "--sort": ["ratio", "group"],
            "-e": ["invalidate", "insert,remove", "invalidate,read_retry,hmm_range_fault",
                   "mmu_interval_notifier_invalidate", "read_begin,check_retry"],
            "--events": ["invalidate_range_start,invalidate_range_end"],
            "--livelock-ms": ["1", "100", "3600000"],
            "--listen": ["127.0.0.1:%d" % r.randint(20000, 60000), "[::1]:%d" % r.randint(20000, 60000),
                         ":%d" % r.randint(20000, 60000), "256.1.1.1:80", "localhost:1"],
            "--textfile": [os.path.join(self.work, "metrics.prom")],
            "--max-series": ["1", "200", "100000"],
            "--top": ["1", "10", "100000"],
            "--refault-ms": ["1", "10", "3600000"],
            "--stacks": ["1", "5", "1000"],
            "--folded": [os.path.join(self.work, "causes.folded")],
            "--html": [os.path.join(self.work, "causes.html")],
            "--weight": ["invalidations", "time"],
            "--retry-gap-ms": ["1", "10", "60000"],
            "--mode": ["tp_btf", "raw_tp", "fentry", "kprobe"],
            "--btf": ["/sys/kernel/btf/vmlinux"],
        }
        return self.pick(values[option])

    def option_with_value(self, option):
        """One option and its value, as one or two arguments, or none (missing)."""
        r = self.random.random()
        if r < 0.45:
            value = self.valid_value(option)
        elif r < 0.55 and option in ("--textfile", "--folded", "--html", "--btf"):
            value = self.path_value()
        elif r < 0.93:
            value = self.bad_value()
        else:
            return [option]     # its value missing, or the next argument taken as it
        if option.startswith("--") and self.random.random() < 0.3:
            return [f"{option}={value}"]
        if not option.startswith("--") and self.random.random() < 0.2:
            return [option + value]
        return [option, value]

    VALUE_OPTIONS = ["-b", "--by", "-i", "--interval", "-c", "--count", "-d", "--duration",
                     "-p", "--pid", "-D", "--driver", "-s", "--sort", "-e", "--events",
                     "--livelock-ms", "--listen", "--textfile", "--max-series", "--top",
                     "--refault-ms", "--stacks", "--folded", "--html", "--weight",
                     "--retry-gap-ms", "--mode", "--btf"]
    FLAGS = ["-j", "--json", "-v", "--verbose", "--no-stacks"]
    # What each subcommand takes beyond the common ones, so that many
    # invocations are valid and go past the command line.
    OWN = {
        "top": ["-s", "--sort", "-b", "-p", "-D", "--retry-gap-ms"],
        "latency": ["-b", "-p", "-D"],
        "retries": ["--livelock-ms", "--top", "-p", "-D"],
        "snoop": ["-e", "--events", "-D"],
        "causes": ["--stacks", "--no-stacks", "--folded", "--html", "--weight", "--refault-ms"],
        "export": ["--listen", "--textfile", "--max-series", "--livelock-ms", "--refault-ms"],
    }
    COMMON = ["-i", "-d", "-c", "--mode", "-j", "-v", "--btf"]
    ODD = ["-h", "--help", "--version", "--frobnicate", "-x", "-", "--", "---by", "--by",
           "-jv", "-vj", "--dur", "--json=1", "--no-stacks=yes", "-" + "v" * 300,
           "--" + "x" * 300, "top", "bogus"]

    def invocation(self):
        r = self.random
        kind = r.random()
        if kind < 0.80:
            subcommand = [self.pick(SUBCOMMANDS)]
        elif kind < 0.90:
            subcommand = [self.pick(["bogus", "TOP", "to", "", "snoop2", "日本", "x" * 1000])]
        else:
            subcommand = []
        own = self.OWN[subcommand[0]] if subcommand and subcommand[0] in self.OWN else []
        options = []
        for _ in range(r.choice([0, 1, 1, 2, 2, 3, 4, 6])):
            which = r.random()
            if which < 0.55 and (own or self.COMMON):
                option = self.pick(own + self.COMMON)
            elif which < 0.90:
                option = self.pick(self.VALUE_OPTIONS + self.FLAGS)
            else:
                options.append(self.pick(self.ODD))
                continue
            if option in self.FLAGS:
                options.append(option)
            else:
                options.extend(self.option_with_value(option))
        # The bound first, so a random option may break it but a valid one
        # never lengthens it. export refuses --count, and causes' or
        # export's flags may make it take none: the bound is -d alone there.
        bound = ["-d", "1"]
        if subcommand and subcommand[0] not in ("export",) and r.random() < 0.5:
            bound += ["-c", "1"]
        arguments = bound + options
        # The subcommand anywhere: argp takes it wherever it is.
        position = r.randint(0, len(arguments)) if r.random() < 0.3 else 0
        return arguments[:position] + subcommand + arguments[position:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=120,
                        help="stop starting invocations after this long")
    parser.add_argument("--timeout", type=float, default=30, help="per invocation")
    parser.add_argument("--only", type=int, default=None, help="replay invocation N alone")
    parser.add_argument("--work", default=None, help="a directory for the file options")
    parser.add_argument("--log", default=None)
    arguments = parser.parse_args()

    seed = arguments.seed if arguments.seed is not None else random.SystemRandom().randrange(2 ** 32)
    work = arguments.work or os.path.join(os.getcwd(), "build", "argv-fuzz")
    os.makedirs(work, exist_ok=True)
    log = open(arguments.log, "w") if arguments.log else sys.stderr
    generator = Generator(seed, work)
    environment = sanitizers.environment()
    # The invocations run in WORK, where their relative paths land.
    binary = os.path.abspath(arguments.binary)
    logged = 0
    replay = f"{shlex.quote(sys.argv[0])} {shlex.quote(arguments.binary)} --seed {seed}"
    print(f"argv-fuzz: seed {seed} (replay: {replay})", file=log, flush=True)

    statuses = collections.Counter()
    failures = {"documented": [], "signal": [], "timeout": [], "sanitizer": []}
    started = time.monotonic()
    ran = 0
    for index in range(arguments.runs):
        argv = generator.invocation()
        if arguments.only is not None and index != arguments.only:
            continue
        if time.monotonic() - started > arguments.seconds:
            break
        command = ["timeout", "-k", "5", str(arguments.timeout), binary] + argv
        try:
            result = subprocess.run(command, env=environment,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, cwd=work)
        except OSError as error:
            # The kernel refuses arguments past ARG_MAX: not hmmtrace's to answer.
            print(f"argv-fuzz: #{index} not run ({error}): "
                  f"{shlex.join(argv)[:200]}", file=log)
            continue
        ran += 1
        status = result.returncode
        stderr = result.stderr.decode("utf-8", "replace")
        # timeout(1) exits 124 when it stopped the command (137 after -k's KILL);
        # a command killed by a signal kills timeout with it (negative here).
        label = f"signal {-status}" if status < 0 else str(status)
        statuses[label] += 1
        shown = f"#{index}: hmmtrace {shlex.join(argv)[:300]} -> {label}: {stderr.strip()[-300:]}"
        reported = sanitizers.is_report(stderr, status)
        if reported:
            failures["sanitizer"].append(shown)
        elif status < 0:
            failures["signal"].append(shown)
        elif status in (124, 137):
            failures["timeout"].append(shown)
        elif status not in DOCUMENTED_EXITS:
            failures["documented"].append(shown)
        if (status not in DOCUMENTED_EXITS or reported) and logged < 20:
            logged += 1
            print(f"argv-fuzz: FAILED {shown}\n  replay: {replay} --only {index}\n"
                  f"  stderr: {stderr[-2000:]}", file=log)
    elapsed = time.monotonic() - started
    distribution = ", ".join(f"{label}: {count}" for label, count in
                             sorted(statuses.items(), key=lambda item: (len(item[0]), item[0])))
    print(f"argv-fuzz: seed {seed}: {ran} invocations in {elapsed:.0f} s; exit statuses "
          f"{distribution or 'none'}", file=log, flush=True)

    def result(status, name, reason=""):
        print(f"{status}\t{name}\t{reason}".replace("\n", " "))

    result("PASS" if ran else "FAIL", "ran", f"{ran} invocations, seed {seed}")
    for name, what in (("documented", "exited with an undocumented status"),
                       ("signal", "were killed by a signal"),
                       ("timeout", "timed out"),
                       ("sanitizer", "made a sanitizer report")):
        found = failures[name]
        key = {"documented": "exits-documented", "signal": "no-signal", "timeout": "no-timeout",
               "sanitizer": "no-sanitizer-report"}[name]
        if not ran:
            result("FAIL", key, "nothing ran")
        elif found:
            result("FAIL", key, f"{len(found)} of {ran} {what} (seed {seed}): {found[0]}")
        else:
            result("PASS", key)
    # The positive controls: the command line was both refused and passed.
    if arguments.only is None:
        usage = statuses.get(str(USAGE_EXIT), 0)
        beyond = sum(statuses.get(str(code), 0) for code in BEYOND_USAGE_EXITS)
        result("PASS" if usage else "FAIL", "saw-usage-errors",
               f"{usage} exited {USAGE_EXIT}" if usage else f"no invocation exited 2: {distribution}")
        result("PASS" if beyond else "FAIL", "saw-invocations-past-usage",
               f"{beyond} exited 0 or 3 to 6" if beyond else f"none went past the command line: "
               f"{distribution}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
