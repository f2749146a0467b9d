#ifndef GS_ENGINE_H
#define GS_ENGINE_H

#include "util/vec.h"

/*
 * The container engine and the way images are built on it, detected once
 * per run: which `docker` client to call, whether it builds through buildx
 * (`docker buildx build`) or through the BuildKit built into older clients
 * (`DOCKER_BUILDKIT=1 docker build`), and the client and engine versions.
 * The other functions turn a build, a push or an inspection into an argv
 * for that client; they never parse a shell string.
 *
 * Ownership: a struct engine owns every string in it and its `notes`;
 * engine_release() frees them. engine_*_argv() push newly allocated strings
 * onto vectors the caller owns (their free_item must be free()). A detected
 * engine is read-only: worker threads may share it without locking.
 */

enum engine_backend {
	ENGINE_BUILDX,	 /* docker buildx build --load */
	ENGINE_BUILDKIT, /* DOCKER_BUILDKIT=1 docker build (clients before 23.0) */
};

/* What a backend can do; engine_build_argv() refuses the rest. */
enum engine_cap {
	ENGINE_CAP_CACHE_TO = 1 << 0,	 /* export the cache to a registry ref */
	ENGINE_CAP_COMPRESSION = 1 << 1, /* choose the layer compression (zstd) */
	ENGINE_CAP_PUSH = 1 << 2,	 /* push from the build itself */
};

/* Default limit for `docker version` and friends (they hang on a stuck engine). */
#define ENGINE_PROBE_TIMEOUT_MS 10000

struct engine {
	char *docker; /* absolute path of the client */
	enum engine_backend backend;
	char *client_version; /* "20.10.24+dfsg1" */
	char *server_version; /* "20.10.24+dfsg1" */
	int buildx_available;
	char *buildx_version; /* "github.com/docker/buildx v0.12.1 ...", NULL without buildx */
	unsigned caps;	      /* enum engine_cap bits */
	char *docker_host;    /* $DOCKER_HOST at detection, NULL when unset */
	/* Why candidates before the chosen one were passed over, one line each
	 * ("'/usr/local/bin/docker': client 28.2.2 has no buildx ..."). */
	struct vec notes;
	/* In: limit for each probe in ms; 0 means ENGINE_PROBE_TIMEOUT_MS. Set it
	 * before engine_detect() (on a zeroed struct); detection keeps it. */
	int timeout_ms;
	/* Environment additions for every child this engine runs ("K=V" sets,
	 * "K" unsets: which engine the client talks to, engine_target_env()),
	 * NULL-terminated and borrowed; NULL: the inherited environment. Set
	 * only on a view (engine_view()). */
	const char *const *env;
};

/*
 * Many engines. One detected client talks to several engines, each named as
 * the user wrote it: a DOCKER_HOST URL ("unix:///run/e2.sock",
 * "tcp://10.0.0.5:2375", "ssh://user@host") or a Docker context name
 * ("builder-2"), optionally followed by "=JOBS", how many builds run on it at
 * once (1..1024). The children of an engine get its name in their
 * environment: DOCKER_HOST=URL (and DOCKER_CONTEXT unset), or
 * DOCKER_CONTEXT=NAME (and DOCKER_HOST unset).
 */
#define ENGINE_SPEC_RE                                                                             \
	"^((unix|tcp|ssh)://[^=[:space:]]+|[a-zA-Z0-9][a-zA-Z0-9_.+-]*)(=[1-9][0-9]{0,3})?$"
#define ENGINE_SPEC_EXPECT                                                                         \
	"an engine: a DOCKER_HOST URL (unix:///path, tcp://host:port, ssh://host) or a Docker "    \
	"context name, optionally =JOBS"

/* Split "NAME[=JOBS]": *name newly allocated, *jobs 0 when absent.
 * GS_EINVAL naming the spec when it is not ENGINE_SPEC_RE. */
int engine_spec_parse(const char *spec, char **name, int *jobs);

/* Push the environment additions that point a client at engine `name`. */
void engine_target_env(const char *name, struct vec *env);

/* A shallow copy of `e` that talks to the engine `host_label` through `env`
 * (both borrowed: they must outlive the view). Never engine_release() it. */
struct engine engine_view(const struct engine *e, const char *host_label, const char *const *env);

/* Where `e` talks to, for messages: its DOCKER_HOST, else the default socket. */
const char *engine_host(const struct engine *e);

/* 0 when the engine answers `docker version` within timeout_ms; GS_EINFRA
 * ("no Docker engine answers at 'X': ...") otherwise. */
int engine_ping(const struct engine *e, int timeout_ms);

/*
 * Find the client and backend and make sure an engine answers.
 *
 * Candidates: `docker_override` (a --docker PATH), else $GPUSLIM_DOCKER,
 * else every distinct `docker` on PATH in order. A candidate with a working
 * `docker buildx` gets the buildx backend; else one whose `docker build`
 * still honours DOCKER_BUILDKIT=1 gets the buildkit backend; else it is
 * passed over with a note. `backend_override` ("buildx", "buildkit" or NULL)
 * keeps only candidates that offer that backend.
 *
 * Errors: GS_EINVAL for a bad backend_override; GS_EINFRA when no candidate
 * fits, when no engine answers ("no Docker engine answers at
 * 'unix:///var/run/docker.sock': is dockerd running? ...") or when the engine
 * is too old for BuildKit (before 18.09). On failure `e` holds nothing that
 * needs freeing except `notes`: call engine_release() either way.
 */
int engine_detect(struct engine *e, const char *docker_override, const char *backend_override);

void engine_release(struct engine *e);

/* "docker build with BuildKit (client /usr/bin/docker 20.10.24, engine 20.10.24)",
 * newly allocated. */
char *engine_describe(const struct engine *e);

/* "buildx" or "buildkit". */
const char *engine_backend_name(enum engine_backend b);

struct engine_build_opts {
	const char *dockerfile;	      /* -f */
	const char *context;	      /* the build context directory */
	const char *tag;	      /* -t */
	const char *target;	      /* --target stage, NULL: the last one */
	const struct vec *labels;     /* "key=value" strings, NULL: none */
	const struct vec *build_args; /* "KEY=value" strings, NULL: none */
	const struct vec *cache_from; /* image refs to import cache from, NULL: none */
	int cache_inline;	      /* embed cache metadata in the image itself */
	const char *cache_to;	      /* ref to export the cache to (ENGINE_CAP_CACHE_TO) */
	const char *network;	      /* "host", "none"; NULL: the engine's default */
	const char *compression;      /* "zstd", "gzip"; NULL: default (ENGINE_CAP_COMPRESSION) */
	int push;		      /* push TAG from the build (ENGINE_CAP_PUSH) */
	const char *builder;	      /* buildx only: --builder NAME; NULL: the current one */
	int no_cache;
	const struct vec *secrets; /* "id=X,src=FILE" for --secret (BuildKit), NULL: none */
};

/*
 * Push the argv (argv[0] is e->docker) and the environment additions
 * ("K=V") of one build. Options the backend cannot honour fail with
 * GS_EINVAL, naming the option and the backend, and push nothing; check
 * e->caps first to degrade on purpose.
 */
int engine_build_argv(const struct engine *e, const struct engine_build_opts *o, struct vec *argv,
		      struct vec *env);

/* `docker push REF`. */
int engine_push_argv(const struct engine *e, const char *ref, struct vec *argv, struct vec *env);

/*
 * The image id ("sha256:...") of a local image, newly allocated in *id.
 * GS_ENOTFOUND ("image 'x' does not exist in the engine") when absent,
 * GS_EINFRA when the client fails otherwise.
 */
int engine_image_id(const struct engine *e, const char *ref, char **id);

/* The size in bytes the engine reports for a local image (`.Size`: the
 * uncompressed layers); GS_ENOTFOUND when absent, GS_EINFRA otherwise. */
int engine_image_size(const struct engine *e, const char *ref, long long *bytes);

/* The first repo digest ("127.0.0.1:5000/x@sha256:...") of a local image,
 * newly allocated; GS_ENOTFOUND when the image or its digest is absent. */
int engine_repo_digest(const struct engine *e, const char *ref, char **digest);

/* Remove a local image reference (`docker rmi`); an absent one is not an
 * error, so that cleanup can run twice. */
int engine_rmi(const struct engine *e, const char *ref);

#endif
