/*
 * Opening an image wherever it is, the metadata every source shares, and
 * putting streamed layers in image order. The sources live in
 * image_archive.c (docker-save streams: file or `docker save`), image_oci.c
 * and image_registry.c; the layer reader in image_layer.c.
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

/* "os/arch[/variant]" of a descriptor's or a config's platform, NULL without os and arch. */
static char *platform_of(json_t *p)
{
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	const char *variant = json_string_value(json_object_get(p, "variant"));

	if (!os || !arch)
		return NULL;
	/* arm64 means arm64/v8, as the engine normalizes it */
	if (!variant && !strcmp(arch, "arm64"))
		variant = "v8";
	return variant && *variant ? xstrfmt("%s/%s/%s", os, arch, variant)
				   : xstrfmt("%s/%s", os, arch);
}

/* Whether platform_of()'s `have` is `want`: "linux/arm64" takes any arm64 variant. */
static int platform_matches(const char *have, const char *want)
{
	size_t wl = strlen(want);

	return !strncmp(have, want, wl) && (!have[wl] || have[wl] == '/');
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
	if (img->platform_given) {
		char *have = platform_of(config);
		int ok = !have || platform_matches(have, img->platform);

		if (!ok)
			error_setc(GS_ENOTFOUND,
				   "image '%s' has no manifest for platform '%s' (it has: %s)",
				   img->name, img->platform, have);
		free(have);
		if (!ok) {
			json_decref(config);
			return GS_ENOTFOUND;
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

int image_desc_size(struct image *img, json_t *desc, const char *what, uint64_t max, uint64_t *size)
{
	json_t *j = json_object_get(desc, "size");

	*size = 0;
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return error_setc(GS_EINVAL, "image '%s': %s has no valid size", img->name, what);
	if (max && (uint64_t)json_integer_value(j) > max)
		return error_setc(GS_EINVAL,
				  "image '%s': %s claims %" JSON_INTEGER_FORMAT
				  " bytes, more than the limit of %" PRIu64,
				  img->name, what, json_integer_value(j), max);
	*size = (uint64_t)json_integer_value(j);
	return 0;
}

int image_check_platform(const char *s)
{
	size_t parts = 0, len;

	for (const char *p = s; parts < 4; p += len + 1) {
		len = strcspn(p, "/");
		if (!len || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789._-") != len)
			break;
		parts++;
		if (!p[len]) {
			if (parts >= 2 && parts <= 3)
				return 0;
			break;
		}
	}
	return error_setc(GS_EINVAL,
			  "--platform wants OS/ARCH[/VARIANT] (like linux/arm64), not '%s'", s);
}

static const char *desc_name(json_t *d)
{
	json_t *a = json_object_get(d, "annotations");
	const char *n = json_string_value(json_object_get(a, "org.opencontainers.image.ref.name"));

	return n ? n : json_string_value(json_object_get(a, "io.containerd.image.name"));
}

/* A tag names `name` when it is all of it, or its end after ':' or '/'
 * ("v1" and "gpuslim/x:v1" both name "docker.io/gpuslim/x:v1"). */
int image_tag_matches(const char *name, const char *tag)
{
	size_t nl = strlen(name), tl = strlen(tag);

	if (!strcmp(name, tag))
		return 1;
	return nl > tl && !strcmp(name + nl - tl, tag) &&
	       (name[nl - tl - 1] == ':' || name[nl - tl - 1] == '/');
}

static int is_attestation(json_t *d)
{
	const char *os = json_string_value(json_object_get(json_object_get(d, "platform"), "os"));
	const char *t = json_string_value(
	    json_object_get(json_object_get(d, "annotations"), "vnd.docker.reference.type"));

	/* BuildKit's attestation manifests say "unknown/unknown". */
	return (os && !strcmp(os, "unknown")) || (t && !strcmp(t, "attestation-manifest"));
}

int image_is_index(json_t *doc, const char *media_type)
{
	const char *mt =
	    media_type ? media_type : json_string_value(json_object_get(doc, "mediaType"));

	if (mt)
		return !strcmp(mt, "application/vnd.oci.image.index.v1+json") ||
		       !strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json");
	return json_is_array(json_object_get(doc, "manifests"));
}

/* Add `s` to `seen` unless it is there, and to the ", "-separated `sb` (when not NULL). */
static void add_distinct(struct strbuf *sb, struct vec *seen, const char *s)
{
	for (size_t i = 0; i < seen->nr; i++)
		if (!strcmp(seen->items[i], s))
			return;
	vec_pushstr(seen, s);
	if (sb)
		strbuf_addf(sb, "%s%s", sb->len ? ", " : "", s);
}

int image_pick(struct image *img, json_t *index, int top, json_t **out)
{
	json_t *manifests = json_object_get(index, "manifests"), *m, *pick = NULL;
	struct vec cands = VEC_INIT(NULL), seen = VEC_INIT(free), seen_tags = VEC_INIT(free),
		   digests = VEC_INIT(free);
	struct strbuf tags = STRBUF_INIT, plats = STRBUF_INIT;
	const char *tag = top ? img->tag : NULL;
	size_t i;
	int ret = 0;

	*out = NULL;
	json_array_foreach(manifests, i, m)
	{
		const char *name = desc_name(m);

		if (!json_is_string(json_object_get(m, "digest")) || is_attestation(m))
			continue;
		if (name)
			add_distinct(&tags, &seen_tags, name);
		if (!tag || (name && image_tag_matches(name, tag)))
			vec_push(&cands, m);
	}
	if (tag && !cands.nr) {
		ret = error_setc(GS_ENOTFOUND, "image '%s' has no tag '%s' (it has: %s)", img->name,
				 tag, tags.len ? tags.buf : "no tags");
		goto done;
	}
	/* The descriptors for the platform; those that name none when none matches. */
	for (int pass = 0; pass < 2 && !digests.nr; pass++) {
		for (i = 0; i < cands.nr; i++) {
			char *plat = platform_of(json_object_get(cands.items[i], "platform"));

			if (plat && !pass)
				add_distinct(&plats, &seen, plat);
			if (pass ? !plat : plat && platform_matches(plat, img->platform)) {
				pick = cands.items[i];
				add_distinct(NULL, &digests,
					     json_string_value(json_object_get(pick, "digest")));
			}
			free(plat);
		}
	}
	if (!pick)
		ret = error_setc(GS_ENOTFOUND,
				 "image '%s' has no manifest for platform '%s' (it has: %s)",
				 img->name, img->platform, plats.len ? plats.buf : "none");
	else if (digests.nr > 1 && top && !tag && tags.len)
		ret = error_setc(GS_EINVAL,
				 "image '%s' holds %zu images (tags: %s): name one as '%s:TAG'",
				 img->name, digests.nr, tags.buf, img->name);
	else if (digests.nr > 1)
		ret = error_setc(GS_EINVAL, "image '%s' has %zu manifests for platform '%s'%s%s%s",
				 img->name, digests.nr, img->platform, tag ? " and tag '" : "",
				 tag ? tag : "", tag ? "'" : "");
	else
		*out = pick;
done:
	vec_release(&cands);
	vec_release(&seen);
	vec_release(&seen_tags);
	vec_release(&digests);
	strbuf_release(&tags);
	strbuf_release(&plats);
	return ret;
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

/* A name that can only be a file: what goes wrong with it is about the file. */
static int looks_like_path(const char *s)
{
	static const char *const exts[] = {".tar",     ".tar.gz",   ".tgz",
					   ".tar.zst", ".tar.zstd", NULL};

	if (starts_with(s, "./") || starts_with(s, "../") || *s == '/' || !strcmp(s, ".") ||
	    !strcmp(s, ".."))
		return 1;
	for (size_t i = 0; exts[i]; i++)
		if (ends_with(s, exts[i]))
			return 1;
	return 0;
}

/* 1 when `dir/name` is a regular file that starts with `prefix`. */
static int file_starts_with(const char *dir, const char *name, const char *prefix)
{
	char *path = fs_join(dir, name), buf[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), ok = 0;
	struct stat st;
	ssize_t n;

	free(path);
	if (fd < 0)
		return 0;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode)) {
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		ok = starts_with(buf, prefix);
	}
	close(fd);
	return ok;
}

/* An image layout directory: 1 OCI's (oci-layout), 2 skopeo's dir: (version,
 * manifest.json and the blobs by digest), 0 neither. */
static int layout_kind(const char *dir)
{
	char *p = fs_join(dir, "oci-layout");
	int oci = fs_exists(p);

	free(p);
	if (oci)
		return 1;
	if (!file_starts_with(dir, "version", "Directory Transport Version:"))
		return 0;
	p = fs_join(dir, "manifest.json");
	oci = fs_exists(p);
	free(p);
	return oci ? 2 : 0;
}

/* `path` (with `tag`, or NULL) is there: an archive or a layout, as `want` allows. */
static int take_path(struct image *img, const char *path, const char *tag, const struct stat *st,
		     enum image_source want)
{
	if (S_ISDIR(st->st_mode)) {
		int kind = layout_kind(path);

		if (want == IMAGE_SOURCE_ARCHIVE)
			return error_setc(GS_EINVAL, "image '%s': a directory, not an archive",
					  img->name);
		if (!kind)
			return error_setc(GS_EINVAL,
					  "image '%s': a directory without 'oci-layout' (nor "
					  "skopeo's dir: 'version') is not an image layout",
					  img->name);
		img->source = IMAGE_SOURCE_OCI;
		img->dir_layout = kind == 2;
	} else if (want == IMAGE_SOURCE_OCI) {
		return error_setc(GS_EINVAL, "image '%s': not a directory", img->name);
	} else {
		img->source = IMAGE_SOURCE_ARCHIVE;
	}
	img->path = xstrdup(path);
	img->tag = tag ? xstrdup(tag) : NULL;
	return 0;
}

/*
 * "PATH:TAG": the length of PATH, the part before the first ':' after which
 * a layout or an archive (as `*want` allows) is there (*st its stat), or 0
 * when there is none. A tag may hold ':' and '/' ("docker.io/library/x:1").
 * A part that can only be a path makes *want an archive: "./missing.tar:v1"
 * is a path too.
 */
static size_t path_tag_split(const char *name, enum image_source *want, struct stat *st)
{
	for (const char *colon = strchr(name, ':'); colon; colon = strchr(colon + 1, ':')) {
		char *path = xstrndup(name, (size_t)(colon - name));
		int found =
		    colon != name && colon[1] && !stat(path, st) &&
		    (*want != IMAGE_SOURCE_AUTO ||
		     (S_ISDIR(st->st_mode) ? layout_kind(path) != 0 : looks_like_path(path)));

		if (!found && looks_like_path(path))
			*want = IMAGE_SOURCE_ARCHIVE;
		free(path);
		if (found)
			return (size_t)(colon - name);
	}
	return 0;
}

int image_name_is_file(const char *name, enum image_source source)
{
	enum image_source want = IMAGE_SOURCE_AUTO;
	struct stat st;

	if (source == IMAGE_SOURCE_ARCHIVE || source == IMAGE_SOURCE_OCI)
		return 1;
	if (source != IMAGE_SOURCE_AUTO)
		return 0;
	if (!stat(name, &st) || looks_like_path(name))
		return 1;
	return path_tag_split(name, &want, &st) > 0 || want != IMAGE_SOURCE_AUTO;
}

/*
 * The image as a file or a directory, "PATH" or "PATH:TAG": 0 when found
 * (img->path, img->tag and img->source set), 1 when `want` is auto and the
 * name is no path (the engine or a registry may have it), else an error:
 * a name that can only be a path and is not there is GS_ENOTFOUND.
 */
static int open_path(struct image *img, enum image_source want)
{
	const char *name = img->name;
	struct stat st;
	size_t cut;
	int err;

	if (!stat(name, &st))
		return take_path(img, name, NULL, &st, want);
	err = errno;
	cut = path_tag_split(name, &want, &st);
	if (cut) {
		char *path = xstrndup(name, cut);
		int ret = take_path(img, path, name + cut + 1, &st, want);

		free(path);
		return ret;
	}
	if (want == IMAGE_SOURCE_AUTO && !looks_like_path(name))
		return 1;
	if (err == ENOENT || err == ENOTDIR)
		return error_setc(GS_ENOTFOUND, "image '%s': no such file or directory", name);
	return error_setc(GS_EINVAL, "image '%s': cannot open: %s", name, strerror(err));
}

static int open_auto(struct image *img, const struct image_opts *opts)
{
	int ret;
	char *engine_err = NULL;

	if ((ret = open_path(img, IMAGE_SOURCE_AUTO)) <= 0)
		return ret;
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
	if (ret == GS_ENOTFOUND && img->not_in_registry)
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
	int ret = 0;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	img->name = xstrdup(name);
	img->source = opts->source;
	img->platform = xstrdup(opts->platform ? opts->platform : "linux/amd64");
	img->platform_given = opts->platform != NULL;
	img->max_entry_size =
	    opts->max_entry_size ? opts->max_entry_size : IMAGE_DEFAULT_MAX_ENTRY_SIZE;
	img->max_entries = opts->max_entries ? opts->max_entries : IMAGE_DEFAULT_MAX_ENTRIES;
	img->reg = opts->registry;
	img->abort_fd = opts->abort_fd ? *opts->abort_fd : -1;
	vec_init(&img->streamed, layer_free_cb);
	vec_init(&img->layers, layer_free_cb);
	vec_init(&img->pending, image_pending_free);
	vec_init(&img->meta.diff_ids, free);
	vec_init(&img->meta.created_by, free);
	vec_init(&img->meta.repo_tags, free);
	img->meta.name = xstrdup(name);

	if (img->platform_given && (ret = image_check_platform(img->platform)) < 0)
		goto done;
	switch (img->source) {
	case IMAGE_SOURCE_AUTO:
		ret = open_auto(img, opts);
		break;
	case IMAGE_SOURCE_ARCHIVE:
	case IMAGE_SOURCE_OCI:
		ret = open_path(img, img->source);
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
done:
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

size_t image_layers_hashed_apart(const struct image *img)
{
	return img->hashed_apart;
}

void image_close(struct image *img)
{
	if (!img)
		return;
	free(img->name);
	free(img->platform);
	free(img->tag);
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
	vec_release(&img->pending);
	free(img);
}
