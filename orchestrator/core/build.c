#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/build.h"
#include "core/pyindex.h"
#include "core/render.h"
#include "core/registry.h"
#include "util/utf8.h"
#include "util/fs.h"
#include "util/strbuf.h"

/*
 * The scheduler of `gpuslim build`: every cell is one process job on the
 * executor, so the bound (-j), fail-fast, the abort fd, process groups and
 * reaping are the executor's, and this file only turns cells into argvs and
 * child ends into results. The callbacks run on the coordinating thread,
 * which is also the only thread that touches the struct build.
 */

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *build_status_name(enum build_status s)
{
	switch (s) {
	case BUILD_QUEUED:
		return "queued";
	case BUILD_RUNNING:
		return "building";
	case BUILD_OK:
		return "ok";
	case BUILD_FAILED:
		return "failed";
	case BUILD_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

const char *build_push_status_name(enum build_push_status s)
{
	switch (s) {
	case BUILD_PUSH_NONE:
		return "none";
	case BUILD_PUSH_SKIPPED:
		return "skipped";
	case BUILD_PUSH_QUEUED:
		return "queued";
	case BUILD_PUSH_RUNNING:
		return "pushing";
	case BUILD_PUSH_OK:
		return "pushed";
	case BUILD_PUSH_FAILED:
		return "failed";
	case BUILD_PUSH_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

const char *build_cache_name(enum build_cache c)
{
	switch (c) {
	case BUILD_CACHE_NONE:
		return "none";
	case BUILD_CACHE_INLINE:
		return "inline";
	case BUILD_CACHE_REGISTRY:
		return "registry";
	case BUILD_CACHE_LOCAL:
		return "local";
	}
	return "unknown";
}

static int parse_int(const char **s, int *out)
{
	long v = 0;
	const char *p = *s;

	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p - '0');
		if (v > 1000000)
			return 0;
		p++;
	}
	*out = (int)v;
	*s = p;
	return 1;
}

static void copy_cut(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

int build_parse_progress(const char *line, struct build_progress *out)
{
	const char *p = line, *open, *close, *sep, *end, *q;
	int vertex, step, steps;

	if (*p++ != '#' || !parse_int(&p, &vertex) || *p++ != ' ' || *p != '[')
		return 0;
	open = p + 1;
	close = strchr(open, ']');
	if (!close)
		return 0;
	/* "[builder 3/9]" or "[3/9]": the k/n is the last word inside. */
	for (sep = close; sep > open && sep[-1] != ' '; sep--)
		;
	q = sep;
	if (!parse_int(&q, &step) || *q++ != '/' || !parse_int(&q, &steps) || q != close)
		return 0;
	if (step < 1 || steps < step)
		return 0;
	memset(out, 0, sizeof(*out));
	out->vertex = vertex;
	out->step = step;
	out->steps = steps;
	/* BuildKit pads the stage to align the counts: "[builder  1/10]". */
	for (end = sep; end > open && end[-1] == ' '; end--)
		;
	copy_cut(out->stage, sizeof(out->stage), open, (size_t)(end - open));
	q = close + 1;
	while (*q == ' ')
		q++;
	copy_cut(out->text, sizeof(out->text), q, strlen(q));
	return 1;
}

/*
 * "<repository>:buildcache-<tag>" from "<repository>:<tag>"; none for an
 * image that names no registry host ("local/x"), whose cache would go to
 * Docker Hub.
 */
static char *cache_ref_of(const struct plan_cell *c)
{
	size_t rl = strlen(c->image_ref), tl = strlen(c->tag);

	if (!registry_ref_names_host(c->image_ref))
		return NULL;
	if (rl <= tl + 1 || strcmp(c->image_ref + rl - tl, c->tag) ||
	    c->image_ref[rl - tl - 1] != ':')
		return NULL;
	if (tl + strlen("buildcache-") > 128)
		return NULL;
	return xstrfmt("%.*s:buildcache-%s", (int)(rl - tl - 1), c->image_ref, c->tag);
}

static int choose_cache(struct build *b)
{
	const struct engine *e = b->opts->engine;
	const char *want = b->opts->cache ? b->opts->cache : "registry";

	if (!strcmp(want, "none")) {
		b->cache = BUILD_CACHE_NONE;
	} else if (!strcmp(want, "inline")) {
		b->cache = BUILD_CACHE_INLINE;
	} else if (!strcmp(want, "registry")) {
		b->cache = BUILD_CACHE_REGISTRY;
		if (!(e->caps & ENGINE_CAP_CACHE_TO))
			vec_pushf(
			    &b->notes,
			    "cache 'registry': %s imports <image>:buildcache-<tag> and the "
			    "image's inline cache, and exports inline only (a cache ref needs "
			    "buildx)",
			    engine_backend_name(e->backend));
	} else if (!strcmp(want, "local")) {
		if (e->backend != ENGINE_BUILDX || !b->opts->cache_dir) {
			b->cache = BUILD_CACHE_NONE;
			vec_pushf(&b->notes,
				  "cache 'local' needs buildx (type=local): building without a "
				  "cache on %s",
				  engine_backend_name(e->backend));
		} else {
			b->cache = BUILD_CACHE_LOCAL;
		}
	} else {
		return error_setc(GS_EINVAL,
				  "unknown cache mode '%s': use registry, inline, local or none",
				  want);
	}
	return 0;
}

/* ---- the netrc of pip's package indexes ---- */

static int netrc_word_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '"' || *s == '\\' || *s == '\'' ||
		    *s == '#' || *s == 0x7f)
			return 0;
	return 1;
}

/* Add the credentials of `raw` (a recipe URL) to `sb`, once per host. */
static int netrc_add(struct strbuf *sb, struct vec *hosts, const char *raw)
{
	struct pyindex_credentials cr;
	char *shown;
	int ret = 0;

	if (!raw || !pyindex_url_credentials(raw, &cr))
		return 0;
	shown = pyindex_redact_url(raw);
	if (!netrc_word_ok(cr.host) || !netrc_word_ok(cr.user) ||
	    (*cr.password && !netrc_word_ok(cr.password))) {
		ret = error_setc(GS_EINVAL,
				 "the credentials of index '%s' have white space, quotes or '#', "
				 "which a netrc cannot carry",
				 shown);
		goto done;
	}
	if (vec_findstr(hosts, cr.host) >= 0)
		goto done; /* one machine line per host: the first index's */
	vec_pushstr(hosts, cr.host);
	strbuf_addf(sb, "machine %s login %s", cr.host, cr.user);
	if (*cr.password)
		strbuf_addf(sb, " password %s", cr.password);
	strbuf_addch(sb, '\n');
done:
	free(shown);
	pyindex_credentials_release(&cr);
	return ret;
}

int build_netrc_write(const struct plan *p, char **netrc)
{
	const struct recipe *r = p->recipe;
	struct strbuf sb = STRBUF_INIT;
	struct vec hosts = VEC_INIT(free);
	const char *tmp = getenv("TMPDIR");
	char *dir = NULL, *file = NULL;
	int ret = 0, fd = -1;

	*netrc = NULL;
	for (size_t i = 0; i < p->cells_nr && !ret; i++) {
		const struct plan_cell *c = &p->cells[i];

		for (size_t k = 0; k < c->frameworks_nr && !ret; k++) {
			char *raw = plan_index_credentialed(r, c->frameworks[k].index_url,
							    c->frameworks[k].variant);

			ret = netrc_add(&sb, &hosts, raw);
			free(raw);
		}
	}
	if (!ret)
		ret = netrc_add(&sb, &hosts, r->pip.index_url.v);
	if (ret || !sb.len)
		goto done;
	dir = xstrfmt("%s/gpuslim-netrc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		ret =
		    error_setc(GS_ERR, "cannot create a directory '%s': %s", dir, strerror(errno));
		free(dir);
		dir = NULL;
		goto done;
	}
	file = fs_join(dir, "netrc");
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, sb.buf, sb.len) != (ssize_t)sb.len || close(fd) < 0) {
		ret = error_setc(GS_ERR, "cannot write '%s': %s", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
		unlink(file);
		rmdir(dir);
		goto done;
	}
	*netrc = file;
	file = NULL;
done:
	/* The buffer held passwords. */
	if (sb.buf && sb.alloc)
		memset(sb.buf, 0, sb.alloc);
	strbuf_release(&sb);
	vec_release(&hosts);
	free(file);
	free(dir);
	return ret;
}

void build_netrc_remove(const char *netrc)
{
	char *dir;

	if (!netrc)
		return;
	unlink(netrc);
	dir = fs_dirname(netrc);
	rmdir(dir);
	free(dir);
}

/* The argv and environment of one cell's build on engine `e`. */
static int cell_build_argv(const struct build *b, const struct build_cell *bc,
			   const struct engine *e, struct vec *argv, struct vec *env)
{
	const struct plan_cell *c = bc->cell;
	struct engine_build_opts o;
	struct vec cache_from = VEC_INIT(free), secrets = VEC_INIT(free);
	char *dir = NULL;
	int ret;

	memset(&o, 0, sizeof(o));
	if (b->opts->netrc) {
		vec_pushf(&secrets, "id=%s,src=%s", RENDER_NETRC_SECRET, b->opts->netrc);
		o.secrets = &secrets;
	}
	o.dockerfile = bc->dockerfile;
	o.context = b->opts->context;
	o.tag = c->image_ref;
	o.network = b->opts->network;
	o.no_cache = b->opts->no_cache;
	o.builder = b->opts->builder;
	switch (b->cache) {
	case BUILD_CACHE_REGISTRY:
		if (bc->cache_ref)
			vec_pushstr(&cache_from, bc->cache_ref);
		if (b->opts->engine->caps & ENGINE_CAP_CACHE_TO) {
			o.cache_to = bc->cache_ref;
		} else {
			/* Without a cache ref to export to, the cache travels
			 * inside the pushed image: import that too. */
			vec_pushstr(&cache_from, c->image_ref);
			o.cache_inline = 1;
		}
		break;
	case BUILD_CACHE_INLINE:
		vec_pushstr(&cache_from, c->image_ref);
		o.cache_inline = 1;
		break;
	case BUILD_CACHE_LOCAL:
	case BUILD_CACHE_NONE:
		break;
	}
	o.cache_from = cache_from.nr ? &cache_from : NULL;
	ret = engine_build_argv(e, &o, argv, env);
	if (!ret && bc->push_ref && strcmp(bc->push_ref, c->image_ref) && argv->nr) {
		/* The staging tag too, before the context (the last word). */
		char *context = argv->items[--argv->nr];

		argv->items[argv->nr] = NULL;
		vec_pushstr(argv, "-t");
		vec_pushstr(argv, bc->push_ref);
		vec_push(argv, context);
	}
	if (!ret && b->cache == BUILD_CACHE_LOCAL && argv->nr) {
		/* engine_build_argv knows registry caches only; the local one
		 * goes before the context, the last word. */
		char *context = argv->items[--argv->nr];

		argv->items[argv->nr] = NULL;
		dir = fs_join(b->opts->cache_dir, c->id);
		vec_pushstr(argv, "--cache-from");
		vec_pushf(argv, "type=local,src=%s", dir);
		vec_pushstr(argv, "--cache-to");
		vec_pushf(argv, "type=local,dest=%s,mode=max", dir);
		vec_push(argv, context);
	}
	free(dir);
	vec_release(&cache_from);
	vec_release(&secrets);
	return ret;
}

/* "<repository>:<tag>-<stage>" of "<repository>:<tag>". */
static char *staged_ref_of(const char *image_ref, const char *stage)
{
	/* an image_ref always ends in ":<tag>" (plan.h) */
	return xstrfmt("%s-%s", image_ref, stage);
}

int build_check_stage(const struct plan *p, const char *stage)
{
	size_t n = strlen(stage);

	if (!n ||
	    strspn(stage, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != n)
		return error_setc(GS_EINVAL,
				  "--stage '%s': a tag suffix is letters, digits, '_', '.' and "
				  "'-' only",
				  stage);
	for (size_t i = 0; i < p->cells_nr; i++)
		if (strlen(p->cells[i].tag) + 1 + n > 128)
			return error_setc(GS_EINVAL,
					  "--stage '%s': the staging tag '%s-%s' of cell '%s' is "
					  "longer than a tag may be (128)",
					  stage, p->cells[i].tag, stage, p->cells[i].id);
	return 0;
}

/* The engines of the run: the user's, or the detected one alone. */
static int build_init_engines(struct build *b, const struct build_opts *o)
{
	size_t n = o->engines_nr ? o->engines_nr : 1;
	long sum = 0;

	if (o->engines_nr > BUILD_MAX_ENGINES)
		return error_setc(GS_EINVAL, "%zu engines: at most %d", o->engines_nr,
				  BUILD_MAX_ENGINES);
	b->engines = xcalloc(n, sizeof(*b->engines));
	b->engines_nr = n;
	for (size_t i = 0; i < n; i++) {
		struct build_engine *be = &b->engines[i];

		vec_init(&be->env, free);
		if (!o->engines_nr) {
			be->name = xstrdup(engine_host(o->engine));
			be->jobs = b->jobs;
			be->view = engine_view(o->engine, o->engine->docker_host, NULL);
			continue;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(b->engines[k].name, o->engines[i].name))
				return error_setc(GS_EINVAL, "engine '%s' is named twice",
						  o->engines[i].name);
		be->name = xstrdup(o->engines[i].name);
		be->jobs = o->engines[i].jobs > 0 ? o->engines[i].jobs : 1;
		engine_target_env(be->name, &be->env);
		be->envp = xcalloc(be->env.nr + 1, sizeof(*be->envp));
		for (size_t k = 0; k < be->env.nr; k++)
			be->envp[k] = be->env.items[k];
		be->view = engine_view(o->engine, be->name, be->envp);
		sum += be->jobs;
	}
	if (o->engines_nr)
		b->jobs = o->jobs > 0 && o->jobs < sum ? o->jobs : (int)sum;
	return 0;
}

const struct build_engine *build_cell_engine(const struct build *b, const struct build_cell *bc)
{
	return bc->engine >= 0 && (size_t)bc->engine < b->engines_nr ? &b->engines[bc->engine]
								     : NULL;
}

int build_init(struct build *b, const struct plan *p, const struct build_opts *o)
{
	struct vec argv = VEC_INIT(free), env = VEC_INIT(free);
	int ret = 0;

	memset(b, 0, sizeof(*b));
	vec_init(&b->notes, free);
	b->plan = p;
	b->opts = o;
	b->jobs = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (b->jobs < 1)
		b->jobs = 1;
	if (!o->engine || !o->dockerfile_dir || !o->log_dir || !o->context) {
		ret =
		    error_setc(GS_EINVAL, "a build needs an engine, a Dockerfile directory, a log "
					  "directory and a context");
		goto done;
	}
	ret = build_init_engines(b, o);
	if (ret < 0)
		goto done;
	ret = choose_cache(b);
	if (ret < 0)
		goto done;
	if (o->stage && (ret = build_check_stage(p, o->stage)) < 0)
		goto done;
	b->cells = xcalloc(p->cells_nr ? p->cells_nr : 1, sizeof(*b->cells));
	b->cells_nr = p->cells_nr;
	for (size_t i = 0; i < p->cells_nr; i++) {
		struct build_cell *bc = &b->cells[i];
		char *name = xstrfmt("Dockerfile.%s", p->cells[i].id);
		char *log = xstrfmt("%s.log", p->cells[i].id);
		char *df = fs_join(o->dockerfile_dir, name), *lp = fs_join(o->log_dir, log);

		bc->cell = &p->cells[i];
		bc->engine = -1;
		bc->dockerfile = fs_abspath(df);
		bc->log_path = fs_abspath(lp);
		bc->cache_ref = b->cache == BUILD_CACHE_REGISTRY ? cache_ref_of(bc->cell) : NULL;
		if (b->cache == BUILD_CACHE_REGISTRY &&
		    !registry_ref_names_host(bc->cell->image_ref))
			vec_pushf(&b->notes,
				  "cache 'registry': '%s' names no registry host: no cache ref "
				  "(it would be Docker Hub's), inline cache only",
				  bc->cell->image_ref);
		bc->exit_code = -1;
		bc->size_bytes = -1;
		bc->push = BUILD_PUSH_NONE;
		bc->push_ref = o->stage ? staged_ref_of(bc->cell->image_ref, o->stage)
					: xstrdup(bc->cell->image_ref);
		free(name);
		free(log);
		free(df);
		free(lp);
		/* Refuse here what the engine cannot do, before any build starts. */
		ret = cell_build_argv(b, bc, &b->engines[0].view, &argv, &env);
		vec_release(&argv);
		vec_release(&env);
		if (ret < 0) {
			error_prefix("cell '%s'", bc->cell->id);
			goto done;
		}
	}
done:
	return ret;
}

void build_release(struct build *b)
{
	for (size_t i = 0; i < b->cells_nr; i++) {
		struct build_cell *bc = &b->cells[i];

		free(bc->dockerfile);
		free(bc->log_path);
		free(bc->cache_ref);
		free(bc->error);
		free(bc->hint);
		free(bc->image_id);
		free(bc->digest);
		free(bc->push_ref);
		free(bc->push_error);
		free(bc->retried);
		json_decref(bc->gate);
		json_decref(bc->analysis);
	}
	for (size_t i = 0; i < b->engines_nr; i++) {
		free(b->engines[i].name);
		free(b->engines[i].error);
		free(b->engines[i].envp);
		vec_release(&b->engines[i].env);
	}
	free(b->engines);
	b->engines = NULL;
	b->engines_nr = 0;
	free(b->cells);
	b->cells = NULL;
	b->cells_nr = 0;
	vec_release(&b->notes);
}

size_t build_count_gate_failed(const struct build *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->cells_nr; i++) {
		const char *st = json_string_value(json_object_get(b->cells[i].gate, "status"));

		n += b->cells[i].gate && (!st || strcmp(st, "pass"));
	}
	return n;
}

size_t build_count(const struct build *b, enum build_status s)
{
	size_t n = 0;

	for (size_t i = 0; i < b->cells_nr; i++)
		n += b->cells[i].status == s;
	return n;
}

size_t build_count_push(const struct build *b, enum build_push_status s)
{
	size_t n = 0;

	for (size_t i = 0; i < b->cells_nr; i++)
		n += b->cells[i].push == s;
	return n;
}

static void emit(struct build *b, struct build_cell *bc, enum build_event ev)
{
	if (b->opts->on_event)
		b->opts->on_event(b->opts->ctx, b, (size_t)(bc - b->cells), ev);
}

/* Start a log: truncated, with a header saying what ran, so that a log is
 * readable on its own. `append` keeps what is there (the push after a build). */
static int log_start(const char *path, const char *what, const struct vec *argv, int append)
{
	struct strbuf sb = STRBUF_INIT;
	int fd, ret = 0;

	strbuf_addf(&sb, "# gpuslim %s:", what);
	for (size_t i = 0; i < argv->nr; i++)
		strbuf_addf(&sb, " %s", (const char *)argv->items[i]);
	strbuf_addch(&sb, '\n');
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
	if (fd < 0) {
		ret = error_setc(GS_EINFRA, "cannot write '%s': %s", path, strerror(errno));
		goto done;
	}
	if (write(fd, sb.buf, sb.len) != (ssize_t)sb.len)
		ret = error_setc(GS_EINFRA, "cannot write '%s': %s", path, strerror(errno));
	close(fd);
done:
	strbuf_release(&sb);
	return ret;
}

/* Make `job` (argv set) the `what` phase of cell `bc`: its command heads the
 * cell's log and its output goes there, so that the build and the push of
 * a cell read as one log. */
static int cell_job_start(struct build_cell *bc, const char *what, int append, struct exec_job *job)
{
	int ret = log_start(bc->log_path, what, &job->proc.argv, append);

	if (ret < 0)
		return ret;
	job->proc.output = PROCESS_OUTPUT_FILE;
	job->proc.output_path = bc->log_path;
	job->data = bc;
	return 0;
}

/* Build phase: the executor callbacks. */
struct build_ctx {
	struct build *b;
	size_t next;
};

/* Ask a live engine with more than one engine in the run: a failed build
 * may mean the engine is gone. */
#define BUILD_PING_MS 10000

/* The engine with a free slot, least loaded, that `bc` may go to; -1 when
 * none now. `*any` is 1 when some live engine would take it later. */
static int build_pick_engine(const struct build *b, const struct build_cell *bc, int *any)
{
	int best = -1;

	*any = 0;
	for (size_t i = 0; i < b->engines_nr; i++) {
		const struct build_engine *be = &b->engines[i];

		if (be->dead || (bc->avoid_ & (1ULL << i)))
			continue;
		*any = 1;
		if (be->running >= be->jobs)
			continue;
		/* running/jobs, the smaller wins; ties: the first named */
		if (best < 0 || (long)be->running * b->engines[best].jobs <
				    (long)b->engines[best].running * be->jobs)
			best = (int)i;
	}
	return best;
}

/* The dead engines a cell may not go to, for its error: "engine 'X' died: ...". */
static char *build_no_engine_error(const struct build *b, const struct build_cell *bc)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "no live engine left to build it on");
	if (bc->retried)
		strbuf_addf(&sb, " (%s)", bc->retried);
	for (size_t i = 0; i < b->engines_nr && !bc->retried; i++)
		if (b->engines[i].dead)
			strbuf_addf(&sb, "; engine '%s' died: %s", b->engines[i].name,
				    b->engines[i].error);
	return strbuf_detach(&sb, NULL);
}

static int build_get_next(void *ctx, struct exec_job *job)
{
	struct build_ctx *bx = ctx;
	struct build *b = bx->b;
	struct build_cell *bc = NULL;
	int ret, k = -1, any, running = 0;

	for (size_t i = 0; i < b->cells_nr; i++) {
		struct build_cell *c = &b->cells[i];

		running += c->status == BUILD_RUNNING;
		if (bc || c->status != BUILD_QUEUED)
			continue;
		k = build_pick_engine(b, c, &any);
		if (k >= 0) {
			bc = c;
		} else if (!any) {
			c->status = BUILD_FAILED;
			free(c->error);
			c->error = build_no_engine_error(b, c);
			emit(b, c, BUILD_EV_FINISHED);
		}
	}
	if (!bc)
		return running ? EXEC_NEXT_WAIT : 1;
	ret = cell_build_argv(b, bc, &b->engines[k].view, &job->proc.argv, &job->proc.env);
	if (ret < 0)
		return ret;
	ret = cell_job_start(bc, "build", bc->attempts > 0, job);
	if (ret < 0)
		return ret;
	bc->engine = k;
	bc->attempts++;
	bc->status = BUILD_RUNNING; /* handed out; started() says so */
	b->engines[k].running++;
	return 0;
}

static void build_started(void *ctx, struct exec_job *job)
{
	struct build_ctx *bx = ctx;
	struct build_cell *bc = job->data;

	bc->status = BUILD_RUNNING;
	bc->started_ms = mono_ms();
	bc->progress.step = 0;
	emit(bx->b, bc, BUILD_EV_STARTED);
}

static void build_progress_line(void *ctx, struct exec_job *job, const char *line)
{
	struct build_ctx *bx = ctx;
	struct build_cell *bc = job->data;
	struct build_progress pr;

	if (!build_parse_progress(line, &pr))
		return;
	/* BuildKit repeats a header when it interleaves vertices: a step is
	 * news only once. */
	if (pr.step == bc->progress.step && pr.steps == bc->progress.steps &&
	    !strcmp(pr.stage, bc->progress.stage))
		return;
	bc->progress = pr;
	emit(bx->b, bc, BUILD_EV_PROGRESS);
}

static void record_end(const struct exec_result *res, int *exit_code, int *sig, char **error)
{
	*exit_code = res->proc.exited ? res->proc.exit_code : -1;
	*sig = res->proc.signaled ? res->proc.signal : 0;
	free(*error);
	*error = res->status == EXEC_OK ? NULL : xstrdup(*res->error ? res->error : "failed");
}

/* A line of the log without BuildKit's "#N 1.234 " prefix. */
static const char *pip_log_text(const char *line)
{
	const char *p = line;

	if (*p != '#')
		return line;
	for (p++; isdigit((unsigned char)*p); p++)
		;
	if (*p++ != ' ')
		return line;
	if (!isdigit((unsigned char)*p))
		return p;
	while (isdigit((unsigned char)*p) || *p == '.')
		p++;
	return *p == ' ' ? p + 1 : line;
}

/* The project name of "name==version ..." (a requirement pip printed). */
static char *pip_req_name(const char *req, size_t len)
{
	size_t n = 0;

	while (n < len && (isalnum((unsigned char)req[n]) || strchr("-_.", req[n])))
		n++;
	return xstrndup(req, n);
}

int build_pip_hint(const char *log, struct strbuf *out)
{
	const char *line = log, *nl, *t, *mark;
	char *name;
	size_t len;

	for (; *line; line = nl ? nl + 1 : line + strlen(line)) {
		nl = strchr(line, '\n');
		len = nl ? (size_t)(nl - line) : strlen(line);
		t = pip_log_text(line);
		while (t < line + len && *t == ' ')
			t++;
		len -= (size_t)(t - line);
		mark = "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES";
		if (len >= strlen(mark) && !strncmp(t, mark, strlen(mark))) {
			/* the next line: "    name==version from URL#sha256=...:" */
			const char *req, *from, *end;

			if (!nl)
				return 0;
			line = nl + 1;
			nl = strchr(line, '\n');
			req = pip_log_text(line);
			end = nl ? nl : req + strlen(req);
			while (req < end && *req == ' ')
				req++;
			from = memmem(req, (size_t)(end - req), " from ", 6);
			if (!from)
				from = end;
			name = pip_req_name(req, (size_t)(from - req));
			strbuf_addf(
			    out,
			    "pip: '%.*s' does not match the sha256 the lock pins: the index "
			    "serves another file under that name; check the wheel on the index, "
			    "or pin what it serves now with 'gpuslim lock --update %s'",
			    (int)(from - req), req, name);
			free(name);
			return 1;
		}
		mark = "ERROR: No matching distribution found for ";
		if (len > strlen(mark) && !strncmp(t, mark, strlen(mark))) {
			const char *req = t + strlen(mark);
			size_t rlen = len - strlen(mark);

			name = pip_req_name(req, rlen);
			strbuf_addf(
			    out,
			    "pip: no file for '%.*s' on the index: a wheel the lock pins is "
			    "gone; pin what the index has with 'gpuslim lock --update %s'",
			    (int)rlen, req, name);
			free(name);
			return 1;
		}
		mark = "ERROR: HTTP error 404 while getting ";
		if (len > strlen(mark) && !strncmp(t, mark, strlen(mark))) {
			const char *url = t + strlen(mark);
			size_t ulen = strcspn(url, " \n");

			strbuf_addf(
			    out,
			    "pip: '%.*s' is gone from the index (404): a wheel the lock pins "
			    "vanished; pin what the index has with 'gpuslim lock --update'",
			    (int)ulen, url);
			return 1;
		}
	}
	return 0;
}

/* A failed cell's hint: pip's reason, when its log has one (read from the
 * end of the log, where the failing step is). */
static void build_add_pip_hint(struct build_cell *bc)
{
	struct strbuf log = STRBUF_INIT, hint = STRBUF_INIT;
	int fd = open(bc->log_path, O_RDONLY | O_CLOEXEC);
	off_t size;

	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)(1 << 20))
		lseek(fd, size - (off_t)(1 << 20), SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	free(bc->hint);
	bc->hint = NULL;
	if (fs_read_fd(fd, bc->log_path, &log, 0) == 0 && build_pip_hint(strbuf_cstr(&log), &hint))
		bc->hint = strbuf_detach(&hint, NULL);
	close(fd);
	strbuf_release(&log);
	strbuf_release(&hint);
}

/* A live engine other than `k` that `bc` may still go to. */
static int build_other_engine(const struct build *b, const struct build_cell *bc, int k)
{
	for (size_t i = 0; i < b->engines_nr; i++)
		if ((int)i != k && !b->engines[i].dead && !(bc->avoid_ & (1ULL << i)))
			return 1;
	return 0;
}

/* Put a cell whose engine died back in the queue, for another engine. */
static void build_retry(struct build *b, struct build_cell *bc, const char *why)
{
	bc->avoid_ |= 1ULL << bc->engine;
	free(bc->retried);
	bc->retried = xstrdup(why);
	free(bc->error);
	bc->error = NULL;
	free(bc->image_id);
	bc->image_id = NULL;
	bc->size_bytes = -1;
	bc->exit_code = -1;
	bc->signal = 0;
	bc->status = BUILD_QUEUED;
	emit(b, bc, BUILD_EV_RETRY);
}

/*
 * Engine `k` stopped answering: nothing more goes there, and the cells it
 * built are out of reach (their images live in it): with retry_elsewhere
 * they are built again elsewhere, else they fail naming the engine.
 */
static void build_engine_died(struct build *b, int k, const char *why)
{
	struct build_engine *be = &b->engines[k];

	be->dead = 1;
	be->error = xstrdup(why);
	for (size_t i = 0; i < b->cells_nr; i++) {
		struct build_cell *bc = &b->cells[i];
		char *msg;

		if (bc->engine != k || bc->status != BUILD_OK)
			continue;
		msg = xstrfmt("engine '%s' died after building it: %s", be->name, why);
		if (b->opts->retry_elsewhere && build_other_engine(b, bc, k)) {
			build_retry(b, bc, msg);
		} else {
			bc->status = BUILD_FAILED;
			free(bc->error);
			bc->error = msg;
			msg = NULL;
			emit(b, bc, BUILD_EV_FINISHED);
		}
		free(msg);
	}
}

static int build_finished(void *ctx, struct exec_job *job, const struct exec_result *res)
{
	struct build_ctx *bx = ctx;
	struct build *b = bx->b;
	struct build_cell *bc = job->data;
	struct build_engine *be = &b->engines[bc->engine];
	const struct engine *e = &be->view;

	be->running--;
	bc->elapsed_ms = res->elapsed_ms;
	record_end(res, &bc->exit_code, &bc->signal, &bc->error);
	bc->status = res->status == EXEC_OK	  ? BUILD_OK
		     : res->status == EXEC_FAILED ? BUILD_FAILED
						  : BUILD_CANCELLED;
	if (bc->status == BUILD_FAILED && b->opts->engines_nr) {
		if (!be->dead && engine_ping(e, BUILD_PING_MS) < 0)
			build_engine_died(b, bc->engine, error_last());
		if (be->dead) {
			char *msg =
			    xstrfmt("engine '%s' died during the build: %s", be->name, be->error);

			if (b->opts->retry_elsewhere && build_other_engine(b, bc, bc->engine)) {
				build_retry(b, bc, msg);
				free(msg);
				return 0;
			}
			free(bc->error);
			bc->error = msg;
		}
	}
	if (bc->status == BUILD_OK) {
		/* What was built, for the summary and the report. A failed
		 * inspection leaves them unknown: the build itself succeeded. */
		if (engine_image_id(e, bc->cell->image_ref, &bc->image_id) < 0)
			bc->image_id = NULL;
		if (engine_image_size(e, bc->cell->image_ref, &bc->size_bytes) < 0)
			bc->size_bytes = -1;
	}
	if (bc->status == BUILD_FAILED && !be->dead)
		build_add_pip_hint(bc);
	emit(bx->b, bc, BUILD_EV_FINISHED);
	/* fail-fast is ours, not the executor's: a retried cell is no failure. */
	return bc->status == BUILD_FAILED && b->opts->fail_fast;
}

static void build_tick(void *ctx)
{
	struct build_ctx *bx = ctx;

	bx->b->opts->on_tick(bx->b->opts->ctx, bx->b);
}

/* Cells the run never started: cancelled, and said so. */
static void cancel_unstarted(struct build *b, const char *why)
{
	for (size_t i = 0; i < b->cells_nr; i++) {
		struct build_cell *bc = &b->cells[i];

		if (bc->status != BUILD_QUEUED && bc->status != BUILD_RUNNING)
			continue;
		bc->status = BUILD_CANCELLED;
		free(bc->error);
		bc->error = xstrfmt("not started: %s", why);
		emit(b, bc, BUILD_EV_FINISHED);
	}
}

int build_run(struct build *b)
{
	struct exec_opts eo = EXEC_OPTS_INIT;
	struct build_ctx bx = {b, 0};
	long long t0 = mono_ms();
	size_t failed, cancelled;
	int ret;

	if (fs_mkdir_p(b->opts->log_dir, 0755) < 0)
		return GS_EINFRA; /* error_last() names the directory */
	eo.jobs = b->jobs;
	eo.fail_fast = 0; /* build_finished() stops the run */
	eo.abort_fd = b->opts->abort_fd;
	eo.grace_ms = b->opts->grace_ms;
	eo.get_next = build_get_next;
	eo.started = build_started;
	eo.progress = build_progress_line;
	if (b->opts->on_tick && b->opts->tick_ms > 0) {
		eo.tick = build_tick;
		eo.tick_ms = b->opts->tick_ms;
	}
	eo.finished = build_finished;
	eo.ctx = &bx;
	ret = executor_run(&eo);
	b->elapsed_ms = mono_ms() - t0;
	/* A cell failed by build_finished() of another (its engine died)
	 * stops a fail-fast run the same way. */
	if (ret == 0 && build_count(b, BUILD_FAILED))
		ret = EXEC_EJOBS;
	if (ret == EXEC_EINTERRUPTED) {
		b->interrupted = 1;
		cancel_unstarted(b, "interrupted");
	} else {
		cancel_unstarted(b, ret == EXEC_EJOBS ? "an earlier cell failed (fail-fast)"
						      : "the run stopped");
	}
	failed = build_count(b, BUILD_FAILED);
	cancelled = build_count(b, BUILD_CANCELLED);
	if (ret == EXEC_EINTERRUPTED)
		return error_setc(BUILD_EINTERRUPTED, "interrupted: %zu of %zu cells cancelled",
				  cancelled, b->cells_nr);
	if (ret < 0 && ret != EXEC_EJOBS)
		return ret; /* get_next or the executor failed; error_last() says why */
	if (failed || cancelled)
		return error_setc(BUILD_EFAILED, "%zu of %zu cells failed, %zu cancelled", failed,
				  b->cells_nr, cancelled);
	return 0;
}

/* Push phase. */
static int push_get_next(void *ctx, struct exec_job *job)
{
	struct build_ctx *bx = ctx;
	struct build *b = bx->b;
	struct build_cell *bc;
	int ret;

	if (bx->next >= b->cells_nr)
		return 1;
	bc = &b->cells[bx->next++];
	ret = engine_push_argv(&b->engines[bc->engine].view, bc->push_ref, &job->proc.argv,
			       &job->proc.env);
	if (ret < 0)
		return ret;
	return cell_job_start(bc, "push", 1, job);
}

static void push_started(void *ctx, struct exec_job *job)
{
	struct build_ctx *bx = ctx;
	struct build_cell *bc = job->data;

	bc->push = BUILD_PUSH_RUNNING;
	bc->started_ms = mono_ms();
	emit(bx->b, bc, BUILD_EV_PUSH_STARTED);
}

/* `docker push` ends with "<tag>: digest: sha256:<hex> size: <n>". */
static void push_progress_line(void *ctx, struct exec_job *job, const char *line)
{
	struct build_cell *bc = job->data;
	const char *d = strstr(line, "digest: sha256:");
	size_t n;

	if (!d)
		return;
	d += strlen("digest: ");
	n = strspn(d + 7, "0123456789abcdef");
	if (n != 64)
		return;
	free(bc->digest);
	bc->digest = xstrndup(d, 7 + n);
}

static int push_finished(void *ctx, struct exec_job *job, const struct exec_result *res)
{
	struct build_ctx *bx = ctx;
	struct build_cell *bc = job->data;
	int code, sig;
	char *at;

	bc->push_ms = res->elapsed_ms;
	record_end(res, &code, &sig, &bc->push_error);
	bc->push = res->status == EXEC_OK	? BUILD_PUSH_OK
		   : res->status == EXEC_FAILED ? BUILD_PUSH_FAILED
						: BUILD_PUSH_CANCELLED;
	if (bc->push == BUILD_PUSH_OK && !bc->digest &&
	    engine_repo_digest(&bx->b->engines[bc->engine].view, bc->push_ref, &at) == 0) {
		char *sha = strchr(at, '@');

		bc->digest = xstrdup(sha ? sha + 1 : at);
		free(at);
	}
	emit(bx->b, bc, BUILD_EV_PUSH_FINISHED);
	return 0;
}

int build_push(struct build *b)
{
	struct exec_opts eo = EXEC_OPTS_INIT;
	struct build_ctx bx = {b, 0};
	size_t built = build_count(b, BUILD_OK);
	const char *first_failed = NULL;
	int ret;

	if (built != b->cells_nr) {
		for (size_t i = 0; i < b->cells_nr; i++)
			b->cells[i].push = BUILD_PUSH_SKIPPED;
		return error_setc(GS_EINVAL,
				  "not pushing: %zu of %zu cells did not build (all or "
				  "nothing)",
				  b->cells_nr - built, b->cells_nr);
	}
	if (build_count_gate_failed(b)) {
		size_t n = build_count_gate_failed(b);

		for (size_t i = 0; i < b->cells_nr; i++)
			b->cells[i].push = BUILD_PUSH_SKIPPED;
		return error_setc(GS_EINVAL,
				  "not pushing: %zu of %zu cells failed their gates (all or "
				  "nothing)",
				  n, b->cells_nr);
	}
	/* Each image is pushed from the engine that holds it: every such
	 * engine must still answer, or nothing is pushed. */
	for (size_t i = 0; i < b->engines_nr && b->opts->engines_nr; i++) {
		int holds = 0;

		for (size_t k = 0; k < b->cells_nr; k++)
			holds |= b->cells[k].engine == (int)i;
		if (!holds || engine_ping(&b->engines[i].view, BUILD_PING_MS) == 0)
			continue;
		for (size_t k = 0; k < b->cells_nr; k++)
			b->cells[k].push = BUILD_PUSH_SKIPPED;
		return error_setc(BUILD_EFAILED,
				  "not pushing: engine '%s', which holds built images, "
				  "stopped answering (%s) (all or nothing)",
				  b->engines[i].name, error_last());
	}
	for (size_t i = 0; i < b->cells_nr; i++)
		b->cells[i].push = BUILD_PUSH_QUEUED;
	eo.jobs = b->opts->push_jobs > 0 ? b->opts->push_jobs : b->jobs;
	eo.fail_fast = 1;
	eo.abort_fd = b->opts->abort_fd;
	eo.grace_ms = b->opts->grace_ms;
	eo.get_next = push_get_next;
	eo.started = push_started;
	eo.progress = push_progress_line;
	if (b->opts->on_tick && b->opts->tick_ms > 0) {
		eo.tick = build_tick;
		eo.tick_ms = b->opts->tick_ms;
	}
	eo.finished = push_finished;
	eo.ctx = &bx;
	ret = executor_run(&eo);
	for (size_t i = 0; i < b->cells_nr; i++) {
		struct build_cell *bc = &b->cells[i];

		if (bc->push == BUILD_PUSH_QUEUED) {
			bc->push = BUILD_PUSH_CANCELLED;
			emit(b, bc, BUILD_EV_PUSH_FINISHED);
		}
		if (bc->push == BUILD_PUSH_FAILED && !first_failed)
			first_failed = bc->push_ref;
	}
	if (ret == EXEC_EINTERRUPTED) {
		b->interrupted = 1;
		return error_setc(BUILD_EINTERRUPTED, "interrupted: %zu of %zu pushes done",
				  build_count_push(b, BUILD_PUSH_OK), b->cells_nr);
	}
	if (ret < 0 && ret != EXEC_EJOBS)
		return ret;
	if (ret == EXEC_EJOBS) {
		if (first_failed)
			return error_setc(BUILD_EFAILED, "cannot push '%s'", first_failed);
		return error_setc(BUILD_EFAILED, "%zu of %zu pushes cancelled",
				  build_count_push(b, BUILD_PUSH_CANCELLED), b->cells_nr);
	}
	return 0;
}

/* Strings that may come from a child or a file name: escaped, never refused
 * (utf8.h). */
static json_t *str_or_null(const char *s)
{
	return s ? utf8_json_string(s) : json_null();
}

/* json_object_set_new() whose failure is remembered in `*bad`, not dropped. */
static void bj_set(json_t *o, const char *key, json_t *v, int *bad)
{
	if (!o || !v || json_object_set_new(o, key, v) < 0)
		*bad = 1;
}

json_t *build_to_json(const struct build *b)
{
	json_t *root = json_object(), *cells = json_array();
	const struct engine *e = b->opts->engine;
	size_t ok = build_count(b, BUILD_OK);
	int bad = 0;

	bj_set(root, "recipe", str_or_null(b->plan->recipe->file), &bad);
	bj_set(root, "recipe_sha256", json_string(b->plan->recipe->sha256), &bad);
	{
		json_t *all = json_array();

		if (b->opts->matrix_cells)
			for (size_t i = 0; i < b->opts->matrix_cells->nr; i++)
				json_array_append_new(all,
						      str_or_null(b->opts->matrix_cells->items[i]));
		else
			for (size_t i = 0; i < b->plan->cells_nr; i++)
				json_array_append_new(all, str_or_null(b->plan->cells[i].id));
		bj_set(root, "matrix_cells", all, &bad);
	}
	bj_set(root, "backend", json_string(engine_backend_name(e->backend)), &bad);
	bj_set(root, "docker", str_or_null(e->docker), &bad);
	bj_set(root, "cache", json_string(build_cache_name(b->cache)), &bad);
	bj_set(root, "jobs", json_integer(b->jobs), &bad);
	bj_set(root, "elapsed_ms", json_integer(b->elapsed_ms), &bad);
	bj_set(root, "interrupted", json_boolean(b->interrupted), &bad);
	bj_set(root, "status",
	       json_string(b->interrupted				      ? "interrupted"
			   : ok == b->cells_nr && !build_count_gate_failed(b) ? "ok"
									      : "failed"),
	       &bad);
	{
		json_t *engines = json_array();

		for (size_t i = 0; i < b->engines_nr; i++) {
			const struct build_engine *be = &b->engines[i];
			json_t *o = json_object();

			bj_set(o, "name", str_or_null(be->name), &bad);
			bj_set(o, "jobs", json_integer(be->jobs), &bad);
			bj_set(o, "status", json_string(be->dead ? "dead" : "ok"), &bad);
			bj_set(o, "error", str_or_null(be->error), &bad);
			if (!o || json_array_append_new(engines, o) < 0)
				bad = 1;
		}
		bj_set(root, "engines", engines, &bad);
	}
	for (size_t i = 0; i < b->cells_nr; i++) {
		const struct build_cell *bc = &b->cells[i];
		json_t *c = json_object(), *push = json_object();

		bj_set(c, "id", str_or_null(bc->cell->id), &bad);
		bj_set(c, "image", str_or_null(bc->cell->image_ref), &bad);
		bj_set(
		    c, "engine",
		    str_or_null(build_cell_engine(b, bc) ? build_cell_engine(b, bc)->name : NULL),
		    &bad);
		bj_set(c, "attempts", json_integer(bc->attempts), &bad);
		bj_set(c, "retried", str_or_null(bc->retried), &bad);
		bj_set(c, "status", json_string(build_status_name(bc->status)), &bad);
		bj_set(c, "exit_code",
		       bc->exit_code >= 0 ? json_integer(bc->exit_code) : json_null(), &bad);
		bj_set(c, "signal", bc->signal ? json_integer(bc->signal) : json_null(), &bad);
		bj_set(c, "elapsed_ms", json_integer(bc->elapsed_ms), &bad);
		bj_set(c, "log", str_or_null(bc->log_path), &bad);
		bj_set(c, "dockerfile", str_or_null(bc->dockerfile), &bad);
		bj_set(c, "image_id", str_or_null(bc->image_id), &bad);
		bj_set(c, "size_bytes",
		       bc->size_bytes >= 0 ? json_integer(bc->size_bytes) : json_null(), &bad);
		bj_set(c, "error", str_or_null(bc->error), &bad);
		bj_set(push, "status", json_string(build_push_status_name(bc->push)), &bad);
		bj_set(push, "ref",
		       bc->push == BUILD_PUSH_NONE ? json_null() : str_or_null(bc->push_ref), &bad);
		bj_set(push, "digest", str_or_null(bc->digest), &bad);
		bj_set(push, "error", str_or_null(bc->push_error), &bad);
		bj_set(push, "elapsed_ms", json_integer(bc->push_ms), &bad);
		bj_set(c, "push", push, &bad);
		bj_set(c, "gate", bc->gate ? json_incref(bc->gate) : json_null(), &bad);
		bj_set(c, "analysis", bc->analysis ? json_incref(bc->analysis) : json_null(), &bad);
		if (!c || !push || json_array_append_new(cells, c) < 0)
			bad = 1;
	}
	bj_set(root, "cells", cells, &bad);
	if (bad) {
		json_decref(root);
		error_set("cannot build the build report's JSON: out of memory");
		return NULL;
	}
	return root;
}

int build_write_report(const struct build *b, const char *path)
{
	json_t *j = build_to_json(b);
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	struct strbuf sb = STRBUF_INIT;
	int ret = 0;

	if (!j)
		return -1;
	json_decref(j);
	if (!text)
		return error_set("cannot encode the build report");
	strbuf_addstr(&sb, text);
	strbuf_addch(&sb, '\n');
	free(text);
	if (fs_write_output(path, sb.buf, sb.len, 0) < 0)
		ret = GS_EINFRA; /* error_last() names the file */
	strbuf_release(&sb);
	return ret;
}

/* The `top` biggest of `arr` by `key`, in their order in `arr`: report.c's
 * pick of the biggest (ties to the earlier) finds the same entries in it. */
static json_t *biggest_kept_in_order(const json_t *arr, const char *key, size_t top)
{
	size_t n = json_array_size(arr), *idx, taken = 0;
	char *keep;
	json_t *out = json_array();

	if (!json_is_array(arr))
		return out;
	idx = xcalloc(top ? top : 1, sizeof(*idx));
	keep = xcalloc(n ? n : 1, 1);
	for (size_t i = 0; i < n; i++) {
		json_int_t v = json_integer_value(json_object_get(json_array_get(arr, i), key));
		size_t at = taken;

		while (at > 0 && json_integer_value(
				     json_object_get(json_array_get(arr, idx[at - 1]), key)) < v)
			at--;
		if (at >= top)
			continue;
		if (taken < top)
			taken++;
		memmove(idx + at + 1, idx + at, (taken - 1 - at) * sizeof(*idx));
		idx[at] = i;
	}
	for (size_t i = 0; i < taken; i++)
		keep[idx[i]] = 1;
	for (size_t i = 0; i < n; i++)
		if (keep[i])
			json_array_append(out, json_array_get(arr, i));
	free(idx);
	free(keep);
	return out;
}

json_t *build_report_analysis(const json_t *report, size_t top)
{
	const json_t *closure = json_object_get(report, "closure");
	const json_t *missing = json_object_get(closure, "missing");
	json_t *m = json_array(), *summary = json_object_get(report, "summary");
	json_t *driver = json_object_get(closure, "driver_in_image");

	for (size_t i = 0; i < json_array_size(missing) && i < top; i++)
		json_array_append(m, json_array_get(missing, i));
	return json_pack(
	    "{s:O,s:o,s:o,s:o,s:{s:o},s:{s:o,s:o}}", "summary", summary ? summary : json_null(),
	    "layers", biggest_kept_in_order(json_object_get(report, "layers"), "size", top),
	    "packages", biggest_kept_in_order(json_object_get(report, "packages"), "bytes", top),
	    "wasted", biggest_kept_in_order(json_object_get(report, "wasted"), "bytes", top),
	    "cuda", "duplicates",
	    biggest_kept_in_order(json_object_get(json_object_get(report, "cuda"), "duplicates"),
				  "bytes", top),
	    "closure", "missing", m, "driver_in_image",
	    driver ? json_incref(driver) : json_array());
}
