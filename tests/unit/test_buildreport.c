/*
 * CI fan-out's pieces that need no engine: build_report_analysis() keeps
 * what report.c shows (ties and order included), so Markdown and JUnit
 * rendered from a build report equal those from the whole analysis; the
 * gates survive JSON both ways; buildreport_merge() orders, refuses and
 * judges; plan_select_cells() narrows a plan.
 */
#include <stdlib.h>
#include <string.h>

#include "core/build.h"
#include "core/buildreport.h"
#include "core/gate.h"
#include "core/report.h"
#include "unit.h"
#include "util/strbuf.h"

/* An analysis with 15 layers, 14 packages and 12 wasted paths whose sizes
 * tie in places, 12 missing libraries: more than the 10 the reports show. */
static json_t *big_analysis(void)
{
	json_t *r = json_pack("{s:{s:i,s:n,s:i,s:i,s:{s:s,s:i,s:s},s:i,s:i,s:i}}", "summary",
			      "size", 1000000, "compressed_size", "layers", 15, "files", 99, "base",
			      "name", "base:1", "layers", 3, "matched_by", "label", "base_bytes",
			      500, "own_bytes", 500, "wasted_bytes", 77);
	json_t *layers = json_array(), *pkgs = json_array(), *wasted = json_array();
	json_t *missing = json_array(), *dups = json_array();

	for (int i = 0; i < 15; i++)
		json_array_append_new(layers, json_pack("{s:i,s:i,s:b,s:s}", "index", i, "size",
							(i * 7) % 5 * 100, "base", i < 3,
							"created_by", i % 2 ? "RUN x" : "COPY y"));
	for (int i = 0; i < 14; i++) {
		char name[16];

		snprintf(name, sizeof(name), "pkg%02d", i);
		json_array_append_new(pkgs,
				      json_pack("{s:s,s:s,s:s,s:i}", "name", name, "manager",
						"dpkg", "version", "1.0", "bytes", i % 3 * 1000));
	}
	for (int i = 0; i < 12; i++)
		json_array_append_new(wasted,
				      json_pack("{s:s,s:i,s:i,s:s,s:i}", "path",
						i % 2 ? "/a" : "/b", "bytes", 10 * (i % 4), "layer",
						i, "reason", "overwritten", "by_layer", i + 1));
	for (int i = 0; i < 12; i++)
		json_array_append_new(missing,
				      json_pack("{s:s,s:s,s:s}", "file", "/x", "needed", "liby.so",
						"via", i % 2 ? "DT_NEEDED" : "dlopen"));
	json_array_append_new(dups,
			      json_pack("{s:s,s:s,s:i,s:[s,s]}", "soname", "libz.so.1", "version",
					"1", "bytes", 5, "paths", "/a/libz.so.1", "/b/libz.so.1"));
	json_object_set_new(r, "layers", layers);
	json_object_set_new(r, "packages", pkgs);
	json_object_set_new(r, "wasted", wasted);
	json_object_set_new(r, "cuda", json_pack("{s:o}", "duplicates", dups));
	json_object_set_new(r, "closure",
			    json_pack("{s:o,s:[]}", "missing", missing, "driver_in_image"));
	return r;
}

static void check_analysis_renders_the_same(void)
{
	json_t *full = big_analysis(), *cut = build_report_analysis(full, REPORT_DEFAULT_TOP);
	struct vec gates = VEC_INIT(gate_result_free);
	struct report_item a = {"cell", full, &gates, NULL}, b = {"cell", cut, &gates, NULL};
	struct strbuf ma = STRBUF_INIT, mb = STRBUF_INIT;

	gate_add(&gates, GATE_BUDGET, "size", GATE_PASS, "fine");
	report_markdown(&a, 1, 0, &ma);
	report_markdown(&b, 1, 0, &mb);
	CHECK(cut && json_array_size(json_object_get(cut, "layers")) == 10 &&
		  json_array_size(json_object_get(cut, "packages")) == 10 &&
		  json_array_size(json_object_get(json_object_get(cut, "closure"), "missing")) ==
		      10,
	      "build_report_analysis keeps the 10 biggest (and the first 10 missing)");
	CHECK_STR(mb.buf, ma.buf,
		  "Markdown of the kept parts = Markdown of the whole analysis (ties included)");
	strbuf_release(&ma);
	strbuf_release(&mb);
	vec_release(&gates);
	json_decref(full);
	json_decref(cut);
}

static void check_gates_round_trip(void)
{
	struct vec gates = VEC_INIT(gate_result_free), back = VEC_INIT(gate_result_free);
	struct report_item a = {"c", NULL, &gates, NULL}, b = {"c", NULL, &back, NULL};
	struct strbuf ja = STRBUF_INIT, jb = STRBUF_INIT;
	struct gate_result *g;
	json_t *j;

	g = gate_add(&gates, GATE_SMOKE, "smoke hello", GATE_PASS, "passed in 0.5s");
	g->output = strdup("hello\n<&>\n");
	g->seconds = 0.5126;
	g = gate_add(&gates, GATE_BUDGET, "size", GATE_FAIL, "too big");
	g->has_limit = g->has_value = 1;
	g->limit = 10;
	g->value = 11;
	gate_add(&gates, GATE_RULE, "caches", GATE_SKIP, "off");
	j = gate_results_to_json_full(&gates);
	CHECK(gate_results_from_json(j, "gates", &back) == 0 && back.nr == 3,
	      "gate_results_from_json reads gate_results_to_json_full back");
	report_junit(&a, 1, &ja);
	report_junit(&b, 1, &jb);
	CHECK_STR(jb.buf, ja.buf, "JUnit of the gates read back = JUnit of the gates (time to ms)");
	json_object_set_new(json_array_get(j, 1), "status", json_string("maybe"));
	vec_release(&back);
	CHECK(gate_results_from_json(j, "x.json: cells[0].gate.gates", &back) == GS_EINVAL &&
		  !strcmp(error_last(), "x.json: cells[0].gate.gates[1].status: expected pass, "
					"fail, warn or skip"),
	      "a gate of no known status is refused, naming it: %s", error_last());
	json_decref(j);
	strbuf_release(&ja);
	strbuf_release(&jb);
	vec_release(&gates);
	vec_release(&back);
}

static json_t *report_of(const char *sha, const char *const *ids, const char *const *gates,
			 size_t n)
{
	json_t *cells = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(cells, json_pack("{s:s,s:s,s:s,s:{s:s},s:{s:s,s:[],s:n}}",
						       "id", ids[i], "image", "r/x:t", "status",
						       "ok", "push", "status", "none", "gate",
						       "status", gates[i], "gates", "error"));
	return json_pack("{s:s,s:[s,s,s],s:i,s:b,s:s,s:o}", "recipe_sha256", sha, "matrix_cells",
			 "a", "b", "c", "elapsed_ms", 5, "interrupted", 0, "status", "ok", "cells",
			 cells);
}

static void check_merge(void)
{
	const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	const char *c_ids[] = {"c"}, *ab_ids[] = {"b", "a"}, *pass2[] = {"pass", "pass"};
	const char *fail1[] = {"fail"};
	json_t *r[2], *m = NULL;
	const char *paths[] = {"one.json", "two.json"};
	struct vec missing = VEC_INIT(NULL);

	r[0] = report_of(sha, c_ids, pass2, 1);
	r[1] = report_of(sha, ab_ids, pass2, 2);
	CHECK(buildreport_merge(r, paths, 2, &m) == 0, "merge of two jobs' reports");
	CHECK(m &&
		  !strcmp(json_string_value(json_object_get(
			      json_array_get(json_object_get(m, "cells"), 0), "id")),
			  "a") &&
		  !strcmp(json_string_value(json_object_get(
			      json_array_get(json_object_get(m, "cells"), 2), "id")),
			  "c") &&
		  !strcmp(json_string_value(json_object_get(m, "status")), "ok"),
	      "the merged cells are in the matrix's order, status ok");
	json_decref(m);
	m = NULL;
	json_decref(r[0]);
	r[0] = report_of(sha, c_ids, fail1, 1);
	CHECK(buildreport_merge(r, paths, 2, &m) == 0 &&
		  !strcmp(json_string_value(json_object_get(m, "status")), "failed"),
	      "a cell that failed its gates makes the merged status failed");
	json_decref(m);
	m = NULL;
	CHECK(buildreport_merge(r, paths, 1, &m) == 0, "one report alone merges");
	buildreport_missing(m, &missing);
	CHECK(missing.nr == 2 && !strcmp(missing.items[0], "a") && !strcmp(missing.items[1], "b"),
	      "the cells no report has are missing: a, b");
	json_decref(m);
	m = NULL;
	json_decref(r[0]);
	r[0] = report_of(sha, ab_ids, pass2, 1); /* b again */
	CHECK(buildreport_merge(r, paths, 2, &m) == GS_EINVAL &&
		  !strcmp(error_last(), "cell 'b' is in one.json and in two.json: each cell once"),
	      "one cell in two reports is refused: %s", error_last());
	json_decref(r[0]);
	r[0] = report_of("f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", c_ids,
			 pass2, 1);
	CHECK(buildreport_merge(r, paths, 2, &m) == GS_EINVAL &&
		  strstr(error_last(), "one.json and two.json are reports of different recipes"),
	      "reports of two recipes are refused: %s", error_last());
	json_decref(r[0]);
	json_decref(r[1]);
	vec_release(&missing);
}

int main(void)
{
	check_analysis_renders_the_same();
	check_gates_round_trip();
	check_merge();
	return unit_done();
}
