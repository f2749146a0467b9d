#ifndef GS_BUILD_H
#define GS_BUILD_H

#include <jansson.h>
#include <stddef.h>

#include "core/engine.h"
#include "core/plan.h"
#include "util/executor.h"
#include "util/strbuf.h"
#include "util/vec.h"

/*
 * Building a plan's cells into images, in parallel, on the bounded executor
 * (util/executor.h): one `docker build` (or `docker buildx build`) per cell,
 * each child in its own process group with its whole output appended to
 * its own log file, then optionally one `docker push` per cell, only when
 * every cell built (an atomic publish: all or nothing).
 *
 * core/ never prints: the caller watches the run through `on_event`, which
 * runs on the thread that called build_run()/build_push(), never
 * concurrently, with the struct build up to date; it may read anything in
 * it. Results stay in the struct build for the summary and the JSON report.
 *
 * Ownership: a struct build owns its cells and every string in them; it
 * borrows the plan, the engine and the option strings, which must outlive
 * it. build_release() frees what it owns.
 */

enum build_status {
	BUILD_QUEUED, /* not started (yet, or ever: see BUILD_CANCELLED) */
	BUILD_RUNNING,
	BUILD_OK,
	BUILD_FAILED,	 /* nonzero exit, signal, start failure */
	BUILD_CANCELLED, /* stopped by fail-fast or an interrupt, or never started because of one */
};

enum build_push_status {
	BUILD_PUSH_NONE,    /* no push asked for */
	BUILD_PUSH_SKIPPED, /* not pushed: a cell failed (all or nothing) */
	BUILD_PUSH_QUEUED,
	BUILD_PUSH_RUNNING,
	BUILD_PUSH_OK,
	BUILD_PUSH_FAILED,
	BUILD_PUSH_CANCELLED,
};

/* What the cache of a build does; chosen once per run from output.cache
 * and the engine's capabilities. */
enum build_cache {
	BUILD_CACHE_NONE,
	BUILD_CACHE_INLINE,   /* import from the image's own ref, export inline */
	BUILD_CACHE_REGISTRY, /* import <image>:buildcache-<tag>; buildx also exports there */
	BUILD_CACHE_LOCAL,    /* buildx only: a directory under the build dir */
};

/* One line of BuildKit's plain progress: "#5 [builder 3/9] RUN nvcc ...". */
struct build_progress {
	int vertex;	/* 5 */
	char stage[64]; /* "builder"; "" for a single-stage "[3/9]" */
	int step;	/* 3 */
	int steps;	/* 9 */
	char text[160]; /* "RUN nvcc ...", cut */
};

/* 1 when `line` is a step header and `out` is filled, else 0. */
int build_parse_progress(const char *line, struct build_progress *out);

/* 1 when a build log (BuildKit's plain progress) shows pip refusing a
 * pinned wheel (a hash that does not match, no such file on the index, a
 * 404) and a one-line hint naming the wheel and the lock command is
 * appended to `out`, else 0. */
int build_pip_hint(const char *log, struct strbuf *out);

struct build_cell {
	const struct plan_cell *cell; /* borrowed from the plan */
	int engine;		      /* index into build.engines; -1 before it started */
	int attempts;		      /* builds started, > 1 after a retry elsewhere */
	/* Why it left an engine ("engine 'X' died during the build: ..."),
	 * set when it was retried elsewhere, else NULL. */
	char *retried;
	unsigned long long avoid_;    /* engines it must not go to (died under it) */
	char *dockerfile;	      /* absolute path of Dockerfile.<id> */
	char *log_path;		      /* absolute path of logs/<id>.log */
	char *cache_ref;	      /* registry cache ref, NULL when none */

	enum build_status status;
	struct build_progress progress; /* the latest step header; step 0 before any */
	long long started_ms;		/* monotonic clock, for a live elapsed time */
	long long elapsed_ms;
	int exit_code; /* -1 when the child did not exit on its own */
	int signal;    /* 0 unless the child died of a signal */
	char *error;   /* one line when not OK, else NULL */
	char *hint;    /* failed: pip's refusal of a pinned wheel, from its log, else NULL */
	char *image_id;
	long long size_bytes; /* -1: unknown */

	/* Gates (core/gate.h), set by the caller after the build: NULL when not
	 * gated, else {"status": "pass"|"fail"|"error", "gates": [...],
	 * "error": null|"..."} (owned, freed by build_release()). */
	json_t *gate;

	/* The analysis's parts the JUnit and Markdown reports show
	 * (build_report_analysis()), set by the caller with `gate`; NULL when
	 * not analyzed (owned, freed by build_release()). */
	json_t *analysis;

	enum build_push_status push;
	/* What a push sends: the cell's image_ref, or with build_opts.stage its
	 * staging tag "<repository>:<tag>-<stage>" (core/promote.h moves the
	 * final tag to it later). */
	char *push_ref;
	char *digest; /* "sha256:..." of the pushed manifest */
	char *push_error;
	long long push_ms;
};

enum build_event {
	BUILD_EV_STARTED,
	BUILD_EV_PROGRESS, /* cell->progress changed to a new step */
	BUILD_EV_FINISHED, /* status is OK, FAILED or CANCELLED; image_id/size set when OK */
	BUILD_EV_PUSH_STARTED,
	BUILD_EV_PUSH_FINISHED,
	/* Its engine died: it goes back to the queue for another engine
	 * (status BUILD_QUEUED, `retried` says why). */
	BUILD_EV_RETRY,
};

/* An engine of the run, as the user named it (core/engine.h). */
struct build_engine_spec {
	const char *name; /* a DOCKER_HOST URL or a context name */
	int jobs;	  /* builds at once on it, >= 1 */
};

/* An engine as the run sees it; owned by the struct build. */
struct build_engine {
	char *name;
	int jobs;
	struct engine view; /* the client, talking to this engine */
	struct vec env;	    /* owned strings behind envp */
	const char **envp;  /* NULL-terminated, view.env */
	int running;
	int dead;    /* stopped answering: no further cell goes there */
	char *error; /* why it is dead */
};

/* How many engines a run may spread over. */
#define BUILD_MAX_ENGINES 64

struct build;

struct build_opts {
	const struct engine *engine; /* detected once, shared read-only */
	const char *dockerfile_dir;  /* where render_write() put Dockerfile.<id> */
	const char *log_dir;	     /* created if missing; <id>.log per cell, truncated */
	const char *context;	     /* the build context (app.path against the recipe dir) */
	int jobs;		     /* <= 0: online CPUs */
	int fail_fast;		     /* the first failure cancels the others */
	int abort_fd;		     /* -1, or signals_fd(): readable means stop everything */
	int grace_ms;		     /* SIGTERM -> SIGKILL for stopped builds; 0: default */
	const char *network;	     /* --network MODE, NULL: the engine's default */
	const char *cache;	     /* output.cache: registry|inline|local|none; NULL: registry */
	const char *cache_dir;	     /* local cache root (BUILD_CACHE_LOCAL); NULL: none */
	int no_cache;
	/* A netrc for pip's package indexes (build_netrc_write()), passed as
	 * the BuildKit secret RENDER_NETRC_SECRET; NULL: none. */
	const char *netrc;
	int push_jobs; /* pushes at once; <= 0: `jobs` */
	/* A suffix: each cell is also tagged, and pushed, as "<tag>-<stage>"
	 * instead of its final tag (a CI job per cell stages; `gpuslim report
	 * promote` publishes all or nothing). NULL: push the final tags. */
	const char *stage;
	/* Every cell id of the recipe's matrix, in the plan's order, for the
	 * report when the plan was narrowed to some (build --cell); NULL: the
	 * plan's cells are the matrix. Borrowed. */
	const struct vec *matrix_cells;
	/* Engines to spread the cells over (each cell's build, inspection and
	 * push run on one of them); none: the detected engine alone, with
	 * `jobs`. With engines, `jobs` (> 0) caps the sum of their limits. */
	const struct build_engine_spec *engines;
	size_t engines_nr;
	/* A cell whose engine died is built again on another live engine
	 * (once per engine); without it, it fails naming the engine. */
	int retry_elsewhere;
	const char *builder; /* buildx --builder NAME; NULL: none */

	/* Called on the coordinating thread; optional. */
	void (*on_event)(void *ctx, const struct build *b, size_t cell, enum build_event ev);
	/* Every tick_ms (> 0) while builds or pushes run, even when no child
	 * said anything: the clock of a live display. Optional. */
	void (*on_tick)(void *ctx, const struct build *b);
	int tick_ms;
	void *ctx;
};

struct build {
	const struct plan *plan;
	const struct build_opts *opts;
	struct build_cell *cells;
	size_t cells_nr;
	enum build_cache cache;
	int jobs; /* builds at once: opts->jobs, or the online CPUs */
	struct build_engine *engines;
	size_t engines_nr;
	/* Said once for the run ("'local' cache needs buildx: building without
	 * a cache"); owned strings. */
	struct vec notes;
	int interrupted; /* the abort fd fired during build_run() or build_push() */
	long long elapsed_ms;
};

/* Codes of build_run() and build_push() besides 0 and the usual GS_*. */
enum {
	BUILD_EFAILED = EXEC_EJOBS,		/* a cell (or push) failed or was cancelled */
	BUILD_EINTERRUPTED = EXEC_EINTERRUPTED, /* the abort fd fired */
};

/*
 * Prepare a build of every cell of `p`: paths, the cache mode (with a note
 * when the backend cannot honour output.cache), and every argv, so that a
 * build that cannot be expressed fails here (GS_EINVAL) before any starts.
 * Call build_release() either way.
 */
int build_init(struct build *b, const struct plan *p, const struct build_opts *o);

/* The engine a cell was built on, or NULL before it started. */
const struct build_engine *build_cell_engine(const struct build *b, const struct build_cell *bc);
void build_release(struct build *b);

/* build_opts.stage makes a valid tag of every cell's tag: [A-Za-z0-9_.-],
 * "<tag>-<stage>" at most 128 long. GS_EINVAL (error_last() naming the
 * cell) otherwise; build_init() checks it too. */
int build_check_stage(const struct plan *p, const char *stage);

/*
 * The credentials of the recipe's package indexes that the plan's cells
 * install from (pip.index_url, pip.framework_index_url), as a netrc for pip
 * inside the build: `machine HOST login USER password PASS`, mode 0600, in
 * a new private (0700) directory under $TMPDIR or /tmp. *netrc (newly
 * allocated) is NULL when no index carries credentials. The plan, the
 * Dockerfiles and the logs never hold them; remove the file with
 * build_netrc_remove() once the builds are done. GS_EINVAL when a value
 * cannot be written to a netrc (white space, quotes); GS_ERR otherwise.
 */
int build_netrc_write(const struct plan *p, char **netrc);
/* Remove the netrc and its directory; NULL is a no-op. */
void build_netrc_remove(const char *netrc);

/*
 * Build every cell, opts->jobs at a time. Returns 0 when every cell built;
 * BUILD_EFAILED when one failed or was cancelled (by fail-fast), with
 * error_last() "1 of 3 cells failed, 1 cancelled"; BUILD_EINTERRUPTED when
 * the abort fd fired (every child stopped and reaped, the cells not started
 * marked cancelled); GS_EINFRA when the log directory cannot be made.
 */
int build_run(struct build *b);

/*
 * Push every cell's image_ref, only when every cell's status is BUILD_OK
 * and no cell's gate failed: otherwise no push starts, every cell's push
 * is BUILD_PUSH_SKIPPED and the call returns GS_EINVAL ("not pushing: 1
 * of 3 cells did not build").
 * Pushes run on the executor; the first failure cancels the others (a
 * cancelled `docker push` never tags the manifest). Each pushed cell gets
 * its digest from the push's output, else from the engine. Returns 0,
 * BUILD_EFAILED (error_last() names the first ref that failed, or, with
 * engines, the engine holding built images that no longer answers: then
 * nothing is pushed) or BUILD_EINTERRUPTED.
 */
int build_push(struct build *b);

/* Counts of cells by status. */
size_t build_count(const struct build *b, enum build_status s);
size_t build_count_push(const struct build *b, enum build_push_status s);
/* Cells whose gate is set and did not pass. */
size_t build_count_gate_failed(const struct build *b);

const char *build_status_name(enum build_status s);	      /* "ok", "failed", ... */
const char *build_push_status_name(enum build_push_status s); /* "pushed", "skipped", ... */
const char *build_cache_name(enum build_cache c);

/*
 * The run as JSON: {"recipe", "recipe_sha256", "matrix_cells", "backend",
 * "cache", "jobs", "elapsed_ms", "interrupted", "status", "engines": [{"name",
 * "jobs", "status": "ok"|"dead", "error"}], "cells": [{"id", "image", "engine",
 * "attempts", "retried", "status", "exit_code", "signal", "elapsed_ms", "log",
 * "dockerfile", "image_id", "size_bytes", "error", "push": {"status", "ref",
 * "digest", "error", "elapsed_ms"}, "gate": null|{"status", "gates",
 * "error"}, "analysis": null|{...}}]}; absent values are null; text that
 * is not UTF-8 escaped (util/utf8.h). New reference, or NULL (out of
 * memory, error set).
 */
json_t *build_to_json(const struct build *b);

/* build_to_json() written to `path` with fs_write_output(). GS_EINFRA when
 * it cannot be written. */
int build_write_report(const struct build *b, const char *path);

/*
 * The parts of an analysis report (core/analyze.h, schemas/report.schema.json)
 * that the JUnit and Markdown reports read (core/report.h), so a build
 * report carries them and `gpuslim report merge` renders the same files:
 * "summary", and of "layers", "packages", "wasted", "cuda.duplicates" the
 * `top` biggest (the order among them kept, so report.c picks the same
 * ones), the first `top` of "closure.missing" and all of
 * "closure.driver_in_image". New reference, or NULL (out of memory).
 */
json_t *build_report_analysis(const json_t *report, size_t top);

#endif
