// SPDX-License-Identifier: GPL-2.0-only
/*
 * A deterministic workload for test_hmm (/dev/hmm_dmirror0), run in phases
 * that each produce a known set of notifier events. Before each phase it
 * writes "hmmtrace-phase=<name>" to the ftrace marker, so a trace can be cut
 * into phases, and at the end it prints what it did as JSON.
 *
 *   open          open the device: one interval subscription over the whole
 *                 address space
 *   read-present  device READ of a buffer the CPU has written: one read_begin
 *                 and one hmm_range_fault per 64-page chunk, no retries
 *   madvise       madvise(MADV_DONTNEED) of the buffer: one range (clear)
 *   munmap        munmap() of the buffer: one range (unmap)
 *   cow           device READ of an untouched buffer (maps the zero page),
 *                 then device WRITE: each page's COW invalidates the
 *                 subscription, so each chunk's first hmm_range_fault
 *                 returns -EBUSY through check_retry and is begun again
 *   race          device READs and SNAPSHOTs (each inserts and removes a
 *                 temporary subscription) for --race-seconds while a thread
 *                 keeps zapping and rewriting the buffer, to force
 *                 collisions, read_begin waits and deferred inserts and
 *                 removes; not exact, and skipped with --race-seconds 0
 *   close         close the device: the subscription is removed
 *
 * --trace-marker names the marker file, e.g. a tracefs instance's.
 *
 * With --exit-open the device stays open at exit, so the subscription is
 * invalidated by mm teardown (event release) before it is removed.
 *
 * Buffers are 2 MiB aligned, whole multiples of 2 MiB and THP off, so 64-page
 * chunks never straddle a page table and every count above is exact. (A
 * munmap() that split a PMD would add a "clear" range from __split_huge_pmd(),
 * which notifies before it even looks at the PMD.)
 */
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
#include <time.h>
#include <unistd.h>

#include "test_hmm_uapi.h"
#include "workload.h"

#define CHUNK_PAGES		64UL
#define CHUNKS_PER_PMD		8UL
#define TRACE_MARKER		"/sys/kernel/tracing/trace_marker"

struct options {
	const char *device;
	const char *trace_marker;
	unsigned long chunks;
	double race_seconds;
	bool exit_open;
};

static int marker_fd = -1;

static void mark_phase(const char *phase)
{
	char line[64];
	int length = snprintf(line, sizeof(line), "hmmtrace-phase=%s\n", phase);

	if (marker_fd >= 0 && write(marker_fd, line, length) != length)
		perror("trace_marker");
}

static void die(const char *what)
{
	fprintf(stderr, "test_hmm_phases: %s: %s\n", what, strerror(errno));
	exit(1);
}

/*
 * A device access of the whole buffer; returns test_hmm's fault count. Under
 * a race test_hmm may give up after HMM_RANGE_DEFAULT_TIMEOUT with EBUSY,
 * which only a racing caller tolerates.
 */
static unsigned long device_access(int device, unsigned long request,
				   const struct buffer *buffer, void *mirror,
				   bool racing)
{
	struct hmm_dmirror_cmd command = {
		.addr = (uintptr_t)buffer->start,
		.ptr = (uintptr_t)mirror,
		.npages = buffer->bytes / PAGE_BYTES,
	};

	while (ioctl(device, request, &command)) {
		if (racing && errno == EBUSY)
			return 0;
		if (errno != EINTR)
			die(request == HMM_DMIRROR_READ ? "HMM_DMIRROR_READ" :
		    request == HMM_DMIRROR_WRITE ? "HMM_DMIRROR_WRITE" :
		    "HMM_DMIRROR_SNAPSHOT");
	}
	return command.faults;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: test_hmm_phases [--device PATH] [--chunks N (a multiple of 8)] [--race-seconds S]\n"
		"                       [--trace-marker PATH] [--exit-open]\n");
	exit(status);
}

static struct options parse_options(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "chunks", required_argument, NULL, 'c' },
		{ "race-seconds", required_argument, NULL, 'r' },
		{ "exit-open", no_argument, NULL, 'e' },
		{ "trace-marker", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options options = {
		.device = "/dev/hmm_dmirror0",
		.trace_marker = TRACE_MARKER,
		.chunks = CHUNKS_PER_PMD,
		.race_seconds = 5,
	};
	char *end;
	int option;

	while ((option = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (option) {
		case 'd':
			options.device = optarg;
			break;
		case 'c':
			options.chunks = strtoul(optarg, &end, 10);
			if (*end || options.chunks < 1 || options.chunks > 1024 ||
			    options.chunks % CHUNKS_PER_PMD)
				usage(2);
			break;
		case 'r':
			options.race_seconds = strtod(optarg, &end);
			if (*end || options.race_seconds < 0 || options.race_seconds > 600)
				usage(2);
			break;
		case 'e':
			options.exit_open = true;
			break;
		case 'm':
			options.trace_marker = optarg;
			break;
		case 'h':
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	return options;
}

int main(int argc, char **argv)
{
	struct options options = parse_options(argc, argv);
	unsigned long pages = options.chunks * CHUNK_PAGES;
	unsigned long read_present_faults, cow_read_faults, cow_write_faults;
	unsigned long race_reads = 0;
	struct buffer present, cow, raced;
	struct racer racer;
	double race_start;
	pthread_t racer_thread;
	void *mirror;
	int device;

	marker_fd = open(options.trace_marker, O_WRONLY);
	/* Everything is allocated before the device opens: no stray invalidations. */
	mirror = malloc(pages * PAGE_BYTES);
	if (!mirror)
		die("malloc");
	memset(mirror, 0, pages * PAGE_BYTES);
	present = buffer_map(pages * PAGE_BYTES, false);
	cow = buffer_map(pages * PAGE_BYTES, false);
	raced = buffer_map(pages * PAGE_BYTES, false);
	memset(present.start, 0x5a, present.bytes);

	mark_phase("open");
	device = open(options.device, O_RDWR);
	if (device < 0)
		die(options.device);

	mark_phase("read-present");
	read_present_faults = device_access(device, HMM_DMIRROR_READ, &present, mirror, false);

	mark_phase("madvise");
	if (madvise(present.start, present.bytes, MADV_DONTNEED))
		die("madvise(MADV_DONTNEED)");

	mark_phase("munmap");
	if (munmap(present.start, present.bytes))
		die("munmap");

	mark_phase("cow");
	cow_read_faults = device_access(device, HMM_DMIRROR_READ, &cow, mirror, false);
	cow_write_faults = device_access(device, HMM_DMIRROR_WRITE, &cow, mirror, false);

	if (options.race_seconds == 0)
		goto close_device;
	mark_phase("race");
	race_start = monotonic_seconds();
	racer.start = raced.start;
	racer.bytes = raced.bytes;
	racer.deadline = race_start + options.race_seconds;
	atomic_init(&racer.stop, false);
	if (pthread_create(&racer_thread, NULL, racer_main, &racer))
		die("pthread_create");
	while (monotonic_seconds() - race_start < options.race_seconds) {
		device_access(device, HMM_DMIRROR_READ, &raced, mirror, true);
		device_access(device, HMM_DMIRROR_SNAPSHOT, &raced, mirror, true);
		race_reads++;
	}
	atomic_store(&racer.stop, true);
	pthread_join(racer_thread, NULL);

close_device:
	if (!options.exit_open) {
		mark_phase("close");
		close(device);
	}
	mark_phase("done");

	printf("{\"pid\": %d, \"chunk_pages\": %lu, \"chunks\": %lu, \"pages\": %lu, "
	       "\"present\": [%lu, %lu], \"cow\": [%lu, %lu], \"raced\": [%lu, %lu], "
	       "\"read_present_faults\": %lu, \"cow_read_faults\": %lu, "
	       "\"cow_write_faults\": %lu, \"race_reads\": %lu, \"exit_open\": %s}\n",
	       getpid(), CHUNK_PAGES, options.chunks, pages,
	       (uintptr_t)present.start, (uintptr_t)present.start + present.bytes,
	       (uintptr_t)cow.start, (uintptr_t)cow.start + cow.bytes,
	       (uintptr_t)raced.start, (uintptr_t)raced.start + raced.bytes,
	       read_present_faults, cow_read_faults, cow_write_faults, race_reads,
	       options.exit_open ? "true" : "false");
	return 0;
}
