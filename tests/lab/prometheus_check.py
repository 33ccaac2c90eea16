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
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

REPOSITORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expressions  # noqa: E402
import exposition  # noqa: E402
import hmmtrace_totals  # noqa: E402

DRIVER = "sim_mirror"
EXACT_MODES = ("tp_btf", "raw_tp")
# What stock modes infer: the retries and waits, and so the completions
# (a completion counts less each inferred retry) and their histograms.
INFERRED_IN_STOCK_MODES = ("hmmtrace_read_retries_total", "hmmtrace_read_begin_waits_total",
                           "hmmtrace_read_begin_wait_seconds_total",
                           "hmmtrace_faults_completed_total", "hmmtrace_fault_duration_seconds",
                           "hmmtrace_retries_per_fault")
# How long after the livelock phase its alert may take to fire: the rules'
# windows and for: are chosen to fire within 30 s of a livelock (see the
# rules' comments); the rest is rule evaluation and scraping under TCG.
ALERT_GRACE_SECONDS = 45
CONCURRENT_SCRAPES = 20
STALLED_CLIENTS = 4         # more than the exporter's HTTP threads (2)


# HMMTRACE_EXPORT_EVIDENCE=DIRECTORY keeps what was compared there: every
# result with its detail (results), and the body promtool linted (body.prom).
EVIDENCE = os.environ.get("HMMTRACE_EXPORT_EVIDENCE")


def keep(name, text, mode="a"):
    if EVIDENCE:
        with open(os.path.join(EVIDENCE, name), mode) as evidence:
            evidence.write(text)


def report(held, name, detail=""):
    status = held if isinstance(held, str) else "PASS" if held else "FAIL"
    detail = str(detail).replace("\t", " ").replace("\n", " ")
    print(f"{status}\t{name}\t{detail[:400]}", flush=True)
    keep("results", f"{status}\t{name}\t{detail}\n")


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
    # The control: resets() over the same range sees the live-subscriptions
    # gauge fall as each workload exits and removes its ranges.
    falls = prometheus.total(f"resets({selector('hmmtrace_subscriptions')}[{int(run_seconds) + 2}s])", at)
    report(falls is not None and falls > 0, "families.no-counter-resets.control",
           f"resets() of hmmtrace_subscriptions over the run: {falls}")


# Expressions of the rules and the dashboard, as tests/lab/expressions.py
# (helper of the dashboards' tests) lists them: each with the probe to
# evaluate, for an alert its measured operands without the threshold.
def all_expressions(rules_path, dashboard_path):
    entries = list(expressions.rule_expressions(rules_path))
    entries += expressions.dashboard_expressions(dashboard_path)
    found = []
    for entry in entries:
        where = f"{entry['source']} {entry['kind']} {entry['name']}"
        found.append((where, entry["probe"], entry.get("may_be_empty", False)))
        if entry["kind"] == "record":
            # What the rule recorded, as Prometheus evaluated it.
            found.append((where + " (recorded)", entry["name"], False))
    return found


def read_rules(path):
    import yaml  # PyYAML, Debian's python3-yaml, as expressions.py needs it.
    with open(path) as file:
        document = yaml.safe_load(file)
    return [rule for group in document.get("groups", []) for rule in group.get("rules", [])]


def check_expressions(prometheus, start, end, found):
    """Each expression, over the whole run every second, has a sample."""
    empty, errors, allowed = [], [], 0
    for where, expression, may_be_empty in found:
        try:
            if not any(values for _, values in prometheus.series_range(expression, start, end)):
                if may_be_empty:
                    allowed += 1
                else:
                    empty.append(f"{where}: {expression}")
        except (RuntimeError, OSError) as error:
            errors.append(f"{where}: {error}")
    for source in ("rules", "dashboard"):
        counted = [entry for entry in found if entry[0].startswith(source + " ")]
        failed = [text for text in empty + errors if text.startswith(source + " ")]
        report(counted and not failed, f"{source}.expressions-have-samples",
               f"{len(counted) - len(failed)} of {len(counted)} expressions had samples "
               f"({allowed} allowed empty in all); empty or failed: {failed}")


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
        reported = prometheus.total(selector("hmmtrace_livelocks_total"), quiet_end + 1)
        report(samples == 0, f"alert.livelock-quiet-during-{quiet}",
               f"{samples} pending or firing samples in {quiet_end - quiet_start:.1f} s of {quiet}; "
               f"livelocks counted by then: {reported}")


# The exporter itself: bodies, concurrency and stalled clients.
def series_names(body):
    """The series of a body: each sample's name and labels."""
    return {(name, tuple(sorted(labels.items()))) for name, labels, _ in exposition.samples(body)}


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
    keep("body.prom", body, "w")
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
        except (OSError, ValueError) as error:
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
        names = series_names(body)
    except (OSError, ValueError) as error:
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
    check_expressions(prometheus, run_start, at, all_expressions(rules_path, dashboard_path))
    status, body = scrape(exporter)
    check_promtool(body)
    check_concurrent_scrapes(exporter)
    check_stalled_clients(exporter)
    # Last, as the alert takes some 15 s after the livelock to fire.
    check_livelock_alert(prometheus, phases, read_rules(rules_path))


if __name__ == "__main__":
    main()
