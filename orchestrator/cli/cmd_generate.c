#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/plan_load.h"
#include "core/knowledge.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "core/render.h"
#include "util/fs.h"

/*
 * generate: plan the recipe and write one Dockerfile per cell, the bake
 * file and the .dockerignore. Everything is rendered in memory first, so a
 * bad value writes nothing; each file is then replaced atomically, never a
 * file gpuslim did not write (render_write()). With
 * --resolve the base images are pinned by digest first (FROM ref@sha256)
 * and every wheel by sha256 (pip install --require-hashes --no-deps); with
 * --locked every pin comes from gpuslim.lock, and nobody is asked. With
 * app.git, the ref is resolved to a commit (or the lock's is taken) and its
 * tree exported into OUT/context first (replacing an earlier export), the
 * bake file's context.
 */

static const char *recipe_path;
static const char *out_dir;
static struct vec plugin_dirs = VEC_INIT(free);
static int resolve;
static int locked;
static const char *lock_path;

static const struct cli_opt generate_opts[] = {
    {CLI_OPT_ARG, "recipe", 0, &recipe_path, "RECIPE", "the recipe file (gpuslim.yaml)",
     CLI_REQUIRED},
    {CLI_OPT_VALUE, "out", 'o', &out_dir, "DIR", "write the files into DIR (created if missing)",
     CLI_REQUIRED},
    {CLI_OPT_LIST, "plugins", 0, &plugin_dirs, "DIR", "also load knowledge plugins from DIR", 0},
    {CLI_OPT_SWITCH, "resolve", 0, &resolve, NULL,
     "ask the registries and package indexes: pin base images by digest and every "
     "wheel by sha256 (pip --require-hashes)",
     0},
    CLI_OPTS_LOCKED(&locked, &lock_path),
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

int cmd_generate(int argc, char **argv)
{
	struct vec files = VEC_INIT(render_file_free);
	struct cli_planned pl = {0};
	struct plan *p;
	int ret, code;

	ret = cli_parse(cli_find_cmd("generate"), generate_opts, argc, argv);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;

	if ((code = cli_check_locked(&locked, lock_path, resolve)) != EXIT_OK)
		goto done;
	code = cli_load_plan(recipe_path, &plugin_dirs, &pl);
	if (code == EXIT_OK && locked)
		code = cli_apply_lock(&pl, recipe_path, lock_path);
	if (code == EXIT_OK && resolve)
		code = cli_resolve(pl.plan);
	/* app.git: the context is the commit's tree (the lock's with --locked),
	 * exported into OUT/context before rendering, which reads its
	 * .dockerignore */
	if (code == EXIT_OK && !pl.plan->git.commit)
		code = cli_resolve_git(pl.plan);
	if (code == EXIT_OK)
		code = cli_export_git(pl.plan, out_dir);
	if (code != EXIT_OK)
		goto done;
	p = pl.plan;
	ret = render_plan(p, out_dir, GPUSLIM_VERSION, &files);
	if (ret < 0) {
		cli_error_last();
		code = cli_exit_for(ret);
		goto done;
	}
	ret = fs_mkdir_p(out_dir, 0755) < 0 ? GS_EINFRA : render_write(&files, out_dir);
	if (ret < 0) {
		cli_error_last();
		code = cli_exit_for(ret);
		goto done;
	}
	for (size_t i = 0; i < files.nr; i++) {
		const struct render_file *f = files.items[i];
		char *path = fs_join(out_dir, f->name);

		if (f->skipped)
			fprintf(
			    stderr,
			    "note: left '%s' as it is: gpuslim did not write it; each "
			    "Dockerfile.<cell>.dockerignore carries its rules, then gpuslim's\n",
			    path);
		else
			printf("%s\n", path);
		free(path);
	}
done:
	vec_release(&files);
	cli_planned_release(&pl);
	vec_release(&plugin_dirs);
	return cli_finish_stdout(code);
}
