#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/gitsrc.h"
#include "core/render.h"
#include "util/fs.h"

/* The renderer's driver, its quoting helpers and the .dockerignore; the
 * Dockerfile is in render_dockerfile.c, the bake file in render_bake.c. */

void render_file_free(void *file)
{
	struct render_file *f = file;

	if (!f)
		return;
	free(f->name);
	free(f->content);
	free(f);
}

static void render_push_file(struct vec *files, const char *name, struct strbuf *content)
{
	struct render_file *f = xcalloc(1, sizeof(*f));

	f->name = xstrdup(name);
	f->content = strbuf_detach(content, &f->len);
	f->same_as = -1;
	vec_push(files, f);
}

void render_shell_quote(struct strbuf *out, const char *s)
{
	strbuf_addch(out, '\'');
	for (; *s; s++)
		if (*s == '\'')
			strbuf_addstr(out, "'\\''");
		else
			strbuf_addch(out, *s);
	strbuf_addch(out, '\'');
}

void render_docker_quote(struct strbuf *out, const char *s)
{
	strbuf_addch(out, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\' || *s == '$')
			strbuf_addch(out, '\\');
		strbuf_addch(out, *s);
	}
	strbuf_addch(out, '"');
}

void render_docker_word(struct strbuf *out, const char *s)
{
	for (; *s; s++) {
		if (strchr("\\$'\" \t", *s))
			strbuf_addch(out, '\\');
		strbuf_addch(out, *s);
	}
}

void render_json_string(struct strbuf *out, const char *s)
{
	strbuf_addch(out, '"');
	for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
		if (*u == '"' || *u == '\\')
			strbuf_addf(out, "\\%c", *u);
		else if (*u == '\n')
			strbuf_addstr(out, "\\n");
		else if (*u == '\t')
			strbuf_addstr(out, "\\t");
		else if (*u < 0x20 || *u == 0x7f)
			strbuf_addf(out, "\\u%04x", *u);
		else
			strbuf_addch(out, *u);
	}
	strbuf_addch(out, '"');
}

void render_hcl_string(struct strbuf *out, const char *s)
{
	strbuf_addch(out, '"');
	for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
		if (*u == '"' || *u == '\\')
			strbuf_addf(out, "\\%c", *u);
		else if (*u == '\n')
			strbuf_addstr(out, "\\n");
		else if (*u == '\r')
			strbuf_addstr(out, "\\r");
		else if (*u == '\t')
			strbuf_addstr(out, "\\t");
		else if (*u < 0x20 || *u == 0x7f)
			strbuf_addf(out, "\\u%04x", *u);
		else if ((*u == '$' || *u == '%') && u[1] == '{')
			/* a template opener: doubled, HCL reads it as the literal text */
			strbuf_addf(out, "%c%c", *u, *u);
		else
			strbuf_addch(out, *u);
	}
	strbuf_addch(out, '"');
}

int render_is_target_name(const char *name)
{
	if (!name || !*name)
		return 0;
	for (; *name; name++)
		if (!(('a' <= *name && *name <= 'z') || ('A' <= *name && *name <= 'Z') ||
		      ('0' <= *name && *name <= '9') || *name == '_' || *name == '-'))
			return 0;
	return 1;
}

const char *render_recipe_name(const struct plan *p)
{
	const char *file = p->recipe->file ? p->recipe->file : "gpuslim.yaml";
	const char *slash = strrchr(file, '/');

	return slash ? slash + 1 : file;
}

char *render_context_abs(const struct plan *p)
{
	const struct recipe *r = p->recipe;
	char *joined, *abs;

	if (p->context) /* app.git's export */
		return fs_abspath(p->context);
	joined = fs_join(r->dir, r->app.path.v ? r->app.path.v : ".");
	abs = fs_abspath(joined);
	free(joined);
	return abs;
}

char *render_context_dir(const struct plan *p)
{
	char *ctx = render_context_abs(p);
	char *rel = fs_relpath(p->recipe->dir, ctx);

	free(ctx);
	return rel;
}

char *render_out_in_context(const struct plan *p, const char *out_dir)
{
	char *ctx = render_context_abs(p);
	char *rel = fs_relpath(ctx, out_dir);

	free(ctx);
	if (!strcmp(rel, "..") || starts_with(rel, "../")) {
		free(rel);
		return NULL;
	}
	return rel;
}

/* The length of the first component of an absolute path ("" for "/"). */
static size_t render_first_component(const char *abs)
{
	return strcspn(abs + 1, "/");
}

char *render_path_from(const char *from, const char *to)
{
	char *a = fs_abspath(from), *b = fs_abspath(to), *ret;
	size_t la = render_first_component(a), lb = render_first_component(b);

	if (!la || la != lb || memcmp(a, b, la + 1))
		ret = xstrdup(b); /* only `/` in common */
	else
		ret = fs_relpath(a, b);
	free(a);
	free(b);
	return ret;
}

/* ---- .dockerignore ---------------------------------------------------- */

/* The user's part of an ignore file gpuslim wrote, between these lines. */
#define RENDER_IGNORE_BEGIN "# >>> the build context's own .dockerignore, as written:"
#define RENDER_IGNORE_END   "# <<< gpuslim's rules follow; they win."
/* Larger than any hand-written ignore file: a cap, not a limit in use. */
#define RENDER_IGNORE_MAX (1 << 20)

/* `path` without empty and "." components, as Docker's filepath.Clean
 * reads it: what starts the line is then what starts the pattern ("./!x"
 * would be the exception "!x"). ".." is refused by the recipe's checks. */
static void render_ignore_clean(struct strbuf *out, const char *path)
{
	while (*path) {
		size_t n = strcspn(path, "/");

		if (n && !(n == 1 && *path == '.'))
			strbuf_addf(out, "%s%.*s", out->len ? "/" : "", (int)n, path);
		path += n + (path[n] == '/');
	}
}

void render_ignore_path(struct strbuf *out, const char *path)
{
	struct strbuf clean = STRBUF_INIT;
	const char *s;
	size_t len, lead = 0, trail;

	render_ignore_clean(&clean, path);
	s = strbuf_cstr(&clean);
	len = clean.len;
	/* Docker trims blanks off each line: keep them as one-character
	 * classes, which nothing trims. */
	while (lead < len && strchr(" \t\v\f", s[lead]))
		lead++;
	trail = len;
	while (trail > lead && strchr(" \t\v\f", s[trail - 1]))
		trail--;
	for (size_t i = 0; i < len; i++) {
		if (i < lead || i >= trail) {
			strbuf_addf(out, "[%c]", s[i]);
			continue;
		}
		/* Line syntax (a comment, an exception) only at the start;
		 * glob and the regexp characters Docker's matcher passes
		 * through anywhere. '.' and '/' stay: Docker escapes '.'. */
		if ((i == 0 && (s[i] == '!' || s[i] == '#')) || strchr("\\*?[]+()|{}^$", s[i]))
			strbuf_addch(out, '\\');
		strbuf_addch(out, s[i]);
	}
	strbuf_release(&clean);
}

/* `rule` as one sorted line of gpuslim's part: a pattern as written, or a
 * context path escaped to match only itself; nothing for the context
 * itself. */
static void render_ignore_add(struct vec *lines, const char *rule, int is_path)
{
	struct strbuf sb = STRBUF_INIT;

	if (is_path)
		render_ignore_path(&sb, rule);
	else
		strbuf_addstr(&sb, rule);
	if (sb.len && vec_findstr(lines, sb.buf) < 0)
		vec_push(lines, strbuf_detach(&sb, NULL));
	strbuf_release(&sb);
}

/* The line at `line` (before `end`): its length without the newline in
 * `*n`, and where the next one starts. */
static const char *render_line(const char *line, const char *end, size_t *n)
{
	const char *nl = memchr(line, '\n', end - line);

	*n = (nl ? nl : end) - line;
	return nl ? nl + 1 : end;
}

static int render_line_is(const char *line, size_t n, const char *want)
{
	return n == strlen(want) && !memcmp(line, want, n);
}

/*
 * Append the user's rules from `text` (the context's .dockerignore): all of
 * it, or of a file gpuslim wrote, what lies between its markers. Lines are
 * kept as written, less a byte-order mark and carriage returns.
 */
static void render_ignore_user(struct strbuf *out, const char *text, size_t len)
{
	const char *end = text + len, *line, *next, *from = text, *to = end;
	size_t n;

	if (starts_with(text, RENDER_MARK)) {
		from = to = NULL;
		for (line = text; line < end; line = next) {
			next = render_line(line, end, &n);
			if (!from && render_line_is(line, n, RENDER_IGNORE_BEGIN))
				from = next;
			else if (from && render_line_is(line, n, RENDER_IGNORE_END))
				to = line; /* the last one: a user line may read the same */
		}
		if (!to)
			return;
	} else if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		from += 3;
	}
	for (line = from; line < to; line = next) {
		next = render_line(line, to, &n);
		while (n && line[n - 1] == '\r')
			n--;
		strbuf_add(out, line, n);
		strbuf_addch(out, '\n');
	}
}

int render_dockerignore(const struct plan *p, const char *out_dir, struct strbuf *out)
{
	const struct recipe *r = p->recipe;
	struct vec lines = VEC_INIT(free);
	struct strbuf user = STRBUF_INIT;
	char *ctx = render_context_abs(p), *path = fs_join(ctx, ".dockerignore");
	char *in_ctx = render_out_in_context(p, out_dir);
	struct stat st;
	int ret = 0;

	/* A FIFO there would block the read: only a regular file is the user's. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		ret = error_setc(GS_EINVAL, "cannot read '%s': not a regular file", path);
		goto done;
	}
	if (fs_exists(path) && fs_read_file(path, &user, RENDER_IGNORE_MAX) < 0) {
		ret = error_setc(GS_EINFRA, "%s", error_last());
		goto done;
	}
	render_ignore_add(&lines, ".git", 0);
	render_ignore_add(&lines, ".gpuslim-cache", 0);
	render_ignore_add(&lines, "**/__pycache__", 0);
	render_ignore_add(&lines, "**/*.pyc", 0);
	if (in_ctx)
		render_ignore_add(&lines, in_ctx, 1);
	if (p->context) /* the mark of an exported git context */
		render_ignore_add(&lines, GITSRC_MARK_FILE, 1);
	for (size_t i = 0; i < r->models_nr; i++)
		if (r->models[i].mode == MODEL_VOLUME && r->models[i].path.v)
			render_ignore_add(&lines, r->models[i].path.v, 1);
	vec_sort(&lines, vec_cmpstr);

	strbuf_addf(out, RENDER_MARK " from %s: do not edit.\n", render_recipe_name(p));
	strbuf_addstr(
	    out, "# BuildKit reads Dockerfile.<cell>.dockerignore instead of the context's\n"
		 "# .dockerignore, so each carries the context's rules first, then gpuslim's.\n");
	strbuf_addstr(out, RENDER_IGNORE_BEGIN "\n");
	render_ignore_user(out, strbuf_cstr(&user), user.len);
	strbuf_addstr(out, RENDER_IGNORE_END "\n");
	strbuf_addstr(out, "# Volume models are mounted at run time, never sent to the builder.\n");
	for (size_t i = 0; i < lines.nr; i++)
		strbuf_addf(out, "%s\n", (const char *)lines.items[i]);
done:
	free(in_ctx);
	free(path);
	free(ctx);
	strbuf_release(&user);
	vec_release(&lines);
	return ret;
}

static int render_cell_file(const struct plan *p, const struct plan_cell *c, const char *version,
			    struct vec *files)
{
	struct strbuf sb = STRBUF_INIT;
	char *name;
	int ret;

	if (!render_is_target_name(c->id))
		return error_setc(GS_EINVAL, "cell '%s': not a bake target name ([a-zA-Z0-9_-]+)",
				  c->id ? c->id : "");
	ret = render_dockerfile(p, c, version, &sb);
	if (ret < 0) {
		strbuf_release(&sb);
		return ret;
	}
	name = xstrfmt("Dockerfile.%s", c->id);
	render_push_file(files, name, &sb);
	free(name);
	return 0;
}

int render_plan(const struct plan *p, const char *out_dir, const char *version, struct vec *files)
{
	struct strbuf sb = STRBUF_INIT;
	size_t first;
	int ret = 0;

	for (size_t i = 0; i < p->cells_nr; i++) {
		ret = render_cell_file(p, &p->cells[i], version, files);
		if (ret < 0)
			goto done;
	}
	ret = render_bake(p, out_dir, version, &sb);
	if (ret < 0)
		goto done;
	render_push_file(files, "docker-bake.hcl", &sb);
	ret = render_dockerignore(p, out_dir, &sb);
	if (ret < 0)
		goto done;
	/*
	 * BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile before
	 * the context's own .dockerignore, so each cell carries a copy: the
	 * build then never needs to write into the user's context.
	 */
	first = files->nr;
	for (size_t i = 0; i < p->cells_nr; i++) {
		struct strbuf copy = STRBUF_INIT;
		char *name = xstrfmt("Dockerfile.%s.dockerignore", p->cells[i].id);

		strbuf_add(&copy, sb.buf, sb.len);
		render_push_file(files, name, &copy);
		free(name);
	}
	render_push_file(files, ".dockerignore", &sb);
	/* the context's own .dockerignore, when -o names the context, is the
	 * user's: its rules are in the copies above */
	((struct render_file *)files->items[files->nr - 1])->optional = 1;
	/* the copies are the same bytes: an empty output directory gets links */
	for (size_t i = first + 1; i < files->nr; i++)
		((struct render_file *)files->items[i])->same_as = (long)first;
done:
	strbuf_release(&sb);
	return ret;
}

/* 1 when `path` already holds exactly `f`: regenerating leaves it alone
 * (no fsync, mtime kept, so make and bake caches see no change). */
static int render_is_unchanged(const char *path, const struct render_file *f)
{
	struct strbuf old = STRBUF_INIT;
	int same = fs_read_file(path, &old, f->len + 1) == 0 && old.len == f->len &&
		   !memcmp(old.buf, f->content, f->len);

	strbuf_release(&old);
	error_clear();
	return same;
}

/* 1 when `path` is there and is not a regular file starting with
 * RENDER_MARK: a file gpuslim did not write. Never blocks (a FIFO). */
static int render_is_foreign(const char *path)
{
	char head[sizeof(RENDER_MARK) - 1];
	struct stat st;
	ssize_t got = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return errno != ENOENT;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		got = read(fd, head, sizeof(head));
	close(fd);
	return got != (ssize_t)sizeof(head) || memcmp(head, RENDER_MARK, sizeof(head));
}

/* Mark the optional files a user's file stands in for; fail on any other
 * such file, before anything is written. */
int render_check_foreign(const struct vec *files, const char *out_dir)
{
	int ret = 0;

	for (size_t i = 0; i < files->nr && !ret; i++) {
		struct render_file *f = files->items[i];
		char *path = fs_join(out_dir, f->name);

		f->skipped = 0;
		if (render_is_foreign(path)) {
			if (f->optional)
				f->skipped = 1;
			else
				ret =
				    error_setc(GS_EINVAL,
					       "cannot write '%s': a file gpuslim did not write is "
					       "there (it does not start with \"" RENDER_MARK
					       "\"); move it, or write elsewhere",
					       path);
		}
		free(path);
	}
	return ret;
}

int render_write(const struct vec *files, const char *out_dir)
{
	struct fs_file *all = xcalloc(files->nr, sizeof(*all));
	struct fs_batch batch;
	int ret = 0;

	for (size_t i = 0; i < files->nr; i++) {
		const struct render_file *f = files->items[i];

		all[i] = (struct fs_file){f->name, f->content, f->len, f->same_as};
	}
	ret = fs_fill_empty_dir(out_dir, all, files->nr);
	free(all);
	if (ret <= 0)
		goto done;
	ret = render_check_foreign(files, out_dir);
	if (ret < 0)
		return ret;
	fs_batch_init(&batch);
	for (size_t i = 0; i < files->nr && !ret; i++) {
		const struct render_file *f = files->items[i];
		char *path = fs_join(out_dir, f->name);

		if (!f->skipped && !render_is_unchanged(path, f))
			ret = fs_batch_add(&batch, path, f->content, f->len);
		free(path);
	}
	if (!ret)
		ret = fs_batch_commit(&batch);
	fs_batch_release(&batch);
done:
	if (ret < 0) /* keep fs's message, as an infrastructure error */
		ret = error_setc(GS_EINFRA, "%s", error_last());
	return ret;
}
