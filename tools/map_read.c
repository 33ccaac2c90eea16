// SPDX-License-Identifier: GPL-2.0-only
/*
 * Whole-map reads. With 100k subscriptions, --by range reads 100k per-CPU
 * values every interval; one lookup syscall each, plus a get_next_key, is
 * what once kept `top` from printing at all under emulation. Batches of
 * BPF_MAP_LOOKUP_BATCH (Linux 5.6) take a few hundred entries per call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "grow.h"
#include "map_read.h"

/* About this much memory per batch, whatever the CPU count. */
#define BATCH_BYTES (1 << 20)
#define BATCH_ENTRIES_MAX 4096

struct map_layout {
	__u32 key_size;
	size_t value_size;		/* what one lookup copies out: all CPUs' copies */
};

static int map_layout(int map_fd, bool per_cpu, struct map_layout *layout)
{
	struct bpf_map_info info = {};
	__u32 length = sizeof(info);
	int cpus = per_cpu ? libbpf_num_possible_cpus() : 1;

	if (bpf_obj_get_info_by_fd(map_fd, &info, &length))
		return -errno;
	if (cpus < 1)
		return cpus ? cpus : -EINVAL;
	layout->key_size = info.key_size;
	layout->value_size = per_cpu ? (size_t)((info.value_size + 7) & ~7U) * cpus :
				       info.value_size;
	return 0;
}

/* The entry-by-entry walk, for kernels without batch lookups. */
static int walk_by_key(int map_fd, const struct map_layout *layout, map_entry_visitor visit,
		       void *context)
{
	char *key = calloc(2, layout->key_size), *next = key + layout->key_size;
	void *value = malloc(layout->value_size), *previous = NULL;
	int status = key && value ? 0 : -ENOMEM;

	while (!status && !bpf_map_get_next_key(map_fd, previous, next)) {
		memcpy(key, next, layout->key_size);
		previous = key;
		if (!bpf_map_lookup_elem(map_fd, key, value))
			status = visit(context, key, value);
	}
	free(key);
	free(value);
	return status;
}

struct batch {
	char *keys;
	char *values;
	size_t key_capacity;		/* in bytes */
	size_t value_capacity;
	__u32 capacity;			/* in entries */
};

static int batch_grow(struct batch *batch, const struct map_layout *layout, __u32 capacity)
{
	int status = grow(&batch->keys, &batch->key_capacity,
			  (size_t)capacity * layout->key_size, 1);

	if (!status)
		status = grow(&batch->values, &batch->value_capacity,
			      (size_t)capacity * layout->value_size, 1);
	if (!status)
		batch->capacity = capacity;
	return status;
}

/* 1 when the kernel cannot batch this map, so the caller walks it by key. */
static int walk_by_batch(int map_fd, const struct map_layout *layout, map_entry_visitor visit,
			 void *context)
{
	size_t per_entry = layout->key_size + layout->value_size;
	__u32 capacity = BATCH_BYTES / per_entry;
	/* The kernel's batch cursor: a bucket index for hashes, a key for arrays. */
	__u64 cursor[8], *resume = NULL;
	/*
	 * Kept from read to read: fresh buffers each time cost page faults and
	 * zeroed pages, as much as the copy itself under emulation. So a
	 * visitor must not walk another map itself.
	 */
	static struct batch batch;
	bool first = true;
	int status;

	if (capacity > BATCH_ENTRIES_MAX)
		capacity = BATCH_ENTRIES_MAX;
	status = batch_grow(&batch, layout, capacity ? capacity : 1);
	while (!status) {
		__u32 count = batch.capacity;
		int error = bpf_map_lookup_batch(map_fd, resume, cursor, batch.keys, batch.values,
						 &count, NULL);

		if (error < 0)
			error = -errno;
		/* A hash bucket larger than the batch: make room and ask again. */
		if (error == -ENOSPC && batch.capacity < (1U << 20)) {
			status = batch_grow(&batch, layout, 2 * batch.capacity);
			continue;
		}
		if (first && error && error != -ENOENT) {
			status = error == -EINVAL || error == -ENOTSUP || error == -EOPNOTSUPP ?
				 1 : error;
			break;
		}
		first = false;
		for (__u32 index = 0; index < count && !status; index++)
			status = visit(context, batch.keys + (size_t)index * layout->key_size,
				       batch.values + (size_t)index * layout->value_size);
		if (status || error == -ENOENT)
			break;
		if (error) {
			status = error;
			break;
		}
		resume = cursor;
	}
	return status;
}

int map_for_each(int map_fd, bool per_cpu, map_entry_visitor visit, void *context)
{
	struct map_layout layout = {};
	int status = map_layout(map_fd, per_cpu, &layout);

	if (status)
		return status;
	status = walk_by_batch(map_fd, &layout, visit, context);
	if (status == 1)
		status = walk_by_key(map_fd, &layout, visit, context);
	return status;
}

/* The first copy is assigned, not added to zeroes: 100k rows make every pass count. */
void per_cpu_sum(__u64 *sum, const void *per_cpu, size_t length, size_t value_size, int cpus)
{
	size_t counters = length / sizeof(__u64), stride = (value_size + 7) / 8;
	const __u64 *copy = per_cpu;

	for (size_t index = 0; index < counters; index++)
		sum[index] = copy[index];
	for (int cpu = 1; cpu < cpus; cpu++) {
		copy += stride;
		for (size_t index = 0; index < counters; index++)
			sum[index] += copy[index];
	}
}

struct group_walk {
	group_visitor visit;
	void *context;
	int cpus;
	const __u64 *hot_groups;	/* by slot, read first */
};

static int visit_group(struct group_walk *walk, __u64 group, const void *per_cpu)
{
	return walk->visit(walk->context, group, per_cpu, walk->cpus);
}

static int visit_hashed_group(void *context, const void *key, const void *value)
{
	return visit_group(context, *(const __u64 *)key, value);
}

static int visit_hot_slot(void *context, const void *key, const void *value)
{
	struct group_walk *walk = context;
	__u32 slot = *(const __u32 *)key;

	if (slot >= HMMTRACE_HOT_GROUPS || !walk->hot_groups[slot])
		return 0;
	return visit_group(walk, walk->hot_groups[slot], value);
}

static int remember_hot_group(void *context, const void *key, const void *value)
{
	__u64 *hot_groups = context;
	__u32 slot = *(const __u32 *)key;

	if (slot < HMMTRACE_HOT_GROUPS)
		hot_groups[slot] = *(const __u64 *)value;
	return 0;
}

/*
 * A group lives in a hot slot or in the hash, never in both: its slot
 * probes never change (hot_slot() in bpf/), so once they were taken by
 * others it counts in the hash for good.
 */
int group_maps_read(const struct group_maps *maps, group_visitor visit, void *context)
{
	__u64 hot_groups[HMMTRACE_HOT_GROUPS] = {};
	struct group_walk walk = {
		.visit = visit, .context = context, .cpus = libbpf_num_possible_cpus(),
		.hot_groups = hot_groups,
	};
	int status;

	if (walk.cpus < 1)
		return walk.cpus ? walk.cpus : -EINVAL;
	status = map_for_each(maps->hot_group_keys, false, remember_hot_group, hot_groups);
	if (!status)
		status = map_for_each(maps->hot_group_stats, true, visit_hot_slot, &walk);
	if (status)
		return status;
	if (!maps->stats_per_cpu)
		walk.cpus = 1;
	return map_for_each(maps->stats, maps->stats_per_cpu, visit_hashed_group, &walk);
}
