#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Check what a real Prometheus scraped from `hmmtrace export` in the lab.

    prometheus_check.py WORK PROMETHEUS_URL EXPORTER_URL

tests/lab/test-hmmtrace-export.sh runs sim_mirror_workload's storm, race and
livelock while Prometheus scrapes the exporter every second, and leaves in
WORK:

  phases          one line per phase: NAME START END (the guest's unix time,
                  which is Prometheus' time: both run in the guest)
  NAME.truth      each phase's ground truth (sim_mirror_workload --json)
  top.json        `hmmtrace top --json`, run beside the exporter throughout

The repository's tools/metrics.json names the metrics; the rules and the
dashboard are dashboards/prometheus/hmmtrace-rules.yml and
dashboards/grafana/hmmtrace.json. Everything is asked of Prometheus' HTTP
API, except the bad-input checks, which talk to the exporter itself.

Prints one line per check, STATUS <TAB> name <TAB> what was compared, for
tests/lib.sh's run_checker. Every check counts what it parsed and fails on
nothing. This is one process on purpose: a python3 start costs about 4 s
under TCG.
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

REPOSITORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hmmtrace_totals  # noqa: E402

DRIVER = "sim_mirror"
EXACT_MODES = ("tp_btf", "raw_tp")
INFERRED_IN_STOCK_MODES = ("hmmtrace_read_retries_total", "hmmtrace_read_begin_waits_total",
                           "hmmtrace_read_begin_wait_seconds_total")
# How long after the livelock phase its alert may take to fire: the rules'
# windows and for: are chosen to fire within 30 s of a livelock (see the
# rules' comments); the rest is rule evaluation and scraping under TCG.
ALERT_GRACE_SECONDS = 45
CONCURRENT_SCRAPES = 20
STALLED_CLIENTS = 4         # more than the exporter's HTTP threads (2)


def report(held, name, detail=""):
    status = held if isinstance(held, str) else "PASS" if held else "FAIL"
    detail = str(detail).replace("\t", " ").replace("\n", " ")
    print(f"{status}\t{name}\t{detail[:400]}", flush=True)


class Prometheus:
    def __init__(self, url):
        self.url = url

    def api(self, path, **parameters):
        query = urllib.parse.urlencode(parameters)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=60) as reply:
            answer = json.load(reply)
        if answer.get("status") != "success":
            raise RuntimeError(f"{path} {parameters}: {answer}")
        return answer["data"]

    def instant(self, expression, at):
        """[(labels, value)] of EXPRESSION at unix time AT."""
        data = self.api("query", query=expression, time=f"{at:.3f}")
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(sample["metric"], float(sample["value"][1])) for sample in data["result"]]

    def series_range(self, expression, start, end):
        """[(labels, [(time, value)])] of EXPRESSION every second from START to END."""
        data = self.api("query_range", query=expression, start=f"{start:.3f}", end=f"{end:.3f}",
                        step="1")
        return [(series["metric"], [(float(when), float(value)) for when, value in series["values"]])
                for series in data["result"]]

    def total(self, expression, at):
        """The one value of sum(EXPRESSION) at AT; None when no series matched."""
        samples = self.instant(f"sum({expression})", at)
        return samples[0][1] if samples else None


def read_phases(work):
    phases = {}
    with open(os.path.join(work, "phases")) as lines:
        for line in lines:
            name, start, end = line.split()
            phases[name] = (float(start), float(end))
    return phases


def read_truths(work, phases):
    truths = {}
    for name in phases:
        with open(os.path.join(work, name + ".truth")) as truth:
            truths[name] = json.load(truth)["counters"]
    return truths


def wait_for_final_scrape(prometheus, after):
    """The timestamp of the first scrape that started after AFTER (the last
    phase's end), so that every count of the workloads is in it."""
    deadline = time.time() + 60
    while time.time() < deadline:
        samples = prometheus.instant('timestamp(hmmtrace_info{job="hmmtrace"})', time.time())
        if samples and samples[0][1] > after:
            return samples[0][1]
        time.sleep(0.5)
    return None


# Ground truth. Each workload exits with its ranges live: one removal, one
# release and one unmap invalidation each beyond what it counted itself
# (as tests/lab/test-hmmtrace.sh expects).
def expectations(truths, exact, reported_read_retries):
    def total(counter):
        return sum(truth[counter] for truth in truths.values())

    inserts, retries, faults = total("inserts"), total("retries"), total("faults")
    invalidations = total("invalidations") + 2 * inserts
    wanted = {
        "hmmtrace_subscription_inserts_total": inserts,
        "hmmtrace_subscription_removes_total": inserts,
        "hmmtrace_invalidations_total": invalidations,
        "hmmtrace_read_begins_total": total("read_begins"),
        'hmmtrace_range_faults_total{result="ebusy"}': total("ebusy"),
    }
    if exact:
        wanted["hmmtrace_read_retries_total"] = retries
        wanted["hmmtrace_faults_completed_total"] = faults
    else:
        # The stock-mode bounds of test-hmmtrace.sh: every true collision is
        # inferred, and at most one per invalidation besides; a completion
        # counts at each successful hmm_range_fault(), less each inferred retry.
        wanted["hmmtrace_read_retries_total"] = (retries, retries + invalidations)
        low = faults + retries - (reported_read_retries or 0)
        wanted["hmmtrace_faults_completed_total"] = (low, faults)
    return wanted


def selector(name, extra=""):
    base, _, labels = name.partition("{")
    labels = labels.rstrip("}")
    matchers = ", ".join(part for part in (f'driver="{DRIVER}"', labels, extra) if part)
    return f"{base}{{{matchers}}}"


def within(value, want):
    if isinstance(want, tuple):
        return want[0] <= value <= want[1]
    return value == want


def check_ground_truth(prometheus, at, truths, exact, before_livelock):
    """The counters at the end against every phase's truth; in stock modes
    the inferred ones at BEFORE_LIVELOCK (the last scrape before the
    livelock phase) against storm's and race's, the phases whose bounds
    test-hmmtrace.sh establishes: the livelock's stalls end in timeouts
    that the inference cannot tell from completions."""
    wanted = expectations(truths, exact, prometheus.total(selector("hmmtrace_read_retries_total"), at))
    times = dict.fromkeys(wanted, (at, list(truths)))
    if not exact:
        bounded = {phase: truth for phase, truth in truths.items() if phase != "livelock"}
        retries = prometheus.total(selector("hmmtrace_read_retries_total"), before_livelock)
        for name, want in expectations(bounded, exact, retries).items():
            if isinstance(want, tuple):
                wanted[name], times[name] = want, (before_livelock, list(bounded))
    compared = 0
    for name, want in wanted.items():
        when, phases = times[name]
        value = prometheus.total(selector(name), when)
        held = value is not None and within(value, want)
        compared += value is not None
        report(held, f"truth.{name.replace(chr(34), '')}",
               f"Prometheus {value}, the workloads' truth {list(want) if isinstance(want, tuple) else want}"
               f" over {', '.join(phases)}")
    report(compared > 0, "truth.counters-found", f"{compared} counters of {DRIVER} found")


def last_scrape_before(prometheus, phases, name):
    """The time of the last scrape before phase NAME began, which must have
    come after the phase before it ended; None otherwise."""
    start = phases[name][0]
    previous_end = max(end for _, end in phases.values() if end <= start)
    samples = prometheus.instant('timestamp(hmmtrace_info{job="hmmtrace"})', start)
    scraped = samples[0][1] if samples else None
    held = scraped is not None and scraped > previous_end
    report(held, f"scraped-before-{name}",
           f"last scrape {scraped - start:+.2f} s from {name}'s start, the phase before ended "
           f"{previous_end - start:+.2f} s" if scraped else f"no scrape before {name}")
    return scraped + 0.001 if held else None


# What `hmmtrace top --json` saw beside the exporter, summed by
# hmmtrace_totals.py: its exactly-observed columns must be the exporter's
# too; in exact modes the inferred ones as well.
TOP_COLUMNS = {
    "inserts": "hmmtrace_subscription_inserts_total",
    "removes": "hmmtrace_subscription_removes_total",
    "invalidations": "hmmtrace_invalidations_total",
    "read_begins": "hmmtrace_read_begins_total",
    "range_faults": "hmmtrace_range_faults_total",
    "range_fault_ebusy": 'hmmtrace_range_faults_total{result="ebusy"}',
}
TOP_EXACT_ONLY = {
    "read_retries": "hmmtrace_read_retries_total",
    "check_retries": "hmmtrace_check_retries_total",
    "faults_completed": "hmmtrace_faults_completed_total",
}


def check_top(prometheus, at, top_path, exact):
    keys = hmmtrace_totals.summarize(top_path, "top", DRIVER).keys()
    columns = dict(TOP_COLUMNS, **(TOP_EXACT_ONLY if exact else {}))
    report(keys.get("rows", 0) > 0, "top.parsed", f"{keys.get('intervals', 0)} intervals, "
           f"{keys.get('rows', 0)} {DRIVER} rows")
    for column, name in columns.items():
        value = prometheus.total(selector(name), at)
        seen = keys.get(column)
        report(value is not None and seen is not None and value == seen,
               f"top.{column}", f"Prometheus {value}, hmmtrace top {seen}")


def top_mode(top_path):
    modes = set()
    with open(top_path) as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                if "mode" in record:
                    modes.add(record["mode"])
    return modes


def check_mode(prometheus, at, top_path):
    """The mode hmmtrace_info says, which must be the one top chose."""
    info = prometheus.instant('hmmtrace_info{job="hmmtrace"}', at)
    modes = top_mode(top_path)
    mode = info[0][0].get("mode") if len(info) == 1 else None
    report(len(info) == 1 and {mode} == modes and info[0][1] == 1, "info.mode",
           f"{len(info)} hmmtrace_info series, mode {mode}; top ran in {sorted(modes)}")
    release = info[0][0].get("kernel_release") if info else None
    report(release == os.uname().release, "info.kernel-release",
           f"{release}, the guest runs {os.uname().release}")
    return mode


def check_inferred(prometheus, at, exact):
    """In stock modes the inferred and unavailable columns say so; in exact
    modes they say they are not (each the other's control across kernels)."""
    inferred = {labels.get("metric"): value
                for labels, value in prometheus.instant("hmmtrace_metric_inferred", at)}
    want = 0 if exact else 1
    report(set(inferred) == set(INFERRED_IN_STOCK_MODES) and
           all(value == want for value in inferred.values()),
           "info.metric-inferred", f"{inferred}, wanted {want} for each of {len(INFERRED_IN_STOCK_MODES)}")
    unavailable = {labels.get("metric"): value
                   for labels, value in prometheus.instant("hmmtrace_metric_unavailable", at)}
    report(unavailable == {"hmmtrace_check_retries_total": want}, "info.metric-unavailable",
           f"{unavailable}, wanted check_retries {want}")


def metric_families():
    with open(os.path.join(REPOSITORY, "tools", "metrics.json")) as catalog:
        return json.load(catalog)["metrics"]


def check_families(prometheus, at, run_seconds):
    """Every metric of tools/metrics.json is in Prometheus, and no counter
    (histogram series included) was reset over the run."""
    families = metric_families()
    missing = [family["name"] for family in families
               if not prometheus.instant(f'count({{__name__=~"{family["name"]}(_bucket)?"}})', at)]
    report(families and not missing, "families.all-scraped",
           f"{len(families) - len(missing)} of {len(families)} families of tools/metrics.json; missing {missing}")
    cumulative = []
    for family in families:
        if family["type"] == "counter":
            cumulative.append(family["name"])
        elif family["type"] == "histogram":
            cumulative += [family["name"] + suffix for suffix in ("_bucket", "_sum", "_count")]
    counted, series, resets = 0, 0, {}
    for name in cumulative:
        samples = prometheus.instant(f"resets({name}[{int(run_seconds) + 2}s])", at)
        if samples:
            counted += 1
            series += len(samples)
            total = sum(value for _, value in samples)
            if total:
                resets[name] = total
    report(counted > 0 and not resets, "families.no-counter-resets",
           f"{counted} cumulative families ({series} series) over {int(run_seconds)} s; resets: {resets}")


# Expressions of the dashboard and the rules.
DASHBOARD_VARIABLES = (("$__rate_interval", "4s"), ("${__rate_interval}", "4s"),
                       ("$__interval", "1s"), ("${__interval}", "1s"))
COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)")


def dashboard_expressions(path):
    with open(path) as file:
        dashboard = json.load(file)
    found = []

    def panels(items):
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                found.append((f"panel {panel.get('id')} {panel.get('title', '')!r}", target["expr"]))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        expression = annotation.get("expr") or annotation.get("target", {}).get("expr")
        if expression:
            found.append((f"annotation {annotation.get('name', '')!r}", expression))
    substituted = []
    for where, expression in found:
        for variable, value in DASHBOARD_VARIABLES:
            expression = expression.replace(variable, value)
        expression = re.sub(r"\$\{?(instance|driver)\}?", ".*", expression)
        substituted.append((where, expression))
    return substituted


def top_level(expression):
    """The positions in EXPRESSION outside brackets, braces and strings."""
    depth, quote, index = 0, None, 0
    while index < len(expression):
        character = expression[index]
        if quote:
            if character == "\\":
                index += 1
            elif character == quote:
                quote = None
        elif character in "\"'`":
            quote = character
        elif character in "([{":
            depth += 1
        elif character in ")]}":
            depth -= 1
        elif depth == 0:
            yield index
        index += 1


SET_OPERATOR = re.compile(r"\b(or|and|unless)\b\s*(?:(?:on|ignoring)\s*\([^)]*\)\s*)?")


def thresholds_removed(expression):
    """The operands of an alert's expression with their thresholds taken off:
    each branch of a top-level or/and/unless, up to its first top-level
    comparison (the threshold). A branch without one is kept whole."""
    branches, start, skip_to = [], 0, 0
    for index in top_level(expression):
        if index < skip_to:
            continue
        match = SET_OPERATOR.match(expression, index)
        if match and (index == 0 or not (expression[index - 1].isalnum() or expression[index - 1] in "_:")):
            branches.append(expression[start:index])
            start = skip_to = match.end()
    branches.append(expression[start:])
    operands = []
    for branch in branches:
        cut = len(branch)
        for index in top_level(branch):
            if COMPARISON.match(branch, index) and not branch[:index].rstrip().endswith(("=", "!")):
                cut = index
                break
        operands.append(branch[:cut].strip())
    return [operand for operand in operands if operand]


def rules(path):
    import yaml  # Debian's python3-yaml; the rules are YAML.
    with open(path) as file:
        document = yaml.safe_load(file)
    return [rule for group in document.get("groups", []) for rule in group.get("rules", [])]


def rule_expressions(rule_list):
    """Each recording rule's expression and the series it records; each
    alert's expression left of its threshold (the whole one is false, so
    empty, whenever the alert is not pending)."""
    expressions = []
    for rule in rule_list:
        if "record" in rule:
            expressions.append((f"record {rule['record']}", rule["expr"]))
            expressions.append((f"record {rule['record']} (recorded)", rule["record"]))
        else:
            for number, operand in enumerate(thresholds_removed(rule["expr"]), 1):
                expressions.append((f"alert {rule['alert']} operand {number} (without its threshold)", operand))
    return expressions


def check_expressions(prometheus, start, end, source, expressions):
    """Each expression, over the whole run every second, has a sample."""
    empty, errors = [], []
    for where, expression in expressions:
        try:
            if not any(values for _, values in prometheus.series_range(expression, start, end)):
                empty.append(f"{where}: {expression}")
        except (RuntimeError, OSError) as error:
            errors.append(f"{where}: {error}")
    report(expressions and not empty and not errors, f"{source}.expressions-have-samples",
           f"{len(expressions) - len(empty) - len(errors)} of {len(expressions)} expressions had samples; "
           f"empty: {empty}; errors: {errors}")


def check_livelock_alert(prometheus, phases, rule_list):
    """The livelock alert fires during or just after the livelock phase, and
    is neither pending nor firing during storm or race: its firing is the
    quiet phases' control."""
    names = [rule["alert"] for rule in rule_list if "livelock" in rule.get("alert", "").lower()]
    report(len(names) == 1, "alert.livelock-rule", f"alerts named for livelocks: {names}")
    if len(names) != 1:
        return
    firing = f'ALERTS{{alertname="{names[0]}", alertstate="firing"}}'
    run_start = min(start for start, _ in phases.values())
    start, end = phases["livelock"]
    deadline, first = end + ALERT_GRACE_SECONDS, None
    while first is None:
        now = time.time()
        samples = [when for _, values in prometheus.series_range(firing, run_start, min(now, deadline))
                   for when, _ in values]
        if samples:
            first = min(samples)
        elif now >= deadline:
            break
        else:
            time.sleep(1)
    report(first is not None and first >= start, "alert.livelock-fires-after-the-livelock",
           f"{names[0]} first firing {first - start:+.1f} s from the livelock phase's start "
           f"(it lasted {end - start:.1f} s)" if first is not None
           else f"{names[0]} never firing within {ALERT_GRACE_SECONDS} s of the phase's end")
    active = f'ALERTS{{alertname="{names[0]}"}}'
    for quiet in ("storm", "race"):
        quiet_start, quiet_end = phases[quiet]
        samples = sum(len(values) for _, values in prometheus.series_range(active, quiet_start, quiet_end))
        report(samples == 0, f"alert.livelock-quiet-during-{quiet}",
               f"{samples} pending or firing samples in {quiet_end - quiet_start:.1f} s of {quiet}")


# The exporter itself: bodies, concurrency and stalled clients.
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$")


def series_names(body):
    """The series of a body (name and labels), or None when a line is neither
    a comment nor a sample."""
    names = set()
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        if not match:
            return None
        names.add(match.group(1))
    return names


def scrape(url, timeout=30):
    with urllib.request.urlopen(url + "/metrics", timeout=timeout) as reply:
        return reply.status, reply.read().decode()


def check_promtool(body):
    """promtool's lint accepts a real body and refuses one with a counter
    renamed without _total (the control)."""
    def lint(text):
        run = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        return run.returncode, (run.stdout + run.stderr).strip()

    status, said = lint(body)
    report(status == 0 and body.count("\n") > 0, "promtool-check-metrics",
           f"exit {status} on {body.count(chr(10))} lines: {said[:300]}")
    broken = body.replace("hmmtrace_livelocks_total", "hmmtrace_livelocks")
    status, said = lint(broken)
    report(broken != body and status != 0, "promtool-check-metrics.control",
           f"a counter without _total: exit {status}: {said[:200]}")


def check_concurrent_scrapes(exporter):
    bodies, failures = [None] * CONCURRENT_SCRAPES, []

    def one(index):
        try:
            status, body = scrape(exporter)
            bodies[index] = series_names(body) if status == 200 else None
        except OSError as error:
            failures.append(str(error))

    threads = [threading.Thread(target=one, args=(index,)) for index in range(CONCURRENT_SCRAPES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    parsed = [body for body in bodies if body]
    identical = parsed and all(body == parsed[0] for body in parsed)
    report(len(parsed) == CONCURRENT_SCRAPES and identical, "concurrent-scrapes.same-series",
           f"{len(parsed)} of {CONCURRENT_SCRAPES} bodies parsed, "
           f"{len(parsed[0]) if parsed else 0} series each, identical: {bool(identical)}; errors: {failures[:2]}")


def check_stalled_clients(exporter):
    """A scrape completes while clients that sent half a request, or nothing,
    or never read their answer are still connected and unanswered."""
    address = urllib.parse.urlparse(exporter)
    stalled = []
    for index in range(STALLED_CLIENTS):
        client = socket.create_connection((address.hostname, address.port), timeout=10)
        if index % 3 == 0:
            client.sendall(b"GET /metrics HTTP/1.1\r\nHost: ")
        elif index % 3 == 1:
            client.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # never read
        stalled.append(client)
    started = time.monotonic()
    try:
        status, body = scrape(exporter, timeout=20)
        names = series_names(body) or set()
    except OSError as error:
        status, names = str(error), set()
    elapsed = time.monotonic() - started
    still_connected = 0
    for client in stalled:
        # Closed by the server: recv() gives b"". Still open: nothing to
        # read yet, or the answer to a whole request waiting unread.
        try:
            client.setblocking(False)
            still_connected += client.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            still_connected += 1
        except OSError:
            pass
        client.close()
    report(status == 200 and names and still_connected == STALLED_CLIENTS, "stalled-clients-do-not-stall",
           f"scrape status {status}, {len(names)} series in {elapsed:.2f} s while "
           f"{still_connected} of {STALLED_CLIENTS} stalled clients were still connected")


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        sys.exit(2)
    work, prometheus_url, exporter = sys.argv[1:]
    prometheus = Prometheus(prometheus_url)
    phases = read_phases(work)
    truths = read_truths(work, phases)
    run_start = min(start for start, _ in phases.values())
    run_end = max(end for _, end in phases.values())
    at = wait_for_final_scrape(prometheus, run_end)
    report(at is not None, "final-scrape", f"a scrape {at - run_end:.1f} s after the last phase"
           if at else "no scrape of hmmtrace_info after the last phase within 60 s")
    if at is None:
        return
    at += 0.001
    series = len(prometheus.instant('{job="hmmtrace", __name__=~"hmmtrace_.+"}', at))
    report(series > 0, "series-scraped", f"{series} hmmtrace series in Prometheus")
    mode = check_mode(prometheus, at, os.path.join(work, "top.json"))
    exact = mode in EXACT_MODES
    check_inferred(prometheus, at, exact)
    before_livelock = last_scrape_before(prometheus, phases, "livelock")
    if before_livelock is not None:
        check_ground_truth(prometheus, at, truths, exact, before_livelock)
    check_top(prometheus, at, os.path.join(work, "top.json"), exact)
    check_families(prometheus, at, at - run_start)
    rules_path = os.path.join(REPOSITORY, "dashboards", "prometheus", "hmmtrace-rules.yml")
    dashboard_path = os.path.join(REPOSITORY, "dashboards", "grafana", "hmmtrace.json")
    if os.path.exists(rules_path):
        rule_list = rules(rules_path)
        check_expressions(prometheus, run_start, at, "rules", rule_expressions(rule_list))
        check_livelock_alert(prometheus, phases, rule_list)
    else:
        report("SKIP", "rules", f"{rules_path} is not in this tree")
    if os.path.exists(dashboard_path):
        check_expressions(prometheus, run_start, at, "dashboard", dashboard_expressions(dashboard_path))
    else:
        report("SKIP", "dashboard", f"{dashboard_path} is not in this tree")
    status, body = scrape(exporter)
    check_promtool(body)
    check_concurrent_scrapes(exporter)
    check_stalled_clients(exporter)


if __name__ == "__main__":
    main()
