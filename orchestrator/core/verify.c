#include <stdlib.h>
#include <string.h>

#include "core/gate.h"
#include "core/verify.h"
#include "util/strbuf.h"

/* Every smoke test of `cell` a skip: "skipped: <why>". */
static void verify_skip_smoke(const struct plan_cell *cell, const char *why, struct vec *results)
{
	for (size_t i = 0; i < cell->smoke_nr; i++) {
		char *name = xstrfmt("smoke %s", cell->smoke[i].name);

		gate_add(results, GATE_SMOKE, name, GATE_SKIP, "skipped: %s", why);
		free(name);
	}
}

int verify_cell(const char *image, const struct verify_opts *o, json_t **report, char **note,
		struct vec *results)
{
	const struct recipe *r = o->recipe;
	struct vec paths = VEC_INIT(NULL), commands = VEC_INIT(NULL);
	struct inspect_opts io = o->inspect;
	const char *source;
	char *why = NULL;
	int ret;

	for (size_t i = 0; r && i < r->budgets.paths_nr; i++)
		vec_push(&paths, r->budgets.paths[i].path.v);
	io.paths = &paths;
	for (size_t i = 0; o->cell && i < o->cell->smoke_nr; i++)
		if (o->cell->smoke[i].run.nr &&
		    vec_findstr(&commands, o->cell->smoke[i].run.items[0]) < 0)
			vec_push(&commands, o->cell->smoke[i].run.items[0]);
	io.commands = &commands;
	ret = inspect_image(image, &io, report, note);
	if (ret < 0)
		goto done;
	if ((ret = gate_check_budgets(*report, r, o->baseline, results)) < 0 ||
	    (ret = gate_check_rules(*report, r, results)) < 0)
		goto done;
	if (o->baseline && json_object_set_new(*report, "baseline",
					       gate_growth_compare(*report, o->baseline)) < 0) {
		ret = error_set("cannot add the baseline comparison to the report: out of memory");
		goto done;
	}
	source = json_string_value(json_object_get(json_object_get(*report, "image"), "source"));
	if (o->cell && o->cell->smoke_nr && source &&
	    (!o->smoke || o->smoke->runner == SMOKE_RUNNER_DOCKER) &&
	    (!strcmp(source, "archive") || !strcmp(source, "oci"))) {
		why = xstrfmt("'%s' is %s, not an image in the engine: load it (docker load) and "
			      "gate it by name, or run its smoke tests with --runner rootfs",
			      image,
			      !strcmp(source, "oci") ? "an OCI image layout"
						     : "a docker-save archive");
		verify_skip_smoke(o->cell, why, results);
	} else if (o->cell && o->smoke) {
		struct smoke_opts so = *o->smoke;
		struct image_opts imo;

		so.image = image;
		if (!so.image_opts) {
			/* the rootfs runner reads the image as the analysis did */
			memset(&imo, 0, sizeof(imo));
			imo.source = o->inspect.source;
			imo.docker = o->inspect.docker;
			imo.platform = o->inspect.platform;
			imo.abort_fd = o->inspect.abort_fd;
			so.image_opts = &imo;
		}
		ret = smoke_run(&so, o->cell->smoke, o->cell->smoke_nr, results);
	}
	if (!ret)
		ret = gate_attach(*report, results);
done:
	free(why);
	vec_release(&paths);
	vec_release(&commands);
	return ret;
}
