#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# dashboards/ without a Prometheus or a Grafana: promtool checks the rules
# and runs their unit tests (hmmtrace-rules.test.yml); a rules file with a
# syntax error and a unit test with a wrong expectation are its controls.
# tests/host/dashboards_check.py checks the dashboard's structure as Grafana's
# import needs it, the rules' alerts, windows and thresholds, and that every
# metric either reads is one tools/metrics.json names; mutated copies of both
# files must fail the check they break. Every dashboard and rules expression
# (tests/lab/expressions.py, the lab test's list) must parse.
# The lab test, tests/lab/test-hmmtrace-export.sh, evaluates them against a
# real exporter.
#
#   PROMTOOL=PATH   that promtool instead of the one on PATH (one that does
#                   not exist shows the skip)

. tests/lib.sh

rules=dashboards/prometheus/hmmtrace-rules.yml
rules_test=dashboards/prometheus/hmmtrace-rules.test.yml
dashboard=dashboards/grafana/hmmtrace.json
metrics=tools/metrics.json
model_read=tools/model_read.c
checker=tests/host/dashboards_check.py
promtool=${PROMTOOL:-promtool}
work=$(mktemp -d)

# expect_failure NAME CHECK COMMAND...: COMMAND reports CHECK as FAIL (a
# control: the mutation it was given must be caught, by that check).
expect_failure() {
	local name=$1 check=$2
	shift 2
	"$@" >"$work/control.out" 2>&1
	if grep -q "^FAIL	$check	" "$work/control.out"; then
		pass "$name"
	else
		fail "$name" "$check did not fail: $(grep -c '^PASS' "$work/control.out") PASS lines; $(grep -v '^PASS' "$work/control.out" | tail -n 2)"
	fi
}

# mutate NAME FILE PYTHON: $work/NAME, a copy of FILE that PYTHON changed
# (text in `text`, parsed JSON in `data` for .json), or fail NAME when
# PYTHON changed nothing, so that no control passes on an intact copy.
mutate() {
	local name=$1 file=$2 code=$3
	python3 - "$file" "$work/$name" "$code" <<'PYTHON'
import json, sys
source, target, code = sys.argv[1:]
text = open(source).read()
data = json.loads(text) if source.endswith(".json") else None
exec(code)
out = json.dumps(data, indent=2) if data is not None else text
if out.strip() == (json.dumps(json.loads(open(source).read()), indent=2) if data is not None else open(source).read()).strip():
    sys.exit("the mutation changed nothing")
open(target, "w").write(out)
PYTHON
}

# control COPY FILE CHECK PYTHON: a copy of FILE that PYTHON mutated must fail
# the checker's CHECK (dashboard.* checks the copy as the dashboard, rules.*
# as the rules); dashboards.control.COPY records whether it did.
control() {
	local copy=$1 file=$2 check=$3 code=$4 name=dashboards.control.${1%.*}
	if ! mutate "$copy" "$file" "$code" 2>"$work/mutate.err"; then
		fail "$name" "could not make the copy: $(tail -n 1 "$work/mutate.err")"
	elif [ "${check%%.*}" = dashboard ]; then
		expect_failure "$name" "$check" python3 "$checker" dashboard "$work/$copy" "$metrics"
	else
		expect_failure "$name" "$check" python3 "$checker" rules "$work/$copy" "$metrics" "$model_read"
	fi
}

if ! python3 -c 'import yaml' 2>/dev/null; then
	skip dashboards "python3 has no PyYAML (Debian: python3-yaml)"
	rm -rf "$work"
	exit 0
fi

# --- promtool
if ! command -v "$promtool" >/dev/null; then
	skip dashboards.promtool "no $promtool (Debian: prometheus; make deps installs it)"
else
	check dashboards.promtool.check-rules "$promtool" check rules "$rules"
	if "$promtool" test rules "$rules_test" >"$work/test.out" 2>&1 && grep -q SUCCESS "$work/test.out"; then
		pass dashboards.promtool.test-rules
	else
		fail dashboards.promtool.test-rules "$(grep -v '^ *$' "$work/test.out" | head -n 4)"
	fi
	# Controls, in a copy of the directory, as the test file names the rules relative to itself.
	mkdir "$work/broken" "$work/wrong"
	mutate broken/hmmtrace-rules.yml "$rules" \
		'text = text.replace("(rate(hmmtrace_invalidations_total[5m]))", "(rate(hmmtrace_invalidations_total[5m])", 1)'
	if [ ! -s "$work/broken/hmmtrace-rules.yml" ]; then
		fail dashboards.promtool.control-broken-rules "could not make the broken copy"
	elif "$promtool" check rules "$work/broken/hmmtrace-rules.yml" >"$work/broken.out" 2>&1; then
		fail dashboards.promtool.control-broken-rules "promtool accepted an unbalanced parenthesis"
	elif grep -q 'driver:hmmtrace_invalidations:rate5m.*unclosed left parenthesis' "$work/broken.out"; then
		pass dashboards.promtool.control-broken-rules
	else
		fail dashboards.promtool.control-broken-rules "failed, but not on the parenthesis: $(tail -n 2 "$work/broken.out")"
	fi
	cp "$rules" "$work/wrong/"
	mutate wrong/hmmtrace-rules.test.yml "$rules_test" 'text = text.replace("value: 0.75", "value: 0.76", 1)'
	if [ ! -s "$work/wrong/hmmtrace-rules.test.yml" ]; then
		fail dashboards.promtool.control-wrong-expectation "could not make the wrong copy"
	elif "$promtool" test rules "$work/wrong/hmmtrace-rules.test.yml" >"$work/wrong.out" 2>&1; then
		fail dashboards.promtool.control-wrong-expectation "promtool passed a retry ratio of 0.76 for 0.75"
	elif grep -q 'got: .*retry_ratio.* 7.5E-01$' "$work/wrong.out"; then
		pass dashboards.promtool.control-wrong-expectation
	else
		fail dashboards.promtool.control-wrong-expectation "failed, but not on the ratio: $(head -n 3 "$work/wrong.out")"
	fi

	# Every expression the lab will evaluate parses, as Prometheus parses it.
	if python3 tests/lab/expressions.py >"$work/expressions.json" 2>"$work/expressions.err"; then
		python3 - "$work/expressions.json" >"$work/parse.yml" <<'PYTHON'
import json, sys
print("groups:\n  - name: expressions\n    rules:")
for index, line in enumerate(open(sys.argv[1])):
    entry = json.loads(line)
    for key in ("expr", "probe"):
        print("      - record: expression_%d_%s\n        expr: %s" % (index, key, json.dumps(entry[key])))
PYTHON
		count=$(wc -l <"$work/expressions.json")
		if [ "$count" -gt 0 ] && "$promtool" check rules "$work/parse.yml" >"$work/parse.out" 2>&1 &&
			grep -q "SUCCESS: $((count * 2)) rules found" "$work/parse.out"; then
			pass dashboards.expressions-parse
		else
			fail dashboards.expressions-parse "$count expressions: $(grep -v '^ *$' "$work/parse.out" | head -n 3)"
		fi
	else
		fail dashboards.expressions-parse "expressions.py failed: $(tail -n 2 "$work/expressions.err")"
	fi
fi

# --- structure, names and their controls
run_checker dashboards python3 "$checker" names "$metrics"
run_checker dashboards python3 "$checker" dashboard "$dashboard" "$metrics"
run_checker dashboards python3 "$checker" rules "$rules" "$metrics" "$model_read"

control duplicate-id.json "$dashboard" dashboard.unique-ids \
	'shown = [p for p in data["panels"] if p["type"] != "row"]; shown[1]["id"] = shown[0]["id"]'
control datasource.json "$dashboard" dashboard.datasource-refs \
	'data["panels"][-1]["targets"][0]["datasource"] = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}'
control unknown-metric.json "$dashboard" dashboard.metric-names \
	'data = json.loads(text.replace("hmmtrace_subscriptions{", "hmmtrace_subscription{"))'
control no-heatmap.json "$dashboard" dashboard.heatmap \
	'data = json.loads(text.replace("\"format\": \"heatmap\"", "\"format\": \"time_series\""))'
control unused-variable.json "$dashboard" dashboard.variable-used.driver \
	'data = json.loads(text.replace(",driver=~\\\"$driver\\\"", ""))'
control old-schema.json "$dashboard" dashboard.schema-version 'data["schemaVersion"] = 27'
control no-for.yml "$rules" rules.alert.HmmtraceInvalidationStorm \
	'text = text.replace("        for: 10m\n        labels:\n          severity: warning\n        annotations:\n          summary: \"Invalidation", "        labels:\n          severity: warning\n        annotations:\n          summary: \"Invalidation", 1)'
control storm-threshold.yml "$rules" rules.storm-threshold \
	'text = text.replace("driver:hmmtrace_invalidations:rate5m >= 1000", "driver:hmmtrace_invalidations:rate5m >= 2000", 1)'
control rules-unknown-metric.yml "$rules" rules.metric-names \
	'text = text.replace("rate(hmmtrace_faults_completed_total[5m])", "rate(hmmtrace_faults_complete_total[5m])", 1)'
control short-window.yml "$rules" rules.windows \
	'text = text.replace("(rate(hmmtrace_invalidations_total[5m]))", "(rate(hmmtrace_invalidations_total[30s]))", 1)'

rm -rf "$work"
