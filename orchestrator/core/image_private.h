#ifndef GS_IMAGE_PRIVATE_H
#define GS_IMAGE_PRIVATE_H

/*
 * Inside the image reader: one struct image shared by the source files
 * (image_archive.c: docker-save streams from a file or `docker save`;
 * image_oci.c: OCI layouts; image_registry.c: registries) and the layer
 * reader they all feed (image_layer.c), which turns a byte stream into
 * hashed, checked tar entries for the visitor.
 */

#include <stdio.h>
#include <sys/types.h>

#include "core/engine.h"
#include "core/image.h"
#include "core/registry.h"
#include "util/hashpool.h"
#include "util/strbuf.h"
#include "util/vec.h"

#define IMAGE_DEFAULT_MAX_ENTRY_SIZE (1ull << 40)
#define IMAGE_DEFAULT_MAX_ENTRIES    10000000ull
/* Indexes nested in indexes, at most. */
#define IMAGE_MAX_DEPTH 4
/* Largest JSON document (manifest, index, config) held in memory. */
#define IMAGE_JSON_CAP (16u << 20)

/*
 * A pull source of bytes, as libarchive wants them: `read` points *buf at
 * the next block (valid until the next call) and returns its length, 0 at
 * the end, or a negative code with error_last() set. With `sized`, the
 * stream is a blob whose descriptor gives its `size`: the layer reader
 * stops at the first byte beyond it (an endless blob ends there) and calls
 * any other length an error. With `pool`, the stored bytes are being hashed
 * on another thread (range `job` of the pool): the layer reader hashes
 * nothing itself that the range covers, and does not wait for the range's
 * digest at the layer's end: the layer is left pending (its diff_id NULL
 * when the pool hashes the uncompressed stream) and image_layers_settle()
 * waits for it and takes it as the diff_id (uncompressed) or checks it as
 * the blob's (compressed) once every layer has been parsed, so that parsing
 * never waits on a hash still queued behind a bigger one. With `skip` as
 * well (a range of a seekable file), the bytes of an uncompressed layer
 * that no visitor reads are skipped, not read: `skip` moves past up to `n`
 * bytes and returns how many it passed (0: read through them instead).
 */
struct image_src {
	long (*read)(void *ctx, const void **buf);
	void *ctx;
	int sized;
	uint64_t size;
	struct hash_pool *pool;
	size_t job;
	uint64_t (*skip)(void *ctx, uint64_t n);
};

struct image {
	char *name;
	enum image_source source;
	uint64_t max_entry_size, max_entries;
	char *platform;
	int platform_given;	     /* --platform: the config must agree too */
	char *tag;		     /* "PATH:TAG": the image of that name in a layout or archive */
	char *docker;		     /* engine source: the client */
	int abort_fd;		     /* engine source: -1, or stop the read when readable */
	char *path;		     /* archive file, OCI layout directory */
	int dir_layout;		     /* the directory is skopeo's dir: layout, not OCI's */
	struct registry_client *reg; /* registry source */
	int own_reg;
	struct registry_ref ref;
	int not_in_registry; /* the registry has no such repository or tag */
	int walked;
	int verify_blobs; /* hash stored blobs against their digests (OCI layouts) */
	size_t hashed_apart; /* layers whose stored bytes a hash pool hashed */

	json_t *manifest; /* registry source: the image manifest */

	struct image_meta meta;
	int meta_known; /* config and layer order known */
	int meta_sent;
	struct vec streamed; /* struct image_layer *, as they were read (owned) */
	struct vec layers;   /* struct image_layer *, image order (owned copies) */
	struct vec pending;  /* struct pending_layer *: parsed, digests not yet checked */
	const struct image_visitor *v;
};

/* Read one layer from `src` through the visitor: begin, entries, end.
 * `label` names the layer in errors until its index is known ("'x/layer.tar'"). */
int image_layer_read(struct image *img, struct image_layer *layer, const char *label,
		     struct image_src *src);

/* Wait for the digests of the layers left pending (in the order they were
 * read) and check each as image_layer_read() would have; the first error. */
int image_layers_settle(struct image *img);
/* img->pending's free function. */
void image_pending_free(void *p);

/* A new layer, recorded in img->streamed; index SIZE_MAX. */
struct image_layer *image_layer_new(struct image *img);

/* Take the config (owned from now on), fill meta.id, diff_ids, created_by. */
int image_set_config(struct image *img, json_t *config, const char *id);
/* Send the meta to the visitor once it is known and not yet sent. */
int image_send_meta(struct image *img);
/* At the end of a walk: put the streamed layers in image order and check
 * them against the config's diff_ids. */
int image_finish_layers(struct image *img);
/* Index of diff_id in meta.diff_ids not yet taken by a streamed layer, or SIZE_MAX. */
size_t image_index_for(struct image *img, const char *diff_id);

/* Parse `len` bytes as JSON; GS_EINVAL naming `what` on failure. */
int image_json_parse(struct image *img, const char *what, const void *data, size_t len,
		     json_t **out);
/*
 * The descriptor chosen from an index (borrowed from it): with `top` (the
 * index.json of a layout or an archive), first the one named img->tag, or
 * an error listing the tags when several images are there and none is
 * named; then the one for img->platform. Errors name the image and what
 * it has.
 */
int image_pick(struct image *img, json_t *index, int top, json_t **desc);
/* Whether `doc` is an index (OCI) or a manifest list (Docker): by `media_type`
 * (the registry's Content-Type) when not NULL, else by its own mediaType,
 * else by having "manifests". */
int image_is_index(json_t *doc, const char *media_type);
/* Whether `tag` names the image called `name` (all of it, or its end after ':' or '/'). */
int image_tag_matches(const char *name, const char *tag);
/* A descriptor's "size": 0, or GS_EINVAL naming `what` when it is missing,
 * negative or above `max` (0: no limit). */
int image_desc_size(struct image *img, json_t *desc, const char *what, uint64_t max,
		    uint64_t *size);

int image_walk_stream(struct image *img);   /* image_archive.c: archive and engine */
int image_walk_oci(struct image *img);	    /* image_oci.c */
int image_open_registry(struct image *img); /* image_registry.c */
int image_walk_registry(struct image *img);

#endif
