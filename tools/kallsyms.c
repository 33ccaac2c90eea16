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
	const char *name;	/* in struct kallsyms' text */
	const char *module;	/* NULL for vmlinux */
};

struct kallsyms {
	char *text;			/* /proc/kallsyms as read, cut into names */
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

#define ARRAY_LENGTH(array) (sizeof(array) / sizeof((array)[0]))
#define DRIVER_COUNT ARRAY_LENGTH(drivers)

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
 * /proc/kallsyms whole, NUL-terminated, in *LENGTH bytes; NULL when out of
 * memory, and empty when it cannot be read. The kernel makes each line as
 * it is read (under emulation that takes seconds), so it is read once.
 */
static char *read_kallsyms(size_t *length)
{
	int fd = open("/proc/kallsyms", O_RDONLY | O_CLOEXEC);
	size_t capacity = 1 << 22;
	char *text = malloc(capacity);
	ssize_t got = 0;

	*length = 0;
	while (text && fd >= 0 && (got = read(fd, text + *length, capacity - 1 - *length)) > 0) {
		*length += got;
		if (capacity - 1 - *length < 65536 && grow(&text, &capacity, 2 * capacity, 1)) {
			free(text);
			text = NULL;
		}
	}
	if (fd >= 0)
		close(fd);
	if (text)
		text[*length] = '\0';
	return text;
}

/* The word at *CURSOR, NUL-terminated in place; *CURSOR moves past its separator. */
static char *cut_word(char **cursor, char *end)
{
	char *word = *cursor, *at = word;

	while (at < end && *at != ' ' && *at != '\t' && *at != '\n')
		at++;
	*cursor = at < end ? at + 1 : end;
	if (at < end)
		*at = '\0';
	return word;
}

/*
 * One line, "address type name[\t[module]]", kept in SYMBOL if it is a text
 * symbol; *CURSOR moves to the next line. Returns whether it was kept.
 */
static bool parse_line(char **cursor, char *end, struct symbol *symbol)
{
	char *line = *cursor, *line_end = memchr(line, '\n', end - line);
	char *name, *module, *after;
	char type;

	line_end = line_end ? line_end : end;
	*cursor = line_end < end ? line_end + 1 : end;
	symbol->address = strtoull(line, &after, 16);
	if (after + 3 > line_end || after[0] != ' ' || after[2] != ' ')
		return false;
	type = after[1];
	if (type != 't' && type != 'T')
		return false;
	after += 3;
	name = cut_word(&after, line_end);
	module = after < line_end && *after == '[' ? after + 1 : NULL;
	if (module && line_end[-1] == ']')
		line_end[-1] = '\0';
	*line_end = '\0';
	symbol->name = name;
	symbol->module = module;
	return *name != '\0';
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
	size_t length, lines = 1;
	char *cursor, *end;

	if (!symbols || !(symbols->text = read_kallsyms(&length)))
		goto failed;
	end = symbols->text + length;
	for (cursor = symbols->text; (cursor = memchr(cursor, '\n', end - cursor)); cursor++)
		lines++;
	symbols->symbols = malloc(lines * sizeof(*symbols->symbols));
	if (!symbols->symbols)
		goto failed;
	for (cursor = symbols->text; cursor < end && symbols->count < lines;)
		symbols->count += parse_line(&cursor, end, &symbols->symbols[symbols->count]);
	if (!sort_symbols(symbols))
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
	free(symbols->text);
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
	size_t count_named = named(symbols, name, matches, ARRAY_LENGTH(matches));

	if (count_named > ARRAY_LENGTH(matches))
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
