/*
 * Unpacking images into a directory (core/rootfs.h): docker-save archives
 * crafted here with libarchive, their layers stored in reverse order so
 * that every test also checks that layers are applied in image order.
 * Whiteouts, opaque directories, hard links, and hostile layers that try
 * to write, link or delete outside the directory through symbolic links.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/gate.h"
#include "core/rootfs.h"
#include "core/smoke.h"
#include "core/sandbox.h"
#include "unit.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/strbuf.h"

static char tmp[64];
static json_t *save_config; /* the next save()'s "config" (stolen), or NULL: Env A=1, / */
static char *outside; /* a host directory no layer may touch: holds "target" = "keep" */
static int seq;

/* ---- building archives ---- */

static la_ssize_t sb_write(struct archive *a, void *data, const void *buf, size_t len)
{
	strbuf_add(data, buf, len);
	return (la_ssize_t)len;
}

struct layer {
	struct archive *a;
	struct strbuf bytes;
};

static void layer_start(struct layer *l)
{
	strbuf_init(&l->bytes, 0);
	l->a = archive_write_new();
	archive_write_set_format_pax_restricted(l->a);
	archive_write_set_bytes_in_last_block(l->a, 1);
	archive_write_open(l->a, &l->bytes, NULL, sb_write, NULL);
}

static void add(struct layer *l, const char *path, unsigned type, const char *data,
		const char *link, int hard)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_mtime(e, 1700000000, 0);
	if (hard) {
		archive_entry_set_hardlink(e, link);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, 0);
	} else {
		archive_entry_set_filetype(e, type);
		archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : type == AE_IFLNK ? 0777 : 0640);
		if (link)
			archive_entry_set_symlink(e, link);
		archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
	}
	archive_write_header(l->a, e);
	if (data && !hard)
		archive_write_data(l->a, data, strlen(data));
	archive_entry_free(e);
}

/* A host file's bytes as the regular file `path` (mode 0755); 0 when it cannot be read. */
static int add_host_file(struct layer *l, const char *path, const char *host)
{
	struct archive_entry *e;
	struct strbuf sb = STRBUF_INIT;

	if (fs_read_file(host, &sb, 64u << 20) < 0) {
		strbuf_release(&sb);
		return 0;
	}
	e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_mtime(e, 1700000000, 0);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0755);
	archive_entry_set_size(e, (la_int64_t)sb.len);
	archive_write_header(l->a, e);
	archive_write_data(l->a, sb.buf, sb.len);
	archive_entry_free(e);
	strbuf_release(&sb);
	return 1;
}

#define FILE_(l, p, d)	  add(l, p, AE_IFREG, d, NULL, 0)
#define DIR_(l, p)	  add(l, p, AE_IFDIR, NULL, NULL, 0)
#define SYMLINK(l, p, t)  add(l, p, AE_IFLNK, NULL, t, 0)
#define HARDLINK(l, p, t) add(l, p, 0, NULL, t, 1)

static void layer_finish(struct layer *l)
{
	archive_write_close(l->a);
	archive_write_free(l->a);
}

static void outer_add(struct archive *a, const char *name, const void *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_write_header(a, e);
	archive_write_data(a, data, len);
	archive_entry_free(e);
}

/* A docker-save archive of `n` layers (bottom first), members top layer first; its path. */
static char *save(struct layer *layers, size_t n)
{
	struct archive *a = archive_write_new();
	json_t *diff_ids = json_array(), *config, *manifest, *names = json_array();
	char *path = xstrfmt("%s/image%d.tar", tmp, ++seq), *cfg_text, *man_text, hex[65];
	char *cfg_name;

	for (size_t i = 0; i < n; i++) {
		layer_finish(&layers[i]);
		hash_sha256_hex(layers[i].bytes.buf, layers[i].bytes.len, hex);
		json_array_append_new(diff_ids, json_sprintf("sha256:%s", hex));
		json_array_append_new(names, json_sprintf("%c%zu/layer.tar", 'a', n - i));
	}
	config = json_pack(
	    "{s:s, s:s, s:o, s:{s:s, s:o}}", "architecture", "amd64", "os", "linux", "config",
	    save_config ? save_config : json_pack("{s:[s], s:s}", "Env", "A=1", "WorkingDir", "/"),
	    "rootfs", "type", "layers", "diff_ids", diff_ids);
	save_config = NULL;
	cfg_text = json_dumps(config, JSON_COMPACT);
	hash_sha256_hex(cfg_text, strlen(cfg_text), hex);
	cfg_name = xstrfmt("%s.json", hex);
	manifest = json_pack("[{s:s, s:[s], s:o}]", "Config", cfg_name, "RepoTags", "test/rootfs:1",
			     "Layers", names);
	man_text = json_dumps(manifest, JSON_COMPACT);

	archive_write_set_format_pax_restricted(a);
	archive_write_open_filename(a, path);
	/* "a1" (the top layer) sorts first, as a docker save's directory walk would have it. */
	for (size_t i = n; i-- > 0;) {
		char *name = xstrfmt("a%zu/layer.tar", n - i);

		outer_add(a, name, layers[i].bytes.buf, layers[i].bytes.len);
		free(name);
		strbuf_release(&layers[i].bytes);
	}
	outer_add(a, cfg_name, cfg_text, strlen(cfg_text));
	outer_add(a, "manifest.json", man_text, strlen(man_text));
	archive_write_close(a);
	archive_write_free(a);
	json_decref(config);
	json_decref(manifest);
	free(cfg_text);
	free(man_text);
	free(cfg_name);
	return path;
}

/* ---- unpacking and looking ---- */

/* Unpack into a new directory; its path (the error in *err on failure, NULL otherwise). */
static char *unpack(const char *image, char **err, struct rootfs_stats *st)
{
	struct rootfs_opts o = {0};
	char *dir = xstrfmt("%s/root%d", tmp, ++seq);
	json_t *config = NULL;
	struct rootfs_stats dummy;

	mkdir(dir, 0755);
	o.spool_dir = tmp;
	o.keep_owner = geteuid() == 0;
	*err = NULL;
	if (rootfs_unpack(image, &o, dir, &config, st ? st : &dummy) < 0)
		*err = xstrdup(error_last());
	else if (!json_is_object(config))
		*err = xstrdup("no config");
	json_decref(config);
	return dir;
}

/* The content of dir/rel, or NULL. */
static char *content(const char *dir, const char *rel)
{
	struct strbuf sb = STRBUF_INIT;
	char *p = xstrfmt("%s/%s", dir, rel);
	int ok = fs_read_file(p, &sb, 0) == 0;

	free(p);
	if (!ok) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

static int lexists(const char *dir, const char *rel, mode_t type)
{
	char *p = xstrfmt("%s/%s", dir, rel);
	struct stat st;
	int r = !lstat(p, &st) && (!type || (st.st_mode & S_IFMT) == type);

	free(p);
	return r;
}

static char *link_of(const char *dir, const char *rel)
{
	char *p = xstrfmt("%s/%s", dir, rel), buf[4096];
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);

	free(p);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

static int outside_intact(void)
{
	char *c = content(outside, "target");
	struct stat st;
	char *p = xstrfmt("%s/target", outside);
	int ok = c && !strcmp(c, "keep") && !lstat(p, &st) && st.st_nlink == 1;
	int entries = 0;
	DIR *d = opendir(outside);
	struct dirent *de;

	while (d && (de = readdir(d)))
		entries++;
	if (d)
		closedir(d);
	free(c);
	free(p);
	return ok && entries == 3; /* ".", "..", "target" */
}

static void check_content(const char *dir, const char *rel, const char *want, const char *what)
{
	char *got = content(dir, rel);

	CHECK_STR(got, want, what);
	free(got);
}

/* ---- the tests ---- */

static void test_layers_and_whiteouts(void)
{
	struct layer l[3];
	char *img, *dir, *err, *s;
	struct rootfs_stats st;
	struct stat sb;

	layer_start(&l[0]);
	DIR_(&l[0], "etc");
	FILE_(&l[0], "etc/a", "A");
	FILE_(&l[0], "etc/b", "B");
	DIR_(&l[0], "d");
	DIR_(&l[0], "d/sub");
	FILE_(&l[0], "d/sub/x", "X");
	FILE_(&l[0], "d/old", "O");
	SYMLINK(&l[0], "lnk", "etc/a");
	HARDLINK(&l[0], "hl", "etc/a");
	FILE_(&l[0], "gone-dir/f", "F"); /* a parent that no entry made */
	layer_start(&l[1]);
	FILE_(&l[1], "etc/a", "A2");
	FILE_(&l[1], "etc/.wh.b", "");
	FILE_(&l[1], "d/keep-before", "K"); /* before the marker, same layer: stays */
	FILE_(&l[1], "d/.wh..wh..opq", "");
	FILE_(&l[1], "d/new", "N");
	FILE_(&l[1], ".wh.gone-dir", "");
	FILE_(&l[1], "same", "S");
	FILE_(&l[1], ".wh.same", ""); /* a whiteout hides lower layers only */
	layer_start(&l[2]);
	FILE_(&l[2], "lnk", "now a file"); /* a symbolic link replaced by a file */
	DIR_(&l[2], "etc/a");		   /* a file replaced by a directory */
	img = save(l, 3);
	dir = unpack(img, &err, &st);
	CHECK(!err, "three layers stored top first unpack (%s)", err ? err : "ok");
	CHECK(st.layers == 3, "three layers applied");
	check_content(dir, "etc/b", NULL, "a whiteout deletes the lower layer's file");
	CHECK(lexists(dir, "etc/a", S_IFDIR), "a directory replaces the upper layer's file");
	check_content(dir, "hl", "A", "the hard link keeps the first layer's content");
	CHECK(!lexists(dir, "d/sub", 0) && !lexists(dir, "d/old", 0),
	      "an opaque directory hides the lower layers' entries");
	check_content(dir, "d/new", "N", "an opaque directory keeps its own layer's entries");
	check_content(dir, "d/keep-before", "K", "... also those before the marker");
	CHECK(!lexists(dir, "gone-dir", 0), "a whiteout deletes a whole directory");
	check_content(dir, "same", "S", "a whiteout leaves its own layer's file");
	CHECK(lexists(dir, "lnk", S_IFREG), "a file replaces a symbolic link");
	check_content(dir, "lnk", "now a file", "... with its own content");
	s = xstrfmt("%s/d/new", dir);
	CHECK(!stat(s, &sb) && (sb.st_mode & 07777) == 0640, "a file keeps its mode (0%o)",
	      (unsigned)(sb.st_mode & 07777));
	free(s);
	CHECK(st.whiteouts == 4 && st.hardlinks == 1, "counts: %llu whiteouts, %llu hard links",
	      (unsigned long long)st.whiteouts, (unsigned long long)st.hardlinks);
	CHECK(rootfs_remove_tree(dir) == 0 && !fs_exists(dir), "the tree is removed");
	free(err);
	free(dir);
	free(img);
}

static void test_symlink_parents_resolve_inside(void)
{
	struct layer l[2];
	char *img, *dir, *err, *evil, *s;

	layer_start(&l[0]);
	DIR_(&l[0], "etc");
	SYMLINK(&l[0], "abs", "/");
	SYMLINK(&l[0], "up", "../../../../../../..");
	evil = xstrfmt("%s", outside);
	SYMLINK(&l[0], "out", evil);
	layer_start(&l[1]);
	FILE_(&l[1], "abs/etc/through-abs", "1");
	FILE_(&l[1], "up/through-up", "2");
	img = save(l, 2);
	dir = unpack(img, &err, NULL);
	CHECK(!err, "writing through symbolic links to / and to ../.. unpacks (%s)",
	      err ? err : "ok");
	check_content(dir, "etc/through-abs", "1", "an absolute link resolves inside the root");
	check_content(dir, "through-up", "2", "a link climbing up stops at the root");
	CHECK(!fs_exists("/etc/through-abs") && !fs_exists("/through-up"),
	      "nothing is written on the host");
	s = link_of(dir, "out");
	CHECK_STR(s, evil, "a link to the host's directory is kept as stored");
	free(s);
	CHECK(outside_intact(), "the host directory is untouched");
	rootfs_remove_tree(dir);
	CHECK(outside_intact(), "removing the tree does not follow the link");
	free(err);
	free(dir);
	free(img);

	/* A file through a link to a host directory: "out" resolves to
	 * ROOT/<outside>, which is not there: refused, not written outside. */
	layer_start(&l[0]);
	SYMLINK(&l[0], "out", evil);
	layer_start(&l[1]);
	FILE_(&l[1], "out/target", "pwned");
	img = save(l, 2);
	dir = unpack(img, &err, NULL);
	CHECK(err && strstr(err, "entry 'out/target'"),
	      "writing through a dangling link is refused (%s)", err ? err : "no error");
	CHECK(outside_intact(), "the host file is untouched");
	rootfs_remove_tree(dir);
	free(err);
	free(dir);
	free(img);
	free(evil);
}

static void test_names_are_never_followed(void)
{
	struct layer l[3];
	char *img, *dir, *err, *t = xstrfmt("%s/target", outside);

	layer_start(&l[0]);
	SYMLINK(&l[0], "f", t);	      /* a file named like a link to a host file */
	SYMLINK(&l[0], "d", outside); /* a directory named like a link to a host directory */
	SYMLINK(&l[0], "w", outside);
	SYMLINK(&l[0], "o", outside);
	SYMLINK(&l[0], "s", t);
	layer_start(&l[1]);
	FILE_(&l[1], "f", "pwned");
	DIR_(&l[1], "d");
	FILE_(&l[1], "d/inside", "I");
	FILE_(&l[1], "w/.wh.target", "");   /* a whiteout through a link */
	FILE_(&l[1], "o/.wh..wh..opq", ""); /* an opaque marker through a link */
	HARDLINK(&l[1], "h", "s");	    /* a hard link to the link itself */
	layer_start(&l[2]);
	FILE_(&l[2], "h", "pwned too");
	img = save(l, 3);
	dir = unpack(img, &err, NULL);
	CHECK(!err, "replacing links by files and directories unpacks (%s)", err ? err : "ok");
	check_content(dir, "f", "pwned", "the file replaced the link");
	CHECK(lexists(dir, "d", S_IFDIR), "the directory replaced the link");
	check_content(dir, "d/inside", "I", "... and holds its entry");
	CHECK(lexists(dir, "h", S_IFREG) && lexists(dir, "s", S_IFLNK),
	      "a file over a hard link to a link replaces it, the link stays");
	CHECK(outside_intact(), "the host directory and its file are untouched");
	rootfs_remove_tree(dir);
	free(err);
	free(dir);
	free(img);

	/* A hard link whose target goes through a link to the host. */
	layer_start(&l[0]);
	SYMLINK(&l[0], "o", outside);
	layer_start(&l[1]);
	HARDLINK(&l[1], "h", "o/target");
	img = save(l, 2);
	dir = unpack(img, &err, NULL);
	CHECK(err && strstr(err, "not in the image"), "a hard link to a host file is refused (%s)",
	      err ? err : "no error");
	CHECK(outside_intact(), "the host file keeps one link");
	rootfs_remove_tree(dir);
	free(err);
	free(dir);
	free(img);
	free(t);
}

static void test_escaping_paths(void)
{
	struct layer l[1];
	char *img, *dir, *err;

	layer_start(&l[0]);
	FILE_(&l[0], "../escape", "x");
	img = save(l, 1);
	dir = unpack(img, &err, NULL);
	CHECK(err && strstr(err, "escapes the image root"), "a '../' path is refused (%s)",
	      err ? err : "no error");
	CHECK(!lexists(tmp, "escape", 0), "and not written");
	rootfs_remove_tree(dir);
	free(err);
	free(dir);
	free(img);

	layer_start(&l[0]);
	FILE_(&l[0], "x", "x");
	HARDLINK(&l[0], "h", "../../etc/passwd");
	img = save(l, 1);
	dir = unpack(img, &err, NULL);
	CHECK(err && strstr(err, "outside the image root"),
	      "a hard link out of the root is refused (%s)", err ? err : "no error");
	rootfs_remove_tree(dir);
	free(err);
	free(dir);
	free(img);

	layer_start(&l[0]);
	FILE_(&l[0], "x", "x");
	HARDLINK(&l[0], "h", "missing");
	img = save(l, 1);
	dir = unpack(img, &err, NULL);
	CHECK(err && strstr(err, "entry 'h'") && strstr(err, "not in the image"),
	      "a hard link to nothing names the entry (%s)", err ? err : "no error");
	rootfs_remove_tree(dir);
	free(err);
	free(dir);
	free(img);
}

static void test_mountpoint_and_remove(void)
{
	struct layer l[1];
	char *img, *dir, *err, *real = NULL, *p;
	int rootfd;

	layer_start(&l[0]);
	DIR_(&l[0], "usr");
	DIR_(&l[0], "usr/lib");
	SYMLINK(&l[0], "lib", "usr/lib");
	SYMLINK(&l[0], "usr/lib/libcuda.so.1", outside);
	DIR_(&l[0], "ro");
	FILE_(&l[0], "ro/f", "f");
	img = save(l, 1);
	dir = unpack(img, &err, NULL);
	CHECK(!err, "an image with links unpacks (%s)", err ? err : "ok");
	rootfd = open(dir, O_DIRECTORY | O_RDONLY);
	CHECK(rootfs_mountpoint(rootfd, "lib/libcuda.so.1", 0, &real) == 0,
	      "a mount point through a link");
	CHECK_STR(real, "usr/lib/libcuda.so.1", "is named without the link");
	CHECK(lexists(dir, "usr/lib/libcuda.so.1", S_IFREG), "the link there became a file");
	free(real);
	CHECK(rootfs_mountpoint(rootfd, "new/dir", 1, &real) == 0 &&
		  lexists(dir, "new/dir", S_IFDIR),
	      "a missing mount point directory is made");
	free(real);
	real = NULL;
	CHECK(rootfs_mountpoint(rootfd, "x/../../../../../..", 1, &real) < 0 && !real,
	      "a mount point named '..' is refused, never made above the root (%s)", error_last());
	CHECK(fs_exists(tmp), "... and the directory holding the root is still there");
	CHECK(outside_intact(), "... and the host directory is untouched");
	free(real);
	close(rootfd);
	p = xstrfmt("%s/ro", dir);
	chmod(p, 0500);
	free(p);
	CHECK(rootfs_remove_tree(dir) == 0 && !fs_exists(dir),
	      "a tree with a read-only directory is removed");
	CHECK(outside_intact(), "the host directory is untouched");
	CHECK(rootfs_remove_tree(dir) == 0, "removing what is gone is no error");
	free(err);
	free(dir);
	free(img);
}

/* ---- the rootfs smoke runner (core/smoke.h), on the host's dash ---- */

static struct plan_smoke mk(const char *name, const char *script, int gpu, const char *expect,
			    const char *reject, int any_exit, long timeout)
{
	struct plan_smoke s;

	memset(&s, 0, sizeof(s));
	s.name = xstrdup(name);
	vec_init(&s.run, free);
	if (script) {
		vec_pushstr(&s.run, "sh");
		vec_pushstr(&s.run, "-c");
		vec_pushstr(&s.run, script);
	} else {
		vec_pushstr(&s.run, "/nope");
	}
	s.gpu = gpu;
	s.expect = expect ? xstrdup(expect) : NULL;
	s.reject = reject ? xstrdup(reject) : NULL;
	s.any_exit = any_exit;
	s.timeout = timeout;
	return s;
}

static void smoke_free(struct plan_smoke *s)
{
	free(s->name);
	vec_release(&s->run);
	free(s->expect);
	free(s->reject);
}

static int dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	return d && !n;
}

static void test_smoke_rootfs(void)
{
	struct layer l[2];
	struct plan_smoke t[8];
	struct smoke_opts o;
	struct smoke_gpu gpu;
	struct vec res = VEC_INIT(gate_result_free), dirs = VEC_INIT(free),
		   sonames = VEC_INIT(free);
	char *img, *spool = xstrfmt("%s/smoke-tmp", tmp), *drv = xstrfmt("%s/driver", tmp);
	const struct gate_result *g;
	int pipefd[2], ret;

	/* dash, its libc and the loader; Env, WorkingDir (made by the runner) and User. */
	layer_start(&l[0]);
	DIR_(&l[0], "bin");
	DIR_(&l[0], "etc");
	DIR_(&l[0], "lib");
	DIR_(&l[0], "lib/x86_64-linux-gnu");
	DIR_(&l[0], "lib64");
	if (!add_host_file(&l[0], "bin/sh", "/bin/dash") ||
	    !add_host_file(&l[0], "lib/x86_64-linux-gnu/libc.so.6",
			   "/lib/x86_64-linux-gnu/libc.so.6") ||
	    !add_host_file(&l[0], "lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2")) {
		layer_finish(&l[0]);
		strbuf_release(&l[0].bytes);
		SKIP(
		    "smoke --runner rootfs: no /bin/dash and glibc on this host to build an image");
		goto out;
	}
	FILE_(&l[0], "etc/passwd",
	      "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
	layer_start(&l[1]);
	FILE_(&l[1], "etc/marker", "from the image");
	save_config = json_pack("{s:[s,s], s:s, s:s}", "Env", "A=1", "PATH=/usr/bin:/bin",
				"WorkingDir", "/work", "User", "app");
	img = save(l, 2);

	mkdir(spool, 0755);
	setenv("TMPDIR", spool, 1);
	memset(&gpu, 0, sizeof(gpu));
	gpu.why = xstrdup("none here");
	memset(&o, 0, sizeof(o));
	o.runner = SMOKE_RUNNER_ROOTFS;
	o.image = img;
	o.gpu = &gpu;
	o.abort_fd = -1;
	o.driver_dirs = &dirs;
	o.driver_sonames = &sonames;

	t[0] = mk("env",
		  "test -f /etc/marker && echo \"A=$A pwd=$(pwd) home=$HOME\"; read m "
		  "</etc/marker; read x; "
		  "echo \"stdin=[$x]\"",
		  0, "A=1 pwd=/work home=/home/app", NULL, 0, 0);
	t[1] = mk("exit", "echo boom >&2; exit 3", 0, NULL, NULL, 0, 0);
	t[2] = mk("wrong", "echo torch-cpu: ok", 0, "torch-cpu: wrong", NULL, 0, 0);
	t[3] = mk("reject", "echo 'vadd: error while loading shared libraries: x'; exit 127", 0,
		  NULL, "error while loading shared libraries", 1, 0);
	t[4] = mk("nodriver", "echo 'cudaErrorInsufficientDriver'; exit 2", 0, NULL,
		  "error while loading shared libraries", 1, 0);
	t[5] = mk("missing", NULL, 0, NULL, NULL, 0, 0);
	t[6] = mk("gpu", "echo gpu", 1, NULL, NULL, 0, 0);
	t[7] = mk("spin", "while :; do :; done", 0, NULL, NULL, 0, 1);
	ret = smoke_run(&o, t, 8, &res);
	CHECK(ret == 0 && res.nr == 8, "8 tests, 8 results (%s)", ret ? error_last() : "ok");
	if (res.nr != 8)
		goto done;
	g = res.items[0];
	if (g->status == GATE_FAIL && strstr(g->message, "did not start")) {
		SKIP("smoke --runner rootfs: no sandbox here: %s", g->message);
		goto done;
	}
	/* etc/marker is the upper layer's, 0640 root: user app (1000) may not read it */
	CHECK(g->status == GATE_PASS && g->output &&
		  (geteuid() || strstr(g->output, "cannot open /etc/marker: Permission denied")) &&
		  strstr(g->output, "stdin=[]"),
	      "Env, WorkingDir (made), User and its HOME, both layers, stdin empty: %s | %s",
	      g->message, g->output ? g->output : "");
	g = res.items[1];
	CHECK(g->status == GATE_FAIL && strstr(g->message, "exit 3") && strstr(g->message, "boom"),
	      "a nonzero exit fails and quotes stderr: %s", g->message);
	g = res.items[2];
	CHECK(g->status == GATE_FAIL &&
		  strstr(g->message, "the output lacks 'torch-cpu: wrong' (exit 0): torch-cpu: ok"),
	      "a wrong expect fails, quoting the output: %s", g->message);
	g = res.items[3];
	CHECK(g->status == GATE_FAIL && strstr(g->message, "the output has 'error while loading"),
	      "reject beats any_exit: %s", g->message);
	g = res.items[4];
	CHECK(g->status == GATE_PASS && strstr(g->message, "exit 2 accepted"),
	      "any_exit: the no-driver error passes: %s", g->message);
	g = res.items[5];
	CHECK(g->status == GATE_FAIL && strstr(g->message, "did not start") &&
		  strstr(g->message, "'/nope': no such file in the image"),
	      "a command not in the image: %s", g->message);
	g = res.items[6];
	CHECK(g->status == GATE_SKIP && !strcmp(g->message, "skipped: no GPU (none here)"),
	      "a gpu test without a GPU is skipped: %s", g->message);
	g = res.items[7];
	CHECK(g->status == GATE_FAIL && strstr(g->message, "timed out after 1s"),
	      "a timeout fails: %s", g->message);
	CHECK(dir_empty(spool), "the tree is removed afterwards");

	/* A driver directory: the gpu test runs, the driver bound in (the image has only
	 * /lib/x86_64-linux-gnu); others get none. */
	vec_pushstr(&sonames, "libcuda.so*");
	mkdir(drv, 0755);
	{
		char *f = xstrfmt("%s/libcuda.so.1", drv);

		fs_write_atomic(f, "not really", 10);
		free(f);
	}
	vec_pushstr(&dirs, drv);
	smoke_gpu_release(&gpu);
	smoke_detect_driver(&dirs, &sonames, &gpu);
	CHECK(gpu.available && strstr(gpu.why, "1 library"), "--driver-dir: a driver (%s)",
	      gpu.why);
	vec_release(&res);
	smoke_free(&t[6]);
	smoke_free(&t[0]);
	t[6] = mk("gpu", "test -f /lib/x86_64-linux-gnu/libcuda.so.1 && echo bound", 1, "bound",
		  NULL, 0, 0);
	t[0] = mk("plain", "test -f /lib/x86_64-linux-gnu/libcuda.so.1 || echo none", 0, "none",
		  NULL, 0, 0);
	smoke_run(&o, &t[6], 1, &res);
	smoke_run(&o, &t[0], 1, &res);
	CHECK(res.nr == 2 && ((struct gate_result *)res.items[0])->status == GATE_PASS &&
		  ((struct gate_result *)res.items[1])->status == GATE_PASS,
	      "the driver is bound for a gpu test only: %s / %s",
	      res.nr > 0 ? ((struct gate_result *)res.items[0])->message : "",
	      res.nr > 1 ? ((struct gate_result *)res.items[1])->message : "");
	vec_release(&res);

	/* An interrupt: the unpacking stops, nothing is left. */
	if (pipe(pipefd) == 0) {
		(void)!write(pipefd[1], "x", 1);
		o.abort_fd = pipefd[0];
		ret = smoke_run(&o, &t[0], 1, &res);
		CHECK(ret < 0 && strstr(error_last(), "interrupted"), "an interrupt stops it: %s",
		      error_last());
		CHECK(dir_empty(spool), "nothing left after the interrupt");
		close(pipefd[0]);
		close(pipefd[1]);
	}
done:
	for (size_t i = 0; i < 8; i++)
		smoke_free(&t[i]);
	unsetenv("TMPDIR");
	free(img);
out:
	smoke_gpu_release(&gpu);
	vec_release(&res);
	vec_release(&dirs);
	vec_release(&sonames);
	free(spool);
	free(drv);
}

/* Whiteouts of "." and "..": the reviewer's '.wh...' cleared the directory holding the root. */
static void test_dot_whiteouts_named(void)
{
	static const char *const cases[][2] = {
	    {".wh...", "a whiteout of '..' at the top"},
	    {"a/.wh...", "a whiteout of '..' through a link to '/'"},
	    {".wh..", "a whiteout of '.'"},
	    {"d/.wh...", "a whiteout of '..' in a directory"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct layer l[2];
		char *img, *dir, *err;

		layer_start(&l[0]);
		DIR_(&l[0], "d");
		FILE_(&l[0], "d/f", "f");
		FILE_(&l[0], "keep", "k");
		SYMLINK(&l[0], "a", "/");
		layer_start(&l[1]);
		FILE_(&l[1], cases[i][0], "");
		img = save(l, 2);
		dir = unpack(img, &err, NULL);
		CHECK(err && strstr(err, cases[i][0]) && strstr(err, "whiteout of"),
		      "%s is refused, naming the entry (%s)", cases[i][1], err ? err : "no error");
		CHECK(outside_intact(), "%s: the host directory beside the root is untouched",
		      cases[i][1]);
		CHECK(fs_exists(img), "%s: the image beside the root is still there", cases[i][1]);
		rootfs_remove_tree(dir);
		free(err);
		free(dir);
		free(img);
	}
}

/* Mount points (the working directory, the driver's) never climb out with "..". */
static void test_mountpoint_dots(void)
{
	static const char *const paths[] = {
	    "x/../../outside/target", "x/../../outside/new", "../outside/new", "a/..", ".", "a/./b",
	};
	struct layer l[1];
	char *img, *dir, *err, *real;
	int rootfd;

	layer_start(&l[0]);
	FILE_(&l[0], "f", "f");
	img = save(l, 1);
	dir = unpack(img, &err, NULL);
	CHECK(!err, "a small image unpacks (%s)", err ? err : "ok");
	rootfd = open(dir, O_DIRECTORY | O_RDONLY);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		real = NULL;
		CHECK(rootfs_mountpoint(rootfd, paths[i], i < 2, &real) < 0 && !real,
		      "a mount point '%s' with a dot component is refused", paths[i]);
		free(real);
		CHECK(outside_intact(), "'%s': the host directory is untouched", paths[i]);
	}
	CHECK(!lexists(tmp, "outside/new", 0), "nothing was made beside the root");
	close(rootfd);
	rootfs_remove_tree(dir);
	free(err);
	free(dir);
	free(img);
}

/* The image's WorkingDir is cleaned as Docker does: ".." stops at the root. */
static void test_sandbox_workdir(void)
{
	static const char *const wds[][2] = {
	    {"/x/../../../outside/victim", "/outside/victim"},
	    {"x/../../../../outside/target", "/outside/target"},
	    {"/a/./b//c/..", "/a/b"},
	    {"..", "/"},
	};
	struct layer l[1];
	char *img, *dir, *err;

	layer_start(&l[0]);
	DIR_(&l[0], "bin");
	FILE_(&l[0], "bin/true", "#!/bin/true\n");
	img = save(l, 1);
	dir = unpack(img, &err, NULL);
	CHECK(!err, "a small image unpacks (%s)", err ? err : "ok");
	for (size_t i = 0; i < sizeof(wds) / sizeof(wds[0]); i++) {
		struct sandbox sb;
		struct sandbox_opts o = {0};
		struct vec cmd = VEC_INIT(NULL);
		json_t *cfg = json_pack("{s:{s:[s], s:s}}", "config", "Env", "PATH=/bin",
					"WorkingDir", wds[i][0]);
		char *in;
		int r;

		vec_push(&cmd, (void *)"/bin/true");
		o.root = dir;
		o.config = cfg;
		o.cmd = &cmd;
		o.kind = SANDBOX_CHROOT;
		o.gpu = SANDBOX_GPU_OFF;
		sandbox_init(&sb);
		r = sandbox_prepare(&sb, &o);
		CHECK(r == 0, "WorkingDir '%s' prepares (%s)", wds[i][0], r ? error_last() : "ok");
		CHECK_STR(sb.cwd, wds[i][1], "the working directory is cleaned inside the root");
		in = xstrfmt("%s%s", dir, wds[i][1]);
		CHECK(fs_is_dir(in), "and made there: %s", in);
		CHECK(outside_intact(), "WorkingDir '%s': the host directory is untouched",
		      wds[i][0]);
		free(in);
		sandbox_release(&sb);
		vec_release(&cmd);
		json_decref(cfg);
	}
	rootfs_remove_tree(dir);
	free(err);
	free(dir);
	free(img);
}

/* A user whose uid in the image's /etc/passwd is no number is an error, never uid 0. */
static void test_sandbox_passwd(void)
{
	static const char *const users[][2] = {
	    {"app", "uid 'x1' is not a number"},
	    {"gapp", "gid '' is not a number"},
	    {"0:grp", "/etc/group: line 'grp:x:-1:'"},
	};
	struct layer l[1];
	char *img, *dir, *err;

	layer_start(&l[0]);
	DIR_(&l[0], "bin");
	FILE_(&l[0], "bin/true", "#!/bin/true\n");
	DIR_(&l[0], "etc");
	FILE_(&l[0], "etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:x1:1::/:/bin/sh\ngapp:x:5::::\n");
	FILE_(&l[0], "etc/group", "grp:x:-1:\n");
	img = save(l, 1);
	dir = unpack(img, &err, NULL);
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		struct sandbox sb;
		struct sandbox_opts o = {0};
		struct vec cmd = VEC_INIT(NULL);
		json_t *cfg = json_pack("{s:{s:s}}", "config", "User", users[i][0]);
		int r;

		vec_push(&cmd, (void *)"/bin/true");
		o.root = dir;
		o.config = cfg;
		o.cmd = &cmd;
		o.kind = SANDBOX_CHROOT;
		o.gpu = SANDBOX_GPU_OFF;
		sandbox_init(&sb);
		r = sandbox_prepare(&sb, &o);
		CHECK(r < 0 && strstr(error_last(), users[i][1]),
		      "User '%s' with a broken id is refused, naming the line (%s)", users[i][0],
		      r < 0 ? error_last() : "accepted");
		sandbox_release(&sb);
		vec_release(&cmd);
		json_decref(cfg);
	}
	rootfs_remove_tree(dir);
	free(err);
	free(dir);
	free(img);
}

int main(void)
{
	char *t;

	snprintf(tmp, sizeof(tmp), "/tmp/gpuslim-rootfs-test.XXXXXX");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	outside = xstrfmt("%s/outside", tmp);
	mkdir(outside, 0755);
	t = xstrfmt("%s/target", outside);
	fs_write_atomic(t, "keep", 4);
	free(t);

	/* Twice: with openat2, then with the walk by hand that replaces it on old kernels. */
	for (int walk = 0; walk < 2; walk++) {
		printf("# paths resolved %s\n",
		       walk ? "by hand" : "by openat2 (when the kernel has it)");
		if (walk)
			setenv("GPUSLIM_ROOTFS_NO_OPENAT2", "1", 1);
		test_layers_and_whiteouts();
		test_symlink_parents_resolve_inside();
		test_names_are_never_followed();
		test_escaping_paths();
		test_mountpoint_and_remove();
		test_dot_whiteouts_named();
		test_mountpoint_dots();
		test_sandbox_workdir();
		test_sandbox_passwd();
	}
	unsetenv("GPUSLIM_ROOTFS_NO_OPENAT2");
	test_smoke_rootfs();

	rootfs_remove_tree(tmp);
	free(outside);
	return unit_done();
}
