#ifndef GS_SMOKE_H
#define GS_SMOKE_H

#include <stddef.h>

#include "core/image.h"
#include "core/plan.h"
#include "core/sandbox.h"
#include "util/vec.h"

/*
 * Smoke tests, through one of two runners (--runner):
 *
 * docker (the default): each command runs in a throwaway container of the image,
 *
 *   docker run --rm --name gpuslim-smoke-<pid>-<n> --network none
 *              [--gpus all] --entrypoint RUN[0] IMAGE RUN[1..]
 *
 * with its output (stdout and stderr) captured and a timeout; on a timeout
 * the container is removed (`docker rm -f`), since killing the client
 * leaves it running.
 *
 * rootfs: no engine. The image (any source core/image.h reads: a
 * docker-save tar, an OCI layout, the engine, a registry) is unpacked once
 * per cell into $TMPDIR/gpuslim-smoke-XXXXXX (core/rootfs.h), and each
 * command runs in that tree through core/sandbox.h (bubblewrap, or chroot
 * in a mount namespace) with the image's Env, WorkingDir and User, as
 * `docker run --entrypoint RUN[0] IMAGE RUN[1..]` would; a gpu test gets
 * the host's driver bound in (a non-gpu one none, as without --gpus). The
 * tree is shared by the cell's tests (what one writes, the next sees; with
 * docker each has a fresh container), and removed once they ran, after an
 * interrupt too (abort_fd). The command's own network is the host's.
 *
 * Either way, a test passes when the command exits 0 (or any_exit),
 * its output contains `expect` and lacks `reject`.
 *
 * A test marked gpu runs only when a GPU is there: for docker (with `--gpus
 * all`) when the engine has the NVIDIA runtime and the host has a GPU
 * (smoke_detect_gpu()), for rootfs when the host has a driver, found as
 * `gpuslim run` finds it (smoke_detect_driver()); otherwise it
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

/*
 * The rootfs runner's GPU: available when the host has a driver, looked
 * for as `gpuslim run` looks (`driver_dirs` from --driver-dir, nvidia-smi's
 * libraries, /usr/local/nvidia/lib64, `ldconfig -p`: sandbox_find_driver()).
 */
void smoke_detect_driver(const struct vec *driver_dirs, const struct vec *driver_sonames,
			 struct smoke_gpu *out);

enum smoke_runner {
	SMOKE_RUNNER_DOCKER = 0, /* docker run, one container a test */
	SMOKE_RUNNER_ROOTFS,	 /* no engine: the image unpacked, core/sandbox.h */
};

/* "docker" or "rootfs"; GS_EINVAL naming --runner for another word. */
int smoke_parse_runner(const char *s, enum smoke_runner *out);

struct smoke_opts {
	enum smoke_runner runner;
	const char *docker;	     /* the client (absolute path) */
	const char *image;	     /* the image ref or id to run (rootfs: any source) */
	const struct smoke_gpu *gpu; /* from smoke_detect_gpu() or smoke_detect_driver() */
	int require_gpu;	     /* a gpu test without a GPU fails instead of skipping */
	int abort_fd;		     /* -1, or readable means stop (SIGINT) */
	/* rootfs only */
	const struct image_opts *image_opts; /* how to read `image`; NULL: the defaults */
	const struct vec *driver_dirs;	     /* --driver-dir, or NULL */
	const struct vec *driver_sonames;    /* the plugins' driver patterns */
	enum sandbox_kind sandbox;	     /* SANDBOX_AUTO */
};

/* Seconds a test may run when it does not say. */
#define SMOKE_DEFAULT_TIMEOUT 120

/*
 * Run every test, in order, one at a time; push one gate result per test
 * onto `results` (name "smoke NAME"). Returns 0 once every test has a
 * result (failures are results, not errors), GS_EINFRA when the docker
 * client cannot be started at all; for rootfs rootfs_unpack()'s errors
 * ("interrupted" too) or GS_EINFRA when the tree cannot be made or removed.
 */
int smoke_run(const struct smoke_opts *o, const struct plan_smoke *tests, size_t n,
	      struct vec *results);

#endif
