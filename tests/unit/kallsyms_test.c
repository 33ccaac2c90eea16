// SPDX-License-Identifier: GPL-2.0-only
/*
 * tools/kallsyms.c against a plain sscanf() reading of the same
 * /proc/kallsyms: each text symbol found by name, the sampled addresses
 * named by a symbol at that address, modules shown, and a name that is not
 * there not found. Prints a PASS or FAIL line per check, or one SKIP line
 * when this user sees no addresses (kernel.kptr_restrict).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kallsyms.h"

struct reference {
	unsigned long long address;
	char name[256];
	char module[128];
};

static int failures;

static void check(const char *name, bool held, const char *detail)
{
	printf("%s\tkallsyms.%s\t%s\n", held ? "PASS" : "FAIL", name, held ? "" : detail);
	failures += !held;
}

/* The text symbols but BPF's, which come and go with other tools' programs. */
static struct reference *read_reference(size_t *count)
{
	FILE *file = fopen("/proc/kallsyms", "r");
	struct reference *symbols = NULL, symbol;
	size_t capacity = 0;
	char line[512], type;

	*count = 0;
	while (file && fgets(line, sizeof(line), file)) {
		symbol.module[0] = '\0';
		if (sscanf(line, "%llx %c %255s [%127[^]]]", &symbol.address, &type, symbol.name,
			   symbol.module) < 3 || (type != 't' && type != 'T') ||
		    !strcmp(symbol.module, "bpf"))
			continue;
		if (*count == capacity) {
			capacity = capacity ? 2 * capacity : 4096;
			symbols = realloc(symbols, capacity * sizeof(*symbols));
			if (!symbols)
				exit(1);
		}
		symbols[(*count)++] = symbol;
	}
	if (file)
		fclose(file);
	return symbols;
}

/* Whether the reference has a symbol NAME at ADDRESS. */
static bool has_symbol_at(const struct reference *symbols, size_t count, const char *name,
			  unsigned long long address)
{
	for (size_t index = 0; index < count; index++)
		if (symbols[index].address == address && !strcmp(symbols[index].name, name))
			return true;
	return false;
}

int main(void)
{
	size_t count, sampled = 0, found = 0, named_right = 0, modules = 0, modules_right = 0;
	struct reference *reference;
	struct kallsyms *symbols;
	char detail[512], text[512];

	if (kallsyms_addresses_shown() != 1) {
		printf("SKIP\tkallsyms\tthis user sees no kernel addresses (kernel.kptr_restrict)\n");
		return 0;
	}
	reference = read_reference(&count);
	symbols = kallsyms_load();
	check("loaded", symbols != NULL, "kallsyms_load() failed");
	check("parsed", count > 1000, "fewer than 1000 text symbols read by the reference");
	if (!symbols || count <= 1000)
		return 1;
	/*
	 * Every symbol by name (a chunk boundary of the reading may fall in
	 * any line); every 97th and every module symbol by address, which the
	 * reference can only answer by a walk.
	 */
	for (size_t index = 0; index < count; index++)
		found += kallsyms_has_symbol(symbols, reference[index].name) == 1;
	for (size_t index = 0; index < count; index++) {
		const struct reference *symbol = &reference[index];
		const char *name;
		bool module = symbol->module[0] != '\0';

		if (index % 97 && !module)
			continue;
		sampled++;
		name = kallsyms_name(symbols, symbol->address);
		named_right += name && has_symbol_at(reference, count, name, symbol->address);
		if (module) {
			char wanted[160];

			modules++;
			kallsyms_describe(symbols, symbol->address, text, sizeof(text));
			snprintf(wanted, sizeof(wanted), "+0x0 [%s]", symbol->module);
			modules_right += strstr(text, wanted) != NULL;
		}
	}
	snprintf(detail, sizeof(detail), "%zu of %zu names found", found, count);
	check("found-by-name", found == count, detail);
	snprintf(detail, sizeof(detail), "%zu of %zu addresses named by a symbol there",
		 named_right, sampled);
	check("named-by-address", sampled > 10 && named_right == sampled, detail);
	snprintf(detail, sizeof(detail), "%zu of %zu module symbols shown with their module",
		 modules_right, modules);
	if (modules)
		check("modules", modules_right == modules, detail);
	else
		printf("SKIP\tkallsyms.modules\tno module is loaded here\n");
	check("absent-name", !kallsyms_has_symbol(symbols, "hmmtrace_no_such_symbol_anywhere"),
	      "a name that is not there was found");
	kallsyms_free(symbols);
	free(reference);
	return failures != 0;
}
