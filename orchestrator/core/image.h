#ifndef GS_IMAGE_H
#define GS_IMAGE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/vec.h"

/*
 * Reading a container image as a stream of layers and tar entries, from
 * wherever it is, without unpacking it to disk and with memory bounded
 * whatever the image's size:
 *
 *   engine    an image the local Docker Engine has ("docker save" stream)
 *   registry  "registry/repo:tag" or "@sha256:..." (manifest, config, blobs;
 *             gives compressed sizes)
 *   archive   a docker-save tar file ("docker save -o x.tar": docker 20.10's
 *             and newer engines' OCI-style; skopeo's and podman's
 *             docker-archive: and oci-archive:), plain, gzip or zstd
 *   oci       an OCI image layout directory (oci-layout, index.json, blobs/),
 *             or skopeo's dir: layout (version, manifest.json, blobs by digest)
 *
 * A layout or an archive may be named "PATH:TAG": the image whose
 * org.opencontainers.image.ref.name (or repo tag) is TAG, which a layout
 * holding several images needs. A name that can only be a path ("./x",
 * "/x", "x.tar"...) and is not there is GS_ENOTFOUND, never a registry
 * reference. Blobs with a descriptor are read up to its size and no
 * further: another length is an error, and so is a blob that is not a
 * regular file.
 *
 * Layers may arrive in any order (docker save writes layer directories
 * before the manifest that orders them), so every callback names its
 * layer, and the image's metadata (config, layer order, history) is handed
 * over once known, before or after the layers. Uncompressed, gzip and zstd
 * layers are read alike. Hostile input (paths escaping the root, absurd
 * sizes, truncated streams, a layer that is not a tar) fails with a clear
 * error naming the image and the entry; nothing is ever written to disk.
 *
 * Ownership: the image owns every struct it hands to callbacks; they are
 * valid during the callback (image_meta and image_layer until image_close).
 */

enum image_source {
	IMAGE_SOURCE_AUTO = 0, /* archive if a file, oci if a directory with oci-layout,
				  else engine if it has the image, else registry */
	IMAGE_SOURCE_ENGINE,
	IMAGE_SOURCE_REGISTRY,
	IMAGE_SOURCE_ARCHIVE,
	IMAGE_SOURCE_OCI,
};

struct image_opts {
	enum image_source source;
	const char *docker;		  /* docker client for the engine source; NULL: detect */
	struct registry_client *registry; /* for the registry source; NULL: a default one */
	/* "OS/ARCH[/VARIANT]": picks the manifest of an index (registry, layout,
	 * archive; default "linux/amd64") and, when given, must also be the
	 * config's platform. */
	const char *platform;
	uint64_t max_entry_size; /* refuse a tar entry larger than this (0: 1 TiB) */
	uint64_t max_entries;	 /* refuse a layer with more entries (0: 10 million) */
	/* NULL, or an fd whose readability stops the engine source's `docker
	 * save` (util/signals.h's signals_fd()): the walk then fails at once. */
	const int *abort_fd;
};

struct image_layer {
	size_t index;		  /* position in the image (0 = bottom); SIZE_MAX until known */
	/* sha256 of the uncompressed tar, computed while reading; NULL at
	 * layer_end when a seekable file's layer is hashed on another thread
	 * (it is checked after the last layer): final when the walk ends. */
	char *diff_id;
	char *blob_digest;	  /* digest of the blob as stored (compressed), NULL if unknown */
	char *media_type;	  /* NULL if unknown */
	uint64_t compressed_size; /* 0 if unknown (engine and archive sources store none) */
	uint64_t size;		  /* uncompressed tar bytes, final at layer_end */
	uint64_t files_size;	  /* sum of regular file sizes, final at layer_end */
	uint64_t entries;	  /* tar entries, final at layer_end */
	char *created_by;	  /* the history instruction that made it, NULL if unknown */
};

struct image_meta {
	char *name; /* as the user gave it */
	enum image_source source;
	char *id;	       /* config digest "sha256:..." */
	char *manifest_digest; /* NULL for engine and archive sources */
	json_t *config;	       /* the image config (owned by the image) */
	struct vec diff_ids;   /* layer order from config rootfs.diff_ids, bottom first */
	struct vec created_by; /* per layer, in the same order ("" when unknown) */
	struct vec repo_tags;  /* from the archive's manifest or the engine, may be empty */
};

enum image_entry_type {
	IMAGE_ENTRY_FILE,
	IMAGE_ENTRY_DIR,
	IMAGE_ENTRY_SYMLINK,
	IMAGE_ENTRY_HARDLINK,
	IMAGE_ENTRY_OTHER,    /* devices, fifos */
	IMAGE_ENTRY_WHITEOUT, /* ".wh.NAME": `path` is the deleted NAME's path */
	IMAGE_ENTRY_OPAQUE,   /* ".wh..wh..opq": `path` is the directory made opaque */
};

struct image_entry {
	const char *path; /* normalized: no leading "/" or "./", no "..", no "//" */
	enum image_entry_type type;
	uint64_t size;	  /* regular files; 0 otherwise */
	unsigned mode;	  /* permission bits */
	const char *link; /* symlink target as stored, or hardlink's normalized path */
	unsigned uid;	  /* owner as stored (numeric) */
	unsigned gid;
};

/* Reading the current entry's bytes from inside the `entry` callback: up to
 * `len` bytes into `buf`, returns the count, 0 at the end, -1 on error.
 * Reading is forward only; bytes not read are skipped. */
struct image_reader;
long image_read(struct image_reader *rd, void *buf, size_t len);

struct image_visitor {
	void *ctx;
	/* Each returns 0 to go on or a negative code (with error_last() set) to stop. */
	int (*meta)(void *ctx, const struct image_meta *meta);
	int (*layer_begin)(void *ctx, const struct image_layer *layer);
	int (*entry)(void *ctx, const struct image_layer *layer, const struct image_entry *e,
		     struct image_reader *rd);
	int (*layer_end)(void *ctx, const struct image_layer *layer);
};

struct image;

/* 0 when `platform` is "OS/ARCH[/VARIANT]", else GS_EINVAL with a message for --platform. */
int image_check_platform(const char *platform);

/* Find the image. Errors: GS_ENOTFOUND (no such image, file, tag), GS_EINVAL
 * (not an image: bad archive, bad layout), GS_EINFRA (engine, registry). */
/* 1 when `name`, read from `source`, is a file or a layout ("PATH",
 * "PATH:TAG", or a name that can only be a path): no engine image. */
int image_name_is_file(const char *name, enum image_source source);
int image_open(const char *name, const struct image_opts *opts, struct image **out);
/* Stream every layer through the visitor, once. */
int image_walk(struct image *img, const struct image_visitor *v);
/* The metadata, once image_walk() has returned 0 (or earlier where known). */
const struct image_meta *image_get_meta(const struct image *img);
/* The layers in image order, once image_walk() has returned 0. */
const struct image_layer *image_get_layer(const struct image *img, size_t index);
size_t image_layers_nr(const struct image *img);
/* How many layers' bytes were hashed on other threads while the walk read
 * them (a seekable, uncompressed docker-save file: see util/hashpool.h). */
size_t image_layers_hashed_apart(const struct image *img);
void image_close(struct image *img);

#endif
