/*
 * The walk over the final tree: what each visible file is (ELF, component,
 * header, cache, tests, toolchain, interpreter link) and budgets.paths.
 */
#include <stdlib.h>
#include <string.h>

#include "core/analyze_private.h"
#include "util/strbuf.h"

/* A devel tool: a compiler or linker by name (plugins: devel_tools). */
static int is_tool_name(const struct knowledge *kb, const char *b)
{
	return kb && any_glob(&kb->analysis.devel_tools, b);
}

/* An interpreter's name (plugins: interpreters): "node", or a stem and a
 * version for "python{version}": python, python3, python3.11, never
 * "python-policy.txt.gz" or "python3-config". */
static int is_interpreter_name(const struct knowledge *kb, const char *b)
{
	static const char version[] = "{version}";
	const struct vec *names = kb ? &kb->analysis.interpreters : NULL;

	for (size_t i = 0; names && i < names->nr; i++) {
		const char *n = names->items[i];
		size_t stem = strlen(n);

		if (!ends_with(n, version)) {
			if (!strcmp(b, n))
				return 1;
			continue;
		}
		stem -= sizeof(version) - 1;
		if (!strncmp(b, n, stem) && b[stem + strspn(b + stem, "0123456789.")] == '\0')
			return 1;
	}
	return 0;
}

/* Is the file at `path` ("/a/bin/python3", "a/bin/python3") an interpreter:
 * named like one, in a bin/ directory? */
static int is_interpreter_path(const struct knowledge *kb, const char *path)
{
	const char *b = base_name(path);
	size_t dir_len = (size_t)(b - path);

	return is_interpreter_name(kb, b) && dir_len >= 4 && !strncmp(b - 4, "bin/", 4) &&
	       (dir_len == 4 || b[-5] == '/');
}

/* The cache kind of a visible file (plugins: caches): index in
 * kb->analysis.caches, or -1. */
static int cache_of(const struct knowledge *kb, const char *path)
{
	for (size_t i = 0; kb && i < kb->analysis.caches_nr; i++) {
		const struct kb_cache *c = &kb->analysis.caches[i];

		if (any_glob(&c->paths, path) && !any_glob(&c->except, path))
			return (int)i;
	}
	return -1;
}

/* The component of a file name: index in kb->components, or -1. */
int an_component_of(const struct knowledge *kb, const char *b)
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

/* A directory of tests or examples (plugins: test_dirs) below a site
 * directory (site_dirs: site-packages, dist-packages): the outermost one
 * below the nearest site directory, or FSI_NONE. */
static uint32_t tests_dir_of(struct analysis *an, uint32_t id)
{
	const struct knowledge *kb = an->opts->kb;
	uint32_t found = FSI_NONE;

	if (!kb)
		return FSI_NONE;
	for (uint32_t p = fsi_node(&an->fsi, id)->parent; p != FSI_NONE && p != FSI_ROOT;
	     p = fsi_node(&an->fsi, p)->parent) {
		const char *name = fsi_str(&an->fsi, fsi_node(&an->fsi, p)->name);

		if (vec_findstr(&kb->analysis.site_dirs, name) >= 0)
			return found;
		if (vec_findstr(&kb->analysis.test_dirs, name) >= 0)
			found = p;
	}
	return FSI_NONE;
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
	int comp, cache;
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
		ALLOC_GROW(t->elves, t->elves_nr + 1, t->elves_alloc);
		t->elves[t->elves_nr++] = (struct elf_file){id, c->u.elf};
		if (is_tool_name(kb, b)) {
			AN_PUSH(
			    an, t->tools,
			    json_pack("{s:o,s:I}", "path", jstr(path), "bytes", (json_int_t)size));
			t->devel_tool_bytes += size;
		}
	}
	if ((comp = an_component_of(kb, b)) >= 0) {
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
	if ((cache = cache_of(kb, path)) >= 0) {
		t->cache_bytes[cache] += size;
		t->cache_files[cache]++;
	}
	if ((td = tests_dir_of(an, id)) != FSI_NONE) {
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
		AN_PUSH(an, t->driver_in_image,
			json_pack("{s:o,s:I}", "path", jstr(path), "bytes", (json_int_t)size));
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
	int interp = is_interpreter_path(an->opts->kb, path);

	if (!interp && *target && is_interpreter_name(an->opts->kb, base_name(target))) {
		/* The target's own directory, "../bin/python3" against the link's. */
		struct strbuf dir = STRBUF_INIT, to = STRBUF_INIT;

		strbuf_add(&dir, path, (size_t)(base_name(path) - path));
		an_join_normalized(&to, dir.buf, target, strlen(target));
		interp = is_interpreter_path(an->opts->kb, to.buf);
		strbuf_release(&dir);
		strbuf_release(&to);
	}
	if (interp && fsi_resolve(&an->fsi, nd->parent, target, 1) == FSI_NONE)
		AN_PUSH(an, t->dangling,
			json_pack("{s:o,s:o}", "path", jstr(path), "target", jstr(target)));
}

/* Depth-first over the visible tree, the path kept in one buffer. */
void an_walk_tree(struct analysis *an, struct tally *t)
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
void an_paths_init(struct tally *t, const struct vec *keys)
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

void an_paths_release(struct tally *t)
{
	for (size_t k = 0; k < t->path_keys_nr; k++)
		map_release(&t->path_inodes[k]);
	free(t->path_keys);
	free(t->path_bytes);
	free(t->path_files);
	free(t->path_inodes);
}

json_t *an_paths_json(struct analysis *an, const struct tally *t)
{
	json_t *arr = json_array();

	for (size_t k = 0; k < t->path_keys_nr; k++)
		AN_PUSH(an, arr,
			json_pack("{s:o,s:I,s:I}", "path", jstr(t->path_keys[k]), "bytes",
				  (json_int_t)t->path_bytes[k], "files",
				  (json_int_t)t->path_files[k]));
	return arr;
}
