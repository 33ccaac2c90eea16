// SPDX-License-Identifier: GPL-2.0-only
/*
 * Workloads for the sim_mirror device (kernel/drivers/sim_mirror). Each
 * scenario drives the MMU interval notifier in one way, then prints the
 * driver's ground-truth counters next to what the scenario expects: exact
 * counts where the kernel's behaviour makes them deterministic, bounds
 * otherwise. Coherence is checked by comparing what the device reads through
 * its mirror with what the CPU wrote.
 *
 *   sim_mirror_workload SCENARIO [options] [--json]
 *
 * Buffers are 2 MiB aligned, whole 2 MiB multiples, within one 1 GiB page
 * table, with THP off unless the scenario is about THP: then every munmap,
 * madvise and mprotect below produces one notifier range per call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim_mirror_uapi.h"
#include "workload.h"

#define MAX_EXPECTATIONS 16

#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

enum comparison { EXACTLY, AT_LEAST };

struct expectation {
	const char *counter;
	enum comparison comparison;
	unsigned long long value;
};

struct options {
	const char *scenario;
	unsigned long ranges;
	unsigned long pages;		/* per range */
	unsigned long iterations;
	double duration;
	unsigned long threads;
	unsigned int seed;
	unsigned long hold_seconds;	/* many-ranges: how long the ranges stay live */
	bool unregister;		/* race: remove the ranges before the counters are read */
	bool exit_subscribed;		/* churn: each process exits with its range live */
	unsigned long stalls;		/* livelock: the timeouts to sit through */
	bool json;
	struct sim_mirror_knobs knobs;
};

struct report {
	struct expectation expectations[MAX_EXPECTATIONS];
	int expectation_count;
	bool checks_passed;
	const char *failed_check;
	double elapsed_seconds;
	double longest_access_seconds;
	const char *skipped;
};

static int device = -1;
static struct options options;
static struct report report = { .checks_passed = true };

static void die(const char *what)
{
	fprintf(stderr, "sim_mirror_workload: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void expect(const char *counter, enum comparison comparison,
		   unsigned long long value)
{
	if (report.expectation_count == MAX_EXPECTATIONS) {
		fprintf(stderr, "sim_mirror_workload: too many expectations\n");
		exit(1);
	}
	report.expectations[report.expectation_count++] =
		(struct expectation){ counter, comparison, value };
}

static void check_failed(const char *note)
{
	report.checks_passed = false;
	report.failed_check = note;
}

static void fill(char *start, size_t bytes, unsigned int pattern)
{
	for (size_t offset = 0; offset < bytes; offset += sizeof(unsigned int))
		*(unsigned int *)(start + offset) = pattern ^ (unsigned int)offset;
}

static bool holds_pattern(const char *start, size_t bytes, unsigned int pattern)
{
	for (size_t offset = 0; offset < bytes; offset += sizeof(unsigned int))
		if (*(const unsigned int *)(start + offset) != (pattern ^ (unsigned int)offset))
			return false;
	return true;
}

static bool all_zero(const char *start, size_t bytes)
{
	for (size_t offset = 0; offset < bytes; offset++)
		if (start[offset])
			return false;
	return true;
}

static uint32_t register_range(char *start, size_t bytes)
{
	struct sim_mirror_range range = {
		.size = sizeof(range),
		.start = (uintptr_t)start,
		.length = bytes,
	};

	if (ioctl(device, SIM_MIRROR_ADD_RANGE, &range))
		die("SIM_MIRROR_ADD_RANGE");
	return range.range_id;
}

static void unregister_range(uint32_t range_id)
{
	struct sim_mirror_range_id request = { .size = sizeof(request), .range_id = range_id };

	if (ioctl(device, SIM_MIRROR_REMOVE_RANGE, &request))
		die("SIM_MIRROR_REMOVE_RANGE");
}

/* A device access; returns 0 or -errno, and tracks the longest one. */
static int device_access(unsigned long request, uint32_t range_id, char *start,
			 size_t bytes, void *data)
{
	struct sim_mirror_access access = {
		.size = sizeof(access),
		.range_id = range_id,
		.address = (uintptr_t)start,
		.length = bytes,
		.buffer = (uintptr_t)data,
	};
	double began = monotonic_seconds(), took;
	int ret = ioctl(device, request, &access) ? -errno : 0;

	took = monotonic_seconds() - began;
	if (took > report.longest_access_seconds)
		report.longest_access_seconds = took;
	return ret;
}

static void device_read(uint32_t range_id, char *start, size_t bytes, void *data)
{
	int ret = device_access(SIM_MIRROR_READ, range_id, start, bytes, data);

	if (ret) {
		errno = -ret;
		die("SIM_MIRROR_READ");
	}
}

static struct sim_mirror_counters counters_of(uint32_t range_id)
{
	struct sim_mirror_counters_query query = { .size = sizeof(query), .range_id = range_id };

	if (ioctl(device, SIM_MIRROR_GET_COUNTERS, &query))
		die("SIM_MIRROR_GET_COUNTERS");
	return query.counters;
}

static unsigned long batches_per_range(void)
{
	return (options.pages + options.knobs.fault_batch_pages - 1) /
	       options.knobs.fault_batch_pages;
}

/* R ranges tiling one buffer; the CPU writes a pattern, the device reads it. */
struct tiled {
	struct buffer buffer;
	size_t range_bytes;
	uint32_t *range_ids;
	char *data;
};

static struct tiled tiled_setup(bool huge)
{
	struct tiled tiled = { .range_bytes = options.pages * PAGE_BYTES };
	size_t total = tiled.range_bytes * options.ranges;

	tiled.buffer = buffer_map(total, huge);
	tiled.range_ids = calloc(options.ranges, sizeof(*tiled.range_ids));
	tiled.data = malloc(tiled.range_bytes);
	if (!tiled.range_ids || !tiled.data)
		die("malloc");
	fill(tiled.buffer.start, total, options.seed);
	for (unsigned long index = 0; index < options.ranges; index++)
		tiled.range_ids[index] = register_range(
			tiled.buffer.start + index * tiled.range_bytes, tiled.range_bytes);
	return tiled;
}

static char *range_start(const struct tiled *tiled, unsigned long index)
{
	return tiled->buffer.start + index * tiled->range_bytes;
}

/* Device-read every range; check it sees what the CPU wrote (or zeros). */
static void sweep(const struct tiled *tiled, bool expect_zero)
{
	for (unsigned long index = 0; index < options.ranges; index++) {
		char *start = range_start(tiled, index);

		device_read(tiled->range_ids[index], start, tiled->range_bytes, tiled->data);
		if (expect_zero ? !all_zero(tiled->data, tiled->range_bytes) :
				  memcmp(tiled->data, start, tiled->range_bytes))
			check_failed(expect_zero ? "the device read stale data after DONTNEED" :
						 "the device read differs from the CPU's data");
	}
}

static void scenario_fault_sweep(void)
{
	struct tiled tiled = tiled_setup(false);

	sweep(&tiled, false);
	expect("inserts", EXACTLY, options.ranges);
	expect("faults", EXACTLY, options.ranges * batches_per_range());
	expect("read_begins", EXACTLY, options.ranges * batches_per_range());
	expect("pages_mirrored", EXACTLY, options.ranges * options.pages);
	expect("retries", EXACTLY, 0);
	expect("invalidations", EXACTLY, 0);
}

static void scenario_storm(void)
{
	struct tiled tiled = tiled_setup(false);

	sweep(&tiled, false);
	for (unsigned long iteration = 0; iteration < options.iterations; iteration++) {
		if (madvise(tiled.buffer.start, tiled.buffer.bytes, MADV_DONTNEED))
			die("madvise(MADV_DONTNEED)");
		sweep(&tiled, true);
	}
	if (munmap(tiled.buffer.start, tiled.buffer.bytes))
		die("munmap");
	expect("invalidations", EXACTLY, options.ranges * (options.iterations + 1));
	expect("faults", EXACTLY, options.ranges * batches_per_range() * (options.iterations + 1));
	expect("retries", EXACTLY, 0);
}

static void scenario_mprotect(void)
{
	struct tiled tiled = tiled_setup(false);
	int write_refused = 0;

	sweep(&tiled, false);
	for (unsigned long iteration = 0; iteration < options.iterations; iteration++) {
		if (mprotect(tiled.buffer.start, tiled.buffer.bytes, PROT_READ))
			die("mprotect(PROT_READ)");
		if (iteration == 0 &&
		    device_access(SIM_MIRROR_WRITE, tiled.range_ids[0], range_start(&tiled, 0),
				  tiled.range_bytes, tiled.data) == -EPERM)
			write_refused = 1;
		if (mprotect(tiled.buffer.start, tiled.buffer.bytes, PROT_READ | PROT_WRITE))
			die("mprotect(PROT_READ | PROT_WRITE)");
	}
	if (options.iterations && !write_refused)
		check_failed("a device write to a read-only mapping was not refused with EPERM");
	/* change_protection() notifies both ways: write-protect and unprotect. */
	expect("invalidations", EXACTLY, 2 * options.ranges * options.iterations);
}

static void scenario_fork_cow(void)
{
	struct tiled tiled = tiled_setup(false);
	int release_child[2];
	pid_t child;
	char byte;

	sweep(&tiled, false);
	if (pipe(release_child))
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		/* Keep the pages shared until the parent has broken COW on each. */
		close(release_child[1]);
		if (read(release_child[0], &byte, 1) < 0)
			_exit(2);
		_exit(holds_pattern(tiled.buffer.start, tiled.buffer.bytes, options.seed) ? 0 : 1);
	}
	fill(tiled.buffer.start, tiled.buffer.bytes, options.seed + 1);
	sweep(&tiled, false);
	close(release_child[1]);
	int status;

	if (waitpid(child, &status, 0) < 0)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		check_failed("the child saw the parent's writes after fork");
	/* fork write-protects each range once; each CPU write then copies a page. */
	expect("invalidations", EXACTLY, options.ranges * (1 + options.pages));
	expect("faults", EXACTLY, 2 * options.ranges * batches_per_range());
}

static void scenario_thp(void)
{
	struct tiled tiled;
	unsigned long before;

	options.pages = PMD_BYTES / PAGE_BYTES;
	tiled = tiled_setup(true);
	sweep(&tiled, false);
	before = counters_of(0).invalidations;
	/* Split every PMD by write-protecting half of it... */
	for (unsigned long index = 0; index < options.ranges; index++)
		if (mprotect(range_start(&tiled, index), PMD_BYTES / 2, PROT_READ))
			die("mprotect(half a PMD)");
	for (unsigned long index = 0; index < options.ranges; index++)
		if (mprotect(range_start(&tiled, index), PMD_BYTES / 2, PROT_READ | PROT_WRITE))
			die("mprotect(half a PMD)");
	/* ...and collapse it again where the kernel can. */
	if (madvise(tiled.buffer.start, tiled.buffer.bytes, MADV_COLLAPSE) && errno != EINVAL &&
	    errno != EAGAIN)
		die("madvise(MADV_COLLAPSE)");
	sweep(&tiled, false);
	if (counters_of(0).invalidations == before)
		check_failed("splitting a THP invalidated nothing");
	expect("invalidations", AT_LEAST, options.ranges);
	expect("retries", EXACTLY, 0);
}

/* Nodes with memory, from /proc/zoneinfo ("Node 1, zone ..."). */
static int numa_nodes(void)
{
	FILE *zoneinfo = fopen("/proc/zoneinfo", "r");
	char line[256];
	int highest = -1, node;

	if (!zoneinfo)
		return 1;
	while (fgets(line, sizeof(line), zoneinfo))
		if (sscanf(line, "Node %d,", &node) == 1 && node > highest)
			highest = node;
	fclose(zoneinfo);
	return highest + 1;
}

static void scenario_migrate(void)
{
	struct tiled tiled = tiled_setup(false);
	unsigned long pages = options.ranges * options.pages;
	void **addresses = calloc(pages, sizeof(void *));
	int *nodes = calloc(pages, sizeof(int)), *status = calloc(pages, sizeof(int));

	if (!addresses || !nodes || !status)
		die("calloc");
	sweep(&tiled, false);
	for (unsigned long page = 0; page < pages; page++)
		addresses[page] = tiled.buffer.start + page * PAGE_BYTES;
	/* Where is each page now? Move it to the other of nodes 0 and 1. */
	if (numa_nodes() < 2 || syscall(SYS_move_pages, 0, pages, addresses, NULL, status, 0)) {
		report.skipped = "the guest has one NUMA node";
		return;
	}
	for (unsigned long page = 0; page < pages; page++)
		nodes[page] = status[page] == 0 ? 1 : 0;
	if (syscall(SYS_move_pages, 0, pages, addresses, nodes, status, MPOL_MF_MOVE)) {
		report.skipped = "move_pages() failed: the guest has one NUMA node";
		return;
	}
	for (unsigned long page = 0; page < pages; page++)
		if (status[page] != nodes[page]) {
			check_failed("move_pages() left a page behind");
			break;
		}
	sweep(&tiled, false);
	/* Each migrated page is unmapped, and so invalidated, at least once. */
	expect("invalidations", AT_LEAST, pages);
}

/*
 * The kernel's own invalidators, for `hmmtrace causes`: a mirrored buffer
 * that NUMA balancing, khugepaged, ksmd or reclaim acts on. Whether and
 * when they act is the kernel's choice, so each waits, touching its memory,
 * until sim_mirror counts an invalidation or --duration passes, and expects at
 * least one. The lab test sets the kernel's knobs (tests/lab/).
 */
static bool invalidated_within(const struct tiled *tiled, unsigned long before, bool touch)
{
	double deadline = monotonic_seconds() + options.duration;
	volatile char sink;

	while (counters_of(0).invalidations == before && monotonic_seconds() < deadline) {
		for (size_t offset = 0; touch && offset < tiled->buffer.bytes; offset += PAGE_BYTES)
			sink = tiled->buffer.start[offset];
		if (!touch)
			usleep(10000);
	}
	(void)sink;
	return counters_of(0).invalidations != before;
}

static void expect_kernel_invalidation(const struct tiled *tiled, unsigned long before, bool touch,
				       const char *who)
{
	char note[128];

	if (!invalidated_within(tiled, before, touch)) {
		snprintf(note, sizeof(note), "%s invalidated nothing in %.0f s", who, options.duration);
		check_failed(note);
	}
	sweep(tiled, false);
	expect("invalidations", AT_LEAST, 1);
}

/* task_numa_work() write-protects (PROT_NONE) the memory a task touches, for hinting faults. */
static void scenario_numa_balancing(void)
{
	struct tiled tiled = tiled_setup(false);

	sweep(&tiled, false);
	expect_kernel_invalidation(&tiled, counters_of(0).invalidations, true, "NUMA balancing");
}

/* 4 KiB pages first, then MADV_HUGEPAGE: khugepaged collapses each 2 MiB. */
static void scenario_khugepaged(void)
{
	struct tiled tiled = tiled_setup(false);

	sweep(&tiled, false);
	if (madvise(tiled.buffer.start, tiled.buffer.bytes, MADV_HUGEPAGE))
		die("madvise(MADV_HUGEPAGE)");
	expect_kernel_invalidation(&tiled, counters_of(0).invalidations, false, "khugepaged");
}

/* Identical pages made mergeable: ksmd write-protects and replaces them. */
static void scenario_ksm(void)
{
	struct tiled tiled = tiled_setup(false);

	memset(tiled.buffer.start, 0x5a, tiled.buffer.bytes);
	sweep(&tiled, false);
	if (madvise(tiled.buffer.start, tiled.buffer.bytes, MADV_MERGEABLE))
		die("madvise(MADV_MERGEABLE)");
	expect_kernel_invalidation(&tiled, counters_of(0).invalidations, false, "ksmd");
}

/* MADV_PAGEOUT reclaims the pages to swap, unmapping each: reclaim inside madvise(). */
static void scenario_pageout(void)
{
	struct tiled tiled = tiled_setup(false);
	unsigned long before;

	sweep(&tiled, false);
	before = counters_of(0).invalidations;
	if (madvise(tiled.buffer.start, tiled.buffer.bytes, MADV_PAGEOUT))
		die("madvise(MADV_PAGEOUT)");
	if (counters_of(0).invalidations == before)
		check_failed("MADV_PAGEOUT reclaimed nothing (is swap on?)");
	sweep(&tiled, false);
	expect("invalidations", AT_LEAST, 1);
}

/*
 * Device reads while CPU threads keep zapping and rewriting the ranges. Each
 * read_begin ends in exactly one of: a serviced fault, a read_retry, or an
 * -EBUSY from hmm_range_fault.
 */
static void scenario_race(void)
{
	struct tiled tiled = tiled_setup(false);
	pthread_t threads[16];
	struct racer racer = { .start = tiled.buffer.start, .bytes = tiled.buffer.bytes };
	unsigned long thread_count = options.threads ? options.threads : 1;
	double deadline = monotonic_seconds() + options.duration;
	struct sim_mirror_counters counters;
	unsigned long timed_out = 0;

	if (thread_count > 16)
		thread_count = 16;
	racer.deadline = deadline;
	atomic_init(&racer.stop, false);
	for (unsigned long thread = 0; thread < thread_count; thread++)
		if (pthread_create(&threads[thread], NULL, racer_main, &racer))
			die("pthread_create");
	while (monotonic_seconds() < deadline)
		for (unsigned long index = 0; index < options.ranges; index++)
			if (device_access(SIM_MIRROR_READ, tiled.range_ids[index],
					  range_start(&tiled, index), tiled.range_bytes,
					  tiled.data) == -EBUSY)
				timed_out++;
	atomic_store(&racer.stop, true);
	for (unsigned long thread = 0; thread < thread_count; thread++)
		pthread_join(threads[thread], NULL);
	/* Then the exit invalidates nothing the counters did not see. */
	if (options.unregister)
		for (unsigned long index = 0; index < options.ranges; index++)
			unregister_range(tiled.range_ids[index]);
	counters = counters_of(0);
	expect("read_begins", EXACTLY, counters.faults + counters.retries + counters.ebusy);
	/* An access fails with EBUSY when one of its batches timed out. */
	expect("timeouts", timed_out ? AT_LEAST : EXACTLY, timed_out);
	expect("invalidations", AT_LEAST, 1);
	if (options.knobs.retry_window_us >= 1000)
		expect("retries", AT_LEAST, 1);
}

/*
 * 1 to 100k one-page ranges, one invalidation across all (the unmap), then
 * removal; --hold-seconds keeps them live that long before the removal, for
 * a tracer's view of that many subscriptions.
 *
 * The count is exact only if nothing else invalidates 400 MiB of pages for
 * the seconds this takes: compaction migrates pages whenever it likes, and
 * a migration invalidates with MMU_NOTIFY_CLEAR, as a zap does. So the
 * buffer is mlocked (the lab sets vm.compact_unevictable_allowed=0, so
 * compaction leaves unevictable pages alone) and invalidated by munmap(),
 * which, unlike MADV_DONTNEED, takes locked pages.
 */
static void scenario_many_ranges(void)
{
	struct buffer buffer;
	uint32_t *range_ids = calloc(options.ranges, sizeof(*range_ids));
	size_t bytes = (options.ranges * PAGE_BYTES + PMD_BYTES - 1) & ~(PMD_BYTES - 1);
	double began;

	if (!range_ids)
		die("calloc");
	buffer = buffer_map(bytes, false);
	if (mlock(buffer.start, bytes))
		die("mlock");
	memset(buffer.start, 1, bytes);
	began = monotonic_seconds();
	for (unsigned long index = 0; index < options.ranges; index++)
		range_ids[index] = register_range(buffer.start + index * PAGE_BYTES, PAGE_BYTES);
	if (munmap(buffer.start, bytes))
		die("munmap");
	if (options.hold_seconds) {
		double held = monotonic_seconds();

		/* For whoever measures a tracer holding them all: they are live now. */
		fprintf(stderr, "sim_mirror_workload: holding %lu ranges\n", options.ranges);
		sleep(options.hold_seconds);
		began += monotonic_seconds() - held;
	}
	for (unsigned long index = 0; index < options.ranges; index++)
		unregister_range(range_ids[index]);
	report.elapsed_seconds = monotonic_seconds() - began;
	expect("inserts", EXACTLY, options.ranges);
	expect("invalidations", EXACTLY, options.ranges);
	expect("removes", EXACTLY, options.ranges);
}

/*
 * Short-lived processes, --iterations of them, --threads at a time: each
 * opens the device, mirrors one page, reads it once, removes its range and
 * exits. The last one's pid is reported: a tracer must still count it.
 * With --exit-subscribed each exits with its range live instead: its exit
 * invalidates it twice in its own context (release, then unmap) before the
 * closing fd removes it, so each process is a cause of its own.
 */
static pid_t churn_child(void)
{
	pid_t child = fork();

	if (child < 0)
		die("fork");
	if (child == 0) {
		struct buffer buffer = buffer_map(PMD_BYTES, false);
		char data[PAGE_BYTES];
		uint32_t range_id;

		device = open(SIM_MIRROR_DEVICE, O_RDWR);
		if (device < 0)
			_exit(2);
		memset(buffer.start, 1, PAGE_BYTES);
		range_id = register_range(buffer.start, PAGE_BYTES);
		device_read(range_id, buffer.start, PAGE_BYTES, data);
		if (!options.exit_subscribed)
			unregister_range(range_id);
		_exit(0);
	}
	return child;
}

static pid_t last_child;

static void scenario_churn(void)
{
	unsigned long started = 0, running = 0;
	int status;

	while (started < options.iterations || running) {
		if (started < options.iterations && running < options.threads) {
			last_child = churn_child();
			started++;
			running++;
			continue;
		}
		if (wait(&status) < 0)
			die("wait");
		running--;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			check_failed("a child failed");
	}
	expect("inserts", EXACTLY, options.iterations);
	expect("removes", EXACTLY, options.iterations);
	expect("read_begins", EXACTLY, options.iterations);
	if (options.exit_subscribed)
		expect("invalidations", EXACTLY, 2 * options.iterations);
}

/*
 * The stale-seq livelock: a racing writer makes the first attempt collide,
 * and the buggy retry loop then spins on -EBUSY until the 1000 ms timeout.
 * It ends after --stalls timeouts, or when --duration is up.
 */
static void scenario_livelock(void)
{
	struct tiled tiled;
	struct racer racer;
	pthread_t thread;
	double deadline;
	unsigned long timed_out = 0;

	options.knobs.stale_seq_bug = 1;
	/* One batch per access, so each stall is one timeout. */
	if (options.pages <= SIM_MIRROR_MAX_BATCH_PAGES)
		options.knobs.fault_batch_pages = options.pages;
	if (!options.knobs.retry_window_us)
		options.knobs.retry_window_us = 2000;
	if (ioctl(device, SIM_MIRROR_SET_KNOBS, &options.knobs))
		die("SIM_MIRROR_SET_KNOBS");
	tiled = tiled_setup(false);
	deadline = monotonic_seconds() + options.duration;
	racer = (struct racer){ .start = tiled.buffer.start, .bytes = tiled.buffer.bytes,
				.deadline = deadline };
	atomic_init(&racer.stop, false);
	if (pthread_create(&thread, NULL, racer_main, &racer))
		die("pthread_create");
	while (monotonic_seconds() < deadline && timed_out < options.stalls)
		if (device_access(SIM_MIRROR_READ, tiled.range_ids[0], range_start(&tiled, 0),
				  tiled.range_bytes, tiled.data) == -EBUSY)
			timed_out++;
	atomic_store(&racer.stop, true);
	pthread_join(thread, NULL);
	expect("timeouts", AT_LEAST, 1);
}

/*
 * The non-blockable path: a killed process whose memory is reaped with
 * process_mrelease() (as the OOM reaper would) while an engine holds the
 * driver lock. The invalidate callback must refuse (return false), and the
 * reap fails with EAGAIN instead of sleeping.
 */
/* Fork a victim busy in device work; return whether reaping it met the lock held. */
static bool reap_busy_victim(void)
{
	struct sim_mirror_knobs slow = options.knobs;
	int ready[2], pidfd, status, reaped;
	char byte = 0;
	pid_t victim;

	if (pipe(ready))
		die("pipe");
	victim = fork();
	if (victim < 0)
		die("fork");
	if (victim == 0) {
		/* Its own context: one engine, one page per batch, 100 ms each under the lock. */
		struct buffer buffer = buffer_map(PMD_BYTES, false);
		char *data = malloc(PMD_BYTES);
		uint32_t range_id;

		device = open(SIM_MIRROR_DEVICE, O_RDWR);
		slow.engines = 1;
		slow.fault_batch_pages = 1;
		slow.fault_work_us = SIM_MIRROR_MAX_DELAY_US;
		if (device < 0 || !data || ioctl(device, SIM_MIRROR_SET_KNOBS, &slow))
			_exit(2);
		fill(buffer.start, PMD_BYTES, options.seed);
		range_id = register_range(buffer.start, PMD_BYTES);
		if (write(ready[1], &byte, 1) != 1)
			_exit(2);
		/* 16 batches of 100 ms; a kill cannot cut device work short. */
		device_access(SIM_MIRROR_READ, range_id, buffer.start, 16 * PAGE_BYTES, data);
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], &byte, 1) != 1)
		die("the victim did not start");
	close(ready[0]);
	usleep(550000);		/* the engine is most likely inside a batch, holding the lock */
	pidfd = syscall(SYS_pidfd_open, victim, 0);
	if (pidfd < 0)
		die("pidfd_open");
	if (kill(victim, SIGKILL))
		die("kill");
	reaped = syscall(SYS_process_mrelease, pidfd, 0);
	if (reaped && errno != EAGAIN)
		die("process_mrelease");
	if (waitpid(victim, &status, 0) < 0)
		die("waitpid");
	close(pidfd);
	return reaped != 0;
}

/*
 * The non-blockable path: a killed process whose memory is reaped with
 * process_mrelease() (as the OOM reaper would) while an engine holds the
 * driver lock. The invalidate callback must refuse (return false), and the
 * reap fails with EAGAIN instead of sleeping. The engine is outside the lock
 * for a moment between batches, so a reap may land there; try a few times.
 */
static void scenario_nonblocking(void)
{
	int attempt;

	for (attempt = 0; attempt < 5; attempt++)
		if (reap_busy_victim())
			break;
	if (attempt == 5)
		check_failed("process_mrelease() never met a held driver lock in 5 attempts");
	expect("nonblocking_failures", EXACTLY, 1);
}

/* Calls that must fail, each with the errno it must fail with. */
static void bad_call(const char *what, unsigned long request, void *argument, int wanted)
{
	int ret = ioctl(device, request, argument) ? errno : 0;

	if (ret != wanted) {
		fprintf(stderr, "sim_mirror_workload: %s: got %s, want %s\n", what,
			ret ? strerror(ret) : "success", strerror(wanted));
		check_failed("a bad ioctl was not refused as it should be");
	}
}

static void scenario_bad_input(void)
{
	struct buffer buffer = buffer_map(PMD_BYTES, false);
	uintptr_t start = (uintptr_t)buffer.start;
	struct sim_mirror_range range = { .size = sizeof(range), .start = start, .length = PMD_BYTES };
	struct sim_mirror_range_id range_id = { .size = sizeof(range_id), .range_id = 12345 };
	struct sim_mirror_knobs knobs;
	struct sim_mirror_access access = { .size = sizeof(access) };
	char *unmapped;
	uint32_t good;
	unsigned long added = 0;

#define BAD_RANGE(what, field, value, wanted) do {				\
		struct sim_mirror_range bad = range;				\
		bad.field = (value);						\
		bad_call(what, SIM_MIRROR_ADD_RANGE, &bad, wanted);		\
	} while (0)
	BAD_RANGE("unaligned start", start, start + 1, EINVAL);
	BAD_RANGE("unaligned length", length, PAGE_BYTES + 1, EINVAL);
	BAD_RANGE("empty range", length, 0, EINVAL);
	BAD_RANGE("overflowing range", start, ~0UL & ~(PAGE_BYTES - 1), EINVAL);
	BAD_RANGE("range in kernel space", start, 1UL << 63, EINVAL);
	BAD_RANGE("too large a range", length, (SIM_MIRROR_MAX_RANGE_PAGES + 1) * PAGE_BYTES, EINVAL);
	BAD_RANGE("wrong struct size", size, sizeof(range) - 4, EINVAL);
	/* Three pages with a hole in the middle. */
	unmapped = mmap(NULL, 3 * PAGE_BYTES, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (unmapped == MAP_FAILED || munmap(unmapped + PAGE_BYTES, PAGE_BYTES))
		die("mmap");
	{
		struct sim_mirror_range holed = {
			.size = sizeof(holed), .start = (uintptr_t)unmapped + PAGE_BYTES,
			.length = PAGE_BYTES,
		};

		bad_call("unmapped range", SIM_MIRROR_ADD_RANGE, &holed, EFAULT);
		holed.start = (uintptr_t)unmapped;
		holed.length = 3 * PAGE_BYTES;
		bad_call("partly unmapped range", SIM_MIRROR_ADD_RANGE, &holed, EFAULT);
	}
	bad_call("bad argument pointer", SIM_MIRROR_ADD_RANGE, (void *)8, EFAULT);
	bad_call("unknown command", _IO(SIM_MIRROR_MAGIC, 0x7f), NULL, EINVAL);
	bad_call("unknown range id", SIM_MIRROR_REMOVE_RANGE, &range_id, EINVAL);

	good = register_range(buffer.start, PMD_BYTES);
	access.range_id = good;
	access.address = start + PMD_BYTES;
	access.length = PAGE_BYTES;
	access.buffer = (uintptr_t)buffer.start;
	bad_call("access outside its range", SIM_MIRROR_READ, &access, EINVAL);
	access.address = start;
	access.length = PAGE_BYTES - 1;
	bad_call("unaligned access", SIM_MIRROR_READ, &access, EINVAL);
	access.length = PAGE_BYTES;
	access.buffer = 8;
	bad_call("access to a bad user buffer", SIM_MIRROR_READ, &access, EFAULT);

#define BAD_KNOB(field, value) do {						\
		knobs = options.knobs;						\
		knobs.field = (value);						\
		bad_call("knob " #field " = " #value, SIM_MIRROR_SET_KNOBS, &knobs, EINVAL); \
	} while (0)
	BAD_KNOB(engines, 0);
	BAD_KNOB(engines, SIM_MIRROR_MAX_ENGINES + 1);
	BAD_KNOB(fault_batch_pages, 0);
	BAD_KNOB(fault_batch_pages, SIM_MIRROR_MAX_BATCH_PAGES + 1);
	BAD_KNOB(retry_window_us, SIM_MIRROR_MAX_DELAY_US + 1);
	BAD_KNOB(fault_work_us, SIM_MIRROR_MAX_DELAY_US + 1);
	BAD_KNOB(stale_seq_bug, 2);
	BAD_KNOB(size, sizeof(knobs) + 4);

	/* Fill the table: the next range is refused with ENOMEM. */
	range.length = PAGE_BYTES;
	while (!ioctl(device, SIM_MIRROR_ADD_RANGE, &range))
		added++;
	if (errno != ENOMEM || added + 1 != SIM_MIRROR_MAX_RANGES)
		check_failed("the range table did not end with ENOMEM at SIM_MIRROR_MAX_RANGES");
	expect("inserts", EXACTLY, added + 1);
	unregister_range(good);
	expect("removes", EXACTLY, 1);
	bad_call("a removed range id", SIM_MIRROR_REMOVE_RANGE,
		 &(struct sim_mirror_range_id){ .size = sizeof(range_id), .range_id = good }, EINVAL);
}

static const struct {
	const char *name;
	void (*run)(void);
	const char *description;
} scenarios[] = {
	{ "fault-sweep", scenario_fault_sweep, "device-read every range once" },
	{ "storm", scenario_storm, "madvise(DONTNEED) and refault, then munmap" },
	{ "mprotect", scenario_mprotect, "toggle write protection" },
	{ "fork-cow", scenario_fork_cow, "fork, then break COW on every page" },
	{ "thp", scenario_thp, "split THPs with mprotect, collapse them again" },
	{ "migrate", scenario_migrate, "move_pages() to node 1" },
	{ "race", scenario_race, "device reads against CPU writers" },
	{ "many-ranges", scenario_many_ranges, "many one-page ranges, one invalidation" },
	{ "churn", scenario_churn, "--iterations short-lived processes, --threads at a time, one page each" },
	{ "livelock", scenario_livelock, "the stale-seq retry bug" },
	{ "bad-input", scenario_bad_input, "ioctls that must be refused" },
	{ "nonblocking", scenario_nonblocking, "reap a killed process while the driver lock is held" },
	{ "numa-balancing", scenario_numa_balancing, "touch mirrored memory until NUMA balancing scans it" },
	{ "khugepaged", scenario_khugepaged, "4 KiB pages, then MADV_HUGEPAGE for khugepaged" },
	{ "ksm", scenario_ksm, "identical mergeable pages for ksmd" },
	{ "pageout", scenario_pageout, "MADV_PAGEOUT the mirrored pages to swap" },
};

static const char *const counter_names[SIM_MIRROR_COUNTER_COUNT] = SIM_MIRROR_COUNTER_NAMES;

static unsigned long long counter_value(const struct sim_mirror_counters *counters,
					const char *name)
{
	const __u64 *values = (const __u64 *)counters;

	for (size_t index = 0; index < SIM_MIRROR_COUNTER_COUNT; index++)
		if (!strcmp(counter_names[index], name))
			return values[index];
	fprintf(stderr, "sim_mirror_workload: unknown counter %s\n", name);
	exit(1);
}

static bool holds(const struct expectation *expectation,
		  const struct sim_mirror_counters *counters)
{
	unsigned long long value = counter_value(counters, expectation->counter);

	return expectation->comparison == EXACTLY ? value == expectation->value :
						    value >= expectation->value;
}

static int print_report(const struct sim_mirror_counters *counters)
{
	const char *const *names = counter_names;
	bool all_held = report.checks_passed;
	size_t count = SIM_MIRROR_COUNTER_COUNT;

	for (int index = 0; index < report.expectation_count; index++)
		all_held &= holds(&report.expectations[index], counters);
	if (options.json) {
		printf("{\"scenario\": \"%s\", \"ranges\": %lu, \"pages\": %lu, \"seed\": %u, ",
		       options.scenario, options.ranges, options.pages, options.seed);
		if (last_child)
			printf("\"last_pid\": %d, ", (int)last_child);
		printf("\"counters\": {");
		for (size_t index = 0; index < count; index++)
			printf("%s\"%s\": %llu", index ? ", " : "", names[index],
			       counter_value(counters, names[index]));
		printf("}, \"expected\": [");
		for (int index = 0; index < report.expectation_count; index++)
			printf("%s{\"counter\": \"%s\", \"%s\": %llu, \"held\": %s}", index ? ", " : "",
			       report.expectations[index].counter,
			       report.expectations[index].comparison == EXACTLY ? "exactly" : "at_least",
			       report.expectations[index].value,
			       holds(&report.expectations[index], counters) ? "true" : "false");
		printf("], \"checks_passed\": %s, \"longest_access_ms\": %.1f, \"elapsed_s\": %.3f, "
		       "\"skipped\": %s%s%s, \"ok\": %s}\n",
		       report.checks_passed ? "true" : "false", report.longest_access_seconds * 1000,
		       report.elapsed_seconds, report.skipped ? "\"" : "",
		       report.skipped ? report.skipped : "null", report.skipped ? "\"" : "",
		       all_held ? "true" : "false");
	} else {
		printf("scenario %s: %lu ranges of %lu pages, seed %u\n", options.scenario,
		       options.ranges, options.pages, options.seed);
		if (report.skipped)
			printf("  skipped: %s\n", report.skipped);
		for (size_t index = 0; index < count; index++)
			printf("  %-22s %llu\n", names[index], counter_value(counters, names[index]));
		for (int index = 0; index < report.expectation_count; index++)
			printf("  expect %s %s %llu: %s\n", report.expectations[index].counter,
			       report.expectations[index].comparison == EXACTLY ? "==" : ">=",
			       report.expectations[index].value,
			       holds(&report.expectations[index], counters) ? "ok" : "FAILED");
		printf("  checks: %s%s%s\n", report.checks_passed ? "ok" : "FAILED",
		       report.failed_check ? ": " : "",
		       report.failed_check ? report.failed_check : "");
		printf("  longest device access: %.1f ms\n", report.longest_access_seconds * 1000);
	}
	return report.skipped ? 0 : all_held ? 0 : 1;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: sim_mirror_workload SCENARIO [--ranges N] [--pages N] [--iterations N]\n"
		"         [--duration S] [--threads N] [--seed N] [--retry-window-us N]\n"
		"         [--fault-work-us N] [--engines N] [--batch-pages N] [--hold-seconds N]\n"
		"         [--unregister] [--exit-subscribed] [--stalls N] [--json]\n"
		"scenarios:\n");
	for (size_t index = 0; index < sizeof(scenarios) / sizeof(scenarios[0]); index++)
		fprintf(status ? stderr : stdout, "  %-12s %s\n", scenarios[index].name,
			scenarios[index].description);
	exit(status);
}

static unsigned long parse_number(const char *text, unsigned long low, unsigned long high)
{
	char *end;
	unsigned long value = strtoul(text, &end, 10);

	if (*end || value < low || value > high) {
		fprintf(stderr, "sim_mirror_workload: %s is not in [%lu, %lu]\n", text, low, high);
		exit(2);
	}
	return value;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "ranges", required_argument, NULL, 'r' },
		{ "pages", required_argument, NULL, 'p' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "retry-window-us", required_argument, NULL, 'w' },
		{ "fault-work-us", required_argument, NULL, 'f' },
		{ "engines", required_argument, NULL, 'e' },
		{ "batch-pages", required_argument, NULL, 'b' },
		{ "hold-seconds", required_argument, NULL, 'H' },
		{ "unregister", no_argument, NULL, 'u' },
		{ "exit-subscribed", no_argument, NULL, 'x' },
		{ "stalls", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	void (*run)(void) = NULL;
	struct sim_mirror_counters counters;
	int option;

	options = (struct options){
		.ranges = 4, .pages = 512, .iterations = 3, .duration = 2, .threads = 1, .seed = 1,
		.stalls = 1,
		.knobs = { .size = sizeof(struct sim_mirror_knobs), .engines = 2,
			   .fault_batch_pages = 64 },
	};
	while ((option = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (option) {
		case 'r': options.ranges = parse_number(optarg, 1, SIM_MIRROR_MAX_RANGES); break;
		case 'p': options.pages = parse_number(optarg, 1, 65536); break;
		case 'i': options.iterations = parse_number(optarg, 0, 1000000); break;
		case 'd': options.duration = parse_number(optarg, 0, 3600); break;
		case 't': options.threads = parse_number(optarg, 1, 16); break;
		case 's': options.seed = parse_number(optarg, 0, UINT32_MAX); break;
		case 'w': options.knobs.retry_window_us = parse_number(optarg, 0, SIM_MIRROR_MAX_DELAY_US); break;
		case 'f': options.knobs.fault_work_us = parse_number(optarg, 0, SIM_MIRROR_MAX_DELAY_US); break;
		case 'e': options.knobs.engines = parse_number(optarg, 1, SIM_MIRROR_MAX_ENGINES); break;
		case 'b': options.knobs.fault_batch_pages = parse_number(optarg, 1, SIM_MIRROR_MAX_BATCH_PAGES); break;
		case 'H': options.hold_seconds = parse_number(optarg, 0, 3600); break;
		case 'u': options.unregister = true; break;
		case 'x': options.exit_subscribed = true; break;
		case 'S': options.stalls = parse_number(optarg, 1, 1000); break;
		case 'j': options.json = true; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc - 1)
		usage(2);
	options.scenario = argv[optind];
	for (size_t index = 0; index < sizeof(scenarios) / sizeof(scenarios[0]); index++)
		if (!strcmp(scenarios[index].name, options.scenario))
			run = scenarios[index].run;
	if (!run)
		usage(2);
	/* Whole PMDs per buffer: a split PMD would add a "clear" range. */
	if (strcmp(options.scenario, "many-ranges") && strcmp(options.scenario, "churn") &&
	    (options.pages * PAGE_BYTES * options.ranges) % PMD_BYTES) {
		fprintf(stderr, "sim_mirror_workload: ranges * pages must be a multiple of 512\n");
		return 2;
	}

	device = open(SIM_MIRROR_DEVICE, O_RDWR);
	if (device < 0)
		die(SIM_MIRROR_DEVICE);
	if (ioctl(device, SIM_MIRROR_SET_KNOBS, &options.knobs))
		die("SIM_MIRROR_SET_KNOBS");
	if (ioctl(device, SIM_MIRROR_RESET_COUNTERS))
		die("SIM_MIRROR_RESET_COUNTERS");
	run();
	counters = counters_of(0);
	return print_report(&counters);
}
