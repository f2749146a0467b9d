#include <stdlib.h>
#include <string.h>

#include "core/fsindex.h"

static uint32_t hash_bytes(const char *s, size_t len, uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h ^ (h >> 15);
}

void fsi_init(struct fsindex *fsi)
{
	memset(fsi, 0, sizeof(*fsi));
	fsi->pool_alloc = 1 << 16;
	fsi->pool = xmalloc(fsi->pool_alloc);
	fsi->pool[0] = 0;
	fsi->pool_len = 1;
	fsi->nstrs = 1 << 12;
	fsi->strs = xmalloc(fsi->nstrs * sizeof(*fsi->strs));
	memset(fsi->strs, 0xff, fsi->nstrs * sizeof(*fsi->strs));
	fsi->nbuckets = 1 << 12;
	fsi->buckets = xmalloc(fsi->nbuckets * sizeof(*fsi->buckets));
	memset(fsi->buckets, 0xff, fsi->nbuckets * sizeof(*fsi->buckets));
	fsi->alloc = 1 << 10;
	fsi->nodes = xmalloc(fsi->alloc * sizeof(*fsi->nodes));
	/* The root: a directory, always there. */
	fsi->nodes[0] = (struct fsi_node){FSI_NONE, 0,	      FSI_NONE, FSI_NONE, FSI_NONE,
					  0,	    FSI_NONE, 0,	FSI_DIR,  0};
	fsi->nr = 1;
}

void fsi_release(struct fsindex *fsi)
{
	free(fsi->nodes);
	free(fsi->buckets);
	free(fsi->pool);
	free(fsi->strs);
	memset(fsi, 0, sizeof(*fsi));
}

static void strs_grow(struct fsindex *fsi)
{
	uint32_t n = fsi->nstrs * 2, *t = xmalloc(n * sizeof(*t));

	memset(t, 0xff, n * sizeof(*t));
	for (uint32_t i = 0; i < fsi->nstrs; i++) {
		uint32_t off = fsi->strs[i], j;

		if (off == FSI_NONE)
			continue;
		j = hash_bytes(fsi->pool + off, strlen(fsi->pool + off), 0) & (n - 1);
		while (t[j] != FSI_NONE)
			j = (j + 1) & (n - 1);
		t[j] = off;
	}
	free(fsi->strs);
	fsi->strs = t;
	fsi->nstrs = n;
}

uint32_t fsi_intern(struct fsindex *fsi, const char *s, size_t len)
{
	uint32_t j, off;

	if (!len)
		return 0;
	if ((fsi->strs_nr + 1) * 2 > fsi->nstrs)
		strs_grow(fsi);
	j = hash_bytes(s, len, 0) & (fsi->nstrs - 1);
	for (; (off = fsi->strs[j]) != FSI_NONE; j = (j + 1) & (fsi->nstrs - 1))
		if (!strncmp(fsi->pool + off, s, len) && !fsi->pool[off + len])
			return off;
	if (fsi->pool_len + len + 1 > fsi->pool_alloc) {
		while (fsi->pool_len + len + 1 > fsi->pool_alloc)
			fsi->pool_alloc *= 2;
		fsi->pool = xrealloc(fsi->pool, fsi->pool_alloc);
	}
	off = (uint32_t)fsi->pool_len;
	memcpy(fsi->pool + off, s, len);
	fsi->pool[off + len] = 0;
	fsi->pool_len += len + 1;
	fsi->strs[j] = off;
	fsi->strs_nr++;
	return off;
}

static uint32_t bucket_of(uint32_t parent, const char *name, size_t len, uint32_t n)
{
	return hash_bytes(name, len, parent * 2654435761u) & (n - 1);
}

static void buckets_grow(struct fsindex *fsi)
{
	uint32_t n = fsi->nbuckets * 2, *b = xmalloc(n * sizeof(*b));

	memset(b, 0xff, n * sizeof(*b));
	for (uint32_t id = 1; id < fsi->nr; id++) {
		struct fsi_node *nd = &fsi->nodes[id];
		const char *name = fsi->pool + nd->name;
		uint32_t k = bucket_of(nd->parent, name, strlen(name), n);

		nd->hnext = b[k];
		b[k] = id;
	}
	free(fsi->buckets);
	fsi->buckets = b;
	fsi->nbuckets = n;
}

uint32_t fsi_child(struct fsindex *fsi, uint32_t parent, const char *name, size_t len, int create)
{
	uint32_t k = bucket_of(parent, name, len, fsi->nbuckets), id;
	struct fsi_node *nd;

	for (id = fsi->buckets[k]; id != FSI_NONE; id = fsi->nodes[id].hnext) {
		nd = &fsi->nodes[id];
		if (nd->parent == parent && !strncmp(fsi->pool + nd->name, name, len) &&
		    !fsi->pool[nd->name + len])
			return id;
	}
	if (!create)
		return FSI_NONE;
	ALLOC_GROW(fsi->nodes, fsi->nr + 1, fsi->alloc);
	id = fsi->nr++;
	nd = &fsi->nodes[id];
	*nd = (struct fsi_node){parent, 0,	  FSI_NONE, FSI_NONE,	FSI_NONE,
				0,	FSI_NONE, 0,	    FSI_ABSENT, 0};
	nd->name = fsi_intern(fsi, name, len);
	nd->sibling = fsi->nodes[parent].child;
	fsi->nodes[parent].child = id;
	nd->hnext = fsi->buckets[k];
	fsi->buckets[k] = id;
	if (fsi->nr > fsi->nbuckets)
		buckets_grow(fsi);
	return id;
}

uint32_t fsi_lookup(struct fsindex *fsi, uint32_t dir, const char *path, int create)
{
	uint32_t cur = *path == '/' ? FSI_ROOT : dir;

	while (*path && cur != FSI_NONE) {
		const char *end;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		end = strchrnul(path, '/');
		cur = fsi_child(fsi, cur, path, (size_t)(end - path), create);
		path = end;
	}
	return cur;
}

static uint32_t resolve_at(struct fsindex *fsi, uint32_t dir, const char *path, int follow_last,
			   int *links)
{
	uint32_t cur = *path == '/' ? FSI_ROOT : dir;

	while (*path) {
		const char *end;
		size_t len;
		int last;
		uint32_t child;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		end = strchrnul(path, '/');
		len = (size_t)(end - path);
		last = !end[strspn(end, "/")];
		if (fsi->nodes[cur].type != FSI_DIR)
			return FSI_NONE;
		if (len == 1 && path[0] == '.') {
			path = end;
			continue;
		}
		if (len == 2 && path[0] == '.' && path[1] == '.') {
			if (cur != FSI_ROOT)
				cur = fsi->nodes[cur].parent;
			path = end;
			continue;
		}
		child = fsi_child(fsi, cur, path, len, 0);
		if (child == FSI_NONE || fsi->nodes[child].type == FSI_ABSENT)
			return FSI_NONE;
		if (fsi->nodes[child].type == FSI_SYMLINK && (!last || follow_last)) {
			if (++*links > FSI_MAX_LINKS)
				return FSI_NONE;
			child = resolve_at(fsi, cur, fsi->pool + fsi->nodes[child].inode, 1, links);
			if (child == FSI_NONE)
				return FSI_NONE;
		}
		cur = child;
		path = end;
	}
	return cur;
}

uint32_t fsi_resolve(struct fsindex *fsi, uint32_t dir, const char *path, int follow_last)
{
	int links = 0;

	return resolve_at(fsi, dir, path, follow_last, &links);
}

void fsi_path(const struct fsindex *fsi, uint32_t id, struct strbuf *sb)
{
	uint32_t stack[256], n = 0;

	strbuf_reset(sb);
	for (uint32_t c = id; c != FSI_ROOT && c != FSI_NONE && n < 256; c = fsi->nodes[c].parent)
		stack[n++] = c;
	if (!n)
		strbuf_addch(sb, '/');
	while (n--) {
		strbuf_addch(sb, '/');
		strbuf_addstr(sb, fsi->pool + fsi->nodes[stack[n]].name);
	}
}
