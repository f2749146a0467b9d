/* Visible bytes per dpkg and pip package (core/analyze_private.h). */
#include <stdlib.h>
#include <string.h>

#include "core/analyze_private.h"
#include "core/pkgdb.h"

json_t *an_packages_json(struct analysis *an, struct tally *t)
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
			uint32_t name = an_intern_opt(an, p->name);
			uint32_t *slot = map_slot(&dpkg_by_name, name, 1);

			if (*slot != FSI_NONE)
				continue;
			*slot = (uint32_t)nr;
			PKG_ADD("dpkg", name, an_intern_opt(an, p->version));
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
	if (an->opts->sizemap && !an->pkg_owner) {
		an->pkg_owner = owner;
		owner = NULL;
		an->pkg_list = xmalloc((nr ? nr : 1) * sizeof(*pkgs));
		if (nr)
			memcpy(an->pkg_list, pkgs, nr * sizeof(*pkgs));
		an->pkg_list_nr = nr;
	}
	/* Bytes: each visible inode once. */
	for (uint32_t id = 1; id < an->fsi.nr; id++) {
		struct fsi_node *nd = fsi_node(&an->fsi, id);
		struct inode *in;

		uint32_t own;

		if (nd->type != FSI_FILE)
			continue;
		in = &an->inodes[nd->inode];
		own = owner ? owner[id] : an->pkg_owner[id];
		if (own) {
			pkgs[own - 1].files++;
			if (!(in->counted & 2))
				pkgs[own - 1].bytes += in->size;
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
		AN_PUSH(an, arr,
			json_pack("{s:s,s:o,s:o,s:I,s:I}", "manager", pkgs[i].manager, "name",
				  jstr(fsi_str(&an->fsi, pkgs[i].name)), "version",
				  jstr(pkgs[i].version ? fsi_str(&an->fsi, pkgs[i].version) : NULL),
				  "bytes", (json_int_t)pkgs[i].bytes, "files",
				  (json_int_t)pkgs[i].files));
	map_release(&dpkg_by_name);
	map_release(&pip_by_name);
	free(owner);
	free(pkgs);
	return arr;
}
