#ifndef GS_ROOTFS_H
#define GS_ROOTFS_H

#include <jansson.h>
#include <stdint.h>

#include "core/image.h"

/*
 * An image's filesystem unpacked into a directory, as an engine would lay
 * it out: every layer applied in image order, with its whiteouts (".wh.NAME"
 * deletes NAME from the layers below, ".wh..wh..opq" empties a directory of
 * what the layers below put there).
 *
 * Layers may arrive in any order (core/image.h): each one is first written
 * to an unnamed temporary file (a spool: O_TMPFILE in `spool_dir`, so a
 * crash leaves nothing) and applied once the layers below it have been, so
 * memory stays bounded whatever the image's size. A spool is freed as soon
 * as its layer is applied: the disk holds at most the image's layers once
 * more while they are read.
 *
 * Safety: the image reader already refuses paths with "..", absurd sizes
 * and damaged streams. Writing adds: every path is resolved inside the
 * root directory (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_XDEV): a symbolic link among the parents of an entry (an
 * absolute "etc -> /etc", a "x -> ../../..") resolves as it would inside
 * the container, never outside the directory; the entry's own name is never
 * followed (what is there is removed, then created with O_EXCL |
 * O_NOFOLLOW); a hard link's target is resolved in the root the same way
 * and must exist and not be a directory. Devices and FIFOs are skipped
 * (counted), set-user-ID and set-group-ID bits are kept only as root.
 * Without openat2 (Linux before 5.6, valgrind) the same resolution is done
 * component by component in user space (also when the environment has
 * GPUSLIM_ROOTFS_NO_OPENAT2, for the tests).
 *
 * Owners: as root (`keep_owner`), entries get the uid and gid the layer
 * stores; otherwise they belong to the caller, and directories keep at
 * least rwx for their owner so that later layers can write into them.
 *
 * Ownership: the caller owns `dir` and what is unpacked into it, and the
 * config handed back (json_decref()).
 */

struct rootfs_stats {
	uint64_t layers;
	uint64_t files, dirs, symlinks, hardlinks;
	uint64_t whiteouts; /* ".wh." markers and opaque directories applied */
	uint64_t skipped;   /* devices and FIFOs */
	uint64_t bytes;	    /* regular files' bytes written */
};

struct rootfs_opts {
	const struct image_opts *image; /* how to read the image; NULL: the defaults */
	const char *spool_dir;		/* the spools' directory; NULL: $TMPDIR or /tmp */
	int keep_owner;			/* chown every entry to its stored owner (root) */
};

/*
 * Unpack the image `name` (any source core/image.h reads) into the existing,
 * empty directory `dir`. On success *config (when not NULL) is the image's
 * config and *st (when not NULL) the counts. Errors name the image, the
 * layer and the entry: "image 'x': layer 2 (sha256:…): entry 'etc/a':
 * cannot create it: no space left on device". The image options' abort_fd
 * stops the unpacking too ("interrupted"). On failure `dir` holds a partial
 * tree that the caller removes.
 */
int rootfs_unpack(const char *name, const struct rootfs_opts *o, const char *dir, json_t **config,
		  struct rootfs_stats *st);

/*
 * Remove `path` and everything under it without following a symbolic link,
 * making directories writable on the way when their mode stands in the way
 * (what a program in the tree may have left). ENOENT is success.
 */
int rootfs_remove_tree(const char *path);

/*
 * Open `path` (relative, resolved inside the directory `rootfd` as
 * rootfs_unpack() resolves entries) with `flags` (no O_CREAT). Returns the
 * fd, or -1 with errno set.
 */
int rootfs_open(int rootfd, const char *path, int flags);

/*
 * Make `path` (relative to the directory `rootfd`) a place to mount on: a
 * directory (`dir`) or an empty regular file, resolved inside the root as
 * entries are, its missing parents created, and whatever else stands there
 * (a symbolic link, a file of the other kind) replaced. *real (newly
 * allocated) is the same place without any symbolic link: "usr/lib/x".
 * Errors name the path.
 */
int rootfs_mountpoint(int rootfd, const char *path, int dir, char **real);

#endif
