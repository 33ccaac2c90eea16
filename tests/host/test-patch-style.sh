#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Every patch in kernel/patches passes the kernel's checkpatch.pl --strict and
# carries a Signed-off-by and a commit message that explains itself.
#
# The cover letter (0000-cover-letter.patch) has no diff, so checkpatch would
# check nothing in it. It is checked for what it must say instead: a [PATCH 0/N]
# subject where N is the number of patches, each numbered i/N in order, no
# placeholder left by git format-patch, every event of tracepoints/events.json,
# the events-off cost and how to test with hmm-tests and bpftrace.
# tests/host/test-kernel-build.sh checks its shortlog and diffstat.

. tests/lib.sh

cover_letter=$PWD/kernel/patches/0000-cover-letter.patch
source_version=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null)
kernel_tree=${HMMTRACE_CACHE:-$HOME/.cache/hmmtrace}/$source_version/pristine
if [ ! -x "$kernel_tree/scripts/checkpatch.pl" ]; then
	skip patch-style "no unpacked kernel tree with checkpatch.pl (run 'make kernel')"
else
	# Run from the kernel tree, as a kernel developer would, with Debian's
	# python3 first so that spdxcheck.py finds python3-ply and python3-git
	# (it runs in a git tree, as the pristine tree is).
	for patch in "$PWD"/kernel/patches/*.patch; do
		[ "$patch" != "$cover_letter" ] || continue
		name=patch-style.$(basename "$patch" .patch | cut -c1-4)
		report=$(cd "$kernel_tree" && PATH=/usr/bin:$PATH scripts/checkpatch.pl --strict --quiet "$patch" 2>&1)
		if [ -n "$report" ]; then
			findings=$(grep -E '^(ERROR|WARNING|CHECK)' <<<"$report" | head -n 3)
			fail "$name.checkpatch" "${findings:-$(head -n 2 <<<"$report")}"
		else
			pass "$name.checkpatch"
		fi
		body_lines=$(sed -n '/^Subject:/,/^---$/p' "$patch" | grep -vc -e '^Subject:' -e '^---$' -e '^Signed-off-by:' -e '^$')
		if grep -q '^Signed-off-by: .* <.*@.*>$' "$patch" && [ "$body_lines" -ge 5 ]; then
			pass "$name.message"
		else
			fail "$name.message" "needs a Signed-off-by and a commit message of 5 or more lines ($body_lines)"
		fi
	done
fi

if [ ! -f "$cover_letter" ]; then
	fail patch-style.cover-letter "kernel/patches/0000-cover-letter.patch is missing (git format-patch --cover-letter)"
	exit 0
fi

run_checker patch-style.cover-letter python3 - "$cover_letter" tracepoints/events.json kernel/patches/*.patch <<'EOF'
import email, json, os, re, sys

cover_path, catalog_path, patch_paths = sys.argv[1], sys.argv[2], sys.argv[3:]
patch_paths = sorted(path for path in patch_paths if not os.path.samefile(path, cover_path))


def result(ok, name, reason):
    print(f"{'PASS' if ok else 'FAIL'}\t{name}\t{'' if ok else reason}")


def subject(path):
    with open(path, encoding="utf-8") as mail:
        header = email.message_from_file(mail)["Subject"] or ""
    return " ".join(header.split())


numbers = [re.match(r"\[PATCH (\d+)/(\d+)\] ", subject(path)) for path in patch_paths]
expected = [(str(i), str(len(patch_paths))) for i in range(1, len(patch_paths) + 1)]
found = [match.groups() if match else None for match in numbers]
result(len(patch_paths) > 0 and found == expected, "patches-numbered",
       f"{len(patch_paths)} patches numbered {found}, not 1/N to N/N in file order")

cover_subject = subject(cover_path)
match = re.match(rf"\[PATCH 0/{len(patch_paths)}\] (.+)", cover_subject)
result(bool(match) and "***" not in cover_subject, "subject",
       f"subject '{cover_subject}' is not [PATCH 0/{len(patch_paths)}] and a title")

text = open(cover_path, encoding="utf-8").read()
body = text.split("\n\n", 1)[1] if "\n\n" in text else ""
blurb = re.split(r"^\S.* \(\d+\):$", body, maxsplit=1, flags=re.M)[0]
blurb_lines = [line for line in blurb.splitlines() if line.strip()]
result("*** BLURB HERE ***" not in text and len(blurb_lines) >= 10, "blurb",
       f"the blurb has {len(blurb_lines)} lines or still holds git's placeholder")

events = json.load(open(catalog_path))["events"]
missing = [event["name"] for event in events if not re.search(rf"\b{event['name']}\b", blurb)]
result(len(events) > 0 and not missing, "names-every-event",
       f"{len(events)} events in the catalog; not in the cover letter: {', '.join(missing)}")

result(re.search(r"events off.*?\binstructions\b", blurb, re.S | re.I) is not None,
       "states-events-off-cost", "no events-off cost in instructions")
result("hmm-tests" in blurb and re.search(r"bpftrace -e '[^']*args->", blurb) is not None,
       "says-how-to-test", "no hmm-tests run or bpftrace one-liner reading args->")
EOF
