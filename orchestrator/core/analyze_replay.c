/*
 * The replay of the layers bottom up: the final filesystem, and every copy
 * a later layer overwrote or deleted (core/analyze_private.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core/analyze_private.h"

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
	ALLOC_GROW(an->inodes, an->inodes_nr + 1, an->inodes_alloc);
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

void an_replay_event(struct analysis *an, struct ev *ev, uint16_t layer)
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
		ev->aux = inode;
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
