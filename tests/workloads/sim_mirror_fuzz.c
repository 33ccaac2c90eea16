// SPDX-License-Identifier: GPL-2.0-only
/*
 * sim_mirror_fuzz: a bounded, seeded concurrency fuzzer for /dev/sim_mirror.
 *
 *   sim_mirror_fuzz [--seed N] [--seconds S] [--threads N] [--processes N]
 *
 * --processes worker processes, each with --threads threads, issue random
 * ioctls (valid, hostile and boundary arguments) on shared and private file
 * descriptors, and race them against munmap, mremap, mprotect,
 * madvise(DONTNEED), CPU writes, fork (children that issue ioctls on the
 * inherited descriptors, grandchildren that outlive them holding a file whose
 * ranges live in a dead address space), close and reopen of descriptors in
 * use, and the exit of whole worker processes with live ranges and ioctls in
 * flight. Every decision comes from a per-thread PRNG derived from the seed,
 * so one seed replays the same mix (timing aside).
 *
 * What the driver must get right, as user space can see it:
 * - a hostile or out-of-bounds ioctl fails, with the errno the uapi implies;
 * - a valid ioctl on a descriptor and range only its thread uses succeeds,
 *   or fails with an errno the race allows (EBUSY only with a timeout
 *   counted); its device writes land in memory, its device reads return it;
 * - a range's counters start at exactly one insert and no remove, and no
 *   counter goes backwards without a reset;
 * - an inherited descriptor refuses every ioctl but the two GETs.
 *
 * Output: "seed N" first and last, a summary of ioctls by kind, argument class
 * and result class, and of the other events, and one "violation:" line on
 * standard error for each misbehaviour. Exit 0: no misbehaviour seen;
 * 1: the driver misbehaved (or a worker hung past the deadline); 2: bad
 * arguments; 3: the fuzzer could not run (no device, no memory).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim_mirror_uapi.h"
#include "workload.h"

#define MAX_THREADS		64
#define MAX_PROCESSES		16
#define MAX_VIOLATIONS_SHOWN	50
#define POOL_REGIONS		8
#define REGION_PAGES		16
#define REGION_BYTES		(REGION_PAGES * PAGE_BYTES)
#define PRIVATE_PAGES		32
#define PRIVATE_RANGES		8
#define TABLE_ENTRIES		64
#define MAX_ACCESS_PAGES	32
#define FUZZ_DELAY_US		200	/* knob delays stay this small */
#define HANG_GRACE_SECONDS	60
#define HUGE_RESERVE_BYTES	(((uint64_t)SIM_MIRROR_MAX_RANGE_PAGES + 1) * PAGE_BYTES)
#define KERNEL_ADDRESS		0xffff888000000000ULL
#define DEBUGFS_COUNTERS	"/sys/kernel/debug/sim_mirror/counters"
#define DEBUGFS_RANGES		"/sys/kernel/debug/sim_mirror/ranges"

#define ERR(e)			(1ULL << (e))

enum kind {
	KIND_ADD_RANGE,
	KIND_REMOVE_RANGE,
	KIND_READ,
	KIND_WRITE,
	KIND_SET_KNOBS,
	KIND_GET_KNOBS,
	KIND_GET_COUNTERS,
	KIND_RESET_COUNTERS,
	KIND_UNKNOWN,
	KIND_COUNT
};

static const char *const kind_names[KIND_COUNT] = {
	"add_range", "remove_range", "read", "write", "set_knobs", "get_knobs",
	"get_counters", "reset_counters", "unknown",
};

/* What the arguments were: what the driver's answer is checked against. */
enum argument_class {
	ARGUMENT_VALID,		/* must succeed, bar the errnos a race allows */
	ARGUMENT_HOSTILE,	/* must fail */
	ARGUMENT_BOUNDARY,	/* 0, max or max + 1: the bound decides */
	ARGUMENT_RACE,		/* others' ranges, guessed ids, inherited files */
	ARGUMENT_COUNT
};

static const char *const argument_names[ARGUMENT_COUNT] = {
	"valid", "hostile", "boundary", "race",
};

enum result_class {
	RESULT_OK,
	RESULT_EINVAL,
	RESULT_EFAULT,
	RESULT_EBADF,
	RESULT_OTHER,
	RESULT_COUNT
};

static const char *const result_names[RESULT_COUNT] = {
	"ok", "einval", "efault", "ebadf", "other_errno",
};

enum event {
	EVENT_FORKS,
	EVENT_GRANDCHILDREN,
	EVENT_CLOSES,
	EVENT_MUNMAPS,
	EVENT_MREMAPS,
	EVENT_MPROTECTS,
	EVENT_MADVISES,
	EVENT_TOUCHES,
	EVENT_WORKER_EXITS,
	EVENT_INTEGRITY_CHECKS,
	EVENT_COUNTER_CHECKS,
	EVENT_DEBUGFS_READS,
	EVENT_LOST_REGIONS,
	EVENT_COUNT
};

static const char *const event_names[EVENT_COUNT] = {
	"forks", "grandchildren", "closes", "munmaps", "mremaps", "mprotects",
	"madvises", "touches", "worker_exits", "integrity_checks",
	"counter_checks", "debugfs_reads", "lost_regions",
};

/* In memory every fuzz process shares, children and grandchildren too. */
struct shared {
	atomic_ulong ioctls[KIND_COUNT][ARGUMENT_COUNT];
	atomic_ulong results[KIND_COUNT][RESULT_COUNT];
	atomic_ulong kind_violations[KIND_COUNT];
	atomic_ulong events[EVENT_COUNT];
	atomic_ulong violations;
	/* Device counter resets begun and ended, for the no-going-back check. */
	atomic_ulong resets_begun;
	atomic_ulong resets_ended;
	atomic_ulong worker_resets_begun[MAX_PROCESSES];
	atomic_ulong worker_resets_ended[MAX_PROCESSES];
	atomic_int stop;
};

static struct shared *shared;
static uint64_t seed;
static unsigned int run_seconds = 10, thread_count = 4, process_count = 2;
static double deadline;

/* --- the PRNG: splitmix64, one state per thread ------------------------- */

static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t derive_seed(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t state = seed;

	state = next_random(&state) ^ a;
	state = next_random(&state) ^ b;
	state = next_random(&state) ^ c;
	return next_random(&state);
}

static uint32_t below(uint64_t *state, uint32_t bound)
{
	return bound ? next_random(state) % bound : 0;
}

static bool chance(uint64_t *state, unsigned int percent)
{
	return below(state, 100) < percent;
}

/* --- processes and threads --------------------------------------------- */

enum shared_slot { SLOT_ORDERLY, SLOT_CHAOS, SLOT_COUNT };

struct region {
	char *start;
	pthread_mutex_t lock;	/* held while a mutation has it */
	bool lost;		/* its address was taken while unmapped */
};

/* A range on a shared descriptor, for any thread of the process to use. */
struct table_entry {
	bool used;
	enum shared_slot slot;
	unsigned long generation;
	uint32_t range_id;
	uint64_t start;
	uint64_t length;
};

struct worker {
	int slot;
	unsigned int generation;
	atomic_int shared_fds[SLOT_COUNT];
	/* Odd while the descriptor is being closed and reopened. */
	atomic_ulong fd_generations[SLOT_COUNT];
	/* One close at a time, so that a reopen gets the number it closed. */
	atomic_flag closing;
	atomic_flag forking;
	char *pool;
	struct region regions[POOL_REGIONS];
	char *huge_reserve;
	pthread_mutex_t table_lock;
	struct table_entry table[TABLE_ENTRIES];
	pthread_barrier_t start_barrier;
};

struct private_range {
	uint32_t range_id;
	uint64_t start;
	uint64_t length;
	bool known;			/* last holds a snapshot to compare with */
	struct sim_mirror_counters last;
};

struct fuzz_thread {
	struct worker *worker;
	unsigned int index;
	uint64_t random;
	const char *where;		/* "worker", "child", "grandchild" */
	int private_fd;			/* only this thread uses it */
	int knob_fd;			/* bound values of knobs; never faults */
	struct sim_mirror_knobs private_knobs;
	struct sim_mirror_knobs knob_fd_knobs;
	char *private_region;
	struct private_range ranges[PRIVATE_RANGES];
	unsigned int range_count;
	char *buffer;			/* MAX_ACCESS_PAGES */
	char *readonly_page;		/* an argument the driver cannot write back */
	char *spare;			/* where mremap moves a region */
	bool device_known;
	unsigned long device_epoch;
	struct sim_mirror_counters device_last;
	uint32_t pattern;
};

static void report(const char *format, ...)
{
	char line[512];
	va_list arguments;
	int length;

	va_start(arguments, format);
	length = vsnprintf(line, sizeof(line) - 1, format, arguments);
	va_end(arguments);
	if (length < 0)
		return;
	if (length > (int)sizeof(line) - 2)
		length = sizeof(line) - 2;
	line[length++] = '\n';
	if (write(STDERR_FILENO, line, length) < 0)
		return;
}

static void violation(struct fuzz_thread *thread, int kind, const char *format, ...)
{
	char detail[400];
	va_list arguments;
	unsigned long number = atomic_fetch_add(&shared->violations, 1) + 1;

	if (kind >= 0)
		atomic_fetch_add(&shared->kind_violations[kind], 1);
	if (number > MAX_VIOLATIONS_SHOWN)
		return;
	va_start(arguments, format);
	vsnprintf(detail, sizeof(detail), format, arguments);
	va_end(arguments);
	if (thread)
		report("violation: %s (seed %" PRIu64 ", %s of process %d generation %u, thread %u)",
		       detail, seed, thread->where, thread->worker->slot,
		       thread->worker->generation, thread->index);
	else
		report("violation: %s (seed %" PRIu64 ")", detail, seed);
}

static void count_event(enum event event)
{
	atomic_fetch_add(&shared->events[event], 1);
}

static enum result_class result_class_of(long ret, int error)
{
	if (!ret)
		return RESULT_OK;
	switch (error) {
	case EINVAL: return RESULT_EINVAL;
	case EFAULT: return RESULT_EFAULT;
	case EBADF: return RESULT_EBADF;
	default: return RESULT_OTHER;
	}
}

/*
 * Count one ioctl's answer and judge it: allowed is the mask of errnos it may
 * fail with; must_fail says success is a misbehaviour. Leaves errno as the
 * ioctl did.
 */
static void judge(struct fuzz_thread *thread, enum kind kind, enum argument_class class,
		  long ret, int error, uint64_t allowed, bool must_fail, const char *what,
		  const char *descriptor)
{
	atomic_fetch_add(&shared->ioctls[kind][class], 1);
	atomic_fetch_add(&shared->results[kind][result_class_of(ret, error)], 1);
	if (!ret && must_fail)
		violation(thread, kind, "%s %s (%s%s) succeeded, but must fail",
			  kind_names[kind], what, argument_names[class], descriptor);
	else if (ret && (error >= 64 || !(allowed & ERR(error))))
		violation(thread, kind, "%s %s (%s%s) failed with %s (errno %d), which it must not",
			  kind_names[kind], what, argument_names[class], descriptor,
			  strerror(error), error);
	errno = error;
}

/* Issue one ioctl and judge it; returns its result, errno as it left it. */
static long judge_ioctl(struct fuzz_thread *thread, enum kind kind,
			enum argument_class class, int fd, unsigned long command,
			void *argument, uint64_t allowed, bool must_fail,
			const char *what)
{
	long ret = ioctl(fd, command, argument);

	judge(thread, kind, class, ret, ret ? errno : 0, allowed, must_fail, what, "");
	return ret;
}

/* A shared descriptor, and whether a close raced with what was done on it. */
static int shared_fd(struct fuzz_thread *thread, enum shared_slot slot,
		     unsigned long *generation)
{
	*generation = atomic_load(&thread->worker->fd_generations[slot]);
	return atomic_load(&thread->worker->shared_fds[slot]);
}

static bool shared_fd_disturbed(struct fuzz_thread *thread, enum shared_slot slot,
				unsigned long generation)
{
	return (generation & 1) ||
		atomic_load(&thread->worker->fd_generations[slot]) != generation;
}

/* Fix up the allowed mask after the fact: a raced close allows EBADF and an unknown range. */
static uint64_t after_shared(struct fuzz_thread *thread, enum shared_slot slot,
			     unsigned long generation, uint64_t allowed)
{
	if (shared_fd_disturbed(thread, slot, generation))
		allowed |= ERR(EBADF) | ERR(EINVAL);
	if (slot == SLOT_CHAOS)
		allowed |= ERR(EINVAL);	/* guessed removals take ranges away */
	return allowed;
}

/*
 * judge_ioctl on a shared descriptor: the mask widens only when a close
 * raced with the call, so the judgement comes after it.
 */
static long judge_shared_since(struct fuzz_thread *thread, enum kind kind,
			      enum argument_class class, enum shared_slot slot,
			      unsigned long since, unsigned long command, void *argument,
			      uint64_t allowed, bool must_fail, const char *what)
{
	unsigned long generation;
	int fd = shared_fd(thread, slot, &generation);
	long ret = ioctl(fd, command, argument);
	int error = ret ? errno : 0;

	if (generation != since)
		generation |= 1;	/* the range's file is not this one */
	allowed = after_shared(thread, slot, generation, allowed);
	judge(thread, kind, class, ret, error, allowed, must_fail, what, ", shared");
	return ret;
}

/* The same, on whatever file the slot holds now. */
static long judge_shared_ioctl(struct fuzz_thread *thread, enum kind kind,
			       enum argument_class class, enum shared_slot slot,
			       unsigned long command, void *argument,
			       uint64_t allowed, bool must_fail, const char *what)
{
	return judge_shared_since(thread, kind, class, slot,
				  atomic_load(&thread->worker->fd_generations[slot]),
				  command, argument, allowed, must_fail, what);
}

/* An argument pointer no ioctl can read: a kernel address or almost NULL. */
static void *bad_argument(uint64_t *random, uint64_t *allowed, const char **what)
{
	*allowed = ERR(EFAULT);
	*what = "with a bad argument pointer";
	return below(random, 2) ? (void *)KERNEL_ADDRESS : (void *)8;
}

/* --- counters ----------------------------------------------------------- */

static const char *const counter_names[SIM_MIRROR_COUNTER_COUNT] = SIM_MIRROR_COUNTER_NAMES;

static const uint64_t *counter_values(const struct sim_mirror_counters *counters)
{
	return (const uint64_t *)counters;
}

/* No counter of now is below the one of before. */
static void check_not_backwards(struct fuzz_thread *thread, const char *what,
				const struct sim_mirror_counters *before,
				const struct sim_mirror_counters *now)
{
	int counter;

	count_event(EVENT_COUNTER_CHECKS);
	for (counter = 0; counter < SIM_MIRROR_COUNTER_COUNT; counter++)
		if (counter_values(now)[counter] < counter_values(before)[counter])
			violation(thread, KIND_GET_COUNTERS,
				  "%s counter %s went backwards without a reset: %" PRIu64 " -> %" PRIu64,
				  what, counter_names[counter], counter_values(before)[counter],
				  counter_values(now)[counter]);
}

/* GET_COUNTERS for the whole device; compared with the last when no reset came between. */
static void query_device(struct fuzz_thread *thread, int fd, enum argument_class class,
			 bool inherited)
{
	struct sim_mirror_counters_query query = { .size = sizeof(query) };
	unsigned long begun = atomic_load(&shared->resets_begun);
	unsigned long ended_after, begun_after;
	long ret;

	ret = judge_ioctl(thread, KIND_GET_COUNTERS, class, fd, SIM_MIRROR_GET_COUNTERS,
			  &query, inherited ? ERR(EBADF) : 0, false, "device-wide");
	ended_after = atomic_load(&shared->resets_ended);
	begun_after = atomic_load(&shared->resets_begun);
	if (ret)
		return;
	if (begun != begun_after || ended_after != begun_after) {
		thread->device_known = false;
		return;
	}
	if (thread->device_known && thread->device_epoch == begun_after)
		check_not_backwards(thread, "device", &thread->device_last, &query.counters);
	thread->device_known = true;
	thread->device_epoch = begun_after;
	thread->device_last = query.counters;
}

/* GET_COUNTERS of one of this thread's private ranges; it must succeed. */
static bool query_private(struct fuzz_thread *thread, int fd, struct private_range *range,
			  struct sim_mirror_counters *out)
{
	struct sim_mirror_counters_query query = {
		.size = sizeof(query), .range_id = range->range_id,
	};

	if (judge_ioctl(thread, KIND_GET_COUNTERS, ARGUMENT_VALID, fd,
			SIM_MIRROR_GET_COUNTERS, &query, 0, false, "of a private range"))
		return false;
	if (range->known)
		check_not_backwards(thread, "private range", &range->last, &query.counters);
	range->known = true;
	range->last = query.counters;
	if (out)
		*out = query.counters;
	return true;
}

/* --- private ranges ------------------------------------------------------ */

static struct private_range *pick_private(struct fuzz_thread *thread)
{
	if (!thread->range_count)
		return NULL;
	return &thread->ranges[below(&thread->random, thread->range_count)];
}

static void forget_private(struct fuzz_thread *thread, struct private_range *range)
{
	*range = thread->ranges[--thread->range_count];
}

static bool add_private(struct fuzz_thread *thread, uint64_t start, uint64_t length,
			enum argument_class class, const char *what)
{
	struct sim_mirror_range request = { .size = sizeof(request), .start = start, .length = length };
	struct sim_mirror_counters counters;
	struct private_range *range;

	if (thread->range_count == PRIVATE_RANGES)
		return false;
	if (judge_ioctl(thread, KIND_ADD_RANGE, class, thread->private_fd, SIM_MIRROR_ADD_RANGE,
			&request, ERR(ENOMEM), false, what))
		return false;
	if (!request.range_id || request.range_id > SIM_MIRROR_MAX_RANGES)
		violation(thread, KIND_ADD_RANGE, "add_range returned range id %u, outside 1..%u",
			  request.range_id, SIM_MIRROR_MAX_RANGES);
	range = &thread->ranges[thread->range_count++];
	*range = (struct private_range){ .range_id = request.range_id, .start = start, .length = length };
	if (query_private(thread, thread->private_fd, range, &counters) &&
	    (counters.inserts != 1 || counters.removes != 0))
		violation(thread, KIND_GET_COUNTERS,
			  "a new range counts %" PRIu64 " inserts and %" PRIu64 " removes, not 1 and 0",
			  counters.inserts, counters.removes);
	return true;
}

static void remove_private(struct fuzz_thread *thread, struct private_range *range,
			   enum argument_class class)
{
	struct sim_mirror_range_id request = { .size = sizeof(request), .range_id = range->range_id };

	judge_ioctl(thread, KIND_REMOVE_RANGE, class, thread->private_fd, SIM_MIRROR_REMOVE_RANGE,
		    &request, 0, false, "of a private range");
	forget_private(thread, range);
	if (chance(&thread->random, 20))
		judge_ioctl(thread, KIND_REMOVE_RANGE, ARGUMENT_HOSTILE, thread->private_fd,
			    SIM_MIRROR_REMOVE_RANGE, &request, ERR(EINVAL), true,
			    "of a range just removed");
}

/* --- the shared table ---------------------------------------------------- */

static void table_add(struct fuzz_thread *thread, enum shared_slot slot,
		      unsigned long generation, uint32_t range_id, uint64_t start, uint64_t length)
{
	struct worker *worker = thread->worker;
	int entry;

	pthread_mutex_lock(&worker->table_lock);
	for (entry = 0; entry < TABLE_ENTRIES; entry++) {
		if (!worker->table[entry].used) {
			worker->table[entry] = (struct table_entry){
				.used = true, .slot = slot, .generation = generation,
				.range_id = range_id, .start = start, .length = length,
			};
			break;
		}
	}
	pthread_mutex_unlock(&worker->table_lock);
}

/* A copy of a random entry; claim takes it out of the table (to remove it). */
static bool table_pick(struct fuzz_thread *thread, bool claim, struct table_entry *out)
{
	struct worker *worker = thread->worker;
	unsigned int first = below(&thread->random, TABLE_ENTRIES), step;
	bool found = false;

	pthread_mutex_lock(&worker->table_lock);
	for (step = 0; step < TABLE_ENTRIES; step++) {
		struct table_entry *entry = &worker->table[(first + step) % TABLE_ENTRIES];

		if (!entry->used)
			continue;
		if (entry->generation != atomic_load(&worker->fd_generations[entry->slot])) {
			entry->used = false;	/* its file was closed */
			continue;
		}
		*out = *entry;
		if (claim)
			entry->used = false;
		found = true;
		break;
	}
	pthread_mutex_unlock(&worker->table_lock);
	return found;
}

/* --- the operations ------------------------------------------------------ */

static uint64_t private_address(struct fuzz_thread *thread, unsigned int page)
{
	return (uintptr_t)thread->private_region + page * PAGE_BYTES;
}

/* Write a pattern, from the CPU or into the buffer, that names this access. */
static void fill_pattern(struct fuzz_thread *thread, char *where, size_t bytes)
{
	uint32_t pattern = ++thread->pattern * 2654435761U ^ thread->index;
	size_t offset;

	for (offset = 0; offset < bytes; offset += sizeof(pattern))
		memcpy(where + offset, &pattern, sizeof(pattern));
	pattern ^= 0x5a5a5a5a;
	for (offset = 0; offset < bytes; offset += PAGE_BYTES)
		memcpy(where + offset, &pattern, sizeof(pattern));
}

static void operation_add_range(struct fuzz_thread *thread)
{
	uint64_t *random = &thread->random;
	unsigned int choice = below(random, 100);
	struct sim_mirror_range request = { .size = sizeof(request) };
	uint64_t base = private_address(thread, 0);

	if (choice < 45) {
		unsigned int first = below(random, PRIVATE_PAGES);
		unsigned int pages = 1 + below(random, PRIVATE_PAGES - first);

		if (thread->range_count == PRIVATE_RANGES)
			remove_private(thread, pick_private(thread), ARGUMENT_VALID);
		add_private(thread, private_address(thread, first), pages * PAGE_BYTES,
			    ARGUMENT_VALID, "in private memory");
	} else if (choice < 70) {
		enum shared_slot slot = below(random, SLOT_COUNT);
		struct region *region = &thread->worker->regions[below(random, POOL_REGIONS)];
		unsigned int first = below(random, REGION_PAGES);
		unsigned int pages = 1 + below(random, REGION_PAGES - first);
		unsigned long generation = atomic_load(&thread->worker->fd_generations[slot]);

		request.start = (uintptr_t)region->start + first * PAGE_BYTES;
		request.length = pages * PAGE_BYTES;
		/* A region being unmapped or moved is not all mapped: EFAULT. */
		if (!judge_shared_since(thread, KIND_ADD_RANGE, ARGUMENT_VALID, slot, generation,
					SIM_MIRROR_ADD_RANGE, &request, ERR(EFAULT) | ERR(ENOMEM),
					false, "in pool memory"))
			table_add(thread, slot, generation, request.range_id, request.start,
				  request.length);
	} else if (choice < 90) {
		/* Hostile: each of these must fail, on the private descriptor. */
		const char *what;
		uint64_t allowed = ERR(EINVAL);
		void *argument = &request;

		request.start = base;
		request.length = PAGE_BYTES;
		switch (below(random, 12)) {
		case 0: request.size = 0; what = "with size 0"; break;
		case 1: request.size = sizeof(request) - 1; what = "with size - 1"; break;
		case 2: request.size = sizeof(request) + 8; what = "with size + 8"; break;
		case 3: request.size = UINT32_MAX; what = "with size ~0"; break;
		case 4: request.start = base + 1 + below(random, PAGE_BYTES - 1); what = "unaligned start"; break;
		case 5: request.length = PAGE_BYTES + 1 + below(random, PAGE_BYTES - 1); what = "unaligned length"; break;
		case 6: request.length = 0; what = "of length 0"; break;
		case 7: request.length = 1ULL << (40 + below(random, 24)); what = "of a huge length"; break;
		case 8: request.length = -base & ~(PAGE_BYTES - 1); what = "wrapping around"; break;
		case 9: request.start = KERNEL_ADDRESS; what = "at a kernel address"; break;
		case 10:
			request.start = 0x1000;	/* below mmap_min_addr: never mapped */
			allowed = ERR(EFAULT);
			what = "of unmapped memory";
			break;
		default:
			argument = bad_argument(random, &allowed, &what);
			break;
		}
		judge_ioctl(thread, KIND_ADD_RANGE, ARGUMENT_HOSTILE, thread->private_fd,
			    SIM_MIRROR_ADD_RANGE, argument, allowed, true, what);
		if (chance(random, 15)) {
			/* Valid, but the range id cannot be written back. */
			struct sim_mirror_range *readonly = (void *)thread->readonly_page;

			mprotect(thread->readonly_page, PAGE_BYTES, PROT_READ | PROT_WRITE);
			*readonly = (struct sim_mirror_range){
				.size = sizeof(*readonly), .start = base, .length = PAGE_BYTES,
			};
			mprotect(thread->readonly_page, PAGE_BYTES, PROT_READ);
			judge_ioctl(thread, KIND_ADD_RANGE, ARGUMENT_HOSTILE, thread->private_fd,
				    SIM_MIRROR_ADD_RANGE, readonly, ERR(EFAULT), true,
				    "from a read-only argument");
		}
	} else {
		/* Boundary: the largest range, one page more, the last page. */
		switch (below(random, 4)) {
		case 0:
			if (add_private(thread, (uintptr_t)thread->worker->huge_reserve,
					(uint64_t)SIM_MIRROR_MAX_RANGE_PAGES * PAGE_BYTES,
					ARGUMENT_BOUNDARY, "of SIM_MIRROR_MAX_RANGE_PAGES"))
				remove_private(thread, &thread->ranges[thread->range_count - 1],
					       ARGUMENT_BOUNDARY);
			break;
		case 1:
			request.start = (uintptr_t)thread->worker->huge_reserve;
			request.length = HUGE_RESERVE_BYTES;
			judge_ioctl(thread, KIND_ADD_RANGE, ARGUMENT_BOUNDARY, thread->private_fd,
				    SIM_MIRROR_ADD_RANGE, &request, ERR(EINVAL), true,
				    "of SIM_MIRROR_MAX_RANGE_PAGES + 1");
			break;
		case 2:
			add_private(thread, private_address(thread, PRIVATE_PAGES - 1), PAGE_BYTES,
				    ARGUMENT_BOUNDARY, "of the last private page");
			break;
		default:
			/* Across the top of a 47-bit user address space. */
			request.start = 0x7ffffffff000ULL - PAGE_BYTES;
			request.length = 2 * PAGE_BYTES;
			judge_ioctl(thread, KIND_ADD_RANGE, ARGUMENT_BOUNDARY, thread->private_fd,
				    SIM_MIRROR_ADD_RANGE, &request, ERR(EINVAL) | ERR(EFAULT), true,
				    "across the top of user space");
			break;
		}
	}
}

static void operation_remove_range(struct fuzz_thread *thread)
{
	uint64_t *random = &thread->random;
	unsigned int choice = below(random, 100);
	struct sim_mirror_range_id request = { .size = sizeof(request) };
	struct table_entry entry;

	if (choice < 40) {
		struct private_range *range = pick_private(thread);

		if (range)
			remove_private(thread, range, ARGUMENT_VALID);
	} else if (choice < 65) {
		if (!table_pick(thread, true, &entry))
			return;
		request.range_id = entry.range_id;
		judge_shared_since(thread, KIND_REMOVE_RANGE, ARGUMENT_VALID, entry.slot,
				   entry.generation, SIM_MIRROR_REMOVE_RANGE, &request, 0, false,
				   "of a claimed shared range");
	} else if (choice < 75) {
		/* Guessed ids on the chaos descriptor: whoever's range it is. */
		request.range_id = 1 + below(random, 16);
		judge_shared_ioctl(thread, KIND_REMOVE_RANGE, ARGUMENT_RACE, SLOT_CHAOS,
				   SIM_MIRROR_REMOVE_RANGE, &request, ERR(EINVAL), false,
				   "of a guessed id");
	} else if (choice < 95) {
		const char *what;
		uint64_t allowed = ERR(EINVAL);
		void *argument = &request;

		switch (below(random, 6)) {
		case 0: request.range_id = 0; what = "of id 0"; break;
		case 1: request.range_id = SIM_MIRROR_MAX_RANGES + 1 + below(random, 1000); what = "of an id above the maximum"; break;
		case 2: request.range_id = UINT32_MAX; what = "of id ~0"; break;
		case 3: request.size = sizeof(request) + 4; request.range_id = 1; what = "with size + 4"; break;
		case 4: request.size = 0; request.range_id = 1; what = "with size 0"; break;
		default:
			argument = bad_argument(random, &allowed, &what);
			break;
		}
		judge_ioctl(thread, KIND_REMOVE_RANGE, ARGUMENT_HOSTILE, thread->private_fd,
			    SIM_MIRROR_REMOVE_RANGE, argument, allowed, true, what);
	} else {
		/* The largest id: valid only with SIM_MIRROR_MAX_RANGES ranges. */
		request.range_id = SIM_MIRROR_MAX_RANGES;
		judge_ioctl(thread, KIND_REMOVE_RANGE, ARGUMENT_BOUNDARY, thread->private_fd,
			    SIM_MIRROR_REMOVE_RANGE, &request, ERR(EINVAL), true,
			    "of id SIM_MIRROR_MAX_RANGES, never allocated here");
	}
}

/* A device access of a private range, checked against memory and counters. */
static void access_private(struct fuzz_thread *thread, struct private_range *range, bool write,
			   enum argument_class class, unsigned int first, unsigned int pages)
{
	enum kind kind = write ? KIND_WRITE : KIND_READ;
	struct sim_mirror_access access = {
		.size = sizeof(access), .range_id = range->range_id,
		.address = range->start + first * PAGE_BYTES, .length = pages * PAGE_BYTES,
		.buffer = (uintptr_t)thread->buffer,
	};
	char *memory = (char *)(uintptr_t)access.address;
	bool into_itself = !write && chance(&thread->random, 10);
	struct sim_mirror_counters before, after;
	bool have_before;
	long ret;

	if (write)
		fill_pattern(thread, thread->buffer, access.length);
	else
		fill_pattern(thread, memory, access.length);
	if (into_itself)
		access.buffer = access.address;	/* copy_to_user faults the mirror itself */
	have_before = query_private(thread, thread->private_fd, range, &before);
	ret = judge_ioctl(thread, kind, class, thread->private_fd,
			  write ? SIM_MIRROR_WRITE : SIM_MIRROR_READ, &access,
			  ERR(EBUSY) | ERR(ENOMEM), false, "of a private range");
	if (!query_private(thread, thread->private_fd, range, &after) || !have_before)
		return;
	if (ret && errno == EBUSY && after.timeouts <= before.timeouts)
		violation(thread, kind, "%s failed with EBUSY, but counted no timeout", kind_names[kind]);
	if (ret)
		return;
	if (after.faults - before.faults < access.faults ||
	    after.pages_mirrored - before.pages_mirrored < access.faults)
		violation(thread, kind,
			  "%s took %" PRIu64 " device faults, but the range counted %" PRIu64 " fault batches and %" PRIu64 " pages",
			  kind_names[kind], (uint64_t)access.faults, after.faults - before.faults,
			  after.pages_mirrored - before.pages_mirrored);
	count_event(EVENT_INTEGRITY_CHECKS);
	if (!into_itself && memcmp(memory, thread->buffer, access.length))
		violation(thread, kind, "the device %s of %u pages at page %u does not match memory",
			  write ? "write" : "read", pages, first);
}

static void operation_access(struct fuzz_thread *thread, bool write)
{
	uint64_t *random = &thread->random;
	enum kind kind = write ? KIND_WRITE : KIND_READ;
	unsigned long command = write ? SIM_MIRROR_WRITE : SIM_MIRROR_READ;
	unsigned int choice = below(random, 100);
	struct sim_mirror_access access = {
		.size = sizeof(access), .buffer = (uintptr_t)thread->buffer,
	};
	struct private_range *range = pick_private(thread);
	struct table_entry entry;

	if (!range && choice < 45) {
		unsigned int first = below(random, PRIVATE_PAGES);

		add_private(thread, private_address(thread, first),
			    (1 + below(random, PRIVATE_PAGES - first)) * PAGE_BYTES,
			    ARGUMENT_VALID, "in private memory");
		range = pick_private(thread);
	}
	if (choice < 45 && range && range->start != (uintptr_t)thread->worker->huge_reserve) {
		unsigned int range_pages = range->length / PAGE_BYTES;
		unsigned int first = below(random, range_pages);
		unsigned int pages = 1 + below(random, range_pages - first);

		if (pages > MAX_ACCESS_PAGES)
			pages = MAX_ACCESS_PAGES;
		access_private(thread, range, write, ARGUMENT_VALID, first, pages);
	} else if (choice < 70) {
		/* Pool memory under mutation, ranges others may remove or close. */
		uint64_t allowed = ERR(EFAULT) | ERR(EPERM) | ERR(EBUSY) | ERR(ENOMEM) | ERR(EINVAL);
		unsigned int pages, first;

		if (!table_pick(thread, false, &entry))
			return;
		pages = entry.length / PAGE_BYTES;
		first = below(random, pages);
		access.range_id = entry.range_id;
		access.address = entry.start + first * PAGE_BYTES;
		access.length = (1 + below(random, pages - first)) * PAGE_BYTES;
		if (write)
			fill_pattern(thread, thread->buffer, access.length);
		judge_shared_since(thread, kind, ARGUMENT_RACE, entry.slot, entry.generation,
				   command, &access, allowed, false, "of a shared range");
	} else if (choice < 77) {
		access.range_id = 1 + below(random, 16);
		access.address = (uintptr_t)thread->worker->regions[below(random, POOL_REGIONS)].start;
		access.length = PAGE_BYTES;
		judge_shared_ioctl(thread, kind, ARGUMENT_RACE, SLOT_CHAOS, command, &access,
				   ERR(EFAULT) | ERR(EPERM) | ERR(EBUSY) | ERR(ENOMEM) | ERR(EINVAL),
				   false, "of a guessed id");
	} else if (choice < 93 || !range) {
		const char *what;
		uint64_t allowed = ERR(EINVAL);
		void *argument = &access;

		if (range) {
			access.range_id = range->range_id;
			access.address = range->start;
		} else {
			access.range_id = SIM_MIRROR_MAX_RANGES + 1;
			access.address = private_address(thread, 0);
		}
		access.length = PAGE_BYTES;
		switch (below(random, 12)) {
		case 0: access.range_id = 0; what = "of range 0"; break;
		case 1: access.range_id = SIM_MIRROR_MAX_RANGES + 1 + below(random, 1000); what = "of an unknown id"; break;
		case 2: access.size = sizeof(access) - 8; what = "with size - 8"; break;
		case 3: access.address += 1 + below(random, PAGE_BYTES - 1); what = "at an unaligned address"; break;
		case 4: access.length = 1 + below(random, PAGE_BYTES - 1); what = "of an unaligned length"; break;
		case 5: access.length = 0; what = "of length 0"; break;
		case 6: access.length = 1ULL << (30 + below(random, 33)); what = "of a huge length"; break;
		case 7: access.address -= PAGE_BYTES * (1 + below(random, 4)); what = "below its range"; break;
		case 8:
			access.address = range ? range->start + range->length : access.address + PAGE_BYTES;
			what = "past its range";
			break;
		case 9: access.length = -access.address & ~(PAGE_BYTES - 1); what = "wrapping around"; break;
		case 10:
			if (!range)
				access.range_id = SIM_MIRROR_MAX_RANGES + 1;
			access.buffer = below(random, 2) ? KERNEL_ADDRESS : 8;
			/* A read faults the range in before it copies out. */
			allowed = range ? ERR(EFAULT) | ERR(EBUSY) | ERR(ENOMEM) : ERR(EINVAL);
			what = "with a kernel or NULL buffer";
			break;
		default:
			argument = bad_argument(random, &allowed, &what);
			break;
		}
		judge_ioctl(thread, kind, ARGUMENT_HOSTILE, thread->private_fd, command, argument,
			    allowed, true, what);
	} else if (range && range->start != (uintptr_t)thread->worker->huge_reserve) {
		/* Boundary: the whole range, its last page, one page past its end. */
		unsigned int range_pages = range->length / PAGE_BYTES;

		switch (below(random, 3)) {
		case 0:
			if (range_pages <= MAX_ACCESS_PAGES)
				access_private(thread, range, write, ARGUMENT_BOUNDARY, 0, range_pages);
			break;
		case 1:
			access_private(thread, range, write, ARGUMENT_BOUNDARY, range_pages - 1, 1);
			break;
		default:
			access.range_id = range->range_id;
			access.address = range->start + range->length - PAGE_BYTES;
			access.length = 2 * PAGE_BYTES;
			judge_ioctl(thread, kind, ARGUMENT_BOUNDARY, thread->private_fd, command,
				    &access, ERR(EINVAL), true, "one page past the end of its range");
			break;
		}
	}
}

static struct sim_mirror_knobs random_knobs(uint64_t *random)
{
	return (struct sim_mirror_knobs){
		.size = sizeof(struct sim_mirror_knobs),
		.retry_window_us = chance(random, 50) ? 0 : below(random, FUZZ_DELAY_US + 1),
		.fault_work_us = chance(random, 50) ? 0 : below(random, FUZZ_DELAY_US + 1),
		.engines = 1 + below(random, SIM_MIRROR_MAX_ENGINES),
		.fault_batch_pages = 1 + below(random, SIM_MIRROR_MAX_BATCH_PAGES),
	};
}

/* GET_KNOBS on a descriptor only this thread sets: it returns what was set. */
static void check_knobs(struct fuzz_thread *thread, int fd, const struct sim_mirror_knobs *expected,
			enum argument_class class, const char *what)
{
	struct sim_mirror_knobs knobs = { .size = sizeof(knobs) };

	if (judge_ioctl(thread, KIND_GET_KNOBS, class, fd, SIM_MIRROR_GET_KNOBS, &knobs, 0, false,
			what))
		return;
	if (memcmp(&knobs, expected, sizeof(knobs)))
		violation(thread, KIND_GET_KNOBS,
			  "get_knobs %s returned retry_window_us=%u fault_work_us=%u engines=%u fault_batch_pages=%u stale_seq_bug=%u, not what was set",
			  what, knobs.retry_window_us, knobs.fault_work_us, knobs.engines,
			  knobs.fault_batch_pages, knobs.stale_seq_bug);
}

static void operation_set_knobs(struct fuzz_thread *thread)
{
	uint64_t *random = &thread->random;
	unsigned int choice = below(random, 100);
	struct sim_mirror_knobs knobs = random_knobs(random);

	if (choice < 30) {
		if (!judge_ioctl(thread, KIND_SET_KNOBS, ARGUMENT_VALID, thread->private_fd,
				 SIM_MIRROR_SET_KNOBS, &knobs, 0, false, "bounded, private"))
			thread->private_knobs = knobs;
		check_knobs(thread, thread->private_fd, &thread->private_knobs, ARGUMENT_VALID,
			    "of the private descriptor");
	} else if (choice < 55) {
		judge_shared_ioctl(thread, KIND_SET_KNOBS, ARGUMENT_VALID, below(random, SLOT_COUNT),
				   SIM_MIRROR_SET_KNOBS, &knobs, 0, false, "bounded");
	} else if (choice < 80) {
		const char *what;
		uint64_t allowed = ERR(EINVAL);
		void *argument = &knobs;

		switch (below(random, 10)) {
		case 0: knobs.retry_window_us = SIM_MIRROR_MAX_DELAY_US + 1 + below(random, 1000); what = "retry_window_us above the maximum"; break;
		case 1: knobs.fault_work_us = SIM_MIRROR_MAX_DELAY_US + 1; what = "fault_work_us = max + 1"; break;
		case 2: knobs.engines = 0; what = "engines = 0"; break;
		case 3: knobs.engines = SIM_MIRROR_MAX_ENGINES + 1 + below(random, 2); what = "engines above the maximum"; break;
		case 4: knobs.fault_batch_pages = 0; what = "fault_batch_pages = 0"; break;
		case 5: knobs.fault_batch_pages = SIM_MIRROR_MAX_BATCH_PAGES + 1; what = "fault_batch_pages = max + 1"; break;
		case 6: knobs.stale_seq_bug = 2 + below(random, 10); what = "stale_seq_bug above 1"; break;
		case 7: knobs.engines = UINT32_MAX; what = "engines = ~0"; break;
		case 8: knobs.size = sizeof(knobs) - 4; what = "with size - 4"; break;
		default:
			argument = bad_argument(random, &allowed, &what);
			break;
		}
		judge_ioctl(thread, KIND_SET_KNOBS, ARGUMENT_HOSTILE, thread->knob_fd,
			    SIM_MIRROR_SET_KNOBS, argument, allowed, true, what);
		check_knobs(thread, thread->knob_fd, &thread->knob_fd_knobs, ARGUMENT_VALID,
			    "after a refused set_knobs");
	} else {
		/* Every bound at once, on the descriptor that never faults. */
		bool maximum = below(random, 2);

		knobs.retry_window_us = maximum ? SIM_MIRROR_MAX_DELAY_US : 0;
		knobs.fault_work_us = maximum ? SIM_MIRROR_MAX_DELAY_US : 0;
		knobs.engines = maximum ? SIM_MIRROR_MAX_ENGINES : 1;
		knobs.fault_batch_pages = maximum ? SIM_MIRROR_MAX_BATCH_PAGES : 1;
		knobs.stale_seq_bug = maximum;
		if (!judge_ioctl(thread, KIND_SET_KNOBS, ARGUMENT_BOUNDARY, thread->knob_fd,
				 SIM_MIRROR_SET_KNOBS, &knobs, 0, false,
				 maximum ? "every knob at its maximum" : "every knob at its minimum"))
			thread->knob_fd_knobs = knobs;
		check_knobs(thread, thread->knob_fd, &thread->knob_fd_knobs, ARGUMENT_BOUNDARY,
			    "after a bound set_knobs");
	}
}

static void operation_get_knobs(struct fuzz_thread *thread)
{
	uint64_t *random = &thread->random;
	unsigned int choice = below(random, 100);
	struct sim_mirror_knobs knobs = { .size = sizeof(knobs) };

	if (choice < 40) {
		check_knobs(thread, thread->private_fd, &thread->private_knobs, ARGUMENT_VALID,
			    "of the private descriptor");
	} else if (choice < 65) {
		judge_shared_ioctl(thread, KIND_GET_KNOBS, ARGUMENT_VALID, below(random, SLOT_COUNT),
				   SIM_MIRROR_GET_KNOBS, &knobs, 0, false, "shared");
	} else {
		const char *what;
		uint64_t allowed = ERR(EFAULT);
		void *argument = &knobs;

		switch (below(random, 4)) {
		case 0: knobs.size = sizeof(knobs) + 4; allowed = ERR(EINVAL); what = "with size + 4"; break;
		case 1: knobs.size = 0; allowed = ERR(EINVAL); what = "with size 0"; break;
		case 2:
			mprotect(thread->readonly_page, PAGE_BYTES, PROT_READ | PROT_WRITE);
			memcpy(thread->readonly_page, &knobs, sizeof(knobs));
			mprotect(thread->readonly_page, PAGE_BYTES, PROT_READ);
			argument = thread->readonly_page;
			what = "into a read-only argument";
			break;
		default:
			argument = bad_argument(random, &allowed, &what);
			break;
		}
		judge_ioctl(thread, KIND_GET_KNOBS, ARGUMENT_HOSTILE, thread->private_fd,
			    SIM_MIRROR_GET_KNOBS, argument, allowed, true, what);
	}
}

static void operation_get_counters(struct fuzz_thread *thread)
{
	uint64_t *random = &thread->random;
	unsigned int choice = below(random, 100);
	struct sim_mirror_counters_query query = { .size = sizeof(query) };
	struct private_range *range = pick_private(thread);
	struct table_entry entry;

	if (choice < 30) {
		query_device(thread, thread->private_fd, ARGUMENT_VALID, false);
	} else if (choice < 50 && range) {
		query_private(thread, thread->private_fd, range, NULL);
	} else if (choice < 70) {
		/* Someone's shared range, removed or closed at any moment. */
		if (!table_pick(thread, false, &entry))
			return;
		query.range_id = entry.range_id;
		judge_shared_since(thread, KIND_GET_COUNTERS, ARGUMENT_RACE, entry.slot,
				   entry.generation, SIM_MIRROR_GET_COUNTERS, &query, ERR(EINVAL),
				   false, "of a shared range");
	} else if (choice < 78) {
		query.range_id = 1 + below(random, 16);
		judge_shared_ioctl(thread, KIND_GET_COUNTERS, ARGUMENT_RACE, SLOT_CHAOS,
				   SIM_MIRROR_GET_COUNTERS, &query, ERR(EINVAL), false,
				   "of a guessed id");
	} else if (choice < 95) {
		const char *what;
		uint64_t allowed = ERR(EINVAL);
		void *argument = &query;

		switch (below(random, 6)) {
		case 0: query.range_id = SIM_MIRROR_MAX_RANGES + 1; what = "of id SIM_MIRROR_MAX_RANGES + 1"; break;
		case 1: query.range_id = UINT32_MAX; what = "of id ~0"; break;
		case 2: query.size = sizeof(query) - 8; what = "with size - 8"; break;
		case 3: query.size = UINT32_MAX; what = "with size ~0"; break;
		case 4:
			mprotect(thread->readonly_page, PAGE_BYTES, PROT_READ | PROT_WRITE);
			memcpy(thread->readonly_page, &query, sizeof(query));
			mprotect(thread->readonly_page, PAGE_BYTES, PROT_READ);
			argument = thread->readonly_page;
			allowed = ERR(EFAULT);
			what = "into a read-only argument";
			break;
		default:
			argument = bad_argument(random, &allowed, &what);
			break;
		}
		judge_ioctl(thread, KIND_GET_COUNTERS, ARGUMENT_HOSTILE, thread->private_fd,
			    SIM_MIRROR_GET_COUNTERS, argument, allowed, true, what);
	} else {
		query.range_id = SIM_MIRROR_MAX_RANGES;
		judge_ioctl(thread, KIND_GET_COUNTERS, ARGUMENT_BOUNDARY, thread->private_fd,
			    SIM_MIRROR_GET_COUNTERS, &query, ERR(EINVAL), true,
			    "of id SIM_MIRROR_MAX_RANGES, never allocated here");
	}
}

static void operation_reset_counters(struct fuzz_thread *thread)
{
	struct worker *worker = thread->worker;
	bool private = below(&thread->random, 2);
	unsigned int index;

	atomic_fetch_add(&shared->worker_resets_begun[worker->slot], 1);
	atomic_fetch_add(&shared->resets_begun, 1);
	if (private)
		judge_ioctl(thread, KIND_RESET_COUNTERS, ARGUMENT_VALID, thread->private_fd,
			    SIM_MIRROR_RESET_COUNTERS, NULL, 0, false, "private");
	else
		judge_shared_ioctl(thread, KIND_RESET_COUNTERS, ARGUMENT_VALID,
				   below(&thread->random, SLOT_COUNT), SIM_MIRROR_RESET_COUNTERS,
				   NULL, 0, false, "shared");
	atomic_fetch_add(&shared->resets_ended, 1);
	atomic_fetch_add(&shared->worker_resets_ended[worker->slot], 1);
	thread->device_known = false;
	if (!private)
		return;
	/* This file's ranges are zeroed; nobody else inserts or removes them. */
	for (index = 0; index < thread->range_count; index++) {
		struct sim_mirror_counters counters;
		struct private_range *range = &thread->ranges[index];

		range->known = false;
		if (query_private(thread, thread->private_fd, range, &counters) &&
		    (counters.inserts || counters.removes))
			violation(thread, KIND_RESET_COUNTERS,
				  "after a reset, a range counts %" PRIu64 " inserts and %" PRIu64 " removes, not 0",
				  counters.inserts, counters.removes);
	}
}

static void operation_unknown(struct fuzz_thread *thread)
{
	uint64_t *random = &thread->random;
	unsigned long command;
	uint64_t argument[16] = { 0 };

	switch (below(random, 6)) {
	case 0: command = _IO(SIM_MIRROR_MAGIC, 0); break;
	case 1: command = _IO(SIM_MIRROR_MAGIC, 0x09 + below(random, 0xf7)); break;
	case 2: command = _IOWR(SIM_MIRROR_MAGIC, 0x09 + below(random, 0xf7), struct sim_mirror_range); break;
	/* A known number with another size or direction. */
	case 3: command = _IOWR(SIM_MIRROR_MAGIC, 0x01 + below(random, 7), uint64_t); break;
	case 4: command = _IOR(SIM_MIRROR_MAGIC, 0x03, struct sim_mirror_access); break;
	default: command = _IO(SIM_MIRROR_MAGIC, 0x01 + below(random, 7)); break;
	}
	argument[0] = sizeof(struct sim_mirror_access);
	judge_ioctl(thread, KIND_UNKNOWN, ARGUMENT_HOSTILE, thread->private_fd, command, argument,
		    ERR(EINVAL) | ERR(ENOTTY), true, "unknown ioctl number");
}

/* --- address space mutations and descriptor churn ------------------------ */

static void operation_mutate(struct fuzz_thread *thread)
{
	uint64_t *random = &thread->random;
	struct region *region = &thread->worker->regions[below(random, POOL_REGIONS)];
	char *start = region->start;
	size_t offset;

	if (pthread_mutex_trylock(&region->lock))
		return;
	if (region->lost) {
		pthread_mutex_unlock(&region->lock);
		return;
	}
	switch (below(random, 6)) {
	case 0:
		munmap(start, REGION_BYTES);
		sched_yield();
		if (mmap(start, REGION_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != start) {
			region->lost = true;
			count_event(EVENT_LOST_REGIONS);
		}
		count_event(EVENT_MUNMAPS);
		break;
	case 1:
		if (below(random, 2)) {
			if (mremap(start, REGION_BYTES, REGION_BYTES, MREMAP_MAYMOVE | MREMAP_FIXED,
				   thread->spare) == thread->spare &&
			    mremap(thread->spare, REGION_BYTES, REGION_BYTES,
				   MREMAP_MAYMOVE | MREMAP_FIXED, start) != start) {
				region->lost = true;
				count_event(EVENT_LOST_REGIONS);
			}
			/* The spare is a hole now: reserve it again. */
			mmap(thread->spare, REGION_BYTES, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		} else {
			/* Shrink, then grow back in place. */
			if (mremap(start, REGION_BYTES, REGION_BYTES / 2, 0) == start &&
			    mremap(start, REGION_BYTES / 2, REGION_BYTES, 0) != start) {
				region->lost = true;
				count_event(EVENT_LOST_REGIONS);
			}
		}
		count_event(EVENT_MREMAPS);
		break;
	case 2:
		mprotect(start, REGION_BYTES, below(random, 2) ? PROT_READ : PROT_NONE);
		sched_yield();
		mprotect(start, REGION_BYTES, PROT_READ | PROT_WRITE);
		count_event(EVENT_MPROTECTS);
		break;
	case 3:
		madvise(start + below(random, REGION_PAGES) * PAGE_BYTES, PAGE_BYTES * (1 + below(random, 4)),
			MADV_DONTNEED);
		count_event(EVENT_MADVISES);
		break;
	default:
		for (offset = 0; offset < REGION_BYTES; offset += PAGE_BYTES)
			if (chance(random, 50))
				start[offset]++;
		count_event(EVENT_TOUCHES);
		break;
	}
	pthread_mutex_unlock(&region->lock);
}

static int open_device(void)
{
	return open(SIM_MIRROR_DEVICE, O_RDWR);
}

/* Close a shared descriptor other threads are using, then reopen it. */
static void operation_close(struct fuzz_thread *thread)
{
	struct worker *worker = thread->worker;
	enum shared_slot slot = below(&thread->random, SLOT_COUNT);
	int fd, old;

	if (atomic_flag_test_and_set(&worker->closing))
		return;
	old = atomic_load(&worker->shared_fds[slot]);
	atomic_fetch_add(&worker->fd_generations[slot], 1);
	close(old);
	count_event(EVENT_CLOSES);
	sched_yield();
	fd = open_device();
	if (fd < 0) {
		violation(thread, -1, "reopening %s failed: %s", SIM_MIRROR_DEVICE, strerror(errno));
	} else {
		if (fd != old && dup2(fd, old) == old) {
			close(fd);
			fd = old;
		}
		atomic_store(&worker->shared_fds[slot], fd);
		atomic_fetch_add(&worker->fd_generations[slot], 1);
	}
	atomic_flag_clear(&worker->closing);
}

/*
 * A grandchild holds the child's descriptor after the child exited with live
 * ranges: the ranges stay (the file is open) but their address space is
 * gone, and this process is not their owner.
 */
static void grandchild_main(struct fuzz_thread *thread, int fd, pid_t parent, uint32_t range_id)
{
	struct sim_mirror_counters_query query = { .size = sizeof(query), .range_id = range_id };
	struct sim_mirror_range_id remove = { .size = sizeof(remove), .range_id = range_id };
	struct sim_mirror_access access = {
		.size = sizeof(access), .range_id = range_id, .length = PAGE_BYTES,
		.buffer = (uintptr_t)thread->buffer,
	};
	double give_up = monotonic_seconds() + 2;

	thread->where = "grandchild";
	while (getppid() == parent && monotonic_seconds() < give_up)
		sched_yield();
	if (!judge_ioctl(thread, KIND_GET_COUNTERS, ARGUMENT_RACE, fd, SIM_MIRROR_GET_COUNTERS,
			 &query, 0, false, "of a range whose process exited") &&
	    (query.counters.inserts != 1 || query.counters.removes != 0))
		violation(thread, KIND_GET_COUNTERS,
			  "a range outliving its process counts %" PRIu64 " inserts and %" PRIu64 " removes, not 1 and 0",
			  query.counters.inserts, query.counters.removes);
	judge_ioctl(thread, KIND_READ, ARGUMENT_RACE, fd, SIM_MIRROR_READ, &access, ERR(EINVAL),
		    true, "by another process");
	judge_ioctl(thread, KIND_REMOVE_RANGE, ARGUMENT_RACE, fd, SIM_MIRROR_REMOVE_RANGE, &remove,
		    ERR(EINVAL), true, "by another process");
	_exit(0);
}

/*
 * A fork child: the inherited descriptors are the parent's address space's,
 * so all but the two GETs must fail; then ranges of its own, left live at
 * exit, perhaps with a grandchild holding the file.
 */
static void child_main(struct fuzz_thread *thread, bool shared_stable[SLOT_COUNT])
{
	uint64_t *random = &thread->random;
	unsigned int calls = 2 + below(random, 6), call;
	struct sim_mirror_range add;
	char *memory;
	int fd;
	pid_t grandchild;

	thread->where = "child";
	for (call = 0; call < calls; call++) {
		unsigned int which = below(random, SLOT_COUNT + 1);
		struct private_range *range = pick_private(thread);
		uint64_t allowed = ERR(EINVAL);
		int inherited;
		struct sim_mirror_knobs knobs = random_knobs(random);
		struct sim_mirror_range_id remove = { .size = sizeof(remove) };
		struct sim_mirror_access access = {
			.size = sizeof(access), .length = PAGE_BYTES,
			.buffer = (uintptr_t)thread->buffer,
		};
		struct sim_mirror_counters_query query = { .size = sizeof(query) };

		if (which == SLOT_COUNT) {
			inherited = thread->private_fd;
		} else {
			inherited = atomic_load(&thread->worker->shared_fds[which]);
			if (!shared_stable[which])
				allowed |= ERR(EBADF);
		}
		add = (struct sim_mirror_range){
			.size = sizeof(add), .start = private_address(thread, 0), .length = PAGE_BYTES,
		};
		switch (below(random, 7)) {
		case 0:
			judge_ioctl(thread, KIND_ADD_RANGE, ARGUMENT_RACE, inherited, SIM_MIRROR_ADD_RANGE,
				    &add, allowed, true, "on an inherited descriptor");
			break;
		case 1:
			remove.range_id = range ? range->range_id : 1;
			judge_ioctl(thread, KIND_REMOVE_RANGE, ARGUMENT_RACE, inherited,
				    SIM_MIRROR_REMOVE_RANGE, &remove, allowed, true,
				    "of the parent's range");
			break;
		case 2:
			access.range_id = range ? range->range_id : 1;
			access.address = range ? range->start : add.start;
			if (below(random, 2))
				judge_ioctl(thread, KIND_READ, ARGUMENT_RACE, inherited, SIM_MIRROR_READ,
					    &access, allowed, true, "of the parent's range");
			else
				judge_ioctl(thread, KIND_WRITE, ARGUMENT_RACE, inherited, SIM_MIRROR_WRITE,
					    &access, allowed, true, "of the parent's range");
			break;
		case 3:
			judge_ioctl(thread, KIND_SET_KNOBS, ARGUMENT_RACE, inherited, SIM_MIRROR_SET_KNOBS,
				    &knobs, allowed, true, "on an inherited descriptor");
			break;
		case 4:
			judge_ioctl(thread, KIND_RESET_COUNTERS, ARGUMENT_RACE, inherited,
				    SIM_MIRROR_RESET_COUNTERS, NULL, allowed, true,
				    "on an inherited descriptor");
			break;
		case 5:
			knobs.size = sizeof(knobs);
			judge_ioctl(thread, KIND_GET_KNOBS, ARGUMENT_RACE, inherited, SIM_MIRROR_GET_KNOBS,
				    &knobs, allowed & ERR(EBADF), false, "on an inherited descriptor");
			if (which == SLOT_COUNT && memcmp(&knobs, &thread->private_knobs, sizeof(knobs)))
				violation(thread, KIND_GET_KNOBS,
					  "get_knobs on an inherited descriptor differs from the parent's");
			break;
		default:
			/* The parent thread waits for us, so its private ranges stay. */
			if (which == SLOT_COUNT && range) {
				query.range_id = range->range_id;
				judge_ioctl(thread, KIND_GET_COUNTERS, ARGUMENT_RACE, inherited,
					    SIM_MIRROR_GET_COUNTERS, &query, 0, false,
					    "of the parent's range");
			} else {
				query_device(thread, inherited, ARGUMENT_RACE, !shared_stable[which]);
			}
			break;
		}
	}

	fd = open_device();
	memory = mmap(NULL, 4 * PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fd < 0 || memory == MAP_FAILED) {
		violation(thread, -1, "a fork child could not open %s or map memory", SIM_MIRROR_DEVICE);
		_exit(1);
	}
	memset(memory, 1, 4 * PAGE_BYTES);
	add = (struct sim_mirror_range){
		.size = sizeof(add), .start = (uintptr_t)memory, .length = 4 * PAGE_BYTES,
	};
	if (judge_ioctl(thread, KIND_ADD_RANGE, ARGUMENT_VALID, fd, SIM_MIRROR_ADD_RANGE, &add,
			ERR(ENOMEM), false, "in a fork child"))
		_exit(0);
	{
		struct sim_mirror_access access = {
			.size = sizeof(access), .range_id = add.range_id, .address = add.start,
			.length = (1 + below(random, 4)) * PAGE_BYTES, .buffer = (uintptr_t)thread->buffer,
		};

		judge_ioctl(thread, KIND_READ, ARGUMENT_VALID, fd, SIM_MIRROR_READ, &access,
			    ERR(EBUSY) | ERR(ENOMEM), false, "in a fork child");
	}
	if (chance(random, 50)) {
		pid_t self = getpid();

		grandchild = fork();
		if (grandchild == 0)
			grandchild_main(thread, fd, self, add.range_id);
		if (grandchild > 0)
			count_event(EVENT_GRANDCHILDREN);
	}
	_exit(0);	/* with a live range */
}

static void operation_fork(struct fuzz_thread *thread)
{
	struct worker *worker = thread->worker;
	bool shared_stable[SLOT_COUNT];
	unsigned long generations[SLOT_COUNT];
	uint64_t child_random = next_random(&thread->random);
	int slot, status;
	pid_t child;

	if (atomic_flag_test_and_set(&worker->forking))
		return;
	for (slot = 0; slot < SLOT_COUNT; slot++)
		generations[slot] = atomic_load(&worker->fd_generations[slot]);
	child = fork();
	if (child == 0) {
		/* Whether the descriptors stood still across the fork. */
		for (slot = 0; slot < SLOT_COUNT; slot++)
			shared_stable[slot] = !(generations[slot] & 1) &&
				atomic_load(&worker->fd_generations[slot]) == generations[slot];
		thread->random = child_random;
		child_main(thread, shared_stable);
	}
	if (child > 0) {
		count_event(EVENT_FORKS);
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(status))
			violation(thread, -1, "a fork child died of signal %d", WTERMSIG(status));
	}
	atomic_flag_clear(&worker->forking);
}

/* --- the worker process -------------------------------------------------- */

static void *map_or_die(size_t bytes, int protection)
{
	void *memory = mmap(NULL, bytes, protection, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (memory == MAP_FAILED) {
		report("sim_mirror_fuzz: mmap of %zu bytes: %s", bytes, strerror(errno));
		_exit(3);
	}
	return memory;
}

static bool time_is_up(void)
{
	return atomic_load(&shared->stop) || monotonic_seconds() >= deadline;
}

static void *thread_main(void *argument)
{
	struct fuzz_thread *thread = argument;

	pthread_barrier_wait(&thread->worker->start_barrier);
	while (!time_is_up()) {
		unsigned int choice = below(&thread->random, 1000);

		if (choice < 140)
			operation_add_range(thread);
		else if (choice < 240)
			operation_remove_range(thread);
		else if (choice < 390)
			operation_access(thread, false);
		else if (choice < 520)
			operation_access(thread, true);
		else if (choice < 580)
			operation_set_knobs(thread);
		else if (choice < 630)
			operation_get_knobs(thread);
		else if (choice < 730)
			operation_get_counters(thread);
		else if (choice < 740)
			operation_reset_counters(thread);
		else if (choice < 790)
			operation_unknown(thread);
		else if (choice < 960)
			operation_mutate(thread);
		else if (choice < 985)
			operation_close(thread);
		else
			operation_fork(thread);
	}
	return NULL;
}

/* Runs until its lifetime ends, then exits abruptly: live ranges, ioctls in flight. */
static void worker_main(int slot, unsigned int generation, double lifetime_end)
{
	struct worker *worker = map_or_die(sizeof(*worker), PROT_READ | PROT_WRITE);
	struct fuzz_thread *threads = map_or_die(thread_count * sizeof(*threads), PROT_READ | PROT_WRITE);
	unsigned int index;
	int region, fd;

	worker->slot = slot;
	worker->generation = generation;
	pthread_mutex_init(&worker->table_lock, NULL);
	pthread_barrier_init(&worker->start_barrier, NULL, thread_count + 1);
	worker->pool = map_or_die(2 * POOL_REGIONS * REGION_BYTES, PROT_NONE);
	for (region = 0; region < POOL_REGIONS; region++) {
		worker->regions[region].start = worker->pool + 2 * region * REGION_BYTES;
		pthread_mutex_init(&worker->regions[region].lock, NULL);
		if (mmap(worker->regions[region].start, REGION_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			_exit(3);
		madvise(worker->regions[region].start, REGION_BYTES, MADV_NOHUGEPAGE);
	}
	worker->huge_reserve = map_or_die(HUGE_RESERVE_BYTES, PROT_NONE);
	for (index = 0; index < SLOT_COUNT; index++) {
		fd = open_device();
		if (fd < 0) {
			report("sim_mirror_fuzz: %s: %s", SIM_MIRROR_DEVICE, strerror(errno));
			_exit(3);
		}
		atomic_store(&worker->shared_fds[index], fd);
	}
	atomic_flag_clear(&worker->forking);
	atomic_flag_clear(&worker->closing);
	for (index = 0; index < thread_count; index++) {
		struct fuzz_thread *thread = &threads[index];

		thread->worker = worker;
		thread->index = index;
		thread->where = "worker";
		thread->random = derive_seed(slot, generation, index);
		thread->private_fd = open_device();
		thread->knob_fd = open_device();
		if (thread->private_fd < 0 || thread->knob_fd < 0) {
			report("sim_mirror_fuzz: %s: %s", SIM_MIRROR_DEVICE, strerror(errno));
			_exit(3);
		}
		thread->private_knobs = thread->knob_fd_knobs = (struct sim_mirror_knobs){
			.size = sizeof(struct sim_mirror_knobs), .engines = 2, .fault_batch_pages = 64,
		};
		thread->private_region = map_or_die(PRIVATE_PAGES * PAGE_BYTES, PROT_READ | PROT_WRITE);
		madvise(thread->private_region, PRIVATE_PAGES * PAGE_BYTES, MADV_NOHUGEPAGE);
		thread->buffer = map_or_die(MAX_ACCESS_PAGES * PAGE_BYTES, PROT_READ | PROT_WRITE);
		thread->readonly_page = map_or_die(PAGE_BYTES, PROT_READ);
		thread->spare = map_or_die(REGION_BYTES, PROT_NONE);
		/* The driver's defaults are what get_knobs must start with. */
		check_knobs(thread, thread->private_fd, &thread->private_knobs, ARGUMENT_VALID,
			    "of a new descriptor");
	}
	for (index = 0; index < thread_count; index++) {
		pthread_t id;

		if (pthread_create(&id, NULL, thread_main, &threads[index])) {
			report("sim_mirror_fuzz: pthread_create failed");
			_exit(3);
		}
	}
	pthread_barrier_wait(&worker->start_barrier);
	while (!time_is_up() && monotonic_seconds() < lifetime_end)
		usleep(10000);
	_exit(0);
}

/* --- the supervisor ------------------------------------------------------ */

struct worker_slot {
	pid_t pid;
	unsigned int generation;
};

static pid_t spawn_worker(int slot, unsigned int generation)
{
	uint64_t random = derive_seed(1000 + slot, generation, 0);
	double now = monotonic_seconds();
	/* A lifetime of a quarter to all of the run, at least a second. */
	double lifetime = run_seconds * (0.25 + below(&random, 76) / 100.0);
	pid_t pid;

	if (lifetime < 1)
		lifetime = 1;
	pid = fork();
	if (pid == 0)
		worker_main(slot, generation, now + lifetime);
	if (pid < 0)
		report("sim_mirror_fuzz: fork: %s", strerror(errno));
	return pid;
}

/* Everything a worker began it also ended, as far as others can tell. */
static void account_worker_exit(int slot, int status)
{
	unsigned long unfinished = atomic_load(&shared->worker_resets_begun[slot]) -
		atomic_load(&shared->worker_resets_ended[slot]);

	atomic_fetch_add(&shared->worker_resets_ended[slot], unfinished);
	atomic_fetch_add(&shared->resets_ended, unfinished);
	if (WIFSIGNALED(status))
		violation(NULL, -1, "worker process %d died of signal %d", slot, WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
		violation(NULL, -1, "worker process %d could not set up", slot);
	count_event(EVENT_WORKER_EXITS);
}

/* Read a debugfs file whole through a descriptor kept open; -1 when absent. */
static long read_debugfs(int fd, char *text, size_t size)
{
	ssize_t got, total = 0;

	if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	while ((size_t)total < size - 1 && (got = read(fd, text + total, size - 1 - total)) > 0)
		total += got;
	text[total] = '\0';
	count_event(EVENT_DEBUGFS_READS);
	return total;
}

static long long debugfs_live_ranges(int fd)
{
	char text[4096];
	const char *line;

	if (read_debugfs(fd, text, sizeof(text)) < 0)
		return LLONG_MIN;
	line = strstr(text, "live_ranges ");
	return line ? atoll(line + strlen("live_ranges ")) : LLONG_MIN;
}

static bool wait_for_workers(struct worker_slot *slots, double give_up)
{
	pid_t pid;
	int status, slot;
	bool any;

	for (;;) {
		any = false;
		for (slot = 0; slot < (int)process_count; slot++)
			any |= slots[slot].pid > 0;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (slot = 0; slot < (int)process_count; slot++)
				if (slots[slot].pid == pid) {
					slots[slot].pid = 0;
					account_worker_exit(slot, status);
				}
		if (pid < 0 && errno == ECHILD)
			return true;
		if (!any && pid < 0)
			return true;
		if (monotonic_seconds() > give_up)
			return false;
		usleep(10000);
	}
}

static void print_summary(long long live_ranges)
{
	int kind, class, result, event;
	unsigned long total;

	for (kind = 0; kind < KIND_COUNT; kind++) {
		total = 0;
		for (class = 0; class < ARGUMENT_COUNT; class++)
			total += atomic_load(&shared->ioctls[kind][class]);
		printf("ioctl %s total=%lu", kind_names[kind], total);
		for (class = 0; class < ARGUMENT_COUNT; class++)
			printf(" %s=%lu", argument_names[class], atomic_load(&shared->ioctls[kind][class]));
		for (result = 0; result < RESULT_COUNT; result++)
			printf(" %s=%lu", result_names[result], atomic_load(&shared->results[kind][result]));
		printf(" violations=%lu\n", atomic_load(&shared->kind_violations[kind]));
	}
	printf("events");
	for (event = 0; event < EVENT_COUNT; event++)
		printf(" %s=%lu", event_names[event], atomic_load(&shared->events[event]));
	printf("\n");
	if (live_ranges != LLONG_MIN)
		printf("live_ranges %lld\n", live_ranges);
	printf("violations %lu\n", atomic_load(&shared->violations));
	printf("seed %" PRIu64 "\n", seed);
}

static void usage_error(const char *message)
{
	fprintf(stderr, "sim_mirror_fuzz: %s; usage: sim_mirror_fuzz [--seed N] [--seconds S] [--threads 1-%d] [--processes 1-%d]\n",
		message, MAX_THREADS, MAX_PROCESSES);
	exit(2);
}

static unsigned long long parse_number(const char *text, unsigned long long low,
				       unsigned long long high, const char *option)
{
	char *end;
	unsigned long long value;
	char message[128];

	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || value < low || value > high) {
		snprintf(message, sizeof(message), "%s wants a number from %llu to %llu, not '%s'",
			 option, low, high, text);
		usage_error(message);
	}
	return value;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "threads", required_argument, NULL, 't' },
		{ "processes", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct worker_slot slots[MAX_PROCESSES] = { 0 };
	bool seed_given = false;
	int option, slot, counters_fd, ranges_fd, probe;
	double next_debugfs = 0;
	long long live_ranges;
	char text[65536];

	opterr = 0;
	while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (option) {
		case 's': seed = parse_number(optarg, 0, UINT64_MAX, "--seed"); seed_given = true; break;
		case 'S': run_seconds = parse_number(optarg, 1, 86400, "--seconds"); break;
		case 't': thread_count = parse_number(optarg, 1, MAX_THREADS, "--threads"); break;
		case 'p': process_count = parse_number(optarg, 1, MAX_PROCESSES, "--processes"); break;
		default: usage_error(optopt ? "an option is missing its value" : "unknown option");
		}
	}
	if (optind < argc)
		usage_error("unexpected argument");
	if (!seed_given) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		seed = (uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec;
	}
	printf("seed %" PRIu64 "\n", seed);
	fflush(stdout);

	probe = open_device();
	if (probe < 0) {
		fprintf(stderr, "sim_mirror_fuzz: %s: %s\n", SIM_MIRROR_DEVICE, strerror(errno));
		return 3;
	}
	close(probe);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED) {
		perror("sim_mirror_fuzz: mmap");
		return 3;
	}
	/* Orphaned grandchildren come back here, to be waited for. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	counters_fd = open(DEBUGFS_COUNTERS, O_RDONLY | O_CLOEXEC);
	ranges_fd = open(DEBUGFS_RANGES, O_RDONLY | O_CLOEXEC);
	deadline = monotonic_seconds() + run_seconds;

	for (slot = 0; slot < (int)process_count; slot++)
		slots[slot].pid = spawn_worker(slot, 0);
	while (monotonic_seconds() < deadline) {
		int status;
		pid_t pid;

		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (slot = 0; slot < (int)process_count; slot++) {
				if (slots[slot].pid != pid)
					continue;
				account_worker_exit(slot, status);
				slots[slot].pid = 0;
				if (deadline - monotonic_seconds() > 0.5)
					slots[slot].pid = spawn_worker(slot, ++slots[slot].generation);
			}
		}
		/* The debugfs views, read while ranges come and go. */
		if (monotonic_seconds() >= next_debugfs) {
			read_debugfs(ranges_fd, text, sizeof(text));
			live_ranges = debugfs_live_ranges(counters_fd);
			if (live_ranges != LLONG_MIN && live_ranges < 0)
				violation(NULL, -1, "debugfs shows %lld live ranges", live_ranges);
			next_debugfs = monotonic_seconds() + 0.05;
		}
		usleep(10000);
	}
	atomic_store(&shared->stop, 1);
	if (!wait_for_workers(slots, monotonic_seconds() + HANG_GRACE_SECONDS)) {
		violation(NULL, -1, "fuzz processes still ran %d s after the deadline: a hang",
			  HANG_GRACE_SECONDS);
		for (slot = 0; slot < (int)process_count; slot++)
			if (slots[slot].pid > 0)
				kill(slots[slot].pid, SIGKILL);
		wait_for_workers(slots, monotonic_seconds() + 10);
	}
	live_ranges = debugfs_live_ranges(counters_fd);
	print_summary(live_ranges);
	return atomic_load(&shared->violations) ? 1 : 0;
}
