/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Resolve kernel text addresses to "symbol [module]" and to the driver they
 * belong to, and driver names to their callbacks' addresses.
 */
#ifndef HMMTRACE_KALLSYMS_H
#define HMMTRACE_KALLSYMS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

struct kallsyms;

/* /proc/kallsyms' text symbols (none if it cannot be read); NULL when out of memory. */
struct kallsyms *kallsyms_load(void);
void kallsyms_free(struct kallsyms *symbols);

/*
 * Whether /proc/kallsyms shows this user its addresses: 1, or 0 when the
 * kernel prints every one as 0 (kernel.kptr_restrict), or -errno when it
 * cannot be read. Symbols loaded without addresses name nothing: their
 * callbacks go by address, never by a wrong name.
 */
int kallsyms_addresses_shown(void);

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

/* The bare name of the symbol covering a kernel text address, or NULL. */
const char *kallsyms_name(const struct kallsyms *symbols, uint64_t address);

/*
 * Where the traced code begins in a kernel stack taken by a BPF program
 * (innermost first, COUNT addresses at most, 0-terminated): after the last
 * frame of the tracing machinery (the program, its trampoline, the
 * tracepoint or kprobe plumbing), which is hmmtrace's own and often unwound
 * unreliably.
 */
size_t kallsyms_first_traced_frame(const struct kallsyms *symbols, const __u64 *addresses,
				   size_t count);

/* Whether the kernel has a text symbol NAME (looked up by name, in an index built once). */
int kallsyms_has_symbol(struct kallsyms *symbols, const char *name);

/* A callback (an ops->invalidate) found in this kernel. */
struct kallsyms_callback {
	uint64_t address;
	const char *symbol;	/* valid as long as the struct kallsyms */
	const char *module;	/* NULL for vmlinux */
};

/* The driver table's callbacks present in this kernel, by address. */
size_t kallsyms_known_callbacks(struct kallsyms *symbols, struct kallsyms_callback *found,
				size_t capacity);

/*
 * The callbacks that `--driver NAME` stands for. NAME is what the DRIVER
 * column shows: a driver of the table ("sim_mirror", "amdgpu gfx", ...),
 * whose callbacks this kernel must have, or the symbol of a callback the
 * table does not know. Returns how many were found, or 0 with ERROR saying
 * in one line why NAME is no driver.
 */
size_t kallsyms_driver_callbacks(struct kallsyms *symbols, const char *name,
				 struct kallsyms_callback *found, size_t capacity,
				 char *error, size_t error_size);

#endif /* HMMTRACE_KALLSYMS_H */
