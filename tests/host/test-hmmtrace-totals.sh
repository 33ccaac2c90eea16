#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The lab's checks of hmmtrace cannot pass on nothing. Each kind of check
# that tests/lab/test-hmmtrace.sh makes through tests/lab/hmmtrace_totals.py
# (exact counts, expected zeros, "=key" equalities, bounds made of the same
# run's numbers, livelocks, drops) must FAIL on a run that printed nothing,
# on one that printed something else, and on one that never printed the key,
# and must PASS on a good run. A checker that crashes must fail (run_checker),
# and the link-leak check must fail when bpftool does.

. tests/lib.sh

work=$(mktemp -d)

run_checker hmmtrace-totals python3 - tests/lab/hmmtrace_totals.py "$work" <<'EOF'
import json, os, subprocess, sys

totals, work = sys.argv[1], sys.argv[2]
ENVELOPE = {"mode": "tp_btf", "fault_state": "task", "inferred": [], "unavailable": [], "interval_s": 1.0}


def interval(subcommand, time, **fields):
    return dict(time=time, subcommand=subcommand, **ENVELOPE, **fields)


def top_row(driver="sim_mirror", **counts):
    row = {"group": "mirror_invalidate [sim_mirror]", "driver": driver, "inserts": 0,
           "removes": 0, "invalidations": 0, "read_begins": 0, "read_retries": 0,
           "range_fault_ebusy": 0, "faults_completed": 0, "retry_ratio": None, "storm": False}
    row.update(counts)
    return row


def histogram(count):
    return {"count": count, "histogram": [[1024, 2047, count]] if count else []}


def event(name, driver="sim_mirror"):
    return {"timestamp_ns": 1, "event": name, "mode": "tp_btf", "pid": 1, "tid": 1,
            "comm": "w", "driver": driver, "callback": "mirror_invalidate [sim_mirror]"}


LIVELOCK = {"time": 2, "subcommand": "retries", "mode": "tp_btf",
            "livelock": {"pid": 1, "tid": 2, "comm": "kworker", "driver": "sim_mirror",
                         "retries": 9, "duration_ns": 200000000}}

# What each subcommand checks in tests/lab/test-hmmtrace.sh, and a good run.
CHECKS = {
    "top": ({"inserts": 4, "removes": "=inserts", "range_fault_ebusy": 0,
             "read_retries": [2, 12], "faults_completed": ["=20-read_retries", 20]},
            [interval("top", 1, by="driver", rows=[top_row(inserts=4, read_retries=3,
                                                            faults_completed=18)]),
             interval("top", 2, by="driver", rows=[top_row(removes=4, faults_completed=1)])]),
    # The other-pid and other-driver checks: no row of DRIVER in parsed intervals.
    "top-zero": ({"rows": 0},
                 [interval("top", 1, by="driver", rows=[]),
                  interval("top", 2, by="driver", rows=[top_row("test_hmm", inserts=1)])]),
    "latency": ({"invalidate.count": 3, "invalidate.histogram_total": 3,
                 "fault_to_mapped.count": [5, 7],
                 "fault_to_mapped.histogram_total": "=fault_to_mapped.count",
                 "read_begin_wait.histogram_total": "=read_begin_wait.count",
                 "ranges.count": [1, 1000000], "ranges.histogram_total": "=ranges.count"},
                [interval("latency", 1, unit="ns",
                          ranges=[{"event": "unmap", "count": 2, "total_ns": 9,
                                   "histogram": [[1, 1, 2]]}],
                          rows=[{"group": "g", "driver": "sim_mirror", "invalidate": histogram(3),
                                 "read_begin_wait": histogram(0),
                                 "fault_to_mapped": histogram(6)}])]),
    "retries": ({"livelocks": 0, "livelocks_reported": 0,
                 "faults_completed": ["=10-read_retries", 10],
                 "retries_per_fault.histogram_total": "=faults_completed"},
                [interval("retries", 1, livelocks=0,
                          rows=[{"group": "g", "driver": "sim_mirror", "faults_completed": 9,
                                 "read_retries": 2, "range_fault_ebusy": 0,
                                 "retries_per_fault": [[0, 0, 8], [1, 1, 1]]}],
                          top_pairs=[], longest_streaks=[])]),
    # The livelock scenario: the positive control of "livelocks": 0.
    "retries-livelock": ({"livelocks": [1, 1000], "livelocks_reported": "=livelocks"},
                         [LIVELOCK, interval("retries", 3, livelocks=1, rows=[],
                                             top_pairs=[], longest_streaks=[])]),
    "snoop": ({"dropped_total": 0, "interval.dropped": 0, "events": "=interval.events",
               "events.mmu_interval_notifier_insert": 2,
               "events.mmu_interval_read_begin": 1},
              [event("mmu_interval_notifier_insert"), event("mmu_interval_notifier_insert"),
               event("mmu_interval_read_begin"),
               interval("snoop", 1, events=3, dropped=0, dropped_total=0)]),
}

# Runs that never printed what a check needs, each (label, kind, objects, keys
# that must FAIL); every other key of the kind may PASS or FAIL.
ABSENT = [
    ("no-rows-key", "top-zero", [interval("top", 1, by="driver")], ["rows"]),
    ("rows-without-the-keys", "top",
     [interval("top", 1, by="driver", rows=[{"group": "g", "driver": "sim_mirror"}])],
     ["inserts", "removes", "range_fault_ebusy", "read_retries", "faults_completed"]),
    ("no-row-of-the-driver", "top",
     [interval("top", 1, by="driver", rows=[top_row("test_hmm", inserts=4)])],
     ["inserts", "removes", "range_fault_ebusy", "read_retries", "faults_completed"]),
    ("no-histograms-no-ranges", "latency",
     [interval("latency", 1, unit="ns", rows=[{"group": "g", "driver": "sim_mirror"}])],
     list(CHECKS["latency"][0])),
    ("no-livelocks-key", "retries",
     [interval("retries", 1, rows=[{"group": "g", "driver": "sim_mirror"}])],
     list(CHECKS["retries"][0])),
    ("no-livelock-counts", "retries-livelock",
     [LIVELOCK, interval("retries", 3, rows=[])], ["livelocks_reported"]),
    ("no-drop-counts-no-events", "snoop", [interval("snoop", 1)], list(CHECKS["snoop"][0])),
    # The stock-kernel lower bound is made of the run's read_retries: without them it fails.
    ("bound-without-read_retries", "top",
     [interval("top", 1, by="driver", rows=[{"group": "g", "driver": "sim_mirror",
                                             "faults_completed": 20}])],
     ["faults_completed"]),
]

# Runs that printed the keys with the wrong numbers: the checks compare for real.
WRONG = [
    ("completions-below-the-bound", "top",
     [interval("top", 1, by="driver", rows=[top_row(inserts=4, removes=4, read_retries=3,
                                                    faults_completed=16)])],
     ["faults_completed"]),
    ("a-row-of-the-driver", "top-zero",
     [interval("top", 1, by="driver", rows=[top_row(inserts=1)])], ["rows"]),
    ("a-livelock", "retries",
     [LIVELOCK, interval("retries", 3, livelocks=1, rows=CHECKS["retries"][1][0]["rows"])],
     ["livelocks", "livelocks_reported"]),
    ("a-drop", "snoop", CHECKS["snoop"][1][:3] + [interval("snoop", 1, events=3, dropped=1,
                                                           dropped_total=1)],
     ["dropped_total", "interval.dropped"]),
    ("an-event-not-counted", "snoop", CHECKS["snoop"][1][:3] + [interval("snoop", 1, events=2,
                                                                        dropped=0, dropped_total=0)],
     ["events"]),
]

file_index = 0


def write(objects=None, text=None):
    global file_index
    file_index += 1
    path = os.path.join(work, f"run{file_index}.json")
    with open(path, "w") as output:
        output.write(text if text is not None else
                     "".join(json.dumps(obj) + "\n" for obj in objects))
    return path


def verdicts(path, kind, expected=None):
    subcommand = kind.split("-")[0]
    run = subprocess.run([sys.executable, totals, path, subcommand, "sim_mirror",
                          json.dumps(expected or CHECKS[kind][0])],
                         capture_output=True, text=True)
    if run.returncode:
        return None, f"exited {run.returncode}: {run.stderr.strip()[-200:]}"
    lines = [line.split("\t") for line in run.stdout.splitlines()]
    return {name: status for status, name, _ in lines}, run.stdout


def expect(name, held, detail):
    detail = "" if held else " | ".join(detail.replace("\t", " ").splitlines())
    print(f"{'PASS' if held else 'FAIL'}\t{name}\t{detail}")


for kind, (checks, objects) in CHECKS.items():
    want_keys = ["parsed"] + list(checks)
    for label, path in (("empty", write(text="")),
                        ("not-json", write(text="hmmtrace: no attach point\n")),
                        ("no-interval", write([o for o in objects if "rows" not in o
                                               and o.get("subcommand") != "snoop"] or
                                              [event("mmu_interval_read_begin")])),
                        ("another-subcommand", write([interval("latency" if kind != "latency"
                                                               else "top", 1, rows=[])]))):
        got, output = verdicts(path, kind)
        expect(f"{kind}.{label}.every-check-fails",
               got is not None and list(got) == want_keys and
               all(status == "FAIL" for status in got.values()), output)
    got, output = verdicts(write(objects), kind)
    expect(f"{kind}.good-run-passes",
           got is not None and list(got) == want_keys and
           all(status == "PASS" for status in got.values()), output)

for label, kind, objects, failing in ABSENT + WRONG:
    got, output = verdicts(write(objects), kind)
    expect(f"{kind}.{label}.fails", got is not None and
           all(got.get(key) == "FAIL" for key in failing), output)

# A typo in a key or an expression is never reported, so it fails too.
good_top = write(CHECKS["top"][1])
got, output = verdicts(good_top, "top", {"insert": 4, "removes": "=insert", "inserts": ["=x", 9]})
expect("top.unknown-keys-fail", got is not None and
       [got.get(key) for key in ("insert", "removes", "inserts")] == ["FAIL"] * 3, output)
got, output = verdicts(write(CHECKS["snoop"][1]), "snoop", {"events.mmu_interval_notifer_insert": 0})
expect("snoop.unknown-event-fails", got is not None and
       got.get("events.mmu_interval_notifer_insert") == "FAIL", output)
for label, arguments in (("bad-expected-json", [good_top, "top", "sim_mirror", "{"]),
                         ("no-such-subcommand", [good_top, "frob", "sim_mirror", '{"a": 1}']),
                         ("no-such-file", [os.path.join(work, "none"), "top", "d", '{"a": 1}'])):
    run = subprocess.run([sys.executable, totals] + arguments, capture_output=True, text=True)
    expect(f"usage.{label}-exits-2", run.returncode == 2 and not run.stdout,
           f"exit {run.returncode}, stdout {run.stdout!r}")
EOF

# run_checker and the link check, recording into a results file of their own.
# inner COMMAND...: run it with lib.sh recording elsewhere; print the
# results it recorded, "STATUS NAME" each, on one line.
inner() {
	(
		HMMTRACE_RESULTS=$work/inner.results
		: >"$HMMTRACE_RESULTS"
		. tests/lib.sh
		"$@" >/dev/null 2>&1
		cut -f1,2 "$HMMTRACE_RESULTS" | tr '\t' ' ' | paste -sd ' '
	)
}
expect_inner() {
	local name=$1 want=$2 have
	shift 2
	have=$(inner "$@")
	if [ "$have" = "$want" ]; then
		pass "$name"
	else
		fail "$name" "recorded '$have', wanted '$want'"
	fi
}
expect_inner run-checker.records-results "PASS c.a FAIL c.b" \
	run_checker c printf 'PASS\ta\t\nFAIL\tb\twhy\n'
expect_inner run-checker.traceback-fails "PASS c.a FAIL c.checker" \
	run_checker c python3 -c 'print("PASS\ta\t"); raise KeyError("crash")'
expect_inner run-checker.silence-fails "FAIL c.checker" run_checker c true
expect_inner run-checker.without-prefix "PASS a FAIL test-hmmtrace-totals.sh.checker" \
	run_checker "" python3 -c 'print("PASS\ta\t"); raise SystemExit(1)'
expect_inner run-checker.other-lines-fail "FAIL c.checker" run_checker c echo 'hmmtrace: 0 intervals'

mkdir "$work/bin"
fake_bpftool() {
	printf '#!/bin/sh\n%s\n' "$1" >"$work/bin/bpftool"
	chmod +x "$work/bin/bpftool"
}
links_with() {
	fake_bpftool "$1"
	PATH=$work/bin:$PATH bpf_links
}
fake_bpftool 'exit 255'
expect_inner links.bpftool-fails "FAIL l" eval 'PATH=$work/bin:$PATH; check_links_released l "$(bpf_links)" "$(bpf_links)" 4 "$(bpf_links)"'
fake_bpftool 'echo "Error: can'"'"'t get next link: Operation not permitted"; exit 0'
expect_inner links.bpftool-prints-no-list "FAIL l" eval 'PATH=$work/bin:$PATH; check_links_released l "$(bpf_links)" "$(bpf_links)" 4 "$(bpf_links)"'
check links.counts-an-empty-list test "$(links_with 'echo "[]"')" = 0
check links.counts-links test "$(links_with 'echo "[{\"id\": 3}, {\"id\": 4}]"')" = 2
expect_inner links.tracers-without-links-fail "FAIL l" check_links_released l 0 3 4 0
expect_inner links.leak-fails "FAIL l" check_links_released l 0 9 4 1
expect_inner links.released-passes "PASS l" check_links_released l 2 30 4 2

rm -rf "$work"
