/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the notifier workloads share: buffers laid out so that every munmap,
 * madvise and mprotect over them is exactly one notifier range, a CPU thread
 * that keeps invalidating a buffer, and a monotonic clock.
 */
#ifndef WORKLOAD_H
#define WORKLOAD_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE_BYTES	4096UL
#define PMD_BYTES	(2UL << 20)
#define PUD_BYTES	(1UL << 30)

struct buffer {
	char *mapping;		/* what mmap returned */
	size_t mapping_bytes;
	char *start;		/* 2 MiB aligned */
	size_t bytes;
};

static inline double monotonic_seconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

/*
 * 2 MiB aligned (a munmap that split a PMD would add a "clear" range from
 * __split_huge_pmd(), which notifies before it looks at the PMD) and, when it
 * fits, inside one 1 GiB region (one mprotect is then one range). Reserving
 * an extra 1 GiB of address space, with nothing committed, guarantees such a
 * start exists. THP is off unless asked for.
 */
static inline struct buffer buffer_map(size_t bytes, bool huge)
{
	struct buffer buffer = { .bytes = bytes, .mapping_bytes = bytes + PUD_BYTES };
	uintptr_t start;

	buffer.mapping = mmap(NULL, buffer.mapping_bytes, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (buffer.mapping == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	start = ((uintptr_t)buffer.mapping + PMD_BYTES - 1) & ~(PMD_BYTES - 1);
	if (bytes <= PUD_BYTES && start / PUD_BYTES != (start + bytes - 1) / PUD_BYTES)
		start = (start + PUD_BYTES - 1) & ~(PUD_BYTES - 1);
	buffer.start = (char *)start;
	if (madvise(buffer.start, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
		perror("madvise(HUGEPAGE)");
		exit(1);
	}
	return buffer;
}

/*
 * A CPU thread that zaps and rewrites a buffer until told to stop or until
 * its deadline (monotonic seconds; 0 for none). The deadline bounds the
 * scenario: a device access copies only what is still mapped after its
 * fault, so a racer that zaps between the fault and the copy every time
 * makes the access go round until the racer stops, and the scenario only
 * tells it to once that access is over (one took 469 s under TCG).
 */
struct racer {
	char *start;
	size_t bytes;
	double deadline;
	atomic_bool stop;
};

static inline void *racer_main(void *argument)
{
	struct racer *racer = argument;

	while (!atomic_load(&racer->stop) &&
	       (!racer->deadline || monotonic_seconds() < racer->deadline)) {
		madvise(racer->start, racer->bytes, MADV_DONTNEED);
		for (size_t offset = 0; offset < racer->bytes; offset += PAGE_BYTES)
			racer->start[offset] = 1;
	}
	return NULL;
}

#endif /* WORKLOAD_H */
