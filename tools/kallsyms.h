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

#endif /* HMMTRACE_KALLSYMS_H */
