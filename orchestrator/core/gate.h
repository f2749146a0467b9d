#ifndef GS_GATE_H
#define GS_GATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/recipe.h"
#include "util/vec.h"

/*
 * Gates: verdicts on an analysis report (core/analyze.h). They read only
 * the report JSON, so a report saved earlier works as well as a fresh one
 * (and as a baseline). Three families, each a list of gate results:
 *
 *   budgets  the recipe's budgets: size, compressed, layers, wasted,
 *            paths (visible bytes under paths containing a substring),
 *            growth against a baseline report. A value equal to its limit
 *            passes; one byte over fails.
 *   rules    one gate per finding rule of analyze.h, with the recipe's
 *            severity (rules: {id: error|warn|off}) over the finding's own:
 *            an error with findings fails, a warn with findings warns.
 *   smoke    commands run in the image (core/smoke.h, which adds its
 *            results with gate_add()).
 *
 * core/verify.h runs them all on one image.
 *
 * Ownership: a results vector holds struct gate_result pointers and owns
 * them: init it with VEC_INIT(gate_result_free).
 */

enum gate_kind { GATE_BUDGET, GATE_RULE, GATE_SMOKE, GATE_GROWTH };
enum gate_status { GATE_PASS, GATE_FAIL, GATE_WARN, GATE_SKIP };

struct gate_result {
	char *name; /* "size", "paths site-packages/nvidia", "devel-toolchain", "smoke vadd" */
	enum gate_kind kind;
	enum gate_status status;
	char *message; /* one line: "117.4 MB (117398528 bytes) is within 400.0 MB" */
	int has_limit, has_value;
	long long limit; /* bytes, layers, ... (has_limit) */
	long long value;
	char *output;	/* smoke: the tail of the command's output, NULL otherwise */
	double seconds; /* smoke: time the command ran */
};

void gate_result_free(void *p);
/* A new result with a formatted message, pushed onto `results`. */
struct gate_result *gate_add(struct vec *results, enum gate_kind kind, const char *name,
			     enum gate_status status, const char *fmt, ...) GS_FMT(5, 6);

const char *gate_kind_name(enum gate_kind k);	  /* "budget", "rule", "smoke", "growth" */
const char *gate_status_name(enum gate_status s); /* "pass", "fail", "warn", "skip" */

/*
 * The budgets of `r` against `report`, and growth against `baseline` (a
 * previous report, or NULL). A budget the recipe does not set is no gate;
 * `compressed` on a report without compressed sizes (engine, archive) is a
 * skip that says so; `growth` without a baseline is a skip; a baseline
 * without budgets.growth still reports its growth (pass). Per-path
 * budgets read report "paths" (gate_path_bytes()); a report without the
 * entry gives a skip that says so. GS_EINVAL when the report lacks a
 * summary field a budget needs.
 */
int gate_check_budgets(const json_t *report, const struct recipe *r, const json_t *baseline,
		       struct vec *results);

/*
 * budgets.growth against `baseline`: the gate "growth" (the total: its
 * limits, or a pass that reports the growth when the recipe sets none;
 * failing, it names the packages that grew most, the most first, before
 * and after) and, with package limits, "growth packages" (fails naming
 * every package beyond them, the most grown first; a percent limit judges
 * only packages the baseline has, a size limit new ones too). Packages are
 * matched by manager and name.
 *
 * gate_growth_compare(): the comparison for the report's "baseline"
 * object: {"image" (the baseline's), "size", "size_now", "growth",
 * "percent" (null when the baseline is empty), "packages": [{"manager",
 * "name", "before", "after" (null: new, removed), "growth", "percent"}],
 * every package whose bytes changed, the most grown first}. NULL when out of
 * memory.
 */
json_t *gate_growth_compare(const json_t *report, const json_t *baseline);

/* 0 when `baseline` is a report growth can be measured against: an object
 * with an integer summary.size of 0 or more; GS_EINVAL naming the field. */
int gate_check_baseline(const json_t *baseline);

/* One gate per rule id of analyze.h, in recipe_rule_ids order, from the
 * report's "findings" and the recipe's `rules` (r may be NULL: defaults). */
int gate_check_rules(const json_t *report, const struct recipe *r, struct vec *results);

/*
 * Visible bytes under paths containing `substr`, from report "paths"
 * ([{"path": substr, "bytes", "files"}], analyze.h: the analyzer measures
 * each key of analyze_opts.paths). GS_ENOTFOUND when the report has no entry
 * for `substr` (a report from an analysis not given that key).
 */
int gate_path_bytes(const json_t *report, const char *substr, uint64_t *bytes);

/* 1 when any result failed. */
int gate_failed(const struct vec *results);
/* Counts by status. */
size_t gate_count(const struct vec *results, enum gate_status s);

/* The results as the report's "gates" array (schemas/report.schema.json),
 * names and messages escaped as util/utf8.h says; NULL (error set) when
 * out of memory. */
json_t *gate_results_to_json(const struct vec *results);
/* gate_results_to_json() with what a smoke test's run leaves too, for the
 * build report (a JUnit file is rendered again from it): "elapsed_ms" (its
 * seconds, rounded to milliseconds) and "output" (null unless a smoke test
 * ran). */
json_t *gate_results_to_json_full(const struct vec *results);
/*
 * The other way: each entry of `arr` (gate_results_to_json_full()'s, or
 * gate_results_to_json()'s without the run) pushed onto `results` as a
 * struct gate_result. GS_EINVAL for an entry that is not one, error_last()
 * naming it: "WHAT[3].status: expected pass, fail, warn or skip".
 */
int gate_results_from_json(const json_t *arr, const char *what, struct vec *results);
/* Set "gates" and "status" ("pass"/"fail") on the report: 0, or -1. */
int gate_attach(json_t *report, const struct vec *results);

/* Where gate `g` comes from in recipe `r` (may be NULL): the budget's,
 * growth's, smoke test's or tuned rule's line and column. 1 with *pos
 * set, 0 (pos zeroed) when the recipe names no place for it (a rule at its
 * default severity, a smoke test a plugin adds). */
int gate_recipe_pos(const struct recipe *r, const struct gate_result *g, struct rpos *pos);

/* "117.4 MB" (powers of 1000, as `docker images`), into buf. */
void gate_human_size(char *buf, size_t n, long long bytes);

#endif
