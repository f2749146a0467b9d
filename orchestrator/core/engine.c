#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/engine.h"
#include "util/process.h"

/* Inspect and rmi talk to a busy engine that may be unpacking layers. */
#define ENGINE_CMD_TIMEOUT_MS 60000

static const char *const engine_default_host = "unix:///var/run/docker.sock";

const char *engine_backend_name(enum engine_backend b)
{
	return b == ENGINE_BUILDX ? "buildx" : "buildkit";
}

/*
 * Run `docker ARGS...` with `envs` ("K=V", NULL-terminated, may be NULL),
 * output captured into `out`. Returns 0 when the client ran (see `res`),
 * negative when it could not start. The client leads its own group so that
 * a timeout also takes whatever it started (a fake client's sleep, a stuck
 * credential helper).
 */
static int engine_run_env(const char *docker, const char *const *args, const char *const *target,
			  const char *const *envs, int timeout_ms, struct strbuf *out,
			  struct process_result *res)
{
	struct process p;
	int ret = 0;

	process_init(&p);
	vec_pushstr(&p.argv, docker);
	for (size_t i = 0; args[i]; i++)
		vec_pushstr(&p.argv, args[i]);
	for (size_t i = 0; target && target[i]; i++)
		vec_pushstr(&p.env, target[i]);
	for (size_t i = 0; envs && envs[i]; i++)
		vec_pushstr(&p.env, envs[i]);
	p.stdin_null = 1;
	p.new_pgroup = 1;
	p.output = PROCESS_OUTPUT_CAPTURE;
	p.output_cap = 1u << 20;
	p.kill_grace_ms = 500;
	ret = process_run(&p, timeout_ms, res);
	if (ret < 0)
		goto done;
	strbuf_reset(out);
	strbuf_add(out, p.out.buf, p.out.len);
done:
	process_release(&p);
	return ret;
}

static int engine_ok(const struct process_result *res)
{
	return res->exited && res->exit_code == 0;
}

/* The first line of a client's output, for error messages. */
static char *engine_first_line(const struct strbuf *out)
{
	const char *s = out->buf;
	size_t n;

	while (*s == ' ' || *s == '\n' || *s == '\t')
		s++;
	n = strcspn(s, "\n");
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\r'))
		n--;
	return n ? xstrndup(s, n) : xstrdup("no output");
}

/* "Docker version 20.10.24+dfsg1, build 297e128" -> "20.10.24+dfsg1". */
static char *engine_parse_client_version(const char *s)
{
	const char *v = strstr(s, "version ");
	size_t n;

	if (!v)
		return NULL;
	v += strlen("version ");
	n = strcspn(v, ", \n");
	return n ? xstrndup(v, n) : NULL;
}

/* Compare "MAJOR.MINOR..." with major.minor; -2 when unparsable. */
static int engine_version_cmp(const char *v, long major, long minor)
{
	char *end;
	long a, b = 0;

	if (!v)
		return -2;
	a = strtol(v, &end, 10);
	if (end == v)
		return -2;
	if (*end == '.')
		b = strtol(end + 1, NULL, 10);
	if (a != major)
		return a < major ? -1 : 1;
	return b < minor ? -1 : b > minor;
}

static int engine_run(const char *docker, const char *const *args, const char *const *envs,
		      int timeout_ms, struct strbuf *out, struct process_result *res)
{
	return engine_run_env(docker, args, NULL, envs, timeout_ms, out, res);
}

/* Every distinct executable `docker` on PATH, in PATH order (a file reached
 * through two PATH entries, such as /bin and /usr/bin, counts once). */
static void engine_path_candidates(struct vec *out)
{
	const char *path = getenv("PATH");
	struct vec seen = VEC_INIT(free);

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (1) {
		size_t n = strcspn(path, ":");
		char *file = n ? xstrfmt("%.*s/docker", (int)n, path) : xstrdup("./docker");
		char real[PATH_MAX];

		if (!access(file, X_OK) && realpath(file, real) && vec_findstr(&seen, real) < 0) {
			vec_pushstr(&seen, real);
			vec_push(out, file);
		} else {
			free(file);
		}
		if (!path[n])
			break;
		path += n + 1;
	}
	vec_release(&seen);
}

/*
 * Decide what one candidate offers. Returns 1 when it fits (e's client
 * fields filled), 0 when it is passed over (a note is added), negative on a
 * system error.
 */
static int engine_probe(struct engine *e, const char *docker, const char *want)
{
	static const char *const a_version[] = {"--version", NULL};
	static const char *const a_buildx[] = {"buildx", "version", NULL};
	static const char *const a_build_help[] = {"build", "--help", NULL};
	static const char *const env_buildkit[] = {"DOCKER_BUILDKIT=1", NULL};
	struct strbuf out = STRBUF_INIT;
	struct process_result res;
	char *client = NULL, *buildx = NULL, *line = NULL;
	int ret = 0;

	if (engine_run(docker, a_version, NULL, e->timeout_ms, &out, &res) < 0) {
		vec_pushf(&e->notes, "'%s': %s", docker, error_last());
		goto done;
	}
	if (!engine_ok(&res) || !(client = engine_parse_client_version(out.buf))) {
		line = engine_first_line(&out);
		vec_pushf(&e->notes,
			  "'%s': does not look like a docker client ('--version' said '%s')",
			  docker, line);
		goto done;
	}

	if (engine_run(docker, a_buildx, NULL, e->timeout_ms, &out, &res) == 0 && engine_ok(&res)) {
		strbuf_rtrim(&out);
		buildx = xstrdup(out.buf);
	}
	if (buildx && (!want || !strcmp(want, "buildx"))) {
		e->backend = ENGINE_BUILDX;
		e->caps = ENGINE_CAP_CACHE_TO | ENGINE_CAP_COMPRESSION | ENGINE_CAP_PUSH;
		ret = 1;
		goto found;
	}
	if (want && !strcmp(want, "buildx")) {
		vec_pushf(&e->notes,
			  "'%s': client %s has no buildx (the buildx backend was asked for)",
			  docker, client);
		goto done;
	}

	/*
	 * Clients from 23.0 on hand every DOCKER_BUILDKIT=1 build to buildx and
	 * fail without it ("buildx component is missing or broken"), even for
	 * --help; older ones build with the BuildKit inside the engine. The
	 * probe asks the client itself rather than trusting its version number,
	 * so that a distribution's patched client is judged by what it does.
	 */
	if (engine_run(docker, a_build_help, env_buildkit, e->timeout_ms, &out, &res) < 0) {
		vec_pushf(&e->notes, "'%s': %s", docker, error_last());
		goto done;
	}
	if (!engine_ok(&res) || strstr(out.buf, "buildx component is missing")) {
		vec_pushf(&e->notes,
			  "'%s': client %s has no buildx and its 'docker build' needs buildx for "
			  "BuildKit",
			  docker, client);
		goto done;
	}
	e->backend = ENGINE_BUILDKIT;
	e->caps = 0;
	ret = 1;
found:
	e->docker = xstrdup(docker);
	e->client_version = client;
	e->buildx_version = buildx;
	e->buildx_available = buildx != NULL;
	client = buildx = NULL;
done:
	free(client);
	free(buildx);
	free(line);
	strbuf_release(&out);
	return ret;
}

/* Ask the engine itself; the only probe that needs dockerd. */
static int engine_check_server(struct engine *e)
{
	static const char *const a_server[] = {"version", "--format", "{{.Server.Version}}", NULL};
	struct strbuf out = STRBUF_INIT;
	struct process_result res;
	const char *host = e->docker_host ? e->docker_host : engine_default_host;
	int ret = 0;

	if (engine_run(e->docker, a_server, NULL, e->timeout_ms, &out, &res) < 0) {
		ret = GS_EINFRA;
		goto done;
	}
	strbuf_rtrim(&out);
	/* A client that cannot reach the engine prints an empty version and
	 * "Cannot connect..." and exits 1; a stuck engine hangs until killed. */
	if (!engine_ok(&res) || !out.len || strchr(out.buf, '\n') || strchr(out.buf, ' ')) {
		ret = error_setc(GS_EINFRA,
				 "no Docker engine answers at '%s': is dockerd running? "
				 "(scripts/infra/start-docker.sh starts one)",
				 host);
		goto done;
	}
	e->server_version = xstrdup(out.buf);
	if (e->backend == ENGINE_BUILDKIT && engine_version_cmp(e->server_version, 18, 9) < 0) {
		ret = error_setc(GS_EINFRA,
				 "the Docker engine at '%s' is %s: BuildKit needs 18.09 or later",
				 host, e->server_version);
		goto done;
	}
done:
	strbuf_release(&out);
	return ret;
}

int engine_detect(struct engine *e, const char *docker_override, const char *backend_override)
{
	struct vec cands = VEC_INIT(free);
	const char *env_docker = getenv("GPUSLIM_DOCKER");
	const char *host = getenv("DOCKER_HOST");
	int timeout_ms = e->timeout_ms > 0 ? e->timeout_ms : ENGINE_PROBE_TIMEOUT_MS;
	int ret = 0, found = 0;

	memset(e, 0, sizeof(*e));
	vec_init(&e->notes, free);
	e->timeout_ms = timeout_ms;
	if (backend_override && strcmp(backend_override, "buildx") &&
	    strcmp(backend_override, "buildkit")) {
		ret =
		    error_setc(GS_EINVAL, "unknown build backend '%s': use 'buildx' or 'buildkit'",
			       backend_override);
		goto done;
	}
	if (host && *host)
		e->docker_host = xstrdup(host);

	/* An explicit client is the only candidate: falling back from a client
	 * the user named to another one would build with what they ruled out. */
	if (docker_override || (env_docker && *env_docker)) {
		const char *name = docker_override ? docker_override : env_docker;
		char *path = process_find_in_path(name);

		if (!path) {
			error_prefix("%s names no usable docker client",
				     docker_override ? "--docker" : "GPUSLIM_DOCKER");
			ret = GS_EINVAL;
			goto done;
		}
		vec_push(&cands, path);
	} else {
		engine_path_candidates(&cands);
	}
	if (!cands.nr) {
		ret =
		    error_setc(GS_EINFRA, "no 'docker' client on PATH: install docker.io, or name "
					  "one with --docker or GPUSLIM_DOCKER");
		goto done;
	}

	for (size_t i = 0; i < cands.nr && !found; i++) {
		ret = engine_probe(e, cands.items[i], backend_override);
		if (ret < 0)
			goto done;
		found = ret;
	}
	ret = 0;
	if (!found) {
		struct strbuf why = STRBUF_INIT;

		for (size_t i = 0; i < e->notes.nr; i++)
			strbuf_addf(&why, "%s%s", i ? "; " : "", (char *)e->notes.items[i]);
		ret = error_setc(GS_EINFRA, "no docker client here can build with %s: %s",
				 backend_override ? backend_override : "BuildKit", why.buf);
		strbuf_release(&why);
		goto done;
	}
	ret = engine_check_server(e);
done:
	vec_release(&cands);
	if (ret < 0) {
		/* Keep the notes (they explain the failure) and nothing else. */
		struct vec notes = e->notes;

		e->notes.items = NULL;
		e->notes.nr = e->notes.alloc = 0;
		engine_release(e);
		e->notes = notes;
		e->timeout_ms = timeout_ms;
	}
	return ret;
}

void engine_release(struct engine *e)
{
	free(e->docker);
	free(e->client_version);
	free(e->server_version);
	free(e->buildx_version);
	free(e->docker_host);
	vec_release(&e->notes);
	e->docker = e->client_version = e->server_version = e->buildx_version = NULL;
	e->docker_host = NULL;
	e->buildx_available = 0;
	e->caps = 0;
}

char *engine_describe(const struct engine *e)
{
	const char *server = e->server_version ? e->server_version : "unknown";

	if (e->backend == ENGINE_BUILDX)
		return xstrfmt("docker buildx build (client %s %s, engine %s)", e->docker,
			       e->client_version, server);
	return xstrfmt("docker build with BuildKit (client %s %s, engine %s)", e->docker,
		       e->client_version, server);
}

static void engine_push_each(struct vec *argv, const char *flag, const struct vec *v)
{
	for (size_t i = 0; v && i < v->nr; i++) {
		vec_pushstr(argv, flag);
		vec_pushstr(argv, v->items[i]);
	}
}

int engine_build_argv(const struct engine *e, const struct engine_build_opts *o, struct vec *argv,
		      struct vec *env)
{
	const char *cmd = e->backend == ENGINE_BUILDX ? "docker buildx build" : "docker build";
	const char *missing = NULL;
	int ret = 0;

	if (!o->dockerfile || !o->context || !o->tag) {
		missing = !o->dockerfile ? "dockerfile" : !o->context ? "context" : "tag";
		ret = error_setc(GS_EINVAL, "a build needs a %s", missing);
		goto done;
	}
	if (o->cache_to && !(e->caps & ENGINE_CAP_CACHE_TO)) {
		ret = error_setc(GS_EINVAL,
				 "'%s' cannot export the cache to '%s': that needs buildx (inline "
				 "cache works)",
				 cmd, o->cache_to);
		goto done;
	}
	if (o->compression && !(e->caps & ENGINE_CAP_COMPRESSION)) {
		ret = error_setc(GS_EINVAL,
				 "'%s' cannot choose the layer compression ('%s'): that "
				 "needs buildx",
				 cmd, o->compression);
		goto done;
	}
	if (o->compression && !o->push) {
		ret = error_setc(GS_EINVAL,
				 "layer compression '%s' applies to pushed images only: the engine "
				 "stores loaded images uncompressed",
				 o->compression);
		goto done;
	}
	if (o->builder && e->backend != ENGINE_BUILDX) {
		ret = error_setc(GS_EINFRA,
				 "builder '%s' is a buildx builder and '%s' has no buildx: install "
				 "the buildx plugin, or build on engines (--engine)",
				 o->builder, e->docker);
		goto done;
	}
	if (o->push && !(e->caps & ENGINE_CAP_PUSH)) {
		ret = error_setc(GS_EINVAL, "'%s' cannot push from the build: push '%s' afterwards",
				 cmd, o->tag);
		goto done;
	}

	vec_pushstr(argv, e->docker);
	if (e->backend == ENGINE_BUILDX) {
		vec_pushstr(argv, "buildx");
		vec_pushstr(argv, "build");
		if (o->builder) {
			vec_pushstr(argv, "--builder");
			vec_pushstr(argv, o->builder);
		}
	} else {
		vec_pushstr(argv, "build");
	}
	vec_pushstr(argv, "--progress=plain");
	vec_pushstr(argv, "-f");
	vec_pushstr(argv, o->dockerfile);
	vec_pushstr(argv, "-t");
	vec_pushstr(argv, o->tag);
	if (o->target) {
		vec_pushstr(argv, "--target");
		vec_pushstr(argv, o->target);
	}
	engine_push_each(argv, "--label", o->labels);
	engine_push_each(argv, "--build-arg", o->build_args);
	/* Both backends build with BuildKit, which reads --secret. */
	engine_push_each(argv, "--secret", o->secrets);
	if (e->backend == ENGINE_BUILDX) {
		for (size_t i = 0; o->cache_from && i < o->cache_from->nr; i++) {
			vec_pushstr(argv, "--cache-from");
			vec_pushf(argv, "type=registry,ref=%s", (char *)o->cache_from->items[i]);
		}
		if (o->cache_inline) {
			vec_pushstr(argv, "--cache-to");
			vec_pushstr(argv, "type=inline");
		}
		if (o->cache_to) {
			vec_pushstr(argv, "--cache-to");
			vec_pushf(argv, "type=registry,ref=%s,mode=max", o->cache_to);
		}
	} else {
		/* The engine's BuildKit reads inline cache from plain image refs and
		 * writes it only when asked through this build argument. */
		engine_push_each(argv, "--cache-from", o->cache_from);
		if (o->cache_inline) {
			vec_pushstr(argv, "--build-arg");
			vec_pushstr(argv, "BUILDKIT_INLINE_CACHE=1");
		}
	}
	if (o->network) {
		vec_pushstr(argv, "--network");
		vec_pushstr(argv, o->network);
	}
	if (o->no_cache)
		vec_pushstr(argv, "--no-cache");
	if (e->backend == ENGINE_BUILDX) {
		if (o->push) {
			vec_pushstr(argv, "--output");
			if (o->compression)
				vec_pushf(argv,
					  "type=image,name=%s,push=true,compression=%s,"
					  "force-compression=true",
					  o->tag, o->compression);
			else
				vec_pushf(argv, "type=image,name=%s,push=true", o->tag);
		} else {
			vec_pushstr(argv, "--load");
		}
		/* Default provenance attestations turn a pushed image into an index
		 * with an "unknown/unknown" entry; gpuslim pins and inspects plain
		 * images. Older buildx ignores the variable. */
		vec_pushstr(env, "BUILDX_NO_DEFAULT_ATTESTATIONS=1");
	} else {
		vec_pushstr(env, "DOCKER_BUILDKIT=1");
	}
	vec_pushstr(argv, o->context);
	for (size_t i = 0; e->env && e->env[i]; i++)
		vec_pushstr(env, e->env[i]);
done:
	return ret;
}

int engine_push_argv(const struct engine *e, const char *ref, struct vec *argv, struct vec *env)
{
	for (size_t i = 0; e->env && e->env[i]; i++)
		vec_pushstr(env, e->env[i]);
	vec_pushstr(argv, e->docker);
	vec_pushstr(argv, "push");
	vec_pushstr(argv, ref);
	return 0;
}

static int engine_no_such_image(const struct strbuf *out)
{
	return strstr(out->buf, "No such image") || strstr(out->buf, "no such image");
}

/* `docker image inspect --format FORMAT REF` into *value (trimmed). */
static int engine_inspect(const struct engine *e, const char *ref, const char *format, char **value)
{
	const char *args[] = {"image", "inspect", "--format", format, ref, NULL};
	struct strbuf out = STRBUF_INIT;
	struct process_result res;
	char *line = NULL;
	int ret = 0;

	*value = NULL;
	ret = engine_run_env(e->docker, args, e->env, NULL, ENGINE_CMD_TIMEOUT_MS, &out, &res);
	if (ret < 0) {
		error_prefix("cannot inspect image '%s'", ref);
		ret = GS_EINFRA;
		goto done;
	}
	if (!engine_ok(&res)) {
		if (engine_no_such_image(&out)) {
			ret = error_setc(GS_ENOTFOUND, "image '%s' does not exist in the engine",
					 ref);
			goto done;
		}
		line = engine_first_line(&out);
		ret = error_setc(GS_EINFRA, "cannot inspect image '%s': %s", ref, line);
		goto done;
	}
	strbuf_rtrim(&out);
	*value = strbuf_detach(&out, NULL);
done:
	free(line);
	strbuf_release(&out);
	return ret;
}

int engine_image_id(const struct engine *e, const char *ref, char **id)
{
	int ret = engine_inspect(e, ref, "{{.Id}}", id);

	if (!ret && !starts_with(*id, "sha256:")) {
		ret = error_setc(GS_EINFRA, "the engine gave image '%s' an odd id '%s'", ref, *id);
		free(*id);
		*id = NULL;
	}
	return ret;
}

int engine_image_size(const struct engine *e, const char *ref, long long *bytes)
{
	char *text = NULL, *end = NULL;
	int ret = engine_inspect(e, ref, "{{.Size}}", &text);

	*bytes = -1;
	if (ret < 0)
		return ret;
	errno = 0;
	*bytes = strtoll(text, &end, 10);
	if (errno || end == text || *end || *bytes < 0) {
		*bytes = -1;
		ret =
		    error_setc(GS_EINFRA, "the engine gave image '%s' an odd size '%s'", ref, text);
	}
	free(text);
	return ret;
}

int engine_repo_digest(const struct engine *e, const char *ref, char **digest)
{
	int ret = engine_inspect(e, ref, "{{range .RepoDigests}}{{println .}}{{end}}", digest);
	size_t n;

	if (ret < 0)
		return ret;
	n = strcspn(*digest, "\n");
	if (!n) {
		free(*digest);
		*digest = NULL;
		return error_setc(GS_ENOTFOUND, "image '%s' has no registry digest (never pushed)",
				  ref);
	}
	(*digest)[n] = '\0';
	return 0;
}

int engine_rmi(const struct engine *e, const char *ref)
{
	const char *args[] = {"rmi", ref, NULL};
	struct strbuf out = STRBUF_INIT;
	struct process_result res;
	char *line = NULL;
	int ret = 0;

	ret = engine_run_env(e->docker, args, e->env, NULL, ENGINE_CMD_TIMEOUT_MS, &out, &res);
	if (ret < 0) {
		error_prefix("cannot remove image '%s'", ref);
		ret = GS_EINFRA;
		goto done;
	}
	if (!engine_ok(&res) && !engine_no_such_image(&out)) {
		line = engine_first_line(&out);
		ret = error_setc(GS_EINFRA, "cannot remove image '%s': %s", ref, line);
	}
done:
	free(line);
	strbuf_release(&out);
	return ret;
}

int engine_spec_parse(const char *spec, char **name, int *jobs)
{
	regex_t re;
	const char *eq;
	int ok;

	*name = NULL;
	*jobs = 0;
	if (regcomp(&re, ENGINE_SPEC_RE, REG_EXTENDED | REG_NOSUB))
		return error_setc(GS_ERR, "cannot compile the engine pattern");
	ok = strlen(spec) <= 1024 && !regexec(&re, spec, 0, NULL, 0);
	regfree(&re);
	if (!ok)
		return error_setc(GS_EINVAL, "engine '%s' is not %s", spec, ENGINE_SPEC_EXPECT);
	/* The pattern allows '=' only before the job count. */
	eq = strrchr(spec, '=');
	if (eq) {
		*jobs = atoi(eq + 1);
		if (*jobs > 1024)
			return error_setc(GS_EINVAL, "engine '%s': at most 1024 jobs", spec);
	}
	*name = eq ? xstrndup(spec, (size_t)(eq - spec)) : xstrdup(spec);
	return 0;
}

void engine_target_env(const char *name, struct vec *env)
{
	if (strstr(name, "://")) {
		vec_pushf(env, "DOCKER_HOST=%s", name);
		vec_pushstr(env, "DOCKER_CONTEXT");
	} else {
		vec_pushstr(env, "DOCKER_HOST");
		vec_pushf(env, "DOCKER_CONTEXT=%s", name);
	}
}

struct engine engine_view(const struct engine *e, const char *host_label, const char *const *env)
{
	struct engine v = *e;

	v.docker_host = (char *)host_label;
	v.env = env;
	memset(&v.notes, 0, sizeof(v.notes));
	return v;
}

const char *engine_host(const struct engine *e)
{
	return e->docker_host ? e->docker_host : engine_default_host;
}

int engine_ping(const struct engine *e, int timeout_ms)
{
	static const char *const a_server[] = {"version", "--format", "{{.Server.Version}}", NULL};
	struct strbuf out = STRBUF_INIT;
	struct process_result res;
	char *line = NULL;
	int ret = 0;

	if (engine_run_env(e->docker, a_server, e->env, NULL, timeout_ms, &out, &res) < 0) {
		ret = error_setc(GS_EINFRA, "cannot ask engine '%s': %s", engine_host(e),
				 error_last());
		goto done;
	}
	strbuf_rtrim(&out);
	if (!engine_ok(&res) || !out.len || strchr(out.buf, '\n') || strchr(out.buf, ' ')) {
		line = engine_first_line(&out);
		ret = error_setc(GS_EINFRA, "no Docker engine answers at '%s' (%s)", engine_host(e),
				 res.signaled ? "no answer in time" : line);
	}
done:
	free(line);
	strbuf_release(&out);
	return ret;
}
