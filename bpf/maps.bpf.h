/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * hmmtrace's maps, but for two that belong to one layer: `faults`
 * (bpf/faults.bpf.h) and `pending` (bpf/attach_stock.bpf.c). User space
 * reads them by these names through the skeleton, and sizes some of them
 * before load (tools/attach.c, set_knobs()).
 *
 * The definitions are weak, as the knobs are: every BPF source file includes
 * them and the linker keeps one of each.
 */
#ifndef HMMTRACE_MAPS_BPF_H
#define HMMTRACE_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "hmmtrace.h"

/* A BTF-defined map of TYPE, KEY -> VALUE, with ENTRIES (libbpf's layout). */
#define MAP(map_type, key_type, value_type, entries)	\
	struct {					\
		__uint(type, map_type);			\
		__uint(max_entries, entries);		\
		__type(key, key_type);			\
		__type(value, value_type);		\
	}

#define RING_BUFFER(bytes)				\
	struct {					\
		__uint(type, BPF_MAP_TYPE_RINGBUF);	\
		__uint(max_entries, bytes);		\
	}

#define MAX_PROCESSES		16384
#define MAX_SUBSCRIPTIONS	262144
#define MAX_PENDING		16384

/*
 * Groups past the hot slots, per CPU; by subscription user space makes it
 * a plain hash, one value for all CPUs (stats_add()). Not preallocated: a
 * histogram-laden value per CPU per group adds up on a 256-CPU host, so
 * memory follows the groups that exist. User space sizes it for its grouping.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct hmmtrace_stats);
} stats SEC(".maps") __weak;

/*
 * The first groups seen by driver or process (a host has few of either)
 * count in array slots instead, which the verifier inlines: no helper call
 * on the hot path. hot_group_keys[slot] is the group owning the slot, 0
 * while free; user space reads both maps.
 */
MAP(BPF_MAP_TYPE_ARRAY, __u32, __u64, HMMTRACE_HOT_GROUPS) hot_group_keys SEC(".maps") __weak;

MAP(BPF_MAP_TYPE_PERCPU_ARRAY, __u32, struct hmmtrace_stats, HMMTRACE_HOT_GROUPS)
	hot_group_stats SEC(".maps") __weak;

/* Invalidation ranges' start -> end latency, per enum mmu_notifier_event. */
MAP(BPF_MAP_TYPE_PERCPU_ARRAY, __u32, struct hmmtrace_histogram, HMMTRACE_RANGE_EVENTS)
	range_latency SEC(".maps") __weak;

/*
 * mmu_notifier_range -> when its invalidation started. A plain hash: an LRU
 * update costs more, and every start is ended or deleted (range_started()).
 */
MAP(BPF_MAP_TYPE_HASH, __u64, __u64, MAX_PENDING) range_starts SEC(".maps") __weak;

/*
 * interval_sub -> what names it; filled when a subscription is first seen.
 * A plain hash: an LRU would evict a live subscription, whose faults would
 * then look stale (fault_of()). User space deletes removed subscriptions'
 * entries once it has named their rows (reclaim.c).
 */
MAP(BPF_MAP_TYPE_HASH, __u64, struct hmmtrace_subscription, MAX_SUBSCRIPTIONS)
	subscriptions SEC(".maps") __weak;

/*
 * mm -> tgid, learned when a task of that mm is current (faults may run in
 * kworkers). An LRU as a bound; user space deletes exited owners' entries
 * (reclaim.c), so that a reader that sweeps keeps it short of eviction.
 */
MAP(BPF_MAP_TYPE_LRU_HASH, __u64, __u32, MAX_PROCESSES) mm_owners SEC(".maps") __weak;

/*
 * interval_sub -> the task that last invalidated it (retries' livelock
 * reports). A plain hash, whose entry goes at the subscription's remove: an
 * LRU would evict a live subscription's without a word.
 */
MAP(BPF_MAP_TYPE_HASH, __u64, struct hmmtrace_invalidator, MAX_SUBSCRIPTIONS)
	invalidators SEC(".maps") __weak;

/*
 * retries: faults in flight (begun, not completed), counted in a slot by
 * the subscription's hash, which the subscriptions sharing it add to, and
 * the slot's latest completion. An invalidation's task stack is taken only
 * while a fault of its slot is in flight, or within collision_window_ns of
 * a completion, before which the driver's read_retry may still find a
 * collision: only those invalidations can make a fault go round, and a
 * stack costs some microseconds. A fault abandoned at a driver's timeout
 * stays counted until its task faults there again, and one whose task exits
 * or whose state user space reclaims stays counted, so the count errs high:
 * more stacks, never fewer.
 */
#define FAULTS_IN_FLIGHT_SLOTS 4096

struct fault_flight {
	__s64 in_flight;
	__u64 completed_ns;
};

MAP(BPF_MAP_TYPE_ARRAY, __u32, struct fault_flight, FAULTS_IN_FLIGHT_SLOTS)
	faults_in_flight SEC(".maps") __weak;

/* Kernel stacks by stack id: retries' invalidating tasks, causes' invalidations. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, HMMTRACE_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps") __weak;

/* causes: (driver, cause) -> what its invalidations cost; see bpf/causes.bpf.h. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct hmmtrace_cause_key);
	__type(value, struct hmmtrace_cause);
} causes SEC(".maps") __weak;

/* latency: (driver, log2 of pages) -> hmm_range_fault() time. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, struct hmmtrace_fault_size_key);
	__type(value, struct hmmtrace_histogram);
} fault_sizes SEC(".maps") __weak;

/* The snooped events; user space sizes it for snoop. */
RING_BUFFER(4 << 20) events SEC(".maps") __weak;

/* Livelocks and retry streaks. */
RING_BUFFER(256 << 10) reports SEC(".maps") __weak;

/* Events and records that could not count, counted here instead: enum hmmtrace_lost. */
MAP(BPF_MAP_TYPE_PERCPU_ARRAY, __u32, __u64, HMMTRACE_LOST_KINDS) lost SEC(".maps") __weak;

/*
 * The element at KEY, made from INIT when there is none. Another CPU may
 * make it first, so the update only adds (BPF_NOEXIST) and the element is
 * looked up again; NULL only when the map is full.
 */
static __always_inline void *map_lookup_or_try_init(void *map, const void *key, const void *init)
{
	void *value = bpf_map_lookup_elem(map, key);

	if (value)
		return value;
	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

/*
 * The low half of a pointer, as a number to hash. The verifier allows no
 * arithmetic on a BTF pointer, 32-bit or not, but lets a privileged program
 * copy its low half (a 32-bit mov), which is then a plain number: the mov
 * is written out, as the compiler sees nothing to do.
 */
static __always_inline __u32 pointer_low_half(const void *pointer)
{
	__u32 low = (__u32)(__u64)pointer;

	asm volatile("%0 = %0" : "+w"(low));
	return low;
}

/* INTERVAL_SUB's faults_in_flight slot: Fibonacci hashing of its address. */
static __always_inline struct fault_flight *faults_in_flight_of(const void *interval_sub)
{
	__u32 slot = (pointer_low_half(interval_sub) * 2654435769U >> 16) % FAULTS_IN_FLIGHT_SLOTS;

	return bpf_map_lookup_elem(&faults_in_flight, &slot);
}

#endif /* HMMTRACE_MAPS_BPF_H */
