#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tracepoints/events.json is the one description of the events: the Markdown
# catalog is generated from it and must be current, and the patch series must
# define exactly the events it lists, each with the fields it lists.

. tests/lib.sh

catalog=tracepoints/catalog.py

if diff -u tracepoints/README.md <(python3 "$catalog" markdown) >/tmp/catalog.diff; then
	pass catalog.markdown-current
else
	fail catalog.markdown-current "tracepoints/README.md is stale: run '$catalog markdown > tracepoints/README.md'"
fi
check catalog.header-generates sh -c "python3 $catalog header | grep -q HMMTRACE_ARGS_hmm_range_fault"

# Names defined by the series: TRACE_EVENT(name, and DEFINE_EVENT(class, name,
defined=$(cat kernel/patches/*.patch | sed -n \
	-e 's/^+TRACE_EVENT(\([a-z_]*\),.*/\1/p' \
	-e 's/^+DEFINE_EVENT([a-z_]*, \([a-z_]*\),.*/\1/p' | sort)
cataloged=$(python3 -c 'import json; [print(e["name"]) for e in json.load(open("tracepoints/events.json"))["events"]]' | sort)
if [ "$defined" = "$cataloged" ]; then
	pass catalog.matches-series-event-names
else
	fail catalog.matches-series-event-names "series defines [$(echo $defined)], catalog lists [$(echo $cataloged)]"
fi
