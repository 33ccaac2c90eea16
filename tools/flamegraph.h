/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Flame graphs as a self-contained HTML page, drawn by d3-flame-graph: the
 * folded stacks are merged into one tree, written as JSON through
 * json_writer.c, and d3, d3-flame-graph and its style sheet are inlined
 * from the assets `make flamegraph-assets` builds, so that the page opens
 * offline and loads nothing.
 */
#ifndef HMMTRACE_FLAMEGRAPH_H
#define HMMTRACE_FLAMEGRAPH_H

#include <stddef.h>
#include <stdio.h>

struct folded_stack {
	const char *frames;	/* "root;...;leaf", as flamegraph.pl takes */
	unsigned long long value;
};

/*
 * The directory holding the three assets (d3.min.js, d3-flamegraph.min.js,
 * d3-flamegraph.css), or NULL. Searched in order: $HMMTRACE_FLAMEGRAPH_ASSETS,
 * <dir of /proc/self/exe>/flamegraph (build/flamegraph for build/hmmtrace),
 * <dir of exe>/../share/hmmtrace/flamegraph (installed). The first that
 * holds all three wins.
 */
const char *flamegraph_assets_directory(void);

/*
 * One line for stderr saying what is missing, where it was looked for, and
 * how to get it (make flamegraph-assets); meaningful after
 * flamegraph_assets_directory() returned NULL.
 */
const char *flamegraph_assets_missing_reason(void);

/*
 * The page: TITLE, the UNIT of the values ("invalidations" or "ns of
 * callback time"), the COUNT STACKS merged into one tree (identical stacks
 * add up); the assets in ASSETS_DIRECTORY inlined. 0, or a negative errno:
 * -ENOENT and the like when an asset cannot be read, -EINVAL when one would
 * end its <script> or <style> element early, -ENOMEM, -EIO when writing
 * OUTPUT failed.
 */
int flamegraph_write_html(FILE *output, const char *title, const char *unit,
			  const struct folded_stack *stacks, size_t count,
			  const char *assets_directory);

#endif /* HMMTRACE_FLAMEGRAPH_H */
