#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# hmmtrace causes against the kernel's own invalidators, each made to act on
# a mirrored buffer on purpose (sim_mirror_workload's numa-balancing,
# khugepaged, ksm and pageout scenarios), each under its own causes tracer:
#
#   NUMA balancing  the task's own task_numa_work(): protection_vma, protection; then
#                   its hinting faults' migrations (the task's, and the device's kworkers')
#   khugepaged      the khugepaged thread: thp_collapse
#   KSM             the ksmd thread (ksm_scan_thread): ksm
#   MADV_PAGEOUT    reclaim inside madvise(), to swap on a brd RAM disk
#
# When they act is the kernel's choice, so the cause's row must count at
# least one invalidation. Every invalidation sim_mirror counted must be in
# the cause's rows (exactly for a process; at least for a kernel thread
# or NUMA scanning, which may act again before the exit releases the ranges), the exit's
# release and unmap of each range in theirs, and nothing anywhere else.
# Each kernel knob turned is put back. Patched kernel, tp_btf.

. tests/lib.sh

hmmtrace=${HMMTRACE:-build/hmmtrace}
workload=build/tests/sim_mirror_workload
work=$(mktemp -d)
. tests/lab/hmmtrace_tracers.sh

if [ ! -d /sys/kernel/tracing/events/mmu_notifier ]; then
	skip causes-kernel "needs the patched kernel's tracepoints (exact totals)"
	exit 0
fi
insmod "build/sim_mirror/$KERNEL_VARIANT/sim_mirror.ko" 2>/dev/null

# knob PATH VALUE: set a kernel knob, remembering it for restore_knobs.
restored=()
knob() {
	[ -w "$1" ] || return 1
	restored+=("$1=$(cat "$1" | sed 's/.*\[\(.*\)\].*/\1/')")
	echo "$2" >"$1"
}
restore_knobs() {
	local index entry
	for ((index = ${#restored[@]} - 1; index >= 0; index--)); do
		entry=${restored[index]}
		echo "${entry#*=}" >"${entry%%=*}" 2>/dev/null
	done
	restored=()
}
trap restore_knobs EXIT

# scenario NAME EVENT CONTEXT ENTRY PATH ALSO [WORKLOAD OPTIONS...]: one tracer, one
# workload run. ALSO: the (path) of other rows that the cause brings, or -.
scenario() {
	local name=$1 event=$2 context=$3 entry=$4 path=$5 also=$6
	shift 6
	start_tracer "$name" causes --mode tp_btf -i 1000 || return
	"$workload" "$name" --json "$@" >"$work/$name.truth" 2>&1 &
	echo $! >"$work/$name.workload"
	wait $! || fail "causes-kernel.$name.workload" "$(tail -c 300 "$work/$name.truth")"
	stop_tracer "$name"
	run_checker "causes-kernel.$name" python3 - "$work/$name.json" "$work/$name.truth" \
		"$(cat "$work/$name.workload")" "$event" "$context" "$entry" "$path" "$also" <<'PYTHON'
import json, sys
output, truth_path, pid, event, context, entry, path, also = sys.argv[1:9]


def check(name, held, detail=""):
    print(f"{'PASS' if held else 'FAIL'}\t{name}\t{'' if held else detail}")


objects = [json.loads(line) for line in open(output) if line.strip()]
rows = [r for o in objects for r in o.get("causes", []) if r.get("driver") == "sim_mirror"]
check("rows", objects and rows, f"{len(objects)} objects, {len(rows)} rows")
truth = json.load(open(truth_path))
check("workload", truth.get("ok") is True, f"{truth}")
kernel_thread = context != "process"
found = [r for r in rows if r["event"] == event and r["entry"] == entry and r["path"] == path and
         (r["context"] == context and r["context_kind"] == "kernel_thread" and r["pid"] == 0
          if kernel_thread else r["pid"] == int(pid) and r["context_kind"] == "process")]
count = sum(r["invalidations"] for r in found)
check("cause", count >= 1, f"no ({event}, {context}, {entry}, {path}) row in "
      f"{[(r['event'], r['context'], r['entry'], r['path'], r['invalidations']) for r in rows]}")
ranges = truth["ranges"]
# The exit's release and 0..~0 unmap of each range, after the workload printed its counts.
exits = [r for r in rows if r["entry"] == "exit_group" and r["pid"] == int(pid) and
         (r["event"], r["path"]) in (("release", "release"), ("unmap", "unmap"))]
exit_count = sum(r["invalidations"] for r in exits)
check("exit", exit_count == 2 * ranges, f"{exit_count} exit invalidations, want {2 * ranges}")
brought = [r for r in rows if r["path"] in also.split(",") and r not in exits]
elsewhere = [(r["event"], r["context"], r["entry"], r["path"], r["invalidations"])
             for r in rows if r not in found and r not in exits and r not in brought]
count += sum(r["invalidations"] for r in brought)
check("nothing-elsewhere", not elsewhere and found, f"{elsewhere}")
# sim_mirror's count when the workload printed it. A process's own invalidations
# end there; a kernel thread's may go on until the exit releases the ranges.
counted = truth["counters"]["invalidations"]
# So may NUMA scanning, on the task's way back to user space before its exit.
if kernel_thread or also != "-":
    check("every-invalidation", count >= counted, f"{count} in the cause's rows, sim_mirror counted {counted}")
else:
    check("every-invalidation", count == counted, f"{count} in the cause's rows, sim_mirror counted {counted}")
PYTHON
}

# NUMA balancing: on, and scanning at once (6.12 keeps its knobs in debugfs).
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
numa=/sys/kernel/debug/sched/numa_balancing
if knob /proc/sys/kernel/numa_balancing 1; then
	knob "$numa/scan_delay_ms" 0
	knob "$numa/scan_period_min_ms" 10
	# Its hinting faults then migrate pages: the task's, and the device's in sim_mirror's kworkers.
	scenario numa-balancing protection_vma process task_numa_work protection migration --duration 30
	restore_knobs
else
	skip causes-kernel.numa-balancing "no kernel.numa_balancing (CONFIG_NUMA_BALANCING)"
fi

# khugepaged: for madvised memory, scanning every 10 ms.
thp=/sys/kernel/mm/transparent_hugepage
if knob "$thp/enabled" madvise; then
	knob "$thp/khugepaged/scan_sleep_millisecs" 10
	knob "$thp/khugepaged/alloc_sleep_millisecs" 10
	knob "$thp/khugepaged/pages_to_scan" 4096
	scenario khugepaged clear khugepaged khugepaged thp_collapse - --ranges 2 --duration 60
	restore_knobs
else
	skip causes-kernel.khugepaged "no transparent hugepages"
fi

# KSM: ksmd running every 10 ms; run=2 unmerges what it merged before it stops.
if knob /sys/kernel/mm/ksm/run 1; then
	knob /sys/kernel/mm/ksm/sleep_millisecs 10
	knob /sys/kernel/mm/ksm/pages_to_scan 1000
	scenario ksm clear ksmd ksm_scan_thread ksm - --ranges 1 --pages 512 --duration 60
	echo 2 >/sys/kernel/mm/ksm/run
	restore_knobs
else
	skip causes-kernel.ksm "no KSM (CONFIG_KSM)"
fi

# MADV_PAGEOUT: swap on a RAM disk (brd, 4 MiB); 2 MiB of pages to reclaim.
mkswap_command=$(command -v mkswap || echo "busybox mkswap")
if [ -b /dev/ram0 ] && $mkswap_command /dev/ram0 >/dev/null 2>&1 && swapon /dev/ram0 2>/dev/null; then
	scenario pageout clear process madvise reclaim - --ranges 1 --pages 512
	swapoff /dev/ram0
else
	skip causes-kernel.pageout "no swap: /dev/ram0 (CONFIG_BLK_DEV_RAM, CONFIG_SWAP) or mkswap missing"
fi
rmmod sim_mirror
