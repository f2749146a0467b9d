#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/resolve.h"
#include "core/knowledge.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "core/render.h"
#include "util/fs.h"

/*
 * generate: plan the recipe and write one Dockerfile per cell, the bake
 * file and the .dockerignore. Everything is rendered in memory first, so a
 * bad value writes nothing; each file is then replaced atomically. With
 * --resolve the base images are pinned by digest first (FROM ref@sha256).
 */

static const char *recipe_path;
static const char *out_dir;
static struct vec plugin_dirs = VEC_INIT(free);
static int resolve;

static const struct cli_opt generate_opts[] = {
    {CLI_OPT_ARG, "recipe", 0, &recipe_path, "RECIPE", "the recipe file (gpuslim.yaml)",
     CLI_REQUIRED},
    {CLI_OPT_VALUE, "out", 'o', &out_dir, "DIR", "write the files into DIR (created if missing)",
     CLI_REQUIRED},
    {CLI_OPT_LIST, "plugins", 0, &plugin_dirs, "DIR", "also load knowledge plugins from DIR", 0},
    {CLI_OPT_SWITCH, "resolve", 0, &resolve, NULL,
     "ask the registries: pin base images by digest, replace deleted tags", 0},
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

/* Print the diagnostics, or the last error when there are none. */
static int generate_fail(const struct vec *diags, int code)
{
	if (diags->nr)
		cli_print_diags(diags);
	else
		cli_error_last();
	return code;
}

static int generate_plan(struct recipe **r, struct knowledge **kb, struct plan **p,
			 struct vec *diags)
{
	if (recipe_load(recipe_path, r, diags) < 0)
		return generate_fail(diags, EXIT_USAGE);
	if (knowledge_load(kb, &plugin_dirs) < 0)
		return generate_fail(diags, EXIT_USAGE);
	if (plan_build(*r, *kb, p, diags) < 0)
		return generate_fail(diags, EXIT_USAGE);
	if (resolve)
		return cli_resolve_images(*p);
	return EXIT_OK;
}

int cmd_generate(int argc, char **argv)
{
	struct vec diags = VEC_INIT(free);
	struct vec files = VEC_INIT(render_file_free);
	struct recipe *r = NULL;
	struct knowledge *kb = NULL;
	struct plan *p = NULL;
	int ret, code;

	ret = cli_parse(cli_find_cmd("generate"), generate_opts, argc, argv);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;

	code = generate_plan(&r, &kb, &p, &diags);
	if (code != EXIT_OK)
		goto done;
	if (render_plan(p, out_dir, GPUSLIM_VERSION, &files) < 0) {
		cli_error_last();
		code = EXIT_USAGE;
		goto done;
	}
	if (fs_mkdir_p(out_dir, 0755) < 0 || render_write(&files, out_dir) < 0) {
		cli_error_last();
		code = EXIT_INFRA;
		goto done;
	}
	for (size_t i = 0; i < files.nr; i++) {
		char *path = fs_join(out_dir, ((struct render_file *)files.items[i])->name);

		printf("%s\n", path);
		free(path);
	}
done:
	vec_release(&files);
	plan_free(p);
	knowledge_free(kb);
	recipe_free(r);
	vec_release(&diags);
	vec_release(&plugin_dirs);
	return cli_finish_stdout(code);
}
