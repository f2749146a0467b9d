#ifndef GS_LOCK_H
#define GS_LOCK_H

#include <jansson.h>
#include <stddef.h>

#include "core/plan.h"
#include "util/vec.h"

/*
 * gpuslim.lock (schemas/lock.schema.json): every pin of a plan, and per
 * cell the inputs the pins were resolved from, so that a later run can
 * build exactly the same thing asking no registry or index, and say
 * precisely what changed when the recipe or the plugins no longer match.
 *
 *   recipe   the recipe's name and the SHA-256 of its bytes
 *   plugins  their schema_version and their version (knowledge.sha256)
 *   git      app.git's url and ref and the commit they resolved to (or null)
 *   cells    per cell: its id, its inputs (lock_cell_inputs()), the exact
 *            CUDA of its base images, the builder and final image each as
 *            ref + digest, and its wheels (struct plan_wheel)
 *
 * A lock is stale when a cell's inputs differ from those of a fresh
 * offline plan of the recipe, when a cell was added or removed, or when
 * app.git's url or ref changed. A recipe change that changes no input (a
 * comment, a budget, a smoke test) is not; neither is a plugins update that
 * changes nothing a cell plans (a library rule, a driver floor): one that
 * does (a newer CUDA patch, another framework release) shows in the
 * cell's inputs and is.
 *
 * Ownership: a struct lock owns every string, JSON value and wheel in it;
 * lock_free() releases all of it.
 */

#define LOCK_FILE_NAME "gpuslim.lock"
#define LOCK_VERSION   1

struct lock_image {
	char *ref;    /* registry/repository:tag, as pinned */
	char *digest; /* "sha256:" + 64 hex */
};

struct lock_cell {
	char *id;
	json_t *inputs; /* an object, lock_cell_inputs()'s keys in order */
	char *cuda;	/* the exact CUDA of the pinned images */
	struct lock_image builder;
	struct lock_image final;
	struct plan_wheel *wheels;
	size_t wheels_nr;
};

struct lock {
	char *recipe_name;
	char recipe_sha256[65];
	long plugins_schema_version;
	char plugins_sha256[65];
	struct plan_git git; /* every field NULL: the recipe has no app.git */
	struct lock_cell *cells;
	size_t cells_nr;
};

void lock_free(struct lock *l);

/*
 * The inputs of a cell of an offline plan (plan_build(), before any
 * resolution: resolving may move a cell to another CUDA patch): an object
 * with, in this order, cuda (the recipe's value for the cell), os, python,
 * python_source, frameworks (pip specs), python_packages, pip_indexes
 * (credentials removed), registry, repository, builder and final (the refs
 * the plan chose). lock_plan_inputs(): an array of them, one per cell.
 */
json_t *lock_cell_inputs(const struct plan *p, const struct plan_cell *c);
json_t *lock_plan_inputs(const struct plan *p);
/* 1 when two cells' inputs ask for the same base images (cuda, os,
 * registry, repository, builder, final): their digests can be kept. */
int lock_inputs_same_images(const json_t *a, const json_t *b);

/*
 * The lock of a resolved plan: `inputs` is lock_plan_inputs() of the same
 * plan taken before it was resolved (borrowed). GS_EINVAL when a cell's
 * base images have no digest (error_last() names it).
 */
int lock_from_plan(const struct plan *p, const json_t *inputs, struct lock **out);

/* The lock as JSON and as the text gpuslim.lock holds: two-space
 * indentation, fixed key order, a final newline (byte-stable). */
json_t *lock_to_json(const struct lock *l);
char *lock_format(const struct lock *l);
/* lock_format() written to `path` through a temporary and rename(): a
 * failure leaves the old file as it was. */
int lock_write(const struct lock *l, const char *path);

/*
 * Parse and check a lock: `name` names it in errors, which are one line,
 * "NAME:LINE:COL: message" for JSON that does not parse, else
 * "NAME: cells[2].wheels[0].sha256: message". GS_EINVAL then.
 * lock_read(): the same for a file; GS_ENOTFOUND when there is none.
 */
int lock_parse(const char *name, const char *data, size_t len, struct lock **out);
int lock_read(const char *path, struct lock **out);

/*
 * Compare a lock with a fresh offline plan of the recipe (`p`, not
 * resolved). Each way the lock is stale is appended to `stale` as one line
 * ("cell 'cu130': python_packages: lock has [\"a>=1\"], the recipe has
 * [\"a>=1.2\"]", "cell 'x' is new in the recipe", ...), each thing worth
 * knowing that does not make it stale to `notes` (the recipe or the plugins
 * changed, no input did). Returns 0 when the lock holds, GS_EINVAL when it
 * is stale, with error_last() "NAME is stale: " + the first line.
 */
int lock_check(const struct lock *l, const struct plan *p, const char *name, struct vec *stale,
	       struct vec *notes);

/* What lock_apply() takes from the lock. */
enum {
	LOCK_IMAGES = 1, /* the CUDA patch and the digests of the base images */
	LOCK_WHEELS = 2, /* the wheels */
	LOCK_GIT = 4,	 /* app.git's commit */
	LOCK_ALL = 7,
};

/*
 * Fill the plan's pins from the lock, asking nobody: for every cell the
 * lock has under the same id, its images (plan_pin_cell(), then the refs
 * must be the lock's) and its wheels, and app.git's commit; `what` picks
 * which (LOCK_*). Cells the lock lacks are left as they are. Meant for a
 * plan lock_check() found the lock fresh for; GS_EINVAL when a pin does
 * not fit the plan (error_last() names the lock, the cell and the field).
 */
int lock_apply(const struct lock *l, struct plan *p, const char *name, unsigned what);
/* The same for one cell `c` of `p` and its lock cell `lc` (LOCK_GIT aside). */
int lock_apply_cell(const struct lock *l, const struct lock_cell *lc, struct plan *p,
		    struct plan_cell *c, const char *name, unsigned what);

/*
 * lock --update PACKAGE: for every cell the lock has, ask the wheel
 * resolver to keep each of its pins ("name==version" in
 * cell->wheel_prefer) but those of the packages in `update` (names,
 * compared normalized as PEP 503 does). Returns the number of names in
 * `update` that no cell of the lock has a wheel of, with the first of them
 * in *unknown (borrowed from `update`).
 */
size_t lock_prefer_wheels(const struct lock *l, struct plan *p, const struct vec *update,
			  const char **unknown);

/* The lock's cell of that id, or NULL. */
const struct lock_cell *lock_find_cell(const struct lock *l, const char *id);

/* PEP 503's normalized form of a project name: lowercase, each run of
 * "-", "_" and "." one "-". Newly allocated. */
char *lock_normalize_name(const char *name);

#endif
