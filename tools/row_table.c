// SPDX-License-Identifier: GPL-2.0-only
/*
 * The row table: one row per group, found by an open-addressing hash on the
 * group (a callback or subscription address, or a tgid). A linear search
 * here once made every interval quadratic in the number of subscriptions.
 */
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "model.h"

/*
 * Fibonacci hashing: the product's top bits mix all of the group's, and
 * addresses differ mostly in their middle bits.
 */
static size_t bucket_of(__u64 group, size_t bucket_count)
{
	int bits = __builtin_ctzll(bucket_count);

	return (size_t)((group * 0x9e3779b97f4a7c15ULL) >> (64 - bits));
}

struct row *row_table_find(const struct row_table *table, __u64 group)
{
	if (!table->bucket_count)
		return NULL;
	for (size_t bucket = bucket_of(group, table->bucket_count);;
	     bucket = (bucket + 1) & (table->bucket_count - 1)) {
		struct row *row = table->buckets[bucket];

		if (!row || row->group == group)
			return row;
	}
}

static void place(struct row **buckets, size_t bucket_count, struct row *row)
{
	size_t bucket = bucket_of(row->group, bucket_count);

	while (buckets[bucket])
		bucket = (bucket + 1) & (bucket_count - 1);
	buckets[bucket] = row;
}

/* Keep the table at most half full, so probes stay short. */
static int make_room(struct row_table *table)
{
	if (grow(&table->rows, &table->capacity, table->count + 1, sizeof(*table->rows)))
		return -1;
	if (2 * (table->count + 1) > table->bucket_count) {
		size_t bucket_count = table->bucket_count ? 2 * table->bucket_count : 512;
		struct row **buckets = calloc(bucket_count, sizeof(*buckets));

		if (!buckets)
			return -1;
		for (size_t index = 0; index < table->count; index++)
			place(buckets, bucket_count, table->rows[index]);
		free(table->buckets);
		table->buckets = buckets;
		table->bucket_count = bucket_count;
	}
	return 0;
}

struct row *row_table_get(struct row_table *table, __u64 group)
{
	struct row *row = row_table_find(table, group);

	if (row)
		return row;
	if (make_room(table))
		return NULL;
	row = calloc(1, sizeof(*row));
	if (!row)
		return NULL;
	row->group = group;
	table->rows[table->count++] = row;
	place(table->buckets, table->bucket_count, row);
	return row;
}

int row_table_rehash(struct row_table *table)
{
	memset(table->buckets, 0, table->bucket_count * sizeof(*table->buckets));
	for (size_t index = 0; index < table->count; index++)
		place(table->buckets, table->bucket_count, table->rows[index]);
	return 0;
}

void row_table_free(struct row_table *table)
{
	for (size_t index = 0; index < table->count; index++) {
		free(table->rows[index]->reported);
		free(table->rows[index]->base);
		free(table->rows[index]);
	}
	free(table->rows);
	free(table->buckets);
	*table = (struct row_table){};
}
