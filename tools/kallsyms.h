/* SPDX-License-Identifier: GPL-2.0-only */
/* Resolve kernel text addresses to "symbol [module]" and to the driver they belong to. */
#ifndef HMMTRACE_KALLSYMS_H
#define HMMTRACE_KALLSYMS_H

#include <stddef.h>
#include <stdint.h>

struct kallsyms;

struct kallsyms *kallsyms_load(void);
void kallsyms_free(struct kallsyms *symbols);

/*
 * Name the driver an ops->invalidate callback belongs to ("sim_mirror",
 * "amdgpu gfx userptr", ...), or its bare symbol when the table does not know
 * it. If symbol_name is not NULL it receives "symbol [module]".
 */
void kallsyms_driver(const struct kallsyms *symbols, uint64_t address, char *driver,
		     size_t driver_size, char *symbol_name, size_t symbol_size);

/* "symbol+0xoffset [module]" for a kernel text address, as in a stack trace. */
void kallsyms_describe(const struct kallsyms *symbols, uint64_t address, char *text, size_t size);

/* Whether an address is in a BPF program or trampoline: hmmtrace's own frames. */
int kallsyms_is_bpf(const struct kallsyms *symbols, uint64_t address);

/* Whether the kernel has a text symbol NAME. */
int kallsyms_has_symbol(const struct kallsyms *symbols, const char *name);

/* Whether NAME is a driver of the table ("sim_mirror", "amdgpu gfx", ...). */
int kallsyms_is_driver(const char *name);

/* The driver table's callbacks present in this kernel, as symbols and modules. */
struct kallsyms_callback {
	const char *symbol;
	const char *module;	/* NULL for vmlinux */
};

size_t kallsyms_known_callbacks(const struct kallsyms *symbols, struct kallsyms_callback *found,
				size_t capacity);

#endif /* HMMTRACE_KALLSYMS_H */
