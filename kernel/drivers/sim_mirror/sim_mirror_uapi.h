/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * sim_mirror: a simulated device that mirrors a process's address space with
 * the MMU interval notifier, the way GPU and RDMA drivers do. This is its
 * ioctl interface, shared by the module and user space.
 *
 * Every struct starts with its own size, which the driver checks, so that a
 * caller built against another version fails cleanly with -EINVAL.
 */
#ifndef SIM_MIRROR_UAPI_H
#define SIM_MIRROR_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SIM_MIRROR_DEVICE		"/dev/sim_mirror"
#define SIM_MIRROR_MAX_RANGES		131072
#define SIM_MIRROR_MAX_RANGE_PAGES	1048576		/* 4 GiB of 4 KiB pages */
#define SIM_MIRROR_MAX_ENGINES		16
#define SIM_MIRROR_MAX_BATCH_PAGES	512
#define SIM_MIRROR_MAX_DELAY_US		100000

/* ADD_RANGE: mirror [start, start + length); both page aligned. */
struct sim_mirror_range {
	__u32 size;
	__u32 range_id;		/* out */
	__u64 start;
	__u64 length;
};

/* REMOVE_RANGE */
struct sim_mirror_range_id {
	__u32 size;
	__u32 range_id;
};

/*
 * READ and WRITE: a device access of [address, address + length) through the
 * mirror, faulting pages in through the engines as a device would. READ
 * copies the device's view into buffer; WRITE copies buffer into memory.
 */
struct sim_mirror_access {
	__u32 size;
	__u32 range_id;
	__u64 address;
	__u64 length;
	__u64 buffer;
	__u64 faults;		/* out: device faults this access took */
};

/* Tunables; each is checked against its bound and the call fails if any is out. */
struct sim_mirror_knobs {
	__u32 size;
	/* Sleep between hmm_range_fault() and read_retry: widens the race. */
	__u32 retry_window_us;
	/* Simulated device work per fault batch, under the driver lock. */
	__u32 fault_work_us;
	__u32 engines;			/* 1..SIM_MIRROR_MAX_ENGINES */
	__u32 fault_batch_pages;	/* 1..SIM_MIRROR_MAX_BATCH_PAGES */
	/*
	 * The known livelock: retry without calling read_begin again, so the
	 * stale seq collides forever until HMM_RANGE_DEFAULT_TIMEOUT.
	 */
	__u32 stale_seq_bug;
};

/* Ground truth, per range or for the whole device. */
struct sim_mirror_counters {
	__u64 inserts;
	__u64 removes;
	__u64 invalidations;
	__u64 nonblocking_failures;	/* invalidate returned false */
	__u64 read_begins;
	__u64 retries;			/* read_retry returned true */
	__u64 faults;			/* fault batches serviced */
	__u64 ebusy;			/* hmm_range_fault returned -EBUSY */
	__u64 timeouts;			/* a fault gave up after the timeout */
	__u64 pages_mirrored;		/* device PTEs programmed */
};

/* The names of the struct sim_mirror_counters fields, in order. */
#define SIM_MIRROR_COUNTER_NAMES {					\
	"inserts", "removes", "invalidations", "nonblocking_failures",	\
	"read_begins", "retries", "faults", "ebusy", "timeouts",	\
	"pages_mirrored" }
#define SIM_MIRROR_COUNTER_COUNT 10

/* GET_COUNTERS: range_id 0 asks for the whole device. */
struct sim_mirror_counters_query {
	__u32 size;
	__u32 range_id;
	struct sim_mirror_counters counters;	/* out */
};

#define SIM_MIRROR_MAGIC 'S'
#define SIM_MIRROR_ADD_RANGE _IOWR(SIM_MIRROR_MAGIC, 0x01, struct sim_mirror_range)
#define SIM_MIRROR_REMOVE_RANGE _IOW(SIM_MIRROR_MAGIC, 0x02, struct sim_mirror_range_id)
#define SIM_MIRROR_READ _IOWR(SIM_MIRROR_MAGIC, 0x03, struct sim_mirror_access)
#define SIM_MIRROR_WRITE _IOWR(SIM_MIRROR_MAGIC, 0x04, struct sim_mirror_access)
#define SIM_MIRROR_SET_KNOBS _IOW(SIM_MIRROR_MAGIC, 0x05, struct sim_mirror_knobs)
#define SIM_MIRROR_GET_KNOBS _IOWR(SIM_MIRROR_MAGIC, 0x06, struct sim_mirror_knobs)
#define SIM_MIRROR_GET_COUNTERS _IOWR(SIM_MIRROR_MAGIC, 0x07, struct sim_mirror_counters_query)
#define SIM_MIRROR_RESET_COUNTERS _IO(SIM_MIRROR_MAGIC, 0x08)

#endif /* SIM_MIRROR_UAPI_H */
