#ifndef GS_CLI_PLAN_LOAD_H
#define GS_CLI_PLAN_LOAD_H

#include "core/knowledge.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "core/smoke.h"
#include "util/vec.h"

/*
 * What every recipe-driven command does first: load the recipe and the
 * knowledge plugins, and plan. The struct owns all three;
 * cli_planned_release() frees them (the plan first: it borrows the other two).
 */
struct cli_planned {
	struct recipe *recipe;
	struct knowledge *kb;
	struct plan *plan;
};

/*
 * recipe_load(), where the path "-" reads the recipe from stdin: errors
 * then name it "<stdin>" and its directory (app.path, the build context)
 * is the current one.
 */
#define CLI_STDIN_NAME "<stdin>"
int cli_load_recipe(const char *path, struct recipe **out, struct vec *diags);

/* Load (cli_load_recipe()) and plan `recipe_path` with the extra plugin
 * directories. Prints every problem ("file:line:col: ..." lines, or the one
 * error); returns EXIT_OK, or EXIT_USAGE when the recipe, a plugin or the
 * plan is at fault. */
int cli_load_plan(const char *recipe_path, const struct vec *plugin_dirs, struct cli_planned *out);
void cli_planned_release(struct cli_planned *pl);

/*
 * --resolve of plan and generate: ask the base images' registries, pin
 * every image by digest and let what they have win over the tables
 * (plan_resolve_images). Credentials come from the Docker config
 * ($DOCKER_CONFIG or ~/.docker). Prints the problems; returns the exit
 * code: EXIT_OK, EXIT_USAGE (a recipe value the registry cannot satisfy)
 * or EXIT_INFRA (a registry cannot be reached).
 */
int cli_resolve_images(struct plan *p);

/* The lock of a recipe: `lock_path` when given, else gpuslim.lock beside
 * the recipe (in the current directory for a recipe read from stdin).
 * Newly allocated. */
char *cli_lock_path(const struct recipe *r, const char *lock_path);

/*
 * Print why a lock is stale: "gpuslim: LOCK is stale: ..." for each line of
 * `stale`, the last followed by what to run.
 */
void cli_print_stale(const char *lock_path, const char *recipe_path, const struct vec *stale);

/*
 * --locked of plan, generate and build: read the lock (cli_lock_path()),
 * fail when it is stale (cli_print_stale(), EXIT_USAGE), else fill the
 * plan's base digests, wheels and git commit from it (lock_apply()) so that
 * nothing is asked of a registry or an index. Notes go to stderr. Returns
 * the exit code: EXIT_OK, EXIT_USAGE (no lock, a bad or stale one).
 */
int cli_apply_lock(struct cli_planned *pl, const char *recipe_path, const char *lock_path);
/* The --locked and --lock options of plan, generate and build, alike. */
#define CLI_OPTS_LOCKED(locked, lock_path)                                                         \
	{CLI_OPT_SWITCH,                                                                           \
	 "locked",                                                                                 \
	 0,                                                                                        \
	 (locked),                                                                                 \
	 NULL,                                                                                     \
	 "take every pin from gpuslim.lock beside the recipe, ask no registry or index; fail "     \
	 "when it is stale",                                                                       \
	 0},                                                                                       \
	{                                                                                          \
		CLI_OPT_VALUE, "lock", 0, (lock_path), "FILE",                                     \
		    "the lock file for --locked (implies it)", 0                                   \
	}
/* --lock implies --locked; --locked with --resolve is a usage error (printed).
 * Returns EXIT_OK or EXIT_USAGE. */
int cli_check_locked(int *locked, const char *lock_path, int resolve);
/*
 * Read the lock at `path` and check it against the plan. Prints the
 * problems ("WHAT: no lock ...", the stale lines) and the notes; returns
 * EXIT_OK with the lock in *out (the caller frees it), else `stale_code`
 * for a missing or stale lock and EXIT_USAGE for a bad one, *out NULL.
 */
struct lock;
int cli_read_fresh_lock(const struct plan *p, const char *recipe_path, const char *path,
			const char *what, int stale_code, struct lock **out);
/*
 * Pin every cell's wheels against the package indexes (the recipe's
 * pip.index_url, each framework's index): plan_resolve_wheels. A no-op
 * for a plan without Python packages. Prints the problems; returns
 * EXIT_OK, EXIT_USAGE (a requirement no wheel satisfies) or EXIT_INFRA (an
 * index cannot be reached).
 */
int cli_resolve_wheels(struct plan *p);
/* --resolve: cli_resolve_images(), cli_resolve_wheels(), cli_resolve_git(). */
int cli_resolve(struct plan *p);
/* On stderr, when the plan has Python packages and they were not pinned
 * (`why`: "--offline"): the build installs without hashes. */
void cli_note_unpinned_wheels(const struct plan *p, const char *why);
/* "warning: cell 'ID': NAME VERSION is yanked (REASON) ..." on stderr for
 * each pinned wheel the index marks yanked (PEP 592): taken only because
 * an == pin or the lock named it. */
void cli_warn_yanked(const char *cell, const struct plan_wheel *w, size_t nr);
void cli_warn_yanked_plan(const struct plan *p);
/* Where generate and build export app.git's commit: OUT/context. */
#define CLI_GIT_CONTEXT "context"

/*
 * plan --resolve, generate and build: resolve app.git's ref to a commit
 * (plan_resolve_git; a no-op without app.git). Prints the problems; returns
 * EXIT_OK, EXIT_USAGE (a ref or a local repository the recipe names
 * wrongly) or EXIT_INFRA (a remote that cannot be reached).
 */
int cli_resolve_git(struct plan *p);

/*
 * generate and build: export the resolved commit of app.git into
 * OUT/CLI_GIT_CONTEXT, replacing an earlier export there, and make it the
 * plan's build context (plan_export_git). A file of the user's in OUT where
 * a build file would go stops it first, with nothing written. Prints the
 * error; returns EXIT_OK, EXIT_USAGE or EXIT_INFRA.
 */
int cli_export_git(struct plan *p, const char *out_dir);

/* --runner and --driver-dir of gate and build: `runner_arg` (NULL: docker)
 * into *runner; --driver-dir only with the rootfs runner. Prints the error;
 * returns EXIT_OK or EXIT_USAGE. */
int cli_parse_runner(const char *runner_arg, const struct vec *driver_dirs,
		     enum smoke_runner *runner);

#endif
