#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace causes against causes we know, in every mode this kernel offers:
# tp_btf and raw_tp with our tracepoints, fentry and kprobe without them.
# While one causes tracer runs, each deterministic sim_mirror scenario runs
# in its own process, and each process's invalidations must be attributed,
# exactly, to the causes its code has:
#
#   storm      madvise(DONTNEED): clear, madvise, zap; then munmap: unmap, munmap, unmap;
#              its refaults: every fault after the first invalidation (--refault-ms 60 s)
#   mprotect   protection_vma, mprotect, protection
#   fork-cow   protection_page, clone, fork; then every COW: clear, page_fault, cow
#   migrate    move_pages(): clear, move_pages, migration
#   exit       the ranges left live: release and 0..~0 unmap, from exit_group, all
#              counted as invalidate-all
#   fault-sweep  faults and no invalidation: no refault (the control of storm's)
#
# Nothing of a scenario's process may be attributed elsewhere: its rows other
# than those sum to zero, next to rows that must not. Then the folded stacks
# and the flame graph of the same run, and causes' bad input.
#
# The kernel's own invalidators (NUMA balancing, khugepaged, KSM, reclaim)
# are tests/lab/test-hmmtrace-causes-kernel.sh's.

. tests/lib.sh

hmmtrace=${HMMTRACE:-build/hmmtrace}
workload=build/tests/sim_mirror_workload
work=$(mktemp -d)
. tests/lab/hmmtrace_tracers.sh

if [ ! -x "$hmmtrace" ]; then
	fail causes "$hmmtrace is not built (make hmmtrace)"
	exit 0
fi
if [ -d /sys/kernel/tracing/events/mmu_notifier ]; then
	modes=(tp_btf raw_tp)
else
	modes=(fentry kprobe)
fi
insmod "build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko" 2>/dev/null

iterations=3

# run_scenarios MODE: each scenario in its own process, its truth and pid kept.
run_scenarios() {
	local mode=$1 scenario
	for scenario in storm mprotect fork-cow migrate fault-sweep; do
		"$workload" "$scenario" --iterations "$iterations" --json \
			>"$work/$mode.$scenario.truth" 2>&1 &
		echo $! >"$work/$mode.$scenario.pid"
		wait $! || fail "causes.$mode.$scenario.workload" "$(tail -c 300 "$work/$mode.$scenario.truth")"
	done
}

for mode in "${modes[@]}"; do
	html_option=()
	[ "$mode" = "${modes[0]}" ] && html_option=(--html "$work/$mode.html")
	start_tracer "$mode" causes --mode "$mode" -i 1000 --refault-ms 60000 --stacks 3 \
		--folded "$work/$mode.folded" "${html_option[@]}" || continue
	run_scenarios "$mode"
	stop_tracer "$mode"
	run_checker "causes.$mode" python3 - "$work" "$mode" "$iterations" \
		"$([ ${#html_option[@]} -gt 0 ] && echo yes || echo no)" <<'PYTHON'
import json, os, sys

work, mode, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
exact = mode in ("tp_btf", "raw_tp")
CONTEXT = "sim_mirror_work"	# the workload's comm, as the kernel cuts it


def check(name, held, detail=""):
    print(f"{'PASS' if held else 'FAIL'}\t{name}\t{'' if held else detail}")


objects = [json.loads(line) for line in open(f"{work}/{mode}.json") if line.strip()]
check("objects", objects and all(o.get("subcommand") == "causes" and "causes" in o
                                 for o in objects), f"{len(objects)} objects")
rows = [row for o in objects for row in o.get("causes", [])]
check("rows", len(rows) > 0, "no rows")
check("mode", all(o.get("mode") == mode for o in objects), "another mode")
check("nothing-lost", all(o.get("causes_lost") == 0 and o.get("stacks_lost") == 0
                          for o in objects), "causes or stacks lost")


def truth(scenario, counter):
    return json.load(open(f"{work}/{mode}.{scenario}.truth"))["counters"][counter]


def pid(scenario):
    return int(open(f"{work}/{mode}.{scenario}.pid").read())


# (event, entry, path) -> the sums of one process's sim_mirror rows.
def causes_of(scenario):
    sums = {}
    for row in rows:
        if row.get("pid") != pid(scenario) or row.get("driver") != "sim_mirror":
            continue
        if row.get("context") != CONTEXT or row.get("context_kind") != "process":
            check(f"{scenario}.context", False, f"{row.get('context')} {row.get('context_kind')}")
        key = (row["event"], row["entry"], row["path"])
        total = sums.setdefault(key, {})
        for field in ("invalidations", "pages", "invalidate_all", "refaults", "callback_ns"):
            total[field] = total.get(field, 0) + row[field]
    return sums


def expect(scenario, wanted):
    """wanted: (event, entry, path) -> {field: value}; the rest of the process's rows sum to 0."""
    found = causes_of(scenario)
    for key, fields in wanted.items():
        have = found.get(key, {})
        for field, value in fields.items():
            got = have.get(field)
            if isinstance(value, tuple):
                held = got is not None and value[0] <= got <= value[1]
            else:
                held = got == value
            check(f"{scenario}.{'/'.join(key)}.{field}", held, f"{got}, want {value}")
        check(f"{scenario}.{'/'.join(key)}.callback_ns", have.get("callback_ns", 0) > 0,
              "no callback time")
    elsewhere = {key: fields["invalidations"] for key, fields in found.items()
                 if key not in wanted and fields["invalidations"]}
    check(f"{scenario}.nothing-elsewhere", not elsewhere and found, f"{elsewhere}")


ranges = json.load(open(f"{work}/{mode}.storm.truth"))["ranges"]
pages = json.load(open(f"{work}/{mode}.storm.truth"))["pages"]
# Each scenario exits with its ranges still subscribed (storm's unmapped):
# exit_mmap() releases them, then unmaps 0..~0, which covers each whole.
exit_causes = {("release", "exit_group", "release"): {"invalidations": ranges, "invalidate_all": ranges},
               ("unmap", "exit_group", "unmap"): {"invalidations": ranges, "invalidate_all": ranges,
                                                  "pages": ranges * pages}}
faults = truth("storm", "faults")
# Every fault but the first sweep's follows an invalidation of its range.
refaults = faults * iterations // (iterations + 1)
expect("storm", {
    ("clear", "madvise", "zap"): {"invalidations": ranges * iterations, "pages": ranges * pages * iterations,
                                  "refaults": refaults if exact else (1, refaults)},
    ("unmap", "munmap", "unmap"): {"invalidations": ranges, "pages": ranges * pages, "refaults": 0},
    **exit_causes,
})
check("storm.truth-total", ranges * (iterations + 1) == truth("storm", "invalidations"),
      "the storm's own count disagrees with its design")
expect("mprotect", {("protection_vma", "mprotect", "protection"):
                    {"invalidations": truth("mprotect", "invalidations")}, **exit_causes})
expect("fork-cow", {("protection_page", "clone", "fork"): {"invalidations": ranges},
                    ("clear", "page_fault", "cow"): {"invalidations": truth("fork-cow", "invalidations") - ranges,
                                                    "pages": ranges * pages}, **exit_causes})
expect("migrate", {("clear", "move_pages", "migration"):
                   {"invalidations": truth("migrate", "invalidations")}, **exit_causes})
# Its only invalidations are its exit's; the control of storm's refaults.
expect("fault-sweep", {key: dict(fields, refaults=0) for key, fields in exit_causes.items()})
check("fault-sweep.faulted", truth("fault-sweep", "faults") > 0, "no faults")

# The folded stacks: the storm's madvise stacks, with its count, under the workload's comm.
folded = [line.strip().rsplit(" ", 1) for line in open(f"{work}/{mode}.folded") if line.strip()]
check("folded.lines", folded and all(count.isdigit() for _, count in folded), f"{len(folded)} lines")
madvise = sum(int(count) for stack, count in folded
              if stack.startswith(CONTEXT + ";") and ";do_madvise;" in stack and
              ";zap_page_range_single;" in stack)
wanted = sum(causes_of(s).get(("clear", "madvise", "zap"), {}).get("invalidations", 0)
             for s in ("storm",))
check("folded.madvise", madvise >= wanted > 0, f"{madvise} madvise stacks, {wanted} madvise invalidations")
check("folded.ends-in-callback", all(stack.rsplit(";", 1)[-1] for stack, _ in folded) and
      any(stack.endswith(";mirror_invalidate") for stack, _ in folded), "no mirror_invalidate leaf")
stacks = [s for o in objects for s in o.get("stacks", [])]
check("stacks-shown", any(s.get("driver") == "sim_mirror" and s.get("frames") for s in stacks),
      f"{len(stacks)} stacks")
html = f"{work}/{mode}.html"
# The first mode writes the page (--html); the others do not.
check("html.written", os.path.exists(html) == (sys.argv[4] == "yes"), f"{html}")
if os.path.exists(html):
    page = open(html).read()
    # Drawn in a browser by tests/host/test-flamegraph-html.sh; here: the data and no loads.
    check("html.self-contained", 'id="flamegraph-data"' in page and "<script src" not in page
          and "<link" not in page and "do_madvise" in page, f"{len(page)} bytes")
PYTHON
	if [ -f "$work/$mode.html" ] && [ -n "${HMMTRACE_CAUSES_EVIDENCE:-}" ]; then
		mkdir -p "$HMMTRACE_CAUSES_EVIDENCE"
		cp "$work/$mode.html" "$work/$mode.folded" "$work/$mode.json" "$HMMTRACE_CAUSES_EVIDENCE/"
	fi
done

# --no-stacks: the syscall still names the entry, the path is unknown.
if start_tracer no-stacks causes --no-stacks -i 1000; then
	"$workload" mprotect --iterations 1 --json >"$work/no-stacks.truth" 2>&1 ||
		fail causes.no-stacks.workload "$(tail -c 300 "$work/no-stacks.truth")"
	stop_tracer no-stacks
	run_checker causes.no-stacks python3 - "$work/no-stacks.json" "$work/no-stacks.truth" <<'PYTHON'
import json, sys
objects = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
truth = json.load(open(sys.argv[2]))["counters"]["invalidations"]
rows = [r for o in objects for r in o["causes"] if r["driver"] == "sim_mirror"]
mprotect = sum(r["invalidations"] for r in rows if r["entry"] == "mprotect" and r["path"] == "unknown")
print(f"{'PASS' if mprotect == truth else 'FAIL'}\tmprotect-without-stack\t{mprotect}, want {truth}")
taken = [o["stacks_taken"] for o in objects]
print(f"{'PASS' if taken and not any(taken) else 'FAIL'}\tsays-no-stacks\t{taken}")
PYTHON
fi

# Bad input: one line, the documented code; nothing attached first.
expect_causes_exit() {
	expect_exit_of causes.exit "$@"
}
expect_causes_exit by 2 "--by is not for it" "$hmmtrace" causes --by process
expect_causes_exit stacks-elsewhere 2 "causes' options" "$hmmtrace" top --stacks 3
expect_causes_exit no-stacks-folded 2 "not with --no-stacks" "$hmmtrace" causes --no-stacks --folded x
expect_causes_exit bad-weight 2 "--weight takes" "$hmmtrace" causes --weight pages
expect_causes_exit unwritable 10 "cannot write /nonexistent/causes.folded" \
	"$hmmtrace" causes --folded /nonexistent/causes.folded
# A binary with no assets beside it, or installed above it: --html says so.
mkdir -p "$work/alone/sbin"
cp "$hmmtrace" "$work/alone/sbin/hmmtrace"
expect_causes_exit no-assets 11 "make flamegraph-assets" \
	env -u HMMTRACE_FLAMEGRAPH_ASSETS "$work/alone/sbin/hmmtrace" causes --html "$work/x.html"
check causes.no-assets-wrote-nothing test ! -e "$work/x.html"
rmmod sim_mirror
