/*
 * `gpuslim knowledge refresh`: cuda.json, bases.json and frameworks.json
 * rebuilt from a registry's tags and image configs and a wheel index's
 * pages (see refresh.h). The files are read and written as JSON documents
 * (not through core/knowledge.c) so hand-kept keys (notes, source,
 * unverified, smoke tests) pass through untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/image.h"
#include "core/knowledge.h"
#include "core/pep440.h"
#include "core/pyindex.h"
#include "core/refresh.h"
#include "core/registry.h"
#include "core/wheel.h"
#include "util/error.h"
#include "util/fs.h"

#define RF_WIDTH 100

static const char *const rf_files[] = {"cuda.json", "bases.json", "frameworks.json"};
static const char *const rf_flavors[] = {"base",	  "runtime",	 "devel",
					 "cudnn-runtime", "cudnn-devel", NULL};

/* ---- output ----------------------------------------------------------- */

static char *rf_dump_one(const json_t *v)
{
	return json_dumps(v, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

static void rf_indent(struct strbuf *out, int n)
{
	for (int i = 0; i < n; i++)
		strbuf_addch(out, ' ');
}

/* A record: an entry (an object with a "version" or a "name") of scalars
 * and arrays of scalars (a release, a brand set), written on one line
 * however long. */
static int rf_is_record(const json_t *v)
{
	const char *key;
	json_t *m, *e;
	size_t i, j;

	if (json_is_object(v)) {
		if (!json_object_get(v, "version") && !json_object_get(v, "name"))
			return 0;
		json_object_foreach((json_t *)v, key, m)
		{
			if (json_is_object(m))
				return 0;
			if (json_is_array(m))
				json_array_foreach(m, j, e) if (json_is_object(e) ||
								json_is_array(e)) return 0;
		}
		return 1;
	}
	json_array_foreach((json_t *)v, i, m) if (json_is_object(m) || json_is_array(m)) return 0;
	return 1;
}

/* `v` at column `col` (where its first character goes), indented `ind`. */
static void rf_format_value(const json_t *v, int ind, size_t col, struct strbuf *out)
{
	char *one = rf_dump_one(v);
	size_t i = 0, n;

	if ((!json_is_object(v) && !json_is_array(v)) || col + strlen(one) <= RF_WIDTH ||
	    (json_is_object(v) && rf_is_record(v)) ||
	    (json_is_object(v) ? json_object_size(v) : json_array_size(v)) == 0) {
		strbuf_addstr(out, one);
		free(one);
		return;
	}
	free(one);
	if (json_is_object(v)) {
		const char *key;
		json_t *m;

		n = json_object_size(v);
		strbuf_addstr(out, "{\n");
		json_object_foreach((json_t *)v, key, m)
		{
			json_t *k = json_string(key);
			char *ks = rf_dump_one(k);

			rf_indent(out, ind + 2);
			strbuf_addf(out, "%s: ", ks);
			rf_format_value(m, ind + 2, (size_t)ind + 2 + strlen(ks) + 2, out);
			strbuf_addstr(out, ++i < n ? ",\n" : "\n");
			free(ks);
			json_decref(k);
		}
		rf_indent(out, ind);
		strbuf_addch(out, '}');
	} else {
		json_t *m;
		size_t j;

		n = json_array_size(v);
		strbuf_addstr(out, "[\n");
		json_array_foreach((json_t *)v, j, m)
		{
			rf_indent(out, ind + 2);
			rf_format_value(m, ind + 2, (size_t)ind + 2, out);
			strbuf_addstr(out, j + 1 < n ? ",\n" : "\n");
		}
		rf_indent(out, ind);
		strbuf_addch(out, ']');
	}
}

void refresh_format(const json_t *doc, struct strbuf *out)
{
	rf_format_value(doc, 0, 0, out);
	strbuf_addch(out, '\n');
}

static void rf_split_lines(const struct strbuf *sb, struct vec *lines)
{
	const char *s = sb->buf ? sb->buf : "";
	size_t len = sb->len;

	while (len) {
		const char *nl = memchr(s, '\n', len);
		size_t n = nl ? (size_t)(nl - s) : len;

		vec_push(lines, xstrndup(s, n));
		if (!nl)
			break;
		len -= n + 1;
		s = nl + 1;
	}
}

void refresh_diff(const char *name, const struct strbuf *a, const struct strbuf *b,
		  struct strbuf *out)
{
	struct vec la = VEC_INIT(free), lb = VEC_INIT(free);
	size_t n, m, i, j, *lcs;

	if (a->len == b->len && (!a->len || !memcmp(a->buf, b->buf, a->len)))
		return;
	rf_split_lines(a, &la);
	rf_split_lines(b, &lb);
	n = la.nr;
	m = lb.nr;
	/* lcs[i][j]: the longest common subsequence of la[i..] and lb[j..]. */
	lcs = xcalloc((n + 1) * (m + 1), sizeof(*lcs));
	for (i = n; i-- > 0;)
		for (j = m; j-- > 0;)
			lcs[i * (m + 1) + j] =
			    !strcmp(la.items[i], lb.items[j])
				? lcs[(i + 1) * (m + 1) + j + 1] + 1
				: (lcs[(i + 1) * (m + 1) + j] > lcs[i * (m + 1) + j + 1]
				       ? lcs[(i + 1) * (m + 1) + j]
				       : lcs[i * (m + 1) + j + 1]);
	strbuf_addf(out, "--- a/%s\n+++ b/%s\n", name, name);
	for (i = j = 0; i < n || j < m;) {
		if (i < n && j < m && !strcmp(la.items[i], lb.items[j])) {
			i++;
			j++;
		} else if (j < m &&
			   (i == n || lcs[i * (m + 1) + j + 1] >= lcs[(i + 1) * (m + 1) + j])) {
			strbuf_addf(out, "+%s\n", (const char *)lb.items[j++]);
		} else {
			strbuf_addf(out, "-%s\n", (const char *)la.items[i++]);
		}
	}
	free(lcs);
	vec_release(&la);
	vec_release(&lb);
}

/* ---- helpers ---------------------------------------------------------- */

static int rf_cmp_version(const void *a, const void *b)
{
	return kb_version_cmp(*(char *const *)a, *(char *const *)b);
}

static int rf_cmp_entry_version(const void *a, const void *b)
{
	const char *va = json_string_value(json_object_get(*(json_t *const *)a, "version"));
	const char *vb = json_string_value(json_object_get(*(json_t *const *)b, "version"));

	return kb_version_cmp(va ? va : "", vb ? vb : "");
}

/* Sort the objects of `arr` by their "version". */
static void rf_sort_by_version(json_t *arr)
{
	size_t n = json_array_size(arr);
	json_t **items = xcalloc(n + 1, sizeof(*items));

	for (size_t i = 0; i < n; i++)
		items[i] = json_incref(json_array_get(arr, i));
	qsort(items, n, sizeof(*items), rf_cmp_entry_version);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, items[i]);
	free(items);
}

static json_t *rf_find_by(json_t *arr, const char *key, const char *value)
{
	json_t *item;
	size_t i;

	json_array_foreach(arr, i, item)
	{
		const char *v = json_string_value(json_object_get(item, key));

		if (v && !strcmp(v, value))
			return item;
	}
	return NULL;
}

/* "sources": the file's list with every entry starting with `prefix`
 * replaced by `source`, sorted. */
static void rf_set_source(json_t *root, const char *prefix, const char *source)
{
	json_t *old = json_object_get(root, "sources"), *item, *arr = json_array();
	struct vec all = VEC_INIT(free);
	size_t i;

	json_array_foreach(old, i, item)
	{
		const char *s = json_string_value(item);

		if (s && !starts_with(s, prefix) && vec_findstr(&all, s) < 0)
			vec_pushstr(&all, s);
	}
	vec_pushstr(&all, source);
	vec_sort(&all, vec_cmpstr);
	for (i = 0; i < all.nr; i++)
		json_array_append_new(arr, json_string(all.items[i]));
	json_object_set_new(root, "sources", arr);
	vec_release(&all);
}

/* A copy of `obj` with its keys in `order` first (those it has), then the
 * rest in their order. */
static json_t *rf_ordered(json_t *obj, const char *const *order)
{
	json_t *out = json_object(), *v;
	const char *key;

	for (size_t i = 0; order[i]; i++)
		if ((v = json_object_get(obj, order[i])))
			json_object_set(out, order[i], v);
	json_object_foreach(obj, key, v)
	{
		if (!json_object_get(out, key))
			json_object_set(out, key, v);
	}
	return out;
}

static int rf_load(const char *dir, const char *name, json_t **out, struct strbuf *bytes)
{
	char *path = fs_join(dir, name);
	json_error_t jerr;
	int ret;

	*out = NULL;
	if (!fs_exists(path)) {
		*out = json_pack("{s:i}", "schema_version", KB_SCHEMA_VERSION);
		free(path);
		return 0;
	}
	if ((ret = fs_read_file(path, bytes, 0)) < 0) {
		free(path);
		return ret;
	}
	*out = json_loadb(bytes->buf ? bytes->buf : "", bytes->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*out || !json_is_object(*out)) {
		ret = error_setc(GS_EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column,
				 *out ? "expected a JSON object" : jerr.text);
		json_decref(*out);
		*out = NULL;
	}
	free(path);
	return ret;
}

/* ---- CUDA: tags ------------------------------------------------------- */

static int rf_digits(const char **s)
{
	const char *p = *s;

	while (**s >= '0' && **s <= '9')
		(*s)++;
	return *s > p;
}

/*
 * "13.0.2-cudnn-runtime-ubuntu24.04" into version, flavor (cudnn-* as
 * "cudnn-runtime"), the cuDNN part of the tag ("cudnn", "cudnn9"; NULL) and
 * the OS. 0, or -1 for a tag of another shape (tensorrt, arch suffixes).
 */
static int rf_parse_tag(const char *tag, char **version, const char **flavor, char **cudnn_tag,
			char **os)
{
	const char *s = tag, *v0 = tag, *f0, *o0;

	if (!rf_digits(&s) || *s++ != '.' || !rf_digits(&s) || *s++ != '.' || !rf_digits(&s) ||
	    *s != '-')
		return -1;
	*version = xstrndup(v0, (size_t)(s - v0));
	f0 = ++s;
	*cudnn_tag = NULL;
	if (starts_with(s, "cudnn")) {
		s += 5;
		rf_digits(&s);
		if (*s != '-') {
			free(*version);
			return -1;
		}
		*cudnn_tag = xstrndup(f0, (size_t)(s - f0));
		s++;
	}
	*flavor = NULL;
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(rf_flavors[i]);

		if (!strncmp(s, rf_flavors[i], n) && s[n] == '-' && (*cudnn_tag ? i > 0 : 1)) {
			*flavor = *cudnn_tag ? rf_flavors[i + 2] : rf_flavors[i];
			s += n + 1;
			break;
		}
	}
	o0 = s;
	while (*s >= 'a' && *s <= 'z')
		s++;
	if (!*flavor || s == o0 || !rf_digits(&s) || (*s == '.' && (s++, !rf_digits(&s))) || *s) {
		free(*version);
		free(*cudnn_tag);
		return -1;
	}
	*os = xstrdup(o0);
	return 0;
}

/* version -> {"os": {os: {flavor: true}}, "cudnn_tag": ..., "tag": a tag} */
static void rf_note_tag(json_t *versions, const char *tag, const char *version, const char *flavor,
			const char *cudnn_tag, const char *os)
{
	json_t *v = json_object_get(versions, version), *oses, *fl;

	if (!v) {
		v = json_pack("{s:{}}", "os");
		json_object_set_new(versions, version, v);
	}
	oses = json_object_get(v, "os");
	if (!(fl = json_object_get(oses, os))) {
		fl = json_object();
		json_object_set_new(oses, os, fl);
	}
	json_object_set_new(fl, flavor, json_string(tag));
	/* "cudnn" (12.4 on) wins over "cudnn9", "cudnn9" over "cudnn8". */
	if (cudnn_tag) {
		const char *had = json_string_value(json_object_get(v, "cudnn_tag"));

		if (!had || (strcmp(had, "cudnn") &&
			     (!strcmp(cudnn_tag, "cudnn") || strcmp(cudnn_tag, had) > 0)))
			json_object_set_new(v, "cudnn_tag", json_string(cudnn_tag));
	}
}

/* The tag whose config is read for `v`: a cudnn-* one (it carries
 * NV_CUDNN_VERSION), else runtime, else any; OSes in name order. */
static const char *rf_probe_tag(json_t *v)
{
	static const char *const pref[] = {"cudnn-runtime", "cudnn-devel", "runtime",
					   "base",	    "devel",	   NULL};
	json_t *oses = json_object_get(v, "os");
	struct vec names = VEC_INIT(NULL);
	const char *key, *found = NULL;
	json_t *fl;

	json_object_foreach(oses, key, fl) vec_push(&names, (void *)key);
	vec_sort(&names, vec_cmpstr);
	for (size_t p = 0; pref[p] && !found; p++)
		for (size_t i = 0; i < names.nr && !found; i++)
			found = json_string_value(
			    json_object_get(json_object_get(oses, names.items[i]), pref[p]));
	vec_release(&names);
	return found;
}

static const char *rf_env(json_t *env, const char *name)
{
	size_t n = strlen(name), i;
	json_t *e;

	json_array_foreach(env, i, e)
	{
		const char *s = json_string_value(e);

		if (s && !strncmp(s, name, n) && s[n] == '=')
			return s + n + 1;
	}
	return NULL;
}

/* The config's Env of registry/repository:tag. */
static int rf_read_env(struct registry_client *reg, const char *registry, const char *repository,
		       const char *tag, json_t **env)
{
	struct image_opts io = {0};
	struct image *img = NULL;
	const struct image_meta *meta;
	char *ref = xstrfmt("%s/%s:%s", registry, repository, tag);
	int ret;

	io.source = IMAGE_SOURCE_REGISTRY;
	io.registry = reg;
	*env = NULL;
	if ((ret = image_open(ref, &io, &img)) < 0)
		goto done;
	meta = image_get_meta(img);
	if (!meta || !meta->config) {
		ret = error_setc(GS_EINVAL, "image '%s': no config", ref);
		goto done;
	}
	*env = json_incref(json_object_get(json_object_get(meta->config, "config"), "Env"));
	if (!json_is_array(*env)) {
		json_decref(*env);
		*env = NULL;
		ret = error_setc(GS_EINVAL, "image '%s': its config has no Env", ref);
	}
done:
	if (img)
		image_close(img);
	free(ref);
	return ret;
}

/*
 * NVIDIA_REQUIRE_CUDA "cuda>=13.0 brand=tesla,driver>=535,driver<536 ..."
 * into its branches (first-seen order) and brands (first-seen order).
 */
static int rf_parse_require(const char *req, json_t *branches, json_t *brands)
{
	const char *s = req;

	while (*s) {
		const char *e = s;
		char *tok, *brand, *drv;

		while (*e && *e != ' ')
			e++;
		tok = xstrndup(s, (size_t)(e - s));
		s = *e ? e + 1 : e;
		if (!starts_with(tok, "brand=")) {
			free(tok);
			continue;
		}
		brand = tok + 6;
		drv = strchr(brand, ',');
		if (!drv || !starts_with(drv + 1, "driver>=")) {
			int ret = error_setc(GS_EINVAL,
					     "NVIDIA_REQUIRE_CUDA: expected "
					     "'brand=B,driver>=N,driver<M', got '%s'",
					     tok);
			free(tok);
			return ret;
		}
		*drv = '\0';
		{
			long branch = strtol(drv + 9, NULL, 10);
			json_t *x;
			size_t i, seen = 0;

			json_array_foreach(branches, i, x) seen |= json_integer_value(x) == branch;
			if (!seen)
				json_array_append_new(branches, json_integer(branch));
			seen = 0;
			json_array_foreach(brands, i, x) seen |=
			    !strcmp(json_string_value(x), brand);
			if (!seen)
				json_array_append_new(brands, json_string(brand));
		}
		free(tok);
	}
	return 0;
}

/* The brand set with exactly `brands`, added (named after the last) when
 * none has them. */
static const char *rf_brand_set(json_t *cuda, json_t *brands)
{
	json_t *sets = json_object_get(cuda, "brand_sets"), *set;
	char name[16] = "A";
	size_t i;

	if (!sets) {
		sets = json_array();
		json_object_set_new(cuda, "brand_sets", sets);
	}
	json_array_foreach(sets, i, set)
	{
		const char *n = json_string_value(json_object_get(set, "name"));

		if (json_equal(json_object_get(set, "brands"), brands))
			return n;
		if (n && strlen(n) == 1 && n[0] >= name[0])
			name[0] = (char)(n[0] + 1);
	}
	json_array_append_new(sets, json_pack("{s:s,s:O}", "name", name, "brands", brands));
	return json_string_value(
	    json_object_get(json_array_get(sets, json_array_size(sets) - 1), "name"));
}

/* The driver floor of CUDA `major` in cuda.json: its newest release's. */
static const char *rf_major_floor(json_t *releases, int major)
{
	const char *best = NULL, *floor = NULL;
	json_t *r;
	size_t i;

	json_array_foreach(releases, i, r)
	{
		const char *v = json_string_value(json_object_get(r, "version"));
		const char *f = json_string_value(json_object_get(r, "driver_floor"));

		if (v && f && atoi(v) == major && (!best || kb_version_cmp(v, best) > 0)) {
			best = v;
			floor = f;
		}
	}
	return floor;
}

static const char *const rf_release_order[] = {"version",
					       "cudnn_tag",
					       "cudnn_version",
					       "driver",
					       "driver_floor",
					       "require_branches",
					       "brands",
					       "source",
					       "unverified",
					       "notes",
					       NULL};

/* cuda.json's release `version`, made or updated from the image's Env. */
static int rf_update_release(json_t *cuda, const char *version, json_t *v, json_t *env, int update,
			     const char *source, struct vec *notes)
{
	json_t *releases = json_object_get(cuda, "releases"), *rel, *branches, *brands, *out;
	const char *req = rf_env(env, "NVIDIA_REQUIRE_CUDA");
	const char *cudnn = rf_env(env, "NV_CUDNN_VERSION");
	const char *cudnn_tag = json_string_value(json_object_get(v, "cudnn_tag"));
	int major = atoi(version), ret;

	if (!releases) {
		releases = json_array();
		json_object_set_new(cuda, "releases", releases);
	}
	rel = rf_find_by(releases, "version", version);
	if (rel && !update)
		return 0;
	if (!req)
		return error_setc(GS_EINVAL, "%s: its config's Env has no NVIDIA_REQUIRE_CUDA",
				  source);
	branches = json_array();
	brands = json_array();
	if ((ret = rf_parse_require(req, branches, brands)) < 0) {
		error_prefix("%s", source);
		goto done;
	}
	out = rel ? json_deep_copy(rel) : json_pack("{s:s}", "version", version);
	if (cudnn_tag)
		json_object_set_new(out, "cudnn_tag", json_string(cudnn_tag));
	else
		json_object_del(out, "cudnn_tag");
	if (cudnn_tag && cudnn)
		json_object_set_new(out, "cudnn_version", json_string(cudnn));
	else if (!cudnn_tag)
		json_object_del(out, "cudnn_version");
	json_object_set_new(out, "require_branches", json_incref(branches));
	json_object_set_new(out, "brands", json_string(rf_brand_set(cuda, brands)));
	if (!rel) {
		const char *floor = rf_major_floor(releases, major);

		if (floor)
			json_object_set_new(out, "driver_floor", json_string(floor));
		json_object_set_new(
		    out, "unverified",
		    json_string(floor ? "driver: the driver shipped with the toolkit is not in "
					"the image; the floor is its major's"
				      : "driver and driver_floor: not in the image"));
		vec_pushf(notes,
			  "cuda.json: new release %s from %s (driver not in the image: "
			  "hand-keep it from NVIDIA's release notes)",
			  version, source);
	} else {
		/* The branches are the image's now: no longer copied. */
		const char *u = json_string_value(json_object_get(out, "unverified"));

		if (u && strstr(u, "require_branches"))
			json_object_del(out, "unverified");
	}
	json_object_set_new(out, "source", json_string(source));
	rel = rf_ordered(out, rf_release_order);
	json_decref(out);
	{
		json_t *old = rf_find_by(releases, "version", version);
		size_t i;
		json_t *x;

		json_array_foreach(releases, i, x) if (x == old) break;
		if (old)
			json_array_set_new(releases, i, rel);
		else
			json_array_append_new(releases, rel);
	}
	rf_sort_by_version(releases);
done:
	json_decref(branches);
	json_decref(brands);
	return ret;
}

static int rf_os_known(json_t *os_doc, const char *os)
{
	return rf_find_by(json_object_get(os_doc, "systems"), "name", os) != NULL;
}

static int rf_refresh_cuda(const struct refresh_opts *o, json_t *cuda, json_t *bases,
			   json_t *os_doc, struct refresh_result *res)
{
	struct registry_client *reg = registry_client_new(NULL);
	struct vec tags = VEC_INIT(free), names = VEC_INIT(NULL), skipped_os = VEC_INIT(free);
	json_t *versions = json_object(), *repos, *repo, *images, *oldimgs, *v;
	const char *key;
	size_t skipped = 0;
	int ret;

	if ((ret = registry_list_tags(reg, o->registry, o->repository, 0, &tags)) < 0) {
		error_prefix("cannot list the tags of '%s/%s'", o->registry, o->repository);
		goto done;
	}
	for (size_t i = 0; i < tags.nr; i++) {
		char *version, *cudnn_tag, *os;
		const char *flavor;

		if (rf_parse_tag(tags.items[i], &version, &flavor, &cudnn_tag, &os)) {
			skipped++;
			continue;
		}
		if (rf_os_known(os_doc, os))
			rf_note_tag(versions, tags.items[i], version, flavor, cudnn_tag, os);
		else if (vec_findstr(&skipped_os, os) < 0)
			vec_push(&skipped_os, xstrdup(os));
		free(version);
		free(cudnn_tag);
		free(os);
	}
	if (skipped)
		vec_pushf(&res->notes,
			  "%s/%s: %zu tags of another shape than VERSION-FLAVOR-OS "
			  "skipped",
			  o->registry, o->repository, skipped);
	if (skipped_os.nr) {
		struct strbuf sb = STRBUF_INIT;

		vec_sort(&skipped_os, vec_cmpstr);
		for (size_t i = 0; i < skipped_os.nr; i++)
			strbuf_addf(&sb, "%s%s", i ? ", " : "", (const char *)skipped_os.items[i]);
		vec_pushf(&res->notes, "%s/%s: tags of OSes os.json does not know skipped: %s",
			  o->registry, o->repository, sb.buf);
		strbuf_release(&sb);
	}
	if (!json_object_size(versions)) {
		ret = error_setc(GS_EINVAL,
				 "'%s/%s' has no tag like 13.0.2-runtime-ubuntu24.04 for an OS "
				 "os.json knows",
				 o->registry, o->repository);
		goto done;
	}
	json_object_foreach(versions, key, v) vec_push(&names, (void *)key);
	vec_sort(&names, rf_cmp_version);

	/* Configs: the newest patch of each minor, and versions cuda.json lacks. */
	for (size_t i = 0; i < names.nr; i++) {
		const char *ver = names.items[i];
		const char *next = i + 1 < names.nr ? names.items[i + 1] : NULL;
		int ma, mi, pa, nma = -1, nmi = -1, npa;
		int known = rf_find_by(json_object_get(cuda, "releases"), "version", ver) != NULL;
		const char *tag;
		char *source;
		json_t *env = NULL;

		kb_parse_version(ver, &ma, &mi, &pa);
		if (next)
			kb_parse_version(next, &nma, &nmi, &npa);
		if (known && nma == ma && nmi == mi)
			continue;
		v = json_object_get(versions, ver);
		tag = rf_probe_tag(v);
		if ((ret = rf_read_env(reg, o->registry, o->repository, tag, &env)) < 0)
			goto done;
		source = xstrfmt("%s/%s:%s", o->registry, o->repository, tag);
		{
			const char *cv = rf_env(env, "CUDA_VERSION");

			if (!cv || strcmp(cv, ver)) {
				ret = error_setc(GS_EINVAL,
						 "'%s': its config's CUDA_VERSION is '%s', its tag "
						 "says %s",
						 source, cv ? cv : "(none)", ver);
				free(source);
				json_decref(env);
				goto done;
			}
		}
		if (rf_env(env, "NV_CUDNN_VERSION") && json_object_get(v, "cudnn_tag"))
			json_object_set_new(v, "cudnn_version",
					    json_string(rf_env(env, "NV_CUDNN_VERSION")));
		ret = rf_update_release(cuda, ver, v, env, o->releases, source, &res->notes);
		free(source);
		json_decref(env);
		if (ret < 0)
			goto done;
	}

	/* bases.json: the repository's images, as the tags say. */
	if (!(repos = json_object_get(bases, "repositories"))) {
		repos = json_array();
		json_object_set_new(bases, "repositories", repos);
	}
	if (!(repo = rf_find_by(repos, "repository", o->repository))) {
		repo = json_pack("{s:s,s:s}", "repository", o->repository, "tag_template",
				 "{version}-{flavor}-{os}");
		json_array_append_new(repos, repo);
	}
	oldimgs = json_incref(json_object_get(repo, "images"));
	images = json_array();
	for (size_t i = 0; i < names.nr; i++) {
		const char *ver = names.items[i];
		json_t *img = json_pack("{s:s}", "version", ver), *oses = json_object(), *old;
		json_t *rel = rf_find_by(json_object_get(cuda, "releases"), "version", ver);
		const char *cudnn,
		    *rel_cudnn = json_string_value(json_object_get(rel, "cudnn_version"));
		struct vec os_names = VEC_INIT(NULL);
		json_t *fl;

		v = json_object_get(versions, ver);
		old = rf_find_by(oldimgs, "version", ver);
		cudnn = json_string_value(json_object_get(v, "cudnn_version"));
		if (!cudnn && json_object_get(v, "cudnn_tag"))
			cudnn = json_string_value(json_object_get(old, "cudnn_version"));
		if (cudnn && (!rel_cudnn || strcmp(cudnn, rel_cudnn)))
			json_object_set_new(img, "cudnn_version", json_string(cudnn));
		json_object_foreach(json_object_get(v, "os"), key, fl)
		    vec_push(&os_names, (void *)key);
		vec_sort(&os_names, vec_cmpstr);
		for (size_t k = 0; k < os_names.nr; k++) {
			json_t *list = json_array();

			fl = json_object_get(json_object_get(v, "os"), os_names.items[k]);
			for (size_t f = 0; rf_flavors[f]; f++) {
				if (!json_object_get(fl, rf_flavors[f]))
					continue;
				/* cuda.json says this release has no cuDNN images (and
				 * --releases was not given to change that). */
				if (f >= 3 && !json_object_get(rel, "cudnn_tag")) {
					vec_pushf(&res->notes,
						  "%s/%s: %s's %s tags skipped: cuda.json's %s has no "
						  "cudnn_tag (--releases takes the registry's word)",
						  o->registry, o->repository, ver, rf_flavors[f], ver);
					continue;
				}
				json_array_append_new(list, json_string(rf_flavors[f]));
			}
			if (json_array_size(list))
				json_object_set_new(oses, os_names.items[k], list);
			else
				json_decref(list);
		}
		json_object_set_new(img, "os", oses);
		if (json_object_size(oses))
			json_array_append_new(images, img);
		else
			json_decref(img);
		vec_release(&os_names);
	}
	json_decref(oldimgs);
	json_object_set_new(repo, "images", images);
	json_object_set_new(
	    repo, "notes",
	    json_sprintf("Refreshed from the tags of %s/%s (gpuslim knowledge "
			 "refresh); cudnn_version where an image's NV_CUDNN_VERSION "
			 "differs from cuda.json's.",
			 o->registry, o->repository));
	{
		static const char *const order[] = {"repository", "tag_template", "notes", "images",
						    NULL};
		json_t *ordered = rf_ordered(repo, order);
		size_t i;
		json_t *x;

		json_array_foreach(repos, i, x) if (x == repo) break;
		json_array_set_new(repos, i, ordered);
	}
	{
		char *src = xstrfmt("registry %s/%s: tags, and the config Env (CUDA_VERSION, "
				    "NV_CUDNN_VERSION, NVIDIA_REQUIRE_CUDA) of the newest patch of "
				    "each minor",
				    o->registry, o->repository);
		char *prefix = xstrfmt("registry %s/%s:", o->registry, o->repository);

		rf_set_source(bases, prefix, src);
		rf_set_source(cuda, prefix, src);
		free(src);
		free(prefix);
	}
	ret = 0;
done:
	json_decref(versions);
	vec_release(&names);
	vec_release(&tags);
	vec_release(&skipped_os);
	registry_client_free(reg);
	return ret;
}

/* ---- frameworks: the wheel index -------------------------------------- */

/* "cp311" -> "3.11"; NULL for other tags. */
static char *rf_cp_python(const char *tag)
{
	const char *s = tag + 2;

	if (!starts_with(tag, "cp") || strlen(s) < 2 || strspn(s, "0123456789") != strlen(s))
		return NULL;
	return xstrfmt("%c.%s", s[0], s + 1);
}

static int rf_linux_x86_64(const struct wheel_name *w)
{
	for (size_t i = 0; i < w->platform.nr; i++)
		if (ends_with(w->platform.items[i], "x86_64") &&
		    (starts_with(w->platform.items[i], "manylinux") ||
		     starts_with(w->platform.items[i], "linux")))
			return 1;
	return 0;
}

static int rf_cmp_variant(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);

	/* cu118 < cu126 < cu130: the major is every digit but the last. */
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x, y);
}

/* "2.5.1" -> "2.5" */
static char *rf_minor_of(const char *v)
{
	const char *dot = strchr(v, '.');
	const char *dot2 = dot ? strchr(dot + 1, '.') : NULL;

	return dot2 ? xstrndup(v, (size_t)(dot2 - v)) : xstrdup(v);
}

/* Keep only the newest version of each minor among the keys of `obj`. */
static void rf_newest_per_minor(json_t *obj)
{
	struct vec keys = VEC_INIT(NULL), drop = VEC_INIT(free);
	const char *key;
	json_t *x;

	json_object_foreach(obj, key, x) vec_push(&keys, (void *)key);
	vec_sort(&keys, rf_cmp_version);
	for (size_t i = 0; i + 1 < keys.nr; i++) {
		char *a = rf_minor_of(keys.items[i]), *b = rf_minor_of(keys.items[i + 1]);

		if (!strcmp(a, b))
			vec_pushstr(&drop, keys.items[i]);
		free(a);
		free(b);
	}
	for (size_t i = 0; i < drop.nr; i++)
		json_object_del(obj, drop.items[i]);
	vec_release(&keys);
	vec_release(&drop);
}

/* The version in "torch==2.5.1", "torch (==2.5.1)", "torch==2.5.1+cu124; ..." */
static char *rf_requires_pin(const char *req, const char *name)
{
	size_t n = strlen(name);
	const char *s = req, *e;

	if (strncmp(s, name, n))
		return NULL;
	s += n;
	while (*s == ' ' || *s == '(')
		s++;
	if (strncmp(s, "==", 2))
		return NULL;
	s += 2;
	while (*s == ' ')
		s++;
	e = s;
	while (*e && !strchr(" ),;+", *e))
		e++;
	return e > s ? xstrndup(s, (size_t)(e - s)) : NULL;
}

/* Per variant page of `project`: version -> the first x86_64 wheel. */
static int rf_scan_project(struct pyindex_client *pc, const char *index_url, json_t *variants_found,
			   const char *project, json_t *out, struct vec *files_keep,
			   struct vec *notes)
{
	struct strbuf missing = STRBUF_INIT;
	const char *variant;
	json_t *x;
	int ret = 0;

	json_object_foreach(variants_found, variant, x)
	{
		char *url = xstrfmt("%s/%s", index_url, variant);
		const struct pyindex_project *p;

		ret = pyindex_get_project(pc, url, project, &p);
		free(url);
		if (ret == GS_ENOTFOUND) {
			strbuf_addf(&missing, "%s%s", missing.len ? ", " : "", variant);
			ret = 0;
			continue;
		}
		if (ret < 0)
			goto done;
		for (size_t i = 0; i < p->files_nr; i++) {
			const struct pyindex_file *f = &p->files[i];
			struct wheel_name w;
			const char *local;
			char *pub;
			json_t *e;

			if (!ends_with(f->filename, ".whl") || f->yanked ||
			    wheel_name_parse(f->filename, &w) < 0)
				continue;
			local = pep440_local(w.version);
			pub = pep440_public(w.version);
			if (!pub || !local || strcmp(local, variant) || pep440_is_prerelease(pub) ||
			    !rf_linux_x86_64(&w)) {
				free(pub);
				wheel_name_release(&w);
				continue;
			}
			if (!(e = json_object_get(out, pub))) {
				e = json_pack("{s:{}}", "variants");
				json_object_set_new(e, "file",
						    json_integer((json_int_t)files_keep->nr));
				vec_push(files_keep, (void *)f);
				json_object_set_new(out, pub, e);
			}
			json_object_set_new(json_object_get(e, "variants"), variant, json_true());
			for (size_t k = 0; k < w.python.nr; k++) {
				char *py = rf_cp_python(w.python.items[k]);
				const char *lo =
				    json_string_value(json_object_get(e, "python_min"));
				const char *hi =
				    json_string_value(json_object_get(e, "python_max"));

				if (!py)
					continue;
				if (!lo || kb_version_cmp(py, lo) < 0)
					json_object_set_new(e, "python_min", json_string(py));
				if (!hi || kb_version_cmp(py, hi) > 0)
					json_object_set_new(e, "python_max", json_string(py));
				free(py);
			}
			free(pub);
			wheel_name_release(&w);
		}
	}
done:
	if (missing.len)
		vec_pushf(notes, "%s: no %s page for %s", index_url, project, missing.buf);
	strbuf_release(&missing);
	return ret;
}

static const char *const rf_fw_release_order[] = {
    "version",	   "variants",	  "default_variant", "python_min", "python_max", "pairs",
    "cuda_majors", "cudnn_major", "source",	     "unverified", "notes",	 NULL};

static int rf_refresh_frameworks(const struct refresh_opts *o, json_t *cuda, json_t *fwdoc,
				 struct refresh_result *res)
{
	static const char *const children[] = {"torchvision", "torchaudio", NULL};
	struct pyindex_client *pc = pyindex_client_new(NULL);
	struct vec variants = VEC_INIT(free), torch_files = VEC_INIT(NULL);
	json_t *found = json_object(), *torch = json_object(), *fws, *fw, *rels, *x;
	char *index_url = xstrdup(o->index_url);
	const char *key;
	size_t i;
	int ret = 0;

	while (ends_with(index_url, "/"))
		index_url[strlen(index_url) - 1] = '\0';
	fws = json_object_get(fwdoc, "frameworks");
	fw = rf_find_by(fws, "name", "torch");
	if (!fw) {
		ret = error_setc(GS_EINVAL, "frameworks.json has no framework 'torch' to refresh");
		goto done;
	}
	if (!(rels = json_object_get(fw, "releases"))) {
		rels = json_array();
		json_object_set_new(fw, "releases", rels);
	}
	/* The variant pages to read: asked, else every CUDA minor cuda.json
	 * knows and every variant frameworks.json names. */
	for (i = 0; i < o->variants.nr; i++)
		vec_pushstr(&variants, o->variants.items[i]);
	if (!variants.nr) {
		json_array_foreach(json_object_get(cuda, "releases"), i, x)
		{
			int ma, mi, pa;
			const char *v = json_string_value(json_object_get(x, "version"));
			char *var;

			if (!v || kb_parse_version(v, &ma, &mi, &pa) || ma < 11)
				continue;
			var = xstrfmt("cu%d%d", ma, mi);
			if (vec_findstr(&variants, var) < 0)
				vec_push(&variants, var);
			else
				free(var);
		}
		json_array_foreach(rels, i, x)
		{
			json_t *var;
			size_t k;

			json_array_foreach(json_object_get(x, "variants"), k, var)
			{
				if (vec_findstr(&variants, json_string_value(var)) < 0)
					vec_pushstr(&variants, json_string_value(var));
			}
		}
	}
	vec_sort(&variants, rf_cmp_variant);
	for (i = 0; i < variants.nr; i++)
		json_object_set_new(found, variants.items[i], json_true());
	if ((ret = rf_scan_project(pc, index_url, found, "torch", torch, &torch_files,
				   &res->notes)) < 0)
		goto done;
	if (!json_object_size(torch)) {
		ret = error_setc(GS_EINVAL,
				 "'%s': no torch release for linux x86_64 on any variant page "
				 "(%zu read)",
				 index_url, variants.nr);
		goto done;
	}
	rf_newest_per_minor(torch);

	/* Pairs: each child's newest patch per minor names its torch. */
	for (size_t c = 0; children[c]; c++) {
		struct vec files = VEC_INIT(NULL);
		json_t *cv = json_object();
		json_t *e;

		if ((ret = rf_scan_project(pc, index_url, found, children[c], cv, &files,
					   &res->notes)) < 0) {
			json_decref(cv);
			vec_release(&files);
			goto done;
		}
		rf_newest_per_minor(cv);
		json_object_foreach(cv, key, e)
		{
			const struct pyindex_file *f =
			    files.items[json_integer_value(json_object_get(e, "file"))];
			struct pyindex_metadata md = {0};
			json_t *t;

			if ((ret = pyindex_get_metadata(pc, f, &md)) < 0) {
				error_prefix("%s %s", children[c], key);
				json_decref(cv);
				vec_release(&files);
				goto done;
			}
			for (size_t k = 0; k < md.requires_dist.nr; k++) {
				char *pin = rf_requires_pin(md.requires_dist.items[k], "torch");

				if (pin && (t = json_object_get(torch, pin))) {
					json_t *pairs = json_object_get(t, "pairs");
					const char *had;

					if (!pairs) {
						pairs = json_object();
						json_object_set_new(t, "pairs", pairs);
					}
					had =
					    json_string_value(json_object_get(pairs, children[c]));
					if (!had || kb_version_cmp(key, had) > 0)
						json_object_set_new(pairs, children[c],
								    json_string(key));
				}
				free(pin);
			}
			pyindex_metadata_release(&md);
		}
		json_decref(cv);
		vec_release(&files);
	}

	/* Merge into frameworks.json's torch releases. */
	json_object_foreach(torch, key, x)
	{
		char *minor = rf_minor_of(key);
		json_t *old = NULL, *rel, *vars = json_array(), *r, *ordered;
		struct vec vs = VEC_INIT(NULL);
		const char *var, *def;
		json_t *y;
		size_t k, at = (size_t)-1;

		json_array_foreach(rels, k, r)
		{
			const char *v = json_string_value(json_object_get(r, "version"));
			char *m = v ? rf_minor_of(v) : NULL;

			if (m && !strcmp(m, minor) && kb_version_cmp(v, key) <= 0) {
				old = r;
				at = k;
			}
			free(m);
		}
		free(minor);
		if (old &&
		    kb_version_cmp(json_string_value(json_object_get(old, "version")), key) > 0)
			old = NULL;
		rel = old ? json_deep_copy(old) : json_object();
		json_object_set_new(rel, "version", json_string(key));
		json_object_foreach(json_object_get(x, "variants"), var, y)
		    vec_push(&vs, (void *)var);
		vec_sort(&vs, rf_cmp_variant);
		for (k = 0; k < vs.nr; k++)
			json_array_append_new(vars, json_string(vs.items[k]));
		json_object_set_new(rel, "variants", vars);
		def = json_string_value(json_object_get(rel, "default_variant"));
		if (def && vec_findstr(&vs, def) < 0)
			json_object_del(rel, "default_variant");
		vec_release(&vs);
		if (json_object_get(x, "python_min"))
			json_object_set(rel, "python_min", json_object_get(x, "python_min"));
		if (json_object_get(x, "python_max"))
			json_object_set(rel, "python_max", json_object_get(x, "python_max"));
		if (json_object_get(x, "pairs")) {
			json_t *pairs = json_object_get(rel, "pairs");

			if (!pairs) {
				pairs = json_object();
				json_object_set_new(rel, "pairs", pairs);
			}
			json_object_update(pairs, json_object_get(x, "pairs"));
		}
		json_object_set_new(
		    rel, "source",
		    json_sprintf("%s/cuXYZ/torch/ (gpuslim knowledge refresh)", index_url));
		json_object_del(rel, "unverified");
		ordered = rf_ordered(rel, rf_fw_release_order);
		json_decref(rel);
		if (at != (size_t)-1 && old)
			json_array_set_new(rels, at, ordered);
		else
			json_array_append_new(rels, ordered);
	}
	rf_sort_by_version(rels);
	{
		char *src = xstrfmt("index %s: torch, torchvision, torchaudio pages of each CUDA "
				    "variant, and the Requires-Dist of torchvision and torchaudio "
				    "(PEP 658 metadata)",
				    index_url);
		char *prefix = xstrfmt("index %s:", index_url);

		rf_set_source(fwdoc, prefix, src);
		free(src);
		free(prefix);
	}
done:
	json_decref(found);
	json_decref(torch);
	free(index_url);
	vec_release(&variants);
	vec_release(&torch_files);
	pyindex_client_free(pc);
	return ret;
}

/* ---- the whole refresh ------------------------------------------------ */

static const char *const rf_top_order[] = {"schema_version", "refreshed", "sources", "notes", NULL};

int knowledge_refresh(const char *dir, const struct refresh_opts *o, struct refresh_result *res)
{
	json_t *docs[3] = {NULL, NULL, NULL}, *os_doc = NULL;
	struct strbuf os_bytes = STRBUF_INIT;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	vec_init(&res->notes, free);
	for (size_t i = 0; i < 3; i++) {
		res->files[i].name = rf_files[i];
		strbuf_init(&res->files[i].old, 0);
		strbuf_init(&res->files[i].new, 0);
		if ((ret = rf_load(dir, rf_files[i], &docs[i], &res->files[i].old)) < 0)
			goto done;
	}
	{
		char *os_path = fs_join(dir, "os.json");
		const char *os_dir = fs_exists(os_path) ? dir : knowledge_builtin_dir();

		free(os_path);
		if ((ret = rf_load(os_dir, "os.json", &os_doc, &os_bytes)) < 0)
			goto done;
	}
	if (o->repository && (ret = rf_refresh_cuda(o, docs[0], docs[1], os_doc, res)) < 0)
		goto done;
	if (o->index_url && (ret = rf_refresh_frameworks(o, docs[0], docs[2], res)) < 0)
		goto done;
	res->files[0].refreshed = res->files[1].refreshed = o->repository != NULL;
	res->files[2].refreshed = o->index_url != NULL;
	for (size_t i = 0; i < 3; i++) {
		struct refresh_file *f = &res->files[i];
		json_t *doc;

		if (!f->refreshed) {
			strbuf_add(&f->new, f->old.buf ? f->old.buf : "", f->old.len);
			continue;
		}
		/* Same bytes but for the time: the time stays. */
		doc = rf_ordered(docs[i], rf_top_order);
		refresh_format(doc, &f->new);
		json_decref(doc);
		if (f->new.len == f->old.len && !memcmp(f->new.buf, f->old.buf, f->new.len))
			continue;
		f->changed = 1;
		json_object_set_new(docs[i], "refreshed", json_string(o->now));
		doc = rf_ordered(docs[i], rf_top_order);
		strbuf_reset(&f->new);
		refresh_format(doc, &f->new);
		json_decref(doc);
	}
done:
	for (size_t i = 0; i < 3; i++)
		json_decref(docs[i]);
	json_decref(os_doc);
	strbuf_release(&os_bytes);
	return ret;
}

void refresh_result_release(struct refresh_result *r)
{
	for (size_t i = 0; i < 3; i++) {
		strbuf_release(&r->files[i].old);
		strbuf_release(&r->files[i].new);
	}
	vec_release(&r->notes);
}
