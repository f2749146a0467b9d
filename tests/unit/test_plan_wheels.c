/*
 * plan_resolve_wheels() against tests/fake/pyindex_fixture.py: a default
 * index (/simple) and a framework index (/whl/cu130) of the test's own,
 * served on a free port of 127.0.0.1. Run from the repository root: the
 * built-in plugins are ./plugins.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/knowledge.h"
#include "core/plan.h"
#include "core/pyindex.h"
#include "core/recipe.h"
#include "fake_registry.h"
#include "unit.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/strbuf.h"

static struct knowledge *kb;
static char tmp[64];
static char host[64];
static struct pyindex_client *ic;

/* The two indexes. torch 99.0 on the default index is the bait of a
 * dependency confusion: the framework must never come from there. */
static const char spec_json[] =
    "{\n"
    " \"simple\": {\n"
    "  \"gsfx-a\": [\n"
    "   {\"version\": \"1.0\", \"tags\": \"py3-none-any\", \"requires_dist\": [\"gsfx-b>=1\"]},\n"
    "   {\"version\": \"1.1\", \"tags\": \"py3-none-any\", \"provides_extra\": [\"fast\"],\n"
    "    \"requires_dist\": [\"gsfx-b>=1\", \"gsfx-c\", \"gsfx-fast; extra == 'fast'\"]},\n"
    "   {\"version\": \"2.0rc1\", \"tags\": \"py3-none-any\"}],\n"
    "  \"gsfx-b\": [\n"
    "   {\"version\": \"1.0\", \"tags\": \"py3-none-any\"},\n"
    "   {\"version\": \"1.5\", \"tags\": \"py3-none-any\"},\n"
    "   {\"version\": \"2.0\", \"tags\": \"py3-none-any\", \"yanked\": \"broken build\"}],\n"
    "  \"gsfx-c\": [\n"
    "   {\"version\": \"1.0\", \"tags\": \"py3-none-any\"},\n"
    "   {\"version\": \"2.0\", \"tags\": \"py3-none-any\"},\n"
    "   {\"version\": \"3.0\", \"tags\": \"py3-none-any\", \"requires_python\": \">=3.12\"}],\n"
    "  \"gsfx-fast\": [{\"version\": \"1.0\", \"tags\": \"py3-none-any\"}],\n"
    "  \"gsfx-m\": [{\"version\": \"1.0\", \"tags\": \"py3-none-any\", \"requires_dist\": [\n"
    "   \"gsfx-win; sys_platform == 'win32'\", \"gsfx-old; python_version < '3.10'\",\n"
    "   \"gsfx-fast; python_version >= '3.10' and platform_machine == 'x86_64'\"]}],\n"
    "  \"gsfx-src\": [\n"
    "   {\"version\": \"1.0\", \"sdist\": true},\n"
    "   {\"version\": \"0.9\", \"tags\": \"cp312-cp312-manylinux_2_28_x86_64\"}],\n"
    "  \"gsfx-native\": [\n"
    "   {\"version\": \"1.0\", \"tags\": \"cp311-cp311-manylinux_2_17_x86_64\"},\n"
    "   {\"version\": \"1.0\", \"tags\": \"cp311-cp311-manylinux_2_28_x86_64\"},\n"
    "   {\"version\": \"1.0\", \"tags\": \"cp311-cp311-manylinux_2_39_x86_64\"},\n"
    "   {\"version\": \"1.0\", \"tags\": \"py3-none-any\"}],\n"
    "  \"gsfx-x\": [{\"version\": \"1.0\", \"tags\": \"py3-none-any\",\n"
    "   \"requires_dist\": [\"gsfx-b<1.5\"]}],\n"
    "  \"gsfx-nohash\": [{\"version\": \"1.0\", \"tags\": \"py3-none-any\", \"nohash\": true}],\n"
    "  \"gsfx-y\": [\n"
    "   {\"version\": \"1.0\", \"tags\": \"py3-none-any\"},\n"
    "   {\"version\": \"1.0\", \"tags\": \"cp311-cp311-manylinux_2_28_x86_64\", \"yanked\": "
    "true}],\n"
    "  \"gsfx-h\": [\n"
    "   {\"version\": \"1.0\", \"tags\": \"py3-none-any\"},\n"
    "   {\"version\": \"2.0\", \"tags\": \"py3-none-any\", \"nohash\": true}],\n"
    "  \"filelock\": [{\"version\": \"3.0\", \"tags\": \"py3-none-any\"}],\n"
    "  \"torch\": [{\"version\": \"99.0\", \"tags\": \"py3-none-any\"}]\n"
    " },\n"
    " \"whl/cu130\": {\n"
    "  \"torch\": [\n"
    "   {\"version\": \"2.10.0+cu130\", \"tags\": \"cp311-cp311-manylinux_2_28_x86_64\",\n"
    "    \"requires_dist\": [\"nvidia-cublas==13.0.0.19; platform_system == 'Linux'\", "
    "\"filelock\", \"gsfx-c\"]},\n"
    "   {\"version\": \"2.11.0+cu130\", \"tags\": \"cp311-cp311-manylinux_2_28_x86_64\",\n"
    "    \"requires_dist\": [\"nvidia-cublas==13.0.0.19; platform_system == 'Linux'\", "
    "\"filelock\", \"gsfx-c\"]}],\n"
    "  \"nvidia-cublas\": [\n"
    "   {\"version\": \"13.0.0.19\", \"tags\": \"py3-none-manylinux_2_27_x86_64\"},\n"
    "   {\"version\": \"13.1.0.3\", \"tags\": \"py3-none-manylinux_2_27_x86_64\"}],\n"
    "  \"gsfx-c\": [{\"version\": \"1.0\", \"tags\": \"py3-none-any\"}]\n"
    " },\n"
    " \"whl/empty\": {\"gsfx-fast\": [{\"version\": \"1.0\", \"tags\": \"py3-none-any\"}]}\n"
    "}\n";

struct run {
	struct vec diags;
	struct recipe *r;
	struct plan *p;
	int ret;
};

/* Plan a recipe with python_packages `pkgs` (a YAML flow list) and the
 * extra lines `more`, then resolve its wheels; `prefer` (may be NULL)
 * becomes every cell's wheel_prefer. */
static void run_resolve(struct run *run, const char *pkgs, const char *more, const char *prefer)
{
	char *text = xstrfmt("name: wheels\n"
			     "base: {os: debian12, registry: 127.0.0.1:5000, repository: "
			     "gpuslim-fixtures/cuda}\n"
			     "cuda: \"13.0\"\n"
			     "python: \"3.11\"\n"
			     "python_packages: %s\n"
			     "pip:\n"
			     "  index_url: http://%s/simple\n"
			     "  framework_index_url: http://%s/whl/{variant}\n"
			     "%s",
			     pkgs, host, host, more ? more : "");

	memset(run, 0, sizeof(*run));
	vec_init(&run->diags, free);
	run->ret = -100;
	if (recipe_parse("test.yaml", text, strlen(text), &run->r, &run->diags) < 0 ||
	    plan_build(run->r, kb, &run->p, &run->diags) < 0) {
		printf("# offline plan failed: %s\n",
		       run->diags.nr ? (char *)run->diags.items[0] : error_last());
		free(text);
		return;
	}
	free(text);
	for (size_t i = 0; prefer && i < run->p->cells_nr; i++)
		vec_pushstr(&run->p->cells[i].wheel_prefer, prefer);
	run->ret = plan_resolve_wheels(run->p, ic, &run->diags);
}

static void run_release(struct run *run)
{
	plan_free(run->p);
	recipe_free(run->r);
	vec_release(&run->diags);
}

static const char *why(const struct run *run)
{
	if (!run->ret)
		return "";
	return run->diags.nr ? run->diags.items[0] : error_last();
}

/* "name==version" of cell 0's wheel `name`, or NULL. */
static const struct plan_wheel *wheel(const struct run *run, size_t cell, const char *name)
{
	const struct plan_cell *c;

	if (!run->p || cell >= run->p->cells_nr)
		return NULL;
	c = &run->p->cells[cell];
	for (size_t i = 0; i < c->wheels_nr; i++)
		if (!strcmp(c->wheels[i].name, name))
			return &c->wheels[i];
	return NULL;
}

static const char *version_of(const struct run *run, const char *name)
{
	const struct plan_wheel *w = wheel(run, 0, name);

	return w ? w->version : NULL;
}

/* Cell 0's wheels as "name==version ..." in install order. */
static char *wheel_list(const struct run *run)
{
	struct strbuf sb = STRBUF_INIT;

	if (run->p && run->p->cells_nr)
		for (size_t i = 0; i < run->p->cells[0].wheels_nr; i++)
			strbuf_addf(&sb, "%s%s==%s", i ? " " : "", run->p->cells[0].wheels[i].name,
				    run->p->cells[0].wheels[i].version);
	return strbuf_detach(&sb, NULL);
}

static int diag_has(const struct run *run, const char *needle)
{
	for (size_t i = 0; i < run->diags.nr; i++)
		if (strstr(run->diags.items[i], needle))
			return 1;
	return 0;
}

static void test_framework_and_packages(void)
{
	struct run run;
	char *list, *url;
	const struct plan_wheel *w;

	run_resolve(&run, "[\"gsfx-a\", \"torch\"]", "frameworks: {torch: \"2.11\"}\n", NULL);
	CHECK(run.ret == 0, "torch 2.11 and python_packages resolve (%s)", why(&run));
	list = wheel_list(&run);
	CHECK_STR(list,
		  "torch==2.11.0+cu130 gsfx-c==1.0 nvidia-cublas==13.0.0.19 gsfx-a==1.1 "
		  "filelock==3.0 gsfx-b==1.5",
		  "the framework first, from its index; then its tree, then the recipe's, each "
		  "newest that fits");
	free(list);
	w = wheel(&run, 0, "torch");
	CHECK(w && w->framework && !strcmp(w->required_by, "frameworks"),
	      "torch is the framework's wheel, required by frameworks");
	url = xstrfmt("http://%s/whl/cu130", host);
	CHECK(w && !strcmp(w->index_url, url), "torch is installed from the framework's index");
	free(url);
	url = xstrfmt("http://%s/files/whl/cu130/torch-2.11.0+cu130-cp311-cp311-manylinux_2_28_"
		      "x86_64.whl",
		      host);
	CHECK(w && !strcmp(w->url, url), "torch's URL is the file's, without its fragment");
	free(url);
	CHECK(w && w->sha256 && strlen(w->sha256) == 64, "torch has its sha256");
	w = wheel(&run, 0, "nvidia-cublas");
	CHECK(w && w->framework && !strcmp(w->required_by, "torch"),
	      "nvidia-cublas comes from the framework's index, required by torch, "
	      "pinned as torch pins it (not the newer 13.1)");
	w = wheel(&run, 0, "gsfx-c");
	CHECK(w && w->framework && !strcmp(w->version, "1.0"),
	      "a framework's dependency its index has is taken there (gsfx-c 1.0, not the "
	      "default index's 2.0)");
	w = wheel(&run, 0, "filelock");
	CHECK(w && !w->framework && strstr(w->index_url, "/simple"),
	      "a framework's dependency its index lacks comes from the default index");
	w = wheel(&run, 0, "gsfx-b");
	CHECK(w && !strcmp(w->version, "1.5") && !strcmp(w->required_by, "gsfx-a"),
	      "gsfx-b: the newest not yanked (2.0 is), required by gsfx-a");
	run_release(&run);
}

static void test_framework_never_from_default(void)
{
	struct run run;

	/* The framework's index has no torch: an error, never the default
	 * index's torch 99.0. */
	memset(&run, 0, sizeof(run));
	{
		char *yaml = xstrfmt("name: wheels\n"
				     "base: {os: debian12, registry: 127.0.0.1:5000, repository: "
				     "gpuslim-fixtures/cuda}\n"
				     "cuda: \"13.0\"\n"
				     "python: \"3.11\"\n"
				     "frameworks: {torch: \"2.11\"}\n"
				     "python_packages: [\"gsfx-fast\"]\n"
				     "pip:\n"
				     "  index_url: http://%s/simple\n"
				     "  framework_index_url: http://%s/whl/empty\n",
				     host, host);

		vec_init(&run.diags, free);
		if (recipe_parse("test.yaml", yaml, strlen(yaml), &run.r, &run.diags) ||
		    plan_build(run.r, kb, &run.p, &run.diags)) {
			CHECK(0, "plan offline: %s",
			      run.diags.nr ? (char *)run.diags.items[0] : error_last());
			free(yaml);
			run_release(&run);
			return;
		}
		free(yaml);
		run.ret = plan_resolve_wheels(run.p, ic, &run.diags);
	}
	CHECK(run.ret == GS_EINVAL, "a framework its index lacks is an error (%d)", run.ret);
	CHECK(!version_of(&run, "torch"), "and the default index's torch 99.0 is not taken");
	CHECK(run.diags.nr == 1 &&
		  strstr(run.diags.items[0], "test.yaml:5:21: frameworks.torch: ") &&
		  strstr(run.diags.items[0], "/whl/empty has no project 'torch'") &&
		  strstr(run.diags.items[0], "its own index only"),
	      "the error points at frameworks.torch and names the index (%s)", why(&run));
	run_release(&run);

	/* A python_packages entry naming torch takes the framework's pin. */
	run_resolve(&run, "[\"torch>=2\"]", "frameworks: {torch: \"2.10\"}\n", NULL);
	CHECK(run.ret == 0 && version_of(&run, "torch") &&
		  !strcmp(version_of(&run, "torch"), "2.10.0+cu130"),
	      "python_packages' torch>=2 keeps the framework's 2.10.0+cu130 (%s)", why(&run));
	run_release(&run);
	run_resolve(&run, "[\"torch>=50\"]", "frameworks: {torch: \"2.10\"}\n", NULL);
	CHECK(run.ret == GS_EINVAL && diag_has(&run, "python_packages[0]: cell ") &&
		  diag_has(&run, "'torch>=50' conflicts with torch 2.10.0+cu130"),
	      "torch>=50 in python_packages conflicts with the framework, never takes 99.0 "
	      "(%s)",
	      why(&run));
	run_release(&run);
}

static void test_ranges_prereleases(void)
{
	struct run run;

	run_resolve(&run, "[\"gsfx-b<1.5\"]", NULL, NULL);
	CHECK_STR(version_of(&run, "gsfx-b"), "1.0", "gsfx-b<1.5: the newest below 1.5");
	run_release(&run);
	run_resolve(&run, "[\"gsfx-a>=2.0rc1\"]", NULL, NULL);
	CHECK_STR(version_of(&run, "gsfx-a"), "2.0rc1",
		  "a range that names a pre-release takes it");
	run_release(&run);
	run_resolve(&run, "[\"gsfx-a\"]", NULL, NULL);
	CHECK_STR(version_of(&run, "gsfx-a"), "1.1",
		  "no range: the newest final release, not 2.0rc1");
	run_release(&run);
	run_resolve(&run, "[\"gsfx-a>1.1\"]", NULL, NULL);
	CHECK(run.ret == GS_EINVAL && diag_has(&run, "pre-releases 2.0rc1 do"),
	      "only a pre-release matches: an error that says how to ask for it (%s)", why(&run));
	run_release(&run);
}

static void test_yanked(void)
{
	struct run run;

	run_resolve(&run, "[\"gsfx-b==2.0\"]", NULL, NULL);
	CHECK_STR(version_of(&run, "gsfx-b"), "2.0",
		  "a yanked version pinned with == is taken (PEP 592)");
	CHECK(wheel(&run, 0, "gsfx-b") && wheel(&run, 0, "gsfx-b")->yanked &&
		  !strcmp(wheel(&run, 0, "gsfx-b")->yanked, "broken build"),
	      "the pin says it is yanked and why");
	{
		json_t *j =
		    run.p ? plan_wheels_to_json(run.p->cells[0].wheels, run.p->cells[0].wheels_nr)
			  : NULL;

		CHECK_STR(json_string_value(json_object_get(json_array_get(j, 0), "yanked")),
			  "broken build", "plan JSON: \"yanked\" is the reason");
		json_decref(j);
	}
	run_release(&run);
	run_resolve(&run, "[\"gsfx-b==1.5\"]", NULL, NULL);
	CHECK(wheel(&run, 0, "gsfx-b") && !wheel(&run, 0, "gsfx-b")->yanked,
	      "a version not yanked has no yanked field");
	run_release(&run);
	run_resolve(&run, "[\"gsfx-y==1.0\"]", NULL, NULL);
	CHECK(wheel(&run, 0, "gsfx-y") && !wheel(&run, 0, "gsfx-y")->yanked &&
		  strstr(wheel(&run, 0, "gsfx-y")->filename, "py3-none-any"),
	      "of one version's files, the one not yanked, though a yanked one ranks higher (%s)",
	      why(&run));
	run_release(&run);
	run_resolve(&run, "[\"gsfx-b>=2\"]", NULL, NULL);
	CHECK(run.ret == GS_EINVAL && diag_has(&run, "2.0 (yanked: broken build; pin it with =="),
	      "a range only a yanked version matches: an error naming it and the reason (%s)",
	      why(&run));
	run_release(&run);
}

static void test_requires_python_markers_extras(void)
{
	struct run run;
	char *list;

	run_resolve(&run, "[\"gsfx-c\"]", NULL, NULL);
	CHECK_STR(version_of(&run, "gsfx-c"), "2.0",
		  "Requires-Python: 3.0 wants >=3.12, the cell has 3.11: 2.0");
	run_release(&run);
	run_resolve(&run, "[\"gsfx-m\", \"gsfx-win; sys_platform == 'win32'\"]", NULL, NULL);
	list = wheel_list(&run);
	CHECK(run.ret == 0 && !strcmp(list, "gsfx-m==1.0 gsfx-fast==1.0"),
	      "markers are evaluated for the cell: win32 and python<3.10 requirements left out "
	      "(got '%s', %s)",
	      list, why(&run));
	free(list);
	run_release(&run);
	run_resolve(&run, "[\"gsfx-a[fast]\"]", NULL, NULL);
	CHECK(run.ret == 0 && version_of(&run, "gsfx-fast"), "an extra brings its requirements");
	run_release(&run);
	run_resolve(&run, "[\"gsfx-a\"]", NULL, NULL);
	CHECK(run.ret == 0 && !version_of(&run, "gsfx-fast"), "without the extra, they stay out");
	run_release(&run);
	run_resolve(&run, "[\"gsfx-a\", \"gsfx-a[fast]\"]", NULL, NULL);
	CHECK(run.ret == 0 && version_of(&run, "gsfx-fast"),
	      "an extra asked after the project is pinned still brings its requirements");
	run_release(&run);
}

static void test_best_wheel(void)
{
	struct run run;
	const struct plan_wheel *w;

	run_resolve(&run, "[\"gsfx-native\"]", NULL, NULL);
	w = wheel(&run, 0, "gsfx-native");
	CHECK(w && !strcmp(w->filename, "gsfx_native-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"),
	      "the best wheel for glibc 2.36 (debian12): manylinux_2_28 over 2_17 and any; 2_39 "
	      "does not install (%s)",
	      w ? w->filename : why(&run));
	run_release(&run);
}

static void test_errors(void)
{
	struct run run;

	run_resolve(&run, "[\"gsfx-fast\", \"gsfx-src\"]", NULL, NULL);
	CHECK(run.ret == GS_EINVAL && run.diags.nr == 1, "sdist only: an error (%s)", why(&run));
	CHECK(run.diags.nr &&
		  strstr(run.diags.items[0], "test.yaml:5:32: python_packages[1]: cell '") &&
		  strstr(run.diags.items[0],
			 "'gsfx-src': no wheel for cp311 manylinux_2_36_x86_64: 1.0 (sdist only: "
			 "gsfx-src-1.0.tar.gz); 0.9 (wheels only for other targets: "
			 "gsfx_src-0.9-cp312-cp312-manylinux_2_28_x86_64.whl); ") &&
		  strstr(run.diags.items[0], "/simple has gsfx-src 1.0, 0.9"),
	      "it names the target, each version and what the index has (%s)", why(&run));
	CHECK(run.p && !run.p->cells[0].wheels_nr, "a cell that fails gets no wheels");
	run_release(&run);

	run_resolve(&run, "[\"gsfx-b>=5\"]", NULL, NULL);
	CHECK(run.ret == GS_EINVAL && run.diags.nr == 1 &&
		  strstr(run.diags.items[0], "test.yaml:5:19: python_packages[0]: cell '") &&
		  strstr(run.diags.items[0], "'gsfx-b>=5': no version matches; http://") &&
		  strstr(run.diags.items[0], "/simple has gsfx-b 2.0, 1.5, 1.0"),
	      "unsatisfiable: names the package, the cell, the versions (%s)", why(&run));
	run_release(&run);

	run_resolve(&run, "[\"gsfx-nothere\"]", NULL, NULL);
	CHECK(run.ret == GS_EINVAL && diag_has(&run, "/simple has no project 'gsfx-nothere'"),
	      "a project the index lacks (%s)", why(&run));
	run_release(&run);

	run_resolve(&run, "[\"gsfx-b>=1.5\", \"gsfx-x\"]", NULL, NULL);
	CHECK(run.ret == GS_EINVAL && diag_has(&run, "python_packages[1]: cell '") &&
		  diag_has(&run, "1.0 (ruled out: it requires gsfx-b<1.5, and gsfx-b 1.5 is "
				 "pinned for gsfx-b>=1.5 (recipe))"),
	      "a conflict nothing resolves: an error that says who wants what (%s)", why(&run));
	run_release(&run);
}

/* A file the index gives no sha256 for cannot be installed with
 * --require-hashes: skipped, and named when nothing else fits. */
static void test_no_hash(void)
{
	struct run run;

	run_resolve(&run, "[\"gsfx-h\"]", NULL, NULL);
	CHECK(run.ret == 0, "a project with a file without sha256 resolves (%s)", why(&run));
	CHECK_STR(version_of(&run, "gsfx-h"), "1.0",
		  "the newest version with a sha256 is taken, not 2.0 without one");
	run_release(&run);
	run_resolve(&run, "[\"gsfx-nohash\"]", NULL, NULL);
	CHECK(run.ret == GS_EINVAL && run.diags.nr == 1 &&
		  diag_has(&run, "'gsfx-nohash': no wheel for cp311 manylinux_2_36_x86_64: 1.0 "
				 "(gsfx_nohash-1.0-py3-none-any.whl on http://") &&
		  diag_has(&run, "/simple has no sha256, which pip --require-hashes needs"),
	      "a wheel without sha256 only: an error naming the package, the file and the "
	      "index, no crash (%s)",
	      why(&run));
	CHECK(run.p && !run.p->cells[0].wheels_nr, "and no wheel is pinned");
	run_release(&run);
}

static void test_conflict_backtracks(void)
{
	struct run run;

	run_resolve(&run, "[\"gsfx-b\", \"gsfx-x\"]", NULL, NULL);
	CHECK(run.ret == 0 && version_of(&run, "gsfx-b") &&
		  !strcmp(version_of(&run, "gsfx-b"), "1.0"),
	      "gsfx-b is first pinned 1.5, then gsfx-x wants <1.5: resolved again to 1.0 (%s)",
	      why(&run));
	run_release(&run);
}

static void test_wheel_prefer(void)
{
	struct run run;

	run_resolve(&run, "[\"gsfx-b\"]", NULL, "gsfx-b==1.0");
	CHECK_STR(version_of(&run, "gsfx-b"), "1.0",
		  "wheel_prefer keeps an older pin that still fits");
	run_release(&run);
	run_resolve(&run, "[\"gsfx-b>=1.5\"]", NULL, "gsfx_B==1.0");
	CHECK_STR(version_of(&run, "gsfx-b"), "1.5",
		  "a preferred pin the range excludes is dropped");
	run_release(&run);
	run_resolve(&run, "[\"gsfx-b\"]", NULL, "gsfx-b==2.0");
	CHECK_STR(version_of(&run, "gsfx-b"), "2.0",
		  "a preferred (locked) pin is kept even when yanked since");
	run_release(&run);
}

static int count_requests(const char *path)
{
	char *log = xstrfmt("%s/requests.log", tmp);
	struct strbuf sb = STRBUF_INIT;
	int n = 0;

	if (fs_read_file(log, &sb, 1 << 20) == 0)
		for (const char *p = sb.buf; (p = strstr(p, path)); p++)
			if ((p == sb.buf || p[-1] == '\n') && p[strlen(path)] == '\n')
				n++;
	strbuf_release(&sb);
	free(log);
	return n;
}

static void test_matrix_parallel(void)
{
	struct run run;
	struct pyindex_client *old = ic;

	ic = pyindex_client_new(NULL); /* a fresh cache: count this run's fetches */
	{
		int before = count_requests("/whl/cu130/nvidia-cublas/");

		run_resolve(&run, "[\"gsfx-a\"]",
			    "frameworks: {torch: \"2.11\"}\n"
			    "matrix: {torch: [\"2.10\", \"2.11\"]}\n",
			    NULL);
		CHECK(run.ret == 0 && run.p->cells_nr == 2, "a matrix of two torch versions (%s)",
		      why(&run));
		CHECK(
		    run.ret == 0 && wheel(&run, 0, "torch") && wheel(&run, 1, "torch") &&
			strcmp(wheel(&run, 0, "torch")->version, wheel(&run, 1, "torch")->version),
		    "each cell gets its own torch");
		CHECK(count_requests("/whl/cu130/nvidia-cublas/") == before + 1,
		      "the cells share the client: each page fetched once (%d)",
		      count_requests("/whl/cu130/nvidia-cublas/") - before);
		run_release(&run);
	}
	pyindex_client_free(ic);
	ic = old;
}

static void test_credentials(void)
{
	struct run run;
	char *yaml = xstrfmt("name: wheels\n"
			     "base: {os: debian12, registry: 127.0.0.1:5000, repository: "
			     "gpuslim-fixtures/cuda}\n"
			     "cuda: \"13.0\"\n"
			     "python: \"3.11\"\n"
			     "python_packages: [\"gsfx-fast\", \"gsfx-none\"]\n"
			     "pip: {index_url: \"http://user:s3cret-t0ken@%s/simple\"}\n",
			     host);
	int leaked = 0;

	memset(&run, 0, sizeof(run));
	vec_init(&run.diags, free);
	if (recipe_parse("test.yaml", yaml, strlen(yaml), &run.r, &run.diags) ||
	    plan_build(run.r, kb, &run.p, &run.diags)) {
		CHECK(0, "plan offline");
	} else {
		run.ret = plan_resolve_wheels(run.p, ic, &run.diags);
		for (size_t i = 0; i < run.diags.nr; i++)
			leaked |= !!strstr(run.diags.items[i], "s3cret");
		CHECK(run.ret == GS_EINVAL && run.diags.nr == 1 && !leaked,
		      "an index URL's credential is in no diagnostic (%s)", why(&run));
	}
	free(yaml);
	run_release(&run);
}

int main(void)
{
	struct process fake;
	char *spec;

	if (!getenv("GPUSLIM_PLUGIN_DIR"))
		setenv("GPUSLIM_PLUGIN_DIR", "plugins", 1);
	if (knowledge_load(&kb, NULL) < 0) {
		printf("not ok 1 - cannot load plugins: %s\n", error_last());
		return unit_done() | 1;
	}
	snprintf(tmp, sizeof(tmp), "/tmp/gs-wheels-XXXXXX");
	if (!mkdtemp(tmp)) {
		CHECK(0, "setup: a temporary directory");
		knowledge_free(kb);
		return unit_done();
	}
	spec = xstrfmt("%s/spec.json", tmp);
	fs_write_atomic(spec, spec_json, strlen(spec_json));
	ic = pyindex_client_new(NULL);
	if (!fake_registry_start(&fake, "pyindex_fixture.py", spec, tmp, host, sizeof(host))) {
		CHECK(0, "the fixture index starts (tests/fake/pyindex_fixture.py)");
	} else {
		test_framework_and_packages();
		test_framework_never_from_default();
		test_ranges_prereleases();
		test_yanked();
		test_no_hash();
		test_requires_python_markers_extras();
		test_best_wheel();
		test_errors();
		test_conflict_backtracks();
		test_wheel_prefer();
		test_matrix_parallel();
		test_credentials();
	}
	pyindex_client_free(ic);
	process_release(&fake);
	{
		struct process p;
		struct process_result r;

		process_init(&p);
		vec_pushstr(&p.argv, "/bin/rm");
		vec_pushstr(&p.argv, "-rf");
		vec_pushstr(&p.argv, tmp);
		p.output = PROCESS_OUTPUT_NULL;
		process_run(&p, 5000, &r);
		process_release(&p);
	}
	free(spec);
	knowledge_free(kb);
	return unit_done();
}
