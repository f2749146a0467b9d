/*
 * Opening an image wherever it is, the metadata every source shares, and
 * putting streamed layers in image order. The sources live in
 * image_archive.c (docker-save streams: file or `docker save`), image_oci.c
 * and image_registry.c; the layer reader in image_layer.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/image_private.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"

static void layer_free(struct image_layer *l)
{
	if (!l)
		return;
	free(l->diff_id);
	free(l->blob_digest);
	free(l->media_type);
	free(l->created_by);
	free(l);
}

static void layer_free_cb(void *p)
{
	layer_free(p);
}

struct image_layer *image_layer_new(struct image *img)
{
	struct image_layer *l = xcalloc(1, sizeof(*l));

	l->index = SIZE_MAX;
	vec_push(&img->streamed, l);
	return l;
}

int image_json_parse(struct image *img, const char *what, const void *data, size_t len,
		     json_t **out)
{
	json_error_t jerr;

	*out = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*out)
		return error_setc(GS_EINVAL, "image '%s': %s is not valid JSON (%s)", img->name,
				  what, jerr.text);
	return 0;
}

int image_set_config(struct image *img, json_t *config, const char *id)
{
	json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
	json_t *history = json_object_get(config, "history"), *h, *d;
	size_t i, n = 0;

	if (!json_is_array(diff_ids)) {
		json_decref(config);
		return error_setc(GS_EINVAL, "image '%s': the config has no rootfs.diff_ids",
				  img->name);
	}
	json_array_foreach(diff_ids, i, d)
	{
		if (!json_is_string(d) || !starts_with(json_string_value(d), "sha256:")) {
			json_decref(config);
			return error_setc(
			    GS_EINVAL,
			    "image '%s': the config's diff_id %zu is not a sha256 digest",
			    img->name, i);
		}
	}
	json_decref(img->meta.config);
	img->meta.config = config;
	free(img->meta.id);
	img->meta.id = xstrdup(id);
	vec_release(&img->meta.diff_ids);
	vec_release(&img->meta.created_by);
	json_array_foreach(diff_ids, i, d) vec_pushstr(&img->meta.diff_ids, json_string_value(d));
	/* History entries with empty_layer made no layer: the others pair
	 * with diff_ids in order, when their count agrees. */
	json_array_foreach(history, i, h) n += !json_is_true(json_object_get(h, "empty_layer"));
	json_array_foreach(history, i, h)
	{
		const char *cb = json_string_value(json_object_get(h, "created_by"));

		if (n != json_array_size(diff_ids))
			break;
		if (!json_is_true(json_object_get(h, "empty_layer")))
			vec_pushstr(&img->meta.created_by, cb ? cb : "");
	}
	while (img->meta.created_by.nr < img->meta.diff_ids.nr)
		vec_pushstr(&img->meta.created_by, "");
	img->meta_known = 1;
	return 0;
}

int image_send_meta(struct image *img)
{
	if (!img->meta_known || img->meta_sent)
		return 0;
	img->meta_sent = 1;
	if (img->v->meta && img->v->meta(img->v->ctx, &img->meta) < 0)
		return GS_ERR;
	return 0;
}

size_t image_index_for(struct image *img, const char *diff_id)
{
	for (size_t i = 0; i < img->meta.diff_ids.nr; i++) {
		int taken = 0;

		if (strcmp(img->meta.diff_ids.items[i], diff_id))
			continue;
		for (size_t j = 0; j < img->streamed.nr && !taken; j++)
			taken = ((struct image_layer *)img->streamed.items[j])->index == i;
		if (!taken)
			return i;
	}
	return SIZE_MAX;
}

static struct image_layer *layer_copy(const struct image_layer *l, size_t index)
{
	struct image_layer *c = xcalloc(1, sizeof(*c));

	*c = *l;
	c->index = index;
	c->diff_id = l->diff_id ? xstrdup(l->diff_id) : NULL;
	c->blob_digest = l->blob_digest ? xstrdup(l->blob_digest) : NULL;
	c->media_type = l->media_type ? xstrdup(l->media_type) : NULL;
	c->created_by = l->created_by ? xstrdup(l->created_by) : NULL;
	return c;
}

int image_finish_layers(struct image *img)
{
	size_t nr = img->meta.diff_ids.nr;

	vec_release(&img->layers);
	for (size_t i = 0; i < nr; i++) {
		const char *want = img->meta.diff_ids.items[i];
		struct image_layer *found = NULL;

		/* The layer streamed for this position, else (docker-save of an
		 * image with one layer twice) one with the same content. */
		for (size_t j = 0; j < img->streamed.nr && !found; j++) {
			struct image_layer *l = img->streamed.items[j];

			if (l->index == i)
				found = l;
		}
		for (size_t j = 0; j < img->streamed.nr && !found; j++) {
			struct image_layer *l = img->streamed.items[j];

			if (l->diff_id && !strcmp(l->diff_id, want))
				found = l;
		}
		if (!found) {
			vec_release(&img->layers);
			return error_setc(GS_EINVAL, "image '%s': layer %zu (%s) is missing",
					  img->name, i, want);
		}
		if (found->index == SIZE_MAX)
			found->index = i;
		vec_push(&img->layers, layer_copy(found, i));
		if (!((struct image_layer *)img->layers.items[i])->created_by &&
		    i < img->meta.created_by.nr && *(const char *)img->meta.created_by.items[i])
			((struct image_layer *)img->layers.items[i])->created_by =
			    xstrdup(img->meta.created_by.items[i]);
	}
	return 0;
}

int image_pick_platform(struct image *img, json_t *index, const char **digest)
{
	json_t *manifests = json_object_get(index, "manifests"), *m;
	const char *want = img->platform;
	size_t i, candidates = 0;
	struct strbuf seen = STRBUF_INIT;

	*digest = NULL;
	json_array_foreach(manifests, i, m)
	{
		json_t *p = json_object_get(m, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "architecture"));
		const char *variant = json_string_value(json_object_get(p, "variant"));
		const char *d = json_string_value(json_object_get(m, "digest"));
		char *plat;

		if (!d)
			continue;
		/* BuildKit's attestation manifests say "unknown/unknown". */
		if (os && !strcmp(os, "unknown"))
			continue;
		candidates++;
		if (!os || !arch) {
			if (!*digest)
				*digest = d;
			continue;
		}
		plat =
		    variant ? xstrfmt("%s/%s/%s", os, arch, variant) : xstrfmt("%s/%s", os, arch);
		/* "linux/arm64" also takes "linux/arm64/v8" */
		if (!strcmp(plat, want) || (starts_with(plat, want) && plat[strlen(want)] == '/')) {
			*digest = d;
			free(plat);
			strbuf_release(&seen);
			return 0;
		}
		strbuf_addf(&seen, "%s%s", seen.len ? ", " : "", plat);
		free(plat);
	}
	if (*digest && candidates == 1) {
		strbuf_release(&seen);
		return 0;
	}
	*digest = NULL;
	error_setc(GS_ENOTFOUND, "image '%s' has no manifest for platform '%s' (it has: %s)",
		   img->name, want, seen.len ? seen.buf : "none");
	strbuf_release(&seen);
	return GS_ENOTFOUND;
}

/* The engine's client: opts->docker, $GPUSLIM_DOCKER, else detection. */
static int find_docker(struct image *img, const char *docker)
{
	struct engine e = {0};
	int ret;

	if (!docker)
		docker = getenv("GPUSLIM_DOCKER");
	if (docker && *docker) {
		img->docker = xstrdup(docker);
		return 0;
	}
	ret = engine_detect(&e, NULL, NULL);
	if (!ret)
		img->docker = xstrdup(e.docker);
	engine_release(&e);
	return ret;
}

static int engine_has(struct image *img)
{
	struct engine e = {0};
	char *id = NULL;
	int ret;

	e.docker = img->docker;
	ret = engine_image_id(&e, img->name, &id);
	free(id);
	return ret;
}

static int open_auto(struct image *img, const struct image_opts *opts)
{
	struct stat st;
	int ret;
	char *engine_err = NULL;

	if (!stat(img->name, &st)) {
		img->path = xstrdup(img->name);
		if (S_ISDIR(st.st_mode)) {
			char *layout = fs_join(img->name, "oci-layout");
			int is_oci = fs_exists(layout);

			free(layout);
			if (!is_oci)
				return error_setc(GS_EINVAL,
						  "image '%s': a directory without 'oci-layout' is "
						  "not an OCI image layout",
						  img->name);
			img->source = IMAGE_SOURCE_OCI;
			return 0;
		}
		img->source = IMAGE_SOURCE_ARCHIVE;
		return 0;
	}
	/* Not a path: the engine if it has it, else the registry. */
	if (!find_docker(img, opts->docker)) {
		ret = engine_has(img);
		if (!ret) {
			img->source = IMAGE_SOURCE_ENGINE;
			return 0;
		}
		if (ret != GS_ENOTFOUND)
			engine_err = xstrdup(error_last());
	} else {
		engine_err = xstrdup(error_last());
	}
	img->source = IMAGE_SOURCE_REGISTRY;
	ret = image_open_registry(img);
	if (ret == GS_ENOTFOUND)
		ret = error_setc(GS_ENOTFOUND,
				 "image '%s' not found: no such file, not in the engine%s%s%s, "
				 "not in the registry",
				 img->name, engine_err ? " (" : "", engine_err ? engine_err : "",
				 engine_err ? ")" : "");
	free(engine_err);
	return ret;
}

int image_open(const char *name, const struct image_opts *opts, struct image **out)
{
	static const struct image_opts defaults;
	struct image *img = xcalloc(1, sizeof(*img));
	struct stat st;
	int ret = 0;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	img->name = xstrdup(name);
	img->source = opts->source;
	img->platform = xstrdup(opts->platform ? opts->platform : "linux/amd64");
	img->max_entry_size =
	    opts->max_entry_size ? opts->max_entry_size : IMAGE_DEFAULT_MAX_ENTRY_SIZE;
	img->max_entries = opts->max_entries ? opts->max_entries : IMAGE_DEFAULT_MAX_ENTRIES;
	img->reg = opts->registry;
	img->abort_fd = opts->abort_fd ? *opts->abort_fd : -1;
	vec_init(&img->streamed, layer_free_cb);
	vec_init(&img->layers, layer_free_cb);
	vec_init(&img->meta.diff_ids, free);
	vec_init(&img->meta.created_by, free);
	vec_init(&img->meta.repo_tags, free);
	img->meta.name = xstrdup(name);

	switch (img->source) {
	case IMAGE_SOURCE_AUTO:
		ret = open_auto(img, opts);
		break;
	case IMAGE_SOURCE_ARCHIVE:
	case IMAGE_SOURCE_OCI:
		if (stat(name, &st) < 0) {
			ret = error_setc(errno == ENOENT ? GS_ENOTFOUND : GS_EINVAL,
					 "image '%s': cannot open: %s", name, strerror(errno));
			break;
		}
		if (img->source == IMAGE_SOURCE_OCI && !S_ISDIR(st.st_mode)) {
			ret = error_setc(GS_EINVAL, "image '%s': not a directory", name);
			break;
		}
		if (img->source == IMAGE_SOURCE_ARCHIVE && S_ISDIR(st.st_mode)) {
			ret =
			    error_setc(GS_EINVAL, "image '%s': a directory, not an archive", name);
			break;
		}
		img->path = xstrdup(name);
		break;
	case IMAGE_SOURCE_ENGINE:
		ret = find_docker(img, opts->docker);
		if (ret < 0) {
			ret = GS_EINFRA;
			break;
		}
		ret = engine_has(img);
		break;
	case IMAGE_SOURCE_REGISTRY:
		ret = image_open_registry(img);
		break;
	default:
		ret =
		    error_setc(GS_EINVAL, "image '%s': unknown source %d", name, (int)img->source);
	}
	img->meta.source = img->source;
	if (ret < 0) {
		image_close(img);
		return ret;
	}
	*out = img;
	return 0;
}

static int no_op(void *ctx, const struct image_meta *m)
{
	return 0;
}

int image_walk(struct image *img, const struct image_visitor *v)
{
	static const struct image_visitor none = {NULL, no_op, NULL, NULL, NULL};
	int ret;

	if (img->walked)
		return error_setc(GS_EINVAL, "image '%s' was already read", img->name);
	img->walked = 1;
	img->v = v ? v : &none;
	switch (img->source) {
	case IMAGE_SOURCE_ARCHIVE:
	case IMAGE_SOURCE_ENGINE:
		ret = image_walk_stream(img);
		break;
	case IMAGE_SOURCE_OCI:
		ret = image_walk_oci(img);
		break;
	case IMAGE_SOURCE_REGISTRY:
		ret = image_walk_registry(img);
		break;
	default:
		ret = error_setc(GS_EINVAL, "image '%s': no source", img->name);
	}
	if (!ret)
		ret = image_send_meta(img);
	if (!ret)
		ret = image_finish_layers(img);
	img->v = NULL;
	return ret;
}

const struct image_meta *image_get_meta(const struct image *img)
{
	return img->meta_known ? &img->meta : NULL;
}

const struct image_layer *image_get_layer(const struct image *img, size_t index)
{
	return index < img->layers.nr ? img->layers.items[index] : NULL;
}

size_t image_layers_nr(const struct image *img)
{
	return img->layers.nr;
}

void image_close(struct image *img)
{
	if (!img)
		return;
	free(img->name);
	free(img->platform);
	free(img->docker);
	free(img->path);
	if (img->own_reg)
		registry_client_free(img->reg);
	registry_ref_release(&img->ref);
	json_decref(img->manifest);
	free(img->meta.name);
	free(img->meta.id);
	free(img->meta.manifest_digest);
	json_decref(img->meta.config);
	vec_release(&img->meta.diff_ids);
	vec_release(&img->meta.created_by);
	vec_release(&img->meta.repo_tags);
	vec_release(&img->streamed);
	vec_release(&img->layers);
	free(img);
}
