#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/pyindex.h"
#include "core/gitsrc.h"
#include "core/render.h"

/*
 * One cell's Dockerfile: a builder stage that installs, builds, strips and
 * prunes, and a final stage that only copies what runs. It builds on Docker
 * Engine 20.10's built-in BuildKit frontend: no `# syntax=` line (it would
 * pull a frontend image), no COPY --link, no heredocs; cache mounts are fine.
 *
 * Quoting rules: every recipe or plan value in a RUN line goes through
 * render_shell_quote(); COPY/VOLUME use the JSON form with
 * render_docker_word() items; LABEL/ENV values use render_docker_quote();
 * CMD/ENTRYPOINT are exec-form JSON. app.build commands are the user's own
 * shell: each is one RUN, as written (a failing command names itself).
 */

/*
 * RENDER_OUT: the builder's tree for the final stage. The venv is built in
 * it (RENDER_VENV links there) and it is copied to / in one layer: copying
 * a tree's root gives the copied directory the time of the copy, while
 * everything under it keeps the times the builder set, so the layer holds
 * SOURCE_DATE_EPOCH only.
 */
#define RENDER_UID	      "10001"
#define RENDER_VENV	      "/opt/venv"
#define RENDER_OUT	      "/gpuslim-out"
#define RENDER_VENV_BUILT     RENDER_OUT RENDER_VENV
#define RENDER_EPOCH	      "315532800" /* 1980-01-01, the earliest zip time */
#define RENDER_CLOSURE	      "/opt/gpuslim/closure"
#define RENDER_CLOSURE_LIBDIR "/usr/local/lib/gpuslim"

struct df {
	struct strbuf *out;
	const struct plan *p;
	const struct recipe *r;
	const struct plan_cell *c;
	const struct kb_render *kb; /* plugins/render.json: paths and names RUN lines use */
};

/* ---- small writers ---------------------------------------------------- */

/* A comment line; control characters become spaces so text from the
 * recipe or the plan cannot start a new instruction. */
static void render_comment(struct strbuf *out, const char *text)
{
	strbuf_addstr(out, "# ");
	for (const unsigned char *u = (const unsigned char *)text; *u; u++)
		strbuf_addch(out, *u < 0x20 || *u == 0x7f ? ' ' : *u);
	strbuf_addch(out, '\n');
}

static void render_commentf(struct strbuf *out, const char *fmt, ...) GS_FMT(2, 3);

static void render_commentf(struct strbuf *out, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	render_comment(out, sb.buf);
	strbuf_release(&sb);
}

/* One JSON-array item that BuildKit will also expand as a word. */
static void render_json_word(struct strbuf *out, const char *s)
{
	struct strbuf w = STRBUF_INIT;

	render_docker_word(&w, s);
	render_json_string(out, w.buf);
	strbuf_release(&w);
}

static void render_copy(struct strbuf *out, const char *from, const char *src, const char *dst)
{
	strbuf_addstr(out, "COPY ");
	if (from)
		strbuf_addf(out, "--from=%s ", from);
	strbuf_addch(out, '[');
	render_json_word(out, src);
	strbuf_addstr(out, ", ");
	render_json_word(out, dst);
	strbuf_addstr(out, "]\n");
}

/* " \\\n    " then the quoted word: one item per line in a long RUN. */
static void render_quoted_items(struct strbuf *out, const struct vec *items, const char *indent)
{
	for (size_t i = 0; i < items->nr; i++) {
		strbuf_addf(out, " \\\n%s", indent);
		render_shell_quote(out, items->items[i]);
	}
}

/* The words of `list` joined by spaces, shell-quoted as one word: a list a
 * script splits again under `set -f` (so globs stay patterns). */
static void render_shell_list(struct strbuf *out, const char *var, const struct vec *list)
{
	struct strbuf joined = STRBUF_INIT;

	for (size_t i = 0; i < list->nr; i++)
		strbuf_addf(&joined, "%s%s", i ? " " : "", (const char *)list->items[i]);
	strbuf_addf(out, "    %s=", var);
	render_shell_quote(out, strbuf_cstr(&joined));
	strbuf_addstr(out, "; \\\n");
	strbuf_release(&joined);
}

static void render_rstrlist_to_vec(const struct rstrlist *l, struct vec *v)
{
	for (size_t i = 0; i < l->nr; i++)
		if (l->items[i].v)
			vec_pushstr(v, l->items[i].v);
}

/* One word: unquoted (a glob that must expand; render.json's are checked
 * plain by render_check_knowledge()) or shell-quoted. */
static void render_word(struct strbuf *out, const char *word, int quoted)
{
	if (quoted)
		render_shell_quote(out, word);
	else
		strbuf_addstr(out, word);
}

/* " w1 w2...". */
static void render_words(struct strbuf *out, const struct vec *words, int quoted)
{
	for (size_t i = 0; i < words->nr; i++) {
		strbuf_addch(out, ' ');
		render_word(out, words->items[i], quoted);
	}
}

/* find's test for any of `names`: "-name a", or "\\( -name a -o -name b \\)". */
static void render_find_names(struct strbuf *out, const struct vec *names, int quoted)
{
	if (names->nr > 1)
		strbuf_addstr(out, "\\( ");
	for (size_t i = 0; i < names->nr; i++) {
		strbuf_addstr(out, i ? " -o -name " : "-name ");
		render_word(out, names->items[i], quoted);
	}
	if (names->nr > 1)
		strbuf_addstr(out, " \\)");
}

/* ---- recipe defaults, read in one place -------------------------------- */

static int render_prunes(const struct recipe *r, const char *class)
{
	if (!r->trim.prune.pos.line && !r->trim.prune.nr)
		return 1; /* absent: every class */
	for (size_t i = 0; i < r->trim.prune.nr; i++)
		if (r->trim.prune.items[i].v && !strcmp(r->trim.prune.items[i].v, class))
			return 1;
	return 0;
}

/* The class is pruned and render.json says what it removes. */
static int render_prunes_list(const struct df *d, const char *class, const struct vec *what)
{
	return render_prunes(d->r, class) && what->nr;
}

/* One find per class over "$sp" (a site-packages directory), each line
 * `indent`ed: only directories inside a package (mindepth 2), never a
 * top-level package that happens to be named `test`. */
static void render_prune_packages(struct df *d, int tests, int examples, const char *indent)
{
	if (tests) {
		strbuf_addf(d->out, "%sfind \"$sp\" -mindepth 2 -type d ", indent);
		render_find_names(d->out, &d->kb->prune_tests, 0);
		strbuf_addstr(d->out, " -prune -exec rm -rf {} +; \\\n");
	}
	if (examples) {
		strbuf_addf(d->out, "%sfind \"$sp\" -mindepth 2 -type d ", indent);
		render_find_names(d->out, &d->kb->prune_examples, 0);
		strbuf_addstr(d->out, " -prune -exec rm -rf {} +; \\\n");
	}
}

/* The cell's strip mode (the matrix may vary it; the plan resolved the
 * recipe's trim.strip and the default). */
static const char *render_strip_flag(const struct plan_cell *c)
{
	const char *s = c->strip.value;

	if (!s || !strcmp(s, "unneeded"))
		return "--strip-unneeded";
	if (!strcmp(s, "debug"))
		return "--strip-debug";
	return NULL;
}

static const char *render_workdir(const struct recipe *r)
{
	return r->app.workdir.v ? r->app.workdir.v : "/app";
}

static int render_has_python(const struct plan_cell *c)
{
	return c->python.value != NULL;
}

static int render_is_managed(const struct plan_cell *c)
{
	return c->python_source.value && !strcmp(c->python_source.value, "managed") &&
	       c->managed_python_dir;
}

static int render_is_apt(const struct plan_cell *c)
{
	return !c->pkg_manager || strcmp(c->pkg_manager, "dnf");
}

static int render_needs_builder(const struct plan_cell *c)
{
	return render_has_python(c) || c->compiles;
}

/* /models/<name> unless the recipe says where. */
static char *render_model_target(const struct recipe_model *m)
{
	return m->target.v ? xstrdup(m->target.v) : xstrfmt("/models/%s", m->name.v);
}

/* Where a context path lands under `root`: the same relative path; a glob
 * or the whole context lands in a directory (trailing slash). */
static char *render_copy_dest(const char *root, const char *src)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len;
	const char *slash;

	while (*src == '/' || starts_with(src, "./"))
		src += *src == '/' ? 1 : 2;
	len = strlen(src);
	while (len && src[len - 1] == '/')
		len--;
	strbuf_addstr(&sb, root);
	if (!len || (len == 1 && *src == '.'))
		strbuf_addch(&sb, '/');
	else if (strpbrk(src, "*?[")) {
		slash = memrchr(src, '/', len);
		strbuf_addch(&sb, '/');
		if (slash)
			strbuf_addf(&sb, "%.*s/", (int)(slash - src), src);
	} else
		strbuf_addf(&sb, "/%.*s", (int)len, src);
	return strbuf_detach(&sb, NULL);
}

/* ---- checks on values that no quoting can carry ------------------------ */

/* A Dockerfile instruction ends at a newline (no heredocs on 20.10) and a
 * trailing backslash continues it: neither can be written safely. */
static int render_check_line(const char *field, const char *v)
{
	size_t len = strlen(v);

	if (strpbrk(v, "\n\r"))
		return error_setc(
		    GS_EINVAL, "%s: '%s' spans lines, which a Dockerfile cannot carry", field, v);
	if (len && v[len - 1] == '\\')
		return error_setc(GS_EINVAL, "%s: '%s' ends in a backslash", field, v);
	return 0;
}

static int render_check_list(const char *field, const struct rstrlist *l)
{
	for (size_t i = 0; i < l->nr; i++)
		if (l->items[i].v && render_check_line(field, l->items[i].v) < 0)
			return GS_EINVAL;
	return 0;
}

static int render_check_recipe(const struct recipe *r)
{
	if (render_check_list("app.build", &r->app.build) < 0 ||
	    render_check_list("app.env", &r->app.env) < 0 ||
	    render_check_list("app.copy", &r->app.copy) < 0 ||
	    render_check_list("app.artifacts", &r->app.artifacts) < 0 ||
	    render_check_list("trim.keep_symbols", &r->trim.keep_symbols) < 0)
		return GS_EINVAL;
	if (r->app.workdir.v && render_check_line("app.workdir", r->app.workdir.v) < 0)
		return GS_EINVAL;
	for (size_t i = 0; i < r->labels_nr; i++)
		if (render_check_line("labels", r->labels[i].key.v) < 0 ||
		    (r->labels[i].value.v && render_check_line("labels", r->labels[i].value.v) < 0))
			return GS_EINVAL;
	for (size_t i = 0; i < r->models_nr; i++)
		if (render_check_line("models", r->models[i].path.v) < 0 ||
		    (r->models[i].target.v &&
		     render_check_line("models", r->models[i].target.v) < 0))
			return GS_EINVAL;
	for (size_t i = 0; i < r->app.env.nr; i++)
		if (r->app.env.items[i].v && !strchr(r->app.env.items[i].v, '='))
			return error_setc(GS_EINVAL, "app.env: '%s' is not KEY=value",
					  r->app.env.items[i].v);
	return 0;
}

/* A word of render.json written unquoted (a glob): plain characters only. */
static int render_check_word(const char *key, const char *w)
{
	for (const char *s = w; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_./*?[]+@%=:,-", *s))
			return error_setc(
			    GS_EINVAL,
			    "render.json: %s: '%s' has a character a shell would read "
			    "(it is written unquoted, so its globs expand)",
			    key, w);
	return 0;
}

/* The knowledge RUN lines take as shell text: what goes unquoted is plain,
 * the uv URL (in double quotes) has no $, `, \ or ". */
static int render_check_knowledge(const struct kb_render *kb, int managed)
{
	const struct vec *lists[] = {&kb->os_site_packages,    &kb->os_python_dirs,
				     &kb->prune_tests,	       &kb->prune_examples,
				     &kb->prune_docs,	       &kb->base_cuda_lib_dirs,
				     &kb->wheel_cuda_lib_dirs, &kb->prune_test_programs};
	const char *keys[] = {"os_site_packages",   "os_python_dirs", "prune_tests",
			      "prune_examples",	    "prune_docs",     "base_cuda_lib_dirs",
			      "wheel_cuda_lib_dirs"};

	for (size_t i = 0; i < sizeof(lists) / sizeof(*lists); i++)
		for (size_t j = 0; j < lists[i]->nr; j++)
			if (render_check_word(keys[i], lists[i]->items[j]) < 0)
				return GS_EINVAL;
	if (!managed)
		return 0;
	if (!kb->uv_version || !kb->uv_url)
		return error_setc(GS_EINVAL, "render.json: no uv_version or uv_url, which a "
					     "managed Python needs");
	if (strpbrk(kb->uv_version, "$`\\\"") || strpbrk(kb->uv_url, "$`\\\""))
		return error_setc(GS_EINVAL, "render.json: uv_version or uv_url has a $, `, \\ "
					     "or \" (they are written in double quotes)");
	return 0;
}

/* ---- shared stage pieces ---------------------------------------------- */

static void render_from(struct df *d, const struct plan_image *img, const char *stage,
			const char *role)
{
	strbuf_addch(d->out, '\n');
	if (img->reason)
		render_commentf(d->out, "%s: %s", role, img->reason);
	if (!img->digest)
		render_comment(d->out,
			       "Not pinned by digest: `gpuslim generate --resolve` pins it, "
			       "`gpuslim build` always does.");
	strbuf_addf(d->out, "FROM %s%s%s AS %s\n", img->ref, img->digest ? "@" : "",
		    img->digest ? img->digest : "", stage);
}

/* A safe cache id per OS: lists and packages of two distributions never mix. */
static void render_cache_id(struct strbuf *out, const char *what, const char *os)
{
	strbuf_addf(out, "id=gpuslim-%s-", what);
	for (const char *s = os ? os : "os"; *s; s++)
		strbuf_addch(out, isalnum((unsigned char)*s) || *s == '.' ? *s : '-');
}

static void render_apt_mounts(struct df *d)
{
	strbuf_addstr(d->out, "RUN --mount=type=cache,");
	render_cache_id(d->out, "apt-cache", d->c->os.value);
	strbuf_addstr(d->out, ",target=/var/cache/apt,sharing=locked \\\n    --mount=type=cache,");
	render_cache_id(d->out, "apt-lists", d->c->os.value);
	strbuf_addstr(d->out, ",target=/var/lib/apt/lists,sharing=locked \\\n"
			      "    rm -f /etc/apt/apt.conf.d/docker-clean");
}

/* dpkg skips docs, man pages and translations (render.json apt_nodocs). */
static void render_apt_nodocs(struct df *d)
{
	strbuf_addstr(d->out, " \\\n    && printf '%s\\n'");
	for (size_t i = 0; i < d->kb->apt_nodocs.nr; i++) {
		strbuf_addch(d->out, ' ');
		render_shell_quote(d->out, d->kb->apt_nodocs.items[i]);
	}
	strbuf_addstr(d->out, " > /etc/dpkg/dpkg.cfg.d/gpuslim-nodoc");
}

static void render_useradd(struct df *d, int first)
{
	strbuf_addf(d->out,
		    "%sgroupadd --gid " RENDER_UID " gpuslim \\\n"
		    "    && useradd --uid " RENDER_UID " --gid " RENDER_UID
		    " --no-log-init --create-home --shell /usr/sbin/nologin gpuslim",
		    first ? "RUN " : " \\\n    && ");
}

static void render_pkg_comment(struct df *d, int final, int nodocs)
{
	if (render_is_apt(d->c))
		render_comment(d->out,
			       "Cache mounts hold apt's lists and .debs, so neither lands in a "
			       "layer; docker-clean would empty them.");
	else
		render_comment(d->out,
			       "A cache mount holds dnf's metadata and packages, so neither "
			       "lands in a layer.");
	if (nodocs)
		render_comment(d->out, "trim.prune docs: packages install without docs, man pages "
				       "or translations.");
	if (final && render_has_python(d->c) &&
	    (render_prunes(d->r, "tests") || render_prunes(d->r, "examples") ||
	     render_prunes(d->r, "pycache")))
		render_comment(d->out, "trim.prune also reaches the OS's Python packages, "
				       "in this layer, so none of their bytes stay behind.");
	if (final)
		render_comment(d->out,
			       "The app runs as an unprivileged user (uid " RENDER_UID ").");
}

/*
 * The OS's own Python packages (python3-torch and the like) arrive in the
 * final stage, where the venv's pruning never reaches them; Debian compiles
 * their bytecode at install time (py3compile). Pruned in the same RUN, so no
 * layer keeps the bytes. Not stripped: distributions ship them stripped.
 */
static void render_prune_os_python(struct df *d)
{
	int tests = render_prunes_list(d, "tests", &d->kb->prune_tests);
	int examples = render_prunes_list(d, "examples", &d->kb->prune_examples);
	int pycache = render_prunes(d->r, "pycache");

	if (!render_has_python(d->c) || (!tests && !examples && !pycache))
		return;
	if (d->kb->os_site_packages.nr) {
		strbuf_addstr(d->out, " \\\n    && for sp in");
		render_words(d->out, &d->kb->os_site_packages, 0);
		strbuf_addstr(d->out, "; do \\\n         [ -d \"$sp\" ] || continue; \\\n");
		render_prune_packages(d, tests, examples, "         ");
		strbuf_addstr(d->out, "       done");
	}
	if (pycache && d->kb->os_python_dirs.nr) {
		strbuf_addstr(d->out, " \\\n    && for py in");
		render_words(d->out, &d->kb->os_python_dirs, 0);
		strbuf_addstr(d->out, "; do \\\n"
				      "         [ -d \"$py\" ] || continue; \\\n"
				      "         find \"$py\" -type d -name __pycache__ -prune "
				      "-exec rm -rf {} +; \\\n"
				      "       done");
	}
}

/*
 * The OS-package RUN of either stage. The final stage also gets the nodocs
 * rules (when docs are pruned) and its user, in the same layer.
 */
static void render_pkg_install(struct df *d, const struct vec *pkgs, int final)
{
	int nodocs = final && render_prunes(d->r, "docs");
	int apt = render_is_apt(d->c);

	if (!pkgs->nr && !final)
		return;
	strbuf_addch(d->out, '\n');
	if (!pkgs->nr) {
		render_comment(d->out,
			       "The app runs as an unprivileged user (uid " RENDER_UID ").");
		render_useradd(d, 1);
		strbuf_addch(d->out, '\n');
		return;
	}
	render_pkg_comment(d, final, nodocs);
	if (apt) {
		render_apt_mounts(d);
		if (nodocs)
			render_apt_nodocs(d);
		strbuf_addstr(d->out, " \\\n    && apt-get update"
				      " \\\n    && apt-get install -y --no-install-recommends");
	} else {
		strbuf_addstr(d->out, "RUN --mount=type=cache,");
		render_cache_id(d->out, "dnf", d->c->os.value);
		strbuf_addf(d->out,
			    ",target=/var/cache/dnf,sharing=locked \\\n"
			    "    dnf install -y --setopt=install_weak_deps=False"
			    " --setopt=keepcache=True%s",
			    nodocs ? " --setopt=tsflags=nodocs" : "");
	}
	render_quoted_items(d->out, pkgs, "       ");
	if (final)
		render_prune_os_python(d);
	if (final)
		render_useradd(d, 0);
	strbuf_addch(d->out, '\n');
}

static void render_is_elf_fn(struct strbuf *out)
{
	strbuf_addstr(
	    out,
	    "    is_elf() { [ \"$(od -An -tx1 -N4 \"$1\" | tr -d ' \\n')\" = 7f454c46 ]; }; \\\n");
}

/* ---- builder stage ---------------------------------------------------- */

static void render_managed_python(struct df *d)
{
	const struct plan_cell *c = d->c;

	static const char *const keys[] = {"version", "arch"};
	const char *values[] = {d->kb->uv_version, "$(uname -m)"};
	char *url = kb_expand(d->kb->uv_url, keys, values, 2);

	strbuf_addch(d->out, '\n');
	render_commentf(d->out,
			"Python %s is not the OS's: a standalone CPython from uv %s (pinned), "
			"moved to %s so both stages find it at one path.",
			c->python.value, d->kb->uv_version, c->managed_python_dir);
	strbuf_addf(d->out,
		    "RUN set -eu; \\\n"
		    "    curl -fsSL \"%s\" \\\n"
		    "      | tar -xz -C /usr/local/bin --strip-components=1; \\\n"
		    "    UV_PYTHON_INSTALL_DIR=/tmp/uv-python uv python install ",
		    url);
	free(url);
	render_shell_quote(d->out, c->python.value);
	strbuf_addstr(d->out, "; \\\n    set -- /tmp/uv-python/cpython-");
	render_shell_quote(d->out, c->python.value);
	strbuf_addstr(d->out, ".*; \\\n"
			      "    [ \"$#\" -eq 1 ] || { echo \"gpuslim: want one managed CPython, "
			      "found: $*\" >&2; exit 1; }; \\\n"
			      "    mv \"$1\" ");
	render_shell_quote(d->out, c->managed_python_dir);
	strbuf_addstr(d->out, "; \\\n    rm -rf /tmp/uv-python; \\\n    ");
	render_shell_quote(d->out, c->python_bin);
	strbuf_addstr(d->out, " --version\n");
}

static void render_venv(struct df *d)
{
	int managed = render_is_managed(d->c);

	strbuf_addch(d->out, '\n');
	if (managed)
		render_comment(
		    d->out,
		    "The app's packages live in one venv, copied whole to the final stage.");
	else
		render_comment(d->out,
			       "The app's packages live in one venv, copied whole to the final "
			       "stage; it sees the OS's Python packages (system_packages).");
	render_comment(d->out, "It moves into " RENDER_OUT ", the tree the final stage copies "
			       "whole, and " RENDER_VENV " links there: one path in both stages.");
	strbuf_addstr(d->out, "RUN ");
	render_shell_quote(d->out, d->c->python_bin);
	strbuf_addf(d->out,
		    " -m venv%s " RENDER_VENV " \\\n"
		    "    && mkdir -p " RENDER_OUT "/opt \\\n"
		    "    && mv " RENDER_VENV " " RENDER_VENV_BUILT " \\\n"
		    "    && ln -s " RENDER_VENV_BUILT " " RENDER_VENV "\n",
		    managed ? "" : " --system-site-packages");
	render_comment(d->out,
		       "Build commands use the venv; pip stays quiet about its own version.");
	strbuf_addstr(d->out,
		      "ENV PATH=" RENDER_VENV "/bin:$PATH \\\n    PIP_DISABLE_PIP_VERSION_CHECK=1");
	if (render_prunes(d->r, "pycache"))
		strbuf_addstr(d->out, " \\\n    PIP_NO_COMPILE=1");
	strbuf_addch(d->out, '\n');
}

/*
 * The start of a pip RUN: pip's cache as a cache mount and, when the
 * recipe's pip.index_url or pip.framework_index_url carries credentials,
 * the netrc `gpuslim build` passes as the BuildKit secret "gpuslim-netrc"
 * (never a build arg or Dockerfile text: the plan's URLs are redacted).
 * required=false: a plain `docker build` without the secret still runs.
 */
static void render_pip_mounts(struct df *d)
{
	char *idx = d->r->pip.index_url.v ? pyindex_redact_url(d->r->pip.index_url.v) : NULL;
	char *fw = d->r->pip.framework_index_url.v
		       ? pyindex_redact_url(d->r->pip.framework_index_url.v)
		       : NULL;
	int secret = (idx && strcmp(idx, d->r->pip.index_url.v)) ||
		     (fw && strcmp(fw, d->r->pip.framework_index_url.v));

	strbuf_addstr(d->out, "RUN --mount=type=cache,target=/root/.cache/pip");
	if (secret)
		strbuf_addstr(d->out, " \\\n    --mount=type=secret,id=" RENDER_NETRC_SECRET
				      ",target=/root/.netrc,required=false");
	strbuf_addstr(d->out, " \\\n");
	free(idx);
	free(fw);
}

/* One pip run: `pip install` from `index` (NULL: pip's own default) of
 * `reqs`, shell-quoted. */
static void render_pip_run(struct df *d, const char *index, const struct vec *reqs)
{
	render_pip_mounts(d);
	strbuf_addstr(d->out, "    " RENDER_VENV "/bin/pip install");
	if (index) {
		strbuf_addstr(d->out, " \\\n      --index-url ");
		render_shell_quote(d->out, index);
	}
	render_quoted_items(d->out, reqs, "      ");
	strbuf_addch(d->out, '\n');
}

/*
 * Without pinned wheels (a plan not resolved: generate without --resolve,
 * build --offline): pip resolves at build time. Each framework from its
 * own index with --index-url, never --extra-index-url, where a same-named
 * package on PyPI could win; then the rest from the recipe's index.
 */
static void render_pip_unpinned(struct df *d)
{
	const struct plan_cell *c = d->c;
	char *def = d->r->pip.index_url.v ? pyindex_redact_url(d->r->pip.index_url.v) : NULL;
	struct vec indexes = VEC_INIT(free), rest = VEC_INIT(free);

	for (size_t i = 0; i < c->frameworks_nr; i++)
		if (c->frameworks[i].index_url &&
		    vec_findstr(&indexes, c->frameworks[i].index_url) < 0)
			vec_pushstr(&indexes, c->frameworks[i].index_url);
	for (size_t i = 0; i < c->frameworks_nr; i++)
		if (!c->frameworks[i].index_url && c->frameworks[i].pip_spec &&
		    vec_findstr(&rest, c->frameworks[i].pip_spec) < 0)
			vec_pushstr(&rest, c->frameworks[i].pip_spec);
	for (size_t i = 0; i < c->pip_requirements.nr; i++) {
		const char *req = c->pip_requirements.items[i];
		int framework = 0;

		for (size_t k = 0; k < c->frameworks_nr; k++)
			if (c->frameworks[k].pip_spec && !strcmp(c->frameworks[k].pip_spec, req))
				framework = 1;
		if (!framework && vec_findstr(&rest, req) < 0)
			vec_pushstr(&rest, req);
	}
	if (!indexes.nr && !rest.nr)
		goto done;
	strbuf_addch(d->out, '\n');
	render_comment(d->out,
		       "pip's cache is a cache mount: fast rebuilds, no cache in any layer. "
		       "Not pinned (plan without --resolve): pip resolves here. Each "
		       "framework comes from its own index only (--index-url, never "
		       "--extra-index-url).");
	for (size_t k = 0; k < indexes.nr; k++) {
		struct vec reqs = VEC_INIT(free);

		for (size_t i = 0; i < c->frameworks_nr; i++)
			if (c->frameworks[i].index_url &&
			    !strcmp(c->frameworks[i].index_url, indexes.items[k]) &&
			    vec_findstr(&reqs, c->frameworks[i].pip_spec) < 0)
				vec_pushstr(&reqs, c->frameworks[i].pip_spec);
		render_pip_run(d, indexes.items[k], &reqs);
		vec_release(&reqs);
	}
	if (rest.nr)
		render_pip_run(d, def, &rest);
done:
	free(def);
	vec_release(&indexes);
	vec_release(&rest);
}

/*
 * The plan's wheels (plan_resolve_wheels or the lock): exactly those files,
 * hash-checked, no resolver. One pip run per index, the framework's first;
 * the requirements file is written inside the RUN (Engine 20.10 without a
 * dockerfile frontend has no heredocs) and gone before the layer is.
 */
static void render_pip_wheels(struct df *d)
{
	const struct plan_cell *c = d->c;
	struct vec indexes = VEC_INIT(NULL);

	for (size_t i = 0; i < c->wheels_nr; i++)
		if (vec_findstr(&indexes, c->wheels[i].index_url) < 0)
			vec_push(&indexes, c->wheels[i].index_url);
	strbuf_addch(d->out, '\n');
	render_comment(d->out,
		       "The planned wheels, nothing else: pip --require-hashes --no-deps installs "
		       "each pinned file or fails. One --index-url per run, the framework's "
		       "first; never --extra-index-url. pip's cache is a cache mount.");
	for (size_t k = 0; k < indexes.nr; k++) {
		const char *index = indexes.items[k];
		char *file = xstrfmt("/tmp/gpuslim-wheels-%zu.txt", k + 1);

		render_pip_mounts(d);
		strbuf_addstr(d->out, "    set -eu; \\\n"
				      "    printf '%s\\n'");
		for (size_t i = 0; i < c->wheels_nr; i++) {
			const struct plan_wheel *w = &c->wheels[i];
			char *line;

			if (strcmp(w->index_url, index))
				continue;
			line = xstrfmt("%s==%s --hash=sha256:%s", w->name, w->version, w->sha256);
			strbuf_addstr(d->out, " \\\n      ");
			render_shell_quote(d->out, line);
			free(line);
		}
		strbuf_addf(d->out,
			    " \\\n      >%s; \\\n"
			    "    " RENDER_VENV "/bin/pip install --require-hashes --no-deps \\\n"
			    "      --index-url ",
			    file);
		render_shell_quote(d->out, index);
		strbuf_addf(d->out, " \\\n      -r %s; \\\n    rm -f %s\n", file, file);
		free(file);
	}
	vec_release(&indexes);
}

static void render_pip(struct df *d)
{
	if (d->c->wheels_nr)
		render_pip_wheels(d);
	else
		render_pip_unpinned(d);
}

static void render_build(struct df *d)
{
	const struct recipe *r = d->r;

	strbuf_addch(d->out, '\n');
	render_comment(
	    d->out,
	    "The sources are built where the toolchain is; only app.artifacts leave this stage.");
	strbuf_addstr(d->out, "WORKDIR /src\n");
	for (size_t i = 0; i < r->app.copy.nr; i++) {
		char *dst = render_copy_dest("/src", r->app.copy.items[i].v);

		render_copy(d->out, NULL, r->app.copy.items[i].v, dst);
		free(dst);
	}
	render_comment(d->out, "app.build: the recipe's own shell, one RUN per command.");
	for (size_t i = 0; i < r->app.build.nr; i++)
		strbuf_addf(d->out, "RUN %s\n", r->app.build.items[i].v);
}

/* Where stripping and pruning look: the venv, the managed interpreter and,
 * for a compiled program, its artifacts. */
static void render_trim_roots(const struct df *d, struct vec *roots, int with_artifacts)
{
	/* the venv's real directory: find never follows RENDER_VENV, a link */
	if (render_has_python(d->c))
		vec_pushstr(roots, RENDER_VENV_BUILT);
	if (render_is_managed(d->c))
		vec_pushstr(roots, d->c->managed_python_dir);
	if (with_artifacts && d->c->compiles)
		render_rstrlist_to_vec(&d->r->app.artifacts, roots);
}

/* The matrix varies strip: the cell's comment gives the plan's reason,
 * since trim.strip alone no longer decides. */
static int render_strip_is_axis(const struct plan_cell *c)
{
	for (size_t i = 0; i < c->axes.nr; i++)
		if (!strncmp(c->axes.items[i], "strip=", 6))
			return 1;
	return 0;
}

static void render_strip(struct df *d)
{
	const char *flag = render_strip_flag(d->c);
	const char *reason = d->c->strip.reason ? d->c->strip.reason : "";
	int is_axis = render_strip_is_axis(d->c);
	struct vec roots = VEC_INIT(free), keep = VEC_INIT(free);

	render_trim_roots(d, &roots, 1);
	if (!roots.nr)
		goto done;
	if (!flag) {
		/* Say why nothing is stripped where a sibling cell strips. */
		if (is_axis) {
			strbuf_addch(d->out, '\n');
			render_commentf(d->out,
					"No strip: %s Symbols kept, to compare with the cells "
					"that strip.",
					reason);
		}
		goto done;
	}
	render_rstrlist_to_vec(&d->r->trim.keep_symbols, &keep);
	strbuf_addch(d->out, '\n');
	if (is_axis)
		render_commentf(d->out,
				"strip: %s on ELF files (magic checked, not names), but "
				"trim.keep_symbols; %s",
				flag, reason);
	else
		render_commentf(
		    d->out,
		    "trim.strip: %s on ELF files (magic checked, not names), but "
		    "trim.keep_symbols; symbols cost megabytes and nothing at run time.",
		    flag);
	strbuf_addstr(d->out, "RUN set -eu; set -f; \\\n");
	render_shell_list(d->out, "keep", &keep);
	render_is_elf_fn(d->out);
	strbuf_addstr(d->out, "    find");
	for (size_t i = 0; i < roots.nr; i++) {
		strbuf_addch(d->out, ' ');
		render_shell_quote(d->out, roots.items[i]);
	}
	strbuf_addf(
	    d->out,
	    " -type f \\( -name '*.so' -o -name '*.so.*' -o -perm -u=x \\) \\\n"
	    "    | while IFS= read -r f; do \\\n"
	    "        is_elf \"$f\" || continue; \\\n"
	    "        for k in $keep; do case \"$f\" in $k|*/$k) continue 2;; esac; done; \\\n"
	    "        strip %s \"$f\" || echo \"gpuslim: cannot strip $f; left as is\" >&2; \\\n"
	    "      done\n",
	    flag);
done:
	vec_release(&roots);
	vec_release(&keep);
}

static void render_closure_rules(struct df *d)
{
	struct strbuf rules = STRBUF_INIT;

	for (size_t i = 0; i < d->c->dlopen_nr; i++) {
		const struct plan_dlopen_rule *rule = &d->c->dlopen[i];

		strbuf_addf(&rules, "%s%s=", i ? " " : "", rule->soname);
		for (size_t j = 0; j < rule->loads.nr; j++)
			strbuf_addf(&rules, "%s%s", j ? "," : "",
				    (const char *)rule->loads.items[j]);
	}
	strbuf_addstr(d->out, "    rules=");
	render_shell_quote(d->out, strbuf_cstr(&rules));
	strbuf_addstr(d->out, "; \\\n");
	strbuf_release(&rules);
}

/* orchestrator/core/closure.sh, less its comments and blank lines: the
 * Makefile makes closure_sh.h of it, one string literal per line. */
static const char render_closure_sh[] =
#include "closure_sh.h"
    ;

/* The script's lines as the rest of one RUN: each continued with " \",
 * the last one ending it (closure.sh says why that is safe). */
static void render_closure_script(struct strbuf *out)
{
	const char *line = render_closure_sh, *nl;

	while ((nl = strchr(line, '\n'))) {
		strbuf_addf(out, "    %.*s%s\n", (int)(nl - line), line, nl[1] ? " \\" : "");
		line = nl + 1;
	}
}

static void render_closure(struct df *d)
{
	struct vec roots = VEC_INIT(free);

	render_rstrlist_to_vec(&d->r->app.artifacts, &roots);
	strbuf_addch(d->out, '\n');
	render_comment(d->out,
		       "The program's library closure: what ldd resolves (DT_NEEDED) plus what "
		       "the CUDA libraries dlopen(), copied by soname.");
	render_comment(d->out,
		       "Skipped: what the final base already has (closure_skip) and the driver, "
		       "which the host injects at run time (ldd reports it \"not found\" here).");
	strbuf_addstr(d->out, "RUN set -eu; set -f; \\\n"
			      "    dest=" RENDER_CLOSURE RENDER_CLOSURE_LIBDIR "; \\\n"
			      "    mkdir -p \"$dest\" " RENDER_CLOSURE "/etc/ld.so.conf.d; \\\n"
			      "    echo " RENDER_CLOSURE_LIBDIR " > " RENDER_CLOSURE
			      "/etc/ld.so.conf.d/gpuslim.conf; \\\n");
	render_shell_list(d->out, "roots", &roots);
	render_shell_list(d->out, "skip", &d->c->closure_skip);
	render_shell_list(d->out, "driver", &d->c->driver_sonames);
	render_shell_list(d->out, "libdirs", &d->kb->library_dirs);
	render_closure_rules(d);
	render_is_elf_fn(d->out);
	render_closure_script(d->out);
	vec_release(&roots);
}

/* The site-packages classes over the trim roots' site-packages. */
static void render_prune_site(struct df *d, const char *roots)
{
	int tests = render_prunes_list(d, "tests", &d->kb->prune_tests);
	int examples = render_prunes_list(d, "examples", &d->kb->prune_examples);

	if (!tests && !examples)
		return;
	strbuf_addf(d->out,
		    "    for sp in %s; do \\\n"
		    "      [ -d \"$sp\" ] || continue; \\\n",
		    roots);
	render_prune_packages(d, tests, examples, "      ");
	strbuf_addstr(d->out, "    done; \\\n");
}

static void render_prune(struct df *d)
{
	struct vec roots = VEC_INIT(free);
	struct strbuf r = STRBUF_INIT, sites = STRBUF_INIT;
	size_t mark;

	render_trim_roots(d, &roots, 0);
	if (!roots.nr)
		goto done;
	for (size_t i = 0; i < roots.nr; i++) {
		strbuf_addch(&r, ' ');
		render_shell_quote(&r, roots.items[i]);
		strbuf_addf(&sites, "%s%s/lib/python*/site-packages", i ? " " : "",
			    (const char *)roots.items[i]);
	}
	strbuf_addch(d->out, '\n');
	render_comment(d->out, "trim.prune: files the app never reads at run time.");
	if (render_prunes(d->r, "pip-cache"))
		render_comment(
		    d->out,
		    "(pip-cache: pip ran with its cache on a cache mount; none is in a layer.)");
	mark = d->out->len;
	strbuf_addstr(d->out, "RUN set -eu; \\\n");
	render_prune_site(d, sites.buf);
	if (render_prunes(d->r, "pycache"))
		strbuf_addf(
		    d->out,
		    "    find%s \\( -type d -name __pycache__ -prune -exec rm -rf {} + \\) \\\n"
		    "      -o \\( -type f -name '*.py[co]' -exec rm -f {} + \\); \\\n",
		    r.buf);
	if (render_prunes_list(d, "headers", &d->kb->prune_headers)) {
		strbuf_addf(d->out, "    find%s -type f -path '*/include/*' ", r.buf);
		render_find_names(d->out, &d->kb->prune_headers, 1);
		strbuf_addstr(d->out, " -delete; \\\n");
	}
	if (render_prunes_list(d, "static-libs", &d->kb->prune_static_libs)) {
		strbuf_addf(d->out, "    find%s -type f ", r.buf);
		render_find_names(d->out, &d->kb->prune_static_libs, 1);
		strbuf_addstr(d->out, " -delete; \\\n");
	}
	if (render_prunes_list(d, "docs", &d->kb->prune_docs))
		for (size_t i = 0; i < roots.nr; i++) {
			strbuf_addstr(d->out, "    rm -rf");
			for (size_t j = 0; j < d->kb->prune_docs.nr; j++)
				strbuf_addf(d->out, " %s/%s", (const char *)roots.items[i],
					    (const char *)d->kb->prune_docs.items[j]);
			strbuf_addstr(d->out, "; \\\n");
		}
	if (d->out->len == mark + strlen("RUN set -eu; \\\n")) {
		strbuf_setlen(d->out, mark);
		goto done;
	}
	strbuf_setlen(d->out, d->out->len - strlen("; \\\n"));
	strbuf_addch(d->out, '\n');
done:
	strbuf_release(&r);
	strbuf_release(&sites);
	vec_release(&roots);
}

/*
 * The venv as the final stage gets it, the same bytes from the same lock:
 * no bytecode pip or the venv's ensurepip wrote with build-time mtimes in
 * it (trim.prune pycache: none; else compiled again through RENDER_VENV,
 * the path the final stage runs, hash-checked instead of time-stamped),
 * then every time in the tree at SOURCE_DATE_EPOCH (a --build-arg may set
 * it). Its own RUN, after every step that writes the venv.
 */
static void render_venv_normalize(struct df *d)
{
	strbuf_addch(d->out, '\n');
	render_comment(d->out, "Reproducible venv layer: one lock gives the same files, "
			       "bytecode and times, so the same layer digest.");
	strbuf_addstr(d->out, "ARG SOURCE_DATE_EPOCH=" RENDER_EPOCH "\n"
			      "RUN set -eu; \\\n"
			      "    find " RENDER_OUT " \\( -type d -name __pycache__ -prune "
			      "-exec rm -rf {} + \\) \\\n"
			      "      -o \\( -type f -name '*.py[co]' -exec rm -f {} + \\); \\\n");
	if (!render_prunes(d->r, "pycache"))
		strbuf_addstr(d->out, "    " RENDER_VENV "/bin/python -m compileall -q "
				      "--invalidation-mode checked-hash " RENDER_VENV "/lib; \\\n");
	strbuf_addstr(d->out, "    find " RENDER_OUT " -exec touch -h -d \"@$SOURCE_DATE_EPOCH\" "
			      "{} +\n");
}

/*
 * final.mode closure: the final stage is FROM scratch, so everything that
 * runs is put together here, in RENDER_OUT (the tree the final stage copies
 * to / in one layer): the app's artifacts, the interpreter with its stdlib
 * (less what final.keep_stdlib does not keep), the OS's Python packages the
 * recipe installed, then the ELF closure of every file in the tree (closure.sh
 * with $stage: glibc and the loader at its PT_INTERP path included, only the
 * driver left out) in the builder's library directory, which is also where
 * the NVIDIA Container Toolkit injects the driver. ld.so.cache is made here
 * (ldconfig -r), since the image has no ldconfig to run.
 */
static void render_closure_stage(struct df *d)
{
	const struct plan_cell *c = d->c;
	const struct recipe *r = d->r;
	int tests = render_prunes_list(d, "tests", &d->kb->prune_tests);
	int examples = render_prunes_list(d, "examples", &d->kb->prune_examples);
	struct vec drop = VEC_INIT(NULL);

	for (size_t i = 0; recipe_stdlib_dropped[i]; i++) {
		int keep = 0;

		for (size_t k = 0; k < r->final.keep_stdlib.nr; k++)
			if (!strcmp(r->final.keep_stdlib.items[k].v, recipe_stdlib_dropped[i]))
				keep = 1;
		if (!keep)
			vec_push(&drop, (void *)recipe_stdlib_dropped[i]);
	}
	strbuf_addch(d->out, '\n');
	render_comment(d->out,
		       "final.mode closure: the final stage has no OS. Its whole tree is put "
		       "together here, in " RENDER_OUT ": the app, its interpreter, and the "
		       "ELF closure of both.");
	render_comment(d->out, "The loader finds the libraries through ld.so.cache, made here; the "
			       "driver stays out (the host injects it into the same directory).");
	if (!render_has_python(c))
		strbuf_addstr(d->out, "ARG SOURCE_DATE_EPOCH=" RENDER_EPOCH "\n");
	strbuf_addstr(
	    d->out, "RUN set -eu; set -f; \\\n"
		    "    stage=" RENDER_OUT "; \\\n"
		    "    mkdir -p \"$stage\"; \\\n"
		    "    for l in bin lib lib64 sbin; do \\\n"
		    "      if [ -L \"/$l\" ]; then \\\n"
		    "        ln -sfn \"$(readlink \"/$l\")\" \"$stage/$l\"; \\\n"
		    "        mkdir -p \"$stage$(readlink -f \"/$l\")\"; \\\n"
		    "      fi; \\\n"
		    "    done; \\\n"
		    "    libc=$(ldconfig -p | awk '$1 == \"libc.so.6\" { print $NF; exit }'); \\\n"
		    "    libdir=$(dirname \"$(readlink -f \"$libc\")\"); \\\n"
		    "    mkdir -p \"$stage$libdir\"; \\\n");
	if (c->compiles && r->app.artifacts.nr) {
		strbuf_addstr(d->out, "    for a in");
		for (size_t i = 0; i < r->app.artifacts.nr; i++) {
			strbuf_addch(d->out, ' ');
			render_shell_quote(d->out, r->app.artifacts.items[i].v);
		}
		strbuf_addstr(d->out, "; do \\\n"
				      "      mkdir -p \"$stage$(dirname \"$a\")\"; \\\n"
				      "      cp -a \"$a\" \"$stage$a\"; \\\n"
				      "    done; \\\n");
	}
	if (render_has_python(c)) {
		strbuf_addstr(d->out, "    py=");
		render_shell_quote(d->out, c->python_bin);
		strbuf_addstr(d->out, "; \\\n    stdlib=$(\"$py\" -c 'import sysconfig; "
				      "print(sysconfig.get_paths()[\"stdlib\"])'); \\\n");
		if (render_is_managed(c)) {
			strbuf_addstr(d->out, "    mkdir -p \"$stage$(dirname ");
			render_shell_quote(d->out, c->managed_python_dir);
			strbuf_addstr(d->out, ")\"; \\\n    cp -a ");
			render_shell_quote(d->out, c->managed_python_dir);
			strbuf_addch(d->out, ' ');
			strbuf_addstr(d->out, "\"$stage\"");
			render_shell_quote(d->out, c->managed_python_dir);
			strbuf_addstr(d->out, "; \\\n");
		} else {
			strbuf_addstr(
			    d->out,
			    "    mkdir -p \"$stage$(dirname \"$py\")\" \"$stage$(dirname "
			    "\"$stdlib\")\"; \\\n"
			    "    cp -a \"$py\" \"$stage$py\"; \\\n"
			    "    cp -a \"$stdlib\" \"$stage$stdlib\"; \\\n"
			    "    etc=/etc/$(basename \"$stdlib\"); \\\n"
			    "    if [ -d \"$etc\" ]; then mkdir -p \"$stage/etc\"; cp -a \"$etc\" "
			    "\"$stage$etc\"; fi; \\\n");
		}
		if (drop.nr) {
			strbuf_addstr(d->out, "    for part in");
			render_words(d->out, &drop, 0);
			strbuf_addstr(d->out, "; do rm -rf \"$stage$stdlib/$part\"; done; \\\n");
		}
		strbuf_addstr(d->out, "    find \"$stage$stdlib\" -type d -name __pycache__ -prune "
				      "-exec rm -rf {} +; \\\n");
		if (!render_is_managed(c) && r->system_packages.nr && d->kb->os_site_packages.nr) {
			strbuf_addstr(d->out, "    set +f; \\\n    for sp in");
			render_words(d->out, &d->kb->os_site_packages, 0);
			strbuf_addstr(d->out, "; do \\\n"
					      "      [ -d \"$sp\" ] || continue; \\\n"
					      "      mkdir -p \"$stage$(dirname \"$sp\")\"; \\\n"
					      "      cp -a \"$sp\" \"$stage$sp\"; \\\n"
					      "      sp=$stage$sp; \\\n");
			render_prune_packages(d, tests, examples, "      ");
			/* a test directory may be a link (Debian's torch/test) */
			if (tests) {
				strbuf_addstr(d->out, "      find \"$sp\" -mindepth 2 -type l ");
				render_find_names(d->out, &d->kb->prune_tests, 0);
				strbuf_addstr(d->out, " -delete; \\\n");
			}
			if (tests)
				for (size_t i = 0; i < d->kb->prune_test_programs.nr; i++) {
					strbuf_addstr(d->out, "      find \"$sp\" -path ");
					render_shell_quote(d->out,
							   d->kb->prune_test_programs.items[i]);
					strbuf_addstr(d->out, " ! -type d -delete; \\\n");
				}
			strbuf_addstr(d->out, "      find \"$sp\" -type d -name __pycache__ -prune "
					      "-exec rm -rf {} +; \\\n"
					      "    done; \\\n    set -f; \\\n");
		}
	}
	if (render_has_python(c))
		/* Debian's torch/lib/libtorch*.so link to /usr/lib/x86_64-linux-gnu, and
		 * torch dlopen()s one of them by that path: what a copied link
		 * names comes along (dereferenced), or the link would dangle. */
		strbuf_addstr(
		    d->out, "    find \"$stage\" -type l | while IFS= read -r l; do \\\n"
			    "      t=$(readlink \"$l\"); \\\n"
			    "      case \"$t\" in /*) p=$t;; *) p=${l%/*}/$t; p=${p#\"$stage\"};; "
			    "esac; \\\n"
			    "      if [ ! -e \"$stage$p\" ] && [ -e \"$p\" ]; then \\\n"
			    "        mkdir -p \"$stage${p%/*}\"; \\\n"
			    "        cp -aL \"$p\" \"$stage$p\"; \\\n"
			    "      fi; \\\n"
			    "    done; \\\n");
	if (render_prunes_list(d, "headers", &d->kb->prune_headers)) {
		strbuf_addstr(d->out, "    find \"$stage\" -type f -path '*/include/*' ");
		render_find_names(d->out, &d->kb->prune_headers, 1);
		strbuf_addstr(d->out, " -delete; \\\n");
	}
	if (render_prunes_list(d, "static-libs", &d->kb->prune_static_libs)) {
		strbuf_addstr(d->out, "    find \"$stage\" -type f ");
		render_find_names(d->out, &d->kb->prune_static_libs, 1);
		strbuf_addstr(d->out, " -delete; \\\n");
	}
	strbuf_addstr(d->out, "    dest=$stage$libdir; \\\n"
			      "    roots=$stage; \\\n");
	render_shell_list(d->out, "skip", &c->closure_skip);
	render_shell_list(d->out, "driver", &c->driver_sonames);
	render_shell_list(d->out, "libdirs", &d->kb->library_dirs);
	render_shell_list(d->out, "always", &d->kb->closure_always);
	render_closure_rules(d);
	render_is_elf_fn(d->out);
	render_closure_script(d->out);
	/* render_closure_script() ended the RUN: continue it */
	strbuf_setlen(d->out, d->out->len - 1);
	strbuf_addstr(d->out,
		      "; \\\n"
		      "    mkdir -p \"$stage/etc/ld.so.conf.d\"; \\\n"
		      "    echo 'include /etc/ld.so.conf.d/*.conf' > \"$stage/etc/ld.so.conf\"; "
		      "\\\n"
		      "    echo \"$libdir\" > \"$stage/etc/ld.so.conf.d/gpuslim.conf\"; \\\n"
		      "    ldconfig -r \"$stage\"; \\\n"
		      "    if [ -f /etc/debian_version ]; then cp /etc/debian_version "
		      "\"$stage/etc/\"; fi; \\\n"
		      "    printf '%s\\n' 'root:x:0:0:root:/root:/sbin/nologin' \\\n"
		      "      'gpuslim:x:" RENDER_UID ":" RENDER_UID
		      "::/home/gpuslim:/sbin/nologin' > \"$stage/etc/passwd\"; \\\n"
		      "    printf '%s\\n' 'root:x:0:' 'gpuslim:x:" RENDER_UID
		      ":' > \"$stage/etc/group\"; \\\n"
		      "    mkdir -p \"$stage/home/gpuslim\"; \\\n"
		      "    chown " RENDER_UID ":" RENDER_UID " \"$stage/home/gpuslim\"; \\\n");
	if (r->final.ca_certificates.v)
		strbuf_addstr(d->out, "    mkdir -p \"$stage/etc/ssl/certs\"; \\\n"
				      "    cp -L /etc/ssl/certs/ca-certificates.crt "
				      "\"$stage/etc/ssl/certs/\"; \\\n");
	if (r->final.tmp.v)
		strbuf_addstr(d->out, "    mkdir -p \"$stage/tmp\"; \\\n"
				      "    chmod 1777 \"$stage/tmp\"; \\\n");
	if (!render_has_python(c))
		strbuf_addstr(
		    d->out, "    find \"$stage\" -exec touch -h -d \"@$SOURCE_DATE_EPOCH\" {} +\n");
	else
		strbuf_addstr(d->out, "    du -sh \"$stage\"\n");
	vec_release(&drop);
}

static void render_builder_stage(struct df *d)
{
	render_from(d, &d->c->builder, "builder",
		    d->c->compiles ? "Builder (devel: the cell compiles)" : "Builder");
	if (render_is_apt(d->c)) {
		render_comment(d->out, "apt runs unattended.");
		strbuf_addstr(d->out, "ARG DEBIAN_FRONTEND=noninteractive\n");
	}
	render_pkg_install(d, &d->c->builder_packages, 0);
	if (render_is_managed(d->c))
		render_managed_python(d);
	if (render_has_python(d->c)) {
		render_venv(d);
		render_pip(d);
	}
	if (d->c->compiles)
		render_build(d);
	render_strip(d);
	if (d->c->compiles && !d->c->closure)
		render_closure(d);
	render_prune(d);
	if (d->c->closure)
		render_closure_stage(d);
	if (render_has_python(d->c))
		render_venv_normalize(d);
}

/* ---- final stage ------------------------------------------------------ */

static void render_models_baked(struct df *d)
{
	int first = 1;

	for (size_t i = 0; i < d->r->models_nr; i++) {
		const struct recipe_model *m = &d->r->models[i];
		char *target;

		if (m->mode != MODEL_BAKE)
			continue;
		if (first) {
			strbuf_addch(d->out, '\n');
			render_comment(
			    d->out, "Baked models, one layer each and before deps and code: "
				    "weights change least, so a code change never re-pushes them.");
			first = 0;
		}
		target = render_model_target(m);
		render_copy(d->out, NULL, m->path.v, target);
		free(target);
	}
}

/*
 * A framework that brings its own CUDA (pip nvidia-* wheels) on the base
 * flavor: the base still carries libcudart, which the wheels carry too. The
 * final stage removes the base's copy of every library a wheel carries, by
 * name, so no CUDA library is in the image twice (the loader finds the
 * wheels' through torch's RPATH). The base layer keeps those bytes (0.7 MB of
 * cudart, shown as wasted by inspect); the visible tree has one copy.
 */
static void render_unshadow_base_cuda(struct df *d)
{
	const struct plan_cell *c = d->c;
	const char *fw = NULL;

	for (size_t i = 0; i < c->frameworks_nr && !fw; i++)
		if (c->frameworks[i].brings_cuda)
			fw = c->frameworks[i].name;
	if (!fw || strcmp(c->final.flavor, "base") || !d->kb->base_cuda_lib_dirs.nr ||
	    !d->kb->wheel_cuda_lib_dirs.nr)
		return;
	strbuf_addch(d->out, '\n');
	render_commentf(d->out,
			"%s brings its own CUDA libraries: the base's copy of each one a wheel "
			"carries (its libcudart) goes, so none is in the image twice.",
			fw);
	strbuf_addstr(d->out, "RUN set -eu; \\\n    for w in");
	for (size_t i = 0; i < d->kb->wheel_cuda_lib_dirs.nr; i++)
		strbuf_addf(d->out, " " RENDER_VENV "/lib/python*/site-packages/%s/lib*.so*",
			    (const char *)d->kb->wheel_cuda_lib_dirs.items[i]);
	strbuf_addstr(d->out, "; do \\\n"
			      "      [ -f \"$w\" ] || continue; \\\n"
			      "      n=${w##*/}; n=${n%%.so*}; \\\n"
			      "      for dir in");
	render_words(d->out, &d->kb->base_cuda_lib_dirs, 0);
	strbuf_addstr(d->out, "; do \\\n"
			      "        [ -d \"$dir\" ] || continue; \\\n"
			      "        rm -f \"$dir/$n.so\" \"$dir/$n\".so.*; \\\n"
			      "      done; \\\n"
			      "    done; \\\n"
			      "    ldconfig\n");
}

static void render_copy_runtime(struct df *d)
{
	const struct plan_cell *c = d->c;

	if (render_has_python(c)) {
		strbuf_addch(d->out, '\n');
		render_comment(d->out,
			       "The interpreter's packages come whole from the builder: no pip, "
			       "no compiler in this stage.");
		if (render_is_managed(c))
			render_copy(d->out, "builder", c->managed_python_dir,
				    c->managed_python_dir);
		render_comment(d->out, "The venv in one layer, its times SOURCE_DATE_EPOCH: the "
				       "same lock builds the same layer digest.");
		render_copy(d->out, "builder", RENDER_OUT "/", "/");
		render_unshadow_base_cuda(d);
	}
	if (!c->compiles)
		return;
	strbuf_addch(d->out, '\n');
	render_comment(d->out,
		       "The program's library closure and its loader config; ldconfig makes "
		       "the loader see it.");
	render_copy(d->out, "builder", RENDER_CLOSURE "/", "/");
	strbuf_addstr(d->out, "RUN ldconfig\n");
	render_comment(d->out, "app.artifacts: what the build produced, at the same paths.");
	for (size_t i = 0; i < d->r->app.artifacts.nr; i++)
		render_copy(d->out, "builder", d->r->app.artifacts.items[i].v,
			    d->r->app.artifacts.items[i].v);
}

/* A model's env name: GPUSLIM_MODEL_<NAME>, non-alphanumerics as '_'. */
static void render_model_env_name(struct strbuf *out, const char *name)
{
	strbuf_addstr(out, "GPUSLIM_MODEL_");
	for (; *name; name++)
		strbuf_addch(out,
			     isalnum((unsigned char)*name) ? toupper((unsigned char)*name) : '_');
}

/*
 * The final stage's ENV, one pair per key: gpuslim's defaults, the models'
 * paths, then app.env; a key set again (app.env's PYTHONUNBUFFERED=0)
 * takes the earlier one's place, as Docker would take the last. `values`
 * hold the text after '=', already quoted where it must be.
 */
struct render_envs {
	struct vec keys, values;
};

static void render_env_set(struct render_envs *e, const char *key, size_t keylen,
			   struct strbuf *value)
{
	char *k = xstrndup(key, keylen);
	long at = vec_findstr(&e->keys, k);

	if (at < 0) {
		vec_push(&e->keys, k);
		vec_push(&e->values, strbuf_detach(value, NULL));
		return;
	}
	free(k);
	free(e->values.items[at]);
	e->values.items[at] = strbuf_detach(value, NULL);
}

/* A pair whose value is a literal string: quoted. */
static void render_env_quoted(struct render_envs *e, const char *key, size_t keylen,
			      const char *value)
{
	struct strbuf v = STRBUF_INIT;

	render_docker_quote(&v, value);
	render_env_set(e, key, keylen, &v);
}

/* A pair written as is (it expands $PATH, or is a plain word). */
static void render_env_raw(struct render_envs *e, const char *key, const char *value)
{
	struct strbuf v = STRBUF_INIT;

	strbuf_addstr(&v, value);
	render_env_set(e, key, strlen(key), &v);
}

static void render_capabilities(struct render_envs *e, const struct recipe *r)
{
	struct strbuf caps = STRBUF_INIT;

	for (size_t i = 0; i < r->capabilities.nr; i++)
		strbuf_addf(&caps, "%s%s", i ? "," : "", r->capabilities.items[i].v);
	render_env_quoted(e, "NVIDIA_DRIVER_CAPABILITIES", strlen("NVIDIA_DRIVER_CAPABILITIES"),
			  caps.len ? caps.buf : "compute,utility");
	strbuf_release(&caps);
}

static void render_env(struct df *d)
{
	const struct recipe *r = d->r;
	struct render_envs e = {VEC_INIT(free), VEC_INIT(free)};
	struct strbuf name = STRBUF_INIT;

	strbuf_addch(d->out, '\n');
	if (d->c->closure)
		render_comment(d->out,
			       "The driver exposes only the capabilities asked for; scratch "
			       "has no ENV, so what a CUDA base sets is set here.");
	else
		render_comment(d->out, "The driver exposes only the capabilities asked for (the "
				       "base's NVIDIA_REQUIRE_CUDA stays as it is).");
	if (render_has_python(d->c))
		render_comment(d->out, "Python runs from the venv, writes no bytecode (pruned), "
				       "buffers no output.");
	render_env_raw(&e, "NVIDIA_VISIBLE_DEVICES", "all");
	render_capabilities(&e, r);
	if (d->c->closure) {
		/* scratch has no ENV of its own: what a CUDA base sets, and a PATH
		 * that does not end in an empty (current directory) entry */
		if (d->c->require_cuda)
			render_env_quoted(&e, "NVIDIA_REQUIRE_CUDA", strlen("NVIDIA_REQUIRE_CUDA"),
					  d->c->require_cuda);
		if (d->c->cuda.value)
			render_env_raw(&e, "CUDA_VERSION", d->c->cuda.value);
		render_env_raw(&e, "LD_LIBRARY_PATH",
			       "/usr/local/nvidia/lib:/usr/local/nvidia/lib64");
		render_env_raw(
		    &e, "PATH",
		    render_has_python(d->c)
			? RENDER_VENV "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/"
				      "bin:/sbin:/bin"
			: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
		if (r->final.ca_certificates.v)
			render_env_raw(&e, "SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt");
	}
	if (render_has_python(d->c)) {
		if (!d->c->closure)
			render_env_raw(&e, "PATH", RENDER_VENV "/bin:$PATH");
		render_env_raw(&e, "PYTHONDONTWRITEBYTECODE", "1");
		render_env_raw(&e, "PYTHONUNBUFFERED", "1");
	}
	for (size_t i = 0; i < r->models_nr; i++) {
		char *target = render_model_target(&r->models[i]);

		strbuf_reset(&name);
		render_model_env_name(&name, r->models[i].name.v);
		render_env_quoted(&e, name.buf, name.len, target);
		free(target);
	}
	for (size_t i = 0; i < r->app.env.nr; i++) {
		const char *kv = r->app.env.items[i].v, *eq = strchr(kv, '=');

		render_env_quoted(&e, kv, (size_t)(eq - kv), eq + 1);
	}
	strbuf_addstr(d->out, "ENV");
	for (size_t i = 0; i < e.keys.nr; i++)
		strbuf_addf(d->out, "%s%s=%s", i ? " \\\n    " : " ", (const char *)e.keys.items[i],
			    (const char *)e.values.items[i]);
	strbuf_addch(d->out, '\n');
	strbuf_release(&name);
	vec_release(&e.keys);
	vec_release(&e.values);
}

static void render_volumes(struct df *d)
{
	int first = 1;

	for (size_t i = 0; i < d->r->models_nr; i++) {
		char *target;

		if (d->r->models[i].mode != MODEL_VOLUME)
			continue;
		if (first)
			render_comment(d->out,
				       "Volume models are mounted at run time (their paths are in "
				       ".dockerignore); GPUSLIM_MODEL_* says where.");
		first = 0;
		target = render_model_target(&d->r->models[i]);
		strbuf_addstr(d->out, "VOLUME [");
		render_json_word(d->out, target);
		strbuf_addstr(d->out, "]\n");
		free(target);
	}
}

static void render_workdir_user(struct df *d)
{
	const struct rstrlist *ports = &d->r->app.ports;

	strbuf_addstr(d->out, "WORKDIR ");
	render_docker_word(d->out, render_workdir(d->r));
	strbuf_addch(d->out, '\n');
	if (ports->nr) {
		strbuf_addstr(d->out, "EXPOSE");
		for (size_t i = 0; i < ports->nr; i++) {
			strbuf_addch(d->out, ' ');
			render_docker_word(d->out, ports->items[i].v);
		}
		strbuf_addch(d->out, '\n');
	}
	render_comment(d->out, "Never root at run time.");
	strbuf_addstr(d->out, "USER " RENDER_UID ":" RENDER_UID "\n");
}

static void render_app_copy(struct df *d)
{
	const struct rstrlist *copy = &d->r->app.copy;

	if (d->c->compiles || !copy->nr)
		return;
	strbuf_addch(d->out, '\n');
	render_comment(d->out, "App code last: it changes most, so only these layers rebuild; "
			       "owned by root, read-only to the app.");
	for (size_t i = 0; i < copy->nr; i++) {
		char *dst = render_copy_dest(render_workdir(d->r), copy->items[i].v);

		render_copy(d->out, NULL, copy->items[i].v, dst);
		free(dst);
	}
}

static void render_label(struct strbuf *out, const char *key, const char *value)
{
	strbuf_addstr(out, " \\\n      ");
	render_docker_quote(out, key);
	strbuf_addch(out, '=');
	render_docker_quote(out, value);
}

/* "2.4.1+cu124" from "torch==2.4.1+cu124"; the plain version otherwise. */
static const char *render_spec_version(const struct plan_framework *f)
{
	const char *eq = f->pip_spec ? strstr(f->pip_spec, "==") : NULL;

	return eq ? eq + 2 : (f->version ? f->version : "");
}

static void render_labels(struct df *d)
{
	const struct plan_cell *c = d->c;
	struct strbuf key = STRBUF_INIT;

	strbuf_addch(d->out, '\n');
	render_comment(d->out, "Labels last: the recipe's sha changes with every edit and must not "
			       "invalidate the layers above.");
	strbuf_addstr(d->out, "LABEL");
	render_label(d->out, "org.opencontainers.image.title", d->r->name.v ? d->r->name.v : "");
	/* a closure image has no base: every layer is its own */
	if (!c->closure)
		render_label(d->out, "org.opencontainers.image.base.name", c->final.ref);
	if (c->final.digest && !c->closure)
		render_label(d->out, "org.opencontainers.image.base.digest", c->final.digest);
	if (c->closure)
		render_label(d->out, "io.gpuslim.final", "closure");
	/* app.git: the commit the context is; a path of this machine is no source */
	if (d->p->git.url && !gitsrc_url_is_local(d->p->git.url))
		render_label(d->out, "org.opencontainers.image.source", d->p->git.url);
	if (d->p->git.commit)
		render_label(d->out, "org.opencontainers.image.revision", d->p->git.commit);
	render_label(d->out, "io.gpuslim.recipe.sha256", d->r->sha256);
	render_label(d->out, "io.gpuslim.cell", c->id);
	render_label(d->out, "io.gpuslim.cuda", c->cuda.value ? c->cuda.value : "");
	if (c->cudnn.value)
		render_label(d->out, "io.gpuslim.cudnn", c->cudnn.value);
	if (c->python.value)
		render_label(d->out, "io.gpuslim.python", c->python.value);
	for (size_t i = 0; i < c->frameworks_nr; i++) {
		strbuf_reset(&key);
		strbuf_addf(&key, "io.gpuslim.framework.%s", c->frameworks[i].name);
		render_label(d->out, key.buf, render_spec_version(&c->frameworks[i]));
	}
	for (size_t i = 0; i < d->r->labels_nr; i++)
		render_label(d->out, d->r->labels[i].key.v,
			     d->r->labels[i].value.v ? d->r->labels[i].value.v : "");
	strbuf_addch(d->out, '\n');
	strbuf_release(&key);
}

static void render_exec(struct strbuf *out, const char *instr, const struct rstrlist *l)
{
	if (!l->nr)
		return;
	strbuf_addf(out, "%s [", instr);
	for (size_t i = 0; i < l->nr; i++) {
		if (i)
			strbuf_addstr(out, ", ");
		render_json_string(out, l->items[i].v);
	}
	strbuf_addstr(out, "]\n");
}

static void render_final_stage(struct df *d)
{
	if (d->c->closure) {
		strbuf_addch(d->out, '\n');
		render_commentf(d->out, "Final: %s", d->c->final.reason);
		strbuf_addstr(d->out, "FROM scratch AS final\n");
	} else {
		render_from(d, &d->c->final, "final", "Final");
		if (render_is_apt(d->c) && d->c->final_packages.nr) {
			render_comment(d->out, "apt runs unattended.");
			strbuf_addstr(d->out, "ARG DEBIAN_FRONTEND=noninteractive\n");
		}
		render_pkg_install(d, &d->c->final_packages, 1);
	}
	render_models_baked(d);
	if (d->c->closure) {
		strbuf_addch(d->out, '\n');
		render_comment(d->out,
			       "The tree the builder put together, in one layer: no shell, no "
			       "package manager, nothing the closure does not name.");
		render_copy(d->out, "builder", RENDER_OUT "/", "/");
	} else {
		render_copy_runtime(d);
	}
	render_env(d);
	render_volumes(d);
	render_workdir_user(d);
	render_app_copy(d);
	render_labels(d);
	if (d->r->app.entrypoint.nr || d->r->app.cmd.nr) {
		strbuf_addch(d->out, '\n');
		render_comment(d->out, "Exec form: the app is PID 1 and gets the signals.");
		render_exec(d->out, "ENTRYPOINT", &d->r->app.entrypoint);
		render_exec(d->out, "CMD", &d->r->app.cmd);
	}
}

/* ---- the file --------------------------------------------------------- */

static void render_header(struct df *d, const char *version)
{
	const struct plan_cell *c = d->c;
	struct strbuf axes = STRBUF_INIT;

	render_commentf(d->out, "Generated by gpuslim %s from %s (sha256 %s): do not edit.",
			version, render_recipe_name(d->p), d->r->sha256);
	for (size_t i = 0; i < c->axes.nr; i++)
		strbuf_addf(&axes, "%s%s", i ? ", " : "", (const char *)c->axes.items[i]);
	if (axes.len)
		render_commentf(d->out, "Cell %s (%s).", c->id, axes.buf);
	else
		render_commentf(d->out, "Cell %s.", c->id);
	render_commentf(d->out, "CUDA %s on %s%s%s%s%s.", c->cuda.value ? c->cuda.value : "?",
			c->os.value ? c->os.value : "?", c->python.value ? ", Python " : "",
			c->python.value ? c->python.value : "",
			c->python_source.value && c->python.value ? " from " : "",
			c->python_source.value && c->python.value ? c->python_source.value : "");
	render_comment(d->out,
		       "Builds with Docker Engine 20.10's built-in BuildKit (DOCKER_BUILDKIT=1); "
		       "no syntax directive, so no frontend image is pulled.");
	strbuf_release(&axes);
}

int render_dockerfile(const struct plan *p, const struct plan_cell *c, const char *version,
		      struct strbuf *out)
{
	static const struct kb_render none;
	struct df d = {out, p, p->recipe, c, p->kb ? &p->kb->render : &none};
	int ret = render_check_recipe(p->recipe);

	if (!ret)
		ret = render_check_knowledge(d.kb, render_is_managed(c));
	if (ret < 0)
		return ret;
	render_header(&d, version);
	if (render_needs_builder(c))
		render_builder_stage(&d);
	render_final_stage(&d);
	return 0;
}
