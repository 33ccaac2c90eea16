// SPDX-License-Identifier: GPL-2.0-only
/*
 * latency: hmm_range_fault() time by fault size (the `fault_sizes` map,
 * per driver and log2 of the pages asked for) into the model. A host has
 * a few drivers and 40 sizes at most, so the totals are a short list.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "grow.h"
#include "model_read.h"

#define COUNTERS (sizeof(struct hmmtrace_histogram) / sizeof(__u64))

static struct fault_size_total *total_of(struct fault_sizes_state *state,
					 const struct hmmtrace_fault_size_key *key)
{
	for (size_t index = 0; index < state->count; index++)
		if (state->totals[index].key.callback == key->callback &&
		    state->totals[index].key.pages_slot == key->pages_slot)
			return &state->totals[index];
	if (grow(&state->totals, &state->capacity, state->count + 1, sizeof(*state->totals)))
		return NULL;
	memset(&state->totals[state->count], 0, sizeof(state->totals[0]));
	state->totals[state->count].key = *key;
	return &state->totals[state->count++];
}

struct fault_sizes_walk {
	struct model_reader *reader;
	struct model *model;
	int cpus;
};

static int take_fault_size(void *context, const void *key, const void *value)
{
	struct fault_sizes_walk *walk = context;
	struct fault_sizes_state *state = &walk->reader->fault_sizes;
	struct fault_size_total *total = total_of(state, key);
	struct hmmtrace_histogram now;
	struct fault_size_latency *shown;
	__u64 *delta;

	if (!total)
		return -ENOMEM;
	per_cpu_sum((__u64 *)&now, value, sizeof(now), sizeof(now), walk->cpus);
	if (now.count == total->total.count)
		return 0;
	if (grow(&state->shown, &state->shown_capacity, walk->model->fault_size_count + 1,
		 sizeof(*state->shown)))
		return -ENOMEM;
	shown = &state->shown[walk->model->fault_size_count++];
	kallsyms_driver(walk->reader->session->symbols, total->key.callback, shown->driver,
			sizeof(shown->driver), NULL, 0);
	shown->pages_low = slot_low(total->key.pages_slot);
	shown->pages_high = slot_high(total->key.pages_slot);
	delta = (__u64 *)&shown->histogram;
	for (size_t index = 0; index < COUNTERS; index++)
		delta[index] = ((const __u64 *)&now)[index] - ((const __u64 *)&total->total)[index];
	total->total = now;
	return 0;
}

static int by_driver_and_size(const void *left, const void *right)
{
	const struct fault_size_latency *a = left, *b = right;
	int by_driver = strcmp(a->driver, b->driver);

	if (by_driver)
		return by_driver;
	return a->pages_low < b->pages_low ? -1 : a->pages_low > b->pages_low;
}

int fault_sizes_read(struct model_reader *reader, struct model *model)
{
	struct fault_sizes_walk walk = { reader, model, libbpf_num_possible_cpus() };
	int status;

	model->fault_size_count = 0;
	status = map_for_each(reader->maps.fault_sizes, true, take_fault_size, &walk);
	model->fault_sizes = reader->fault_sizes.shown;
	if (!status)
		sort_items(reader->fault_sizes.shown, model->fault_size_count,
			   sizeof(*reader->fault_sizes.shown), by_driver_and_size);
	return status;
}

void fault_sizes_free(struct fault_sizes_state *state)
{
	free(state->totals);
	free(state->shown);
	memset(state, 0, sizeof(*state));
}
