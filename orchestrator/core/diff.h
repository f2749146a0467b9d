#ifndef GS_DIFF_H
#define GS_DIFF_H

#include <jansson.h>
#include <stddef.h>

#include "util/strbuf.h"

/*
 * What changed between two analysis reports (core/analyze.h), A before B:
 * `gpuslim diff`. Reads only the reports, so saved ones (inspect --json)
 * work as well as fresh ones. The document (keys in this order; sizes in
 * bytes; each list biggest change first):
 *
 * {
 *   "schema_version": 1,
 *   "a": {"name", "size"}, "b": {"name", "size"},
 *   "summary": {KEY: {"a", "b", "delta"}} for size, compressed_size, layers,
 *              files, visible_bytes, wasted_bytes, base_bytes, own_bytes
 *              (a value missing or null on either side: all three null),
 *   "layers": [{"change": "added"|"removed", "index", "diff_id", "created_by", "bytes"}]
 *              layers (by diff_id) only B has, only A has,
 *   "packages": [{"change": "added"|"removed"|"grew"|"shrank"|"changed", "manager",
 *                 "name", "version_a", "version_b", "bytes_a", "bytes_b", "delta"}]
 *              ("changed": the version, the bytes the same),
 *   "cuda": [{"change", "name", "bytes_a", "bytes_b", "delta"}] the components,
 *   "paths": [{"change", "path", "bytes_a", "bytes_b", "delta"}] from the sizemaps:
 *              a path's bytes are every layer's copy of it (so the deltas add up to
 *              summary.size's); the finest path both sides detail: a file, a
 *              directory only one side has, or "DIR/(smaller files)" for what the
 *              sizemaps folded; at most `top`; null when a report has no sizemap,
 *   "paths_total": how many paths changed (null without sizemaps),
 *   "tree": the same as a tree for the treemap: [name, bytes_a, bytes_b, [node...]]
 *           for a directory, [name, bytes_a, bytes_b] otherwise, only what changed;
 *           null without sizemaps
 * }
 */

/* 0, or GS_EINVAL naming what `a` or `b` lacks (summary.size). */
int diff_reports(const json_t *a, const json_t *b, const char *name_a, const char *name_b,
		 size_t top, json_t **out);

/* The summary and each list as text (sizes human-readable). */
void diff_human(const json_t *d, size_t top, struct strbuf *out);
/* The same as Markdown tables. */
void diff_markdown(const json_t *d, size_t top, struct strbuf *out);

#endif
