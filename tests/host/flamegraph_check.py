#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""What tests/host/test-flamegraph-html.sh reads from folded stacks, a page
and the DOM headless Chromium rendered from it. Each subcommand prints its
answer; those that check exit 1 with a one-line reason when it does not hold.

  nodes FOLDED        the frames the stacks imply: distinct root-first
                      prefixes, plus the root (the page's "all")
  tree PAGE           the tree embedded in the page, one "path<TAB>value"
                      line per node after a "stacks N" line
  frames DOM WANT     the rendered frame elements (d3-flame-graph's g.frame)
                      number WANT, and WANT is not zero
  label DOM NAME      a rendered frame's label reads NAME
  elements DOM TAG    how many TAG elements the DOM has
  text DOM ID         the text of the element with that id
  external DOM        elements that load something (src, href, link): none
"""
import json
import sys
from html.parser import HTMLParser


class Document(HTMLParser):
    """The parts of a page or a DOM dump the checks read."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.frames = 0
        self.labels = []
        self.tags = {}
        self.texts = {}
        self.external = []
        self.data_block = None
        self._open = []  # (tag, what its text is collected for)

    def handle_starttag(self, tag, attributes):
        attributes = dict(attributes)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        classes = (attributes.get("class") or "").split()
        if tag == "g" and "frame" in classes:
            self.frames += 1
        if attributes.get("src") or attributes.get("href") or tag == "link":
            self.external.append(tag)
        collect = None
        if tag == "div" and "d3-flame-graph-label" in classes:
            collect = ("label", len(self.labels))
            self.labels.append("")
        elif tag == "script" and attributes.get("id") == "flamegraph-data":
            collect = ("data", None)
            self.data_block = ""
        elif attributes.get("id"):
            collect = ("id", attributes["id"])
            self.texts[attributes["id"]] = ""
        self._open.append((tag, collect))

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        for _, collect in self._open:
            if collect is None:
                continue
            kind, key = collect
            if kind == "label":
                self.labels[key] += data
            elif kind == "data":
                self.data_block += data
            else:
                self.texts[key] += data


def parse(path):
    document = Document()
    with open(path, encoding="utf-8", errors="replace") as html:
        document.feed(html.read())
    document.close()
    return document


def folded_nodes(path):
    prefixes = set()
    stacks = 0
    with open(path, encoding="utf-8") as folded:
        for line in folded:
            if not line.strip():
                continue
            frames, _, count = line.rstrip("\n").rpartition(" ")
            if not frames or not count.isdigit():
                raise SystemExit(f"{path}: not 'FRAMES COUNT': {line.strip()}")
            stacks += 1
            names = [name for name in frames.split(";") if name]
            for depth in range(1, len(names) + 1):
                prefixes.add(tuple(names[:depth]))
    if not stacks:
        raise SystemExit(f"{path}: no stacks")
    return len(prefixes) + 1


def tree_lines(path):
    block = parse(path).data_block
    if block is None:
        raise SystemExit(f"{path}: no flamegraph-data block")
    data = json.loads(block)
    paths = []
    lines = [f"stacks {data['stacks']}"]
    for node in data["nodes"]:
        parent = node["parent"]
        paths.append(node["name"] if parent < 0 else paths[parent] + ";" + node["name"])
    lines += sorted(f"{path}\t{node['value']}" for path, node in zip(paths, data["nodes"]))
    return lines


def main(arguments):
    if len(arguments) < 2:
        raise SystemExit(__doc__)
    command, path = arguments[0], arguments[1]
    if command == "nodes":
        print(folded_nodes(path))
    elif command == "tree":
        print("\n".join(tree_lines(path)))
    elif command == "frames" and len(arguments) == 3:
        want = int(arguments[2])
        have = parse(path).frames
        if want <= 0:
            raise SystemExit(f"want {want} frames: a check of nothing")
        if have != want:
            print(f"{have} frame elements rendered, want {want}")
            return 1
        print(have)
    elif command == "label" and len(arguments) == 3:
        labels = parse(path).labels
        if arguments[2] not in labels:
            print(f"{arguments[2]!r} is not among the {len(labels)} rendered frame labels")
            return 1
        print(f"{arguments[2]!r} is among the {len(labels)} rendered frame labels")
    elif command == "elements" and len(arguments) == 3:
        print(parse(path).tags.get(arguments[2], 0))
    elif command == "text" and len(arguments) == 3:
        texts = parse(path).texts
        if arguments[2] not in texts:
            print(f"no element with id {arguments[2]!r}")
            return 1
        print(texts[arguments[2]].strip())
    elif command == "external":
        external = parse(path).external
        if external:
            print(f"{len(external)} elements load something: {', '.join(external[:5])}")
            return 1
        print("none")
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
