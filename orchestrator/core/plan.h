#ifndef GS_PLAN_H
#define GS_PLAN_H

#include <jansson.h>
#include <stddef.h>

#include "core/knowledge.h"
#include "core/recipe.h"
#include "util/vec.h"

/*
 * A plan: the recipe's matrix expanded into cells, each resolved to exact
 * versions and images, with the reason for every choice. The plan owns
 * every string and array in it and borrows the recipe and the knowledge
 * (both must outlive it: plan_resolve_images() reads the knowledge again).
 * Everything the renderer needs is here, but for render.json's paths and
 * names, which it reads through the knowledge the plan borrows.
 */

/* A resolved value and why it is what it is. */
struct plan_value {
	char *value;  /* NULL when not applicable (no Python, no cuDNN) */
	char *reason; /* one sentence, never NULL when value is set */
};

struct plan_framework {
	char *name;	 /* "torch" */
	char *pip_name;	 /* "torch"; "onnxruntime-gpu" */
	char *version;	 /* "2.4.1" */
	char *variant;	 /* "cu124", NULL when the framework has none */
	char *pip_spec;	 /* "torch==2.4.1+cu124" */
	char *index_url; /* extra index for this wheel, NULL for PyPI */
	int brings_cuda; /* its wheels carry their own CUDA libraries */
	int needs_cudnn; /* needs cuDNN from the base image */
	char *reason;
};

struct plan_image {
	char *flavor;	  /* base|runtime|devel|cudnn-runtime|cudnn-devel */
	char *registry;	  /* "docker.io", "127.0.0.1:5000" */
	char *repository; /* "nvidia/cuda" */
	char *tag;	  /* "12.4.1-base-ubuntu22.04" */
	char *ref;	  /* registry/repository:tag */
	char *digest;	  /* "sha256:…" once pinned (plan_resolve_images); NULL offline */
	char *reason;
};

/* A library the CUDA stack opens with dlopen(): when `soname` is in a
 * program's closure, `loads` must be shipped beside it. */
struct plan_dlopen_rule {
	char *soname;
	struct vec loads; /* sonames, owned */
};

/* Where a recipe value of a cell came from, for messages after planning. */
struct plan_origin {
	char *value; /* as written: "12.4" */
	char *field; /* "cuda", "matrix.cuda[1]", "matrix.include[0].cuda" */
	char *says;  /* "the recipe's cuda", "the matrix (matrix.cuda[1])" */
	struct rpos pos;
};

/* A wheel pinned for a cell by plan_resolve_wheels() (or read from the
 * lock): the exact file, installed with pip --require-hashes --no-deps. */
struct plan_wheel {
	char *name;	   /* normalized: "nvidia-cublas" */
	char *version;	   /* "13.0.0.19", "2.11.0+cu130" */
	char *filename;	   /* the wheel's file name */
	char *url;	   /* absolute download URL, credentials removed */
	char *sha256;	   /* lowercase hex */
	char *index_url;   /* the index it is installed from (pip --index-url), redacted */
	char *required_by; /* "recipe", "frameworks", or the project that required it */
	int framework;	   /* 1: from the framework's index (torch and its CUDA wheels) */
	/* PEP 592: NULL when the index does not say it is yanked; its reason,
	 * or "" when it gives none. Taken only when an == pin (or the lock's
	 * pin) matches nothing else; the CLI warns. */
	char *yanked;
};

/* A smoke test of a cell: the recipe's, a framework's default
 * (frameworks.json "smoke", templates expanded) or the planner's default for
 * a compiled program. A recipe test replaces a default of the same name. */
struct plan_smoke {
	char *name;
	struct vec run; /* argv, owned */
	int gpu;
	char *expect; /* NULL: none */
	char *reject; /* NULL: none; the output must not contain it */
	int any_exit; /* the exit status (or a timeout) does not fail it */
	long timeout; /* seconds; 0: the default (120) */
	char *origin; /* "recipe smoke[0]", "frameworks.json torch", "compiled program" */
};

struct plan_cell {
	size_t index;
	char *id;	 /* bake target name: [A-Za-z0-9_-]+, unique in the plan */
	char *tag;	 /* image tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
	char *image_ref; /* <recipe image>:<tag> */
	struct vec axes; /* "key=value" strings as the matrix gave them, axis order */

	struct plan_value os;		 /* "ubuntu22.04" */
	struct plan_value cuda;		 /* exact "12.4.1" */
	char *cuda_minor;		 /* "12.4" */
	struct plan_origin cuda_asked;	 /* the recipe's cuda value for this cell */
	struct plan_value cudnn;	 /* "9.1.0.70" or NULL value */
	struct plan_value python;	 /* "3.11" or NULL value */
	struct plan_value python_source; /* "os" | "managed" */
	struct plan_value strip;	 /* "none" | "debug" | "unneeded" (trim.strip per cell) */
	char *python_bin;		 /* interpreter in both stages: /usr/bin/python3.11 */
	char *managed_python_dir;	 /* managed: /opt/python, else NULL */
	char *pkg_manager;		 /* "apt" | "dnf" */

	struct plan_framework *frameworks;
	size_t frameworks_nr;

	struct plan_image builder;
	struct plan_image final;
	int compiles; /* app.build is non-empty: the builder is devel */
	/* final.mode closure: the final stage is FROM scratch and holds only
	 * the app and its closure, taken from the builder; `final` is then the
	 * flavor the closure stands in for (a builder that does not compile
	 * takes it, so the closure finds what that flavor carries). */
	int closure;

	char *require_cuda; /* NVIDIA_REQUIRE_CUDA of the final image */
	char *driver_min;   /* driver shipped with this CUDA */
	char *driver_floor; /* minor-version-compatibility floor */

	struct vec builder_packages; /* OS packages for the builder, sorted, owned */
	struct vec final_packages;   /* OS packages for the final stage, sorted, owned */
	struct vec pip_requirements; /* pip specs in install order, owned */
	struct vec extra_index_urls; /* deduplicated, owned */

	/* Wheels pinned by plan_resolve_wheels() or the lock, install order
	 * (framework index first); NULL/0 until resolved. */
	struct plan_wheel *wheels;
	size_t wheels_nr;
	/* "name==version" pins the resolver keeps when they still satisfy
	 * every constraint (lock --update PACKAGE: all but PACKAGE), owned. */
	struct vec wheel_prefer;

	/* Closure of a compiled program (compiles == 1) or of a closure image
	 * (closure == 1): sonames the final base or the host driver already
	 * provides, never copied (a closure image skips only the driver's);
	 * and the dlopen rules of the plugins. */
	struct vec closure_skip;	 /* glob patterns on sonames, owned */
	struct plan_dlopen_rule *dlopen; /* owned */
	size_t dlopen_nr;
	struct vec driver_sonames; /* injected by the driver at run time, owned */
	/* Facts the cell uses that no source confirms ("cuda.json 12.3.2:
	 * driver ..."), and warnings about choices that work but deserve a
	 * look (a wheel of another CUDA major); owned strings. */
	struct vec unverified;
	struct vec warnings;
	/* A framework wheel of a newer CUDA major than the base: its major's
	 * driver floor, which the cell's driver.floor takes; NULL: none. */
	char *wheel_driver_floor;

	struct plan_smoke *smoke; /* the recipe's, then the defaults it did not replace */
	size_t smoke_nr;
};

/* The app's git source (recipe app.git): url and ref set by plan_build()
 * (offline), the commit by plan_resolve_git() or read from the lock; every
 * field NULL when the recipe has none. */
struct plan_git {
	char *url;    /* as the recipe gives it, credentials removed */
	char *ref;    /* as the recipe gives it; NULL: HEAD */
	char *commit; /* 40 hex digits once resolved */
};

struct plan {
	const struct recipe *recipe; /* borrowed */
	const struct knowledge *kb;  /* borrowed */
	struct plan_cell *cells;
	size_t cells_nr;
	struct plan_git git;
	/* The build context, absolute, when it is not app.path against the
	 * recipe's directory: app.git's export (plan_export_git()). NULL: app.path. */
	char *context;
};

/*
 * Expand the recipe's matrix and resolve every cell. On failure returns
 * GS_EINVAL with each problem, formatted "file:line:col: field: message"
 * and pointing at the recipe value that caused it, appended to `diags`.
 */
int plan_build(const struct recipe *r, const struct knowledge *kb, struct plan **out,
	       struct vec *diags);
void plan_free(struct plan *p);
/* Free an array of wheels and every string in it. */
void plan_wheels_release(struct plan_wheel *w, size_t nr);

/*
 * Pin every wheel of every cell (issue 8; core/plan_wheels.c): the
 * framework and its CUDA wheels from the framework's index only, the
 * recipe's python_packages and their dependencies from the recipe's index,
 * each the newest file that fits the cell's Python, glibc, arch and CUDA
 * variant, with its sha256. A requirement nothing satisfies is an error in
 * `diags` naming the package, the cell and what the index has (GS_EINVAL);
 * an unreachable index is GS_EINFRA. Cells without Python packages are
 * left alone.
 */
struct pyindex_client;
int plan_resolve_wheels(struct plan *p, struct pyindex_client *ic, struct vec *diags);
/* 1 when some cell has Python packages (a framework or python_packages)
 * for plan_resolve_wheels() to pin. */
int plan_needs_wheels(const struct plan *p);

/*
 * Resolve the recipe's app.git (url, ref) to a commit with libgit2
 * (core/gitsrc.c); a no-op without app.git. GS_EINVAL (in `diags`) for a ref
 * the repository lacks, GS_EINFRA when it cannot be read.
 */
int plan_resolve_git(struct plan *p, struct vec *diags);

/*
 * Export the commit p->git.commit (resolved, or read from the lock) of
 * app.git, its app.git.subdir, into the directory `dir`
 * (gitsrc_export_dir(): an earlier export there is replaced, anything else
 * is refused), and make it the plan's build context (p->context). The ref is
 * not asked again; the repository is fetched only when the cache lacks the
 * commit. A no-op without app.git; GS_EINVAL when the commit is not set.
 */
int plan_export_git(struct plan *p, const char *dir);

struct registry_client;

/*
 * Ask each base image's registry what it really has (DESIGN: what the
 * registry has wins over the table). Every builder and final image gets
 * its digest; a tag the tables name but the registry lacks (deleted
 * upstream) is replaced by the newest patch of the same CUDA minor that
 * the registry has for every image of the cell, and the cell's reasons
 * say so. A cell none of whose candidates exist is an error in `diags`
 * (GS_EINVAL); an unreachable registry is GS_EINFRA with error_last() set.
 * Each (registry, repository) is listed once, each tag resolved once. A
 * cell whose two images have digests already (plan_pin_cell()) is left alone.
 *
 * The substitute may be a patch cuda.json does not know (newer than the
 * tables): the cell then keeps the driver and NVIDIA_REQUIRE_CUDA facts of
 * the patch it planned, and says so. A recipe that pins an exact patch
 * ("12.4.1") gets no substitute: its missing tag is an error. The
 * diagnostics point at the cell's cuda value (or base.repository when the
 * registry lacks the repository). On failure the plan may be half
 * resolved: free it, do not render it. The knowledge the plan was built
 * with must still be alive.
 */
int plan_resolve_images(struct plan *p, struct registry_client *rc, struct vec *diags);

/*
 * Pin a cell as a registry once did, asking nobody (gpuslim.lock, core/lock.c):
 * move it to CUDA `cuda` when that is another patch of the minor it planned
 * (the substitute plan_resolve_images() made then, with the same reasons),
 * then give its builder and final images their digests; the reasons say
 * they come from `source`. plan_resolve_images() leaves a cell pinned this
 * way alone. GS_EINVAL (error_last()) when `cuda` is no patch of the
 * planned minor or the knowledge cannot make the move.
 */
int plan_pin_cell(struct plan *p, struct plan_cell *c, const char *cuda, const char *builder_digest,
		  const char *final_digest, const char *source);

/*
 * Keep only the cells whose ids are in `ids` (`build --cell`: one CI job per
 * cell), in the plan's order, whatever the order or repetitions of `ids`;
 * the others are freed. Each kept cell keeps its `index` in the matrix. An
 * id the plan lacks is GS_EINVAL, the plan untouched, error_last() naming
 * it and the plan's cells: "no cell 'x' in the recipe; its cells: a, b".
 */
int plan_select_cells(struct plan *p, const struct vec *ids);

/* The plan as JSON (schemas/plan.schema.json): every cell, every value,
 * every reason. Key order is fixed, so the output is byte-stable. */
/*
 * The plan holds index URLs without credentials (they go to files, logs
 * and the lock). The recipe's own pip.index_url or pip.framework_index_url
 * (expanded for `variant`) whose redaction is `index_url`, when it carries
 * credentials: newly allocated, for the requests and the build's netrc
 * only, never stored in the plan. NULL otherwise.
 */
char *plan_index_credentialed(const struct recipe *r, const char *index_url, const char *variant);

json_t *plan_to_json(const struct plan *p);
/* Wheels as the plan and the lock write them: [{name, version, filename,
 * url, sha256, index_url, required_by, framework}]. */
json_t *plan_wheels_to_json(const struct plan_wheel *w, size_t nr);

#endif
