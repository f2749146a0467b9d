#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/plan_load.h"
#include "core/ci.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "util/fs.h"

/*
 * ci: write a CI file for a recipe, `ci github` a GitHub Actions workflow,
 * `ci gitlab` a .gitlab-ci.yml (core/ci.h says what they run). The recipe
 * is planned first (a bad recipe writes nothing), the file rendered in
 * memory and written whole (atomically). A file that gpuslim did not write
 * (its first line is not CI_HEADER) is left alone unless --force: a
 * project's own .gitlab-ci.yml is not replaced by accident.
 */

static const char *provider;
static const char *recipe_path;
static const char *out_path;
static const char *cron_arg;
static const char *repo_arg;
static const char *ref_arg;
static const char *runs_on_arg;
static int force, code_scanning;
static struct vec plugin_dirs = VEC_INIT(free);

static const struct cli_opt ci_opts_spec[] = {
    {CLI_OPT_ARG, "provider", 0, &provider, "github|gitlab",
     "github: a GitHub Actions workflow; gitlab: a .gitlab-ci.yml", CLI_REQUIRED},
    {CLI_OPT_ARG, "recipe", 0, &recipe_path, "RECIPE",
     "the recipe file, inside the repository (run from the repository's root)", CLI_REQUIRED},
    {CLI_OPT_VALUE, "out", 'o', &out_path, "FILE",
     "write to FILE (\"-\": stdout; default .github/workflows/gpuslim-<name>.yml, "
     ".gitlab-ci.yml)",
     0},
    {CLI_OPT_VALUE, "cron", 0, &cron_arg, "EXPR",
     "the schedule, five cron fields in UTC (default: the recipe's ci.schedule, "
     "else \"" CI_DEFAULT_CRON "\")",
     0},
    {CLI_OPT_VALUE, "gpuslim-repo", 0, &repo_arg, "URL",
     "build gpuslim from this git repository (default: the checked-out repository is "
     "gpuslim's own tree)",
     0},
    {CLI_OPT_VALUE, "gpuslim-ref", 0, &ref_arg, "REF",
     "the branch or tag of --gpuslim-repo (default v" GPUSLIM_VERSION ")", 0},
    {CLI_OPT_VALUE, "runs-on", 0, &runs_on_arg, "LABEL",
     "github: the runner label of every job (default ubuntu-latest)", 0},
    {CLI_OPT_SWITCH, "code-scanning", 0, &code_scanning, NULL,
     "github: upload each cell's SARIF findings to code scanning (github/codeql-action)", 0},
    {CLI_OPT_SWITCH, "force", 0, &force, NULL, "replace FILE even when gpuslim did not write it",
     0},
    {CLI_OPT_LIST, "plugins", 0, &plugin_dirs, "DIR", "also load knowledge plugins from DIR", 0},
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

/* 1 when `path` is a regular file (or a link to one) whose first line is
 * not gpuslim's header; a FIFO or a device (/dev/stdout) is written to. */
static int ci_foreign_file(const char *path)
{
	char line[64] = "";
	struct stat st;
	FILE *f;
	int foreign;

	if (!strcmp(path, "-") || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	f = fopen(path, "r");
	if (!f)
		return 0; /* fs_write_output() says why it cannot be written */
	foreign = !fgets(line, sizeof(line), f) || !starts_with(line, CI_HEADER);
	fclose(f);
	return foreign;
}

int cmd_ci(int argc, char **argv)
{
	struct cli_planned pl = {0};
	struct strbuf sb = STRBUF_INIT, gen = STRBUF_INIT;
	struct ci_opts o;
	char *recipe_rel = NULL, *lock = NULL, *lock_rel = NULL, *out = NULL, *dir = NULL;
	int ret, code = EXIT_OK, github;

	ret = cli_parse(cli_find_cmd("ci"), ci_opts_spec, argc, argv);
	if (ret) {
		vec_release(&plugin_dirs);
		return ret < 0 ? EXIT_OK : ret;
	}
	memset(&o, 0, sizeof(o));
	github = !strcmp(provider, "github");
	if (!github && strcmp(provider, "gitlab")) {
		cli_error("'%s' is not a CI provider: use github or gitlab", provider);
		code = EXIT_USAGE;
		goto done;
	}
	if (cron_arg && ci_check_cron(cron_arg) < 0) {
		cli_error("--cron: %s", error_last());
		code = EXIT_USAGE;
		goto done;
	}
	if ((repo_arg && ci_check_repo(repo_arg) < 0) || (ref_arg && ci_check_ref(ref_arg) < 0) ||
	    (runs_on_arg && ci_check_label(runs_on_arg) < 0)) {
		cli_error("--%s: %s",
			  repo_arg && ci_check_repo(repo_arg) < 0 ? "gpuslim-repo"
			  : ref_arg && ci_check_ref(ref_arg) < 0  ? "gpuslim-ref"
								  : "runs-on",
			  error_last());
		code = EXIT_USAGE;
		goto done;
	}
	if (ref_arg && !repo_arg) {
		cli_error("--gpuslim-ref names a ref of --gpuslim-repo, which is not given");
		code = EXIT_USAGE;
		goto done;
	}
	if (code_scanning && !github) {
		cli_error("--code-scanning is for github");
		code = EXIT_USAGE;
		goto done;
	}
	if (runs_on_arg && !github) {
		cli_error("--runs-on is for github; a GitLab job picks its runner by tags");
		code = EXIT_USAGE;
		goto done;
	}
	if (!strcmp(recipe_path, "-")) {
		cli_error("the recipe must be a file in the repository, not stdin: the CI jobs "
			  "read it from there");
		code = EXIT_USAGE;
		goto done;
	}
	/* The jobs run from the repository's root: name the recipe from there. */
	recipe_rel = cli_repo_path(recipe_path);
	if (recipe_rel[0] == '/' || starts_with(recipe_rel, "../")) {
		cli_error("recipe '%s' is outside the current directory: run gpuslim ci from the "
			  "repository's root",
			  recipe_path);
		code = EXIT_USAGE;
		goto done;
	}
	if (ci_check_path(recipe_rel) < 0) {
		cli_error("recipe '%s': %s (run gpuslim ci from the repository's root)",
			  recipe_path, error_last());
		code = EXIT_USAGE;
		goto done;
	}
	code = cli_load_plan(recipe_path, &plugin_dirs, &pl);
	if (code != EXIT_OK)
		goto done;
	lock = cli_lock_path(pl.recipe, NULL);
	if (fs_exists(lock)) {
		lock_rel = cli_repo_path(lock);
		if (ci_check_path(lock_rel) < 0) {
			free(lock_rel);
			lock_rel = NULL;
		}
	}
	o.recipe = recipe_rel;
	o.lock = lock_rel;
	o.cron = cron_arg		    ? cron_arg
		 : pl.recipe->ci.schedule.v ? pl.recipe->ci.schedule.v
					    : CI_DEFAULT_CRON;
	o.gpuslim_repo = repo_arg;
	o.gpuslim_ref = ref_arg ? ref_arg : "v" GPUSLIM_VERSION;
	o.runs_on = runs_on_arg;
	o.code_scanning = code_scanning;
	strbuf_addf(&gen, "gpuslim ci %s %s", provider, recipe_rel);
	if (cron_arg)
		strbuf_addf(&gen, " --cron '%s'", cron_arg);
	if (repo_arg)
		strbuf_addf(&gen, " --gpuslim-repo %s --gpuslim-ref %s", repo_arg, o.gpuslim_ref);
	if (runs_on_arg)
		strbuf_addf(&gen, " --runs-on %s", runs_on_arg);
	if (code_scanning)
		strbuf_addstr(&gen, " --code-scanning");
	o.generator = gen.buf;
	ret = github ? ci_render_github(pl.plan, &o, &sb) : ci_render_gitlab(pl.plan, &o, &sb);
	if (ret < 0) {
		cli_error("recipe '%s': %s", recipe_path, error_last());
		code = EXIT_USAGE;
		goto done;
	}
	out = out_path ? xstrdup(out_path)
	      : github ? xstrfmt(".github/workflows/gpuslim-%s.yml", pl.recipe->name.v)
		       : xstrdup(".gitlab-ci.yml");
	if (!force && ci_foreign_file(out)) {
		cli_error("'%s' exists and gpuslim did not write it: choose another file with -o, "
			  "or replace it with --force",
			  out);
		code = EXIT_USAGE;
		goto done;
	}
	if (strcmp(out, "-")) {
		dir = fs_dirname(out);
		if (fs_mkdir_p(dir, 0755) < 0) {
			cli_error_last();
			code = EXIT_INFRA;
			goto done;
		}
	}
	fflush(stdout);
	if (fs_write_output(out, sb.buf, sb.len, 0) < 0) {
		cli_error_last();
		code = EXIT_INFRA;
		goto done;
	}
	if (strcmp(out, "-"))
		fprintf(stderr, "wrote %s (%zu cell%s, schedule \"%s\")\n", out, pl.plan->cells_nr,
			pl.plan->cells_nr == 1 ? "" : "s", o.cron);
done:
	strbuf_release(&sb);
	strbuf_release(&gen);
	free(recipe_rel);
	free(lock);
	free(lock_rel);
	free(out);
	free(dir);
	cli_planned_release(&pl);
	vec_release(&plugin_dirs);
	return cli_finish_stdout(code);
}
