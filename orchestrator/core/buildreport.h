#ifndef GS_BUILDREPORT_H
#define GS_BUILDREPORT_H

#include <jansson.h>
#include <stddef.h>

#include "core/report.h"
#include "util/vec.h"

/*
 * Build reports (`gpuslim build --json`, core/build.h's build_to_json(),
 * schemas/build-report.schema.json) read back: checked, merged, and turned
 * into the report items that core/report.h renders as JUnit and Markdown.
 * A CI matrix runs one `build --cell ID` per job; `gpuslim report merge`
 * puts their reports together into the report one `build` of those cells
 * would have written, and `gpuslim report promote` (core/promote.h) reads
 * the merged one.
 *
 * Ownership: every json_t returned is a new reference; the items of a
 * struct buildreport_items borrow the report they were made from, which
 * must outlive them.
 */

/*
 * Read the build report at `path`: JSON with "recipe_sha256" (64 hex
 * digits), "matrix_cells" (the recipe's cell ids), and "cells", each with a
 * string "id" of the matrix and "image", a "status", a "push" object and a
 * "gate" (null or {status, gates, error}), no cell twice. GS_EINVAL naming
 * the file and the field ("a.json: cells[1].gate.gates[0].status: ..."),
 * GS_EINFRA when it cannot be read.
 */
int buildreport_read(const char *path, json_t **out);

/*
 * Merge `n` reports read by buildreport_read() (paths[i] names reports[i]
 * in messages) into one: the cells of all in the matrix's order, the
 * top-level fields of the first, "elapsed_ms" the longest, "interrupted"
 * when one was, and "status" ok only when every cell of the matrix is
 * there, built, and passed its gates (or was not gated). Refused with
 * GS_EINVAL naming both files: reports of different recipes (their
 * recipe_sha256) or matrices, or one cell in two reports.
 */
int buildreport_merge(json_t *const *reports, const char *const *paths, size_t n, json_t **out);

/* The matrix's cells that `report` lacks, appended to `missing` (borrowed
 * strings: push them with a NULL free_item). */
void buildreport_missing(const json_t *report, struct vec *missing);

/* 1 when the cell is built and its gates passed (or it was not gated). */
int buildreport_cell_passed(const json_t *cell);

/*
 * The report items of a build report, as `gpuslim build` renders its
 * --junit and --markdown files: one per cell that was gated or did not
 * build (a cell built under --no-gate has none), its gates parsed back, its
 * analysis (build_report_analysis()) the item's report, its error the gate's
 * or "not built".
 */
struct buildreport_items {
	struct report_item *items;
	struct vec *gates; /* per item, struct gate_result pointers */
	size_t nr;
};
int buildreport_items(const json_t *report, struct buildreport_items *out);
void buildreport_items_release(struct buildreport_items *bi);

#endif
