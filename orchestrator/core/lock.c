#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/knowledge.h"
#include "core/lock.h"
#include "core/pep440.h"
#include "core/pyindex.h"
#include "core/recipe.h"
#include "core/wheel.h"
#include "util/fs.h"
#include "util/strbuf.h"

/*
 * gpuslim.lock: written from a resolved plan, read back with every field
 * checked (errors name the field by its path in the document), compared
 * with a fresh offline plan, and applied to one.
 */

/* gpuslim.lock is small: a few KB per cell. */
#define LOCK_MAX_BYTES (64u << 20)

/* The inputs of a cell, in the order they are written; `from` says where
 * the fresh value comes from in a staleness message. */
enum lock_input_type { LOCK_IN_STRING, LOCK_IN_LIST };

static const struct {
	const char *key;
	enum lock_input_type type;
	const char *from;
} lock_inputs[] = {
    {"cuda", LOCK_IN_STRING, "the recipe"},	  {"os", LOCK_IN_STRING, "the plan"},
    {"python", LOCK_IN_STRING, "the recipe"},	  {"python_source", LOCK_IN_STRING, "the recipe"},
    {"frameworks", LOCK_IN_LIST, "the plan"},	  {"python_packages", LOCK_IN_LIST, "the recipe"},
    {"pip_indexes", LOCK_IN_LIST, "the plan"},	  {"registry", LOCK_IN_STRING, "the recipe"},
    {"repository", LOCK_IN_STRING, "the recipe"}, {"builder", LOCK_IN_STRING, "the plan"},
    {"final", LOCK_IN_STRING, "the plan"},
};
#define LOCK_INPUTS_NR (sizeof(lock_inputs) / sizeof(lock_inputs[0]))

/* ---- freeing ---------------------------------------------------------- */

static void lock_cell_release(struct lock_cell *c)
{
	free(c->id);
	json_decref(c->inputs);
	free(c->cuda);
	free(c->builder.ref);
	free(c->builder.digest);
	free(c->final.ref);
	free(c->final.digest);
	plan_wheels_release(c->wheels, c->wheels_nr);
}

void lock_free(struct lock *l)
{
	if (!l)
		return;
	free(l->recipe_name);
	free(l->git.url);
	free(l->git.ref);
	free(l->git.commit);
	for (size_t i = 0; i < l->cells_nr; i++)
		lock_cell_release(&l->cells[i]);
	free(l->cells);
	free(l);
}

/* ---- small helpers ---------------------------------------------------- */

static char *lock_xstrdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static json_t *lock_jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

char *lock_normalize_name(const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	for (const char *s = name; *s; s++) {
		if (*s == '-' || *s == '_' || *s == '.') {
			if (!sb.len || sb.buf[sb.len - 1] != '-')
				strbuf_addch(&sb, '-');
			continue;
		}
		strbuf_addch(&sb, tolower((unsigned char)*s));
	}
	return strbuf_detach(&sb, NULL);
}

static void lock_wheel_copy(struct plan_wheel *dst, const struct plan_wheel *src)
{
	dst->name = lock_xstrdup_or_null(src->name);
	dst->version = lock_xstrdup_or_null(src->version);
	dst->filename = lock_xstrdup_or_null(src->filename);
	dst->url = lock_xstrdup_or_null(src->url);
	dst->sha256 = lock_xstrdup_or_null(src->sha256);
	dst->index_url = lock_xstrdup_or_null(src->index_url);
	dst->required_by = lock_xstrdup_or_null(src->required_by);
	dst->framework = src->framework;
	dst->yanked = lock_xstrdup_or_null(src->yanked);
}

static struct plan_wheel *lock_wheels_copy(const struct plan_wheel *w, size_t nr)
{
	struct plan_wheel *out = xcalloc(nr ? nr : 1, sizeof(*out));

	for (size_t i = 0; i < nr; i++)
		lock_wheel_copy(&out[i], &w[i]);
	return out;
}

const struct lock_cell *lock_find_cell(const struct lock *l, const char *id)
{
	for (size_t i = 0; i < l->cells_nr; i++)
		if (!strcmp(l->cells[i].id, id))
			return &l->cells[i];
	return NULL;
}

/* ---- inputs ----------------------------------------------------------- */

static int lock_json_has(const json_t *a, const char *s)
{
	for (size_t i = 0; i < json_array_size(a); i++)
		if (!strcmp(json_string_value(json_array_get(a, i)), s))
			return 1;
	return 0;
}

json_t *lock_cell_inputs(const struct plan *p, const struct plan_cell *c)
{
	const struct recipe *r = p->recipe;
	json_t *o = json_object(), *fws = json_array(), *pkgs = json_array(), *idx = json_array();

	json_object_set_new(o, "cuda", lock_jstr(c->cuda_asked.value));
	json_object_set_new(o, "os", lock_jstr(c->os.value));
	json_object_set_new(o, "python", lock_jstr(c->python.value));
	json_object_set_new(o, "python_source",
			    lock_jstr(c->python.value ? c->python_source.value : NULL));
	for (size_t i = 0; i < c->frameworks_nr; i++)
		json_array_append_new(fws, lock_jstr(c->frameworks[i].pip_spec));
	json_object_set_new(o, "frameworks", fws);
	for (size_t i = 0; i < r->python_packages.nr; i++)
		json_array_append_new(pkgs, json_string(r->python_packages.items[i].v));
	json_object_set_new(o, "python_packages", pkgs);
	for (size_t i = 0; i < c->extra_index_urls.nr; i++) {
		char *u = pyindex_redact_url(c->extra_index_urls.items[i]);

		json_array_append_new(idx, json_string(u));
		free(u);
	}
	/* The default index too: python_packages and what the frameworks'
	 * indexes lack come from it, so changing pip.index_url makes the
	 * lock stale. */
	if (c->pip_requirements.nr) {
		char *u = pyindex_redact_url(r->pip.index_url.v ? r->pip.index_url.v
								: RECIPE_DEFAULT_INDEX_URL);

		if (!json_array_size(idx) || !lock_json_has(idx, u))
			json_array_append_new(idx, json_string(u));
		free(u);
	}
	json_object_set_new(o, "pip_indexes", idx);
	json_object_set_new(o, "registry", lock_jstr(c->final.registry));
	json_object_set_new(o, "repository", lock_jstr(c->final.repository));
	json_object_set_new(o, "builder", lock_jstr(c->builder.ref));
	json_object_set_new(o, "final", lock_jstr(c->final.ref));
	return o;
}

json_t *lock_plan_inputs(const struct plan *p)
{
	json_t *a = json_array();

	for (size_t i = 0; i < p->cells_nr; i++)
		json_array_append_new(a, lock_cell_inputs(p, &p->cells[i]));
	return a;
}

int lock_inputs_same_images(const json_t *a, const json_t *b)
{
	static const char *const keys[] = {"cuda",    "os",    "registry", "repository",
					   "builder", "final", NULL};

	for (size_t i = 0; keys[i]; i++)
		if (!json_equal(json_object_get(a, keys[i]), json_object_get(b, keys[i])))
			return 0;
	return 1;
}

/* ---- from a plan, to JSON --------------------------------------------- */

static int lock_wheel_complete(const struct plan_wheel *w)
{
	return w->name && w->version && w->filename && w->url && w->sha256 && w->index_url &&
	       w->required_by;
}

int lock_from_plan(const struct plan *p, const json_t *inputs, struct lock **out)
{
	struct lock *l = xcalloc(1, sizeof(*l));
	int ret = 0;

	*out = NULL;
	if (json_array_size(inputs) != p->cells_nr) {
		ret = error_setc(GS_EINVAL, "the inputs are of another plan (%zu cells, not %zu)",
				 json_array_size(inputs), p->cells_nr);
		goto done;
	}
	l->recipe_name = lock_xstrdup_or_null(p->recipe->name.v);
	memcpy(l->recipe_sha256, p->recipe->sha256, sizeof(l->recipe_sha256));
	l->plugins_schema_version = KB_SCHEMA_VERSION;
	memcpy(l->plugins_sha256, p->kb->sha256, sizeof(l->plugins_sha256));
	if (p->git.url) {
		if (!p->git.commit) {
			ret = error_setc(GS_EINVAL, "app.git '%s' is not resolved to a commit",
					 p->git.url);
			goto done;
		}
		l->git.url = xstrdup(p->git.url);
		l->git.ref = lock_xstrdup_or_null(p->git.ref);
		l->git.commit = xstrdup(p->git.commit);
	}
	l->cells = xcalloc(p->cells_nr ? p->cells_nr : 1, sizeof(*l->cells));
	for (size_t i = 0; i < p->cells_nr; i++) {
		const struct plan_cell *c = &p->cells[i];
		struct lock_cell *lc = &l->cells[l->cells_nr];

		if (!c->builder.digest || !c->final.digest) {
			ret = error_setc(GS_EINVAL,
					 "cell '%s': the base images are not pinned by digest",
					 c->id);
			goto done;
		}
		for (size_t j = 0; j < c->wheels_nr; j++)
			if (!lock_wheel_complete(&c->wheels[j])) {
				ret =
				    error_setc(GS_EINVAL, "cell '%s': wheel '%s' is not pinned",
					       c->id, c->wheels[j].name ? c->wheels[j].name : "?");
				goto done;
			}
		l->cells_nr++;
		lc->id = xstrdup(c->id);
		lc->inputs = json_deep_copy(json_array_get(inputs, i));
		lc->cuda = xstrdup(c->cuda.value);
		lc->builder.ref = xstrdup(c->builder.ref);
		lc->builder.digest = xstrdup(c->builder.digest);
		lc->final.ref = xstrdup(c->final.ref);
		lc->final.digest = xstrdup(c->final.digest);
		lc->wheels = lock_wheels_copy(c->wheels, c->wheels_nr);
		lc->wheels_nr = c->wheels_nr;
	}
done:
	if (ret)
		lock_free(l);
	else
		*out = l;
	return ret;
}

static json_t *lock_jimage(const struct lock_image *img)
{
	json_t *o = json_object();

	json_object_set_new(o, "ref", lock_jstr(img->ref));
	json_object_set_new(o, "digest", lock_jstr(img->digest));
	return o;
}

json_t *lock_to_json(const struct lock *l)
{
	json_t *root = json_object(), *x, *cells = json_array();

	json_object_set_new(root, "lock_version", json_integer(LOCK_VERSION));
	x = json_object();
	json_object_set_new(x, "name", lock_jstr(l->recipe_name));
	json_object_set_new(x, "sha256", json_string(l->recipe_sha256));
	json_object_set_new(root, "recipe", x);
	x = json_object();
	json_object_set_new(x, "schema_version", json_integer(l->plugins_schema_version));
	json_object_set_new(x, "sha256", json_string(l->plugins_sha256));
	json_object_set_new(root, "plugins", x);
	if (l->git.url) {
		x = json_object();
		json_object_set_new(x, "url", json_string(l->git.url));
		json_object_set_new(x, "ref", lock_jstr(l->git.ref));
		json_object_set_new(x, "commit", lock_jstr(l->git.commit));
		json_object_set_new(root, "git", x);
	} else {
		json_object_set_new(root, "git", json_null());
	}
	for (size_t i = 0; i < l->cells_nr; i++) {
		const struct lock_cell *c = &l->cells[i];

		x = json_object();
		json_object_set_new(x, "id", json_string(c->id));
		json_object_set_new(x, "inputs", json_deep_copy(c->inputs));
		json_object_set_new(x, "cuda", lock_jstr(c->cuda));
		json_object_set_new(x, "builder", lock_jimage(&c->builder));
		json_object_set_new(x, "final", lock_jimage(&c->final));
		json_object_set_new(x, "wheels", plan_wheels_to_json(c->wheels, c->wheels_nr));
		json_array_append_new(cells, x);
	}
	json_object_set_new(root, "cells", cells);
	return root;
}

char *lock_format(const struct lock *l)
{
	json_t *doc = lock_to_json(l);
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	char *out = NULL;

	if (text)
		out = xstrfmt("%s\n", text);
	free(text);
	json_decref(doc);
	return out;
}

int lock_write(const struct lock *l, const char *path)
{
	char *text = lock_format(l);
	int ret;

	if (!text)
		return error_setc(GS_EINVAL, "cannot format '%s' as JSON", path);
	ret = fs_write_atomic(path, text, strlen(text));
	free(text);
	return ret < 0 ? GS_EINFRA : 0;
}

/* ---- reading ---------------------------------------------------------- */

struct lock_reader {
	const char *name;
	struct strbuf path; /* of the value being read: "cells[2].wheels[0]" */
};

static int lock_fail(struct lock_reader *rd, const char *key, const char *fmt, ...) GS_FMT(3, 4);

/* "NAME: PATH.KEY: message" (no PATH at the top, no KEY for the value
 * itself). */
static int lock_fail(struct lock_reader *rd, const char *key, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	strbuf_addf(&sb, "%s: ", rd->name);
	if (rd->path.len || key)
		strbuf_addf(&sb, "%s%s%s: ", rd->path.len ? rd->path.buf : "",
			    rd->path.len && key ? "." : "", key ? key : "");
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	error_setc(GS_EINVAL, "%s", sb.buf);
	strbuf_release(&sb);
	return GS_EINVAL;
}

static const char *lock_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* An object with exactly `keys` (NULL-terminated). */
static int lock_object(struct lock_reader *rd, const char *key, const json_t *o,
		       const char *const *keys)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o))
		return lock_fail(rd, key, "expected an object, got %s", lock_type_name(o));
	json_object_foreach((json_t *)o, k, v)
	{
		size_t i;

		for (i = 0; keys[i]; i++)
			if (!strcmp(keys[i], k))
				break;
		if (!keys[i]) {
			size_t len = rd->path.len;
			int ret;

			if (key)
				strbuf_addf(&rd->path, "%s%s", len ? "." : "", key);
			ret = lock_fail(rd, NULL, "unknown key '%s'", k);
			strbuf_setlen(&rd->path, len);
			return ret;
		}
	}
	for (size_t i = 0; keys[i]; i++)
		if (!json_object_get(o, keys[i])) {
			size_t len = rd->path.len;
			int ret;

			if (key)
				strbuf_addf(&rd->path, "%s%s", len ? "." : "", key);
			ret = lock_fail(rd, NULL, "missing key '%s'", keys[i]);
			strbuf_setlen(&rd->path, len);
			return ret;
		}
	return 0;
}

static int lock_is_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return 1;
}

static int lock_is_sha256_hex(const char *s)
{
	return lock_is_hex(s, 64);
}

static int lock_is_digest(const char *s)
{
	return starts_with(s, "sha256:") && lock_is_hex(s + 7, 64);
}

static int lock_is_commit(const char *s)
{
	return lock_is_hex(s, 40);
}

static int lock_is_cell_id(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return 0;
	return 1;
}

static int lock_is_version(const char *s)
{
	int major, minor, patch;

	return strspn(s, "0123456789.") == strlen(s) &&
	       !kb_parse_version(s, &major, &minor, &patch) && patch >= 0;
}

enum { LOCK_NULLABLE = 1 };

/* The string at `key` of `o`, which lock_object() checked is there; NULL
 * for a null when `flags` allow it. `ok` and `want` check its form. */
static int lock_get_str(struct lock_reader *rd, const json_t *o, const char *key, unsigned flags,
			int (*ok)(const char *), const char *want, char **out)
{
	const json_t *v = json_object_get(o, key);
	const char *s;

	*out = NULL;
	if (json_is_null(v) && (flags & LOCK_NULLABLE))
		return 0;
	if (!json_is_string(v))
		return lock_fail(rd, key, "expected a string%s, got %s",
				 flags & LOCK_NULLABLE ? " or null" : "", lock_type_name(v));
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return lock_fail(rd, key, "a NUL byte in the string");
	if (!*s)
		return lock_fail(rd, key, "expected %s, got an empty string",
				 want ? want : "a string");
	if (ok && !ok(s))
		return lock_fail(rd, key, "expected %s, got '%s'", want, s);
	*out = xstrdup(s);
	return 0;
}

static int lock_push_index(struct lock_reader *rd, const char *key, size_t i)
{
	size_t len = rd->path.len;

	strbuf_addf(&rd->path, "%s%s[%zu]", len ? "." : "", key, i);
	return (int)len;
}

static int lock_read_inputs(struct lock_reader *rd, const json_t *o)
{
	static const char *keys[LOCK_INPUTS_NR + 1];
	size_t len = rd->path.len;
	int ret = 0;

	for (size_t i = 0; i < LOCK_INPUTS_NR; i++)
		keys[i] = lock_inputs[i].key;
	keys[LOCK_INPUTS_NR] = NULL;
	if ((ret = lock_object(rd, "inputs", o, keys)))
		return ret;
	strbuf_addstr(&rd->path, len ? ".inputs" : "inputs");
	for (size_t i = 0; i < LOCK_INPUTS_NR && !ret; i++) {
		const json_t *v = json_object_get(o, lock_inputs[i].key);

		if (lock_inputs[i].type == LOCK_IN_STRING) {
			if (!json_is_null(v) && !json_is_string(v))
				ret = lock_fail(rd, lock_inputs[i].key,
						"expected a string or null, got %s",
						lock_type_name(v));
			continue;
		}
		if (!json_is_array(v)) {
			ret = lock_fail(rd, lock_inputs[i].key, "expected an array, got %s",
					lock_type_name(v));
			continue;
		}
		for (size_t j = 0; j < json_array_size(v) && !ret; j++) {
			const json_t *item = json_array_get(v, j);

			if (!json_is_string(item)) {
				size_t l2 = (size_t)lock_push_index(rd, lock_inputs[i].key, j);

				ret = lock_fail(rd, NULL, "expected a string, got %s",
						lock_type_name(item));
				strbuf_setlen(&rd->path, l2);
			}
		}
	}
	strbuf_setlen(&rd->path, len);
	return ret;
}

static int lock_read_image(struct lock_reader *rd, const json_t *o, const char *key,
			   struct lock_image *img)
{
	static const char *const keys[] = {"ref", "digest", NULL};
	size_t len = rd->path.len;
	int ret;

	if ((ret = lock_object(rd, key, o, keys)))
		return ret;
	strbuf_addf(&rd->path, "%s%s", len ? "." : "", key);
	ret = lock_get_str(rd, o, "ref", 0, NULL, "an image reference", &img->ref);
	if (!ret)
		ret = lock_get_str(rd, o, "digest", 0, lock_is_digest,
				   "'sha256:' and 64 lowercase hex digits", &img->digest);
	strbuf_setlen(&rd->path, len);
	return ret;
}

static int lock_is_name(const char *s)
{
	char *n = pyname_normalize(s);
	int ok = !strcmp(n, s);

	free(n);
	return ok;
}

static int lock_is_pep440(const char *s)
{
	return !pep440_valid(s);
}

/* Absolute http(s), a host, no credentials, no fragment: what pip is
 * given and what a lock may show. */
static int lock_is_plain_url(const char *s)
{
	char *shown;
	int ok;

	if (!starts_with(s, "https://") && !starts_with(s, "http://"))
		return 0;
	if (strchr(s, '#') || strpbrk(s, " \t\r\n"))
		return 0;
	shown = pyindex_redact_url(s);
	ok = !strcmp(shown, s) && s[strcspn(s, ":") + 3] && s[strcspn(s, ":") + 3] != '/';
	free(shown);
	return ok;
}

static int lock_read_wheel(struct lock_reader *rd, const json_t *o, struct plan_wheel *w)
{
	static const char *const keys[] = {"name",	"version",     "filename",  "url", "sha256",
					   "index_url", "required_by", "framework", NULL};
	static const char *const url_want = "an absolute http(s) URL without credentials";
	struct wheel_name wn;
	const json_t *fw, *y = json_object_get(o, "yanked");
	json_t *rest = NULL;
	int ret;

	/* "yanked" is the one optional key. */
	if (y && json_is_object(o)) {
		rest = json_copy((json_t *)o);
		json_object_del(rest, "yanked");
		o = rest;
	}
	if ((ret = lock_object(rd, NULL, o, keys)))
		goto done;
	if ((ret = lock_get_str(
		 rd, o, "name", 0, lock_is_name,
		 "a normalized project name (PEP 503: lowercase, runs of -_. as '-')", &w->name)) ||
	    (ret = lock_get_str(rd, o, "version", 0, lock_is_pep440, "a PEP 440 version",
				&w->version)) ||
	    (ret = lock_get_str(rd, o, "filename", 0, NULL, "a wheel's file name (*.whl)",
				&w->filename)) ||
	    (ret = lock_get_str(rd, o, "url", 0, lock_is_plain_url, url_want, &w->url)) ||
	    (ret = lock_get_str(rd, o, "sha256", 0, lock_is_sha256_hex, "64 lowercase hex digits",
				&w->sha256)) ||
	    (ret =
		 lock_get_str(rd, o, "index_url", 0, lock_is_plain_url, url_want, &w->index_url)) ||
	    (ret =
		 lock_get_str(rd, o, "required_by", 0, NULL, "what required it", &w->required_by)))
		goto done;
	if (strchr(w->filename, '/') || !ends_with(w->filename, ".whl") ||
	    wheel_name_parse(w->filename, &wn) < 0) {
		ret = lock_fail(rd, "filename", "expected a wheel's file name (*.whl), got '%s'",
				w->filename);
		goto done;
	}
	if (strcmp(wn.name, w->name) || pep440_cmp(wn.version, w->version))
		ret = lock_fail(rd, "filename", "'%s' is not a wheel of %s %s", w->filename,
				w->name, w->version);
	wheel_name_release(&wn);
	if (ret)
		goto done;
	fw = json_object_get(o, "framework");
	if (!json_is_boolean(fw)) {
		ret = lock_fail(rd, "framework", "expected a boolean, got %s", lock_type_name(fw));
		goto done;
	}
	w->framework = json_is_true(fw);
	if (y) {
		if (json_is_true(y)) {
			w->yanked = xstrdup("");
		} else if (json_is_string(y) && json_string_length(y) &&
			   strlen(json_string_value(y)) == json_string_length(y)) {
			w->yanked = xstrdup(json_string_value(y));
		} else {
			ret = lock_fail(rd, "yanked",
					"expected true or the reason (a string), got %s",
					lock_type_name(y));
			goto done;
		}
	}
done:
	json_decref(rest);
	return ret;
}

static int lock_read_cell(struct lock_reader *rd, const struct lock *l, const json_t *o,
			  struct lock_cell *c)
{
	static const char *const keys[] = {"id",    "inputs", "cuda", "builder",
					   "final", "wheels", NULL};
	const json_t *wheels;
	const struct lock_cell *other;
	int ret;

	if ((ret = lock_object(rd, NULL, o, keys)))
		return ret;
	if ((ret = lock_get_str(rd, o, "id", 0, lock_is_cell_id, "a cell id ([A-Za-z0-9_-]+)",
				&c->id)))
		return ret;
	other = lock_find_cell(l, c->id);
	if (other)
		return lock_fail(rd, "id", "'%s' is also cells[%zu]'s id", c->id,
				 (size_t)(other - l->cells));
	if ((ret = lock_read_inputs(rd, json_object_get(o, "inputs"))))
		return ret;
	c->inputs = json_deep_copy(json_object_get(o, "inputs"));
	if ((ret = lock_get_str(rd, o, "cuda", 0, lock_is_version, "a CUDA version (X.Y.Z)",
				&c->cuda)) ||
	    (ret = lock_read_image(rd, json_object_get(o, "builder"), "builder", &c->builder)) ||
	    (ret = lock_read_image(rd, json_object_get(o, "final"), "final", &c->final)))
		return ret;
	wheels = json_object_get(o, "wheels");
	if (!json_is_array(wheels))
		return lock_fail(rd, "wheels", "expected an array, got %s", lock_type_name(wheels));
	c->wheels =
	    xcalloc(json_array_size(wheels) ? json_array_size(wheels) : 1, sizeof(*c->wheels));
	for (size_t i = 0; i < json_array_size(wheels); i++) {
		size_t len = (size_t)lock_push_index(rd, "wheels", i);

		c->wheels_nr++;
		ret = lock_read_wheel(rd, json_array_get(wheels, i), &c->wheels[i]);
		strbuf_setlen(&rd->path, len);
		if (ret)
			return ret;
	}
	return 0;
}

static int lock_read_doc(struct lock_reader *rd, const json_t *root, struct lock *l)
{
	static const char *const top[] = {"lock_version", "recipe", "plugins",
					  "git",	  "cells",  NULL};
	static const char *const recipe_keys[] = {"name", "sha256", NULL};
	static const char *const plugins_keys[] = {"schema_version", "sha256", NULL};
	static const char *const git_keys[] = {"url", "ref", "commit", NULL};
	const json_t *v, *o, *cells;
	char *s = NULL;
	int ret;

	if ((ret = lock_object(rd, NULL, root, top)))
		return ret;
	v = json_object_get(root, "lock_version");
	if (!json_is_integer(v))
		return lock_fail(rd, "lock_version", "expected an integer, got %s",
				 lock_type_name(v));
	if (json_integer_value(v) != LOCK_VERSION)
		return lock_fail(rd, "lock_version",
				 "this gpuslim reads lock version %d, not %lld: run 'gpuslim lock' "
				 "with this gpuslim to write it again",
				 LOCK_VERSION, (long long)json_integer_value(v));

	o = json_object_get(root, "recipe");
	if ((ret = lock_object(rd, "recipe", o, recipe_keys)))
		return ret;
	strbuf_addstr(&rd->path, "recipe");
	ret = lock_get_str(rd, o, "name", LOCK_NULLABLE, NULL, "a name", &l->recipe_name);
	if (!ret)
		ret = lock_get_str(rd, o, "sha256", 0, lock_is_sha256_hex,
				   "64 lowercase hex digits", &s);
	strbuf_reset(&rd->path);
	if (ret)
		return ret;
	memcpy(l->recipe_sha256, s, 65);
	free(s);
	s = NULL;

	o = json_object_get(root, "plugins");
	if ((ret = lock_object(rd, "plugins", o, plugins_keys)))
		return ret;
	strbuf_addstr(&rd->path, "plugins");
	v = json_object_get(o, "schema_version");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		ret = lock_fail(rd, "schema_version", "expected a positive integer, got %s",
				json_is_integer(v) ? "a number below 1" : lock_type_name(v));
	else
		l->plugins_schema_version = (long)json_integer_value(v);
	if (!ret)
		ret = lock_get_str(rd, o, "sha256", 0, lock_is_sha256_hex,
				   "64 lowercase hex digits", &s);
	strbuf_reset(&rd->path);
	if (ret)
		return ret;
	memcpy(l->plugins_sha256, s, 65);
	free(s);

	o = json_object_get(root, "git");
	if (!json_is_null(o)) {
		if ((ret = lock_object(rd, "git", o, git_keys)))
			return ret;
		strbuf_addstr(&rd->path, "git");
		if (!(ret = lock_get_str(rd, o, "url", 0, NULL, "a URL", &l->git.url)) &&
		    !(ret = lock_get_str(rd, o, "ref", LOCK_NULLABLE, NULL, "a ref", &l->git.ref)))
			ret = lock_get_str(rd, o, "commit", 0, lock_is_commit,
					   "40 lowercase hex digits", &l->git.commit);
		strbuf_reset(&rd->path);
		if (ret)
			return ret;
	}

	cells = json_object_get(root, "cells");
	if (!json_is_array(cells))
		return lock_fail(rd, "cells", "expected an array, got %s", lock_type_name(cells));
	if (!json_array_size(cells))
		return lock_fail(rd, "cells", "expected at least one cell");
	l->cells = xcalloc(json_array_size(cells), sizeof(*l->cells));
	for (size_t i = 0; i < json_array_size(cells); i++) {
		lock_push_index(rd, "cells", i);
		ret = lock_read_cell(rd, l, json_array_get(cells, i), &l->cells[i]);
		l->cells_nr++;
		strbuf_reset(&rd->path);
		if (ret)
			return ret;
	}
	return 0;
}

int lock_parse(const char *name, const char *data, size_t len, struct lock **out)
{
	struct lock_reader rd = {name, STRBUF_INIT};
	struct lock *l = xcalloc(1, sizeof(*l));
	json_error_t jerr;
	json_t *root;
	int ret;

	*out = NULL;
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		ret = error_setc(GS_EINVAL, "%s:%d:%d: %s", name, jerr.line > 0 ? jerr.line : 0,
				 jerr.column > 0 ? jerr.column : 0, jerr.text);
		goto done;
	}
	ret = lock_read_doc(&rd, root, l);
done:
	json_decref(root);
	strbuf_release(&rd.path);
	if (ret)
		lock_free(l);
	else
		*out = l;
	return ret;
}

int lock_read(const char *path, struct lock **out)
{
	struct strbuf sb = STRBUF_INIT;
	int ret;

	*out = NULL;
	if (!fs_exists(path)) {
		ret = error_setc(GS_ENOTFOUND, "cannot read '%s': no such file", path);
		goto done;
	}
	if ((ret = fs_read_file(path, &sb, LOCK_MAX_BYTES)) < 0) {
		ret = GS_EINVAL;
		goto done;
	}
	ret = lock_parse(path, sb.buf ? sb.buf : "", sb.len, out);
done:
	strbuf_release(&sb);
	return ret;
}

/* ---- staleness -------------------------------------------------------- */

/* A value as a message shows it: JSON, null as "none". */
static void lock_add_value(struct strbuf *sb, const json_t *v)
{
	char *s;

	if (!v || json_is_null(v)) {
		strbuf_addstr(sb, "none");
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	strbuf_addstr(sb, s ? s : "?");
	free(s);
}

static void lock_stale_value(struct vec *stale, const char *cell, const char *field,
			     const json_t *locked, const json_t *now, const char *from)
{
	struct strbuf sb = STRBUF_INIT;

	if (cell)
		strbuf_addf(&sb, "cell '%s': ", cell);
	strbuf_addf(&sb, "%s: lock has ", field);
	lock_add_value(&sb, locked);
	strbuf_addf(&sb, ", %s has ", from);
	lock_add_value(&sb, now);
	vec_push(stale, strbuf_detach(&sb, NULL));
}

static void lock_check_git(const struct lock *l, const struct plan *p, struct vec *stale)
{
	json_t *a, *b;

	if (!l->git.url != !p->git.url || (l->git.url && strcmp(l->git.url, p->git.url))) {
		a = lock_jstr(l->git.url);
		b = lock_jstr(p->git.url);
		lock_stale_value(stale, NULL, "app.git.url", a, b, "the recipe");
		json_decref(a);
		json_decref(b);
		return;
	}
	if (l->git.url &&
	    (!l->git.ref != !p->git.ref || (l->git.ref && strcmp(l->git.ref, p->git.ref)))) {
		a = lock_jstr(l->git.ref);
		b = lock_jstr(p->git.ref);
		lock_stale_value(stale, NULL, "app.git.ref", a, b, "the recipe");
		json_decref(a);
		json_decref(b);
	}
}

int lock_check(const struct lock *l, const struct plan *p, const char *name, struct vec *stale,
	       struct vec *notes)
{
	size_t start = stale->nr;

	if (l->plugins_schema_version != KB_SCHEMA_VERSION)
		vec_pushf(stale, "plugins.schema_version: lock has %ld, this gpuslim reads %d",
			  l->plugins_schema_version, KB_SCHEMA_VERSION);
	lock_check_git(l, p, stale);
	for (size_t i = 0; i < p->cells_nr; i++) {
		const struct plan_cell *c = &p->cells[i];
		const struct lock_cell *lc = lock_find_cell(l, c->id);
		json_t *now;

		if (!lc) {
			vec_pushf(stale,
				  "cell '%s' is new in the recipe (the lock has %zu other%s)",
				  c->id, l->cells_nr, l->cells_nr == 1 ? "" : "s");
			continue;
		}
		now = lock_cell_inputs(p, c);
		for (size_t k = 0; k < LOCK_INPUTS_NR; k++) {
			const json_t *a = json_object_get(lc->inputs, lock_inputs[k].key);
			const json_t *b = json_object_get(now, lock_inputs[k].key);

			if (!json_equal((json_t *)a, (json_t *)b))
				lock_stale_value(stale, c->id, lock_inputs[k].key, a, b,
						 lock_inputs[k].from);
		}
		json_decref(now);
	}
	for (size_t i = 0; i < l->cells_nr; i++) {
		size_t j;

		for (j = 0; j < p->cells_nr; j++)
			if (!strcmp(p->cells[j].id, l->cells[i].id))
				break;
		if (j == p->cells_nr)
			vec_pushf(stale, "cell '%s' is in the lock but no longer in the recipe",
				  l->cells[i].id);
	}
	if (stale->nr > start)
		return error_setc(GS_EINVAL, "%s is stale: %s", name,
				  (const char *)stale->items[start]);
	if (strcmp(l->recipe_sha256, p->recipe->sha256))
		vec_pushf(notes,
			  "the recipe changed since %s was written, but no cell's inputs did: "
			  "the lock holds",
			  name);
	if (strcmp(l->plugins_sha256, p->kb->sha256))
		vec_pushf(notes,
			  "the plugins changed since %s was written, but no cell's inputs did: "
			  "the lock holds",
			  name);
	return 0;
}

/* ---- applying --------------------------------------------------------- */

int lock_apply_cell(const struct lock *l, const struct lock_cell *lc, struct plan *p,
		    struct plan_cell *c, const char *name, unsigned what)
{
	size_t at = (size_t)(lc - l->cells);

	if (what & LOCK_IMAGES) {
		if (plan_pin_cell(p, c, lc->cuda, lc->builder.digest, lc->final.digest, name) < 0)
			return error_setc(GS_EINVAL, "%s: cells[%zu]: %s", name, at, error_last());
		if (strcmp(c->builder.ref, lc->builder.ref))
			return error_setc(GS_EINVAL,
					  "%s: cells[%zu].builder.ref: the lock has '%s', but the "
					  "plan has '%s' for CUDA %s",
					  name, at, lc->builder.ref, c->builder.ref, lc->cuda);
		if (strcmp(c->final.ref, lc->final.ref))
			return error_setc(GS_EINVAL,
					  "%s: cells[%zu].final.ref: the lock has '%s', but the "
					  "plan has '%s' for CUDA %s",
					  name, at, lc->final.ref, c->final.ref, lc->cuda);
	}
	if (what & LOCK_WHEELS) {
		plan_wheels_release(c->wheels, c->wheels_nr);
		c->wheels = lc->wheels_nr ? lock_wheels_copy(lc->wheels, lc->wheels_nr) : NULL;
		c->wheels_nr = lc->wheels_nr;
	}
	return 0;
}

int lock_apply(const struct lock *l, struct plan *p, const char *name, unsigned what)
{
	for (size_t i = 0; i < p->cells_nr; i++) {
		const struct lock_cell *lc = lock_find_cell(l, p->cells[i].id);
		int ret;

		if (lc && (ret = lock_apply_cell(l, lc, p, &p->cells[i], name, what)) < 0)
			return ret;
	}
	if ((what & LOCK_GIT) && p->git.url && l->git.commit) {
		free(p->git.commit);
		p->git.commit = xstrdup(l->git.commit);
	}
	return 0;
}

size_t lock_prefer_wheels(const struct lock *l, struct plan *p, const struct vec *update,
			  const char **unknown)
{
	struct vec names = VEC_INIT(free);
	size_t missing = 0;

	*unknown = NULL;
	for (size_t i = 0; update && i < update->nr; i++)
		vec_push(&names, lock_normalize_name(update->items[i]));
	for (size_t i = 0; i < p->cells_nr; i++) {
		struct plan_cell *c = &p->cells[i];
		const struct lock_cell *lc = lock_find_cell(l, c->id);

		for (size_t j = 0; lc && j < lc->wheels_nr; j++) {
			char *n = lock_normalize_name(lc->wheels[j].name);

			if (vec_findstr(&names, n) < 0)
				vec_pushf(&c->wheel_prefer, "%s==%s", lc->wheels[j].name,
					  lc->wheels[j].version);
			free(n);
		}
	}
	for (size_t k = 0; k < names.nr; k++) {
		int found = 0;

		for (size_t i = 0; i < l->cells_nr && !found; i++)
			for (size_t j = 0; j < l->cells[i].wheels_nr && !found; j++) {
				char *n = lock_normalize_name(l->cells[i].wheels[j].name);

				found = !strcmp(n, names.items[k]);
				free(n);
			}
		if (!found && !missing++)
			*unknown = update->items[k];
	}
	vec_release(&names);
	return missing;
}
