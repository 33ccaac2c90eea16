// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kallsyms.h"

struct symbol {
	uint64_t address;
	char *name;
	char *module;	/* NULL for vmlinux */
};

struct kallsyms {
	struct symbol *symbols;
	size_t count;
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

static int by_address(const void *left, const void *right)
{
	const struct symbol *a = left, *b = right;

	return a->address < b->address ? -1 : a->address > b->address;
}

struct kallsyms *kallsyms_load(void)
{
	struct kallsyms *symbols = calloc(1, sizeof(*symbols));
	FILE *file = fopen("/proc/kallsyms", "r");
	size_t capacity = 0;
	char line[512];

	if (!symbols || !file) {
		if (file)
			fclose(file);
		return symbols;
	}
	while (fgets(line, sizeof(line), file)) {
		unsigned long long address;
		char type, name[256], module[128] = "";

		if (sscanf(line, "%llx %c %255s [%127[^]]]", &address, &type, name, module) < 3)
			continue;
		if (type != 't' && type != 'T')
			continue;
		if (symbols->count == capacity) {
			size_t bigger = capacity ? 2 * capacity : 4096;
			struct symbol *grown = realloc(symbols->symbols, bigger * sizeof(*grown));

			if (!grown)
				break;
			symbols->symbols = grown;
			capacity = bigger;
		}
		symbols->symbols[symbols->count++] = (struct symbol){
			.address = address,
			.name = strdup(name),
			.module = module[0] ? strdup(module) : NULL,
		};
	}
	fclose(file);
	qsort(symbols->symbols, symbols->count, sizeof(struct symbol), by_address);
	return symbols;
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
	free(symbols);
}

static const struct symbol *lookup(const struct kallsyms *symbols, uint64_t address)
{
	size_t low = 0, high = symbols ? symbols->count : 0;

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

void kallsyms_driver(const struct kallsyms *symbols, uint64_t address, char *driver,
		     size_t driver_size, char *symbol_name, size_t symbol_size)
{
	const struct symbol *symbol = lookup(symbols, address);

	if (!symbol) {
		snprintf(driver, driver_size, "0x%llx", (unsigned long long)address);
		if (symbol_name)
			snprintf(symbol_name, symbol_size, "0x%llx", (unsigned long long)address);
		return;
	}
	if (symbol_name)
		snprintf(symbol_name, symbol_size, "%s%s%s%s", symbol->name,
			 symbol->module ? " [" : "", symbol->module ? symbol->module : "",
			 symbol->module ? "]" : "");
	for (size_t index = 0; index < sizeof(drivers) / sizeof(drivers[0]); index++)
		if (!strcmp(drivers[index].symbol, symbol->name)) {
			snprintf(driver, driver_size, "%s", drivers[index].driver);
			return;
		}
	snprintf(driver, driver_size, "%s", symbol->name);
}

void kallsyms_describe(const struct kallsyms *symbols, uint64_t address, char *text, size_t size)
{
	const struct symbol *symbol = lookup(symbols, address);

	if (!symbol) {
		snprintf(text, size, "0x%llx", (unsigned long long)address);
		return;
	}
	snprintf(text, size, "%s+0x%llx%s%s%s", symbol->name,
		 (unsigned long long)(address - symbol->address), symbol->module ? " [" : "",
		 symbol->module ? symbol->module : "", symbol->module ? "]" : "");
}

int kallsyms_is_driver(const char *name)
{
	for (size_t index = 0; index < sizeof(drivers) / sizeof(drivers[0]); index++)
		if (!strcmp(drivers[index].driver, name))
			return 1;
	return 0;
}

size_t kallsyms_known_callbacks(const struct kallsyms *symbols, struct kallsyms_callback *found,
				size_t capacity)
{
	size_t count = 0;

	for (size_t index = 0; symbols && index < symbols->count && count < capacity; index++)
		for (size_t driver = 0; driver < sizeof(drivers) / sizeof(drivers[0]); driver++)
			if (!strcmp(drivers[driver].symbol, symbols->symbols[index].name)) {
				found[count].symbol = symbols->symbols[index].name;
				found[count].module = symbols->symbols[index].module;
				count++;
				break;
			}
	return count;
}

int kallsyms_has_symbol(const struct kallsyms *symbols, const char *name)
{
	for (size_t index = 0; symbols && index < symbols->count; index++)
		if (!strcmp(symbols->symbols[index].name, name))
			return 1;
	return 0;
}

int kallsyms_is_bpf(const struct kallsyms *symbols, uint64_t address)
{
	const struct symbol *symbol = lookup(symbols, address);

	return symbol && symbol->module && !strcmp(symbol->module, "bpf");
}
