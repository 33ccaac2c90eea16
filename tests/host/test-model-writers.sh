#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace's output path without a kernel to trace: the JSON writer against
# exact bytes (tests/unit/json_writer_test.c), then the model and both
# writers on real BPF maps of the tool's layouts, filled natively with known
# numbers (tests/bench/interval_cost.c): every row comes out, with every
# key of the schema and the counts that were put in.

. tests/lib.sh

unit=build/tests/json_writer_test
cost=build/bench/interval_cost
work=$(mktemp -d)

if [ -x "$unit" ]; then
	run_checker "" "$unit"
else
	fail json-writer.built "$unit is not built (make test-programs)"
fi

if [ ! -x "$cost" ]; then
	fail model-writers.built "$cost is not built (make test-programs)"
elif [ "$(id -u)" -ne 0 ]; then
	skip model-writers "needs root to create BPF maps"
elif ! "$cost" --rows 2 --intervals 1 >/dev/null 2>"$work/probe.err"; then
	skip model-writers "this host cannot create BPF maps: $(head -c 200 "$work/probe.err")"
else
	"$cost" --rows 1500 --intervals 2 --print json >"$work/rows.json" 2>"$work/rows.err"
	run_checker "" python3 - "$work/rows.json" 1500 2 <<'PYTHON'
import json, sys
path, rows, intervals = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
objects = [json.loads(line) for line in open(path) if line.strip()]
keys = ["group", "driver", "inserts", "removes", "invalidations", "invalidate_failures",
        "invalidate_p50_ns", "invalidate_p99_ns", "read_begins", "read_begin_waits",
        "read_begin_wait_ns", "read_retries", "check_retries", "range_faults",
        "range_fault_ebusy", "faults_completed", "retry_ratio", "storm"]
def check(name, held, detail):
    print(f"{'PASS' if held else 'FAIL'}\tmodel-writers.{name}\t{'' if held else detail}")
check("one-object", len(objects) == 1, f"{len(objects)} objects")
got = objects[0]["rows"] if objects else []
check("every-row", len(got) == rows, f"{len(got)} rows of {rows}")
missing = sorted({key for row in got for key in keys if key not in row})
check("every-key", got and not missing, f"missing {missing}")
# interval_cost's row i invalidates (k + 1) * (1 + i % 7) times by interval k: one more each time.
names = {row["group"] for row in got}
check("names-every-subscription", len(names) == rows, f"{len(names)} distinct names")
total = sum(row.get("invalidations", 0) for row in got)
want = sum(1 + index % 7 for index in range(rows))
check("counts-the-interval", total == want, f"{total} invalidations, want {want}")
order = [row.get("invalidations", 0) for row in got]
check("sorted-by-invalidations", order == sorted(order, reverse=True), "not sorted")
PYTHON
	"$cost" --rows 40 --intervals 1 --print text >"$work/rows.txt" 2>&1
	check model-writers.text-has-every-row sh -c \
		"[ \$(grep -c 'pid 10' '$work/rows.txt') -eq 40 ] && grep -q '^  GROUP .*INVAL/s' '$work/rows.txt'"
fi
rm -rf "$work"
