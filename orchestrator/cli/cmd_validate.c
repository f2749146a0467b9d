#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/plan_load.h"

/*
 * validate: parse and check a recipe, then plan it offline, so that an
 * impossible combination (a wheel that does not exist for that CUDA) is
 * reported here and not after minutes of building.
 */

static const char *recipe_path;
static struct vec plugin_dirs = VEC_INIT(free);
static int syntax_only;

static const struct cli_opt validate_opts[] = {
    {CLI_OPT_ARG, "recipe", 0, &recipe_path, "RECIPE", "the recipe file (gpuslim.yaml)",
     CLI_REQUIRED},
    {CLI_OPT_LIST, "plugins", 0, &plugin_dirs, "DIR", "also load knowledge plugins from DIR", 0},
    {CLI_OPT_SWITCH, "syntax-only", 0, &syntax_only, NULL,
     "check the recipe alone, without resolving versions", 0},
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

int cmd_validate(int argc, char **argv)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r = NULL;
	struct cli_planned pl = {0};
	int ret, code = EXIT_OK;

	ret = cli_parse(cli_find_cmd("validate"), validate_opts, argc, argv);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;

	if (syntax_only) {
		if (recipe_load(recipe_path, &r, &diags) < 0) {
			cli_print_diags(&diags);
			code = EXIT_USAGE;
			goto done;
		}
		printf("%s: ok\n", recipe_path);
		goto done;
	}
	code = cli_load_plan(recipe_path, &plugin_dirs, &pl);
	if (code == EXIT_OK)
		printf("%s: ok (%zu cell%s)\n", recipe_path, pl.plan->cells_nr,
		       pl.plan->cells_nr == 1 ? "" : "s");
done:
	cli_planned_release(&pl);
	recipe_free(r);
	vec_release(&diags);
	vec_release(&plugin_dirs);
	return cli_finish_stdout(code);
}
