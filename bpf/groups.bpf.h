/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where an event counts: the filters (-p, --driver), the subscription's
 * remembered facts, the event's group (driver, process or subscription, as
 * user space chose) and that group's stats slot.
 */
#ifndef HMMTRACE_GROUPS_BPF_H
#define HMMTRACE_GROUPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "hmmtrace.h"
#include "kernel_access.bpf.h"
#include "knobs.bpf.h"
#include "maps.bpf.h"
#include "records.bpf.h"

#define HOT_PROBES 4

/* Whether -p lets an event of process TGID through. */
static __always_inline bool process_wanted(__u32 tgid)
{
	return !target_tgid || tgid == target_tgid;
}

/*
 * Whether -p and --driver let an event of process TGID through a
 * subscription with CALLBACK. Range starts and ends have no subscription:
 * they pass -p only (see range_started()).
 */
static __always_inline bool wanted(__u32 tgid, __u64 callback)
{
	if (!process_wanted(tgid))
		return false;
	if (!driver_callback_count)
		return true;
	for (__u32 index = 0; index < HMMTRACE_DRIVER_CALLBACKS; index++)
		if (index < driver_callback_count && driver_callbacks[index] == callback)
			return true;
	return false;
}

/*
 * What hmmtrace knows of a subscription: read from it once, when first seen,
 * so that later events cost one lookup and no reads of kernel memory. An
 * owner unknown then (a kworker's event before any of the owner's) is
 * looked for again.
 */
static __always_inline struct hmmtrace_subscription *
subscription_of(const struct mmu_interval_notifier *interval_sub, bool btf_typed)
{
	__u64 key = (__u64)interval_sub;
	struct hmmtrace_subscription *known = bpf_map_lookup_elem(&subscriptions, &key);
	struct hmmtrace_subscription fresh = {};

	if (known) {
		if (!known->tgid)
			known->tgid = owner_of_subscription(interval_sub, btf_typed);
		return known;
	}
	fresh.start = KERNEL_FIELD(btf_typed, interval_sub, interval_tree.start);
	fresh.last = KERNEL_FIELD(btf_typed, interval_sub, interval_tree.last);
	fresh.invalidate = callback_of(interval_sub, btf_typed);
	fresh.first_seen_ns = bpf_ktime_get_ns();
	fresh.tgid = owner_of_subscription(interval_sub, btf_typed);
	return map_lookup_or_try_init(&subscriptions, &key, &fresh);
}

/*
 * A removed subscription's entry stays (user space names rows and retry
 * lists with it); marking it lets the exporter count the live ones, and
 * user space reclaim it (tools/reclaim.c).
 */
static __always_inline void forget_subscription(const struct mmu_interval_notifier *interval_sub)
{
	__u64 key = (__u64)interval_sub;
	struct hmmtrace_subscription *known = bpf_map_lookup_elem(&subscriptions, &key);

	if (known)
		known->removed = 1;
}

/* The group an event counts in, by the grouping user space chose. */
static __always_inline __u64 group_of(const struct mmu_interval_notifier *interval_sub,
				      __u64 callback, __u32 tgid)
{
	if (grouping == HMMTRACE_BY_PROCESS)
		return tgid;
	if (grouping == HMMTRACE_BY_SUBSCRIPTION)
		return (__u64)interval_sub;
	return callback;
}

/*
 * A group's hot slot: a few probes from a multiplicative hash, claimed with
 * a compare-and-swap when free. NULL when the probed slots belong to others
 * (the group counts in the hash, always, as its probes never change).
 */
static __always_inline struct hmmtrace_stats *hot_slot(__u64 group)
{
	/*
	 * Fibonacci hashing of the low half: a callback loaded from a BTF
	 * pointer is itself a pointer to the verifier, which allows no
	 * arithmetic on it but a 32-bit copy.
	 */
	__u32 slot = ((__u32)group * 2654435769U >> 16) % HMMTRACE_HOT_GROUPS;
	__u64 *key, owner;

	for (int probe = 0; probe < HOT_PROBES; probe++) {
		key = bpf_map_lookup_elem(&hot_group_keys, &slot);
		if (!key)
			return NULL;
		owner = *key;
		if (!owner) {
			owner = __sync_val_compare_and_swap(key, 0, group);
			if (!owner)
				owner = group;
		}
		if (owner == group)
			return bpf_map_lookup_elem(&hot_group_stats, &slot);
		slot = (slot + 1) % HMMTRACE_HOT_GROUPS;
	}
	return NULL;
}

/*
 * A group's stats slot: a hot slot, else its hash entry, made on its first
 * event. Subscriptions (--by range) are many and go to the hash, and their
 * `subscriptions` entry names the row.
 */
static __always_inline struct hmmtrace_stats *
stats_slot(const struct mmu_interval_notifier *interval_sub, __u64 group, bool btf_typed)
{
	static const struct hmmtrace_stats zero;
	struct hmmtrace_stats *slot;

	if (grouping != HMMTRACE_BY_SUBSCRIPTION && group) {
		slot = hot_slot(group);
		if (slot)
			return slot;
	}
	slot = bpf_map_lookup_elem(&stats, &group);
	if (slot)
		return slot;
	if (grouping == HMMTRACE_BY_SUBSCRIPTION)
		subscription_of(interval_sub, btf_typed);
	slot = map_lookup_or_try_init(&stats, &group, &zero);
	/* The map is full or out of memory: say so, the event is not counted. */
	if (!slot)
		count_lost(HMMTRACE_LOST_STATS);
	return slot;
}

/* Where an event counts, once looked up and wanted. */
struct event_slot {
	struct task_fault *task_fault;	/* events of a fault with task storage (bpf/faults.bpf.h) */
	struct hmmtrace_stats *stats;
	__u64 group;
	__u64 callback;		/* the driver's, whatever the grouping (0 when unused) */
	__u64 first_seen_ns;	/* events of a fault: the subscription's */
	__u32 tgid;
};

/*
 * Where an event that needs nothing else of its subscription counts
 * (invalidations, removes): the group straight from the subscription, and
 * its stats slot; false when the event is not wanted. The owner and the
 * callback are read only when something uses them; if the mm no longer
 * says who owns it (the owner exited), the subscription's remembered owner.
 */
static __always_inline bool
lookup_subscription_event(const struct mmu_interval_notifier *interval_sub,
						      bool btf_typed, struct event_slot *slot)
{
	bool owner_used = target_tgid || grouping == HMMTRACE_BY_PROCESS || snoop_events;
	bool callback_used = grouping == HMMTRACE_BY_DRIVER || driver_callback_count ||
			     attribute_causes;
	__u64 callback = callback_used ? callback_of(interval_sub, btf_typed) : 0;
	struct hmmtrace_subscription *known;
	__u64 key = (__u64)interval_sub;
	__u32 tgid;

	tgid = owner_used ? owner_of_subscription(interval_sub, btf_typed) : 0;
	if (owner_used && !tgid) {
		known = bpf_map_lookup_elem(&subscriptions, &key);
		tgid = known ? known->tgid : 0;
	}
	if (!wanted(tgid, callback))
		return false;
	slot->task_fault = NULL;
	slot->first_seen_ns = 0;
	slot->tgid = tgid;
	slot->callback = callback;
	slot->group = group_of(interval_sub, callback, tgid);
	slot->stats = stats_slot(interval_sub, slot->group, btf_typed);
	return slot->stats != NULL;
}

#endif /* HMMTRACE_GROUPS_BPF_H */
