#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Every PromQL expression of the Grafana dashboard and of the Prometheus rules.

    expressions.py [--rules FILE] [--dashboard FILE] [--rate-interval 4s] [--interval 1s]

prints one JSON object a line: source (rules, dashboard), kind (record,
alert, panel, annotation, variable), name, expr (Grafana's variables
substituted: $__rate_interval and $__interval by the options, $instance and
$driver by the regex .*, label_values(METRIC, LABEL) by METRIC), probe (what
returns a non-empty result when the expression has data: for an alert the
measured side of its thresholds, otherwise expr), may_be_empty and why.
tests/lab/test-hmmtrace-export.sh evaluates each probe against a Prometheus
that scraped a real exporter; tests/host/dashboards_check.py imports the
functions. Exit 1 on unreadable input, 2 without PyYAML.
"""

import argparse
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES = os.path.join(ROOT, "dashboards", "prometheus", "hmmtrace-rules.yml")
DASHBOARD = os.path.join(ROOT, "dashboards", "grafana", "hmmtrace.json")

# A metric name in an expression (also inside a string, as in
# metric="hmmtrace_read_retries_total"), not a recording rule's
# level:metric:operations name, which holds colons.
METRIC_NAME = re.compile(r"(?<![\w:])hmmtrace_[A-Za-z0-9_]*[A-Za-z0-9](?![\w:])")
RECORDED_NAME = re.compile(r"(?<![\w:])[A-Za-z_]\w*:[\w:]*\w(?![\w:])")
LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(.*?)\s*,\s*\w+\s*\)\s*$", re.S)
SET_OPERATORS = ("or", "and", "unless")
COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")


def substitute(expr, rate_interval="4s", interval="1s"):
    """A Grafana expression as Prometheus would get it with every variable at All."""
    expr = expr.replace("${__rate_interval}", rate_interval).replace("$__rate_interval", rate_interval)
    expr = expr.replace("${__interval}", interval).replace("$__interval", interval)
    for variable in ("instance", "driver"):
        expr = expr.replace("${%s}" % variable, ".*").replace("$" + variable, ".*")
    match = LABEL_VALUES.match(expr)
    return match.group(1) if match else expr


def metric_names(expr):
    """The hmmtrace_* metric names an expression reads."""
    return set(METRIC_NAME.findall(expr))


def recorded_names(expr):
    """The level:metric:operations names an expression reads."""
    return set(RECORDED_NAME.findall(expr))


def _outside_strings(expr):
    """(index, character, depth) of each character outside string literals;
    a bracket's depth is the one outside it."""
    depth, quote, index = 0, None, 0
    while index < len(expr):
        char = expr[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            yield index, char, depth
            depth += 1
        elif char in ")]}":
            depth -= 1
            yield index, char, depth
        else:
            yield index, char, depth
        index += 1


def _split(expr, operators, words):
    """Split expr at its top-level operators; [(operator, operand), ...], the first with None."""
    parts, start, previous, skip_to = [], 0, None, 0
    for index, char, depth in _outside_strings(expr):
        if depth or index < skip_to or char in "()[]{}":
            continue
        for operator in operators:
            if not expr.startswith(operator, index):
                continue
            end = index + len(operator)
            if words and (re.match(r"\w", expr[index - 1:index] or " ") or re.match(r"\w", expr[end:end + 1] or " ")):
                continue
            parts.append((previous, expr[start:index]))
            previous, start, skip_to = operator, end, end
            break
    parts.append((previous, expr[start:]))
    return parts


def _strip_modifiers(operand):
    """An operand without the leading bool/on(...)/ignoring(...)/group_*(...) of the operator before it."""
    pattern = re.compile(r"^\s*(bool\b|(on|ignoring|group_left|group_right)\s*(\([^)]*\))?)", re.S)
    while True:
        match = pattern.match(operand)
        if not match or not match.group(0).strip():
            return operand.strip()
        operand = operand[match.end():]


def _unwrap(expr):
    """expr without parentheses around all of it."""
    expr = expr.strip()
    while expr.startswith("(") and expr.endswith(")"):
        # The opening parenthesis must close at the very end, not as in "(a) + (b)".
        if not _encloses(expr):
            return expr
        expr = expr[1:-1].strip()
    return expr


def _encloses(expr):
    """Whether expr's first parenthesis closes at its last character."""
    for index, char, depth in _outside_strings(expr):
        if char in ")]}" and depth == 0:
            return index == len(expr) - 1
    return False


def probe(expr):
    """The measured side of an alert: each `or` arm's left operand of its
    top-level comparison, the left arm of `and`/`unless`."""
    arms = _split(_unwrap(expr), SET_OPERATORS, True)
    kept = []
    for operator, arm in arms:
        if operator in ("and", "unless"):
            continue
        arm = _unwrap(_strip_modifiers(arm))
        comparison = _split(arm, COMPARISONS, False)
        kept.append(_unwrap(comparison[0][1]))
    if len(kept) == 1:
        return kept[0]
    return " or ".join("(%s)" % arm for arm in kept)


def rule_expressions(path):
    import yaml

    with open(path) as stream:
        document = yaml.safe_load(stream)
    for group in document["groups"]:
        for rule in group["rules"]:
            expr = " ".join(rule["expr"].split())
            if "alert" in rule:
                yield {"source": "rules", "kind": "alert", "name": rule["alert"], "expr": expr, "probe": probe(expr)}
            else:
                yield {"source": "rules", "kind": "record", "name": rule["record"], "expr": expr, "probe": expr}


def _panels(panels):
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_expressions(path, rate_interval="4s", interval="1s"):
    with open(path) as stream:
        dashboard = json.load(stream)
    for panel in _panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            expr = substitute(target["expr"], rate_interval, interval)
            yield {"source": "dashboard", "kind": "panel",
                   "name": 'panel %s "%s" target %s' % (panel["id"], panel["title"], target["refId"]),
                   "expr": expr, "probe": expr}
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if "expr" in annotation:
            expr = substitute(annotation["expr"], rate_interval, interval)
            yield {"source": "dashboard", "kind": "annotation", "name": annotation["name"], "expr": expr, "probe": expr}
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            query = query["query"] if isinstance(query, dict) else query
            expr = substitute(query, rate_interval, interval)
            yield {"source": "dashboard", "kind": "variable", "name": variable["name"], "expr": expr, "probe": expr}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default=RULES)
    parser.add_argument("--dashboard", default=DASHBOARD)
    parser.add_argument("--rate-interval", default="4s")
    parser.add_argument("--interval", default="1s")
    options = parser.parse_args()
    try:
        import yaml
    except ImportError:
        print("expressions.py: PyYAML is missing (Debian: python3-yaml)", file=sys.stderr)
        return 2
    try:
        entries = list(rule_expressions(options.rules))
        entries += dashboard_expressions(options.dashboard, options.rate_interval, options.interval)
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as error:
        print("expressions.py: cannot read the rules or the dashboard: %s" % error, file=sys.stderr)
        return 1
    if not entries:
        print("expressions.py: no expressions in %s and %s" % (options.rules, options.dashboard), file=sys.stderr)
        return 1
    for entry in entries:
        entry.setdefault("may_be_empty", False)
        print(json.dumps(entry))
    return 0


if __name__ == "__main__":
    sys.exit(main())
