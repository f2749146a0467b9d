#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/knowledge.h"
#include "core/lock.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "unit.h"
#include "util/fs.h"
#include "util/strbuf.h"

/*
 * core/lock.c: a lock written from a plan reads back the same, byte for
 * byte; every bad lock in tests/data/locks/bad/ is refused with the exact
 * positioned error of its .err file; staleness names the cell, the field
 * and both values; applying a lock pins a fresh plan (the CUDA patch a
 * registry substituted, digests, wheels, app.git's commit) asking nobody.
 * Run from the repository root (tests/run.sh does).
 */

static struct knowledge *kb;

#define LOCK_RECIPE                                                                                \
	"name: locked\n"                                                                           \
	"base: {os: debian12, registry: \"127.0.0.1:5000\", repository: gpuslim-fixtures/cuda}\n"  \
	"cuda: \"13.0\"\n"                                                                         \
	"python: \"3.11\"\n"                                                                       \
	"python_packages: [\"gsfx-core>=1\"]\n"                                                    \
	"matrix:\n"                                                                                \
	"  cudnn: [false, true]\n"

static struct plan *plan_text(const char *yaml, struct recipe **rout)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r = NULL;
	struct plan *p = NULL;

	*rout = NULL;
	if (recipe_parse("test.yaml", yaml, strlen(yaml), &r, &diags) < 0 ||
	    plan_build(r, kb, &p, &diags) < 0) {
		printf("# plan: %s\n", diags.nr ? (char *)diags.items[0] : error_last());
		recipe_free(r);
		vec_release(&diags);
		return NULL;
	}
	vec_release(&diags);
	*rout = r;
	return p;
}

static char *hex64(char c)
{
	char *s = xmalloc(65);

	memset(s, c, 64);
	s[64] = '\0';
	return s;
}

/* Pin every cell of `p` as a registry and an index would have. */
static void pin_plan(struct plan *p)
{
	for (size_t i = 0; i < p->cells_nr; i++) {
		struct plan_cell *c = &p->cells[i];
		char *b = hex64((char)('a' + i)), *f = hex64((char)('0' + i));

		c->builder.digest = xstrfmt("sha256:%s", b);
		c->final.digest = xstrfmt("sha256:%s", f);
		free(b);
		free(f);
		c->wheels = xcalloc(2, sizeof(*c->wheels));
		c->wheels_nr = 2;
		c->wheels[0].name = xstrdup("gsfx-core");
		c->wheels[0].version = xstrdup("1.3.0");
		c->wheels[0].filename = xstrdup("gsfx_core-1.3.0-py3-none-any.whl");
		c->wheels[0].url = xstrdup("http://127.0.0.1:9/f/gsfx_core-1.3.0-py3-none-any.whl");
		c->wheels[0].sha256 = hex64('c');
		c->wheels[0].index_url = xstrdup("http://127.0.0.1:9/simple");
		c->wheels[0].required_by = xstrdup("recipe");
		c->wheels[1].yanked = xstrdup("broken build");
		c->wheels[1].name = xstrdup("gsfx-util");
		c->wheels[1].version = xstrdup("0.4.1");
		c->wheels[1].filename = xstrdup("gsfx_util-0.4.1-py3-none-any.whl");
		c->wheels[1].url = xstrdup("http://127.0.0.1:9/f/gsfx_util-0.4.1-py3-none-any.whl");
		c->wheels[1].sha256 = hex64('d');
		c->wheels[1].index_url = xstrdup("http://127.0.0.1:9/simple");
		c->wheels[1].required_by = xstrdup("gsfx-core");
	}
	p->git.url = xstrdup("file:///srv/app.git");
	p->git.ref = xstrdup("main");
	p->git.commit = xstrdup("0123456789abcdef0123456789abcdef01234567");
}

/* The lock of LOCK_RECIPE (or `yaml`), pinned by pin_plan(). */
static struct lock *lock_of(const char *yaml)
{
	struct recipe *r;
	struct plan *p = plan_text(yaml, &r);
	struct lock *l = NULL;
	json_t *inputs;

	if (!p)
		return NULL;
	inputs = lock_plan_inputs(p);
	pin_plan(p);
	if (lock_from_plan(p, inputs, &l) < 0)
		printf("# lock_from_plan: %s\n", error_last());
	json_decref(inputs);
	plan_free(p);
	recipe_free(r);
	return l;
}

static void test_round_trip(void)
{
	struct lock *l = lock_of(LOCK_RECIPE), *back = NULL;
	char *text, *again;

	CHECK(l && l->cells_nr == 2, "a lock of the two-cell recipe");
	if (!l)
		return;
	text = lock_format(l);
	CHECK(lock_parse("gpuslim.lock", text, strlen(text), &back) == 0, "it reads back: %s",
	      error_last());
	again = back ? lock_format(back) : NULL;
	CHECK_STR(again, text, "written again, byte for byte the same");
	CHECK(text[strlen(text) - 1] == '\n', "it ends with a newline");
	CHECK(strstr(text, "\"python_packages\": [\n          \"gsfx-core>=1\"\n        ]") != NULL,
	      "the cell's inputs hold the recipe's python_packages");
	CHECK(back && back->cells[1].wheels_nr == 2 &&
		  !strcmp(back->cells[1].wheels[1].required_by, "gsfx-core"),
	      "the wheels are there");
	CHECK(back && back->cells[1].wheels_nr == 2 && back->cells[1].wheels[1].yanked &&
		  !strcmp(back->cells[1].wheels[1].yanked, "broken build") &&
		  !back->cells[1].wheels[0].yanked && strstr(text, "\"yanked\": \"broken build\""),
	      "a yanked wheel's reason is kept, and only on it");
	CHECK(back && back->git.commit &&
		  !strcmp(back->git.commit, "0123456789abcdef0123456789abcdef01234567"),
	      "and app.git's commit");
	free(again);
	free(text);
	lock_free(back);
	lock_free(l);
}

static void test_good_file(void)
{
	struct lock *l = NULL;
	struct strbuf sb = STRBUF_INIT;
	char *text;

	CHECK(lock_read("tests/data/locks/good.lock", &l) == 0,
	      "tests/data/locks/good.lock reads: %s", error_last());
	if (!l)
		return;
	CHECK(l->cells_nr == 3 && l->cells[2].wheels_nr == 2, "three cells, their wheels");
	fs_read_file("tests/data/locks/good.lock", &sb, 0);
	text = lock_format(l);
	CHECK_STR(text, sb.buf, "a hand-written lock is written back as it was");
	free(text);
	strbuf_release(&sb);
	lock_free(l);
	CHECK(lock_read("tests/data/locks/no-such.lock", &l) == GS_ENOTFOUND,
	      "a lock that is not there is GS_ENOTFOUND");
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every tests/data/locks/bad/NAME.lock is refused with NAME.err's line. */
static void test_bad_files(void)
{
	const char *dir = "tests/data/locks/bad";
	struct vec names = VEC_INIT(free);
	DIR *d = opendir(dir);
	struct dirent *de;

	CHECK(d != NULL, "%s is there", dir);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (ends_with(de->d_name, ".lock"))
			vec_pushstr(&names, de->d_name);
	closedir(d);
	qsort(names.items, names.nr, sizeof(*names.items), cmp_names);
	CHECK(names.nr >= 20, "%zu bad locks", names.nr);
	for (size_t i = 0; i < names.nr; i++) {
		const char *name = names.items[i];
		char *path = xstrfmt("%s/%s", dir, name);
		char *err_path = xstrfmt("%s/%.*s.err", dir, (int)(strlen(name) - 5), name);
		struct strbuf data = STRBUF_INIT, want = STRBUF_INIT;
		struct lock *l = NULL;
		int ret;

		fs_read_file(path, &data, 0);
		if (fs_read_file(err_path, &want, 0) < 0)
			strbuf_addstr(&want, "(no .err file)");
		strbuf_rtrim(&want);
		ret = lock_parse("gpuslim.lock", data.buf ? data.buf : "", data.len, &l);
		CHECK(ret == GS_EINVAL && !l, "%s is refused", name);
		CHECK_STR(error_last(), want.buf, name);
		lock_free(l);
		strbuf_release(&data);
		strbuf_release(&want);
		free(path);
		free(err_path);
	}
	vec_release(&names);
}

/* lock_check() of LOCK_RECIPE's lock against a plan of `yaml`: the
 * stale lines joined by "\n", or "" when the lock holds; notes in *notes. */
static char *check_against(const struct lock *l, const char *yaml, struct vec *notes,
			   const char *git_ref)
{
	struct vec stale = VEC_INIT(free);
	struct strbuf sb = STRBUF_INIT;
	struct recipe *r;
	struct plan *p = plan_text(yaml, &r);
	int ret;

	if (!p)
		return xstrdup("(no plan)");
	p->git.url = xstrdup("file:///srv/app.git");
	p->git.ref = xstrdup(git_ref);
	ret = lock_check(l, p, "gpuslim.lock", &stale, notes);
	for (size_t i = 0; i < stale.nr; i++)
		strbuf_addf(&sb, "%s%s", i ? "\n" : "", (const char *)stale.items[i]);
	if ((ret < 0) != (stale.nr > 0))
		strbuf_addstr(&sb, "(return code and lines disagree)");
	vec_release(&stale);
	plan_free(p);
	recipe_free(r);
	return strbuf_detach(&sb, NULL);
}

static void test_stale(void)
{
	struct lock *l = lock_of(LOCK_RECIPE);
	struct vec notes = VEC_INIT(free);
	char *got;

	if (!l)
		return;
	got = check_against(l, LOCK_RECIPE, &notes, "main");
	CHECK_STR(got, "", "the same recipe: the lock holds");
	CHECK(notes.nr == 0, "and nothing to note");
	free(got);

	got = check_against(l, LOCK_RECIPE "# a comment\nbudgets: {size: 6GB}\n", &notes, "main");
	CHECK_STR(got, "", "a comment and a budget: the lock holds");
	CHECK(notes.nr == 1 && strstr(notes.items[0], "the recipe changed since gpuslim.lock was "
						      "written, but no cell's inputs did"),
	      "with a note that says so");
	free(got);
	vec_release(&notes);

	memset(l->plugins_sha256, 'e', 64);
	got = check_against(l, LOCK_RECIPE, &notes, "main");
	CHECK_STR(got, "", "other plugins that change no input: the lock holds");
	CHECK(notes.nr == 1 && strstr(notes.items[0], "the plugins changed"), "with a note");
	free(got);
	vec_release(&notes);

	got = check_against(l,
			    "name: locked\n"
			    "base: {os: debian12, registry: \"127.0.0.1:5000\", repository: "
			    "gpuslim-fixtures/cuda}\n"
			    "cuda: \"13.0\"\n"
			    "python: \"3.11\"\n"
			    "python_packages: [\"gsfx-core>=1.2\"]\n"
			    "matrix:\n"
			    "  cudnn: [false, true]\n",
			    &notes, "main");
	CHECK_STR(got,
		  "cell 'locked-nocudnn': python_packages: lock has [\"gsfx-core>=1\"], the recipe "
		  "has [\"gsfx-core>=1.2\"]\n"
		  "cell 'locked-cudnn': python_packages: lock has [\"gsfx-core>=1\"], the recipe "
		  "has [\"gsfx-core>=1.2\"]",
		  "python_packages changed: each cell, the field, both values");
	CHECK_STR(error_last(),
		  "gpuslim.lock is stale: cell 'locked-nocudnn': python_packages: lock has "
		  "[\"gsfx-core>=1\"], the recipe has [\"gsfx-core>=1.2\"]",
		  "error_last() says the first");
	free(got);

	got = check_against(l,
			    "name: locked\n"
			    "base: {os: debian12, registry: \"127.0.0.1:5000\", repository: "
			    "gpuslim-fixtures/cuda}\n"
			    "cuda: \"13.0\"\n"
			    "python_packages: [\"gsfx-core>=1\"]\n"
			    "matrix:\n"
			    "  cudnn: [false, true]\n"
			    "  python: [\"3.11\"]\n",
			    &notes, "main");
	CHECK_STR(got,
		  "cell 'locked-nocudnn-python3-11' is new in the recipe (the lock has 2 others)\n"
		  "cell 'locked-cudnn-python3-11' is new in the recipe (the lock has 2 others)\n"
		  "cell 'locked-nocudnn' is in the lock but no longer in the recipe\n"
		  "cell 'locked-cudnn' is in the lock but no longer in the recipe",
		  "cells added and removed are named");
	free(got);

	got = check_against(l,
			    "name: locked\n"
			    "base: {os: debian12, registry: \"127.0.0.1:5000\", repository: "
			    "gpuslim-fixtures/cuda}\n"
			    "cuda: \"13.0.2\"\n"
			    "python: \"3.11\"\n"
			    "python_packages: [\"gsfx-core>=1\"]\n"
			    "matrix:\n"
			    "  cudnn: [false, true]\n",
			    &notes, "v2");
	CHECK_STR(got,
		  "app.git.ref: lock has \"main\", the recipe has \"v2\"\n"
		  "cell 'locked-nocudnn': cuda: lock has \"13.0\", the recipe has \"13.0.2\"\n"
		  "cell 'locked-cudnn': cuda: lock has \"13.0\", the recipe has \"13.0.2\"",
		  "app.git's ref and the cuda asked (same images) are named");
	free(got);

	l->plugins_schema_version = 2;
	got = check_against(l, LOCK_RECIPE, &notes, "main");
	CHECK_STR(got, "plugins.schema_version: lock has 2, this gpuslim reads 1",
		  "plugins of another schema_version: stale");
	free(got);
	vec_release(&notes);
	lock_free(l);
}

static void test_apply(void)
{
	struct lock *l = lock_of(LOCK_RECIPE);
	struct recipe *r;
	struct plan *p = plan_text(LOCK_RECIPE, &r);
	json_t *doc;
	char *text;

	if (!l || !p) {
		CHECK(0, "a lock and a plan");
		return;
	}
	p->git.url = xstrdup("file:///srv/app.git");
	p->git.ref = xstrdup("main");
	CHECK(lock_apply(l, p, "gpuslim.lock", LOCK_ALL) == 0, "the lock applies: %s",
	      error_last());
	CHECK_STR(p->cells[1].final.digest,
		  "sha256:1111111111111111111111111111111111111111111111111111111111111111",
		  "the final image's digest is the lock's");
	CHECK(strstr(p->cells[1].final.reason, "pinned by digest from gpuslim.lock.") != NULL,
	      "its reason says where the digest came from");
	CHECK(p->cells[0].wheels_nr == 2 &&
		  !strcmp(p->cells[0].wheels[0].sha256, l->cells[0].wheels[0].sha256),
	      "the wheels are the lock's");
	CHECK_STR(p->git.commit, "0123456789abcdef0123456789abcdef01234567",
		  "app.git's commit too");
	doc = plan_to_json(p);
	text = json_dumps(doc, JSON_COMPACT);
	CHECK(text && strstr(text, "\"wheels\":[{\"name\":\"gsfx-core\",\"version\":\"1.3.0\""),
	      "plan --json shows the locked wheels");
	free(text);
	json_decref(doc);
	plan_free(p);
	recipe_free(r);

	/* The registry had substituted 13.0.1 for the planned 13.0.2: the lock
	 * moves the cell there, tags and all, asking nobody. */
	p = plan_text(LOCK_RECIPE, &r);
	for (size_t i = 0; i < l->cells_nr; i++) {
		struct lock_cell *c = &l->cells[i];
		char *b = c->builder.ref, *f = c->final.ref;

		free(c->cuda);
		c->cuda = xstrdup("13.0.1");
		c->builder.ref = NULL;
		c->final.ref = NULL;
		{
			struct strbuf sb = STRBUF_INIT;

			strbuf_addstr(&sb, b);
			memcpy(strstr(sb.buf, "13.0.2"), "13.0.1", 6);
			c->builder.ref = strbuf_detach(&sb, NULL);
			strbuf_addstr(&sb, f);
			memcpy(strstr(sb.buf, "13.0.2"), "13.0.1", 6);
			c->final.ref = strbuf_detach(&sb, NULL);
		}
		free(b);
		free(f);
	}
	CHECK(p && lock_apply(l, p, "gpuslim.lock", LOCK_IMAGES) == 0,
	      "a lock with the registry's substitute applies: %s", error_last());
	CHECK(p && !strcmp(p->cells[0].cuda.value, "13.0.1") &&
		  !strcmp(p->cells[0].builder.ref, l->cells[0].builder.ref),
	      "the cell moved to CUDA 13.0.1: %s", p ? p->cells[0].builder.ref : "");
	CHECK(p && strstr(p->cells[0].cuda.reason, "resolves to 13.0.1") != NULL,
	      "its reason says why: %s", p ? p->cells[0].cuda.reason : "");
	plan_free(p);
	recipe_free(r);

	/* A lock whose ref the plan cannot reach is refused, by field. */
	p = plan_text(LOCK_RECIPE, &r);
	free(l->cells[1].final.ref);
	l->cells[1].final.ref =
	    xstrdup("127.0.0.1:5000/gpuslim-fixtures/cuda:13.0.1-base-debian12");
	CHECK(p && lock_apply(l, p, "gpuslim.lock", LOCK_IMAGES) == GS_EINVAL,
	      "a ref that does not fit the plan is refused");
	CHECK_STR(error_last(),
		  "gpuslim.lock: cells[1].final.ref: the lock has "
		  "'127.0.0.1:5000/gpuslim-fixtures/cuda:13.0.1-base-debian12', but the plan has "
		  "'127.0.0.1:5000/gpuslim-fixtures/cuda:13.0.1-cudnn-runtime-debian12' for CUDA "
		  "13.0.1",
		  "the error names the lock, the cell and the field");
	plan_free(p);
	recipe_free(r);

	p = plan_text(LOCK_RECIPE, &r);
	free(l->cells[0].cuda);
	l->cells[0].cuda = xstrdup("12.4.1");
	CHECK(p && lock_apply(l, p, "gpuslim.lock", LOCK_IMAGES) == GS_EINVAL,
	      "a CUDA of another minor is refused");
	CHECK_STR(error_last(),
		  "gpuslim.lock: cells[0]: cell 'locked-nocudnn': CUDA 12.4.1 is not a patch of "
		  "13.0, which the plan has",
		  "and said so");
	plan_free(p);
	recipe_free(r);
	lock_free(l);
}

static void test_prefer(void)
{
	struct lock *l = lock_of(LOCK_RECIPE);
	struct recipe *r;
	struct plan *p = plan_text(LOCK_RECIPE, &r);
	struct vec update = VEC_INIT(free);
	const char *unknown;

	if (!l || !p) {
		CHECK(0, "a lock and a plan");
		return;
	}
	vec_pushstr(&update, "GSFX.core");
	CHECK(lock_prefer_wheels(l, p, &update, &unknown) == 0, "gsfx-core is in the lock");
	CHECK(p->cells[0].wheel_prefer.nr == 1 &&
		  !strcmp(p->cells[0].wheel_prefer.items[0], "gsfx-util==0.4.1"),
	      "every other pin is kept: %s",
	      p->cells[0].wheel_prefer.nr ? (char *)p->cells[0].wheel_prefer.items[0] : "");
	vec_pushstr(&update, "nope");
	CHECK(lock_prefer_wheels(l, p, &update, &unknown) == 1 && !strcmp(unknown, "nope"),
	      "a package no cell has is said");
	vec_release(&update);
	plan_free(p);
	recipe_free(r);
	lock_free(l);
}

static void test_write(void)
{
	char dir[] = "/tmp/gpuslim-lock-XXXXXX";
	struct lock *l = lock_of(LOCK_RECIPE);
	struct strbuf sb = STRBUF_INIT;
	char *path, *bad, *text;

	if (!l || !mkdtemp(dir)) {
		CHECK(0, "a lock and a directory");
		lock_free(l);
		return;
	}
	path = xstrfmt("%s/gpuslim.lock", dir);
	bad = xstrfmt("%s/missing/gpuslim.lock", dir);
	CHECK(lock_write(l, path) == 0, "written: %s", error_last());
	fs_read_file(path, &sb, 0);
	text = lock_format(l);
	CHECK_STR(sb.buf, text, "the file holds lock_format()");
	CHECK(lock_write(l, bad) < 0 && !fs_exists(bad), "a directory that is not there: an error");
	unlink(path);
	rmdir(dir);
	free(text);
	free(path);
	free(bad);
	strbuf_release(&sb);
	lock_free(l);
}

/* The plugins' version follows the files' bytes, not where they are. */
static void test_plugins_version(void)
{
	char dir[] = "/tmp/gpuslim-plugins-XXXXXX";
	struct vec dirs = VEC_INIT(NULL);
	struct strbuf sb = STRBUF_INIT;
	struct knowledge *again = NULL, *more = NULL;
	char *copy;

	vec_push(&dirs, "plugins");
	CHECK(knowledge_load_dirs(&again, &dirs) == 0 && !strcmp(again->sha256, kb->sha256),
	      "the same plugins: the same version");
	if (!mkdtemp(dir)) {
		CHECK(0, "a directory");
		goto done;
	}
	copy = xstrfmt("%s/render.json", dir);
	fs_read_file("plugins/render.json", &sb, 0);
	fs_write_atomic(copy, sb.buf, sb.len);
	vec_push(&dirs, dir);
	CHECK(knowledge_load_dirs(&more, &dirs) == 0 && strcmp(more->sha256, kb->sha256),
	      "one more plugin file: another version");
	unlink(copy);
	rmdir(dir);
	free(copy);
done:
	knowledge_free(again);
	knowledge_free(more);
	strbuf_release(&sb);
	vec_release(&dirs);
}

static void test_normalize(void)
{
	char *n = lock_normalize_name("Foo__Bar.-baz");

	CHECK_STR(n, "foo-bar-baz", "names are compared as PEP 503 normalizes them");
	free(n);
}

int main(void)
{
	if (!getenv("GPUSLIM_PLUGIN_DIR"))
		setenv("GPUSLIM_PLUGIN_DIR", "plugins", 1);
	if (knowledge_load(&kb, NULL) < 0) {
		printf("not ok 1 - cannot load plugins: %s\n", error_last());
		return unit_done() | 1;
	}
	CHECK(strlen(kb->sha256) == 64, "the plugins have a version: %s", kb->sha256);
	test_round_trip();
	test_good_file();
	test_bad_files();
	test_stale();
	test_apply();
	test_prefer();
	test_write();
	test_normalize();
	test_plugins_version();
	knowledge_free(kb);
	return unit_done();
}
