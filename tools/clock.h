/* SPDX-License-Identifier: GPL-2.0-only */
/* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns(), in nanoseconds and in seconds. */
#ifndef HMMTRACE_CLOCK_H
#define HMMTRACE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t monotonic_nanoseconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec;
}

static inline double monotonic_seconds(void)
{
	return monotonic_nanoseconds() / 1e9;
}

#endif /* HMMTRACE_CLOCK_H */
