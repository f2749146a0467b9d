/*
 * docker-save streams, from a file (archive source) or from `docker save`
 * through a pipe (engine source), read forward only: the same code must
 * work on a pipe. An uncompressed file is read twice (image_walk_stream()
 * says why), skipping by seeking what it does not need.
 *
 * Docker 20.10 writes "<v1 id>/layer.tar" directories first, the config
 * "<id>.json" among them (the tar is written from a directory walked in
 * name order) and manifest.json last; skopeo and podman (docker-archive:)
 * write the layers as "<digest>.tar" at the root; newer engines and
 * oci-archive: write an OCI layout (blobs/sha256/..., index.json, and
 * manifest.json from an engine). In one pass, layers are read as they
 * come; their place in the image is settled from manifest.json and the
 * config's diff_ids at the end (or as soon as both are known). JSON
 * documents met on the way (configs, OCI manifests) are kept, bounded.
 *
 * Why `docker save` and not the Engine API's GET /images/{name}/get: the
 * client already knows DOCKER_HOST, contexts, TLS and ssh:// engines, and
 * engine.c talks to the engine through it everywhere else.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/image_private.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/process.h"

#define STREAM_BUF  (1u << 20)
#define JSON_BUDGET (64u << 20) /* all JSON kept from one archive */

struct json_doc {
	char *name; /* member name, "blobs/sha256/<hex>" or "<hex>.json" */
	char digest[72];
	json_t *json;
};

struct stream {
	struct image *img;
	int fd;		   /* archive source */
	off_t size;	   /* its size, when a regular file */
	struct process *p; /* engine source */
	struct archive *outer;
	char *buf;
	struct vec docs; /* struct json_doc * */
	size_t json_bytes;
	struct vec names;    /* member name of each streamed layer, as img->streamed */
	json_t *manifest;    /* manifest.json */
	json_t *index;	     /* index.json */
	json_t *layer_names; /* the chosen image's Layers, once known */
	int source_failed;
	size_t members; /* regular members met */
	/* A seekable file's layers, hashed on other threads (see start_pool()). */
	struct hash_pool *pool;
	struct vec pool_names; /* member name of each range */
	struct hash_range *pool_ranges;
	off_t *pool_headers; /* where each member's first header starts */
	enum {
		PASS_ALL,    /* one pass: layers read as they come, placed at the end */
		PASS_PLAN,   /* a seekable file's first pass: the JSON documents only */
		PASS_LAYERS, /* its second: the chosen image's layers, in a known place */
	} pass;
};

static void doc_free(void *p)
{
	struct json_doc *d = p;

	free(d->name);
	json_decref(d->json);
	free(d);
}

static la_ssize_t outer_read_cb(struct archive *a, void *data, const void **buf)
{
	struct stream *s = data;
	long n;

	if (s->p) {
		n = process_read_stdout(s->p, s->buf, STREAM_BUF);
	} else {
		do {
			n = read(s->fd, s->buf, STREAM_BUF);
		} while (n < 0 && errno == EINTR);
		if (n < 0)
			error_setc(GS_EINVAL, "cannot read '%s': %s", s->img->path,
				   strerror(errno));
	}
	if (n < 0) {
		s->source_failed = 1;
		archive_set_error(a, EIO, "%s", error_last());
		return ARCHIVE_FATAL;
	}
	*buf = s->buf;
	return n;
}

/* A layer's bytes: the current member's data blocks. */
static long member_read(void *ctx, const void **buf)
{
	struct stream *s = ctx;
	size_t size;
	la_int64_t off;
	int r = archive_read_data_block(s->outer, buf, &size, &off);

	if (r == ARCHIVE_EOF)
		return 0;
	if (r < ARCHIVE_WARN) {
		const char *msg = archive_error_string(s->outer);

		if (msg && strstr(msg, "runcated"))
			return error_setc(GS_EINVAL, "truncated tar (the archive ends inside it)");
		return error_setc(s->source_failed ? GS_EINFRA : GS_EINVAL, "%s",
				  msg ? msg : "read error");
	}
	return (long)size;
}

/* A member already read whole into memory, served as one block. */
struct mem_src {
	const char *data;
	size_t len;
	int done;
};

static long mem_read(void *ctx, const void **buf)
{
	struct mem_src *m = ctx;

	if (m->done)
		return 0;
	m->done = 1;
	*buf = m->data;
	return (long)m->len;
}

/* The member's first block, read to look at it, then the rest. */
struct peek_src {
	struct stream *s;
	const void *first;
	long first_len;
	int served;
};

static long peek_read(void *ctx, const void **buf)
{
	struct peek_src *pk = ctx;

	if (!pk->served) {
		pk->served = 1;
		*buf = pk->first;
		return pk->first_len;
	}
	if (!pk->first_len)
		return 0;
	return member_read(pk->s, buf);
}

static int outer_error(struct stream *s, const char *doing)
{
	const char *msg = archive_error_string(s->outer);
	char lower[256];

	if (msg && msg[0] >= 'A' && msg[0] <= 'Z' && !(msg[1] >= 'A' && msg[1] <= 'Z')) {
		snprintf(lower, sizeof(lower), "%c%s", msg[0] - 'A' + 'a', msg + 1);
		msg = lower;
	}
	if (s->source_failed)
		return error_setc(GS_EINFRA, "image '%s': %s", s->img->name, msg ? msg : "");
	if (msg && strstr(msg, "runcated"))
		return error_setc(GS_EINVAL, "image '%s': truncated archive (%s)", s->img->name,
				  doing);
	return error_setc(GS_EINVAL, "image '%s': not a docker-save archive (%s)", s->img->name,
			  msg ? msg : "unreadable");
}

/* The current member whole, up to `cap` bytes. */
static int read_member(struct stream *s, const char *name, size_t cap, struct strbuf *out)
{
	char chunk[65536];

	for (;;) {
		la_ssize_t n = archive_read_data(s->outer, chunk, sizeof(chunk));

		if (!n)
			return 0;
		if (n < 0)
			return outer_error(s, name);
		if (out->len + (size_t)n > cap)
			return error_setc(GS_EINVAL, "image '%s': '%s' is larger than %zu bytes",
					  s->img->name, name, cap);
		strbuf_add(out, chunk, (size_t)n);
	}
}

static struct json_doc *find_doc(struct stream *s, const char *name)
{
	for (size_t i = 0; i < s->docs.nr; i++) {
		struct json_doc *d = s->docs.items[i];

		if (!strcmp(d->name, name))
			return d;
	}
	return NULL;
}

static int keep_doc(struct stream *s, const char *name, const struct strbuf *raw, json_t *json)
{
	struct json_doc *d = xcalloc(1, sizeof(*d));

	s->json_bytes += raw->len;
	if (s->json_bytes > JSON_BUDGET) {
		free(d);
		json_decref(json);
		return error_setc(GS_EINVAL, "image '%s': more than %u MiB of JSON documents",
				  s->img->name, JSON_BUDGET >> 20);
	}
	d->name = xstrdup(name);
	memcpy(d->digest, "sha256:", 7);
	hash_sha256_hex(raw->buf, raw->len, d->digest + 7);
	d->json = json;
	vec_push(&s->docs, d);
	return 0;
}

/* "blobs/sha256/<hex>" for a digest, NULL when it is not sha256. */
static char *blob_name(const char *digest)
{
	if (!digest || !starts_with(digest, "sha256:") || strlen(digest) != 71 ||
	    strchr(digest, '/'))
		return NULL;
	return xstrfmt("blobs/sha256/%s", digest + 7);
}

/* The entry of manifest.json for img->tag, or its only one. */
static int pick_entry(struct stream *s, json_t **out)
{
	struct image *img = s->img;
	size_t i, j, nr = json_array_size(s->manifest), n = 0;
	struct strbuf tags = STRBUF_INIT;
	json_t *m, *t;
	int ret = 0;

	*out = NULL;
	if (!json_is_array(s->manifest) || !nr)
		return error_setc(GS_EINVAL, "image '%s': manifest.json names no image", img->name);
	json_array_foreach(s->manifest, i, m)
	{
		int named = 0;

		json_array_foreach(json_object_get(m, "RepoTags"), j, t)
		{
			if (!json_is_string(t))
				continue;
			strbuf_addf(&tags, "%s%s", tags.len ? ", " : "", json_string_value(t));
			named |= img->tag && image_tag_matches(json_string_value(t), img->tag);
		}
		if (named || !img->tag) {
			*out = m;
			n++;
		}
	}
	if (nr > 1 && s->pass == PASS_ALL)
		ret = error_setc(GS_EINVAL,
				 "image '%s' holds %zu images (tags: %s): read from a pipe or "
				 "compressed, an archive must hold one",
				 img->name, nr, tags.len ? tags.buf : "none");
	else if (!n)
		ret = error_setc(GS_ENOTFOUND, "image '%s' has no tag '%s' (it has: %s)", img->name,
				 img->tag, tags.len ? tags.buf : "no tags");
	else if (n > 1)
		ret = error_setc(GS_EINVAL,
				 "image '%s' holds %zu images (tags: %s): name one as '%s:TAG'",
				 img->name, nr, tags.len ? tags.buf : "none", img->name);
	strbuf_release(&tags);
	return ret;
}

/*
 * Once the image's manifest is known: which config and which layers. From
 * manifest.json (docker's), else from index.json and the OCI manifest blob.
 * Returns 1 when known, 0 when not yet, <0 on error.
 */
static int resolve_manifest(struct stream *s, int at_end)
{
	struct image *img = s->img;
	const char *config_name = NULL;
	struct json_doc *cfg;
	char *owned = NULL;
	int ret;

	if (s->layer_names && img->meta_known)
		return 1;
	if (s->manifest) {
		json_t *m, *tags, *t;
		size_t i;

		if ((ret = pick_entry(s, &m)) < 0)
			return ret;
		config_name = json_string_value(json_object_get(m, "Config"));
		/* Asked again after each member until the config has come: the
		 * names of an earlier call go first. */
		json_decref(s->layer_names);
		s->layer_names = json_object_get(m, "Layers");
		if (!config_name || !json_is_array(s->layer_names)) {
			s->layer_names = NULL;
			return error_setc(GS_EINVAL,
					  "image '%s': manifest.json lacks Config or Layers",
					  img->name);
		}
		json_incref(s->layer_names);
		vec_release(&img->meta.repo_tags);
		tags = json_object_get(m, "RepoTags");
		json_array_foreach(tags, i, t) if (json_is_string(t))
		    vec_pushstr(&img->meta.repo_tags, json_string_value(t));
	} else if (s->index && at_end) {
		struct json_doc *md = NULL;
		json_t *layers, *l, *index = s->index, *desc;
		const char *digest = NULL;
		size_t i;

		/* index.json, then any nested index (one per platform) */
		for (int depth = 0; !md || image_is_index(md->json, NULL); depth++) {
			char *name;

			if (depth == IMAGE_MAX_DEPTH)
				return error_setc(GS_EINVAL, "image '%s': indexes nested too deep",
						  img->name);
			if ((ret = image_pick(img, md ? md->json : index, !md, &desc)) < 0)
				return ret;
			digest = json_string_value(json_object_get(desc, "digest"));
			name = blob_name(digest);
			md = name ? find_doc(s, name) : NULL;
			free(name);
			if (!md)
				return error_setc(GS_EINVAL,
						  "image '%s': the archive lacks manifest %s",
						  img->name, digest);
		}
		config_name = owned = blob_name(json_string_value(
		    json_object_get(json_object_get(md->json, "config"), "digest")));
		layers = json_object_get(md->json, "layers");
		if (!config_name || !json_is_array(layers))
			return error_setc(GS_EINVAL,
					  "image '%s': manifest %s lacks config or layers",
					  img->name, digest);
		json_decref(s->layer_names);
		s->layer_names = json_array();
		json_array_foreach(layers, i, l)
		{
			char *ln = blob_name(json_string_value(json_object_get(l, "digest")));

			json_array_append_new(s->layer_names, json_string(ln ? ln : ""));
			free(ln);
		}
	} else if (at_end) {
		return error_setc(GS_EINVAL,
				  "image '%s': not a docker-save archive: no manifest.json",
				  img->name);
	} else {
		return 0;
	}
	cfg = find_doc(s, config_name);
	if (!cfg) {
		ret = at_end
			  ? error_setc(GS_EINVAL, "image '%s': the archive lacks the config '%s'",
				       img->name, config_name)
			  : 0;
		free(owned);
		return ret;
	}
	free(owned);
	if ((ret = image_set_config(img, json_incref(cfg->json), cfg->digest)) < 0)
		return ret;
	if (json_array_size(s->layer_names) != img->meta.diff_ids.nr)
		return error_setc(
		    GS_EINVAL, "image '%s': manifest.json names %zu layers, the config %zu",
		    img->name, json_array_size(s->layer_names), img->meta.diff_ids.nr);
	return 1;
}

/* The image position of member `name`, from the manifest when known. */
static size_t index_of_member(struct stream *s, const char *name)
{
	json_t *n;
	size_t i;

	if (!s->layer_names || !s->img->meta_known)
		return SIZE_MAX;
	json_array_foreach(s->layer_names, i,
			   n) if (!strcmp(json_string_value(n) ? json_string_value(n) : "", name))
	{
		int taken = 0;

		for (size_t j = 0; j < s->img->streamed.nr && !taken; j++)
			taken = ((struct image_layer *)s->img->streamed.items[j])->index == i;
		if (!taken)
			return i;
	}
	return SIZE_MAX;
}

static int read_layer(struct stream *s, const char *name, const char *digest, struct image_src *src)
{
	struct image_layer *l = image_layer_new(s->img);
	char *label = xstrfmt("'%s'", name);
	int ret;

	vec_pushstr(&s->names, name);
	l->blob_digest = digest ? xstrdup(digest) : NULL;
	/* A second pass knows every place, but errors name the member as a
	 * single pass does: check_digests() places it by its diff_id. */
	l->index = s->pass == PASS_LAYERS ? SIZE_MAX : index_of_member(s, name);
	ret = image_layer_read(s->img, l, label, src);
	free(label);
	return ret;
}

/* Docker 20.10's "<v1 id>/layer.tar"; skopeo's and podman's "<digest>.tar". */
static int is_layer_name(const char *name)
{
	const char *slash = strchr(name, '/');

	if (slash)
		return !strcmp(slash, "/layer.tar") && !strchr(slash + 1, '/');
	return strlen(name) == 64 + 4 && ends_with(name, ".tar") &&
	       strspn(name, "0123456789abcdef") == 64;
}

static int is_layer_member(struct stream *s, const char *name)
{
	json_t *n;
	size_t i;

	json_array_foreach(s->layer_names, i, n) if (json_is_string(n) &&
						     !strcmp(json_string_value(n), name)) return 1;
	return 0;
}

/*
 * A layer member of a seekable file, read with pread() at its own offset
 * rather than through the outer archive, so that what no visitor reads is
 * skipped: the pool hashes every byte, the parser reads headers. The outer
 * archive then skips the member by seeking.
 */
#define RANGE_BUF (128u << 10) /* a few headers and small files at a time */

struct range_src {
	struct stream *s;
	off_t at, end;
	char *buf;
};

static long range_read(void *ctx, const void **buf)
{
	struct range_src *r = ctx;
	size_t want = r->end - r->at < (off_t)RANGE_BUF ? (size_t)(r->end - r->at) : RANGE_BUF;
	ssize_t n;

	if (!want)
		return 0;
	do {
		n = pread(r->s->fd, r->buf, want, r->at);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return error_setc(GS_EINVAL, "cannot read '%s': %s", r->s->img->path,
				  strerror(errno));
	if (!n)
		return error_setc(GS_EINVAL, "truncated tar (the archive ends inside it)");
	r->at += n;
	*buf = r->buf;
	return (long)n;
}

static uint64_t range_skip(void *ctx, uint64_t n)
{
	struct range_src *r = ctx;

	if (n > (uint64_t)(r->end - r->at))
		n = (uint64_t)(r->end - r->at);
	r->at += (off_t)n;
	return n;
}

/* The pool's range for the member libarchive is at, when it is the same one:
 * `src` then reads that range. */
static void pool_src(struct stream *s, const char *name, int64_t size, struct range_src *r,
		     struct image_src *src)
{
	la_int64_t at = archive_read_header_position(s->outer);

	for (size_t i = 0; s->pool && i < s->pool_names.nr; i++)
		if (!strcmp(s->pool_names.items[i], name) &&
		    s->pool_ranges[i].size == (uint64_t)size && s->pool_headers[i] == at) {
			r->s = s;
			r->at = s->pool_ranges[i].offset;
			r->end = r->at + (off_t)size;
			r->buf = xmalloc(RANGE_BUF);
			*src = (struct image_src){range_read, r, 0, 0, s->pool, i, range_skip};
			return;
		}
}

/* A member that is a layer, a JSON document, or neither. */
static int handle_member(struct stream *s, const char *name, int64_t size)
{
	struct image_src src = {member_read, s, 0, 0, NULL, 0, NULL};
	const char *slash = strchr(name, '/');
	struct strbuf raw = STRBUF_INIT;
	json_t *json = NULL;
	int ret = 0;

	if (s->pass == PASS_LAYERS) {
		/* Its documents are known: only its layers are read, no other image's. */
		char *digest =
		    starts_with(name, "blobs/sha256/") ? xstrfmt("sha256:%s", name + 13) : NULL;

		if (is_layer_member(s, name)) {
			struct range_src r = {0};

			pool_src(s, name, size, &r, &src);
			ret = read_layer(s, name, digest, &src);
			free(r.buf);
		}
		free(digest);
		goto done;
	}
	if (!strcmp(name, "manifest.json") || !strcmp(name, "index.json")) {
		if ((ret = read_member(s, name, IMAGE_JSON_CAP, &raw)) < 0 ||
		    (ret = image_json_parse(s->img, name, raw.buf, raw.len, &json)) < 0)
			goto done;
		if (name[0] == 'm') {
			json_decref(s->manifest);
			s->manifest = json;
		} else {
			json_decref(s->index);
			s->index = json;
		}
		json = NULL;
	} else if (!slash && ends_with(name, ".json") && strlen(name) == 69) {
		/* docker 20.10's config, "<id>.json" */
		if ((ret = read_member(s, name, IMAGE_JSON_CAP, &raw)) < 0 ||
		    (ret = image_json_parse(s->img, name, raw.buf, raw.len, &json)) < 0)
			goto done;
		ret = keep_doc(s, name, &raw, json);
		json = NULL;
		/* Known before the manifest, it already gives layers their place by diff_id. */
		if (!ret && !s->img->meta_known && !s->manifest && s->pass == PASS_ALL) {
			ret = image_set_config(
			    s->img,
			    json_incref(((struct json_doc *)s->docs.items[s->docs.nr - 1])->json),
			    ((struct json_doc *)s->docs.items[s->docs.nr - 1])->digest);
		}
	} else if (is_layer_name(name)) {
		if (s->pass == PASS_ALL)
			ret = read_layer(s, name, NULL, &src);
	} else if (starts_with(name, "blobs/sha256/") && strlen(name) == 13 + 64) {
		char *digest = xstrfmt("sha256:%s", name + 13);
		const void *b;
		long n = member_read(s, &b);

		/* A blob is a JSON document (config, manifest, index) or a layer:
		 * a small one that parses as JSON is kept as such. */
		if (n < 0) {
			ret = error_setc(GS_EINVAL, "image '%s': '%s': %s", s->img->name, name,
					 error_last());
		} else if (n > 0 && ((const char *)b)[0] == '{' &&
			   size <= (int64_t)IMAGE_JSON_CAP) {
			struct mem_src m;
			struct image_src msrc = {mem_read, &m, 0, 0, NULL, 0, NULL};

			strbuf_add(&raw, b, (size_t)n);
			ret = read_member(s, name, IMAGE_JSON_CAP, &raw);
			if (!ret && !(json = json_loadb(raw.buf, raw.len, 0, NULL))) {
				m = (struct mem_src){raw.buf, raw.len, 0};
				if (s->pass == PASS_ALL)
					ret = read_layer(s, name, digest, &msrc);
			} else if (!ret) {
				ret = keep_doc(s, name, &raw, json);
				json = NULL;
			}
		} else if (s->pass == PASS_ALL) {
			struct peek_src pk = {s, b, n, 0};
			struct image_src psrc = {peek_read, &pk, 0, 0, NULL, 0, NULL};

			ret = read_layer(s, name, digest, &psrc);
		}
		free(digest);
	}
	if (!ret && s->pass == PASS_ALL && (ret = resolve_manifest(s, 0)) == 1)
		ret = image_send_meta(s->img);
done:
	json_decref(json);
	strbuf_release(&raw);
	return ret < 0 ? ret : 0;
}

/* At the end: every layer of the manifest read, each in its place. */
static int place_layers(struct stream *s)
{
	struct image *img = s->img;
	json_t *n;
	size_t i;

	json_array_foreach(s->layer_names, i, n)
	{
		const char *want = json_string_value(n) ? json_string_value(n) : "";
		struct image_layer *found = NULL;

		for (size_t j = 0; j < img->streamed.nr && !found; j++) {
			struct image_layer *l = img->streamed.items[j];

			if (!strcmp(s->names.items[j], want) &&
			    (l->index == i || l->index == SIZE_MAX ||
			     strcmp(l->diff_id, img->meta.diff_ids.items[l->index])))
				found = l;
		}
		/* the same layer twice in one image is saved once */
		for (size_t j = 0; j < img->streamed.nr && !found; j++)
			if (!strcmp(s->names.items[j], want))
				found = img->streamed.items[j];
		if (!found)
			return error_setc(GS_EINVAL,
					  "image '%s': layer %zu ('%s') is not in the archive",
					  img->name, i, want);
		if (strcmp(found->diff_id, img->meta.diff_ids.items[i]))
			return error_setc(
			    GS_EINVAL,
			    "image '%s': layer %zu ('%s') hashes to %s but the config "
			    "names %s as diff_id",
			    img->name, i, want, found->diff_id,
			    (const char *)img->meta.diff_ids.items[i]);
		if (found->index == SIZE_MAX)
			found->index = i;
	}
	/* One pass hands every layer it meets to the visitor: none of another image. */
	for (size_t j = 0; j < img->streamed.nr; j++)
		if (!is_layer_member(s, s->names.items[j]))
			return error_setc(GS_EINVAL,
					  "image '%s': the archive also holds '%s', a layer of "
					  "another image or platform: read from a pipe or "
					  "compressed, an archive must hold one image",
					  img->name, (const char *)s->names.items[j]);
	return 0;
}

static int start_engine(struct stream *s)
{
	struct process *p = xcalloc(1, sizeof(*p));

	process_init(p);
	vec_pushstr(&p->argv, s->img->docker);
	vec_pushstr(&p->argv, "save");
	vec_pushstr(&p->argv, s->img->name);
	p->output = PROCESS_OUTPUT_PIPE;
	p->output_cap = 64 * 1024;
	p->stdin_null = 1;
	p->new_pgroup = 1;
	p->cancel_fd = s->img->abort_fd;
	s->p = p;
	if (process_start(p) < 0)
		return error_setc(GS_EINFRA, "image '%s': %s", s->img->name, error_last());
	return 0;
}

/* The child's verdict; its stderr says more than a broken stream. */
static int finish_engine(struct stream *s, int ret)
{
	struct process_result res;
	struct process *p = s->p;

	/* The visitor stopped or the content is bad: process_release() kills
	 * docker. A stream that broke before any member is docker's failure. */
	if (ret < 0 && s->members && !s->source_failed)
		return ret;
	if (p->stdout_fd >= 0) {
		close(p->stdout_fd);
		p->stdout_fd = -1;
	}
	if (process_wait(p, ret < 0 ? 5000 : 60000, &res) < 0)
		return ret < 0 ? ret : GS_EINFRA;
	if (res.cancelled)
		return error_setc(GS_EINFRA, "image '%s': docker save interrupted", s->img->name);
	if (process_check_result(p, &res) < 0) {
		struct strbuf first = STRBUF_INIT;
		size_t nl = strcspn(p->out.buf, "\n");

		strbuf_add(&first, p->out.buf, nl);
		ret = error_setc(strstr(first.buf, "No such image") ? GS_ENOTFOUND : GS_EINFRA,
				 "image '%s': docker save failed: %s", s->img->name,
				 first.len ? first.buf : error_last());
		strbuf_release(&first);
	}
	return ret;
}

/* A seekable file's members not read are skipped, not read through. */
static la_int64_t outer_skip_cb(struct archive *a, void *data, la_int64_t request)
{
	struct stream *s = data;
	off_t cur = lseek(s->fd, 0, SEEK_CUR);

	(void)a;
	if (cur < 0 || request <= 0 || cur >= s->size)
		return 0;
	if (request > s->size - cur)
		request = s->size - cur;
	return lseek(s->fd, request, SEEK_CUR) < 0 ? 0 : request;
}

/*
 * Parallel hashing of a seekable, uncompressed file's layers. The tar's
 * headers are walked here with pread (ustar, pax and GNU long names: what
 * docker, skopeo and podman write) to find where each layer member's bytes
 * lie; a pool of threads hashes those ranges while the second pass parses
 * the same members. The walk only has to find offsets: a member is handed
 * its range only when libarchive meets it at the same header position, with
 * the same name and size; anything this walk does not understand leaves the
 * layers to be hashed inline, as a stream is.
 */
struct tar_member {
	char *name;
	off_t header; /* its first header (a pax or long-name header, if any) */
	off_t data;
	uint64_t size;
};

static void tar_member_free(void *p)
{
	struct tar_member *m = p;

	free(m->name);
	free(m);
}

static int octal_field(const char *f, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if ((unsigned char)f[0] & 0x80) { /* base-256, GNU and Go for big sizes */
		if ((unsigned char)f[0] != 0x80)
			return -1;
		for (i = 1; i < len; i++) {
			if (v >> 56)
				return -1;
			v = (v << 8) | (unsigned char)f[i];
		}
		*out = v;
		return 0;
	}
	while (i < len && f[i] == ' ')
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	if (i < len && f[i] != ' ' && f[i] != '\0')
		return -1;
	*out = v;
	return 0;
}

static int header_ok(const unsigned char *h)
{
	uint64_t want;
	unsigned sum = 0;

	if (octal_field((const char *)h + 148, 8, &want) < 0)
		return 0;
	for (int i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum == want;
}

/* "path" and "size" of a pax header's records. */
static int pax_fields(const char *p, size_t len, char **path, uint64_t *size)
{
	size_t at = 0;

	while (at < len) {
		char *end;
		unsigned long n = strtoul(p + at, &end, 10);
		const char *kv = end + 1, *eq;

		if (end == p + at || *end != ' ' || !n || n > len - at || p[at + n - 1] != '\n')
			return -1;
		eq = memchr(kv, '=', (size_t)(p + at + n - 1 - kv));
		if (!eq)
			return -1;
		if ((size_t)(eq - kv) == 4 && !memcmp(kv, "path", 4)) {
			free(*path);
			*path = xstrndup(eq + 1, (size_t)(p + at + n - 1 - eq - 1));
		} else if ((size_t)(eq - kv) == 4 && !memcmp(kv, "size", 4)) {
			char *e2;

			errno = 0;
			*size = strtoull(eq + 1, &e2, 10);
			if (errno || e2 != p + at + n - 1)
				return -1;
		}
		at += n;
	}
	return 0;
}

/* Every regular member of the file, or -1 where the walk is unsure. */
static int scan_tar(int fd, off_t file_size, struct vec *out)
{
	unsigned char h[512];
	off_t at = 0, first = -1;
	char *long_name = NULL;
	uint64_t pax_size = UINT64_MAX;
	int ret = -1;

	while (at + 512 <= file_size) {
		uint64_t size;
		off_t next;
		char type;

		if (pread(fd, h, 512, at) != 512)
			goto out;
		if (!h[0] && !memcmp(h, h + 1, 511)) {
			ret = first < 0 ? 0 : -1; /* the end, not inside an entry's headers */
			goto out;
		}
		if (!header_ok(h) || octal_field((const char *)h + 124, 12, &size) < 0)
			goto out;
		type = (char)h[156];
		if (first < 0)
			first = at;
		next = at + 512 + (off_t)((size + 511) & ~(uint64_t)511);
		if (size > (uint64_t)file_size || next > file_size)
			goto out;
		if (type == 'x' || type == 'L') {
			struct strbuf raw = STRBUF_INIT;

			if (size > (1u << 20) || strbuf_grow(&raw, size + 1) < 0 ||
			    pread(fd, raw.buf, size, at + 512) != (ssize_t)size) {
				strbuf_release(&raw);
				goto out;
			}
			strbuf_setlen(&raw, size);
			if (type == 'L') {
				free(long_name);
				long_name = xstrdup(raw.buf); /* NUL-terminated inside */
			} else if (pax_fields(raw.buf, raw.len, &long_name, &pax_size) < 0) {
				strbuf_release(&raw);
				goto out;
			}
			strbuf_release(&raw);
		} else if (type == 'g') {
			if (first == at)
				first = -1;
		} else {
			if (type == '0' || type == '\0' || type == '7') {
				struct tar_member *m = xcalloc(1, sizeof(*m));
				const char *name = long_name;
				char *owned = NULL;

				if (!name) {
					char nm[101], pre[156];

					memcpy(nm, h, 100);
					nm[100] = '\0';
					memcpy(pre, h + 345, 155);
					pre[155] = '\0';
					owned = !memcmp(h + 257, "ustar\0", 6) && pre[0]
						    ? xstrfmt("%s/%s", pre, nm)
						    : xstrdup(nm);
					name = owned;
				}
				while (starts_with(name, "./"))
					name += 2;
				m->name = xstrdup(name);
				m->header = first;
				m->data = at + 512;
				m->size = pax_size != UINT64_MAX ? pax_size : size;
				free(owned);
				vec_push(out, m);
				if (pax_size != UINT64_MAX)
					next = at + 512 + (off_t)((pax_size + 511) & ~(uint64_t)511);
				if (m->size > (uint64_t)file_size || next > file_size)
					goto out;
			}
			free(long_name);
			long_name = NULL;
			pax_size = UINT64_MAX;
			first = -1;
		}
		at = next;
	}
	ret = first < 0 ? 0 : -1;
out:
	free(long_name);
	return ret;
}

/* After the first pass: the chosen image's layer members, hashed on threads. */
static void start_pool(struct stream *s)
{
	int threads = hash_pool_default_threads();
	struct vec members = VEC_INIT(tar_member_free);
	json_t *n;
	size_t i;

	if (threads < 1 || !json_array_size(s->layer_names) ||
	    scan_tar(s->fd, s->size, &members) < 0)
		goto out;
	s->pool_ranges = xcalloc(json_array_size(s->layer_names), sizeof(*s->pool_ranges));
	s->pool_headers = xcalloc(json_array_size(s->layer_names), sizeof(*s->pool_headers));
	json_array_foreach(s->layer_names, i, n)
	{
		const char *want = json_string_value(n);
		struct tar_member *found = NULL;
		int seen = 0;

		if (!want || vec_findstr(&s->pool_names, want) >= 0)
			continue; /* the same layer twice is saved once */
		for (size_t j = 0; j < members.nr; j++) {
			struct tar_member *m = members.items[j];

			if (!strcmp(m->name, want)) {
				found = m;
				seen++;
			}
		}
		if (seen != 1)
			continue; /* not there, or ambiguous: inline */
		s->pool_ranges[s->pool_names.nr] = (struct hash_range){found->data, found->size};
		s->pool_headers[s->pool_names.nr] = found->header;
		vec_pushstr(&s->pool_names, want);
	}
	s->pool = hash_pool_start(s->fd, s->pool_ranges, s->pool_names.nr, threads);
out:
	vec_release(&members);
}

/* Every member through handle_member(), once, as s->pass says. */
static int read_pass(struct stream *s)
{
	struct archive_entry *ae;
	int ret;

	s->members = 0;
	s->outer = archive_read_new();
	archive_read_support_format_tar(s->outer);
	archive_read_support_format_gnutar(s->outer);
	/* `docker save | gzip` is what docker load takes too. */
	archive_read_support_filter_gzip(s->outer);
	archive_read_support_filter_zstd(s->outer);
	if (archive_read_open2(s->outer, s, NULL, outer_read_cb,
			       s->pass == PASS_ALL ? NULL : outer_skip_cb, NULL) != ARCHIVE_OK)
		return outer_error(s, "start");
	for (;;) {
		int r = archive_read_next_header(s->outer, &ae);
		const char *name;

		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return outer_error(s, "between members");
		name = archive_entry_pathname(ae);
		if (!name || archive_entry_filetype(ae) != AE_IFREG)
			continue;
		while (starts_with(name, "./"))
			name += 2;
		s->members++;
		if ((ret = handle_member(s, name, archive_entry_size(ae))) < 0)
			return ret;
	}
	return 0;
}

/* An uncompressed tar file, which can be read twice and skipped through. */
static int plannable(struct stream *s)
{
	struct stat st;
	char hdr[512];

	if (fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	s->size = st.st_size;
	return pread(s->fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) &&
	       !memcmp(hdr + 257, "ustar", 5);
}

/*
 * A file is read twice: its JSON documents first, skipping the layers'
 * bytes, so that the image is chosen (a tag among several, a platform)
 * and its metadata known before any layer; then the chosen image's layers
 * only. A pipe, a compressed file, or one the first pass finds damaged is
 * read once (the layer-by-layer errors come from that pass), and must hold
 * one image.
 */
int image_walk_stream(struct image *img)
{
	struct stream s = {0};
	int ret = 0;

	s.img = img;
	s.fd = -1;
	s.buf = xmalloc(STREAM_BUF);
	vec_init(&s.docs, doc_free);
	vec_init(&s.names, free);
	vec_init(&s.pool_names, free);
	img->verify_blobs = 1;
	if (img->source == IMAGE_SOURCE_ENGINE) {
		if ((ret = start_engine(&s)) < 0)
			goto done;
	} else if ((s.fd = open(img->path, O_RDONLY | O_CLOEXEC)) < 0) {
		ret = error_setc(errno == ENOENT ? GS_ENOTFOUND : GS_EINVAL,
				 "image '%s': cannot open: %s", img->name, strerror(errno));
		goto done;
	} else if (plannable(&s)) {
		s.pass = PASS_PLAN;
		ret = read_pass(&s);
		archive_read_free(s.outer);
		s.outer = NULL;
		if (!ret) {
			if ((ret = resolve_manifest(&s, 1)) < 0 || (ret = image_send_meta(img)) < 0)
				goto done;
			s.pass = PASS_LAYERS;
			start_pool(&s);
		} else {
			s.pass = PASS_ALL;
			s.source_failed = 0;
			s.json_bytes = 0;
			vec_release(&s.docs);
			json_decref(s.manifest);
			json_decref(s.index);
			json_decref(s.layer_names);
			s.manifest = s.index = s.layer_names = NULL;
		}
		if (lseek(s.fd, 0, SEEK_SET) < 0) {
			ret = error_setc(GS_EINVAL, "image '%s': cannot read it again: %s",
					 img->name, strerror(errno));
			goto done;
		}
	}
	if ((ret = read_pass(&s)) < 0 || (ret = image_layers_settle(img)) < 0)
		goto done;
	if (s.pass == PASS_ALL && (ret = resolve_manifest(&s, 1)) < 0)
		goto done;
	ret = place_layers(&s);

done:
	if (s.p) {
		ret = finish_engine(&s, ret);
		process_release(s.p);
		free(s.p);
	}
	if (s.outer)
		archive_read_free(s.outer);
	hash_pool_free(s.pool); /* before the file it reads is closed */
	vec_release(&s.pool_names);
	free(s.pool_ranges);
	free(s.pool_headers);
	if (s.fd >= 0)
		close(s.fd);
	json_decref(s.manifest);
	json_decref(s.index);
	json_decref(s.layer_names);
	vec_release(&s.docs);
	vec_release(&s.names);
	free(s.buf);
	return ret < 0 ? ret : 0;
}
