#ifndef GS_REPORT_H
#define GS_REPORT_H

#include <jansson.h>
#include <stddef.h>

#include "util/strbuf.h"
#include "util/vec.h"

/*
 * Reports of an analysis and its gates, as text: a human summary (worst
 * first), JUnit XML (one <testcase> per gate) and Markdown (tables, for CI
 * step summaries). Each renders one or more images, so that a build of a
 * matrix gives one file. The functions append to `out`; they never print.
 * Everything is borrowed; `gates` (struct gate_result pointers) may be
 * NULL when nothing was gated (inspect).
 */

struct report_item {
	const char *name;     /* the cell id or the image as given */
	const json_t *report; /* analyze.h's report; NULL when the image was not analyzed */
	const struct vec *gates;
	const char *error; /* why there is no report (build failed, unreadable), or NULL */
};

/* Lines in each "biggest" list; 0: 10. */
#define REPORT_DEFAULT_TOP 10

/*
 * The summary: header (size, compressed, layers, base vs own bytes,
 * wasted), then gates (failures, warnings, skips, then passes), biggest
 * layers, biggest packages, wasted paths, duplicate libraries, missing
 * libraries and driver libraries in the image. Sizes human-readable.
 */
void report_human(const struct report_item *it, size_t top, struct strbuf *out);

/* JUnit XML: <testsuites> with one <testsuite> per item and one
 * <testcase classname="gpuslim.<kind>" name="<gate>"> per gate; a failed
 * gate has <failure message=...>, a skip <skipped message=...>, a warning
 * passes with the message in <system-out>; an item with an error and no
 * gates is one failed testcase "analyze". Always valid XML (text escaped,
 * invalid UTF-8 and control characters replaced). */
void report_junit(const struct report_item *items, size_t n, struct strbuf *out);

/* Markdown: per item a heading with the verdict, a summary table, a gates
 * table, and the biggest layers, packages, wasted paths, duplicates and
 * missing libraries as tables. */
void report_markdown(const struct report_item *items, size_t n, size_t top, struct strbuf *out);

/*
 * HTML (core/report_html.c): one self-contained page per item (no network;
 * inline style, SVG and script): the summary, the gates with budgets as
 * bars, the findings, a zoomable treemap of the report's "sizemap" (layers,
 * directories, files coloured by owner), the layers, packages, CUDA
 * components, duplicates and waste as sortable tables. 0, or GS_ERR when
 * the page cannot be encoded.
 */
int report_html(const struct report_item *it, struct strbuf *out);
/* The index of a matrix: one row per item linking to pages[i]. */
void report_html_index(const struct report_item *items, const char *const *pages, size_t n,
		       struct strbuf *out);
/* The page of a diff (core/diff.h's document): its treemap and tables. */
int report_html_diff(const json_t *diff, struct strbuf *out);
/* "error", "fail", "warn", "pass", or NULL when not gated. */
const char *report_verdict(const struct report_item *it);

/* fs_write_output() of `sb` (FS_OUTPUT_APPEND in `flags` appends); GS_EINFRA
 * ("cannot write 'x': ...") on failure. */
int report_write(const char *path, const struct strbuf *sb, unsigned flags);

#endif
