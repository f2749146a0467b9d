/*
 * The sandbox around an unpacked image: deciding (sandbox_prepare) in the
 * parent, then one fork: either execve(bwrap) or the chroot child below,
 * which does its mounts in its own namespace so that nothing it mounts is
 * ever seen outside, and nothing remains once it is gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/rootfs.h"
#include "core/sandbox.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/strbuf.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static void bind_free(void *p)
{
	struct sandbox_bind *b = p;

	free(b->src);
	free(b->dst);
	free(b);
}

void sandbox_init(struct sandbox *sb)
{
	memset(sb, 0, sizeof(*sb));
	vec_init(&sb->argv, free);
	vec_init(&sb->env, free);
	vec_init(&sb->binds, bind_free);
	vec_init(&sb->notes, free);
}

void sandbox_release(struct sandbox *sb)
{
	free(sb->root);
	free(sb->bwrap);
	vec_release(&sb->argv);
	vec_release(&sb->env);
	free(sb->cwd);
	vec_release(&sb->binds);
	free(sb->gpu_note);
	free(sb->lib_dir);
	vec_release(&sb->notes);
}

/* ---- the image's side: command, environment, user ---- */

/* `path` made absolute and clean, as Go's path.Clean of "/" + path: ".."
 * never climbs above "/". Newly allocated. */
static char *clean_abs_path(const char *path)
{
	struct strbuf out = STRBUF_INIT;
	const char *p = path, *end;

	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		if (n == 2 && !strncmp(p, "..", 2)) {
			char *slash = out.len ? strrchr(out.buf, '/') : NULL;

			if (slash)
				strbuf_setlen(&out, (size_t)(slash - out.buf));
		} else if (n && !(n == 1 && *p == '.')) {
			strbuf_addch(&out, '/');
			strbuf_add(&out, p, n);
		}
		p = end;
	}
	if (!out.len)
		strbuf_addch(&out, '/');
	return strbuf_detach(&out, NULL);
}

static void env_set(struct vec *env, const char *kv)
{
	size_t klen = strcspn(kv, "=");

	for (size_t i = 0; i < env->nr; i++) {
		const char *e = env->items[i];

		if (!strncmp(e, kv, klen) && e[klen] == '=') {
			free(env->items[i]);
			env->items[i] = xstrdup(kv);
			return;
		}
	}
	vec_pushstr(env, kv);
}

static const char *env_get(const struct vec *env, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i < env->nr; i++) {
		const char *e = env->items[i];

		if (!strncmp(e, key, klen) && e[klen] == '=')
			return e + klen + 1;
	}
	return NULL;
}

/* Read a small file of the root (/etc/passwd), resolved inside it; 0 when it is not there. */
static int read_in_root(int rootfd, const char *path, struct strbuf *out)
{
	char buf[4096];
	int fd = rootfs_open(rootfd, path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0 && out->len < (4u << 20))
		strbuf_add(out, buf, (size_t)n);
	close(fd);
	return 1;
}

static int all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 10;
}

/* Field `n` (0-based) of a colon-separated line, into `out`. */
static void field(const char *line, int n, struct strbuf *out)
{
	strbuf_reset(out);
	for (; n > 0 && line; n--) {
		line = strchr(line, ':');
		if (line)
			line++;
	}
	if (line)
		strbuf_add(out, line, strcspn(line, ":\n"));
}

/* The passwd (or group) line whose name (or, numeric, id) is `who`, copied into `line`. */
static int find_entry(const struct strbuf *file, const char *who, struct strbuf *line)
{
	struct strbuf f = STRBUF_INIT;
	int numeric = all_digits(who), found = 0;

	for (const char *p = file->buf; p && *p && !found;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		strbuf_reset(line);
		strbuf_add(line, p, len);
		field(line->buf, numeric ? 2 : 0, &f);
		found = !strcmp(f.buf, who);
		p = nl ? nl + 1 : NULL;
	}
	strbuf_release(&f);
	return found;
}

/* Field `idx` of a passwd or group line as an id into *id; an error naming the file and line if not
 * a number. */
static int id_field(const struct strbuf *line, int idx, const char *file, const char *what,
		    unsigned *id)
{
	struct strbuf f = STRBUF_INIT;
	int ret = 0;

	field(line->buf, idx, &f);
	if (!all_digits(f.buf))
		ret = error_setc(GS_EINVAL, "the image's %s: line '%s': %s '%s' is not a number",
				 file, line->buf, what, f.buf);
	else
		*id = (unsigned)strtoul(f.buf, NULL, 10);
	strbuf_release(&f);
	return ret;
}

/* The image's User ("name", "uid", "name:group", "uid:gid") into uid, gid and HOME. */
static int resolve_user(struct sandbox *sb, int rootfd, const char *user, char **home)
{
	struct strbuf passwd = STRBUF_INIT, group = STRBUF_INIT, line = STRBUF_INIT,
		      f = STRBUF_INIT;
	char *name = xstrdup(user ? user : ""), *grp = strchr(name, ':');
	int ret = 0;

	sb->uid = sb->gid = 0;
	*home = NULL;
	if (grp)
		*grp++ = '\0';
	read_in_root(rootfd, "etc/passwd", &passwd);
	if (*name) {
		if (find_entry(&passwd, name, &line)) {
			if ((ret = id_field(&line, 2, "/etc/passwd", "uid", &sb->uid)) < 0 ||
			    (ret = id_field(&line, 3, "/etc/passwd", "gid", &sb->gid)) < 0)
				goto done;
			field(line.buf, 5, &f);
			if (f.len)
				*home = xstrdup(f.buf);
		} else if (all_digits(name)) {
			sb->uid = (unsigned)strtoul(name, NULL, 10);
			sb->gid = sb->uid ? sb->uid : 0;
		} else {
			ret = error_setc(GS_EINVAL,
					 "the image's user '%s' is not in its /etc/passwd", name);
			goto done;
		}
	}
	if (grp && *grp) {
		read_in_root(rootfd, "etc/group", &group);
		if (find_entry(&group, grp, &line)) {
			if ((ret = id_field(&line, 2, "/etc/group", "gid", &sb->gid)) < 0)
				goto done;
		} else if (all_digits(grp)) {
			sb->gid = (unsigned)strtoul(grp, NULL, 10);
		} else {
			ret = error_setc(GS_EINVAL,
					 "the image's group '%s' is not in its /etc/group", grp);
			goto done;
		}
	}
	if (!*home && !sb->uid && find_entry(&passwd, "0", &line)) {
		field(line.buf, 5, &f);
		if (f.len)
			*home = xstrdup(f.buf);
	}
done:
	strbuf_release(&passwd);
	strbuf_release(&group);
	strbuf_release(&line);
	strbuf_release(&f);
	free(name);
	return ret;
}

static void push_strings(struct vec *v, json_t *arr)
{
	size_t i;
	json_t *s;

	json_array_foreach(arr, i, s) if (json_is_string(s)) vec_pushstr(v, json_string_value(s));
}

/*
 * The command must be in the image: argv[0] with a '/' as it is, else on
 * the image's PATH, resolved inside the root. 127 (GS_ENOTFOUND) when it
 * is not there, as a shell would say.
 */
static int check_command(const struct sandbox *sb, int rootfd)
{
	const char *cmd = sb->argv.items[0], *path = env_get(&sb->env, "PATH");
	struct strbuf cand = STRBUF_INIT;
	struct stat st;
	int found = 0;

	if (strchr(cmd, '/')) {
		int fd = rootfs_open(rootfd, cmd[0] == '/' ? cmd + 1 : cmd, O_PATH);

		/* relative to the working directory: left to the runner */
		found = cmd[0] != '/' || (fd >= 0 && !fstat(fd, &st) && !S_ISDIR(st.st_mode));
		if (fd >= 0)
			close(fd);
	} else {
		for (const char *p = path ? path : DEFAULT_PATH; *p && !found;) {
			size_t len = strcspn(p, ":");
			int fd;

			strbuf_reset(&cand);
			strbuf_add(&cand, p, len);
			strbuf_addf(&cand, "/%s", cmd);
			fd = rootfs_open(rootfd, cand.buf[0] == '/' ? cand.buf + 1 : cand.buf,
					 O_PATH);
			found = fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode);
			if (fd >= 0)
				close(fd);
			p += len;
			if (*p)
				p++;
		}
	}
	strbuf_release(&cand);
	if (!found && strchr(cmd, '/'))
		return error_setc(GS_ENOTFOUND, "'%s': no such file in the image", cmd);
	if (!found)
		return error_setc(GS_ENOTFOUND, "'%s': not found in the image (PATH=%s)", cmd,
				  path ? path : DEFAULT_PATH);
	return 0;
}

/* ---- the host's side: the driver ---- */

static int matches_driver(const struct vec *patterns, const char *name)
{
	for (size_t i = 0; patterns && i < patterns->nr; i++)
		if (!fnmatch(patterns->items[i], name, 0))
			return 1;
	return 0;
}

static int add_bind(struct sandbox *sb, int rootfd, const char *src, const char *dst, int dev,
		    int dir)
{
	struct sandbox_bind *b = xcalloc(1, sizeof(*b));

	b->src = xstrdup(src);
	b->dev = dev;
	if (dev) {
		b->dst = xstrdup(dst); /* under the sandbox's own /dev */
	} else if (rootfs_mountpoint(rootfd, dst, dir, &b->dst) < 0) {
		bind_free(b);
		return -1;
	}
	vec_push(&sb->binds, b);
	return 0;
}

/* The driver's libraries found on the host: real paths and the names to give them. */
struct driver_libs {
	struct vec srcs;  /* realpath()s */
	struct vec names; /* "libcuda.so.1" */
};

static void driver_libs_init(struct driver_libs *dl)
{
	vec_init(&dl->srcs, free);
	vec_init(&dl->names, free);
}

static void driver_libs_release(struct driver_libs *dl)
{
	vec_release(&dl->srcs);
	vec_release(&dl->names);
}

/* The libraries in `dir` that the driver patterns name. */
static int add_driver_dir(struct driver_libs *dl, const char *dir, const struct vec *patterns)
{
	struct vec names = VEC_INIT(free);
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return error_setc(GS_EINFRA, "cannot read the driver directory '%s': %s", dir,
				  strerror(errno));
	while ((de = readdir(d)))
		if (matches_driver(patterns, de->d_name))
			vec_pushstr(&names, de->d_name);
	closedir(d);
	vec_sort(&names, vec_cmpstr);
	for (size_t i = 0; i < names.nr; i++) {
		char *src = xstrfmt("%s/%s", dir, (const char *)names.items[i]), *real;
		struct stat st;

		real = realpath(src, NULL);
		if (real && !stat(real, &st) && S_ISREG(st.st_mode)) {
			vec_push(&dl->srcs, real);
			vec_pushstr(&dl->names, names.items[i]);
			real = NULL;
		}
		free(real);
		free(src);
	}
	vec_release(&names);
	return 0;
}

/* `ldconfig -p`'s x86-64 libraries that the driver patterns name. */
static void add_driver_ldconfig(struct driver_libs *dl, const struct vec *patterns,
				struct strbuf *from)
{
	struct process p;
	struct process_result res;
	char *ldconfig = NULL;

	if (!access("/sbin/ldconfig", X_OK))
		ldconfig = xstrdup("/sbin/ldconfig");
	else if (!(ldconfig = process_find_in_path("ldconfig")))
		return;
	process_init(&p);
	vec_pushstr(&p.argv, ldconfig);
	vec_pushstr(&p.argv, "-p");
	p.stdin_null = 1;
	if (process_run(&p, 30000, &res) < 0 || !res.exited || res.exit_code)
		goto done;
	for (char *line = p.out.buf; line && *line;) {
		char *nl = strchr(line, '\n'), *arrow, *name;

		if (nl)
			*nl = '\0';
		name = line + strspn(line, " \t");
		arrow = strstr(line, " => ");
		if (arrow && strstr(line, "x86-64")) {
			char *end = name + strcspn(name, " ("), *real;
			struct stat st;

			*end = '\0';
			real = realpath(arrow + 4, NULL);
			if (matches_driver(patterns, name) && vec_findstr(&dl->names, name) < 0 &&
			    real && !stat(real, &st) && S_ISREG(st.st_mode)) {
				char *d = fs_dirname(real);

				vec_push(&dl->srcs, real);
				vec_pushstr(&dl->names, name);
				real = NULL;
				if (!strstr(from->buf, d))
					strbuf_addf(from, "%s%s", from->len ? ", " : "", d);
				free(d);
			}
			free(real);
		}
		line = nl ? nl + 1 : NULL;
	}
done:
	error_clear();
	process_release(&p);
	free(ldconfig);
}

#define NO_DRIVER_HINT                                                                             \
	"no nvidia-smi on PATH, no /usr/local/nvidia/lib64, no /dev/nvidiactl, no --driver-dir"

/*
 * The host's driver libraries, looked for only where a driver shows
 * (`driver_dirs`, nvidia-smi on PATH, /usr/local/nvidia/lib64,
 * /dev/nvidiactl): in each driver directory, in /usr/local/nvidia/lib64,
 * else in `ldconfig -p`. 0 with *present unset when nothing shows.
 */
static int find_driver(const struct vec *driver_dirs, const struct vec *patterns,
		       struct driver_libs *dl, struct strbuf *from, int *present)
{
	int have_dirs = driver_dirs && driver_dirs->nr, ret = 0;
	char *smi = process_find_in_path("nvidia-smi");
	struct stat st;

	error_clear();
	*present = have_dirs || smi || fs_is_dir("/usr/local/nvidia/lib64") ||
		   !stat("/dev/nvidiactl", &st);
	free(smi);
	if (!*present)
		return 0;
	for (size_t i = 0; have_dirs && i < driver_dirs->nr && !ret; i++) {
		const char *dir = driver_dirs->items[i];

		ret = add_driver_dir(dl, dir, patterns);
		strbuf_addf(from, "%s%s", from->len ? ", " : "", dir);
	}
	if (!have_dirs && fs_is_dir("/usr/local/nvidia/lib64")) {
		ret = add_driver_dir(dl, "/usr/local/nvidia/lib64", patterns);
		strbuf_addstr(from, "/usr/local/nvidia/lib64");
	}
	if (!ret && !dl->srcs.nr && !have_dirs)
		add_driver_ldconfig(dl, patterns, from);
	return ret;
}

int sandbox_find_driver(const struct vec *driver_dirs, const struct vec *driver_sonames,
			char **note)
{
	struct driver_libs dl;
	struct strbuf from = STRBUF_INIT;
	int present, ret;

	driver_libs_init(&dl);
	ret = find_driver(driver_dirs, driver_sonames, &dl, &from, &present);
	if (ret < 0) {
		*note = xstrdup(error_last());
		error_clear();
		ret = 0;
	} else if (!present) {
		*note = xstrdup("no driver (" NO_DRIVER_HINT ")");
	} else if (!dl.srcs.nr) {
		*note = xstrfmt("no driver library (libcuda.so.1, libnvidia-*.so*) in %s",
				from.len ? from.buf : "ldconfig -p");
	} else {
		ret = (int)dl.srcs.nr;
		*note =
		    xstrfmt("driver from %s: %d librar%s", from.buf, ret, ret == 1 ? "y" : "ies");
	}
	driver_libs_release(&dl);
	strbuf_release(&from);
	return ret;
}

/* The image's library directory for the driver: the multiarch one, else lib64. */
static char *pick_lib_dir(int rootfd)
{
	static const char *dirs[] = {"usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu",
				     "usr/lib64", "lib64"};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		int fd = rootfs_open(rootfd, dirs[i], O_DIRECTORY | O_PATH);

		if (fd >= 0) {
			close(fd);
			return xstrdup(dirs[i]);
		}
	}
	return xstrdup(dirs[0]);
}

static int setup_gpu(struct sandbox *sb, int rootfd, const struct sandbox_opts *o)
{
	struct strbuf from = STRBUF_INIT;
	struct driver_libs dl;
	char *smi = NULL;
	size_t libs = 0, devs = 0;
	int ret = 0, present, have_dirs = o->driver_dirs && o->driver_dirs->nr;
	DIR *d;

	if (o->gpu == SANDBOX_GPU_OFF) {
		sb->gpu_note = xstrdup("off (--gpu off)");
		return 0;
	}
	driver_libs_init(&dl);
	ret = find_driver(o->driver_dirs, o->driver_sonames, &dl, &from, &present);
	if (!ret && !present) {
		if (o->gpu == SANDBOX_GPU_ON)
			ret = error_setc(GS_EINFRA,
					 "--gpu on: no driver here (no nvidia-smi on PATH, no "
					 "/usr/local/nvidia/lib64, no /dev/nvidiactl); name its "
					 "libraries' directory with --driver-dir");
		else
			sb->gpu_note = xstrdup("none (" NO_DRIVER_HINT ")");
		goto done;
	}
	if (ret < 0)
		goto done;
	sb->lib_dir = pick_lib_dir(rootfd);
	for (size_t i = 0; i < dl.srcs.nr && !ret; i++) {
		char *dst = xstrfmt("%s/%s", sb->lib_dir, (const char *)dl.names.items[i]);

		ret = add_bind(sb, rootfd, dl.srcs.items[i], dst, 0, 0);
		free(dst);
		libs++;
	}
	if (ret < 0)
		goto done;
	/* nvidia-smi: beside a driver directory (DIR/../bin), else on PATH. */
	smi = process_find_in_path("nvidia-smi");
	error_clear();
	for (size_t i = 0; have_dirs && i < o->driver_dirs->nr && !smi; i++) {
		char *c = xstrfmt("%s/../bin/nvidia-smi", (const char *)o->driver_dirs->items[i]);

		if (!access(c, X_OK))
			smi = c;
		else
			free(c);
	}
	if (!smi && !access("/usr/local/nvidia/bin/nvidia-smi", X_OK))
		smi = xstrdup("/usr/local/nvidia/bin/nvidia-smi");
	if (smi) {
		char *real = realpath(smi, NULL);

		if (real && (ret = add_bind(sb, rootfd, real, "usr/bin/nvidia-smi", 0, 0)) < 0) {
			free(real);
			goto done;
		}
		free(real);
	}
	if ((d = opendir("/dev"))) {
		struct dirent *de;
		struct vec names = VEC_INIT(free);

		while ((de = readdir(d)))
			if (starts_with(de->d_name, "nvidia"))
				vec_pushstr(&names, de->d_name);
		closedir(d);
		vec_sort(&names, vec_cmpstr);
		for (size_t i = 0; i < names.nr; i++) {
			char *src = xstrfmt("/dev/%s", (const char *)names.items[i]);
			char *dst = xstrfmt("dev/%s", (const char *)names.items[i]);

			add_bind(sb, rootfd, src, dst, 1, 0);
			devs++;
			free(src);
			free(dst);
		}
		vec_release(&names);
	}
	if (!libs && (o->gpu == SANDBOX_GPU_ON || have_dirs)) {
		ret = error_setc(GS_EINFRA, "no driver library (%s) in %s",
				 "libcuda.so.1, libnvidia-*.so*",
				 from.len ? from.buf : "ldconfig -p");
		goto done;
	}
	sb->gpu_note = xstrfmt("driver from %s: %zu librar%s into /%s, %zu device%s%s",
			       from.len ? from.buf : "nowhere", libs, libs == 1 ? "y" : "ies",
			       sb->lib_dir, devs, devs == 1 ? "" : "s", smi ? ", nvidia-smi" : "");
	if (libs) {
		const char *old = env_get(&sb->env, "LD_LIBRARY_PATH");
		char *kv = old && *old ? xstrfmt("LD_LIBRARY_PATH=%s:/%s", old, sb->lib_dir)
				       : xstrfmt("LD_LIBRARY_PATH=/%s", sb->lib_dir);

		env_set(&sb->env, kv);
		free(kv);
	}
done:
	free(smi);
	driver_libs_release(&dl);
	strbuf_release(&from);
	return ret;
}

int sandbox_prepare(struct sandbox *sb, const struct sandbox_opts *o)
{
	json_t *cfg = json_object_get(o->config, "config");
	const char *workdir = json_string_value(json_object_get(cfg, "WorkingDir"));
	const char *user = json_string_value(json_object_get(cfg, "User"));
	char *home = NULL, *real = NULL;
	int rootfd, fd, ret = 0;

	sb->root = xstrdup(o->root);
	rootfd = open(o->root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (rootfd < 0)
		return error_set("cannot open '%s': %s", o->root, strerror(errno));

	if (o->cmd && o->cmd->nr) {
		for (size_t i = 0; i < o->cmd->nr; i++)
			vec_pushstr(&sb->argv, o->cmd->items[i]);
	} else {
		push_strings(&sb->argv, json_object_get(cfg, "Entrypoint"));
		push_strings(&sb->argv, json_object_get(cfg, "Cmd"));
	}
	if (!sb->argv.nr) {
		ret = error_setc(GS_EINVAL, "the image has no Entrypoint or Cmd: give the command "
					    "after '--'");
		goto done;
	}

	push_strings(&sb->env, json_object_get(cfg, "Env"));
	if ((ret = resolve_user(sb, rootfd, user, &home)) < 0)
		goto done;
	if (!env_get(&sb->env, "PATH"))
		env_set(&sb->env, "PATH=" DEFAULT_PATH);
	if (!env_get(&sb->env, "HOME")) {
		char *kv = xstrfmt("HOME=%s", home ? home : "/");

		env_set(&sb->env, kv);
		free(kv);
	}
	for (size_t i = 0; o->env && i < o->env->nr; i++)
		env_set(&sb->env, o->env->items[i]);

	/* The working directory: cleaned as an engine cleans it ("..", "." and empty
	 * components dropped, never above "/"), created when missing. */
	sb->cwd = clean_abs_path(workdir && *workdir ? workdir : "/");
	fd = rootfs_open(rootfd, sb->cwd[0] == '/' ? sb->cwd + 1 : sb->cwd, O_DIRECTORY | O_PATH);
	if (fd >= 0)
		close(fd);
	else if ((ret = rootfs_mountpoint(rootfd, sb->cwd + 1, 1, &real)) < 0)
		goto done;
	free(real);
	real = NULL;

	if ((ret = check_command(sb, rootfd)) < 0)
		goto done;

	/* The runner. */
	sb->kind = o->kind;
	if (sb->kind != SANDBOX_CHROOT) {
		sb->bwrap = process_find_in_path("bwrap");
		error_clear();
	}
	if (sb->kind == SANDBOX_BWRAP && !sb->bwrap) {
		ret = error_setc(GS_EINFRA, "--sandbox bwrap: no 'bwrap' on PATH (Debian's "
					    "bubblewrap package)");
		goto done;
	}
	if (sb->kind == SANDBOX_AUTO)
		sb->kind = geteuid() && sb->bwrap ? SANDBOX_BWRAP : SANDBOX_CHROOT;
	sb->userns = sb->kind == SANDBOX_CHROOT && geteuid() != 0;
	if (sb->kind == SANDBOX_BWRAP)
		vec_pushf(&sb->notes, "runner: bwrap (%s)", sb->bwrap);
	else if (sb->userns)
		vec_pushf(&sb->notes, "runner: chroot in a user namespace (not root%s)%s",
			  sb->bwrap ? "" : ", no bwrap on PATH",
			  sb->uid ? ": the image's user is mapped to the caller, as root" : "");
	else
		vec_pushf(&sb->notes, "runner: chroot in a mount namespace (root)");

	if ((ret = rootfs_mountpoint(rootfd, "dev", 1, &real)) < 0)
		goto done;
	free(real);
	if ((ret = rootfs_mountpoint(rootfd, "proc", 1, &real)) < 0)
		goto done;
	free(real);
	if ((ret = rootfs_mountpoint(rootfd, "sys", 1, &real)) < 0)
		goto done;
	free(real);
	real = NULL;
	if ((ret = setup_gpu(sb, rootfd, o)) < 0)
		goto done;
	vec_pushf(&sb->notes, "gpu: %s", sb->gpu_note);
done:
	free(home);
	free(real);
	close(rootfd);
	return ret;
}

/* ---- running ---- */

/* A failure in the child before exec: "CODE message" on the error pipe, then _exit(CODE). */
static void child_fail(int errfd, int code, const char *what, const char *path)
{
	char msg[PATH_MAX + 256];
	int n = snprintf(msg, sizeof(msg), "%d %s '%s': %s", code, what, path, strerror(errno));
	ssize_t w;

	if (n > 0) {
		w = write(errfd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
		(void)w;
	}
	_exit(code);
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* What the chroot child needs, all allocated before the fork. */
struct chroot_plan {
	const struct sandbox *sb;
	char *uid_map, *gid_map;
	struct vec targets; /* per bind: ROOT/dst */
	char *dev, *shm, *proc, *sys;
	char **argv, **envp;
	struct vec paths; /* argv[0] candidates on PATH */
};

static const char *const basic_devs[] = {"null", "zero", "full", "random", "urandom", "tty"};

static void bind_ro(const char *src, const char *dst, int errfd)
{
	struct statvfs sv;
	unsigned long locked = 0;

	if (mount(src, dst, "none", MS_BIND, NULL) < 0)
		child_fail(errfd, 125, "cannot bind the driver file", dst);
	/* A remount keeps the flags the source's mount has locked (user namespace). */
	if (!statvfs(src, &sv))
		locked =
		    (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0) | (sv.f_flag & ST_NODEV ? MS_NODEV : 0);
	if (mount(NULL, dst, "none",
		  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | locked, NULL) < 0)
		child_fail(errfd, 125, "cannot make the driver file read-only", dst);
}

/* Make the bind mount at `dst` read-only, keeping the flags its source locked. */
static void ro_remount(const char *dst, int errfd)
{
	struct statvfs sv;
	unsigned long locked = 0;

	if (!statvfs(dst, &sv))
		locked = (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0) |
			 (sv.f_flag & ST_NODEV ? MS_NODEV : 0) |
			 (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0);
	if (mount(NULL, dst, "none", MS_REMOUNT | MS_BIND | MS_RDONLY | locked, NULL) < 0)
		child_fail(errfd, 125, "cannot make read-only", dst);
}

/*
 * The signals that stop a command: the sandbox's waiters (the child of run,
 * PID 1) ignore them. run signals the whole process group, the command
 * included, and what the command keeps out of it (setsid) dies with PID 1.
 */
static void ignore_stop_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* As util/process.c's child does: ignored signals stay ignored across exec, masks too. */
static void reset_signals(void)
{
	struct sigaction dfl;
	sigset_t empty;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
}

/* Every descriptor above stderr closed at the exec: nothing of run's reaches the command. */
static void cloexec_from_3(void)
{
#ifdef SYS_close_range
	if (!syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */))
		return;
#endif
	for (int fd = 3; fd < 65536; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/*
 * No capability left to the command: the bounding set emptied (so that no
 * exec gives any back, setuid files included), then the image's user taken
 * (as root, outside a user namespace), then the ambient, inheritable,
 * permitted and effective sets cleared.
 */
static void drop_privileges(const struct sandbox *sb, int errfd)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) > 0 &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			child_fail(errfd, 125, "cannot drop the capabilities in", sb->root);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (!sb->userns && (setgroups(0, NULL) < 0 || setgid(sb->gid) < 0 || setuid(sb->uid) < 0))
		child_fail(errfd, 125, "cannot take the image's user in", sb->root);
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		child_fail(errfd, 125, "cannot drop the capabilities in", sb->root);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(errfd, 125, "cannot set no_new_privs in", sb->root);
}

/* The command, PID 2 of the sandbox's namespace. */
static void exec_command(const struct chroot_plan *cp, int errfd)
{
	int saved_errno = ENOENT;

	reset_signals();
	drop_privileges(cp->sb, errfd);
	cloexec_from_3();
	for (size_t i = 0; i < cp->paths.nr; i++) {
		execve(cp->paths.items[i], cp->argv, cp->envp);
		if (errno != ENOENT && errno != ENOTDIR)
			saved_errno = errno;
	}
	errno = saved_errno;
	child_fail(errfd, errno == ENOENT ? 127 : 126, "cannot run", cp->argv[0]);
}

/* /sys read-only: a fresh sysfs, else (a user namespace) the host's bound and made so. */
static void mount_sys(const char *dst, int errfd)
{
	const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

	if (!mount("sysfs", dst, "sysfs", ro, NULL))
		return;
	if (mount("/sys", dst, "none", MS_BIND | MS_REC, NULL) < 0)
		child_fail(errfd, 125, "cannot bind /sys on", dst);
	if (mount(NULL, dst, "none", MS_REMOUNT | MS_BIND | ro, NULL) < 0)
		child_fail(errfd, 125, "cannot make /sys read-only on", dst);
}

/*
 * PID 1 of the sandbox's PID namespace: the mounts (a fresh /proc shows
 * this namespace only), the chroot, then the command as its child. It
 * reaps whatever is orphaned in there and, once the
 * command is gone hands its wait status up and exits: the kernel then
 * kills everything the command left in the namespace.
 */
static void chroot_init(const struct chroot_plan *cp, int errfd, int statusfd)
{
	const struct sandbox *sb = cp->sb;
	int status = 125 << 8;
	pid_t cmd, w;
	ssize_t n;

	if (mount(NULL, "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail(errfd, 125, "cannot make the mounts private for", sb->root);
	if (mount("tmpfs", cp->dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=65536") < 0)
		child_fail(errfd, 125, "cannot mount a tmpfs on", cp->dev);
	for (size_t i = 0; i < sizeof(basic_devs) / sizeof(basic_devs[0]); i++) {
		char src[64], dst[PATH_MAX];
		int fd;

		snprintf(src, sizeof(src), "/dev/%s", basic_devs[i]);
		snprintf(dst, sizeof(dst), "%s/%s", cp->dev, basic_devs[i]);
		if ((fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0666)) >= 0)
			close(fd);
		if (mount(src, dst, "none", MS_BIND, NULL) < 0 && strcmp(basic_devs[i], "tty"))
			child_fail(errfd, 125, "cannot bind", src);
	}
	for (size_t i = 0; i < sb->binds.nr; i++) {
		const struct sandbox_bind *b = sb->binds.items[i];
		const char *dst = cp->targets.items[i];
		struct stat st;
		int fd;

		if (!b->dev)
			continue;
		if (!stat(b->src, &st) && S_ISDIR(st.st_mode))
			mkdir(dst, 0755);
		else if ((fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0666)) >= 0)
			close(fd);
		if (mount(b->src, dst, "none", MS_BIND | MS_REC, NULL) < 0)
			child_fail(errfd, 125, "cannot bind", b->src);
	}
	mkdir(cp->shm, 01777);
	mount("tmpfs", cp->shm, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	/* A user namespace may not mount a procfs where the host's is partly masked (a
	 * container's): the host's is bound then, seen through an unprivileged user. */
	if (mount("proc", cp->proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
	    (!sb->userns || mount("/proc", cp->proc, "none", MS_BIND | MS_REC, NULL) < 0))
		child_fail(errfd, 125, "cannot mount /proc on", cp->proc);
	mount_sys(cp->sys, errfd);
	/* The host's kernel settings are not the command's to change (root of the
	 * image is uid 0, and sysctls go by uid): /proc/sys and /proc/sysrq-trigger
	 * read-only, as an engine makes them. */
	{
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/sys", cp->proc);
		if (mount(p, p, "none", MS_BIND | MS_REC, NULL) < 0)
			child_fail(errfd, 125, "cannot bind", p);
		ro_remount(p, errfd);
		snprintf(p, sizeof(p), "%s/sysrq-trigger", cp->proc);
		if (!mount(p, p, "none", MS_BIND, NULL))
			ro_remount(p, errfd);
	}
	for (size_t i = 0; i < sb->binds.nr; i++) {
		const struct sandbox_bind *b = sb->binds.items[i];

		if (!b->dev)
			bind_ro(b->src, cp->targets.items[i], errfd);
	}
	if (chroot(sb->root) < 0 || chdir("/") < 0)
		child_fail(errfd, 125, "cannot chroot into", sb->root);
	if (symlink("/proc/self/fd", "/dev/fd") < 0 ||
	    symlink("/proc/self/fd/0", "/dev/stdin") < 0 ||
	    symlink("/proc/self/fd/1", "/dev/stdout") < 0 ||
	    symlink("/proc/self/fd/2", "/dev/stderr") < 0)
		(void)0; /* conveniences, not needs */
	if (chdir(sb->cwd) < 0)
		child_fail(errfd, 125, "cannot enter the working directory", sb->cwd);

	cmd = fork();
	if (cmd < 0)
		child_fail(errfd, 125, "cannot fork in", sb->root);
	if (!cmd) {
		close(statusfd);
		exec_command(cp, errfd);
	}
	close(errfd);
	while ((w = waitpid(-1, &status, 0)) != cmd)
		if (w < 0 && errno != EINTR) {
			status = 125 << 8;
			break;
		}
	n = write(statusfd, &status, sizeof(status));
	(void)n;
	_exit(0);
}

/*
 * The child of run: new mount and PID namespaces (and a user namespace
 * when not root), then PID 1 in them (chroot_init). It waits for that one
 * and exits as the command did; should it
 * be killed, PID 1 is too (PR_SET_PDEATHSIG), and with it the namespace.
 */
static void chroot_child(const struct chroot_plan *cp, int errfd)
{
	const struct sandbox *sb = cp->sb;
	int statusp[2], status = 0, raw = 0;
	ssize_t n = 0, got = 0;
	pid_t init;

	ignore_stop_signals();
	if (unshare(CLONE_NEWNS | CLONE_NEWPID | (sb->userns ? CLONE_NEWUSER : 0)) < 0)
		child_fail(errfd, 125, "cannot enter a new namespace for", sb->root);
	if (sb->userns && (write_file("/proc/self/uid_map", cp->uid_map) < 0 ||
			   write_file("/proc/self/setgroups", "deny") < 0 ||
			   write_file("/proc/self/gid_map", cp->gid_map) < 0))
		child_fail(errfd, 125, "cannot map the user namespace of", sb->root);
	if (pipe2(statusp, O_CLOEXEC) < 0)
		child_fail(errfd, 125, "cannot create a pipe for", sb->root);
	init = fork();
	if (init < 0)
		child_fail(errfd, 125, "cannot fork into the namespace of", sb->root);
	if (!init) {
		close(statusp[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		chroot_init(cp, errfd, statusp[1]);
	}
	close(statusp[1]);
	close(errfd);
	while (got < (ssize_t)sizeof(raw) &&
	       ((n = read(statusp[0], (char *)&raw + got, sizeof(raw) - (size_t)got)) > 0 ||
		(n < 0 && errno == EINTR)))
		got += n > 0 ? n : 0;
	while (waitpid(init, &status, 0) < 0 && errno == EINTR)
		;
	if (got == (ssize_t)sizeof(raw))
		status = raw; /* the command's; else PID 1's own (125 from a failed mount) */
	if (WIFSIGNALED(status)) {
		struct rlimit none = {0, 0};

		setrlimit(RLIMIT_CORE, &none); /* the command dumped core already, if it did */
		reset_signals();
		kill(getpid(), WTERMSIG(status));
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 125);
}

static void chroot_plan_init(struct chroot_plan *cp, const struct sandbox *sb)
{
	const char *path = env_get(&sb->env, "PATH");
	const char *cmd = sb->argv.items[0];

	memset(cp, 0, sizeof(*cp));
	cp->sb = sb;
	cp->uid_map = xstrfmt("0 %u 1\n", (unsigned)geteuid());
	cp->gid_map = xstrfmt("0 %u 1\n", (unsigned)getegid());
	vec_init(&cp->targets, free);
	vec_init(&cp->paths, free);
	for (size_t i = 0; i < sb->binds.nr; i++) {
		const struct sandbox_bind *b = sb->binds.items[i];

		vec_pushf(&cp->targets, "%s/%s", sb->root, b->dst);
	}
	cp->dev = xstrfmt("%s/dev", sb->root);
	cp->shm = xstrfmt("%s/dev/shm", sb->root);
	cp->proc = xstrfmt("%s/proc", sb->root);
	cp->sys = xstrfmt("%s/sys", sb->root);
	cp->argv = xcalloc(sb->argv.nr + 1, sizeof(char *));
	for (size_t i = 0; i < sb->argv.nr; i++)
		cp->argv[i] = sb->argv.items[i];
	cp->envp = xcalloc(sb->env.nr + 1, sizeof(char *));
	for (size_t i = 0; i < sb->env.nr; i++)
		cp->envp[i] = sb->env.items[i];
	if (strchr(cmd, '/')) {
		vec_pushstr(&cp->paths, cmd);
		return;
	}
	for (const char *p = path ? path : DEFAULT_PATH; *p;) {
		size_t len = strcspn(p, ":");

		vec_pushf(&cp->paths, "%.*s/%s", (int)len, len ? p : ".", cmd);
		p += len;
		if (*p)
			p++;
	}
}

static void chroot_plan_release(struct chroot_plan *cp)
{
	free(cp->uid_map);
	free(cp->gid_map);
	vec_release(&cp->targets);
	vec_release(&cp->paths);
	free(cp->dev);
	free(cp->shm);
	free(cp->proc);
	free(cp->sys);
	free(cp->argv);
	free(cp->envp);
}

static void bwrap_argv(const struct sandbox *sb, struct vec *argv)
{
	struct stat st;

	vec_pushstr(argv, sb->bwrap);
	vec_pushstr(argv, "--bind");
	vec_pushstr(argv, sb->root);
	vec_pushstr(argv, "/");
	vec_pushstr(argv, "--dev");
	vec_pushstr(argv, "/dev");
	vec_pushstr(argv, "--proc");
	vec_pushstr(argv, "/proc");
	/* The kernel's settings read-only, as an engine makes them. */
	vec_pushstr(argv, "--ro-bind");
	vec_pushstr(argv, "/proc/sys");
	vec_pushstr(argv, "/proc/sys");
	if (!stat("/sys", &st)) {
		vec_pushstr(argv, "--ro-bind");
		vec_pushstr(argv, "/sys");
		vec_pushstr(argv, "/sys");
	}
	vec_pushstr(argv, "--unshare-pid");
	vec_pushstr(argv, "--die-with-parent");
	/* Always a user namespace and no capability, also when run as root: the
	 * command is never root of the host. */
	vec_pushstr(argv, "--unshare-user");
	vec_pushstr(argv, "--uid");
	vec_pushf(argv, "%u", sb->uid);
	vec_pushstr(argv, "--gid");
	vec_pushf(argv, "%u", sb->gid);
	vec_pushstr(argv, "--cap-drop");
	vec_pushstr(argv, "ALL");
	/* The image's environment is the command's, never bwrap's own (an image's
	 * LD_PRELOAD must not reach a program of the host). */
	vec_pushstr(argv, "--clearenv");
	for (size_t i = 0; i < sb->env.nr; i++) {
		const char *kv = sb->env.items[i], *eq = strchr(kv, '=');

		if (!eq)
			continue;
		vec_pushstr(argv, "--setenv");
		vec_push(argv, xstrndup(kv, (size_t)(eq - kv)));
		vec_pushstr(argv, eq + 1);
	}
	for (size_t i = 0; i < sb->binds.nr; i++) {
		const struct sandbox_bind *b = sb->binds.items[i];

		vec_pushstr(argv, b->dev ? "--dev-bind" : "--ro-bind");
		vec_pushstr(argv, b->src);
		vec_pushf(argv, "/%s", b->dst);
	}
	vec_pushstr(argv, "--chdir");
	vec_pushstr(argv, sb->cwd);
	vec_pushstr(argv, "--");
	for (size_t i = 0; i < sb->argv.nr; i++)
		vec_pushstr(argv, sb->argv.items[i]);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Take what `fd` has into io->output, up to its cap; 0 at EOF. */
static ssize_t take_output(int fd, const struct sandbox_io *io)
{
	char buf[16384];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n > 0) {
		size_t room = io->output_cap && io->output->len < io->output_cap
				  ? io->output_cap - io->output->len
			      : io->output_cap ? 0
					       : (size_t)n;

		strbuf_add(io->output, buf, (size_t)n < room ? (size_t)n : room);
	}
	return n;
}

/*
 * Wait for `pid`, reading its output from `outfd` (or -1), stopping it
 * (SIGTERM, SIGKILL after the grace) when `abort_fd` becomes readable or
 * the timeout passes. It is left unreaped (a zombie), so that its process
 * group cannot be reused before the caller has killed what remains in it.
 */
static int wait_child(pid_t pid, const struct sandbox_io *io, int outfd, struct sandbox_result *res)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), stopping = 0;
	long long deadline = io->timeout_ms > 0 ? mono_ms() + io->timeout_ms : -1, kill_at = -1;
	siginfo_t si;

	for (;;) {
		struct pollfd pfd[3] = {{pidfd, POLLIN, 0},
					{stopping ? -1 : io->abort_fd, POLLIN, 0},
					{outfd, POLLIN, 0}};
		long long now = mono_ms(), until = stopping ? kill_at : deadline;
		int wait = until < 0 ? -1 : until > now ? (int)(until - now) : 0, n;

		if (pidfd < 0 && (wait < 0 || wait > 100))
			wait = 100;
		n = poll(pfd, 3, wait);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && outfd >= 0 && (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    take_output(outfd, io) <= 0)
			outfd = -1; /* EOF: the output is all in */
		now = mono_ms();
		if (!stopping &&
		    ((n > 0 && (pfd[1].revents & POLLIN)) || (deadline >= 0 && now >= deadline))) {
			if (n > 0 && (pfd[1].revents & POLLIN))
				res->interrupted = 1;
			else
				res->timed_out = 1;
			kill(-pid, SIGTERM);
			kill(pid, SIGTERM);
			stopping = 1;
			kill_at = io->grace_ms >= 0 ? now + io->grace_ms : -1;
			continue;
		}
		if (stopping && kill_at >= 0 && now >= kill_at) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			kill_at = -1;
			continue;
		}
		if (pidfd >= 0 && !(n > 0 && (pfd[0].revents & POLLIN)))
			continue;
		if (pidfd < 0) {
			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 &&
			    errno != EINTR)
				break;
			if (si.si_pid != pid)
				continue;
		}
		break;
	}
	if (pidfd >= 0)
		close(pidfd);
	for (;;) {
		memset(&si, 0, sizeof(si));
		if (!waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT))
			break;
		if (errno != EINTR)
			return error_set("cannot wait for the sandbox: %s", strerror(errno));
	}
	/* What the command left running in its group goes with it; then the output's rest
	 * (what is in the pipe: a descendant that left the group is not waited for). */
	kill(-pid, SIGKILL);
	if (outfd >= 0 && fcntl(outfd, F_SETFL, O_NONBLOCK) == 0)
		while (take_output(outfd, io) > 0)
			;
	if (si.si_code == CLD_EXITED) {
		res->exited = 1;
		res->exit_code = si.si_status;
	} else {
		res->signaled = 1;
		res->signal = si.si_status;
	}
	return 0;
}

int sandbox_run(const struct sandbox *sb, int abort_fd, int grace_ms, struct sandbox_result *res)
{
	struct sandbox_io io;

	memset(&io, 0, sizeof(io));
	io.abort_fd = abort_fd;
	io.grace_ms = grace_ms;
	return sandbox_exec(sb, &io, res);
}

int sandbox_exec(const struct sandbox *sb, const struct sandbox_io *io, struct sandbox_result *res)
{
	struct vec argv = VEC_INIT(free);
	struct chroot_plan cp;
	char **bargv = NULL, **envp = NULL, msg[PATH_MAX + 256];
	int errpipe[2],
	    outpipe[2] = {-1, -1}, ret = 0,
	    tty_fg = !io->output && isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
	ssize_t n, got = 0;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	memset(&cp, 0, sizeof(cp));
	if (sb->kind == SANDBOX_BWRAP) {
		bwrap_argv(sb, &argv);
		bargv = xcalloc(argv.nr + 1, sizeof(char *));
		for (size_t i = 0; i < argv.nr; i++)
			bargv[i] = argv.items[i];
		envp = xcalloc(2, sizeof(char *));
		envp[0] = (char *)"PATH=" DEFAULT_PATH;
	} else {
		chroot_plan_init(&cp, sb);
	}
	if (io->output && pipe2(outpipe, O_CLOEXEC) < 0) {
		ret = error_set("cannot create a pipe: %s", strerror(errno));
		goto done;
	}
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		ret = error_set("cannot create a pipe: %s", strerror(errno));
		goto done;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ret = error_set("cannot fork: %s", strerror(errno));
		close(errpipe[0]);
		close(errpipe[1]);
		goto done;
	}
	if (!pid) {
		close(errpipe[0]);
		if (io->output) {
			/* stdin from /dev/null, stdout and stderr into the one pipe */
			int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

			if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
			    dup2(outpipe[1], STDOUT_FILENO) < 0 ||
			    dup2(outpipe[1], STDERR_FILENO) < 0)
				child_fail(errpipe[1], 125, "cannot redirect the output of",
					   sb->root);
		}
		/* Its own process group, so that stopping it stops all it started; the
		 * terminal's foreground when run's was, so that Ctrl-C and input reach it. */
		setpgid(0, 0);
		if (tty_fg) {
			sigset_t block, old;

			sigemptyset(&block);
			sigaddset(&block, SIGTTOU);
			sigprocmask(SIG_BLOCK, &block, &old);
			tcsetpgrp(STDIN_FILENO, getpid());
			sigprocmask(SIG_SETMASK, &old, NULL);
		}
		if (sb->kind == SANDBOX_BWRAP) {
			/* bwrap searches the command on PATH inside: the image's PATH,
			 * --setenv'd there; bwrap itself runs with the host's. */
			reset_signals();
			cloexec_from_3();
			execve(sb->bwrap, bargv, envp);
			child_fail(errpipe[1], 125, "cannot run", sb->bwrap);
		}
		chroot_child(&cp, errpipe[1]);
	}
	setpgid(pid, pid); /* as the child does: whichever runs first */
	close(errpipe[1]);
	if (outpipe[1] >= 0) {
		close(outpipe[1]);
		outpipe[1] = -1;
	}
	/* EOF at the exec (close-on-exec), or the child's reason before it exits. */
	while ((n = read(errpipe[0], msg + got, sizeof(msg) - 1 - (size_t)got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += n;
	}
	close(errpipe[0]);
	msg[got] = '\0';
	ret = wait_child(pid, io, outpipe[0], res);
	/* The child is reaped only now, once its group is killed (wait_child):
	 * its process group id is free again only then. */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (tty_fg) {
		sigset_t block, old;

		sigemptyset(&block);
		sigaddset(&block, SIGTTOU);
		sigprocmask(SIG_BLOCK, &block, &old);
		tcsetpgrp(STDIN_FILENO, getpgrp());
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	if (!ret && got) {
		char *sp = strchr(msg, ' ');

		ret = error_setc(res->exit_code == 127 ? GS_ENOTFOUND : GS_EINFRA, "%s",
				 sp ? sp + 1 : msg);
	}
done:
	if (outpipe[0] >= 0)
		close(outpipe[0]);
	if (outpipe[1] >= 0)
		close(outpipe[1]);
	free(bargv);
	free(envp);
	vec_release(&argv);
	if (sb->kind != SANDBOX_BWRAP)
		chroot_plan_release(&cp);
	return ret;
}
