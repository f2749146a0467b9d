#ifndef GS_FSINDEX_H
#define GS_FSINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

/*
 * The path-interned index of an image's filesystem: one node per path ever
 * seen (in any layer, or named by a package's file list), a tree of
 * components whose names live once in a string pool. A node is ~40 bytes
 * and a name is stored once however many directories hold it, so 200k
 * paths cost a few MB. The node's state (`type`, `layer`, `inode`, `data`)
 * is the visible version while the layers are replayed bottom up; the
 * analyzer owns its meaning.
 *
 * Ownership: the index owns every node and string; pointers from
 * fsi_node()/fsi_str() are valid until the next call that adds to the
 * index (use ids across calls).
 */

#define FSI_NONE      UINT32_MAX
#define FSI_ROOT      0u
#define FSI_MAX_LINKS 40 /* symlinks followed in one resolution, as Linux */

enum fsi_type { FSI_ABSENT = 0, FSI_FILE, FSI_DIR, FSI_SYMLINK, FSI_OTHER };

struct fsi_node {
	uint32_t parent, name;	 /* name: pool offset */
	uint32_t child, sibling; /* first child, next sibling (FSI_NONE) */
	uint32_t hnext;		 /* hash chain */
	uint32_t inode;		 /* FILE: inode id; SYMLINK: target (pool offset) */
	uint32_t data;		 /* the analyzer's content record of the visible version */
	uint16_t layer;		 /* layer of the visible version */
	uint8_t type;		 /* enum fsi_type */
	uint8_t flags;
};

struct fsindex {
	struct fsi_node *nodes;
	uint32_t nr, alloc;
	uint32_t *buckets; /* node ids by (parent, name) */
	uint32_t nbuckets;
	char *pool; /* NUL-terminated names, offset 0 is "" */
	size_t pool_len, pool_alloc;
	uint32_t *strs; /* interned pool offsets, open addressing */
	uint32_t nstrs, strs_nr;
};

void fsi_init(struct fsindex *fsi);
void fsi_release(struct fsindex *fsi);

/* Intern a string (len bytes) in the pool; its offset. */
uint32_t fsi_intern(struct fsindex *fsi, const char *s, size_t len);
static inline const char *fsi_str(const struct fsindex *fsi, uint32_t off)
{
	return fsi->pool + off;
}
static inline struct fsi_node *fsi_node(const struct fsindex *fsi, uint32_t id)
{
	return &fsi->nodes[id];
}

/* The child `name` of `parent`, created when `create`; FSI_NONE if absent. */
uint32_t fsi_child(struct fsindex *fsi, uint32_t parent, const char *name, size_t len, int create);
/* The node of a path relative to `dir` ("a/b", "/a/b" from the root; "." and
 * ".." taken literally, without following symlinks); FSI_NONE if absent. */
uint32_t fsi_lookup(struct fsindex *fsi, uint32_t dir, const char *path, int create);
/* Resolve `path` against `dir` in the visible tree as the kernel would:
 * symlinks followed (the last one only when `follow_last`), at most
 * FSI_MAX_LINKS in all, ".." through the parent. FSI_NONE when a component
 * is absent, a loop or too many links. */
uint32_t fsi_resolve(struct fsindex *fsi, uint32_t dir, const char *path, int follow_last);
/* "/a/b" of a node into `sb` (replacing its content). */
void fsi_path(const struct fsindex *fsi, uint32_t id, struct strbuf *sb);

#endif
