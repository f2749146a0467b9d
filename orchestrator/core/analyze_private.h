#ifndef GS_ANALYZE_PRIVATE_H
#define GS_ANALYZE_PRIVATE_H

#include "core/analyze.h"

/*
 * The analyzer apart from the image reader, for analyze_image() and for
 * unit tests that drive the visitor with synthetic layers: create it, hand
 * its visitor to image_walk() (or call the callbacks directly), then build
 * the report. The analysis owns everything it keeps; `opts` (and what it
 * points to) must outlive it.
 */

struct analysis;
typedef long (*analysis_read_fn)(struct image_reader *rd, void *buf, size_t len);

struct analysis *analysis_new(const struct analyze_opts *opts, analysis_read_fn read);
void analysis_free(struct analysis *an);
/* The visitor whose ctx is `an`. */
void analysis_visitor(struct analysis *an, struct image_visitor *v);
/* Replay the layers bottom up and build the report. `meta` may be NULL
 * when the meta callback already gave it. The image_layer structs the
 * callbacks got must still be alive (their final facts are read here). */
int analysis_report(struct analysis *an, const struct image_meta *meta, json_t **report);

/*
 * The analyzer's insides, shared by its files: analyze.c (the visitor that
 * collects, and the report), analyze_replay.c (the layers bottom up),
 * analyze_tree.c (the walk over the final tree), analyze_packages.c,
 * analyze_closure.c (ld.so's search), analyze_duplicates.c and
 * analyze_config.c.
 */

#include <fnmatch.h>
#include <stdint.h>
#include <string.h>

#include "core/elf.h"
#include "core/fsindex.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/utf8.h"

enum ev_type { EV_FILE, EV_DIR, EV_SYMLINK, EV_HARDLINK, EV_OTHER, EV_WHITEOUT, EV_OPAQUE };
/* C_LDCACHE: the library paths /etc/ld.so.cache lists, one a line;
 * C_SHEBANG: an executable script's "#!" line, less the "#!". Both in
 * u.text. */
enum content_kind { C_ELF = 1, C_DPKG_STATUS, C_DPKG_LIST, C_RECORD, C_TEXT, C_LDCACHE, C_SHEBANG };

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
	const char *unchecked; /* elf_info.unchecked: why its DT_NEEDED list is not whole */
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
	/* The sizemap's (opts->sizemap): each path's package (index + 1 in
	 * pkg_list, 0: none), kept from an_packages_json() */
	uint32_t *pkg_owner;
	struct pkg *pkg_list;
	size_t pkg_list_nr;
	/* The first function whose JSON could not be built or placed (see
	 * AN_PUSH); NULL while every part is in. */
	const char *json_failed;
};

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
	uint64_t *cache_bytes, *cache_files; /* per kb->analysis.caches */
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

/* ---- small helpers ------------------------------------------------------ */

static inline void map_init(struct u32map *m)
{
	m->n = 256;
	m->nr = 0;
	m->keys = xmalloc(m->n * sizeof(uint32_t));
	m->vals = xmalloc(m->n * sizeof(uint32_t));
	memset(m->keys, 0xff, m->n * sizeof(uint32_t));
}

static inline void map_release(struct u32map *m)
{
	free(m->keys);
	free(m->vals);
}

static inline uint32_t *map_slot(struct u32map *m, uint32_t key, int create);

static inline void map_grow(struct u32map *m)
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
static inline uint32_t *map_slot(struct u32map *m, uint32_t key, int create)
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

static inline const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* A string of the report (escaped: util/utf8.h), NULL as null. */
static inline json_t *jstr(const char *s)
{
	return s ? utf8_json_string(s) : json_null();
}

static inline json_t *jint(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static inline int glob_match(const char *pattern, const char *name)
{
	return !fnmatch(pattern, name, 0);
}

static inline int any_glob(const struct vec *globs, const char *name)
{
	for (size_t i = 0; globs && i < globs->nr; i++)
		if (glob_match(globs->items[i], name))
			return 1;
	return 0;
}

/* analyze.c */
/*
 * Building the report. A string of the report goes through jstr(): what
 * the image holds need not be UTF-8, and a byte that is not
 * is written as \xNN (util/utf8.h), never refused. A value that could not
 * be made (NULL) or put in its place is remembered in an->json_failed and
 * fails analysis_report(): a finding is never dropped in silence. Each
 * steals the reference to `v`, as json_array_append_new() does.
 */
json_t *an_json_ok(struct analysis *an, json_t *v, const char *where);
void an_json_push(struct analysis *an, json_t *arr, json_t *v, const char *where);
void an_json_set(struct analysis *an, json_t *obj, const char *key, json_t *v, const char *where);
#define AN_OK(an, v)		an_json_ok(an, v, __func__)
#define AN_PUSH(an, arr, v)	an_json_push(an, arr, v, __func__)
#define AN_SET(an, obj, key, v) an_json_set(an, obj, key, v, __func__)
/* One finding: `path` NULL is null, `bytes` (stolen) NULL is null. */
void an_finding(struct analysis *an, json_t *findings, const char *rule, const char *severity,
		const char *msg, const char *path, json_t *bytes);
/* Lexically normalized "base/rel" ("." and ".." folded), no leading '/'. */
void an_join_normalized(struct strbuf *out, const char *base, const char *rel, size_t len);
uint32_t an_intern_opt(struct analysis *an, const char *s);

/* analyze_replay.c */
/* An EV_FILE's inode goes to its ev->aux (the sizemap tells a copy that
 * stays visible from one a later layer replaced by it). */
void an_replay_event(struct analysis *an, struct ev *ev, uint16_t layer);

/* analyze_tree.c */
/* Depth-first over the visible tree, the path kept in one buffer. */
void an_walk_tree(struct analysis *an, struct tally *t);
/* One slot per key, in the given order, a repeated key once. */
void an_paths_init(struct tally *t, const struct vec *keys);
void an_paths_release(struct tally *t);
json_t *an_paths_json(struct analysis *an, const struct tally *t);

/* The component of a file name (kb->components): its index, or -1. */
int an_component_of(const struct knowledge *kb, const char *b);

/* analyze_sizemap.c */
/* The "sizemap" of the report (analyze.h): every layer's bytes as a tree of
 * directories and files, small ones folded; after the replay, the walk and
 * an_packages_json(). `base_layers`: the layers of the FROM image. */
json_t *an_sizemap_json(struct analysis *an, size_t base_layers, uint64_t size);

/* analyze_packages.c */
json_t *an_packages_json(struct analysis *an, struct tally *t);

/* analyze_closure.c */
json_t *an_closure_json(struct analysis *an, struct tally *t, json_t *cfg, json_t *findings,
			size_t *missing_nr);

/* ld.so.conf's directories (and its includes') that exist, resolved, in
 * order: newly allocated, *nr set. */
uint32_t *an_ldconf_dirs(struct analysis *an, size_t *nr);
/* The text kept of the visible regular file `id` of kind `kind`, or NULL. */
const char *an_visible_text(struct analysis *an, uint32_t id, int kind);

/* analyze_runtime.c */
/* missing-runtime-file: what a closure image can lack that ELF does not
 * show: a smoke test's command (opts->commands) or its interpreter, a
 * library directory ld.so.conf names that /etc/ld.so.cache does not list,
 * a non-root USER without an /etc/passwd entry. */
json_t *an_runtime_json(struct analysis *an, json_t *cfg, json_t *findings);
/* /etc/ld.so.cache's library paths, one a line (newly allocated), or NULL
 * when `data` is no cache glibc reads ("glibc-ld.so.cache1.1", alone or
 * after the old "ld.so-1.7.0" table). */
char *an_ldcache_parse(const unsigned char *data, size_t len);

/* analyze_duplicates.c */
json_t *an_duplicates_json(struct analysis *an, struct tally *t, json_t *findings);

/* analyze_config.c */
json_t *an_config_obj(const struct image_meta *meta);
/* The value of KEY in the config's Env, or NULL. */
const char *an_config_env(json_t *cfg, const char *key);
json_t *an_config_json(struct analysis *an, json_t *cfg, json_t *findings);
/* The node `cmd` names as the image would run it: a path (relative to
 * WorkingDir) or a name looked up in the config's PATH, never a directory;
 * FSI_NONE when there is none. Its path (links not followed) goes to `path`. */
uint32_t an_command_resolve(struct analysis *an, json_t *cfg, const char *cmd, struct strbuf *path);

#endif
