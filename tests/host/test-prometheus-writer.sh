#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The exporter's read and its Prometheus writer without a kernel to trace:
# tests/bench/interval_cost.c --export scrapes real BPF maps of the tool's
# layouts, filled natively with known numbers, as `hmmtrace export --by
# process` does (model_read(), export_read(), prometheus_write()). On 1500
# processes: promtool lints the body (and fails a broken one); every
# process has every per-group metric with the numbers that were put in;
# histograms are cumulative with _count the +Inf bucket; --max-series 100
# folds the other 1400 into pid="other", their sum; and a completion
# withdrawn in the map between two scrapes never makes a counter go down,
# while the counters that rose show it.

. tests/lib.sh

cost=build/bench/interval_cost
groups=1500
kept=100
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -x "$cost" ]; then
	fail prometheus-writer.built "$cost is not built (make test-programs)"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	skip prometheus-writer "needs root to create BPF maps"
	exit 0
fi
if ! "$cost" --export --rows 2 --intervals 1 >/dev/null 2>"$work/probe.err"; then
	skip prometheus-writer "this host cannot create BPF maps: $(head -c 200 "$work/probe.err")"
	exit 0
fi

# scrape NAME ARGUMENTS...: the last body into NAME.prom, or a failure.
scrape() {
	local name=$1
	shift
	if ! "$cost" --export --rows $groups --print prometheus "$@" >"$work/$name.prom" \
		2>"$work/$name.err"; then
		fail "prometheus-writer.$name.scrapes" "$(tail -n 2 "$work/$name.err")"
		return 1
	fi
}

scrape every --intervals 1 || exit 0
scrape folded --intervals 1 --max-series $kept || exit 0
scrape withdrawn --intervals 2 --withdraw --previous "$work/before.prom" || exit 0

# promtool lints the format and the naming rules; a body broken on purpose
# (one sample's label set left open) must fail it, or a pass means nothing.
if ! command -v promtool >/dev/null; then
	skip prometheus-writer.promtool "promtool is not installed (Debian's prometheus)"
else
	check prometheus-writer.promtool-passes-the-body sh -c "promtool check metrics <'$work/every.prom'"
	check prometheus-writer.promtool-passes-the-folded-body \
		sh -c "promtool check metrics <'$work/folded.prom'"
	sed '0,/^hmmtrace_invalidations_total{pid="[0-9]*"}/s//hmmtrace_invalidations_total{pid="1"/' \
		"$work/every.prom" >"$work/broken.prom"
	if cmp -s "$work/every.prom" "$work/broken.prom"; then
		fail prometheus-writer.promtool-control "the control body could not be broken"
	elif promtool check metrics <"$work/broken.prom" >/dev/null 2>&1; then
		fail prometheus-writer.promtool-control "promtool passed a body with an unclosed label set"
	else
		pass prometheus-writer.promtool-control
	fi
fi

check prometheus-writer.folding-is-said grep -q "over $kept groups (--max-series)" "$work/folded.err"

run_checker prometheus-writer python3 - "$work" $groups $kept <<'PYTHON'
import json, math, sys
sys.path.insert(0, "tests/lab")
from exposition import samples

work, groups, kept = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
metrics = json.load(open("tools/metrics.json"))["metrics"]
per_group = [metric for metric in metrics if metric["per"] == "group"]


def check(name, held, detail=""):
    print(f"{'PASS' if held else 'FAIL'}\t{name}\t{'' if held else detail}")


def body(name):
    return samples(open(f"{work}/{name}.prom").read())


# What interval_cost.c's fill_stats() puts in row I (pid I + 1) at scrape K;
# withdrawn: the completion counted at K - 1 taken back.
def fields(index, scrape, withdrawn=False):
    rounds = scrape + 1
    completed = 3 * scrape - 1 if withdrawn else 3 * rounds
    invalidations = rounds * (1 + index % 7)
    return {
        "inserts": 1, "removes": 0, "invalidations": invalidations, "invalidate_failures": 0,
        "read_begins": 5 * rounds, "read_begin_waits": rounds, "read_begin_wait_ns": 1500e-9 * rounds,
        "read_retries": rounds, "check_retries": 0, "range_fault_successes": 4 * rounds,
        "range_fault_ebusy": rounds, "range_fault_errors": 0, "faults_completed": completed,
        "live_subscriptions": 1, "livelocks": 0, "livelocked_faults": 0,
        "invalidated_pages": 16 * invalidations, "invalidate_all": rounds,
        # histograms: (count, sum)
        "invalidate": (invalidations, invalidations * 1000e-9),
        "fault_to_mapped": (completed, completed * 2**20 * 1e-9),
        "retries_per_fault": (completed, completed),
        "pages_per_invalidation": (invalidations, 16 * invalidations),
    }


def expected_series(metric, values):
    """{(suffix, extra label or None): value} of one group's metric, histograms' count and sum."""
    if "series" in metric:
        return {("", (metric["by"], label)): values[field] for label, field in metric["series"].items()}
    key = metric.get("field") or metric.get("value")
    if metric["type"] == "histogram":
        count, total = values[key]
        return {("_count", None): count, ("_sum", None): total, ("_bucket", ("le", "+Inf")): count}
    return {("", None): values[key]}


def group_samples(found, metric):
    """{pid: {(suffix, extra label): value}} of a per-group metric."""
    by_pid = {}
    for name, labels, value in found:
        suffix = name[len(metric["name"]):]
        if not name.startswith(metric["name"]) or suffix not in (
                ("_bucket", "_sum", "_count") if metric["type"] == "histogram" else ("",)):
            continue
        extra = {key: label for key, label in labels.items() if key != "pid"}
        assert len(extra) <= 1, labels
        by_pid.setdefault(labels.get("pid"), {})[(suffix, next(iter(extra.items()), None))] = value
    return by_pid


def same(mine, theirs):
    return math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-12)


def compare(name, found, pids, want_of):
    """Every pid in PIDS has every per-group series, with want_of(pid)'s values."""
    known = set(fields(0, 0))
    for metric in per_group:
        key = metric.get("field") or metric.get("value")
        unknown = [field for field in (metric.get("series", {}).values() or [key]) if field not in known]
        if unknown:
            check(f"{name}.{metric['name']}.expected", False, f"no expectation for {unknown}")
            continue
        by_pid = group_samples(found, metric)
        missing = [pid for pid in pids if pid not in by_pid]
        wrong = []
        for pid in pids:
            for series, value in expected_series(metric, want_of(pid)).items():
                got = by_pid.get(pid, {}).get(series)
                if got is None or not same(got, value):
                    wrong.append(f"pid {pid} {series}: {got}, want {value}")
        check(f"{name}.{metric['name']}", not missing and not wrong and by_pid,
              f"{len(by_pid)} pids, {len(missing)} missing, {len(wrong)} wrong: {wrong[:2]}")


def cumulative(name, found):
    """Buckets rise with le, and _count is the +Inf bucket, for every histogram series."""
    histograms = {}
    for sample_name, labels, value in found:
        if sample_name.endswith("_bucket") or sample_name.endswith("_count"):
            base = sample_name.rsplit("_", 1)[0]
            key = (base, tuple(sorted((k, v) for k, v in labels.items() if k != "le")))
            entry = histograms.setdefault(key, {"buckets": [], "count": None})
            if sample_name.endswith("_bucket"):
                le = labels["le"]
                entry["buckets"].append((math.inf if le == "+Inf" else float(le), value))
            else:
                entry["count"] = value
    bad = []
    for key, entry in histograms.items():
        buckets = entry["buckets"]
        if not buckets or buckets != sorted(buckets) or buckets[-1][0] != math.inf:
            bad.append(f"{key}: buckets out of order or no +Inf")
        elif any(later < earlier for (_, earlier), (_, later) in zip(buckets, buckets[1:])):
            bad.append(f"{key}: not cumulative")
        elif entry["count"] != buckets[-1][1]:
            bad.append(f"{key}: _count {entry['count']} != +Inf {buckets[-1][1]}")
    check(f"{name}.histograms-cumulative", histograms and not bad,
          f"{len(histograms)} histogram series, {len(bad)} bad: {bad[:2]}")
    return len(histograms)


def single(found, metric_name):
    values = [value for name, _, value in found if name == metric_name]
    return values[0] if len(values) == 1 else values


pids = [str(pid) for pid in range(1, groups + 1)]
every = body("every")
check("every.samples", len(every) > 80 * groups, f"{len(every)} samples for {groups} groups")
compare("every", every, pids, lambda pid: fields(int(pid) - 1, 1))
series = cumulative("every", every)
# Per group: four histograms; and the range events filled, 0 and 1.
check("every.histogram-series", series == 4 * groups + 2, f"{series} histogram series")
ranges = {labels["event"]: value for name, labels, value in every
          if name == "hmmtrace_range_duration_seconds_count"}
check("every.range-events", ranges == {"event 0": 2, "event 1": 4}, f"{ranges}")
check("every.nothing-folded", single(every, "hmmtrace_series_folded") == 0,
      f"series_folded {single(every, 'hmmtrace_series_folded')}")

# --max-series: KEPT pids of their own, the rest summed into "other".
folded = body("folded")
inserts = group_samples(folded, per_group[0])
own = [pid for pid in inserts if pid != "other"]
check("folded.kept-series", len(own) == kept and len(set(own)) == kept and set(own) <= set(pids)
      and "other" in inserts, f"{len(own)} pids of their own, other: {'other' in inserts}")
check("folded.series-folded", single(folded, "hmmtrace_series_folded") == groups - kept,
      f"series_folded {single(folded, 'hmmtrace_series_folded')}, want {groups - kept}")
rest = [pid for pid in pids if pid not in own]


def summed(pid):
    if pid != "other":
        return fields(int(pid) - 1, 1)
    parts = [fields(int(index) - 1, 1) for index in rest]
    return {key: (tuple(sum(part[key][at] for part in parts) for at in (0, 1))
                  if isinstance(parts[0][key], tuple) else sum(part[key] for part in parts))
            for key in parts[0]}


compare("folded", folded, own + ["other"], summed)
cumulative("folded", folded)

# Two scrapes of one reader; in the second, the odd rows' completions went
# down in the map (a withdrawal) while everything else rose.
before, after = body("before"), body("withdrawn")
compare("before", before, pids, lambda pid: fields(int(pid) - 1, 1))
# Held: a withdrawn row exports what it had (6), not what the map has now
# (5) nor what it would have without the withdrawal (9); the others rise.
compare("withdrawn", after, pids,
        lambda pid: {**fields(int(pid) - 1, 2),
                     **({key: value for key, value in fields(int(pid) - 1, 1).items()
                         if key in ("faults_completed", "fault_to_mapped", "retries_per_fault")}
                        if (int(pid) - 1) % 2 else {})})
counters = {metric["name"] for metric in metrics if metric["type"] in ("counter", "histogram")}
earlier = {(name, tuple(sorted(labels.items()))): value for name, labels, value in before
           if name.rsplit("_", 1)[0] in counters or name in counters}
later = {(name, tuple(sorted(labels.items()))): value for name, labels, value in after}
lower = [key for key, value in earlier.items() if key in later and later[key] < value]
vanished = [key for key in earlier if key not in later]
rose = [key for key, value in earlier.items() if later.get(key, value) > value]
check("withdrawn.never-lower", earlier and not lower and not vanished,
      f"{len(earlier)} counter series, {len(lower)} lower, {len(vanished)} vanished: {(lower + vanished)[:2]}")
check("withdrawn.raises-show", len(rose) > groups, f"{len(rose)} of {len(earlier)} rose")
cumulative("withdrawn", after)
PYTHON
