/*
 * plan_resolve_images() against tests/fake/registry_tags.py, a registry
 * whose tags each check writes (the machine's fixture registry is
 * tests/integration/test_engine_real.sh's). Run from the repository root:
 * the built-in plugins are ./plugins.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/knowledge.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "core/registry.h"
#include "fake_registry.h"
#include "unit.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/process.h"
#include "util/strbuf.h"

/* Must match MANIFEST_FMT in tests/fake/registry_tags.py. */
#define MANIFEST_FMT                                                                               \
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","       \
	"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","                  \
	"\"digest\":\"sha256:%s\",\"size\":2},\"layers\":[],"                                      \
	"\"annotations\":{\"ref\":\"%s:%s\"}}"

static struct knowledge *kb;
static char tmp[64];
static char host[64];
static char *tagsfile;

/* The digest the fake serves for repo:tag. */
static char *want_digest(const char *repo, const char *tag)
{
	char zeros[65], hex[65];
	char *body;

	memset(zeros, '0', 64);
	zeros[64] = '\0';
	body = xstrfmt(MANIFEST_FMT, zeros, repo, tag);
	hash_sha256_hex(body, strlen(body), hex);
	free(body);
	return xstrfmt("sha256:%s", hex);
}

/* {"nvidia/cuda": [every flavor of each version for ubuntu22.04]}; a
 * version written "12.4.3:base" gets only that flavor. */
static void write_tags(const char *first, ...)
{
	static const char *const flavors[] = {"base", "runtime", "devel", "cudnn-runtime",
					      "cudnn-devel"};
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	int n = 0;

	strbuf_addstr(&sb, "{\"nvidia/cuda\": [");
	va_start(ap, first);
	for (const char *v = first; v; v = va_arg(ap, const char *)) {
		const char *colon = strchr(v, ':');

		for (size_t f = 0; f < sizeof(flavors) / sizeof(flavors[0]); f++) {
			if (colon && strcmp(colon + 1, flavors[f]))
				continue;
			strbuf_addf(&sb, "%s\"%.*s-%s-ubuntu22.04\"", n++ ? ", " : "",
				    colon ? (int)(colon - v) : (int)strlen(v), v, flavors[f]);
		}
	}
	va_end(ap);
	strbuf_addstr(&sb, "]}");
	fs_write_atomic(tagsfile, sb.buf, sb.len);
	strbuf_release(&sb);
}

static void write_raw(const char *json)
{
	fs_write_atomic(tagsfile, json, strlen(json));
}

static size_t curl_collect(char *b, size_t s, size_t n, void *data)
{
	strbuf_add(data, b, s * n);
	return s * n;
}

/* Requests the fake has counted: "tags" or "manifests". */
static long fake_count(const char *what)
{
	struct strbuf body = STRBUF_INIT;
	char *url = xstrfmt("http://%s/stats", host);
	CURL *h = curl_easy_init();
	json_t *doc = NULL;
	long n = -1;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	if (curl_easy_perform(h) == CURLE_OK && body.len)
		doc = json_loads(body.buf, 0, NULL);
	if (doc && json_is_integer(json_object_get(doc, what)))
		n = (long)json_integer_value(json_object_get(doc, what));
	json_decref(doc);
	curl_easy_cleanup(h);
	free(url);
	strbuf_release(&body);
	return n;
}

static struct registry_client *client(void)
{
	/* 4 tries, waits of a few ms: faults cost the test no time */
	static const struct retry_policy quick = {4, 2, 10000, 30000};
	struct registry_opts o = {0};

	o.timeout_ms = 5000;
	o.docker_config = tmp; /* no credentials */
	o.retry = &quick;
	return registry_client_new(&o);
}

struct run {
	struct vec diags;
	struct recipe *r;
	struct plan *p;
	int ret;
};

/* Plan `yaml` offline ({HOST} replaced by the fake's address), then
 * resolve it against `registry` (NULL: the fake). */
static void run_resolve(struct run *run, const char *yaml, const char *registry)
{
	static const char *const keys[] = {"HOST"};
	const char *values[] = {registry ? registry : host};
	char *text = kb_expand(yaml, keys, values, 1);
	struct registry_client *c;

	memset(run, 0, sizeof(*run));
	vec_init(&run->diags, free);
	run->ret = -100;
	if (recipe_parse("test.yaml", text, strlen(text), &run->r, &run->diags) < 0 ||
	    plan_build(run->r, kb, &run->p, &run->diags) < 0) {
		printf("# offline plan failed: %s\n",
		       run->diags.nr ? (char *)run->diags.items[0] : error_last());
		free(text);
		return;
	}
	free(text);
	c = client();
	run->ret = plan_resolve_images(run->p, c, &run->diags);
	registry_client_free(c);
}

static void run_release(struct run *run)
{
	plan_free(run->p);
	recipe_free(run->r);
	vec_release(&run->diags);
}

static const char *first_diag(const struct run *run)
{
	return run->diags.nr ? run->diags.items[0] : NULL;
}

/* What went wrong, for a failing check's line. */
static const char *why(const struct run *run)
{
	if (!run->ret)
		return "";
	return first_diag(run) ? first_diag(run) : error_last();
}

#define COMPILED                                                                                   \
	"name: t\n"                                                                                \
	"base: {os: ubuntu22.04, registry: \"{HOST}\"}\n"                                          \
	"cuda: \"%s\"\n"                                                                           \
	"app:\n"                                                                                   \
	"  build: [\"make\"]\n"                                                                    \
	"  artifacts: [/app/bin]\n"

static char *compiled(const char *cuda)
{
	return xstrfmt(COMPILED, cuda);
}

static void test_all_present(void)
{
	struct run run;
	char *yaml = xstrfmt(COMPILED "python: \"3.11\"\n"
				      "matrix:\n"
				      "  python: [\"3.10\", \"3.11\"]\n",
			     "12.4");
	char *devel = want_digest("nvidia/cuda", "12.4.1-devel-ubuntu22.04");
	char *base = want_digest("nvidia/cuda", "12.4.1-base-ubuntu22.04");
	char *reason;
	long tags0, man0;

	write_tags("12.4.0", "12.4.1", NULL);
	tags0 = fake_count("tags");
	man0 = fake_count("manifests");
	run_resolve(&run, yaml, NULL);
	CHECK(run.ret == 0, "every planned tag exists: resolves (%d%s)", run.ret, why(&run));
	if (run.ret)
		goto done;
	CHECK(run.p->cells_nr == 2, "two cells");
	for (size_t i = 0; i < run.p->cells_nr; i++) {
		const struct plan_cell *c = &run.p->cells[i];

		CHECK_STR(c->cuda.value, "12.4.1", "the table's patch stays");
		CHECK_STR(c->builder.digest, devel, "builder pinned by the registry's digest");
		CHECK_STR(c->final.digest, base, "final pinned by the registry's digest");
	}
	reason = xstrfmt("the compiled program ships with its library closure, so the final stage "
			 "takes base, the smallest flavor; pinned by digest from %s.",
			 host);
	CHECK_STR(run.p->cells[0].final.reason, reason, "the reason says where the digest is from");
	free(reason);
	CHECK(fake_count("tags") - tags0 == 1, "the repository is listed once for both cells");
	CHECK(fake_count("manifests") - man0 == 2,
	      "each of the two references is resolved once (%ld)", fake_count("manifests") - man0);
done:
	run_release(&run);
	free(yaml);
	free(devel);
	free(base);
}

static void test_deleted(void)
{
	struct run run;
	char *yaml = compiled("12.4");
	char *ref, *reason, *digest = want_digest("nvidia/cuda", "12.4.0-devel-ubuntu22.04");

	write_tags("12.4.0", NULL);
	run_resolve(&run, yaml, NULL);
	CHECK(run.ret == 0, "the table's 12.4.1 is gone: 12.4.0 takes its place (%d%s)", run.ret,
	      why(&run));
	if (run.ret)
		goto done;
	CHECK_STR(run.p->cells[0].cuda.value, "12.4.0", "cuda is the newest patch that exists");
	reason = xstrfmt("12.4 from the recipe's cuda resolves to 12.4.0: 12.4.1 is not in "
			 "%s/nvidia/cuda any more; 12.4.0 is the newest 12.4 patch it has for "
			 "ubuntu22.04.",
			 host);
	CHECK_STR(run.p->cells[0].cuda.reason, reason, "the plan says why");
	free(reason);
	CHECK_STR(run.p->cells[0].builder.tag, "12.4.0-devel-ubuntu22.04", "builder tag follows");
	ref = xstrfmt("%s/nvidia/cuda:12.4.0-base-ubuntu22.04", host);
	CHECK_STR(run.p->cells[0].final.ref, ref, "final ref follows");
	free(ref);
	CHECK_STR(run.p->cells[0].builder.digest, digest, "and is pinned");
	CHECK_STR(run.p->cells[0].driver_min, "550.54.14", "driver of 12.4.0 from cuda.json");
	CHECK_STR(run.p->cells[0].cuda_minor, "12.4", "same minor");
done:
	run_release(&run);
	free(yaml);
	free(digest);
}

static void test_newer_than_table(void)
{
	struct run run;
	char *yaml = compiled("12.4");
	const char *reason;

	/* 12.4.11 has no devel image, so the compiled cell cannot take it;
	 * 12.4.10 sorts after 12.4.2 as a number. */
	write_tags("12.4.0", "12.4.2", "12.4.10", "12.4.11:base", NULL);
	run_resolve(&run, yaml, NULL);
	CHECK(run.ret == 0, "a patch newer than the table resolves (%d%s)", run.ret, why(&run));
	if (run.ret)
		goto done;
	CHECK_STR(run.p->cells[0].cuda.value, "12.4.10",
		  "the newest patch with both the builder and the final image wins");
	reason = run.p->cells[0].cuda.reason;
	CHECK(reason && strstr(reason, "cuda.json does not know 12.4.10, so the driver and "
				       "NVIDIA_REQUIRE_CUDA are 12.4.1's."),
	      "the reason says the facts are the planned patch's: %s", reason ? reason : "");
	CHECK_STR(run.p->cells[0].driver_min, "550.54.15", "the minor's driver stays");
	CHECK(run.p->cells[0].require_cuda &&
		  starts_with(run.p->cells[0].require_cuda, "cuda>=12.4 "),
	      "require_cuda stays");
	CHECK_STR(run.p->cells[0].final.tag, "12.4.10-base-ubuntu22.04", "final tag");
done:
	run_release(&run);
	free(yaml);
}

static void test_cudnn_unknown_patch(void)
{
	struct run run;
	const char *yaml = "name: t\n"
			   "base: {os: ubuntu22.04, registry: \"{HOST}\"}\n"
			   "cuda: \"12.4\"\n"
			   "cudnn: true\n";

	/* 12.4.0 has no cuDNN images at all; 12.4.2 is spelled as 12.4.1
	 * spells them ("cudnn-runtime"). */
	write_tags("12.4.0", "12.4.2", NULL);
	run_resolve(&run, yaml, NULL);
	CHECK(run.ret == 0, "cudnn-runtime moves to an unknown patch (%d%s)", run.ret, why(&run));
	if (run.ret)
		goto done;
	CHECK_STR(run.p->cells[0].final.tag, "12.4.2-cudnn-runtime-ubuntu22.04", "cudnn final tag");
	CHECK(!run.p->cells[0].cudnn.value, "its cuDNN version is unknown, not guessed");
	CHECK(run.p->cells[0].cudnn.reason && strstr(run.p->cells[0].cudnn.reason, "unverified"),
	      "and the reason says so");
done:
	run_release(&run);
}

static void test_exact_pin_missing(void)
{
	struct run run;
	char *yaml = compiled("12.4.1");
	char *want;

	write_tags("12.4.0", "12.4.2", NULL);
	run_resolve(&run, yaml, NULL);
	CHECK(run.ret == GS_EINVAL, "an exact pin that vanished is an error, not a substitution");
	want = xstrfmt("test.yaml:3:7: cuda: '%s/nvidia/cuda:12.4.1-devel-ubuntu22.04' does not "
		       "exist in the registry; it has 12.4.0, 12.4.2 for ubuntu22.04",
		       host);
	CHECK_STR(first_diag(&run), want,
		  "the error points at the cuda value and says what exists");
	CHECK(run.diags.nr == 1, "one diagnostic");
	free(want);
	run_release(&run);
	free(yaml);

	yaml = compiled("12.4");
	write_raw("{\"nvidia/cuda\": [\"12.4.1-base-ubuntu22.04\", \"12.1.1-devel-ubuntu22.04\"]}");
	run_resolve(&run, yaml, NULL);
	CHECK(run.ret == GS_EINVAL, "no patch of the minor has both images: error");
	want = xstrfmt("test.yaml:3:7: cuda: '%s/nvidia/cuda:12.4.1-devel-ubuntu22.04' does not "
		       "exist in the registry, nor does any other 12.4 patch with devel and base "
		       "images for ubuntu22.04",
		       host);
	CHECK_STR(first_diag(&run), want, "the error says no patch fits");
	free(want);
	run_release(&run);
	free(yaml);

	/* A matrix value is blamed where the matrix wrote it. */
	yaml = xstrfmt(COMPILED "matrix:\n"
				"  cuda: [\"12.4\", \"12.4.1\"]\n",
		       "12.4");
	write_tags("12.4.0", NULL);
	run_resolve(&run, yaml, NULL);
	CHECK(run.ret == GS_EINVAL, "matrix: the exact cell fails");
	want = xstrfmt("test.yaml:8:18: matrix.cuda[1]: '%s/nvidia/cuda:12.4.1-devel-ubuntu22.04' "
		       "does not exist in the registry; it has 12.4.0 for ubuntu22.04",
		       host);
	CHECK_STR(first_diag(&run), want, "the diagnostic points at matrix.cuda[1]");
	CHECK(run.diags.nr == 1, "the substituted cell is fine");
	free(want);
	run_release(&run);
	free(yaml);
}

static void test_infra(void)
{
	struct run run;
	char *yaml = compiled("12.4");
	char *want;

	write_raw("{\"nvidia/cuda\": 500}");
	run_resolve(&run, yaml, NULL);
	CHECK(run.ret == GS_EINFRA, "a registry answering 500 is GS_EINFRA (%d)", run.ret);
	want = xstrfmt("registry '%s'", host);
	CHECK(strstr(error_last(), want) != NULL, "the message names the registry: %s",
	      error_last());
	free(want);
	run_release(&run);

	run_resolve(&run, yaml, "127.0.0.1:1");
	CHECK(run.ret == GS_EINFRA, "a refused connection is GS_EINFRA (%d)", run.ret);
	CHECK_STR(error_last(),
		  "cannot reach registry '127.0.0.1:1': connection refused after 4 tries",
		  "the message names the registry and the tries");
	run_release(&run);

	write_raw("{}");
	run_resolve(&run, yaml, NULL);
	CHECK(run.ret == GS_EINVAL, "a registry without the repository: GS_EINVAL");
	want = xstrfmt("test.yaml:2:7: base: '%s/nvidia/cuda' does not exist in the registry (the "
		       "default base.repository)",
		       host);
	CHECK_STR(first_diag(&run), want, "the diagnostic points at base");
	free(want);
	run_release(&run);
	free(yaml);
}

int main(void)
{
	struct process fake;

	if (!getenv("GPUSLIM_PLUGIN_DIR"))
		setenv("GPUSLIM_PLUGIN_DIR", "plugins", 1);
	if (knowledge_load(&kb, NULL) < 0) {
		printf("not ok 1 - cannot load plugins: %s\n", error_last());
		return unit_done() | 1;
	}
	snprintf(tmp, sizeof(tmp), "/tmp/gs-resolve-XXXXXX");
	if (!mkdtemp(tmp)) {
		CHECK(0, "setup: a temporary directory");
		knowledge_free(kb);
		return unit_done();
	}
	tagsfile = xstrfmt("%s/tags.json", tmp);
	write_raw("{}");
	if (!fake_registry_start(&fake, "registry_tags.py", tagsfile, tmp, host, sizeof(host))) {
		CHECK(0, "the fake registry starts (tests/fake/registry_tags.py)");
	} else {
		test_all_present();
		test_deleted();
		test_newer_than_table();
		test_cudnn_unknown_patch();
		test_exact_pin_missing();
		test_infra();
	}
	process_release(&fake);
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
	free(tagsfile);
	knowledge_free(kb);
	return unit_done();
}
