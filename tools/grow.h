/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Arrays: growing, the one realloc pattern of every list the tool keeps, and
 * sorting, which every list does through sort_items().
 */
#ifndef HMMTRACE_GROW_H
#define HMMTRACE_GROW_H

#include <errno.h>
#include <stdlib.h>

/*
 * Room for at least WANTED items of SIZE bytes in the array at *ITEMS (a
 * pointer to the array's pointer), which holds *CAPACITY now; it grows by
 * doubling. Returns 0, or -ENOMEM with the array untouched.
 */
static inline int grow(void *items, size_t *capacity, size_t wanted, size_t size)
{
	void **array = items;
	size_t bigger = *capacity ? *capacity : 64;
	void *grown;

	if (wanted <= *capacity)
		return 0;
	while (bigger < wanted)
		bigger *= 2;
	grown = realloc(*array, bigger * size);
	if (!grown)
		return -ENOMEM;
	*array = grown;
	*capacity = bigger;
	return 0;
}

/*
 * qsort() of COUNT items of SIZE bytes at ITEMS. An empty list may have no
 * array yet (NULL): qsort's array must never be NULL, even for 0 items
 * (glibc declares it nonnull; UBSan stops there), so fewer than two items
 * are left as they are.
 */
static inline void sort_items(void *items, size_t count, size_t size,
			      int (*compare)(const void *, const void *))
{
	if (count > 1)
		qsort(items, count, size, compare);
}

#endif /* HMMTRACE_GROW_H */
