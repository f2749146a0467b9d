#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/plan_load.h"
#include "core/registry.h"
#include "core/render.h"
#include "util/fs.h"

/* The most of a recipe read from stdin; recipe.c refuses a larger file. */
#define CLI_STDIN_RECIPE_MAX (1u << 20)

int cli_load_recipe(const char *path, struct recipe **out, struct vec *diags)
{
	struct strbuf sb = STRBUF_INIT;
	int ret;

	if (strcmp(path, "-"))
		return recipe_load(path, out, diags);
	*out = NULL;
	ret = fs_read_fd(STDIN_FILENO, CLI_STDIN_NAME, &sb, CLI_STDIN_RECIPE_MAX);
	if (!ret)
		ret = recipe_parse(CLI_STDIN_NAME, sb.buf ? sb.buf : "", sb.len, out, diags);
	strbuf_release(&sb);
	return ret;
}

int cli_load_plan(const char *recipe_path, const struct vec *plugin_dirs, struct cli_planned *out)
{
	struct vec diags = VEC_INIT(free);
	int code = EXIT_OK;

	out->recipe = NULL;
	out->kb = NULL;
	out->plan = NULL;
	if (cli_load_recipe(recipe_path, &out->recipe, &diags) < 0 ||
	    knowledge_load(&out->kb, plugin_dirs) < 0 ||
	    plan_build(out->recipe, out->kb, &out->plan, &diags) < 0) {
		cli_print_diags(&diags);
		code = EXIT_USAGE;
		cli_planned_release(out);
	}
	vec_release(&diags);
	return code;
}

void cli_planned_release(struct cli_planned *pl)
{
	plan_free(pl->plan);
	knowledge_free(pl->kb);
	recipe_free(pl->recipe);
	pl->plan = NULL;
	pl->kb = NULL;
	pl->recipe = NULL;
}

int cli_resolve_images(struct plan *p)
{
	struct registry_opts opts = {0};
	struct registry_client *rc = registry_client_new(&opts);
	struct vec diags = VEC_INIT(free);
	int ret = plan_resolve_images(p, rc, &diags);

	if (ret < 0) {
		if (ret == GS_EINVAL)
			cli_print_diags(&diags);
		else
			cli_error_last();
	}
	registry_client_free(rc);
	vec_release(&diags);
	return cli_exit_for(ret);
}

int cli_resolve_git(struct plan *p)
{
	struct vec diags = VEC_INIT(free);
	int ret = plan_resolve_git(p, &diags);

	if (ret == GS_EINVAL && diags.nr)
		cli_print_diags(&diags);
	else if (ret < 0)
		cli_error_last();
	vec_release(&diags);
	return cli_exit_for(ret);
}

int cli_export_git(struct plan *p, const char *out_dir)
{
	struct vec files = VEC_INIT(render_file_free);
	char *dir;
	int ret;

	if (!p->git.url)
		return EXIT_OK;
	/* a file of the user's where a build file would go stops it before
	 * the export writes anything, as it stops render_write() */
	ret = render_plan(p, out_dir, GPUSLIM_VERSION, &files);
	if (!ret)
		ret = render_check_foreign(&files, out_dir);
	vec_release(&files);
	if (ret < 0) {
		cli_error_last();
		return cli_exit_for(ret);
	}
	dir = fs_join(out_dir, CLI_GIT_CONTEXT);
	ret = plan_export_git(p, dir);
	free(dir);
	if (ret < 0)
		cli_error_last();
	return cli_exit_for(ret);
}
