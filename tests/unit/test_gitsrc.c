/*
 * Git sources (core/gitsrc.c) on repositories made here with git: refs of
 * every kind resolve to the right commit (branch, tag, annotated tag, full
 * and short ids, the remote's HEAD, a bare repository, file://), a new
 * commit is seen, a missing ref or a path that is no repository is an
 * error naming it; the export writes the tree and only it (modes, links,
 * mtimes, no .git, no untracked or ignored file, a submodule as an empty
 * directory), refuses entries that would escape, and needs no ref; the
 * plan gets its commit and its diagnostics at app.git.ref / app.git.url.
 */
#include <errno.h>
#include <git2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/gitsrc.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "unit.h"
#include "util/fs.h"
#include "util/process.h"

static char *tmp;
/* The commits of src: c1 (v1, a1, dup tag), c2 (main, dup branch), c3 (feat). */
static char c1[41], c2[41], c3[41];
/* The fixed committer time of every commit, 2001-02-03T04:05:06Z. */
#define COMMIT_TIME 981173106L

/* Run git with the NULL-terminated arguments in `cwd`; its output (trimmed)
 * into `out` when given. Returns the exit code, or -1. */
static int git_run(const char *cwd, char *out, size_t outlen, ...)
{
	struct process p;
	struct process_result res;
	va_list ap;
	const char *arg;
	int ret;

	process_init(&p);
	vec_push(&p.argv, xstrdup("git"));
	va_start(ap, outlen);
	while ((arg = va_arg(ap, const char *)))
		vec_push(&p.argv, xstrdup(arg));
	va_end(ap);
	vec_push(&p.env, xstrdup("GIT_CONFIG_GLOBAL=/dev/null"));
	vec_push(&p.env, xstrdup("GIT_CONFIG_NOSYSTEM=1"));
	vec_push(&p.env, xstrdup("GIT_AUTHOR_NAME=t"));
	vec_push(&p.env, xstrdup("GIT_AUTHOR_EMAIL=t@example.com"));
	vec_push(&p.env, xstrdup("GIT_COMMITTER_NAME=t"));
	vec_push(&p.env, xstrdup("GIT_COMMITTER_EMAIL=t@example.com"));
	vec_push(&p.env, xstrdup("GIT_AUTHOR_DATE=2001-02-03T04:05:06Z"));
	vec_push(&p.env, xstrdup("GIT_COMMITTER_DATE=2001-02-03T04:05:06Z"));
	p.cwd = cwd;
	p.stdin_null = 1;
	p.output = PROCESS_OUTPUT_CAPTURE;
	ret = process_run(&p, 60000, &res);
	if (ret == 0)
		ret = res.exited ? res.exit_code : -1;
	if (ret)
		printf("# git %s: %s\n", (const char *)p.argv.items[1], strbuf_cstr(&p.out));
	if (out && outlen) {
		strbuf_rtrim(&p.out);
		snprintf(out, outlen, "%s", strbuf_cstr(&p.out));
	}
	process_release(&p);
	return ret;
}

#define GIT(cwd, ...) git_run(cwd, NULL, 0, __VA_ARGS__, (const char *)NULL)

static void write_file(const char *dir, const char *name, const char *text)
{
	char *path = fs_join(dir, name), *parent = fs_dirname(path);

	fs_mkdir_p(parent, 0755);
	fs_write_atomic(path, text, strlen(text));
	free(parent);
	free(path);
}

static char *tpath(const char *name)
{
	return fs_join(tmp, name);
}

static int is_file(const char *path, mode_t mode, const char *text)
{
	struct strbuf sb = STRBUF_INIT;
	struct stat st;
	int ok = lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode &&
		 st.st_mtime == COMMIT_TIME && fs_read_file(path, &sb, 0) == 0 &&
		 !strcmp(strbuf_cstr(&sb), text);

	strbuf_release(&sb);
	return ok;
}

static int is_absent(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 && errno == ENOENT;
}

/* src: a working tree with every kind of entry, tags, branches, an
 * untracked and an ignored file; bare.git: its bare clone. */
static int make_repos(void)
{
	char *src = tpath("src");
	int bad = 0;

	fs_mkdir_p(src, 0755);
	bad |= GIT(src, "init", "-q", "-b", "main");
	write_file(src, "hello.txt", "one\n");
	write_file(src, "run.sh", "#!/bin/sh\necho run\n");
	{
		char *run = fs_join(src, "run.sh"), *link = fs_join(src, "link");

		chmod(run, 0755);
		bad |= symlink("hello.txt", link);
		free(run);
		free(link);
	}
	write_file(src, "sub/s.txt", "sub\n");
	write_file(src, ".gitignore", "ignored.txt\n");
	write_file(src, ".dockerignore", "secret.env\n");
	bad |= GIT(src, "add", "-A");
	/* a submodule entry (gitlink): its content is another repository's */
	bad |= GIT(src, "update-index", "--add", "--cacheinfo",
		   "160000,1111111111111111111111111111111111111111,mod");
	bad |= GIT(src, "commit", "-qm", "one");
	bad |= git_run(src, c1, sizeof(c1), "rev-parse", "HEAD", (const char *)NULL);
	bad |= GIT(src, "tag", "v1");
	bad |= GIT(src, "tag", "-a", "a1", "-m", "annotated");
	bad |= GIT(src, "tag", "dup");
	bad |= GIT(src, "branch", "feat");
	write_file(src, "hello.txt", "two\n");
	bad |= GIT(src, "commit", "-qam", "two");
	bad |= git_run(src, c2, sizeof(c2), "rev-parse", "HEAD", (const char *)NULL);
	bad |= GIT(src, "branch", "dup");
	bad |= GIT(src, "checkout", "-q", "feat");
	write_file(src, "feat.txt", "feat\n");
	bad |= GIT(src, "add", "feat.txt");
	bad |= GIT(src, "commit", "-qm", "three");
	bad |= git_run(src, c3, sizeof(c3), "rev-parse", "HEAD", (const char *)NULL);
	bad |= GIT(src, "checkout", "-q", "main");
	write_file(src, "untracked.txt", "untracked\n");
	write_file(src, "ignored.txt", "ignored\n");
	bad |= GIT(tmp, "clone", "-q", "--bare", "src", "bare.git");
	free(src);
	return bad;
}

static void check_resolve(const char *loc, const char *ref, const char *want, const char *what)
{
	char got[41];
	int ret = gitsrc_resolve(loc, ref, got);

	CHECK(ret == 0 && !strcmp(got, want), "%s resolves (%d: %s)", what, ret,
	      ret ? error_last() : got);
}

static void test_urls(void)
{
	char *s;

	s = gitsrc_redact_url("https://user:t0ken@example.com/a/b.git");
	CHECK_STR(s, "https://example.com/a/b.git", "user:password removed");
	free(s);
	s = gitsrc_redact_url("https://ghp_token@example.com:8443/a.git?x=@y");
	CHECK_STR(s, "https://example.com:8443/a.git?x=@y", "a token as the user removed");
	free(s);
	s = gitsrc_redact_url("git@example.com:a/b.git");
	CHECK_STR(s, "git@example.com:a/b.git", "scp-like kept as it is");
	free(s);
	s = gitsrc_redact_url("../a@b/repo");
	CHECK_STR(s, "../a@b/repo", "a path kept as it is");
	free(s);
	s = gitsrc_location("../app", "/srv/recipes/x");
	CHECK_STR(s, "/srv/recipes/app", "a relative path against the recipe's directory");
	free(s);
	s = gitsrc_location("file:///srv/app", "/x");
	CHECK_STR(s, "file:///srv/app", "file:// as it is");
	free(s);
	s = gitsrc_location("host:app.git", "/x");
	CHECK_STR(s, "host:app.git", "scp-like as it is");
	free(s);
	CHECK(gitsrc_url_is_local("./a") && gitsrc_url_is_local("file:///a") &&
		  !gitsrc_url_is_local("https://h/a") && !gitsrc_url_is_local("h:a"),
	      "local or not");
}

static void test_resolve(void)
{
	char *src = tpath("src"), *bare = tpath("bare.git"), *furl = xstrfmt("file://%s", bare);
	char *plain = tpath("plain"), *missing = tpath("missing"), got[41];
	char short_id[8];
	int ret;

	check_resolve(src, NULL, c2, "the remote's HEAD (main)");
	check_resolve(src, "HEAD", c2, "HEAD");
	check_resolve(src, "main", c2, "a branch");
	check_resolve(src, "feat", c3, "another branch");
	check_resolve(src, "refs/heads/feat", c3, "a full ref name");
	check_resolve(src, "v1", c1, "a lightweight tag");
	check_resolve(src, "a1", c1, "an annotated tag, peeled to its commit");
	check_resolve(src, "dup", c2, "a branch wins over a tag of the same name");
	check_resolve(src, "refs/tags/dup", c1, "the tag by its full name");
	check_resolve(src, c1, c1, "a full commit id");
	memcpy(short_id, c3, 7);
	short_id[7] = '\0';
	check_resolve(src, short_id, c3, "a short commit id");
	check_resolve(bare, "main", c2, "a bare repository");
	check_resolve(furl, "v1", c1, "a file:// URL");

	ret = gitsrc_resolve(src, "nope", got);
	CHECK(ret == GS_ENOTFOUND && strstr(error_last(), "'nope'") && strstr(error_last(), src),
	      "a missing ref: GS_ENOTFOUND naming the ref and the repository (%s)", error_last());
	ret = gitsrc_resolve(src, "0000000", got);
	CHECK(ret == GS_ENOTFOUND && strstr(error_last(), "'0000000'"),
	      "a commit id that is not there: GS_ENOTFOUND (%s)", error_last());
	fs_mkdir_p(plain, 0755);
	write_file(plain, "f", "x");
	ret = gitsrc_resolve(plain, "main", got);
	CHECK(ret == GS_EINVAL && strstr(error_last(), plain),
	      "a directory that is no repository: GS_EINVAL naming it (%s)", error_last());
	ret = gitsrc_resolve(missing, NULL, got);
	CHECK(ret == GS_EINVAL && strstr(error_last(), missing),
	      "a path that does not exist: GS_EINVAL naming it (%s)", error_last());

	/* a new commit on the branch: the cache is fetched again */
	write_file(src, "hello.txt", "four\n");
	GIT(src, "commit", "-qam", "four");
	{
		char c4[41];

		git_run(src, c4, sizeof(c4), "rev-parse", "HEAD", (const char *)NULL);
		check_resolve(src, "main", c4, "a new commit on main");
		GIT(src, "reset", "-q", "--hard", c2);
		check_resolve(src, "main", c2, "main moved back");
	}
	free(src);
	free(bare);
	free(furl);
	free(plain);
	free(missing);
}

static void test_credentials_scrubbed(void)
{
	char got[41];
	int ret = gitsrc_resolve("https://user:s3cr3t-pw@127.0.0.1:1/r.git", "main", got);

	CHECK(ret == GS_EINFRA && !strstr(error_last(), "s3cr3t-pw") &&
		  strstr(error_last(), "https://127.0.0.1:1/r.git"),
	      "an unreachable remote: GS_EINFRA, its URL without credentials (%s)", error_last());
}

static void test_export(void)
{
	char *src = tpath("src"), *out = tpath("exp1"), *p;
	struct stat st;
	char link[64];
	ssize_t n;
	int ret;

	ret = gitsrc_export(src, c1, NULL, out);
	CHECK(ret == 0, "export of c1 (%s)", ret ? error_last() : "ok");
	p = fs_join(out, "hello.txt");
	CHECK(is_file(p, 0644, "one\n"), "a regular file, 0644, the commit's time");
	free(p);
	p = fs_join(out, "run.sh");
	CHECK(is_file(p, 0755, "#!/bin/sh\necho run\n"), "an executable, 0755");
	free(p);
	p = fs_join(out, "link");
	n = readlink(p, link, sizeof(link) - 1);
	CHECK(n == 9 && !memcmp(link, "hello.txt", 9), "a symbolic link stays a link");
	free(p);
	p = fs_join(out, "sub/s.txt");
	CHECK(is_file(p, 0644, "sub\n"), "a file in a directory");
	free(p);
	p = fs_join(out, ".dockerignore");
	CHECK(is_file(p, 0644, "secret.env\n"), "the repository's .dockerignore is there");
	free(p);
	p = fs_join(out, "mod");
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && rmdir(p) == 0 && mkdir(p, 0755) == 0,
	      "a submodule: an empty directory");
	free(p);
	CHECK(lstat(out, &st) == 0 && (st.st_mode & 07777) == 0755, "the root is 0755");
	p = fs_join(out, ".git");
	CHECK(is_absent(p), "no .git");
	free(p);
	p = fs_join(out, "untracked.txt");
	CHECK(is_absent(p), "no untracked file");
	free(p);
	p = fs_join(out, "ignored.txt");
	CHECK(is_absent(p), "no ignored file");
	free(p);
	p = fs_join(out, "feat.txt");
	CHECK(is_absent(p), "nothing of another branch");
	free(p);

	ret = gitsrc_export(src, c1, NULL, out);
	CHECK(ret == GS_EINVAL && strstr(error_last(), "not empty"),
	      "a directory that is not empty: refused (%s)", error_last());
	free(out);

	out = tpath("exp-sub");
	ret = gitsrc_export(src, c1, "./sub/", out);
	p = fs_join(out, "s.txt");
	CHECK(ret == 0 && is_file(p, 0644, "sub\n"), "subdir: its tree is the root (%s)",
	      ret ? error_last() : "ok");
	free(p);
	p = fs_join(out, "hello.txt");
	CHECK(is_absent(p), "subdir: nothing beside it");
	free(p);
	free(out);

	out = tpath("exp-nodir");
	ret = gitsrc_export(src, c1, "nope", out);
	CHECK(ret == GS_ENOTFOUND && strstr(error_last(), "'nope'") && is_absent(out),
	      "a subdir the commit lacks: GS_ENOTFOUND, nothing left (%s)", error_last());
	ret = gitsrc_export(src, c1, "hello.txt", out);
	CHECK(ret == GS_EINVAL && strstr(error_last(), "not a directory"),
	      "a subdir that is a file: GS_EINVAL (%s)", error_last());
	ret = gitsrc_export(src, "1234567890123456789012345678901234567890", NULL, out);
	CHECK(ret == GS_ENOTFOUND && strstr(error_last(), "1234567890") && is_absent(out),
	      "a commit the repository lacks: GS_ENOTFOUND (%s)", error_last());
	ret = gitsrc_export(src, "main", NULL, out);
	CHECK(ret == GS_EINVAL, "a ref where a commit id is wanted: GS_EINVAL");
	free(out);
	free(src);
}

/* The commit alone is enough: a branch deleted after it was resolved does
 * not matter to a cache that has the commit; a fresh cache fetches the
 * commit when a branch still has it. */
static void test_export_by_commit(void)
{
	char *src = tpath("src"), *out = tpath("exp-gone"), *cache2 = tpath("cache2"), *p;
	char got[41];
	int ret;

	check_resolve(src, "feat", c3, "feat, into the cache");
	GIT(src, "branch", "-D", "feat");
	ret = gitsrc_resolve(src, "feat", got);
	CHECK(ret == GS_ENOTFOUND, "the deleted branch no longer resolves");
	ret = gitsrc_export(src, c3, NULL, out);
	p = fs_join(out, "feat.txt");
	CHECK(ret == 0 && is_file(p, 0644, "feat\n"),
	      "its commit exports from the cache, the ref not asked (%s)",
	      ret ? error_last() : "ok");
	free(p);
	free(out);

	setenv("XDG_CACHE_HOME", cache2, 1);
	out = tpath("exp-fresh");
	ret = gitsrc_export(src, c1, NULL, out);
	p = fs_join(out, "hello.txt");
	CHECK(ret == 0 && is_file(p, 0644, "one\n"),
	      "a fresh cache fetches the commit to export it (%s)", ret ? error_last() : "ok");
	free(p);
	free(out);
	out = tpath("exp-fresh-gone");
	ret = gitsrc_export(src, c3, NULL, out);
	CHECK(ret == GS_ENOTFOUND && strstr(error_last(), c3),
	      "a fresh cache and a commit on no branch: GS_ENOTFOUND (%s)", error_last());
	free(out);
	GIT(src, "branch", "feat", c3);
	free(cache2);
	free(src);
}

static void test_export_dir(void)
{
	char *src = tpath("src"), *out = tpath("gen/context"), *p;
	struct strbuf sb = STRBUF_INIT;
	int ret;

	ret = gitsrc_export_dir(src, "src", c1, NULL, out);
	p = fs_join(out, GITSRC_MARK_FILE);
	CHECK(ret == 0 && fs_read_file(p, &sb, 0) == 0 &&
		  starts_with(sb.buf, "# Generated by gpuslim") && strstr(sb.buf, c1),
	      "export_dir writes the tree and its mark (%s)", ret ? error_last() : sb.buf);
	free(p);
	ret = gitsrc_export_dir(src, "src", c2, NULL, out);
	p = fs_join(out, "hello.txt");
	CHECK(ret == 0 && is_file(p, 0644, "two\n"), "a second export replaces the first (%s)",
	      ret ? error_last() : "ok");
	free(p);
	free(out);

	out = tpath("gen/users");
	fs_mkdir_p(out, 0755);
	write_file(out, "mine.txt", "mine\n");
	ret = gitsrc_export_dir(src, "src", c1, NULL, out);
	p = fs_join(out, "mine.txt");
	CHECK(ret == GS_EINVAL && strstr(error_last(), "gpuslim did not write") && fs_exists(p),
	      "a directory of the user's is left alone (%s)", error_last());
	free(p);
	free(out);
	strbuf_release(&sb);
	free(src);
}

/* A tree written by hand with `names` (each a blob "x"), committed on
 * branch `branch` of src. libgit2's tree builder would refuse the names. */
static void make_evil_branch(const char *branch, const char *const *names, const char *modes,
			     const char *link_target)
{
	git_repository *repo;
	git_odb *odb;
	git_oid blob, link, tree, commit;
	git_tree *t;
	git_signature *sig;
	struct strbuf raw = STRBUF_INIT;
	char *src = tpath("src"), *ref = xstrfmt("refs/heads/%s", branch);

	git_libgit2_init();
	git_repository_open(&repo, src);
	git_repository_odb(&odb, repo);
	git_odb_write(&blob, odb, "x", 1, GIT_OBJECT_BLOB);
	git_odb_write(&link, odb, link_target, strlen(link_target), GIT_OBJECT_BLOB);
	for (size_t i = 0; names[i]; i++) {
		const char *mode = modes[i] == 'l' ? "120000" : "100644";

		strbuf_addf(&raw, "%s %s", mode, names[i]);
		strbuf_addch(&raw, '\0');
		strbuf_add(&raw, (modes[i] == 'l' ? &link : &blob)->id, GIT_OID_RAWSZ);
	}
	git_odb_write(&tree, odb, raw.buf, raw.len, GIT_OBJECT_TREE);
	git_tree_lookup(&t, repo, &tree);
	git_signature_new(&sig, "t", "t@example.com", COMMIT_TIME, 0);
	git_commit_create(&commit, repo, ref, sig, sig, NULL, "evil", t, 0, NULL);
	git_signature_free(sig);
	git_tree_free(t);
	git_odb_free(odb);
	git_repository_free(repo);
	strbuf_release(&raw);
	free(ref);
	free(src);
}

static void check_evil(const char *branch, const char *what, const char *outside)
{
	char *src = tpath("src"), *out = tpath(branch), commit[41];
	int ret = gitsrc_resolve(src, branch, commit);

	if (ret == 0)
		ret = gitsrc_export(src, commit, NULL, out);
	CHECK(ret < 0 && is_absent(out) && (!outside || is_absent(outside)),
	      "%s: refused, nothing written (%d: %s)", what, ret, error_last());
	free(out);
	free(src);
}

static void test_evil_trees(void)
{
	static const char *const dotdot[] = {"..", NULL};
	static const char *const dotgit[] = {".GIT", NULL};
	static const char *const slash[] = {"a/b", NULL};
	static const char *const twice[] = {"x", "x", NULL};
	char *outside = tpath("outside"), *planted = tpath("outside/x");

	make_evil_branch("e-dotdot", dotdot, "f", "");
	check_evil("e-dotdot", "an entry named '..'", NULL);
	make_evil_branch("e-dotgit", dotgit, "f", "");
	check_evil("e-dotgit", "an entry named '.GIT'", NULL);
	make_evil_branch("e-slash", slash, "f", "");
	check_evil("e-slash", "an entry with '/'", NULL);
	/* a link to a directory outside, then a file of the same name: never
	 * written through the link */
	fs_mkdir_p(outside, 0755);
	make_evil_branch("e-through", twice, "lf", outside);
	check_evil("e-through", "a file behind a link of the same name", planted);
	free(outside);
	free(planted);
}

/* Several processes resolving into one new cache at once all succeed (the
 * cache is made aside and renamed, fetched under a lock). */
static void test_concurrent(void)
{
	char *src = tpath("src"), *cache3 = tpath("cache3");
	pid_t pids[4];
	int all = 1;

	setenv("XDG_CACHE_HOME", cache3, 1);
	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			char got[41];
			int ok = gitsrc_resolve(src, "main", got) == 0 && !strcmp(got, c2);

			free(src);
			free(cache3);
			_exit(ok ? 0 : 1);
		}
	}
	for (int i = 0; i < 4; i++) {
		int status = 0;

		if (pids[i] < 0 || waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			all = 0;
	}
	CHECK(all, "four processes resolving into one new cache at once all succeed");
	free(cache3);
	free(src);
}

static void test_plan(void)
{
	struct vec diags = VEC_INIT(free);
	struct recipe *r = NULL;
	struct plan p;
	char *src = tpath("src"), *text, *ctx = tpath("plan-out/context"), *want, *rpath;
	int ret;

	text = xstrfmt("name: a\ncuda: \"12.4\"\napp:\n  git:\n    url: %s\n    ref: nope\n", src);
	ret = recipe_parse("t.yaml", text, strlen(text), &r, &diags);
	CHECK(ret == 0, "a recipe with app.git parses");
	memset(&p, 0, sizeof(p));
	p.recipe = r;
	ret = plan_resolve_git(&p, &diags);
	want = xstrfmt("t.yaml:6:10: app.git.ref: '%s' has no branch, tag or commit 'nope'", src);
	CHECK(ret == GS_EINVAL && diags.nr == 1, "a missing ref: GS_EINVAL and one diagnostic");
	CHECK_STR(diags.nr ? (const char *)diags.items[0] : NULL, want,
		  "the diagnostic points at app.git.ref");
	free(want);
	recipe_free(r);
	free(text);
	vec_release(&diags);

	text = xstrfmt("name: a\ncuda: \"12.4\"\napp:\n  git:\n    url: %s/nothing\n", tmp);
	recipe_parse("t.yaml", text, strlen(text), &r, &diags);
	memset(&p, 0, sizeof(p));
	p.recipe = r;
	ret = plan_resolve_git(&p, &diags);
	CHECK(ret == GS_EINVAL && diags.nr == 1 &&
		  strstr(diags.items[0], "t.yaml:5:10: app.git.url: "),
	      "not a repository: the diagnostic points at app.git.url (%s)",
	      diags.nr ? (const char *)diags.items[0] : "");
	recipe_free(r);
	free(text);
	vec_release(&diags);

	text = xstrdup("name: a\ncuda: \"12.4\"\napp:\n  git:\n    url: src\n    ref: v1\n");
	rpath = fs_join(tmp, "gpuslim.yaml");
	recipe_parse(rpath, text, strlen(text), &r, &diags);
	free(rpath);
	memset(&p, 0, sizeof(p));
	p.recipe = r;
	p.git.url = xstrdup("src");
	ret = plan_export_git(&p, ctx);
	CHECK(ret == GS_EINVAL && !p.context, "export before resolving: GS_EINVAL");
	ret = plan_resolve_git(&p, &diags);
	CHECK(ret == 0 && p.git.commit && !strcmp(p.git.commit, c1),
	      "a relative url against the recipe's directory resolves v1 (%s)",
	      ret ? error_last() : "ok");
	ret = plan_export_git(&p, ctx);
	CHECK(ret == 0 && p.context && !strcmp(p.context, ctx),
	      "plan_export_git sets the plan's context (%s)", ret ? error_last() : "ok");
	free(p.git.url);
	free(p.git.ref);
	free(p.git.commit);
	free(p.context);
	recipe_free(r);
	free(text);
	vec_release(&diags);
	free(ctx);
	free(src);
}

int main(void)
{
	char tmpl[] = "/tmp/gpuslim-gitsrc.XXXXXX";
	char *cache;

	tmp = mkdtemp(tmpl);
	if (!tmp) {
		CHECK(0, "mkdtemp");
		return unit_done();
	}
	cache = tpath("cache");
	setenv("XDG_CACHE_HOME", cache, 1);
	free(cache);
	test_urls();
	if (make_repos()) {
		CHECK(0, "the test repositories are made with git");
	} else {
		test_resolve();
		test_credentials_scrubbed();
		test_export();
		test_export_by_commit();
		test_export_dir();
		test_evil_trees();
		test_concurrent();
		test_plan();
	}
	{
		struct process p;
		struct process_result res;

		process_init(&p);
		vec_push(&p.argv, xstrdup("rm"));
		vec_push(&p.argv, xstrdup("-rf"));
		vec_push(&p.argv, xstrdup(tmp));
		p.output = PROCESS_OUTPUT_NULL;
		process_run(&p, 60000, &res);
		process_release(&p);
	}
	return unit_done();
}
