/*
 * The closure: every DT_NEEDED (and dlopen rule) resolved as ld.so would
 * resolve it in the final tree: the file's RPATH/RUNPATH ($ORIGIN), the
 * RPATH inherited from an executable or from the libraries that load it,
 * LD_LIBRARY_PATH, ld.so.conf and its includes, the default directories
 * (core/analyze_private.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/analyze_private.h"
#include "util/strbuf.h"

#define AN_MISSING_CAP 500

struct search {
	struct analysis *an;
	uint32_t *dirs; /* resolved default directories */
	size_t dirs_nr, dirs_alloc;
	struct u32map cache; /* needed -> 1 found, 0 missing (default dirs) */
	/* Executables with a DT_RPATH and no DT_RUNPATH: ld.so searches their RPATH
	 * for every library of the process that has no RUNPATH of its own. */
	const struct elf_file *rpath_exes;
	size_t rpath_exes_nr;
	/* Who needs what: needed name -> the first edge of a list of the ELF files
	 * whose DT_NEEDED names it (edge_elf: index in elves, edge_next: the next
	 * edge or FSI_NONE), to walk a library's loaders up the chain. */
	const struct elf_file *elves;
	struct u32map needers;
	uint32_t *edge_elf, *edge_next;
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
	ALLOC_GROW(s->dirs, s->dirs_nr + 1, s->dirs_alloc);
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

/* The file `needed` resolves to from `file` through its own paths (RPATH or
 * RUNPATH, then the default directories), or FSI_NONE. */
static uint32_t resolve_own(struct search *s, uint32_t file, const struct elf_rec *er,
			    const char *needed)
{
	struct analysis *an = s->an;
	uint32_t f = FSI_NONE;

	if (er->rpath && !er->runpath)
		f = search_paths(an, file, fsi_str(&an->fsi, er->rpath), needed);
	if (f == FSI_NONE && er->runpath)
		f = search_paths(an, file, fsi_str(&an->fsi, er->runpath), needed);
	for (size_t i = 0; f == FSI_NONE && i < s->dirs_nr; i++)
		f = file_in(an, s->dirs[i], needed);
	return f;
}

#define AN_LOADERS_CAP 64

/*
 * glibc's loader searches, for the needs of a library without RUNPATH, the
 * DT_RPATH of the object that loaded it, of that object's loader, and so on
 * up the chain (an object with a RUNPATH has its RPATH ignored, but the chain
 * goes on past it). torch's _C.so and libtorch_cuda.so carry such an RPATH
 * into site-packages/nvidia/. Per file, "loaded by" is approximated: a
 * library X loads `file` when X's DT_NEEDED names file's soname (or file
 * name) and X's own search finds this very file. Any such X counts, not only
 * the first loader ld.so would have seen; the walk stops after
 * AN_LOADERS_CAP loaders.
 */
static int inherited_library_rpath(struct search *s, uint32_t file, const struct elf_rec *er,
				   const char *needed)
{
	struct analysis *an = s->an;
	struct {
		uint32_t node;
		const struct elf_rec *er;
	} queue[AN_LOADERS_CAP + 1];
	size_t head = 0, tail = 0;
	struct u32map seen;
	int found = 0;

	map_init(&seen);
	queue[tail].node = file;
	queue[tail++].er = er;
	*map_slot(&seen, file, 1) = 1;
	while (head < tail && !found) {
		uint32_t cur = queue[head].node;
		const struct elf_rec *cer = queue[head++].er;
		uint32_t self = cer->soname ? cer->soname : fsi_node(&an->fsi, cur)->name;
		uint32_t cur_inode = fsi_node(&an->fsi, cur)->inode;
		const uint32_t *first = map_slot(&s->needers, self, 0);

		for (uint32_t e = first ? *first : FSI_NONE; e != FSI_NONE && !found;
		     e = s->edge_next[e]) {
			const struct elf_file *x = &s->elves[s->edge_elf[e]];
			uint32_t *slot, f;

			if (x->node == cur || map_slot(&seen, x->node, 0))
				continue;
			f = resolve_own(s, x->node, x->er, fsi_str(&an->fsi, self));
			if (f == FSI_NONE || fsi_node(&an->fsi, f)->inode != cur_inode)
				continue;
			slot = map_slot(&seen, x->node, 1);
			*slot = 1;
			if (x->er->rpath && !x->er->runpath &&
			    search_paths(an, x->node, fsi_str(&an->fsi, x->er->rpath), needed) !=
				FSI_NONE)
				found = 1;
			else if (tail < AN_LOADERS_CAP) {
				queue[tail].node = x->node;
				queue[tail++].er = x->er;
			}
		}
	}
	map_release(&seen);
	return found;
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
	return !er->runpath &&
	       (inherited_rpath(s, file, er, n) || inherited_library_rpath(s, file, er, n));
}

/* A DT_NEEDED (or a dlopen rule's load) no search finds. */
struct missing {
	uint32_t file, needed; /* node; pool offset */
	const char *via;
};

const char *an_visible_text(struct analysis *an, uint32_t id, int kind)
{
	struct fsi_node *nd;

	if (id == FSI_NONE)
		return NULL;
	nd = fsi_node(&an->fsi, id);
	if (nd->type != FSI_FILE || nd->data == FSI_NONE || an->contents[nd->data].kind != kind)
		return NULL;
	return an->contents[nd->data].u.text;
}

uint32_t *an_ldconf_dirs(struct analysis *an, size_t *nr)
{
	struct search s = {an, NULL, 0, 0, {0}, NULL, 0, NULL, {0}, NULL, NULL};
	const char *conf = visible_text(an, fsi_lookup(&an->fsi, FSI_ROOT, "etc/ld.so.conf", 0));

	if (conf)
		search_add_ldconf(&s, conf, 0);
	else
		search_add_ldconf(&s, "include /etc/ld.so.conf.d/*.conf", 0);
	*nr = s.dirs_nr;
	return s.dirs;
}

json_t *an_closure_json(struct analysis *an, struct tally *t, json_t *cfg, json_t *findings,
			size_t *missing_nr)
{
	const struct knowledge *kb = an->opts->kb;
	struct search s = {an, NULL, 0, 0, {0}, NULL, 0, NULL, {0}, NULL, NULL};
	struct elf_file *rpath_exes = xcalloc(t->elves_nr + 1, sizeof(*rpath_exes));
	struct missing *miss = xcalloc(AN_MISSING_CAP, sizeof(*miss));
	size_t miss_nr = 0;
	const struct elf_file **unchecked = xcalloc(AN_MISSING_CAP, sizeof(*unchecked));
	size_t unchecked_nr = 0, unchecked_all = 0;
	struct vec driver_names = VEC_INIT(NULL);
	json_t *missing = json_array(), *driver = json_array(), *not_checked = json_array(), *obj;
	struct u32map driver_seen, soname_at, missing_by_needed;
	const char *cuda = an_config_env(cfg, "CUDA_VERSION");
	char major[16] = "", minor[16] = "";
	uint64_t checked = 0;
	struct strbuf path = STRBUF_INIT;

	map_init(&s.cache);
	map_init(&driver_seen);
	map_init(&soname_at);
	map_init(&missing_by_needed);
	search_add_list(&s, an_config_env(cfg, "LD_LIBRARY_PATH"), ':');
	{
		const char *conf =
		    visible_text(an, fsi_lookup(&an->fsi, FSI_ROOT, "etc/ld.so.conf", 0));

		if (conf)
			search_add_ldconf(&s, conf, 0);
		else
			search_add_ldconf(&s, "include /etc/ld.so.conf.d/*.conf", 0);
	}
	for (size_t i = 0; kb && i < kb->analysis.library_dirs.nr; i++)
		search_add_dir(&s, kb->analysis.library_dirs.items[i]);

	for (size_t i = 0; i < t->elves_nr; i++) {
		const struct elf_rec *er = t->elves[i].er;

		if (er->interp && er->rpath && !er->runpath)
			rpath_exes[s.rpath_exes_nr++] = t->elves[i];
	}
	s.rpath_exes = rpath_exes;
	{
		size_t edges = 0;

		for (size_t i = 0; i < t->elves_nr; i++)
			edges += t->elves[i].er->needed_nr;
		s.elves = t->elves;
		s.edge_elf = xcalloc(edges + 1, sizeof(*s.edge_elf));
		s.edge_next = xcalloc(edges + 1, sizeof(*s.edge_next));
		map_init(&s.needers);
		edges = 0;
		for (size_t i = 0; i < t->elves_nr; i++)
			for (uint32_t k = 0; k < t->elves[i].er->needed_nr; k++) {
				uint32_t *slot = map_slot(&s.needers, t->elves[i].er->needed[k], 1);

				s.edge_elf[edges] = (uint32_t)i;
				s.edge_next[edges] = *slot;
				*slot = (uint32_t)edges++;
			}
	}
	for (size_t i = 0; i < t->elves_nr; i++)
		if (t->elves[i].er->soname) {
			uint32_t *slot = map_slot(&soname_at, t->elves[i].er->soname, 1);

			if (*slot == FSI_NONE)
				*slot = (uint32_t)i;
		}

	*missing_nr = 0;
#define ADD_MISSING(file_node, needed_id, how)                                                     \
	do {                                                                                       \
		(*missing_nr)++;                                                                   \
		if (miss_nr < AN_MISSING_CAP)                                                      \
			miss[miss_nr++] = (struct missing){file_node, needed_id, how};             \
	} while (0)

	for (size_t i = 0; i < t->elves_nr; i++) {
		const struct elf_rec *er = t->elves[i].er;

		/* A DT_NEEDED list the scanner could not read whole: said, never
		 * taken for a file that needs nothing. */
		if (er->unchecked && unchecked_all++ < AN_MISSING_CAP)
			unchecked[unchecked_nr++] = &t->elves[i];
		if (!er->needed_nr)
			continue;
		checked++;
		for (uint32_t k = 0; k < er->needed_nr; k++) {
			const char *n = fsi_str(&an->fsi, er->needed[k]);

			if (kb && any_glob(&kb->driver_sonames, n)) {
				uint32_t *slot = map_slot(&driver_seen, er->needed[k], 1);

				if (*slot == FSI_NONE) {
					*slot = 1;
					vec_push(&driver_names, (void *)n);
				}
				continue;
			}
			if (!resolvable(&s, t->elves[i].node, er, er->needed[k], 0)) {
				uint32_t *slot = map_slot(&missing_by_needed, er->needed[k], 1);

				if (*slot == FSI_NONE)
					*slot = 0;
				(*slot)++;
				ADD_MISSING(t->elves[i].node, er->needed[k], "DT_NEEDED");
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
		    !(slot = map_slot(&soname_at, an_intern_opt(an, so), 0))) {
			free(so);
			continue;
		}
		{
			const struct elf_file *lib = &t->elves[*slot];

			for (size_t l = 0; l < kb->dlopen[r].loads.nr; l++) {
				char *load = kb_expand(kb->dlopen[r].loads.items[l], keys, vals, 2);
				uint32_t lid = an_intern_opt(an, load);

				if (!resolvable(&s, lib->node, lib->er, lid, 1))
					ADD_MISSING(lib->node, lid, "dlopen");
				free(load);
			}
		}
		free(so);
	}
#undef ADD_MISSING
	for (size_t i = 0; i < miss_nr; i++) {
		fsi_path(&an->fsi, miss[i].file, &path);
		AN_PUSH(an, missing,
			json_pack("{s:o,s:o,s:s}", "file", jstr(path.buf), "needed",
				  jstr(fsi_str(&an->fsi, miss[i].needed)), "via", miss[i].via));
	}
	/* One finding per missing soname. */
	for (size_t i = 0; i < miss_nr; i++) {
		const char *needed = fsi_str(&an->fsi, miss[i].needed);
		uint32_t *slot = map_slot(&missing_by_needed, miss[i].needed, 1);
		char *msg;

		if (*slot == FSI_NONE - 1)
			continue; /* already reported */
		fsi_path(&an->fsi, miss[i].file, &path);
		if (*slot == FSI_NONE || *slot <= 1)
			msg = xstrfmt("'%s' needed by '%s' is not in the image (%s)", needed,
				      path.buf, miss[i].via);
		else
			msg = xstrfmt("'%s' needed by '%s' and %u more file(s) is not in the image",
				      needed, path.buf, *slot - 1);
		*slot = FSI_NONE - 1;
		an_finding(an, findings, "missing-library", "error", msg, path.buf, NULL);
		free(msg);
	}
	for (size_t i = 0; i < unchecked_nr; i++) {
		fsi_path(&an->fsi, unchecked[i]->node, &path);
		AN_PUSH(an, not_checked,
			json_pack("{s:o,s:s}", "path", jstr(path.buf), "reason",
				  unchecked[i]->er->unchecked));
	}
	if (unchecked_nr) {
		char *msg;

		fsi_path(&an->fsi, unchecked[0]->node, &path);
		if (unchecked_all == 1)
			msg = xstrfmt("'%s' was not checked for missing libraries: %s", path.buf,
				      unchecked[0]->er->unchecked);
		else
			msg = xstrfmt("'%s' and %zu more ELF file(s) were not checked for missing "
				      "libraries: %s",
				      path.buf, unchecked_all - 1, unchecked[0]->er->unchecked);
		an_finding(an, findings, "missing-library", "warn", msg, path.buf, NULL);
		free(msg);
	}
	vec_sort(&driver_names, vec_cmpstr);
	for (size_t i = 0; i < driver_names.nr; i++)
		AN_PUSH(an, driver, jstr(driver_names.items[i]));
	obj = AN_OK(an, json_pack("{s:I,s:o,s:o,s:O,s:O,s:o}", "checked_files", (json_int_t)checked,
				  "missing", missing, "driver_expected", driver, "driver_in_image",
				  t->driver_in_image, "dangling_interpreters", t->dangling,
				  "not_checked", not_checked));
	map_release(&s.cache);
	map_release(&s.needers);
	free(s.edge_elf);
	free(s.edge_next);
	free(rpath_exes);
	free(miss);
	free(unchecked);
	vec_release(&driver_names);
	map_release(&driver_seen);
	map_release(&soname_at);
	map_release(&missing_by_needed);
	free(s.dirs);
	strbuf_release(&path);
	return obj;
}
