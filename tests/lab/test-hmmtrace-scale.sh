#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace with as many live subscriptions as a real amdgpu or ODP host
# holds: `hmmtrace top --by range -i 1`, once in JSON and once in text, while
# `sim_mirror_workload many-ranges` subscribes 100k one-page ranges,
# invalidates them all at once, holds them live and removes them.
#
# Every interval is printed on time: from attach to the last interval after
# SIGINT, no two in a row arrive more than 2.5 s apart, and there are at
# least as many as the run lasted in seconds, less two. The rows add up to
# the driver's own inserts, invalidations (JSON) and removes. These are
# deadlines, not figures: the per-interval cost is measured by `make bench`.
#
#   HMMTRACE_SCALE_RANGES=N   subscribe N ranges instead of 100000

. tests/lib.sh

hmmtrace=build/hmmtrace
workload=build/tests/sim_mirror_workload
module=build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko
ranges=${HMMTRACE_SCALE_RANGES:-100000}
hold_seconds=5
max_gap_seconds=2.5
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

# Reads hmmtrace's output as it arrives, stamps each interval with its
# arrival (Unix time) and writes it compacted, one line per interval, so
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
    arrived = time.time()
    if kind == "json":
        try:
            record = json.loads(line)
            rows = record["rows"]
        except (ValueError, KeyError, TypeError):
            out.write(line)
            continue
        record.update(arrived=arrived, row_count=len(rows), rows=merged(rows))
        emit(record)
    elif line.startswith("hmmtrace top "):
        if text_interval:
            emit(text_interval)
        text_interval = {"arrived": arrived, "header": line.strip(), "rows": 0,
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
	local kind=$1 tracer recording attached stopped status=0
	shift
	mkfifo "$work/$kind.fifo"
	python3 -c "$recorder" "$kind" "$work/$kind.intervals" <"$work/$kind.fifo" &
	recording=$!
	"$hmmtrace" top "$@" >"$work/$kind.fifo" 2>"$work/$kind.err" &
	tracer=$!
	for _ in $(seq 300); do
		grep -q 'Ctrl-C to stop' "$work/$kind.err" && break
		kill -0 "$tracer" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q 'Ctrl-C to stop' "$work/$kind.err"; then
		fail "hmmtrace-scale.$kind.attaches" "$(head -c 300 "$work/$kind.err")"
		kill -KILL "$tracer" 2>/dev/null
		wait "$tracer" "$recording"
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
	wait "$recording"
	echo "$attached $stopped" >"$work/$kind.times"
}

truth() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["counters"][sys.argv[2]])' "$@"
}

# on_time KIND: the intervals' arrivals against the deadlines above.
on_time() {
	local kind=$1
	run_checker "hmmtrace-scale.$kind" python3 - "$work/$kind.intervals" \
		$(cat "$work/$kind.times") "$max_gap_seconds" <<'EOF'
import json, sys

path, attached, stopped, max_gap = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
arrivals = []
for line in open(path):
    try:
        arrivals.append(json.loads(line)["arrived"])
    except (ValueError, KeyError, TypeError):
        pass
wanted = max(1, int(stopped - attached) - 2)
print(f"{'PASS' if len(arrivals) >= wanted else 'FAIL'}\tintervals-printed\t"
      f"{len(arrivals)} intervals in a {stopped - attached:.1f} s run, wanted {wanted} or more")
# Attach, every interval, and SIGINT, which the last interval must follow promptly too.
moments = sorted([(attached, "attach"), (stopped, "SIGINT")] +
                 [(arrived, f"interval {index + 1}") for index, arrived in enumerate(arrivals)])
gaps = [(later[0] - earlier[0], earlier[1], later[1])
        for earlier, later in zip(moments, moments[1:])]
if arrivals and moments[-1][1] == "SIGINT":
    gaps.append((float("inf"), "SIGINT", "no interval after it"))
gap, after, before = max(gaps)
print(f"{'PASS' if arrivals and gap <= max_gap else 'FAIL'}\tintervals-on-time\t"
      f"{gap:.2f} s from {after} to {before}, wanted at most {max_gap} s")
EOF
}

if watch json --by range -i 1 --json; then
	on_time json
	inserts=$(truth "$work/json.truth" inserts)
	run_checker hmmtrace-scale.json python3 tests/lab/hmmtrace_totals.py "$work/json.intervals" \
		top sim_mirror "{\"inserts\": $inserts, \"removes\": $(truth "$work/json.truth" removes),
		\"invalidations\": $(truth "$work/json.truth" invalidations)}"
	check hmmtrace-scale.json.every-range-a-row sh -c \
		"[ \$(python3 -c 'import json, sys; print(sum(json.loads(line).get(\"row_count\", 0) for line in open(sys.argv[1])))' '$work/json.intervals') -ge $inserts ]"
fi

if watch text --by range -i 1; then
	on_time text
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
