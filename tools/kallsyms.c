// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "kallsyms.h"

struct symbol {
	uint64_t address;
	char *name;
	char *module;	/* NULL for vmlinux */
};

struct kallsyms {
	struct symbol *symbols;		/* by address */
	size_t count;
	const struct symbol **by_name;	/* the same symbols, by name */
	bool addresses_hidden;		/* every address read as 0 */
};

/* Every in-tree interval notifier user of 6.12, plus nvidia-uvm and ours. */
static const struct {
	const char *symbol;
	const char *driver;
} drivers[] = {
	{ "amdgpu_hmm_invalidate_gfx", "amdgpu gfx" },
	{ "amdgpu_hmm_invalidate_hsa", "amdgpu hsa" },
	{ "svm_range_cpu_invalidate_pagetables", "amdkfd svm" },
	{ "nouveau_svm_range_invalidate", "nouveau" },
	{ "i915_gem_userptr_invalidate", "i915 userptr" },
	{ "vma_userptr_invalidate", "xe userptr" },
	{ "drm_gpusvm_notifier_invalidate", "xe gpusvm" },
	{ "radeon_mn_invalidate", "radeon" },
	{ "mlx5_ib_invalidate_range", "mlx5 odp" },
	{ "ib_umem_notifier_invalidate_range", "ib_core odp" },
	{ "tid_rb_invalidate", "hfi1" },
	{ "tid_cover_invalidate", "hfi1" },
	{ "gntdev_invalidate", "xen gntdev" },
	{ "dmirror_interval_invalidate", "test_hmm" },
	{ "dmirror_snapshot_invalidate", "test_hmm" },
	{ "uvm_hmm_invalidate_entry", "nvidia-uvm" },
	{ "mirror_invalidate", "sim_mirror" },
};

#define DRIVER_COUNT (sizeof(drivers) / sizeof(drivers[0]))

static int by_address(const void *left, const void *right)
{
	const struct symbol *a = left, *b = right;

	return a->address < b->address ? -1 : a->address > b->address;
}

static int by_name(const void *left, const void *right)
{
	const struct symbol *const *a = left, *const *b = right;

	return strcmp((*a)->name, (*b)->name);
}

/* One line of /proc/kallsyms, kept if it is a text symbol; false when out of memory. */
static bool add_symbol(struct kallsyms *symbols, size_t *capacity, const char *line)
{
	unsigned long long address;
	char type, name[256], module[128] = "";
	struct symbol *symbol;

	if (sscanf(line, "%llx %c %255s [%127[^]]]", &address, &type, name, module) < 3 ||
	    (type != 't' && type != 'T'))
		return true;
	if (symbols->count == *capacity) {
		size_t bigger = *capacity ? 2 * *capacity : 4096;
		struct symbol *grown = realloc(symbols->symbols, bigger * sizeof(*grown));

		if (!grown)
			return false;
		symbols->symbols = grown;
		*capacity = bigger;
	}
	symbol = &symbols->symbols[symbols->count];
	symbol->address = address;
	symbol->name = strdup(name);
	symbol->module = module[0] ? strdup(module) : NULL;
	if (!symbol->name || (module[0] && !symbol->module)) {
		free(symbol->name);
		free(symbol->module);
		return false;
	}
	symbols->count++;
	return true;
}

/* Both orders: by address for symbolizing, by name for finding functions and drivers. */
static bool sort_symbols(struct kallsyms *symbols)
{
	sort_items(symbols->symbols, symbols->count, sizeof(*symbols->symbols), by_address);
	symbols->by_name = malloc((symbols->count + 1) * sizeof(*symbols->by_name));
	if (!symbols->by_name)
		return false;
	for (size_t index = 0; index < symbols->count; index++)
		symbols->by_name[index] = &symbols->symbols[index];
	sort_items(symbols->by_name, symbols->count, sizeof(*symbols->by_name), by_name);
	return true;
}

struct kallsyms *kallsyms_load(void)
{
	struct kallsyms *symbols = calloc(1, sizeof(*symbols));
	FILE *file = fopen("/proc/kallsyms", "r");
	bool complete = symbols != NULL;
	size_t capacity = 0;
	char line[512];

	while (complete && file && fgets(line, sizeof(line), file))
		complete = add_symbol(symbols, &capacity, line);
	if (file)
		fclose(file);
	if (complete && sort_symbols(symbols)) {
		/* Sorted, the highest address is the last: 0 when the kernel hid them all. */
		symbols->addresses_hidden = symbols->count &&
					    !symbols->symbols[symbols->count - 1].address;
		return symbols;
	}
	kallsyms_free(symbols);
	return NULL;
}

int kallsyms_addresses_shown(void)
{
	FILE *file = fopen("/proc/kallsyms", "r");
	unsigned long long address;
	char line[512], type;
	int shown = 0;

	if (!file)
		return -errno;
	/* The first text symbol (_stext, startup_64) is never at 0 when addresses are shown. */
	while (fgets(line, sizeof(line), file))
		if (sscanf(line, "%llx %c", &address, &type) == 2 && (type == 't' || type == 'T')) {
			shown = address != 0;
			break;
		}
	fclose(file);
	return shown;
}

void kallsyms_free(struct kallsyms *symbols)
{
	if (!symbols)
		return;
	for (size_t index = 0; index < symbols->count; index++) {
		free(symbols->symbols[index].name);
		free(symbols->symbols[index].module);
	}
	free(symbols->symbols);
	free(symbols->by_name);
	free(symbols);
}

static const struct symbol *lookup(const struct kallsyms *symbols, uint64_t address)
{
	size_t low = 0, high = symbols && !symbols->addresses_hidden ? symbols->count : 0;

	/* The last symbol at or below the address. */
	while (low < high) {
		size_t middle = low + (high - low) / 2;

		if (symbols->symbols[middle].address <= address)
			low = middle + 1;
		else
			high = middle;
	}
	return low ? &symbols->symbols[low - 1] : NULL;
}

/* The symbols named NAME: how many, and in *first where they start in by_name. */
static size_t named(const struct kallsyms *symbols, const char *name, size_t *first)
{
	size_t low = 0, high = symbols ? symbols->count : 0, count = 0;

	while (low < high) {
		size_t middle = low + (high - low) / 2;

		if (strcmp(symbols->by_name[middle]->name, name) < 0)
			low = middle + 1;
		else
			high = middle;
	}
	*first = low;
	while (symbols && low + count < symbols->count &&
	       !strcmp(symbols->by_name[low + count]->name, name))
		count++;
	return count;
}

/*
 * "symbol [module]", with "+0xoffset" after the symbol if OFFSET, or the bare
 * address when no symbol covers it; returns the symbol.
 */
static const struct symbol *describe(const struct kallsyms *symbols, uint64_t address,
				     bool offset, char *text, size_t size)
{
	const struct symbol *symbol = lookup(symbols, address);
	char distance[24] = "";

	if (!symbol) {
		snprintf(text, size, "0x%llx", (unsigned long long)address);
		return NULL;
	}
	if (offset)
		snprintf(distance, sizeof(distance), "+0x%llx",
			 (unsigned long long)(address - symbol->address));
	snprintf(text, size, "%s%s%s%s%s", symbol->name, distance, symbol->module ? " [" : "",
		 symbol->module ? symbol->module : "", symbol->module ? "]" : "");
	return symbol;
}

void kallsyms_driver(const struct kallsyms *symbols, uint64_t address, char *driver,
		     size_t driver_size, char *symbol_name, size_t symbol_size)
{
	char name[400];
	const struct symbol *symbol = describe(symbols, address, false, name, sizeof(name));

	if (symbol_name)
		snprintf(symbol_name, symbol_size, "%s", name);
	for (size_t index = 0; symbol && index < DRIVER_COUNT; index++)
		if (!strcmp(drivers[index].symbol, symbol->name)) {
			snprintf(driver, driver_size, "%s", drivers[index].driver);
			return;
		}
	/* A callback the table does not know goes by its symbol; no symbol, by its address. */
	snprintf(driver, driver_size, "%s", symbol ? symbol->name : name);
}

void kallsyms_describe(const struct kallsyms *symbols, uint64_t address, char *text, size_t size)
{
	describe(symbols, address, true, text, size);
}

int kallsyms_has_symbol(struct kallsyms *symbols, const char *name)
{
	size_t first;

	return named(symbols, name, &first) > 0;
}

int kallsyms_is_bpf(const struct kallsyms *symbols, uint64_t address)
{
	const struct symbol *symbol = lookup(symbols, address);

	return symbol && symbol->module && !strcmp(symbol->module, "bpf");
}

const char *kallsyms_name(const struct kallsyms *symbols, uint64_t address)
{
	const struct symbol *symbol = lookup(symbols, address);

	return symbol ? symbol->name : NULL;
}

static bool tracing_frame(const struct kallsyms *symbols, uint64_t address)
{
	static const char *const prefixes[] = {
		"__traceiter_", "bpf_trace_run", "__bpf_prog_enter", "__bpf_prog_exit",
		"__bpf_tramp_", "bpf_get_stack", "kprobe_", "rethook_", "arch_rethook_",
		"__kretprobe_", "kretprobe_", "__bpf_trace_",
	};
	const char *name;

	if (kallsyms_is_bpf(symbols, address))
		return true;
	name = kallsyms_name(symbols, address);
	for (size_t index = 0; name && index < sizeof(prefixes) / sizeof(prefixes[0]); index++)
		if (!strncmp(name, prefixes[index], strlen(prefixes[index])))
			return true;
	return false;
}

size_t kallsyms_first_traced_frame(const struct kallsyms *symbols, const __u64 *addresses,
				   size_t count)
{
	size_t begin = 0;

	for (size_t index = 0; index < count && addresses[index]; index++)
		if (tracing_frame(symbols, addresses[index]))
			begin = index + 1;
	return begin;
}

/* The symbols named NAME appended to FOUND; false when they do not fit. */
static bool add_callbacks(const struct kallsyms *symbols, const char *name,
			  struct kallsyms_callback *found, size_t capacity, size_t *count)
{
	size_t first, matches = named(symbols, name, &first);

	for (size_t index = first; index < first + matches; index++) {
		const struct symbol *symbol = symbols->by_name[index];

		if (*count == capacity)
			return false;
		found[(*count)++] = (struct kallsyms_callback){
			.address = symbol->address, .symbol = symbol->name, .module = symbol->module,
		};
	}
	return true;
}

static int callback_by_address(const void *left, const void *right)
{
	const struct kallsyms_callback *a = left, *b = right;

	return a->address < b->address ? -1 : a->address > b->address;
}

size_t kallsyms_known_callbacks(struct kallsyms *symbols, struct kallsyms_callback *found,
				size_t capacity)
{
	size_t count = 0;

	for (size_t index = 0; index < DRIVER_COUNT; index++)
		if (!add_callbacks(symbols, drivers[index].symbol, found, capacity, &count))
			break;
	sort_items(found, count, sizeof(*found), callback_by_address);
	return count;
}

/* "a, b": the table's callbacks of DRIVER. */
static void table_callbacks(const char *driver, char *list, size_t size)
{
	size_t length = 0;

	list[0] = '\0';
	for (size_t index = 0; index < DRIVER_COUNT && length < size; index++)
		if (!strcmp(drivers[index].driver, driver))
			length += snprintf(list + length, size - length, "%s%s", length ? ", " : "",
					   drivers[index].symbol);
}

size_t kallsyms_driver_callbacks(struct kallsyms *symbols, const char *name,
				 struct kallsyms_callback *found, size_t capacity,
				 char *error, size_t error_size)
{
	bool in_table = false, fits = true;
	size_t count = 0;
	char list[160];

	for (size_t index = 0; index < DRIVER_COUNT && fits; index++) {
		const char *driver = drivers[index].driver;

		if (!strcmp(drivers[index].symbol, name)) {
			snprintf(error, error_size, "no such driver: %s (it is %s's callback: use "
				 "--driver %s%s%s)", name, driver, strchr(driver, ' ') ? "'" : "",
				 driver, strchr(driver, ' ') ? "'" : "");
			return 0;
		}
		if (!strcmp(driver, name)) {
			in_table = true;
			fits = add_callbacks(symbols, drivers[index].symbol, found, capacity, &count);
		}
	}
	/* A callback the table does not know: the DRIVER column shows its symbol. */
	if (!in_table)
		fits = add_callbacks(symbols, name, found, capacity, &count);
	if (!fits) {
		snprintf(error, error_size, "no such driver: %s (more than %zu callbacks have that "
			 "name)", name, capacity);
		return 0;
	}
	if (count)
		return count;
	if (in_table) {
		table_callbacks(name, list, sizeof(list));
		snprintf(error, error_size, "no such driver: %s (this kernel has no %s: is its "
			 "module loaded?)", name, list);
	} else {
		snprintf(error, error_size, "no such driver: %s (a DRIVER column name such as "
			 "sim_mirror, test_hmm, amdgpu gfx, mlx5 odp, or a callback symbol)", name);
	}
	return 0;
}
