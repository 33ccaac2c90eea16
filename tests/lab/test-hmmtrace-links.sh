#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace leaves no BPF link, program or map behind, however it ends:
#
#   - SIGKILL at delays from 0 ms to past attaching, so that kills land
#     before the load, while maps and programs exist but not yet every link,
#     and while tracing;
#   - SIGINT at the same kinds of delays: before its handler is set up the
#     signal ends it (the default action), after it, it exits 0;
#   - two instances at once (top in tp_btf and in raw_tp mode, then top and
#     export): each has objects of its own, SIGKILL of one leaves the
#     other's exactly as they were, and SIGINT of the other releases the rest.
#
# Objects are told by id (bpftool -j link|prog|map list): those that exist
# after a run and did not before are left behind. The kernel frees a
# program's and a map's memory after an RCU grace period and from a
# workqueue, so "after" waits up to 30 s for them to go. The positive
# control of every "nothing left": in the same run, the objects were there
# (each instance's own while it traced; at a kill, libbpf's log says how
# far the load had come), and at least one kill landed mid-load.
#
#   HMMTRACE=PATH   test that binary instead of build/hmmtrace

. tests/lib.sh

hmmtrace=${HMMTRACE:-build/hmmtrace}
hmmtrace_path=$(readlink -f "$hmmtrace")
work=$(mktemp -d)

if [ ! -x "$hmmtrace" ]; then
	fail hmmtrace-links "$hmmtrace is not built (make hmmtrace)"
	exit 0
fi

# snapshot FILE: the ids of every BPF link, program and map, as JSON; fails
# (and writes nothing) when bpftool does or prints anything but a list.
snapshot() {
	python3 - "$1" <<'EOF'
import json, subprocess, sys
ids = {}
for kind in ("link", "prog", "map"):
    listed = json.loads(subprocess.run(["bpftool", "-j", kind, "list"], capture_output=True,
                                       text=True, check=True).stdout)
    if not isinstance(listed, list):
        sys.exit(f"bpftool {kind} list printed no list")
    ids[kind] = sorted(entry["id"] for entry in listed)
json.dump(ids, open(sys.argv[1], "w"))
EOF
}

# difference FROM TO: the ids in snapshot TO that are not in FROM, as
# "link 12 13, prog 40, map 7" (nothing when there are none).
difference() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
before, after = (json.load(open(path)) for path in sys.argv[1:3])
print(", ".join(f"{kind} {' '.join(map(str, ids))}" for kind in ("link", "prog", "map")
                if (ids := sorted(set(after[kind]) - set(before[kind])))))
EOF
}

# released NAME BEFORE: every object that snapshot BEFORE did not have is
# gone within 30 s (PASS), or names what is left (FAIL).
released() {
	local name=$1 before=$2 left=unknown
	for _ in $(seq 30); do
		if snapshot "$work/after.json" 2>"$work/snapshot.err"; then
			left=$(difference "$before" "$work/after.json")
			[ -z "$left" ] && break
		fi
		sleep 1
	done
	if [ -z "$left" ]; then
		pass "$name"
	else
		fail "$name" "left 30 s after it ended: $left $(head -c 200 "$work/snapshot.err")"
	fi
}

# milliseconds: the monotonic clock, in ms.
milliseconds() {
	echo $(($(date +%s%N) / 1000000))
}

# phase ERR: how far an hmmtrace with -v had come, from its stderr:
# "tracing" once it said so, "loading" once libbpf created a map, else "starting".
phase() {
	if grep -q 'Ctrl-C to stop' "$1"; then
		echo tracing
	elif grep -q 'created successfully' "$1"; then
		echo loading
	else
		echo starting
	fi
}

if ! snapshot "$work/before.json"; then
	fail hmmtrace-links "bpftool -j link|prog|map list failed: cannot tell what is left"
	exit 0
fi

# The reference run: how long the load and the attach take here, and its
# objects, the control that a snapshot sees hmmtrace's (links, programs and
# maps, each).
started=$(milliseconds)
"$hmmtrace" top -v >/dev/null 2>"$work/reference.err" &
pid=$!
maps_at= attached_at=
for _ in $(seq 3000); do
	[ -z "$maps_at" ] && grep -q 'created successfully' "$work/reference.err" && maps_at=$(milliseconds)
	if grep -q 'Ctrl-C to stop' "$work/reference.err"; then
		attached_at=$(milliseconds)
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.02
done
if [ -z "$attached_at" ] || [ -z "$maps_at" ]; then
	fail hmmtrace-links.reference-attaches "no 'created successfully' then 'Ctrl-C to stop' from top -v: $(grep -v '^libbpf: ' "$work/reference.err" | head -c 300)"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -rf "$work"
	exit 0
fi
snapshot "$work/reference-during.json"
ours=$(difference "$work/before.json" "$work/reference-during.json")
kill -INT "$pid"
status=0
wait "$pid" || status=$?
check hmmtrace-links.reference-exits-0-on-sigint test "$status" -eq 0
if [[ $ours == *link* && $ours == *prog* && $ours == *map* ]]; then
	pass hmmtrace-links.reference-objects-seen
else
	fail hmmtrace-links.reference-objects-seen "while top traced, the new objects were: '$ours'"
fi
released hmmtrace-links.reference-leaves-nothing "$work/before.json"
load_ms=$((maps_at - started)) attach_ms=$((attached_at - started))
echo "hmmtrace-links: maps from $load_ms ms, tracing from $attach_ms ms after start"

# Delays: fixed ones from the start, four across the reference's window
# between its first map and tracing, and one past it. Later runs find
# kallsyms and the BTF cached, so their window comes sooner: signal_at
# then halves the gap between the last delay that found it starting and
# the first that found it tracing until one lands mid-load.
delays=(0 50 100 200 400)
delay_labels=(at-0-ms at-50-ms at-100-ms at-200-ms at-400-ms)
for quarter in 0 1 2 3; do
	delays+=($((load_ms + quarter * (attach_ms - load_ms) / 4)))
	delay_labels+=("in-the-load-$quarter-of-4")
done
delays+=($((attach_ms + 500)))
delay_labels+=(tracing)

# stopped PID: PID's exit status, in stopped_status, once it has ended; or
# "hung" after 60 s, when it is killed. (Not in a subshell: only this
# shell can wait for its child.)
stopped() {
	local pid=$1
	for _ in $(seq 600); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	stopped_status=0
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		stopped_status=hung
		return
	fi
	wait "$pid" 2>/dev/null || stopped_status=$?
}

# signal_once SIGNAL NAME LABEL DELAY SUBCOMMAND...: start hmmtrace
# SUBCOMMAND -v, send SIGNAL after DELAY ms, and check its exit and what it
# left, as NAME.LABEL (a name that does not change with the delays this
# machine makes); the phase it landed in is in signal_phase. A background job of a script
# starts with SIGINT ignored; env gives it the default, as a terminal's
# Ctrl-C finds it, and execs, so that the pid is hmmtrace's.
signal_once() {
	local signal=$1 name=$2.$3 delay=$4 status pid
	shift 4
	env --default-signal=INT "$hmmtrace" "$@" -v >/dev/null 2>"$work/$name-$delay.err" &
	pid=$!
	# The delay counts from hmmtrace's exec: before it, SIGINT is still ignored.
	for _ in $(seq 500); do
		[ "$(readlink "/proc/$pid/exe")" = "$hmmtrace_path" ] && break
		sleep 0.01
	done
	# bash says "Killed" of a job SIGKILL ended, whenever it notices: not here.
	{
		sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
		kill -"$signal" "$pid"
		stopped "$pid"
	} 2>/dev/null
	status=$stopped_status
	# How far it had come when the signal ended it: all it said by then.
	signal_phase=$(phase "$work/$name-$delay.err")
	echo "hmmtrace-links: $name: at $delay ms, $signal_phase, exit $status"
	# SIGINT's handler is set once attached, just before it says so.
	case $signal:$signal_phase:$status in
	KILL:*:137 | INT:starting:130 | INT:loading:130 | INT:tracing:0) ;;
	*)
		fail "hmmtrace-links.$name.exit" "exit $status after SIG$signal at $delay ms, while $signal_phase: $(grep -v '^libbpf: ' "$work/$name-$delay.err" | head -c 300)"
		;;
	esac
	released "hmmtrace-links.$name" "$work/before.json"
}

# signal_at SIGNAL NAME SUBCOMMAND...: signal_once at every delay, then
# doubling the longest (at most 4 times) until one landed while tracing
# (SUBCOMMAND may take longer to attach than the reference), then halving
# the gap (at most 6 times) until one landed mid-load; the phases are in
# phases_SIGNAL.
signal_at() {
	local signal=$1 name=$2 index delay starting=0 tracing= landed= halving doubling
	shift 2
	for index in "${!delays[@]}"; do
		delay=${delays[index]}
		signal_once "$signal" "$name" "${delay_labels[index]}" "$delay" "$@"
		landed+=" $signal_phase"
		case $signal_phase in
		starting) [ "$delay" -gt "$starting" ] && starting=$delay ;;
		tracing) [ -z "$tracing" ] || [ "$delay" -lt "$tracing" ] && tracing=$delay ;;
		esac
	done
	delay=${delays[-1]}
	for doubling in $(seq 4); do
		[[ $landed == *tracing* ]] && break
		delay=$((2 * delay))
		signal_once "$signal" "$name" "doubling-$doubling" "$delay" "$@"
		landed+=" $signal_phase"
		case $signal_phase in
		starting) starting=$delay ;;
		tracing) tracing=$delay ;;
		esac
	done
	for halving in $(seq 6); do
		[[ $landed == *loading* ]] || [ -z "$tracing" ] && break
		delay=$(((starting + tracing) / 2))
		signal_once "$signal" "$name" "halving-$halving" "$delay" "$@"
		landed+=" $signal_phase"
		case $signal_phase in
		starting) starting=$delay ;;
		tracing) tracing=$delay ;;
		esac
	done
	eval "phases_$signal=\$landed"
}

phases_KILL= phases_INT=
signal_at KILL sigkill top
signal_at INT sigint latency
# The control that the kills did land mid-load, with objects to leak.
for signal in KILL INT; do
	eval "landed=\$phases_$signal"
	if [[ $landed == *loading* && $landed == *tracing* ]]; then
		pass "hmmtrace-links.sig${signal,,}-landed-mid-load-and-tracing"
	else
		fail "hmmtrace-links.sig${signal,,}-landed-mid-load-and-tracing" "the signals landed while:$landed"
	fi
done

# start NAME ARGUMENTS...: hmmtrace in the background, back once tracing.
start() {
	local name=$1
	shift
	"$hmmtrace" "$@" >/dev/null 2>"$work/$name.err" &
	echo $! >"$work/$name.pid"
	for _ in $(seq 900); do
		grep -q 'Ctrl-C to stop' "$work/$name.err" && return 0
		kill -0 "$(cat "$work/$name.pid")" 2>/dev/null || break
		sleep 0.1
	done
	fail "hmmtrace-links.$name.attaches" "$(head -c 300 "$work/$name.err")"
	return 1
}

# together NAME FIRST... -- SECOND...: two instances at once. The first's
# objects (alone), then both; SIGKILL of the first must leave exactly the
# second's, and SIGINT of the second (exit 0) the rest.
together() {
	local name=$1 first=() second=() status
	shift
	while [ "$1" != -- ]; do
		first+=("$1")
		shift
	done
	shift
	second=("$@")
	start "$name-first" "${first[@]}" || return
	snapshot "$work/$name-first.json"
	if ! start "$name-second" "${second[@]}"; then
		kill -KILL "$(cat "$work/$name-first.pid")"
		wait "$(cat "$work/$name-first.pid")" 2>/dev/null
		return
	fi
	snapshot "$work/$name-both.json"
	first_objects=$(difference "$work/before.json" "$work/$name-first.json")
	second_objects=$(difference "$work/$name-first.json" "$work/$name-both.json")
	if [[ $first_objects == *link*prog*map* && $second_objects == *link*prog*map* ]]; then
		pass "hmmtrace-links.$name.each-has-its-own"
	else
		fail "hmmtrace-links.$name.each-has-its-own" "first: '$first_objects'; second: '$second_objects'"
	fi
	{
		kill -KILL "$(cat "$work/$name-first.pid")"
		wait "$(cat "$work/$name-first.pid")"
	} 2>/dev/null
	# What the second holds is exactly what it had: not one of its objects gone,
	# and (within 30 s) none of the first's left.
	for _ in $(seq 30); do
		snapshot "$work/$name-second-alone.json"
		left=$(difference "$work/before.json" "$work/$name-second-alone.json")
		[ "$left" = "$second_objects" ] && break
		sleep 1
	done
	check "hmmtrace-links.$name.sigkill-of-one-leaves-the-other-whole" test "$left" = "$second_objects"
	check "hmmtrace-links.$name.the-other-still-traces" kill -0 "$(cat "$work/$name-second.pid")"
	kill -INT "$(cat "$work/$name-second.pid")"
	status=0
	wait "$(cat "$work/$name-second.pid")" || status=$?
	check "hmmtrace-links.$name.the-other-exits-0-on-sigint" test "$status" -eq 0
	released "hmmtrace-links.$name.leaves-nothing" "$work/before.json"
}

if [ -d /sys/kernel/tracing/events/mmu_notifier ]; then
	together two-modes top --mode tp_btf -- top --mode raw_tp
else
	together two-modes top --mode fentry -- top --mode kprobe
fi
together top-and-export top -- export --textfile "$work/metrics.prom" -i 1
rm -rf "$work"
