#include <stdlib.h>
#include <string.h>

#include "core/buildreport.h"
#include "core/gate.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"

/* A build report of a 4096-cell matrix with its analyses stays far below. */
#define BUILDREPORT_MAX_BYTES (256u << 20)

static int br_is_hex64(const char *s)
{
	if (!s || strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static int br_bad(const char *path, const char *field, const char *want)
{
	return error_setc(GS_EINVAL, "%s: %s: expected %s", path, field, want);
}

/* One cell of a report: the fields merge, the renderers and promote read. */
static int br_check_cell(const char *path, size_t i, const json_t *c, const json_t *matrix)
{
	static const char *const statuses[] = {"ok", "failed", "cancelled", "queued", "running"};
	const char *st = json_string_value(json_object_get(c, "status"));
	const json_t *push = json_object_get(c, "push"), *gate = json_object_get(c, "gate");
	const json_t *an = json_object_get(c, "analysis");
	char field[96];
	int known = 0;
	size_t k;
	json_t *m;

	if (!json_is_object(c)) {
		snprintf(field, sizeof(field), "cells[%zu]", i);
		return br_bad(path, field, "an object");
	}
	snprintf(field, sizeof(field), "cells[%zu].id", i);
	if (!json_is_string(json_object_get(c, "id")))
		return br_bad(path, field, "a string");
	json_array_foreach(matrix, k, m) known |= json_equal(m, json_object_get(c, "id"));
	if (!known)
		return error_setc(GS_EINVAL,
				  "%s: %s: '%s' is not a cell of the report's matrix_cells", path,
				  field, json_string_value(json_object_get(c, "id")));
	snprintf(field, sizeof(field), "cells[%zu].image", i);
	if (!json_is_string(json_object_get(c, "image")))
		return br_bad(path, field, "a string");
	known = 0;
	for (k = 0; st && k < sizeof(statuses) / sizeof(*statuses); k++)
		known |= !strcmp(st, statuses[k]);
	snprintf(field, sizeof(field), "cells[%zu].status", i);
	if (!st || !known)
		return br_bad(path, field, "ok, failed, cancelled, queued or running");
	snprintf(field, sizeof(field), "cells[%zu].push", i);
	if (!json_is_object(push) || !json_is_string(json_object_get(push, "status")))
		return br_bad(path, field, "an object with a string status");
	snprintf(field, sizeof(field), "cells[%zu].analysis", i);
	if (an && !json_is_null(an) && !json_is_object(an))
		return br_bad(path, field, "an object or null");
	if (!gate || json_is_null(gate))
		return 0;
	snprintf(field, sizeof(field), "cells[%zu].gate.status", i);
	st = json_string_value(json_object_get(gate, "status"));
	if (!st || (strcmp(st, "pass") && strcmp(st, "fail") && strcmp(st, "error")))
		return br_bad(path, field, "pass, fail or error");
	snprintf(field, sizeof(field), "cells[%zu].gate.error", i);
	if (!json_is_null(json_object_get(gate, "error")) &&
	    !json_is_string(json_object_get(gate, "error")))
		return br_bad(path, field, "a string or null");
	{
		struct vec results = VEC_INIT(gate_result_free);
		char *what = xstrfmt("%s: cells[%zu].gate.gates", path, i);
		int ret = gate_results_from_json(json_object_get(gate, "gates"), what, &results);

		free(what);
		vec_release(&results);
		return ret;
	}
}

int buildreport_read(const char *path, json_t **out)
{
	struct strbuf sb = STRBUF_INIT;
	json_error_t jerr;
	json_t *root = NULL, *cells, *matrix, *c, *m;
	size_t i, k;
	int ret = 0;

	*out = NULL;
	if (fs_read_file(path, &sb, BUILDREPORT_MAX_BYTES) < 0) {
		ret = error_setc(GS_EINFRA, "%s", error_last());
		goto done;
	}
	root = json_loadb(sb.buf ? sb.buf : "", sb.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		ret = error_setc(GS_EINVAL, "%s:%d:%d: not a build report: %s", path, jerr.line,
				 jerr.column, jerr.text);
		goto done;
	}
	if (!json_is_object(root)) {
		ret = br_bad(path, "the report", "a JSON object (gpuslim build --json)");
		goto done;
	}
	if (!br_is_hex64(json_string_value(json_object_get(root, "recipe_sha256")))) {
		ret = br_bad(path, "recipe_sha256",
			     "the recipe's sha256, 64 lowercase hex digits (a report of gpuslim "
			     "build --json)");
		goto done;
	}
	matrix = json_object_get(root, "matrix_cells");
	if (!json_is_array(matrix) || !json_array_size(matrix)) {
		ret = br_bad(path, "matrix_cells", "a non-empty array of cell ids");
		goto done;
	}
	json_array_foreach(matrix, i, m)
	{
		if (!json_is_string(m)) {
			char field[48];

			snprintf(field, sizeof(field), "matrix_cells[%zu]", i);
			ret = br_bad(path, field, "a string");
			goto done;
		}
	}
	cells = json_object_get(root, "cells");
	if (!json_is_array(cells)) {
		ret = br_bad(path, "cells", "an array");
		goto done;
	}
	json_array_foreach(cells, i, c)
	{
		if ((ret = br_check_cell(path, i, c, matrix)) < 0)
			goto done;
		for (k = 0; k < i; k++)
			if (json_equal(json_object_get(json_array_get(cells, k), "id"),
				       json_object_get(c, "id"))) {
				ret = error_setc(
				    GS_EINVAL, "%s: cells[%zu] and cells[%zu] are both '%s'", path,
				    k, i, json_string_value(json_object_get(c, "id")));
				goto done;
			}
	}
	*out = root;
	root = NULL;
done:
	json_decref(root);
	strbuf_release(&sb);
	return ret;
}

int buildreport_cell_passed(const json_t *cell)
{
	const char *st = json_string_value(json_object_get(cell, "status"));
	const json_t *gate = json_object_get(cell, "gate");
	const char *gs = json_string_value(json_object_get(gate, "status"));

	return st && !strcmp(st, "ok") &&
	       (!gate || json_is_null(gate) || (gs && !strcmp(gs, "pass")));
}

void buildreport_missing(const json_t *report, struct vec *missing)
{
	const json_t *cells = json_object_get(report, "cells");
	size_t i, k;
	json_t *m, *c;

	json_array_foreach(json_object_get(report, "matrix_cells"), i, m)
	{
		int found = 0;

		json_array_foreach(cells, k, c) found |= json_equal(json_object_get(c, "id"), m);
		if (!found)
			vec_push(missing, (void *)json_string_value(m));
	}
}

/* The file of `reports` that holds cell `id`, or NULL. */
static const char *br_holder(json_t *const *reports, const char *const *paths, size_t n,
			     const json_t *id, size_t upto)
{
	for (size_t r = 0; r < n && r < upto; r++) {
		size_t k;
		json_t *c;

		json_array_foreach(json_object_get(reports[r], "cells"), k,
				   c) if (json_equal(json_object_get(c, "id"), id)) return paths[r];
	}
	return NULL;
}

int buildreport_merge(json_t *const *reports, const char *const *paths, size_t n, json_t **out)
{
	json_t *root, *cells, *matrix, *m, *c;
	json_int_t elapsed = 0;
	int interrupted = 0, all_ok = 1;
	const char *key;
	json_t *v;
	size_t i, k;

	*out = NULL;
	if (!n)
		return error_setc(GS_EINVAL, "no report to merge");
	for (size_t r = 1; r < n; r++) {
		if (!json_equal(json_object_get(reports[r], "recipe_sha256"),
				json_object_get(reports[0], "recipe_sha256")))
			return error_setc(
			    GS_EINVAL,
			    "%s and %s are reports of different recipes (recipe_sha256 "
			    "%.12s... and %.12s...): merge the jobs of one matrix",
			    paths[0], paths[r],
			    json_string_value(json_object_get(reports[0], "recipe_sha256")),
			    json_string_value(json_object_get(reports[r], "recipe_sha256")));
		if (!json_equal(json_object_get(reports[r], "matrix_cells"),
				json_object_get(reports[0], "matrix_cells")))
			return error_setc(GS_EINVAL,
					  "%s and %s have different matrix_cells (the same recipe "
					  "planned with other plugins?)",
					  paths[0], paths[r]);
		json_array_foreach(json_object_get(reports[r], "cells"), k, c)
		{
			const char *first =
			    br_holder(reports, paths, n, json_object_get(c, "id"), r);

			if (first)
				return error_setc(
				    GS_EINVAL, "cell '%s' is in %s and in %s: each cell once",
				    json_string_value(json_object_get(c, "id")), first, paths[r]);
		}
	}
	root = json_object();
	json_object_foreach(reports[0], key, v)
	{
		if (strcmp(key, "cells")) /* set below, last */
			json_object_set(root, key, v);
	}
	for (size_t r = 0; r < n; r++) {
		json_int_t e = json_integer_value(json_object_get(reports[r], "elapsed_ms"));

		if (e > elapsed)
			elapsed = e;
		interrupted |= json_is_true(json_object_get(reports[r], "interrupted"));
	}
	cells = json_array();
	matrix = json_object_get(reports[0], "matrix_cells");
	json_array_foreach(matrix, i, m)
	{
		int found = 0;

		for (size_t r = 0; r < n && !found; r++)
			json_array_foreach(json_object_get(reports[r], "cells"), k,
					   c) if (json_equal(json_object_get(c, "id"), m))
			{
				json_array_append(cells, c);
				all_ok &= buildreport_cell_passed(c);
				found = 1;
				break;
			}
		all_ok &= found;
	}
	json_object_set_new(root, "elapsed_ms", json_integer(elapsed));
	json_object_set_new(root, "interrupted", json_boolean(interrupted));
	json_object_set_new(root, "status",
			    json_string(interrupted ? "interrupted"
					: all_ok    ? "ok"
						    : "failed"));
	json_object_set_new(root, "cells", cells);
	*out = root;
	return 0;
}

int buildreport_items(const json_t *report, struct buildreport_items *out)
{
	const json_t *cells = json_object_get(report, "cells");
	size_t n = json_array_size(cells), i;
	json_t *c;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->items = xcalloc(n ? n : 1, sizeof(*out->items));
	out->gates = xcalloc(n ? n : 1, sizeof(*out->gates));
	for (i = 0; i < n; i++)
		vec_init(&out->gates[i], gate_result_free);
	json_array_foreach(cells, i, c)
	{
		const json_t *gate = json_object_get(c, "gate"),
			     *an = json_object_get(c, "analysis");
		const char *st = json_string_value(json_object_get(c, "status"));
		struct report_item *it = &out->items[out->nr];
		int gated = json_is_object(gate);

		if (!gated && st && !strcmp(st, "ok"))
			continue;
		it->name = json_string_value(json_object_get(c, "id"));
		it->report = json_is_object(an) ? an : NULL;
		if (gated) {
			char *what = xstrfmt("cells[%zu].gate.gates", i);

			ret = gate_results_from_json(json_object_get(gate, "gates"), what,
						     &out->gates[out->nr]);
			free(what);
			if (ret < 0) {
				vec_release(&out->gates[out->nr]);
				break;
			}
			it->gates = &out->gates[out->nr];
		}
		it->error = json_string_value(json_object_get(gate, "error"));
		if (!it->error && (!st || strcmp(st, "ok")))
			it->error = "not built";
		out->nr++;
	}
	return ret;
}

void buildreport_items_release(struct buildreport_items *bi)
{
	for (size_t i = 0; bi->gates && i < bi->nr; i++)
		vec_release(&bi->gates[i]);
	free(bi->items);
	free(bi->gates);
	memset(bi, 0, sizeof(*bi));
}
