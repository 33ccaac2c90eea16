#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The flame graph page of `hmmtrace causes --html` (tools/flamegraph.c),
# through build/tests/flamegraph_render: the tree it embeds (identical
# stacks merged, a hostile function name kept whole and harmless, no stacks
# said so), where it finds the assets and the one line it says when it finds
# none; then the page of tests/host/fixtures/causes.folded opened in
# headless Chromium: as many frames drawn as the stacks imply distinct
# frames, do_madvise among their labels, nothing loaded from outside, and a
# screenshot kept in build/test-results/flamegraph/. The controls: a page
# without the scripts and one without its data draw no frame, and the frame
# check says so; a function that is not there is not found.

. tests/lib.sh

renderer=build/tests/flamegraph_render
checker=tests/host/flamegraph_check.py
fixture=tests/host/fixtures/causes.folded
results=build/test-results/flamegraph
work=$(mktemp -d)
mkdir -p "$results"

if ! make --no-print-directory "$renderer" >"$work/make-renderer.log" 2>&1; then
	fail flamegraph.renderer-builds "$(tail -n 3 "$work/make-renderer.log")"
	exit 0
fi
pass flamegraph.renderer-builds
if ! command -v npm >/dev/null; then
	skip flamegraph "npm is not installed (make deps installs it): the assets cannot be built"
	exit 0
fi
if ! make --no-print-directory flamegraph-assets >"$work/make-assets.log" 2>&1; then
	fail flamegraph.assets-build "make flamegraph-assets: $(tail -n 3 "$work/make-assets.log")"
	exit 0
fi
assets=build/flamegraph
check flamegraph.assets-build sh -c "for file in d3.min.js d3-flamegraph.min.js d3-flamegraph.css LICENSES; do
	[ -s '$assets/'\$file ] || { echo \"$assets/\$file is missing or empty\"; exit 1; }; done"
check flamegraph.assets-licenses-name-each sh -c "grep -q '^d3.min.js  *d3 7[.].* (ISC)' '$assets/LICENSES' &&
	grep -q '^d3-flamegraph.min.js  *d3-flame-graph 4[.].* (Apache-2.0)' '$assets/LICENSES' &&
	grep -q '^d3-flamegraph.css  *d3-flame-graph 4[.].* (Apache-2.0)' '$assets/LICENSES' &&
	grep -q 'Apache License' '$assets/LICENSES'"

# render NAME INPUT [ASSETS]: the page of INPUT's folded stacks in $work/NAME.html.
render() {
	local name=$1 input=$2 directory=${3:-$assets}
	HMMTRACE_FLAMEGRAPH_ASSETS=$directory "$renderer" "flame graph: $name" invalidations \
		<"$input" >"$work/$name.html" 2>"$work/$name.err"
}

# check_tree NAME PAGE EXPECTED: the tree embedded in PAGE is EXPECTED, line for line.
check_tree() {
	local name=$1 page=$2 expected=$3 have
	have=$(python3 "$checker" tree "$page" 2>&1)
	if [ "$have" = "$expected" ]; then
		pass "$name"
	else
		fail "$name" "$(diff <(echo "$expected") <(echo "$have") | grep '^[<>]' | head -n 4 | tr '\n' ';')"
	fi
}

# Identical stacks add up; stacks that share a prefix share its frames.
printf 'a;b;c 1\na;b;c 2\na;b;d 4\n' >"$work/merge.folded"
if render merge "$work/merge.folded"; then
	check_tree flamegraph.merges-identical-stacks "$work/merge.html" "stacks 3
all	7
all;a	7
all;a;b	7
all;a;b;c	3
all;a;b;d	4"
else
	fail flamegraph.merges-identical-stacks "the renderer failed: $(head -n 1 "$work/merge.err")"
fi

# A name that would end the data's <script> element, open a tag and a comment.
hostile='</script><b>bold</b><!--'
printf 'entry;%s 5\nentry;do_madvise 2\n' "$hostile" >"$work/hostile.folded"
if render hostile "$work/hostile.folded"; then
	check_tree flamegraph.hostile-name-kept-whole "$work/hostile.html" "stacks 2
all	7
all;entry	7
all;entry;$hostile	5
all;entry;do_madvise	2"
	# The control: the input has the name; the page has it only escaped.
	check flamegraph.hostile-name-in-the-input grep -qF "$hostile" "$work/hostile.folded"
	check flamegraph.hostile-name-not-raw-in-the-page sh -c "! grep -qF '<b>bold' '$work/hostile.html'"
else
	fail flamegraph.hostile-name-kept-whole "the renderer failed: $(head -n 1 "$work/hostile.err")"
fi

# A title and a unit are HTML text: escaped, and shown as given.
HMMTRACE_FLAMEGRAPH_ASSETS=$assets "$renderer" '<i>title</i> & co' '<u>units</u>' <"$work/merge.folded" \
	>"$work/title.html" 2>"$work/title.err"
check flamegraph.title-and-unit-are-escaped sh -c "grep -qF '<h1>&lt;i&gt;title&lt;/i&gt; &amp; co</h1>' '$work/title.html' &&
	grep -qF '7 &lt;u&gt;units&lt;/u&gt; in all' '$work/title.html' && ! grep -qE '<i>title|<u>units' '$work/title.html'"

# No stacks: still a page, which says so.
: >"$work/empty.folded"
if render empty "$work/empty.folded"; then
	check_tree flamegraph.empty-input-is-a-page "$work/empty.html" "stacks 0
all	0"
	check flamegraph.empty-input-says-so grep -q '0 stacks, 0 invalidations: nothing was recorded' \
		<(python3 "$checker" text "$work/empty.html" summary)
else
	fail flamegraph.empty-input-is-a-page "the renderer failed: $(head -n 1 "$work/empty.err")"
fi

# A line that is not "FRAMES COUNT" is refused, in one line, with status 2.
printf 'a;b 1\na;b\n' >"$work/bad.folded"
status=0
render bad "$work/bad.folded" || status=$?
check flamegraph.bad-line-is-refused sh -c "[ $status -eq 2 ] && [ \$(wc -l <'$work/bad.err') -eq 1 ] &&
	grep -q '^line 2 ' '$work/bad.err'"

# Where the assets are found: the renderer copied to a directory of its own,
# so that neither exe-relative place has them until they are put there.
bin=$work/prefix/bin
mkdir -p "$bin"
cp "$renderer" "$bin/"
HMMTRACE_FLAMEGRAPH_ASSETS=$work/nowhere "$bin/flamegraph_render" --assets >"$work/missing.out" 2>"$work/missing.err"
status=$?
check flamegraph.assets-missing-returns-null sh -c "[ $status -eq 3 ] && [ ! -s '$work/missing.out' ]"
check flamegraph.assets-missing-reason-is-one-line sh -c "[ \$(wc -l <'$work/missing.err') -eq 1 ] &&
	grep -q 'make flamegraph-assets' '$work/missing.err' && grep -qF '$work/nowhere' '$work/missing.err' &&
	grep -qF '$bin/flamegraph' '$work/missing.err' && grep -qF '$work/prefix/share/hmmtrace/flamegraph' '$work/missing.err'"
HMMTRACE_FLAMEGRAPH_ASSETS=$work/nowhere "$bin/flamegraph_render" title unit <"$fixture" \
	>"$work/missing.html" 2>/dev/null
status=$?
check flamegraph.assets-missing-writes-no-page sh -c "[ $status -eq 3 ] && [ ! -s '$work/missing.html' ]"
check flamegraph.assets-found-by-environment test "$(HMMTRACE_FLAMEGRAPH_ASSETS=$assets \
	"$bin/flamegraph_render" --assets 2>&1)" = "$assets"
mkdir -p "$work/prefix/share/hmmtrace/flamegraph"
cp "$assets"/*.js "$assets"/*.css "$work/prefix/share/hmmtrace/flamegraph/"
check flamegraph.assets-found-installed test "$(HMMTRACE_FLAMEGRAPH_ASSETS=$work/nowhere \
	"$bin/flamegraph_render" --assets 2>&1)" = "$work/prefix/share/hmmtrace/flamegraph"
mkdir -p "$bin/flamegraph"
cp "$assets"/*.js "$assets"/*.css "$bin/flamegraph/"
check flamegraph.assets-found-beside-the-binary test "$("$bin/flamegraph_render" --assets 2>&1)" = "$bin/flamegraph"

# An asset that would end its element early is refused, not inlined.
mkdir -p "$work/breaking"
cp "$assets"/*.js "$assets"/*.css "$work/breaking/"
printf '\nvar end = "</SCRIPT>";\n' >>"$work/breaking/d3-flamegraph.min.js"
status=0
render breaking "$fixture" "$work/breaking" || status=$?
check flamegraph.asset-ending-its-element-is-refused sh -c "[ $status -eq 1 ] &&
	grep -q 'Invalid argument' '$work/breaking.err'"

# The fixture's page, and the controls' pages.
if ! render causes "$fixture"; then
	fail flamegraph.fixture-renders "$(head -n 1 "$work/causes.err")"
	rm -rf "$work"
	exit 0
fi
pass flamegraph.fixture-renders
cp "$work/causes.html" "$results/causes.html"
mkdir -p "$work/no-scripts"
: >"$work/no-scripts/d3.min.js"
: >"$work/no-scripts/d3-flamegraph.min.js"
cp "$assets/d3-flamegraph.css" "$work/no-scripts/"
render no-scripts "$fixture" "$work/no-scripts" ||
	fail flamegraph.control-page-renders "$(head -n 1 "$work/no-scripts.err")"
python3 - "$work/causes.html" "$work/no-data.html" <<'PYTHON'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
emptied, count = re.subn(r'(<script type="application/json" id="flamegraph-data">)[^<]*(</script>)',
                         r"\1\2", page)
if count != 1:
    sys.exit(f"{count} data blocks in the page")
open(sys.argv[2], "w", encoding="utf-8").write(emptied)
PYTHON

if ! command -v chromium >/dev/null; then
	skip flamegraph.chromium "chromium is not installed (make deps installs it)"
	rm -rf "$work"
	exit 0
fi
want=$(python3 "$checker" nodes "$fixture")

# dump NAME [SCREENSHOT]: Chromium's DOM of $work/NAME.html once drawn, in
# $work/NAME.dom (tests/host/chromium_page.py); with SCREENSHOT, a picture too.
dump() {
	python3 tests/host/chromium_page.py "$work/$1.html" "$work/$1.dom" ${2:+"$2"} 2>"$work/$1.chromium.log"
}

if ! dump causes "$results/causes.png"; then
	fail flamegraph.chromium-opens-the-page "$(tail -n 2 "$work/causes.chromium.log")"
	rm -rf "$work"
	exit 0
fi
check flamegraph.renders-every-frame python3 "$checker" frames "$work/causes.dom" "$want"
check flamegraph.do_madvise-is-a-frame python3 "$checker" label "$work/causes.dom" do_madvise
check flamegraph.page-loads-nothing python3 "$checker" external "$work/causes.dom"
summary=$(awk 'NF { stacks++; total += $NF } END { print stacks " stacks, " total " invalidations in all" }' "$fixture")
check flamegraph.page-says-what-it-shows grep -qF "$summary" <(python3 "$checker" text "$work/causes.dom" summary)
check flamegraph.screenshot-kept sh -c "[ -s '$results/causes.png' ] &&
	[ \"\$(head -c 8 '$results/causes.png' | od -An -tx1 | tr -d ' ')\" = 89504e470d0a1a0a ]"

# Controls: no frame without the scripts or without the data, and the frame
# check fails on them; a function that is not in the stacks is not found.
for control in no-scripts no-data; do
	if ! dump "$control"; then
		fail "flamegraph.control-$control" "chromium failed: $(tail -n 1 "$work/$control.chromium.log")"
	elif python3 "$checker" frames "$work/$control.dom" "$want" >"$work/$control.check"; then
		fail "flamegraph.control-$control" "the frame check passed on a page $control"
	else
		check "flamegraph.control-$control-draws-no-frame" grep -q "^0 frame elements rendered, want $want" \
			"$work/$control.check"
	fi
done
check flamegraph.control-no-scripts-says-so grep -q 'scripts .* are not in this page' \
	<(python3 "$checker" text "$work/no-scripts.dom" status)
check flamegraph.control-missing-function-not-found sh -c \
	"! python3 '$checker' label '$work/causes.dom' no_such_function_in_these_stacks"

# The controls of the checks that expect nothing: they see what is there.
printf '<p><b>bold</b></p><link rel="stylesheet" href="style.css"><img src="picture.png">\n' >"$work/loads.html"
check flamegraph.control-element-count-sees-one test "$(python3 "$checker" elements "$work/loads.html" b)" = 1
check flamegraph.control-external-check-sees-loads sh -c "! python3 '$checker' external '$work/loads.html' >/dev/null"

# The hostile name and the empty page, as a browser shows them.
if dump hostile && dump empty; then
	check flamegraph.hostile-name-is-a-label python3 "$checker" label "$work/hostile.dom" "$hostile"
	check flamegraph.hostile-name-makes-no-element test "$(python3 "$checker" elements "$work/hostile.dom" b)" = 0
	check flamegraph.hostile-page-draws-its-frames python3 "$checker" frames "$work/hostile.dom" 4
	check flamegraph.empty-page-says-so grep -q 'No stacks were recorded' \
		<(python3 "$checker" text "$work/empty.dom" status)
	check flamegraph.empty-page-draws-no-frame test "$(python3 "$checker" elements "$work/empty.dom" g)" = 0
else
	fail flamegraph.chromium-opens-the-small-pages "$(cat "$work"/{hostile,empty}.chromium.log | tail -n 2)"
fi
rm -rf "$work"
