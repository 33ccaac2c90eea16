// SPDX-License-Identifier: GPL-2.0-only
/*
 * sim_mirror: a simulated device that mirrors a process's address space the
 * way GPU and RDMA drivers do, with one mmu_interval_notifier and one device
 * page table per registered range, and "engines" (workqueue workers) that
 * service device faults with the canonical loop of Documentation/mm/hmm.rst:
 *
 *	again:
 *		seq = mmu_interval_read_begin(notifier);
 *		hmm_range_fault(range);		-EBUSY: again
 *		lock(driver lock);
 *		if (mmu_interval_read_retry(notifier, seq)) { unlock; again }
 *		program the device PTEs;
 *		unlock(driver lock);
 *
 * and an invalidate callback that takes the driver lock, calls
 * mmu_interval_set_seq() and zaps the device PTEs. Every step is counted, so
 * tools that observe the notifier can be checked against ground truth, and
 * knobs widen the race window, slow the device and reproduce the known
 * stale-seq livelock.
 *
 * Device accesses copy through a kernel bounce buffer, never to user memory
 * under the driver lock: a user copy may fault and invalidate this very mm,
 * and the invalidate callback takes that lock.
 *
 * A range can be removed (REMOVE_RANGE, or the file's release) while other
 * threads of its process access it or read its counters: each of them holds
 * a reference, taken under RCU from the id table, and the last one frees it
 * after an RCU grace period, so that debugfs and counter resets may walk the
 * table under RCU alone. A removed range is marked dead under the driver lock
 * before its notifier goes, so no fault programs, and no access copies, pages
 * that nothing invalidates any more.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/hmm.h>
#include <linux/jiffies.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "sim_mirror_uapi.h"

#define MAX_ACCESS_BYTES	(64UL << 20)

/* Indexes into the counter arrays, in the order of struct sim_mirror_counters. */
enum counter {
	COUNTER_INSERTS,
	COUNTER_REMOVES,
	COUNTER_INVALIDATIONS,
	COUNTER_NONBLOCKING_FAILURES,
	COUNTER_READ_BEGINS,
	COUNTER_RETRIES,
	COUNTER_FAULTS,
	COUNTER_EBUSY,
	COUNTER_TIMEOUTS,
	COUNTER_PAGES_MIRRORED,
	COUNTER_COUNT
};

static const char *const counter_names[COUNTER_COUNT] = SIM_MIRROR_COUNTER_NAMES;

static_assert(COUNTER_COUNT == SIM_MIRROR_COUNTER_COUNT);
static_assert(sizeof(struct sim_mirror_counters) == COUNTER_COUNT * sizeof(__u64));

/* One per open file: a process's address space as the device sees it. */
struct mirror_context {
	struct mm_struct *mm;		/* mmgrab()ed at open */
	/*
	 * The driver lock: held by the invalidate callback around set_seq and
	 * the zap, and by faults around read_retry and the device PTE update.
	 */
	struct mutex lock;
	struct xarray ranges;		/* range_id -> struct mirror_range */
	struct workqueue_struct *engines;
	struct sim_mirror_knobs knobs;	/* under lock */
	struct list_head node;		/* in all_contexts */
	pid_t owner_pid;
};

struct mirror_range {
	struct mmu_interval_notifier notifier;
	struct mirror_context *context;
	unsigned long start;
	unsigned long end;
	/* The device page table: HMM pfns, 0 when not mirrored. Under lock. */
	unsigned long *device_pfns;
	/* Removed: nothing may be mirrored any more. Set under lock. */
	bool dead;
	struct kref references;		/* the id table's, and each user's */
	struct rcu_head rcu;
	atomic64_t counters[COUNTER_COUNT];
};

/* A batch of pages one engine faults in. */
struct fault_batch {
	struct work_struct work;
	struct mirror_range *range;
	unsigned long start;
	unsigned long end;
	bool write;
	int result;
};

static atomic64_t device_counters[COUNTER_COUNT];
/* Not resettable: proves at unload that every insert was removed. */
static atomic64_t live_ranges;
static LIST_HEAD(all_contexts);
static DEFINE_MUTEX(all_contexts_lock);
static struct dentry *debugfs_directory;

static const struct sim_mirror_knobs default_knobs = {
	.size = sizeof(struct sim_mirror_knobs),
	.engines = 2,
	.fault_batch_pages = 64,
};

static void count(struct mirror_range *range, enum counter counter, long amount)
{
	atomic64_add(amount, &range->counters[counter]);
	atomic64_add(amount, &device_counters[counter]);
}

static unsigned long range_pages(const struct mirror_range *range)
{
	return (range->end - range->start) >> PAGE_SHIFT;
}

static bool mirror_invalidate(struct mmu_interval_notifier *notifier,
			      const struct mmu_notifier_range *mmu_range,
			      unsigned long cur_seq)
{
	struct mirror_range *range =
		container_of(notifier, struct mirror_range, notifier);
	struct mirror_context *context = range->context;
	unsigned long start = max(mmu_range->start, range->start);
	unsigned long end = min(mmu_range->end, range->end);
	unsigned long address;

	count(range, COUNTER_INVALIDATIONS, 1);
	if (mmu_notifier_range_blockable(mmu_range)) {
		mutex_lock(&context->lock);
	} else if (!mutex_trylock(&context->lock)) {
		/* Real drivers cannot sleep here either. */
		count(range, COUNTER_NONBLOCKING_FAILURES, 1);
		return false;
	}
	mmu_interval_set_seq(notifier, cur_seq);
	for (address = start; address < end; address += PAGE_SIZE)
		range->device_pfns[(address - range->start) >> PAGE_SHIFT] = 0;
	mutex_unlock(&context->lock);
	return true;
}

static const struct mmu_interval_notifier_ops mirror_notifier_ops = {
	.invalidate = mirror_invalidate,
};

static void simulate_delay(u32 microseconds)
{
	if (microseconds)
		usleep_range(microseconds, microseconds + microseconds / 8 + 1);
}

/* Under the driver lock, after a successful read_retry check. */
static void program_device_ptes(struct mirror_range *range,
				const struct hmm_range *hmm_range)
{
	unsigned long first = (hmm_range->start - range->start) >> PAGE_SHIFT;
	unsigned long pages = (hmm_range->end - hmm_range->start) >> PAGE_SHIFT;
	unsigned long index;

	for (index = 0; index < pages; index++)
		range->device_pfns[first + index] =
			hmm_range->hmm_pfns[index] & (HMM_PFN_VALID | HMM_PFN_WRITE |
						      ~HMM_PFN_FLAGS);
	count(range, COUNTER_PAGES_MIRRORED, pages);
}

/* The canonical fault loop, as an engine runs it for one batch. */
static int fault_pages(struct mirror_range *range, unsigned long start,
		       unsigned long end, bool write)
{
	struct mirror_context *context = range->context;
	struct mm_struct *mm = context->mm;
	unsigned long timeout =
		jiffies + msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
	struct sim_mirror_knobs knobs;
	struct hmm_range hmm_range = {
		.notifier = &range->notifier,
		.start = start,
		.end = end,
		.default_flags = HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0),
	};
	bool have_seq = false;
	int ret;

	hmm_range.hmm_pfns = kvcalloc((end - start) >> PAGE_SHIFT,
				      sizeof(unsigned long), GFP_KERNEL);
	if (!hmm_range.hmm_pfns)
		return -ENOMEM;
	if (!mmget_not_zero(mm)) {
		kvfree(hmm_range.hmm_pfns);
		return -EFAULT;
	}
	mutex_lock(&context->lock);
	knobs = context->knobs;
	mutex_unlock(&context->lock);

	for (;;) {
		if (READ_ONCE(range->dead)) {
			ret = -EINVAL;
			break;
		}
		if (time_after(jiffies, timeout)) {
			count(range, COUNTER_TIMEOUTS, 1);
			ret = -EBUSY;
			break;
		}
		/* The bug: keep the first seq, so every retry collides again. */
		if (!have_seq || !knobs.stale_seq_bug) {
			hmm_range.notifier_seq =
				mmu_interval_read_begin(&range->notifier);
			count(range, COUNTER_READ_BEGINS, 1);
			have_seq = true;
		}
		mmap_read_lock(mm);
		ret = hmm_range_fault(&hmm_range);
		mmap_read_unlock(mm);
		if (ret == -EBUSY) {
			count(range, COUNTER_EBUSY, 1);
			cond_resched();
			continue;
		}
		if (ret)
			break;

		simulate_delay(knobs.retry_window_us);
		mutex_lock(&context->lock);
		if (range->dead) {
			/* Its notifier may be gone: these pages are not ours. */
			mutex_unlock(&context->lock);
			ret = -EINVAL;
			break;
		}
		if (mmu_interval_read_retry(&range->notifier,
					    hmm_range.notifier_seq)) {
			mutex_unlock(&context->lock);
			count(range, COUNTER_RETRIES, 1);
			cond_resched();
			continue;
		}
		program_device_ptes(range, &hmm_range);
		simulate_delay(knobs.fault_work_us);
		mutex_unlock(&context->lock);
		count(range, COUNTER_FAULTS, 1);
		break;
	}
	mmput(mm);
	kvfree(hmm_range.hmm_pfns);
	return ret;
}

static void fault_batch_work(struct work_struct *work)
{
	struct fault_batch *batch = container_of(work, struct fault_batch, work);

	batch->result = fault_pages(batch->range, batch->start, batch->end,
				    batch->write);
}

/* Split [start, end) into batches, run them on the engines, wait for all. */
static int fault_through_engines(struct mirror_range *range,
				 unsigned long start, unsigned long end,
				 bool write, u32 batch_pages)
{
	unsigned long batch_bytes = (unsigned long)batch_pages << PAGE_SHIFT;
	unsigned long batches = DIV_ROUND_UP(end - start, batch_bytes);
	struct fault_batch *batch_array;
	unsigned long index;
	int ret = 0;

	batch_array = kvcalloc(batches, sizeof(*batch_array), GFP_KERNEL);
	if (!batch_array)
		return -ENOMEM;
	for (index = 0; index < batches; index++) {
		struct fault_batch *batch = &batch_array[index];

		INIT_WORK(&batch->work, fault_batch_work);
		batch->range = range;
		batch->start = start + index * batch_bytes;
		batch->end = min(batch->start + batch_bytes, end);
		batch->write = write;
		queue_work(range->context->engines, &batch->work);
	}
	for (index = 0; index < batches; index++) {
		flush_work(&batch_array[index].work);
		if (!ret)
			ret = batch_array[index].result;
	}
	kvfree(batch_array);
	return ret;
}

/*
 * Copy between the bounce buffer and the pages the device PTEs map, for as
 * long as they are mirrored (and writable for a write). Returns the address
 * where the device would fault next.
 */
static unsigned long device_copy(struct mirror_range *range,
				 unsigned long address, unsigned long end,
				 void *bounce, unsigned long bounce_start,
				 bool write)
{
	unsigned long wanted = HMM_PFN_VALID | (write ? HMM_PFN_WRITE : 0);

	mutex_lock(&range->context->lock);
	for (; !range->dead && address < end; address += PAGE_SIZE) {
		unsigned long pfn =
			range->device_pfns[(address - range->start) >> PAGE_SHIFT];
		void *bounce_page = bounce + (address - bounce_start);
		void *mapped;

		if ((pfn & wanted) != wanted)
			break;
		mapped = kmap_local_page(hmm_pfn_to_page(pfn));
		if (write)
			memcpy(mapped, bounce_page, PAGE_SIZE);
		else
			memcpy(bounce_page, mapped, PAGE_SIZE);
		kunmap_local(mapped);
	}
	mutex_unlock(&range->context->lock);
	return address;
}

static int device_access(struct mirror_range *range,
			 struct sim_mirror_access *access, bool write)
{
	unsigned long end = access->address + access->length;
	unsigned long address = access->address;
	void __user *buffer = u64_to_user_ptr(access->buffer);
	u32 batch_pages;
	void *bounce;
	int ret = 0;

	bounce = kvmalloc(access->length, GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;
	if (write && copy_from_user(bounce, buffer, access->length)) {
		ret = -EFAULT;
		goto out;
	}
	access->faults = 0;
	for (;;) {
		address = device_copy(range, address, end, bounce,
				      access->address, write);
		if (address == end)
			break;
		if (READ_ONCE(range->dead)) {
			ret = -EINVAL;	/* removed while we accessed it */
			goto out;
		}
		mutex_lock(&range->context->lock);
		batch_pages = range->context->knobs.fault_batch_pages;
		mutex_unlock(&range->context->lock);
		ret = fault_through_engines(range, address, end, write,
					    batch_pages);
		if (ret)
			goto out;
		access->faults++;
	}
	if (!write && copy_to_user(buffer, bounce, access->length))
		ret = -EFAULT;
out:
	kvfree(bounce);
	return ret;
}

static bool range_is_mapped(struct mm_struct *mm, unsigned long start,
			    unsigned long end)
{
	struct vm_area_struct *vma;
	unsigned long address = start;

	mmap_read_lock(mm);
	while (address < end) {
		vma = find_vma(mm, address);
		if (!vma || vma->vm_start > address)
			break;
		address = vma->vm_end;
	}
	mmap_read_unlock(mm);
	return address >= end;
}

static void range_free(struct mirror_range *range)
{
	kvfree(range->device_pfns);
	kfree(range);
}

static void range_release(struct kref *references)
{
	struct mirror_range *range =
		container_of(references, struct mirror_range, references);

	kvfree(range->device_pfns);
	kfree_rcu(range, rcu);
}

static void range_put(struct mirror_range *range)
{
	kref_put(&range->references, range_release);
}

/* The range of this id with a reference held, or NULL. */
static struct mirror_range *range_get(struct mirror_context *context,
				      u32 range_id)
{
	struct mirror_range *range;

	rcu_read_lock();
	range = xa_load(&context->ranges, range_id);
	if (range && !kref_get_unless_zero(&range->references))
		range = NULL;
	rcu_read_unlock();
	return range;
}

/*
 * On success *added is the new range, with a reference for the caller: until
 * it drops it, no other range can reuse the memory under the same id.
 */
static int register_range(struct mirror_context *context,
			  struct sim_mirror_range *request,
			  struct mirror_range **added)
{
	struct mirror_range *range;
	u32 range_id;
	int ret;

	if (!PAGE_ALIGNED(request->start) || !PAGE_ALIGNED(request->length) ||
	    !request->length ||
	    request->length >> PAGE_SHIFT > SIM_MIRROR_MAX_RANGE_PAGES ||
	    request->start + request->length < request->start ||
	    request->start + request->length > context->mm->task_size)
		return -EINVAL;
	if (!range_is_mapped(context->mm, request->start,
			     request->start + request->length))
		return -EFAULT;

	range = kzalloc(sizeof(*range), GFP_KERNEL);
	if (!range)
		return -ENOMEM;
	kref_init(&range->references);
	kref_get(&range->references);	/* the caller's */
	range->context = context;
	range->start = request->start;
	range->end = request->start + request->length;
	range->device_pfns = kvcalloc(range_pages(range), sizeof(unsigned long),
				      GFP_KERNEL);
	if (!range->device_pfns) {
		range_free(range);
		return -ENOMEM;
	}
	/*
	 * The notifier goes in before the id is published: once in the table,
	 * any thread may fault the range in or remove it.
	 */
	ret = mmu_interval_notifier_insert(&range->notifier, context->mm,
					   range->start, range->end - range->start,
					   &mirror_notifier_ops);
	if (ret) {
		range_free(range);
		return ret;
	}
	ret = xa_alloc(&context->ranges, &range_id, range,
		       XA_LIMIT(1, SIM_MIRROR_MAX_RANGES), GFP_KERNEL);
	if (ret) {
		mmu_interval_notifier_remove(&range->notifier);
		range_free(range);
		return ret == -EBUSY ? -ENOMEM : ret;
	}
	count(range, COUNTER_INSERTS, 1);
	atomic64_inc(&live_ranges);
	request->range_id = range_id;
	*added = range;
	return 0;
}

/* After it left the id table: drops the table's reference. */
static void unregister_range(struct mirror_range *range)
{
	struct mirror_context *context = range->context;

	mutex_lock(&context->lock);
	WRITE_ONCE(range->dead, true);
	memset(range->device_pfns, 0,
	       range_pages(range) * sizeof(*range->device_pfns));
	mutex_unlock(&context->lock);
	mmu_interval_notifier_remove(&range->notifier);
	count(range, COUNTER_REMOVES, 1);
	atomic64_dec(&live_ranges);
	range_put(range);
}

static int unregister_range_by_id(struct mirror_context *context,
				  u32 range_id)
{
	struct mirror_range *range = xa_erase(&context->ranges, range_id);

	if (!range)
		return -EINVAL;
	unregister_range(range);
	return 0;
}

static int check_knobs(const struct sim_mirror_knobs *knobs)
{
	if (knobs->retry_window_us > SIM_MIRROR_MAX_DELAY_US ||
	    knobs->fault_work_us > SIM_MIRROR_MAX_DELAY_US ||
	    knobs->engines < 1 || knobs->engines > SIM_MIRROR_MAX_ENGINES ||
	    knobs->fault_batch_pages < 1 ||
	    knobs->fault_batch_pages > SIM_MIRROR_MAX_BATCH_PAGES ||
	    knobs->stale_seq_bug > 1)
		return -EINVAL;
	return 0;
}

static void read_counters(atomic64_t *counters, struct sim_mirror_counters *out)
{
	__u64 *values = (__u64 *)out;
	int counter;

	for (counter = 0; counter < COUNTER_COUNT; counter++)
		values[counter] = atomic64_read(&counters[counter]);
}

static void reset_counters(struct mirror_context *context)
{
	struct mirror_range *range;
	unsigned long range_id;
	int counter;

	/* Ranges are freed after a grace period: RCU keeps these alive. */
	rcu_read_lock();
	xa_for_each(&context->ranges, range_id, range)
		for (counter = 0; counter < COUNTER_COUNT; counter++)
			atomic64_set(&range->counters[counter], 0);
	rcu_read_unlock();
	for (counter = 0; counter < COUNTER_COUNT; counter++)
		atomic64_set(&device_counters[counter], 0);
}

/* Copy in a struct that starts with its own size, and insist the size is ours. */
static int copy_sized_argument(void *argument, size_t size,
			       const void __user *user_argument)
{
	u32 user_size;

	if (get_user(user_size, (const u32 __user *)user_argument))
		return -EFAULT;
	if (user_size != size)
		return -EINVAL;
	if (copy_from_user(argument, user_argument, size))
		return -EFAULT;
	return 0;
}

static long access_ioctl(struct mirror_context *context,
			 void __user *user_argument, bool write)
{
	struct sim_mirror_access access;
	struct mirror_range *range;
	int ret;

	ret = copy_sized_argument(&access, sizeof(access), user_argument);
	if (ret)
		return ret;
	range = range_get(context, access.range_id);
	if (!range)
		return -EINVAL;
	if (!PAGE_ALIGNED(access.address) ||
	    !PAGE_ALIGNED(access.length) || !access.length ||
	    access.length > MAX_ACCESS_BYTES ||
	    access.address < range->start ||
	    access.address + access.length < access.address ||
	    access.address + access.length > range->end)
		ret = -EINVAL;
	else
		ret = device_access(range, &access, write);
	range_put(range);
	if (ret)
		return ret;
	return copy_to_user(user_argument, &access, sizeof(access)) ? -EFAULT : 0;
}

static long mirror_ioctl(struct file *file, unsigned int command,
			 unsigned long argument)
{
	struct mirror_context *context = file->private_data;
	void __user *user_argument = (void __user *)argument;
	union {
		struct sim_mirror_range range;
		struct sim_mirror_range_id range_id;
		struct sim_mirror_knobs knobs;
		struct sim_mirror_counters_query query;
	} request;
	struct mirror_range *range;
	int ret;

	/* Ranges live in the opener's address space; only it may touch them. */
	if (command != SIM_MIRROR_GET_COUNTERS && command != SIM_MIRROR_GET_KNOBS &&
	    current->mm != context->mm)
		return -EINVAL;

	switch (command) {
	case SIM_MIRROR_ADD_RANGE:
		ret = copy_sized_argument(&request.range, sizeof(request.range),
					  user_argument);
		if (ret)
			return ret;
		ret = register_range(context, &request.range, &range);
		if (ret)
			return ret;
		ret = 0;
		if (copy_to_user(user_argument, &request.range,
				 sizeof(request.range))) {
			/* Unless another thread removed it by a guessed id. */
			if (xa_cmpxchg(&context->ranges, request.range.range_id,
				       range, NULL, GFP_KERNEL) == range)
				unregister_range(range);
			ret = -EFAULT;
		}
		range_put(range);
		return ret;
	case SIM_MIRROR_REMOVE_RANGE:
		ret = copy_sized_argument(&request.range_id,
					  sizeof(request.range_id), user_argument);
		if (ret)
			return ret;
		return unregister_range_by_id(context, request.range_id.range_id);
	case SIM_MIRROR_READ:
		return access_ioctl(context, user_argument, false);
	case SIM_MIRROR_WRITE:
		return access_ioctl(context, user_argument, true);
	case SIM_MIRROR_SET_KNOBS:
		ret = copy_sized_argument(&request.knobs, sizeof(request.knobs),
					  user_argument);
		if (ret)
			return ret;
		ret = check_knobs(&request.knobs);
		if (ret)
			return ret;
		mutex_lock(&context->lock);
		context->knobs = request.knobs;
		mutex_unlock(&context->lock);
		workqueue_set_max_active(context->engines, request.knobs.engines);
		return 0;
	case SIM_MIRROR_GET_KNOBS:
		ret = copy_sized_argument(&request.knobs, sizeof(request.knobs),
					  user_argument);
		if (ret)
			return ret;
		mutex_lock(&context->lock);
		request.knobs = context->knobs;
		mutex_unlock(&context->lock);
		return copy_to_user(user_argument, &request.knobs,
				    sizeof(request.knobs)) ? -EFAULT : 0;
	case SIM_MIRROR_GET_COUNTERS:
		ret = copy_sized_argument(&request.query, sizeof(request.query),
					  user_argument);
		if (ret)
			return ret;
		if (request.query.range_id) {
			range = range_get(context, request.query.range_id);
			if (!range)
				return -EINVAL;
			read_counters(range->counters, &request.query.counters);
			range_put(range);
		} else {
			read_counters(device_counters, &request.query.counters);
		}
		return copy_to_user(user_argument, &request.query,
				    sizeof(request.query)) ? -EFAULT : 0;
	case SIM_MIRROR_RESET_COUNTERS:
		reset_counters(context);
		return 0;
	default:
		return -EINVAL;
	}
}

static int mirror_open(struct inode *inode, struct file *file)
{
	struct mirror_context *context;

	if (!current->mm)
		return -EINVAL;
	context = kzalloc(sizeof(*context), GFP_KERNEL);
	if (!context)
		return -ENOMEM;
	context->engines = alloc_workqueue("sim_mirror_engines",
					   WQ_UNBOUND,
					   default_knobs.engines);
	if (!context->engines) {
		kfree(context);
		return -ENOMEM;
	}
	mutex_init(&context->lock);
	xa_init_flags(&context->ranges, XA_FLAGS_ALLOC1);
	context->knobs = default_knobs;
	context->mm = current->mm;
	mmgrab(context->mm);
	context->owner_pid = task_tgid_nr(current);
	mutex_lock(&all_contexts_lock);
	list_add_tail(&context->node, &all_contexts);
	mutex_unlock(&all_contexts_lock);
	file->private_data = context;
	return 0;
}

/* Also runs after an exiting process's mm was torn down (release event). */
static int mirror_release(struct inode *inode, struct file *file)
{
	struct mirror_context *context = file->private_data;
	struct mirror_range *range;
	unsigned long range_id;

	mutex_lock(&all_contexts_lock);
	list_del(&context->node);
	mutex_unlock(&all_contexts_lock);
	xa_for_each(&context->ranges, range_id, range) {
		xa_erase(&context->ranges, range_id);
		unregister_range(range);
	}
	xa_destroy(&context->ranges);
	destroy_workqueue(context->engines);
	mmdrop(context->mm);
	kfree(context);
	return 0;
}

static const struct file_operations mirror_fops = {
	.owner = THIS_MODULE,
	.open = mirror_open,
	.release = mirror_release,
	.unlocked_ioctl = mirror_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice mirror_device = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "sim_mirror",
	.fops = &mirror_fops,
	.mode = 0600,
};

static void show_counters(struct seq_file *file, atomic64_t *counters)
{
	int counter;

	for (counter = 0; counter < COUNTER_COUNT; counter++)
		seq_printf(file, " %s=%lld", counter_names[counter],
			   atomic64_read(&counters[counter]));
	seq_putc(file, '\n');
}

static int counters_show(struct seq_file *file, void *unused)
{
	int counter;

	for (counter = 0; counter < COUNTER_COUNT; counter++)
		seq_printf(file, "%s %lld\n", counter_names[counter],
			   atomic64_read(&device_counters[counter]));
	seq_printf(file, "live_ranges %lld\n", atomic64_read(&live_ranges));
	return 0;
}

/* Writing anything to the counters file resets the device totals. */
static ssize_t counters_write(struct file *file, const char __user *buffer,
			      size_t length, loff_t *position)
{
	int counter;

	for (counter = 0; counter < COUNTER_COUNT; counter++)
		atomic64_set(&device_counters[counter], 0);
	return length;
}

static int counters_open(struct inode *inode, struct file *file)
{
	return single_open(file, counters_show, NULL);
}

static const struct file_operations counters_fops = {
	.owner = THIS_MODULE,
	.open = counters_open,
	.read = seq_read,
	.write = counters_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static int ranges_show(struct seq_file *file, void *unused)
{
	struct mirror_context *context;
	struct mirror_range *range;
	unsigned long range_id;

	/* Contexts leave the list before they go; ranges go after RCU. */
	mutex_lock(&all_contexts_lock);
	rcu_read_lock();
	list_for_each_entry(context, &all_contexts, node) {
		xa_for_each(&context->ranges, range_id, range) {
			seq_printf(file, "pid=%d range_id=%lu start=0x%lx end=0x%lx",
				   context->owner_pid, range_id,
				   range->start, range->end);
			show_counters(file, range->counters);
		}
	}
	rcu_read_unlock();
	mutex_unlock(&all_contexts_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ranges);

static int __init sim_mirror_init(void)
{
	int ret = misc_register(&mirror_device);

	if (ret)
		return ret;
	debugfs_directory = debugfs_create_dir("sim_mirror", NULL);
	debugfs_create_file("counters", 0600, debugfs_directory, NULL,
			    &counters_fops);
	debugfs_create_file("ranges", 0400, debugfs_directory, NULL,
			    &ranges_fops);
	return 0;
}

static void __exit sim_mirror_exit(void)
{
	debugfs_remove_recursive(debugfs_directory);
	misc_deregister(&mirror_device);
	/* Every open file is gone by now, so nothing may be left. */
	pr_info("sim_mirror: unloaded with %lld live ranges\n",
		atomic64_read(&live_ranges));
}

module_init(sim_mirror_init);
module_exit(sim_mirror_exit);
MODULE_DESCRIPTION("Simulated mirroring device built on the MMU interval notifier");
MODULE_LICENSE("GPL");
