#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/plan_load.h"
#include "core/lock.h"
#include "core/pyindex.h"
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
	/* Choices that work but deserve a look (a wheel of another CUDA
	 * major): every command that plans says them. */
	for (size_t i = 0; out->plan && i < out->plan->cells_nr; i++) {
		const struct plan_cell *c = &out->plan->cells[i];

		for (size_t k = 0; k < c->warnings.nr; k++)
			fprintf(stderr, "gpuslim: warning: %s: %s\n", c->id,
				(const char *)c->warnings.items[k]);
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

char *cli_lock_path(const struct recipe *r, const char *lock_path)
{
	if (lock_path)
		return xstrdup(lock_path);
	if (!strcmp(r->file, CLI_STDIN_NAME))
		return xstrdup(LOCK_FILE_NAME);
	return fs_join(r->dir, LOCK_FILE_NAME);
}

void cli_print_stale(const char *lock_path, const char *recipe_path, const struct vec *stale)
{
	for (size_t i = 0; i < stale->nr; i++) {
		if (i + 1 < stale->nr) {
			cli_error("%s is stale: %s", lock_path, (const char *)stale->items[i]);
			continue;
		}
		cli_error("%s is stale: %s; run 'gpuslim lock %s' (or 'gpuslim lock --update %s')",
			  lock_path, (const char *)stale->items[i], recipe_path, recipe_path);
	}
}

int cli_read_fresh_lock(const struct plan *p, const char *recipe_path, const char *path,
			const char *what, int stale_code, struct lock **out)
{
	struct vec stale = VEC_INIT(free), notes = VEC_INIT(free);
	struct lock *l = NULL;
	int ret, code = EXIT_OK;

	ret = lock_read(path, &l);
	if (ret == GS_ENOTFOUND) {
		cli_error("%s%sno lock '%s': write it with 'gpuslim lock %s'", what ? what : "",
			  what ? ": " : "", path, recipe_path);
		code = stale_code;
	} else if (ret < 0) {
		cli_error_last();
		code = EXIT_USAGE;
	} else if (lock_check(l, p, path, &stale, &notes) < 0) {
		cli_print_stale(path, recipe_path, &stale);
		code = stale_code;
	}
	if (code == EXIT_OK) {
		for (size_t i = 0; i < notes.nr; i++)
			fprintf(stderr, "note: %s\n", (const char *)notes.items[i]);
	} else {
		lock_free(l);
		l = NULL;
	}
	*out = l;
	vec_release(&stale);
	vec_release(&notes);
	return code;
}

int cli_check_locked(int *locked, const char *lock_path, int resolve)
{
	if (lock_path)
		*locked = 1;
	if (*locked && resolve) {
		cli_error("--locked takes the pins from the lock, --resolve from the registries: "
			  "pick one");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int cli_apply_lock(struct cli_planned *pl, const char *recipe_path, const char *lock_path)
{
	struct lock *l = NULL;
	char *path = cli_lock_path(pl->recipe, lock_path);
	int code = cli_read_fresh_lock(pl->plan, recipe_path, path, "--locked", EXIT_USAGE, &l);

	if (code == EXIT_OK) {
		if (lock_apply(l, pl->plan, path, LOCK_ALL) < 0) {
			cli_error_last();
			code = EXIT_USAGE;
		} else {
			cli_warn_yanked_plan(pl->plan);
		}
	}
	lock_free(l);
	free(path);
	return code;
}

void cli_warn_yanked(const char *cell, const struct plan_wheel *w, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		if (w[i].yanked)
			fprintf(stderr,
				"warning: cell '%s': %s %s is yanked%s%s%s: taken only because it "
				"is pinned (PEP 592)\n",
				cell, w[i].name, w[i].version, *w[i].yanked ? " (" : "",
				w[i].yanked, *w[i].yanked ? ")" : "");
}

void cli_warn_yanked_plan(const struct plan *p)
{
	for (size_t i = 0; i < p->cells_nr; i++)
		cli_warn_yanked(p->cells[i].id, p->cells[i].wheels, p->cells[i].wheels_nr);
}

int cli_resolve_wheels(struct plan *p)
{
	struct pyindex_client *ic;
	struct vec diags = VEC_INIT(free);
	int ret;

	if (!plan_needs_wheels(p))
		return EXIT_OK;
	ic = pyindex_client_new(NULL);
	ret = plan_resolve_wheels(p, ic, &diags);
	if (ret < 0) {
		if (ret == GS_EINVAL)
			cli_print_diags(&diags);
		else
			cli_error_last();
	} else {
		cli_warn_yanked_plan(p);
	}
	pyindex_client_free(ic);
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

int cli_resolve(struct plan *p)
{
	int code = cli_resolve_images(p);

	if (code == EXIT_OK)
		code = cli_resolve_wheels(p);
	return code == EXIT_OK ? cli_resolve_git(p) : code;
}

void cli_note_unpinned_wheels(const struct plan *p, const char *why)
{
	if (plan_needs_wheels(p))
		fprintf(stderr,
			"note: %s: no wheel is pinned; pip resolves the Python packages at build "
			"time, without hashes\n",
			why);
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

int cli_parse_runner(const char *runner_arg, const struct vec *driver_dirs,
		     enum smoke_runner *runner)
{
	if (runner_arg && smoke_parse_runner(runner_arg, runner) < 0) {
		cli_error_last();
		return EXIT_USAGE;
	}
	if (driver_dirs->nr && *runner != SMOKE_RUNNER_ROOTFS) {
		cli_error("--driver-dir is for --runner rootfs (docker's --gpus finds the driver "
			  "itself)");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}
