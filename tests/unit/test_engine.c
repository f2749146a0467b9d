/*
 * Engine detection against fake docker clients (tests/fake/docker-*) put
 * alone on PATH. The real detection is tests/integration/engine_real.c's.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/engine.h"
#include "unit.h"
#include "util/fs.h"
#include "util/process.h"

static char fakes[PATH_MAX]; /* absolute tests/fake */
static char tmp[64];	     /* per-run scratch: one PATH dir per fake */
static char *saved_path;

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int find_fakes(void)
{
	const char *root = getenv("GS_SRCDIR");
	char *dir = root && *root ? xstrfmt("%s/tests/fake", root) : xstrdup("tests/fake");
	int ok = realpath(dir, fakes) != NULL;

	free(dir);
	return ok;
}

/* A PATH directory holding `docker` -> tests/fake/<fake>; returns its path. */
static char *fake_dir(const char *fake)
{
	char *dir = xstrfmt("%s/%s", tmp, fake);
	char *link = xstrfmt("%s/docker", dir);
	char *target = xstrfmt("%s/%s", fakes, fake);

	mkdir(dir, 0755);
	if (symlink(target, link) < 0 && access(link, X_OK) < 0)
		printf("# cannot link %s\n", link);
	free(link);
	free(target);
	return dir;
}

/* PATH = the fake dirs named, in order (NULL-terminated). */
static void path_of(const char *first, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, first);
	for (const char *f = first; f; f = va_arg(ap, const char *)) {
		char *d = fake_dir(f);

		strbuf_addf(&sb, "%s%s", sb.len ? ":" : "", d);
		free(d);
	}
	va_end(ap);
	setenv("PATH", sb.buf, 1);
	strbuf_release(&sb);
}

static void reset_env(void)
{
	unsetenv("GPUSLIM_DOCKER");
	unsetenv("DOCKER_HOST");
	unsetenv("FAKE_DOCKER_SERVER");
	unsetenv("FAKE_DOCKER_IMAGES");
	unsetenv("FAKE_DOCKER_LOG");
}

static int detect(struct engine *e, const char *docker, const char *backend)
{
	memset(e, 0, sizeof(*e));
	e->timeout_ms = 3000;
	return engine_detect(e, docker, backend);
}

static void test_picks_buildkit_after_new_client(void)
{
	struct engine e;
	char *want = xstrfmt("%s/docker-28-nobuildx/docker", tmp);
	char *d;
	int rc;

	reset_env();
	path_of("docker-28-nobuildx", "docker-20.10", NULL);
	rc = detect(&e, NULL, NULL);
	CHECK(rc == 0, "a 20.10 client behind a 28 client without buildx is found (%s)",
	      error_last());
	CHECK(e.docker && ends_with(e.docker, "/docker-20.10/docker"), "the second client is used");
	CHECK(e.backend == ENGINE_BUILDKIT && !e.buildx_available && e.caps == 0,
	      "its backend is built-in BuildKit");
	CHECK_STR(e.client_version, "20.10.24+dfsg1", "client version");
	CHECK_STR(e.server_version, "20.10.24", "engine version");
	CHECK(e.notes.nr == 1 && starts_with(e.notes.items[0], "'") &&
		  strstr(e.notes.items[0], want) &&
		  strstr(e.notes.items[0], "client 28.2.2 has no buildx and its 'docker build' "
					   "needs buildx for BuildKit"),
	      "the 28 client is passed over with a note");
	d = engine_describe(&e);
	CHECK(starts_with(d, "docker build with BuildKit (client ") &&
		  ends_with(d, "/docker-20.10/docker 20.10.24+dfsg1, engine 20.10.24)"),
	      "description: %s", d);
	free(d);
	engine_release(&e);
	free(want);
}

static void test_prefers_buildx(void)
{
	struct engine e;
	char *d;

	reset_env();
	path_of("docker-buildx", "docker-20.10", NULL);
	CHECK(detect(&e, NULL, NULL) == 0 && e.backend == ENGINE_BUILDX && e.buildx_available,
	      "a client with buildx gets the buildx backend");
	CHECK(e.caps == (ENGINE_CAP_CACHE_TO | ENGINE_CAP_COMPRESSION | ENGINE_CAP_PUSH),
	      "buildx can export cache, compress and push");
	CHECK_STR(e.buildx_version, "github.com/docker/buildx v0.17.1 fake", "buildx version");
	d = engine_describe(&e);
	CHECK(starts_with(d, "docker buildx build (client ") && strstr(d, "27.3.1"),
	      "description: %s", d);
	free(d);
	engine_release(&e);

	/* --backend buildkit: plain `docker build`, which such a client hands to
	 * buildx itself... */
	CHECK(detect(&e, NULL, "buildkit") == 0 && e.backend == ENGINE_BUILDKIT &&
		  ends_with(e.docker, "/docker-buildx/docker") && e.caps == 0,
	      "a buildkit override builds with 'docker build' (%s)", error_last());
	engine_release(&e);

	/* ...and a buildx override fails where no client has buildx. */
	path_of("docker-20.10", NULL);
	CHECK(detect(&e, NULL, "buildx") == GS_EINFRA, "buildx override without buildx fails");
	CHECK(strstr(error_last(), "no docker client here can build with buildx: '") &&
		  strstr(error_last(), "client 20.10.24+dfsg1 has no buildx (the buildx "
				       "backend was asked for)"),
	      "the message says why: %s", error_last());
	engine_release(&e);

	CHECK(detect(&e, NULL, "kaniko") == GS_EINVAL, "an unknown backend is refused");
	CHECK_STR(error_last(), "unknown build backend 'kaniko': use 'buildx' or 'buildkit'",
		  "unknown backend message");
	engine_release(&e);
}

static void test_overrides(void)
{
	struct engine e;
	char *fake20 = xstrfmt("%s/docker-20.10", fakes);
	char *fakebx = xstrfmt("%s/docker-buildx", fakes);

	reset_env();
	path_of("docker-buildx", NULL);
	CHECK(detect(&e, fake20, NULL) == 0 && !strcmp(e.docker, fake20) &&
		  e.backend == ENGINE_BUILDKIT,
	      "--docker wins over PATH");
	engine_release(&e);

	setenv("GPUSLIM_DOCKER", fake20, 1);
	CHECK(detect(&e, NULL, NULL) == 0 && !strcmp(e.docker, fake20),
	      "GPUSLIM_DOCKER wins over PATH");
	engine_release(&e);
	CHECK(detect(&e, fakebx, NULL) == 0 && !strcmp(e.docker, fakebx) &&
		  e.backend == ENGINE_BUILDX,
	      "--docker wins over GPUSLIM_DOCKER");
	engine_release(&e);

	setenv("GPUSLIM_DOCKER", "/nonexistent/docker", 1);
	CHECK(detect(&e, NULL, NULL) == GS_EINVAL, "a GPUSLIM_DOCKER that does not exist fails");
	CHECK(starts_with(error_last(), "GPUSLIM_DOCKER names no usable docker client: cannot "
					"find '/nonexistent/docker'"),
	      "and names itself: %s", error_last());
	engine_release(&e);

	/* An explicit client that does not fit is not replaced by another one. */
	unsetenv("GPUSLIM_DOCKER");
	free(fakebx);
	fakebx = xstrfmt("%s/docker-28-nobuildx", fakes);
	CHECK(detect(&e, fakebx, NULL) == GS_EINFRA && strstr(error_last(), "needs buildx"),
	      "an explicit 28 client without buildx fails: %s", error_last());
	engine_release(&e);

	path_of("docker-broken", "docker-28-nobuildx", NULL);
	CHECK(detect(&e, NULL, NULL) == GS_EINFRA && e.notes.nr == 2 &&
		  strstr(e.notes.items[0], "does not look like a docker client ('--version' "
					   "said 'this is not docker')"),
	      "no fitting client: every candidate has a note (%s)", error_last());
	engine_release(&e);

	setenv("PATH", tmp, 1);
	CHECK(detect(&e, NULL, NULL) == GS_EINFRA, "no docker on PATH fails");
	CHECK_STR(error_last(),
		  "no 'docker' client on PATH: install docker.io, or name one with --docker or "
		  "GPUSLIM_DOCKER",
		  "no docker message");
	engine_release(&e);
	free(fake20);
	free(fakebx);
}

static void test_no_engine(void)
{
	struct engine e;
	long long t0;

	reset_env();
	path_of("docker-20.10", NULL);
	setenv("FAKE_DOCKER_SERVER", "none", 1);
	CHECK(detect(&e, NULL, NULL) == GS_EINFRA, "no engine: GS_EINFRA");
	CHECK_STR(error_last(),
		  "no Docker engine answers at 'unix:///var/run/docker.sock': is dockerd running? "
		  "(scripts/infra/start-docker.sh starts one)",
		  "no engine message");
	CHECK(e.docker == NULL && e.client_version == NULL, "a failed detection keeps nothing");
	engine_release(&e);

	setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
	detect(&e, NULL, NULL);
	CHECK_STR(error_last(),
		  "no Docker engine answers at 'tcp://127.0.0.1:2375': is dockerd running? "
		  "(scripts/infra/start-docker.sh starts one)",
		  "the message names DOCKER_HOST");
	engine_release(&e);
	unsetenv("DOCKER_HOST");

	setenv("FAKE_DOCKER_SERVER", "hang", 1);
	memset(&e, 0, sizeof(e));
	/* Long enough for a loaded machine to run the client probes before
	 * it; the fake engine sleeps 600 s, so only the timeout ends it soon. */
	e.timeout_ms = 5000;
	t0 = ms_now();
	CHECK(engine_detect(&e, NULL, NULL) == GS_EINFRA &&
		  strstr(error_last(), "no Docker engine answers"),
	      "a hanging engine: GS_EINFRA (%s)", error_last());
	CHECK(ms_now() - t0 < 300000, "the timeout ended the wait, not the client (%lld ms)",
	      ms_now() - t0);
	engine_release(&e);

	setenv("FAKE_DOCKER_SERVER", "17.06.2-ce", 1);
	CHECK(detect(&e, NULL, NULL) == GS_EINFRA &&
		  strstr(error_last(), "is 17.06.2-ce: BuildKit needs 18.09 or later"),
	      "an engine before 18.09 is refused: %s", error_last());
	engine_release(&e);
	reset_env();
}

static const char *argv_str(struct vec *v, struct strbuf *sb)
{
	strbuf_reset(sb);
	for (size_t i = 1; i < v->nr; i++)
		strbuf_addf(sb, "%s%s", i > 1 ? " " : "", (char *)v->items[i]);
	return sb->buf;
}

static void test_build_argv(void)
{
	struct engine bk = {0}, bx = {0};
	struct vec argv = VEC_INIT(free), env = VEC_INIT(free);
	struct vec labels = VEC_INIT(free), args = VEC_INIT(free), from = VEC_INIT(free);
	struct strbuf sb = STRBUF_INIT;
	struct engine_build_opts o = {0};

	bk.docker = "/usr/bin/docker";
	bk.backend = ENGINE_BUILDKIT;
	bx.docker = "/usr/local/bin/docker";
	bx.backend = ENGINE_BUILDX;
	bx.caps = ENGINE_CAP_CACHE_TO | ENGINE_CAP_COMPRESSION | ENGINE_CAP_PUSH;
	vec_pushstr(&labels, "org.opencontainers.image.title=x");
	vec_pushstr(&args, "PY=3.11");
	vec_pushstr(&from, "127.0.0.1:5000/cache/x:c1");
	o.dockerfile = "out/c1/Dockerfile";
	o.context = "out/c1";
	o.tag = "127.0.0.1:5000/x:c1";
	o.target = "final";
	o.labels = &labels;
	o.build_args = &args;
	o.cache_from = &from;
	o.cache_inline = 1;
	o.network = "host";

	CHECK(engine_build_argv(&bk, &o, &argv, &env) == 0, "buildkit argv");
	CHECK_STR((char *)argv.items[0], "/usr/bin/docker", "argv[0] is the client");
	CHECK_STR(argv_str(&argv, &sb),
		  "build --progress=plain -f out/c1/Dockerfile -t 127.0.0.1:5000/x:c1 --target "
		  "final --label org.opencontainers.image.title=x --build-arg PY=3.11 "
		  "--cache-from 127.0.0.1:5000/cache/x:c1 --build-arg BUILDKIT_INLINE_CACHE=1 "
		  "--network host out/c1",
		  "buildkit: inline cache through the build argument");
	CHECK(env.nr == 1 && !strcmp(env.items[0], "DOCKER_BUILDKIT=1"), "buildkit env");
	vec_release(&argv);
	vec_release(&env);

	o.cache_to = "127.0.0.1:5000/cache/x:c1";
	CHECK(engine_build_argv(&bk, &o, &argv, &env) == GS_EINVAL && argv.nr == 0,
	      "buildkit refuses a registry cache export");
	CHECK_STR(error_last(),
		  "'docker build' cannot export the cache to '127.0.0.1:5000/cache/x:c1': that "
		  "needs buildx (inline cache works)",
		  "cache-to message");
	o.cache_to = NULL;
	o.compression = "zstd";
	o.push = 1;
	CHECK(engine_build_argv(&bk, &o, &argv, &env) == GS_EINVAL &&
		  strstr(error_last(), "cannot choose the layer compression ('zstd')"),
	      "buildkit refuses compression");

	o.cache_to = "127.0.0.1:5000/cache/x:c1";
	CHECK(engine_build_argv(&bx, &o, &argv, &env) == 0, "buildx argv");
	CHECK_STR(argv_str(&argv, &sb),
		  "buildx build --progress=plain -f out/c1/Dockerfile -t 127.0.0.1:5000/x:c1 "
		  "--target final --label org.opencontainers.image.title=x --build-arg PY=3.11 "
		  "--cache-from type=registry,ref=127.0.0.1:5000/cache/x:c1 --cache-to type=inline "
		  "--cache-to type=registry,ref=127.0.0.1:5000/cache/x:c1,mode=max --network host "
		  "--output type=image,name=127.0.0.1:5000/x:c1,push=true,compression=zstd,"
		  "force-compression=true out/c1",
		  "buildx: cache import/export and compressed push");
	CHECK(env.nr == 1 && !strcmp(env.items[0], "BUILDX_NO_DEFAULT_ATTESTATIONS=1"),
	      "buildx env");
	vec_release(&argv);
	vec_release(&env);

	o.push = 0;
	CHECK(engine_build_argv(&bx, &o, &argv, &env) == GS_EINVAL,
	      "compression without push is refused");
	o.compression = NULL;
	o.cache_to = NULL;
	o.cache_inline = 0;
	o.labels = o.build_args = o.cache_from = NULL;
	o.target = o.network = NULL;
	o.no_cache = 1;
	CHECK(engine_build_argv(&bx, &o, &argv, &env) == 0, "buildx load argv");
	CHECK_STR(argv_str(&argv, &sb),
		  "buildx build --progress=plain -f out/c1/Dockerfile -t 127.0.0.1:5000/x:c1 "
		  "--no-cache --load out/c1",
		  "buildx: --load without push");
	vec_release(&argv);
	vec_release(&env);

	o.tag = NULL;
	CHECK(engine_build_argv(&bx, &o, &argv, &env) == GS_EINVAL &&
		  !strcmp(error_last(), "a build needs a tag"),
	      "a build without a tag is refused");

	engine_push_argv(&bk, "127.0.0.1:5000/x:c1", &argv, &env);
	CHECK_STR(argv_str(&argv, &sb), "push 127.0.0.1:5000/x:c1", "push argv");
	vec_release(&argv);
	vec_release(&env);
	vec_release(&labels);
	vec_release(&args);
	vec_release(&from);
	strbuf_release(&sb);
}

static void test_image_queries_fake(void)
{
	struct engine e;
	char *id = NULL;

	reset_env();
	path_of("docker-20.10", NULL);
	detect(&e, NULL, NULL);
	setenv("FAKE_DOCKER_IMAGES", "x:1=sha256:abc", 1);
	CHECK(engine_image_id(&e, "x:1", &id) == 0 && id && !strcmp(id, "sha256:abc"),
	      "image id of an existing image");
	free(id);
	CHECK(engine_image_id(&e, "x:2", &id) == GS_ENOTFOUND && id == NULL,
	      "an absent image is GS_ENOTFOUND");
	CHECK_STR(error_last(), "image 'x:2' does not exist in the engine", "absent image message");
	CHECK(engine_rmi(&e, "x:2") == 0, "removing an absent image is not an error");
	setenv("FAKE_DOCKER_SERVER", "none", 1);
	CHECK(engine_image_id(&e, "x:1", &id) == GS_EINFRA &&
		  strstr(error_last(), "cannot inspect image 'x:1': Cannot connect"),
	      "an engine gone away is GS_EINFRA: %s", error_last());
	engine_release(&e);
	reset_env();
}

int main(void)
{
	long long t0 = ms_now();

	saved_path = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	snprintf(tmp, sizeof(tmp), "/tmp/gs-engine-XXXXXX");
	if (!find_fakes() || !mkdtemp(tmp)) {
		CHECK(0, "setup: tests/fake and a temporary directory");
		return unit_done();
	}
	test_picks_buildkit_after_new_client();
	test_prefers_buildx();
	test_overrides();
	test_no_engine();
	test_build_argv();
	test_image_queries_fake();

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
	setenv("PATH", saved_path, 1);
	free(saved_path);
	printf("# test_engine took %lld ms\n", ms_now() - t0);
	return unit_done();
}
