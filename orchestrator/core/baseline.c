/* Reports kept with their images in the registry (core/baseline.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/baseline.h"
#include "core/gate.h"
#include "core/image.h"
#include "core/referrers.h"
#include "util/error.h"
#include "util/strbuf.h"

#define BASELINE_CREATED "org.opencontainers.image.created"
#define BASELINE_STATUS	 "io.gpuslim.report.status"

int baseline_arg_is_file(const char *arg)
{
	struct stat st;

	if (!stat(arg, &st) && !S_ISDIR(st.st_mode))
		return 1;
	return arg[0] == '/' || starts_with(arg, "./") || starts_with(arg, "../") ||
	       ends_with(arg, ".json");
}

void baseline_origin_release(struct baseline_origin *o)
{
	if (!o)
		return;
	free(o->ref);
	free(o->manifest_digest);
	free(o->artifact);
	memset(o, 0, sizeof(*o));
}

/* The registry's manifest and config digests of `ref` for `platform`. */
static int baseline_resolve(struct registry_client *c, const char *ref, const char *platform,
			    struct registry_ref *parsed, char **manifest, char **config)
{
	struct image_opts io;
	struct image *img = NULL;
	const struct image_meta *meta;
	int ret;

	if ((ret = registry_ref_parse(ref, parsed)) < 0)
		return ret;
	memset(&io, 0, sizeof(io));
	io.source = IMAGE_SOURCE_REGISTRY;
	io.registry = c;
	io.platform = platform;
	if ((ret = image_open(ref, &io, &img)) < 0)
		goto done;
	meta = image_get_meta(img);
	if (!meta || !meta->manifest_digest) {
		ret = error_setc(GS_EINVAL, "'%s': the registry named no manifest digest", ref);
		goto done;
	}
	*manifest = xstrdup(meta->manifest_digest);
	if (config)
		*config = meta->id ? xstrdup(meta->id) : NULL;
done:
	image_close(img);
	if (ret < 0)
		registry_ref_release(parsed);
	return ret;
}

static char *baseline_now(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return xstrfmt("%s.%09ldZ", buf, (long)ts.tv_nsec);
}

int baseline_attach_report(struct registry_client *c, const char *image, const char *platform,
			   const json_t *report, struct baseline_origin *origin)
{
	struct registry_ref ref = {0};
	struct referrers_artifact a;
	const json_t *img = json_object_get(report, "image");
	const char *rdigest = json_string_value(json_object_get(img, "manifest_digest"));
	const char *rid = json_string_value(json_object_get(img, "id"));
	const char *status = json_string_value(json_object_get(report, "status"));
	char *manifest = NULL, *config = NULL, *text = NULL, *created = NULL, *artifact = NULL;
	json_t *ann = NULL;
	int ret, via_api = 0;

	if ((ret = baseline_resolve(c, image, platform, &ref, &manifest, &config)) < 0) {
		error_prefix("cannot attach the report to '%s'", image);
		return ret;
	}
	if (rdigest ? strcmp(rdigest, manifest) : (!rid || !config || strcmp(rid, config))) {
		ret = error_setc(GS_EINVAL,
				 "cannot attach the report to '%s': the report is of %s %s, the "
				 "registry's image is %s (push the image that was gated)",
				 image, rdigest ? "manifest" : "image",
				 rdigest ? rdigest
				 : rid	 ? rid
					 : "(unknown)",
				 rdigest  ? manifest
				 : config ? config
					  : "(unknown)");
		goto done;
	}
	text = json_dumps(report, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text) {
		ret = error_set("cannot attach the report to '%s': out of memory", image);
		goto done;
	}
	created = baseline_now();
	ann = json_pack("{s:s}", BASELINE_CREATED, created);
	if (status)
		json_object_set_new(ann, BASELINE_STATUS, json_string(status));
	memset(&a, 0, sizeof(a));
	a.artifact_type = BASELINE_REPORT_TYPE;
	a.data = text;
	a.len = strlen(text);
	a.title = "gpuslim-report.json";
	a.annotations = ann;
	ret = referrers_attach(c, ref.registry, ref.repository, manifest, &a, &artifact, &via_api);
	if (ret < 0) {
		error_prefix("cannot attach the report to '%s'", image);
		goto done;
	}
	if (origin) {
		memset(origin, 0, sizeof(*origin));
		origin->ref = xstrdup(image);
		origin->manifest_digest = manifest;
		origin->artifact = artifact;
		origin->via_api = via_api;
		manifest = artifact = NULL;
	}
done:
	json_decref(ann);
	registry_ref_release(&ref);
	free(manifest);
	free(config);
	free(text);
	free(created);
	free(artifact);
	return ret;
}

/* The report blob, no bigger than its descriptor's size (and the cap). */
struct baseline_sink {
	struct strbuf sb;
	size_t size;
};

static int baseline_sink_add(void *data, const void *buf, size_t len)
{
	struct baseline_sink *s = data;

	if (len > s->size - s->sb.len)
		return error_set("it is larger than its descriptor's size of %zu bytes", s->size);
	strbuf_add(&s->sb, buf, len);
	return 0;
}

/* The newest descriptor of `index` by its created annotation; a later one
 * wins a tie (the tag lists them in the order they were added). */
static const json_t *baseline_newest(const json_t *index)
{
	const json_t *best = NULL, *m;
	const char *best_at = "";
	size_t i;

	json_array_foreach(json_object_get(index, "manifests"), i, m)
	{
		const char *at = json_string_value(
		    json_object_get(json_object_get(m, "annotations"), BASELINE_CREATED));

		if (!at)
			at = "";
		if (!best || strcmp(at, best_at) >= 0) {
			best = m;
			best_at = at;
		}
	}
	return best;
}

static int baseline_read_artifact(struct registry_client *c, const struct registry_ref *ref,
				  const char *artifact, json_t **report)
{
	struct strbuf body = STRBUF_INIT;
	struct baseline_sink s = {STRBUF_INIT, 0};
	json_t *manifest = NULL, *layer;
	const char *ldigest;
	json_error_t jerr;
	int ret;

	ret =
	    registry_get_manifest(c, ref->registry, ref->repository, artifact,
				  "application/vnd.oci.image.manifest.v1+json", &body, NULL, NULL);
	if (ret < 0)
		goto done;
	manifest = json_loadb(body.buf, body.len, 0, NULL);
	layer = json_array_get(json_object_get(manifest, "layers"), 0);
	ldigest = json_string_value(json_object_get(layer, "digest"));
	if (!ldigest || !json_is_integer(json_object_get(layer, "size")) ||
	    json_integer_value(json_object_get(layer, "size")) < 0) {
		ret = error_setc(GS_EINVAL, "artifact %s has no report layer", artifact);
		goto done;
	}
	if ((json_int_t)BASELINE_REPORT_CAP < json_integer_value(json_object_get(layer, "size"))) {
		ret = error_setc(GS_EINVAL, "artifact %s: the report is over %u MiB", artifact,
				 BASELINE_REPORT_CAP >> 20);
		goto done;
	}
	s.size = (size_t)json_integer_value(json_object_get(layer, "size"));
	ret = registry_get_blob(c, ref->registry, ref->repository, ldigest, baseline_sink_add, &s);
	if (ret < 0) {
		error_prefix("artifact %s", artifact);
		goto done;
	}
	*report = json_loadb(s.sb.buf, s.sb.len, 0, &jerr);
	if (!*report) {
		ret = error_setc(GS_EINVAL, "artifact %s: the report is not JSON: %s", artifact,
				 jerr.text);
		goto done;
	}
	if ((ret = gate_check_baseline(*report)) < 0) {
		error_prefix("artifact %s", artifact);
		json_decref(*report);
		*report = NULL;
	}
done:
	json_decref(manifest);
	strbuf_release(&body);
	strbuf_release(&s.sb);
	return ret;
}

int baseline_fetch_report(struct registry_client *c, const char *ref, const char *platform,
			  json_t **report, struct baseline_origin *origin)
{
	struct registry_ref parsed = {0};
	char *manifest = NULL;
	json_t *index = NULL;
	const json_t *newest;
	int ret, via_api = 0;

	*report = NULL;
	memset(origin, 0, sizeof(*origin));
	if ((ret = baseline_resolve(c, ref, platform, &parsed, &manifest, NULL)) < 0)
		return ret;
	origin->ref = xstrdup(ref);
	origin->manifest_digest = manifest;
	ret = referrers_list(c, parsed.registry, parsed.repository, manifest, BASELINE_REPORT_TYPE,
			     &index, &via_api);
	if (ret < 0)
		goto done;
	origin->via_api = via_api;
	if (!(newest = baseline_newest(index)))
		goto done; /* none attached */
	origin->artifact = xstrdup(json_string_value(json_object_get(newest, "digest")));
	ret = baseline_read_artifact(c, &parsed, origin->artifact, report);
	if (ret < 0)
		error_prefix("the report attached to '%s'", ref);
done:
	json_decref(index);
	registry_ref_release(&parsed);
	return ret;
}
