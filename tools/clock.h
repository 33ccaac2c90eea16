/* SPDX-License-Identifier: GPL-2.0-only */
/* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns(), in seconds. */
#ifndef HMMTRACE_CLOCK_H
#define HMMTRACE_CLOCK_H

#include <time.h>

static inline double monotonic_seconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

#endif /* HMMTRACE_CLOCK_H */
