#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# build-assets.sh DIRECTORY: the scripts and style sheet that
# `hmmtrace causes --html` inlines, from the npm packages pinned in
# package-lock.json beside this script: `npm ci` into DIRECTORY/node_modules,
# then exactly these files into DIRECTORY:
#
#   d3.min.js             d3's dist/d3.min.js
#   d3-flamegraph.min.js  d3-flame-graph's dist/d3-flamegraph.min.js
#   d3-flamegraph.css     d3-flame-graph's dist/d3-flamegraph.css
#   LICENSES              each file, its package, version and license, and the license texts
#
# npm's cache is its usual one (~/.npm), so a second build needs no registry.
# Exit 1 when npm is missing or fails, 2 on a wrong command line.

set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 DIRECTORY" >&2
	exit 2
fi
source_directory=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
directory=$1
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
	echo "flamegraph assets: npm and node are needed (Debian: apt-get install npm)" >&2
	exit 1
fi

mkdir -p "$directory"
cp "$source_directory/package.json" "$source_directory/package-lock.json" "$directory/"
npm ci --prefix "$directory" --ignore-scripts --no-audit --no-fund --loglevel=error >&2

modules=$directory/node_modules
for asset in d3/dist/d3.min.js d3-flame-graph/dist/d3-flamegraph.min.js \
	d3-flame-graph/dist/d3-flamegraph.css; do
	install -m 0644 "$modules/$asset" "$directory/$(basename "$asset").partial"
	mv "$directory/$(basename "$asset").partial" "$directory/$(basename "$asset")"
done

# The licenses, read from the installed packages themselves. d3-flamegraph.min.js
# bundles the d3 modules d3-flame-graph depends on, so those are listed too.
node - "$modules" >"$directory/LICENSES.partial" <<'JAVASCRIPT'
const fs = require('fs');
const path = require('path');
const modules = process.argv[2];
const manifest = (name) => JSON.parse(fs.readFileSync(path.join(modules, name, 'package.json')));
const described = (name) => `${name} ${manifest(name).version} (${manifest(name).license})`;

// Every package d3-flame-graph pulls in, depth first, each once.
const bundled = [];
const visit = (name) => {
	for (const dependency of Object.keys(manifest(name).dependencies || {}).sort()) {
		if (!bundled.includes(dependency)) {
			bundled.push(dependency);
			visit(dependency);
		}
	}
};
visit('d3-flame-graph');

const lines = [
	'The flame graph page of `hmmtrace causes --html` inlines these files.',
	'',
	`d3.min.js             ${described('d3')}`,
	`d3-flamegraph.min.js  ${described('d3-flame-graph')}, with the modules it depends on bundled in`,
	'                      (their versions here are those npm installs beside it):',
	...bundled.map((name) => `                      ${described(name)}`),
	`d3-flamegraph.css     ${described('d3-flame-graph')}`,
];
for (const name of ['d3', 'd3-flame-graph', ...bundled.sort()]) {
	lines.push('', '='.repeat(72), `${name} ${manifest(name).version}: LICENSE`, '='.repeat(72), '');
	lines.push(fs.readFileSync(path.join(modules, name, 'LICENSE'), 'utf8').trimEnd());
}
console.log(lines.join('\n'));
JAVASCRIPT
mv "$directory/LICENSES.partial" "$directory/LICENSES"
