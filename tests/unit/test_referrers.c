/* Reports attached to images (core/referrers.h, core/baseline.h) against an
 * in-memory registry (tests/fake/registry_oci11.py): the referrers API path,
 * which no registry on this machine has (distribution 2.8 answers 404; the
 * tag path against the real one is tests/integration/test_baseline.sh), and
 * the referrers tag under a racing writer. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/baseline.h"
#include "core/referrers.h"
#include "core/registry.h"
#include "fake_registry.h"
#include "unit.h"
#include "util/fs.h"
#include "util/process.h"

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define CONFIG                                                                                     \
	"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","            \
	"\"diff_ids\":[]}}"

static char host[64];

static size_t collect(char *b, size_t s, size_t n, void *data)
{
	strbuf_add(data, b, s * n);
	return s * n;
}

/* GET http://HOST/PATH into a JSON value (NULL when not JSON). */
static json_t *fake_get(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	char *url = xstrfmt("http://%s%s", host, path);
	CURL *h = curl_easy_init();
	json_t *j = NULL;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sb);
	if (curl_easy_perform(h) == CURLE_OK)
		j = json_loadb(sb.buf, sb.len, 0, NULL);
	curl_easy_cleanup(h);
	free(url);
	strbuf_release(&sb);
	return j;
}

/* An empty image pushed as REPO:v1 (its config, a manifest without
 * layers); *digest gets the manifest's digest. */
static int push_image(struct registry_client *c, const char *repo, char **digest)
{
	char *config = NULL, *text;
	int ret;

	if ((ret = registry_put_blob(c, host, repo, CONFIG, strlen(CONFIG), &config)) < 0)
		return ret;
	text =
	    xstrfmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
		    "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
		    "\"layers\":[]}",
		    OCI_MANIFEST, config, strlen(CONFIG));
	ret = registry_put_manifest(c, host, repo, "v1", OCI_MANIFEST, text, strlen(text), digest,
				    NULL);
	free(text);
	free(config);
	return ret;
}

/* A report of the image `digest`, `size` bytes. */
static json_t *report_of(const char *digest, long long size)
{
	return json_pack("{s:{s:s,s:s},s:{s:I},s:[],s:s}", "image", "source", "registry",
			 "manifest_digest", digest, "summary", "size", (json_int_t)size, "packages",
			 "status", "pass");
}

static void test_api(void)
{
	struct registry_client *c = registry_client_new(NULL);
	struct baseline_origin o = {0};
	char *subject = NULL, *ref = xstrfmt("%s/team/app:v1", host), *tagpath;
	json_t *rep = NULL, *got = NULL, *index = NULL, *stats;
	int via = -1;

	CHECK(push_image(c, "team/app", &subject) == 0, "an image is pushed (blob, manifest): %s",
	      error_last());
	rep = report_of(subject, 12345);
	CHECK(baseline_attach_report(c, ref, NULL, rep, &o) == 0 && o.via_api == 1 && o.artifact &&
		  !strcmp(o.manifest_digest, subject),
	      "the report is attached; the registry answered OCI-Subject: %s", error_last());
	tagpath = xstrfmt("/v2/team/app/manifests/sha256-%s", subject + 7);
	got = fake_get(tagpath);
	CHECK(!json_is_object(got) || !json_object_get(got, "manifests"),
	      "with the referrers API, no referrers tag is written");
	json_decref(got);
	got = NULL;
	CHECK(referrers_list(c, host, "team/app", subject, BASELINE_REPORT_TYPE, &index, &via) ==
		      0 &&
		  via == 1 && json_array_size(json_object_get(index, "manifests")) == 1,
	      "referrers_list reads the referrers API: one report");
	json_decref(index);
	baseline_origin_release(&o);
	CHECK(baseline_fetch_report(c, ref, NULL, &got, &o) == 0 && got && o.via_api == 1 &&
		  json_integer_value(json_object_get(json_object_get(got, "summary"), "size")) ==
		      12345,
	      "baseline_fetch_report finds it through the API: %s", error_last());
	stats = fake_get("/stats");
	CHECK(json_integer_value(json_object_get(stats, "tag_writes")) == 0,
	      "no tag was ever written");
	json_decref(stats);
	json_decref(got);
	baseline_origin_release(&o);

	/* A report of another image is refused. */
	json_object_set_new(
	    json_object_get(rep, "image"), "manifest_digest",
	    json_string("sha256:0000000000000000000000000000000000000000000000000000"
			"000000000000"));
	CHECK(baseline_attach_report(c, ref, NULL, rep, &o) == GS_EINVAL &&
		  strstr(error_last(), "the registry's image is"),
	      "a report of another image is not attached: %s", error_last());

	/* An image without a report: none, no error. */
	free(subject);
	subject = NULL;
	CHECK(push_image(c, "team/bare", &subject) == 0, "a second image");
	{
		char *bare = xstrfmt("%s/team/bare:v1", host);

		got = NULL;
		CHECK(baseline_fetch_report(c, bare, NULL, &got, &o) == 0 && !got && !o.artifact,
		      "no report attached: none, and no error: %s", error_last());
		baseline_origin_release(&o);
		free(bare);
	}
	json_decref(rep);
	free(tagpath);
	free(subject);
	free(ref);
	registry_client_free(c);
}

static void test_racing_tag(void)
{
	struct registry_client *c = registry_client_new(NULL);
	struct baseline_origin o = {0};
	char *subject = NULL, *ref = xstrfmt("%s/team/app:v1", host), *tagpath;
	json_t *rep, *idx, *stats, *got = NULL;

	CHECK(push_image(c, "team/app", &subject) == 0, "racing: an image is pushed");
	rep = report_of(subject, 777);
	CHECK(baseline_attach_report(c, ref, NULL, rep, &o) == 0 && o.via_api == 0,
	      "racing: attached through the referrers tag (404 for /referrers/): %s", error_last());
	tagpath = xstrfmt("/v2/team/app/manifests/sha256-%s", subject + 7);
	idx = fake_get(tagpath);
	stats = fake_get("/stats");
	CHECK(json_array_size(json_object_get(idx, "manifests")) == 2 &&
		  json_integer_value(json_object_get(stats, "tag_writes")) == 2,
	      "racing: the entry lost to the other writer is written again, keeping theirs "
	      "(2 entries, 2 writes)");
	baseline_origin_release(&o);
	CHECK(baseline_fetch_report(c, ref, NULL, &got, &o) == 0 && got && o.via_api == 0 &&
		  json_integer_value(json_object_get(json_object_get(got, "summary"), "size")) ==
		      777,
	      "racing: the report is found through the tag, the foreign entry passed over");
	json_decref(got);
	baseline_origin_release(&o);
	json_decref(idx);
	json_decref(stats);
	json_decref(rep);
	free(tagpath);
	free(subject);
	free(ref);
	registry_client_free(c);
}

static void run_mode(const char *mode, void (*fn)(void))
{
	char tmp[64];
	struct process fake;

	snprintf(tmp, sizeof(tmp), "/tmp/gs-referrers-XXXXXX");
	if (!mkdtemp(tmp)) {
		CHECK(0, "setup: a temporary directory");
		return;
	}
	if (!fake_registry_start(&fake, "registry_oci11.py", mode, tmp, host, sizeof(host)))
		CHECK(0, "the fake registry starts (tests/fake/registry_oci11.py %s)", mode);
	else
		fn();
	process_release(&fake);
	{
		char *port = xstrfmt("%s/port", tmp);

		unlink(port);
		free(port);
		rmdir(tmp);
	}
}

int main(void)
{
	char *t = referrers_tag(
	    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");

	CHECK(!strcmp(t, "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
	      "the referrers tag of a digest is sha256-<hex>");
	free(t);
	CHECK(baseline_arg_is_file("./x") && baseline_arg_is_file("/x") &&
		  baseline_arg_is_file("old.json") && baseline_arg_is_file("Makefile") &&
		  !baseline_arg_is_file("127.0.0.1:5000/x/y:1") && !baseline_arg_is_file("tests"),
	      "--baseline: an existing file or a name that can only be a path is a file; a "
	      "directory and the rest are references");
	run_mode("api", test_api);
	run_mode("racing", test_racing_tag);
	return unit_done();
}
