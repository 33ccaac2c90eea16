#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Turn the bench's raw measurements into results.json, results.md and plots.

    report.py RAW.jsonl OUTPUT_DIR --accel tcg|kvm

Every comparison is a ratio of figures measured side by side (same boot,
interleaved rounds; or alternating boots for patched against stock), given
as the median and the spread [25th, 75th percentile] over the rounds. The
keys of results.json are documented in tests/bench/README.md.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess

EVENTS_PER_HIT = 3


def quantiles(values):
    """The median and the [25th, 75th] percentiles."""
    ordered = sorted(values)
    if not ordered:
        return None, [None, None]

    def at(fraction):
        position = fraction * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return statistics.median(ordered), [at(0.25), at(0.75)]


def summary(values, digits=3):
    median, spread = quantiles(values)
    if median is None:
        return None
    return {"median": round(median, digits), "spread": [round(value, digits) for value in spread],
            "rounds": len(values)}


OPERATIONS = ("hit", "miss", "remap", "fault")


def events_off_counted(records):
    """Patched over stock in guest instructions (icount): per boot pair,
    process and operation, the ratio of the processes' median rounds, and
    the instructions the series adds per operation. A process's rounds
    agree to 0.1 %; processes differ in remap and fault, so every process
    is one ratio."""
    boots = {"patched": {}, "stock": {}}
    for record in records:
        boots[record["kernel"]].setdefault(record.get("process", 1), []).append(record["result"])
    ratios, added = {}, {}
    for operation in OPERATIONS:
        key = operation + "_rounds_ns"
        for process, patched_boots in boots["patched"].items():
            for patched, stock in zip(patched_boots, boots["stock"].get(process, [])):
                mine, theirs = statistics.median(patched[key]), statistics.median(stock[key])
                ratios.setdefault(operation, []).append(mine / theirs)
                added.setdefault(operation, []).append(mine - theirs)
    every = [ratio for values in ratios.values() for ratio in values]
    return (summary(every), {operation: summary(values) for operation, values in ratios.items()},
            {operation: summary(values, 1) for operation, values in added.items()})


def events_off_wall(records):
    """Patched over stock in TCG wall time, boot pair by boot pair: each
    boot's fastest round of each operation. A round's time is the kernel's
    cost plus the host's noise, which only adds, so the fastest round
    estimates the cost; round-by-round ratios are kept to show the noise."""
    boots = {"patched": [], "stock": []}
    for record in records:
        boots[record["kernel"]].append(record["result"])
    fastest, round_by_round = {}, []
    for operation in OPERATIONS:
        pairs = [(patched[operation + "_rounds_ns"], stock[operation + "_rounds_ns"])
                 for patched, stock in zip(boots["patched"], boots["stock"])]
        fastest[operation] = [min(mine) / min(theirs) for mine, theirs in pairs]
        round_by_round += [one / other for mine, theirs in pairs for one, other in zip(mine, theirs)]
    every = [ratio for values in fastest.values() for ratio in values]
    return (summary(every), {operation: summary(values) for operation, values in fastest.items()},
            summary(round_by_round))


# hmmtrace's modes beside tp_btf in the tracers stage (tracer "hmmtrace-MODE").
OTHER_MODES = ("raw_tp", "fentry", "kprobe")


def tracer_costs(records):
    """ns per event of each tracer, against the no-tracer round beside it."""
    rounds = {}
    for record in records:
        # A tracer that did not see every invalidation was not (yet) attached.
        expected = (record.get("result", {}).get("invalidations", 0) +
                    2 * record.get("result", {}).get("subscriptions", 0))
        if "failed" in record or (record["seen"] is not None and
                                  record["seen"]["invalidations"] != expected):
            continue
        rounds.setdefault(record["round"], {})[record["tracer"]] = record
    events_per_operation = []
    costs = {}
    hmmtrace_over_bpftrace = []
    mode_ratios = {}
    lossless = []
    drop_rates = []
    for by_tracer in rounds.values():
        if "none" not in by_tracer:
            continue
        baseline = by_tracer["none"]["result"]["hit_ns"]
        snoop = by_tracer.get("snoop")
        if not snoop or not snoop["seen"]:
            continue
        # A hit is a range start, one invalidate and a range end. The tracers
        # also see the process's setup and exit: its subscriptions' inserts,
        # removes, and two invalidations each (release, then unmap).
        per_operation = EVENTS_PER_HIT
        expected_invalidations = (snoop["result"]["invalidations"] +
                                  2 * snoop["result"]["subscriptions"])
        events_per_operation.append(per_operation if snoop["seen"]["invalidations"] ==
                                    expected_invalidations else 0)
        for tracer, record in by_tracer.items():
            if tracer == "none":
                continue
            costs.setdefault(tracer, []).append(
                (record["result"]["hit_ns"] - baseline) / per_operation)
        # Each other mode's cost over tp_btf's (hmmtrace's first), in the same round.
        tp_btf = by_tracer.get("hmmtrace")
        for mode in OTHER_MODES:
            other = by_tracer.get("hmmtrace-" + mode)
            if tp_btf and other and tp_btf["result"]["hit_ns"] > baseline:
                mode_ratios.setdefault(mode, []).append(
                    (other["result"]["hit_ns"] - baseline) / (tp_btf["result"]["hit_ns"] - baseline))
        if "hmmtrace" in by_tracer and "bpftrace" in by_tracer:
            bpftrace_cost = by_tracer["bpftrace"]["result"]["hit_ns"] - baseline
            hmmtrace_cost = by_tracer["hmmtrace"]["result"]["hit_ns"] - baseline
            if bpftrace_cost > 0:
                hmmtrace_over_bpftrace.append(hmmtrace_cost / bpftrace_cost)
        hmmtrace = by_tracer.get("hmmtrace")
        if hmmtrace and hmmtrace["seen"]["invalidations"] == (
                hmmtrace["result"]["invalidations"] + 2 * hmmtrace["result"]["subscriptions"]):
            lossless.append(per_operation * 1e9 / hmmtrace["result"]["hit_ns"])
        seen = snoop["seen"]
        drop_rates.append({"events_per_s": round(per_operation * 1e9 / snoop["result"]["hit_ns"]),
                           "dropped_fraction": seen["dropped"] / max(1, seen["events"] + seen["dropped"])})
    return {
        "events_per_operation": summary(events_per_operation),
        "ns_per_event": {tracer: summary(values, 1) for tracer, values in costs.items()},
        "hmmtrace_vs_bpftrace_ratio": summary(hmmtrace_over_bpftrace),
        "mode_vs_tp_btf_ratio": {mode: summary(mode_ratios.get(mode, [])) for mode in OTHER_MODES},
        "max_events_per_s_lossless": round(max(lossless)) if lossless else None,
        "snoop_drops": drop_rates,
    }


# The events whose handlers the carrier measures with the kernel's accounting
# (carrier --bpf-stats), and each subcommand's target beyond the carrier.
# invalidate_fault_in_flight: an invalidation while a fault is in flight, when
# retries takes the invalidating task's stack (the same as invalidate elsewhere).
HANDLER_EVENTS = ("insert", "remove", "range_start", "range_end", "invalidate",
                  "invalidate_fault_in_flight", "read_begin", "read_retry", "check_retry",
                  "hmm_range_fault")
HANDLER_TARGET_NS = {"top": 20, "latency": 40, "retries": 40}
# The runs, each a key suffix: fault state in task storage, and top's in the hash fallback.
HANDLER_RUNS = {("top", "task"): "", ("top", "hash"): "_hash", ("latency", "task"): "_latency",
                ("retries", "task"): "_retries"}


def handler_stats(records):
    """carrier --bpf-stats runs: per subcommand and event, the handler's ns
    beyond the empty handler (the carrier), as paired rounds; and the known
    work of the controls, 4 and 8 squarings and their paired difference."""
    results = {}
    for record in records:
        result = record["result"]
        handlers = result["handlers"]
        beyond = {name: handler["beyond_empty_ns"] for name, handler in handlers.items()}
        run = (result["subcommand"], result.get("fault_state", "hash"))
        if run not in HANDLER_RUNS:
            continue
        suffix = HANDLER_RUNS[run]
        for event in HANDLER_EVENTS:
            results[f"hmmtrace_{event}_handler_ns_beyond_carrier_native{suffix}"] = summary(
                beyond.get(event, []), 1)
        if run == ("top", "task"):
            four, eight = beyond.get("empty_plus_4_squarings", []), beyond.get("empty_plus_8_squarings", [])
            results["bpf_stats_known_work_native"] = {
                "4_squarings_ns": summary(four, 2), "8_squarings_ns": summary(eight, 2),
                "4_more_squarings_ns": summary([b - a for a, b in zip(four, eight)], 2),
                "carrier_ns": summary(handlers.get("empty", {}).get("ns_per_call", []), 1),
                # Parts of the fault path alone: a clock read, a subscriptions lookup.
                "clock_read_ns": summary(beyond.get("clock_read", []), 1),
                "subscription_lookup_ns": summary(beyond.get("subscription_lookup", []), 1),
                "task_slot_ns": summary(beyond.get("task_slot", []), 1),
                "calls_per_round": result["calls"],
            }
    return results


def native_costs(records):
    """Host figures: ns each handler adds to a getpid() call."""
    by_handler = {}
    stats_records = [record for record in records if record.get("measure") == "handler_stats"]
    bpftrace = []
    unavailable = []
    interval_costs = []
    scrape_costs = []
    for record in records:
        if "unavailable" in record:
            unavailable.append(f"{record['tracer']}: {record['unavailable']}")
        elif record.get("measure") == "interval_cost":
            interval_costs.append(record["result"])
        elif record.get("measure") == "scrape_cost":
            scrape_costs.append(record["result"])
        elif record.get("measure") == "handler_stats":
            continue
        elif record["tracer"] == "hmmtrace":
            by_handler[record["result"]["handler"]] = record["result"]["handler_rounds_ns"]
        else:
            bpftrace.append(record["with"]["ns_per_call"] - record["without"]["ns_per_call"])
    results = {
        "hmmtrace_handler_ns_native": summary(by_handler.get("invalidate", []), 1),
        "hmmtrace_read_begin_handler_ns_native": summary(by_handler.get("read_begin", []), 1),
        "carrier_ns_native": summary(by_handler.get("empty", []), 1),
        "bpftrace_handler_ns_native": summary(bpftrace, 1),
        "native_unavailable": unavailable,
        # ms of user space per `top --by range` interval, every row active: median [p25, p75]
        "interval_ms_by_rows_native": [
            {"rows": cost["rows"], "text_ms": cost["text_ms"], "json_ms": cost["json_ms"]}
            for cost in sorted(interval_costs, key=lambda cost: cost["rows"])],
        # ms per scrape of export --by process, and the body's size: median [p25, p75]
        "scrape_ms_by_groups_native": [
            {key: cost[key] for key in ("groups", "max_series", "samples", "lines", "bytes",
                                        "scrape_ms")}
            for cost in sorted(scrape_costs, key=lambda cost: (cost["groups"], -cost["max_series"]))],
    }
    mine, theirs = results["hmmtrace_handler_ns_native"], results["bpftrace_handler_ns_native"]
    results["hmmtrace_vs_bpftrace_ratio_native"] = ratio(mine and mine["median"],
                                                         theirs and theirs["median"])
    # What the handlers add to the carrier, which a real event does not pay
    # (the event's own tracepoint is the kernel's cost, paid by any tracer).
    carrier = results["carrier_ns_native"]
    # (read_begin's wall-clock figure is _wall_: the per-event key is the kernel accounting's.)
    for key, beyond in (("hmmtrace_handler_ns", "hmmtrace_handler_ns_beyond_carrier_native"),
                        ("hmmtrace_read_begin_handler_ns",
                         "hmmtrace_read_begin_handler_ns_beyond_carrier_wall_native"),
                        ("bpftrace_handler_ns", "bpftrace_handler_ns_beyond_carrier_native")):
        handler = results[key + "_native"]
        results[beyond] = (
            round(handler["median"] - carrier["median"], 1) if handler and carrier else None)
    mine = results["hmmtrace_handler_ns_beyond_carrier_native"]
    theirs = results["bpftrace_handler_ns_beyond_carrier_native"]
    results["hmmtrace_vs_bpftrace_ratio_beyond_carrier_native"] = ratio(mine, theirs)
    results.update(handler_stats(stats_records))
    return results


def quartile_cell(value, digits=1):
    return f"{value['median']:.{digits}f} [{value['p25']:.{digits}f}, {value['p75']:.{digits}f}]"


def ratio(mine, theirs):
    """mine / theirs, or None when either is missing or theirs is not positive."""
    return round(mine / theirs, 3) if mine is not None and theirs is not None and theirs > 0 else None


def tool_costs(records):
    if not records:
        return {}
    return {
        "attach_ms": summary([record["attach_ms"] for record in records], 0),
        "rss_kib": max(record["rss_kib"] for record in records),
        "cpu_percent_idle": summary([100 * record["idle_ticks"] / record["ticks_per_second"] /
                                     record["idle_seconds"] for record in records], 2),
        "cpu_percent_storm": summary([100 * record["storm_ticks"] / record["ticks_per_second"] /
                                      (record["storm_ns"] / 1e9) for record in records], 2),
        "storm_events_per_s": summary([3 * record["storm"]["operations"] /
                                       (record["storm_ns"] / 1e9) for record in records], 0),
    }


PHASES = ("btf", "kallsyms", "probe", "open", "load", "attach")


def bpftrace_comparison(tool, bpftrace):
    """hmmtrace against bpftrace doing the same aggregation, paired round by round."""
    theirs = {record["round"]: record for record in bpftrace}
    pairs = [(record, theirs[record["round"]]) for record in tool if record["round"] in theirs]
    return {
        "bpftrace_attach_ms": summary([record["attach_ms"] for record in bpftrace], 0),
        "bpftrace_rss_kib": max((record["rss_kib"] for record in bpftrace), default=None),
        "attach_vs_bpftrace_ratio": summary([mine["attach_ms"] / their["attach_ms"]
                                             for mine, their in pairs if their["attach_ms"] > 0]),
        "rss_vs_bpftrace_ratio": summary([mine["rss_kib"] / their["rss_kib"]
                                          for mine, their in pairs if their["rss_kib"] > 0]),
        "attach_phases_ms": {phase: summary([record["phases_ms"][phase] for record in tool
                                             if "phases_ms" in record], 1) for phase in PHASES},
    }


def scale_costs(scrapes, scale):
    """An export scrape's time by series (emulated), and top --by range's memory by subscriptions."""
    return {
        "scrape_ms_by_series_emulated": [
            {key: record["result"][key] for key in ("groups", "samples", "lines", "bytes", "scrape_ms")}
            for record in sorted(scrapes, key=lambda record: record["result"]["groups"])],
        "rss_kib_by_range_subscriptions": [
            {key: record[key] for key in ("subscriptions", "rows", "rss_kib")}
            for record in sorted(scale, key=lambda record: record["subscriptions"])],
    }


def causes_costs(records):
    """The invalidate handler's emulated ns per run, by configuration, and causes' over top's, per round."""
    by_round = {}
    for record in records:
        by_round.setdefault(record["round"], {})[record["configuration"]] = \
            record["run_time_ns"] / record["runs"]
    results = {}
    for configuration in ("top", "causes-without-stacks", "causes"):
        key = configuration.replace("-", "_")
        results[f"{key}_invalidate_handler_ns_emulated"] = summary(
            [round_[configuration] for round_ in by_round.values() if configuration in round_], 1)
        if configuration != "top":
            results[f"{key}_vs_top_invalidate_ratio"] = summary(
                [round_[configuration] / round_["top"] for round_ in by_round.values()
                 if configuration in round_ and round_.get("top")], 2)
    return results


def export_costs(records):
    """hmmtrace export's CPU seconds per second, scraped once a second, idle and in a storm."""
    if not records:
        return {}

    def per_second(ticks_key, ns_key):
        return summary([record[ticks_key] / record["ticks_per_second"] / (record[ns_key] / 1e9)
                        for record in records], 4)
    idle_scrapes = [record for record in records if record["idle_scrapes"]]
    return {
        "export_cpu_seconds_per_second_idle": per_second("idle_ticks", "idle_ns"),
        "export_cpu_seconds_per_second_storm": per_second("storm_ticks", "storm_ns"),
        "export_storm_events_per_s": summary([3 * record["storm"]["operations"] /
                                              (record["storm_ns"] / 1e9) for record in records], 0),
        "export_scrapes_per_second_storm": summary([record["storm_scrapes"] / (record["storm_ns"] / 1e9)
                                                    for record in records], 2),
        "export_cpu_ms_per_scrape_idle": summary([1e3 * record["idle_ticks"] / record["ticks_per_second"] /
                                                  record["idle_scrapes"] for record in idle_scrapes], 1),
        "export_body_lines": max(record["body_lines"] for record in records),
    }


def soak_results(samples, summaries, churns):
    """The soak's curve, and how much each quantity grew from its first sample to its last."""
    if not samples:
        return {}
    churn = churns[-1] if churns else {}
    curve = []
    for record in samples:
        point = {"elapsed_s": record["elapsed_s"], "links": record["links"]}
        for name, process in record["processes"].items():
            point[f"{name}_rss_kib"] = process["rss_kib"]
            point[f"{name}_fds"] = process["fds"]
            point[f"{name}_map_entries"] = sum(process["map_entries"].values())
        curve.append(point)
    first, last = curve[0], curve[-1]
    growth = {key: last[key] - first[key] for key in first if key != "elapsed_s"}
    summary_record = summaries[-1] if summaries else {}
    return {
        "soak_seconds": summary_record.get("seconds"),
        "soak_curve": curve,
        "soak_growth": growth,
        "soak_peak_rss_kib": {name: max(record["processes"][name]["peak_rss_kib"] for record in samples)
                              for name in samples[-1]["processes"]},
        "soak_scrapes": summary_record.get("scrapes"),
        "soak_counter_comparisons": summary_record.get("comparisons"),
        "soak_counter_decreases": summary_record.get("decrease_count"),
        "soak_ended_early": summary_record.get("ended_early"),
        "soak_churn_rounds": churn.get("churn_rounds"),
        "soak_churn_failures": churn.get("churn_failures"),
    }


def plot(output_dir, name, title, xlabel, ylabel, series, logscale_x):
    """An SVG through gnuplot; series: [(label, [(x, y), ...])]."""
    if not shutil.which("gnuplot") or not any(points for _, points in series):
        return None
    data_paths = []
    for index, (label, points) in enumerate(series):
        path = os.path.join(output_dir, f"{name}.{index}.dat")
        with open(path, "w") as data:
            for x, y in points:
                data.write(f"{x} {y}\n")
        data_paths.append((label, path))
    script = [
        "set terminal svg size 720,420 dynamic background rgb 'white'",
        f"set output '{os.path.join(output_dir, name + '.svg')}'",
        f"set title '{title}'", f"set xlabel '{xlabel}'", f"set ylabel '{ylabel}'",
        "set key top left", "set grid",
    ]
    if logscale_x:
        script.append("set logscale x 10")
    script.append("plot " + ", ".join(f"'{path}' using 1:2 with linespoints title '{label}'"
                                      for label, path in data_paths))
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)
    for _, path in data_paths:
        os.remove(path)
    return name + ".svg"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("raw")
    parser.add_argument("output_dir")
    parser.add_argument("--accel", default="tcg")
    arguments = parser.parse_args()
    stages = {}
    for line in open(arguments.raw):
        if line.strip():
            record = json.loads(line)
            stages.setdefault(record["stage"], []).append(record)

    disabled = stages.get("disabled", [])
    counted, counted_per_operation, added_instructions = events_off_counted(
        [record for record in disabled if record.get("clock") == "instructions"])
    wall, wall_per_operation, wall_round_by_round = events_off_wall(
        [record for record in disabled if record.get("clock", "wall") == "wall"])
    tracers = tracer_costs(stages.get("tracers", []))
    ns_per_event = tracers["ns_per_event"]
    scaling = [{"subscriptions": record["result"]["subscriptions"],
                "hit_ns": record["result"]["hit_ns"], "miss_ns": record["result"]["miss_ns"]}
               for record in stages.get("scaling", [])]
    retries = [{"threads": record["threads"], "window_us": record["window_us"],
                "retries_per_fault": round((record["result"]["counters"]["retries"] +
                                            record["result"]["counters"]["ebusy"]) /
                                           max(1, record["result"]["counters"]["faults"]), 3),
                "faults": record["result"]["counters"]["faults"]}
               for record in stages.get("retries", [])]
    results = {
        "accel": arguments.accel,
        "emulated": arguments.accel == "tcg",
        "disabled_overhead_ratio": counted,
        "disabled_overhead_ratio_per_operation": counted_per_operation,
        "disabled_added_instructions_per_operation": added_instructions,
        "disabled_overhead_ratio_wall": wall,
        "disabled_overhead_ratio_wall_per_operation": wall_per_operation,
        "disabled_overhead_ratio_wall_round_by_round": wall_round_by_round,
        "hmmtrace_ns_per_event": ns_per_event.get("hmmtrace"),
        "snoop_ns_per_event": ns_per_event.get("snoop"),
        "bpftrace_ns_per_event": ns_per_event.get("bpftrace"),
        "perf_ns_per_event": ns_per_event.get("perf"),
        "ftrace_ns_per_event": ns_per_event.get("ftrace"),
        "hmmtrace_vs_bpftrace_ratio": tracers["hmmtrace_vs_bpftrace_ratio"],
        **{f"hmmtrace_{mode}_ns_per_event": ns_per_event.get("hmmtrace-" + mode) for mode in OTHER_MODES},
        **{f"hmmtrace_{mode}_vs_tp_btf_ratio": tracers["mode_vs_tp_btf_ratio"][mode]
           for mode in OTHER_MODES},
        "events_per_operation": tracers["events_per_operation"],
        "max_events_per_s_lossless": tracers["max_events_per_s_lossless"],
        "snoop_drops": tracers["snoop_drops"],
        "scaling": scaling,
        "retries": retries,
    }
    results.update(native_costs(stages.get("native", [])))
    results.update(tool_costs(stages.get("tool", [])))
    results.update(bpftrace_comparison(stages.get("tool", []), stages.get("tool-bpftrace", [])))
    results.update(scale_costs(stages.get("scrape", []), stages.get("scale", [])))
    results.update(export_costs(stages.get("export", [])))
    results.update(causes_costs(stages.get("causes", [])))
    results.update(soak_results(stages.get("soak", []), stages.get("soak-summary", []),
                                stages.get("soak-top", [])))
    os.makedirs(arguments.output_dir, exist_ok=True)
    with open(os.path.join(arguments.output_dir, "results.json"), "w") as output:
        json.dump(results, output, indent=2)
        output.write("\n")

    plots = [
        plot(arguments.output_dir, "scaling", "madvise(DONTNEED) of one page against subscriptions",
             "interval subscriptions in the process", "ns per call",
             [("hits one subscription", [(row["subscriptions"], row["hit_ns"]) for row in scaling]),
              ("hits none", [(row["subscriptions"], row["miss_ns"]) for row in scaling])], True),
        plot(arguments.output_dir, "retries", "sim_mirror: retries per fault against the race window",
             "window between hmm_range_fault and read_retry (us)", "retries per completed fault",
             [(f"{threads} racing thread{'s' if threads > 1 else ''}",
               [(row["window_us"], row["retries_per_fault"]) for row in retries
                if row["threads"] == threads]) for threads in sorted({row["threads"] for row in retries})],
             False),
    ]
    curve = results.get("soak_curve", [])
    if curve:
        processes = sorted({key[:-len("_rss_kib")] for key in curve[0] if key.endswith("_rss_kib")})
        plots.append(plot(arguments.output_dir, "soak", "hmmtrace over the soak, processes coming and going",
                          "seconds", "RSS (KiB) and map entries",
                          [(f"{name} RSS (KiB)", [(point["elapsed_s"], point[f"{name}_rss_kib"]) for point in curve])
                           for name in processes] +
                          [(f"{name} map entries", [(point["elapsed_s"], point[f"{name}_map_entries"])
                                                    for point in curve]) for name in processes], False))
    write_markdown(arguments.output_dir, results, [name for name in plots if name])


def handler_table(results):
    """Each event's handler beyond the carrier, by subcommand, from the kernel's accounting."""
    if "bpf_stats_known_work_native" not in results:
        return ["", "## handlers beyond the carrier (kernel accounting): not measured"]
    known = results["bpf_stats_known_work_native"]
    headers = {"": "top (target <= 20 ns)", "_hash": "top, hash fallback",
               "_latency": "latency (target <= 40 ns)", "_retries": "retries (target <= 40 ns)"}
    lines = ["", "## handlers beyond the carrier (native; the kernel's run_time_ns / run_cnt, paired rounds)", "",
             "| event | " + " | ".join(headers.values()) + " |", "|---|" + "---|" * len(headers)]
    for event in HANDLER_EVENTS:
        cells = [cell(results.get(f"hmmtrace_{event}_handler_ns_beyond_carrier_native{suffix}"), " ns")
                 for suffix in headers]
        lines.append(f"| {event} | " + " | ".join(cells) + " |")
    lines += ["", "The method's control, known work on the empty handler: 4 squarings "
              f"{cell(known['4_squarings_ns'], ' ns')}, 8 squarings {cell(known['8_squarings_ns'], ' ns')}, "
              f"the 4 more paired {cell(known['4_more_squarings_ns'], ' ns')}; the carrier itself "
              f"{cell(known['carrier_ns'], ' ns')} per call, {known['calls_per_round']} calls a round. "
              f"Parts of the fault path alone: a clock read {cell(known['clock_read_ns'], ' ns')}, "
              f"a lookup of the subscriptions hash {cell(known['subscription_lookup_ns'], ' ns')}, "
              f"the task's slot in task local storage {cell(known.get('task_slot_ns'), ' ns')}."]
    return lines


def cell(value, unit=""):
    if value is None:
        return "not measured"
    if isinstance(value, dict):
        return f"{value['median']}{unit} [{value['spread'][0]}, {value['spread'][1]}] ({value['rounds']} rounds)"
    return f"{value}{unit}"


def snoop_drop_cell(rounds):
    if not rounds:
        return "not measured"
    return ", ".join(f"{row['dropped_fraction']:.4g} at {row['events_per_s']} events/s"
                     for row in sorted(rounds, key=lambda row: row["events_per_s"]))


def write_markdown(output_dir, results, plots):
    where = "emulated (TCG)" if results["emulated"] else results["accel"]
    lines = [
        f"# hmmtrace bench ({where})", "",
        "Medians, [25th, 75th percentile] over the rounds; ratios are of figures measured side by side.",
        "", "| key | value |", "|---|---|",
        f"| disabled_overhead_ratio (patched / stock, tracepoints off, in guest instructions (icount); per boot pair, process and operation) | {cell(results['disabled_overhead_ratio'])} |",
    ]
    for operation, value in results["disabled_overhead_ratio_per_operation"].items():
        added = results["disabled_added_instructions_per_operation"].get(operation)
        lines.append(f"| &nbsp;&nbsp;{operation}: ratio; instructions added per operation | {cell(value)}; {cell(added)} |")
    lines.append(f"| disabled_overhead_ratio_wall (the same in TCG wall time; each boot's fastest rounds) | {cell(results['disabled_overhead_ratio_wall'])} |")
    for operation, value in results["disabled_overhead_ratio_wall_per_operation"].items():
        lines.append(f"| &nbsp;&nbsp;{operation} | {cell(value)} |")
    lines.append(f"| &nbsp;&nbsp;round by round (the host's noise) | {cell(results['disabled_overhead_ratio_wall_round_by_round'])} |")
    for key in ("hmmtrace", "snoop", "bpftrace", "perf", "ftrace"):
        lines.append(f"| {key}_ns_per_event | {cell(results[key + '_ns_per_event'], ' ns')} |")
    for mode in OTHER_MODES:
        lines.append(f"| hmmtrace_{mode}_ns_per_event; hmmtrace_{mode}_vs_tp_btf_ratio (same round) | "
                     f"{cell(results[f'hmmtrace_{mode}_ns_per_event'], ' ns')}; "
                     f"{cell(results[f'hmmtrace_{mode}_vs_tp_btf_ratio'])} |")
    lines += [
        f"| hmmtrace_vs_bpftrace_ratio | {cell(results['hmmtrace_vs_bpftrace_ratio'])} |",
        f"| events_per_operation (hit: range start, invalidate, range end) | {cell(results['events_per_operation'])} |",
        f"| max_events_per_s_lossless | {cell(results['max_events_per_s_lossless'])} |",
        f"| snoop_drops (fraction of events dropped, at the event rate of each round) | {snoop_drop_cell(results['snoop_drops'])} |",
        f"| attach_ms | {cell(results.get('attach_ms'), ' ms')} |",
        f"| &nbsp;&nbsp;phases (hmmtrace -v): {', '.join(PHASES)} | "
        f"{'; '.join(cell(results.get('attach_phases_ms', {}).get(phase), ' ms') for phase in PHASES)} |",
        f"| bpftrace_attach_ms (start until its probe is on the tracepoint) | {cell(results.get('bpftrace_attach_ms'), ' ms')} |",
        f"| attach_vs_bpftrace_ratio (paired rounds) | {cell(results.get('attach_vs_bpftrace_ratio'))} |",
        f"| rss_kib | {cell(results.get('rss_kib'), ' KiB')} |",
        f"| bpftrace_rss_kib; rss_vs_bpftrace_ratio (VmHWM over the same storm, paired rounds) | "
        f"{cell(results.get('bpftrace_rss_kib'), ' KiB')}; {cell(results.get('rss_vs_bpftrace_ratio'))} |",
        f"| cpu_percent_idle | {cell(results.get('cpu_percent_idle'), ' %')} |",
        f"| cpu_percent_storm | {cell(results.get('cpu_percent_storm'), ' %')} at {cell(results.get('storm_events_per_s'), ' events/s')} |",
        f"| export_cpu_seconds_per_second_idle (hmmtrace export scraped once a second; {results.get('export_body_lines', 'no')} lines a body) | {cell(results.get('export_cpu_seconds_per_second_idle'))} |",
        f"| export_cpu_seconds_per_second_storm | {cell(results.get('export_cpu_seconds_per_second_storm'))} at {cell(results.get('export_storm_events_per_s'), ' events/s')}, {cell(results.get('export_scrapes_per_second_storm'))} scrapes/s |",
        f"| export_cpu_ms_per_scrape_idle | {cell(results.get('export_cpu_ms_per_scrape_idle'), ' ms')} |",
        f"| top_invalidate_handler_ns_emulated (bpf_stats run_time_ns / run_cnt) | {cell(results.get('top_invalidate_handler_ns_emulated'), ' ns')} |",
        f"| causes_without_stacks_invalidate_handler_ns_emulated | {cell(results.get('causes_without_stacks_invalidate_handler_ns_emulated'), ' ns')}, {cell(results.get('causes_without_stacks_vs_top_invalidate_ratio'))}x top's |",
        f"| causes_invalidate_handler_ns_emulated (a stack per invalidation) | {cell(results.get('causes_invalidate_handler_ns_emulated'), ' ns')}, {cell(results.get('causes_vs_top_invalidate_ratio'))}x top's |",
        "", "## native (host kernel, getpid() carrier; not emulated)", "", "| key | value |", "|---|---|",
        f"| carrier_ns_native (the tracepoint and filter alone) | {cell(results['carrier_ns_native'], ' ns')} |",
        f"| hmmtrace_handler_ns_native (invalidate handler) | {cell(results['hmmtrace_handler_ns_native'], ' ns')} |",
        f"| hmmtrace_read_begin_handler_ns_native (with fault tracking) | {cell(results['hmmtrace_read_begin_handler_ns_native'], ' ns')} |",
        f"| bpftrace_handler_ns_native | {cell(results['bpftrace_handler_ns_native'], ' ns')} |",
        f"| hmmtrace_vs_bpftrace_ratio_native | {cell(results['hmmtrace_vs_bpftrace_ratio_native'])} |",
        f"| hmmtrace_handler_ns_beyond_carrier_native (median less the carrier's) | {cell(results['hmmtrace_handler_ns_beyond_carrier_native'], ' ns')} |",
        f"| hmmtrace_read_begin_handler_ns_beyond_carrier_wall_native | {cell(results['hmmtrace_read_begin_handler_ns_beyond_carrier_wall_native'], ' ns')} |",
        f"| bpftrace_handler_ns_beyond_carrier_native | {cell(results['bpftrace_handler_ns_beyond_carrier_native'], ' ns')} |",
        f"| hmmtrace_vs_bpftrace_ratio_beyond_carrier_native | {cell(results['hmmtrace_vs_bpftrace_ratio_beyond_carrier_native'])} |",
    ]
    lines += handler_table(results)
    lines += [
        "", "## top --by range, one interval in user space (native; every row active)", "",
        "| rows | text (ms) | JSON (ms) |", "|---|---|---|",
    ]
    lines += [f"| {row['rows']} | {quartile_cell(row['text_ms'])} | {quartile_cell(row['json_ms'])} |"
              for row in results["interval_ms_by_rows_native"]]
    lines += ["", "## export --by process, one scrape in user space (native; every process active)", "",
              "| processes | --max-series | samples (series) | lines | bytes | ms per scrape |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {row['groups']} | {row['max_series']} | {row['samples']} | {row['lines']} | {row['bytes']} | "
              f"{quartile_cell(row['scrape_ms'], 2)} |" for row in results["scrape_ms_by_groups_native"]]
    lines += ["", "## export, one scrape in user space (emulated; the model and the writer on real maps)", "",
              "| groups | samples (series) | lines | bytes | ms per scrape |", "|---|---|---|---|---|"]
    lines += [f"| {row['groups']} | {row['samples']} | {row['lines']} | {row['bytes']} | "
              f"{quartile_cell(row['scrape_ms'], 2)} |" for row in results.get("scrape_ms_by_series_emulated", [])]
    lines += ["", "## top --by range's peak memory (emulated; subscriptions held, one row each)", "",
              "| subscriptions | rows seen | VmHWM (KiB) |", "|---|---|---|"]
    lines += [f"| {row['subscriptions']} | {row['rows']} | {row['rss_kib']} |"
              for row in results.get("rss_kib_by_range_subscriptions", [])]
    lines += [
        "", "## scaling", "", "| subscriptions | hit (ns) | miss (ns) |", "|---|---|---|",
    ]
    lines += [f"| {row['subscriptions']} | {row['hit_ns']} | {row['miss_ns']} |" for row in results["scaling"]]
    lines += ["", "## retries per fault (sim_mirror race)", "",
              "| racing threads | window (us) | retries per fault | faults |", "|---|---|---|---|"]
    lines += [f"| {row['threads']} | {row['window_us']} | {row['retries_per_fault']} | {row['faults']} |"
              for row in results["retries"]]
    if results.get("soak_curve"):
        columns = [key for key in results["soak_curve"][0] if key != "elapsed_s"]
        lines += ["", f"## soak ({results['soak_seconds']} s: top --by process and export, processes churning)", "",
                  f"Scrapes: {results['soak_scrapes']}; counter comparisons: {results['soak_counter_comparisons']}; "
                  f"decreases: {results['soak_counter_decreases']}; ended early: {results['soak_ended_early'] or 'no'}; "
                  f"churn rounds (storm, fork-cow, 20 short processes): {results['soak_churn_rounds']}, "
                  f"failed: {results['soak_churn_failures']}.",
                  "", "| seconds | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        lines += ["| " + " | ".join(str(point[key]) for key in ["elapsed_s"] + columns) + " |"
                  for point in results["soak_curve"]]
        lines.append("| growth | " + " | ".join(str(results["soak_growth"][key]) for key in columns) + " |")
    lines += [""] + [f"![{name}]({name})" for name in plots]
    with open(os.path.join(output_dir, "results.md"), "w") as output:
        output.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
