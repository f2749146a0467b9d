#ifndef GS_SMOKE_H
#define GS_SMOKE_H

#include <stddef.h>

#include "core/plan.h"
#include "util/vec.h"

/*
 * Smoke tests: each command runs in a throwaway container of the image,
 *
 *   docker run --rm --name gpuslim-smoke-<pid>-<n> --network none
 *              [--gpus all] --entrypoint RUN[0] IMAGE RUN[1..]
 *
 * with its output (stdout and stderr) captured and a timeout; on a timeout
 * the container is removed (`docker rm -f`), since killing the client
 * leaves it running. A test passes when the command exits 0 (or any_exit),
 * its output contains `expect` and lacks `reject`.
 *
 * A test marked gpu runs with `--gpus all` only when the engine has the
 * NVIDIA runtime and the host has a GPU (smoke_detect_gpu()); otherwise it
 * is a skip, "skipped: no GPU (...)", never a pass, and with require_gpu a
 * failure. Results are gate results (core/gate.h, kind GATE_SMOKE).
 */

struct smoke_gpu {
	int available; /* the engine has the nvidia runtime and nvidia-smi lists a GPU */
	char *why;     /* why not, or the GPUs found: one line, owned */
};

/*
 * Ask the engine (`docker info --format '{{json .Runtimes}}'` lists
 * "nvidia") and the host (`nvidia-smi -L` on PATH lists "GPU 0: ...").
 * Never fails: an engine that does not answer means no GPU, with why.
 */
void smoke_detect_gpu(const char *docker, struct smoke_gpu *out);
void smoke_gpu_release(struct smoke_gpu *g);

struct smoke_opts {
	const char *docker;	     /* the client (absolute path) */
	const char *image;	     /* the image ref or id to run */
	const struct smoke_gpu *gpu; /* from smoke_detect_gpu() */
	int require_gpu;	     /* a gpu test without a GPU fails instead of skipping */
	int abort_fd;		     /* -1, or readable means stop (SIGINT) */
};

/* Seconds a test may run when it does not say. */
#define SMOKE_DEFAULT_TIMEOUT 120

/*
 * Run every test, in order, one at a time; push one gate result per test
 * onto `results` (name "smoke NAME"). Returns 0 once every test has a
 * result (failures are results, not errors), GS_EINFRA when the docker
 * client cannot be started at all.
 */
int smoke_run(const struct smoke_opts *o, const struct plan_smoke *tests, size_t n,
	      struct vec *results);

#endif
