/* What changed between two reports (core/diff.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diff.h"
#include "core/gate.h"
#include "util/error.h"
#include "util/utf8.h"

#define DIFF_DEFAULT_TOP 50
#define DIFF_REST	 "(smaller files)"

static long long jint_of(const json_t *o, const char *key, long long dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

static const char *jstr_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_t *jstr_or_null(const char *s)
{
	return s ? utf8_json_string(s) : json_null();
}

static const char *change_of(long long a, long long b, int has_a, int has_b)
{
	if (!has_a)
		return "added";
	if (!has_b)
		return "removed";
	return b > a ? "grew" : b < a ? "shrank" : "changed";
}

/* Biggest |delta| first; equal ones in the order given. */
struct sort_item {
	json_t *v;
	long long d;
	size_t i;
};

static int cmp_delta(const void *x, const void *y)
{
	const struct sort_item *a = x, *b = y;

	if (a->d != b->d)
		return a->d < b->d ? 1 : -1;
	return a->i < b->i ? -1 : a->i > b->i;
}

/* `arr` sorted (a new array; `arr` released). */
static json_t *sorted(json_t *arr)
{
	size_t n = json_array_size(arr);
	struct sort_item *items = xcalloc(n ? n : 1, sizeof(*items));
	json_t *out = json_array();

	for (size_t i = 0; i < n; i++) {
		items[i].v = json_array_get(arr, i);
		items[i].d = llabs(jint_of(items[i].v, "delta", 0));
		items[i].i = i;
	}
	qsort(items, n, sizeof(*items), cmp_delta);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, items[i].v);
	free(items);
	json_decref(arr);
	return out;
}

/* ---- summary, layers, packages, components ------------------------------- */

static json_t *diff_summary(const json_t *sa, const json_t *sb)
{
	static const char *const keys[] = {"size",	 "compressed_size", "layers",
					   "files",	 "visible_bytes",   "wasted_bytes",
					   "base_bytes", "own_bytes"};
	json_t *out = json_object();

	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		json_t *a = json_object_get(sa, keys[i]), *b = json_object_get(sb, keys[i]);

		if (json_is_integer(a) && json_is_integer(b))
			json_object_set_new(
			    out, keys[i],
			    json_pack("{s:I,s:I,s:I}", "a", json_integer_value(a), "b",
				      json_integer_value(b), "delta",
				      json_integer_value(b) - json_integer_value(a)));
		else
			json_object_set_new(out, keys[i],
					    json_pack("{s:n,s:n,s:n}", "a", "b", "delta"));
	}
	return out;
}

static json_t *layer_entry(const json_t *l, const char *change)
{
	return json_pack(
	    "{s:s,s:I,s:o,s:o,s:I}", "change", change, "index", (json_int_t)jint_of(l, "index", 0),
	    "diff_id", jstr_or_null(jstr_of(l, "diff_id")), "created_by",
	    jstr_or_null(jstr_of(l, "created_by")), "bytes", (json_int_t)jint_of(l, "size", 0));
}

static json_t *diff_layers(const json_t *la, const json_t *lb)
{
	size_t na = json_array_size(la), nb = json_array_size(lb);
	char *used = xcalloc(na ? na : 1, 1);
	json_t *out = json_array();

	for (size_t j = 0; j < nb; j++) {
		const json_t *l = json_array_get(lb, j);
		const char *id = jstr_of(l, "diff_id");
		size_t i;

		for (i = 0; id && i < na; i++)
			if (!used[i] && jstr_of(json_array_get(la, i), "diff_id") &&
			    !strcmp(jstr_of(json_array_get(la, i), "diff_id"), id))
				break;
		if (id && i < na)
			used[i] = 1;
		else
			json_array_append_new(out, layer_entry(l, "added"));
	}
	for (size_t i = 0; i < na; i++)
		if (!used[i])
			json_array_append_new(out, layer_entry(json_array_get(la, i), "removed"));
	free(used);
	/* biggest first */
	{
		json_t *v;
		size_t i;

		json_array_foreach(out, i, v)
		    json_object_set_new(v, "delta", json_integer(jint_of(v, "bytes", 0)));
		out = sorted(out);
		json_array_foreach(out, i, v) json_object_del(v, "delta");
	}
	return out;
}

/* Entries of `a` and `b` (arrays of objects) matched by the key fields. */
static json_t *diff_named(const json_t *a, const json_t *b, int packages)
{
	json_t *map = json_object(), *out = json_array(), *v;
	struct strbuf key = STRBUF_INIT;
	size_t i;

#define KEY(o)                                                                                     \
	(strbuf_reset(&key),                                                                       \
	 strbuf_addf(&key, "%s\n%s",                                                               \
		     packages ? (jstr_of(o, "manager") ? jstr_of(o, "manager") : "") : "",         \
		     jstr_of(o, "name") ? jstr_of(o, "name") : ""),                                \
	 key.buf)
	json_array_foreach(a, i, v) json_object_set_new(map, KEY(v), json_pack("[O,n]", v));
	json_array_foreach(b, i, v)
	{
		json_t *pair = json_object_get(map, KEY(v));

		if (!pair) {
			pair = json_pack("[n,n]");
			json_object_set_new(map, key.buf, pair);
		}
		json_array_set(pair, 1, v);
	}
#undef KEY
	{
		const char *k;

		json_object_foreach(map, k, v)
		{
			const json_t *pa = json_array_get(v, 0), *pb = json_array_get(v, 1);
			const json_t *any = json_is_object(pa) ? pa : pb;
			long long ba = jint_of(pa, "bytes", 0), bb = jint_of(pb, "bytes", 0);
			const char *va = jstr_of(pa, "version"), *vb = jstr_of(pb, "version");
			int same_version = (!va && !vb) || (va && vb && !strcmp(va, vb));
			json_t *e;

			if (json_is_object(pa) && json_is_object(pb) && ba == bb &&
			    (!packages || same_version))
				continue;
			e = json_pack("{s:s}", "change",
				      change_of(ba, bb, json_is_object(pa), json_is_object(pb)));
			if (packages)
				json_object_set_new(e, "manager",
						    jstr_or_null(jstr_of(any, "manager")));
			json_object_set_new(e, "name", jstr_or_null(jstr_of(any, "name")));
			if (packages) {
				json_object_set_new(e, "version_a", jstr_or_null(va));
				json_object_set_new(e, "version_b", jstr_or_null(vb));
			}
			json_object_set_new(e, "bytes_a", json_integer(ba));
			json_object_set_new(e, "bytes_b", json_integer(bb));
			json_object_set_new(e, "delta", json_integer(bb - ba));
			json_array_append_new(out, e);
		}
	}
	json_decref(map);
	strbuf_release(&key);
	return sorted(out);
}

/* ---- paths, from the sizemaps ------------------------------------------------ */

struct tnode {
	char *name;
	long long bytes, own, rest; /* own: a file's bytes; rest: folded entries */
	struct tnode **kids;
	size_t nr, alloc;
	json_t *index; /* name -> position in kids */
};

static struct tnode *tn_new(const char *name, size_t len)
{
	struct tnode *t = xcalloc(1, sizeof(*t));

	t->name = xstrndup(name, len);
	return t;
}

static void tn_free(struct tnode *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nr; i++)
		tn_free(t->kids[i]);
	free(t->kids);
	free(t->name);
	json_decref(t->index);
	free(t);
}

static struct tnode *tn_find(const struct tnode *t, const char *name)
{
	json_t *v = t->index ? json_object_get(t->index, name) : NULL;

	return v ? t->kids[json_integer_value(v)] : NULL;
}

static struct tnode *tn_child(struct tnode *t, const char *name, size_t len)
{
	char *n = xstrndup(name, len);
	struct tnode *k = tn_find(t, n);

	if (!k) {
		if (!t->index)
			t->index = json_object();
		k = tn_new(name, len);
		ALLOC_GROW(t->kids, t->nr + 1, t->alloc);
		json_object_set_new(t->index, n, json_integer((json_int_t)t->nr));
		t->kids[t->nr++] = k;
	}
	free(n);
	return k;
}

/* One sizemap node (analyze.h) into directory `p`, whose bytes count it already. */
static int tn_add(struct tnode *p, const json_t *n, int depth)
{
	const char *name = json_string_value(json_array_get(n, 0));
	json_t *b = json_array_get(n, 1), *x = json_array_get(n, 3);
	long long bytes;
	struct tnode *t = p;

	if (!name || !json_is_integer(b) || depth > 4096)
		return -1;
	bytes = json_integer_value(b);
	if (json_is_integer(x) || !*name) {
		p->rest += bytes;
		return 0;
	}
	for (const char *s = name; *s;) {
		size_t len = strcspn(s, "/");

		if (len) {
			t = tn_child(t, s, len);
			t->bytes += bytes;
		}
		s += len;
		if (*s == '/')
			s++;
	}
	if (t == p)
		return -1;
	if (!json_is_array(x)) {
		t->own += bytes;
		return 0;
	}
	for (size_t i = 0; i < json_array_size(x); i++)
		if (tn_add(t, json_array_get(x, i), depth + 1) < 0)
			return -1;
	return 0;
}

/* The tree of a report's sizemap (every layer's copy of each path), NULL
 * when the report has none; GS_EINVAL (via *bad) when it is malformed. */
static struct tnode *tn_of(const json_t *report, int *bad)
{
	const json_t *layers = json_object_get(json_object_get(report, "sizemap"), "layers");
	struct tnode *root;

	*bad = 0;
	if (!json_is_array(layers))
		return NULL;
	root = tn_new("/", 1);
	for (size_t l = 0; l < json_array_size(layers); l++) {
		const json_t *top = json_array_get(layers, l);

		for (size_t i = 0; i < json_array_size(top); i++) {
			const json_t *n = json_array_get(top, i);

			root->bytes += json_integer_value(json_array_get(n, 1));
			if (tn_add(root, n, 0) < 0) {
				*bad = 1;
				tn_free(root);
				return NULL;
			}
		}
	}
	return root;
}

struct pctx {
	json_t *entries;
	struct strbuf path;
};

static void entry(struct pctx *c, const char *suffix, long long a, long long b, int has_a,
		  int has_b)
{
	size_t len = c->path.len;

	if (suffix) {
		if (!c->path.len || c->path.buf[c->path.len - 1] != '/')
			strbuf_addch(&c->path, '/');
		strbuf_addstr(&c->path, suffix);
	}
	json_array_append_new(
	    c->entries, json_pack("{s:s,s:s,s:I,s:I,s:I}", "change", change_of(a, b, has_a, has_b),
				  "path", c->path.len ? c->path.buf : "/", "bytes_a", (json_int_t)a,
				  "bytes_b", (json_int_t)b, "delta", (json_int_t)(b - a)));
	strbuf_setlen(&c->path, len);
}

/* A whole subtree on one side, for the treemap. */
static json_t *side_tree(const struct tnode *t, int is_b)
{
	json_t *kids;

	if (!t->nr)
		return json_pack("[s,I,I]", t->name, (json_int_t)(is_b ? 0 : t->bytes),
				 (json_int_t)(is_b ? t->bytes : 0));
	kids = json_array();
	for (size_t i = 0; i < t->nr; i++)
		json_array_append_new(kids, side_tree(t->kids[i], is_b));
	if (t->own + t->rest)
		json_array_append_new(kids, json_pack("[s,I,I]", DIFF_REST,
						      (json_int_t)(is_b ? 0 : t->own + t->rest),
						      (json_int_t)(is_b ? t->own + t->rest : 0)));
	return json_pack("[s,I,I,o]", t->name, (json_int_t)(is_b ? 0 : t->bytes),
			 (json_int_t)(is_b ? t->bytes : 0), kids);
}

static json_t *walk(struct pctx *c, const struct tnode *a, const struct tnode *b)
{
	const char *name = a ? a->name : b->name;
	long long ab = a ? a->bytes : 0, bb = b ? b->bytes : 0;
	size_t len = c->path.len;
	json_t *kids, *ret = NULL;
	long long pool_a, pool_b;

	if (strcmp(name, "/")) {
		strbuf_addch(&c->path, '/');
		strbuf_addstr(&c->path, name);
	}
	if (!a || !b) {
		entry(c, NULL, ab, bb, !!a, !!b);
		ret = side_tree(a ? a : b, !a);
		goto done;
	}
	if (!a->nr || !b->nr) {
		if (ab != bb) {
			entry(c, NULL, ab, bb, 1, 1);
			ret = json_pack("[s,I,I]", name, (json_int_t)ab, (json_int_t)bb);
		}
		goto done;
	}
	kids = json_array();
	pool_a = a->own + a->rest;
	pool_b = b->own + b->rest;
	for (size_t i = 0; i < a->nr; i++) {
		const struct tnode *ka = a->kids[i], *kb = tn_find(b, ka->name);
		json_t *t = NULL;

		if (kb || !b->rest)
			t = walk(c, ka, kb);
		else
			pool_a += ka->bytes;
		if (t)
			json_array_append_new(kids, t);
	}
	for (size_t i = 0; i < b->nr; i++) {
		const struct tnode *kb = b->kids[i];
		json_t *t = NULL;

		if (tn_find(a, kb->name))
			continue;
		if (!a->rest)
			t = walk(c, NULL, kb);
		else
			pool_b += kb->bytes;
		if (t)
			json_array_append_new(kids, t);
	}
	if (pool_a != pool_b) {
		entry(c, DIFF_REST, pool_a, pool_b, 1, 1);
		json_array_append_new(
		    kids, json_pack("[s,I,I]", DIFF_REST, (json_int_t)pool_a, (json_int_t)pool_b));
	}
	if (!json_array_size(kids)) {
		json_decref(kids);
		goto done;
	}
	ret = json_pack("[s,I,I,o]", name, (json_int_t)ab, (json_int_t)bb, kids);
done:
	strbuf_setlen(&c->path, len);
	return ret;
}

/* ---- the document ------------------------------------------------------------- */

int diff_reports(const json_t *a, const json_t *b, const char *name_a, const char *name_b,
		 size_t top, json_t **out)
{
	const json_t *sa = json_object_get(a, "summary"), *sb = json_object_get(b, "summary");
	struct tnode *ta = NULL, *tb = NULL;
	json_t *d, *paths = NULL, *tree = NULL;
	int bad_a = 0, bad_b = 0;

	*out = NULL;
	if (!top)
		top = DIFF_DEFAULT_TOP;
	if (!json_is_integer(json_object_get(sa, "size")))
		return error_setc(GS_EINVAL, "'%s' is no report: no summary.size", name_a);
	if (!json_is_integer(json_object_get(sb, "size")))
		return error_setc(GS_EINVAL, "'%s' is no report: no summary.size", name_b);
	ta = tn_of(a, &bad_a);
	tb = tn_of(b, &bad_b);
	if (bad_a || bad_b) {
		tn_free(ta);
		tn_free(tb);
		return error_setc(GS_EINVAL,
				  "'%s': a sizemap node is not [name, bytes, owner, ...]",
				  bad_a ? name_a : name_b);
	}
	if (ta && tb) {
		struct pctx c = {json_array(), STRBUF_INIT};

		tree = walk(&c, ta, tb);
		if (!tree)
			tree = json_pack("[s,I,I,[]]", "/", (json_int_t)ta->bytes,
					 (json_int_t)tb->bytes);
		paths = sorted(c.entries);
		strbuf_release(&c.path);
	}
	d = json_object();
	json_object_set_new(d, "schema_version", json_integer(1));
	json_object_set_new(d, "a",
			    json_pack("{s:o,s:I}", "name", utf8_json_string(name_a), "size",
				      json_integer_value(json_object_get(sa, "size"))));
	json_object_set_new(d, "b",
			    json_pack("{s:o,s:I}", "name", utf8_json_string(name_b), "size",
				      json_integer_value(json_object_get(sb, "size"))));
	json_object_set_new(d, "summary", diff_summary(sa, sb));
	json_object_set_new(
	    d, "layers", diff_layers(json_object_get(a, "layers"), json_object_get(b, "layers")));
	json_object_set_new(
	    d, "packages",
	    diff_named(json_object_get(a, "packages"), json_object_get(b, "packages"), 1));
	json_object_set_new(d, "cuda",
			    diff_named(json_object_get(json_object_get(a, "cuda"), "components"),
				       json_object_get(json_object_get(b, "cuda"), "components"),
				       0));
	if (paths) {
		size_t total = json_array_size(paths);

		while (json_array_size(paths) > top)
			json_array_remove(paths, json_array_size(paths) - 1);
		json_object_set_new(d, "paths", paths);
		json_object_set_new(d, "paths_total", json_integer((json_int_t)total));
		json_object_set_new(d, "tree", tree);
	} else {
		json_object_set_new(d, "paths", json_null());
		json_object_set_new(d, "paths_total", json_null());
		json_object_set_new(d, "tree", json_null());
	}
	tn_free(ta);
	tn_free(tb);
	*out = d;
	return 0;
}

/* ---- text and Markdown -------------------------------------------------------- */

static void hsize(struct strbuf *out, long long b, int sign)
{
	char buf[64];

	gate_human_size(buf, sizeof(buf), b);
	strbuf_addf(out, "%s%s", sign && b > 0 ? "+" : "", buf);
}

/* A one-line cell: '|' and control characters made harmless. */
static void cell(struct strbuf *out, const char *s, int md)
{
	for (const char *p = s ? s : ""; *p; p++) {
		if (md && *p == '|')
			strbuf_addstr(out, "\\|");
		else if (md && (*p == '<' || *p == '>' || *p == '`' || *p == '*' || *p == '_' ||
				*p == '[' || *p == ']'))
			strbuf_addf(out, "\\%c", *p);
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			strbuf_addch(out, '?');
		else
			strbuf_addch(out, *p);
	}
}

static void lists(const json_t *d, size_t top, struct strbuf *out, int md)
{
	static const struct {
		const char *key, *title, *name;
	} L[] = {{"layers", "Layers", NULL},
		 {"packages", "Packages", "name"},
		 {"cuda", "CUDA components", "name"},
		 {"paths", "Paths", "path"}};

	for (size_t k = 0; k < sizeof(L) / sizeof(*L); k++) {
		const json_t *arr = json_object_get(d, L[k].key), *v;
		size_t i;

		if (!json_is_array(arr)) {
			strbuf_addf(out,
				    md ? "\n### %s\n\nnot compared: a report has no sizemap "
					 "(gpuslim inspect --sizemap --json)\n"
				       : "\n%s: not compared (a report has no sizemap: "
					 "gpuslim inspect --sizemap --json)\n",
				    L[k].title);
			continue;
		}
		if (md)
			strbuf_addf(out, "\n### %s\n\n", L[k].title);
		else
			strbuf_addf(out, "\n%s:%s\n", L[k].title,
				    json_array_size(arr) ? "" : " no change");
		if (md && !json_array_size(arr)) {
			strbuf_addstr(out, "no change\n");
			continue;
		}
		if (md)
			strbuf_addstr(out, "| change | what | before | after | delta |\n"
					   "|---|---|--:|--:|--:|\n");
		json_array_foreach(arr, i, v)
		{
			struct strbuf what = STRBUF_INIT;
			long long a, b;

			if (i >= top)
				break;
			if (!L[k].name) {
				strbuf_addf(&what, "layer %lld ", jint_of(v, "index", 0));
				strbuf_addstr(&what, jstr_of(v, "created_by")
							 ? jstr_of(v, "created_by")
							 : "");
				if (what.len > 100) {
					strbuf_setlen(&what, 97);
					strbuf_addstr(&what, "...");
				}
				a = !strcmp(jstr_of(v, "change"), "removed")
					? jint_of(v, "bytes", 0)
					: 0;
				b = !strcmp(jstr_of(v, "change"), "added") ? jint_of(v, "bytes", 0)
									   : 0;
			} else {
				if (json_object_get(v, "manager"))
					strbuf_addf(&what, "%s ", jstr_of(v, "manager"));
				strbuf_addstr(&what,
					      jstr_of(v, L[k].name) ? jstr_of(v, L[k].name) : "");
				if (json_object_get(v, "version_a") ||
				    json_object_get(v, "version_b")) {
					const char *va = jstr_of(v, "version_a"),
						   *vb = jstr_of(v, "version_b");

					if (va && vb && strcmp(va, vb))
						strbuf_addf(&what, " %s -> %s", va, vb);
					else if (va || vb)
						strbuf_addf(&what, " %s", va ? va : vb);
				}
				a = jint_of(v, "bytes_a", 0);
				b = jint_of(v, "bytes_b", 0);
			}
			if (md) {
				strbuf_addf(out, "| %s | ", jstr_of(v, "change"));
				cell(out, what.buf, 1);
				strbuf_addstr(out, " | ");
				hsize(out, a, 0);
				strbuf_addstr(out, " | ");
				hsize(out, b, 0);
				strbuf_addstr(out, " | ");
				hsize(out, b - a, 1);
				strbuf_addstr(out, " |\n");
			} else {
				strbuf_addf(out, "  %-8s ", jstr_of(v, "change"));
				hsize(out, b - a, 1);
				strbuf_addstr(out, "  ");
				cell(out, what.buf, 0);
				strbuf_addch(out, '\n');
			}
			strbuf_release(&what);
		}
		if (json_array_size(arr) > top ||
		    (!strcmp(L[k].key, "paths") &&
		     jint_of(d, "paths_total", 0) > (long long)json_array_size(arr)))
			strbuf_addf(out,
				    md ? "\n%lld changed in all\n" : "  (%lld changed in all)\n",
				    !strcmp(L[k].key, "paths") ? jint_of(d, "paths_total", 0)
							       : (long long)json_array_size(arr));
	}
}

static void summary(const json_t *d, struct strbuf *out, int md)
{
	const json_t *s = json_object_get(d, "summary"), *v;
	const char *k;

	if (md)
		strbuf_addstr(out, "| | before | after | delta |\n|---|--:|--:|--:|\n");
	json_object_foreach((json_t *)s, k, v)
	{
		int bytes = strcmp(k, "layers") && strcmp(k, "files");

		if (json_is_null(json_object_get(v, "delta")))
			continue;
		strbuf_addf(out, md ? "| %s | " : "%-16s ", k);
		if (bytes) {
			hsize(out, jint_of(v, "a", 0), 0);
			strbuf_addstr(out, md ? " | " : " -> ");
			hsize(out, jint_of(v, "b", 0), 0);
			strbuf_addstr(out, md ? " | " : " (");
			hsize(out, jint_of(v, "delta", 0), 1);
		} else {
			strbuf_addf(out, md ? "%lld | %lld | %+lld" : "%lld -> %lld (%+lld",
				    jint_of(v, "a", 0), jint_of(v, "b", 0), jint_of(v, "delta", 0));
		}
		strbuf_addstr(out, md ? " |\n" : ")\n");
	}
}

/* The text and the Markdown of diff_human() and diff_markdown(): the same
 * sections, `md` picks the markup as summary() and lists() do. */
static void render(const json_t *d, size_t top, struct strbuf *out, int md)
{
	if (!top)
		top = 10;
	strbuf_addstr(out, md ? "## gpuslim diff: " : "gpuslim diff ");
	cell(out, jstr_of(json_object_get(d, "a"), "name"), md);
	strbuf_addstr(out, md ? " \xe2\x86\x92 " : " -> ");
	cell(out, jstr_of(json_object_get(d, "b"), "name"), md);
	strbuf_addstr(out, md ? "\n\n" : "\n");
	summary(d, out, md);
	lists(d, top, out, md);
}

void diff_human(const json_t *d, size_t top, struct strbuf *out)
{
	render(d, top, out, 0);
}

void diff_markdown(const json_t *d, size_t top, struct strbuf *out)
{
	render(d, top, out, 1);
}
