// SPDX-License-Identifier: GPL-2.0-only
/*
 * The flame graph page: folded stacks → one tree → JSON (json_writer.c) in
 * a page that inlines d3 and d3-flame-graph. The tree is written flat, one
 * {"name", "value", "parent"} object per node with its parent's index
 * (parents come first), as the JSON writer nests at most JSON_MAX_DEPTH
 * deep and kernel stacks are deeper; the page's script makes it the
 * {"name", "value", "children"} tree d3-flame-graph draws.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "flamegraph.h"
#include "grow.h"
#include "json_writer.h"

static const char *const asset_names[] = { "d3.min.js", "d3-flamegraph.min.js", "d3-flamegraph.css" };

#define ASSET_COUNT (sizeof(asset_names) / sizeof(asset_names[0]))
#define NO_NODE ((size_t)-1)

static char assets_directory[PATH_MAX];
static char missing_reason[4 * PATH_MAX + 256];

static bool holds_assets(const char *directory)
{
	char path[PATH_MAX];

	for (size_t index = 0; index < ASSET_COUNT; index++) {
		if (snprintf(path, sizeof(path), "%s/%s", directory, asset_names[index]) >= (int)sizeof(path) ||
		    access(path, R_OK))
			return false;
	}
	return true;
}

/* Appends TEXT to the reason, every control character a '?', so it stays one line. */
static void reason_append(const char *text)
{
	size_t length = strlen(missing_reason);

	for (; *text && length + 1 < sizeof(missing_reason); text++)
		missing_reason[length++] = (unsigned char)*text < 0x20 || *text == 0x7f ? '?' : *text;
	missing_reason[length] = '\0';
}

/* Where the assets are looked for, in order; a path too long for PATH_MAX is left out. */
struct candidates {
	char paths[3][PATH_MAX];
	size_t count;
};

static void candidate_add(struct candidates *candidates, const char *directory, const char *below)
{
	char *path = candidates->paths[candidates->count];

	if (snprintf(path, PATH_MAX, "%s%s", directory, below) < PATH_MAX)
		candidates->count++;
}

const char *flamegraph_assets_directory(void)
{
	const char *from_environment = getenv("HMMTRACE_FLAMEGRAPH_ASSETS");
	struct candidates candidates = { .count = 0 };
	char executable[PATH_MAX];
	size_t count;
	bool environment_listed;
	ssize_t length;

	if (from_environment && *from_environment)
		candidate_add(&candidates, from_environment, "");
	environment_listed = candidates.count == 1;
	length = readlink("/proc/self/exe", executable, sizeof(executable) - 1);
	if (length > 0) {
		char *slash;

		executable[length] = '\0';
		slash = strrchr(executable, '/');
		if (slash) {
			*slash = '\0';
			candidate_add(&candidates, executable, "/flamegraph");
			/* build/hmmtrace's or /usr/sbin/hmmtrace's parent: ../share/hmmtrace/flamegraph. */
			slash = strrchr(executable, '/');
			if (slash)
				*slash = '\0';
			candidate_add(&candidates, executable, "/share/hmmtrace/flamegraph");
		}
	}
	count = candidates.count;
	for (size_t index = 0; index < count; index++) {
		if (holds_assets(candidates.paths[index])) {
			memcpy(assets_directory, candidates.paths[index], sizeof(assets_directory));
			return assets_directory;
		}
	}

	missing_reason[0] = '\0';
	reason_append("the flame graph assets (d3.min.js, d3-flamegraph.min.js, d3-flamegraph.css) are not in ");
	for (size_t index = 0; index < count; index++) {
		if (index)
			reason_append(index + 1 == count ? " or " : ", ");
		if (index == 0 && environment_listed)
			reason_append("$HMMTRACE_FLAMEGRAPH_ASSETS=");
		reason_append(candidates.paths[index]);
	}
	if (!count)
		reason_append("any directory (neither $HMMTRACE_FLAMEGRAPH_ASSETS nor /proc/self/exe names one)");
	reason_append(": build them with 'make flamegraph-assets' (needs npm), or point $HMMTRACE_FLAMEGRAPH_ASSETS at them");
	return NULL;
}

const char *flamegraph_assets_missing_reason(void)
{
	if (!missing_reason[0])
		return "the flame graph assets were not looked for yet (flamegraph_assets_directory())";
	return missing_reason;
}

/* One frame of the merged tree; its name points into a stack's frames. */
struct node {
	const char *name;
	size_t length;
	unsigned long long value;
	size_t parent, first_child, next_sibling;
};

struct tree {
	struct node *nodes;	/* nodes[0] is the root, "all"; a parent before its children */
	size_t count, capacity;
};

/* PARENT's child named NAME (LENGTH bytes), added when it has none: its index, or NO_NODE. */
static size_t tree_child(struct tree *tree, size_t parent, const char *name, size_t length)
{
	size_t child;

	for (child = tree->nodes[parent].first_child; child != NO_NODE; child = tree->nodes[child].next_sibling)
		if (tree->nodes[child].length == length && !memcmp(tree->nodes[child].name, name, length))
			return child;
	if (grow(&tree->nodes, &tree->capacity, tree->count + 1, sizeof(tree->nodes[0])))
		return NO_NODE;
	child = tree->count++;
	tree->nodes[child] = (struct node){
		.name = name, .length = length, .parent = parent,
		.first_child = NO_NODE, .next_sibling = tree->nodes[parent].first_child,
	};
	tree->nodes[parent].first_child = child;
	return child;
}

/* The stacks merged: every frame adds the stack's value to its node. Empty frames are skipped. */
static int tree_build(struct tree *tree, const struct folded_stack *stacks, size_t count)
{
	static const char root[] = "all";

	if (grow(&tree->nodes, &tree->capacity, 1, sizeof(tree->nodes[0])))
		return -ENOMEM;
	tree->nodes[0] = (struct node){
		.name = root, .length = strlen(root), .parent = NO_NODE,
		.first_child = NO_NODE, .next_sibling = NO_NODE,
	};
	tree->count = 1;
	for (size_t index = 0; index < count; index++) {
		const char *frame = stacks[index].frames;
		size_t node = 0;

		tree->nodes[0].value += stacks[index].value;
		while (frame && *frame) {
			size_t length = strcspn(frame, ";");

			if (length) {
				node = tree_child(tree, node, frame, length);
				if (node == NO_NODE)
					return -ENOMEM;
				tree->nodes[node].value += stacks[index].value;
			}
			frame += length + (frame[length] == ';');
		}
	}
	return 0;
}

/* The document the page's script reads: title, unit, stack count and the nodes. */
static void tree_write_json(FILE *output, const struct tree *tree, const char *title, const char *unit,
			    size_t stack_count)
{
	struct json_writer writer, *json = &writer;
	char name[512];	/* KSYM_NAME_LEN: no kernel symbol is longer */

	json_writer_init(json, output);
	json_open(json, '{');
	json_fields(json, "title:s unit:s stacks:U", title, unit, (unsigned long long)stack_count);
	json_name(json, "nodes");
	json_open(json, '[');
	for (size_t index = 0; index < tree->count; index++) {
		const struct node *node = &tree->nodes[index];
		size_t length = node->length < sizeof(name) ? node->length : sizeof(name) - 1;

		memcpy(name, node->name, length);
		name[length] = '\0';
		json_open(json, '{');
		json_constant_name(json, "name");
		json_string(json, name);
		json_constant_name(json, "value");
		json_uint(json, node->value);
		json_constant_name(json, "parent");
		json_int(json, node->parent == NO_NODE ? -1 : (int64_t)node->parent);
		json_close(json, '}');
	}
	json_close(json, ']');
	json_close(json, '}');
}

/*
 * JSON inside <script>: '<', '>' and '&' occur only inside its strings,
 * where \u003c, \u003e and \u0026 mean the same, so no name can end the
 * element ("</script>") or open a comment ("<!--").
 */
static const char *const in_script[256] = {
	['<'] = "\\u003c", ['>'] = "\\u003e", ['&'] = "\\u0026",
};

/* HTML text or attribute values: the title and the unit. */
static const char *const in_html[256] = {
	['<'] = "&lt;", ['>'] = "&gt;", ['&'] = "&amp;", ['"'] = "&quot;", ['\''] = "&#39;",
};

/* LENGTH bytes of TEXT, each byte that REPLACEMENTS names replaced. */
static void write_escaped(FILE *output, const char *text, size_t length, const char *const replacements[256])
{
	for (size_t index = 0; index < length; index++) {
		const char *replacement = replacements[(unsigned char)text[index]];

		if (replacement)
			fputs(replacement, output);
		else
			fputc(text[index], output);
	}
}

static void write_html_text(FILE *output, const char *text)
{
	write_escaped(output, text, strlen(text), in_html);
}

/* The asset NAME, whole, as a NUL-terminated string in *TEXT. 0, or a negative errno. */
static int asset_read(const char *directory, const char *name, char **text)
{
	char path[PATH_MAX];
	size_t length = 0, capacity = 0, got;
	char *buffer = NULL;
	FILE *input;
	int error = 0;

	if (snprintf(path, sizeof(path), "%s/%s", directory, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	input = fopen(path, "r");
	if (!input)
		return -errno;
	do {
		if (grow(&buffer, &capacity, length + 65536 + 1, 1)) {
			error = -ENOMEM;
			break;
		}
		got = fread(buffer + length, 1, capacity - length - 1, input);
		length += got;
	} while (got);
	if (!error && ferror(input))
		error = -EIO;
	fclose(input);
	if (error) {
		free(buffer);
		return error;
	}
	buffer[length] = '\0';
	/* A NUL inside would cut it short: no asset has one. */
	if (strlen(buffer) != length) {
		free(buffer);
		return -EINVAL;
	}
	*text = buffer;
	return 0;
}

/* Whether TEXT holds CLOSING ("</script", "</style"), in any case: it would end its element. */
static bool ends_element(const char *text, const char *closing)
{
	size_t length = strlen(closing);

	for (text = strchr(text, '<'); text; text = strchr(text + 1, '<'))
		if (!strncasecmp(text, closing, length))
			return true;
	return false;
}

static const char page_style[] =
	"body { font-family: Verdana, sans-serif; margin: 16px; color: #222; }\n"
	"h1 { font-size: 20px; margin: 0 0 4px; }\n"
	"#summary, #status, #details { font-size: 13px; margin: 4px 0; }\n"
	"#details { min-height: 1.5em; }\n"
	"#search { margin: 8px 0; font-size: 13px; }\n";

/* Draws the tree once the scripts above it ran; says so in #status when they did not. */
static const char page_script[] =
	"(function () {\n"
	"\t'use strict';\n"
	"\tconst status = document.getElementById('status');\n"
	"\tconst data = JSON.parse(document.getElementById('flamegraph-data').textContent);\n"
	"\tif (typeof d3 === 'undefined' || typeof flamegraph !== 'function') {\n"
	"\t\tstatus.textContent = 'The flame graph scripts (d3, d3-flame-graph) are not in this page: nothing is drawn.';\n"
	"\t\treturn;\n"
	"\t}\n"
	"\tif (!data.stacks) {\n"
	"\t\tstatus.textContent = 'No stacks were recorded: nothing to draw.';\n"
	"\t\treturn;\n"
	"\t}\n"
	"\tconst nodes = data.nodes.map(function (node) {\n"
	"\t\treturn { name: node.name, value: node.value, children: [] };\n"
	"\t});\n"
	"\tdata.nodes.forEach(function (node, index) {\n"
	"\t\tif (node.parent >= 0)\n"
	"\t\t\tnodes[node.parent].children.push(nodes[index]);\n"
	"\t});\n"
	"\tconst chart = flamegraph()\n"
	"\t\t.width(Math.max(document.getElementById('chart').clientWidth, 400))\n"
	"\t\t.cellHeight(18)\n"
	"\t\t.minFrameSize(0)\n"
	"\t\t.sort(true)\n"
	"\t\t.transitionDuration(250)\n"
	"\t\t.setDetailsElement(document.getElementById('details'))\n"
	"\t\t.setLabelHandler(function (frame) {\n"
	"\t\t\treturn frame.data.name + ': ' + frame.value.toLocaleString('en') + ' ' + data.unit +\n"
	"\t\t\t\t' (' + (100 * (frame.x1 - frame.x0)).toFixed(2) + '%)';\n"
	"\t\t});\n"
	"\td3.select('#chart').datum(nodes[0]).call(chart);\n"
	"\tdocument.getElementById('search').addEventListener('submit', function (event) {\n"
	"\t\tevent.preventDefault();\n"
	"\t\tconst term = document.getElementById('term').value;\n"
	"\t\tif (term)\n"
	"\t\t\tchart.search(term);\n"
	"\t\telse\n"
	"\t\t\tchart.clear();\n"
	"\t});\n"
	"\tdocument.getElementById('reset').addEventListener('click', function () {\n"
	"\t\tchart.resetZoom();\n"
	"\t});\n"
	"})();\n";

static void write_page(FILE *output, const char *title, const char *unit, size_t stack_count,
		       unsigned long long total, char *const assets[ASSET_COUNT], const char *json,
		       size_t json_length)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", output);
	write_html_text(output, title);
	fputs("</title>\n<style>\n", output);
	fputs(assets[2], output);
	fputs("\n</style>\n<style>\n", output);
	fputs(page_style, output);
	fputs("</style>\n</head>\n<body>\n<h1>", output);
	write_html_text(output, title);
	fputs("</h1>\n<p id=\"summary\">", output);
	fprintf(output, "%zu stack%s, %llu ", stack_count, stack_count == 1 ? "" : "s", total);
	write_html_text(output, unit);
	fputs(stack_count ? " in all. Click a frame to zoom in; hover for its share." :
	      ": nothing was recorded, so there is no graph.", output);
	fputs("</p>\n<p id=\"status\"></p>\n"
	      "<form id=\"search\"><input id=\"term\" type=\"text\" placeholder=\"function\"> "
	      "<button type=\"submit\">Search</button> "
	      "<button id=\"reset\" type=\"button\">Reset zoom</button></form>\n"
	      "<div id=\"chart\"></div>\n<p id=\"details\"></p>\n"
	      "<script type=\"application/json\" id=\"flamegraph-data\">", output);
	write_escaped(output, json, json_length, in_script);
	fputs("</script>\n<script>\n", output);
	fputs(assets[0], output);
	fputs("\n</script>\n<script>\n", output);
	fputs(assets[1], output);
	fputs("\n</script>\n<script>\n", output);
	fputs(page_script, output);
	fputs("</script>\n</body>\n</html>\n", output);
}

int flamegraph_write_html(FILE *output, const char *title, const char *unit,
			  const struct folded_stack *stacks, size_t count,
			  const char *assets_directory)
{
	char *assets[ASSET_COUNT] = { NULL }, *json = NULL;
	struct tree tree = { NULL };
	size_t json_length = 0;
	FILE *json_output;
	int error = 0;

	for (size_t index = 0; index < ASSET_COUNT && !error; index++) {
		error = asset_read(assets_directory, asset_names[index], &assets[index]);
		if (!error && ends_element(assets[index], index == 2 ? "</style" : "</script"))
			error = -EINVAL;
	}
	if (!error)
		error = tree_build(&tree, stacks, count);
	if (!error) {
		json_output = open_memstream(&json, &json_length);
		if (!json_output) {
			error = -ENOMEM;
		} else {
			bool failed;

			tree_write_json(json_output, &tree, title, unit, count);
			failed = ferror(json_output);
			if (fclose(json_output) || failed || !json_length)
				error = -ENOMEM;
		}
	}
	if (!error) {
		write_page(output, title, unit, count, tree.nodes[0].value, assets, json, json_length);
		if (fflush(output) || ferror(output))
			error = -EIO;
	}
	free(json);
	free(tree.nodes);
	for (size_t index = 0; index < ASSET_COUNT; index++)
		free(assets[index]);
	return error;
}
