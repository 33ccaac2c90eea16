#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Structure checks of the Grafana dashboard and the Prometheus rules.

    dashboards_check.py dashboard DASHBOARD.json METRICS.json
    dashboards_check.py rules RULES.yml METRICS.json MODEL_READ.c
    dashboards_check.py names METRICS.json

One result a line for run_checker: STATUS, name, reason, tab-separated.
Grafana is not in Debian, so "importable by Grafana >= 10" is checked as its
import needs it: schemaVersion, the ${DS_PROMETHEUS} input, unique panel ids,
every datasource a reference to the datasource variable, and variables that
are used. Every hmmtrace_* name read must be one of tools/metrics.json's
(a histogram through _bucket, _sum or _count only).
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lab"))
import expressions  # noqa: E402

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# The panels, by the metric each must read.
DASHBOARD_METRICS = [
    "hmmtrace_invalidations_total", "hmmtrace_invalidate_duration_seconds_bucket", "hmmtrace_read_retries_total",
    "hmmtrace_range_faults_total", "hmmtrace_faults_completed_total", "hmmtrace_read_begin_wait_seconds_total",
    "hmmtrace_subscriptions", "hmmtrace_range_duration_seconds_bucket", "hmmtrace_info",
    "hmmtrace_metric_inferred", "hmmtrace_metric_unavailable", "hmmtrace_events_lost_total",
    "hmmtrace_scrape_duration_seconds",
]
# The alerts; the lab test waits for the livelock one by name.
ALERTS = ["HmmtraceFaultLivelock", "HmmtraceInvalidationStorm", "HmmtraceHighRetryRatio",
          "HmmtraceExporterDroppingEvents", "HmmtraceExporterBlind"]
RECORDS = ["driver:hmmtrace_retry_ratio:rate5m", "driver:hmmtrace_ebusy_ratio:rate5m",
           "driver:hmmtrace_invalidate_duration_seconds:p99_rate5m"]
DURATION = re.compile(r"\[(\d+)([smhd])\]")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def report(name, held, detail=""):
    print("%s\t%s\t%s" % ("PASS" if held else "FAIL", name, "" if held else detail))


def contract(path):
    """{name: type} of tools/metrics.json; fails on an empty or malformed list."""
    with open(path) as stream:
        metrics = json.load(stream)["metrics"]
    names = {metric["name"]: metric["type"] for metric in metrics}
    if not names or len(names) != len(metrics):
        raise ValueError("%s: %d metrics, %d distinct names" % (path, len(metrics), len(names)))
    return names


def unknown_names(used, names):
    """The names in used that the contract does not export as written."""
    unknown = set()
    for name in used:
        base = next((name[:-len(suffix)] for suffix in HISTOGRAM_SUFFIXES
                     if name.endswith(suffix) and names.get(name[:-len(suffix)]) == "histogram"), None)
        if base is None and names.get(name) in (None, "histogram"):
            unknown.add(name)
    return sorted(unknown)


def check_names(metrics_path):
    """The name extraction itself, on expressions whose names are known."""
    names = contract(metrics_path)
    report("names.contract-read", len(names) >= 20, "%d metrics in %s" % (len(names), metrics_path))
    sample = ('histogram_quantile(0.99, sum by (le) (rate(hmmtrace_invalidate_duration_seconds_bucket'
              '{driver=~"$driver"}[5m]))) / driver:hmmtrace_retry_ratio:rate5m'
              ' * on (instance) hmmtrace_metric_inferred{metric="hmmtrace_read_retries_total"}')
    got = expressions.metric_names(sample)
    want = {"hmmtrace_invalidate_duration_seconds_bucket", "hmmtrace_metric_inferred", "hmmtrace_read_retries_total"}
    report("names.extracted", got == want, "got %s" % sorted(got))
    report("names.recorded-extracted", expressions.recorded_names(sample) == {"driver:hmmtrace_retry_ratio:rate5m"},
           "got %s" % sorted(expressions.recorded_names(sample)))
    report("names.known-pass", not unknown_names(got, names), "unknown %s" % unknown_names(got, names))
    # Controls: a misspelt name, a histogram read without a suffix, a
    # suffix on a counter.
    bad = {"hmmtrace_invalidation_total", "hmmtrace_fault_duration_seconds", "hmmtrace_read_retries_total_count"}
    report("names.unknown-caught", unknown_names(bad, names) == sorted(bad), "caught %s" % unknown_names(bad, names))
    probe = expressions.probe("a:b:c > 0 or max by (x) (y) > 0")
    report("names.probe-or", probe == "(a:b:c) or (max by (x) (y))", "got %r" % probe)
    probe = expressions.probe("a >= 1 and on (x) b >= 0.1")
    report("names.probe-and", probe == "a", "got %r" % probe)
    probe = expressions.probe('sum(rate(x{a=">"}[5m])) * on (i) group_right () group by (i) (y) > 0')
    report("names.probe-nested", probe == 'sum(rate(x{a=">"}[5m])) * on (i) group_right () group by (i) (y)',
           "got %r" % probe)


def walk(panels):
    for panel in panels:
        yield panel
        yield from walk(panel.get("panels", []))


def overlaps(panels):
    """Pairs of panel ids whose gridPos rectangles overlap, or that leave the 24 columns."""
    found = []
    boxes = [(panel["id"], panel.get("gridPos", {})) for panel in panels]
    for index, (first, a) in enumerate(boxes):
        if not all(isinstance(a.get(key), int) for key in "hwxy") or a["x"] + a["w"] > 24:
            found.append((first, "gridPos"))
            continue
        for second, b in boxes[index + 1:]:
            if all(isinstance(b.get(key), int) for key in "hwxy") and a["x"] < b["x"] + b["w"] and \
                    b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]:
                found.append((first, second))
    return found


def check_dashboard(path, metrics_path):
    names = contract(metrics_path)
    with open(path) as stream:
        dashboard = json.load(stream)
    report("dashboard.schema-version", dashboard.get("schemaVersion") == SCHEMA_VERSION,
           "schemaVersion %r, want %d" % (dashboard.get("schemaVersion"), SCHEMA_VERSION))
    inputs = [item for item in dashboard.get("__inputs", []) if item.get("name") == "DS_PROMETHEUS"]
    report("dashboard.datasource-input",
           len(inputs) == 1 and inputs[0].get("type") == "datasource" and inputs[0].get("pluginId") == "prometheus",
           "no DS_PROMETHEUS datasource input for prometheus: %r" % dashboard.get("__inputs"))

    panels = list(walk(dashboard.get("panels", [])))
    shown = [panel for panel in panels if panel.get("type") != "row"]
    report("dashboard.panels", len(shown) > 0, "no panels")
    ids = [panel.get("id") for panel in panels]
    duplicates = sorted({str(i) for i in ids if ids.count(i) > 1 or not isinstance(i, int)})
    report("dashboard.unique-ids", shown and not duplicates, "duplicate or missing ids: %s" % duplicates)
    report("dashboard.layout", shown and not overlaps(panels), "overlapping or out of the grid: %s" % overlaps(panels))

    targets = [(panel, target) for panel in shown for target in panel.get("targets", [])]
    untargeted = [panel.get("id") for panel in shown if not panel.get("targets")]
    report("dashboard.targets", targets and not untargeted, "%d targets; panels without: %s" % (len(targets), untargeted))
    annotations = [item for item in dashboard.get("annotations", {}).get("list", []) if "expr" in item]
    variables = dashboard.get("templating", {}).get("list", [])
    queried = [item for item in variables if item.get("type") == "query"]
    wrong = ["panel %s" % panel.get("id") for panel in shown if panel.get("datasource") != DATASOURCE]
    wrong += ["panel %s target %s" % (panel.get("id"), target.get("refId")) for panel, target in targets
              if target.get("datasource") != DATASOURCE]
    wrong += ["annotation %s" % item.get("name") for item in annotations if item.get("datasource") != DATASOURCE]
    wrong += ["variable %s" % item.get("name") for item in queried if item.get("datasource") != DATASOURCE]
    report("dashboard.datasource-refs", targets and not wrong, "not %s: %s" % (json.dumps(DATASOURCE), wrong[:5]))

    by_name = {item.get("name"): item for item in variables}
    source = by_name.get("datasource", {})
    report("dashboard.variable-datasource",
           source.get("type") == "datasource" and source.get("query") == "prometheus"
           and source.get("current", {}).get("value") == "${DS_PROMETHEUS}",
           "want a datasource variable of prometheus defaulting to ${DS_PROMETHEUS}: %r" % source)
    for variable in ("instance", "driver"):
        item = by_name.get(variable, {})
        query = item.get("query", {})
        query = query.get("query", "") if isinstance(query, dict) else query
        report("dashboard.variable-%s" % variable,
               item.get("type") == "query" and expressions.LABEL_VALUES.match(query or "") is not None
               and query.rstrip().rstrip(")").rstrip().endswith(variable),
               "want a label_values(..., %s) query variable: %r" % (variable, query))

    texts = [target.get("expr", "") for _, target in targets] + [item["expr"] for item in annotations]
    for variable in variables:
        name = variable.get("name", "")
        pattern = re.compile(r"\$(%s\b|\{%s\})" % (re.escape(name), re.escape(name)))
        users = [text for text in texts if pattern.search(text)]
        users += [json.dumps(item.get("query")) for item in queried
                  if item is not variable and pattern.search(json.dumps(item.get("query")))]
        users += [json.dumps(panel.get("datasource")) for panel in shown if pattern.search(json.dumps(panel.get("datasource")))]
        report("dashboard.variable-used.%s" % name, bool(users), "$%s is used nowhere" % name)
    report("dashboard.variables", {"datasource", "instance", "driver"} <= set(by_name),
           "variables %s" % sorted(by_name))

    heatmaps = [(panel, target) for panel, target in targets if panel.get("type") == "heatmap"]
    good = [target for panel, target in heatmaps if target.get("format") == "heatmap" and re.search(
        r"sum by \(le\) \(rate\(hmmtrace_\w+_bucket\{[^}]*\}\[\$__rate_interval\]\)\)", target.get("expr", ""))]
    report("dashboard.heatmap", len(good) > 0,
           "no heatmap panel with a format heatmap target of sum by (le) (rate(..._bucket[$__rate_interval]))")
    livelocks = [item for item in annotations
                 if re.search(r"increase\(hmmtrace_livelocks_total\{", item["expr"]) and item.get("enable")]
    report("dashboard.livelock-annotation", len(livelocks) == 1, "%d enabled annotations on increase(hmmtrace_livelocks_total)"
           % len(livelocks))

    entries = list(expressions.dashboard_expressions(path))
    used = set().union(*(expressions.metric_names(entry["expr"]) for entry in entries)) if entries else set()
    report("dashboard.expressions", len(entries) == len(targets) + len(annotations) + len(queried),
           "%d expressions listed for %d targets, %d annotations and %d query variables"
           % (len(entries), len(targets), len(annotations), len(queried)))
    report("dashboard.metric-names", used and not unknown_names(used, names),
           "not in %s: %s" % (metrics_path, unknown_names(used, names)))
    missing = [name for name in DASHBOARD_METRICS if name not in used]
    report("dashboard.issue-panels", not missing, "no panel reads %s" % missing)
    fixed = sorted({window for text in texts for window in re.findall(r"\[([^\]]*)\]", text)} - {"$__rate_interval"})
    report("dashboard.rate-interval", texts and not fixed, "range selectors other than [$__rate_interval]: %s" % fixed)
    left = [entry["name"] for entry in entries if "$" in entry["expr"]]
    report("dashboard.substituted", entries and not left, "variables left after substitution: %s" % left[:3])


def check_rules(path, metrics_path, model_read):
    import yaml

    names = contract(metrics_path)
    with open(path) as stream:
        text = stream.read()
    document = yaml.safe_load(text)
    rules = [rule for group in document.get("groups", []) for rule in group.get("rules", [])]
    records = {rule["record"]: rule for rule in rules if "record" in rule}
    alerts = {rule["alert"]: rule for rule in rules if "alert" in rule}
    report("rules.records", all(name in records for name in RECORDS), "missing %s" % [n for n in RECORDS if n not in records])
    report("rules.alerts", all(name in alerts for name in ALERTS), "missing %s" % [n for n in ALERTS if n not in alerts])
    for name, rule in sorted(alerts.items()):
        description = rule.get("annotations", {}).get("description", "")
        problems = [what for what, held in (
            ("for", bool(rule.get("for"))),
            ("severity", rule.get("labels", {}).get("severity") in ("critical", "warning", "info")),
            ("driver in description", "{{ $labels.driver }}" in description),
            ("instance in description", "{{ $labels.instance }}" in description)) if not held]
        report("rules.alert.%s" % name, not problems, "missing: %s" % ", ".join(problems))

    exprs = [rule["expr"] for rule in rules]
    used = set().union(*(expressions.metric_names(expr) for expr in exprs)) if exprs else set()
    report("rules.metric-names", used and not unknown_names(used, names),
           "not in %s: %s" % (metrics_path, unknown_names(used, names)))
    recorded = set().union(*(expressions.recorded_names(expr) for expr in exprs)) if exprs else set()
    report("rules.recorded-names", recorded and recorded <= set(records),
           "read but never recorded: %s" % sorted(recorded - set(records)))

    # Windows at least 4 scrapes of the documented interval.
    match = re.search(r"Assumed scrape interval: (\d+) s", text)
    scrape = int(match.group(1)) if match else 0
    windows = [int(number) * SECONDS[unit] for expr in exprs for number, unit in DURATION.findall(expr)]
    short = [window for window in windows if window < 4 * scrape]
    report("rules.windows", scrape and windows and not short,
           "scrape interval %s s documented, windows %s s, under 4 scrapes: %s" % (scrape or "not", windows, short))

    # One threshold, hmmtrace top's: STORM_INVALIDATIONS_PER_SECOND and a retry ratio of 1.
    with open(model_read) as stream:
        source = stream.read()
    storm = re.search(r"#define STORM_INVALIDATIONS_PER_SECOND ([\d.]+)", source)
    ratio = re.search(r"row->retry_ratio >= ([\d.]+)", source)
    want_storm = float(storm.group(1)) if storm else None
    want_ratio = float(ratio.group(1)) if ratio else None
    got_storm = re.search(r"driver:hmmtrace_invalidations:rate5m >= ([\d.]+)", alerts.get(ALERTS[1], {}).get("expr", ""))
    got_ratio = re.search(r"driver:hmmtrace_retry_ratio:rate5m >= ([\d.]+)", alerts.get(ALERTS[2], {}).get("expr", ""))
    report("rules.storm-threshold", want_storm is not None and got_storm and float(got_storm.group(1)) == want_storm,
           "rules %s, %s %s" % (got_storm and got_storm.group(1), model_read, want_storm))
    report("rules.retry-ratio-threshold", want_ratio is not None and got_ratio and float(got_ratio.group(1)) == want_ratio,
           "rules %s, %s %s" % (got_ratio and got_ratio.group(1), model_read, want_ratio))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "names":
        check_names(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "dashboard":
        check_dashboard(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "rules":
        check_rules(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
