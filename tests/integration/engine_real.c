/*
 * The unit tests' checks that need the machine's Docker engine and its
 * registries (127.0.0.1:5000 open, :5001 htpasswd, from scripts/infra): the
 * unit tests start fakes only. tests/integration/test_engine_real.sh runs it
 * from the repository root once the infrastructure is up, so a missing
 * engine or registry is a failure here, not a skip.
 *
 * It reads images with the helpers of tests/unit/test_image.c (read_image(),
 * test_same_everywhere(), run()...), which it includes whole, that file's
 * main() renamed away, rather than keep a second copy of them.
 */
#define main test_image_unit_main
int test_image_unit_main(int argc, char **argv);
#pragma GCC diagnostic ignored "-Wunused-function" /* test_image.c's own tests */
#include "test_image.c"
#undef main

#include <jansson.h>

#include "core/engine.h"

/* ---- the engine ------------------------------------------------------- */

/* The machine's own client and engine: detected, and able to build. */
static int test_detection(struct engine *e)
{
	char *d, *id = NULL;
	int rc = engine_detect(e, NULL, NULL);

	CHECK(rc == 0, "real detection works (%s)", error_last());
	if (rc)
		return rc;
	d = engine_describe(e);
	printf("# %s\n", d);
	for (size_t i = 0; i < e->notes.nr; i++)
		printf("#   passed over %s\n", (char *)e->notes.items[i]);
	CHECK(e->buildx_available || e->backend == ENGINE_BUILDKIT,
	      "the real engine builds with BuildKit");
	if (!e->buildx_available)
		CHECK(access("/usr/local/bin/docker", X_OK) ||
			  strcmp(e->docker, "/usr/local/bin/docker"),
		      "the buildx-less /usr/local/bin/docker is not chosen");
	CHECK(engine_image_id(e, "gpuslim-no-such/image:none", &id) == GS_ENOTFOUND,
	      "the real engine: an absent image is GS_ENOTFOUND");
	free(d);
	return 0;
}

/* ---- an image read from every source ----------------------------------- */

static int engine_answers(const char *docker)
{
	return !run(NULL, docker, "version", "--format", "{{.Server.Version}}", NULL);
}

/* A real image, built on the engine, through every source. */
static void test_real_image(void)
{
	const char *docker =
	    getenv("GPUSLIM_DOCKER") ? getenv("GPUSLIM_DOCKER") : "/usr/bin/docker";
	const char *base = "127.0.0.1:5000/gpuslim-fixtures/debian:12-minbase";
	/* per process: test runs of other checkouts share the engine */
	char *tag = xstrfmt("gpuslim-test/image-read:%d", (int)getpid());
	char *pushed = xstrfmt("127.0.0.1:5000/%s", tag);
	char *pushed_auth = xstrfmt("127.0.0.1:5001/%s", tag);
	char *ctx = path_in(tmp, "ctx"), *df, *save, *cfg, *err = NULL, *ref = NULL, *got;
	struct image_opts o = {0};
	struct collect c;
	int code;

	if (access(docker, X_OK) || !engine_answers(docker)) {
		CHECK(0, "real image: an engine answers through '%s'", docker);
		goto skip;
	}
	if (run(NULL, docker, "image", "inspect", base, NULL) &&
	    run(NULL, docker, "pull", base, NULL)) {
		CHECK(0, "real image: the engine has '%s' (scripts/infra/up.sh)", base);
		goto skip;
	}
	fs_mkdir_p(ctx, 0755);
	df = path_in(ctx, "Dockerfile");
	{
		const char *text =
		    "FROM 127.0.0.1:5000/gpuslim-fixtures/debian:12-minbase\n"
		    "RUN echo one > /etc/gs-one && rm /etc/issue && mkdir -p /opt/d && "
		    "echo old > /opt/d/old && ln -s gs-one /etc/gs-link\n"
		    "RUN echo two > /etc/gs-one && rm -rf /opt/d && mkdir /opt/d && echo new > "
		    "/opt/d/new\n"
		    "COPY f /etc/gs-copied\n";
		char *f = path_in(ctx, "f");

		fs_write_atomic(df, text, strlen(text));
		fs_write_atomic(f, "copied\n", 7);
		free(f);
	}
	CHECK(!run(ctx, docker, "build", "-q", "--force-rm", "-t", tag, ".", NULL),
	      "real: image built");

	/* engine */
	o.source = IMAGE_SOURCE_ENGINE;
	o.docker = docker;
	collect_init(&c);
	ref = read_image(tag, &o, &code, &err, &c);
	CHECK(ref != NULL, "real: read from the engine (%s)", err ? err : "ok");
	CHECK(ref && strstr(ref, "whiteout etc/issue ") && strstr(ref, "opaque opt/d ") &&
		  strstr(ref, "file etc/gs-one 4 644 = 74776f0a") &&
		  strstr(ref, "symlink etc/gs-link 0 777 -> gs-one") &&
		  strstr(ref, "file etc/gs-copied 7 644 = 636f706965640a"),
	      "real: whiteout, opaque dir, overwritten file, symlink and copy seen");
	CHECK_STR(c.repo_tag, tag, "real: engine repo tag");
	collect_release(&c);
	free(err);
	if (!ref)
		goto done;

	/* the engine source stops docker save cleanly when the visitor stops */
	collect_init(&c);
	c.stop_at = 10;
	got = read_image(tag, &o, &code, &err, &c);
	CHECK(!got && code == GS_ERR, "real: engine read stopped by the visitor (%s)", err);
	collect_release(&c);
	free(err);
	free(got);

	/* archive: docker save -o */
	save = path_in(tmp, "real.tar");
	CHECK(!run(NULL, docker, "save", "-o", save, tag, NULL), "real: docker save -o");
	o.source = IMAGE_SOURCE_AUTO;
	collect_init(&c);
	got = read_image(save, &o, &code, &err, &c);
	CHECK(got && !strcmp(got, ref), "real: docker-save archive reads as the engine (%s)",
	      err ? err : "ok");
	collect_release(&c);
	free(err);
	free(got);
	test_same_everywhere(save, "real");

	/* registry, open */
	CHECK(!run(NULL, docker, "tag", tag, pushed, NULL) &&
		  !run(NULL, docker, "push", pushed, NULL),
	      "real: pushed to 127.0.0.1:5000");
	o.source = IMAGE_SOURCE_REGISTRY;
	collect_init(&c);
	got = read_image(pushed, &o, &code, &err, &c);
	CHECK(got && !strcmp(got, ref), "real: registry 127.0.0.1:5000 reads as the engine (%s)",
	      err ? err : "ok");
	CHECK(c.meta_before_layers, "real: registry meta before the layers");
	collect_release(&c);
	free(err);
	free(got);

	/* registry with credentials */
	cfg = path_in(tmp, "docker-config");
	fs_mkdir_p(cfg, 0700);
	if (!run(NULL, docker, "--config", cfg, "login", "-u", "gpuslim", "-p", "gpuslim-test",
		 "127.0.0.1:5001", NULL) &&
	    !run(NULL, docker, "tag", tag, pushed_auth, NULL) &&
	    !run(NULL, docker, "--config", cfg, "push", pushed_auth, NULL)) {
		struct registry_opts ro = {0};
		struct registry_client *rc;
		struct image *img = NULL;

		ro.username = "gpuslim";
		ro.password = "gpuslim-test";
		ro.docker_config = tmp; /* no config.json there */
		rc = registry_client_new(&ro);
		o.registry = rc;
		collect_init(&c);
		got = read_image(pushed_auth, &o, &code, &err, &c);
		CHECK(got && !strcmp(got, ref),
		      "real: registry 127.0.0.1:5001 with credentials (%s)", err ? err : "ok");
		collect_release(&c);
		free(err);
		free(got);
		if (!image_open(pushed_auth, &o, &img) && !image_walk(img, NULL)) {
			const struct image_layer *l = image_get_layer(img, 0);

			CHECK(l && l->compressed_size > 0 && l->compressed_size < l->size &&
				  l->media_type && strstr(l->media_type, "gzip"),
			      "real: registry layers have compressed sizes and media types");
		}
		image_close(img);
		registry_client_free(rc);
		o.registry = NULL;
		ro.username = ro.password = NULL;
		rc = registry_client_new(&ro);
		o.registry = rc;
		CHECK(image_open(pushed_auth, &o, &img) == GS_EINVAL,
		      "real: 127.0.0.1:5001 without credentials refused: %s", error_last());
		image_close(img);
		registry_client_free(rc);
		o.registry = NULL;
		run(NULL, docker, "rmi", pushed_auth, NULL);
	} else {
		CHECK(0, "real: pushed to 127.0.0.1:5001 with credentials");
	}
	free(cfg);

	/* not found, per source */
	{
		struct image *img = NULL;

		o.source = IMAGE_SOURCE_ENGINE;
		CHECK(image_open("gpuslim-test/no-such-image:404", &o, &img) == GS_ENOTFOUND,
		      "engine: absent image: %s", error_last());
		o.source = IMAGE_SOURCE_REGISTRY;
		CHECK(image_open("127.0.0.1:5000/gpuslim-test/no-such-image:404", &o, &img) ==
			  GS_ENOTFOUND,
		      "registry: absent image: %s", error_last());
		o.source = IMAGE_SOURCE_AUTO;
		CHECK(image_open("127.0.0.1:5000/gpuslim-test/no-such-image:404", &o, &img) ==
			  GS_ENOTFOUND,
		      "auto: absent everywhere: %s", error_last());
	}
	run(NULL, docker, "rmi", pushed, NULL);
	unlink(save);
	free(save);
done:
	run(NULL, docker, "rmi", tag, NULL);
	free(ref);
	free(df);
skip:
	free(ctx);
	free(tag);
	free(pushed);
	free(pushed_auth);
}

/* ---- the registry client against the registries docker pushes to ------- */

/* The RepoDigests entry of `image` for `registry`, from the engine. */
static char *repo_digest_for(const struct engine *e, const char *image, const char *registry)
{
	struct process p;
	struct process_result r;
	char *line, *found = NULL, *save = NULL;

	process_init(&p);
	vec_pushstr(&p.argv, e->docker);
	vec_pushstr(&p.argv, "image");
	vec_pushstr(&p.argv, "inspect");
	vec_pushstr(&p.argv, "--format");
	vec_pushstr(&p.argv, "{{range .RepoDigests}}{{println .}}{{end}}");
	vec_pushstr(&p.argv, image);
	p.stdin_null = 1;
	if (process_run(&p, 30000, &r) == 0 && r.exited && r.exit_code == 0)
		for (line = strtok_r(p.out.buf, "\n", &save); line && !found;
		     line = strtok_r(NULL, "\n", &save))
			if (starts_with(line, registry) && line[strlen(registry)] == '/' &&
			    strchr(line, '@'))
				found = xstrdup(strchr(line, '@') + 1);
	process_release(&p);
	return found;
}

static void test_registries(const struct engine *e)
{
	static const char *repo = "gpuslim-test/registry-real";
	struct registry_client *c;
	struct registry_opts o = {0};
	struct vec tags = VEC_INIT(free);
	/* per process: test runs of other checkouts share the registries */
	char *tag = xstrfmt("t%d", (int)getpid());
	char *local = xstrfmt("%s:%s", repo, tag);
	char *open_ref = xstrfmt("127.0.0.1:5000/%s", local);
	char *auth_ref = xstrfmt("127.0.0.1:5001/%s", local);
	char *dconf = xstrfmt("%s/dockercfg", tmp), *emptyconf = xstrfmt("%s/empty", tmp);
	char *cfg = xstrfmt("%s/config.json", dconf), *tar = xstrfmt("%s/img.tar", tmp);
	char *hello = xstrfmt("%s/hello", tmp), *want = NULL, *got = NULL;
	/* gpuslim:gpuslim-test, the credentials start-registry.sh sets up. */
	const char *json =
	    "{\"auths\":{\"127.0.0.1:5001\":{\"auth\":\"Z3B1c2xpbTpncHVzbGltLXRlc3Q=\"}}}";

	mkdir(dconf, 0700);
	mkdir(emptyconf, 0700);
	fs_write_atomic(cfg, json, strlen(json));
	/* A one-file image made here: no pull, no network. */
	fs_write_atomic(hello, "gpuslim registry test\n", 22);
	if (run(NULL, "tar", "--mtime=2020-01-01", "-C", tmp, "-cf", tar, "hello", NULL) ||
	    run(NULL, e->docker, "import", tar, local, NULL)) {
		CHECK(0, "making the test image");
		goto out;
	}
	o.timeout_ms = 5000;
	o.docker_config = emptyconf;

	if (!run(NULL, e->docker, "tag", local, open_ref, NULL) &&
	    !run(NULL, e->docker, "push", open_ref, NULL)) {
		c = registry_client_new(&o);
		want = repo_digest_for(e, local, "127.0.0.1:5000");
		CHECK(registry_resolve_digest(c, "127.0.0.1:5000", repo, tag, &got, NULL) == 0 &&
			  want && got && !strcmp(want, got),
		      "127.0.0.1:5000: the digest is the one docker push reports (%s, %s)",
		      got ? got : error_last(), want ? want : "?");
		CHECK(registry_list_tags(c, "127.0.0.1:5000", repo, 0, &tags) == 0 &&
			  vec_findstr(&tags, tag) >= 0,
		      "127.0.0.1:5000: the tag is listed");
		free(got);
		got = NULL;
		CHECK(registry_resolve_digest(c, "127.0.0.1:5000", repo, "gone", &got, NULL) ==
			      GS_ENOTFOUND &&
			  !strcmp(error_last(), "'127.0.0.1:5000/gpuslim-test/registry-real:gone' "
						"does not exist in the registry"),
		      "127.0.0.1:5000: a missing tag is GS_ENOTFOUND");
		vec_release(&tags);
		free(want);
		free(got);
		want = got = NULL;
		registry_client_free(c);
	} else {
		CHECK(0, "push to 127.0.0.1:5000");
	}

	if (!run(NULL, e->docker, "tag", local, auth_ref, NULL) &&
	    !run(NULL, e->docker, "--config", dconf, "push", auth_ref, NULL)) {
		want = repo_digest_for(e, local, "127.0.0.1:5001");
		o.docker_config = dconf;
		c = registry_client_new(&o);
		CHECK(registry_resolve_digest(c, "127.0.0.1:5001", repo, tag, &got, NULL) == 0 &&
			  want && got && !strcmp(want, got),
		      "127.0.0.1:5001: credentials from config.json, the pushed digest (%s)",
		      got ? got : error_last());
		registry_client_free(c);
		free(got);
		got = NULL;

		o.docker_config = emptyconf;
		o.username = "gpuslim";
		o.password = "gpuslim-test";
		c = registry_client_new(&o);
		{
			struct strbuf body = STRBUF_INIT;

			CHECK(registry_get_manifest(c, "127.0.0.1:5001", repo, tag, NULL, &body,
						    &got, NULL) == 0 &&
				  got && want && !strcmp(got, want),
			      "127.0.0.1:5001: the manifest with explicit credentials");
			strbuf_release(&body);
		}
		registry_client_free(c);
		free(got);
		got = NULL;

		o.password = "not-the-password";
		c = registry_client_new(&o);
		CHECK(registry_resolve_digest(c, "127.0.0.1:5001", repo, tag, &got, NULL) ==
			  GS_EINVAL,
		      "127.0.0.1:5001: wrong credentials are GS_EINVAL");
		CHECK_STR(error_last(),
			  "registry '127.0.0.1:5001' refused the credentials for user 'gpuslim'",
			  "127.0.0.1:5001: refusal message");
		registry_client_free(c);

		o.username = o.password = NULL;
		c = registry_client_new(&o);
		CHECK(registry_resolve_digest(c, "127.0.0.1:5001", repo, tag, &got, NULL) ==
			      GS_EINVAL &&
			  strstr(error_last(), "requires credentials for "
					       "'127.0.0.1:5001/gpuslim-test/registry-real:t"),
		      "127.0.0.1:5001: no credentials: %s", error_last());
		registry_client_free(c);
	} else {
		CHECK(0, "push to 127.0.0.1:5001");
	}
	engine_rmi(e, open_ref);
	engine_rmi(e, auth_ref);
	engine_rmi(e, local);
out:
	free(want);
	free(got);
	free(cfg);
	free(tar);
	free(hello);
	free(dconf);
	free(emptyconf);
	free(open_ref);
	free(auth_ref);
	free(local);
	free(tag);
}

/* `gpuslim plan --resolve` pins the fixture bases at the digests the engine pulled. */
static void test_plan_fixtures(const struct engine *e)
{
	struct process p;
	struct process_result r;
	json_t *doc = NULL, *cell;

	process_init(&p);
	vec_pushstr(&p.argv, "./gpuslim");
	vec_pushstr(&p.argv, "plan");
	vec_pushstr(&p.argv, "recipes/cuda-vadd/gpuslim.yaml");
	vec_pushstr(&p.argv, "--resolve");
	vec_pushstr(&p.argv, "--json");
	p.stdin_null = 1;
	CHECK(process_run(&p, 60000, &r) == 0 && r.exited && r.exit_code == 0,
	      "gpuslim plan recipes/cuda-vadd --resolve --json succeeds");
	doc = json_loads(p.out.buf ? p.out.buf : "", 0, NULL);
	cell = json_array_get(json_object_get(doc, "cells"), 0);
	CHECK(cell != NULL, "it prints a plan");
	for (int i = 0; cell && i < 2; i++) {
		json_t *img = json_object_get(cell, i ? "final" : "builder");
		const char *ref = json_string_value(json_object_get(img, "ref"));
		const char *got = json_string_value(json_object_get(img, "digest"));
		char *want = ref ? repo_digest_for(e, ref, "127.0.0.1:5000") : NULL;

		CHECK(want != NULL, "the engine has a RepoDigest for %s", ref ? ref : "?");
		if (want)
			CHECK_STR(got, want,
				  i ? "final digest is the engine's RepoDigest"
				    : "builder digest is the engine's RepoDigest");
		free(want);
	}
	json_decref(doc);
	process_release(&p);
}

int main(void)
{
	struct engine e = {0};
	char *abs;

	snprintf(tmp, sizeof(tmp), "/tmp/gpuslim-engine-real.XXXXXX");
	if (!mkdtemp(tmp)) {
		CHECK(0, "setup: a temporary directory");
		return unit_done();
	}
	abs = fs_abspath("tests/fake/image_tars.py");
	snprintf(script, sizeof(script), "%s", abs);
	free(abs);

	e.timeout_ms = 5000;
	if (test_detection(&e) == 0) {
		test_registries(&e);
		test_plan_fixtures(&e);
	}
	engine_release(&e);
	test_real_image();

	run(NULL, "rm", "-rf", tmp, NULL);
	return unit_done();
}
