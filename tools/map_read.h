/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reading whole BPF maps from user space: in batches where the kernel has
 * them (one syscall per few hundred entries instead of two per entry), and
 * per-CPU values summed. Shared by hmmtrace and the bench's carrier.
 */
#ifndef HMMTRACE_MAP_READ_H
#define HMMTRACE_MAP_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "hmmtrace.h"

/* Called for each entry; a nonzero return stops the walk and is returned. */
typedef int (*map_entry_visitor)(void *context, const void *key, const void *value);

/*
 * Every entry of a hash or array map. For a per-CPU map VALUE is the
 * kernel's per-CPU layout: libbpf_num_possible_cpus() values, each rounded
 * up to 8 bytes. Returns 0, a negative errno, or what a visitor returned.
 */
int map_for_each(int map_fd, bool per_cpu, map_entry_visitor visit, void *context);

/*
 * The sum of the first LENGTH bytes over CPUS per-CPU copies of a value of
 * VALUE_SIZE bytes made only of __u64 counters. Sums wrap: a fault
 * completion withdrawn on another CPU leaves one CPU's copy "negative", and
 * the total is still right.
 */
void per_cpu_sum(__u64 *sum, const void *per_cpu, size_t length, size_t value_size, int cpus);

/*
 * Called with each group's per-CPU copies of its counters, CPUS of them:
 * the visitor sums what it needs (per_cpu_sum()).
 */
typedef int (*group_visitor)(void *context, __u64 group, const struct hmmtrace_stats *per_cpu,
			     int cpus);

struct group_maps {
	int hot_group_keys;		/* array: slot -> group owning it, 0 while free */
	int hot_group_stats;		/* per-CPU array: slot -> stats */
	int stats;			/* hash: group -> stats */
	bool stats_per_cpu;		/* a per-CPU hash, but by subscription */
};

/* Every group of both maps (see hot_group_keys in bpf/), each once. */
int group_maps_read(const struct group_maps *maps, group_visitor visit, void *context);

#endif /* HMMTRACE_MAP_READ_H */
