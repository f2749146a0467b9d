/*
 * Image layouts on disk, read at random: OCI's (image-spec
 * "image-layout.md": oci-layout, index.json, then manifest, config and
 * layers as files under blobs/<alg>/<hex>) and skopeo's and podman's dir:
 * (version, manifest.json, and the blobs as <dir>/<hex>). Every file must
 * be a regular one, of its descriptor's size, hashing to its digest.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/image_private.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"

#define OCI_BUF (1u << 20)

/*
 * A file of the layout, opened only when it is a regular file: a FIFO
 * would block the open, a device (a symlink to /dev/zero) never end. Its
 * size in *size. Errors name `label` ("layer 2"), when not NULL.
 */
static int oci_open(struct image *img, const char *label, const char *path, int *fd, uint64_t *size)
{
	struct stat st;
	const char *sep = label ? ": " : "";

	label = label ? label : "";
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (*fd < 0)
		return error_setc(GS_EINVAL, "image '%s': %s%scannot open '%s': %s", img->name,
				  label, sep, path, strerror(errno));
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return error_setc(GS_EINVAL, "image '%s': %s%s'%s' is not a regular file",
				  img->name, label, sep, path);
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

/* The blob of a well-formed digest: "<dir>/blobs/sha256/<hex>" (OCI) or
 * "<dir>/<hex>" (dir:), else NULL. */
static char *oci_blob_path(struct image *img, const char *digest)
{
	if (!digest || !starts_with(digest, "sha256:") || strlen(digest) != 71 ||
	    strspn(digest + 7, "0123456789abcdef") != 64) {
		error_setc(GS_EINVAL, "image '%s': bad digest '%s'", img->name,
			   digest ? digest : "(none)");
		return NULL;
	}
	return xstrfmt(img->dir_layout ? "%s/%s" : "%s/blobs/sha256/%s", img->path, digest + 7);
}

/*
 * A JSON file of the layout whole: `want` bytes (-1: any up to the cap),
 * hashing to `digest` when not NULL; its "sha256:..." to `got` when not NULL.
 */
static int oci_read_doc(struct image *img, const char *path, const char *digest, int64_t want,
			char got[72], json_t **out)
{
	struct strbuf sb = STRBUF_INIT;
	char hex[65];
	uint64_t size;
	int fd = -1, ret;

	*out = NULL;
	if ((ret = oci_open(img, NULL, path, &fd, &size)) < 0)
		goto done;
	if (want >= 0 && size != (uint64_t)want) {
		ret = error_setc(GS_EINVAL,
				 "image '%s': '%s' has %" PRIu64
				 " bytes, its descriptor says %" PRId64,
				 img->name, path, size, want);
		goto done;
	}
	if (size > IMAGE_JSON_CAP) {
		ret = error_setc(GS_EINVAL, "image '%s': '%s' is larger than %u bytes", img->name,
				 path, IMAGE_JSON_CAP);
		goto done;
	}
	/* no further than its size, whatever it becomes meanwhile */
	strbuf_grow(&sb, (size_t)size + 1);
	while (sb.len < size) {
		ssize_t n = read(fd, sb.buf + sb.len, (size_t)size - sb.len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = error_setc(GS_EINVAL, "image '%s': cannot read '%s': %s", img->name,
					 path, n < 0 ? strerror(errno) : "it got shorter");
			goto done;
		}
		strbuf_setlen(&sb, sb.len + (size_t)n);
	}
	hash_sha256_hex(sb.buf, sb.len, hex);
	if (digest && strcmp(hex, digest + 7)) {
		ret = error_setc(GS_EINVAL, "image '%s': blob %s hashes to sha256:%s", img->name,
				 digest, hex);
		goto done;
	}
	if (got)
		snprintf(got, 72, "sha256:%s", hex);
	ret = image_json_parse(img, digest ? digest : path, sb.buf, sb.len, out);
done:
	if (fd >= 0)
		close(fd);
	strbuf_release(&sb);
	return ret;
}

/* The JSON blob a descriptor names, of its size (at most the cap), checked against its digest. */
static int oci_read_json(struct image *img, json_t *desc, const char *what, json_t **out)
{
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	char *path = oci_blob_path(img, digest);
	uint64_t size;
	int ret;

	*out = NULL;
	if (!path)
		return GS_EINVAL;
	ret = image_desc_size(img, desc, what, IMAGE_JSON_CAP, &size);
	if (!ret)
		ret = oci_read_doc(img, path, digest, (int64_t)size, NULL, out);
	free(path);
	return ret;
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

/* One layer blob, read no further than its descriptor's size. */
static int oci_read_layer(struct image *img, size_t i, json_t *desc, struct fd_src *f)
{
	struct image_layer *layer = image_layer_new(img);
	const char *ld = json_string_value(json_object_get(desc, "digest"));
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	struct image_src src = {fd_read, f, 1, 0, NULL, 0, NULL};
	char *bpath = NULL, *label, what[64];
	uint64_t file_size; /* the reader measures what it reads, whatever this says */
	int ret;

	layer->index = i;
	layer->blob_digest = ld ? xstrdup(ld) : NULL;
	layer->media_type = mt ? xstrdup(mt) : NULL;
	snprintf(what, sizeof(what), "layer %zu's descriptor", i);
	if ((ret = image_desc_size(img, desc, what, 0, &src.size)) < 0)
		return ret;
	if (!(bpath = oci_blob_path(img, ld)))
		return GS_EINVAL;
	snprintf(what, sizeof(what), "layer %zu", i);
	if ((ret = oci_open(img, what, bpath, &f->fd, &file_size)) < 0) {
		free(bpath);
		return ret;
	}
	f->path = bpath;
	label = xstrfmt("%zu", i);
	ret = image_layer_read(img, layer, label, &src);
	free(label);
	close(f->fd);
	f->fd = -1;
	free(bpath);
	return ret;
}

int image_walk_oci(struct image *img)
{
	json_t *doc = NULL, *config = NULL, *layers, *l, *desc;
	char *path = fs_join(img->path, img->dir_layout ? "manifest.json" : "index.json");
	struct fd_src f = {-1, NULL, NULL};
	char mdigest[72] = "";
	size_t i;
	int ret, depth;

	img->verify_blobs = 1;
	if ((ret = oci_read_doc(img, path, NULL, -1, mdigest, &doc)) < 0)
		goto done;
	if (!img->dir_layout)
		mdigest[0] = 0; /* index.json is no manifest */
	/* index.json (or dir:'s manifest list), then any nested index */
	for (depth = 0; image_is_index(doc, NULL); depth++) {
		json_t *next;

		if (depth == IMAGE_MAX_DEPTH) {
			ret =
			    error_setc(GS_EINVAL, "image '%s': indexes nested too deep", img->name);
			goto done;
		}
		if ((ret = image_pick(img, doc, !depth, &desc)) < 0 ||
		    (ret = oci_read_json(img, desc, "a manifest's descriptor", &next)) < 0)
			goto done;
		snprintf(mdigest, sizeof(mdigest), "%s",
			 json_string_value(json_object_get(desc, "digest")));
		json_decref(doc);
		doc = next;
	}
	if (!mdigest[0]) {
		ret = error_setc(GS_EINVAL, "image '%s': index.json names no manifest", img->name);
		goto done;
	}
	if (img->tag && !depth) {
		/* a dir: layout of one image names no tag */
		ret = error_setc(GS_ENOTFOUND, "image '%s' has no tag '%s' (it has: no tags)",
				 img->name, img->tag);
		goto done;
	}
	img->meta.manifest_digest = xstrdup(mdigest);
	layers = json_object_get(doc, "layers");
	if (!json_is_array(layers)) {
		ret = error_setc(GS_EINVAL, "image '%s': manifest %s has no layers", img->name,
				 mdigest);
		goto done;
	}
	if ((ret = oci_read_json(img, json_object_get(doc, "config"), "the config's descriptor",
				 &config)) < 0)
		goto done;
	ret = image_set_config(
	    img, config,
	    json_string_value(json_object_get(json_object_get(doc, "config"), "digest")));
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
	json_array_foreach(layers, i, l) if ((ret = oci_read_layer(img, i, l, &f)) < 0) goto done;
done:
	free(f.buf);
	free(path);
	json_decref(doc);
	json_decref(config);
	return ret;
}
