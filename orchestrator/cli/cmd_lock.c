#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/plan_load.h"
#include "core/lock.h"
#include "core/plan.h"
#include "core/pyindex.h"
#include "util/strbuf.h"

/*
 * lock: plan the recipe, resolve every pin (base image digests from the
 * registries, wheels from the indexes, app.git's commit) and write
 * gpuslim.lock beside the recipe, atomically.
 *
 * With a lock there already, what still fits is kept, as cargo does: a
 * cell whose inputs did not change keeps every pin; one whose base images
 * are asked as before keeps their digests; a cell that needs its wheels
 * resolved again keeps every wheel pin that still fits (wheel_prefer).
 * --update re-resolves everything; --update PACKAGE... re-resolves those
 * packages' wheels and keeps every other pin (@base: the base images too,
 * @git: app.git's commit). --check writes nothing and exits 1 when the
 * lock is stale.
 */

static const char *recipe_path;
static const char *out_path;
static struct vec packages = VEC_INIT(free);
static struct vec plugin_dirs = VEC_INIT(free);
static int update, check;

/* The names --update takes besides packages: a PEP 508 name cannot start
 * with '@', so no package is mistaken for them. */
#define LOCK_UPDATE_BASE "@base"
#define LOCK_UPDATE_GIT	 "@git"

static const struct cli_opt lock_opts[] = {
    {CLI_OPT_ARG, "recipe", 0, &recipe_path, "RECIPE", "the recipe file (gpuslim.yaml)",
     CLI_REQUIRED},
    {CLI_OPT_ARGS, "package", 0, &packages, "PACKAGE",
     "with --update: re-resolve only these (@base: the base images, @git: app.git)", 0},
    {CLI_OPT_VALUE, "out", 'o', &out_path, "FILE",
     "the lock file (default: gpuslim.lock beside the recipe)", 0},
    {CLI_OPT_SWITCH, "update", 0, &update, NULL,
     "re-resolve every pin, or only those of the PACKAGEs named", 0},
    {CLI_OPT_SWITCH, "check", 0, &check, NULL,
     "write nothing; exit 1 when the lock is missing or stale (for CI)", 0},
    {CLI_OPT_LIST, "plugins", 0, &plugin_dirs, "DIR", "also load knowledge plugins from DIR", 0},
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

static int lock_check_only(const struct cli_planned *pl, const char *path)
{
	struct lock *l = NULL;
	int code = cli_read_fresh_lock(pl->plan, recipe_path, path, NULL, EXIT_FAILED, &l);

	if (code != EXIT_OK)
		return code;
	/* What the index said when the lock was written; --check asks no index. */
	for (size_t i = 0; i < l->cells_nr; i++)
		cli_warn_yanked(l->cells[i].id, l->cells[i].wheels, l->cells[i].wheels_nr);
	printf("%s: up to date (%zu cell%s)\n", path, l->cells_nr, l->cells_nr == 1 ? "" : "s");
	lock_free(l);
	return EXIT_OK;
}

/* Apply the pins of `old` that the update keeps; `kept[i]`: what cell i
 * kept (LOCK_IMAGES, LOCK_WHEELS: its wheels are not resolved again).
 * Returns an exit code. */
static int lock_keep(const struct lock *old, struct plan *p, const json_t *inputs, const char *path,
		     const struct vec *pkgs, int all, int base, int git, int *kept)
{
	const char *unknown;
	size_t missing;

	for (size_t i = 0; i < p->cells_nr; i++) {
		struct plan_cell *c = &p->cells[i];
		const struct lock_cell *lc = lock_find_cell(old, c->id);
		const json_t *now = json_array_get(inputs, i);
		unsigned what = 0;

		if (!lc || all)
			continue;
		if (!base && lock_inputs_same_images(lc->inputs, now))
			what |= LOCK_IMAGES;
		if (!pkgs->nr && json_equal(lc->inputs, now))
			what |= LOCK_WHEELS;
		kept[i] = (int)what;
		if (lock_apply_cell(old, lc, p, c, path, what) < 0) {
			cli_error_last();
			return EXIT_USAGE;
		}
	}
	if (all)
		return EXIT_OK;
	missing = lock_prefer_wheels(old, p, pkgs, &unknown);
	if (missing) {
		cli_error("--update: no cell of '%s' has a wheel of '%s'%s", path, unknown,
			  missing > 1 ? " (nor of others named)" : "");
		return EXIT_USAGE;
	}
	if (!git && old->git.url && p->git.url && !strcmp(old->git.url, p->git.url) &&
	    !old->git.ref == !p->git.ref && (!old->git.ref || !strcmp(old->git.ref, p->git.ref)))
		lock_apply(old, p, path, LOCK_GIT);
	return EXIT_OK;
}

/* Resolve what is not pinned yet: base images, wheels, app.git. */
static int lock_resolve(struct plan *p, const struct lock *old, const char *path, const int *kept)
{
	struct vec diags = VEC_INIT(free);
	int need_images = 0, need_wheels = 0, ret, code = EXIT_OK;

	for (size_t i = 0; i < p->cells_nr; i++) {
		const struct plan_cell *c = &p->cells[i];

		need_images |= !c->builder.digest || !c->final.digest;
		need_wheels |= !(kept[i] & LOCK_WHEELS) && c->pip_requirements.nr > 0;
	}
	if (need_images && (code = cli_resolve_images(p)) != EXIT_OK)
		goto done;
	if (need_wheels) {
		struct pyindex_client *ic = pyindex_client_new(NULL);

		ret = plan_resolve_wheels(p, ic, &diags);
		pyindex_client_free(ic);
		if (ret < 0) {
			cli_print_diags(&diags);
			code = cli_exit_for(ret);
			goto done;
		}
		/* A cell kept whole keeps its wheels even if the resolver
		 * went over it again. */
		for (size_t i = 0; old && i < p->cells_nr; i++) {
			const struct lock_cell *lc = lock_find_cell(old, p->cells[i].id);

			if ((kept[i] & LOCK_WHEELS) && lc)
				lock_apply_cell(old, lc, p, &p->cells[i], path, LOCK_WHEELS);
		}
		cli_warn_yanked_plan(p);
	}
	if (p->git.url && !p->git.commit) {
		ret = plan_resolve_git(p, &diags);
		if (ret < 0) {
			cli_print_diags(&diags);
			code = cli_exit_for(ret);
		}
	}
done:
	vec_release(&diags);
	return code;
}

int cmd_lock(int argc, char **argv)
{
	struct cli_planned pl = {0};
	struct vec pkgs = VEC_INIT(free);
	struct lock *old = NULL, *l = NULL;
	json_t *inputs = NULL;
	char *path = NULL;
	int *kept = NULL;
	int ret, code = EXIT_OK, base = 0, git = 0;
	size_t nkept = 0;

	ret = cli_parse(cli_find_cmd("lock"), lock_opts, argc, argv);
	if (ret) {
		/* --help has closed stdout already. */
		vec_release(&packages);
		vec_release(&plugin_dirs);
		return ret < 0 ? EXIT_OK : ret;
	}
	if (packages.nr && !update) {
		cli_error("name packages only with --update: 'gpuslim lock --update %s %s'",
			  recipe_path, (const char *)packages.items[0]);
		code = EXIT_USAGE;
		goto done;
	}
	if (check && update) {
		cli_error("--check writes nothing: drop --update");
		code = EXIT_USAGE;
		goto done;
	}
	for (size_t i = 0; i < packages.nr; i++) {
		const char *name = packages.items[i];

		if (!strcmp(name, LOCK_UPDATE_BASE))
			base = 1;
		else if (!strcmp(name, LOCK_UPDATE_GIT))
			git = 1;
		else if (name[0] == '@' || !name[0]) {
			cli_error("--update: unknown name '%s': a package, " LOCK_UPDATE_BASE
				  " (the base images) or " LOCK_UPDATE_GIT " (app.git)",
				  name);
			code = EXIT_USAGE;
			goto done;
		} else
			vec_pushstr(&pkgs, name);
	}

	code = cli_load_plan(recipe_path, &plugin_dirs, &pl);
	if (code != EXIT_OK)
		goto done;
	path = cli_lock_path(pl.recipe, out_path);
	if (check) {
		code = lock_check_only(&pl, path);
		goto done;
	}
	inputs = lock_plan_inputs(pl.plan);
	kept = xcalloc(pl.plan->cells_nr ? pl.plan->cells_nr : 1, sizeof(*kept));
	if (!update || packages.nr) {
		ret = lock_read(path, &old);
		if (ret == GS_ENOTFOUND && packages.nr) {
			cli_error("--update %s keeps the other pins of a lock, and there is none: "
				  "no '%s'",
				  (const char *)packages.items[0], path);
			code = EXIT_USAGE;
			goto done;
		}
		if (ret < 0 && ret != GS_ENOTFOUND) {
			cli_error_last();
			cli_error("(fix it, or write a new one with 'gpuslim lock --update %s')",
				  recipe_path);
			code = EXIT_USAGE;
			goto done;
		}
	}
	if (old) {
		code = lock_keep(old, pl.plan, inputs, path, &pkgs, 0, base, git, kept);
		if (code != EXIT_OK)
			goto done;
	}
	code = lock_resolve(pl.plan, old, path, kept);
	if (code != EXIT_OK)
		goto done;
	if ((ret = lock_from_plan(pl.plan, inputs, &l)) < 0 || (ret = lock_write(l, path)) < 0) {
		cli_error_last();
		code = cli_exit_for(ret);
		goto done;
	}
	for (size_t i = 0; i < pl.plan->cells_nr; i++)
		nkept += kept[i] == (LOCK_IMAGES | LOCK_WHEELS);
	fprintf(stderr, "locked %zu cell%s", l->cells_nr, l->cells_nr == 1 ? "" : "s");
	if (old)
		fprintf(stderr, " (%zu kept as %s had them)", nkept, path);
	fputc('\n', stderr);
	printf("%s\n", path);
done:
	json_decref(inputs);
	free(kept);
	free(path);
	lock_free(old);
	lock_free(l);
	cli_planned_release(&pl);
	vec_release(&pkgs);
	vec_release(&packages);
	vec_release(&plugin_dirs);
	return cli_finish_stdout(code);
}
