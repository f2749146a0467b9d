#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/plan_load.h"
#include "util/fs.h"

/*
 * validate: parse and check recipes, then plan each offline, so that an
 * impossible combination (a wheel that does not exist for that CUDA) is
 * reported here and not after minutes of building. Each file gets its
 * verdict; the exit code is the worst of them.
 */

#define DEFAULT_RECIPE "gpuslim.yaml"

static struct vec recipe_paths = VEC_INIT(free);
static struct vec plugin_dirs = VEC_INIT(free);
static int syntax_only;

static const struct cli_opt validate_opts[] = {
    {CLI_OPT_ARGS, "recipe", 0, &recipe_paths, "RECIPE",
     "recipe files (default ./" DEFAULT_RECIPE "; \"-\": stdin)", 0},
    {CLI_OPT_LIST, "plugins", 0, &plugin_dirs, "DIR", "also load knowledge plugins from DIR", 0},
    {CLI_OPT_SWITCH, "syntax-only", 0, &syntax_only, NULL,
     "check the recipe alone, without resolving versions", 0},
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

/* One recipe's verdict: "PATH: ok" on stdout, or its problems on stderr. */
static int validate_one(const char *path)
{
	const char *name = strcmp(path, "-") ? path : CLI_STDIN_NAME;
	struct vec diags = VEC_INIT(free);
	struct cli_planned pl = {0};
	struct recipe *r = NULL;
	int code;

	if (syntax_only) {
		code = EXIT_OK;
		if (cli_load_recipe(path, &r, &diags) < 0) {
			cli_print_diags(&diags);
			code = EXIT_USAGE;
		} else {
			printf("%s: ok\n", name);
		}
		recipe_free(r);
		vec_release(&diags);
		return code;
	}
	code = cli_load_plan(path, &plugin_dirs, &pl);
	if (code == EXIT_OK)
		printf("%s: ok (%zu cell%s)\n", name, pl.plan->cells_nr,
		       pl.plan->cells_nr == 1 ? "" : "s");
	cli_planned_release(&pl);
	return code;
}

int cmd_validate(int argc, char **argv)
{
	int ret, code = EXIT_OK, stdin_seen = 0;

	ret = cli_parse(cli_find_cmd("validate"), validate_opts, argc, argv);
	if (ret) {
		/* --help has closed stdout already. */
		vec_release(&recipe_paths);
		vec_release(&plugin_dirs);
		return ret < 0 ? EXIT_OK : ret;
	}
	if (!recipe_paths.nr) {
		if (!fs_exists(DEFAULT_RECIPE)) {
			cli_error("no recipe given and no '" DEFAULT_RECIPE
				  "' in the current directory: say which (gpuslim validate "
				  "RECIPE...)");
			code = EXIT_USAGE;
			goto done;
		}
		vec_pushstr(&recipe_paths, DEFAULT_RECIPE);
	}
	for (size_t i = 0; i < recipe_paths.nr; i++)
		if (!strcmp(recipe_paths.items[i], "-") && stdin_seen++) {
			cli_error("'-' (stdin) can be given once");
			code = EXIT_USAGE;
			goto done;
		}
	for (size_t i = 0; i < recipe_paths.nr; i++) {
		int one = validate_one(recipe_paths.items[i]);

		if (one > code)
			code = one;
	}
done:
	vec_release(&recipe_paths);
	vec_release(&plugin_dirs);
	return cli_finish_stdout(code);
}
