#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tests/bench/report.py on measurements whose answer is known: the events-off
# ratios in guest instructions and in wall time, and the instructions added.

. tests/lib.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/raw.jsonl" <<'PYTHON'
import json, sys

def microbench(hit, miss, remap, fault):
    rounds = lambda value: [value + 5, value, value, value - 1, value + 1]
    return {"hit_rounds_ns": rounds(hit), "miss_rounds_ns": rounds(miss),
            "remap_rounds_ns": rounds(remap), "fault_rounds_ns": rounds(fault)}

with open(sys.argv[1], "w") as raw:
    for process, scale in ((1, 1.0), (2, 1.1)):
        # Per process: the patched kernel adds 20 instructions to a hit, 10
        # to a miss and nothing to a remap or a fault.
        for kernel, extra in (("patched", 1), ("stock", 0)):
            result = microbench(2000 * scale + 20 * extra, 1000 * scale + 10 * extra,
                                10000 * scale, 5000 * scale)
            print(json.dumps({"stage": "disabled", "kernel": kernel, "clock": "instructions",
                              "process": process, "result": result}), file=raw)
    # The tracers stage: hmmtrace (tp_btf) adds 300 ns a hit, fentry 600,
    # kprobe 1500, so the ratios to tp_btf are 2 and 5; every tracer saw
    # every invalidation (1000 hits, 4 subscriptions).
    for round in (0, 1):
        for tracer, added in (("none", 0), ("hmmtrace", 300), ("hmmtrace-fentry", 600),
                              ("hmmtrace-kprobe", 1500), ("snoop", 900)):
            result = {"hit_ns": 3000 + added, "invalidations": 1000, "subscriptions": 4}
            seen = None if tracer == "none" else {"invalidations": 1008, "events": 3024, "dropped": 0}
            print(json.dumps({"stage": "tracers", "round": round, "tracer": tracer, "seen": seen,
                              "result": result}), file=raw)
    # The exporter: 20 and 40 ticks (of 100) in 2 s idle with 2 scrapes,
    # 50 ticks in a 5 s storm of 1e6 hits with 5 scrapes.
    for round, idle_ticks in ((0, 20), (1, 40)):
        print(json.dumps({"stage": "export", "round": round, "ticks_per_second": 100,
                          "idle_ticks": idle_ticks, "idle_ns": 2e9, "idle_scrapes": 2,
                          "storm_ticks": 50, "storm_ns": 5e9, "storm_scrapes": 5,
                          "body_lines": 229, "storm": {"operations": 1000000}}), file=raw)
    for groups, max_series, milliseconds in ((10000, 200, 100.0), (10, 10, 1.0), (10000, 10000, 600.0)):
        print(json.dumps({"stage": "native", "measure": "scrape_cost", "result": {
            "groups": groups, "max_series": max_series, "active": groups, "scrapes": 9,
            "lines": 87 * min(groups, max_series + 1) + 124, "samples": 87 * min(groups, max_series + 1),
            "bytes": 1, "scrape_ms": {"median": milliseconds, "p25": milliseconds, "p75": milliseconds}}}),
            file=raw)
    # The kernel-accounting method: read_begin 30 ns beyond the carrier in
    # top, 80 in top's hash fallback, 50 in retries; the controls 5 and 10
    # ns, so 4 more squarings 5.
    for subcommand, fault_state, read_begin in (("top", "task", 30.0), ("top", "hash", 80.0),
                                                ("retries", "task", 50.0)):
        handlers = {name: {"ns_per_call": [100.0 + value] * 3, "beyond_empty_ns": [value - 1, value, value + 1],
                           "foreign_runs": [0, 0, 0]}
                    for name, value in (("empty", 0.0), ("empty_plus_4_squarings", 5.0),
                                        ("empty_plus_8_squarings", 10.0), ("read_begin", read_begin))}
        print(json.dumps({"stage": "native", "measure": "handler_stats", "result": {
            "method": "bpf_stats", "subcommand": subcommand, "fault_state": fault_state,
            "calls": 1000, "rounds": 3,
            "handlers": handlers}}), file=raw)
    for kernel, time in (("patched", 3030), ("stock", 3000)):
        result = microbench(time, time, time, time)
        print(json.dumps({"stage": "disabled", "kernel": kernel, "clock": "wall",
                          "process": 1, "result": result}), file=raw)
PYTHON
if ! python3 tests/bench/report.py "$work/raw.jsonl" "$work" --accel tcg >"$work/report.out" 2>&1; then
	fail bench-report.runs "$(tail -n 3 "$work/report.out")"
	exit 0
fi
check bench-report.events-off python3 - "$work/results.json" <<'PYTHON'
import json, sys
results = json.load(open(sys.argv[1]))
per_operation = results["disabled_overhead_ratio_per_operation"]
assert per_operation["hit"]["median"] == round((2020 / 2000 + 2220 / 2200) / 2, 3), per_operation
assert per_operation["remap"]["median"] == 1.0, per_operation
assert per_operation["hit"]["rounds"] == 2, per_operation
added = results["disabled_added_instructions_per_operation"]
assert added["hit"]["median"] == 20.0 and added["miss"]["median"] == 10.0, added
assert added["fault"]["median"] == 0.0, added
# Eight ratios: hit and miss above 1, remap and fault at 1.
assert results["disabled_overhead_ratio"]["rounds"] == 8, results["disabled_overhead_ratio"]
# Wall time: the fastest rounds, 3029 over 2999.
assert results["disabled_overhead_ratio_wall"]["median"] == round(3029 / 2999, 3), results
PYTHON
check bench-report.markdown grep -q '^| &nbsp;&nbsp;hit: ratio; instructions added per operation | 1.01 ' "$work/results.md"
check bench-report.export python3 - "$work/results.json" <<'PYTHON'
import json, sys
results = json.load(open(sys.argv[1]))
assert results["export_cpu_seconds_per_second_idle"]["median"] == 0.15, results
assert results["export_cpu_seconds_per_second_storm"]["median"] == 0.1, results
assert results["export_storm_events_per_s"]["median"] == 600000, results
assert results["export_scrapes_per_second_storm"]["median"] == 1.0, results
assert results["export_cpu_ms_per_scrape_idle"]["median"] == 150.0, results
assert results["export_body_lines"] == 229, results
rows = [(row["groups"], row["max_series"], row["samples"]) for row in results["scrape_ms_by_groups_native"]]
assert rows == [(10, 10, 870), (10000, 10000, 870000), (10000, 200, 17487)], rows
PYTHON
check bench-report.handler-stats python3 - "$work/results.json" <<'PYTHON'
import json, sys
results = json.load(open(sys.argv[1]))
assert results["hmmtrace_read_begin_handler_ns_beyond_carrier_native"]["median"] == 30.0, results
assert results["hmmtrace_read_begin_handler_ns_beyond_carrier_native_retries"]["median"] == 50.0, results
assert results["hmmtrace_read_begin_handler_ns_beyond_carrier_native_hash"]["median"] == 80.0, results
assert results["hmmtrace_insert_handler_ns_beyond_carrier_native"] is None, results
known = results["bpf_stats_known_work_native"]
assert known["4_more_squarings_ns"]["median"] == 5.0 and known["4_squarings_ns"]["median"] == 5.0, known
assert known["carrier_ns"]["median"] == 100.0, known
PYTHON
check bench-report.modes python3 - "$work/results.json" <<'PYTHON'
import json, sys
results = json.load(open(sys.argv[1]))
assert results["hmmtrace_fentry_vs_tp_btf_ratio"]["median"] == 2.0, results["hmmtrace_fentry_vs_tp_btf_ratio"]
assert results["hmmtrace_kprobe_vs_tp_btf_ratio"]["median"] == 5.0, results["hmmtrace_kprobe_vs_tp_btf_ratio"]
assert results["hmmtrace_kprobe_ns_per_event"]["median"] == 500.0, results["hmmtrace_kprobe_ns_per_event"]
assert results["hmmtrace_raw_tp_vs_tp_btf_ratio"] is None, results["hmmtrace_raw_tp_vs_tp_btf_ratio"]
PYTHON
check bench-report.handler-stats-markdown grep -q '^| read_begin | 30.0 ns \[.* | 80.0 ns \[' "$work/results.md"
check bench-report.export-markdown grep -q '^| 10000 | 200 | 17487 | 17611 | 1 | 100.00 \[100.00, 100.00\] |' "$work/results.md"
