#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Every field of every event in tracepoints/events.json, read from bpftrace
# one-liners typed as a user types them, `bpftrace -e 'tracepoint:S:E {
# printf(..., args->field) }'`, with no BPFTRACE_* variables: bpftrace finds
# the kernel headers through /lib/modules/<release>/source and build, which
# kernel/build-kernel.sh lays out as a distribution does.
#
# One bpftrace run holds a probe per event (its start takes seconds under
# TCG), each printing every field of its first events, while sim_mirror's
# fault-sweep and race scenarios and test_hmm_phases with a race fire every
# event. A tracefs instance records the same events with the `fields` option,
# which prints every field raw. Per event:
# - bpftrace saw it, and each line it printed holds every catalog field;
# - each line equals, field for field (at the format file's size), an event
#   that ftrace recorded, so a field read at the wrong offset or size fails.

. tests/lib.sh

tracefs=/sys/kernel/tracing
instance=$tracefs/instances/hmmtrace-bpftrace-fields
module=build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko
sim_mirror_workload=build/tests/sim_mirror_workload
test_hmm_workload=build/tests/test_hmm_phases
samples_per_event=20
work=$(mktemp -d)

if [ ! -d "$tracefs/events/mmu_notifier" ]; then
	skip bpftrace-fields "this kernel ($(uname -r)) has no mmu_notifier events"
	exit 0
fi
for program in "$sim_mirror_workload" "$test_hmm_workload"; do
	if [ ! -x "$program" ]; then
		fail bpftrace-fields "$program is not built (make test-programs)"
		exit 0
	fi
done
if [ ! -f "$module" ]; then
	fail bpftrace-fields "$module is not built (make driver KERNEL_VARIANT=$KERNEL_VARIANT)"
	exit 0
fi

# The one-liner's probes, from the catalog: each prints its event's name and
# every field in hex, for its first $samples_per_event events.
program_for() {
	python3 - "$1" "$samples_per_event" <<'EOF'
import json, sys

events, samples = json.load(open(sys.argv[1]))["events"], int(sys.argv[2])
probes = []
for event in events:
    key = f'@seen["{event["name"]}"]'
    fields = event["fields"]
    text = " ".join(f'{field["name"]}=%lx' for field in fields)
    arguments = ", ".join(f'args->{field["name"]}' for field in fields)
    probes.append(f'tracepoint:{event["system"]}:{event["name"]} /{key} < {samples}/ '
                  f'{{ {key}++; printf("{event["system"]}:{event["name"]} {text}\\n", {arguments}); }}')
print(" ".join(probes) + " END { clear(@seen); }")
EOF
}

# bpftrace as a user runs it: no BPFTRACE_KERNEL_SOURCE or _BUILD, whatever
# the environment that started the lab holds.
user_bpftrace() {
	env -u BPFTRACE_KERNEL_SOURCE -u BPFTRACE_KERNEL_BUILD bpftrace "$@"
}

program=$(program_for tracepoints/events.json)
probe_count=$(grep -o 'tracepoint:' <<<"$program" | wc -l)

# Every event of the run, as ftrace records it.
rmdir "$instance" 2>/dev/null
mkdir "$instance"
echo 0 >"$instance/options/overwrite"
echo 32768 >"$instance/buffer_size_kb"
echo 1 >"$instance/events/mmu_notifier/enable"
echo 1 >"$instance/events/hmm/enable"

# Not through user_bpftrace: $! must be bpftrace's own pid (env execs it).
env -u BPFTRACE_KERNEL_SOURCE -u BPFTRACE_KERNEL_BUILD \
	bpftrace -e "$program" >"$work/bpftrace.out" 2>"$work/bpftrace.err" &
bpftrace_pid=$!
# Until the kernel shows every probe's program on its tracepoint; "Attaching"
# comes long before that under TCG.
attached=0
for _ in $(seq 1200); do
	kill -0 "$bpftrace_pid" 2>/dev/null || break
	attached=$(bpftool perf list 2>/dev/null | grep -c "^pid $bpftrace_pid .*tracepoint")
	[ "$attached" -ge "$probe_count" ] && break
	sleep 0.1
done

if [ "$attached" -lt "$probe_count" ]; then
	kill -KILL "$bpftrace_pid" 2>/dev/null
	wait "$bpftrace_pid" 2>/dev/null
	fail bpftrace-fields.attach "bpftrace attached $attached of $probe_count probes: $(grep -v '^Attaching' "$work/bpftrace.err" | head -n 3)"
	# Which event's probe bpftrace refuses, each alone, as a user would try.
	while read -r probe; do
		event=${probe%% *}
		event=${event#tracepoint:}
		if ! output=$(user_bpftrace -e "$probe BEGIN { exit(); }" 2>&1 >/dev/null); then
			fail "bpftrace-fields.${event/:/.}.probe" "$(grep -v '^Attaching' <<<"$output" | head -n 2)"
		fi
	done <<<"$(grep -o 'tracepoint:[^}]*}' <<<"$program")"
	echo 0 >"$instance/tracing_on"
	rmdir "$instance"
	rm -rf "$work"
	exit 0
fi
pass bpftrace-fields.attach

# The workloads: sim_mirror's fault sweep (inserts, faults, invalidations,
# removes) and race (collisions, read_begin waits), test_hmm's phases and race.
ran_workloads=0 failed_workloads=()
if insmod "$module" 2>"$work/insmod.err"; then
	"$sim_mirror_workload" fault-sweep --json >"$work/fault-sweep.json" 2>&1 || failed_workloads+=(fault-sweep)
	"$sim_mirror_workload" race --duration 1 --threads 2 --retry-window-us 2000 --json \
		>"$work/race.json" 2>&1 || failed_workloads+=(race)
	ran_workloads=$((ran_workloads + 2))
	rmmod sim_mirror
else
	fail bpftrace-fields.load-sim_mirror "$(cat "$work/insmod.err")"
fi
if modprobe test_hmm 2>"$work/modprobe.err"; then
	"$test_hmm_workload" --race-seconds 1 >"$work/test_hmm.json" 2>&1 || failed_workloads+=(test_hmm)
	ran_workloads=$((ran_workloads + 1))
	rmmod test_hmm
else
	fail bpftrace-fields.load-test_hmm "$(cat "$work/modprobe.err")"
fi
for workload in "${failed_workloads[@]}"; do
	fail "bpftrace-fields.workload-$workload" "$(tail -n 1 "$work/$workload.json" | head -c 300)"
done
if [ ${#failed_workloads[@]} -eq 0 ] && [ "$ran_workloads" -eq 3 ]; then
	pass bpftrace-fields.workloads
elif [ ${#failed_workloads[@]} -eq 0 ]; then
	fail bpftrace-fields.workloads "$ran_workloads of the 3 workloads ran (a module did not load)"
fi

# SIGTERM, which bpftrace handles as it does Ctrl-C: a script's background
# job starts with SIGINT ignored. Its exit detaches a probe per event, which
# took over 30 s under TCG once with a kernel build beside the guest.
kill -TERM "$bpftrace_pid"
stopping=$SECONDS
while kill -0 "$bpftrace_pid" 2>/dev/null && [ $((SECONDS - stopping)) -lt 120 ]; do
	sleep 0.1
done
kill -KILL "$bpftrace_pid" 2>/dev/null && fail bpftrace-fields.exit "bpftrace did not exit within 120 s of SIGTERM"
wait "$bpftrace_pid" 2>/dev/null
echo "# bpftrace exited $((SECONDS - stopping)) s after SIGTERM"

echo 0 >"$instance/tracing_on"
echo 1 >"$instance/options/fields"

# The checker reads the instance's trace itself, a line at a time, keeping
# only what the comparison needs: a copy of the trace in the guest's tmpfs
# and every event parsed into memory once took more than the guest had
# (855k events from a race that ran past its end; the OOM killer ended the
# checker), and the memory stays bounded however many events come.
run_checker bpftrace-fields python3 - tracepoints/events.json "$tracefs/events" \
	"$work/bpftrace.out" "$instance/trace" "$instance/per_cpu" "$work/summary" <<'EOF'
import collections, glob, json, os, re, sys

catalog, events_dir, bpftrace_path, ftrace_path, per_cpu_dir, summary_path = sys.argv[1:7]
events = json.load(open(catalog))["events"]
# Recorded events kept whole per event, to name the fields of a line that
# matches none: the first ones only, so that memory stays bounded.
kept_per_event = 1000


def result(ok, name, reason=""):
    print(f"{'PASS' if ok else 'FAIL'}\t{name}\t{'' if ok else reason}")


def field_sizes(system, name):
    """Field name -> size in bytes, from the live format file."""
    sizes = {}
    with open(os.path.join(events_dir, system, name, "format")) as format_file:
        for line in format_file:
            match = re.search(r"field:[^;]*?(\w+)(\[\d*\])?;\s*offset:\d+;\s*size:(\d+);", line)
            if match and not match.group(1).startswith("common_"):
                sizes[match.group(1)] = int(match.group(3))
    return sizes


bpftrace = collections.defaultdict(list)
for line in open(bpftrace_path, errors="replace"):
    match = re.match(r"(\w+):(\w+) (.*)$", line.rstrip("\n"))
    if not match:
        continue
    values = dict(re.findall(r"(\w+)=([0-9a-f]+)(?:\s|$)", match.group(3)))
    bpftrace[match.group(2)].append({name: int(value, 16) for name, value in values.items()})

parsed = sum(len(lines) for lines in bpftrace.values())
result(parsed > 0 and len(events) > 0, "lines-parsed",
       f"{parsed} bpftrace lines parsed for {len(events)} catalog events")

def complete(name, line):
    """Whether a bpftrace line of event NAME has every catalog field."""
    return sorted(line) == sorted(names[name])


# Per event: its catalog fields, their masks at the format file's sizes, and
# the keys its complete bpftrace lines need ftrace to have recorded.
names, masks, unsized, wanted = {}, {}, {}, {}
for event in events:
    name = event["name"]
    names[name] = [field["name"] for field in event["fields"]]
    sizes = field_sizes(event["system"], name)
    unsized[name] = [field for field in names[name] if field not in sizes]
    masks[name] = {field: (1 << (8 * sizes.get(field, 8))) - 1 for field in names[name]}
    wanted[name] = {tuple(line[field] & masks[name][field] for field in names[name])
                    for line in bpftrace.get(name, []) if complete(name, line)}

# ftrace's `fields` output: name=0x<hex> (<decimal>) for 2, 4 and 8 bytes,
# name='c'(<decimal>) or name=(<decimal>) for one byte.
FTRACE_FIELD = re.compile(r"(\w+)=(?:0x([0-9a-f]+) \(-?\d+\)|(?:'.')?\((-?\d+)\))")
recorded_count = collections.Counter()
recorded = collections.defaultdict(collections.Counter)
kept = collections.defaultdict(list)
for line in open(ftrace_path, errors="replace"):
    match = re.search(r"\s(\w+): (\w+=.*)$", line)
    if not match or line.startswith("#") or match.group(1) not in names:
        continue
    name = match.group(1)
    values = {}
    for field in FTRACE_FIELD.finditer(match.group(2)):
        values[field.group(1)] = int(field.group(2), 16) if field.group(2) else int(field.group(3))
    recorded_count[name] += 1
    key = tuple(values.get(field, -1) & masks[name][field] for field in names[name])
    if key in wanted[name]:
        recorded[name][key] += 1
    if len(kept[name]) < kept_per_event:
        kept[name].append(values)

with open(summary_path, "w") as summary:
    summary.write(f"ftrace recorded {sum(recorded_count.values())}\n")

dropped, stats_read = 0, 0
for stats_path in glob.glob(os.path.join(per_cpu_dir, "cpu*", "stats")):
    counts = re.findall(r"^dropped events: (\d+)", open(stats_path).read(), re.M)
    stats_read += len(counts)
    dropped += sum(int(value) for value in counts)
result(dropped == 0 and stats_read > 0, "ftrace-kept-every-event",
       f"ftrace dropped {dropped} events, so a bpftrace line may have no match; shrink the workloads"
       if stats_read else f"no 'dropped events' line in {per_cpu_dir}/cpu*/stats")

for event in events:
    name = event["name"]
    prefix = f'{event["system"]}.{name}'
    lines = bpftrace.get(name, [])
    result(len(lines) > 0, f"{prefix}.seen", "bpftrace printed no line for it: no workload fired it, or the probe failed")
    if not lines:
        continue
    incomplete = [line for line in lines if not complete(name, line)]
    result(not incomplete, f"{prefix}.every-field",
           f"{len(incomplete)} of {len(lines)} lines lack fields: "
           f"{sorted(set(names[name]) - set(incomplete[0])) if incomplete else ''}")
    if unsized[name]:
        result(False, f"{prefix}.matches-ftrace", f"not in the format file: {unsized[name]}")
        continue
    mask = masks[name]
    unmatched, compared = [], 0
    for line in lines:
        if line in incomplete:
            continue
        compared += 1
        key = tuple(line[field] & mask[field] for field in names[name])
        if recorded[name][key] > 0:
            recorded[name][key] -= 1
        else:
            unmatched.append(line)
    reason = ""
    if not recorded_count[name]:
        reason = "ftrace recorded none of these events"
    elif not compared:
        reason = "no bpftrace line had every field, so none was compared"
    elif unmatched:
        # The kept event closest to the first unmatched line shows which
        # fields bpftrace read differently.
        first = unmatched[0]
        closest = max(kept.get(name, [{}]), key=lambda values: sum(
            values.get(field, -1) & mask[field] == first[field] & mask[field] for field in names[name]))
        differ = [f"{field}: bpftrace {first[field] & mask[field]:#x}, ftrace {closest.get(field, -1) & mask[field]:#x}"
                  for field in names[name] if closest.get(field, -1) & mask[field] != first[field] & mask[field]]
        reason = (f"{len(unmatched)} of {len(lines)} lines match no event of the {recorded_count[name]} "
                  f"ftrace recorded; of its first {len(kept.get(name, []))}, the closest differs in {'; '.join(differ)}")
    result(not reason, f"{prefix}.matches-ftrace", reason)
EOF
echo "# bpftrace printed $(grep -c ':' "$work/bpftrace.out") event lines; $(cat "$work/summary" 2>/dev/null)"
echo 0 >"$instance/events/mmu_notifier/enable"
echo 0 >"$instance/events/hmm/enable"
rmdir "$instance"
rm -rf "$work"
