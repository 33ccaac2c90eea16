#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""What the kernel said during one lab test, and whether any of it is a splat.

    kernel_log.py begin NAME    write a marker for test NAME into the kernel log
    kernel_log.py check NAME    read the log from NAME's last marker on and
                                print one line per splat found
    kernel_log.py boot          the same for everything before any marker
    kernel_log.py scan FILE     the same check on a saved log (host tests)
    kernel_log.py leaks FILE    one line per object of a kmemleak report
                                (/sys/kernel/debug/kmemleak, or a saved one)

The log is read from /dev/kmsg, which `dmesg -C` does not clear (a test may
clear it). A marker the reader cannot find means the ring buffer dropped it
or the reader is broken: that is an error too, never a clean result.

Exit status: 0 when clean, 1 when a splat was found, 4 when only known
ones were (KNOWN: reports of code outside hmmtrace, understood and printed
as "known: ..."), 3 when the marker is missing or the log cannot be read, 64
on a bad command line.
"""

import errno
import os
import re
import sys

MARKER = "hmmtrace-lab: begin "

# What fails a test, and how it is named. A report's first line carries the
# kind; its later lines (stacks, registers) are not matched again.
SPLATS = [
    ("kasan", re.compile(r"BUG: KASAN: ")),
    ("kfence", re.compile(r"BUG: KFENCE: ")),
    ("lockdep", re.compile(r"WARNING: (possible (circular|recursive) locking|inconsistent lock state|"
                           r"possible irq lock inversion|suspicious RCU usage|bad unlock balance|"
                           r"held lock freed|lock held when returning to user space|"
                           r"Nested lock was not taken)")),
    ("lockdep", re.compile(r"BUG: (workqueue leaked lock|held lock freed|MAX_LOCKDEP)")),
    ("sleep-in-atomic", re.compile(r"BUG: (sleeping function called from invalid context|"
                                   r"scheduling while atomic)")),
    ("debug-objects", re.compile(r"ODEBUG: .*object( type)?: ")),
    ("list-corruption", re.compile(r"list_(add|del) corruption")),
    ("refcount", re.compile(r"refcount_t: ")),
    ("bad-page", re.compile(r"BUG: Bad (page|rss)")),
    ("oops", re.compile(r"(BUG: (unable to handle|kernel NULL pointer)|general protection fault|"
                        r"kernel BUG at |Oops: )")),
    ("kmemleak", re.compile(r"kmemleak: \d+ new suspected memory leaks")),
    ("ubsan", re.compile(r"UBSAN: ")),
    ("hung-task", re.compile(r"INFO: task .* blocked for more than")),
    ("rcu-stall", re.compile(r"rcu: INFO: rcu_\w+ (self-)?detected stall")),
    ("warning", re.compile(r"WARNING: CPU: \d+ PID: \d+ at ")),
    ("bug", re.compile(r"(^|[^A-Z])BUG: ")),	# not ODEBUG's banners
]


# Reports of code outside hmmtrace that are known and understood: each is
# matched by KIND and a line of its first REPORT_LINES, and is printed as
# "known: ..." (the lab counts it as a known failure, never as a pass).
REPORT_LINES = 12
KNOWN = [
    ("lockdep", re.compile(r"\(&mdevice->devmem_lock\).*at: dmirror_allocate_chunk\+.*\[test_hmm\]"),
     "lib/test_hmm.c (upstream): dmirror_allocate_chunk() calls memremap_pages(), which takes "
     "cpu_hotplug_lock, under devmem_lock, and HMM_DMIRROR_MIGRATE_TO_DEV takes devmem_lock "
     "under mmap_lock; perf takes mmap_lock under cpu_hotplug_lock"),
]


# Leaks kmemleak reports of code outside hmmtrace, known and understood:
# each is matched by the task that allocated it and the frames of its
# allocation. A module's frames show as bare addresses once it is unloaded.
KNOWN_LEAKS = [
    ("modprobe", re.compile(r"^(device_add\+\S+ cdev_device_add|kobject_set_name_vargs\+\S+ dev_set_name)"
                            r"\+\S+ (0x[0-9a-f]+|dmirror_device_init\+\S+( \[test_hmm\])?) do_one_initcall\+"),
     "lib/test_hmm.c (upstream): dmirror_device_init() calls device_initialize(), and "
     "dmirror_device_remove() never calls put_device(), so the device's private data and "
     "name leak at rmmod; posted as 'mm/hmm/test: Fix error handling in dmirror_device_init' "
     "(Ma Ke, 2025-11-08)"),
]


def known_reason(kind, following):
    for known_kind, pattern, reason in KNOWN:
        if kind == known_kind and any(pattern.search(line) for line in following):
            return reason
    return None


def splat_of(message):
    for kind, pattern in SPLATS:
        if pattern.search(message):
            return kind
    return None


def read_kmsg():
    """Every record in the ring buffer, as (message, lost_before) pairs."""
    records = []
    lost = False
    descriptor = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    try:
        while True:
            try:
                record = os.read(descriptor, 8192)
            except OSError as error:
                if error.errno == errno.EAGAIN:
                    break
                if error.errno == errno.EPIPE:	# overwritten while reading
                    lost = True
                    continue
                raise
            header, _, text = record.decode("utf-8", "replace").partition(";")
            records.append((text.split("\n", 1)[0], lost))
            lost = False
    finally:
        os.close(descriptor)
    return records


def since_marker(records, name):
    """The messages after NAME's last marker, or None when it is missing."""
    marker = MARKER + name
    for index in range(len(records) - 1, -1, -1):
        if records[index][0] == marker:
            return [message for message, _ in records[index + 1:]]
    return None


def report(messages):
    """Print each splat; 1 if one is not known, 4 if all found are known, else 0."""
    messages = list(messages)
    found = known = 0
    for index, message in enumerate(messages):
        kind = splat_of(message)
        if not kind:
            continue
        reason = known_reason(kind, messages[index + 1:index + 1 + REPORT_LINES])
        if reason:
            print(f"known: {kind}: {message.strip()} ({reason})")
            known += 1
        else:
            print(f"{kind}: {message.strip()}")
            found += 1
    return 1 if found else 4 if known else 0


def leak_objects(lines):
    """Each object of a kmemleak report: (address and size, task, frames)."""
    objects = []
    in_backtrace = False
    for line in lines:
        match = re.match(r"unreferenced object (0x[0-9a-f]+ \(size \d+\))", line)
        if match:
            objects.append([match.group(1), "", []])
            in_backtrace = False
            continue
        if not objects:
            continue
        comm = re.match(r'\s+comm "([^"]*)", pid (\d+)', line)
        if comm:
            objects[-1][1] = f"{comm.group(1)} pid {comm.group(2)}"
        elif re.match(r"\s+backtrace", line):
            in_backtrace = True
        elif re.match(r"\s+hex dump", line):
            in_backtrace = False
        elif in_backtrace:
            # Since 6.2 a frame has no [<address>] unless kptr_restrict allows it.
            frame = re.match(r"\s+(?:\[<[0-9a-f]+>\] )?(\S+)", line)
            if frame:
                objects[-1][2].append(frame.group(1))
    return objects


# The allocator's own frames, which say nothing of who allocated.
ALLOCATOR_FRAME = re.compile(r"^(kmemleak|kmalloc|__kmalloc|slab_post|__kmem|kmem_cache_alloc|"
                             r"__alloc|__kvmalloc|kvmalloc|kvasprintf|kstrdup|krealloc)")


def leaks(lines):
    """Print each leaked object not known, and each known reason once with
    its objects' count and first one; 1 if one is not known, 4 if all are
    known, else 0."""
    found = 0
    known = {}
    for address, task, frames in leak_objects(lines):
        callers = [frame for frame in frames if not ALLOCATOR_FRAME.match(frame)]
        summary = f"unreferenced object {address}, {task or 'no task'}, from {' '.join(callers[:4])}"
        reason = next((reason for known_task, pattern, reason in KNOWN_LEAKS
                       if task.startswith(known_task + " ") and pattern.search(" ".join(callers))), None)
        if reason:
            known.setdefault(reason, []).append(summary)
        else:
            print(f"kmemleak: {summary}")
            found += 1
    for reason, summaries in known.items():
        print(f"known: kmemleak: {len(summaries)} objects, the first {summaries[0]} ({reason})")
    return 1 if found else 4 if known else 0


def main(argv):
    if argv[1:] == ["boot"]:
        argv = argv + [""]
    if len(argv) != 3 or argv[1] not in ("begin", "check", "scan", "boot", "leaks"):
        print("usage: kernel_log.py begin|check NAME | boot | scan FILE | leaks FILE", file=sys.stderr)
        return 64
    command, name = argv[1], argv[2]
    if command in ("scan", "leaks"):
        try:
            with open(name, encoding="utf-8", errors="replace") as log:
                lines = [line.rstrip("\n") for line in log]
        except OSError as error:
            print(f"cannot read {name}: {error.strerror}")
            return 3
        return report(lines) if command == "scan" else leaks(lines)
    if command == "begin":
        # At KERN_ERR, so that the serial console shows it too: if the
        # kernel dies, run-lab.sh names the test that was running.
        with open("/dev/kmsg", "w") as kmsg:
            kmsg.write("<3>" + MARKER + name + "\n")
        return 0
    try:
        records = read_kmsg()
    except OSError as error:
        print(f"cannot read /dev/kmsg: {error.strerror}")
        return 3
    if command == "boot":
        if not records:
            print("the kernel log is empty")
            return 3
        return report(message for message, _ in records if not message.startswith(MARKER))
    messages = since_marker(records, name)
    if messages is None:
        print(f"the marker of {name} is not in the kernel log (the ring buffer dropped it)")
        return 3
    return report(messages)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
