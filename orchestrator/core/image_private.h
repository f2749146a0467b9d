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
#include "util/strbuf.h"
#include "util/vec.h"

#define IMAGE_DEFAULT_MAX_ENTRY_SIZE (1ull << 40)
#define IMAGE_DEFAULT_MAX_ENTRIES    10000000ull
/* Largest JSON document (manifest, index, config) held in memory. */
#define IMAGE_JSON_CAP (16u << 20)

/*
 * A pull source of bytes, as libarchive wants them: `read` points *buf at
 * the next block (valid until the next call) and returns its length, 0 at
 * the end, or a negative code with error_last() set.
 */
struct image_src {
	long (*read)(void *ctx, const void **buf);
	void *ctx;
};

struct image {
	char *name;
	enum image_source source;
	uint64_t max_entry_size, max_entries;
	char *platform;
	char *docker;		     /* engine source: the client */
	int abort_fd;		     /* engine source: -1, or stop the read when readable */
	char *path;		     /* archive file, OCI layout directory */
	struct registry_client *reg; /* registry source */
	int own_reg;
	struct registry_ref ref;
	int walked;
	int verify_blobs; /* hash stored blobs against their digests (OCI layouts) */

	json_t *manifest; /* registry source: the image manifest */

	struct image_meta meta;
	int meta_known; /* config and layer order known */
	int meta_sent;
	struct vec streamed; /* struct image_layer *, as they were read (owned) */
	struct vec layers;   /* struct image_layer *, image order (owned copies) */
	const struct image_visitor *v;
};

/* Read one layer from `src` through the visitor: begin, entries, end.
 * `label` names the layer in errors until its index is known ("'x/layer.tar'"). */
int image_layer_read(struct image *img, struct image_layer *layer, const char *label,
		     struct image_src *src);

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
/* The manifest chosen from an index for img->platform (its digest), or an error. */
int image_pick_platform(struct image *img, json_t *index, const char **digest);

int image_walk_stream(struct image *img);   /* image_archive.c: archive and engine */
int image_walk_oci(struct image *img);	    /* image_oci.c */
int image_open_registry(struct image *img); /* image_registry.c */
int image_walk_registry(struct image *img);

#endif
