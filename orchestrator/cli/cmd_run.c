#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/image_opts.h"
#include "core/inspect.h"
#include "core/knowledge.h"
#include "core/rootfs.h"
#include "core/sandbox.h"
#include "util/signals.h"
#include "util/strbuf.h"

/*
 * run: unpack an image (any source inspect reads) into a temporary
 * directory and run a command in it without an engine (bubblewrap, or
 * chroot in a mount namespace), with the host's GPU driver bound in when
 * there is one. The command's exit code is run's own; run's failures are
 * 125, 126 and 127 as `docker run` has them. Nothing is left behind, after
 * SIGINT or SIGTERM too.
 */

static const char *image_name;
static struct vec cmd = VEC_INIT(free);
static const char *source_arg;
static const char *platform_arg;
static const char *docker_path;
static const char *gpu_arg;
static const char *sandbox_arg;
static struct vec driver_dirs = VEC_INIT(free);
static struct vec env_args = VEC_INIT(free);
static struct vec plugin_dirs = VEC_INIT(free);
static int keep;
static int verbose;

static const struct cli_opt run_opts[] = {
    {CLI_OPT_ARG, "image", 0, &image_name, "IMAGE",
     "an image ref, a docker-save tar or an OCI layout directory", CLI_REQUIRED},
    {CLI_OPT_ARGS, "command", 0, &cmd, "COMMAND",
     "after '--': what to run (default: the image's Entrypoint and Cmd)", 0},
    {CLI_OPT_VALUE, "gpu", 0, &gpu_arg, "auto|on|off",
     "bind the host's GPU driver in: when found (default), always, never", 0},
    {CLI_OPT_LIST, "driver-dir", 0, &driver_dirs, "DIR",
     "the driver's libraries are in DIR (e.g. /usr/local/nvidia/lib64)", 0},
    {CLI_OPT_VALUE, "sandbox", 0, &sandbox_arg, "auto|bwrap|chroot",
     "how to enter the tree (default: chroot as root, else bwrap, else chroot in a user "
     "namespace)",
     0},
    {CLI_OPT_LIST, "env", 'e', &env_args, "K=V", "set an environment variable", 0},
    {CLI_OPT_SWITCH, "keep", 0, &keep, NULL, "keep the unpacked tree and say where it is", 0},
    {CLI_OPT_SWITCH, "verbose", 'v', &verbose, NULL,
     "say on stderr what was unpacked, the runner and the driver", 0},
    {CLI_OPT_VALUE, "source", 0, &source_arg, "SOURCE",
     "auto (default), engine, registry, archive or oci", 0},
    {CLI_OPT_VALUE, "platform", 0, &platform_arg, "OS/ARCH[/VARIANT]",
     "the platform's image of a multi-platform one (default linux/amd64)", 0},
    {CLI_OPT_VALUE, "docker", 0, &docker_path, "PATH", "the docker client to use", 0},
    {CLI_OPT_LIST, "plugins", 0, &plugin_dirs, "DIR", "also load knowledge plugins from DIR", 0},
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_choice(const char *opt, const char *arg, const char *const *names, int *out)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(arg, names[i])) {
			*out = i;
			return 0;
		}
	cli_error("--%s wants %s, %s or %s, not '%s'", opt, names[0], names[1], names[2], arg);
	return -1;
}

int cmd_run(int argc, char **argv)
{
	static const char *const gpus[] = {"auto", "on", "off", NULL};
	static const char *const sandboxes[] = {"auto", "bwrap", "chroot", NULL};
	struct knowledge *kb = NULL;
	struct image_opts io;
	struct rootfs_opts ro;
	struct rootfs_stats st;
	struct sandbox_opts so;
	struct sandbox sb;
	struct sandbox_result res;
	json_t *config = NULL;
	char *tmp = NULL, *root = NULL;
	const char *tmpdir = getenv("TMPDIR");
	int sigfd, ret, code = RUN_EXIT_SELF, gpu = 0, kind = 0;
	double t0 = now();

	sandbox_init(&sb);
	ret = cli_parse(cli_find_cmd("run"), run_opts, argc, argv);
	if (ret) {
		vec_release(&cmd);
		vec_release(&driver_dirs);
		vec_release(&env_args);
		vec_release(&plugin_dirs);
		return ret < 0 ? EXIT_OK : RUN_EXIT_SELF;
	}
	memset(&io, 0, sizeof(io));
	if (cli_image_source(&io.source, source_arg, platform_arg) < 0)
		goto done;
	if ((gpu_arg && parse_choice("gpu", gpu_arg, gpus, &gpu) < 0) ||
	    (sandbox_arg && parse_choice("sandbox", sandbox_arg, sandboxes, &kind) < 0))
		goto done;
	for (size_t i = 0; i < env_args.nr; i++)
		if (!strchr(env_args.items[i], '=') || *(const char *)env_args.items[i] == '=') {
			cli_error("--env wants K=V, not '%s'", (const char *)env_args.items[i]);
			goto done;
		}
	if (knowledge_load(&kb, &plugin_dirs) < 0) {
		cli_error_last();
		goto done;
	}
	if (signals_install() < 0) {
		cli_error_last();
		goto done;
	}
	sigfd = signals_fd();

	tmp = xstrfmt("%s/gpuslim-run-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(tmp)) {
		cli_error("cannot create a temporary directory '%s': %s", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto done;
	}
	root = xstrfmt("%s/rootfs", tmp);
	if (mkdir(root, 0755) < 0) {
		cli_error("cannot create '%s': %s", root, strerror(errno));
		goto done;
	}

	io.docker = docker_path ? docker_path : getenv("GPUSLIM_DOCKER");
	io.platform = platform_arg;
	io.abort_fd = &sigfd;
	memset(&ro, 0, sizeof(ro));
	ro.image = &io;
	ro.spool_dir = tmp;
	ro.keep_owner = geteuid() == 0;
	ret = rootfs_unpack(image_name, &ro, root, &config, &st);
	if (signals_caught())
		goto done;
	if (ret < 0) {
		cli_error_last();
		goto done;
	}
	if (verbose)
		fprintf(stderr,
			"gpuslim run: unpacked '%s' into %s: %llu layers, %llu files, %.1f MB "
			"in %.2fs\n",
			image_name, root, (unsigned long long)st.layers,
			(unsigned long long)st.files, (double)st.bytes / 1e6, now() - t0);

	memset(&so, 0, sizeof(so));
	so.root = root;
	so.config = config;
	so.cmd = &cmd;
	so.env = &env_args;
	so.driver_dirs = &driver_dirs;
	so.driver_sonames = &kb->driver_sonames;
	so.kind = (enum sandbox_kind)kind;
	so.gpu = (enum sandbox_gpu)gpu;
	ret = sandbox_prepare(&sb, &so);
	if (ret < 0) {
		cli_error_last();
		code = ret == GS_ENOTFOUND ? RUN_EXIT_NOT_FOUND : RUN_EXIT_SELF;
		goto done;
	}
	if (verbose)
		for (size_t i = 0; i < sb.notes.nr; i++)
			fprintf(stderr, "gpuslim run: %s\n", (const char *)sb.notes.items[i]);
	ret = sandbox_run(&sb, sigfd, 5000, &res);
	if (ret < 0) {
		cli_error_last();
		code = res.exited && res.exit_code ? res.exit_code : RUN_EXIT_SELF;
		goto done;
	}
	if (res.interrupted)
		goto done;
	code = res.exited ? res.exit_code : 128 + res.signal;

done:
	if (tmp && keep) {
		fprintf(stderr, "gpuslim run: kept the unpacked tree in %s\n", root);
	} else if (tmp && rootfs_remove_tree(tmp) < 0) {
		cli_error_last();
		if (!code)
			code = RUN_EXIT_SELF;
	}
	if (signals_caught())
		code = cli_interrupted(signals_caught());
	signals_uninstall();
	free(tmp);
	free(root);
	json_decref(config);
	sandbox_release(&sb);
	knowledge_free(kb);
	vec_release(&cmd);
	vec_release(&driver_dirs);
	vec_release(&env_args);
	vec_release(&plugin_dirs);
	return cli_finish_stdout(code);
}
