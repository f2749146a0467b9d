/* Fuzz target: a recipe's bytes through the parser, and a recipe that parses
 * through the planner and the renderer, with the shipped plugins/. */
#include <stdlib.h>

#include "core/knowledge.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "core/render.h"
#include "fuzz.h"
#include "util/error.h"
#include "util/vec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r = NULL;
	struct plan *p = NULL;

	if (recipe_parse("fuzz.yaml", (const char *)data, size, &r, &diags) == 0 &&
	    plan_build(r, fuzz_kb(), &p, &diags) == 0) {
		struct vec files = VEC_INIT(render_file_free);

		render_plan(p, "out", "fuzz", &files);
		vec_release(&files);
	}
	plan_free(p);
	recipe_free(r);
	vec_release(&diags);
	error_clear();
	return 0;
}
