#ifndef GS_VERIFY_H
#define GS_VERIFY_H

#include <jansson.h>

#include "core/inspect.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "core/smoke.h"
#include "util/vec.h"

/*
 * One image held to its recipe cell: what `gpuslim gate` does to an image
 * and `gpuslim build` to each cell it built. Analyze the image
 * (core/inspect.h, measuring the recipe's budgets.paths), then the gates
 * (core/gate.h): budgets, growth against a baseline, rules, and the cell's
 * smoke tests (core/smoke.h) when the image is one the engine can run.
 *
 * Ownership: the options are borrowed; the report and the note are the
 * caller's, the results go onto the caller's VEC_INIT(gate_result_free).
 */

struct verify_opts {
	struct inspect_opts inspect;	/* how to read the image; `paths` is set here */
	const struct recipe *recipe;	/* budgets and rules (NULL: the defaults) */
	const struct plan_cell *cell;	/* its smoke tests; NULL: none (--no-smoke) */
	const json_t *baseline;		/* a previous report for growth, or NULL */
	const struct smoke_opts *smoke; /* NULL: no test runs; `image` is set here */
};

/*
 * Analyze `image` into *report (newly made; *note as inspect_image()'s),
 * push its gates onto `results` and attach them to the report
 * (gate_attach()). With the docker runner (or no `smoke`), a test of an
 * image that turns out to be a file is a skip naming it; the rootfs runner
 * reads the image as the analysis did (source, platform, client). Errors: inspect_image()'s,
 * GS_EINVAL for a report or baseline that lacks what a budget needs,
 * GS_EINFRA when docker cannot run a smoke test at all.
 */
int verify_cell(const char *image, const struct verify_opts *o, json_t **report, char **note,
		struct vec *results);

#endif
