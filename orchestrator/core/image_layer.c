/*
 * One layer: a byte stream (tar, gzip or zstd, told apart by content) read
 * forward once, hashed into its diff_id while libarchive parses it, and
 * handed entry by entry to the visitor with normalized, checked paths.
 *
 * Two libarchive readers are stacked for a compressed layer: the first
 * (`dec`, format "raw") only decompresses, the second (`tar`) reads the tar
 * from a callback that pulls the first's blocks, hashing each before
 * passing it on, so the diff_id covers exactly the uncompressed bytes and
 * nothing is copied twice. An uncompressed layer skips the first reader.
 * Neither reader gets a skip callback: every byte must pass the hash.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/image_private.h"
#include "util/error.h"
#include "util/hash.h"

struct image_reader {
	struct layer_ctx *lc;
};

struct layer_ctx {
	struct image *img;
	struct image_layer *layer;
	const char *label;
	struct image_src *src;
	struct hash_sha256 *md;	  /* the uncompressed stream: diff_id */
	struct hash_sha256 *blob; /* the stored stream, when it must be checked here */
	int pre_diff;		  /* uncompressed, hashed by src->pool: md is not fed */
	int pre_blob;		  /* compressed, its blob hashed by src->pool */
	unsigned char prefix[8];
	size_t prefix_len;
	int prefix_pending;
	const void *rest;
	long rest_len;
	uint64_t stored; /* bytes of the stored stream pulled from the source */
	int src_failed;	 /* the source failed: its error is in src_err */
	int src_code;
	char *src_err;
	struct archive *dec; /* decompressor, NULL for an uncompressed layer */
	struct archive *tar;
	const char *compression; /* "gzip", "zstd", ... or NULL */
	struct image_reader rd;
	int failed;
};

/* "3 (sha256:ab12cd34ef56…)" once the index is known, else the source's label. */
static char *layer_name(const struct layer_ctx *lc)
{
	const struct image_layer *l = lc->layer;
	const char *d = l->blob_digest ? l->blob_digest : l->diff_id;

	if (l->index != SIZE_MAX && d)
		return xstrfmt("%zu (%.19s…)", l->index, d);
	if (l->index != SIZE_MAX)
		return xstrfmt("%zu", l->index);
	return xstrdup(lc->label);
}

/* Set the error "image 'x': layer N (...): <msg>" and return `code`. */
static int GS_FMT(3, 4) layer_error(struct layer_ctx *lc, int code, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	char *name = layer_name(lc);
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	error_setc(code, "image '%s': layer %s: %s", lc->img->name, name, sb.buf);
	free(name);
	strbuf_release(&sb);
	lc->failed = 1;
	return code;
}

static void lowercase_first(char *s)
{
	if (s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z'))
		s[0] = (char)(s[0] - 'A' + 'a');
}

/* Turn a libarchive failure (or the source's) into the layer's error. */
static int archive_fail(struct layer_ctx *lc, struct archive *a, const char *doing)
{
	char *msg;
	int ret;

	if (lc->failed)
		return GS_EINVAL;
	if (lc->src_failed) {
		if (starts_with(lc->src_err, "truncated"))
			return layer_error(lc, GS_EINVAL,
					   "truncated tar (the stream ends after %" PRIu64
					   " bytes)",
					   lc->layer->size);
		return layer_error(lc, lc->src_code, "%s", lc->src_err);
	}
	msg = xstrdup(a && archive_error_string(a) ? archive_error_string(a) : "unknown error");
	lowercase_first(msg);
	if (strstr(msg, "runcated") || strstr(msg, "premature end"))
		ret = layer_error(
		    lc, GS_EINVAL, "truncated tar (the stream ends after %" PRIu64 " bytes%s%s)",
		    lc->layer->size, lc->compression ? ", " : "", lc->compression ? msg : "");
	else if (!strcmp(doing, "header") && !lc->layer->entries)
		ret = layer_error(lc, GS_EINVAL, "not a tar archive (%s)", msg);
	else
		ret = layer_error(lc, GS_EINVAL, "damaged tar (%s)", msg);
	free(msg);
	return ret;
}

/*
 * The source's next block, counted. A sized source (a blob with a
 * descriptor) fails at the first byte beyond its size, so an endless one
 * ends there, and at an end before it.
 */
static long src_pull(struct layer_ctx *lc, const void **buf)
{
	const struct image_src *src = lc->src;
	long n = src->read(src->ctx, buf);

	if (n < 0)
		return n;
	if (src->sized && !n && lc->stored != src->size)
		return error_setc(GS_EINVAL,
				  "the blob has %" PRIu64 " bytes, its descriptor says %" PRIu64,
				  lc->stored, src->size);
	if (src->sized && (uint64_t)n > src->size - lc->stored)
		return error_setc(
		    GS_EINVAL, "the blob is larger than its descriptor's size of %" PRIu64 " bytes",
		    src->size);
	lc->stored += (uint64_t)n;
	return n;
}

/* The next block of the stored stream: the sniffed prefix, its block's rest, then the source. */
static long src_block(struct layer_ctx *lc, const void **buf)
{
	long n;

	if (lc->prefix_pending) {
		lc->prefix_pending = 0;
		*buf = lc->prefix;
		return (long)lc->prefix_len;
	}
	if (lc->rest_len > 0) {
		n = lc->rest_len;
		*buf = lc->rest;
		lc->rest_len = 0;
		return n;
	}
	if (lc->src_failed)
		return -1;
	n = src_pull(lc, buf);
	if (n < 0) {
		lc->src_failed = 1;
		lc->src_code = n;
		lc->src_err = xstrdup(error_last());
		return -1;
	}
	if (n > 0 && lc->blob)
		hash_sha256_update(lc->blob, *buf, (size_t)n);
	return n;
}

static la_ssize_t dec_read_cb(struct archive *a, void *data, const void **buf)
{
	struct layer_ctx *lc = data;
	long n = src_block(lc, buf);

	if (n < 0) {
		archive_set_error(a, EIO, "read error");
		return ARCHIVE_FATAL;
	}
	return n;
}

/* The next block of the uncompressed stream, hashed; 0 at the end, -1 on error. */
static long raw_block(struct layer_ctx *lc, const void **buf)
{
	long n;

	if (lc->dec) {
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(lc->dec, buf, &size, &off);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN) {
			archive_fail(lc, lc->dec, "data");
			return -1;
		}
		n = (long)size;
	} else {
		n = src_block(lc, buf);
		if (n < 0)
			return -1;
	}
	if (!lc->pre_diff)
		hash_sha256_update(lc->md, *buf, (size_t)n);
	lc->layer->size += (uint64_t)n;
	return n;
}

static la_ssize_t tar_read_cb(struct archive *a, void *data, const void **buf)
{
	struct layer_ctx *lc = data;
	long n = raw_block(lc, buf);

	if (n < 0) {
		archive_set_error(a, EIO, "read error");
		return ARCHIVE_FATAL;
	}
	return n;
}

/*
 * Bytes no visitor reads (file contents, mostly), passed over when the
 * pool hashes the layer elsewhere: only headers are read here. Anything
 * this cannot skip (a block handed out by sniff()) is read through; a
 * request past the source's end passes what there is, and libarchive's
 * read of the rest finds the end: a truncated tar as when read.
 */
static la_int64_t tar_skip_cb(struct archive *a, void *data, la_int64_t request)
{
	struct layer_ctx *lc = data;
	uint64_t n;

	(void)a;
	if (request <= 0 || lc->prefix_pending || lc->rest_len > 0 || lc->src_failed)
		return 0;
	n = lc->src->skip(lc->src->ctx, (uint64_t)request);
	lc->stored += n;
	lc->layer->size += n;
	return (la_int64_t)n;
}

/*
 * Lexically normalize a tar path into `out`: leading "/" and "./" go, "//"
 * and "." components collapse, a trailing "/" goes. Returns -1 when a ".."
 * component appears (whatever precedes it: a layer has no business walking
 * up, and a symlink could make "a/.." mean anything).
 */
static int normalize_path(const char *in, struct strbuf *out)
{
	const char *p = in;

	strbuf_reset(out);
	while (*p) {
		const char *slash = strchrnul(p, '/');
		size_t len = (size_t)(slash - p);

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		if (len && !(len == 1 && p[0] == '.')) {
			if (out->len)
				strbuf_addch(out, '/');
			strbuf_add(out, p, len);
		}
		p = *slash ? slash + 1 : slash;
	}
	return 0;
}

static const char *entry_path(struct archive_entry *ae)
{
	const char *s = archive_entry_pathname(ae);

	return s ? s : archive_entry_pathname_utf8(ae);
}

/* One tar entry: check it, classify it, hand it over. 1: skipped, 0: handed, <0: error. */
static int visit_entry(struct layer_ctx *lc, struct archive_entry *ae, struct strbuf *path,
		       struct strbuf *link)
{
	struct image *img = lc->img;
	const char *raw = entry_path(ae), *base, *hl;
	struct image_entry e = {0};
	la_int64_t size = archive_entry_size(ae);

	if (!raw)
		return layer_error(lc, GS_EINVAL, "entry %" PRIu64 " has no name",
				   lc->layer->entries);
	if (normalize_path(raw, path) < 0)
		return layer_error(lc, GS_EINVAL, "entry '%s' escapes the image root", raw);
	if (size < 0 || (uint64_t)size > img->max_entry_size)
		return layer_error(lc, GS_EINVAL,
				   "entry '%s' claims %lld bytes, more than the limit of %" PRIu64,
				   raw, (long long)size, img->max_entry_size);
	if (++lc->layer->entries > img->max_entries)
		return layer_error(lc, GS_EINVAL, "more than %" PRIu64 " entries",
				   img->max_entries);

	hl = archive_entry_hardlink(ae);
	if (hl) {
		if (normalize_path(hl, link) < 0 || !link->len)
			return layer_error(
			    lc, GS_EINVAL,
			    "entry '%s' is a hard link to '%s', outside the image root", raw, hl);
		e.type = IMAGE_ENTRY_HARDLINK;
		e.link = link->buf;
	} else {
		switch (archive_entry_filetype(ae)) {
		case AE_IFREG:
			e.type = IMAGE_ENTRY_FILE;
			e.size = (uint64_t)size;
			lc->layer->files_size += (uint64_t)size;
			break;
		case AE_IFDIR:
			e.type = IMAGE_ENTRY_DIR;
			break;
		case AE_IFLNK:
			e.type = IMAGE_ENTRY_SYMLINK;
			e.link = archive_entry_symlink(ae);
			if (!e.link)
				e.link = "";
			break;
		default:
			e.type = IMAGE_ENTRY_OTHER;
			break;
		}
	}
	e.mode = (unsigned)archive_entry_perm(ae);
	e.uid = (unsigned)archive_entry_uid(ae);
	e.gid = (unsigned)archive_entry_gid(ae);

	/* Whiteouts (OCI image spec, "Whiteouts"): the marker's own name
	 * says what it deletes. */
	base = strrchr(path->buf, '/');
	base = base ? base + 1 : path->buf;
	if (starts_with(base, ".wh.")) {
		size_t dirlen = (size_t)(base - path->buf);

		if (!strcmp(base, ".wh..wh..opq")) {
			e.type = IMAGE_ENTRY_OPAQUE;
			strbuf_setlen(path, dirlen ? dirlen - 1 : 0);
		} else if (starts_with(base, ".wh..wh.") || !base[4]) {
			return 1; /* AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs) */
		} else if (!strcmp(base + 4, ".") || !strcmp(base + 4, "..")) {
			/* It would delete the directory itself, or the one above the root. */
			return layer_error(lc, GS_EINVAL,
					   "entry '%s' is a whiteout of '%s', not a name in its "
					   "directory",
					   raw, base + 4);
		} else {
			e.type = IMAGE_ENTRY_WHITEOUT;
			memmove(path->buf + dirlen, base + 4, strlen(base + 4) + 1);
			path->len -= 4;
		}
		e.size = 0;
		e.link = NULL;
	} else if (!path->len) {
		return 1; /* the root directory itself */
	}
	e.path = path->buf;
	if (!img->v->entry)
		return 0;
	if (img->v->entry(img->v->ctx, lc->layer, &e, &lc->rd) < 0) {
		lc->failed = 1;
		return GS_ERR;
	}
	return lc->failed ? GS_EINVAL : 0;
}

long image_read(struct image_reader *rd, void *buf, size_t len)
{
	struct layer_ctx *lc = rd->lc;
	la_ssize_t n;

	if (lc->failed)
		return -1;
	n = archive_read_data(lc->tar, buf, len);
	if (n < 0) {
		archive_fail(lc, lc->tar, "data");
		return -1;
	}
	return (long)n;
}

/* Gather the first bytes to tell the compression apart. */
static int sniff(struct layer_ctx *lc)
{
	while (lc->prefix_len < 6) {
		const void *b;
		long n = src_pull(lc, &b);
		size_t take;

		if (n < 0)
			return n;
		if (!n)
			break;
		take = 6 - lc->prefix_len;
		if ((size_t)n < take)
			take = (size_t)n;
		memcpy(lc->prefix + lc->prefix_len, b, take);
		lc->prefix_len += take;
		lc->rest = (const char *)b + take;
		lc->rest_len = n - (long)take;
	}
	lc->prefix_pending = lc->prefix_len > 0;
	return 0;
}

static const char *compression_of(const unsigned char *p, size_t n)
{
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return "gzip";
	if (n >= 4 && !memcmp(p, "\x28\xb5\x2f\xfd", 4))
		return "zstd";
	if (n >= 6 && !memcmp(p,
			      "\xfd"
			      "7zXZ\0",
			      6))
		return "xz";
	if (n >= 3 && !memcmp(p, "BZh", 3))
		return "bzip2";
	return NULL;
}

static int open_decompressor(struct layer_ctx *lc)
{
	struct archive_entry *ae;
	int r;

	lc->dec = archive_read_new();
	if (!strcmp(lc->compression, "gzip"))
		r = archive_read_support_filter_gzip(lc->dec);
	else if (!strcmp(lc->compression, "zstd"))
		r = archive_read_support_filter_zstd(lc->dec);
	else if (!strcmp(lc->compression, "xz"))
		r = archive_read_support_filter_xz(lc->dec);
	else
		r = archive_read_support_filter_bzip2(lc->dec);
	/* ARCHIVE_WARN: an external program would do it; refuse that. */
	if (r != ARCHIVE_OK)
		return layer_error(lc, GS_EINVAL, "%s layers are not supported by this build",
				   lc->compression);
	archive_read_support_format_raw(lc->dec);
	if (archive_read_open2(lc->dec, lc, NULL, dec_read_cb, NULL, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(lc->dec, &ae) != ARCHIVE_OK)
		return archive_fail(lc, lc->dec, "decompress");
	return 0;
}

static void hex_digest(struct hash_sha256 *md, char out[72])
{
	memcpy(out, "sha256:", 7);
	hash_sha256_final_hex(md, out + 7);
}

/* The stored stream's digest from the pool, "sha256:<hex>" into `out`. */
static int pool_digest(struct layer_ctx *lc, char out[72])
{
	char why[128];

	memcpy(out, "sha256:", 7);
	if (hash_pool_wait(lc->src->pool, lc->src->job, out + 7, why, sizeof(why)) < 0)
		return layer_error(lc, GS_EINVAL, "cannot hash it: %s", why);
	return 0;
}

static int check_digests(struct layer_ctx *lc)
{
	struct image *img = lc->img;
	struct image_layer *l = lc->layer;
	int ret;

	if (lc->blob || lc->pre_blob) {
		char got[72];

		if (lc->pre_blob) {
			if ((ret = pool_digest(lc, got)) < 0)
				return ret;
			img->hashed_apart++;
		} else {
			hex_digest(lc->blob, got);
		}
		if (strcmp(got, l->blob_digest))
			return layer_error(lc, GS_EINVAL,
					   "blob content hashes to %s, not to its digest", got);
	} else if (l->blob_digest && !lc->compression && starts_with(l->blob_digest, "sha256:") &&
		   strcmp(l->blob_digest, l->diff_id)) {
		return layer_error(lc, GS_EINVAL, "content hashes to %s, not to its digest",
				   l->diff_id);
	}
	if (l->index == SIZE_MAX && img->meta_known)
		l->index = image_index_for(img, l->diff_id);
	if (l->index != SIZE_MAX && l->index < img->meta.diff_ids.nr &&
	    strcmp(img->meta.diff_ids.items[l->index], l->diff_id))
		return layer_error(lc, GS_EINVAL,
				   "content hashes to %s but the config names %s as diff_id",
				   l->diff_id, (const char *)img->meta.diff_ids.items[l->index]);
	if (l->index != SIZE_MAX && l->index < img->meta.created_by.nr && !l->created_by &&
	    *(const char *)img->meta.created_by.items[l->index])
		l->created_by = xstrdup(img->meta.created_by.items[l->index]);
	return 0;
}

/* A layer parsed whose pool digest is still to be waited for. */
struct pending_layer {
	struct image_layer *layer;
	char *label;
	struct hash_pool *pool;
	size_t job;
	int pre_diff; /* the pool hashes its uncompressed stream, else its blob */
};

void image_pending_free(void *p)
{
	struct pending_layer *pl = p;

	free(pl->label);
	free(pl);
}

int image_layers_settle(struct image *img)
{
	int ret = 0;

	for (size_t i = 0; i < img->pending.nr && !ret; i++) {
		struct pending_layer *pl = img->pending.items[i];
		struct image_src src = {NULL, NULL, 0, 0, pl->pool, pl->job, NULL};
		struct layer_ctx lc = {0};
		char diff_id[72];

		lc.img = img;
		lc.layer = pl->layer;
		lc.label = pl->label;
		lc.src = &src;
		lc.pre_diff = pl->pre_diff;
		lc.pre_blob = !pl->pre_diff;
		if (pl->pre_diff) {
			if ((ret = pool_digest(&lc, diff_id)) < 0)
				break;
			img->hashed_apart++;
			pl->layer->diff_id = xstrdup(diff_id);
		}
		ret = check_digests(&lc);
	}
	vec_release(&img->pending);
	return ret;
}

int image_layer_read(struct image *img, struct image_layer *layer, const char *label,
		     struct image_src *src)
{
	struct layer_ctx lc = {0};
	struct strbuf path = STRBUF_INIT, link = STRBUF_INIT;
	char diff_id[72];
	int ret = 0;

	lc.img = img;
	lc.layer = layer;
	lc.label = label;
	lc.src = src;
	lc.rd.lc = &lc;
	strbuf_init(&path, 256);
	strbuf_init(&link, 256);
	lc.md = hash_sha256_new();
	layer->size = layer->files_size = layer->entries = 0;

	if (img->v->layer_begin && img->v->layer_begin(img->v->ctx, layer) < 0) {
		ret = GS_ERR;
		goto done;
	}
	if ((ret = sniff(&lc)) < 0) {
		lc.src_failed = 1;
		lc.src_code = ret;
		lc.src_err = xstrdup(error_last());
		ret = archive_fail(&lc, NULL, "header");
		goto done;
	}
	if (lc.prefix_len) {
		struct archive_entry *ae;

		lc.compression = compression_of(lc.prefix, lc.prefix_len);
		/* An uncompressed blob's digest is its diff_id: checked at the
		 * end for free. A compressed one needs its own hash. */
		lc.pre_diff = src->pool && !lc.compression;
		if (lc.compression && img->verify_blobs && layer->blob_digest &&
		    starts_with(layer->blob_digest, "sha256:") && src->pool) {
			lc.pre_blob = 1;
		} else if (lc.compression && img->verify_blobs && layer->blob_digest &&
			   starts_with(layer->blob_digest, "sha256:")) {
			lc.blob = hash_sha256_new();
			hash_sha256_update(lc.blob, lc.prefix, lc.prefix_len);
			if (lc.rest_len > 0)
				hash_sha256_update(lc.blob, lc.rest, (size_t)lc.rest_len);
		}
		if (lc.compression && (ret = open_decompressor(&lc)) < 0)
			goto done;
		lc.tar = archive_read_new();
		archive_read_support_format_tar(lc.tar);
		archive_read_support_format_gnutar(lc.tar);
		if (archive_read_open2(lc.tar, &lc, NULL, tar_read_cb,
				       lc.pre_diff && src->skip ? tar_skip_cb : NULL,
				       NULL) != ARCHIVE_OK) {
			ret = archive_fail(&lc, lc.tar, "header");
			goto done;
		}
		for (;;) {
			int r = archive_read_next_header(lc.tar, &ae);

			if (r == ARCHIVE_EOF)
				break;
			if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
				ret = archive_fail(&lc, lc.tar, "header");
				goto done;
			}
			if ((ret = visit_entry(&lc, ae, &path, &link)) < 0)
				goto done;
			ret = 0;
		}
		/* The diff_id covers the whole stream, padding after the
		 * end-of-archive blocks included. */
		for (;;) {
			const void *b;
			long n = raw_block(&lc, &b);

			if (n < 0) {
				ret = archive_fail(&lc, lc.dec, "data");
				goto done;
			}
			if (!n)
				break;
		}
		/* What follows a compressed stream still belongs to the blob:
		 * its digest and its size cover it. */
		while (lc.dec) {
			const void *b;
			long n = src_block(&lc, &b);

			if (n < 0) {
				ret = archive_fail(&lc, NULL, "data");
				goto done;
			}
			if (!n)
				break;
		}
	}
	if (src->sized)
		layer->compressed_size = lc.stored;
	free(layer->diff_id);
	layer->diff_id = NULL;
	if (!lc.pre_diff) {
		hex_digest(lc.md, diff_id);
		layer->diff_id = xstrdup(diff_id);
	}
	if (lc.pre_diff || lc.pre_blob) {
		/* The pool's digest is waited for after the last layer. */
		struct pending_layer *pl = xcalloc(1, sizeof(*pl));

		pl->layer = layer;
		pl->label = xstrdup(label);
		pl->pool = src->pool;
		pl->job = src->job;
		pl->pre_diff = lc.pre_diff;
		vec_push(&img->pending, pl);
	} else if ((ret = check_digests(&lc)) < 0) {
		goto done;
	}
	if (img->v->layer_end && img->v->layer_end(img->v->ctx, layer) < 0)
		ret = GS_ERR;

done:
	if (lc.tar)
		archive_read_free(lc.tar);
	if (lc.dec)
		archive_read_free(lc.dec);
	hash_sha256_free(lc.md);
	hash_sha256_free(lc.blob);
	free(lc.src_err);
	strbuf_release(&path);
	strbuf_release(&link);
	return ret;
}
