#ifndef GS_SANDBOX_H
#define GS_SANDBOX_H

#include <jansson.h>

#include "util/strbuf.h"
#include "util/vec.h"

/*
 * Running a command in an unpacked image (core/rootfs.h) without an
 * engine, the way `docker run` would: the image config's Env, WorkingDir
 * and User, its Entrypoint + Cmd unless a command is given, in a mount
 * namespace whose root is the tree, with /dev (a few nodes), /proc and /sys.
 *
 * Two ways in:
 *   bwrap   bubblewrap (Debian's `bubblewrap`), unprivileged, in user and
 *           PID namespaces: `bwrap --bind ROOT / --dev /dev --proc /proc ...`
 *   chroot  a child that enters its own mount and PID namespaces (and, when
 *           not root, a user namespace mapping the caller to root: `unshare
 *           -r`); PID 1 there binds /dev nodes in, mounts a fresh /proc and
 *           a read-only /sys, chroot()s and starts the command, which takes
 *           the image's user (as root), drops every capability, bounding
 *           set included, and sets no_new_privs. Whatever the command leaves
 *           dies with PID 1.
 * Either way the command gets no descriptor of the caller's but 0, 1, 2,
 * default signal dispositions, and the image's environment only (bwrap
 * itself runs with PATH alone). The network is the host's.
 * SANDBOX_AUTO takes chroot as root (the image's uid and gid are real
 * there), else bwrap when it is on PATH, else chroot in a user namespace.
 *
 * The GPU: with a driver, its libraries (the plugins' driver_sonames, from
 * each driver directory, else `ldconfig -p`) are bound read-only into the
 * image's multiarch library directory (/usr/lib/x86_64-linux-gnu, where the
 * NVIDIA Container Toolkit puts them; /usr/lib64 on images that have only
 * that), /dev/nvidia* are bound in, nvidia-smi into /usr/bin, and that
 * directory ends the command's LD_LIBRARY_PATH so the loader finds the
 * driver before a stale /etc/ld.so.cache could say otherwise.
 *
 * Ownership: a struct sandbox owns every string it holds;
 * sandbox_release() frees them. `config`, `cmd`, `env` and `driver_dirs`
 * in the options are borrowed during sandbox_prepare().
 */

enum sandbox_kind {
	SANDBOX_AUTO = 0,
	SANDBOX_BWRAP,
	SANDBOX_CHROOT,
};

enum sandbox_gpu {
	SANDBOX_GPU_AUTO = 0, /* a driver when one is found */
	SANDBOX_GPU_ON,	      /* a driver, or an error */
	SANDBOX_GPU_OFF,
};

struct sandbox_opts {
	const char *root;		  /* the unpacked tree (absolute) */
	json_t *config;			  /* the image config */
	const struct vec *cmd;		  /* replaces Entrypoint + Cmd when not empty */
	const struct vec *env;		  /* extra "K=V", after the image's */
	const struct vec *driver_dirs;	  /* --driver-dir; empty: look for one */
	const struct vec *driver_sonames; /* glob patterns of driver libraries (plugins) */
	enum sandbox_kind kind;
	enum sandbox_gpu gpu;
};

struct sandbox_bind {
	char *src; /* host path */
	char *dst; /* path in the root, no symbolic link in it, "usr/lib/x/libcuda.so.1" */
	int dev;   /* a device node */
};

struct sandbox {
	enum sandbox_kind kind; /* never AUTO once prepared */
	int userns;		/* chroot: in a user namespace (not root) */
	char *root;
	char *bwrap;	   /* bwrap's path */
	struct vec argv;   /* the command */
	struct vec env;	   /* "K=V" */
	char *cwd;	   /* absolute, in the root */
	unsigned uid, gid; /* the image's user */
	struct vec binds;  /* struct sandbox_bind * (driver libraries, devices) */
	char *gpu_note;	   /* "driver from /usr/local/nvidia/lib64: 12 libraries, 3 devices", or why
			      none */
	char *lib_dir;	   /* where the driver went, "usr/lib/x86_64-linux-gnu" */
	struct vec notes;  /* what was done, for --verbose */
};

struct sandbox_result {
	int exited, exit_code;
	int signaled, signal;
	int interrupted; /* abort_fd became readable: the sandbox was stopped */
	int timed_out;	 /* the timeout passed: the sandbox was stopped */
};

/* How sandbox_exec() runs the command. */
struct sandbox_io {
	int abort_fd;	       /* -1, or readable means stop */
	int grace_ms;	       /* SIGTERM, then SIGKILL after this (-1: never) */
	int timeout_ms;	       /* > 0: stopped as for abort_fd once it passes */
	struct strbuf *output; /* NULL: the terminal's stdin, stdout, stderr; else stdin is
				  /dev/null and stdout and stderr, together, are read into it */
	size_t output_cap;     /* keep at most this much of it (0: all); the rest is read,
				  then dropped */
};

void sandbox_init(struct sandbox *sb);
void sandbox_release(struct sandbox *sb);

/*
 * Decide everything before anything runs: the runner, the command, its
 * environment, directory and user, the driver's files and the mount points
 * for them in the root (created there). Errors: GS_EINVAL for the image
 * (no command, a user that /etc/passwd lacks), GS_EINFRA for the host (no
 * way to make a sandbox, --gpu on without a driver).
 */
int sandbox_prepare(struct sandbox *sb, const struct sandbox_opts *o);

/*
 * Run it and wait. When `abort_fd` (or -1) becomes readable the sandbox
 * gets SIGTERM, then SIGKILL after `grace_ms`, and res->interrupted is set.
 * A command that cannot start is exit code 127 (not found) or 126, with
 * the reason on stderr, as a shell says it. Returns 0 once the sandbox is
 * reaped, negative when it could not be started.
 */
int sandbox_run(const struct sandbox *sb, int abort_fd, int grace_ms, struct sandbox_result *res);

/*
 * sandbox_run() with its input and output and a timeout as `io` says (the
 * smoke tests' runner): res->timed_out when the timeout stopped it. Once
 * the command has ended, what it left in its process group is killed and
 * the output's rest read without waiting for a descendant that left it.
 */
int sandbox_exec(const struct sandbox *sb, const struct sandbox_io *io, struct sandbox_result *res);

/*
 * Whether the host has a GPU driver, found as sandbox_prepare() finds it
 * (`driver_dirs`, else /usr/local/nvidia/lib64, else `ldconfig -p`, looked
 * at only when nvidia-smi, /usr/local/nvidia/lib64 or /dev/nvidiactl shows
 * a driver): the number of its libraries, 0 when none; *note (newly
 * allocated) says where from, or why none. Never fails.
 */
int sandbox_find_driver(const struct vec *driver_dirs, const struct vec *driver_sonames,
			char **note);

#endif
