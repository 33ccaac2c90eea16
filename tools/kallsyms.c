// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "kallsyms.h"

struct symbol {
	uint64_t address;
	const char *name;	/* in struct kallsyms' names */
	const char *module;	/* NULL for vmlinux */
};

struct kallsyms {
	char *names;			/* every symbol's name and module */
	struct symbol *symbols;		/* by address */
	size_t count;
	/* The same symbols by name: open addressing, index + 1 per slot, 0 when free. */
	uint32_t *by_name;
	size_t name_mask;		/* slots - 1, a power of two */
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

#define ARRAY_SIZE(array) (sizeof(array) / sizeof((array)[0]))
#define DRIVER_COUNT ARRAY_SIZE(drivers)

static int by_address(const void *left, const void *right)
{
	const struct symbol *a = left, *b = right;

	return a->address < b->address ? -1 : a->address > b->address;
}

/* FNV-1a: names are short, and a hash beats sorting 100k of them by strcmp(). */
static size_t name_hash(const char *name)
{
	uint32_t hash = 2166136261u;

	for (; *name; name++)
		hash = (hash ^ (unsigned char)*name) * 16777619u;
	return hash;
}

/*
 * A load in progress: the text symbols so far, their names (and modules,
 * each run of one module once) packed in one arena. Until the arena stops
 * growing, a symbol's name and module hold offsets into it, the module's
 * plus one (0: vmlinux); finish_load() makes them pointers.
 */
struct kallsyms_loader {
	struct kallsyms *symbols;
	size_t symbols_capacity;		/* room in symbols->symbols */
	size_t names_length, names_capacity;
	uintptr_t last_module;		/* the previous symbol's module field */
	size_t last_module_length;
};

/* TEXT (LENGTH bytes) and a NUL, appended to the arena: its offset, or -1 when out of memory. */
static intptr_t append_name(struct kallsyms_loader *load, const char *text, size_t length)
{
	intptr_t offset = load->names_length;

	if (grow(&load->symbols->names, &load->names_capacity, load->names_length + length + 1, 1))
		return -1;
	memcpy(load->symbols->names + offset, text, length);
	load->symbols->names[offset + length] = '\0';
	load->names_length += length + 1;
	return offset;
}

/*
 * One line of LENGTH bytes, "address type name[\t[module]]", kept if it is a
 * text symbol; false when out of memory.
 */
static bool add_line(struct kallsyms_loader *load, const char *line, size_t length)
{
	const char *end = line + length, *name, *after, *module = NULL;
	size_t name_length, module_length = 0;
	struct symbol symbol;
	intptr_t offset;
	char *parsed;

	symbol.address = strtoull(line, &parsed, 16);
	after = parsed;
	if (after + 3 > end || after[0] != ' ' || (after[1] != 't' && after[1] != 'T') ||
	    after[2] != ' ')
		return true;
	name = after + 3;
	for (after = name; after < end && *after != ' ' && *after != '\t'; after++)
		;
	name_length = after - name;
	if (!name_length)
		return true;
	if (after + 2 < end && after[1] == '[') {
		module = after + 2;
		module_length = (end[-1] == ']' ? end - 1 : end) - module;
	}
	offset = append_name(load, name, name_length);
	if (offset < 0)
		return false;
	symbol.name = (const char *)offset;
	symbol.module = NULL;
	if (module) {
		bool same = load->last_module && module_length == load->last_module_length &&
			    !memcmp(load->symbols->names + load->last_module - 1, module, module_length);

		if (!same) {
			offset = append_name(load, module, module_length);
			if (offset < 0)
				return false;
			load->last_module = offset + 1;
			load->last_module_length = module_length;
		}
		symbol.module = (const char *)load->last_module;
	}
	if (grow(&load->symbols->symbols, &load->symbols_capacity, load->symbols->count + 1,
		 sizeof(symbol)))
		return false;
	load->symbols->symbols[load->symbols->count++] = symbol;
	return true;
}

/*
 * /proc/kallsyms, a chunk at a time: only the text symbols are kept, as
 * most lines are not. The kernel makes each line as it is read (under
 * emulation that takes seconds), so it is read once. False when out of
 * memory; a file that cannot be read has no symbols.
 */
static bool read_kallsyms(struct kallsyms_loader *load)
{
	int fd = open("/proc/kallsyms", O_RDONLY | O_CLOEXEC);
	size_t held = 0, size = 1 << 16;
	char *buffer = malloc(size);
	bool complete = buffer != NULL;
	ssize_t got;

	while (complete && fd >= 0 && (got = read(fd, buffer + held, size - held)) > 0) {
		char *line = buffer, *end = buffer + held + got, *newline;

		/* NUL-terminated, so that no parse runs past a line. */
		while (complete && (newline = memchr(line, '\n', end - line))) {
			*newline = '\0';
			complete = add_line(load, line, newline - line);
			line = newline + 1;
		}
		held = end - line;
		memmove(buffer, line, held);
		/* A line longer than the buffer is no symbol's: its head is dropped. */
		if (held == size)
			held = 0;
	}
	if (complete && held) {
		buffer[held] = '\0';
		complete = add_line(load, buffer, held);
	}
	if (fd >= 0)
		close(fd);
	free(buffer);
	return complete;
}

/* The arena at its final size and place: offsets become pointers. */
static bool finish_load(struct kallsyms_loader *load)
{
	struct kallsyms *symbols = load->symbols;
	char *names = realloc(symbols->names, load->names_length + 1);

	if (!names)
		return false;
	symbols->names = names;
	for (size_t index = 0; index < symbols->count; index++) {
		struct symbol *symbol = &symbols->symbols[index];
		uintptr_t module = (uintptr_t)symbol->module;

		symbol->name = names + (uintptr_t)symbol->name;
		symbol->module = module ? names + module - 1 : NULL;
	}
	return true;
}

static bool sorted_by_address(const struct kallsyms *symbols)
{
	for (size_t index = 1; index < symbols->count; index++)
		if (symbols->symbols[index - 1].address > symbols->symbols[index].address)
			return false;
	return true;
}

/* The index by name, at most half full; false when out of memory. */
static bool index_names(struct kallsyms *symbols)
{
	size_t slots = 64;

	while (slots < 2 * symbols->count)
		slots *= 2;
	symbols->by_name = calloc(slots, sizeof(*symbols->by_name));
	if (!symbols->by_name)
		return false;
	symbols->name_mask = slots - 1;
	for (size_t index = 0; index < symbols->count; index++) {
		size_t slot = name_hash(symbols->symbols[index].name) & symbols->name_mask;

		while (symbols->by_name[slot])
			slot = (slot + 1) & symbols->name_mask;
		symbols->by_name[slot] = index + 1;
	}
	return true;
}

/* Both orders: by address for symbolizing, by name for finding functions and drivers. */
static bool sort_symbols(struct kallsyms *symbols)
{
	/* The kernel lists vmlinux by address, then each module: mostly in order already. */
	if (!sorted_by_address(symbols))
		sort_items(symbols->symbols, symbols->count, sizeof(*symbols->symbols), by_address);
	return index_names(symbols);
}

struct kallsyms *kallsyms_load(void)
{
	struct kallsyms *symbols = calloc(1, sizeof(*symbols));
	struct kallsyms_loader load = { .symbols = symbols };

	if (!symbols || !read_kallsyms(&load) || !finish_load(&load) || !sort_symbols(symbols))
		goto failed;
	/* Sorted, the highest address is the last: 0 when the kernel hid them all. */
	symbols->addresses_hidden = symbols->count &&
				    !symbols->symbols[symbols->count - 1].address;
	return symbols;
failed:
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
	free(symbols->names);
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

/* The symbols named NAME, up to CAPACITY of them into FOUND; returns how many there are. */
static size_t named(const struct kallsyms *symbols, const char *name,
		    const struct symbol **found, size_t capacity)
{
	size_t slot, count = 0;

	if (!symbols || !symbols->by_name)
		return 0;
	for (slot = name_hash(name) & symbols->name_mask; symbols->by_name[slot];
	     slot = (slot + 1) & symbols->name_mask) {
		const struct symbol *symbol = &symbols->symbols[symbols->by_name[slot] - 1];

		size_t at = count < capacity ? count : capacity;

		if (strcmp(symbol->name, name))
			continue;
		/* In address order, as the symbols are: found by insertion, a few at most. */
		for (; at > 0 && found[at - 1] > symbol; at--)
			if (at < capacity)
				found[at] = found[at - 1];
		if (at < capacity)
			found[at] = symbol;
		count++;
	}
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
	return named(symbols, name, NULL, 0) > 0;
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
	const struct symbol *matches[64];
	size_t count_named = named(symbols, name, matches, ARRAY_SIZE(matches));

	if (count_named > ARRAY_SIZE(matches))
		return false;
	for (size_t index = 0; index < count_named; index++) {
		if (*count == capacity)
			return false;
		found[(*count)++] = (struct kallsyms_callback){
			.address = matches[index]->address, .symbol = matches[index]->name,
			.module = matches[index]->module,
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
