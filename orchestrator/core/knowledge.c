#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/knowledge.h"
#include "util/datadir.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/strbuf.h"

/* The files a plugin directory may hold, in load order: bases.json names
 * CUDA versions of cuda.json and OSes of os.json, but the cross-checks run
 * after every directory is loaded, so the order only fixes messages. */
static const char *const kb_files[] = {
    "cuda.json", "bases.json", "os.json", "frameworks.json", "libraries.json", "render.json", NULL};

/* Flavors are the planner's vocabulary, not knowledge: it reasons about
 * which one carries what. */
static const char *const kb_flavor_names[] = {"base",	       "runtime",     "devel",
					      "cudnn-runtime", "cudnn-devel", NULL};

/* ---- versions and templates ------------------------------------------ */

int kb_version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		unsigned long x = 0, y = 0;
		char *end;

		if (*a) {
			x = strtoul(a, &end, 10);
			a = end;
		}
		if (*b) {
			y = strtoul(b, &end, 10);
			b = end;
		}
		if (x != y)
			return x < y ? -1 : 1;
		if (*a == '.')
			a++;
		else if (*a)
			return strcmp(a, b);
		if (*b == '.')
			b++;
		else if (*b)
			return strcmp(a, b);
	}
	return 0;
}

int kb_version_matches(const char *version, const char *prefix)
{
	size_t n = strlen(prefix);

	return !strncmp(version, prefix, n) && (version[n] == '\0' || version[n] == '.');
}

static int kb_parse_num(const char **s, int *out)
{
	long v = 0;
	const char *p = *s;

	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (*p - '0');
		if (v > 100000)
			return -1;
		p++;
	}
	*out = (int)v;
	*s = p;
	return 0;
}

int kb_parse_version(const char *s, int *major, int *minor, int *patch)
{
	*patch = -1;
	if (!s || kb_parse_num(&s, major) || *s++ != '.' || kb_parse_num(&s, minor))
		return -1;
	if (!*s)
		return 0;
	if (*s++ != '.' || kb_parse_num(&s, patch) || *s)
		return -1;
	return 0;
}

char *kb_expand(const char *tmpl, const char *const *keys, const char *const *values, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = tmpl;

	while (*p) {
		const char *close;
		size_t i;

		if (*p != '{' || !(close = strchr(p, '}'))) {
			strbuf_addch(&sb, *p++);
			continue;
		}
		for (i = 0; i < n; i++)
			if (strlen(keys[i]) == (size_t)(close - p - 1) &&
			    !strncmp(p + 1, keys[i], (size_t)(close - p - 1)))
				break;
		if (i == n) {
			strbuf_addch(&sb, *p++);
			continue;
		}
		strbuf_addstr(&sb, values[i]);
		p = close + 1;
	}
	return strbuf_detach(&sb, NULL);
}

char *kb_format_tag(const struct kb_repository *repo, const struct kb_cuda_release *rel,
		    const char *flavor, const char *os)
{
	static const char *const keys[] = {"version", "flavor", "os"};
	const char *values[3];
	char *spelled = NULL, *tag;

	if (starts_with(flavor, "cudnn-") && rel->cudnn_tag)
		spelled = xstrfmt("%s-%s", rel->cudnn_tag, flavor + strlen("cudnn-"));
	values[0] = rel->version;
	values[1] = spelled ? spelled : flavor;
	values[2] = os;
	tag = kb_expand(repo->tag_template, keys, values, 3);
	free(spelled);
	return tag;
}

/* ---- lookups ---------------------------------------------------------- */

const struct kb_cuda_release *kb_find_cuda(const struct knowledge *kb, const char *version)
{
	for (size_t i = 0; i < kb->cuda_nr; i++)
		if (!strcmp(kb->cuda[i].version, version))
			return &kb->cuda[i];
	return NULL;
}

const struct kb_brand_set *kb_find_brand_set(const struct knowledge *kb, const char *name)
{
	for (size_t i = 0; i < kb->brand_sets_nr; i++)
		if (!strcmp(kb->brand_sets[i].name, name))
			return &kb->brand_sets[i];
	return NULL;
}

const struct kb_repository *kb_find_repository(const struct knowledge *kb, const char *name)
{
	for (size_t i = 0; i < kb->repos_nr; i++)
		if (!strcmp(kb->repos[i].name, name))
			return &kb->repos[i];
	return NULL;
}

const struct kb_base_image *kb_repo_find_image(const struct kb_repository *repo,
					       const char *version)
{
	for (size_t i = 0; i < repo->images_nr; i++)
		if (!strcmp(repo->images[i].version, version))
			return &repo->images[i];
	return NULL;
}

const char *kb_image_cudnn_version(const struct kb_base_image *img,
				   const struct kb_cuda_release *rel)
{
	if (img && img->cudnn_version)
		return img->cudnn_version;
	return rel ? rel->cudnn_version : NULL;
}

char *kb_require_cuda(const struct knowledge *kb, const struct kb_cuda_release *rel)
{
	const struct kb_brand_set *set = kb_find_brand_set(kb, rel->brands);
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "cuda>=%d.%d", rel->major, rel->minor);
	for (size_t b = 0; b < rel->branches_nr; b++)
		for (size_t i = 0; set && i < set->brands.nr; i++)
			strbuf_addf(&sb, " brand=%s,driver>=%ld,driver<%ld",
				    (const char *)set->brands.items[i], rel->branches[b],
				    rel->branches[b] + 1);
	return strbuf_detach(&sb, NULL);
}

const char *kb_image_unverified(const struct kb_base_image *img, const char *os)
{
	const json_t *u = img->unverified;

	if (json_is_string(u))
		return json_string_value(u);
	return json_string_value(json_object_get(u, os));
}

const struct kb_image_os *kb_image_find_os(const struct kb_base_image *img, const char *os)
{
	for (size_t i = 0; i < img->os_nr; i++)
		if (!strcmp(img->os[i].os, os))
			return &img->os[i];
	return NULL;
}

int kb_image_os_has_flavor(const struct kb_image_os *ios, const char *flavor)
{
	return vec_findstr(&ios->flavors, flavor) >= 0;
}

const struct kb_os *kb_find_os(const struct knowledge *kb, const char *name)
{
	for (size_t i = 0; i < kb->systems_nr; i++)
		if (!strcmp(kb->systems[i].name, name))
			return &kb->systems[i];
	return NULL;
}

const struct kb_os *kb_default_os(const struct knowledge *kb, const struct kb_repository *repo,
				  int major, int minor, int patch)
{
	const struct kb_os *best = NULL;

	if (!kb->default_os_family)
		return NULL;
	for (size_t i = 0; i < repo->images_nr; i++) {
		const struct kb_base_image *img = &repo->images[i];

		if (img->major != major || img->minor != minor ||
		    (patch >= 0 && img->patch != patch))
			continue;
		for (size_t k = 0; k < img->os_nr; k++) {
			const struct kb_os *os = kb_find_os(kb, img->os[k].os);

			if (os && os->lts && !strcmp(os->family, kb->default_os_family) &&
			    (!best || strcmp(os->released, best->released) > 0))
				best = os;
		}
	}
	return best;
}

int kb_os_has_python(const struct kb_os *os, const char *python)
{
	return vec_findstr(&os->pythons, python) >= 0;
}

const struct kb_python_pkgs *kb_os_python_pkgs(const struct kb_os *os, const char *python)
{
	for (size_t i = 0; i < os->overrides_nr; i++)
		if (!strcmp(os->overrides[i].python, python))
			return &os->overrides[i];
	return &os->pkgs;
}

const struct kb_framework *kb_find_framework(const struct knowledge *kb, const char *name)
{
	for (size_t i = 0; i < kb->frameworks_nr; i++)
		if (!strcmp(kb->frameworks[i].name, name))
			return &kb->frameworks[i];
	return NULL;
}

const struct kb_fw_release *kb_find_release(const struct kb_framework *fw, const char *version)
{
	const struct kb_fw_release *best = NULL;

	for (size_t i = 0; i < fw->releases_nr; i++) {
		const struct kb_fw_release *rel = &fw->releases[i];

		if (!strcmp(rel->version, version))
			return rel;
		if (kb_version_matches(rel->version, version) &&
		    (!best || kb_version_cmp(rel->version, best->version) > 0))
			best = rel;
	}
	return best;
}

const char *kb_release_pair(const struct kb_fw_release *rel, const char *child)
{
	long i = vec_findstr(&rel->pair_names, child);

	return i < 0 ? NULL : rel->pair_versions.items[i];
}

const struct kb_flavor_libs *kb_find_flavor_libs(const struct knowledge *kb, const char *flavor)
{
	for (size_t i = 0; i < kb->flavor_libs_nr; i++)
		if (!strcmp(kb->flavor_libs[i].flavor, flavor))
			return &kb->flavor_libs[i];
	return NULL;
}

/* ---- freeing ---------------------------------------------------------- */

/* The release of an entry of a keyed table takes a void *: it is also that
 * table's struct kb_keyed release. */

static void kb_release_cuda(void *entry)
{
	struct kb_cuda_release *c = entry;

	free(c->origin);
}

static void kb_release_brand_set(void *entry)
{
	struct kb_brand_set *b = entry;

	vec_release(&b->brands);
	free(b->origin);
}

static void kb_release_image(void *entry)
{
	struct kb_base_image *img = entry;

	for (size_t i = 0; i < img->os_nr; i++)
		vec_release(&img->os[i].flavors);
	free(img->os);
	free(img->origin);
}

static void kb_release_repo(struct kb_repository *repo)
{
	for (size_t i = 0; i < repo->images_nr; i++)
		kb_release_image(&repo->images[i]);
	free(repo->images);
	free(repo->origin);
}

static void kb_release_pkgs(struct kb_python_pkgs *p)
{
	vec_release(&p->builder);
	vec_release(&p->final);
}

static void kb_release_os(void *entry)
{
	struct kb_os *os = entry;

	vec_release(&os->pythons);
	kb_release_pkgs(&os->pkgs);
	for (size_t i = 0; i < os->overrides_nr; i++)
		kb_release_pkgs(&os->overrides[i]);
	free(os->overrides);
	free(os->origin);
}

static void kb_release_fw_release(void *entry)
{
	struct kb_fw_release *rel = entry;

	vec_release(&rel->variants);
	vec_release(&rel->pair_names);
	vec_release(&rel->pair_versions);
	free(rel->origin);
}

static void kb_release_smoke(struct kb_smoke *sm, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		vec_release(&sm[i].run);
	free(sm);
}

static void kb_release_framework(struct kb_framework *fw)
{
	kb_release_smoke(fw->smoke, fw->smoke_nr);
	for (size_t i = 0; i < fw->releases_nr; i++)
		kb_release_fw_release(&fw->releases[i]);
	free(fw->releases);
	free(fw->origin);
}

static void kb_release_dlopen_rule(void *entry)
{
	struct kb_dlopen_rule *rule = entry;

	vec_release(&rule->loads);
}

static void kb_release_flavor_libs(void *entry)
{
	struct kb_flavor_libs *f = entry;

	vec_release(&f->provides);
	vec_release(&f->until_names);
	vec_release(&f->until_versions);
	free(f->origin);
}

int kb_flavor_provides_at(const struct kb_flavor_libs *fl, const char *name, int major, int minor)
{
	long i = vec_findstr(&fl->until_names, name);
	int ma, mi, pa;

	if (i < 0 || kb_parse_version(fl->until_versions.items[i], &ma, &mi, &pa))
		return 1;
	return major < ma || (major == ma && minor <= mi);
}

static void kb_release_component(void *entry)
{
	struct kb_component *comp = entry;

	vec_release(&comp->patterns);
}

/* Its lists: key in the file, place in struct kb_render. */
static const struct {
	const char *key;
	size_t off;
} kb_render_lists[] = {
    {"apt_nodocs", offsetof(struct kb_render, apt_nodocs)},
    {"os_site_packages", offsetof(struct kb_render, os_site_packages)},
    {"os_python_dirs", offsetof(struct kb_render, os_python_dirs)},
    {"library_dirs", offsetof(struct kb_render, library_dirs)},
    {"base_cuda_lib_dirs", offsetof(struct kb_render, base_cuda_lib_dirs)},
    {"wheel_cuda_lib_dirs", offsetof(struct kb_render, wheel_cuda_lib_dirs)},
    {"prune_tests", offsetof(struct kb_render, prune_tests)},
    {"prune_examples", offsetof(struct kb_render, prune_examples)},
    {"prune_test_programs", offsetof(struct kb_render, prune_test_programs)},
    {"closure_always", offsetof(struct kb_render, closure_always)},
    {"prune_headers", offsetof(struct kb_render, prune_headers)},
    {"prune_static_libs", offsetof(struct kb_render, prune_static_libs)},
    {"prune_docs", offsetof(struct kb_render, prune_docs)},
};

static struct vec *kb_render_list(struct kb_render *r, size_t i)
{
	return (struct vec *)((char *)r + kb_render_lists[i].off);
}

static void kb_release_render(struct kb_render *r)
{
	for (size_t i = 0; i < sizeof(kb_render_lists) / sizeof(*kb_render_lists); i++)
		vec_release(kb_render_list(r, i));
}

static void kb_release_cache(void *entry)
{
	struct kb_cache *c = entry;

	vec_release(&c->paths);
	vec_release(&c->except);
}

static void kb_release_analysis(struct kb_analysis *a)
{
	vec_release(&a->devel_tools);
	vec_release(&a->interpreters);
	vec_release(&a->library_dirs);
	vec_release(&a->test_dirs);
	vec_release(&a->site_dirs);
	for (size_t i = 0; i < a->caches_nr; i++)
		kb_release_cache(&a->caches[i]);
	free(a->caches);
}

static void kb_decref(void *doc)
{
	json_decref(doc);
}

void knowledge_free(struct knowledge *kb)
{
	if (!kb)
		return;
	free(kb->refreshed_file);
	for (size_t i = 0; i < kb->cuda_nr; i++)
		kb_release_cuda(&kb->cuda[i]);
	free(kb->cuda);
	for (size_t i = 0; i < kb->brand_sets_nr; i++)
		kb_release_brand_set(&kb->brand_sets[i]);
	free(kb->brand_sets);
	for (size_t i = 0; i < kb->repos_nr; i++)
		kb_release_repo(&kb->repos[i]);
	free(kb->repos);
	for (size_t i = 0; i < kb->systems_nr; i++)
		kb_release_os(&kb->systems[i]);
	free(kb->systems);
	for (size_t i = 0; i < kb->frameworks_nr; i++)
		kb_release_framework(&kb->frameworks[i]);
	free(kb->frameworks);
	for (size_t i = 0; i < kb->dlopen_nr; i++)
		kb_release_dlopen_rule(&kb->dlopen[i]);
	free(kb->dlopen);
	for (size_t i = 0; i < kb->flavor_libs_nr; i++)
		kb_release_flavor_libs(&kb->flavor_libs[i]);
	free(kb->flavor_libs);
	vec_release(&kb->driver_sonames);
	free(kb->default_os_origin);
	for (size_t i = 0; i < kb->components_nr; i++)
		kb_release_component(&kb->components[i]);
	free(kb->components);
	kb_release_render(&kb->render);
	kb_release_analysis(&kb->analysis);
	vec_release(&kb->docs);
	free(kb);
}

/* ---- the typed JSON reader -------------------------------------------- */

/* Walks one plugin file and keeps the JSON path of where it is, so that a
 * type error names "releases[3].driver" (jansson has no positions for
 * values once parsed). */
struct kb_reader {
	const char *file;
	struct strbuf path;
};

enum kb_type { KB_STRING, KB_ARRAY, KB_OBJECT, KB_BOOL, KB_INT };

static const char *const kb_type_names[] = {"a string", "an array", "an object", "true or false",
					    "an integer"};

static int kb_fail(struct kb_reader *rd, const char *fmt, ...) GS_FMT(2, 3);

static int kb_fail(struct kb_reader *rd, const char *fmt, ...)
{
	struct diag d;
	va_list ap;

	va_start(ap, fmt);
	diag_vset(&d, rd->file, (struct rpos){0, 0}, rd->path.len ? rd->path.buf : NULL, fmt, ap);
	va_end(ap);
	diag_push(NULL, 0, &d, 0);
	diag_release(&d);
	return GS_EINVAL;
}

static size_t kb_push_key(struct kb_reader *rd, const char *key)
{
	size_t old = rd->path.len;

	if (old)
		strbuf_addch(&rd->path, '.');
	strbuf_addstr(&rd->path, key);
	return old;
}

static size_t kb_push_index(struct kb_reader *rd, size_t i)
{
	size_t old = rd->path.len;

	strbuf_addf(&rd->path, "[%zu]", i);
	return old;
}

static void kb_pop(struct kb_reader *rd, size_t old)
{
	strbuf_setlen(&rd->path, old);
}

static char *kb_origin(struct kb_reader *rd)
{
	return rd->path.len ? xstrfmt("%s: %s", rd->file, rd->path.buf) : xstrdup(rd->file);
}

static int kb_is_type(json_t *v, enum kb_type type)
{
	switch (type) {
	case KB_STRING:
		return json_is_string(v);
	case KB_ARRAY:
		return json_is_array(v);
	case KB_OBJECT:
		return json_is_object(v);
	case KB_BOOL:
		return json_is_boolean(v);
	case KB_INT:
		return json_is_integer(v);
	}
	return 0;
}

/* Check a value's type; the path already names it. */
static int kb_check_type(struct kb_reader *rd, json_t *v, enum kb_type type)
{
	if (!kb_is_type(v, type))
		return kb_fail(rd, "expected %s", kb_type_names[type]);
	if (type == KB_STRING && !*json_string_value(v))
		return kb_fail(rd, "expected a non-empty string");
	return 0;
}

/* The value of `key` in `obj` with the given type, or NULL when absent (an
 * error when `required`). JSON null counts as absent. */
static int kb_get(struct kb_reader *rd, json_t *obj, const char *key, enum kb_type type,
		  int required, json_t **out)
{
	json_t *v = json_object_get(obj, key);
	size_t old;
	int ret;

	*out = NULL;
	if (!v || json_is_null(v))
		return required ? kb_fail(rd, "missing key '%s'", key) : 0;
	old = kb_push_key(rd, key);
	ret = kb_check_type(rd, v, type);
	kb_pop(rd, old);
	if (!ret)
		*out = v;
	return ret;
}

static int kb_get_str(struct kb_reader *rd, json_t *obj, const char *key, int required,
		      const char **out)
{
	json_t *v;
	int ret = kb_get(rd, obj, key, KB_STRING, required, &v);

	*out = v ? json_string_value(v) : NULL;
	return ret;
}

/* A boolean: -1 when absent. */
static int kb_get_bool(struct kb_reader *rd, json_t *obj, const char *key, int *out)
{
	json_t *v;
	int ret = kb_get(rd, obj, key, KB_BOOL, 0, &v);

	*out = v ? json_is_true(v) : -1;
	return ret;
}

/* A list of distinct non-empty strings, borrowed into `out` (which is
 * released first, so an override replaces the list). */
static int kb_get_strlist(struct kb_reader *rd, json_t *obj, const char *key, int required,
			  struct vec *out)
{
	json_t *arr, *v;
	size_t i, old;
	int ret;

	vec_release(out);
	if ((ret = kb_get(rd, obj, key, KB_ARRAY, required, &arr)) || !arr)
		return ret;
	old = kb_push_key(rd, key);
	json_array_foreach(arr, i, v)
	{
		size_t o2 = kb_push_index(rd, i);

		if ((ret = kb_check_type(rd, v, KB_STRING)))
			goto done;
		if (vec_findstr(out, json_string_value(v)) >= 0) {
			ret = kb_fail(rd, "duplicate entry '%s'", json_string_value(v));
			goto done;
		}
		kb_pop(rd, o2);
		vec_push(out, (void *)json_string_value(v));
	}
done:
	kb_pop(rd, old);
	return ret;
}

/* Reject keys outside `allowed`: a misspelt key would otherwise be a
 * silently ignored fact. */
static int kb_check_keys(struct kb_reader *rd, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		size_t i;
		/* Where "notes" may be, so may an entry's "source" (where a
		 * hand-kept fact was read) and "unverified" (what no source
		 * confirms: the plan flags the cells that use it); where
		 * "schema_version" is, the file's "refreshed" and "sources". */
		const char *like = !strcmp(key, "source") || !strcmp(key, "unverified") ? "notes"
				   : !strcmp(key, "refreshed") || !strcmp(key, "sources")
				       ? "schema_version"
				       : key;

		for (i = 0; allowed[i]; i++)
			if (!strcmp(allowed[i], like))
				break;
		if (!allowed[i])
			return kb_fail(rd, "unknown key '%s'", key);
		if (like != key &&
		    !(!strcmp(key, "sources")	   ? json_is_array(v)
		      : !strcmp(key, "unverified") ? json_is_string(v) || json_is_object(v)
						   : json_is_string(v))) {
			size_t old = kb_push_key(rd, key);
			int ret = kb_fail(rd, "expected %s",
					  !strcmp(key, "sources")      ? "a list of strings"
					  : !strcmp(key, "unverified") ? "a string or an object"
								       : "a string");

			kb_pop(rd, old);
			return ret;
		}
	}
	return 0;
}

/* Remember an entry's key within one file; a second entry with the same key
 * in the same file is a mistake (across files it is an override). */
static int kb_seen(struct kb_reader *rd, struct vec *keys, struct vec *paths, const char *key,
		   const char *field)
{
	long at = vec_findstr(keys, key);

	if (at >= 0) {
		size_t old = kb_push_key(rd, field);
		int ret = kb_fail(rd, "duplicate entry '%s' (also %s)", key,
				  (const char *)paths->items[at]);

		kb_pop(rd, old);
		return ret;
	}
	vec_push(keys, (void *)key);
	vec_pushstr(paths, rd->path.buf);
	return 0;
}

/* ---- keyed arrays ----------------------------------------------------- */

static void *kb_grow(void *arr, size_t nr, size_t size)
{
	/* Small tables: grow by one with realloc; loading happens once. */
	void *p = xrealloc(arr, (nr + 1) * size);

	memset((char *)p + nr * size, 0, size);
	return p;
}

/* An array of entries that each have a unique string key (a CUDA release's
 * version, a library rule's soname) and go into one table of struct
 * knowledge. */
struct kb_keyed {
	const char *name; /* the array's key in the file: "dlopen" */
	size_t size;	  /* of one entry */
	size_t key_off;	  /* offsetof the entry's `const char *` key */
	/* Read `item` into `entry` (zeroed), calling kb_seen() on its key
	 * where that error should come among the others: the order fixes
	 * which message a doubly broken entry gets. On failure the caller
	 * releases `entry`, so it must be releasable at every return. */
	int (*load)(struct kb_reader *rd, json_t *item, void *entry, struct vec *keys,
		    struct vec *paths);
	void (*release)(void *entry);
};

static const char *kb_keyed_key(const struct kb_keyed *t, const void *entry)
{
	return *(const char *const *)((const char *)entry + t->key_off);
}

/* Load `arr` (NULL: absent) into the table `*table` of `*nr` entries: an
 * entry whose key the table already has, from an earlier file, replaces it,
 * so a later plugin directory overrides; within `arr` a key may come once.
 * `*table` may move, as with realloc(); on error the table holds what it
 * held before the failing entry. */
static int kb_load_keyed(struct kb_reader *rd, json_t *arr, const struct kb_keyed *t, void **table,
			 size_t *nr)
{
	struct vec keys = VEC_INIT(NULL), paths = VEC_INIT(free);
	/* Read beside the table, so that a failed entry leaves it as it was. */
	char *entry = xcalloc(1, t->size);
	size_t i, old = kb_push_key(rd, t->name);
	int ret = 0;

	for (i = 0; arr && i < json_array_size(arr); i++) {
		const char *key;
		size_t j, o2 = kb_push_index(rd, i);

		memset(entry, 0, t->size);
		if ((ret = t->load(rd, json_array_get(arr, i), entry, &keys, &paths))) {
			t->release(entry);
			goto done;
		}
		key = kb_keyed_key(t, entry);
		for (j = 0; j < *nr; j++)
			if (!strcmp(kb_keyed_key(t, (char *)*table + j * t->size), key))
				break;
		if (j == *nr)
			*table = kb_grow(*table, (*nr)++, t->size);
		else
			t->release((char *)*table + j * t->size);
		memcpy((char *)*table + j * t->size, entry, t->size);
		kb_pop(rd, o2);
	}
done:
	kb_pop(rd, old);
	free(entry);
	vec_release(&keys);
	vec_release(&paths);
	return ret;
}

/* ---- cuda.json -------------------------------------------------------- */

static int kb_load_brand_set(struct kb_reader *rd, json_t *item, void *entry, struct vec *keys,
			     struct vec *paths)
{
	static const char *const set_keys[] = {"name", "brands", "notes", NULL};
	struct kb_brand_set *set = entry;
	int ret;

	vec_init(&set->brands, NULL);
	if ((ret = kb_check_type(rd, item, KB_OBJECT)) ||
	    (ret = kb_check_keys(rd, item, set_keys)) ||
	    (ret = kb_get_str(rd, item, "name", 1, &set->name)) ||
	    (ret = kb_seen(rd, keys, paths, set->name, "name")) ||
	    (ret = kb_get_strlist(rd, item, "brands", 1, &set->brands)))
		return ret;
	set->origin = kb_origin(rd);
	return 0;
}

static int kb_load_cuda_release(struct kb_reader *rd, json_t *item, void *entry, struct vec *keys,
				struct vec *paths)
{
	static const char *const rel_keys[] = {"version", "cudnn_tag",	  "cudnn_version",
					       "driver",  "driver_floor", "require_branches",
					       "brands",  "notes",	  NULL};
	struct kb_cuda_release *rel = entry;
	json_t *branches, *b;
	size_t j, old;
	int ret;

	if ((ret = kb_check_type(rd, item, KB_OBJECT)) ||
	    (ret = kb_check_keys(rd, item, rel_keys)) ||
	    (ret = kb_get_str(rd, item, "version", 1, &rel->version)))
		return ret;
	if (kb_parse_version(rel->version, &rel->major, &rel->minor, &rel->patch) ||
	    rel->patch < 0) {
		kb_push_key(rd, "version");
		return kb_fail(rd, "expected a version like 12.4.1, got '%s'", rel->version);
	}
	if ((ret = kb_seen(rd, keys, paths, rel->version, "version")) ||
	    (ret = kb_get_str(rd, item, "cudnn_tag", 0, &rel->cudnn_tag)) ||
	    (ret = kb_get_str(rd, item, "cudnn_version", 0, &rel->cudnn_version)) ||
	    (ret = kb_get_str(rd, item, "driver", 0, &rel->driver)) ||
	    (ret = kb_get_str(rd, item, "driver_floor", 0, &rel->driver_floor)) ||
	    (ret = kb_get_str(rd, item, "unverified", 0, &rel->unverified)) ||
	    (ret = kb_get_str(rd, item, "brands", 1, &rel->brands)) ||
	    (ret = kb_get(rd, item, "require_branches", KB_ARRAY, 1, &branches)))
		return ret;
	/* A tag without a version is allowed: NVIDIA's images exist but
	 * what they carry is unknown (bases.json may say it per image). */
	if (rel->cudnn_version && !rel->cudnn_tag)
		return kb_fail(rd, "cudnn_version needs cudnn_tag");
	old = kb_push_key(rd, "require_branches");
	if (json_array_size(branches) > sizeof(rel->branches) / sizeof(rel->branches[0]))
		return kb_fail(rd, "more than %zu branches",
			       sizeof(rel->branches) / sizeof(rel->branches[0]));
	json_array_foreach(branches, j, b)
	{
		size_t o2 = kb_push_index(rd, j);

		if ((ret = kb_check_type(rd, b, KB_INT)))
			return ret;
		kb_pop(rd, o2);
		rel->branches[rel->branches_nr++] = (long)json_integer_value(b);
	}
	kb_pop(rd, old);
	rel->origin = kb_origin(rd);
	return 0;
}

static int kb_load_cuda(struct knowledge *kb, struct kb_reader *rd, json_t *root)
{
	static const char *const top_keys[] = {"schema_version", "notes", "brand_sets", "releases",
					       NULL};
	static const struct kb_keyed sets = {"brand_sets", sizeof(struct kb_brand_set),
					     offsetof(struct kb_brand_set, name), kb_load_brand_set,
					     kb_release_brand_set};
	static const struct kb_keyed releases = {"releases", sizeof(struct kb_cuda_release),
						 offsetof(struct kb_cuda_release, version),
						 kb_load_cuda_release, kb_release_cuda};
	json_t *arr;
	void *table;
	int ret;

	if ((ret = kb_check_keys(rd, root, top_keys)) ||
	    (ret = kb_get(rd, root, "brand_sets", KB_ARRAY, 0, &arr)))
		return ret;
	table = kb->brand_sets;
	ret = kb_load_keyed(rd, arr, &sets, &table, &kb->brand_sets_nr);
	kb->brand_sets = table;
	if (ret || (ret = kb_get(rd, root, "releases", KB_ARRAY, 0, &arr)))
		return ret;
	table = kb->cuda;
	ret = kb_load_keyed(rd, arr, &releases, &table, &kb->cuda_nr);
	kb->cuda = table;
	return ret;
}

/* ---- bases.json ------------------------------------------------------- */

static int kb_load_image(struct kb_reader *rd, json_t *item, void *entry, struct vec *keys,
			 struct vec *paths)
{
	static const char *const img_keys[] = {"version", "cudnn_version", "os", "notes", NULL};
	struct kb_base_image *img = entry;
	const char *os;
	json_t *map, *flavors;
	int ret;

	if ((ret = kb_check_type(rd, item, KB_OBJECT)) ||
	    (ret = kb_check_keys(rd, item, img_keys)) ||
	    (ret = kb_get_str(rd, item, "version", 1, &img->version)) ||
	    (ret = kb_get_str(rd, item, "cudnn_version", 0, &img->cudnn_version)))
		return ret;
	{
		json_t *u = json_object_get(item, "unverified"), *v;
		const char *k;

		if (json_is_object(u)) {
			json_object_foreach(u, k, v) if (!json_is_string(v))
			{
				kb_push_key(rd, "unverified");
				kb_push_key(rd, k);
				return kb_fail(rd, "expected a string");
			}
		}
		img->unverified = u;
	}
	if (kb_parse_version(img->version, &img->major, &img->minor, &img->patch) ||
	    img->patch < 0) {
		size_t old = kb_push_key(rd, "version");

		ret = kb_fail(rd, "expected a version like 12.4.1, got '%s'", img->version);
		kb_pop(rd, old);
		return ret;
	}
	if ((ret = kb_get(rd, item, "os", KB_OBJECT, 1, &map)))
		return ret;
	json_object_foreach(map, os, flavors)
	{
		struct kb_image_os *ios;
		size_t old = kb_push_key(rd, "os");

		img->os = kb_grow(img->os, img->os_nr, sizeof(*img->os));
		ios = &img->os[img->os_nr++];
		ios->os = os;
		vec_init(&ios->flavors, NULL);
		if ((ret = kb_get_strlist(rd, map, os, 1, &ios->flavors)))
			return ret;
		for (size_t i = 0; i < ios->flavors.nr; i++) {
			size_t k;

			for (k = 0; kb_flavor_names[k]; k++)
				if (!strcmp(kb_flavor_names[k], ios->flavors.items[i]))
					break;
			if (!kb_flavor_names[k]) {
				kb_push_key(rd, os);
				kb_push_index(rd, i);
				return kb_fail(rd,
					       "unknown flavor '%s'; known: base, runtime, devel, "
					       "cudnn-runtime, cudnn-devel",
					       (const char *)ios->flavors.items[i]);
			}
		}
		kb_pop(rd, old);
	}
	img->origin = kb_origin(rd);
	return kb_seen(rd, keys, paths, img->version, "version");
}

static int kb_load_bases(struct knowledge *kb, struct kb_reader *rd, json_t *root)
{
	static const char *const top_keys[] = {"schema_version", "notes", "repositories", NULL};
	static const char *const repo_keys[] = {"repository", "tag_template", "notes", "images",
						NULL};
	static const struct kb_keyed image_table = {"images", sizeof(struct kb_base_image),
						    offsetof(struct kb_base_image, version),
						    kb_load_image, kb_release_image};
	struct vec keys = VEC_INIT(NULL), paths = VEC_INIT(free);
	json_t *arr, *item;
	size_t i;
	int ret;

	if ((ret = kb_check_keys(rd, root, top_keys)) ||
	    (ret = kb_get(rd, root, "repositories", KB_ARRAY, 0, &arr)))
		goto done;
	for (i = 0; arr && i < json_array_size(arr); i++) {
		struct kb_repository *repo;
		const char *name, *tmpl;
		json_t *images;
		void *table;
		size_t j, old = kb_push_key(rd, "repositories");

		kb_push_index(rd, i);
		item = json_array_get(arr, i);
		if ((ret = kb_check_type(rd, item, KB_OBJECT)) ||
		    (ret = kb_check_keys(rd, item, repo_keys)) ||
		    (ret = kb_get_str(rd, item, "repository", 1, &name)) ||
		    (ret = kb_seen(rd, &keys, &paths, name, "repository")) ||
		    (ret = kb_get_str(rd, item, "tag_template", 0, &tmpl)) ||
		    (ret = kb_get(rd, item, "images", KB_ARRAY, 0, &images)))
			goto done;
		for (j = 0; j < kb->repos_nr; j++)
			if (!strcmp(kb->repos[j].name, name))
				break;
		if (j == kb->repos_nr) {
			kb->repos = kb_grow(kb->repos, kb->repos_nr++, sizeof(*kb->repos));
			kb->repos[j].name = name;
			kb->repos[j].origin = kb_origin(rd);
		}
		repo = &kb->repos[j];
		if (tmpl)
			repo->tag_template = tmpl;
		table = repo->images;
		ret = kb_load_keyed(rd, images, &image_table, &table, &repo->images_nr);
		repo->images = table;
		if (ret)
			goto done;
		kb_pop(rd, old);
	}
done:
	vec_release(&keys);
	vec_release(&paths);
	return ret;
}

/* ---- os.json ---------------------------------------------------------- */

static int kb_load_pkgs(struct kb_reader *rd, json_t *obj, struct kb_python_pkgs *p)
{
	int ret;

	vec_init(&p->builder, NULL);
	vec_init(&p->final, NULL);
	if ((ret = kb_get_strlist(rd, obj, "builder", 1, &p->builder)) ||
	    (ret = kb_get_strlist(rd, obj, "final", 1, &p->final)))
		return ret;
	return 0;
}

/* "2024-04": ordered by strcmp(). */
static int kb_is_year_month(const char *s)
{
	for (int i = 0; i < 7; i++)
		if (i == 4 ? s[i] != '-' : !isdigit((unsigned char)s[i]))
			return 0;
	return !s[7] && (s[5] == '0' ? s[6] != '0' : s[5] == '1' && s[6] <= '2');
}

static int kb_load_one_os(struct kb_reader *rd, json_t *item, void *entry, struct vec *keys,
			  struct vec *paths)
{
	static const char *const os_keys[] = {
	    "name",	    "family",	  "package_manager", "python_default",
	    "pythons",	    "python_bin", "python_packages", "python_package_overrides",
	    "lts",	    "released",	  "notes",	     "glibc",
	    "glibc_source", NULL};
	static const char *const pkg_keys[] = {"builder", "final", NULL};
	static const char *const ovr_keys[] = {"python", "builder", "final", NULL};
	struct kb_os *os = entry;
	json_t *pkgs, *ovr;
	size_t old;
	int ret;

	vec_init(&os->pythons, NULL);
	vec_init(&os->pkgs.builder, NULL);
	vec_init(&os->pkgs.final, NULL);
	if ((ret = kb_check_type(rd, item, KB_OBJECT)) ||
	    (ret = kb_check_keys(rd, item, os_keys)) ||
	    (ret = kb_get_str(rd, item, "name", 1, &os->name)) ||
	    (ret = kb_get_str(rd, item, "unverified", 0, &os->unverified)) ||
	    (ret = kb_get_str(rd, item, "family", 1, &os->family)) ||
	    (ret = kb_get_str(rd, item, "package_manager", 1, &os->package_manager)) ||
	    (ret = kb_get_str(rd, item, "python_default", 0, &os->python_default)) ||
	    (ret = kb_get_str(rd, item, "python_bin", 1, &os->python_bin)) ||
	    (ret = kb_get_bool(rd, item, "lts", &os->lts)) ||
	    (ret = kb_get_str(rd, item, "released", 0, &os->released)) ||
	    (ret = kb_get_str(rd, item, "glibc", 0, &os->glibc)) ||
	    (ret = kb_get_strlist(rd, item, "pythons", 1, &os->pythons)) ||
	    (ret = kb_get(rd, item, "python_packages", KB_OBJECT, 1, &pkgs)) ||
	    (ret = kb_get(rd, item, "python_package_overrides", KB_ARRAY, 0, &ovr)))
		return ret;
	old = kb_push_key(rd, "python_packages");
	if ((ret = kb_check_keys(rd, pkgs, pkg_keys)) || (ret = kb_load_pkgs(rd, pkgs, &os->pkgs)))
		return ret;
	kb_pop(rd, old);
	for (size_t i = 0; ovr && i < json_array_size(ovr); i++) {
		json_t *o = json_array_get(ovr, i);
		struct kb_python_pkgs *p;

		old = kb_push_key(rd, "python_package_overrides");
		kb_push_index(rd, i);
		os->overrides = kb_grow(os->overrides, os->overrides_nr, sizeof(*os->overrides));
		p = &os->overrides[os->overrides_nr++];
		if ((ret = kb_check_type(rd, o, KB_OBJECT)) ||
		    (ret = kb_check_keys(rd, o, ovr_keys)) ||
		    (ret = kb_get_str(rd, o, "python", 1, &p->python)) ||
		    (ret = kb_load_pkgs(rd, o, p)))
			return ret;
		kb_pop(rd, old);
	}
	if (os->python_default && !kb_os_has_python(os, os->python_default)) {
		old = kb_push_key(rd, "python_default");
		ret = kb_fail(rd, "'%s' is not in pythons", os->python_default);
		kb_pop(rd, old);
		return ret;
	}
	if (os->glibc) {
		unsigned gmaj, gmin;
		char end;

		if (sscanf(os->glibc, "%u.%u%c", &gmaj, &gmin, &end) != 2) {
			old = kb_push_key(rd, "glibc");
			ret = kb_fail(rd, "expected a glibc version like \"2.35\", got '%s'",
				      os->glibc);
			kb_pop(rd, old);
			return ret;
		}
	}
	os->lts = os->lts > 0;
	if (os->released && !kb_is_year_month(os->released)) {
		old = kb_push_key(rd, "released");
		ret = kb_fail(rd, "expected a year and month like \"2024-04\", got '%s'",
			      os->released);
		kb_pop(rd, old);
		return ret;
	}
	if (os->lts && !os->released)
		return kb_fail(rd, "missing key 'released' (an lts system needs it: the default "
				   "base.os is the newest)");
	if (strcmp(os->package_manager, "apt") && strcmp(os->package_manager, "dnf")) {
		old = kb_push_key(rd, "package_manager");
		ret = kb_fail(rd, "expected apt or dnf, got '%s'", os->package_manager);
		kb_pop(rd, old);
		return ret;
	}
	os->origin = kb_origin(rd);
	return kb_seen(rd, keys, paths, os->name, "name");
}

static int kb_load_os(struct knowledge *kb, struct kb_reader *rd, json_t *root)
{
	static const char *const top_keys[] = {"schema_version", "notes", "systems",
					       "default_family", NULL};
	static const struct kb_keyed systems = {"systems", sizeof(struct kb_os),
						offsetof(struct kb_os, name), kb_load_one_os,
						kb_release_os};
	const char *family;
	json_t *arr;
	void *table;
	int ret;

	if ((ret = kb_check_keys(rd, root, top_keys)) ||
	    (ret = kb_get_str(rd, root, "default_family", 0, &family)) ||
	    (ret = kb_get(rd, root, "systems", KB_ARRAY, 0, &arr)))
		return ret;
	if (family) {
		size_t old = kb_push_key(rd, "default_family");

		kb->default_os_family = family;
		free(kb->default_os_origin);
		kb->default_os_origin = kb_origin(rd);
		kb_pop(rd, old);
	}
	table = kb->systems;
	ret = kb_load_keyed(rd, arr, &systems, &table, &kb->systems_nr);
	kb->systems = table;
	return ret;
}

/* ---- frameworks.json -------------------------------------------------- */

static int kb_load_fw_release(struct kb_reader *rd, json_t *item, void *entry, struct vec *keys,
			      struct vec *paths)
{
	static const char *const rel_keys[] = {
	    "version", "variants",    "default_variant", "python_min", "python_max",
	    "pairs",   "cuda_majors", "cudnn_major",	 "notes",      NULL};
	struct kb_fw_release *rel = entry;
	json_t *pairs, *majors, *v;
	const char *key;
	size_t i, old;
	int ret;

	vec_init(&rel->variants, NULL);
	vec_init(&rel->pair_names, NULL);
	vec_init(&rel->pair_versions, NULL);
	if ((ret = kb_check_type(rd, item, KB_OBJECT)) ||
	    (ret = kb_check_keys(rd, item, rel_keys)) ||
	    (ret = kb_get_str(rd, item, "version", 1, &rel->version)) ||
	    (ret = kb_get_strlist(rd, item, "variants", 0, &rel->variants)) ||
	    (ret = kb_get_str(rd, item, "default_variant", 0, &rel->default_variant)) ||
	    (ret = kb_get_str(rd, item, "python_min", 0, &rel->python_min)) ||
	    (ret = kb_get_str(rd, item, "python_max", 0, &rel->python_max)) ||
	    (ret = kb_get_str(rd, item, "unverified", 0, &rel->unverified)) ||
	    (ret = kb_get(rd, item, "pairs", KB_OBJECT, 0, &pairs)) ||
	    (ret = kb_get(rd, item, "cuda_majors", KB_ARRAY, 0, &majors)) ||
	    (ret = kb_get(rd, item, "cudnn_major", KB_INT, 0, &v)))
		return ret;
	rel->cudnn_major = v ? (long)json_integer_value(v) : 0;
	for (i = 0; i < rel->variants.nr; i++) {
		const char *var = rel->variants.items[i];

		/* "cu124": CUDA 12.4; the last digit is the minor. */
		if (!starts_with(var, "cu") || strlen(var) < 4 ||
		    strspn(var + 2, "0123456789") != strlen(var + 2)) {
			old = kb_push_key(rd, "variants");
			kb_push_index(rd, i);
			ret =
			    kb_fail(rd, "expected a CUDA wheel variant like cu124, got '%s'", var);
			kb_pop(rd, old);
			return ret;
		}
	}
	if (rel->default_variant && vec_findstr(&rel->variants, rel->default_variant) < 0) {
		old = kb_push_key(rd, "default_variant");
		ret = kb_fail(rd, "'%s' is not in variants", rel->default_variant);
		kb_pop(rd, old);
		return ret;
	}
	if (pairs) {
		old = kb_push_key(rd, "pairs");
		json_object_foreach(pairs, key, v)
		{
			size_t o2 = kb_push_key(rd, key);

			if ((ret = kb_check_type(rd, v, KB_STRING)))
				return ret;
			kb_pop(rd, o2);
			vec_push(&rel->pair_names, (void *)key);
			vec_push(&rel->pair_versions, (void *)json_string_value(v));
		}
		kb_pop(rd, old);
	}
	if (majors) {
		old = kb_push_key(rd, "cuda_majors");
		if (json_array_size(majors) >
		    sizeof(rel->cuda_majors) / sizeof(rel->cuda_majors[0]))
			return kb_fail(rd, "too many entries");
		json_array_foreach(majors, i, v)
		{
			size_t o2 = kb_push_index(rd, i);

			if ((ret = kb_check_type(rd, v, KB_INT)))
				return ret;
			kb_pop(rd, o2);
			rel->cuda_majors[rel->cuda_majors_nr++] = (long)json_integer_value(v);
		}
		kb_pop(rd, old);
	}
	rel->origin = kb_origin(rd);
	return kb_seen(rd, keys, paths, rel->version, "version");
}

/* "smoke": [{"name", "run": [...], "gpu", "expect", "reject", "any_exit", "timeout"}] */
static int kb_load_fw_smoke(struct kb_reader *rd, json_t *arr, struct kb_smoke **out,
			    size_t *out_nr)
{
	static const char *const smoke_keys[] = {"name",     "run",	"gpu",	 "expect", "reject",
						 "any_exit", "timeout", "notes", NULL};
	struct kb_smoke *sm = xcalloc(json_array_size(arr) + 1, sizeof(*sm));
	size_t i, nr = 0, old = kb_push_key(rd, "smoke");
	json_t *item, *t;
	int ret = 0;

	json_array_foreach(arr, i, item)
	{
		size_t o2 = kb_push_index(rd, i);
		struct kb_smoke *s = &sm[nr];

		vec_init(&s->run, NULL);
		nr++;
		if ((ret = kb_check_type(rd, item, KB_OBJECT)) ||
		    (ret = kb_check_keys(rd, item, smoke_keys)) ||
		    (ret = kb_get_str(rd, item, "name", 1, &s->name)) ||
		    (ret = kb_get_bool(rd, item, "gpu", &s->gpu)) ||
		    (ret = kb_get_str(rd, item, "expect", 0, &s->expect)) ||
		    (ret = kb_get_str(rd, item, "reject", 0, &s->reject)) ||
		    (ret = kb_get_bool(rd, item, "any_exit", &s->any_exit)) ||
		    (ret = kb_get(rd, item, "timeout", KB_INT, 0, &t)))
			goto done;
		/* An argv may repeat an argument: no kb_get_strlist() here. */
		{
			json_t *run, *a;
			size_t k;

			if ((ret = kb_get(rd, item, "run", KB_ARRAY, 1, &run)))
				goto done;
			json_array_foreach(run, k, a)
			{
				if (!json_is_string(a)) {
					kb_push_key(rd, "run");
					kb_push_index(rd, k);
					ret = kb_fail(rd, "expected a string");
					goto done;
				}
				vec_push(&s->run, (void *)json_string_value(a));
			}
			if (!s->run.nr) {
				kb_push_key(rd, "run");
				ret = kb_fail(rd, "expected at least one argument");
				goto done;
			}
		}
		s->gpu = s->gpu > 0;
		s->any_exit = s->any_exit > 0;
		s->timeout = t ? (long)json_integer_value(t) : 0;
		if (s->timeout < 0) {
			kb_push_key(rd, "timeout");
			ret = kb_fail(rd, "expected a positive number of seconds");
			goto done;
		}
		kb_pop(rd, o2);
	}
done:
	kb_pop(rd, old);
	if (ret) {
		kb_release_smoke(sm, nr);
		return ret;
	}
	*out = sm;
	*out_nr = nr;
	return 0;
}

static int kb_load_frameworks(struct knowledge *kb, struct kb_reader *rd, json_t *root)
{
	static const char *const top_keys[] = {"schema_version", "notes", "frameworks", NULL};
	static const char *const fw_keys[] = {
	    "name",	   "pip_name",	      "parent",	     "index_url_template",
	    "brings_cuda", "needs_base_cuda", "needs_cudnn", "notes",
	    "releases",	   "smoke",	      NULL};
	static const struct kb_keyed release_table = {"releases", sizeof(struct kb_fw_release),
						      offsetof(struct kb_fw_release, version),
						      kb_load_fw_release, kb_release_fw_release};
	struct vec keys = VEC_INIT(NULL), paths = VEC_INIT(free);
	json_t *arr, *item;
	size_t i;
	int ret;

	if ((ret = kb_check_keys(rd, root, top_keys)) ||
	    (ret = kb_get(rd, root, "frameworks", KB_ARRAY, 0, &arr)))
		goto done;
	for (i = 0; arr && i < json_array_size(arr); i++) {
		const char *name, *pip_name, *parent, *tmpl;
		int brings, needs_base, needs_cudnn;
		json_t *releases, *smoke;
		struct kb_framework *fw;
		void *table;
		size_t j, old = kb_push_key(rd, "frameworks");

		kb_push_index(rd, i);
		item = json_array_get(arr, i);
		if ((ret = kb_check_type(rd, item, KB_OBJECT)) ||
		    (ret = kb_check_keys(rd, item, fw_keys)) ||
		    (ret = kb_get_str(rd, item, "name", 1, &name)) ||
		    (ret = kb_seen(rd, &keys, &paths, name, "name")) ||
		    (ret = kb_get_str(rd, item, "pip_name", 0, &pip_name)) ||
		    (ret = kb_get_str(rd, item, "parent", 0, &parent)) ||
		    (ret = kb_get_str(rd, item, "index_url_template", 0, &tmpl)) ||
		    (ret = kb_get_bool(rd, item, "brings_cuda", &brings)) ||
		    (ret = kb_get_bool(rd, item, "needs_base_cuda", &needs_base)) ||
		    (ret = kb_get_bool(rd, item, "needs_cudnn", &needs_cudnn)) ||
		    (ret = kb_get(rd, item, "releases", KB_ARRAY, 0, &releases)) ||
		    (ret = kb_get(rd, item, "smoke", KB_ARRAY, 0, &smoke)))
			goto done;
		/* A later file may name an existing framework only to add a
		 * release: fields it leaves out keep their earlier value. */
		for (j = 0; j < kb->frameworks_nr; j++)
			if (!strcmp(kb->frameworks[j].name, name))
				break;
		if (j == kb->frameworks_nr) {
			kb->frameworks =
			    kb_grow(kb->frameworks, kb->frameworks_nr++, sizeof(*kb->frameworks));
			kb->frameworks[j].name = name;
			kb->frameworks[j].pip_name = name;
			kb->frameworks[j].origin = kb_origin(rd);
		}
		fw = &kb->frameworks[j];
		if (pip_name)
			fw->pip_name = pip_name;
		if (parent)
			fw->parent = parent;
		if (tmpl)
			fw->index_url_template = tmpl;
		if (brings >= 0)
			fw->brings_cuda = brings;
		if (needs_base >= 0)
			fw->needs_base_cuda = needs_base;
		if (needs_cudnn >= 0)
			fw->needs_cudnn = needs_cudnn;
		if (smoke) {
			struct kb_smoke *sm;
			size_t sm_nr;

			if ((ret = kb_load_fw_smoke(rd, smoke, &sm, &sm_nr)))
				goto done;
			kb_release_smoke(fw->smoke, fw->smoke_nr);
			fw->smoke = sm;
			fw->smoke_nr = sm_nr;
		}
		table = fw->releases;
		ret = kb_load_keyed(rd, releases, &release_table, &table, &fw->releases_nr);
		fw->releases = table;
		if (ret)
			goto done;
		kb_pop(rd, old);
	}
done:
	vec_release(&keys);
	vec_release(&paths);
	return ret;
}

/* ---- libraries.json --------------------------------------------------- */

static int kb_load_dlopen_rule(struct kb_reader *rd, json_t *item, void *entry, struct vec *keys,
			       struct vec *paths)
{
	static const char *const rule_keys[] = {"soname", "loads", "notes", NULL};
	struct kb_dlopen_rule *rule = entry;
	int ret;

	vec_init(&rule->loads, NULL);
	if ((ret = kb_check_type(rd, item, KB_OBJECT)) ||
	    (ret = kb_check_keys(rd, item, rule_keys)) ||
	    (ret = kb_get_str(rd, item, "soname", 1, &rule->soname)) ||
	    (ret = kb_seen(rd, keys, paths, rule->soname, "soname")) ||
	    (ret = kb_get_strlist(rd, item, "loads", 1, &rule->loads)))
		return ret;
	return 0;
}

static int kb_load_flavor_libs(struct kb_reader *rd, json_t *item, void *entry, struct vec *keys,
			       struct vec *paths)
{
	static const char *const flavor_keys[] = {"flavor",	    "inherits", "provides",
						  "provides_until", "notes",	NULL};
	struct kb_flavor_libs *fl = entry;
	json_t *until, *v;
	const char *name;
	int ret;

	vec_init(&fl->provides, NULL);
	vec_init(&fl->until_names, NULL);
	vec_init(&fl->until_versions, NULL);
	if ((ret = kb_check_type(rd, item, KB_OBJECT)) ||
	    (ret = kb_check_keys(rd, item, flavor_keys)) ||
	    (ret = kb_get_str(rd, item, "flavor", 1, &fl->flavor)) ||
	    (ret = kb_seen(rd, keys, paths, fl->flavor, "flavor")) ||
	    (ret = kb_get_str(rd, item, "inherits", 0, &fl->inherits)) ||
	    (ret = kb_get_strlist(rd, item, "provides", 1, &fl->provides)) ||
	    (ret = kb_get(rd, item, "provides_until", KB_OBJECT, 0, &until)))
		return ret;
	json_object_foreach(until, name, v)
	{
		size_t old = kb_push_key(rd, "provides_until");
		int ma, mi, pa;

		kb_push_key(rd, name);
		if ((ret = kb_check_type(rd, v, KB_STRING)))
			return ret;
		if (vec_findstr(&fl->provides, name) < 0)
			return kb_fail(rd, "'%s' is not in provides", name);
		if (kb_parse_version(json_string_value(v), &ma, &mi, &pa) || pa >= 0)
			return kb_fail(rd, "expected a CUDA major.minor like 12.8, got '%s'",
				       json_string_value(v));
		kb_pop(rd, old);
		vec_push(&fl->until_names, (void *)name);
		vec_push(&fl->until_versions, (void *)json_string_value(v));
	}
	fl->origin = kb_origin(rd);
	return 0;
}

static int kb_load_component(struct kb_reader *rd, json_t *item, void *entry, struct vec *keys,
			     struct vec *paths)
{
	static const char *const comp_keys[] = {"name", "patterns", "notes", NULL};
	struct kb_component *comp = entry;
	int ret;

	vec_init(&comp->patterns, NULL);
	if ((ret = kb_check_type(rd, item, KB_OBJECT)) ||
	    (ret = kb_check_keys(rd, item, comp_keys)) ||
	    (ret = kb_get_str(rd, item, "name", 1, &comp->name)) ||
	    (ret = kb_seen(rd, keys, paths, comp->name, "name")) ||
	    (ret = kb_get_strlist(rd, item, "patterns", 1, &comp->patterns)))
		return ret;
	return 0;
}

/* The list at `key` (absent: none) joined to `into`: what a later plugin
 * directory lists adds to the earlier ones. */
static int kb_union_strlist(struct kb_reader *rd, json_t *root, const char *key, struct vec *into)
{
	struct vec add = VEC_INIT(NULL);
	int ret = kb_get_strlist(rd, root, key, 0, &add);

	for (size_t i = 0; !ret && i < add.nr; i++)
		if (vec_findstr(into, add.items[i]) < 0)
			vec_push(into, add.items[i]);
	vec_release(&add);
	return ret;
}

static int kb_load_cache(struct kb_reader *rd, json_t *item, void *entry, struct vec *keys,
			 struct vec *paths)
{
	static const char *const cache_keys[] = {"kind", "paths", "except", "notes", NULL};
	struct kb_cache *c = entry;
	int ret;

	vec_init(&c->paths, NULL);
	vec_init(&c->except, NULL);
	if ((ret = kb_check_type(rd, item, KB_OBJECT)) ||
	    (ret = kb_check_keys(rd, item, cache_keys)) ||
	    (ret = kb_get_str(rd, item, "kind", 1, &c->kind)) ||
	    (ret = kb_seen(rd, keys, paths, c->kind, "kind")) ||
	    (ret = kb_get_strlist(rd, item, "paths", 1, &c->paths)) ||
	    (ret = kb_get_strlist(rd, item, "except", 0, &c->except)))
		return ret;
	return 0;
}

/* What the analyzer looks for (struct kb_analysis), from libraries.json. */
static int kb_load_analysis(struct kb_analysis *a, struct kb_reader *rd, json_t *root)
{
	static const struct kb_keyed caches = {"caches", sizeof(struct kb_cache),
					       offsetof(struct kb_cache, kind), kb_load_cache,
					       kb_release_cache};
	json_t *arr;
	void *table;
	int ret;

	if ((ret = kb_union_strlist(rd, root, "devel_tools", &a->devel_tools)) ||
	    (ret = kb_union_strlist(rd, root, "interpreters", &a->interpreters)) ||
	    (ret = kb_union_strlist(rd, root, "library_dirs", &a->library_dirs)) ||
	    (ret = kb_union_strlist(rd, root, "test_dirs", &a->test_dirs)) ||
	    (ret = kb_union_strlist(rd, root, "site_dirs", &a->site_dirs)) ||
	    (ret = kb_get(rd, root, "caches", KB_ARRAY, 0, &arr)))
		return ret;
	table = a->caches;
	ret = kb_load_keyed(rd, arr, &caches, &table, &a->caches_nr);
	a->caches = table;
	return ret;
}

static int kb_load_libraries(struct knowledge *kb, struct kb_reader *rd, json_t *root)
{
	static const char *const top_keys[] = {"schema_version",
					       "notes",
					       "driver_sonames",
					       "dlopen",
					       "flavors",
					       "components",
					       "devel_tools",
					       "interpreters",
					       "library_dirs",
					       "test_dirs",
					       "site_dirs",
					       "caches",
					       NULL};
	static const struct kb_keyed rules = {"dlopen", sizeof(struct kb_dlopen_rule),
					      offsetof(struct kb_dlopen_rule, soname),
					      kb_load_dlopen_rule, kb_release_dlopen_rule};
	static const struct kb_keyed flavors = {"flavors", sizeof(struct kb_flavor_libs),
						offsetof(struct kb_flavor_libs, flavor),
						kb_load_flavor_libs, kb_release_flavor_libs};
	static const struct kb_keyed components = {"components", sizeof(struct kb_component),
						   offsetof(struct kb_component, name),
						   kb_load_component, kb_release_component};
	json_t *arr;
	void *table;
	int ret;

	if ((ret = kb_check_keys(rd, root, top_keys)) ||
	    (ret = kb_union_strlist(rd, root, "driver_sonames", &kb->driver_sonames)) ||
	    (ret = kb_load_analysis(&kb->analysis, rd, root)))
		goto done;
	if ((ret = kb_get(rd, root, "dlopen", KB_ARRAY, 0, &arr)))
		goto done;
	table = kb->dlopen;
	ret = kb_load_keyed(rd, arr, &rules, &table, &kb->dlopen_nr);
	kb->dlopen = table;
	if (ret || (ret = kb_get(rd, root, "flavors", KB_ARRAY, 0, &arr)))
		goto done;
	table = kb->flavor_libs;
	ret = kb_load_keyed(rd, arr, &flavors, &table, &kb->flavor_libs_nr);
	kb->flavor_libs = table;
	if (ret || (ret = kb_get(rd, root, "components", KB_ARRAY, 0, &arr)))
		goto done;
	table = kb->components;
	ret = kb_load_keyed(rd, arr, &components, &table, &kb->components_nr);
	kb->components = table;
done:
	return ret;
}

/* ---- render.json ------------------------------------------------------ */

static int kb_load_render(struct knowledge *kb, struct kb_reader *rd, json_t *root)
{
	static const char *const top_keys[] = {"schema_version",      "notes",
					       "uv_version",	      "uv_url",
					       "apt_nodocs",	      "os_site_packages",
					       "os_python_dirs",      "library_dirs",
					       "prune_tests",	      "prune_examples",
					       "prune_headers",	      "prune_static_libs",
					       "prune_docs",	      "base_cuda_lib_dirs",
					       "wheel_cuda_lib_dirs", "prune_test_programs",
					       "closure_always",      NULL};
	struct kb_render *r = &kb->render;
	const char *s;
	int ret;

	if ((ret = kb_check_keys(rd, root, top_keys)))
		return ret;
	/* a key this file lacks keeps the earlier file's value */
	if ((ret = kb_get_str(rd, root, "uv_version", 0, &s)))
		return ret;
	r->uv_version = s ? s : r->uv_version;
	if ((ret = kb_get_str(rd, root, "uv_url", 0, &s)))
		return ret;
	r->uv_url = s ? s : r->uv_url;
	for (size_t i = 0; i < sizeof(kb_render_lists) / sizeof(*kb_render_lists); i++)
		if (json_object_get(root, kb_render_lists[i].key) &&
		    (ret =
			 kb_get_strlist(rd, root, kb_render_lists[i].key, 0, kb_render_list(r, i))))
			return ret;
	return 0;
}

/* ---- files and directories -------------------------------------------- */

/* Each file read adds "NAME\0SHA256\n" to `h` (the plugins' version, for
 * the lock): the bytes gpuslim used, not where they were installed. */
static int kb_load_file(struct knowledge *kb, const char *path, size_t which, struct hash_sha256 *h)
{
	struct kb_reader rd = {path, STRBUF_INIT};
	struct strbuf bytes = STRBUF_INIT;
	json_error_t jerr;
	json_t *root, *ver;
	char hex[65];
	int ret = 0;

	if ((ret = fs_read_file(path, &bytes, 0)) < 0) {
		ret = GS_EINVAL;
		goto done;
	}
	hash_sha256_hex(bytes.buf ? bytes.buf : "", bytes.len, hex);
	hash_sha256_update(h, kb_files[which], strlen(kb_files[which]) + 1);
	hash_sha256_update(h, hex, strlen(hex));
	hash_sha256_update(h, "\n", 1);
	root = json_loadb(bytes.buf ? bytes.buf : "", bytes.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		struct diag d;

		diag_set(&d, path, (struct rpos){jerr.line > 0 ? jerr.line : 0, jerr.column}, NULL,
			 "%s", jerr.text);
		ret = GS_EINVAL;
		diag_push(NULL, 0, &d, 0);
		diag_release(&d);
		goto done;
	}
	vec_push(&kb->docs, root);
	if (!json_is_object(root)) {
		ret = kb_fail(&rd, "expected a JSON object");
		goto done;
	}
	if ((ret = kb_get(&rd, root, "schema_version", KB_INT, 1, &ver)))
		goto done;
	if (json_integer_value(ver) != KB_SCHEMA_VERSION) {
		ret = kb_fail(&rd, "schema_version: expected %d, got %lld", KB_SCHEMA_VERSION,
			      (long long)json_integer_value(ver));
		goto done;
	}
	{
		/* "refreshed": the oldest file is how old the knowledge is. */
		const char *t = json_string_value(json_object_get(root, "refreshed"));

		if (t && (strlen(t) != 20 || t[4] != '-' || t[10] != 'T' || t[19] != 'Z')) {
			ret = kb_fail(&rd,
				      "refreshed: expected a UTC time like "
				      "2026-12-03T12:00:00Z, got '%s'",
				      t);
			goto done;
		}
		if (t && (!kb->refreshed[0] || strcmp(t, kb->refreshed) < 0)) {
			snprintf(kb->refreshed, sizeof(kb->refreshed), "%s", t);
			free(kb->refreshed_file);
			kb->refreshed_file = xstrdup(path);
		}
	}
	switch (which) {
	case 0:
		ret = kb_load_cuda(kb, &rd, root);
		break;
	case 1:
		ret = kb_load_bases(kb, &rd, root);
		break;
	case 2:
		ret = kb_load_os(kb, &rd, root);
		break;
	case 3:
		ret = kb_load_frameworks(kb, &rd, root);
		break;
	case 4:
		ret = kb_load_libraries(kb, &rd, root);
		break;
	default:
		ret = kb_load_render(kb, &rd, root);
		break;
	}
done:
	strbuf_release(&bytes);
	strbuf_release(&rd.path);
	return ret;
}

static int kb_load_dir(struct knowledge *kb, const char *dir, struct hash_sha256 *h)
{
	DIR *d = NULL;
	struct dirent *de;
	int ret = 0;

	if (!fs_is_dir(dir)) {
		ret = error_setc(GS_EINVAL, "cannot read plugin directory '%s': not a directory",
				 dir);
		goto done;
	}
	d = opendir(dir);
	if (!d) {
		ret = error_setc(GS_EINVAL, "cannot read plugin directory '%s': %s", dir,
				 strerror(errno));
		goto done;
	}
	/* A misspelt file name would be a silently ignored plugin. */
	while ((de = readdir(d))) {
		size_t k;

		if (!ends_with(de->d_name, ".json"))
			continue;
		for (k = 0; kb_files[k]; k++)
			if (!strcmp(kb_files[k], de->d_name))
				break;
		if (!kb_files[k]) {
			ret = error_setc(GS_EINVAL,
					 "%s/%s: unknown plugin file; expected cuda.json, "
					 "bases.json, os.json, frameworks.json, libraries.json "
					 "or render.json",
					 dir, de->d_name);
			goto done;
		}
	}
	for (size_t k = 0; kb_files[k]; k++) {
		char *path = fs_join(dir, kb_files[k]);

		if (fs_exists(path))
			ret = kb_load_file(kb, path, k, h);
		free(path);
		if (ret)
			goto done;
	}
done:
	if (d)
		closedir(d);
	return ret;
}

/* Cross-file references, checked once every directory is in: a user file
 * may name a CUDA release another file adds. */
static int kb_check_refs(struct knowledge *kb)
{
	if (kb->default_os_family) {
		size_t i;

		for (i = 0; i < kb->systems_nr; i++)
			if (kb->systems[i].lts &&
			    !strcmp(kb->systems[i].family, kb->default_os_family))
				break;
		if (i == kb->systems_nr)
			return error_setc(GS_EINVAL, "%s: no lts system of family '%s'",
					  kb->default_os_origin, kb->default_os_family);
	}
	for (size_t i = 0; i < kb->cuda_nr; i++) {
		const struct kb_cuda_release *c = &kb->cuda[i];

		if (!kb_find_brand_set(kb, c->brands))
			return error_setc(GS_EINVAL, "%s.brands: unknown brand set '%s'", c->origin,
					  c->brands);
	}
	for (size_t i = 0; i < kb->repos_nr; i++) {
		const struct kb_repository *repo = &kb->repos[i];

		if (!repo->tag_template)
			return error_setc(GS_EINVAL, "%s: missing key 'tag_template'",
					  repo->origin);
		for (size_t j = 0; j < repo->images_nr; j++) {
			const struct kb_base_image *img = &repo->images[j];
			const struct kb_cuda_release *c = kb_find_cuda(kb, img->version);

			if (!c)
				return error_setc(GS_EINVAL,
						  "%s.version: CUDA %s has no release in cuda.json",
						  img->origin, img->version);
			if (img->cudnn_version && !c->cudnn_tag)
				return error_setc(GS_EINVAL,
						  "%s.cudnn_version: CUDA %s has no cudnn_tag in "
						  "cuda.json, so its images carry no cuDNN",
						  img->origin, img->version);
			for (size_t k = 0; k < img->os_nr; k++) {
				const struct kb_image_os *ios = &img->os[k];

				if (!kb_find_os(kb, ios->os))
					return error_setc(
					    GS_EINVAL, "%s.os.%s: unknown OS '%s' (not in os.json)",
					    img->origin, ios->os, ios->os);
				if (!c->cudnn_tag &&
				    (kb_image_os_has_flavor(ios, "cudnn-runtime") ||
				     kb_image_os_has_flavor(ios, "cudnn-devel")))
					return error_setc(
					    GS_EINVAL,
					    "%s.os.%s: CUDA %s has no cudnn_tag in cuda.json, so "
					    "it has no cudnn-* images",
					    img->origin, ios->os, img->version);
			}
		}
	}
	for (size_t i = 0; i < kb->frameworks_nr; i++) {
		const struct kb_framework *fw = &kb->frameworks[i];
		const struct kb_framework *parent =
		    fw->parent ? kb_find_framework(kb, fw->parent) : NULL;

		if (fw->parent && (!parent || parent->parent))
			return error_setc(GS_EINVAL, "%s.parent: '%s' is not a top-level framework",
					  fw->origin, fw->parent);
		for (size_t j = 0; j < fw->releases_nr; j++) {
			const struct kb_fw_release *rel = &fw->releases[j];

			for (size_t k = 0; k < rel->pair_names.nr; k++) {
				const struct kb_framework *child =
				    kb_find_framework(kb, rel->pair_names.items[k]);

				if (!child || !child->parent || strcmp(child->parent, fw->name))
					return error_setc(
					    GS_EINVAL, "%s.pairs.%s: no framework with parent '%s'",
					    rel->origin, (const char *)rel->pair_names.items[k],
					    fw->name);
			}
			if (rel->variants.nr && !fw->index_url_template)
				return error_setc(GS_EINVAL,
						  "%s: wheel variants need the framework's "
						  "index_url_template",
						  rel->origin);
		}
	}
	for (size_t i = 0; i < kb->flavor_libs_nr; i++) {
		const struct kb_flavor_libs *fl = &kb->flavor_libs[i];
		size_t depth = 0;

		for (const struct kb_flavor_libs *p = fl; p && p->inherits; depth++) {
			const struct kb_flavor_libs *up = kb_find_flavor_libs(kb, p->inherits);

			if (!up)
				return error_setc(GS_EINVAL, "%s.inherits: unknown flavor '%s'",
						  p->origin, p->inherits);
			if (depth > kb->flavor_libs_nr)
				return error_setc(GS_EINVAL, "%s.inherits: inherits in a cycle",
						  fl->origin);
			p = up;
		}
	}
	return 0;
}

int knowledge_load_dirs(struct knowledge **out, const struct vec *dirs)
{
	struct knowledge *kb = xcalloc(1, sizeof(*kb));
	struct hash_sha256 *h = hash_sha256_new();
	int ret = 0;

	*out = NULL;
	vec_init(&kb->docs, kb_decref);
	vec_init(&kb->driver_sonames, NULL);
	for (size_t i = 0; dirs && i < dirs->nr; i++)
		if ((ret = kb_load_dir(kb, dirs->items[i], h)))
			goto done;
	hash_sha256_final_hex(h, kb->sha256);
	ret = kb_check_refs(kb);
done:
	hash_sha256_free(h);
	if (ret)
		knowledge_free(kb);
	else
		*out = kb;
	return ret;
}

int knowledge_load(struct knowledge **out, const struct vec *extra_dirs)
{
	struct vec dirs = VEC_INIT(NULL);
	const char *builtin = knowledge_builtin_dir();
	int ret;

	vec_push(&dirs, (void *)builtin);
	for (size_t i = 0; extra_dirs && i < extra_dirs->nr; i++)
		vec_push(&dirs, extra_dirs->items[i]);
	ret = knowledge_load_dirs(out, &dirs);
	if (!ret && !(*out)->cuda_nr) {
		knowledge_free(*out);
		*out = NULL;
		ret = error_setc(GS_EINVAL,
				 "no CUDA releases in '%s': set GPUSLIM_PLUGIN_DIR to the plugins/ "
				 "directory",
				 builtin);
	}
	vec_release(&dirs);
	return ret;
}

const char *knowledge_builtin_dir(void)
{
	/* Computed once; the CLI asks from its main thread before workers run. */
	static char dir[PATH_MAX];
	const char *env = getenv("GPUSLIM_PLUGIN_DIR");

	if (env && *env)
		return env;
	if (!dir[0])
		snprintf(dir, sizeof(dir), "%s/plugins", datadir());
	return dir;
}
