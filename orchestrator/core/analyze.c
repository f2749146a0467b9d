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
#include <stdlib.h>
#include <string.h>

#include "core/analyze_private.h"
#include "core/elf.h"
#include "core/pkgdb.h"
#include "util/error.h"
#include "util/strbuf.h"

#define AN_TOOL		      "gpuslim 0.1.0"
#define AN_TEXT_CAP	      ((size_t)64 << 20)
#define AN_HEADERS_INFO_FILES 50
#define AN_HEADERS_INFO_BYTES ((uint64_t)1 << 20)
#define AN_STATIC_INFO_BYTES  ((uint64_t)1 << 20)

/* ---- collecting: the visitor -------------------------------------------- */

static uint32_t add_content(struct analysis *an, struct content c)
{
	ALLOC_GROW(an->contents, an->contents_nr + 1, an->contents_alloc);
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
	case C_LDCACHE:
	case C_SHEBANG:
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

/* The first bytes of a file (for its "#!") as they pass by. */
#define AN_HEAD 256

struct read_ctx {
	struct analysis *an;
	struct image_reader *rd;
	unsigned char head[AN_HEAD];
	size_t head_len;
};

static long an_elf_read(void *ctx, void *buf, size_t len)
{
	struct read_ctx *rc = ctx;
	long r = rc->an->read(rc->rd, buf, len);

	if (r > 0 && rc->head_len < AN_HEAD) {
		size_t n = (size_t)r < AN_HEAD - rc->head_len ? (size_t)r : AN_HEAD - rc->head_len;

		memcpy(rc->head + rc->head_len, buf, n);
		rc->head_len += n;
	}
	return r;
}

/* An executable's "#!" line, read on to its end (AN_HEAD at most) when the
 * ELF scan stopped short: the interpreter and its argument, or NULL. */
static char *read_shebang(struct read_ctx *rc, uint64_t size)
{
	const unsigned char *nl;
	size_t len;

	while (rc->head_len < AN_HEAD && rc->head_len < size &&
	       !memchr(rc->head, '\n', rc->head_len)) {
		unsigned char buf[AN_HEAD];
		long r = an_elf_read(rc, buf, AN_HEAD - rc->head_len);

		if (r <= 0)
			break;
	}
	if (rc->head_len < 3 || rc->head[0] != '#' || rc->head[1] != '!')
		return NULL;
	nl = memchr(rc->head, '\n', rc->head_len);
	len = nl ? (size_t)(nl - rc->head) : rc->head_len;
	while (len > 2 && (rc->head[len - 1] == '\r' || rc->head[len - 1] == ' '))
		len--;
	return xstrndup((const char *)rc->head + 2, len - 2);
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
void an_join_normalized(struct strbuf *out, const char *base, const char *rel, size_t len)
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

	an_join_normalized(&ob->path, ob->base, s, n);
	if (!ob->path.len)
		return;
	node = fsi_lookup(&ob->an->fsi, FSI_ROOT, ob->path.buf, 1);
	ALLOC_GROW(ob->nodes, ob->nr + 1, ob->alloc);
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

uint32_t an_intern_opt(struct analysis *an, const char *s)
{
	return s ? fsi_intern(&an->fsi, s, strlen(s)) : 0;
}

/* Parse what matters of a regular file's content; its content index. */
static int read_content(struct analysis *an, const char *path, uint64_t size, unsigned mode,
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
	if (!strcmp(path, "etc/ld.so.conf") || !strcmp(path, "etc/passwd") ||
	    !strcmp(path, "etc/group") ||
	    (strstr(path, "ld.so.conf") && ends_with(path, ".conf") && size <= 65536)) {
		if ((r = read_all(an, rd, size, sb)))
			return r < 0 ? -1 : 0;
		*data = add_content(an, (struct content){C_TEXT, {.text = xstrdup(sb->buf)}});
		return 0;
	}
	if (!strcmp(path, "etc/ld.so.cache")) {
		char *list;

		if ((r = read_all(an, rd, size, sb)))
			return r < 0 ? -1 : 0;
		list = an_ldcache_parse((const unsigned char *)sb->buf, sb->len);
		*data = add_content(
		    an, (struct content){C_LDCACHE, {.text = list ? list : xstrdup("")}});
		if (!list) /* not a cache glibc reads: kept as one with no entry */
			an->contents[*data].u.text[0] = '\0';
		return 0;
	}
	if (size < 52 && (mode & 0111) && size > 2) {
		struct read_ctx rc = {an, rd, {0}, 0};
		char *line = read_shebang(&rc, size);

		if (line)
			*data = add_content(an, (struct content){C_SHEBANG, {.text = line}});
		return 0;
	}
	if (size >= 52) {
		struct elf_info info;
		struct read_ctx rc = {an, rd, {0}, 0};

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
			er->soname = an_intern_opt(an, info.soname);
			er->runpath = an_intern_opt(an, info.runpath);
			er->rpath = an_intern_opt(an, info.rpath);
			er->interp = an_intern_opt(an, info.interp);
			er->unchecked = info.unchecked;
			er->needed_nr = (uint32_t)info.needed.nr;
			for (size_t i = 0; i < info.needed.nr; i++)
				er->needed[i] = an_intern_opt(an, info.needed.items[i]);
			*data = add_content(an, (struct content){C_ELF, {.elf = er}});
		} else if (mode & 0111) {
			char *line = read_shebang(&rc, size);

			if (line)
				*data =
				    add_content(an, (struct content){C_SHEBANG, {.text = line}});
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
		if (read_content(an, e->path, e->size, e->mode, rd, &ev.data) < 0) {
			error_prefix("cannot read '%s'", e->path);
			return -1;
		}
		break;
	case IMAGE_ENTRY_DIR:
		ev.type = EV_DIR;
		break;
	case IMAGE_ENTRY_SYMLINK:
		ev.type = EV_SYMLINK;
		ev.aux = an_intern_opt(an, e->link ? e->link : "");
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
	ALLOC_GROW(lr->evs, lr->nr + 1, lr->alloc);
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
	free(an->pkg_owner);
	free(an->pkg_list);
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

/* ---- the report ---------------------------------------------------------- */

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

json_t *an_json_ok(struct analysis *an, json_t *v, const char *where)
{
	if (!v && !an->json_failed)
		an->json_failed = where;
	return v;
}

void an_json_push(struct analysis *an, json_t *arr, json_t *v, const char *where)
{
	/* json_array_append_new() takes `v` even when it fails. */
	if ((json_array_append_new(arr, v) < 0 || !v) && !an->json_failed)
		an->json_failed = where;
}

void an_json_set(struct analysis *an, json_t *obj, const char *key, json_t *v, const char *where)
{
	if ((json_object_set_new(obj, key, v) < 0 || !v) && !an->json_failed)
		an->json_failed = where;
}

void an_finding(struct analysis *an, json_t *findings, const char *rule, const char *severity,
		const char *msg, const char *path, json_t *bytes)
{
	an_json_push(an, findings,
		     json_pack("{s:s,s:s,s:o,s:o,s:o}", "rule", rule, "severity", severity,
			       "message", jstr(msg), "path", jstr(path), "bytes",
			       bytes ? bytes : json_null()),
		     "an_finding");
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
	cfg = an_config_obj(meta);

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
			an_replay_event(an, &lr->evs[i], (uint16_t)l);
	}

	/* The final tree. */
	t.tools = json_array();
	t.driver_in_image = json_array();
	t.dangling = json_array();
	t.comp_bytes = xcalloc(kb ? kb->components_nr + 1 : 1, sizeof(uint64_t));
	t.comp_files = xcalloc(kb ? kb->components_nr + 1 : 1, sizeof(uint64_t));
	t.cache_bytes = xcalloc(kb ? kb->analysis.caches_nr + 1 : 1, sizeof(uint64_t));
	t.cache_files = xcalloc(kb ? kb->analysis.caches_nr + 1 : 1, sizeof(uint64_t));
	map_init(&t.te_dirs);
	an_paths_init(&t, o->paths);
	an_walk_tree(an, &t);

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
		AN_PUSH(an, layers,
			json_pack(
			    "{s:I,s:o,s:o,s:o,s:o,s:I,s:o,s:I,s:b,s:I}", "index", (json_int_t)l,
			    "diff_id", jstr(diff), "blob_digest", jstr(lr ? lr->blob_digest : NULL),
			    "media_type", jstr(lr ? lr->media_type : NULL), "created_by", jstr(cb),
			    "size", (json_int_t)(lr ? lr->files_bytes : 0), "compressed_size",
			    lr && lr->compressed_size ? jint(lr->compressed_size) : json_null(),
			    "files", (json_int_t)(lr ? lr->files : 0), "base", l < base_layers,
			    "wasted_bytes", (json_int_t)(lr ? lr->wasted : 0)));
	}
	qsort(an->heap, an->heap_nr, sizeof(*an->heap), cmp_waste);
	for (size_t i = 0; i < an->heap_nr; i++) {
		fsi_path(&an->fsi, an->heap[i].node, &path);
		AN_PUSH(an, wasted,
			json_pack("{s:o,s:I,s:I,s:I,s:s}", "path", jstr(path.buf), "bytes",
				  (json_int_t)an->heap[i].bytes, "layer",
				  (json_int_t)an->heap[i].layer, "by_layer",
				  (json_int_t)an->heap[i].by_layer, "reason",
				  an->heap[i].deleted ? "deleted" : "overwritten"));
	}

	image = AN_OK(an, json_pack("{s:o,s:o,s:o,s:o,s:o}", "name", jstr(meta ? meta->name : NULL),
				    "source", json_null(), "id", jstr(meta ? meta->id : NULL),
				    "manifest_digest", jstr(meta ? meta->manifest_digest : NULL),
				    "repo_tags", json_array()));
	if (meta) {
		static const char *const sources[] = {NULL, "engine", "registry", "archive", "oci"};

		if (meta->source > IMAGE_SOURCE_AUTO && meta->source <= IMAGE_SOURCE_OCI)
			AN_SET(an, image, "source", json_string(sources[meta->source]));
		for (size_t i = 0; i < meta->repo_tags.nr; i++)
			AN_PUSH(an, json_object_get(image, "repo_tags"),
				jstr(meta->repo_tags.items[i]));
	}

	root = AN_OK(an, json_object());
	AN_SET(an, root, "schema_version", json_integer(1));
	AN_SET(an, root, "tool", json_string(AN_TOOL));
	AN_SET(an, root, "image", image);
	summary = AN_OK(an, json_object());
	AN_SET(an, root, "summary", summary);
	AN_SET(an, root, "layers", layers);
	AN_SET(an, root, "wasted", wasted);
	layers = wasted = NULL;
	AN_SET(an, root, "packages", an_packages_json(an, &t));
	AN_SET(an, root, "paths", an_paths_json(an, &t));

	AN_SET(an, summary, "size", jint(size));
	AN_SET(an, summary, "compressed_size",
	       comp_known && an->order_nr ? jint(comp_size) : json_null());
	AN_SET(an, summary, "layers", jint(an->order_nr));
	AN_SET(an, summary, "files", jint(t.files));
	AN_SET(an, summary, "visible_bytes", jint(t.visible_bytes));
	AN_SET(an, summary, "base",
	       json_pack("{s:o,s:I,s:s}", "name", jstr(base_name), "layers",
			 (json_int_t)base_layers, "matched_by", matched_by));
	AN_SET(an, summary, "base_bytes", jint(base_bytes));
	AN_SET(an, summary, "own_bytes", jint(size - base_bytes));
	AN_SET(an, summary, "wasted_bytes", jint(an->wasted_total));
	AN_SET(an, summary, "unowned_bytes", jint(t.unowned));

	/* cuda */
	{
		json_t *comps = json_array();

		for (size_t i = 0; kb && i < kb->components_nr; i++)
			if (t.comp_files[i])
				AN_PUSH(an, comps,
					json_pack("{s:o,s:I,s:I}", "name",
						  jstr(kb->components[i].name), "bytes",
						  (json_int_t)t.comp_bytes[i], "files",
						  (json_int_t)t.comp_files[i]));
		AN_SET(an, root, "cuda",
		       json_pack("{s:o,s:o}", "components", comps, "duplicates",
				 an_duplicates_json(an, &t, findings)));
	}
	AN_SET(an, root, "elf",
	       json_pack("{s:I,s:I,s:I,s:I}", "files", (json_int_t)t.elf_files, "bytes",
			 (json_int_t)t.elf_bytes, "unstripped_files",
			 (json_int_t)t.unstripped_files, "unstripped_bytes",
			 (json_int_t)t.unstripped_bytes));
	AN_SET(an, root, "closure", an_closure_json(an, &t, cfg, findings, &missing_nr));
	AN_SET(an, root, "config", an_config_json(an, cfg, findings));
	AN_SET(an, root, "runtime", an_runtime_json(an, cfg, findings));

	/* devel, caches, tests */
	AN_SET(an, root, "devel",
	       json_pack("{s:O,s:{s:I,s:I},s:{s:I,s:I}}", "tools", t.tools, "headers", "files",
			 (json_int_t)t.headers, "bytes", (json_int_t)t.headers_bytes, "static_libs",
			 "files", (json_int_t)t.statics, "bytes", (json_int_t)t.statics_bytes));
	{
		json_t *caches = json_array();

		for (size_t k = 0; kb && k < kb->analysis.caches_nr; k++)
			if (t.cache_files[k]) {
				const char *kind = kb->analysis.caches[k].kind;
				char *msg = xstrfmt("%s: %llu files, %llu bytes in the image", kind,
						    (unsigned long long)t.cache_files[k],
						    (unsigned long long)t.cache_bytes[k]);

				AN_PUSH(an, caches,
					json_pack("{s:o,s:I,s:I}", "kind", jstr(kind), "bytes",
						  (json_int_t)t.cache_bytes[k], "files",
						  (json_int_t)t.cache_files[k]));
				an_finding(an, findings, "caches", "warn", msg, NULL,
					   jint(t.cache_bytes[k]));
				free(msg);
			}
		AN_SET(an, root, "caches", caches);
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
			AN_PUSH(an, dirs, jstr(path.buf));
		}
		AN_SET(an, root, "tests_examples",
		       json_pack("{s:I,s:I,s:o}", "files", (json_int_t)t.te_files, "bytes",
				 (json_int_t)t.te_bytes, "dirs", dirs));
		if (t.te_files) {
			char *msg =
			    xstrfmt("tests/examples directories in site-packages: %llu files, "
				    "%llu bytes (%u directories)",
				    (unsigned long long)t.te_files, (unsigned long long)t.te_bytes,
				    t.te_dirs_nr);

			an_finding(an, findings, "tests-examples", "warn", msg,
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

		an_finding(an, findings, "devel-toolchain", "error", msg,
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
		an_finding(an, findings, "devel-toolchain", many ? "error" : "info", msg, path.buf,
			   jint(t.headers_bytes));
		free(msg);
	}
	if (t.statics) {
		char *msg;

		fsi_path(&an->fsi, t.first_static, &path);
		msg = xstrfmt("%llu static libraries (*.a, %llu bytes)",
			      (unsigned long long)t.statics, (unsigned long long)t.statics_bytes);
		an_finding(an, findings, "devel-toolchain",
			   t.statics_bytes > AN_STATIC_INFO_BYTES ? "error" : "info", msg, path.buf,
			   jint(t.statics_bytes));
		free(msg);
	}
	for (size_t i = 0; i < json_array_size(t.driver_in_image); i++) {
		json_t *d = json_array_get(t.driver_in_image, i);
		const char *p = json_string_value(json_object_get(d, "path"));
		char *msg =
		    xstrfmt("driver library '%s' is inside the image: it must come from the "
			    "host's driver",
			    p);

		an_finding(an, findings, "driver-in-image", "error", msg, p,
			   json_deep_copy(json_object_get(d, "bytes")));
		free(msg);
	}
	for (size_t i = 0; i < json_array_size(t.dangling); i++) {
		json_t *d = json_array_get(t.dangling, i);
		const char *p = json_string_value(json_object_get(d, "path"));
		char *msg =
		    xstrfmt("'%s' points to the interpreter '%s', which is not in the image", p,
			    json_string_value(json_object_get(d, "target")));

		an_finding(an, findings, "dangling-interpreter", "error", msg, p, NULL);
		free(msg);
	}
	if (t.unstripped_files) {
		char *msg;

		fsi_path(&an->fsi, t.first_unstripped, &path);
		msg = xstrfmt("%llu ELF files carry symbols or debug info (%llu bytes)",
			      (unsigned long long)t.unstripped_files,
			      (unsigned long long)t.unstripped_bytes);
		an_finding(an, findings, "unstripped-elf", "warn", msg, path.buf,
			   jint(t.unstripped_bytes));
		free(msg);
	}
	AN_SET(an, root, "findings", findings);
	findings = NULL;
	if (o->sizemap)
		AN_SET(an, root, "sizemap", an_sizemap_json(an, base_layers, size));
	(void)missing_nr;
	if (an->json_failed) {
		ret = error_setc(GS_ERR, "cannot build the report: a JSON value failed in %s()",
				 an->json_failed);
		goto done;
	}
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
	free(t.cache_bytes);
	free(t.cache_files);
	free(t.elves);
	free(t.te_dir_bytes);
	free(t.te_dir_nodes);
	if (t.te_dirs.keys)
		map_release(&t.te_dirs);
	an_paths_release(&t);
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
