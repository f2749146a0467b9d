#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/knowledge.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "unit.h"
#include "util/fs.h"
#include "util/strbuf.h"

/* Run from the repository root (tests/run.sh does): the built-in plugins
 * are ./plugins. */

static struct knowledge *kb;

static struct plan *plan_text(const char *yaml, struct vec *diags, struct recipe **rout)
{
	struct recipe *r = NULL;
	struct plan *p = NULL;

	if (recipe_parse("test.yaml", yaml, strlen(yaml), &r, diags) < 0) {
		printf("# recipe: %s\n", diags->nr ? (char *)diags->items[0] : error_last());
		return NULL;
	}
	if (plan_build(r, kb, &p, diags) < 0) {
		recipe_free(r);
		return NULL;
	}
	*rout = r;
	return p;
}

#define PLAN(yaml)                                                                                 \
	struct vec diags = VEC_INIT(free);                                                         \
	struct recipe *r = NULL;                                                                   \
	struct plan *p = plan_text(yaml, &diags, &r)

#define PLAN_DONE()                                                                                \
	do {                                                                                       \
		plan_free(p);                                                                      \
		recipe_free(r);                                                                    \
		vec_release(&diags);                                                               \
	} while (0)

static void test_matrix(void)
{
	PLAN("name: m\n"
	     "base: {os: ubuntu22.04}\n"
	     "cuda: \"12.4\"\n"
	     "python: \"3.11\"\n"
	     "tag: v1\n"
	     "matrix:\n"
	     "  cuda: [\"12.1\", \"12.4\", \"12.6\"]\n"
	     "  python: [\"3.10\", \"3.11\"]\n"
	     "  exclude:\n"
	     "    - {cuda: \"12.1\", python: \"3.10\"}\n"
	     "    - {cuda: \"12.6\"}\n"
	     "  include:\n"
	     "    - {cuda: \"12.4\", python: \"3.11\"}\n"
	     "    - {cuda: \"12.8\"}\n");

	CHECK(p != NULL, "matrix with include/exclude plans");
	if (!p)
		goto done;
	CHECK(p->cells_nr == 4, "3x2 minus 3 excluded plus 1 new include (the other is a dup): %zu",
	      p->cells_nr);
	CHECK_STR(p->cells[0].id, "m-cuda12-1-python3-11", "first cell id, first axis slowest");
	CHECK_STR(p->cells[0].tag, "v1-cuda12.1-python3.11", "tag keeps the dots and the prefix");
	CHECK_STR(p->cells[0].image_ref, "local/m:v1-cuda12.1-python3.11", "image ref");
	CHECK_STR(p->cells[1].id, "m-cuda12-4-python3-10", "second cell");
	CHECK_STR(p->cells[3].id, "m-cuda12-8-python3-11",
		  "an include takes the top-level value for axes it leaves out");
	CHECK_STR(p->cells[3].cuda.value, "12.8.1", "include cell resolves its cuda");
	CHECK(p->cells[3].axes.nr == 2, "include cell shows both axes");
done:
	PLAN_DONE();
}

static void test_no_matrix_and_resolution(void)
{
	PLAN("name: single\n"
	     "base: {os: ubuntu22.04}\n"
	     "cuda: \"12.4\"\n"
	     "python: \"3.11\"\n"
	     "frameworks: {torch: \"2.4\", torchvision: auto, torchaudio: auto}\n"
	     "python_packages: [numpy]\n"
	     "system_packages: [libgomp1]\n");

	CHECK(p && p->cells_nr == 1, "no matrix: one cell");
	if (!p)
		goto done;
	CHECK_STR(p->cells[0].id, "single", "id is the name");
	CHECK_STR(p->cells[0].tag, "latest", "tag defaults to latest");
	CHECK_STR(p->cells[0].cuda.value, "12.4.1", "12.4 resolves to the newest patch");
	CHECK_STR(p->cells[0].cuda_minor, "12.4", "cuda minor");
	CHECK_STR(p->cells[0].frameworks[0].pip_spec, "torch==2.4.1+cu124", "torch variant cu124");
	CHECK_STR(p->cells[0].frameworks[1].pip_spec, "torchvision==0.19.1+cu124",
		  "torchvision pairs with the same variant");
	CHECK_STR(p->cells[0].frameworks[2].pip_spec, "torchaudio==2.4.1+cu124",
		  "torchaudio pairs");
	CHECK(p->cells[0].extra_index_urls.nr == 1, "one extra index URL, deduplicated");
	CHECK_STR(p->cells[0].extra_index_urls.items[0], "https://download.pytorch.org/whl/cu124",
		  "index URL from the template");
	CHECK(p->cells[0].pip_requirements.nr == 4, "frameworks then python_packages");
	CHECK_STR(p->cells[0].pip_requirements.items[3], "numpy", "python_packages last");
	CHECK_STR(p->cells[0].final.flavor, "base", "torch brings CUDA: final is base");
	CHECK_STR(p->cells[0].builder.flavor, "base", "nothing compiles: builder is base");
	CHECK_STR(p->cells[0].final.ref, "docker.io/nvidia/cuda:12.4.1-base-ubuntu22.04",
		  "final ref");
	CHECK_STR(p->cells[0].python_bin, "/usr/bin/python3.11", "os python bin");
	CHECK(p->cells[0].builder_packages.nr == 4, "builder packages: %zu",
	      p->cells[0].builder_packages.nr);
	CHECK_STR(p->cells[0].builder_packages.items[0], "binutils", "builder packages sorted");
	CHECK_STR(p->cells[0].builder_packages.items[3], "python3.11-venv", "venv in builder");
	CHECK(p->cells[0].final_packages.nr == 2, "final: python + system package");
	CHECK_STR(p->cells[0].require_cuda,
		  "cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=unknown,driver>=470,"
		  "driver<471 brand=nvidia,driver>=470,driver<471 brand=nvidiartx,driver>=470,"
		  "driver<471 brand=geforce,driver>=470,driver<471 brand=geforcertx,driver>=470,"
		  "driver<471 brand=quadro,driver>=470,driver<471 brand=quadrortx,driver>=470,"
		  "driver<471 brand=titan,driver>=470,driver<471 brand=titanrtx,driver>=470,"
		  "driver<471 brand=tesla,driver>=525,driver<526 brand=unknown,driver>=525,"
		  "driver<526 brand=nvidia,driver>=525,driver<526 brand=nvidiartx,driver>=525,"
		  "driver<526 brand=geforce,driver>=525,driver<526 brand=geforcertx,driver>=525,"
		  "driver<526 brand=quadro,driver>=525,driver<526 brand=quadrortx,driver>=525,"
		  "driver<526 brand=titan,driver>=525,driver<526 brand=titanrtx,driver>=525,"
		  "driver<526 brand=tesla,driver>=535,driver<536 brand=unknown,driver>=535,"
		  "driver<536 brand=nvidia,driver>=535,driver<536 brand=nvidiartx,driver>=535,"
		  "driver<536 brand=geforce,driver>=535,driver<536 brand=geforcertx,driver>=535,"
		  "driver<536 brand=quadro,driver>=535,driver<536 brand=quadrortx,driver>=535,"
		  "driver<536 brand=titan,driver>=535,driver<536 brand=titanrtx,driver>=535,"
		  "driver<536",
		  "NVIDIA_REQUIRE_CUDA of 12.4.1 as NVIDIA writes it");
	CHECK_STR(p->cells[0].driver_min, "550.54.15", "driver min");
	CHECK_STR(p->cells[0].driver_floor, "525.60.13", "driver floor");
	CHECK(p->cells[0].closure_skip.nr == 0 && p->cells[0].dlopen_nr == 0,
	      "no closure rules without a compiled program");
done:
	PLAN_DONE();
}

static void test_variants(void)
{
	PLAN("name: v\n"
	     "base: {os: ubuntu22.04}\n"
	     "cuda: \"12.4\"\n"
	     "python: \"3.11\"\n"
	     "frameworks: {torch: \"2.4\"}\n"
	     "matrix:\n"
	     "  cuda: [\"11.8\", \"12.1\", \"12.6\"]\n"
	     "  include:\n"
	     "    - {cuda: \"13.0\", torch: \"2.9\"}\n"
	     "    - {cuda: \"12.8\", torch: \"2.11\"}\n");

	CHECK(p && p->cells_nr == 5, "variant matrix plans");
	if (!p)
		goto done;
	CHECK_STR(p->cells[0].frameworks[0].variant, "cu118", "CUDA 11.8 takes cu118");
	CHECK_STR(p->cells[1].frameworks[0].variant, "cu121", "CUDA 12.1 takes cu121");
	CHECK_STR(p->cells[2].frameworks[0].variant, "cu124",
		  "CUDA 12.6 takes cu124: newest not newer than the base");
	CHECK_STR(p->cells[3].frameworks[0].pip_spec, "torch==2.9.1+cu130",
		  "a matrix include overrides the framework version");
	CHECK_STR(p->cells[3].id, "v-cuda13-0-torch2-9", "framework axis in the id");
	CHECK_STR(p->cells[4].frameworks[0].pip_spec, "torch==2.11.0+cu128",
		  "2.11 on CUDA 12.8 takes cu128, not the newer default cu130");
done:
	PLAN_DONE();
}

static void test_flavors(void)
{
	{
		PLAN("name: ort\n"
		     "base: {os: ubuntu22.04}\n"
		     "cuda: \"12.4\"\n"
		     "python: \"3.11\"\n"
		     "frameworks: {onnxruntime-gpu: \"1.20\"}\n");

		CHECK(p != NULL, "onnxruntime plans");
		if (p) {
			CHECK_STR(p->cells[0].final.flavor, "cudnn-runtime",
				  "onnxruntime needs CUDA libs and cuDNN from the base");
			CHECK_STR(p->cells[0].final.tag, "12.4.1-cudnn-runtime-ubuntu22.04",
				  "cudnn tag spelling from 12.4 on");
			CHECK_STR(p->cells[0].cudnn.value, "9.1.0.70", "cudnn version");
			CHECK_STR(p->cells[0].frameworks[0].pip_spec, "onnxruntime-gpu==1.20.1",
				  "plain PyPI spec");
			CHECK(p->cells[0].frameworks[0].index_url == NULL, "no extra index");
		}
		PLAN_DONE();
	}
	{
		PLAN("name: prog\n"
		     "base: {os: ubuntu22.04}\n"
		     "cuda: \"12.3\"\n"
		     "cudnn: true\n"
		     "app:\n"
		     "  build: [\"make\"]\n"
		     "  artifacts: [/src/app]\n"
		     "trim: {strip: none}\n");

		CHECK(p != NULL, "compiled program plans");
		if (p) {
			CHECK_STR(p->cells[0].builder.flavor, "cudnn-devel",
				  "compiling with cuDNN: cudnn-devel builder");
			CHECK_STR(p->cells[0].final.tag, "12.3.2-cudnn9-runtime-ubuntu22.04",
				  "12.3.2 spells cudnn9");
			CHECK(p->cells[0].compiles == 1, "compiles");
			CHECK(vec_findstr(&p->cells[0].closure_skip, "libcudnn.so.*") >= 0,
			      "closure skips what cudnn-runtime provides");
			CHECK(vec_findstr(&p->cells[0].closure_skip, "libcudart.so.12") >= 0,
			      "closure skips cudart (templated major)");
			CHECK(vec_findstr(&p->cells[0].closure_skip, "libcuda.so.1") >= 0,
			      "closure skips driver sonames");
			CHECK(p->cells[0].dlopen_nr >= 3 &&
				  !strcmp(p->cells[0].dlopen[2].soname, "libnvrtc.so.12") &&
				  !strcmp(p->cells[0].dlopen[2].loads.items[0],
					  "libnvrtc-builtins.so.12.3"),
			      "dlopen rule expanded for CUDA 12.3");
			CHECK(vec_findstr(&p->cells[0].builder_packages, "binutils") < 0,
			      "strip none: no binutils");
		}
		PLAN_DONE();
	}
	{
		PLAN("name: managed\n"
		     "base: {os: ubuntu22.04}\n"
		     "cuda: \"11.8\"\n"
		     "python: \"3.12\"\n"
		     "python_source: managed\n"
		     "frameworks: {torch: \"2.4\"}\n");

		CHECK(p != NULL, "managed python plans where the OS lacks it");
		if (p) {
			CHECK_STR(p->cells[0].python_bin, "/opt/python/bin/python3.12",
				  "managed bin");
			CHECK_STR(p->cells[0].managed_python_dir, "/opt/python", "managed dir");
			CHECK(vec_findstr(&p->cells[0].builder_packages, "curl") >= 0,
			      "curl for the managed interpreter");
			CHECK(p->cells[0].final_packages.nr == 0,
			      "no OS python in the final stage");
		}
		PLAN_DONE();
	}
}

static void test_errors(void)
{
	{
		PLAN("name: e\n"
		     "base: {os: ubuntu22.04}\n"
		     "cuda: \"12.4\"\n"
		     "python: \"3.11\"\n"
		     "frameworks: {torch: \"2.8\"}\n"
		     "matrix:\n"
		     "  python: [\"3.10\", \"3.11\"]\n");

		CHECK(p == NULL, "torch 2.8 on 12.4 fails");
		CHECK(diags.nr == 1, "the same problem in two cells is reported once (%zu)",
		      diags.nr);
		if (diags.nr)
			CHECK_STR(
			    diags.items[0],
			    "test.yaml:5:21: frameworks.torch: torch 2.8 has no CUDA 12.4 wheel; "
			    "it has cu126, cu128, cu129",
			    "message points at the framework version");
		PLAN_DONE();
	}
	{
		PLAN("name: e\n"
		     "base: {os: ubuntu22.04, flavor: base}\n"
		     "cuda: \"12.4\"\n"
		     "cudnn: true\n");

		CHECK(p == NULL && diags.nr == 1, "flavor base with cudnn fails");
		PLAN_DONE();
	}
}

static int write_file(const char *path, const char *text)
{
	return fs_write_atomic(path, text, strlen(text));
}

static void test_override_order(void)
{
	char tmpl[] = "/tmp/gpuslim-kb-XXXXXX";
	char *root = mkdtemp(tmpl);
	char *a, *b, *fa, *fb, *ca;
	struct vec dirs = VEC_INIT(NULL);
	struct knowledge *k = NULL;
	const struct kb_framework *fw;
	const struct kb_fw_release *rel;
	int ret;

	if (!root) {
		CHECK(0, "mkdtemp");
		return;
	}
	a = fs_join(root, "a");
	b = fs_join(root, "b");
	fs_mkdir_p(a, 0755);
	fs_mkdir_p(b, 0755);
	fa = fs_join(a, "frameworks.json");
	fb = fs_join(b, "frameworks.json");
	ca = fs_join(a, "cuda.json");
	write_file(fa, "{\"schema_version\": 1, \"frameworks\": [{\"name\": \"torch\", "
		       "\"releases\": [{\"version\": \"2.99.0\", \"variants\": [\"cu128\"]}]}]}\n");
	write_file(fb, "{\"schema_version\": 1, \"frameworks\": [{\"name\": \"torch\", "
		       "\"releases\": [{\"version\": \"2.99.0\", \"variants\": [\"cu130\"]}]}]}\n");
	write_file(ca, "{\"schema_version\": 1, \"releases\": [{\"version\": \"12.4.1\", "
		       "\"cudnn_tag\": \"cudnn\", \"cudnn_version\": \"9.1.0.70\", \"driver\": "
		       "\"999.1\", \"driver_floor\": \"525.60.13\", "
		       "\"require_branches\": [470], \"brands\": \"A\"}]}\n");

	vec_push(&dirs, a);
	vec_push(&dirs, b);
	ret = knowledge_load(&k, &dirs);
	CHECK(ret == 0, "built-in + two user dirs load: %s", error_last());
	if (k) {
		fw = kb_find_framework(k, "torch");
		rel = fw ? kb_find_release(fw, "2.99") : NULL;
		CHECK(rel && rel->variants.nr == 1 && !strcmp(rel->variants.items[0], "cu130"),
		      "the later directory's release replaces the earlier one");
		CHECK(fw && fw->brings_cuda && fw->index_url_template,
		      "a user file adding a release keeps the framework's built-in fields");
		CHECK(fw && kb_find_release(fw, "2.4") != NULL, "built-in releases stay");
		CHECK_STR(kb_find_cuda(k, "12.4.1")->driver, "999.1",
			  "a user cuda.json replaces the release with the same version");
		CHECK(kb_find_cuda(k, "12.6.3") != NULL, "other releases stay");
	}
	knowledge_free(k);
	k = NULL;
	vec_release(&dirs);

	/* Reversed order: the other file wins. */
	vec_push(&dirs, b);
	vec_push(&dirs, a);
	ret = knowledge_load(&k, &dirs);
	if (k) {
		rel = kb_find_release(kb_find_framework(k, "torch"), "2.99.0");
		CHECK(rel && !strcmp(rel->variants.items[0], "cu128"), "order decides the winner");
	}
	knowledge_free(k);
	vec_release(&dirs);

	unlink(fa);
	unlink(fb);
	unlink(ca);
	rmdir(a);
	rmdir(b);
	rmdir(root);
	free(a);
	free(b);
	free(fa);
	free(fb);
	free(ca);
}

static void test_json_stable(void)
{
	PLAN("name: j\n"
	     "base: {os: ubuntu24.04}\n"
	     "cuda: \"12.8\"\n"
	     "python: \"3.12\"\n"
	     "frameworks: {torch: \"2.7\", torchvision: auto}\n");
	char *x = NULL, *y = NULL;
	json_t *j1, *j2;

	CHECK(p != NULL, "plans");
	if (!p)
		goto done;
	j1 = plan_to_json(p);
	j2 = plan_to_json(p);
	x = json_dumps(j1, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	y = json_dumps(j2, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	CHECK(x && y && !strcmp(x, y), "plan JSON is byte-stable");
	CHECK(x && strstr(x, "\"id\": \"j\",\n") && strstr(x, "torch==2.7.1+cu128"),
	      "plan JSON holds the cell");
	json_decref(j1);
	json_decref(j2);
	free(x);
	free(y);
done:
	PLAN_DONE();
}

static void test_big_matrix(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct timespec t0, t1;
	double ms;

	strbuf_addstr(&sb, "name: big\nbase: {os: ubuntu22.04}\ncuda: \"12.4\"\npython: \"3.11\"\n"
			   "python_source: managed\nmatrix:\n  max_cells: 1000\n"
			   "  cuda: [\"12.0\", \"12.1\", \"12.2\", \"12.3\", \"12.4\", \"12.5\", "
			   "\"12.6\", \"12.8\", \"12.9\", \"13.0\"]\n"
			   "  cudnn: [true, false]\n  python: [");
	for (int i = 0; i < 50; i++)
		strbuf_addf(&sb, "%s\"3.%d\"", i ? ", " : "", i);
	strbuf_addstr(&sb, "]\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		PLAN(sb.buf);

		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms =
		    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		CHECK(p && p->cells_nr == 1000, "1000-cell matrix plans (%zu diags)", diags.nr);
		/* The time is the benchmark's business (bench/run.sh): reported, not judged. */
		printf("# 1000 cells parse+plan in %.1f ms\n", ms);
		PLAN_DONE();
	}
	strbuf_release(&sb);
}

/* The fixtures' cuDNN comes from bases.json, not from cuda.json, which
 * does not know what NVIDIA's 13.0.2 images carry. */
static void test_fixture_cudnn(void)
{
	PLAN("name: f\n"
	     "base: {os: debian12, registry: \"127.0.0.1:5000\", repository: "
	     "gpuslim-fixtures/cuda}\n"
	     "cuda: \"13.0\"\n"
	     "cudnn: true\n");

	CHECK(p && p->cells_nr == 1, "fixture recipe plans");
	if (!p)
		goto done;
	CHECK_STR(p->cells[0].cuda.value, "13.0.2", "the fixtures are 13.0.2");
	CHECK_STR(p->cells[0].final.tag, "13.0.2-cudnn-runtime-debian12", "cudnn fixture tag");
	CHECK_STR(p->cells[0].cudnn.value, "9.19.0.56", "cuDNN from the image entry of bases.json");
	CHECK_STR(p->cells[0].driver_min, "580.95.05", "13.0 Update 2's driver");
	CHECK(!p->cells[0].final.digest, "an offline plan has no digest");
done:
	PLAN_DONE();
}

/* The strip axis: each cell's strip with its reason, in the id and tag;
 * binutils only in the builders of cells that strip. */
static void test_strip(void)
{
	static const char fixture[] = "name: s\n"
				      "base: {os: debian12, registry: \"127.0.0.1:5000\", "
				      "repository: gpuslim-fixtures/cuda}\n"
				      "cuda: \"13.0\"\n"
				      "python: \"3.11\"\n";

	{
		PLAN(fixture);

		CHECK(p && p->cells_nr == 1, "no matrix, no trim: plans");
		if (p) {
			CHECK_STR(p->cells[0].strip.value, "unneeded",
				  "strip defaults to unneeded");
			CHECK_STR(
			    p->cells[0].strip.reason,
			    "unneeded is the default: symbols cost megabytes and nothing at run "
			    "time.",
			    "the default says why");
			CHECK(vec_findstr(&p->cells[0].builder_packages, "binutils") >= 0,
			      "the default strips: binutils in the builder");
			CHECK_STR(p->cells[0].id, "s", "no matrix: no strip word in the id");
		}
		PLAN_DONE();
	}
	{
		struct strbuf sb = STRBUF_INIT;

		strbuf_addf(&sb, "%strim: {strip: none}\n", fixture);
		{
			PLAN(sb.buf);

			CHECK(p && p->cells_nr == 1, "trim.strip none: plans");
			if (p) {
				CHECK_STR(p->cells[0].strip.value, "none", "trim.strip none");
				CHECK_STR(p->cells[0].strip.reason,
					  "none comes from the recipe's trim.strip.",
					  "reason names trim.strip");
				CHECK(vec_findstr(&p->cells[0].builder_packages, "binutils") < 0,
				      "strip none: no binutils");
			}
			PLAN_DONE();
		}
		strbuf_release(&sb);
	}
	{
		struct strbuf sb = STRBUF_INIT;

		strbuf_addf(&sb,
			    "%stag: v1\n"
			    "trim: {strip: debug}\n"
			    "matrix:\n"
			    "  cudnn: [false, true]\n"
			    "  strip: [none, unneeded]\n"
			    "  include:\n"
			    "    - {cudnn: true}\n",
			    fixture);
		{
			PLAN(sb.buf);

			CHECK(p && p->cells_nr == 5, "cudnn x strip plus an include: %zu cells",
			      p ? p->cells_nr : 0);
			if (!p)
				goto done;
			CHECK_STR(p->cells[0].id, "s-nocudnn-strip-none", "strip word in the id");
			CHECK_STR(p->cells[1].tag, "v1-nocudnn-strip-unneeded",
				  "strip word in the tag");
			CHECK_STR(p->cells[3].image_ref, "local/s:v1-cudnn-strip-unneeded",
				  "image ref of the last product cell");
			CHECK(p->cells[3].axes.nr == 2 &&
				  !strcmp(p->cells[3].axes.items[1], "strip=unneeded"),
			      "strip is one of the cell's axes");
			CHECK_STR(p->cells[0].strip.value, "none",
				  "matrix value wins over trim.strip");
			CHECK_STR(p->cells[0].strip.reason,
				  "none comes from the matrix (matrix.strip[0]).",
				  "reason names the matrix entry");
			CHECK_STR(p->cells[2].final.flavor, "cudnn-runtime",
				  "the cudnn axis still picks the final flavor");
			CHECK(vec_findstr(&p->cells[0].builder_packages, "binutils") < 0 &&
				  vec_findstr(&p->cells[2].builder_packages, "binutils") < 0,
			      "cells that keep symbols: no binutils");
			CHECK(vec_findstr(&p->cells[1].builder_packages, "binutils") >= 0 &&
				  vec_findstr(&p->cells[3].builder_packages, "binutils") >= 0,
			      "cells that strip: binutils");
			CHECK_STR(p->cells[4].id, "s-cudnn-strip-debug",
				  "an include without strip takes trim.strip");
			CHECK_STR(p->cells[4].strip.reason,
				  "debug comes from the recipe's trim.strip.",
				  "the include's reason names trim.strip");
			CHECK(vec_findstr(&p->cells[4].builder_packages, "binutils") >= 0,
			      "strip debug needs binutils too");
		done:
			PLAN_DONE();
		}
		strbuf_release(&sb);
	}
}

/* app.git offline: the plan names the URL without its credentials and the
 * ref, and no commit until plan_resolve_git(). */
static void test_git_offline(void)
{
	PLAN("name: a\nbase:\n  os: ubuntu22.04\ncuda: \"12.4\"\napp:\n  git:\n"
	     "    url: https://u:s3cret@example.com/r.git\n    ref: v1\n");
	json_t *doc, *git;
	char *text;

	CHECK(p != NULL, "a recipe with app.git plans offline");
	if (!p) {
		PLAN_DONE();
		return;
	}
	CHECK_STR(p->git.url, "https://example.com/r.git", "git.url without its credentials");
	CHECK_STR(p->git.ref, "v1", "git.ref as written");
	CHECK(!p->git.commit && !p->context, "no commit, no context offline");
	doc = plan_to_json(p);
	git = json_object_get(doc, "git");
	text = json_dumps(doc, JSON_COMPACT);
	CHECK(git && json_is_null(json_object_get(git, "commit")) && text &&
		  !strstr(text, "s3cret"),
	      "plan JSON: git.commit null, no credential anywhere");
	free(text);
	json_decref(doc);
	PLAN_DONE();
}

int main(void)
{
	if (!getenv("GPUSLIM_PLUGIN_DIR"))
		setenv("GPUSLIM_PLUGIN_DIR", "plugins", 1);
	if (knowledge_load(&kb, NULL) < 0) {
		printf("not ok 1 - cannot load plugins: %s\n", error_last());
		return unit_done() | 1;
	}
	test_matrix();
	test_no_matrix_and_resolution();
	test_variants();
	test_flavors();
	test_errors();
	test_override_order();
	test_json_stable();
	test_big_matrix();
	test_fixture_cudnn();
	test_strip();
	test_git_offline();
	knowledge_free(kb);
	return unit_done();
}
