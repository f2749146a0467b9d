/*
 * The report's "sizemap" (core/analyze.h): each layer's regular-file bytes
 * as a tree of directories and files, each file with its owner (a CUDA
 * component, a dpkg or pip package, the base, the app, or wasted when a
 * later layer replaced it). Small entries are folded: a file or directory
 * under min_bytes (summary.size / SIZEMAP_CELLS) becomes part of its
 * directory's one "rest" node, so a 10 GB image of 100k files gives a few
 * thousand nodes at most per depth and every directory's sum stays exact.
 */
#include <stdlib.h>
#include <string.h>

#include "core/analyze_private.h"

/* At most this many entries of one depth are kept apart (each is at least
 * 1/SIZEMAP_CELLS of the image). */
#define SIZEMAP_CELLS 20000

enum { OWN_BASE, OWN_APP, OWN_WASTED, OWN_FIXED };

struct sm_ctx {
	struct analysis *an;
	uint64_t min_bytes;
	/* per fsindex node, for the layer at hand (reset through `touched`) */
	uint64_t *acc;	   /* bytes at and under the node */
	uint64_t *files;   /* files at and under it */
	uint64_t *vis;	   /* the node's own visible bytes (a file) */
	uint64_t *waste;   /* the node's own replaced bytes */
	uint64_t *big;	   /* biggest file at or under it */
	uint32_t *big_own; /* its owner */
	uint32_t *vis_own; /* owner of the node's own visible copy */
	uint32_t *touched;
	size_t touched_nr, touched_alloc;
	/* owners */
	json_t *owners;
	uint32_t *pkg_idx, *comp_idx;
	uint32_t owners_nr;
};

static uint32_t owner_of(struct sm_ctx *c, uint32_t node, int base)
{
	struct analysis *an = c->an;
	const struct knowledge *kb = an->opts->kb;
	const char *b = fsi_str(&an->fsi, fsi_node(&an->fsi, node)->name);
	int comp = an_component_of(kb, b);
	uint32_t pkg = an->pkg_owner ? an->pkg_owner[node] : 0;

	if (comp >= 0) {
		if (c->comp_idx[comp] == FSI_NONE) {
			c->comp_idx[comp] = c->owners_nr++;
			AN_PUSH(an, c->owners,
				json_pack("[s,o]", "cuda", jstr(kb->components[comp].name)));
		}
		return c->comp_idx[comp];
	}
	if (pkg) {
		const struct pkg *p = &an->pkg_list[pkg - 1];

		if (c->pkg_idx[pkg - 1] == FSI_NONE) {
			c->pkg_idx[pkg - 1] = c->owners_nr++;
			AN_PUSH(an, c->owners,
				json_pack("[s,o]", p->manager, jstr(fsi_str(&an->fsi, p->name))));
		}
		return c->pkg_idx[pkg - 1];
	}
	return base ? OWN_BASE : OWN_APP;
}

static void add_file(struct sm_ctx *c, uint32_t node, uint64_t size, uint32_t own, int wasted)
{
	struct analysis *an = c->an;

	if (wasted)
		c->waste[node] += size;
	else {
		c->vis[node] += size;
		c->vis_own[node] = own;
	}
	for (uint32_t n = node; n != FSI_NONE; n = fsi_node(&an->fsi, n)->parent) {
		if (!c->files[n] && !c->acc[n]) {
			ALLOC_GROW(c->touched, c->touched_nr + 1, c->touched_alloc);
			c->touched[c->touched_nr++] = n;
		}
		c->acc[n] += size;
		c->files[n]++;
		if (size > c->big[n] || !c->big[n]) {
			c->big[n] = size;
			c->big_own[n] = own;
		}
	}
}

struct sm_kid {
	uint32_t node;
	uint64_t bytes;
};

static int cmp_kid(const void *a, const void *b)
{
	const struct sm_kid *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->node < y->node ? -1 : x->node > y->node;
}

/* The node of `n` (a directory or file with acc >= min_bytes). */
static json_t *emit(struct sm_ctx *c, uint32_t n);

/* The children of directory `n` into `arr`: kept ones, their own file
 * bytes, then the rest. */
static void emit_children(struct sm_ctx *c, uint32_t n, json_t *arr)
{
	struct analysis *an = c->an;
	struct sm_kid *kids = NULL;
	size_t nr = 0, alloc = 0;
	uint64_t rest = 0, rest_files = 0, rest_big = 0;
	uint32_t rest_own = OWN_APP;
	int has_rest = 0;

	for (uint32_t k = fsi_node(&an->fsi, n)->child; k != FSI_NONE;
	     k = fsi_node(&an->fsi, k)->sibling) {
		if (!c->files[k])
			continue;
		if (c->acc[k] >= c->min_bytes && c->acc[k]) {
			ALLOC_GROW(kids, nr + 1, alloc);
			kids[nr++] = (struct sm_kid){k, c->acc[k]};
			continue;
		}
		has_rest = 1;
		rest += c->acc[k];
		rest_files += c->files[k];
		if (c->big[k] > rest_big || !rest_big) {
			rest_big = c->big[k];
			rest_own = c->big_own[k];
		}
	}
	if (nr > 1)
		qsort(kids, nr, sizeof(*kids), cmp_kid);
	for (size_t i = 0; i < nr; i++)
		AN_PUSH(an, arr, emit(c, kids[i].node));
	if (has_rest)
		AN_PUSH(an, arr,
			json_pack("[s,I,I,I]", "", (json_int_t)rest, (json_int_t)rest_own,
				  (json_int_t)rest_files));
	free(kids);
}

static json_t *emit(struct sm_ctx *c, uint32_t n)
{
	struct analysis *an = c->an;
	struct strbuf name = STRBUF_INIT;
	json_t *kids, *ret;
	uint64_t own_bytes = c->vis[n] + c->waste[n];

	strbuf_addstr(&name, fsi_str(&an->fsi, fsi_node(&an->fsi, n)->name));
	if (own_bytes == c->acc[n] &&
	    c->files[n] == (c->vis[n] ? 1u : 0u) + (c->waste[n] ? 1u : 0u) &&
	    !(c->vis[n] && c->waste[n])) {
		/* a file */
		ret = json_pack("[o,I,I]", jstr(name.buf), (json_int_t)own_bytes,
				(json_int_t)(c->vis[n] ? c->vis_own[n] : OWN_WASTED));
		strbuf_release(&name);
		return ret;
	}
	/* A chain of directories with one kept entry and nothing else: one node. */
	for (;;) {
		uint32_t only = FSI_NONE;
		int others = 0;

		if (c->vis[n] || c->waste[n])
			break;
		for (uint32_t k = fsi_node(&an->fsi, n)->child; k != FSI_NONE;
		     k = fsi_node(&an->fsi, k)->sibling) {
			if (!c->files[k])
				continue;
			if (only != FSI_NONE || c->acc[k] < c->min_bytes) {
				others = 1;
				break;
			}
			only = k;
		}
		if (others || only == FSI_NONE || c->acc[only] != c->acc[n] || c->vis[only] ||
		    c->waste[only] || !fsi_node(&an->fsi, only)->child)
			break;
		n = only;
		strbuf_addch(&name, '/');
		strbuf_addstr(&name, fsi_str(&an->fsi, fsi_node(&an->fsi, n)->name));
	}
	kids = json_array();
	/* The node's own bytes beside its entries (a path that was a file and a
	 * directory in one layer). */
	if (c->vis[n])
		AN_PUSH(
		    an, kids,
		    json_pack("[s,I,I]", ".", (json_int_t)c->vis[n], (json_int_t)c->vis_own[n]));
	if (c->waste[n])
		AN_PUSH(an, kids,
			json_pack("[s,I,I]", ".", (json_int_t)c->waste[n], (json_int_t)OWN_WASTED));
	emit_children(c, n, kids);
	ret = json_pack("[o,I,I,o]", jstr(name.buf), (json_int_t)c->acc[n],
			(json_int_t)c->big_own[n], kids);
	strbuf_release(&name);
	return ret;
}

json_t *an_sizemap_json(struct analysis *an, size_t base_layers, uint64_t size)
{
	const struct knowledge *kb = an->opts->kb;
	size_t comps = kb ? kb->components_nr : 0;
	struct sm_ctx c;
	json_t *layers = json_array(), *ret;
	uint32_t nodes = an->fsi.nr;

	memset(&c, 0, sizeof(c));
	c.an = an;
	c.min_bytes = size / SIZEMAP_CELLS;
	if (!c.min_bytes)
		c.min_bytes = 1;
	c.acc = xcalloc(nodes, sizeof(uint64_t));
	c.files = xcalloc(nodes, sizeof(uint64_t));
	c.vis = xcalloc(nodes, sizeof(uint64_t));
	c.waste = xcalloc(nodes, sizeof(uint64_t));
	c.big = xcalloc(nodes, sizeof(uint64_t));
	c.big_own = xcalloc(nodes, sizeof(uint32_t));
	c.vis_own = xcalloc(nodes, sizeof(uint32_t));
	c.pkg_idx = xmalloc((an->pkg_list_nr + 1) * sizeof(uint32_t));
	memset(c.pkg_idx, 0xff, (an->pkg_list_nr + 1) * sizeof(uint32_t));
	c.comp_idx = xmalloc((comps + 1) * sizeof(uint32_t));
	memset(c.comp_idx, 0xff, (comps + 1) * sizeof(uint32_t));
	c.owners = json_pack("[[s,n],[s,n],[s,n]]", "base", "app", "wasted");
	c.owners_nr = OWN_FIXED;

	for (size_t l = 0; l < an->order_nr; l++) {
		struct layer_rec *lr = an->order[l];
		json_t *top = json_array();

		for (size_t i = 0; lr && i < lr->nr; i++) {
			const struct ev *ev = &lr->evs[i];
			int wasted;

			if (ev->type != EV_FILE || !ev->size)
				continue;
			wasted = ev->aux >= an->inodes_nr || !an->inodes[ev->aux].nlink;
			add_file(&c, ev->node, ev->size,
				 wasted ? OWN_WASTED : owner_of(&c, ev->node, l < base_layers),
				 wasted);
		}
		if (c.files[FSI_ROOT])
			emit_children(&c, FSI_ROOT, top);
		AN_PUSH(an, layers, top);
		for (size_t i = 0; i < c.touched_nr; i++) {
			uint32_t n = c.touched[i];

			c.acc[n] = c.files[n] = c.vis[n] = c.waste[n] = c.big[n] = 0;
		}
		c.touched_nr = 0;
	}
	ret = json_pack("{s:I,s:o,s:o}", "min_bytes", (json_int_t)c.min_bytes, "owners", c.owners,
			"layers", layers);
	free(c.acc);
	free(c.files);
	free(c.vis);
	free(c.waste);
	free(c.big);
	free(c.big_own);
	free(c.vis_own);
	free(c.touched);
	free(c.pkg_idx);
	free(c.comp_idx);
	return ret;
}
