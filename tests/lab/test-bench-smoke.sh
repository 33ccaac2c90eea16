#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A smoke of the bench harness, so it cannot rot: every stage at
# BENCH_SCALE=smoke, then the report. It checks that each stage measured
# something and that the report has every key; it asserts no timing.

. tests/lib.sh

output=$(mktemp -d)
export BENCH_OUTPUT=$output/raw.jsonl BENCH_SCALE=smoke
: >"$BENCH_OUTPUT"
for stage in disabled tracers scaling tool scale export causes retries soak; do
	check "bench-smoke.stage.$stage" tests/bench/guest-bench.sh "$stage"
done
check bench-smoke.report python3 tests/bench/report.py "$BENCH_OUTPUT" "$output" --accel tcg
check bench-smoke.results-have-every-key python3 - "$output/results.json" <<'PYTHON'
import json, sys
results = json.load(open(sys.argv[1]))
keys = ["accel", "hmmtrace_ns_per_event", "snoop_ns_per_event", "bpftrace_ns_per_event",
        "perf_ns_per_event", "ftrace_ns_per_event", "hmmtrace_vs_bpftrace_ratio",
        "max_events_per_s_lossless", "scaling", "retries", "attach_ms", "rss_kib",
        "cpu_percent_idle", "cpu_percent_storm", "export_cpu_seconds_per_second_idle",
        "export_cpu_seconds_per_second_storm", "export_storm_events_per_s", "export_body_lines",
        "top_invalidate_handler_ns_emulated", "causes_invalidate_handler_ns_emulated",
        "causes_vs_top_invalidate_ratio", "hmmtrace_raw_tp_ns_per_event",
        "hmmtrace_fentry_ns_per_event", "hmmtrace_kprobe_ns_per_event",
        "hmmtrace_raw_tp_vs_tp_btf_ratio", "hmmtrace_fentry_vs_tp_btf_ratio",
        "hmmtrace_kprobe_vs_tp_btf_ratio", "bpftrace_attach_ms", "bpftrace_rss_kib",
        "attach_vs_bpftrace_ratio", "rss_vs_bpftrace_ratio", "attach_phases_ms",
        "scrape_ms_by_series_emulated", "rss_kib_by_range_subscriptions"]
missing = [key for key in keys if key not in results]
assert not missing, f"no key {missing}"
# Timings of a smoke run may be noise; what is counted must be there.
empty = [key for key in ("scaling", "retries", "attach_ms", "rss_kib", "max_events_per_s_lossless",
                        "export_body_lines", "causes_vs_top_invalidate_ratio",
                        # every mode attached and saw every invalidation
                        "hmmtrace_raw_tp_ns_per_event", "hmmtrace_fentry_ns_per_event",
                        "hmmtrace_kprobe_ns_per_event", "attach_vs_bpftrace_ratio",
                        "rss_vs_bpftrace_ratio")
         if results[key] in (None, [], {})]
assert not empty, f"no value for {empty}"
# Every attach phase was reported; a scrape at each size, and top held every range as a row.
assert all(results["attach_phases_ms"][phase] for phase in
           ("btf", "kallsyms", "probe", "open", "load", "attach")), results["attach_phases_ms"]
assert [row["groups"] for row in results["scrape_ms_by_series_emulated"]] == [1, 9, 88], \
    results["scrape_ms_by_series_emulated"]
scale = results["rss_kib_by_range_subscriptions"]
assert scale and all(row["rows"] >= row["subscriptions"] for row in scale), scale
# snoop saw exactly one invalidation per operation (plus setup and exit).
assert results["events_per_operation"]["median"] == 3, results["events_per_operation"]
# The soak compared exported counters between scrapes, and none went down.
assert results["soak_counter_comparisons"], results["soak_counter_comparisons"]
assert results["soak_counter_decreases"] == 0, results["soak_counter_decreases"]
assert results["soak_curve"], "no soak sample"
# Both processes' hash maps were found (soak.py stops if not) and held
# entries at some sample, and processes churned.
for name in ("top", "export"):
    assert any(point[f"{name}_map_entries"] > 0 for point in results["soak_curve"]), name
assert results["soak_churn_rounds"], results["soak_churn_rounds"]
assert results["soak_churn_failures"] == 0, results["soak_churn_failures"]
PYTHON
check bench-smoke.markdown grep -q '^| hmmtrace_ns_per_event' "$output/results.md"
rm -rf "$output"
