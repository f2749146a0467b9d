/*
 * OCI image layouts (image-spec "image-layout.md"): oci-layout, index.json,
 * then manifest, config and layers as files under blobs/<alg>/<hex>. Random
 * access is fine here; every blob is checked against its digest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/image_private.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"

#define OCI_BUF	      (1u << 20)
#define OCI_MAX_DEPTH 4 /* nested indexes */

/* "<dir>/blobs/sha256/<hex>" for a well-formed digest, else NULL. */
static char *oci_blob_path(struct image *img, const char *digest)
{
	if (!digest || !starts_with(digest, "sha256:") || strlen(digest) != 71 ||
	    strspn(digest + 7, "0123456789abcdef") != 64) {
		error_setc(GS_EINVAL, "image '%s': bad digest '%s'", img->name,
			   digest ? digest : "(none)");
		return NULL;
	}
	return xstrfmt("%s/blobs/sha256/%s", img->path, digest + 7);
}

/* A JSON blob, checked against its digest. */
static int oci_read_json(struct image *img, const char *digest, json_t **out)
{
	struct strbuf sb = STRBUF_INIT;
	char *path = oci_blob_path(img, digest);
	char hex[65];
	int ret;

	*out = NULL;
	if (!path)
		return GS_EINVAL;
	if ((ret = fs_read_file(path, &sb, IMAGE_JSON_CAP)) < 0) {
		ret = error_setc(GS_EINVAL, "image '%s': %s", img->name, error_last());
		goto done;
	}
	hash_sha256_hex(sb.buf, sb.len, hex);
	if (strcmp(hex, digest + 7)) {
		ret = error_setc(GS_EINVAL, "image '%s': blob %s hashes to sha256:%s", img->name,
				 digest, hex);
		goto done;
	}
	ret = image_json_parse(img, digest, sb.buf, sb.len, out);
done:
	free(path);
	strbuf_release(&sb);
	return ret;
}

static int is_index(json_t *doc)
{
	const char *mt = json_string_value(json_object_get(doc, "mediaType"));

	if (mt)
		return !strcmp(mt, "application/vnd.oci.image.index.v1+json") ||
		       !strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json");
	return json_is_array(json_object_get(doc, "manifests"));
}

struct fd_src {
	int fd;
	char *buf;
	const char *path;
};

static long fd_read(void *ctx, const void **buf)
{
	struct fd_src *f = ctx;
	ssize_t n;

	do {
		n = read(f->fd, f->buf, OCI_BUF);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return error_setc(GS_EINVAL, "cannot read '%s': %s", f->path, strerror(errno));
	*buf = f->buf;
	return (long)n;
}

int image_walk_oci(struct image *img)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *doc = NULL, *config = NULL, *layers, *l;
	char *path = fs_join(img->path, "index.json");
	struct fd_src f = {-1, NULL, NULL};
	const char *digest = NULL;
	char *mdigest = NULL;
	size_t i;
	int ret;

	img->verify_blobs = 1;
	if ((ret = fs_read_file(path, &sb, IMAGE_JSON_CAP)) < 0) {
		ret = error_setc(GS_EINVAL, "image '%s': not an OCI layout: %s", img->name,
				 error_last());
		goto done;
	}
	if ((ret = image_json_parse(img, "index.json", sb.buf, sb.len, &doc)) < 0)
		goto done;
	for (int depth = 0; is_index(doc); depth++) {
		json_t *next;

		if (depth == OCI_MAX_DEPTH) {
			ret =
			    error_setc(GS_EINVAL, "image '%s': indexes nested too deep", img->name);
			goto done;
		}
		if ((ret = image_pick_platform(img, doc, &digest)) < 0)
			goto done;
		free(mdigest);
		mdigest = xstrdup(digest);
		if ((ret = oci_read_json(img, mdigest, &next)) < 0)
			goto done;
		json_decref(doc);
		doc = next;
	}
	if (!mdigest) {
		ret = error_setc(GS_EINVAL, "image '%s': index.json names no manifest", img->name);
		goto done;
	}
	img->meta.manifest_digest = xstrdup(mdigest);
	digest = json_string_value(json_object_get(json_object_get(doc, "config"), "digest"));
	layers = json_object_get(doc, "layers");
	if (!json_is_array(layers)) {
		ret = error_setc(GS_EINVAL, "image '%s': manifest %s has no layers", img->name,
				 mdigest);
		goto done;
	}
	if ((ret = oci_read_json(img, digest, &config)) < 0)
		goto done;
	ret = image_set_config(img, config, digest);
	config = NULL;
	if (ret < 0)
		goto done;
	if (json_array_size(layers) != img->meta.diff_ids.nr) {
		ret = error_setc(GS_EINVAL,
				 "image '%s': the manifest names %zu layers, the config %zu",
				 img->name, json_array_size(layers), img->meta.diff_ids.nr);
		goto done;
	}
	if ((ret = image_send_meta(img)) < 0)
		goto done;
	f.buf = xmalloc(OCI_BUF);
	json_array_foreach(layers, i, l)
	{
		struct image_layer *layer = image_layer_new(img);
		const char *ld = json_string_value(json_object_get(l, "digest"));
		const char *mt = json_string_value(json_object_get(l, "mediaType"));
		json_int_t size = json_integer_value(json_object_get(l, "size"));
		struct image_src src = {fd_read, &f};
		char *bpath = oci_blob_path(img, ld), *label;

		layer->index = i;
		layer->blob_digest = ld ? xstrdup(ld) : NULL;
		layer->media_type = mt ? xstrdup(mt) : NULL;
		layer->compressed_size = size > 0 ? (uint64_t)size : 0;
		if (!bpath) {
			ret = GS_EINVAL;
			goto done;
		}
		f.fd = open(bpath, O_RDONLY | O_CLOEXEC);
		f.path = bpath;
		if (f.fd < 0) {
			ret = error_setc(GS_EINVAL, "image '%s': layer %zu: cannot open '%s': %s",
					 img->name, i, bpath, strerror(errno));
			free(bpath);
			goto done;
		}
		label = xstrfmt("%zu", i);
		ret = image_layer_read(img, layer, label, &src);
		free(label);
		close(f.fd);
		f.fd = -1;
		free(bpath);
		if (ret < 0)
			goto done;
	}
done:
	free(f.buf);
	free(path);
	free(mdigest);
	json_decref(doc);
	json_decref(config);
	strbuf_release(&sb);
	return ret;
}
