#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tracepoints/events.json is the one description of the events: the Markdown
# catalog is generated from it and must be current, and the patch series must
# define exactly the events it lists, each with the fields (names, types, in
# order) and the arguments it lists, and no string field.

. tests/lib.sh

catalog=tracepoints/catalog.py

if diff -u tracepoints/README.md <(python3 "$catalog" markdown) >/tmp/catalog.diff; then
	pass catalog.markdown-current
else
	fail catalog.markdown-current "tracepoints/README.md is stale: run '$catalog markdown > tracepoints/README.md'"
fi
check catalog.header-generates sh -c "python3 $catalog header | grep -q HMMTRACE_ARGS_hmm_range_fault"

# The series, event by event: the trace headers as the whole series leaves
# them (each patch's include/trace/events/ part applied in order to an empty
# tree; the cover letter has no diff), parsed for TRACE_EVENT,
# DECLARE_EVENT_CLASS and DEFINE_EVENT, against the catalog's names, fields
# (TP_STRUCT__entry, in order, with their types) and arguments (TP_PROTO).
headers=$(mktemp -d)
applied=0
for patch in kernel/patches/*.patch; do
	[ -f "$patch" ] && grep -q '^diff --git' "$patch" || continue
	if ! output=$(cd "$headers" && git apply --include='include/trace/events/*' "$OLDPWD/$patch" 2>&1); then
		fail catalog.series-headers-apply "$(basename "$patch"): $output"
	fi
	applied=$((applied + 1))
done
check catalog.series-has-patches test "$applied" -ge 1

run_checker catalog python3 - "$headers/include/trace/events" tracepoints/events.json <<'EOF'
import json, os, re, sys

header_dir, catalog_path = sys.argv[1], sys.argv[2]
MACRO = re.compile(r"\b(TRACE_EVENT|DECLARE_EVENT_CLASS|DEFINE_EVENT)\s*\(")
FIELD = re.compile(r"\b(__field|__field_struct|__array|__dynamic_array|__string|__string_len"
                   r"|__bitmask|__cpumask)\s*\(")


def arguments(text, open_paren):
    """The top-level, comma-separated arguments of the call whose '(' is at open_paren."""
    depth, start, parts = 0, open_paren + 1, []
    for position in range(open_paren, len(text)):
        char = text[position]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                parts.append(text[start:position].strip())
                return parts
        elif char == "," and depth == 1:
            parts.append(text[start:position].strip())
            start = position + 1
    raise ValueError(f"unbalanced parentheses after offset {open_paren}")


def normal(type_text):
    return re.sub(r"\s*\*", " *", re.sub(r"\s+", " ", type_text)).strip()


def prototype(parts):
    """TP_PROTO's (name, type) pairs: the type is all but the last identifier."""
    for part in parts:
        if part.startswith("TP_PROTO"):
            return [(re.search(r"\w+$", p).group(0), normal(p[:re.search(r"\w+$", p).start()]))
                    for p in arguments(part, part.index("(")) if p != "void"]
    return None


def entry(parts):
    """TP_STRUCT__entry's (name, type, macro) triples."""
    for part in parts:
        if part.startswith("TP_STRUCT__entry"):
            fields = []
            for match in FIELD.finditer(part, part.index("(") + 1):
                field, kind = arguments(part, match.end() - 1), match.group(1)
                if kind in ("__field", "__field_struct", "__array", "__dynamic_array"):
                    fields.append((field[1], normal(field[0]), kind))
                else:
                    fields.append((field[0], "string", kind))
            return fields
    return None


classes, events = {}, {}
for name in sorted(os.listdir(header_dir)) if os.path.isdir(header_dir) else []:
    with open(os.path.join(header_dir, name)) as header:
        text = re.sub(r"/\*.*?\*/", " ", header.read(), flags=re.S)
    for match in MACRO.finditer(text):
        parts = arguments(text, match.end() - 1)
        macro, event = match.group(1), parts[0]
        if macro == "DEFINE_EVENT":
            events[parts[1]] = {"class": event, "args": prototype(parts)}
        elif macro == "DECLARE_EVENT_CLASS":
            classes[event] = {"fields": entry(parts), "args": prototype(parts)}
        else:
            events[event] = {"fields": entry(parts), "args": prototype(parts)}
for event in events.values():
    if "class" in event:
        event["fields"] = classes.get(event["class"], {}).get("fields")

with open(catalog_path) as catalog_file:
    catalog = {event["name"]: event for event in json.load(catalog_file)["events"]}
field_count = sum(len(event["fields"] or []) for event in events.values())


def result(name, held, reason):
    print(f"{'PASS' if held else 'FAIL'}\t{name}\t{'' if held else reason}")


result("series-parsed", bool(events) and all(e["fields"] for e in events.values()),
       f"parsed {len(events)} events and {field_count} fields from {header_dir}")
result("matches-series-event-names", sorted(events) == sorted(catalog),
       f"series defines {sorted(events)}, catalog lists {sorted(catalog)}")
for name in sorted(set(events) & set(catalog)):
    fields = [(field, kind) for field, kind, _ in events[name]["fields"] or []]
    cataloged = [(field["name"], normal(field["type"])) for field in catalog[name]["fields"]]
    result(f"fields.{name}", bool(fields) and fields == cataloged,
           f"series TP_STRUCT__entry {fields}, catalog {cataloged}")
    args = events[name]["args"]
    cataloged = [(arg["name"], normal(arg["type"])) for arg in catalog[name]["args"]]
    result(f"args.{name}", bool(args) and args == cataloged,
           f"series TP_PROTO {args}, catalog {cataloged}")
strings = [(name, field) for name, event in events.items()
           for field, _, kind in event["fields"] or [] if kind not in ("__field", "__field_struct")]
result("series-records-no-strings", not strings, f"string or array fields: {strings}")
EOF
rm -rf "$headers"
