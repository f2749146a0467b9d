/*
 * The analyzer. While the layers stream by (in any order), each entry is
 * interned in the path index (core/fsindex.h) and recorded as a compact
 * event of its layer; the few files whose content matters are parsed right
 * then (ELF headers, dpkg status and .list files, dist-info RECORDs,
 * ld.so.conf), because the stream cannot be read twice. Once every layer
 * has been seen, the events are replayed bottom up: that gives the final
 * filesystem, and every copy that a later layer overwrote or deleted
 * (whole directories and opaque directories included), counted once, with
 * hardlinked content counted once as an inode. Everything else is a walk
 * over the final tree.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "core/analyze_private.h"
#include "core/elf.h"
#include "core/fsindex.h"
#include "core/pkgdb.h"
#include "util/error.h"
#include "util/strbuf.h"

#define AN_TOOL		      "gpuslim 0.1.0"
#define AN_TEXT_CAP	      ((size_t)64 << 20)
#define AN_MISSING_CAP	      500
#define AN_HEADERS_INFO_FILES 50
#define AN_HEADERS_INFO_BYTES ((uint64_t)1 << 20)
#define AN_STATIC_INFO_BYTES  ((uint64_t)1 << 20)

enum ev_type { EV_FILE, EV_DIR, EV_SYMLINK, EV_HARDLINK, EV_OTHER, EV_WHITEOUT, EV_OPAQUE };
enum content_kind { C_ELF = 1, C_DPKG_STATUS, C_DPKG_LIST, C_RECORD, C_TEXT };

struct ev {
	uint64_t size;
	uint32_t node;
	uint32_t aux;  /* symlink: target (pool); hardlink: target node */
	uint32_t data; /* content index or FSI_NONE */
	uint8_t type;
};

struct elf_rec {
	uint16_t type;
	uint8_t unstripped;
	uint32_t soname, runpath, rpath, interp; /* pool offsets, 0: none */
	uint32_t needed_nr;
	uint32_t needed[];
};

struct owned_list {
	uint32_t pkg_name, pkg_version; /* pool offsets (version 0: unknown) */
	uint32_t nr;
	uint32_t nodes[];
};

struct content {
	uint8_t kind;
	union {
		struct elf_rec *elf;
		struct vec pkgs;	  /* C_DPKG_STATUS: struct pkgdb_pkg * */
		struct owned_list *owned; /* C_DPKG_LIST, C_RECORD */
		char *text;
	} u;
};

struct layer_rec {
	const struct image_layer *layer;
	size_t index; /* SIZE_MAX until known */
	char *diff_id, *blob_digest, *media_type, *created_by;
	uint64_t compressed_size;
	uint64_t files_bytes, files, wasted;
	struct ev *evs;
	size_t nr, alloc;
	int base;
};

struct inode {
	uint64_t size;
	uint32_t nlink;
	uint16_t layer;
	uint8_t counted; /* bit 0: visible bytes, bit 1: package bytes */
};

struct waste {
	uint64_t bytes;
	uint32_t node;
	uint16_t layer, by_layer;
	uint8_t deleted;
};

/* A small open-addressing map of uint32 keys (FSI_NONE is the empty key). */
struct u32map {
	uint32_t *keys, *vals;
	uint32_t n, nr;
};

struct pkg {
	const char *manager;
	uint32_t name, version; /* pool offsets */
	uint64_t bytes, files;
};

struct analysis {
	const struct analyze_opts *opts;
	analysis_read_fn read;
	const struct image_meta *meta;
	struct fsindex fsi;
	struct elf_scanner sc;
	struct vec layers; /* struct layer_rec * */
	struct layer_rec *last;
	struct content *contents;
	uint32_t contents_nr, contents_alloc;
	struct inode *inodes;
	uint32_t inodes_nr, inodes_alloc;
	/* replay */
	struct layer_rec **order;
	size_t order_nr;
	struct waste *heap; /* min-heap of the biggest wastes */
	size_t heap_nr, heap_cap;
	uint64_t wasted_total;
	uint64_t rm_top_bytes;
	uint16_t rm_top_layer;
	struct strbuf tmp;
};

/* ---- small helpers ------------------------------------------------------ */

static void map_init(struct u32map *m)
{
	m->n = 256;
	m->nr = 0;
	m->keys = xmalloc(m->n * sizeof(uint32_t));
	m->vals = xmalloc(m->n * sizeof(uint32_t));
	memset(m->keys, 0xff, m->n * sizeof(uint32_t));
}

static void map_release(struct u32map *m)
{
	free(m->keys);
	free(m->vals);
}

static uint32_t *map_slot(struct u32map *m, uint32_t key, int create);

static void map_grow(struct u32map *m)
{
	struct u32map old = *m;

	m->n *= 2;
	m->nr = 0;
	m->keys = xmalloc(m->n * sizeof(uint32_t));
	m->vals = xmalloc(m->n * sizeof(uint32_t));
	memset(m->keys, 0xff, m->n * sizeof(uint32_t));
	for (uint32_t i = 0; i < old.n; i++)
		if (old.keys[i] != FSI_NONE)
			*map_slot(m, old.keys[i], 1) = old.vals[i];
	map_release(&old);
}

/* The value slot of `key`; NULL when absent and not `create` (a created
 * slot holds FSI_NONE). */
static uint32_t *map_slot(struct u32map *m, uint32_t key, int create)
{
	uint32_t j;

	if (create && (m->nr + 1) * 2 > m->n)
		map_grow(m);
	j = (key * 2654435761u) & (m->n - 1);
	for (; m->keys[j] != FSI_NONE; j = (j + 1) & (m->n - 1))
		if (m->keys[j] == key)
			return &m->vals[j];
	if (!create)
		return NULL;
	m->keys[j] = key;
	m->vals[j] = FSI_NONE;
	m->nr++;
	return &m->vals[j];
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jint(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static int glob_match(const char *pattern, const char *name)
{
	return !fnmatch(pattern, name, 0);
}

static int any_glob(const struct vec *globs, const char *name)
{
	for (size_t i = 0; globs && i < globs->nr; i++)
		if (glob_match(globs->items[i], name))
			return 1;
	return 0;
}

/* ---- collecting: the visitor -------------------------------------------- */

static uint32_t add_content(struct analysis *an, struct content c)
{
	if (an->contents_nr == an->contents_alloc) {
		an->contents_alloc = an->contents_alloc ? an->contents_alloc * 2 : 256;
		an->contents = xrealloc(an->contents, an->contents_alloc * sizeof(*an->contents));
	}
	an->contents[an->contents_nr] = c;
	return an->contents_nr++;
}

static void free_content(struct content *c)
{
	switch (c->kind) {
	case C_ELF:
		free(c->u.elf);
		break;
	case C_DPKG_STATUS:
		vec_release(&c->u.pkgs);
		break;
	case C_DPKG_LIST:
	case C_RECORD:
		free(c->u.owned);
		break;
	case C_TEXT:
		free(c->u.text);
		break;
	}
}

static void free_layer_rec(void *p)
{
	struct layer_rec *lr = p;

	if (!lr)
		return;
	free(lr->diff_id);
	free(lr->blob_digest);
	free(lr->media_type);
	free(lr->created_by);
	free(lr->evs);
	free(lr);
}

static struct layer_rec *layer_rec_of(struct analysis *an, const struct image_layer *layer)
{
	struct layer_rec *lr;

	if (an->last && an->last->layer == layer)
		return an->last;
	for (size_t i = 0; i < an->layers.nr; i++) {
		lr = an->layers.items[i];
		if (lr->layer == layer)
			return an->last = lr;
	}
	lr = xcalloc(1, sizeof(*lr));
	lr->layer = layer;
	lr->index = layer->index;
	vec_push(&an->layers, lr);
	return an->last = lr;
}

static void copy_layer_facts(struct layer_rec *lr, const struct image_layer *l)
{
	if (l->index != SIZE_MAX)
		lr->index = l->index;
	if (l->diff_id && (!lr->diff_id || strcmp(lr->diff_id, l->diff_id))) {
		free(lr->diff_id);
		lr->diff_id = xstrdup(l->diff_id);
	}
	if (l->blob_digest && !lr->blob_digest)
		lr->blob_digest = xstrdup(l->blob_digest);
	if (l->media_type && !lr->media_type)
		lr->media_type = xstrdup(l->media_type);
	if (l->created_by && !lr->created_by)
		lr->created_by = xstrdup(l->created_by);
	if (l->compressed_size)
		lr->compressed_size = l->compressed_size;
}

static int an_meta(void *ctx, const struct image_meta *meta)
{
	((struct analysis *)ctx)->meta = meta;
	return 0;
}

static int an_layer_begin(void *ctx, const struct image_layer *layer)
{
	copy_layer_facts(layer_rec_of(ctx, layer), layer);
	return 0;
}

static int an_layer_end(void *ctx, const struct image_layer *layer)
{
	copy_layer_facts(layer_rec_of(ctx, layer), layer);
	return 0;
}

struct read_ctx {
	struct analysis *an;
	struct image_reader *rd;
};

static long an_elf_read(void *ctx, void *buf, size_t len)
{
	struct read_ctx *rc = ctx;

	return rc->an->read(rc->rd, buf, len);
}

static int read_all(struct analysis *an, struct image_reader *rd, uint64_t size, struct strbuf *sb)
{
	strbuf_reset(sb);
	if (size > AN_TEXT_CAP)
		return 1;
	strbuf_grow(sb, (size_t)size + 1);
	for (;;) {
		long r;

		strbuf_grow(sb, 65536);
		r = an->read(rd, sb->buf + sb->len, sb->alloc - sb->len - 1);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		strbuf_setlen(sb, sb->len + (size_t)r);
		if (sb->len > AN_TEXT_CAP)
			return 1;
	}
	return 0;
}

struct owned_build {
	struct analysis *an;
	uint32_t *nodes;
	uint32_t nr, alloc;
	const char *base; /* RECORD: the site directory, "" for dpkg */
	struct strbuf path;
};

/* Lexically normalized "base/rel" ("." and ".." folded), no leading '/'. */
static void join_normalized(struct strbuf *out, const char *base, const char *rel, size_t len)
{
	struct strbuf in = STRBUF_INIT;
	const char *p;

	strbuf_reset(out);
	if (len && *rel != '/')
		strbuf_addstr(&in, base);
	strbuf_addch(&in, '/');
	strbuf_add(&in, rel, len);
	for (p = in.buf; *p;) {
		const char *end;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		if (n == 1 && *p == '.') {
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(out->buf, '/');

			strbuf_setlen(out, slash ? (size_t)(slash - out->buf) : 0);
		} else {
			if (out->len)
				strbuf_addch(out, '/');
			strbuf_add(out, p, n);
		}
		p = end;
	}
	strbuf_release(&in);
}

static void owned_add(void *ctx, const char *s, size_t n)
{
	struct owned_build *ob = ctx;
	uint32_t node;

	join_normalized(&ob->path, ob->base, s, n);
	if (!ob->path.len)
		return;
	node = fsi_lookup(&ob->an->fsi, FSI_ROOT, ob->path.buf, 1);
	if (ob->nr == ob->alloc) {
		ob->alloc = ob->alloc ? ob->alloc * 2 : 64;
		ob->nodes = xrealloc(ob->nodes, ob->alloc * sizeof(uint32_t));
	}
	ob->nodes[ob->nr++] = node;
}

static uint32_t make_owned(struct analysis *an, int kind, const char *name, const char *version,
			   const char *base, const struct strbuf *text, int record)
{
	struct owned_build ob = {an, NULL, 0, 0, base, STRBUF_INIT};
	struct owned_list *ol;

	if (record)
		pkgdb_each_record_path(text->buf, text->len, owned_add, &ob);
	else
		pkgdb_each_line(text->buf, text->len, owned_add, &ob);
	ol = xmalloc(sizeof(*ol) + ob.nr * sizeof(uint32_t));
	ol->pkg_name = fsi_intern(&an->fsi, name, strlen(name));
	ol->pkg_version = version ? fsi_intern(&an->fsi, version, strlen(version)) : 0;
	ol->nr = ob.nr;
	if (ob.nr)
		memcpy(ol->nodes, ob.nodes, ob.nr * sizeof(uint32_t));
	free(ob.nodes);
	strbuf_release(&ob.path);
	return add_content(an, (struct content){(uint8_t)kind, {.owned = ol}});
}

static uint32_t intern_opt(struct analysis *an, const char *s)
{
	return s ? fsi_intern(&an->fsi, s, strlen(s)) : 0;
}

/* Parse what matters of a regular file's content; its content index. */
static int read_content(struct analysis *an, const char *path, uint64_t size,
			struct image_reader *rd, uint32_t *data)
{
	const char *base = base_name(path);
	size_t plen = strlen(path);
	struct strbuf *sb = &an->tmp;
	int r;

	*data = FSI_NONE;
	if (!strcmp(path, "var/lib/dpkg/status")) {
		struct content c = {C_DPKG_STATUS, {.pkgs = VEC_INIT(pkgdb_pkg_free)}};

		if ((r = read_all(an, rd, size, sb)))
			return r < 0 ? -1 : 0;
		pkgdb_parse_dpkg_status(sb->buf, sb->len, &c.u.pkgs);
		*data = add_content(an, c);
		return 0;
	}
	if (starts_with(path, "var/lib/dpkg/info/") && ends_with(path, ".list") &&
	    !strchr(path + 18, '/')) {
		char *pkg = pkgdb_list_package(base);

		if ((r = read_all(an, rd, size, sb))) {
			free(pkg);
			return r < 0 ? -1 : 0;
		}
		*data = make_owned(an, C_DPKG_LIST, pkg, NULL, "", sb, 0);
		free(pkg);
		return 0;
	}
	if (!strcmp(base, "RECORD") && plen > 17 && base - path > 11 &&
	    !strncmp(base - 11, ".dist-info/", 11)) {
		const char *dir_start;
		char *dir, *site, *name, *version;

		for (dir_start = base - 11; dir_start > path && dir_start[-1] != '/'; dir_start--)
			;
		dir = xstrndup(dir_start, (size_t)(base - 1 - dir_start));
		site = xstrndup(path, dir_start > path ? (size_t)(dir_start - 1 - path) : 0);
		if (pkgdb_distinfo_name(dir, &name, &version) == 0) {
			if ((r = read_all(an, rd, size, sb)) == 0)
				*data = make_owned(an, C_RECORD, name, version, site, sb, 1);
			free(name);
			free(version);
		} else {
			r = 0;
		}
		free(dir);
		free(site);
		return r < 0 ? -1 : 0;
	}
	/* ld.so.conf and what it may include: /etc/ld.so.conf, and any *.conf
	 * whose path has "ld.so.conf" in it (/etc/ld.so.conf.d/x.conf,
	 * /usr/local/lib/ld.so.conf.d/y.conf), a small text each. */
	if (!strcmp(path, "etc/ld.so.conf") ||
	    (strstr(path, "ld.so.conf") && ends_with(path, ".conf") && size <= 65536)) {
		if ((r = read_all(an, rd, size, sb)))
			return r < 0 ? -1 : 0;
		*data = add_content(an, (struct content){C_TEXT, {.text = xstrdup(sb->buf)}});
		return 0;
	}
	if (size >= 52) {
		struct elf_info info;
		struct read_ctx rc = {an, rd};

		elf_info_init(&info);
		if (elf_scan(&an->sc, an_elf_read, &rc, size, &info) < 0) {
			elf_info_release(&info);
			return -1;
		}
		if (info.is_elf) {
			struct elf_rec *er =
			    xmalloc(sizeof(*er) + info.needed.nr * sizeof(uint32_t));

			er->type = (uint16_t)info.type;
			er->unstripped = (uint8_t)elf_info_unstripped(&info);
			er->soname = intern_opt(an, info.soname);
			er->runpath = intern_opt(an, info.runpath);
			er->rpath = intern_opt(an, info.rpath);
			er->interp = intern_opt(an, info.interp);
			er->needed_nr = (uint32_t)info.needed.nr;
			for (size_t i = 0; i < info.needed.nr; i++)
				er->needed[i] = intern_opt(an, info.needed.items[i]);
			*data = add_content(an, (struct content){C_ELF, {.elf = er}});
		}
		elf_info_release(&info);
	}
	return 0;
}

static int an_entry(void *ctx, const struct image_layer *layer, const struct image_entry *e,
		    struct image_reader *rd)
{
	struct analysis *an = ctx;
	struct layer_rec *lr = layer_rec_of(an, layer);
	struct ev ev = {0, 0, 0, FSI_NONE, 0};

	if (!*e->path && e->type != IMAGE_ENTRY_OPAQUE)
		return 0; /* the root itself; an opaque root hides all below it */
	ev.node = fsi_lookup(&an->fsi, FSI_ROOT, e->path, 1);
	switch (e->type) {
	case IMAGE_ENTRY_FILE:
		ev.type = EV_FILE;
		ev.size = e->size;
		lr->files_bytes += e->size;
		lr->files++;
		if (read_content(an, e->path, e->size, rd, &ev.data) < 0) {
			error_prefix("cannot read '%s'", e->path);
			return -1;
		}
		break;
	case IMAGE_ENTRY_DIR:
		ev.type = EV_DIR;
		break;
	case IMAGE_ENTRY_SYMLINK:
		ev.type = EV_SYMLINK;
		ev.aux = intern_opt(an, e->link ? e->link : "");
		lr->files++;
		break;
	case IMAGE_ENTRY_HARDLINK:
		ev.type = EV_HARDLINK;
		ev.aux = fsi_lookup(&an->fsi, FSI_ROOT, e->link ? e->link : "", 1);
		lr->files++;
		break;
	case IMAGE_ENTRY_OTHER:
		ev.type = EV_OTHER;
		lr->files++;
		break;
	case IMAGE_ENTRY_WHITEOUT:
		ev.type = EV_WHITEOUT;
		break;
	case IMAGE_ENTRY_OPAQUE:
		ev.type = EV_OPAQUE;
		break;
	}
	if (lr->nr == lr->alloc) {
		lr->alloc = lr->alloc ? lr->alloc * 2 : 1024;
		lr->evs = xrealloc(lr->evs, lr->alloc * sizeof(*lr->evs));
	}
	lr->evs[lr->nr++] = ev;
	return 0;
}

struct analysis *analysis_new(const struct analyze_opts *opts, analysis_read_fn read)
{
	struct analysis *an = xcalloc(1, sizeof(*an));

	an->opts = opts;
	an->read = read;
	fsi_init(&an->fsi);
	vec_init(&an->layers, free_layer_rec);
	strbuf_init(&an->tmp, 0);
	return an;
}

void analysis_free(struct analysis *an)
{
	if (!an)
		return;
	fsi_release(&an->fsi);
	elf_scanner_release(&an->sc);
	vec_release(&an->layers);
	for (uint32_t i = 0; i < an->contents_nr; i++)
		free_content(&an->contents[i]);
	free(an->contents);
	free(an->inodes);
	free(an->order);
	free(an->heap);
	strbuf_release(&an->tmp);
	free(an);
}

void analysis_visitor(struct analysis *an, struct image_visitor *v)
{
	v->ctx = an;
	v->meta = an_meta;
	v->layer_begin = an_layer_begin;
	v->entry = an_entry;
	v->layer_end = an_layer_end;
}

/* ---- replay: the layers bottom up --------------------------------------- */

static void heap_push(struct analysis *an, struct waste w)
{
	size_t i;

	if (!an->heap_cap)
		return;
	if (an->heap_nr == an->heap_cap) {
		if (w.bytes <= an->heap[0].bytes)
			return;
		/* Replace the smallest, sift down. */
		i = 0;
		an->heap[0] = w;
		for (;;) {
			size_t l = 2 * i + 1, r = l + 1, m = i;

			if (l < an->heap_nr && an->heap[l].bytes < an->heap[m].bytes)
				m = l;
			if (r < an->heap_nr && an->heap[r].bytes < an->heap[m].bytes)
				m = r;
			if (m == i)
				break;
			struct waste t = an->heap[i];
			an->heap[i] = an->heap[m];
			an->heap[m] = t;
			i = m;
		}
		return;
	}
	i = an->heap_nr++;
	an->heap[i] = w;
	while (i && an->heap[(i - 1) / 2].bytes > an->heap[i].bytes) {
		struct waste t = an->heap[i];

		an->heap[i] = an->heap[(i - 1) / 2];
		an->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static uint32_t new_inode(struct analysis *an, uint64_t size, uint16_t layer)
{
	if (an->inodes_nr == an->inodes_alloc) {
		an->inodes_alloc = an->inodes_alloc ? an->inodes_alloc * 2 : 4096;
		an->inodes = xrealloc(an->inodes, an->inodes_alloc * sizeof(*an->inodes));
	}
	an->inodes[an->inodes_nr] = (struct inode){size, 1, layer, 0};
	return an->inodes_nr++;
}

/* Remove a visible node and everything under it; the bytes this wastes
 * (content no other visible name keeps). */
static uint64_t rm_node(struct analysis *an, uint32_t id)
{
	struct fsi_node *nd = fsi_node(&an->fsi, id);
	uint64_t bytes = 0;

	if (nd->type == FSI_ABSENT)
		return 0;
	if (nd->type == FSI_DIR) {
		for (uint32_t c = nd->child; c != FSI_NONE; c = fsi_node(&an->fsi, c)->sibling)
			bytes += rm_node(an, c);
		nd = fsi_node(&an->fsi, id);
	} else if (nd->type == FSI_FILE) {
		struct inode *in = &an->inodes[nd->inode];

		if (in->nlink && --in->nlink == 0 && in->size) {
			bytes = in->size;
			if (in->layer < an->order_nr && an->order[in->layer])
				an->order[in->layer]->wasted += in->size;
			if (in->size > an->rm_top_bytes) {
				an->rm_top_bytes = in->size;
				an->rm_top_layer = in->layer;
			}
		}
	}
	nd->type = FSI_ABSENT;
	return bytes;
}

/* An opaque directory at layer L: remove what lower layers put under it. */
static uint64_t rm_lower(struct analysis *an, uint32_t dir, uint16_t layer)
{
	uint64_t bytes = 0;

	for (uint32_t c = fsi_node(&an->fsi, dir)->child; c != FSI_NONE;
	     c = fsi_node(&an->fsi, c)->sibling) {
		struct fsi_node *nd = fsi_node(&an->fsi, c);
		int kept = 0;

		if (nd->type == FSI_ABSENT)
			continue;
		if (nd->type != FSI_DIR) {
			if (nd->layer < layer)
				bytes += rm_node(an, c);
			continue;
		}
		bytes += rm_lower(an, c, layer);
		nd = fsi_node(&an->fsi, c);
		if (nd->layer < layer) {
			for (uint32_t g = nd->child; g != FSI_NONE;
			     g = fsi_node(&an->fsi, g)->sibling)
				if (fsi_node(&an->fsi, g)->type != FSI_ABSENT)
					kept = 1;
			if (!kept)
				nd->type = FSI_ABSENT;
		}
	}
	return bytes;
}

static void record_waste(struct analysis *an, uint32_t node, uint64_t bytes, uint16_t by_layer,
			 int deleted)
{
	if (!bytes)
		return;
	an->wasted_total += bytes;
	heap_push(an, (struct waste){bytes, node, an->rm_top_layer, by_layer, (uint8_t)deleted});
}

/* Replace whatever is visible at `id` (overwritten by layer L). */
static void replace(struct analysis *an, uint32_t id, uint16_t layer)
{
	an->rm_top_bytes = 0;
	an->rm_top_layer = layer;
	record_waste(an, id, rm_node(an, id), layer, 0);
}

/* The parents of a new entry are directories (tar streams may omit them). */
static void ensure_parents(struct analysis *an, uint32_t id, uint16_t layer)
{
	uint32_t p = fsi_node(&an->fsi, id)->parent;

	while (p != FSI_NONE && p != FSI_ROOT) {
		struct fsi_node *nd = fsi_node(&an->fsi, p);

		if (nd->type == FSI_DIR)
			return;
		if (nd->type != FSI_ABSENT)
			replace(an, p, layer);
		nd = fsi_node(&an->fsi, p);
		nd->type = FSI_DIR;
		nd->layer = layer;
		nd->data = FSI_NONE;
		p = nd->parent;
	}
}

static void replay_event(struct analysis *an, const struct ev *ev, uint16_t layer)
{
	struct fsi_node *nd;
	uint32_t inode;

	switch (ev->type) {
	case EV_WHITEOUT:
		an->rm_top_bytes = 0;
		an->rm_top_layer = layer;
		record_waste(an, ev->node, rm_node(an, ev->node), layer, 1);
		return;
	case EV_OPAQUE:
		an->rm_top_bytes = 0;
		an->rm_top_layer = layer;
		if (fsi_node(&an->fsi, ev->node)->type == FSI_DIR)
			record_waste(an, ev->node, rm_lower(an, ev->node, layer), layer, 1);
		return;
	case EV_DIR:
		ensure_parents(an, ev->node, layer);
		nd = fsi_node(&an->fsi, ev->node);
		if (nd->type != FSI_DIR && nd->type != FSI_ABSENT)
			replace(an, ev->node, layer);
		nd = fsi_node(&an->fsi, ev->node);
		nd->type = FSI_DIR;
		nd->layer = layer;
		return;
	case EV_HARDLINK: {
		struct fsi_node *t = fsi_node(&an->fsi, ev->aux);
		uint32_t data = t->data;

		if (ev->aux == ev->node)
			return;
		if (t->type == FSI_FILE) {
			inode = t->inode;
			an->inodes[inode].nlink++;
		} else {
			inode = new_inode(an, 0, layer);
			data = FSI_NONE;
		}
		ensure_parents(an, ev->node, layer);
		replace(an, ev->node, layer);
		nd = fsi_node(&an->fsi, ev->node);
		nd->type = FSI_FILE;
		nd->inode = inode;
		nd->layer = layer;
		nd->data = data;
		return;
	}
	default:
		break;
	}
	ensure_parents(an, ev->node, layer);
	replace(an, ev->node, layer);
	nd = fsi_node(&an->fsi, ev->node);
	nd->layer = layer;
	nd->data = ev->data;
	if (ev->type == EV_FILE) {
		inode = new_inode(an, ev->size, layer);
		nd = fsi_node(&an->fsi, ev->node);
		nd->type = FSI_FILE;
		nd->inode = inode;
	} else if (ev->type == EV_SYMLINK) {
		nd->type = FSI_SYMLINK;
		nd->inode = ev->aux;
	} else {
		nd->type = FSI_OTHER;
	}
}

/* ---- the report ---------------------------------------------------------- */

static json_t *config_obj(const struct image_meta *meta)
{
	json_t *c = meta && meta->config ? json_object_get(meta->config, "config") : NULL;

	if (!c && meta && meta->config)
		c = json_object_get(meta->config, "Config");
	return json_is_object(c) ? c : NULL;
}

/* The value of KEY in the config's Env, or NULL. */
static const char *config_env(json_t *cfg, const char *key)
{
	json_t *env = cfg ? json_object_get(cfg, "Env") : NULL;
	size_t i, klen = strlen(key);
	json_t *v;

	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);

		if (s && !strncmp(s, key, klen) && s[klen] == '=')
			return s + klen + 1;
	}
	return NULL;
}

static int prefix_match(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;

	if (n < 12)
		return !strcmp(a, b);
	return !strncmp(a, b, n);
}

/* Layer order: index from the reader, else by diff_id in the config. */
static int order_layers(struct analysis *an, const struct image_meta *meta)
{
	size_t n = an->layers.nr;

	if (meta && meta->diff_ids.nr > n)
		n = meta->diff_ids.nr;
	an->order = xcalloc(n ? n : 1, sizeof(*an->order));
	an->order_nr = n;
	for (size_t i = 0; i < an->layers.nr; i++) {
		struct layer_rec *lr = an->layers.items[i];
		size_t idx = lr->index;

		if (idx == SIZE_MAX && meta && lr->diff_id)
			for (size_t j = 0; j < meta->diff_ids.nr; j++)
				if (!strcmp(meta->diff_ids.items[j], lr->diff_id) &&
				    !an->order[j]) {
					idx = j;
					break;
				}
		if (idx == SIZE_MAX || idx >= n || an->order[idx])
			return error_setc(GS_EINVAL, "cannot place layer '%s' in the image's order",
					  lr->diff_id ? lr->diff_id : "?");
		lr->index = idx;
		an->order[idx] = lr;
	}
	if (n > 0xfffe)
		return error_setc(GS_EINVAL, "too many layers (%zu)", n);
	return 0;
}

struct elf_file {
	uint32_t node;
	const struct elf_rec *er;
};

/* Everything the walk over the final tree gathers. */
struct tally {
	uint64_t files, visible_bytes;
	uint64_t elf_files, elf_bytes, unstripped_files, unstripped_bytes;
	struct elf_file *elves;
	size_t elves_nr, elves_alloc;
	uint64_t *comp_bytes, *comp_files;
	json_t *tools, *driver_in_image, *dangling;
	uint64_t headers, headers_bytes, statics, statics_bytes, devel_tool_bytes;
	uint64_t cache_bytes[5], cache_files[5];
	uint64_t te_files, te_bytes;
	struct u32map te_dirs; /* node -> index in te_bytes_of */
	uint64_t *te_dir_bytes;
	uint32_t *te_dir_nodes;
	uint32_t te_dirs_nr, te_dirs_alloc;
	uint64_t unowned;
	uint32_t first_unstripped, first_header, first_static;
	/* budgets.paths: one slot per distinct key of opts->paths */
	const char **path_keys;
	uint64_t *path_bytes, *path_files;
	struct u32map *path_inodes; /* hardlinked inodes already counted, per key */
	size_t path_keys_nr;
};

static const char *const cache_kinds[] = {"apt-lists", "pip-cache", "uv-cache", "huggingface-cache",
					  "pycache"};

static int is_tool_name(const char *b)
{
	static const char *const tools[] = {
	    "nvcc", "cicc",	"ptxas", "nvlink", "fatbinary", "cc1",	    "cc1plus", "cc1obj",
	    "lto1", "collect2", "ld",	 "ld.bfd", "ld.gold",	"ld.lld",   "as",      "gcc",
	    "g++",  "c++",	"cc",	 "clang",  "clang++",	"gfortran", NULL};
	static const char *const globs[] = {"gcc-[0-9]*",	"g++-[0-9]*",
					    "clang-[0-9]*",	"clang++-[0-9]*",
					    "*-linux-gnu-gcc*", "*-linux-gnu-g++*",
					    "*-linux-gnu-ld*",	"*-linux-gnu-as",
					    "cpp-[0-9]*",	NULL};

	for (size_t i = 0; tools[i]; i++)
		if (!strcmp(b, tools[i]))
			return 1;
	for (size_t i = 0; globs[i]; i++)
		if (glob_match(globs[i], b))
			return 1;
	return 0;
}

/* python, python3, python3.11, pypy3.10, perl5.36.0, ruby3.1, node, nodejs,
 * java: a name and a version, never "python-policy.txt.gz" or "python3-config". */
static int is_interpreter_name(const char *b)
{
	static const char *const stems[] = {"python", "pypy", "perl", "ruby", NULL};

	if (!strcmp(b, "node") || !strcmp(b, "nodejs") || !strcmp(b, "java"))
		return 1;
	for (size_t i = 0; stems[i]; i++)
		if (starts_with(b, stems[i])) {
			const char *v = b + strlen(stems[i]);

			return v[strspn(v, "0123456789.")] == '\0';
		}
	return 0;
}

/* Is the file at `path` ("/a/bin/python3", "a/bin/python3") an interpreter:
 * named like one, in a bin/ directory? */
static int is_interpreter_path(const char *path)
{
	const char *b = base_name(path);
	size_t dir_len = (size_t)(b - path);

	return is_interpreter_name(b) && dir_len >= 4 && !strncmp(b - 4, "bin/", 4) &&
	       (dir_len == 4 || b[-5] == '/');
}

/* The component of a file name: index in kb->components, or -1. */
static int component_of(const struct knowledge *kb, const char *b)
{
	for (size_t i = 0; kb && i < kb->components_nr; i++)
		for (size_t j = 0; j < kb->components[i].patterns.nr; j++) {
			const char *p = kb->components[i].patterns.items[j];

			/* Cheap check of the literal head first. */
			if (*p != '*' && *p != *b)
				continue;
			if (glob_match(p, b))
				return (int)i;
		}
	return -1;
}

/* A directory named tests/test/examples below site-packages or dist-packages:
 * its node, or FSI_NONE. */
static uint32_t tests_dir_of(struct analysis *an, uint32_t id, const char *path)
{
	const char *site = strstr(path, "/site-packages/");
	uint32_t found = FSI_NONE;

	if (!site)
		site = strstr(path, "/dist-packages/");
	if (!site)
		return FSI_NONE;
	/* Walk up from the file; keep the outermost match below the site dir. */
	for (uint32_t p = fsi_node(&an->fsi, id)->parent; p != FSI_NONE && p != FSI_ROOT;
	     p = fsi_node(&an->fsi, p)->parent) {
		const char *name = fsi_str(&an->fsi, fsi_node(&an->fsi, p)->name);

		if (!strcmp(name, "site-packages") || !strcmp(name, "dist-packages"))
			break;
		if (!strcmp(name, "tests") || !strcmp(name, "test") || !strcmp(name, "examples"))
			found = p;
	}
	return found;
}

/* budgets.paths: a visible regular file counts under every key its path
 * contains; each name is a file, hardlinked content counts its bytes once. */
static void tally_paths(struct tally *t, const struct inode *in, uint32_t inode, const char *path)
{
	for (size_t k = 0; k < t->path_keys_nr; k++) {
		if (!strstr(path, t->path_keys[k]))
			continue;
		t->path_files[k]++;
		if (in->nlink > 1) {
			uint32_t *seen = map_slot(&t->path_inodes[k], inode, 1);

			if (*seen != FSI_NONE)
				continue;
			*seen = 1;
		}
		t->path_bytes[k] += in->size;
	}
}

static void tally_file(struct analysis *an, struct tally *t, uint32_t id, const char *path)
{
	const struct knowledge *kb = an->opts->kb;
	struct fsi_node *nd = fsi_node(&an->fsi, id);
	struct inode *in = &an->inodes[nd->inode];
	const char *b = base_name(path);
	uint64_t size = in->size;
	const struct content *c = nd->data != FSI_NONE ? &an->contents[nd->data] : NULL;
	int first = !(in->counted & 1);
	int comp;
	uint32_t td;

	tally_paths(t, in, nd->inode, path);
	if (!first)
		return; /* a second name of hardlinked content: counted once */
	in->counted |= 1;
	t->visible_bytes += size;
	if (c && c->kind == C_ELF) {
		t->elf_files++;
		t->elf_bytes += size;
		if (c->u.elf->unstripped) {
			if (!t->unstripped_files)
				t->first_unstripped = id;
			t->unstripped_files++;
			t->unstripped_bytes += size;
		}
		if (t->elves_nr == t->elves_alloc) {
			t->elves_alloc = t->elves_alloc ? t->elves_alloc * 2 : 1024;
			t->elves = xrealloc(t->elves, t->elves_alloc * sizeof(*t->elves));
		}
		t->elves[t->elves_nr++] = (struct elf_file){id, c->u.elf};
		if (is_tool_name(b)) {
			json_array_append_new(t->tools, json_pack("{s:s,s:I}", "path", path,
								  "bytes", (json_int_t)size));
			t->devel_tool_bytes += size;
		}
	}
	if ((comp = component_of(kb, b)) >= 0) {
		t->comp_bytes[comp] += size;
		t->comp_files[comp]++;
	}
	if (strstr(path, "/include/")) {
		if (!t->headers)
			t->first_header = id;
		t->headers++;
		t->headers_bytes += size;
	}
	if (ends_with(b, ".a") && strlen(b) > 2) {
		if (!t->statics)
			t->first_static = id;
		t->statics++;
		t->statics_bytes += size;
	}
	{
		int kind = -1;

		if (starts_with(path, "/var/lib/apt/lists/") && strcmp(b, "lock"))
			kind = 0;
		else if (strstr(path, "/.cache/pip/"))
			kind = 1;
		else if (strstr(path, "/.cache/uv/"))
			kind = 2;
		else if (strstr(path, "/.cache/huggingface/"))
			kind = 3;
		else if (strstr(path, "/__pycache__/"))
			kind = 4;
		if (kind >= 0) {
			t->cache_bytes[kind] += size;
			t->cache_files[kind]++;
		}
	}
	if ((td = tests_dir_of(an, id, path)) != FSI_NONE) {
		uint32_t *slot = map_slot(&t->te_dirs, td, 1);

		if (*slot == FSI_NONE) {
			if (t->te_dirs_nr == t->te_dirs_alloc) {
				t->te_dirs_alloc = t->te_dirs_alloc ? t->te_dirs_alloc * 2 : 64;
				t->te_dir_bytes =
				    xrealloc(t->te_dir_bytes, t->te_dirs_alloc * sizeof(uint64_t));
				t->te_dir_nodes =
				    xrealloc(t->te_dir_nodes, t->te_dirs_alloc * sizeof(uint32_t));
			}
			t->te_dir_bytes[t->te_dirs_nr] = 0;
			t->te_dir_nodes[t->te_dirs_nr] = td;
			*slot = t->te_dirs_nr++;
		}
		t->te_dir_bytes[*slot] += size;
		t->te_files++;
		t->te_bytes += size;
	}
	if (kb && any_glob(&kb->driver_sonames, b) && !strstr(path, "/stubs/"))
		json_array_append_new(t->driver_in_image, json_pack("{s:s,s:I}", "path", path,
								    "bytes", (json_int_t)size));
}

/*
 * dangling-interpreter: a symlink that is an interpreter (bin/python3) or
 * points to one (a venv's python -> /usr/bin/python3.11), whose final target
 * is not there. Other dangling links (a doc link to a pruned file) are no
 * interpreter and no finding.
 */
static void tally_symlink(struct analysis *an, struct tally *t, uint32_t id, const char *path)
{
	struct fsi_node *nd = fsi_node(&an->fsi, id);
	const char *target = fsi_str(&an->fsi, nd->inode);
	int interp = is_interpreter_path(path);

	if (!interp && *target && is_interpreter_name(base_name(target))) {
		/* The target's own directory, "../bin/python3" against the link's. */
		struct strbuf dir = STRBUF_INIT, to = STRBUF_INIT;

		strbuf_add(&dir, path, (size_t)(base_name(path) - path));
		join_normalized(&to, dir.buf, target, strlen(target));
		interp = is_interpreter_path(to.buf);
		strbuf_release(&dir);
		strbuf_release(&to);
	}
	if (interp && fsi_resolve(&an->fsi, nd->parent, target, 1) == FSI_NONE)
		json_array_append_new(t->dangling,
				      json_pack("{s:s,s:s}", "path", path, "target", target));
}

/* Depth-first over the visible tree, the path kept in one buffer. */
static void walk_tree(struct analysis *an, struct tally *t)
{
	struct strbuf path = STRBUF_INIT;
	uint32_t *stack = NULL;
	size_t *lens = NULL, sp = 0, alloc = 0;
	uint32_t id = fsi_node(&an->fsi, FSI_ROOT)->child;

	/* Each level: the sibling to visit next at that depth. */
	for (;;) {
		while (id != FSI_NONE) {
			struct fsi_node *nd = fsi_node(&an->fsi, id);
			size_t len = path.len;

			if (nd->type == FSI_ABSENT) {
				id = nd->sibling;
				continue;
			}
			strbuf_addch(&path, '/');
			strbuf_addstr(&path, fsi_str(&an->fsi, nd->name));
			if (nd->type == FSI_DIR) {
				if (sp == alloc) {
					alloc = alloc ? alloc * 2 : 64;
					stack = xrealloc(stack, alloc * sizeof(*stack));
					lens = xrealloc(lens, alloc * sizeof(*lens));
				}
				stack[sp] = nd->sibling;
				lens[sp++] = len;
				id = nd->child;
				continue;
			}
			t->files++;
			if (nd->type == FSI_FILE)
				tally_file(an, t, id, path.buf);
			else if (nd->type == FSI_SYMLINK)
				tally_symlink(an, t, id, path.buf);
			strbuf_setlen(&path, len);
			id = fsi_node(&an->fsi, id)->sibling;
		}
		if (!sp)
			break;
		id = stack[--sp];
		strbuf_setlen(&path, lens[sp]);
	}
	free(stack);
	free(lens);
	strbuf_release(&path);
}

/* ---- budgets.paths ---- */

/* One slot per key, in the given order, a repeated key once. */
static void paths_init(struct tally *t, const struct vec *keys)
{
	size_t n = keys ? keys->nr : 0;

	t->path_keys = xcalloc(n + 1, sizeof(*t->path_keys));
	t->path_bytes = xcalloc(n + 1, sizeof(*t->path_bytes));
	t->path_files = xcalloc(n + 1, sizeof(*t->path_files));
	t->path_inodes = xcalloc(n + 1, sizeof(*t->path_inodes));
	for (size_t i = 0; i < n; i++) {
		const char *key = keys->items[i];
		size_t k;

		for (k = 0; k < t->path_keys_nr && strcmp(t->path_keys[k], key); k++)
			;
		if (k < t->path_keys_nr)
			continue;
		map_init(&t->path_inodes[t->path_keys_nr]);
		t->path_keys[t->path_keys_nr++] = key;
	}
}

static void paths_release(struct tally *t)
{
	for (size_t k = 0; k < t->path_keys_nr; k++)
		map_release(&t->path_inodes[k]);
	free(t->path_keys);
	free(t->path_bytes);
	free(t->path_files);
	free(t->path_inodes);
}

static json_t *paths_json(const struct tally *t)
{
	json_t *arr = json_array();

	for (size_t k = 0; k < t->path_keys_nr; k++)
		json_array_append_new(arr, json_pack("{s:s,s:I,s:I}", "path", t->path_keys[k],
						     "bytes", (json_int_t)t->path_bytes[k], "files",
						     (json_int_t)t->path_files[k]));
	return arr;
}

/* ---- packages -- */

static json_t *packages_json(struct analysis *an, struct tally *t)
{
	struct pkg *pkgs = NULL;
	size_t nr = 0, alloc = 0;
	uint32_t *owner = xcalloc(an->fsi.nr, sizeof(uint32_t));
	struct u32map dpkg_by_name, pip_by_name;
	uint32_t status = fsi_lookup(&an->fsi, FSI_ROOT, "var/lib/dpkg/status", 0);
	json_t *arr = json_array();

	map_init(&dpkg_by_name);
	map_init(&pip_by_name);
#define PKG_ADD(mgr, nm, ver)                                                                      \
	do {                                                                                       \
		if (nr == alloc) {                                                                 \
			alloc = alloc ? alloc * 2 : 256;                                           \
			pkgs = xrealloc(pkgs, alloc * sizeof(*pkgs));                              \
		}                                                                                  \
		pkgs[nr++] = (struct pkg){mgr, nm, ver, 0, 0};                                     \
	} while (0)
	if (status != FSI_NONE && fsi_node(&an->fsi, status)->type == FSI_FILE &&
	    fsi_node(&an->fsi, status)->data != FSI_NONE &&
	    an->contents[fsi_node(&an->fsi, status)->data].kind == C_DPKG_STATUS) {
		const struct vec *v = &an->contents[fsi_node(&an->fsi, status)->data].u.pkgs;

		for (size_t i = 0; i < v->nr; i++) {
			const struct pkgdb_pkg *p = v->items[i];
			uint32_t name = intern_opt(an, p->name);
			uint32_t *slot = map_slot(&dpkg_by_name, name, 1);

			if (*slot != FSI_NONE)
				continue;
			*slot = (uint32_t)nr;
			PKG_ADD("dpkg", name, intern_opt(an, p->version));
		}
	}
	/* File lists of the visible .list and RECORD files. */
	for (uint32_t id = 1; id < an->fsi.nr; id++) {
		struct fsi_node *nd = fsi_node(&an->fsi, id);
		const struct content *c;
		uint32_t *slot;

		if (nd->type != FSI_FILE || nd->data == FSI_NONE)
			continue;
		c = &an->contents[nd->data];
		if (c->kind != C_DPKG_LIST && c->kind != C_RECORD)
			continue;
		slot = map_slot(c->kind == C_DPKG_LIST ? &dpkg_by_name : &pip_by_name,
				c->u.owned->pkg_name, 1);
		if (*slot == FSI_NONE) {
			*slot = (uint32_t)nr;
			PKG_ADD(c->kind == C_DPKG_LIST ? "dpkg" : "pip", c->u.owned->pkg_name,
				c->u.owned->pkg_version);
		}
		for (uint32_t i = 0; i < c->u.owned->nr; i++)
			owner[c->u.owned->nodes[i]] = *slot + 1;
	}
#undef PKG_ADD
	/* Bytes: each visible inode once. */
	for (uint32_t id = 1; id < an->fsi.nr; id++) {
		struct fsi_node *nd = fsi_node(&an->fsi, id);
		struct inode *in;

		if (nd->type != FSI_FILE)
			continue;
		in = &an->inodes[nd->inode];
		if (owner[id]) {
			pkgs[owner[id] - 1].files++;
			if (!(in->counted & 2))
				pkgs[owner[id] - 1].bytes += in->size;
		} else if (!(in->counted & 2)) {
			t->unowned += in->size;
		}
		in->counted |= 2;
	}
	/* Biggest first, then by name. */
	for (size_t i = 1; i < nr; i++) {
		struct pkg p = pkgs[i];
		size_t j = i;

		while (j &&
		       (pkgs[j - 1].bytes < p.bytes ||
			(pkgs[j - 1].bytes == p.bytes && strcmp(fsi_str(&an->fsi, pkgs[j - 1].name),
								fsi_str(&an->fsi, p.name)) > 0))) {
			pkgs[j] = pkgs[j - 1];
			j--;
		}
		pkgs[j] = p;
	}
	for (size_t i = 0; i < nr; i++)
		json_array_append_new(
		    arr, json_pack("{s:s,s:s,s:o,s:I,s:I}", "manager", pkgs[i].manager, "name",
				   fsi_str(&an->fsi, pkgs[i].name), "version",
				   pkgs[i].version ? json_string(fsi_str(&an->fsi, pkgs[i].version))
						   : json_null(),
				   "bytes", (json_int_t)pkgs[i].bytes, "files",
				   (json_int_t)pkgs[i].files));
	map_release(&dpkg_by_name);
	map_release(&pip_by_name);
	free(owner);
	free(pkgs);
	return arr;
}

/* ---- closure ---- */

struct search {
	struct analysis *an;
	uint32_t *dirs; /* resolved default directories */
	size_t dirs_nr, dirs_alloc;
	struct u32map cache; /* needed -> 1 found, 0 missing (default dirs) */
	/* Executables with a DT_RPATH and no DT_RUNPATH: ld.so searches their RPATH
	 * for every library of the process that has no RUNPATH of its own. */
	const struct elf_file *rpath_exes;
	size_t rpath_exes_nr;
};

static void search_add_dir(struct search *s, const char *dir)
{
	uint32_t d;

	if (!*dir)
		return;
	d = fsi_resolve(&s->an->fsi, FSI_ROOT, dir, 1);
	if (d == FSI_NONE || fsi_node(&s->an->fsi, d)->type != FSI_DIR)
		return;
	for (size_t i = 0; i < s->dirs_nr; i++)
		if (s->dirs[i] == d)
			return;
	if (s->dirs_nr == s->dirs_alloc) {
		s->dirs_alloc = s->dirs_alloc ? s->dirs_alloc * 2 : 16;
		s->dirs = xrealloc(s->dirs, s->dirs_alloc * sizeof(*s->dirs));
	}
	s->dirs[s->dirs_nr++] = d;
}

static void search_add_list(struct search *s, const char *list, char sep)
{
	struct strbuf sb = STRBUF_INIT;

	for (const char *p = list; p && *p;) {
		const char *end = strchrnul(p, sep);

		strbuf_reset(&sb);
		strbuf_add(&sb, p, (size_t)(end - p));
		strbuf_rtrim(&sb);
		search_add_dir(s, sb.buf);
		p = *end ? end + 1 : end;
	}
	strbuf_release(&sb);
}

static const char *visible_text(struct analysis *an, uint32_t id)
{
	struct fsi_node *nd;

	if (id == FSI_NONE)
		return NULL;
	nd = fsi_node(&an->fsi, id);
	if (nd->type != FSI_FILE || nd->data == FSI_NONE || an->contents[nd->data].kind != C_TEXT)
		return NULL;
	return an->contents[nd->data].u.text;
}

/* ld.so.conf: directories, and "include GLOB" of files (only /etc/ld.so.conf
 * and *.conf files with "ld.so.conf" in their path had their text kept). */
static void search_add_ldconf(struct search *s, const char *text, int depth)
{
	struct strbuf line = STRBUF_INIT;

	for (const char *p = text; p && *p && depth < 4;) {
		const char *end = strchrnul(p, '\n');
		char *hash;

		strbuf_reset(&line);
		strbuf_add(&line, p, (size_t)(end - p));
		if ((hash = strchr(line.buf, '#')))
			strbuf_setlen(&line, (size_t)(hash - line.buf));
		strbuf_rtrim(&line);
		{
			const char *l = line.buf + strspn(line.buf, " \t");

			if (!strncmp(l, "include", 7) && (l[7] == ' ' || l[7] == '\t')) {
				const char *glob = l + 8 + strspn(l + 8, " \t");
				const char *slash = strrchr(glob, '/');
				char *dir = slash ? xstrndup(glob, (size_t)(slash - glob))
						  : xstrdup("/etc");
				uint32_t d = fsi_resolve(&s->an->fsi, FSI_ROOT, dir, 1);

				for (uint32_t c = d != FSI_NONE ? fsi_node(&s->an->fsi, d)->child
								: FSI_NONE;
				     c != FSI_NONE; c = fsi_node(&s->an->fsi, c)->sibling) {
					const char *txt = visible_text(s->an, c);

					if (txt &&
					    glob_match(slash ? slash + 1 : glob,
						       fsi_str(&s->an->fsi,
							       fsi_node(&s->an->fsi, c)->name)))
						search_add_ldconf(s, txt, depth + 1);
				}
				free(dir);
			} else if (*l == '/') {
				search_add_dir(s, l);
			}
		}
		p = *end ? end + 1 : end;
	}
	strbuf_release(&line);
}

/* The regular file `needed` names in `dir` (through symlinks), or FSI_NONE. */
static uint32_t file_in(struct analysis *an, uint32_t dir, const char *needed)
{
	uint32_t f = fsi_resolve(&an->fsi, dir, needed, 1);

	return f != FSI_NONE && fsi_node(&an->fsi, f)->type == FSI_FILE ? f : FSI_NONE;
}

static int found_in(struct analysis *an, uint32_t dir, const char *needed)
{
	return file_in(an, dir, needed) != FSI_NONE;
}

static int search_default(struct search *s, uint32_t needed)
{
	uint32_t *slot = map_slot(&s->cache, needed, 1);

	if (*slot == FSI_NONE) {
		*slot = 0;
		for (size_t i = 0; i < s->dirs_nr && !*slot; i++)
			if (found_in(s->an, s->dirs[i], fsi_str(&s->an->fsi, needed)))
				*slot = 1;
	}
	return (int)*slot;
}

/* Through the file's own RPATH/RUNPATH ($ORIGIN = its directory): the file
 * found, or FSI_NONE. */
static uint32_t search_paths(struct analysis *an, uint32_t file, const char *paths,
			     const char *needed)
{
	struct strbuf dir = STRBUF_INIT, origin = STRBUF_INIT, one = STRBUF_INIT;
	uint32_t found = FSI_NONE;

	fsi_path(&an->fsi, fsi_node(&an->fsi, file)->parent, &origin);
	for (const char *p = paths; p && *p && found == FSI_NONE;) {
		const char *end = strchrnul(p, ':');

		strbuf_reset(&one);
		strbuf_add(&one, p, (size_t)(end - p));
		strbuf_reset(&dir);
		for (const char *q = one.buf; *q;) {
			if (!strncmp(q, "$ORIGIN", 7)) {
				strbuf_addstr(&dir, origin.buf);
				q += 7;
			} else if (!strncmp(q, "${ORIGIN}", 9)) {
				strbuf_addstr(&dir, origin.buf);
				q += 9;
			} else if (!strncmp(q, "$LIB", 4) || !strncmp(q, "${LIB}", 6)) {
				strbuf_addstr(&dir, "lib64");
				q += q[1] == '{' ? 6 : 4;
			} else if (!strncmp(q, "$PLATFORM", 9) || !strncmp(q, "${PLATFORM}", 11)) {
				strbuf_addstr(&dir, "x86_64");
				q += q[1] == '{' ? 11 : 9;
			} else {
				strbuf_addch(&dir, *q++);
			}
		}
		if (dir.len) {
			uint32_t d = fsi_resolve(&an->fsi, FSI_ROOT, dir.buf, 1);

			if (d != FSI_NONE && fsi_node(&an->fsi, d)->type == FSI_DIR)
				found = file_in(an, d, needed);
		}
		p = *end ? end + 1 : end;
	}
	strbuf_release(&dir);
	strbuf_release(&origin);
	strbuf_release(&one);
	return found;
}

/*
 * A library without RUNPATH also searches the RPATH of the executable that
 * loads it (when that executable has no RUNPATH). The closure is checked per
 * file, not per process, so "loads it" is approximated: the executable's RPATH
 * finds the library itself, by its soname or its file name. This is the
 * bundled-libraries layout (bin/app with RPATH $ORIGIN/../lib, lib/liba.so
 * needing lib/libb.so with no RPATH of its own), which works at run time.
 */
static int inherited_rpath(struct search *s, uint32_t file, const struct elf_rec *er,
			   const char *needed)
{
	struct analysis *an = s->an;
	const char *self = er->soname ? fsi_str(&an->fsi, er->soname)
				      : fsi_str(&an->fsi, fsi_node(&an->fsi, file)->name);

	for (size_t i = 0; i < s->rpath_exes_nr; i++) {
		const struct elf_file *x = &s->rpath_exes[i];
		const char *rpath = fsi_str(&an->fsi, x->er->rpath);
		uint32_t f;

		if (x->node == file || (f = search_paths(an, x->node, rpath, self)) == FSI_NONE)
			continue;
		/* That very file, by name or as another hard link of it. */
		if ((f == file ||
		     fsi_node(&an->fsi, f)->inode == fsi_node(&an->fsi, file)->inode) &&
		    search_paths(an, x->node, rpath, needed) != FSI_NONE)
			return 1;
	}
	return 0;
}

static int resolvable(struct search *s, uint32_t file, const struct elf_rec *er, uint32_t needed,
		      int same_dir)
{
	struct analysis *an = s->an;
	const char *n = fsi_str(&an->fsi, needed);

	if (strchr(n, '/'))
		return found_in(an, fsi_node(&an->fsi, file)->parent, n);
	if (same_dir && found_in(an, fsi_node(&an->fsi, file)->parent, n))
		return 1;
	if (er->rpath && !er->runpath &&
	    search_paths(an, file, fsi_str(&an->fsi, er->rpath), n) != FSI_NONE)
		return 1;
	if (er->runpath && search_paths(an, file, fsi_str(&an->fsi, er->runpath), n) != FSI_NONE)
		return 1;
	if (search_default(s, needed))
		return 1;
	return !er->runpath && inherited_rpath(s, file, er, n);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *closure_json(struct analysis *an, struct tally *t, json_t *cfg, json_t *findings,
			    size_t *missing_nr)
{
	const struct knowledge *kb = an->opts->kb;
	struct search s = {an, NULL, 0, 0, {0}, NULL, 0};
	struct elf_file *rpath_exes = xcalloc(t->elves_nr + 1, sizeof(*rpath_exes));
	json_t *missing = json_array(), *driver = json_array(), *obj;
	struct u32map driver_seen, soname_at, missing_by_needed;
	const char *cuda = config_env(cfg, "CUDA_VERSION");
	char major[16] = "", minor[16] = "";
	uint64_t checked = 0;
	struct strbuf path = STRBUF_INIT;

	map_init(&s.cache);
	map_init(&driver_seen);
	map_init(&soname_at);
	map_init(&missing_by_needed);
	search_add_list(&s, config_env(cfg, "LD_LIBRARY_PATH"), ':');
	{
		const char *conf =
		    visible_text(an, fsi_lookup(&an->fsi, FSI_ROOT, "etc/ld.so.conf", 0));

		if (conf)
			search_add_ldconf(&s, conf, 0);
		else
			search_add_ldconf(&s, "include /etc/ld.so.conf.d/*.conf", 0);
	}
	search_add_list(
	    &s, "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64:/lib:/usr/lib",
	    ':');

	for (size_t i = 0; i < t->elves_nr; i++) {
		const struct elf_rec *er = t->elves[i].er;

		if (er->interp && er->rpath && !er->runpath)
			rpath_exes[s.rpath_exes_nr++] = t->elves[i];
	}
	s.rpath_exes = rpath_exes;
	for (size_t i = 0; i < t->elves_nr; i++)
		if (t->elves[i].er->soname) {
			uint32_t *slot = map_slot(&soname_at, t->elves[i].er->soname, 1);

			if (*slot == FSI_NONE)
				*slot = (uint32_t)i;
		}

	*missing_nr = 0;
#define ADD_MISSING(file, needed_str, via)                                                         \
	do {                                                                                       \
		(*missing_nr)++;                                                                   \
		if (json_array_size(missing) < AN_MISSING_CAP) {                                   \
			fsi_path(&an->fsi, file, &path);                                           \
			json_array_append_new(missing,                                             \
					      json_pack("{s:s,s:s,s:s}", "file", path.buf,         \
							"needed", needed_str, "via", via));        \
		}                                                                                  \
	} while (0)

	for (size_t i = 0; i < t->elves_nr; i++) {
		const struct elf_rec *er = t->elves[i].er;

		if (!er->needed_nr)
			continue;
		checked++;
		for (uint32_t k = 0; k < er->needed_nr; k++) {
			const char *n = fsi_str(&an->fsi, er->needed[k]);

			if (kb && any_glob(&kb->driver_sonames, n)) {
				uint32_t *slot = map_slot(&driver_seen, er->needed[k], 1);

				if (*slot == FSI_NONE) {
					*slot = 1;
					json_array_append_new(driver, json_string(n));
				}
				continue;
			}
			if (!resolvable(&s, t->elves[i].node, er, er->needed[k], 0)) {
				uint32_t *slot = map_slot(&missing_by_needed, er->needed[k], 1);

				if (*slot == FSI_NONE)
					*slot = 0;
				(*slot)++;
				ADD_MISSING(t->elves[i].node, n, "DT_NEEDED");
			}
		}
	}
	/* dlopen rules: a library that is there must find what it loads. */
	if (cuda) {
		int ma, mi, pa;

		if (kb_parse_version(cuda, &ma, &mi, &pa) == 0) {
			snprintf(major, sizeof(major), "%d", ma);
			snprintf(minor, sizeof(minor), "%d", mi);
		}
	}
	for (size_t r = 0; kb && r < kb->dlopen_nr; r++) {
		static const char *const keys[] = {"cuda_major", "cuda_minor"};
		const char *vals[] = {major, minor};
		char *so = kb_expand(kb->dlopen[r].soname, keys, vals, 2);
		uint32_t *slot;

		if (strchr(so, '{') || (strchr(kb->dlopen[r].soname, '{') && !*major) ||
		    !(slot = map_slot(&soname_at, intern_opt(an, so), 0))) {
			free(so);
			continue;
		}
		{
			const struct elf_file *lib = &t->elves[*slot];

			for (size_t l = 0; l < kb->dlopen[r].loads.nr; l++) {
				char *load = kb_expand(kb->dlopen[r].loads.items[l], keys, vals, 2);
				uint32_t lid = intern_opt(an, load);

				if (!resolvable(&s, lib->node, lib->er, lid, 1))
					ADD_MISSING(lib->node, load, "dlopen");
				free(load);
			}
		}
		free(so);
	}
#undef ADD_MISSING
	/* One finding per missing soname. */
	for (size_t i = 0; i < json_array_size(missing); i++) {
		json_t *m = json_array_get(missing, i);
		const char *needed = json_string_value(json_object_get(m, "needed"));
		uint32_t nid = intern_opt(an, needed);
		uint32_t *slot = map_slot(&missing_by_needed, nid, 1);
		char *msg;

		if (*slot == FSI_NONE - 1)
			continue; /* already reported */
		if (*slot == FSI_NONE || *slot <= 1)
			msg = xstrfmt("'%s' needed by '%s' is not in the image (%s)", needed,
				      json_string_value(json_object_get(m, "file")),
				      json_string_value(json_object_get(m, "via")));
		else
			msg = xstrfmt("'%s' needed by '%s' and %u more file(s) is not in the image",
				      needed, json_string_value(json_object_get(m, "file")),
				      *slot - 1);
		*slot = FSI_NONE - 1;
		json_array_append_new(findings,
				      json_pack("{s:s,s:s,s:s,s:O,s:n}", "rule", "missing-library",
						"severity", "error", "message", msg, "path",
						json_object_get(m, "file"), "bytes"));
		free(msg);
	}
	{
		size_t n = json_array_size(driver);
		const char **names = xmalloc((n + 1) * sizeof(*names));
		json_t *sorted = json_array();

		for (size_t i = 0; i < n; i++)
			names[i] = json_string_value(json_array_get(driver, i));
		qsort(names, n, sizeof(*names), cmp_str);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(sorted, json_string(names[i]));
		free(names);
		json_decref(driver);
		driver = sorted;
	}
	obj = json_pack("{s:I,s:o,s:o,s:O,s:O}", "checked_files", (json_int_t)checked, "missing",
			missing, "driver_expected", driver, "driver_in_image", t->driver_in_image,
			"dangling_interpreters", t->dangling);
	map_release(&s.cache);
	free(rpath_exes);
	map_release(&driver_seen);
	map_release(&soname_at);
	map_release(&missing_by_needed);
	free(s.dirs);
	strbuf_release(&path);
	return obj;
}

/* ---- duplicates ---- */

struct dup_rec {
	const char *soname;
	const char *version; /* NULL when the names carry none */
	uint32_t node, inode;
	uint64_t size;
};

static int cmp_dup(const void *a, const void *b)
{
	const struct dup_rec *x = a, *y = b;
	int c = strcmp(x->soname, y->soname);

	if (c)
		return c;
	if (!x->version || !y->version)
		return !x->version - !y->version;
	return strcmp(x->version, y->version);
}

/* "12" and "12.4.5.8" name the same library; "12.4" and "12.6" do not. */
static int versions_agree(const char *a, const char *b)
{
	size_t la, lb;

	if (!a || !b)
		return 1;
	la = strlen(a);
	lb = strlen(b);
	if (la > lb)
		return !strncmp(a, b, lb) && a[lb] == '.';
	if (lb > la)
		return !strncmp(a, b, la) && b[la] == '.';
	return !strcmp(a, b);
}

/*
 * One soname at versions that disagree ("12.4.5.8" in the base's lib64,
 * "12.6.4.1" in a conda or pip tree): two CUDAs all the same, of which a
 * process loads one by that soname. A warning, as a different version may be
 * wanted; its bytes are one copy per version group beyond the largest, so the
 * error findings of each group's own copies are not counted twice.
 */
struct dup_versions {
	const char *soname;
	size_t groups;
	uint64_t sum, max;
	struct strbuf where;
	char *first_path;
};

static void dup_versions_begin(struct dup_versions *dv, const struct dup_rec *recs, size_t nr,
			       size_t i, size_t *soname_end)
{
	size_t e = i;

	while (e < nr && !strcmp(recs[e].soname, recs[i].soname))
		e++;
	*soname_end = e;
	dv->soname = recs[i].soname;
	dv->groups = 0;
	dv->sum = dv->max = 0;
	strbuf_reset(&dv->where);
	free(dv->first_path);
	dv->first_path = NULL;
}

static void dup_versions_add(struct dup_versions *dv, struct analysis *an,
			     const struct dup_rec *first, const char *version, uint64_t max)
{
	struct strbuf p = STRBUF_INIT;

	fsi_path(&an->fsi, first->node, &p);
	if (!dv->groups)
		dv->first_path = xstrdup(p.buf);
	if (dv->groups < 3)
		strbuf_addf(&dv->where, "%s%s at %s", dv->groups ? ", " : "",
			    version ? version : "unversioned", p.buf);
	else if (dv->groups == 3)
		strbuf_addstr(&dv->where, ", ...");
	dv->groups++;
	dv->sum += max;
	if (max > dv->max)
		dv->max = max;
	strbuf_release(&p);
}

static void dup_versions_end(struct dup_versions *dv, json_t *findings)
{
	char *msg;

	if (dv->groups < 2)
		return;
	msg =
	    xstrfmt("'%s' is in the image at %zu versions (%s): %llu bytes in the versions "
		    "beyond one",
		    dv->soname, dv->groups, dv->where.buf, (unsigned long long)(dv->sum - dv->max));
	json_array_append_new(findings,
			      json_pack("{s:s,s:s,s:s,s:s,s:I}", "rule", "duplicate-library",
					"severity", "warn", "message", msg, "path", dv->first_path,
					"bytes", (json_int_t)(dv->sum - dv->max)));
	free(msg);
}

static json_t *duplicates_json(struct analysis *an, struct tally *t, json_t *findings)
{
	struct dup_rec *recs = xcalloc(t->elves_nr + 1, sizeof(*recs));
	struct dup_versions dv = {NULL, 0, 0, 0, STRBUF_INIT, NULL};
	size_t nr = 0, soname_end = 0;
	json_t *arr = json_array();
	struct strbuf path = STRBUF_INIT;

	for (size_t i = 0; i < t->elves_nr; i++) {
		const struct elf_rec *er = t->elves[i].er;
		struct fsi_node *nd = fsi_node(&an->fsi, t->elves[i].node);
		const char *b = fsi_str(&an->fsi, nd->name), *full, *v;
		const char *so = er->soname ? fsi_str(&an->fsi, er->soname) : NULL;

		if (er->type != 3)
			continue;
		/* Link-time stubs (CUDA's lib64/stubs) are no copy of a library. */
		if (!strcmp(fsi_str(&an->fsi, fsi_node(&an->fsi, nd->parent)->name), "stubs"))
			continue;
		if (!so) {
			/* Without a SONAME only a versioned library name counts: plugin
			 * modules (perl's auto/.../Util.so) share base names freely. */
			if (!starts_with(b, "lib") || !strstr(b, ".so."))
				continue;
			so = b;
		}
		full = starts_with(b, so) ? b : so;
		v = strstr(full, ".so.");
		recs[nr++] = (struct dup_rec){so, v ? v + 4 : NULL, t->elves[i].node, nd->inode,
					      an->inodes[nd->inode].size};
	}
	qsort(recs, nr, sizeof(*recs), cmp_dup);
	for (size_t i = 0; i < nr;) {
		size_t j = i + 1;
		const char *version = recs[i].version;
		uint64_t sum = recs[i].size, max = recs[i].size;
		size_t distinct = 1;

		if (i == soname_end) /* a new soname: its version groups follow */
			dup_versions_begin(&dv, recs, nr, i, &soname_end);
		while (j < soname_end && versions_agree(version, recs[j].version)) {
			int same = 0;

			for (size_t k = i; k < j; k++)
				if (recs[k].inode == recs[j].inode)
					same = 1;
			if (recs[j].version &&
			    (!version || strlen(recs[j].version) > strlen(version)))
				version = recs[j].version;
			if (!same) {
				distinct++;
				sum += recs[j].size;
				if (recs[j].size > max)
					max = recs[j].size;
			} else {
				recs[j].inode = FSI_NONE; /* mark: another name of one file */
			}
			j++;
		}
		if (distinct > 1) {
			json_t *paths = json_array(), *copies = json_array();
			char *msg;

			for (size_t k = i; k < j; k++) {
				if (recs[k].inode == FSI_NONE)
					continue;
				fsi_path(&an->fsi, recs[k].node, &path);
				json_array_append_new(paths, json_string(path.buf));
				json_array_append_new(copies,
						      json_pack("{s:s,s:I}", "path", path.buf,
								"bytes", (json_int_t)recs[k].size));
			}
			msg =
			    xstrfmt("'%s'%s%s is in the image %zu times (%s, %s%s): %llu bytes in "
				    "extra copies",
				    recs[i].soname, version ? " " : "", version ? version : "",
				    distinct, json_string_value(json_array_get(paths, 0)),
				    json_string_value(json_array_get(paths, 1)),
				    distinct > 2 ? ", ..." : "", (unsigned long long)(sum - max));
			json_array_append_new(findings, json_pack("{s:s,s:s,s:s,s:O,s:I}", "rule",
								  "duplicate-library", "severity",
								  "error", "message", msg, "path",
								  json_array_get(paths, 1), "bytes",
								  (json_int_t)(sum - max)));
			free(msg);
			json_array_append_new(
			    arr, json_pack("{s:s,s:o,s:o,s:o,s:I}", "soname", recs[i].soname,
					   "version", jstr(version), "paths", paths, "copies",
					   copies, "bytes", (json_int_t)(sum - max)));
		}
		dup_versions_add(&dv, an, &recs[i], version, max);
		if (j == soname_end)
			dup_versions_end(&dv, findings);
		i = j;
	}
	free(recs);
	strbuf_release(&path);
	strbuf_release(&dv.where);
	free(dv.first_path);
	return arr;
}

/* ---- config ---- */

static int is_root_user(const char *u)
{
	if (!u || !*u)
		return 1;
	return !strcmp(u, "0") || !strcmp(u, "root") || starts_with(u, "0:") ||
	       starts_with(u, "root:");
}

static json_t *config_json(struct analysis *an, json_t *cfg, json_t *findings)
{
	static const char *const env_keys[] = {"NVIDIA_VISIBLE_DEVICES",
					       "NVIDIA_DRIVER_CAPABILITIES",
					       "NVIDIA_REQUIRE_CUDA",
					       "LD_LIBRARY_PATH",
					       "PATH",
					       "CUDA_VERSION",
					       NULL};
	json_t *user = cfg ? json_object_get(cfg, "User") : NULL;
	json_t *ep = cfg ? json_object_get(cfg, "Entrypoint") : NULL;
	json_t *cmd = cfg ? json_object_get(cfg, "Cmd") : NULL;
	json_t *wd = cfg ? json_object_get(cfg, "WorkingDir") : NULL;
	const char *u = json_string_value(user), *w = json_string_value(wd), *c0 = NULL;
	json_t *env = json_object(), *obj, *command = json_null(), *exists = json_null();
	int root = is_root_user(u);

	for (size_t i = 0; env_keys[i]; i++)
		json_object_set_new(env, env_keys[i], jstr(config_env(cfg, env_keys[i])));
	if (json_is_array(ep) && json_array_size(ep))
		c0 = json_string_value(json_array_get(ep, 0));
	else if (json_is_array(cmd) && json_array_size(cmd))
		c0 = json_string_value(json_array_get(cmd, 0));
	if (c0 && *c0) {
		uint32_t wdir = FSI_ROOT, found = FSI_NONE;
		struct strbuf sb = STRBUF_INIT;

		if (w && *w) {
			wdir = fsi_resolve(&an->fsi, FSI_ROOT, w, 1);
			if (wdir == FSI_NONE)
				wdir = FSI_ROOT;
		}
		if (strchr(c0, '/')) {
			found = fsi_resolve(&an->fsi, wdir, c0, 1);
			if (found != FSI_NONE)
				fsi_path(&an->fsi, fsi_resolve(&an->fsi, wdir, c0, 0), &sb);
		} else {
			const char *path = config_env(cfg, "PATH");

			if (!path)
				path =
				    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
			for (const char *p = path; *p && found == FSI_NONE;) {
				const char *end = strchrnul(p, ':');
				struct strbuf one = STRBUF_INIT;
				uint32_t d;

				strbuf_add(&one, p, (size_t)(end - p));
				d = fsi_resolve(&an->fsi, wdir, one.len ? one.buf : ".", 1);
				if (d != FSI_NONE && fsi_node(&an->fsi, d)->type == FSI_DIR) {
					found = fsi_resolve(&an->fsi, d, c0, 1);
					if (found != FSI_NONE &&
					    fsi_node(&an->fsi, found)->type == FSI_DIR)
						found = FSI_NONE;
					if (found != FSI_NONE)
						fsi_path(&an->fsi, fsi_resolve(&an->fsi, d, c0, 0),
							 &sb);
				}
				strbuf_release(&one);
				p = *end ? end + 1 : end;
			}
		}
		if (found != FSI_NONE && fsi_node(&an->fsi, found)->type == FSI_DIR)
			found = FSI_NONE;
		command = found != FSI_NONE ? json_string(sb.buf) : json_null();
		exists = json_boolean(found != FSI_NONE);
		if (found == FSI_NONE) {
			char *msg = xstrfmt("the image's command '%s' is not in the image", c0);

			json_array_append_new(findings,
					      json_pack("{s:s,s:s,s:s,s:s,s:n}", "rule",
							"missing-command", "severity", "error",
							"message", msg, "path", c0, "bytes"));
			free(msg);
		}
		strbuf_release(&sb);
	}
	if (root)
		json_array_append_new(findings,
				      json_pack("{s:s,s:s,s:s,s:n,s:n}", "rule", "root-user",
						"severity", "warn", "message",
						u && *u ? "the image runs as root (USER is root)"
							: "the image runs as root (no USER)",
						"path", "bytes"));
	{
		const char *vis = config_env(cfg, "NVIDIA_VISIBLE_DEVICES");
		const char *caps = config_env(cfg, "NVIDIA_DRIVER_CAPABILITIES");

		if (!caps || !strcmp(caps, "all")) {
			char *msg =
			    xstrfmt("NVIDIA_DRIVER_CAPABILITIES is %s: name what the app needs "
				    "(compute,utility)",
				    caps ? "\"all\"" : "unset");

			json_array_append_new(findings, json_pack("{s:s,s:s,s:s,s:n,s:n}", "rule",
								  "nvidia-env", "severity", "warn",
								  "message", msg, "path", "bytes"));
			free(msg);
		}
		if (!vis)
			json_array_append_new(
			    findings,
			    json_pack("{s:s,s:s,s:s,s:n,s:n}", "rule", "nvidia-env", "severity",
				      "warn", "message",
				      "NVIDIA_VISIBLE_DEVICES is unset: the NVIDIA runtime "
				      "will not expose GPUs",
				      "path", "bytes"));
	}
	obj = json_pack("{s:o,s:b,s:o,s:o,s:o,s:o,s:o,s:o}", "user", jstr(u), "root", root,
			"entrypoint", json_is_array(ep) ? json_deep_copy(ep) : json_null(), "cmd",
			json_is_array(cmd) ? json_deep_copy(cmd) : json_null(), "workdir",
			jstr(w && *w ? w : NULL), "env", env, "command", command, "command_exists",
			exists);
	return obj;
}

/* created_by per layer from the config's history, empty layers skipped. */
static void history_created_by(struct analysis *an, const struct image_meta *meta)
{
	json_t *hist = meta && meta->config ? json_object_get(meta->config, "history") : NULL;
	size_t i, layer = 0;
	json_t *h;

	json_array_foreach(hist, i, h)
	{
		const char *cb = json_string_value(json_object_get(h, "created_by"));

		if (json_is_true(json_object_get(h, "empty_layer")))
			continue;
		if (layer < an->order_nr && an->order[layer] && cb) {
			free(an->order[layer]->created_by);
			an->order[layer]->created_by = xstrdup(cb);
		}
		layer++;
	}
}

static void add_finding(json_t *findings, const char *rule, const char *sev, const char *msg,
			const char *path, json_t *bytes)
{
	json_array_append_new(findings, json_pack("{s:s,s:s,s:s,s:o,s:o}", "rule", rule, "severity",
						  sev, "message", msg, "path", jstr(path), "bytes",
						  bytes ? bytes : json_null()));
}

static int cmp_waste(const void *a, const void *b)
{
	const struct waste *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

int analysis_report(struct analysis *an, const struct image_meta *meta, json_t **report)
{
	const struct analyze_opts *o = an->opts;
	const struct knowledge *kb = o->kb;
	struct tally t;
	json_t *root = NULL, *findings = json_array(), *layers = json_array(),
	       *wasted = json_array();
	json_t *cfg, *image, *summary;
	uint64_t size = 0, comp_size = 0, base_bytes = 0;
	int comp_known = 1, ret = 0;
	size_t base_layers = 0, missing_nr = 0;
	const char *matched_by = "none";
	const char *base_name = o->base_name;
	const struct vec *base_ids = o->base_diff_ids;
	const char *base_by = o->base_matched_by ? o->base_matched_by : "digest";
	struct vec resolved = VEC_INIT(free);
	struct strbuf path = STRBUF_INIT;

	memset(&t, 0, sizeof(t));
	*report = NULL;
	if (!meta)
		meta = an->meta;
	/* Facts final only at the end of the walk (diff_id, digests, sizes):
	 * the layer structs live until image_close(). */
	for (size_t i = 0; i < an->layers.nr; i++) {
		struct layer_rec *lr = an->layers.items[i];

		copy_layer_facts(lr, lr->layer);
	}
	if ((ret = order_layers(an, meta)) < 0)
		goto done;
	history_created_by(an, meta);
	cfg = config_obj(meta);

	if (!base_name && cfg) {
		json_t *labels = json_object_get(cfg, "Labels");

		base_name = json_string_value(
		    json_object_get(labels, "org.opencontainers.image.base.name"));
	}
	/* The base named by the label, resolved now that the config is known. */
	if (!base_ids && !o->base_name && base_name && *base_name && o->resolve_base) {
		if (o->resolve_base(o->resolve_base_ctx, base_name, &resolved) == 0 &&
		    resolved.nr) {
			base_ids = &resolved;
			base_by = "label";
		}
		error_clear();
	}
	/* The base: every layer of the FROM image, matched by diff_id. */
	if (base_ids && base_ids->nr && base_ids->nr <= an->order_nr) {
		size_t k;

		for (k = 0; k < base_ids->nr; k++) {
			const char *mine = an->order[k] && an->order[k]->diff_id
					       ? an->order[k]->diff_id
					   : meta && k < meta->diff_ids.nr ? meta->diff_ids.items[k]
									   : NULL;

			if (!mine || !prefix_match(mine, base_ids->items[k]))
				break;
		}
		if (k == base_ids->nr) {
			base_layers = k;
			matched_by = base_by;
		}
	}

	/* Replay bottom up. */
	an->heap_cap = o->top ? o->top : 50;
	an->heap = xcalloc(an->heap_cap, sizeof(*an->heap));
	for (size_t l = 0; l < an->order_nr; l++) {
		struct layer_rec *lr = an->order[l];

		for (size_t i = 0; lr && i < lr->nr; i++)
			replay_event(an, &lr->evs[i], (uint16_t)l);
	}

	/* The final tree. */
	t.tools = json_array();
	t.driver_in_image = json_array();
	t.dangling = json_array();
	t.comp_bytes = xcalloc(kb ? kb->components_nr + 1 : 1, sizeof(uint64_t));
	t.comp_files = xcalloc(kb ? kb->components_nr + 1 : 1, sizeof(uint64_t));
	map_init(&t.te_dirs);
	paths_init(&t, o->paths);
	walk_tree(an, &t);

	/* layers + summary */
	for (size_t l = 0; l < an->order_nr; l++) {
		struct layer_rec *lr = an->order[l];
		const char *diff = lr && lr->diff_id		   ? lr->diff_id
				   : meta && l < meta->diff_ids.nr ? meta->diff_ids.items[l]
								   : NULL;
		const char *cb = lr ? lr->created_by : NULL;

		if (!cb && meta && l < meta->created_by.nr && *(char *)meta->created_by.items[l])
			cb = meta->created_by.items[l];
		size += lr ? lr->files_bytes : 0;
		if (lr && lr->compressed_size)
			comp_size += lr->compressed_size;
		else
			comp_known = 0;
		if (l < base_layers)
			base_bytes += lr ? lr->files_bytes : 0;
		json_array_append_new(
		    layers,
		    json_pack("{s:I,s:o,s:o,s:o,s:o,s:I,s:o,s:I,s:b,s:I}", "index", (json_int_t)l,
			      "diff_id", jstr(diff), "blob_digest",
			      jstr(lr ? lr->blob_digest : NULL), "media_type",
			      jstr(lr ? lr->media_type : NULL), "created_by", jstr(cb), "size",
			      (json_int_t)(lr ? lr->files_bytes : 0), "compressed_size",
			      lr && lr->compressed_size ? jint(lr->compressed_size) : json_null(),
			      "files", (json_int_t)(lr ? lr->files : 0), "base", l < base_layers,
			      "wasted_bytes", (json_int_t)(lr ? lr->wasted : 0)));
	}
	qsort(an->heap, an->heap_nr, sizeof(*an->heap), cmp_waste);
	for (size_t i = 0; i < an->heap_nr; i++) {
		fsi_path(&an->fsi, an->heap[i].node, &path);
		json_array_append_new(wasted,
				      json_pack("{s:s,s:I,s:I,s:I,s:s}", "path", path.buf, "bytes",
						(json_int_t)an->heap[i].bytes, "layer",
						(json_int_t)an->heap[i].layer, "by_layer",
						(json_int_t)an->heap[i].by_layer, "reason",
						an->heap[i].deleted ? "deleted" : "overwritten"));
	}

	image = json_pack("{s:o,s:o,s:o,s:o,s:o}", "name", jstr(meta ? meta->name : NULL), "source",
			  json_null(), "id", jstr(meta ? meta->id : NULL), "manifest_digest",
			  jstr(meta ? meta->manifest_digest : NULL), "repo_tags", json_array());
	if (meta) {
		static const char *const sources[] = {NULL, "engine", "registry", "archive", "oci"};

		if (meta->source > IMAGE_SOURCE_AUTO && meta->source <= IMAGE_SOURCE_OCI)
			json_object_set_new(image, "source", json_string(sources[meta->source]));
		for (size_t i = 0; i < meta->repo_tags.nr; i++)
			json_array_append_new(json_object_get(image, "repo_tags"),
					      json_string(meta->repo_tags.items[i]));
	}

	root = json_object();
	json_object_set_new(root, "schema_version", json_integer(1));
	json_object_set_new(root, "tool", json_string(AN_TOOL));
	json_object_set_new(root, "image", image);
	summary = json_object();
	json_object_set_new(root, "summary", summary);
	json_object_set_new(root, "layers", layers);
	json_object_set_new(root, "wasted", wasted);
	layers = wasted = NULL;
	json_object_set_new(root, "packages", packages_json(an, &t));
	json_object_set_new(root, "paths", paths_json(&t));

	json_object_set_new(summary, "size", jint(size));
	json_object_set_new(summary, "compressed_size",
			    comp_known && an->order_nr ? jint(comp_size) : json_null());
	json_object_set_new(summary, "layers", jint(an->order_nr));
	json_object_set_new(summary, "files", jint(t.files));
	json_object_set_new(summary, "visible_bytes", jint(t.visible_bytes));
	json_object_set_new(summary, "base",
			    json_pack("{s:o,s:I,s:s}", "name", jstr(base_name), "layers",
				      (json_int_t)base_layers, "matched_by", matched_by));
	json_object_set_new(summary, "base_bytes", jint(base_bytes));
	json_object_set_new(summary, "own_bytes", jint(size - base_bytes));
	json_object_set_new(summary, "wasted_bytes", jint(an->wasted_total));
	json_object_set_new(summary, "unowned_bytes", jint(t.unowned));

	/* cuda */
	{
		json_t *comps = json_array();

		for (size_t i = 0; kb && i < kb->components_nr; i++)
			if (t.comp_files[i])
				json_array_append_new(
				    comps,
				    json_pack("{s:s,s:I,s:I}", "name", kb->components[i].name,
					      "bytes", (json_int_t)t.comp_bytes[i], "files",
					      (json_int_t)t.comp_files[i]));
		json_object_set_new(root, "cuda",
				    json_pack("{s:o,s:o}", "components", comps, "duplicates",
					      duplicates_json(an, &t, findings)));
	}
	json_object_set_new(root, "elf",
			    json_pack("{s:I,s:I,s:I,s:I}", "files", (json_int_t)t.elf_files,
				      "bytes", (json_int_t)t.elf_bytes, "unstripped_files",
				      (json_int_t)t.unstripped_files, "unstripped_bytes",
				      (json_int_t)t.unstripped_bytes));
	json_object_set_new(root, "closure", closure_json(an, &t, cfg, findings, &missing_nr));
	json_object_set_new(root, "config", config_json(an, cfg, findings));

	/* devel, caches, tests */
	json_object_set_new(root, "devel",
			    json_pack("{s:O,s:{s:I,s:I},s:{s:I,s:I}}", "tools", t.tools, "headers",
				      "files", (json_int_t)t.headers, "bytes",
				      (json_int_t)t.headers_bytes, "static_libs", "files",
				      (json_int_t)t.statics, "bytes", (json_int_t)t.statics_bytes));
	{
		json_t *caches = json_array();

		for (int k = 0; k < 5; k++)
			if (t.cache_files[k]) {
				char *msg =
				    xstrfmt("%s: %llu files, %llu bytes in the image",
					    cache_kinds[k], (unsigned long long)t.cache_files[k],
					    (unsigned long long)t.cache_bytes[k]);

				json_array_append_new(
				    caches, json_pack("{s:s,s:I,s:I}", "kind", cache_kinds[k],
						      "bytes", (json_int_t)t.cache_bytes[k],
						      "files", (json_int_t)t.cache_files[k]));
				add_finding(findings, "caches", "warn", msg, NULL,
					    jint(t.cache_bytes[k]));
				free(msg);
			}
		json_object_set_new(root, "caches", caches);
	}
	{
		json_t *dirs = json_array();
		size_t top = o->top ? o->top : 50;

		/* Biggest directories first (selection; the list is short). */
		for (size_t n = 0; n < top && n < t.te_dirs_nr; n++) {
			size_t best = n;

			for (size_t k = n + 1; k < t.te_dirs_nr; k++)
				if (t.te_dir_bytes[k] > t.te_dir_bytes[best])
					best = k;
			uint64_t bb = t.te_dir_bytes[best];
			uint32_t bn = t.te_dir_nodes[best];
			t.te_dir_bytes[best] = t.te_dir_bytes[n];
			t.te_dir_nodes[best] = t.te_dir_nodes[n];
			t.te_dir_bytes[n] = bb;
			t.te_dir_nodes[n] = bn;
			fsi_path(&an->fsi, bn, &path);
			json_array_append_new(dirs, json_string(path.buf));
		}
		json_object_set_new(root, "tests_examples",
				    json_pack("{s:I,s:I,s:o}", "files", (json_int_t)t.te_files,
					      "bytes", (json_int_t)t.te_bytes, "dirs", dirs));
		if (t.te_files) {
			char *msg =
			    xstrfmt("tests/examples directories in site-packages: %llu files, "
				    "%llu bytes (%u directories)",
				    (unsigned long long)t.te_files, (unsigned long long)t.te_bytes,
				    t.te_dirs_nr);

			add_finding(findings, "tests-examples", "warn", msg,
				    json_string_value(json_array_get(dirs, 0)), jint(t.te_bytes));
			free(msg);
		}
	}

	/* The remaining findings. */
	if (json_array_size(t.tools)) {
		json_t *first = json_array_get(t.tools, 0);
		char *msg = xstrfmt("a devel toolchain is in the image: %zu compiler/linker "
				    "binaries (%s...), %llu bytes",
				    json_array_size(t.tools),
				    json_string_value(json_object_get(first, "path")),
				    (unsigned long long)t.devel_tool_bytes);

		add_finding(findings, "devel-toolchain", "error", msg,
			    json_string_value(json_object_get(first, "path")),
			    jint(t.devel_tool_bytes));
		free(msg);
	}
	if (t.headers) {
		int many =
		    t.headers > AN_HEADERS_INFO_FILES || t.headers_bytes > AN_HEADERS_INFO_BYTES;
		char *msg;

		fsi_path(&an->fsi, t.first_header, &path);
		msg = xstrfmt("%llu header files under include/ (%llu bytes)",
			      (unsigned long long)t.headers, (unsigned long long)t.headers_bytes);
		add_finding(findings, "devel-toolchain", many ? "error" : "info", msg, path.buf,
			    jint(t.headers_bytes));
		free(msg);
	}
	if (t.statics) {
		char *msg;

		fsi_path(&an->fsi, t.first_static, &path);
		msg = xstrfmt("%llu static libraries (*.a, %llu bytes)",
			      (unsigned long long)t.statics, (unsigned long long)t.statics_bytes);
		add_finding(findings, "devel-toolchain",
			    t.statics_bytes > AN_STATIC_INFO_BYTES ? "error" : "info", msg,
			    path.buf, jint(t.statics_bytes));
		free(msg);
	}
	for (size_t i = 0; i < json_array_size(t.driver_in_image); i++) {
		json_t *d = json_array_get(t.driver_in_image, i);
		const char *p = json_string_value(json_object_get(d, "path"));
		char *msg =
		    xstrfmt("driver library '%s' is inside the image: it must come from the "
			    "host's driver",
			    p);

		add_finding(findings, "driver-in-image", "error", msg, p,
			    json_deep_copy(json_object_get(d, "bytes")));
		free(msg);
	}
	for (size_t i = 0; i < json_array_size(t.dangling); i++) {
		json_t *d = json_array_get(t.dangling, i);
		const char *p = json_string_value(json_object_get(d, "path"));
		char *msg =
		    xstrfmt("'%s' points to the interpreter '%s', which is not in the image", p,
			    json_string_value(json_object_get(d, "target")));

		add_finding(findings, "dangling-interpreter", "error", msg, p, NULL);
		free(msg);
	}
	if (t.unstripped_files) {
		char *msg;

		fsi_path(&an->fsi, t.first_unstripped, &path);
		msg = xstrfmt("%llu ELF files carry symbols or debug info (%llu bytes)",
			      (unsigned long long)t.unstripped_files,
			      (unsigned long long)t.unstripped_bytes);
		add_finding(findings, "unstripped-elf", "warn", msg, path.buf,
			    jint(t.unstripped_bytes));
		free(msg);
	}
	json_object_set_new(root, "findings", findings);
	findings = NULL;
	(void)missing_nr;
	*report = root;
	root = NULL;
done:
	json_decref(root);
	json_decref(findings);
	json_decref(layers);
	json_decref(wasted);
	json_decref(t.tools);
	json_decref(t.driver_in_image);
	json_decref(t.dangling);
	free(t.comp_bytes);
	free(t.comp_files);
	free(t.elves);
	free(t.te_dir_bytes);
	free(t.te_dir_nodes);
	if (t.te_dirs.keys)
		map_release(&t.te_dirs);
	paths_release(&t);
	vec_release(&resolved);
	strbuf_release(&path);
	return ret;
}

int analyze_image(struct image *img, const struct analyze_opts *opts, json_t **report)
{
	struct analysis *an = analysis_new(opts, image_read);
	struct image_visitor v;
	int ret;

	*report = NULL;
	analysis_visitor(an, &v);
	if ((ret = image_walk(img, &v)) == 0)
		ret = analysis_report(an, image_get_meta(img), report);
	analysis_free(an);
	return ret;
}
