/*
 * The registry client against tests/fake/registry_fake.py, a
 * fault-injecting registry this test starts on a free port. The machine's
 * own registries (127.0.0.1:5000 open, :5001 htpasswd) are
 * tests/integration/engine_real.c's.
 */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/registry.h"
#include "fake_registry.h"
#include "unit.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/process.h"

static char tmp[64];
static char host[64]; /* "127.0.0.1:PORT" of the fake */
static char blob_digest[80];
static char manifest_digest[80];

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t curl_collect(char *b, size_t s, size_t n, void *data)
{
	strbuf_add(data, b, s * n);
	return s * n;
}

/* Token fetches the fake has served so far. */
static long fake_token_count(void)
{
	struct strbuf sb = STRBUF_INIT;
	char *url = xstrfmt("http://%s/stats", host);
	CURL *h = curl_easy_init();
	const char *t;
	long n = -1;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sb);
	if (curl_easy_perform(h) == CURLE_OK && (t = strstr(sb.buf, "\"token\": ")))
		n = strtol(t + 9, NULL, 10);
	curl_easy_cleanup(h);
	free(url);
	strbuf_release(&sb);
	return n;
}

/* 4 tries, waits of a few ms: faults cost the test no time (tests/integration/
 * test_registry_faults.sh checks the real waits and Retry-After). */
static const struct retry_policy quick = {4, 2, 10000, 30000};

static struct registry_client *client(const char *user, const char *pass, long timeout_ms)
{
	struct registry_opts o = {0};

	o.retry = &quick;
	o.username = user;
	o.password = pass;
	o.timeout_ms = timeout_ms;
	o.docker_config = tmp; /* no config.json there unless a test writes one */
	return registry_client_new(&o);
}

static void test_ref_parse(void)
{
	struct registry_ref r;

	CHECK(registry_ref_parse("ubuntu:22.04", &r) == 0 && !strcmp(r.registry, "docker.io") &&
		  !strcmp(r.repository, "library/ubuntu") && !strcmp(r.tag, "22.04") && !r.digest,
	      "ubuntu:22.04 is docker.io/library/ubuntu");
	registry_ref_release(&r);
	CHECK(registry_ref_parse("127.0.0.1:5000/gpuslim-fixtures/cuda:13.0.0-base", &r) == 0 &&
		  !strcmp(r.registry, "127.0.0.1:5000") &&
		  !strcmp(r.repository, "gpuslim-fixtures/cuda") && !strcmp(r.tag, "13.0.0-base"),
	      "a local registry reference");
	registry_ref_release(&r);
	CHECK(registry_ref_parse("localhost/x@sha256:"
				 "0000000000000000000000000000000000000000000000000000000000000000",
				 &r) == 0 &&
		  !strcmp(r.registry, "localhost") && !strcmp(r.repository, "x") && !r.tag &&
		  r.digest,
	      "a digest reference on localhost");
	registry_ref_release(&r);
	CHECK(registry_ref_parse("nvidia/cuda", &r) == 0 && !strcmp(r.repository, "nvidia/cuda") &&
		  !r.tag,
	      "no tag: none set");
	registry_ref_release(&r);
	CHECK(registry_ref_parse("Nvidia/CUDA:1", &r) == GS_EINVAL, "uppercase is refused");
	CHECK_STR(error_last(), "'Nvidia/CUDA:1' is not a valid image reference",
		  "bad ref message");
	CHECK(registry_ref_parse("x@sha256:12", &r) == GS_EINVAL, "a short digest is refused");
}

static void test_resolve(void)
{
	struct registry_client *c = client(NULL, NULL, 0);
	struct strbuf body = STRBUF_INIT;
	char *d = NULL, *d2 = NULL, *mt = NULL, *want;
	char hex[65];

	CHECK(registry_get_manifest(c, host, "ok/img", "v1", NULL, &body, &d, &mt) == 0,
	      "get a manifest (%s)", error_last());
	hash_sha256_hex(body.buf, body.len, hex);
	want = xstrfmt("sha256:%s", hex);
	snprintf(manifest_digest, sizeof(manifest_digest), "%s", want);
	CHECK_STR(d, want, "its digest is the body's sha256");
	CHECK_STR(mt, "application/vnd.oci.image.manifest.v1+json", "its media type");
	free(d);
	free(mt);

	CHECK(registry_resolve_digest(c, host, "ok/img", "v1", &d, &mt) == 0, "resolve by HEAD");
	CHECK_STR(d, want, "HEAD gives the same digest");
	CHECK_STR(mt, "application/vnd.oci.image.manifest.v1+json", "HEAD gives the media type");
	free(mt);
	CHECK(registry_resolve_digest(c, host, "nodigest/img", "v1", &d2, NULL) == 0 && d2 &&
		  !strcmp(d2, want),
	      "no Docker-Content-Digest: the body is hashed (%s)", error_last());
	free(d2);
	CHECK(registry_resolve_digest(c, host, "headless/img", "v1", &d2, NULL) == 0 && d2 &&
		  !strcmp(d2, want),
	      "HEAD refused (405): GET instead");
	free(d2);
	CHECK(registry_resolve_digest(c, host, "ok/img", d, &d2, NULL) == 0 && d2 &&
		  !strcmp(d2, want),
	      "resolve by digest");
	free(d2);
	strbuf_reset(&body);
	CHECK(registry_get_manifest(c, host, "ok/img", d, NULL, &body, NULL, NULL) == 0 &&
		  body.len > 0,
	      "get a manifest by digest");
	free(d);

	CHECK(registry_resolve_digest(c, host, "lying/img", "v1", &d, NULL) == GS_EINVAL && !d,
	      "a digest that does not match the body is refused");
	CHECK(strstr(error_last(), "that does not match its digest") != NULL, "mismatch: %s",
	      error_last());
	free(want);

	want = xstrfmt("'%s/ok/img:gone' does not exist in the registry", host);
	CHECK(registry_resolve_digest(c, host, "ok/img", "gone", &d, NULL) == GS_ENOTFOUND,
	      "a deleted tag is GS_ENOTFOUND");
	CHECK_STR(error_last(), want, "deleted tag message");
	free(want);
	want = xstrfmt("'%s/no/such:v1' does not exist in the registry", host);
	CHECK(registry_get_manifest(c, host, "no/such", "v1", NULL, &body, NULL, NULL) ==
		  GS_ENOTFOUND,
	      "an unknown repository is GS_ENOTFOUND");
	CHECK_STR(error_last(), want, "unknown repository message");
	free(want);

	want = xstrfmt("registry '%s' answered 500 Internal Server Error for '%s/err500/img:v1' "
		       "after 4 tries",
		       host, host);
	CHECK(registry_resolve_digest(c, host, "err500/img", "v1", &d, NULL) == GS_EINFRA,
	      "500 is GS_EINFRA");
	CHECK_STR(error_last(), want, "500 message");
	free(want);

	CHECK(registry_resolve_digest(c, host, "ok/img", "../../etc", &d, NULL) == GS_EINVAL,
	      "a tag outside the grammar never reaches a URL");
	CHECK(registry_resolve_digest(c, "127.0.0.1:1", "x/y", "v1", &d, NULL) == GS_EINFRA,
	      "nothing listening: GS_EINFRA");
	CHECK_STR(error_last(),
		  "cannot reach registry '127.0.0.1:1': connection refused after 4 tries",
		  "connection refused message");
	strbuf_release(&body);
	registry_client_free(c);
}

static void test_limits(void)
{
	struct registry_client *c = client(NULL, NULL, 500);
	struct registry_opts o = {0};
	struct strbuf body = STRBUF_INIT;
	char *d = NULL, *want;
	long long t0 = ms_now();

	want =
	    xstrfmt("registry '%s' did not answer within 500 ms for '%s/slow/img:v1' after 4 tries",
		    host, host);
	CHECK(registry_resolve_digest(c, host, "slow/img", "v1", &d, NULL) == GS_EINFRA,
	      "a registry that hangs is GS_EINFRA");
	CHECK_STR(error_last(), want, "timeout message");
	/* The fake answers after 600 s: only the client's timeout ends it soon. */
	CHECK(ms_now() - t0 < 300000, "the timeout ended the wait (%lld ms)", ms_now() - t0);
	free(want);
	registry_client_free(c);

	o.body_cap = 65536;
	o.docker_config = tmp;
	c = registry_client_new(&o);
	CHECK(registry_get_manifest(c, host, "big/img", "v1", NULL, &body, &d, NULL) == GS_EINVAL &&
		  body.len == 0,
	      "a manifest over the cap is refused");
	CHECK(strstr(error_last(), "sent more than 65536 bytes for") != NULL, "cap message: %s",
	      error_last());
	strbuf_release(&body);
	registry_client_free(c);
}

static void test_tags(void)
{
	struct registry_client *c = client(NULL, NULL, 0);
	struct vec tags = VEC_INIT(free);
	struct strbuf sb = STRBUF_INIT;

	CHECK(registry_list_tags(c, host, "paged/img", 2, &tags) == 0, "paged tags (%s)",
	      error_last());
	for (size_t i = 0; i < tags.nr; i++)
		strbuf_addf(&sb, "%s%s", i ? " " : "", (char *)tags.items[i]);
	CHECK_STR(sb.buf, "1.0 1.1 1.2 2.0 latest", "every page, in order");
	vec_release(&tags);
	CHECK(registry_list_tags(c, host, "paged/img", 0, &tags) == 0 && tags.nr == 5,
	      "one page without n=");
	vec_release(&tags);
	CHECK(registry_list_tags(c, host, "garbage/img", 0, &tags) == GS_EINVAL && tags.nr == 0,
	      "a tag list that is not JSON is GS_EINVAL");
	CHECK(strstr(error_last(), "sent invalid JSON for the tags of") != NULL, "garbage: %s",
	      error_last());
	CHECK(registry_list_tags(c, host, "no/such", 0, &tags) == GS_ENOTFOUND,
	      "tags of an unknown repository: GS_ENOTFOUND");
	vec_release(&tags);
	strbuf_release(&sb);
	registry_client_free(c);
}

/*
 * Credential helpers named by config.json (credHelpers, credsStore), on
 * tests/fake/docker-credential-test: the Docker CLI's order, one run per
 * process, config and registry with the server on stdin, and every failure a
 * message that names the helper and holds no secret.
 */
static const char *planted = "planted-Secret-7f3a"; /* in the store, never in a message */
static char cred_dir[128];			    /* the docker config of cred_client() */

/* A client on a new docker config directory (credentials are cached per config) whose
 * config.json is the printf of FMT; STORE: the fake helper's store ("SERVER USER SECRET"
 * lines), or NULL. */
static struct registry_client *cred_client(const char *store, const char *fmt, ...) GS_FMT(2, 3);
static struct registry_client *cred_client(const char *store, const char *fmt, ...)
{
	static int n;
	struct registry_opts o = {0};
	struct strbuf config = STRBUF_INIT;
	char *cfg, *st, *log;
	va_list ap;

	snprintf(cred_dir, sizeof(cred_dir), "%s/config%d", tmp, ++n);
	mkdir(cred_dir, 0700);
	cfg = xstrfmt("%s/config.json", cred_dir);
	va_start(ap, fmt);
	strbuf_vaddf(&config, fmt, ap);
	va_end(ap);
	fs_write_atomic(cfg, config.buf, config.len);
	st = xstrfmt("%s/creds", tmp);
	log = xstrfmt("%s/creds.log", tmp);
	if (store)
		fs_write_atomic(st, store, strlen(store));
	unlink(log);
	setenv("FAKE_CRED_STORE", st, 1);
	setenv("FAKE_CRED_LOG", log, 1);
	free(cfg);
	strbuf_release(&config);
	free(st);
	free(log);
	o.docker_config = cred_dir;
	return registry_client_new(&o);
}

/* Resolve basic/img:v1; its code, and the message in *err (no secret in it). */
static int cred_resolve(struct registry_client *c, const char **err)
{
	char *d = NULL;
	int ret = registry_resolve_digest(c, host, "basic/img", "v1", &d, NULL);

	free(d);
	*err = error_last();
	CHECK(!strstr(*err, planted) && !strstr(*err, "gpuslim-test"), "no secret in '%s'", *err);
	return ret;
}

static void test_auth(void)
{
	struct registry_client *c = client("gpuslim", "gpuslim-test", 0);
	char *d = NULL, *want;
	long before;

	before = fake_token_count();
	CHECK(registry_resolve_digest(c, host, "bearer/img", "v1", &d, NULL) == 0 && d &&
		  !strcmp(d, manifest_digest),
	      "Bearer: 401, token with credentials, retry (%s)", error_last());
	free(d);
	CHECK(registry_resolve_digest(c, host, "bearer/img", "v1", &d, NULL) == 0, "Bearer: again");
	free(d);
	CHECK(fake_token_count() - before == 1, "the token is fetched once and cached");
	CHECK(registry_resolve_digest(c, host, "basic/img", "v1", &d, NULL) == 0, "Basic auth");
	free(d);
	registry_client_free(c);

	c = client("gpuslim", "wrong", 0);
	want = xstrfmt("registry '%s' refused the credentials for user 'gpuslim'", host);
	CHECK(registry_resolve_digest(c, host, "bearer/img", "v1", &d, NULL) == GS_EINVAL,
	      "Bearer with wrong credentials: GS_EINVAL");
	CHECK_STR(error_last(), want, "Bearer refusal message");
	CHECK(registry_resolve_digest(c, host, "basic/img", "v1", &d, NULL) == GS_EINVAL,
	      "Basic with wrong credentials: GS_EINVAL");
	CHECK_STR(error_last(), want, "Basic refusal message");
	free(want);
	registry_client_free(c);

	c = client(NULL, NULL, 0);
	CHECK(registry_resolve_digest(c, host, "anon/img", "v1", &d, NULL) == 0,
	      "anonymous Bearer token");
	free(d);
	CHECK(registry_resolve_digest(c, host, "basic/img", "v1", &d, NULL) == GS_EINVAL &&
		  strstr(error_last(), "requires credentials for"),
	      "Basic without credentials: %s", error_last());

	/* Credentials from config.json, as `docker login` leaves them. They are read once
	 * per process, config and registry: this config is a new one. */
	registry_client_free(c);
	c = cred_client(
	    NULL, "{\"auths\":{\"http://%s\":{\"auth\":\"Z3B1c2xpbTpncHVzbGltLXRlc3Q=\"}}}", host);
	CHECK(registry_resolve_digest(c, host, "basic/img", "v1", &d, NULL) == 0,
	      "Basic with credentials from config.json (%s)", error_last());
	free(d);
	CHECK(registry_resolve_digest(c, host, "bearer/img", "v1", &d, NULL) == 0,
	      "Bearer with credentials from config.json");
	free(d);
	registry_client_free(c);
}

static void test_cred_helpers(void)
{
	char *old_path = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	char *root =
	    fs_abspath(getenv("GS_SRCDIR") && *getenv("GS_SRCDIR") ? getenv("GS_SRCDIR") : ".");
	char *path = xstrfmt("%s/tests/fake:%s", root, old_path);
	char *good = xstrfmt("%s gpuslim gpuslim-test\n", host);
	char *wrong = xstrfmt("%s gpuslim %s\n", host, planted);
	char *log = xstrfmt("%s/creds.log", tmp), *want;
	struct strbuf asked = STRBUF_INIT;
	struct registry_client *c, *c2;
	const char *err;
	char *d = NULL;

	setenv("PATH", path, 1);
	/* credHelpers for this registry wins over credsStore and auths (both would fail). */
	c = cred_client(good,
			"{\"auths\":{\"%s\":{\"auth\":\"Z3B1c2xpbTp3cm9uZw==\"}},"
			"\"credsStore\":\"nosuch\","
			"\"credHelpers\":{\"other.example\":\"nosuch\",\"%s\":\"test\"}}",
			host, host);
	CHECK(cred_resolve(c, &err) == 0, "credHelpers: the registry's helper answers (%s)", err);
	CHECK(registry_resolve_digest(c, host, "bearer/img", "v1", &d, NULL) == 0,
	      "credHelpers: a token fetched with them (%s)", error_last());
	free(d);
	/* A second client on the same config: the process asked already. */
	{
		struct registry_opts o = {0};

		o.docker_config = cred_dir;
		c2 = registry_client_new(&o);
		CHECK(cred_resolve(c2, &err) == 0, "a second client has them too (%s)", err);
		registry_client_free(c2);
	}
	fs_read_file(log, &asked, 0);
	want = xstrfmt("%s\n", host);
	CHECK_STR(asked.buf, want, "the helper is asked once per process, the server on stdin");
	free(want);
	registry_client_free(c);

	/* credsStore, when credHelpers names other registries only. */
	c = cred_client(good,
			"{\"credsStore\":\"test\",\"credHelpers\":{\"other.example\":\"nosuch\"}}");
	CHECK(cred_resolve(c, &err) == 0, "credsStore answers (%s)", err);
	registry_client_free(c);

	/* Each failure: its code and exact message ({host}, {config}: the fake registry's
	 * host, the config directory), which names the helper and never the secret. */
	{
		static const struct {
			const char *what, *mode, *config;
			int wrong_store, code;
			const char *want;
		} cases[] = {
		    {"the helper has none for the registry", NULL, "{\"credsStore\":\"test\"}", 0,
		     GS_EINVAL,
		     "registry '{host}' requires credentials for '{host}/basic/img:v1': none given "
		     "and none in docker-credential-test (docker login {host})"},
		    {"credentials the registry refuses", NULL, "{\"credsStore\":\"test\"}", 1,
		     GS_EINVAL,
		     "registry '{host}' refused the credentials for user 'gpuslim' (from "
		     "docker-credential-test)"},
		    {"a helper that is not installed", NULL, "{\"credsStore\":\"nosuch\"}", 1,
		     GS_EINFRA,
		     "cannot get credentials for '{host}': the credential helper "
		     "'docker-credential-nosuch' that '{config}/config.json' names is not on PATH"},
		    {"a helper that fails", "fail", "{\"credsStore\":\"test\"}", 1, GS_EINFRA,
		     "cannot get credentials for '{host}': 'docker-credential-test' exited with "
		     "code 3: the store is locked"},
		    {"a helper that answers garbage", "garbage", "{\"credsStore\":\"test\"}", 1,
		     GS_EINFRA,
		     "cannot get credentials for '{host}': 'docker-credential-test' answered no "
		     "Username and Secret"},
		    {"a helper that prints its answer, then fails", "answer-fail",
		     "{\"credsStore\":\"test\"}", 1, GS_EINFRA,
		     "cannot get credentials for '{host}': 'docker-credential-test' exited with "
		     "code 1"},
		    {"an identity token", "token", "{\"credsStore\":\"test\"}", 1, GS_EINFRA,
		     "cannot get credentials for '{host}': 'docker-credential-test' holds an "
		     "identity token, which gpuslim cannot use (log in with a password or an "
		     "access token)"},
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
			struct strbuf msg = STRBUF_INIT;

			if (cases[i].mode)
				setenv("FAKE_CRED_MODE", cases[i].mode, 1);
			else
				unsetenv("FAKE_CRED_MODE");
			c = cred_client(cases[i].wrong_store ? wrong : "127.0.0.1:1 gpuslim x\n",
					"%s", cases[i].config);
			for (const char *w = cases[i].want; *w; w++) {
				if (starts_with(w, "{host}"))
					strbuf_addstr(&msg, host), w += 5;
				else if (starts_with(w, "{config}"))
					strbuf_addstr(&msg, cred_dir), w += 7;
				else
					strbuf_addch(&msg, *w);
			}
			CHECK(cred_resolve(c, &err) == cases[i].code, "%s: code %d", cases[i].what,
			      cases[i].code);
			CHECK_STR(err, msg.buf, cases[i].what);
			/* the same again: a helper's failure is not remembered as "none" */
			CHECK(cred_resolve(c, &err) == cases[i].code && !strcmp(err, msg.buf),
			      "%s, again", cases[i].what);
			strbuf_release(&msg);
			registry_client_free(c);
		}
	}

	unsetenv("FAKE_CRED_MODE");
	unsetenv("FAKE_CRED_STORE");
	unsetenv("FAKE_CRED_LOG");
	setenv("PATH", old_path, 1);
	strbuf_release(&asked);
	free(old_path);
	free(root);
	free(path);
	free(good);
	free(wrong);
	free(log);
}

struct blob_sink {
	size_t bytes;
	int fail_after;
};

static int blob_sink(void *data, const void *buf, size_t len)
{
	struct blob_sink *s = data;

	s->bytes += len;
	if (s->fail_after && s->bytes > (size_t)s->fail_after)
		return error_set("disk full while writing 'layer.tar'");
	return 0;
}

static void test_blobs(void)
{
	struct registry_client *c = client(NULL, NULL, 0);
	struct blob_sink s = {0, 0};

	CHECK(registry_get_blob(c, host, "ok/img", blob_digest, blob_sink, &s) == 0 &&
		  s.bytes == 130000,
	      "a blob through a redirect, streamed and verified (%zu bytes, %s)", s.bytes,
	      error_last());
	s.bytes = 0;
	CHECK(registry_get_blob(c, host, "lying/img", blob_digest, blob_sink, &s) == GS_EINVAL &&
		  strstr(error_last(), "sent a blob for"),
	      "a blob that does not match its digest: GS_EINVAL");
	s.bytes = 0;
	s.fail_after = 1000;
	CHECK(registry_get_blob(c, host, "ok/img", blob_digest, blob_sink, &s) == GS_ERR,
	      "a sink that fails stops the transfer");
	CHECK_STR(error_last(), "disk full while writing 'layer.tar'", "the sink's error stands");
	s.fail_after = 0;
	CHECK(registry_get_blob(c, host, "ok/img", manifest_digest, blob_sink, &s) == GS_ENOTFOUND,
	      "an unknown blob: GS_ENOTFOUND");
	registry_client_free(c);
}

struct thread_arg {
	struct registry_client *c;
	int ok;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;

	a->ok = 1;
	for (int i = 0; i < 5; i++) {
		char *d = NULL;

		if (registry_resolve_digest(a->c, host, i % 2 ? "bearer/img" : "basic/img", "v1",
					    &d, NULL) < 0)
			a->ok = 0;
		free(d);
	}
	return NULL;
}

static void test_threads(void)
{
	struct registry_client *c = client("gpuslim", "gpuslim-test", 0);
	struct thread_arg args[4];
	pthread_t th[4];
	int ok = 1;

	for (int i = 0; i < 4; i++) {
		args[i].c = c;
		pthread_create(&th[i], NULL, thread_main, &args[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ok &= args[i].ok;
	}
	CHECK(ok, "4 threads share one client");
	registry_client_free(c);
}

/* ---- the machine's registries ---- */

int main(void)
{
	struct process fake;
	long long t0 = ms_now();
	static char blob[130001];
	char hex[65];

	snprintf(tmp, sizeof(tmp), "/tmp/gs-registry-XXXXXX");
	if (!mkdtemp(tmp)) {
		CHECK(0, "setup: a temporary directory");
		return unit_done();
	}
	for (int i = 0; i < 10000; i++)
		memcpy(blob + 13 * i, "gpuslim blob ", 13);
	hash_sha256_hex(blob, 130000, hex);
	snprintf(blob_digest, sizeof(blob_digest), "sha256:%s", hex);

	test_ref_parse();
	if (!fake_registry_start(&fake, "registry_fake.py", NULL, tmp, host, sizeof(host))) {
		CHECK(0, "the fake registry starts (tests/fake/registry_fake.py)");
	} else {
		test_resolve();
		test_limits();
		test_tags();
		test_auth();
		test_cred_helpers();
		test_blobs();
		test_threads();
	}
	process_release(&fake);
	printf("# fake registry checks took %lld ms\n", ms_now() - t0);

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
	return unit_done();
}
