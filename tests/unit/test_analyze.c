/* The analyzer on synthetic layers: the visitor's callbacks called
 * directly with entries and a fake reader, ELF files compiled here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/analyze_private.h"
#include "core/fsindex.h"
#include "core/gate.h"
#include "core/report.h"
#include "unit.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/strbuf.h"

static char tmp[] = "/tmp/gs-test-analyze.XXXXXX";

struct fake_reader {
	const char *data;
	size_t len, pos;
};

static long fake_read(struct image_reader *rd, void *buf, size_t len)
{
	struct fake_reader *f = (struct fake_reader *)rd;
	size_t n = f->len - f->pos;

	if (n > len)
		n = len;
	if (n > 4096)
		n = 4096; /* short reads, as a real stream */
	memcpy(buf, f->data + f->pos, n);
	f->pos += n;
	return (long)n;
}

/* One tar entry: F file (content or size), X executable file, D dir, L
 * symlink, H hardlink, W whiteout, O opaque. */
struct ent {
	char t;
	const char *path;
	const char *content; /* F: bytes (NULL: `size` zero bytes) */
	size_t size;	     /* F with content: its length (0: strlen) */
};

#define MAX_LAYERS 8
static struct image_layer layers[MAX_LAYERS];
static char diff_ids[MAX_LAYERS][80];

static void feed_layer(struct analysis *an, const struct image_visitor *v, size_t idx,
		       const struct ent *ents)
{
	struct image_layer *l = &layers[idx];
	static char zeros[1 << 16];

	memset(l, 0, sizeof(*l));
	l->index = idx;
	snprintf(diff_ids[idx], sizeof(diff_ids[idx]), "sha256:%064zx", idx + 1);
	v->layer_begin(v->ctx, l);
	for (const struct ent *e = ents; e->t; e++) {
		struct image_entry ie = {e->path, IMAGE_ENTRY_FILE, 0, 0644, NULL, 0, 0};
		struct fake_reader fr = {NULL, 0, 0};

		switch (e->t) {
		case 'X':
			ie.mode = 0755;
			/* fall through */
		case 'F':
			fr.data = e->content ? e->content : zeros;
			fr.len = e->content ? (e->size ? e->size : strlen(e->content)) : e->size;
			ie.size = fr.len;
			break;
		case 'D':
			ie.type = IMAGE_ENTRY_DIR;
			break;
		case 'L':
			ie.type = IMAGE_ENTRY_SYMLINK;
			ie.link = e->content;
			break;
		case 'H':
			ie.type = IMAGE_ENTRY_HARDLINK;
			ie.link = e->content;
			break;
		case 'W':
			ie.type = IMAGE_ENTRY_WHITEOUT;
			break;
		case 'O':
			ie.type = IMAGE_ENTRY_OPAQUE;
			break;
		}
		if (v->entry(v->ctx, l, &ie, (struct image_reader *)&fr) < 0)
			printf("# entry '%s' failed: %s\n", e->path, error_last());
	}
	l->diff_id = diff_ids[idx];
	v->layer_end(v->ctx, l);
	(void)an;
}

static json_t *jget(json_t *root, const char *dotted)
{
	char *copy = xstrdup(dotted), *save = NULL;
	json_t *cur = root;

	for (char *tok = strtok_r(copy, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
		char *end;
		long idx = strtol(tok, &end, 10);

		cur = *end ? json_object_get(cur, tok) : json_array_get(cur, (size_t)idx);
	}
	free(copy);
	return cur;
}

static long long jint_at(json_t *root, const char *dotted)
{
	json_t *v = jget(root, dotted);

	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static json_t *find_by(json_t *arr, const char *key, const char *value)
{
	size_t i;
	json_t *it;

	json_array_foreach(arr, i, it)
	{
		const char *s = json_string_value(json_object_get(it, key));

		if (s && !strcmp(s, value))
			return it;
	}
	return NULL;
}

static int count_rule(json_t *report, const char *rule, const char *severity)
{
	json_t *it;
	size_t i;
	int n = 0;

	json_array_foreach(json_object_get(report, "findings"), i, it)
	{
		if (!strcmp(json_string_value(json_object_get(it, "rule")), rule) &&
		    (!severity ||
		     !strcmp(json_string_value(json_object_get(it, "severity")), severity)))
			n++;
	}
	return n;
}

static void meta_init(struct image_meta *m, size_t nlayers, json_t *config)
{
	memset(m, 0, sizeof(*m));
	m->name = "test/image:1";
	m->source = IMAGE_SOURCE_ARCHIVE;
	m->id = "sha256:feed";
	m->config = config;
	vec_init(&m->diff_ids, NULL);
	vec_init(&m->created_by, NULL);
	vec_init(&m->repo_tags, NULL);
	for (size_t i = 0; i < nlayers; i++) {
		snprintf(diff_ids[i], sizeof(diff_ids[i]), "sha256:%064zx", i + 1);
		vec_push(&m->diff_ids, diff_ids[i]);
	}
}

static void meta_release(struct image_meta *m)
{
	vec_release(&m->diff_ids);
	vec_release(&m->created_by);
	vec_release(&m->repo_tags);
}

/* ---- scenario 1: overwrite, delete file, delete dir, opaque, hardlinks -- */

static void test_waste(void)
{
	struct analyze_opts o = {0};
	struct vec base = VEC_INIT(NULL);
	struct image_meta meta;
	json_t *cfg = json_pack("{s:{s:s},s:[{s:s},{s:s,s:b},{s:s},{s:s}]}", "config", "User",
				"app", "history", "created_by", "ADD rootfs /", "created_by",
				"ENV X=1", "empty_layer", 1, "created_by", "RUN rm -rf /opt/d",
				"created_by", "RUN rm /h/link");
	struct analysis *an;
	struct image_visitor v;
	json_t *r = NULL, *w;
	const struct ent l0[] = {{'D', "usr", 0, 0},
				 {'F', "usr/a", NULL, 100},
				 {'F', "usr/b", NULL, 200},
				 {'D', "opt/d", 0, 0},
				 {'F', "opt/d/x", NULL, 300},
				 {'F', "opt/d/y", NULL, 400},
				 {'F', "keep/k", NULL, 50},
				 {'D', "o", 0, 0},
				 {'F', "o/p", NULL, 60},
				 {'F', "o/sub/q", NULL, 70},
				 {'F', "h/orig", NULL, 500},
				 {'H', "h/link", "h/orig", 0},
				 {0, 0, 0, 0}};
	const struct ent l1[] = {{'F', "usr/a", NULL, 150},
				 {'W', "usr/b", 0, 0},
				 {'W', "opt/d", 0, 0},
				 {'F', "o/new", NULL, 10},
				 {'O', "o", 0, 0},
				 {'W', "h/orig", 0, 0},
				 {0, 0, 0, 0}};
	const struct ent l2[] = {{'W', "h/link", 0, 0}, {0, 0, 0, 0}};

	meta_init(&meta, 3, cfg);
	vec_push(&base,
		 (void *)"sha256:0000000000000000000000000000000000000000000000000000000000000001");
	o.base_diff_ids = &base;
	o.base_name = "test/base:1";
	an = analysis_new(&o, fake_read);
	analysis_visitor(an, &v);
	v.meta(v.ctx, &meta);
	/* Layers arrive out of order: the replay puts them bottom up. */
	feed_layer(an, &v, 2, l2);
	feed_layer(an, &v, 0, l0);
	feed_layer(an, &v, 1, l1);
	CHECK(analysis_report(an, NULL, &r) == 0 && r, "report of the waste scenario (%s)",
	      error_last());
	if (!r)
		goto done;
	CHECK(jint_at(r, "summary.size") == 1840, "size: every layer's file bytes (%lld)",
	      jint_at(r, "summary.size"));
	CHECK(jint_at(r, "summary.wasted_bytes") == 1630,
	      "wasted: overwrite 100 + delete 200 + dir 700 + opaque 130 + last hardlink 500, "
	      "never the kept copy (%lld)",
	      jint_at(r, "summary.wasted_bytes"));
	CHECK(jint_at(r, "layers.0.wasted_bytes") == 1630 &&
		  jint_at(r, "layers.1.wasted_bytes") == 0,
	      "wasted bytes charged to the layer holding the dead copy");
	CHECK(jint_at(r, "summary.files") == 3, "visible files: usr/a keep/k o/new (%lld)",
	      jint_at(r, "summary.files"));
	CHECK(jint_at(r, "summary.visible_bytes") == 210, "visible bytes 150+50+10 (%lld)",
	      jint_at(r, "summary.visible_bytes"));
	w = json_object_get(r, "wasted");
	CHECK_STR(json_string_value(jget(w, "0.path")), "/opt/d", "biggest waste: the deleted dir");
	CHECK(jint_at(w, "0.bytes") == 700 && jint_at(w, "0.by_layer") == 1 &&
		  jint_at(w, "0.layer") == 0,
	      "deleted dir: 700 bytes of layer 0 by layer 1");
	CHECK_STR(json_string_value(jget(w, "0.reason")), "deleted", "reason deleted");
	CHECK(find_by(w, "path", "/h/link") &&
		  jint_at(find_by(w, "path", "/h/link"), "bytes") == 500,
	      "hardlinked content wasted when its last name goes");
	CHECK(!find_by(w, "path", "/h/orig"), "deleting one name of a hardlink wastes nothing");
	CHECK(find_by(w, "path", "/o") && jint_at(find_by(w, "path", "/o"), "bytes") == 130,
	      "opaque dir: the lower layer's 130 bytes");
	CHECK(
	    find_by(w, "path", "/usr/a") &&
		!strcmp(json_string_value(json_object_get(find_by(w, "path", "/usr/a"), "reason")),
			"overwritten") &&
		jint_at(find_by(w, "path", "/usr/a"), "bytes") == 100,
	    "overwrite: the old copy's 100 bytes, not the new 150");
	CHECK(jint_at(r, "summary.base.layers") == 1 && jint_at(r, "summary.base_bytes") == 1680 &&
		  jint_at(r, "summary.own_bytes") == 160,
	      "base: layer 0 by diff_id, 1680 base bytes, 160 own");
	CHECK_STR(json_string_value(jget(r, "summary.base.matched_by")), "digest",
		  "matched_by digest");
	CHECK_STR(json_string_value(jget(r, "layers.1.created_by")), "RUN rm -rf /opt/d",
		  "created_by from history, empty layers skipped");
	CHECK(json_is_false(jget(r, "config.root")) && !count_rule(r, "root-user", NULL),
	      "USER app: not root");
	CHECK(json_is_null(jget(r, "summary.compressed_size")), "compressed size unknown: null");
done:
	json_decref(r);
	analysis_free(an);
	meta_release(&meta);
	vec_release(&base);
	json_decref(cfg);
}

/* ---- scenario 2: packages, ELF, closure, CUDA, config -------------------- */

static char *slurp(const char *name, size_t *len)
{
	char *path = xstrfmt("%s/%s", tmp, name);
	struct strbuf sb = STRBUF_INIT;

	if (fs_read_file(path, &sb, 0) < 0)
		printf("# cannot read %s\n", path);
	free(path);
	return strbuf_detach(&sb, len);
}

static int build_elves(void)
{
	static const char script[] =
	    "set -e\n"
	    "printf 'int foo(double x){return (int)x;}\\n' > foo.c\n"
	    "printf 'int bar(void){return 2;}\\n' > bar.c\n"
	    "printf 'int cu(void){return 3;}\\n' > cu.c\n"
	    "printf 'int cuInit(int x){return x;}\\n' > cuda.c\n"
	    "printf 'int foo(double);\\nint main(void){return foo(4.0);}\\n' > main.c\n"
	    "printf 'int bar(void);\\nint main(void){return bar();}\\n' > mainbar.c\n"
	    "printf 'int cuInit(int);\\nint f(void){return cuInit(0);}\\n' > needcuda.c\n"
	    "cc -shared -fPIC -g -o libfoo.so.1.2.3 -Wl,-soname,libfoo.so.1 foo.c -lm\n"
	    "ln -sf libfoo.so.1.2.3 libfoo.so\n"
	    "cc -shared -fPIC -s -o libbar.so.2 -Wl,-soname,libbar.so.2 bar.c\n"
	    "cc -shared -fPIC -s -o libbaz.so.1 -Wl,-soname,libbaz.so.1 bar.c\n"
	    "cc -shared -fPIC -s -o libcublas.so.12.4.5.8 -Wl,-soname,libcublas.so.12 cu.c\n"
	    "printf 'char pad[65536] = {1};\\n' > pad.c\n"
	    "cc -shared -fPIC -s -o libcublas.so.12.6.4.1 -Wl,-soname,libcublas.so.12 cu.c pad.c\n"
	    "cc -shared -fPIC -s -o libcuda.so.1 -Wl,-soname,libcuda.so.1 cuda.c\n"
	    "ln -sf libcuda.so.1 libcuda.so\n"
	    "cc -shared -fPIC -s -o libneedscuda.so -Wl,-soname,libneedscuda.so needcuda.c -L. "
	    "-lcuda\n"
	    "cc -s -o app main.c -L. -lfoo -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../lib'\n"
	    "cc -s -o app2 main.c -L. -lfoo\n"
	    "ln -sf libbaz.so.1 libbaz.so\n"
	    "cc -s -o app3 mainbar.c -L. -lbaz\n"
	    /* Bundled libraries: liba needs libb and has no RPATH of its own. The
	     * executable's RPATH serves liba's needs too; its RUNPATH would not. The
	     * real loader runs both, to say what the analyzer must find. */
	    "printf 'int b(void){return 1;}\\n' > b.c\n"
	    "printf 'int b(void);\\nint a(void){return b();}\\n' > a.c\n"
	    "printf 'int a(void);\\nint main(void){return a();}\\n' > ra.c\n"
	    "mkdir -p r/bin r/lib s/bin s/lib\n"
	    "cc -shared -fPIC -s -o r/lib/libb.so.1 -Wl,-soname,libb.so.1 b.c\n"
	    "cc -shared -fPIC -s -o r/lib/liba.so.1 -Wl,-soname,liba.so.1 a.c r/lib/libb.so.1\n"
	    "cp r/lib/liba.so.1 r/lib/libb.so.1 s/lib/\n"
	    "cc -s -o r/bin/rapp ra.c r/lib/liba.so.1 -Wl,-rpath-link,r/lib "
	    "-Wl,--disable-new-dtags -Wl,-rpath,'$ORIGIN/../lib'\n"
	    "cc -s -o s/bin/runapp ra.c s/lib/liba.so.1 -Wl,-rpath-link,s/lib "
	    "-Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../lib'\n"
	    "rc=0; r/bin/rapp || rc=$?; echo $rc > rapp.rc\n"
	    "rc=0; s/bin/runapp 2>/dev/null || rc=$?; echo $rc > runapp.rc\n"
	    /* torch's layout: an executable with a RUNPATH (so no RPATH of its own
	     * to inherit) loads libqext, whose DT_RPATH reaches libqcu; libqcu has
	     * no path of its own and needs libqlt beside it. ld.so finds libqlt
	     * through libqext's RPATH (q/); with libqext's RUNPATH instead (u/)
	     * it does not. */
	    "printf 'int qlt(void){return 1;}\\n' > qlt.c\n"
	    "printf 'int qlt(void);\\nint qcu(void){return qlt();}\\n' > qcu.c\n"
	    "printf 'int qcu(void);\\nint qext(void){return qcu();}\\n' > qext.c\n"
	    "printf 'int qext(void);\\nint main(void){return qext();}\\n' > qmain.c\n"
	    "mkdir -p q/bin q/ext q/cuda u/bin u/ext u/cuda\n"
	    "cc -shared -fPIC -s -o q/cuda/libqlt.so.1 -Wl,-soname,libqlt.so.1 qlt.c\n"
	    "cc -shared -fPIC -s -o q/cuda/libqcu.so.1 -Wl,-soname,libqcu.so.1 qcu.c "
	    "q/cuda/libqlt.so.1\n"
	    "cp q/cuda/libqlt.so.1 q/cuda/libqcu.so.1 u/cuda/\n"
	    "cc -shared -fPIC -s -o q/ext/libqext.so.1 -Wl,-soname,libqext.so.1 qext.c "
	    "q/cuda/libqcu.so.1 -Wl,-rpath-link,q/cuda -Wl,--disable-new-dtags "
	    "-Wl,-rpath,'$ORIGIN/../cuda'\n"
	    "cc -shared -fPIC -s -o u/ext/libqext.so.1 -Wl,-soname,libqext.so.1 qext.c "
	    "u/cuda/libqcu.so.1 -Wl,-rpath-link,u/cuda -Wl,--enable-new-dtags "
	    "-Wl,-rpath,'$ORIGIN/../cuda'\n"
	    "cc -s -o q/bin/qapp qmain.c q/ext/libqext.so.1 -Wl,-rpath-link,q/ext:q/cuda "
	    "-Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../ext'\n"
	    "cc -s -o u/bin/uapp qmain.c u/ext/libqext.so.1 -Wl,-rpath-link,u/ext:u/cuda "
	    "-Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../ext'\n"
	    "rc=0; q/bin/qapp || rc=$?; echo $rc > qapp.rc\n"
	    "rc=0; u/bin/uapp 2>/dev/null || rc=$?; echo $rc > uapp.rc\n"
	    /* A DT_NEEDED soname with a byte that is not UTF-8. */
	    "odd=$(printf 'libodd\\376.so.1')\n"
	    "cc -shared -fPIC -s -o libodd.so -Wl,-soname,\"$odd\" bar.c\n"
	    "cc -s -o appodd mainbar.c ./libodd.so\n"
	    "cc -shared -fPIC -s -o libplain.so -Wl,-soname,libplain.so.1 bar.c\n"
	    "cc -s -o appplain mainbar.c ./libplain.so\n"
	    /* app3 with its PT_DYNAMIC grown past 1 MiB: the scanner skips it. */
	    "python3 -c 'import struct\n"
	    "b = bytearray(open(\"app3\", \"rb\").read())\n"
	    "off = struct.unpack_from(\"<Q\", b, 32)[0]\n"
	    "ent, num = struct.unpack_from(\"<HH\", b, 54)\n"
	    "for i in range(num):\n"
	    "    if struct.unpack_from(\"<I\", b, off + i * ent)[0] == 2:\n"
	    "        struct.pack_into(\"<Q\", b, off + i * ent + 32, (1 << 20) + 16)\n"
	    "open(\"app-bigdyn\", \"wb\").write(b)'\n";
	struct process p;
	struct process_result res;
	int ok;

	process_init(&p);
	vec_pushstr(&p.argv, "/bin/sh");
	vec_pushstr(&p.argv, "-c");
	vec_pushstr(&p.argv, script);
	p.cwd = tmp;
	p.output = PROCESS_OUTPUT_CAPTURE;
	ok = process_run(&p, 120000, &res) == 0 && res.exited && res.exit_code == 0;
	if (!ok)
		printf("# build failed: %s\n", p.out.buf);
	process_release(&p);
	return ok;
}

static void test_contents(const struct knowledge *kb)
{
	struct analyze_opts o = {0};
	struct vec path_keys = VEC_INIT(NULL);
	struct image_meta meta;
	json_t *cfg =
	    json_pack("{s:{s:s,s:[s],s:[s,s,s],s:s}}", "config", "User", "", "Cmd", "app", "Env",
		      "PATH=/usr/local/sbin:/usr/local/bin:/opt/app/bin:/usr/bin:/bin",
		      "CUDA_VERSION=12.4.1", "NVIDIA_DRIVER_CAPABILITIES=all", "WorkingDir", "/");
	struct analysis *an;
	struct image_visitor v;
	json_t *r = NULL, *it;
	size_t foo_n, app_n, app2_n, app3_n, cublas_n, bar_n, baz_n, cuda_n, needs_n;
	char *foo = slurp("libfoo.so.1.2.3", &foo_n), *app = slurp("app", &app_n),
	     *app2 = slurp("app2", &app2_n), *app3 = slurp("app3", &app3_n),
	     *cublas = slurp("libcublas.so.12.4.5.8", &cublas_n),
	     *bar = slurp("libbar.so.2", &bar_n), *baz = slurp("libbaz.so.1", &baz_n),
	     *cuda = slurp("libcuda.so.1", &cuda_n), *needs = slurp("libneedscuda.so", &needs_n);
	const char *status = "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n\n"
			     "Package: foo\nStatus: install ok installed\nVersion: 1.0\n"
			     "Description: a thing\n with a continuation: line\n\n"
			     "Package: gone\nStatus: deinstall ok config-files\nVersion: 0.1\n";
	const struct ent l0[] = {
	    {'F', "var/lib/dpkg/status", status, 0},
	    {'F', "var/lib/dpkg/info/libc6:amd64.list",
	     "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libc.so.6\n"
	     "/lib/x86_64-linux-gnu/libm-2.36.so\n/lib/x86_64-linux-gnu/libm.so.6\n",
	     0},
	    {'F', "var/lib/dpkg/info/foo.list", "/usr\n/usr/share/foo/data\n", 0},
	    {'F', "lib/x86_64-linux-gnu/libc.so.6", NULL, 1000},
	    {'F', "lib/x86_64-linux-gnu/libm-2.36.so", NULL, 400},
	    {'L', "lib/x86_64-linux-gnu/libm.so.6", "libm-2.36.so", 0},
	    {'F', "usr/share/foo/data", NULL, 300},
	    {'F', "srv/blob", NULL, 1234},
	    {'D', "usr/lib/python3/dist-packages", 0, 0},
	    {'F', "usr/lib/python3/dist-packages/pkg-1.0.dist-info/RECORD",
	     "pkg/__init__.py,sha256=abc,10\n\"pkg/we,ird.py\",,\npkg-1.0.dist-info/RECORD,,\n"
	     "../../../bin/pkgtool,,\n",
	     0},
	    {'F', "usr/lib/python3/dist-packages/pkg/__init__.py", NULL, 10},
	    {'F', "usr/lib/python3/dist-packages/pkg/we,ird.py", NULL, 7},
	    {'F', "usr/bin/pkgtool", NULL, 20},
	    {'F', "usr/lib/python3/dist-packages/pkg/__pycache__/x.cpython-311.pyc", NULL, 5},
	    {'F', "usr/lib/python3/dist-packages/pkg/tests/test_a.py", NULL, 40},
	    {'F', "var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease", NULL, 100},
	    {'F', "var/lib/apt/lists/lock", NULL, 0},
	    {'F', "root/.cache/pip/http/a", NULL, 50},
	    {0, 0, 0, 0}};
	const struct ent l1[] = {
	    {'F', "opt/app/lib/libfoo.so.1.2.3", foo, foo_n},
	    {'L', "opt/app/lib/libfoo.so.1", "libfoo.so.1.2.3", 0},
	    {'F', "opt/app/bin/app", app, app_n},
	    {'F', "usr/local/bin/app2", app2, app2_n},
	    {'F', "usr/local/bin/app3", app3, app3_n},
	    {'F', "etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n", 0},
	    {'F', "etc/ld.so.conf.d/baz.conf", "# baz\n/opt/ldconf/lib\n", 0},
	    {'F', "opt/ldconf/lib/libbaz.so.1", baz, baz_n},
	    {'F', "usr/local/cuda/lib64/libcublas.so.12.4.5.8", cublas, cublas_n},
	    {'L', "usr/local/cuda/lib64/libcublas.so.12", "libcublas.so.12.4.5.8", 0},
	    {'L', "usr/local/cuda/lib64/libcublas.so", "libcublas.so.12", 0},
	    {'F', "usr/lib/python3/dist-packages/nvidia/cublas/lib/libcublas.so.12", cublas,
	     cublas_n},
	    {'F', "usr/lib/x86_64-linux-gnu/libbar.so.2", bar, bar_n},
	    {'H', "usr/lib/x86_64-linux-gnu/libbar-alias.so.2",
	     "usr/lib/x86_64-linux-gnu/libbar.so.2", 0},
	    {'F', "usr/lib/x86_64-linux-gnu/libneedscuda.so", needs, needs_n},
	    {'F', "usr/lib/x86_64-linux-gnu/libcuda.so.1", cuda, cuda_n},
	    {'F', "usr/local/cuda/lib64/stubs/libcuda.so", cuda, cuda_n},
	    {'F', "usr/bin/x86_64-linux-gnu-gcc-12", app2, app2_n},
	    {'F', "usr/include/zlib.h", NULL, 100},
	    {'F', "usr/include/zconf.h", NULL, 50},
	    {'F', "usr/lib/x86_64-linux-gnu/libz.a", NULL, 2000},
	    {'L', "venv/bin/python", "/usr/bin/python3.12", 0},
	    {'L', "venv/bin/python3", "python", 0},
	    {'L', "usr/bin/python3", "python3.11", 0},
	    {'F', "usr/bin/python3.11", NULL, 60},
	    {'L', "loop/python", "python2", 0},
	    {'L', "loop/python2", "python", 0},
	    {'L', "usr/bin/python2.7", "/loop/python", 0},
	    /* Debian's doc link once the docs are pruned: dangling, no interpreter. */
	    {'L', "usr/share/doc/python3.11/python-policy.txt.gz",
	     "../python3/python-policy.txt.gz", 0},
	    {'L', "usr/bin/python3-config", "x86_64-linux-gnu-python3.11-config", 0},
	    /* Not in a bin/ directory, but pointing to an interpreter that is. */
	    {'L', "opt/alt/python", "../../usr/bin/python3.13", 0},
	    {'L', "etc/alternatives/python", "/usr/bin/python3.11", 0},
	    {0, 0, 0, 0}};

	memset(&meta, 0, sizeof(meta));
	meta_init(&meta, 2, cfg);
	o.kb = kb;
	vec_push(&path_keys, (void *)"dist-packages/nvidia");
	vec_push(&path_keys, (void *)"x86_64-linux-gnu/");
	vec_push(&path_keys, (void *)"libbar");
	vec_push(&path_keys, (void *)"no/such/dir");
	vec_push(&path_keys, (void *)"dist-packages/nvidia");
	o.paths = &path_keys;
	an = analysis_new(&o, fake_read);
	analysis_visitor(an, &v);
	v.meta(v.ctx, &meta);
	feed_layer(an, &v, 0, l0);
	feed_layer(an, &v, 1, l1);
	CHECK(analysis_report(an, NULL, &r) == 0 && r, "report of the contents scenario (%s)",
	      error_last());
	if (!r)
		goto done;
	if (getenv("GS_TEST_DUMP")) {
		char *s = json_dumps(r, JSON_INDENT(2));

		printf("%s\n", s);
		free(s);
	}

	/* Packages. */
	it = find_by(json_object_get(r, "packages"), "name", "libc6");
	CHECK(it && jint_at(it, "bytes") == 1400 && jint_at(it, "files") == 2,
	      "dpkg libc6: 1400 bytes in 2 files (the symlink owns no bytes)");
	CHECK_STR(json_string_value(json_object_get(it, "version")), "2.36-9", "dpkg version");
	it = find_by(json_object_get(r, "packages"), "name", "foo");
	CHECK(it && jint_at(it, "bytes") == 300, "dpkg foo: 300 bytes");
	CHECK(!find_by(json_object_get(r, "packages"), "name", "gone"),
	      "a deinstalled package is not listed");
	it = find_by(json_object_get(r, "packages"), "name", "pkg");
	CHECK(it && jint_at(it, "bytes") > 37 && jint_at(it, "files") == 4,
	      "pip pkg: __init__, the quoted name, its RECORD, ../../../bin/pkgtool (%lld files)",
	      it ? jint_at(it, "files") : -1);
	CHECK_STR(it ? json_string_value(json_object_get(it, "manager")) : NULL, "pip",
		  "manager pip");
	CHECK_STR(it ? json_string_value(json_object_get(it, "version")) : NULL, "1.0",
		  "pip version from the dist-info name");
	CHECK(jint_at(r, "summary.unowned_bytes") > 1234, "unowned bytes include srv/blob");

	/* ELF and closure. */
	CHECK(jint_at(r, "elf.files") >= 9, "ELF files counted (%lld)", jint_at(r, "elf.files"));
	CHECK(jint_at(r, "elf.unstripped_files") == 1 &&
		  jint_at(r, "elf.unstripped_bytes") == (long long)foo_n,
	      "one unstripped ELF: libfoo built with -g");
	CHECK(count_rule(r, "unstripped-elf", "warn") == 1, "unstripped-elf warning");
	it = json_object_get(jget(r, "closure"), "missing");
	CHECK(find_by(it, "file", "/usr/local/bin/app2") &&
		  !strcmp(json_string_value(json_object_get(
			      find_by(it, "file", "/usr/local/bin/app2"), "needed")),
			  "libfoo.so.1"),
	      "app2 without RUNPATH: libfoo.so.1 missing");
	CHECK(!find_by(it, "file", "/opt/app/bin/app"),
	      "app finds libfoo.so.1 through $ORIGIN/../lib");
	CHECK(!find_by(it, "file", "/usr/local/bin/app3"),
	      "app3 finds libbaz through ld.so.conf.d");
	CHECK(!find_by(it, "file", "/opt/app/lib/libfoo.so.1.2.3"),
	      "libfoo finds libm.so.6 through a symlink in the multiarch dir");
	CHECK(find_by(it, "needed", "libcublasLt.so.12") &&
		  !strcmp(json_string_value(
			      json_object_get(find_by(it, "needed", "libcublasLt.so.12"), "via")),
			  "dlopen"),
	      "dlopen rule: libcublas.so.12 loads libcublasLt.so.12, missing");
	CHECK(count_rule(r, "missing-library", "error") >= 2, "missing-library findings");
	CHECK(json_array_size(jget(r, "closure.driver_expected")) == 1 &&
		  !strcmp(json_string_value(jget(r, "closure.driver_expected.0")), "libcuda.so.1"),
	      "libcuda.so.1 expected from the driver, not missing");
	CHECK(!find_by(it, "needed", "libcuda.so.1"), "the driver's library is never missing");
	CHECK(json_array_size(jget(r, "closure.driver_in_image")) == 1 &&
		  !strcmp(json_string_value(jget(r, "closure.driver_in_image.0.path")),
			  "/usr/lib/x86_64-linux-gnu/libcuda.so.1"),
	      "a copy of libcuda.so.1 in the image (the devel stub aside)");
	CHECK(count_rule(r, "driver-in-image", "error") == 1, "driver-in-image error");
	it = jget(r, "closure.dangling_interpreters");
	CHECK(find_by(it, "path", "/venv/bin/python") && find_by(it, "path", "/venv/bin/python3"),
	      "venv python -> /usr/bin/python3.12 missing: dangling (and python3 -> python)");
	CHECK(!find_by(it, "path", "/usr/bin/python3"), "a link to a present python is fine");
	CHECK(find_by(it, "path", "/usr/bin/python2.7"), "a symlink loop ends, as dangling");
	CHECK(find_by(it, "path", "/opt/alt/python"),
	      "a link outside bin/ to a missing bin/python3.13 is dangling");
	CHECK(!find_by(it, "path", "/etc/alternatives/python"),
	      "a link outside bin/ to a present bin/python3.11 is fine");
	CHECK(!find_by(it, "path", "/usr/share/doc/python3.11/python-policy.txt.gz"),
	      "a dangling doc link named python-... is no interpreter");
	CHECK(!find_by(it, "path", "/usr/bin/python3-config"),
	      "a dangling bin/python3-config is no interpreter");
	CHECK(!find_by(it, "path", "/loop/python"), "a loop outside bin/ between non-bin names");
	CHECK(json_array_size(it) == 4, "4 dangling interpreters (%zu)", json_array_size(it));
	CHECK(count_rule(r, "dangling-interpreter", "error") == 4, "dangling-interpreter errors");

	/* budgets.paths: in the given order, a repeated key once. */
	it = json_object_get(r, "paths");
	CHECK(json_array_size(it) == 4, "4 distinct path keys (%zu)", json_array_size(it));
	CHECK_STR(json_string_value(jget(it, "0.path")), "dist-packages/nvidia", "first key first");
	CHECK(jint_at(it, "0.bytes") == (long long)cublas_n && jint_at(it, "0.files") == 1,
	      "dist-packages/nvidia: the one cublas copy (%lld bytes)", jint_at(it, "0.bytes"));
	CHECK_STR(json_string_value(jget(it, "1.path")), "x86_64-linux-gnu/", "second key");
	CHECK(jint_at(it, "1.bytes") == (long long)(1000 + 400 + bar_n + needs_n + cuda_n + 2000) &&
		  jint_at(it, "1.files") == 7,
	      "x86_64-linux-gnu/: regular files only, the hardlink's bytes once (%lld bytes, %lld "
	      "files)",
	      jint_at(it, "1.bytes"), jint_at(it, "1.files"));
	CHECK(jint_at(it, "2.bytes") == (long long)bar_n && jint_at(it, "2.files") == 2,
	      "libbar: two names of one inode, its bytes once");
	CHECK_STR(json_string_value(jget(it, "3.path")), "no/such/dir", "a key nothing matches");
	CHECK(jint_at(it, "3.bytes") == 0 && jint_at(it, "3.files") == 0,
	      "... is 0 bytes, 0 files");

	/* CUDA. */
	it = jget(r, "cuda.duplicates");
	CHECK(json_array_size(it) == 1,
	      "one duplicate (symlinks and hardlinks are not copies): %zu", json_array_size(it));
	CHECK_STR(json_string_value(jget(it, "0.soname")), "libcublas.so.12", "duplicate soname");
	CHECK_STR(json_string_value(jget(it, "0.version")), "12.4.5.8",
		  "version from the real file name");
	CHECK(jint_at(it, "0.bytes") == (long long)cublas_n &&
		  json_array_size(jget(it, "0.paths")) == 2,
	      "duplicate bytes: one copy (%lld), 2 paths", jint_at(it, "0.bytes"));
	CHECK(count_rule(r, "duplicate-library", "error") == 1, "duplicate-library error");
	it = find_by(jget(r, "cuda.components"), "name", "cublas");
	CHECK(it && jint_at(it, "bytes") == 2 * (long long)cublas_n && jint_at(it, "files") == 2,
	      "component cublas: both copies");

	/* Devel, caches, tests. */
	CHECK(json_array_size(jget(r, "devel.tools")) == 1 &&
		  count_rule(r, "devel-toolchain", "error") >= 1,
	      "a compiler binary: devel-toolchain error");
	CHECK(jint_at(r, "devel.headers.files") == 2, "2 headers");
	CHECK(jint_at(r, "devel.static_libs.files") == 1 &&
		  jint_at(r, "devel.static_libs.bytes") == 2000,
	      "1 static library");
	CHECK(count_rule(r, "devel-toolchain", "info") == 2, "a few headers, a small .a: info");
	it = json_object_get(r, "caches");
	CHECK(find_by(it, "kind", "apt-lists") &&
		  jint_at(find_by(it, "kind", "apt-lists"), "bytes") == 100,
	      "apt lists cache (the lock file aside)");
	CHECK(find_by(it, "kind", "pip-cache") && find_by(it, "kind", "pycache"),
	      "pip cache, __pycache__");
	CHECK(count_rule(r, "caches", "warn") == 3, "3 cache warnings");
	CHECK(jint_at(r, "tests_examples.bytes") == 40 &&
		  !strcmp(json_string_value(jget(r, "tests_examples.dirs.0")),
			  "/usr/lib/python3/dist-packages/pkg/tests"),
	      "tests dir in dist-packages");

	/* Config. */
	CHECK(json_is_true(jget(r, "config.root")) && count_rule(r, "root-user", "warn") == 1,
	      "USER \"\": root");
	CHECK_STR(json_string_value(jget(r, "config.command")), "/opt/app/bin/app",
		  "cmd resolved through PATH");
	CHECK(json_is_true(jget(r, "config.command_exists")), "command exists");
	CHECK(count_rule(r, "nvidia-env", "warn") == 2,
	      "NVIDIA_DRIVER_CAPABILITIES all, NVIDIA_VISIBLE_DEVICES unset");
	CHECK(!count_rule(r, "missing-command", NULL), "no missing-command");
done:
	json_decref(r);
	analysis_free(an);
	meta_release(&meta);
	vec_release(&path_keys);
	json_decref(cfg);
	free(foo);
	free(app);
	free(app2);
	free(app3);
	free(cublas);
	free(bar);
	free(baz);
	free(cuda);
	free(needs);
}

/* The report of an image of `n` layers (bottom first) with config `cfg`;
 * NULL on failure. */
/* analyze_opts.commands of the next report (NULL: none). */
static const struct vec *report_commands;

static json_t *report_of_layers(const struct knowledge *kb, json_t *cfg,
				const struct ent *const *layer, size_t n, const char *what)
{
	struct analyze_opts o = {0};
	struct image_meta meta;
	struct analysis *an;
	struct image_visitor v;
	json_t *r = NULL;

	memset(&meta, 0, sizeof(meta));
	meta_init(&meta, n, cfg);
	o.kb = kb;
	o.commands = report_commands;
	an = analysis_new(&o, fake_read);
	analysis_visitor(an, &v);
	v.meta(v.ctx, &meta);
	for (size_t i = 0; i < n; i++)
		feed_layer(an, &v, i, layer[i]);
	CHECK(analysis_report(an, NULL, &r) == 0 && r, "report of the %s scenario (%s)", what,
	      error_last());
	analysis_free(an);
	meta_release(&meta);
	return r;
}

static json_t *report_of_layer(const struct knowledge *kb, json_t *cfg, const struct ent *layer,
			       const char *what)
{
	return report_of_layers(kb, cfg, &layer, 1, what);
}

/* ---- scenario 2b: an executable's RPATH serves its libraries ----------- */

static void test_rpath_inherit(const struct knowledge *kb)
{
	json_t *cfg =
	    json_pack("{s:{s:s,s:[s]}}", "config", "User", "1000", "Cmd", "/opt/r/bin/rapp");
	json_t *r = NULL, *missing;
	size_t rapp_n, runapp_n, a_n, b_n, rc1_n, rc2_n;
	char *rapp = slurp("r/bin/rapp", &rapp_n), *runapp = slurp("s/bin/runapp", &runapp_n),
	     *a = slurp("r/lib/liba.so.1", &a_n), *b = slurp("r/lib/libb.so.1", &b_n),
	     *rc1 = slurp("rapp.rc", &rc1_n), *rc2 = slurp("runapp.rc", &rc2_n);
	const struct ent l0[] = {{'F', "lib/x86_64-linux-gnu/libc.so.6", NULL, 1000},
				 {'F', "opt/r/bin/rapp", rapp, rapp_n},
				 {'F', "opt/r/lib/liba.so.1", a, a_n},
				 {'F', "opt/r/lib/libb.so.1", b, b_n},
				 {'F', "opt/s/bin/runapp", runapp, runapp_n},
				 {'F', "opt/s/lib/liba.so.1", a, a_n},
				 {'F', "opt/s/lib/libb.so.1", b, b_n},
				 {0, 0, 0, 0}};

	/* What glibc's loader did with the same files. */
	CHECK_STR(rc1, "1\n", "ld.so: rapp (RPATH) loads liba and libb, exits 1");
	CHECK_STR(rc2, "127\n", "ld.so: runapp (RUNPATH) loads liba, which misses libb");

	r = report_of_layer(kb, cfg, l0, "RPATH");
	if (!r)
		goto done;
	missing = jget(r, "closure.missing");
	CHECK(json_array_size(missing) == 1, "one missing library (%zu)", json_array_size(missing));
	CHECK(!find_by(missing, "file", "/opt/r/lib/liba.so.1"),
	      "liba under an RPATH executable finds libb through that RPATH");
	CHECK(find_by(missing, "file", "/opt/s/lib/liba.so.1") &&
		  !strcmp(json_string_value(json_object_get(
			      find_by(missing, "file", "/opt/s/lib/liba.so.1"), "needed")),
			  "libb.so.1"),
	      "liba under a RUNPATH executable misses libb.so.1, as ld.so does");
	CHECK(!find_by(missing, "file", "/opt/r/bin/rapp") &&
		  !find_by(missing, "file", "/opt/s/bin/runapp"),
	      "both executables find liba through their own path");
	CHECK(count_rule(r, "missing-library", "error") == 1, "one missing-library error");
done:
	json_decref(r);
	json_decref(cfg);
	free(rapp);
	free(runapp);
	free(a);
	free(b);
	free(rc1);
	free(rc2);
}

/* ---- scenario 2c: a library's RPATH serves the libraries it loads ------ */

static void test_rpath_inherit_library(const struct knowledge *kb)
{
	json_t *cfg =
	    json_pack("{s:{s:s,s:[s]}}", "config", "User", "1000", "Cmd", "/opt/q/bin/qapp");
	json_t *r = NULL, *missing, *m;
	size_t n[8];
	char *qapp = slurp("q/bin/qapp", &n[0]), *uapp = slurp("u/bin/uapp", &n[1]),
	     *qext = slurp("q/ext/libqext.so.1", &n[2]), *uext = slurp("u/ext/libqext.so.1", &n[3]),
	     *qcu = slurp("q/cuda/libqcu.so.1", &n[4]), *qlt = slurp("q/cuda/libqlt.so.1", &n[5]),
	     *rc1 = slurp("qapp.rc", &n[6]), *rc2 = slurp("uapp.rc", &n[7]);
	const struct ent l0[] = {{'F', "lib/x86_64-linux-gnu/libc.so.6", NULL, 1000},
				 {'F', "opt/q/bin/qapp", qapp, n[0]},
				 {'F', "opt/q/ext/libqext.so.1", qext, n[2]},
				 {'F', "opt/q/cuda/libqcu.so.1", qcu, n[4]},
				 {'F', "opt/q/cuda/libqlt.so.1", qlt, n[5]},
				 {'F', "opt/u/bin/uapp", uapp, n[1]},
				 {'F', "opt/u/ext/libqext.so.1", uext, n[3]},
				 {'F', "opt/u/cuda/libqcu.so.1", qcu, n[4]},
				 {'F', "opt/u/cuda/libqlt.so.1", qlt, n[5]},
				 {0, 0, 0, 0}};

	/* What glibc's loader did with the same files. */
	CHECK_STR(rc1, "1\n", "ld.so: libqext's RPATH serves libqcu's need of libqlt, exit 1");
	CHECK_STR(rc2, "127\n", "ld.so: libqext's RUNPATH does not serve libqcu's needs");

	r = report_of_layer(kb, cfg, l0, "library RPATH");
	if (!r)
		goto done;
	missing = jget(r, "closure.missing");
	CHECK(json_array_size(missing) == 1, "one missing library (%zu)", json_array_size(missing));
	CHECK(!find_by(missing, "file", "/opt/q/cuda/libqcu.so.1"),
	      "libqcu, loaded by libqext (DT_RPATH), finds libqlt through that RPATH");
	m = find_by(missing, "file", "/opt/u/cuda/libqcu.so.1");
	CHECK(m && !strcmp(json_string_value(json_object_get(m, "needed")), "libqlt.so.1"),
	      "libqcu loaded by a RUNPATH library misses libqlt.so.1, as ld.so does");
	CHECK(count_rule(r, "missing-library", "error") == 1, "one missing-library error");
done:
	json_decref(r);
	json_decref(cfg);
	free(qapp);
	free(uapp);
	free(qext);
	free(uext);
	free(qcu);
	free(qlt);
	free(rc1);
	free(rc2);
}

/* ---- scenario 2d: ld.so.conf includes outside /etc/ld.so.conf.d --------- */

static void test_ldconf_include(const struct knowledge *kb)
{
	json_t *cfg = json_pack("{s:{s:s}}", "config", "User", "1000");
	json_t *r;
	size_t app3_n, baz_n;
	char *app3 = slurp("app3", &app3_n), *baz = slurp("libbaz.so.1", &baz_n);
	const struct ent l0[] = {
	    {'F', "lib/x86_64-linux-gnu/libc.so.6", NULL, 1000},
	    {'F', "etc/ld.so.conf", "include /usr/local/lib/ld.so.conf.d/*.conf\n", 0},
	    {'F', "usr/local/lib/ld.so.conf.d/x.conf", "/opt/x/lib\n", 0},
	    {'F', "opt/x/lib/libbaz.so.1", baz, baz_n},
	    {'F', "usr/bin/app3", app3, app3_n},
	    {0, 0, 0, 0}};

	r = report_of_layer(kb, cfg, l0, "ld.so.conf include");
	CHECK(r && json_array_size(jget(r, "closure.missing")) == 0,
	      "an include of /usr/local/lib/ld.so.conf.d/*.conf finds /opt/x/lib (%zu missing)",
	      r ? json_array_size(jget(r, "closure.missing")) : 0);
	json_decref(r);
	json_decref(cfg);
	free(app3);
	free(baz);
}

/* ---- scenario 2e: what a closure image can lack that ELF does not show --- */

/* An /etc/ld.so.cache as glibc 2.32+ writes it ("glibc-ld.so.cache1.1"
 * alone) listing `paths`, each under its file name as the key. */
static char *make_ldcache(const char *const *paths, size_t n, size_t *len)
{
	struct strbuf sb = STRBUF_INIT, strings = STRBUF_INIT;
	size_t strings_at = 48 + n * 24;
	uint32_t u;

	strbuf_add(&sb, "glibc-ld.so.cache1.1", 20);
	u = (uint32_t)n;
	strbuf_add(&sb, &u, 4);
	while (sb.len < 48) /* len_strings, flags, extension, unused */
		strbuf_addch(&sb, 0);
	for (size_t i = 0; i < n; i++) {
		const char *name = strrchr(paths[i], '/') + 1;
		uint32_t e[4] = {0x0303, 0, 0, 0};
		uint64_t hwcap = 0;

		e[1] = (uint32_t)(strings_at + strings.len);
		strbuf_add(&strings, name, strlen(name) + 1);
		e[2] = (uint32_t)(strings_at + strings.len);
		strbuf_add(&strings, paths[i], strlen(paths[i]) + 1);
		strbuf_add(&sb, e, sizeof(e));
		strbuf_add(&sb, &hwcap, sizeof(hwcap));
	}
	strbuf_add(&sb, strings.buf, strings.len);
	strbuf_release(&strings);
	return strbuf_detach(&sb, len);
}

static void test_runtime_files(const struct knowledge *kb)
{
	static const char *const good_paths[] = {"/opt/x/lib/libbaz.so.1",
						 "/lib/x86_64-linux-gnu/libc.so.6"};
	static const char *const bad_paths[] = {"/lib/x86_64-linux-gnu/libc.so.6"};
	json_t *cfg = json_pack("{s:{s:s,s:[s],s:s,s:{s:s}}}", "config", "User", "10001:10001",
				"Env", "PATH=/usr/local/bin:/usr/bin", "WorkingDir", "/app",
				"Labels", "io.gpuslim.final", "closure");
	json_t *plain =
	    json_pack("{s:{s:s,s:[s]}}", "config", "User", "10001:10001", "Env", "PATH=/usr/bin");
	json_t *named =
	    json_pack("{s:{s:s,s:[s]}}", "config", "User", "gpuslim:video", "Env", "PATH=/usr/bin");
	struct vec good_cmds = VEC_INIT(NULL), bad_cmds = VEC_INIT(NULL);
	json_t *r = NULL, *f;
	size_t app3_n, baz_n, good_n, bad_n, host_n = 0;
	char *app3 = slurp("app3", &app3_n), *baz = slurp("libbaz.so.1", &baz_n);
	char *good = make_ldcache(good_paths, 2, &good_n),
	     *bad = make_ldcache(bad_paths, 1, &bad_n);
	char *list, *host = NULL;
	const char *passwd = "root:x:0:0:root:/root:/sbin/nologin\n"
			     "gpuslim:x:10001:10001::/home/gpuslim:/sbin/nologin\n";
	const struct ent ok[] = {{'F', "lib/x86_64-linux-gnu/libc.so.6", NULL, 1000},
				 {'F', "lib64/ld-linux-x86-64.so.2", NULL, 1000},
				 {'F', "etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n", 0},
				 {'F', "etc/ld.so.conf.d/x.conf", "/opt/x/lib\n", 0},
				 {'F', "etc/ld.so.cache", good, good_n},
				 {'F', "etc/passwd", passwd, 0},
				 {'F', "etc/group", "root:x:0:\ngpuslim:x:10001:\n", 0},
				 {'F', "opt/x/lib/libbaz.so.1", baz, baz_n},
				 {'X', "usr/bin/app3", app3, app3_n},
				 {'X', "usr/bin/tool", "#!/usr/bin/env app3 -v\nexit 0\n", 0},
				 {0, 0, 0, 0}};
	const struct ent broken[] = {
	    {'F', "lib/x86_64-linux-gnu/libc.so.6", NULL, 1000},
	    {'F', "etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n", 0},
	    {'F', "etc/ld.so.conf.d/x.conf", "/opt/x/lib\n", 0},
	    {'F', "etc/ld.so.cache", bad, bad_n},
	    {'F', "etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\n", 0},
	    {'F', "opt/x/lib/libbaz.so.1", baz, baz_n},
	    {'X', "usr/bin/app3", app3, app3_n},
	    {'X', "app/run.sh", "#!/bin/sh\necho hi\n", 0},
	    {'X', "usr/bin/py", "#!/usr/bin/env python3\n", 0},
	    {0, 0, 0, 0}};
	const struct ent nocache[] = {
	    {'F', "lib/x86_64-linux-gnu/libc.so.6", NULL, 1000},
	    {'F', "etc/ld.so.conf.d/x.conf", "/opt/x/lib\n", 0},
	    {'F', "etc/passwd", "gpuslim:x:10001:10001::/:/sbin/nologin\n", 0},
	    {'F', "etc/group", "gpuslim:x:10001:\n", 0},
	    {'F', "opt/x/lib/libbaz.so.1", baz, baz_n},
	    {0, 0, 0, 0}};

	/* The parser on a cache glibc's own ldconfig wrote, when there is one. */
	{
		struct strbuf sb = STRBUF_INIT;

		if (fs_read_file("/etc/ld.so.cache", &sb, 0) == 0) {
			host = an_ldcache_parse((const unsigned char *)sb.buf, sb.len);
			host_n = sb.len;
		}
		strbuf_release(&sb);
		error_clear();
	}
	if (host_n)
		CHECK(host && strstr(host, "/libc.so.6\n"),
		      "the host's /etc/ld.so.cache (%zu bytes) parses, libc.so.6 among its paths",
		      host_n);
	list = an_ldcache_parse((const unsigned char *)good, good_n);
	CHECK_STR(list, "/opt/x/lib/libbaz.so.1\n/lib/x86_64-linux-gnu/libc.so.6\n",
		  "a crafted cache lists its two paths");
	free(list);
	CHECK(!an_ldcache_parse((const unsigned char *)"glibc-ld.so.cache1.1\xff\xff\xff\x7f", 24),
	      "a cache that claims more entries than it has is refused");
	CHECK(!an_ldcache_parse((const unsigned char *)"not a cache", 11), "not a cache: refused");

	vec_push(&good_cmds, (void *)"app3");
	vec_push(&good_cmds, (void *)"/usr/bin/tool");
	report_commands = &good_cmds;
	r = report_of_layer(kb, cfg, ok, "closure image");
	CHECK(r && count_rule(r, "missing-runtime-file", "error") == 1,
	      "a whole closure image but for /usr/bin/env: one missing-runtime-file (%d)",
	      r ? count_rule(r, "missing-runtime-file", "error") : -1);
	CHECK(r && json_is_true(jget(r, "runtime.ld_so_cache.present")) &&
		  json_array_size(jget(r, "runtime.ld_so_cache.unlisted")) == 0 &&
		  json_is_true(jget(r, "runtime.user_entry")),
	      "its cache lists /opt/x/lib and USER 10001 has its passwd entry");
	f = r ? json_array_get(jget(r, "runtime.commands"), 1) : NULL;
	CHECK(f && !strcmp(json_string_value(json_object_get(f, "interpreter")), "/usr/bin/env") &&
		  json_is_false(json_object_get(f, "interpreter_exists")),
	      "the script's #!/usr/bin/env is read, and env is not there");
	json_decref(r);

	/* the same image, where the script's env is there but its python is not */
	vec_push(&bad_cmds, (void *)"python3");
	vec_push(&bad_cmds, (void *)"run.sh");
	vec_push(&bad_cmds, (void *)"./run.sh");
	vec_push(&bad_cmds, (void *)"/usr/bin/app3");
	vec_push(&bad_cmds, (void *)"py");
	report_commands = &bad_cmds;
	r = report_of_layer(kb, cfg, broken, "broken closure image");
	CHECK(r && count_rule(r, "missing-library", "error") == 0,
	      "ELF shows nothing: libbaz is found through ld.so.conf");
	CHECK(r && (f = find_by(json_object_get(r, "findings"), "message",
				"the smoke test command 'python3' is not in the image")),
	      "a smoke test command not in the image");
	CHECK(r && (f = find_by(json_object_get(r, "findings"), "message",
				"the smoke test command 'run.sh' is not in the image")),
	      "a bare name is looked up in PATH, not in WorkingDir");
	CHECK(r && find_by(json_object_get(r, "findings"), "message",
			   "'/app/run.sh' (the smoke test command './run.sh') needs the "
			   "interpreter '/bin/sh', which is not in the image"),
	      "a script whose #! interpreter is not in the image");
	CHECK(r && find_by(json_object_get(r, "findings"), "message",
			   "'/usr/bin/app3' (the smoke test command '/usr/bin/app3') needs the "
			   "interpreter '/lib64/ld-linux-x86-64.so.2', which is not in the image"),
	      "an ELF whose PT_INTERP is not in the image");
	CHECK(r && find_by(json_object_get(r, "findings"), "message",
			   "'/usr/bin/py' (the smoke test command 'py') needs the interpreter "
			   "'/usr/bin/env', which is not in the image"),
	      "#!/usr/bin/env without env");
	CHECK(r && find_by(json_object_get(r, "findings"), "path", "/opt/x/lib") &&
		  json_array_size(jget(r, "runtime.ld_so_cache.unlisted")) == 1,
	      "/etc/ld.so.cache does not list /opt/x/lib, which ld.so.conf names");
	CHECK(r &&
		  find_by(json_object_get(r, "findings"), "message",
			  "USER '10001:10001' has no entry in /etc/passwd") &&
		  json_is_false(jget(r, "runtime.user_entry")),
	      "a uid without its passwd entry");
	CHECK(r && count_rule(r, "missing-runtime-file", "error") == 7,
	      "seven missing-runtime-file findings (%d)",
	      r ? count_rule(r, "missing-runtime-file", "error") : -1);
	json_decref(r);

	/* an image with an OS under it: its commands are listed, not judged */
	r = report_of_layer(kb, plain, broken, "broken image with no closure label");
	CHECK(r && count_rule(r, "missing-runtime-file", "error") == 2 &&
		  json_array_size(jget(r, "runtime.commands")) == 5,
	      "without io.gpuslim.final=closure, the five commands are listed and only the "
	      "cache and the user judged (%d)",
	      r ? count_rule(r, "missing-runtime-file", "error") : -1);
	json_decref(r);

	report_commands = NULL;
	r = report_of_layer(kb, named, nocache, "no ld.so.cache");
	CHECK(r &&
		  find_by(json_object_get(r, "findings"), "message",
			  "the image has no /etc/ld.so.cache, so the loader never searches "
			  "'/opt/x/lib', which ld.so.conf names and where '/opt/x/lib/libbaz.so.1' "
			  "lies"),
	      "libraries in an ld.so.conf directory and no cache at all");
	CHECK(r &&
		  find_by(json_object_get(r, "findings"), "message",
			  "USER 'gpuslim:video': group 'video' has no entry in /etc/group") &&
		  count_rule(r, "missing-runtime-file", "error") == 2,
	      "a user name found, a group name not");
	json_decref(r);
	json_decref(cfg);
	json_decref(named);
	json_decref(plain);
	vec_release(&good_cmds);
	vec_release(&bad_cmds);
	free(app3);
	free(baz);
	free(good);
	free(bad);
	free(host);
}

/* ---- scenario 2c: one soname at two versions ---------------------------- */

static json_t *finding_of(json_t *report, const char *rule, const char *severity)
{
	json_t *it;
	size_t i;

	json_array_foreach(json_object_get(report, "findings"), i, it)
	{
		if (!strcmp(json_string_value(json_object_get(it, "rule")), rule) &&
		    !strcmp(json_string_value(json_object_get(it, "severity")), severity))
			return it;
	}
	return NULL;
}

static void test_dup_versions(const struct knowledge *kb)
{
	json_t *cfg = json_pack("{s:{s:s}}", "config", "User", "1000");
	json_t *r = NULL, *f;
	char *want;
	size_t old_n, new_n;
	char *old = slurp("libcublas.so.12.4.5.8", &old_n),
	     *new = slurp("libcublas.so.12.6.4.1", &new_n);
	/* The base's CUDA, a wheel's copy of the same build (named by major only),
	 * and a conda tree's newer build. */
	const struct ent l0[] = {
	    {'F', "usr/local/cuda/lib64/libcublas.so.12.4.5.8", old, old_n},
	    {'L', "usr/local/cuda/lib64/libcublas.so.12", "libcublas.so.12.4.5.8", 0},
	    {'F', "site/nvidia/cublas/lib/libcublas.so.12", old, old_n},
	    {'F', "opt/conda/lib/libcublas.so.12.6.4.1", new, new_n},
	    {'L', "opt/conda/lib/libcublas.so.12", "libcublas.so.12.6.4.1", 0},
	    {0, 0, 0, 0}};

	CHECK(new_n != old_n, "the two builds differ in size (%zu, %zu)", old_n, new_n);
	r = report_of_layer(kb, cfg, l0, "versions");
	if (!r)
		goto done;
	CHECK(json_array_size(jget(r, "cuda.duplicates")) == 1 &&
		  !strcmp(json_string_value(jget(r, "cuda.duplicates.0.version")), "12.4.5.8") &&
		  jint_at(r, "cuda.duplicates.0.bytes") == (long long)old_n,
	      "the same version twice: one duplicate, one copy's bytes");
	CHECK(count_rule(r, "duplicate-library", "error") == 1, "... an error");
	f = finding_of(r, "duplicate-library", "warn");
	CHECK(f && count_rule(r, "duplicate-library", "warn") == 1,
	      "two versions of one soname: one warning");
	CHECK(f && json_integer_value(json_object_get(f, "bytes")) ==
		       (long long)(old_n < new_n ? old_n : new_n),
	      "its bytes: the smaller version's copy (%lld)",
	      f ? (long long)json_integer_value(json_object_get(f, "bytes")) : -1);
	want = xstrfmt("'libcublas.so.12' is in the image at 2 versions (12.4.5.8 at "
		       "/site/nvidia/cublas/lib/libcublas.so.12, 12.6.4.1 at "
		       "/opt/conda/lib/libcublas.so.12.6.4.1): %zu bytes in the versions beyond "
		       "one",
		       old_n);
	CHECK_STR(f ? json_string_value(json_object_get(f, "message")) : NULL, want,
		  "its message names each version and where");
	free(want);
done:
	json_decref(r);
	json_decref(cfg);
	free(old);
	free(new);
}

/* ---- scenario 2e: names that are not UTF-8 ------------------------------ */

/* A broken ELF (`elf`: its DT_NEEDED is nowhere) at `exe`, a file deleted
 * by a later layer at `gone`, a dpkg package named `pkg`: analyze, gate and
 * every rendering. Returns the report (the caller frees it). */
static json_t *bad_bytes_report(const struct knowledge *kb, const char *elf, const char *exe,
				const char *gone, const char *pkg, struct vec *gates)
{
	json_t *cfg = json_pack("{s:{s:s,s:s}}", "config", "User", "1000", "Env",
				"NVIDIA_DRIVER_CAPABILITIES=compute");
	size_t app_n;
	char *app = slurp(elf, &app_n);
	char *status = xstrfmt("Package: %s\nStatus: install ok installed\nVersion: 1\n\n", pkg);
	char *list = xstrfmt("/%s\n", exe);
	char *list_name = xstrfmt("var/lib/dpkg/info/%s.list", pkg);
	const struct ent l0[] = {{'F', "lib/x86_64-linux-gnu/libc.so.6", NULL, 1000},
				 {'F', "var/lib/dpkg/status", status, 0},
				 {'F', list_name, list, 0},
				 {'F', exe, app, app_n},
				 {'F', gone, NULL, 500},
				 {0, 0, 0, 0}};
	const struct ent l1[] = {{'W', gone, 0, 0}, {0, 0, 0, 0}};
	const struct ent *const both[] = {l0, l1};
	json_t *r = report_of_layers(kb, cfg, both, 2, elf);

	if (r)
		gate_check_rules(r, NULL, gates);
	json_decref(cfg);
	free(app);
	free(status);
	free(list);
	free(list_name);
	return r;
}

static void test_bad_bytes(const struct knowledge *kb)
{
	struct vec ascii_gates = VEC_INIT(gate_result_free), gates = VEC_INIT(gate_result_free);
	json_t *ascii =
	    bad_bytes_report(kb, "appplain", "usr/bin/app", "opt/waste", "bad", &ascii_gates);
	json_t *r = bad_bytes_report(kb, "appodd", "usr/bin/ap\xffp", "opt/w\xffste",
				     "b\xff"
				     "ad",
				     &gates);
	struct strbuf human = STRBUF_INIT, junit = STRBUF_INIT, md = STRBUF_INIT;
	struct report_item it = {"odd", r, &gates, NULL};
	json_t *m;
	char *dump;

	CHECK(ascii && json_array_size(jget(ascii, "closure.missing")) == 1 &&
		  count_rule(ascii, "missing-library", "error") == 1 && gate_failed(&ascii_gates),
	      "ASCII names: the missing soname is a missing-library error, the gate fails");
	if (!r)
		goto done;
	m = jget(r, "closure.missing.0");
	CHECK(json_array_size(jget(r, "closure.missing")) == 1 && m &&
		  !strcmp(json_string_value(json_object_get(m, "file")), "/usr/bin/ap\\xffp") &&
		  !strcmp(json_string_value(json_object_get(m, "needed")), "libodd\\xfe.so.1"),
	      "closure.missing keeps the file and the soname, each bad byte as \\xNN");
	CHECK(
	    count_rule(r, "missing-library", "error") == 1 &&
		!strcmp(json_string_value(jget(finding_of(r, "missing-library", "error"), "path")),
			"/usr/bin/ap\\xffp"),
	    "the missing-library finding is there, its path escaped");
	CHECK(gate_failed(&gates), "the gate fails as it does for the ASCII path");
	CHECK(json_array_size(jget(r, "wasted")) == 1 &&
		  !strcmp(json_string_value(jget(r, "wasted.0.path")), "/opt/w\\xffste") &&
		  jint_at(r, "wasted.0.bytes") == 500,
	      "wasted keeps the deleted file, its name escaped");
	CHECK(find_by(json_object_get(r, "packages"), "name",
		      "b\\xff"
		      "ad"),
	      "a package name escaped");
	dump = json_dumps(r, 0);
	CHECK(dump != NULL, "the report serializes");
	free(dump);

	report_human(&it, 0, &human);
	CHECK(strstr(human.buf, "/usr/bin/ap\\xffp needs libodd\\xfe.so.1 via DT_NEEDED") &&
		  strstr(human.buf, "/opt/w\\xffste"),
	      "the text summary shows both names escaped");
	report_junit(&it, 1, &junit);
	CHECK(strstr(junit.buf, "libodd\\xfe.so.1&apos; needed by &apos;/usr/bin/ap\\xffp"),
	      "JUnit: the failure names both, escaped");
	report_markdown(&it, 1, 0, &md);
	CHECK(strstr(md.buf, "| /usr/bin/ap\\xffp | libodd\\xfe.so.1 | DT\\_NEEDED |") &&
		  strstr(md.buf, "| /opt/w\\xffste |"),
	      "Markdown: the missing library and the waste, escaped");
	strbuf_release(&human);
	strbuf_release(&junit);
	strbuf_release(&md);
done:
	json_decref(ascii);
	json_decref(r);
	vec_release(&ascii_gates);
	vec_release(&gates);
}

/* ---- scenario 2f: an ELF whose DT_NEEDED list was not read -------------- */

static void test_not_checked(const struct knowledge *kb)
{
	json_t *cfg = json_pack("{s:{s:s,s:[s]}}", "config", "User", "1000", "Env",
				"NVIDIA_DRIVER_CAPABILITIES=compute");
	struct vec gates = VEC_INIT(gate_result_free);
	json_t *r, *nc;
	size_t big_n;
	char *big = slurp("app-bigdyn", &big_n);
	const struct ent l0[] = {{'F', "lib/x86_64-linux-gnu/libc.so.6", NULL, 1000},
				 {'F', "usr/bin/big", big, big_n},
				 {0, 0, 0, 0}};

	r = report_of_layer(kb, cfg, l0, "huge .dynamic");
	if (!r)
		goto done;
	nc = jget(r, "closure.not_checked");
	CHECK(json_array_size(nc) == 1 &&
		  !strcmp(json_string_value(jget(nc, "0.path")), "/usr/bin/big") &&
		  strstr(json_string_value(jget(nc, "0.reason")), "larger than 1 MiB"),
	      "closure.not_checked names the file and why");
	CHECK(count_rule(r, "missing-library", "warn") == 1 &&
		  !strcmp(
		      json_string_value(jget(finding_of(r, "missing-library", "warn"), "message")),
		      "'/usr/bin/big' was not checked for missing libraries: its .dynamic is "
		      "larger than 1 MiB"),
	      "a missing-library warning says it was not checked");
	gate_check_rules(r, NULL, &gates);
	for (size_t i = 0; i < gates.nr; i++) {
		const struct gate_result *g = gates.items[i];

		if (!strcmp(g->name, "missing-library"))
			CHECK(g->status == GATE_WARN && strstr(g->message, "not checked"),
			      "the gate sees it: missing-library warns (%s)", g->message);
	}
done:
	json_decref(r);
	json_decref(cfg);
	vec_release(&gates);
	free(big);
}

/* ---- scenario 2g: what the analyzer looks for is plugin data ------------ */

static void test_plugin_names(void)
{
	static const char plugin[] =
	    "{\"schema_version\": 1, \"devel_tools\": [\"nvcc-wrapper\"],"
	    " \"interpreters\": [\"julia{version}\"],"
	    " \"caches\": [{\"kind\": \"conda-pkgs\", \"paths\": [\"/opt/conda/pkgs/*\"]}]}";
	char *dir = xstrfmt("%s/plug", tmp), *file = xstrfmt("%s/libraries.json", dir);
	struct vec dirs = VEC_INIT(NULL);
	struct knowledge *kb = NULL;
	json_t *cfg = json_pack("{s:{s:s}}", "config", "User", "1000");
	json_t *r = NULL;
	const struct ent l0[] = {{'F', "opt/conda/pkgs/numpy.tar.bz2", NULL, 700},
				 {'F', "var/lib/apt/lists/x_InRelease", NULL, 10},
				 {'F', "usr/bin/nvcc-wrapper", NULL, 0},
				 {'L', "opt/jl/bin/julia1.10", "/nowhere/julia", 0},
				 {0, 0, 0, 0}};
	size_t app_n;
	char *app = slurp("app2", &app_n);
	struct ent l1[] = {{'F', "usr/bin/nvcc-wrapper", app, app_n}, {0, 0, 0, 0}};
	const struct ent *const both[] = {l0, l1};

	fs_mkdir_p(dir, 0755);
	fs_write_atomic(file, plugin, strlen(plugin));
	vec_push(&dirs, (void *)"plugins");
	vec_push(&dirs, dir);
	CHECK(knowledge_load_dirs(&kb, &dirs) == 0, "a user libraries.json loads (%s)",
	      error_last());
	if (!kb)
		goto done;
	CHECK(vec_findstr(&kb->analysis.devel_tools, "nvcc") >= 0 &&
		  vec_findstr(&kb->analysis.devel_tools, "nvcc-wrapper") >= 0 &&
		  kb->analysis.caches_nr == 6,
	      "its names join the built-in ones (%zu cache kinds)", kb->analysis.caches_nr);
	r = report_of_layers(kb, cfg, both, 2, "user plugin");
	if (!r)
		goto done;
	CHECK(find_by(json_object_get(r, "caches"), "kind", "conda-pkgs") &&
		  jint_at(find_by(json_object_get(r, "caches"), "kind", "conda-pkgs"), "bytes") ==
		      700 &&
		  find_by(json_object_get(r, "caches"), "kind", "apt-lists"),
	      "a cache kind from the plugin, beside the built-in ones");
	CHECK(
	    json_array_size(jget(r, "devel.tools")) == 1 &&
		!strcmp(json_string_value(jget(r, "devel.tools.0.path")), "/usr/bin/nvcc-wrapper"),
	    "a devel tool from the plugin");
	CHECK(json_array_size(jget(r, "closure.dangling_interpreters")) == 1,
	      "an interpreter from the plugin (julia{version}) dangles");
done:
	json_decref(r);
	json_decref(cfg);
	knowledge_free(kb);
	vec_release(&dirs);
	free(app);
	free(dir);
	free(file);
}

/* ---- scenario 3: a missing command through a symlink loop -------------- */

static void test_command(void)
{
	struct analyze_opts o = {0};
	struct image_meta meta;
	json_t *cfg = json_pack("{s:{s:s,s:[s,s],s:s}}", "config", "User", "0:0", "Entrypoint",
				"/loop/a", "x", "WorkingDir", "/srv");
	struct analysis *an = analysis_new(&o, fake_read);
	struct image_visitor v;
	json_t *r = NULL;
	const struct ent l0[] = {{'L', "loop/a", "b", 0}, {'L', "loop/b", "a", 0}, {0, 0, 0, 0}};

	meta_init(&meta, 1, cfg);
	analysis_visitor(an, &v);
	v.meta(v.ctx, &meta);
	feed_layer(an, &v, 0, l0);
	CHECK(analysis_report(an, NULL, &r) == 0, "report of a looping entrypoint");
	CHECK(r && json_is_false(jget(r, "config.command_exists")) &&
		  count_rule(r, "missing-command", "error") == 1,
	      "entrypoint through a symlink loop: missing-command");
	CHECK(r && json_is_true(jget(r, "config.root")), "USER 0:0 is root");
	json_decref(r);
	analysis_free(an);
	meta_release(&meta);
	json_decref(cfg);
}

/* ---- scenario 4: the base named by the label, resolved after the walk --- */

static int resolve_calls;

static int fake_resolve_base(void *ctx, const char *name, struct vec *out)
{
	resolve_calls++;
	if (strcmp(name, "test/base:1"))
		return -1;
	vec_pushstr(out, ctx);
	return 0;
}

static void test_base_label(void)
{
	json_t *cfg = json_pack("{s:{s:{s:s}}}", "config", "Labels",
				"org.opencontainers.image.base.name", "test/base:1");
	const struct ent l0[] = {{'F', "etc/base", NULL, 70}, {0, 0, 0, 0}};
	const struct ent l1[] = {{'F', "app/own", NULL, 30}, {0, 0, 0, 0}};

	for (int fail = 0; fail < 2; fail++) {
		struct analyze_opts o = {0};
		struct image_meta meta;
		struct analysis *an;
		struct image_visitor v;
		json_t *r = NULL;

		meta_init(&meta, 2, cfg);
		o.resolve_base = fake_resolve_base;
		/* layer 0's diff_id (meta_init), or one the image does not have */
		o.resolve_base_ctx =
		    fail
			? (void *)"sha256:"
				  "0000000000000000000000000000000000000000000000000000000000000009"
			: (void *)diff_ids[0];
		resolve_calls = 0;
		an = analysis_new(&o, fake_read);
		analysis_visitor(an, &v);
		v.meta(v.ctx, &meta);
		feed_layer(an, &v, 1, l1);
		feed_layer(an, &v, 0, l0);
		CHECK(analysis_report(an, NULL, &r) == 0 && r, "report with a base label (%s)",
		      error_last());
		CHECK(resolve_calls == 1, "resolve_base asked once, with the label");
		CHECK_STR(r ? json_string_value(jget(r, "summary.base.name")) : NULL, "test/base:1",
			  "base name from the label");
		if (!fail) {
			CHECK(jint_at(r, "summary.base.layers") == 1 &&
				  jint_at(r, "summary.base_bytes") == 70 &&
				  jint_at(r, "summary.own_bytes") == 30,
			      "the label's base resolved after the walk: layer 0 is base");
			CHECK_STR(r ? json_string_value(jget(r, "summary.base.matched_by")) : NULL,
				  "label", "matched_by label");
		} else {
			CHECK(jint_at(r, "summary.base.layers") == 0 &&
				  jint_at(r, "summary.own_bytes") == 100,
			      "a base whose layers are not the image's: no layer is base");
			CHECK_STR(r ? json_string_value(jget(r, "summary.base.matched_by")) : NULL,
				  "none", "matched_by none");
		}
		json_decref(r);
		analysis_free(an);
		meta_release(&meta);
	}
	json_decref(cfg);
}

/* ---- the path index on its own ------------------------------------------ */

static void test_fsindex(void)
{
	struct fsindex fsi;
	struct strbuf sb = STRBUF_INIT;
	uint32_t a, b;

	fsi_init(&fsi);
	for (int i = 0; i < 20000; i++) {
		char p[64];

		snprintf(p, sizeof(p), "usr/lib/d%d/f%d", i % 97, i);
		fsi_lookup(&fsi, FSI_ROOT, p, 1);
	}
	a = fsi_lookup(&fsi, FSI_ROOT, "usr/lib/d5/f5", 0);
	b = fsi_lookup(&fsi, FSI_ROOT, "/usr//lib/d5/f5", 0);
	CHECK(a != FSI_NONE && a == b, "lookup after 20000 inserts, slashes folded");
	fsi_path(&fsi, a, &sb);
	CHECK_STR(sb.buf, "/usr/lib/d5/f5", "path of a node");
	CHECK(fsi_lookup(&fsi, FSI_ROOT, "usr/lib/d5/nope", 0) == FSI_NONE, "absent path");
	CHECK(fsi_intern(&fsi, "lib", 3) ==
		  fsi_node(&fsi, fsi_lookup(&fsi, FSI_ROOT, "usr/lib", 0))->name,
	      "names interned once");
	strbuf_release(&sb);
	fsi_release(&fsi);
}

/* ---- the sizemap: the waste scenario's layers as trees ------------------- */

static void test_sizemap(void)
{
	struct analyze_opts o = {0};
	struct vec base = VEC_INIT(NULL);
	struct image_meta meta;
	struct analysis *an;
	struct image_visitor v;
	json_t *r = NULL, *sm, *l0, *l1, *n;
	char *s;
	const struct ent e0[] = {{'F', "usr/a", NULL, 100},
				 {'F', "usr/b", NULL, 200},
				 {'F', "opt/d/x", NULL, 300},
				 {'F', "keep/k", NULL, 50},
				 {'F', "h/orig", NULL, 500},
				 {'H', "h/link", "h/orig", 0},
				 {0, 0, 0, 0}};
	const struct ent e1[] = {{'F', "usr/a", NULL, 150},
				 {'W', "usr/b", 0, 0},
				 {'W', "h/orig", 0, 0},
				 {'F', "usr/c", NULL, 0},
				 {0, 0, 0, 0}};
	const struct ent e2[] = {{'W', "h/link", 0, 0}, {0, 0, 0, 0}};

	meta_init(&meta, 3, NULL);
	vec_push(&base,
		 (void *)"sha256:0000000000000000000000000000000000000000000000000000000000000001");
	o.base_diff_ids = &base;
	o.sizemap = 1;
	an = analysis_new(&o, fake_read);
	analysis_visitor(an, &v);
	v.meta(v.ctx, &meta);
	feed_layer(an, &v, 0, e0);
	feed_layer(an, &v, 1, e1);
	feed_layer(an, &v, 2, e2);
	CHECK(analysis_report(an, NULL, &r) == 0 && r, "report with a sizemap (%s)", error_last());
	if (!r)
		goto done;
	sm = json_object_get(r, "sizemap");
	l0 = jget(sm, "layers.0");
	l1 = jget(sm, "layers.1");
	s = json_dumps(sm, JSON_COMPACT);
	CHECK(jint_at(sm, "min_bytes") == 1, "min_bytes: 1 for a tiny image (%lld)",
	      jint_at(sm, "min_bytes"));
	/* Layer 0, biggest first (a tie in the order first seen): h 500 (orig: its last
	 * name deleted: wasted), usr 300 (a overwritten, b deleted: wasted), opt/d 300 (one
	 * chain), keep 50 (base). */
	CHECK(json_array_size(l0) == 4 && !strcmp(json_string_value(jget(l0, "0.0")), "h") &&
		  jint_at(l0, "0.1") == 500 && jint_at(l0, "0.3.0.2") == 2,
	      "layer 0: h/orig 500 bytes, wasted (%s)", s);
	n = jget(l0, "2");
	CHECK(n && !strcmp(json_string_value(jget(n, "0")), "opt/d") && jint_at(n, "1") == 300,
	      "a chain of single directories is one node 'opt/d' (%s)", s);
	n = jget(l0, "1");
	CHECK(n && !strcmp(json_string_value(jget(n, "0")), "usr") && jint_at(n, "1") == 300 &&
		  jint_at(n, "3.0.1") == 200 && jint_at(n, "3.0.2") == 2 &&
		  jint_at(n, "3.1.1") == 100 && jint_at(n, "3.1.2") == 2,
	      "usr/b (deleted) and usr/a (overwritten) are wasted in layer 0 (%s)", s);
	n = jget(l0, "3");
	CHECK(n && !strcmp(json_string_value(jget(n, "0")), "keep") && jint_at(n, "3.0.2") == 0,
	      "keep/k: no package, a base layer: owner base (%s)", s);
	CHECK(json_array_size(l1) == 1 && jint_at(l1, "0.1") == 150 &&
		  jint_at(l1, "0.3.0.2") == 1 && json_array_size(jget(l1, "0.3")) == 1,
	      "layer 1: usr/a 150 bytes, the app's; the empty usr/c is no node (%s)", s);
	CHECK(json_array_size(jget(sm, "layers.2")) == 0, "layer 2: no bytes, no node");
	CHECK_STR(json_string_value(jget(sm, "owners.2.0")), "wasted", "owners: base, app, wasted");
	free(s);
done:
	json_decref(r);
	analysis_free(an);
	meta_release(&meta);
	vec_release(&base);
}

/* ---- the sizemap of a big image: 10 GB in 100k files stays a small page ---- */

struct zero_reader {
	uint64_t left;
};

static long zero_read(struct image_reader *rd, void *buf, size_t len)
{
	struct zero_reader *z = (struct zero_reader *)rd;

	if (len > z->left)
		len = (size_t)z->left;
	if (len > 4096)
		len = 4096;
	memset(buf, 0, len);
	z->left -= len;
	return (long)len;
}

static long long sm_sum(json_t *n, int *bad)
{
	json_t *kids = json_array_get(n, 3);
	long long s = 0;

	if (!json_is_array(kids))
		return json_integer_value(json_array_get(n, 1));
	for (size_t i = 0; i < json_array_size(kids); i++)
		s += sm_sum(json_array_get(kids, i), bad);
	if (s != json_integer_value(json_array_get(n, 1)))
		*bad = 1;
	return s;
}

static void test_sizemap_big(void)
{
	struct analyze_opts o = {0};
	struct image_meta meta;
	struct analysis *an;
	struct image_visitor v;
	json_t *r = NULL, *sm;
	uint64_t seed = 12345, total = 0;
	char path[128];
	char *dump;
	size_t files = 0, len = 0;
	int bad = 0;
	long long sum = 0;

	meta_init(&meta, 2, NULL);
	o.sizemap = 1;
	an = analysis_new(&o, zero_read);
	analysis_visitor(an, &v);
	v.meta(v.ctx, &meta);
	/* Two layers of 50k files (100 x 10 directories of 50), sizes log-spread from bytes to
	 * ~40 MB (xorshift), about 10 GB in all. */
	for (size_t l = 0; l < 2; l++) {
		struct image_layer *il = &layers[l];

		memset(il, 0, sizeof(*il));
		il->index = l;
		snprintf(diff_ids[l], sizeof(diff_ids[l]), "sha256:%064zx", l + 1);
		v.layer_begin(v.ctx, il);
		for (size_t i = 0; i < 50000; i++) {
			struct image_entry ie = {path, IMAGE_ENTRY_FILE, 0, 0644, NULL, 0, 0};
			struct zero_reader z;
			uint64_t size;

			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			size = (seed % 1000) < 3 ? 20000000 + seed % 20000000
						 : (1u << (seed % 18)) + seed % 997;
			snprintf(path, sizeof(path), "l%zu/d%zu/e%zu/f%zu.bin", l, i % 100,
				 (i / 100) % 10, i);
			ie.size = size;
			z.left = size;
			v.entry(v.ctx, il, &ie, (struct image_reader *)&z);
			total += size;
			files++;
		}
		il->diff_id = diff_ids[l];
		v.layer_end(v.ctx, il);
	}
	CHECK(analysis_report(an, NULL, &r) == 0 && r, "report of 100k files (%s)", error_last());
	if (!r)
		goto done;
	sm = json_object_get(r, "sizemap");
	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < json_array_size(jget(sm, l ? "layers.1" : "layers.0")); i++)
			sum +=
			    sm_sum(json_array_get(jget(sm, l ? "layers.1" : "layers.0"), i), &bad);
	dump = json_dumps(sm, JSON_COMPACT);
	len = dump ? strlen(dump) : 0;
	free(dump);
	CHECK(sum == (long long)total && (long long)total == jint_at(r, "summary.size") && !bad,
	      "%zu files, %llu bytes: the sizemap adds up, every directory too", files,
	      (unsigned long long)total);
	CHECK(len < 3000000, "the sizemap of %.1f GB in %zu files is %zu bytes of JSON (< 3 MB)",
	      (double)total / 1e9, files, len);
done:
	json_decref(r);
	analysis_free(an);
	meta_release(&meta);
}

int main(void)
{
	struct knowledge *kb = NULL;
	struct vec dirs = VEC_INIT(NULL);

	test_fsindex();
	test_waste();
	test_sizemap();
	test_sizemap_big();
	test_command();
	test_base_label();
	if (!mkdtemp(tmp)) {
		CHECK(0, "mkdtemp");
		return unit_done();
	}
	vec_push(&dirs, (void *)"plugins");
	CHECK(knowledge_load_dirs(&kb, &dirs) == 0, "load plugins/ (%s)", error_last());
	if (build_elves() && kb) {
		test_contents(kb);
		test_rpath_inherit(kb);
		test_rpath_inherit_library(kb);
		test_dup_versions(kb);
		test_ldconf_include(kb);
		test_runtime_files(kb);
		test_bad_bytes(kb);
		test_not_checked(kb);
		test_plugin_names();
	} else
		CHECK(0, "cc builds the ELF files");
	knowledge_free(kb);
	vec_release(&dirs);
	{
		struct process p;
		struct process_result res;

		process_init(&p);
		vec_pushstr(&p.argv, "rm");
		vec_pushstr(&p.argv, "-rf");
		vec_pushstr(&p.argv, tmp);
		process_run(&p, 10000, &res);
		process_release(&p);
	}
	return unit_done();
}
