#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace with as many live subscriptions as a real amdgpu or ODP host
# holds: `hmmtrace top --by range -i 5`, once in JSON and once in text, while
# `sim_mirror_workload many-ranges` subscribes 100k one-page ranges,
# invalidates them all at once, holds them live and removes them.
#
# Every interval is printed in time: none lasts longer than eight times -i
# (an interval is as long as the time since the one before it was read, so
# a read or write that overran makes the next one long), and there are at
# least half as many as the run lasted in intervals, less one. The rows add
# up to the driver's own inserts, invalidations (JSON) and removes. These are
# deadlines that a read which does not scale misses by minutes, loose enough
# for a guest that shares its core (make check boots two at a time), not
# figures: the per-interval cost is measured by `make bench`.
#
#   HMMTRACE_SCALE_RANGES=N   subscribe N ranges instead of 100000

. tests/lib.sh

hmmtrace=build/hmmtrace
workload=build/tests/sim_mirror_workload
module=build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko
ranges=${HMMTRACE_SCALE_RANGES:-100000}
hold_seconds=10
# Under TCG in one host thread, which the tracer shares with the workload,
# a whole read of 100k subscriptions' stats takes about 2 s (the kernel walks
# and copies 139 MB), and the interval in which all of them change (the
# invalidation of them all, their removal) 10 to 15 s, and 26 to 31 s when
# four guests shared the two cores: -i 5, and a deadline of eight intervals. Natively one interval costs 2 to 4 ms at 1k rows and
# 0.3 to 0.6 s at 100k, all active (make bench, interval_ms_by_rows_native).
interval_seconds=${HMMTRACE_SCALE_INTERVAL:-5}
max_gap_seconds=$(python3 -c "print(8 * $interval_seconds)")
work=$(mktemp -d)

for built in "$hmmtrace" "$workload" "$module"; do
	if [ ! -f "$built" ]; then
		fail hmmtrace-scale "$built is not built (make hmmtrace test-programs driver)"
		exit 0
	fi
done
if ! insmod "$module" 2>"$work/insmod.err"; then
	fail hmmtrace-scale.load-sim_mirror "$(cat "$work/insmod.err")"
	exit 0
fi

# Reads hmmtrace's output once the run is over (a reader parsing 100k-row
# lines as they come would take the emulated CPUs from the tracer it times)
# and writes it compacted, one line per interval, so
# 100k-row intervals need no room here: JSON intervals keep their envelope
# with one row per driver, their integers summed (what hmmtrace_totals.py
# sums anyway) and "row_count"; text intervals become {"header", "rows",
# "inserts", "removes"}, from the INSERT and REMOVE columns, and "unparsed"
# lines. Any other JSON line is passed on as it is, so the totals fail on it.
recorder='
import json, sys, time

kind = sys.argv[1]
out = open(sys.argv[2], "w")
text_interval = None


def emit(record):
    out.write(json.dumps(record) + "\n")
    out.flush()


def merged(rows):
    by_driver = {}
    for row in rows:
        into = by_driver.setdefault(row.get("driver"), {"driver": row.get("driver")})
        for key, value in row.items():
            if isinstance(value, int) and not isinstance(value, bool):
                into[key] = into.get(key, 0) + value
    return list(by_driver.values())


for line in iter(sys.stdin.readline, ""):
    if kind == "json":
        try:
            record = json.loads(line)
            rows = record["rows"]
        except (ValueError, KeyError, TypeError):
            out.write(line)
            continue
        record.update(length=record.get("interval_s"), row_count=len(rows), rows=merged(rows))
        emit(record)
    elif line.startswith("hmmtrace top "):
        if text_interval:
            emit(text_interval)
        words = line.split()
        length = float(words[words.index("interval") + 1]) if "interval" in words else None
        text_interval = {"length": length, "header": line.strip(), "rows": 0,
                         "inserts": 0, "removes": 0, "unparsed": 0}
    elif not line.strip() or line.split()[0] == "GROUP":
        continue
    elif text_interval:
        columns = line.split()
        try:
            inserts, removes = int(columns[-2]), int(columns[-1])
        except (ValueError, IndexError):
            text_interval["unparsed"] += 1
            continue
        text_interval["rows"] += 1
        text_interval["inserts"] += inserts
        text_interval["removes"] += removes
    else:
        out.write(json.dumps({"unparsed": line}) + "\n")
if text_interval:
    emit(text_interval)
'

# watch KIND ARGUMENTS...: the workload under `hmmtrace top ARGUMENTS`; leaves
# $work/KIND.intervals, .truth, .times ("attached stopped", Unix time).
watch() {
	local kind=$1 tracer attached stopped status=0
	shift
	"$hmmtrace" top "$@" >"$work/$kind.out" 2>"$work/$kind.err" &
	tracer=$!
	for _ in $(seq 300); do
		grep -q 'Ctrl-C to stop' "$work/$kind.err" && break
		kill -0 "$tracer" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q 'Ctrl-C to stop' "$work/$kind.err"; then
		fail "hmmtrace-scale.$kind.attaches" "$(head -c 300 "$work/$kind.err")"
		kill -KILL "$tracer" 2>/dev/null
		wait "$tracer"
		return 1
	fi
	attached=$(date +%s.%N)
	# Bounded, in case the tracer starves it.
	timeout 300 "$workload" many-ranges --ranges "$ranges" --hold-seconds "$hold_seconds" \
		--json >"$work/$kind.truth" || status=$?
	check "hmmtrace-scale.$kind.workload-meets-its-expectations" test "$status" -eq 0
	sleep 2
	stopped=$(date +%s.%N)
	kill -INT "$tracer"
	for _ in $(seq 300); do
		kill -0 "$tracer" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$tracer" 2>/dev/null; then
		fail "hmmtrace-scale.$kind.exits-on-sigint" "still running 30 s after SIGINT"
		kill -KILL "$tracer"
	fi
	status=0
	wait "$tracer" || status=$?
	check "hmmtrace-scale.$kind.exits-0-on-sigint" test "$status" -eq 0
	python3 -c "$recorder" "$kind" "$work/$kind.intervals" <"$work/$kind.out"
	rm -f "$work/$kind.out"
	echo "$attached $stopped" >"$work/$kind.times"
}

truth() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["counters"][sys.argv[2]])' "$@"
}

# on_time KIND: the intervals' arrivals against the deadlines above.
on_time() {
	local kind=$1
	run_checker "hmmtrace-scale.$kind" python3 - "$work/$kind.intervals" \
		$(cat "$work/$kind.times") "$max_gap_seconds" "$interval_seconds" <<'EOF'
import json, sys

path, attached, stopped, max_gap = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
interval = float(sys.argv[5])
lengths = []
for line in open(path):
    try:
        lengths.append(float(json.loads(line)["length"]))
    except (ValueError, KeyError, TypeError):
        pass
wanted = max(1, int((stopped - attached) / interval / 2) - 1)
print(f"{'PASS' if len(lengths) >= wanted else 'FAIL'}\tintervals-printed\t"
      f"{len(lengths)} intervals in a {stopped - attached:.1f} s run, wanted {wanted} or more")
# An interval is as long as the time since the previous one was read: one
# that a slow read or write before it delayed is longer than -i.
longest = max(lengths) if lengths else float("inf")
print(f"{'PASS' if lengths and longest <= max_gap else 'FAIL'}\tintervals-on-time\t"
      f"the longest interval lasted {longest:.2f} s, wanted at most {max_gap} s")
EOF
}

if watch json --by range -i "$interval_seconds" --json; then
	on_time json
	inserts=$(truth "$work/json.truth" inserts)
	run_checker hmmtrace-scale.json python3 tests/lab/hmmtrace_totals.py "$work/json.intervals" \
		top sim_mirror "{\"inserts\": $inserts, \"removes\": $(truth "$work/json.truth" removes),
		\"invalidations\": $(truth "$work/json.truth" invalidations)}"
	# Nothing may be lost: every interval says how many events of each kind found no room.
	check hmmtrace-scale.json.nothing-lost python3 -c 'import json, sys
objects = [json.loads(line) for line in open(sys.argv[1])]
sys.exit(not (objects and all(len(o.get("lost", {})) >= 10 for o in objects) and
              sum(sum(o["lost"].values()) for o in objects) == 0))' "$work/json.intervals"
	check hmmtrace-scale.json.every-range-a-row sh -c \
		"[ \$(python3 -c 'import json, sys; print(sum(json.loads(line).get(\"row_count\", 0) for line in open(sys.argv[1])))' '$work/json.intervals') -ge $inserts ]"
fi

if watch text --by range -i "$interval_seconds"; then
	on_time text
	# Every interval's header says lost (the positive control), and 0.
	check hmmtrace-scale.text.nothing-lost python3 -c 'import json, re, sys
headers = [json.loads(line).get("header", "") for line in open(sys.argv[1])]
lost = [re.search(r"  lost (\d+)", header) for header in headers]
sys.exit(not (headers and all(lost) and sum(int(m.group(1)) for m in lost) == 0 and
              "hmmtrace: lost" not in open(sys.argv[2]).read()))' "$work/text.intervals" "$work/text.err"
	run_checker hmmtrace-scale.text python3 - "$work/text.intervals" \
		"$(truth "$work/text.truth" inserts)" "$(truth "$work/text.truth" removes)" <<'EOF'
import json, sys

records = [json.loads(line) for line in open(sys.argv[1])]
intervals = [record for record in records if "header" in record]
unparsed = len(records) - len(intervals) + sum(interval["unparsed"] for interval in intervals)
print(f"{'PASS' if intervals and not unparsed else 'FAIL'}\tparsed\t"
      f"{len(intervals)} intervals, {sum(i['rows'] for i in intervals)} rows, {unparsed} other lines")
for column, want in (("inserts", int(sys.argv[2])), ("removes", int(sys.argv[3]))):
    have = sum(interval[column] for interval in intervals)
    print(f"{'PASS' if intervals and have == want else 'FAIL'}\t{column}\t"
          f"the {column.upper()[:6]} column adds up to {have}, the driver counted {want}")
EOF
fi

rmmod sim_mirror
rm -rf "$work"
