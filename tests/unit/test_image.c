/*
 * Reading images from every source: synthetic docker-save archives and OCI
 * layouts made by tests/fake/image_tars.py (plain, gzip, zstd layers;
 * hostile tars). No engine: a real image through the engine, a docker-save
 * file, both registries and an OCI layout is tests/integration/engine_real.c.
 *
 *   build/tests/test_image                run the tests
 *   build/tests/test_image --list IMAGE   list every entry (for timing)
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/analyze.h"
#include "core/image.h"
#include "core/registry.h"
#include "fake_registry.h"
#include "unit.h"
#include "util/fs.h"
#include "util/process.h"

static char tmp[64];
static char *tars; /* hostile and synthetic archives */
static const char *py = "/usr/bin/python3";
static char script[4096];

/* Run argv (NULL-terminated) quietly; its exit code, -1 when it cannot run. */
static int run(const char *cwd, const char *first, ...)
{
	struct process p;
	struct process_result res;
	va_list ap;
	int rc;

	process_init(&p);
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		vec_pushstr(&p.argv, a);
	va_end(ap);
	p.cwd = cwd;
	p.stdin_null = 1;
	rc = process_run(&p, 600000, &res) < 0 ? -1 : res.exited ? res.exit_code : -1;
	if (rc)
		printf("# '%s' exited %d: %.2000s\n", first, rc, p.out.buf);
	process_release(&p);
	return rc;
}

/* What a walk saw, in a canonical text: layers in image order with their entries. */
struct seen_layer {
	char *diff_id;			 /* at layer_end: NULL when hashed on a thread */
	const struct image_layer *layer; /* its diff_id is final after the walk */
	struct strbuf text;
	int ended;
};

struct collect {
	struct vec layers; /* struct seen_layer * in stream order */
	struct seen_layer *cur;
	int metas, begins, ends;
	int meta_before_layers;
	char *repo_tag;
	int stop_at; /* entry callback fails at this entry (1-based); 0: never */
	int entries;
	int read_all; /* read every file's bytes */
	unsigned long long bytes_read;
};

static void seen_free(void *p)
{
	struct seen_layer *s = p;

	free(s->diff_id);
	strbuf_release(&s->text);
	free(s);
}

static int c_meta(void *ctx, const struct image_meta *m)
{
	struct collect *c = ctx;

	c->metas++;
	c->meta_before_layers = !c->begins;
	if (m->repo_tags.nr && !c->repo_tag)
		c->repo_tag = xstrdup(m->repo_tags.items[0]);
	return 0;
}

static int c_begin(void *ctx, const struct image_layer *l)
{
	struct collect *c = ctx;
	struct seen_layer *s = xcalloc(1, sizeof(*s));

	strbuf_init(&s->text, 0);
	vec_push(&c->layers, s);
	c->cur = s;
	c->begins++;
	return 0;
}

static const char *type_name(enum image_entry_type t)
{
	static const char *names[] = {"file",  "dir",	   "symlink", "hardlink",
				      "other", "whiteout", "opaque"};
	return names[t];
}

static int c_entry(void *ctx, const struct image_layer *l, const struct image_entry *e,
		   struct image_reader *rd)
{
	struct collect *c = ctx;
	struct strbuf *t = &c->cur->text;

	if (c->stop_at && ++c->entries == c->stop_at)
		return error_setc(GS_ERR, "stopped at '%s'", e->path);
	strbuf_addf(t, "%s %s %llu %o", type_name(e->type), e->path, (unsigned long long)e->size,
		    e->mode);
	if (e->link)
		strbuf_addf(t, " -> %s", e->link);
	/* Small files are read whole, from a few reads, to check image_read(). */
	if (e->type == IMAGE_ENTRY_FILE && (c->read_all || e->size <= 64)) {
		char buf[16];
		long n;
		unsigned long long total = 0;

		if (!c->read_all)
			strbuf_addstr(t, " = ");
		while ((n = image_read(rd, buf, sizeof(buf))) > 0) {
			total += (unsigned long long)n;
			if (!c->read_all)
				for (long i = 0; i < n; i++)
					strbuf_addf(t, "%02x", (unsigned char)buf[i]);
		}
		if (n < 0)
			return -1;
		c->bytes_read += total;
	}
	strbuf_addch(t, '\n');
	return 0;
}

static int c_end(void *ctx, const struct image_layer *l)
{
	struct collect *c = ctx;

	c->cur->diff_id = l->diff_id ? xstrdup(l->diff_id) : NULL;
	c->cur->layer = l;
	c->cur->ended = 1;
	c->ends++;
	return 0;
}

static void collect_init(struct collect *c)
{
	memset(c, 0, sizeof(*c));
	vec_init(&c->layers, seen_free);
}

static void collect_release(struct collect *c)
{
	vec_release(&c->layers);
	free(c->repo_tag);
}

/* "layer N sha256:... created_by\n<entries>" for each layer in image order. */
static char *canonical(struct image *img, struct collect *c)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < image_layers_nr(img); i++) {
		const struct image_layer *l = image_get_layer(img, i);

		strbuf_addf(&sb, "layer %zu %s size=%llu files=%llu entries=%llu by=%s\n", l->index,
			    l->diff_id, (unsigned long long)l->size,
			    (unsigned long long)l->files_size, (unsigned long long)l->entries,
			    l->created_by ? l->created_by : "");
		for (size_t j = 0; j < c->layers.nr; j++) {
			struct seen_layer *s = c->layers.items[j];
			const char *d = s->diff_id ? s->diff_id
					: s->layer ? s->layer->diff_id
						   : NULL;

			if (d && !strcmp(d, l->diff_id)) {
				strbuf_addstr(&sb, s->text.buf);
				break;
			}
		}
	}
	return strbuf_detach(&sb, NULL);
}

static struct image_visitor visitor(struct collect *c)
{
	struct image_visitor v = {c, c_meta, c_begin, c_entry, c_end};

	return v;
}

/* Open and walk; the canonical listing, or NULL with the error in *err. */
static char *read_image(const char *name, const struct image_opts *opts, int *code, char **err,
			struct collect *c)
{
	struct image *img = NULL;
	struct image_visitor v = visitor(c);
	char *out = NULL;
	int ret = image_open(name, opts, &img);

	if (!ret)
		ret = image_walk(img, &v);
	if (!ret)
		out = canonical(img, c);
	*code = ret;
	*err = ret ? xstrdup(error_last()) : NULL;
	image_close(img);
	return out;
}

static char *path_in(const char *dir, const char *name)
{
	return xstrfmt("%s/%s", dir, name);
}

static void expect_error(const char *file, enum image_source src, int want_code, const char *want)
{
	struct image_opts o = {0};
	struct collect c;
	char *path = path_in(tars, file), *err = NULL, *out;
	int code;

	o.source = src;
	collect_init(&c);
	out = read_image(path, &o, &code, &err, &c);
	CHECK(!out && code == want_code, "%s: fails with code %d (got %d)", file, want_code, code);
	if (want) {
		const char *at = strstr(want, "%s");
		char *full =
		    at ? xstrfmt("%.*s%s%s", (int)(at - want), want, path, at + 2) : xstrdup(want);

		CHECK_STR(err, full, file);
		free(full);
	}
	free(out);
	free(err);
	free(path);
	collect_release(&c);
}

static const char *small_expected =
    "layer 0 sha256:%s size=10240 files=75 entries=7 by=layer 0\n"
    "dir etc 0 755\n"
    "file etc/hello 6 644 = 68656c6c6f0a\n"
    "file etc/gone 5 644 = 676f6e650a\n"
    "dir opt 0 755\n"
    "dir opt/d 0 755\n"
    "file opt/d/old 4 644 = 6f6c640a\n"
    "file usr/bin/tool 64 755 = "
    "7f454c46000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000\n";

static void test_small_archive(void)
{
	struct image_opts o = {0};
	struct collect c;
	char *path = path_in(tars, "small.tar"), *err = NULL, *out;
	int code;

	collect_init(&c);
	out = read_image(path, &o, &code, &err, &c);
	CHECK(out != NULL, "small.tar: read (%s)", err ? err : "ok");
	if (out) {
		CHECK(strstr(out, "dir etc 0 755\nfile etc/hello 6 644 = 68656c6c6f0a\n") != NULL,
		      "small.tar: layer 0 entries, file bytes through image_read()");
		CHECK(strstr(out, "file usr/bin/tool 64 755") != NULL,
		      "small.tar: './usr' normalized");
		CHECK(strstr(out, "layer 1 ") && strstr(out, "whiteout etc/gone 0 644\n"),
		      "small.tar: '.wh.gone' is a whiteout of etc/gone");
		CHECK(strstr(out, "symlink etc/hello-link 0 644 -> hello\n") != NULL,
		      "small.tar: symlink target as stored");
		CHECK(strstr(out, "hardlink usr/bin/tool2 0 644 -> usr/bin/tool\n") != NULL,
		      "small.tar: hard link target normalized");
		CHECK(strstr(out, "file etc/hello 12 644 = 68656c6c6f20616761696e0a\n") != NULL,
		      "small.tar: overwritten file in layer 1");
		CHECK(strstr(out, "layer 2 ") && strstr(out, "opaque opt/d 0 644\nfile opt/d/new"),
		      "small.tar: '.wh..wh..opq' makes opt/d opaque");
		CHECK(strstr(out, "by=layer 2\n") != NULL, "small.tar: created_by from history");
	}
	CHECK(c.metas == 1 && c.begins == 3 && c.ends == 3 && c.meta_before_layers,
	      "small.tar: meta once, before the layers (a file's documents are read first), "
	      "3 layers");
	CHECK_STR(c.repo_tag, "gpuslim-test/small:1", "small.tar: repo tag from manifest.json");
	free(out);
	free(err);
	free(path);
	collect_release(&c);
	(void)small_expected;
}

/* Every other way of holding the same image reads the same. */
static void test_same_everywhere(const char *save, const char *what)
{
	struct image_opts o = {0};
	struct collect c;
	char *err = NULL, *ref, *other, *dir;
	const char *comps[] = {"none", "gzip", "zstd", "mixed"};
	int code;

	collect_init(&c);
	ref = read_image(save, &o, &code, &err, &c);
	CHECK(ref != NULL, "%s: docker-save archive read (%s)", what, err ? err : "ok");
	collect_release(&c);
	free(err);
	if (!ref)
		return;

	for (size_t i = 0; i < sizeof(comps) / sizeof(*comps); i++) {
		struct image *img = NULL;

		if (!strcmp(comps[i], "zstd") && access("/usr/bin/zstd", X_OK)) {
			SKIP("zstd: no /usr/bin/zstd");
			continue;
		}
		dir = xstrfmt("%s/oci-%s-%s", tmp, what, comps[i]);
		CHECK(!run(NULL, py, script, "oci", save, dir, comps[i], NULL),
		      "%s: OCI layout with %s layers made", what, comps[i]);
		collect_init(&c);
		other = read_image(dir, &o, &code, &err, &c);
		CHECK(other && !strcmp(other, ref),
		      "%s: OCI layout (%s layers) reads the same (%s)", what, comps[i],
		      err ? err : "ok");
		CHECK(c.meta_before_layers, "%s: OCI meta before the layers", what);
		if (!image_open(dir, &o, &img) && !image_walk(img, NULL)) {
			const struct image_layer *l = image_get_layer(img, 0);

			CHECK(l && l->compressed_size > 0 && l->media_type && l->blob_digest,
			      "%s: OCI layer 0 has media type, blob digest and compressed size",
			      what);
			CHECK(image_get_meta(img)->manifest_digest != NULL,
			      "%s: OCI manifest digest", what);
		}
		image_close(img);
		collect_release(&c);
		free(other);
		free(err);
		free(dir);
	}

	/* newer engines' OCI-style save */
	dir = xstrfmt("%s/ocisave-%s.tar", tmp, what);
	CHECK(!run(NULL, py, script, "ocisave", save, dir, NULL), "%s: OCI-style save made", what);
	collect_init(&c);
	other = read_image(dir, &o, &code, &err, &c);
	CHECK(other && !strcmp(other, ref), "%s: OCI-style docker save reads the same (%s)", what,
	      err ? err : "ok");
	collect_release(&c);
	free(other);
	free(err);
	free(dir);

	/* `docker save | gzip`, through a FIFO: nothing may seek */
	dir = xstrfmt("%s/save-%s.tar.gz", tmp, what);
	{
		char *cmd = xstrfmt("gzip -1 -c '%s' > '%s'", save, dir);

		CHECK(!run(NULL, "sh", "-c", cmd, NULL), "%s: gzip'd save made", what);
		free(cmd);
	}
	collect_init(&c);
	other = read_image(dir, &o, &code, &err, &c);
	CHECK(other && !strcmp(other, ref), "%s: gzip'd docker-save reads the same (%s)", what,
	      err ? err : "ok");
	collect_release(&c);
	free(other);
	free(err);
	free(dir);
	{
		char *fifo = xstrfmt("%s/fifo-%s", tmp, what), *cmd;
		struct process feeder;

		mkfifo(fifo, 0600);
		cmd = xstrfmt("cat '%s' > '%s'", save, fifo);
		process_init(&feeder);
		vec_pushstr(&feeder.argv, "sh");
		vec_pushstr(&feeder.argv, "-c");
		vec_pushstr(&feeder.argv, cmd);
		feeder.stdin_null = 1;
		process_start(&feeder);
		o.source = IMAGE_SOURCE_ARCHIVE;
		collect_init(&c);
		other = read_image(fifo, &o, &code, &err, &c);
		CHECK(other && !strcmp(other, ref),
		      "%s: docker-save through a FIFO reads the same (%s)", what, err ? err : "ok");
		o.source = IMAGE_SOURCE_AUTO;
		collect_release(&c);
		process_release(&feeder);
		free(other);
		free(err);
		free(cmd);
		free(fifo);
	}
	free(ref);
}

static void test_hostile(void)
{
	struct image_opts o = {0};
	struct collect c;
	char *path, *err = NULL, *out;
	int code;

#define L                                                                                          \
	"image '%s': layer "                                                                       \
	"'3611763f8791040675b652e570b82081d27f8c8ed7e0790d5d8f4d2f41f1c1cd/layer.tar': "
	expect_error("traversal.tar", IMAGE_SOURCE_AUTO, GS_EINVAL,
		     L "entry '../../etc/passwd' escapes the image root");
	expect_error("absolute-escape.tar", IMAGE_SOURCE_ARCHIVE, GS_EINVAL,
		     L "entry '/../etc/shadow' escapes the image root");
	expect_error("hardlink-escape.tar", IMAGE_SOURCE_ARCHIVE, GS_EINVAL,
		     L
		     "entry 'etc/hl' is a hard link to '../../etc/passwd', outside the image root");
	expect_error("absurd-size.tar", IMAGE_SOURCE_ARCHIVE, GS_EINVAL,
		     L "entry 'huge.bin' claims 1125899906842624 bytes, more than the limit of "
		       "1099511627776");
	expect_error("truncated.tar", IMAGE_SOURCE_ARCHIVE, GS_EINVAL,
		     L "truncated tar (the stream ends after 5536 bytes)");
	expect_error("outer-truncated.tar", IMAGE_SOURCE_ARCHIVE, GS_EINVAL,
		     L "truncated tar (the stream ends after 3072 bytes)");
	expect_error("not-a-tar.tar", IMAGE_SOURCE_ARCHIVE, GS_EINVAL,
		     L "not a tar archive (unrecognized archive format)");
#undef L
	expect_error("no-manifest.tar", IMAGE_SOURCE_ARCHIVE, GS_EINVAL,
		     "image '%s': not a docker-save archive: no manifest.json");
	expect_error("no-config.tar", IMAGE_SOURCE_ARCHIVE, GS_EINVAL,
		     "image '%s': the archive lacks the config "
		     "'1bd23a24a5f894d7eb22529632d7603b52f8d231f2077aa13cad61cde0fc08b4.json'");
	expect_error("garbage.tar", IMAGE_SOURCE_AUTO, GS_EINVAL,
		     "image '%s': not a docker-save archive (unrecognized archive format)");
	expect_error("does-not-exist.tar", IMAGE_SOURCE_ARCHIVE, GS_ENOTFOUND, NULL);

	/* absolute paths are rooted at the image root; loops pass through as links */
	collect_init(&c);
	path = path_in(tars, "absolute.tar");
	out = read_image(path, &o, &code, &err, &c);
	CHECK(out && strstr(out, "file etc/abs 4 644") && strstr(out, "file usr/lib/x 1 644"),
	      "absolute.tar: '/etc/abs' and '//usr///./lib/x' normalized (%s)", err ? err : "ok");
	free(out);
	free(err);
	free(path);
	collect_release(&c);
	collect_init(&c);
	path = path_in(tars, "symlink-loop.tar");
	out = read_image(path, &o, &code, &err, &c);
	CHECK(
	    out &&
		strstr(out, "symlink a 0 644 -> b\nsymlink b 0 644 -> a\nsymlink c 0 644 -> c\n") &&
		strstr(out, "symlink up 0 644 -> ../../../../etc/passwd\n") &&
		strstr(out, "file etc/after 6 644"),
	    "symlink-loop.tar: loops and escaping symlinks pass through as stored (%s)",
	    err ? err : "ok");
	free(out);
	free(err);
	free(path);
	collect_release(&c);
}

/* Limits from the options, and a visitor that stops the walk. */
static void test_limits_and_stop(void)
{
	struct image_opts o = {0};
	struct collect c;
	char *path = path_in(tars, "small.tar"), *err = NULL, *out;
	int code;

	o.max_entries = 3;
	collect_init(&c);
	out = read_image(path, &o, &code, &err, &c);
	CHECK(!out && code == GS_EINVAL && err && strstr(err, ": more than 3 entries"),
	      "max_entries: '%s'", err ? err : "");
	free(err);
	collect_release(&c);

	o.max_entries = 0;
	o.max_entry_size = 10;
	collect_init(&c);
	out = read_image(path, &o, &code, &err, &c);
	CHECK(!out && code == GS_EINVAL && err &&
		  strstr(err, "entry './usr/bin/tool' claims 64 bytes, more than the limit of 10"),
	      "max_entry_size: '%s'", err ? err : "");
	free(err);
	collect_release(&c);

	o.max_entry_size = 0;
	collect_init(&c);
	c.stop_at = 4;
	out = read_image(path, &o, &code, &err, &c);
	CHECK(!out && code == GS_ERR && err && !strcmp(err, "stopped at 'opt'"),
	      "a visitor's error stops the walk and stays the error: '%s'", err ? err : "");
	free(err);
	collect_release(&c);
	free(path);
}

/* No reader writes anything: the hostile archives leave no file anywhere. */
static void test_nothing_written(const char *empty)
{
	const char *never[] = {"/etc/ok",
			       "/etc/abs",
			       "/etc/after",
			       "/etc/hl",
			       "/huge.bin",
			       "/usr/lib/x",
			       "/etc/shadow-gpuslim-test"};
	DIR *d = opendir(empty);
	struct dirent *de;
	int files = 0;

	while (d && (de = readdir(d)))
		files += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	CHECK(d && !files, "the working directory of the reads is still empty");
	for (size_t i = 0; i < sizeof(never) / sizeof(*never); i++)
		CHECK(access(never[i], F_OK) && errno == ENOENT, "'%s' was not created", never[i]);
}

/* ---- issue 7: layouts of other tools, tags, platforms, endless blobs ---- */

/* The canonical listing of `name` equals `want`, or the error has `err_part`. */
static void expect_read(const char *name, const struct image_opts *o, const char *want,
			int want_code, const char *err_part, const char *what)
{
	struct collect c;
	char *err = NULL, *out;
	int code;

	collect_init(&c);
	out = read_image(name, o, &code, &err, &c);
	if (want)
		CHECK(out && !strcmp(out, want), "%s: reads the same (%s)", what, err ? err : "ok");
	else
		CHECK(!out && code == want_code && err && strstr(err, err_part),
		      "%s: fails with %d and '%s' (got %d: '%s')", what, want_code, err_part, code,
		      err ? err : "");
	free(out);
	free(err);
	collect_release(&c);
}

/* skopeo's and podman's docker-archive: and dir:, a layout of several tagged
 * images (umoci repack, two skopeo copies), an archive of several (podman save -m). */
static void test_tool_layouts(const char *save, const char *other)
{
	struct image_opts o = {0};
	struct collect c;
	char *ref, *err = NULL, *da = path_in(tmp, "skopeo-da.tar"), *dir = path_in(tmp, "dirl"),
		   *tags = path_in(tmp, "tags"), *multi = path_in(tmp, "multi.tar"), *name;
	int code;

	collect_init(&c);
	ref = read_image(save, &o, &code, &err, &c);
	collect_release(&c);
	free(err);
	CHECK(!run(NULL, py, script, "dockerarchive", da, save, "gpuslim-test/small:1", NULL) &&
		  !run(NULL, py, script, "dirlayout", save, dir, NULL) &&
		  !run(NULL, py, script, "ocitags", save, tags, NULL) &&
		  !run(NULL, py, script, "dockerarchive", multi, save, "gpuslim-test/small:1",
		       other, "docker.io/gpuslim-test/opq:2", NULL),
	      "layouts of skopeo, podman and umoci made");
	expect_read(da, &o, ref, 0, NULL, "skopeo docker-archive: (layers as <digest>.tar)");
	expect_read(dir, &o, ref, 0, NULL, "skopeo dir: layout");
	expect_read(tags, &o, NULL, GS_EINVAL, "holds 2 images (tags: v1, v2): name one as '",
		    "a layout of two tagged images, no tag given");
	name = xstrfmt("%s:v1", tags);
	expect_read(name, &o, ref, 0, NULL, "LAYOUT:v1 (uncompressed layers)");
	free(name);
	name = xstrfmt("%s:v2", tags);
	expect_read(name, &o, ref, 0, NULL, "LAYOUT:v2 (gzip layers)");
	free(name);
	name = xstrfmt("%s:v3", tags);
	expect_read(name, &o, NULL, GS_ENOTFOUND, "has no tag 'v3' (it has: v1, v2)",
		    "LAYOUT:v3, a tag it lacks");
	free(name);
	expect_read(multi, &o, NULL, GS_EINVAL,
		    "holds 2 images (tags: gpuslim-test/small:1, docker.io/gpuslim-test/opq:2): "
		    "name one as '",
		    "podman save -m archive, no tag given");
	name = xstrfmt("%s:gpuslim-test/small:1", multi);
	expect_read(name, &o, ref, 0, NULL, "ARCHIVE:repo:tag picks one image of several");
	free(name);
	name = xstrfmt("%s:2", multi);
	collect_init(&c);
	free(read_image(name, &o, &code, &err, &c));
	CHECK(!code && c.begins == 2, "ARCHIVE:2 picks the other, reading only its 2 layers (%s)",
	      err ? err : "ok");
	collect_release(&c);
	free(err);
	free(name);
	name = xstrfmt("%s:gpuslim-test/small:1", da);
	expect_read(name, &o, ref, 0, NULL, "ARCHIVE:TAG of a single image");
	free(name);
	name = xstrfmt("%s:nope", da);
	expect_read(name, &o, NULL, GS_ENOTFOUND,
		    "has no tag 'nope' (it has: gpuslim-test/small:1)", "ARCHIVE:TAG it lacks");
	free(name);
	{
		/* compressed (as through a pipe), it is read once: several images
		 * cannot be told apart before their layers come */
		char *gz = path_in(tmp, "multi.tar.gz"),
		     *cmd = xstrfmt("gzip -c '%s' > '%s'", multi, gz);

		CHECK(!run(NULL, "sh", "-c", cmd, NULL), "podman save -m | gzip made");
		expect_read(gz, &o, NULL, GS_EINVAL, "read from a pipe or compressed",
			    "several images, compressed");
		free(cmd);
		free(gz);
	}
	free(ref);
	free(da);
	free(dir);
	free(tags);
	free(multi);
}

/* The architecture of the config `name` opens to with `platform`, or NULL with *err. */
static char *arch_of(const char *name, const char *platform, int *code, char **err)
{
	struct image_opts o = {0};
	struct image *img = NULL;
	char *arch = NULL;

	o.platform = platform;
	*err = NULL;
	*code = image_open(name, &o, &img);
	if (!*code)
		*code = image_walk(img, NULL);
	if (!*code)
		arch = xstrdup(json_string_value(
		    json_object_get(image_get_meta(img)->config, "architecture")));
	else
		*err = xstrdup(error_last());
	image_close(img);
	return arch;
}

static void expect_arch(const char *name, const char *platform, const char *want_arch,
			const char *want_err, const char *what)
{
	char *err, *arch;
	int code;

	arch = arch_of(name, platform, &code, &err);
	if (want_arch) {
		CHECK_STR(arch, want_arch, what);
	} else {
		char *full = xstrfmt("image '%s' %s", name, want_err);

		CHECK(code == GS_ENOTFOUND, "%s: GS_ENOTFOUND (%d)", what, code);
		CHECK_STR(err, full, what);
		free(full);
	}
	free(arch);
	free(err);
}

/* --platform: an index of two platforms, and an image of one. */
static void test_platforms(const char *save)
{
	char *plat = path_in(tmp, "plat");
	const char *bad[] = {"linux",	    "linux/",	      "/amd64",	     "linux//amd64",
			     "Linux/amd64", "linux/arm/v7/x", "linux amd64", ""};

	CHECK(!run(NULL, py, script, "ociplatforms", save, plat, NULL), "two-platform layout made");
	expect_arch(plat, NULL, "amd64", NULL, "no --platform: linux/amd64");
	expect_arch(plat, "linux/arm64", "arm64", NULL, "--platform linux/arm64 (index says v8)");
	expect_arch(plat, "linux/arm64/v8", "arm64", NULL, "--platform linux/arm64/v8");
	expect_arch(plat, "linux/s390x", NULL,
		    "has no manifest for platform 'linux/s390x' (it has: linux/amd64, "
		    "linux/arm64/v8)",
		    "--platform linux/s390x: the error names what it has");
	expect_arch(save, "linux/amd64", "amd64", NULL, "an amd64 archive, --platform linux/amd64");
	expect_arch(save, "linux/arm64", NULL,
		    "has no manifest for platform 'linux/arm64' (it has: linux/amd64)",
		    "an amd64 archive, --platform linux/arm64: its config decides");
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		CHECK(image_check_platform(bad[i]) == GS_EINVAL &&
			  strstr(error_last(), "--platform wants OS/ARCH[/VARIANT]"),
		      "--platform '%s' refused", bad[i]);
	CHECK(!image_check_platform("linux/arm/v7") && !image_check_platform("windows/amd64"),
	      "--platform linux/arm/v7, windows/amd64 taken");
	free(plat);
}

/* Run a read in a child whose only way to end, when the reader ignores the
 * descriptor's size, is the alarm: a fixed reader answers at once, and the
 * alarm only turns the old hang into a failure instead of a stuck suite. */
static void expect_bounded(const char *name, const struct image_opts *o, int want_code,
			   const char *err_part, const char *what)
{
	int fds[2], status = 0;
	char buf[4096];
	ssize_t n, len = 0;
	pid_t pid;

	if (pipe(fds) < 0) {
		CHECK(0, "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct collect c;
		char *err = NULL, *out, *msg;
		int code;

		close(fds[0]);
		alarm(300);
		collect_init(&c);
		out = read_image(name, o, &code, &err, &c);
		msg = xstrfmt("%d %s", out ? 0 : code, err ? err : "");
		if (write(fds[1], msg, strlen(msg)) < 0)
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	while (pid > 0 && (n = read(fds[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
		len += n;
	buf[len] = 0;
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	CHECK(pid > 0 && WIFEXITED(status) && atoi(buf) == want_code && strstr(buf, err_part),
	      "%s: ends with %d and '%s' (got '%s'%s)", what, want_code, err_part, buf,
	      WIFSIGNALED(status) ? ", killed: it never ended" : "");
}

/* A fresh copy of the layout `from` as `name` under tmp. */
static char *layout_copy(const char *from, const char *name)
{
	char *to = path_in(tmp, name);

	run(NULL, "rm", "-rf", to, NULL);
	run(NULL, "cp", "-a", from, to, NULL);
	return to;
}

/* The path of layer `i`'s blob in an OCI layout made by image_tars.py. */
static char *layer_blob(const char *layout, size_t i)
{
	struct image_opts o = {0};
	struct image *img = NULL;
	char *path = NULL;

	if (!image_open(layout, &o, &img) && !image_walk(img, NULL) && image_get_layer(img, i))
		path =
		    xstrfmt("%s/blobs/sha256/%s", layout, image_get_layer(img, i)->blob_digest + 7);
	image_close(img);
	return path;
}

/* Endless and lying blobs in an OCI layout: read no further than the
 * descriptor says, refuse what is not a regular file, measure sizes. */
static void test_endless_layout(const char *save)
{
	static const struct {
		const char *what, *size, *err, *desc;
	} lies[] = {
	    {"layer0", "10", "the blob is larger than its descriptor's size of 10 bytes",
	     "a descriptor size below the blob's"},
	    {"layer0", "4611686018427387904", "bytes, its descriptor says 4611686018427387904",
	     "a descriptor size of 2^62"},
	    {"config", "-5", "the config's descriptor has no valid size", "a negative config size"},
	    {"config", "1000", "bytes, its descriptor says 1000",
	     "a config size that is not its size"},
	    {"layer1", "none", "layer 1's descriptor has no valid size",
	     "a layer descriptor without a size"},
	};
	struct image_opts o = {0};
	char *good = path_in(tmp, "oci-sized"), *dir, *blob;
	struct image *img = NULL;
	struct stat st;

	CHECK(!run(NULL, py, script, "oci", save, good, "gzip", NULL), "gzip layout made");
	blob = layer_blob(good, 0);
	CHECK(blob && !stat(blob, &st) && !image_open(good, &o, &img) && !image_walk(img, NULL) &&
		  image_get_layer(img, 0)->compressed_size == (uint64_t)st.st_size,
	      "a layer's compressed size is its blob's, measured");
	image_close(img);
	free(blob);

	dir = layout_copy(good, "oci-devzero");
	blob = layer_blob(dir, 0);
	CHECK(blob && !unlink(blob) && !symlink("/dev/zero", blob), "layer 0 -> /dev/zero");
	expect_bounded(dir, &o, GS_EINVAL, "' is not a regular file",
		       "a blob that is a symlink to /dev/zero");
	free(blob);
	free(dir);

	dir = layout_copy(good, "oci-fifo");
	blob = layer_blob(dir, 0);
	CHECK(blob && !unlink(blob) && !mkfifo(blob, 0600), "layer 0 is a FIFO");
	expect_bounded(dir, &o, GS_EINVAL, "' is not a regular file", "a blob that is a FIFO");
	free(blob);
	free(dir);

	dir = layout_copy(good, "oci-config-fifo");
	{
		char *cfg = NULL;

		if (!image_open(dir, &o, &img) && !image_walk(img, NULL))
			cfg = xstrfmt("%s/blobs/sha256/%s", dir, image_get_meta(img)->id + 7);
		image_close(img);
		CHECK(cfg && !unlink(cfg) && !mkfifo(cfg, 0600), "the config is a FIFO");
		expect_bounded(dir, &o, GS_EINVAL, "' is not a regular file",
			       "a config that is a FIFO");
		free(cfg);
	}
	free(dir);

	for (size_t i = 0; i < sizeof(lies) / sizeof(*lies); i++) {
		dir = layout_copy(good, "oci-lie");
		CHECK(!run(NULL, py, script, "ocilie", dir, lies[i].what, lies[i].size, NULL),
		      "%s descriptor says size %s", lies[i].what, lies[i].size);
		expect_bounded(dir, &o, GS_EINVAL, lies[i].err, lies[i].desc);
		free(dir);
	}
	free(good);
}

/* The same through a registry: platforms from its index, an endless blob. */
static void test_registry_sizes(const char *save)
{
	static const struct {
		const char *repo, *err, *desc;
	} bad[] = {
	    {"endless/tags:v1", "the blob is larger than its descriptor's size of",
	     "registry: a blob that streams forever stops at its size"},
	    {"ok/lie:latest", "the blob is larger than its descriptor's size of 10",
	     "registry: a blob larger than its descriptor"},
	    {"ok/neg:latest", "the config's descriptor has no valid size",
	     "registry: a negative config size"},
	    {"ok/cfg10:latest", "it is larger than its descriptor's size of 10 bytes",
	     "registry: a config larger than its descriptor"},
	};
	struct process fake;
	char host[64], *root = path_in(tmp, "reg"), *d, *name, *ref, *err = NULL;
	struct image_opts o = {0};
	struct collect c;
	int code;

	fs_mkdir_p(root, 0755);
	d = path_in(root, "tags");
	CHECK(!run(NULL, py, script, "ocitags", save, d, NULL), "registry layouts made");
	free(d);
	d = path_in(root, "plat");
	run(NULL, py, script, "ociplatforms", save, d, NULL);
	free(d);
	d = path_in(root, "lie");
	run(NULL, py, script, "oci", save, d, "gzip", NULL);
	run(NULL, py, script, "ocilie", d, "layer0", "10", NULL);
	free(d);
	d = path_in(root, "neg");
	run(NULL, py, script, "oci", save, d, "gzip", NULL);
	run(NULL, py, script, "ocilie", d, "config", "-1", NULL);
	free(d);
	d = path_in(root, "cfg10");
	run(NULL, py, script, "oci", save, d, "gzip", NULL);
	run(NULL, py, script, "ocilie", d, "config", "10", NULL);
	free(d);
	if (!fake_registry_start(&fake, "registry_image.py", root, tmp, host, sizeof(host))) {
		CHECK(0, "the fake image registry starts");
		process_release(&fake);
		free(root);
		return;
	}
	collect_init(&c);
	ref = read_image(save, &o, &code, &err, &c);
	collect_release(&c);
	free(err);
	o.source = IMAGE_SOURCE_REGISTRY;
	name = xstrfmt("%s/ok/tags:v2", host);
	expect_read(name, &o, ref, 0, NULL, "registry: a tagged image reads the same");
	free(name);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		name = xstrfmt("%s/%s", host, bad[i].repo);
		expect_bounded(name, &o, GS_EINVAL, bad[i].err, bad[i].desc);
		free(name);
	}
	name = xstrfmt("%s/ok/plat:multi", host);
	expect_arch(name, NULL, "amd64", NULL, "registry index: linux/amd64 by default");
	expect_arch(name, "linux/arm64", "arm64", NULL, "registry index: --platform linux/arm64");
	expect_arch(name, "linux/riscv64", NULL,
		    "has no manifest for platform 'linux/riscv64' (it has: linux/amd64, "
		    "linux/arm64/v8)",
		    "registry index: a platform it lacks");
	free(name);
	process_release(&fake);
	free(ref);
	free(root);
}

/* A name that can only be a path and is not there is no registry reference. */
static void test_missing_paths(void)
{
	const char *names[] = {"./missing.tar",	    "../missing",	   "/nonexistent-gpuslim/x",
			       "missing.tar.gz",    "gpuslim-missing.tar", "./missing.tar:v1",
			       "missing.tgz:latest"};
	struct image_opts o = {0};

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		struct image *img = NULL;
		int ret = image_open(names[i], &o, &img);
		char *want = xstrfmt("image '%s': no such file or directory", names[i]);

		CHECK(ret == GS_ENOTFOUND, "'%s': GS_ENOTFOUND (%d)", names[i], ret);
		CHECK_STR(error_last(), want, names[i]);
		image_close(img);
		free(want);
	}
}

/* ".wh..wh..opq" at a layer's root hides all that lower layers put anywhere. */
static void test_opaque_root(void)
{
	struct image_opts o = {0};
	struct analyze_opts ao = {0};
	struct image *img = NULL;
	char *path = path_in(tars, "opaque-root.tar");
	json_t *report = NULL, *summary, *w;

	if (!image_open(path, &o, &img))
		analyze_image(img, &ao, &report);
	image_close(img);
	summary = json_object_get(report, "summary");
	w = json_array_get(json_object_get(report, "wasted"), 0);
	CHECK(json_integer_value(json_object_get(summary, "visible_bytes")) == 4 &&
		  json_integer_value(json_object_get(summary, "files")) == 1,
	      "opaque root: only the upper layer's etc/new is visible");
	CHECK(json_integer_value(json_object_get(summary, "wasted_bytes")) == 79 &&
		  json_integer_value(json_object_get(w, "bytes")) == 79 &&
		  !strcmp(json_string_value(json_object_get(w, "path")), "/") &&
		  !strcmp(json_string_value(json_object_get(w, "reason")), "deleted"),
	      "opaque root: the lower layer's 79 bytes are wasted, deleted at '/'");
	json_decref(report);
	free(path);
}

/* Open and walk with GPUSLIM_HASH_THREADS=threads: the listing (or NULL and the
 * error in *err), and how many layers were hashed on other threads. */
static char *read_threads(const char *path, const char *threads, int read_all, char **err,
			  size_t *apart)
{
	struct image_opts o = {0};
	struct image *img = NULL;
	struct collect c;
	struct image_visitor v;
	char *out = NULL;
	int ret;

	setenv("GPUSLIM_HASH_THREADS", threads, 1);
	collect_init(&c);
	c.read_all = read_all;
	v = visitor(&c);
	ret = image_open(path, &o, &img);
	if (!ret)
		ret = image_walk(img, &v);
	if (!ret)
		out = canonical(img, &c);
	*err = ret ? xstrdup(error_last()) : NULL;
	*apart = img ? image_layers_hashed_apart(img) : 0;
	image_close(img);
	collect_release(&c);
	unsetenv("GPUSLIM_HASH_THREADS");
	return out;
}

/*
 * The layers of a seekable, uncompressed file are hashed on threads while the walk
 * parses them (reading headers and skipping what no visitor reads): the same
 * listing, diff_ids and errors as hashing inline, whatever tar dialect holds them,
 * whether the visitor reads every file's bytes or a few; a compressed file (a
 * stream) is hashed inline.
 */
static void test_hash_apart(const char *small)
{
	const char *fmts[] = {"small", "big", "pax", "gnu", "ocisave", "lie", "cut", "gzip"};

	for (size_t i = 0; i < sizeof(fmts) / sizeof(*fmts); i++)
		for (int read_all = 0; read_all <= 1; read_all++) {
			char *path = xstrfmt("%s/apart-%s.tar", tmp, fmts[i]), *cmd = NULL;
			char *ref, *par, *err_ref = NULL, *err_par = NULL;
			const char *how = read_all ? "every byte read" : "headers read";
			size_t apart_ref = 0, apart_par = 0, want;
			int made;

			if (!strcmp(fmts[i], "small"))
				made = !run(NULL, "cp", small, path, NULL);
			else if (!strcmp(fmts[i], "big"))
				made =
				    !run(NULL, "cp", (cmd = path_in(tars, "big.tar")), path, NULL);
			else if (!strcmp(fmts[i], "ocisave"))
				made = !run(NULL, py, script, "ocisave", small, path, NULL);
			else if (!strcmp(fmts[i], "gzip"))
				made = !run(NULL, "sh", "-c",
					    (cmd = xstrfmt("gzip -1 -c '%s' > '%s'", small, path)),
					    NULL);
			else
				made =
				    !run(NULL, py, script, "reformat", small, path, fmts[i], NULL);
			CHECK(made, "hash apart: %s archive made", fmts[i]);
			ref = read_threads(path, "0", read_all, &err_ref, &apart_ref);
			par = read_threads(path, "3", read_all, &err_par, &apart_par);
			if (!strcmp(fmts[i], "lie") || !strcmp(fmts[i], "cut")) {
				const char *says =
				    fmts[i][0] == 'l' ? "but the config names" : "truncated tar";

				CHECK(!ref && !par && err_ref && err_par &&
					  !strcmp(err_ref, err_par) && strstr(err_ref, says),
				      "hash apart: %s, %s: the same error on threads and inline "
				      "(%s)",
				      fmts[i], how, err_par ? err_par : "no error");
			} else {
				CHECK(
				    ref && par && !strcmp(ref, par),
				    "hash apart: %s, %s: the same listing and diff_ids on threads "
				    "as inline (%s)",
				    fmts[i], how,
				    err_par   ? err_par
				    : err_ref ? err_ref
					      : "ok");
			}
			/* Inline never uses a pool; on threads, every layer of a seekable
			 * plain tar (its blob digest for ocisave's gzip layers), none of a
			 * gzip'd stream; a liar is read whole and judged at the end; a cut
			 * layer fails before its digest is waited for. */
			want = !strcmp(fmts[i], "gzip") || !strcmp(fmts[i], "cut") ? 0
			       : !strcmp(fmts[i], "big")			   ? 2
										   : 3;
			CHECK(apart_ref == 0 && apart_par == want,
			      "hash apart: %s, %s: %zu layers hashed on threads (want %zu), "
			      "inline %zu",
			      fmts[i], how, apart_par, want, apart_ref);
			free(ref);
			free(par);
			free(err_ref);
			free(err_par);
			free(cmd);
			free(path);
		}
}

int main(int argc, char **argv)
{
	char *exe_dir;

	if (argc == 3 && !strcmp(argv[1], "--list")) {
		struct collect c;
		struct image_opts o = {0};
		char *err = NULL, *out;
		int code;

		collect_init(&c);
		c.read_all = getenv("IMAGE_READ_ALL") != NULL;
		out = read_image(argv[2], &o, &code, &err, &c);
		if (!out) {
			fprintf(stderr, "error: %s\n", err);
			return 1;
		}
		fputs(out, stdout);
		free(out);
		collect_release(&c);
		return 0;
	}

	snprintf(tmp, sizeof(tmp), "/tmp/gpuslim-image-test.XXXXXX");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	exe_dir = fs_abspath("tests/fake/image_tars.py");
	snprintf(script, sizeof(script), "%s", exe_dir);
	free(exe_dir);
	tars = path_in(tmp, "tars");
	CHECK(!run(NULL, py, script, "hostile", tars, NULL) &&
		  !run(NULL, py, script, "small", tars, NULL),
	      "fixture archives made");

	test_small_archive();
	{
		char *small = path_in(tars, "small.tar");

		test_same_everywhere(small, "small");
		test_hash_apart(small);
		free(small);
	}
	{
		char *empty = path_in(tmp, "empty"), *cwd = getcwd(NULL, 0);

		fs_mkdir_p(empty, 0755);
		if (!chdir(empty)) {
			test_hostile();
			test_limits_and_stop();
			test_nothing_written(empty);
			if (chdir(cwd))
				perror("chdir");
		}
		free(empty);
		free(cwd);
	}
	{
		char *small = path_in(tars, "small.tar"), *other = path_in(tars, "opaque-root.tar");

		test_tool_layouts(small, other);
		test_platforms(small);
		test_endless_layout(small);
		test_registry_sizes(small);
		free(small);
		free(other);
	}
	test_missing_paths();
	test_opaque_root();

	run(NULL, "rm", "-rf", tmp, NULL);
	free(tars);
	return unit_done();
}
