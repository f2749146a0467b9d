#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/ci.h"
#include "core/engine.h"
#include "core/recipe.h"
#include "core/yamltree.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/strbuf.h"

/* A recipe is a short text file; the cap keeps a stray multi-GB file from
 * being read and parsed at all. */
#define RECIPE_MAX_BYTES (1024 * 1024)
/* Past this many problems the rest is noise: one root cause usually. */
#define RECIPE_MAX_DIAGS 50

const char *const recipe_prune_classes[] = {
    "tests", "pycache", "examples", "headers", "static-libs", "pip-cache", "docs", NULL,
};

const char *const recipe_rule_ids[] = {
    "devel-toolchain",
    "driver-in-image",
    "missing-library",
    "dangling-interpreter",
    "duplicate-library",
    "missing-command",
    "unstripped-elf",
    "caches",
    "tests-examples",
    "root-user",
    "nvidia-env",
    "missing-runtime-file",
    NULL,
};

static const char *const severity_names[] = {"error", "warn", "off", NULL};

const char *recipe_severity_name(enum rule_severity s)
{
	return s == RULE_ERROR ? "error" : s == RULE_WARN ? "warn" : "off";
}

const char *const recipe_capability_names[] = {
    "compute", "compat32", "graphics", "utility", "video", "display", "all", NULL,
};

/* ---- diagnostics ------------------------------------------------------ */

/* A problem and the order it was found in, which keeps problems found at
 * the same place in order once sorted by place. */
struct rdiag {
	struct diag d;
	size_t seq;
};

struct rctx {
	const char *file;
	struct rdiag *d;
	size_t nr, alloc;
	struct recipe *r;
	const struct ynode *frameworks; /* the top-level mapping, for matrix axes */
};

static void rc_diag(struct rctx *c, int line, int col, const char *field, const char *fmt, ...)
    GS_FMT(5, 6);

static void rc_diag(struct rctx *c, int line, int col, const char *field, const char *fmt, ...)
{
	va_list ap;

	ALLOC_GROW(c->d, c->nr + 1, c->alloc);
	va_start(ap, fmt);
	diag_vset(&c->d[c->nr].d, c->file, (struct rpos){line, col}, field, fmt, ap);
	va_end(ap);
	c->d[c->nr].seq = c->nr;
	c->nr++;
}

static int rc_diag_cmp(const void *a, const void *b)
{
	const struct rdiag *x = a, *y = b;

	if (x->d.pos.line != y->d.pos.line)
		return x->d.pos.line < y->d.pos.line ? -1 : 1;
	if (x->d.pos.col != y->d.pos.col)
		return x->d.pos.col < y->d.pos.col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort by place, hand to `diags`; GS_EINVAL when any. */
static int rc_finish(struct rctx *c, struct vec *diags)
{
	int ret = c->nr ? GS_EINVAL : 0;
	size_t start = diags ? diags->nr : 0;

	if (c->nr)
		qsort(c->d, c->nr, sizeof(*c->d), rc_diag_cmp);
	for (size_t i = 0; i < c->nr; i++) {
		if (diags ? i < RECIPE_MAX_DIAGS : i == 0)
			diag_push(diags, start, &c->d[i].d, 0);
		diag_release(&c->d[i].d);
	}
	if (diags && c->nr > RECIPE_MAX_DIAGS) {
		struct diag more;

		diag_set(&more, c->file, (struct rpos){0, 0}, NULL, "%zu more problems not shown",
			 c->nr - RECIPE_MAX_DIAGS);
		diag_push(diags, start, &more, 0);
		diag_release(&more);
	}
	free(c->d);
	c->d = NULL;
	c->nr = c->alloc = 0;
	return ret;
}

/* A value for a message: quoted, control characters escaped, cut short. */
static char *rc_quote(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	size_t n = 0;

	strbuf_addch(&sb, '"');
	for (; *s && n < 80; s++, n++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			strbuf_addf(&sb, "\\%c", ch);
		else if (ch == '\n')
			strbuf_addstr(&sb, "\\n");
		else if (ch == '\t')
			strbuf_addstr(&sb, "\\t");
		else if (ch < 0x20 || ch == 0x7f)
			strbuf_addf(&sb, "\\x%02x", ch);
		else
			strbuf_addch(&sb, (char)ch);
	}
	if (*s)
		strbuf_addstr(&sb, "...");
	strbuf_addch(&sb, '"');
	return strbuf_detach(&sb, NULL);
}

/* What a node is, for "expected X, got Y". */
static char *rc_got(const struct ynode *n)
{
	char *q, *s;

	if (n->type == YNODE_MAP)
		return xstrdup("a mapping");
	if (n->type == YNODE_SEQ)
		return xstrdup("a list");
	if (n->plain) {
		switch (ytree_yaml11_kind(n->text)) {
		case YAML11_NULL:
			return xstrdup(n->len ? "null" : "an empty value");
		case YAML11_BOOL:
			return xstrfmt("a boolean (%s)", n->text);
		case YAML11_INT:
		case YAML11_FLOAT:
			return xstrfmt("a number (%s)", n->text);
		case YAML11_TIMESTAMP:
			return xstrfmt("a date (%s)", n->text);
		default:
			break;
		}
	}
	q = rc_quote(n->text);
	s = xstrfmt("a string %s", q);
	free(q);
	return s;
}

static void rc_expected(struct rctx *c, const struct ynode *n, const char *field,
			const char *expect)
{
	char *got = rc_got(n);

	rc_diag(c, n->line, n->col, field, "expected %s, got %s", expect, got);
	free(got);
}

static char *rc_field(const char *parent, const char *key)
{
	return parent ? xstrfmt("%s.%s", parent, key) : xstrdup(key);
}

static char *rc_index(const char *parent, size_t i)
{
	return xstrfmt("%s[%zu]", parent, i);
}

static int rc_is_known(const char *const *names, const char *s)
{
	for (size_t i = 0; names[i]; i++)
		if (!strcmp(names[i], s))
			return 1;
	return 0;
}

static size_t rc_count(const char *const *names)
{
	size_t n = 0;

	while (names[n])
		n++;
	return n;
}

static char *rc_join(const char *const *names, const char *sep)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; names[i]; i++)
		strbuf_addf(&sb, "%s%s", i ? sep : "", names[i]);
	return strbuf_detach(&sb, NULL);
}

/* The known name closest to `s`, when close enough to be a typo. */
static const char *rc_suggest(const char *s, const char *const *known)
{
	size_t len = strlen(s), best = SIZE_MAX, limit;
	const char *pick = NULL;

	limit = len < 4 ? 1 : len < 10 ? 2 : 3;
	for (size_t i = 0; known[i]; i++) {
		size_t d = ytree_edit_distance(s, known[i]);

		if (d < best)
			best = d, pick = known[i];
	}
	return best <= limit ? pick : NULL;
}

/* ---- duplicates ---------------------------------------------------------- */

struct rc_ent {
	const char *s;
	size_t i;
};

static int rc_ent_cmp(const void *a, const void *b)
{
	const struct rc_ent *x = a, *y = b;
	int d = strcmp(x->s, y->s);

	return d ? d : (x->i > y->i) - (x->i < y->i);
}

typedef void (*rc_dup_fn)(struct rctx *c, void *arg, size_t dup, size_t first);

/* Report each entry equal to an earlier one. Sorting keeps a recipe with
 * tens of thousands of keys from taking quadratic time. NULL entries are
 * skipped (values already reported as bad). */
static void rc_find_dups(struct rctx *c, const char *const *texts, size_t n, rc_dup_fn report,
			 void *arg)
{
	struct rc_ent *e = xcalloc(n ? n : 1, sizeof(*e));
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (texts[i])
			e[m].s = texts[i], e[m].i = i, m++;
	qsort(e, m, sizeof(*e), rc_ent_cmp);
	for (size_t i = 1, first = 0; i < m; i++) {
		if (strcmp(e[i].s, e[first].s)) {
			first = i;
			continue;
		}
		report(c, arg, e[i].i, e[first].i);
	}
	free(e);
}

/* ---- scalars ------------------------------------------------------------- */

/* A format a string field must have. `expect` names it for messages;
 * `re` (POSIX ERE) or `names` (an enumeration) decides; `check`, run
 * first, returns a message of its own for the common mistakes. */
struct rfmt {
	const char *expect;
	const char *re;
	const char *const *names;
	size_t maxlen;
	char *(*check)(const char *s);
	int int_ok; /* a plain YAML int is taken too (ports) */
};

static void rc_trap(struct rctx *c, const struct ynode *n, const char *field, enum yaml11_kind kind)
{
	const char *what = kind == YAML11_BOOL	      ? "a boolean"
			   : kind == YAML11_TIMESTAMP ? "a date"
			   : kind == YAML11_OTHER     ? "not a string"
						      : "a number";
	char *q = rc_quote(n->text);

	rc_diag(c, n->line, n->col, field, "%s is %s to YAML tools; quote it: %s", n->text, what,
		q);
	free(q);
}

/* The text of a scalar that every YAML tool reads as a string; NULL after
 * a diagnostic. A plain `3.10` is the float 3.1 to PyYAML and a plain
 * `yes` a bool, so an editor's schema check would reject what we took. */
static const char *rc_string(struct rctx *c, const struct ynode *n, const char *field,
			     const char *expect)
{
	enum yaml11_kind kind;

	if (n->type != YNODE_SCALAR) {
		rc_expected(c, n, field, expect);
		return NULL;
	}
	if (n->plain && (kind = ytree_yaml11_kind(n->text)) != YAML11_STR) {
		if (kind == YAML11_NULL)
			rc_expected(c, n, field, expect);
		else
			rc_trap(c, n, field, kind);
		return NULL;
	}
	if (strlen(n->text) != n->len) {
		rc_diag(c, n->line, n->col, field, "contains a NUL character");
		return NULL;
	}
	return n->text;
}

static int rc_check_fmt(struct rctx *c, const struct ynode *n, const char *field,
			const struct rfmt *f, const char *s)
{
	char *msg = f->check ? f->check(s) : NULL;
	char *q;

	if (msg) {
		rc_diag(c, n->line, n->col, field, "%s", msg);
		free(msg);
		return -1;
	}
	q = rc_quote(s);
	if (f->maxlen && strlen(s) > f->maxlen) {
		rc_diag(c, n->line, n->col, field, "%s is longer than %zu characters", q,
			f->maxlen);
		free(q);
		return -1;
	}
	if (f->names) {
		size_t i;

		for (i = 0; f->names[i] && strcmp(f->names[i], s); i++)
			;
		if (!f->names[i]) {
			char *all = rc_join(f->names, ", ");
			const char *near = rc_suggest(s, f->names);

			rc_diag(c, n->line, n->col, field, "expected one of %s, got %s%s%s%s", all,
				q, near ? "; did you mean '" : "", near ? near : "",
				near ? "'?" : "");
			free(all);
			free(q);
			return -1;
		}
	}
	if (f->re && !ytree_re_match(f->re, s)) {
		rc_diag(c, n->line, n->col, field, "expected %s, got %s", f->expect, q);
		free(q);
		return -1;
	}
	free(q);
	return 0;
}

/* A string field of format `f` into *out (absent stays absent). */
static int rc_str(struct rctx *c, const struct ynode *n, const char *field, const struct rfmt *f,
		  struct rstr *out)
{
	const char *s;
	char *num = NULL;
	long v;
	int ret = -1;

	if (!n)
		return 0;
	if (f->int_ok && n->type == YNODE_SCALAR && n->plain && !ytree_yaml11_int(n->text, &v))
		s = num = xstrfmt("%ld", v);
	else
		s = rc_string(c, n, field, f->expect);
	if (!s || rc_check_fmt(c, n, field, f, s))
		goto done;
	out->v = xstrdup(s);
	out->pos.line = n->line;
	out->pos.col = n->col;
	ret = 0;
done:
	free(num);
	return ret;
}

static int rc_bool(struct rctx *c, const struct ynode *n, const char *field, struct rbool *out)
{
	int v;

	if (!n)
		return 0;
	if (n->type != YNODE_SCALAR || !n->plain || (v = ytree_yaml11_bool(n->text)) < 0) {
		if (n->type == YNODE_SCALAR && !n->plain && ytree_yaml11_bool(n->text) >= 0) {
			char *q = rc_quote(n->text);

			rc_diag(c, n->line, n->col, field,
				"expected true or false, got the string %s; remove the quotes", q);
			free(q);
		} else {
			rc_expected(c, n, field, "true or false");
		}
		return -1;
	}
	out->v = v;
	out->set = 1;
	out->pos.line = n->line;
	out->pos.col = n->col;
	return 0;
}

static int rc_int(struct rctx *c, const struct ynode *n, const char *field, long min, long max,
		  long *out, struct rpos *pos)
{
	long v;

	if (!n)
		return 0;
	if (n->type == YNODE_SCALAR && !n->plain && ytree_yaml11_kind(n->text) == YAML11_INT) {
		char *q = rc_quote(n->text);

		rc_diag(c, n->line, n->col, field,
			"expected an integer, got the string %s; remove the quotes", q);
		free(q);
		return -1;
	}
	if (n->type == YNODE_SCALAR && n->plain && !ytree_yaml11_int(n->text, &v) &&
	    (v < min || v > max)) {
		rc_diag(c, n->line, n->col, field, "expected an integer from %ld to %ld, got %ld",
			min, max, v);
		return -1;
	}
	if (n->type != YNODE_SCALAR || !n->plain || ytree_yaml11_int(n->text, &v)) {
		char *expect = xstrfmt("an integer from %ld to %ld", min, max);

		rc_expected(c, n, field, expect);
		free(expect);
		return -1;
	}
	*out = v;
	if (pos)
		pos->line = n->line, pos->col = n->col;
	return 0;
}

static const char size_expect[] = "a size like \"6GB\", \"500MiB\" or a number of bytes";

static int rc_size(struct rctx *c, const struct ynode *n, const char *field, struct rsize *out)
{
	const char *s;
	long v;

	if (!n)
		return 0;
	if (n->type == YNODE_SCALAR && n->plain && ytree_yaml11_kind(n->text) == YAML11_INT) {
		if (ytree_yaml11_int(n->text, &v) || v < 0) {
			rc_expected(c, n, field, size_expect);
			return -1;
		}
		out->bytes = (uint64_t)v;
	} else {
		if (!(s = rc_string(c, n, field, size_expect)))
			return -1;
		if (recipe_parse_size(s, &out->bytes)) {
			char *q = rc_quote(s);

			rc_diag(c, n->line, n->col, field, "expected %s, got %s", size_expect, q);
			free(q);
			return -1;
		}
	}
	out->set = 1;
	out->text = xstrdup(n->text);
	out->pos.line = n->line;
	out->pos.col = n->col;
	return 0;
}

/* ---- containers ---------------------------------------------------------- */

struct rc_keydup {
	const struct ynode *map;
	const char *field;
};

static void rc_report_keydup(struct rctx *c, void *arg, size_t dup, size_t first)
{
	struct rc_keydup *k = arg;
	const struct ynode *key = k->map->keys[dup];
	char *field = rc_field(k->field, key->text);

	rc_diag(c, key->line, key->col, field, "duplicate key; first given at line %d",
		k->map->keys[first]->line);
	free(field);
}

static void rc_unknown(struct rctx *c, const struct ynode *key, const char *field, const char *what,
		       const char *const *known)
{
	const char *near = rc_suggest(key->text, known);
	char *all;

	if (near) {
		rc_diag(c, key->line, key->col, field, "unknown %s; did you mean '%s'?", what,
			near);
		return;
	}
	if (rc_count(known) > 10) {
		rc_diag(c, key->line, key->col, field,
			"unknown %s; gpuslim.yaml.example lists every field", what);
		return;
	}
	all = rc_join(known, ", ");
	rc_diag(c, key->line, key->col, field, "unknown %s; expected one of %s", what, all);
	free(all);
}

/*
 * Check that `n` is a mapping whose keys are strings, each once, and (when
 * `known` is given) each one of `known`. Returns -1 when `n` is not a
 * mapping at all; problems with single keys are reported and the caller
 * goes on with the rest. ok[i] (optional, n->nr entries) says whether
 * keys[i] is usable.
 */
static int rc_map(struct rctx *c, const struct ynode *n, const char *field,
		  const char *const *known, const char *what, char *ok)
{
	const char **texts;
	struct rc_keydup kd = {n, field};

	if (n->type != YNODE_MAP) {
		rc_expected(c, n, field ? field : "recipe", "a mapping");
		return -1;
	}
	texts = xcalloc(n->nr ? n->nr : 1, sizeof(*texts));
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *key = n->keys[i];
		enum yaml11_kind kind;
		char *kfield;

		if (ok)
			ok[i] = 0;
		if (key->type != YNODE_SCALAR) {
			rc_diag(c, key->line, key->col, field ? field : "recipe",
				"keys must be strings, got %s",
				key->type == YNODE_MAP ? "a mapping" : "a list");
			continue;
		}
		kfield = rc_field(field, key->text);
		if (key->plain && (kind = ytree_yaml11_kind(key->text)) != YAML11_STR) {
			if (kind == YAML11_NULL)
				rc_diag(c, key->line, key->col, field ? field : "recipe",
					"a key is empty or null; give it a name");
			else
				rc_trap(c, key, kfield, kind);
		} else if (strlen(key->text) != key->len) {
			rc_diag(c, key->line, key->col, kfield, "key contains a NUL character");
		} else {
			texts[i] = key->text;
			if (known && !rc_is_known(known, key->text))
				rc_unknown(c, key, kfield, what, known);
			else if (ok)
				ok[i] = 1;
		}
		free(kfield);
	}
	rc_find_dups(c, texts, n->nr, rc_report_keydup, &kd);
	free(texts);
	return 0;
}

/* RC_UNIQUE_KEY: items are "KEY=value" and each KEY comes once (app.env:
 * one ENV instruction carries them all). */
enum { RC_NONEMPTY = 1, RC_UNIQUE = 2, RC_UNIQUE_KEY = 4 };

struct rc_itemdup {
	const struct ynode *seq;
	const char *field;
};

static void rc_report_itemdup(struct rctx *c, void *arg, size_t dup, size_t first)
{
	struct rc_itemdup *d = arg;
	const struct ynode *item = d->seq->items[dup];
	char *field = rc_index(d->field, dup);
	char *q = rc_quote(item->text);

	rc_diag(c, item->line, item->col, field, "%s is listed twice; first at line %d", q,
		d->seq->items[first]->line);
	free(q);
	free(field);
}

static void rc_report_envdup(struct rctx *c, void *arg, size_t dup, size_t first)
{
	struct rc_itemdup *d = arg;
	const struct ynode *item = d->seq->items[dup];
	char *field = rc_index(d->field, dup);

	rc_diag(c, item->line, item->col, field, "'%.*s' is set twice; first at line %d",
		(int)strcspn(item->text, "="), item->text, d->seq->items[first]->line);
	free(field);
}

/* A list of strings of format `f` into *out. */
static int rc_strlist(struct rctx *c, const struct ynode *n, const char *field,
		      const struct rfmt *f, unsigned flags, struct rstrlist *out)
{
	const char **texts;
	struct rc_itemdup d = {n, field};

	if (!n)
		return 0;
	if (n->type != YNODE_SEQ) {
		rc_expected(c, n, field, "a list of strings");
		return -1;
	}
	out->pos.line = n->line;
	out->pos.col = n->col;
	out->items = xcalloc(n->nr ? n->nr : 1, sizeof(*out->items));
	if ((flags & RC_NONEMPTY) && !n->nr)
		rc_diag(c, n->line, n->col, field, "expected at least one item, got an empty list");
	texts = xcalloc(n->nr ? n->nr : 1, sizeof(*texts));
	for (size_t i = 0; i < n->nr; i++) {
		char *ifield = rc_index(field, i);

		if (!rc_str(c, n->items[i], ifield, f, &out->items[out->nr])) {
			const char *v = out->items[out->nr++].v;

			texts[i] = flags & RC_UNIQUE_KEY ? xstrndup(v, strcspn(v, "=")) : v;
		}
		free(ifield);
	}
	if (flags & RC_UNIQUE)
		rc_find_dups(c, texts, n->nr, rc_report_itemdup, &d);
	if (flags & RC_UNIQUE_KEY) {
		rc_find_dups(c, texts, n->nr, rc_report_envdup, &d);
		for (size_t i = 0; i < n->nr; i++)
			free((char *)texts[i]);
	}
	free(texts);
	return 0;
}

/* A list of mappings (models, smoke tests, matrix entries). */
static int rc_seq_of_maps(struct rctx *c, const struct ynode *n, const char *field,
			  const char *expect)
{
	if (n->type != YNODE_SEQ) {
		rc_expected(c, n, field, expect);
		return -1;
	}
	return 0;
}

static void rc_required(struct rctx *c, const struct ynode *map, const char *field, const char *key)
{
	char *kfield;

	if (ytree_get(map, key))
		return;
	kfield = rc_field(field, key);
	rc_diag(c, map->line, map->col, kfield, "required field is missing");
	free(kfield);
}

static void rc_setpos(struct rpos *pos, const struct ynode *n)
{
	pos->line = n->line;
	pos->col = n->col;
}

/* ---- formats ------------------------------------------------------------- */

#define RE_DOMAIN_PART "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
#define RE_PATH_PART   "[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*"
#define RE_PATH	       RE_PATH_PART "(/" RE_PATH_PART ")*"
#define RE_PORT_NUM                                                                                \
	"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"

static char *rc_check_image(const char *s)
{
	const char *last = strrchr(s, '/');
	char *q, *msg = NULL;

	last = last ? last + 1 : s;
	q = rc_quote(s);
	if (strchr(s, '@'))
		msg = xstrfmt("%s has a digest; give the repository only (digests go in the lock)",
			      q);
	else if (strchr(last, ':'))
		msg = xstrfmt("%s has a tag; give the repository only and put the tag under 'tag'",
			      q);
	free(q);
	return msg;
}

static int rc_has_dotdot(const char *s)
{
	for (const char *p = s; (p = strstr(p, "..")); p++)
		if ((p == s || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return 1;
	return 0;
}

/* A value that a Dockerfile line carries as it is: a line break would end
 * the instruction (Engine 20.10 has no heredocs) and a backslash at the end
 * would continue it onto the next line. NULL when it can be carried. */
static char *rc_check_dockerline(const char *s)
{
	size_t len = strlen(s);
	char *q, *msg = NULL;

	if (!strpbrk(s, "\r\n") && !(len && s[len - 1] == '\\'))
		return NULL;
	q = rc_quote(s);
	if (strpbrk(s, "\r\n"))
		msg = xstrfmt("%s contains a line break", q);
	else
		msg = xstrfmt("%s ends in a backslash, which would continue the Dockerfile line; "
			      "remove it",
			      q);
	free(q);
	return msg;
}

/* Where a path must stay: inside the build context (app.copy, a model's
 * path), or inside the recipe's directory (app.path, the context itself).
 * The messages for an empty, an absolute and a climbing path. */
struct rc_inside {
	const char *empty;
	const char *absolute; /* advice after "X is an absolute path; " */
	const char *climbs;   /* after "X " */
};

/* Docker refuses to COPY from outside the build context, and an absolute
 * path there means a path inside the context anyway. */
static const struct rc_inside inside_context = {
    "expected a path relative to the build context, got an empty string",
    "give a path relative to the build context (app.path)",
    "escapes the build context; keep paths inside app.path",
};

/* "/" or a path that climbs out would send (and could COPY) files the
 * recipe does not own, and the bake file names the context relative to the
 * recipe. */
static const struct rc_inside inside_recipe = {
    "expected a directory relative to the recipe's directory, like \".\" or \"src\", got an "
    "empty string",
    "give the build context relative to the recipe's directory, like \".\" or \"src\"",
    "climbs out of the recipe's directory; the build context must be that directory or one "
    "below it",
};

static char *rc_check_inside(const char *s, const struct rc_inside *in)
{
	char *q = rc_quote(s), *msg = NULL;

	if (!*s)
		msg = xstrdup(in->empty);
	else if (*s == '/')
		msg = xstrfmt("%s is an absolute path; %s", q, in->absolute);
	else if (rc_has_dotdot(s))
		msg = xstrfmt("%s %s", q, in->climbs);
	else
		msg = rc_check_dockerline(s);
	free(q);
	return msg;
}

/* A directory of the repository (app.git.subdir): the tree is exported
 * from inside the commit, so nothing above its root can be reached. */
static const struct rc_inside inside_repo = {
    "expected a directory relative to the repository's root, like \"app\", got an empty string",
    "give a directory relative to the repository's root, like \"app\"",
    "climbs out of the repository; give a directory inside it",
};

static char *rc_check_relpath(const char *s)
{
	return rc_check_inside(s, &inside_context);
}

static char *rc_check_context(const char *s)
{
	return rc_check_inside(s, &inside_recipe);
}

static char *rc_check_git_subdir(const char *s)
{
	return rc_check_inside(s, &inside_repo);
}

/* 1 when `s` has a byte below 0x20 or DEL. */
static int rc_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/*
 * app.git.url: a local path (relative to the recipe's directory), file://
 * with an absolute path, or a network URL git itself would take. A value
 * that starts with '-' could be read as an option by an ssh or git
 * program down the line (CVE-2017-1000117): refused, as is a host that
 * does.
 */
static char *rc_check_git_url(const char *s)
{
	static const char *const schemes[] = {"file", "https", "http", "ssh", "git", NULL};
	const char *sep = strstr(s, "://");
	char *q, *msg = NULL;

	if (!*s)
		return xstrdup(
		    "expected a repository: a path, file://, https:// or ssh:// URL, got "
		    "an empty string");
	q = rc_quote(s);
	if (rc_has_control(s) || strpbrk(s, " \t")) {
		msg = xstrfmt("%s contains a blank or a control character", q);
	} else if (*s == '-') {
		msg = xstrfmt("%s starts with '-'", q);
	} else if (sep) {
		char *scheme = xstrndup(s, (size_t)(sep - s));
		const char *host = sep + 3, *at;
		size_t i;

		for (i = 0; schemes[i] && strcmp(schemes[i], scheme); i++)
			;
		at = strchr(host, '@');
		if (at && at < host + strcspn(host, "/"))
			host = at + 1;
		if (!schemes[i])
			msg =
			    xstrfmt("%s: the scheme '%s' is not one of file, https, http, ssh, git",
				    q, scheme);
		else if (!strcmp(scheme, "file") && host[0] != '/')
			msg = xstrfmt("%s: a file:// URL names an absolute path, like "
				      "\"file:///srv/app.git\"",
				      q);
		else if (strcmp(scheme, "file") && (!*host || *host == '/'))
			msg = xstrfmt("%s has no host", q);
		else if (*host == '-')
			msg = xstrfmt("%s: the host starts with '-'", q);
		free(scheme);
	}
	free(q);
	return msg;
}

/* app.git.ref: a branch, a tag or a commit id, by git's rules for ref
 * names (git check-ref-format), which a commit id also passes. */
static char *rc_check_git_ref(const char *s)
{
	const char *why = NULL;
	char *q, *msg;
	size_t len = strlen(s);

	if (!*s)
		return xstrdup("expected a branch, a tag or a commit, got an empty string; leave "
			       "app.git.ref out for the repository's HEAD");
	if (rc_has_control(s) || strpbrk(s, " ~^:?*[\\"))
		why = "has a blank, a control character or one of ~ ^ : ? * [ \\";
	else if (*s == '-')
		why = "starts with '-'";
	else if (*s == '/' || s[len - 1] == '/' || strstr(s, "//"))
		why = "has an empty path component";
	else if (strstr(s, ".."))
		why = "has \"..\"";
	else if (strstr(s, "@{") || !strcmp(s, "@"))
		why = "has \"@{\" or is \"@\"";
	else if (s[len - 1] == '.' || *s == '.' || strstr(s, "/."))
		why = "has a component that starts or ends with '.'";
	else if ((len >= 5 && !strcmp(s + len - 5, ".lock")) || strstr(s, ".lock/"))
		why = "has a component that ends in \".lock\"";
	if (!why)
		return NULL;
	q = rc_quote(s);
	msg = xstrfmt("%s is not a git ref name: it %s", q, why);
	free(q);
	return msg;
}

/* A requirement line must stay one requirement: an option such as
 * "--index-url" or "-e" would change how pip resolves everything else. */
static char *rc_check_pypkg(const char *s)
{
	char *q = rc_quote(s), *msg = NULL;

	if (!*s)
		msg = xstrdup(
		    "expected a requirement like \"fastapi==0.115.*\", got an empty string");
	else if (*s == '-')
		msg = xstrfmt("%s starts with '-'; pip options are not allowed in python_packages",
			      q);
	else if (strchr(" \t", *s))
		msg = xstrfmt("%s starts with a space; remove it", q);
	else if (strpbrk(s, "\r\n"))
		msg = xstrfmt("%s contains a line break; give one requirement per item", q);
	free(q);
	return msg;
}

/* An index URL: http(s), a host, no space, no fragment or query that pip
 * would drop, and only the template key the field allows. */
static char *rc_check_index_url(const char *s, int variant_ok)
{
	const char *brace = strchr(s, '{');
	char *q = rc_quote(s), *msg = NULL;

	if (strpbrk(s, "?#"))
		msg = xstrfmt("%s has a query or fragment; give the index's base URL like "
			      "\"https://pypi.org/simple\"",
			      q);
	else if (brace &&
		 (!variant_ok || strncmp(brace, "{variant}", 9) || strpbrk(brace + 9, "{}")))
		msg = variant_ok ? xstrfmt("%s: the only template key is {variant}, once", q)
				 : xstrfmt("%s has a '{'; only pip.framework_index_url takes "
					   "{variant}",
					   q);
	else if (!brace && strchr(s, '}'))
		msg = xstrfmt("%s has a '}' without '{variant'", q);
	free(q);
	return msg;
}

static char *rc_check_pip_index(const char *s)
{
	return rc_check_index_url(s, 0);
}

static char *rc_check_fw_index(const char *s)
{
	return rc_check_index_url(s, 1);
}

static char *rc_check_not_auto(const char *s)
{
	if (strcmp(s, "auto"))
		return NULL;
	return xstrdup("\"auto\" is not allowed in a matrix; list exact versions like \"2.4\"");
}

static char *rc_check_oneline(const char *s)
{
	char *q, *msg;

	if (!strpbrk(s, "\r\n"))
		return NULL;
	q = rc_quote(s);
	msg = xstrfmt("%s contains a line break", q);
	free(q);
	return msg;
}

#define RE_PLATFORM "^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$"

/* Only linux/amd64 is planned, built and checked: the knowledge plugins
 * list the base images of no other platform, and the fixtures are amd64.
 * A well-formed other platform is refused here rather than written into a
 * bake file that no gpuslim command would build or gate. */
/* ci.schedule: a cron expression GitHub and GitLab schedules take. */
static char *rc_check_cron(const char *s)
{
	return ci_check_cron(s) < 0 ? xstrdup(error_last()) : NULL;
}

static char *rc_check_platform(const char *s)
{
	char *q, *msg;

	if (!ytree_re_match(RE_PLATFORM, s) || !strcmp(s, "linux/amd64"))
		return NULL; /* a malformed one gets the format's message */
	q = rc_quote(s);
	msg = xstrfmt("%s is not supported: gpuslim plans, builds and checks linux/amd64 images "
		      "only; remove it",
		      q);
	free(q);
	return msg;
}

static const char *const flavor_names[] = {"auto", "base", "runtime", "cudnn-runtime", NULL};
static const char *const python_source_names[] = {"os", "managed", NULL};
static const char *const strip_names[] = {"none", "debug", "unneeded", NULL};
static const char *const final_mode_names[] = {"image", "closure", NULL};
const char *const recipe_stdlib_dropped[] = {"test",	  "idlelib", "tkinter",
					     "ensurepip", "lib2to3", NULL};
static const char *const mode_names[] = {"bake", "volume", NULL};
static const char *const cache_names[] = {"registry", "inline", "local", "none", NULL};
static const char *const compression_names[] = {"gzip", "zstd", "estargz", "uncompressed", NULL};
static const char *const network_names[] = {"default", "host", "none", NULL};

static const struct rfmt fmt_name = {
    "a name of lowercase letters, digits, '.', '_' and '-' that starts with a letter or digit",
    "^[a-z0-9][a-z0-9._-]*$",
    NULL,
    63,
    NULL,
    0};
static const struct rfmt fmt_image = {
    "a repository like \"registry.example.com/acme/app\" (lowercase path, no tag)",
    "^((localhost(:[0-9]{1,5})?|" RE_DOMAIN_PART "(\\." RE_DOMAIN_PART
    ")+(:[0-9]{1,5})?|" RE_DOMAIN_PART ":[0-9]{1,5})/)?" RE_PATH "$",
    NULL,
    255,
    rc_check_image,
    0};
static const struct rfmt fmt_tag = {
    "a tag of letters, digits, '_', '.' and '-' that does not start with '.' or '-'",
    "^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
    NULL,
    128,
    NULL,
    0};
static const struct rfmt fmt_os = {
    "an OS like \"ubuntu22.04\", \"debian12\", \"rockylinux9\" or \"ubi9\"",
    "^(ubuntu[0-9]{2}\\.[0-9]{2}|debian[0-9]{1,2}|rockylinux[0-9]{1,2}|ubi[0-9]{1,2})$",
    NULL,
    0,
    NULL,
    0};
static const struct rfmt fmt_registry = {"a registry host like \"docker.io\" or \"127.0.0.1:5000\"",
					 "^(localhost|" RE_DOMAIN_PART "(\\." RE_DOMAIN_PART
					 ")*)(:[0-9]{1,5})?$",
					 NULL,
					 255,
					 NULL,
					 0};
static const struct rfmt fmt_repository = {
    "a repository path like \"nvidia/cuda\" (lowercase)", "^" RE_PATH "$", NULL, 255, NULL, 0};
static const struct rfmt fmt_flavor = {"a flavor", NULL, flavor_names, 0, NULL, 0};
static const struct rfmt fmt_final_mode = {"image or closure", NULL, final_mode_names, 0, NULL, 0};
static const struct rfmt fmt_stdlib = {
    "a stdlib part the closure leaves out", NULL, recipe_stdlib_dropped, 0, NULL, 0};
static const struct rfmt fmt_cuda = {
    "a version like \"12.4\" or \"12.4.1\"", "^[0-9]+\\.[0-9]+(\\.[0-9]+)?$", NULL, 0, NULL, 0};
static const struct rfmt fmt_python = {
    "a Python version like \"3.11\"", "^3\\.[0-9]+$", NULL, 0, NULL, 0};
static const struct rfmt fmt_python_source = {
    "os or managed", NULL, python_source_names, 0, NULL, 0};
static const struct rfmt fmt_fw_name = {
    "a framework name of lowercase letters, digits, '.', '_' and '-'",
    "^[a-z0-9][a-z0-9_.-]*$",
    NULL,
    0,
    NULL,
    0};
static const struct rfmt fmt_fw_version = {"a version like \"2.4\", \"2.4.1\" or auto",
					   "^(auto|[0-9]+(\\.[0-9]+){0,2})$",
					   NULL,
					   0,
					   NULL,
					   0};
static const struct rfmt fmt_fw_axis = {"a version like \"2.4\" or \"2.4.1\"",
					"^[0-9]+(\\.[0-9]+){0,2}$",
					NULL,
					0,
					rc_check_not_auto,
					0};
static const struct rfmt fmt_system_package = {
    "a package name like \"libgl1\" or \"libgl1=1.7.0-1\"",
    "^[A-Za-z0-9][A-Za-z0-9+._-]*(=[A-Za-z0-9.+:~_-]+)?$",
    NULL,
    0,
    NULL,
    0};
static const struct rfmt fmt_python_package = {
    "a requirement like \"fastapi==0.115.*\"", NULL, NULL, 0, rc_check_pypkg, 0};
static const struct rfmt fmt_any = {"a string", NULL, NULL, 0, NULL, 0};
static const struct rfmt fmt_line = {
    "a non-empty string on one line", "^.+$", NULL, 0, rc_check_oneline, 0};
/* Values the Dockerfile carries on one line of their own. */
static const struct rfmt fmt_dockerline = {
    "a non-empty string on one line", "^.+$", NULL, 0, rc_check_dockerline, 0};
static const struct rfmt fmt_relpath = {"a relative path", NULL, NULL, 0, rc_check_relpath, 0};
static const struct rfmt fmt_context = {"a relative path", NULL, NULL, 0, rc_check_context, 0};
static const struct rfmt fmt_git_url = {"a repository path or URL", NULL, NULL, 4096,
					rc_check_git_url,	    0};
static const struct rfmt fmt_git_ref = {
    "a branch, a tag or a commit", NULL, NULL, 255, rc_check_git_ref, 0};
static const struct rfmt fmt_git_subdir = {"a relative path",	NULL, NULL, 4096,
					   rc_check_git_subdir, 0};
static const struct rfmt fmt_abspath = {
    "an absolute path like \"/out/app\"", "^/", NULL, 0, rc_check_dockerline, 0};
static const struct rfmt fmt_env = {"KEY=value with a KEY of letters, digits and '_'",
				    "^[A-Za-z_][A-Za-z0-9_]*=",
				    NULL,
				    0,
				    rc_check_dockerline,
				    0};
static const struct rfmt fmt_label_value = {"a string", NULL, NULL, 0, rc_check_dockerline, 0};
static const struct rfmt fmt_port = {"a port like \"8000\" or \"8000/udp\" (1 to 65535)",
				     "^" RE_PORT_NUM "(/(tcp|udp))?$",
				     NULL,
				     0,
				     NULL,
				     1};
static const struct rfmt fmt_capability = {"a capability", NULL, recipe_capability_names, 0,
					   NULL,	   0};
static const struct rfmt fmt_strip = {"a strip mode", NULL, strip_names, 0, NULL, 0};
static const struct rfmt fmt_prune = {"a prune class", NULL, recipe_prune_classes, 0, NULL, 0};
static const struct rfmt fmt_mode = {"a model mode", NULL, mode_names, 0, NULL, 0};
static const struct rfmt fmt_label_key = {
    "a label key of lowercase letters, digits, '.', '_' and '-'",
    "^[a-z0-9][a-z0-9._-]*$",
    NULL,
    0,
    NULL,
    0};
static const struct rfmt fmt_severity = {"a severity", NULL, severity_names, 0, NULL, 0};
#define RE_INDEX_URL "^https?://[^/@[:space:]]+(@[^/[:space:]]+)?(/[^[:space:]]*)?$"
static const struct rfmt fmt_pip_index = {"an index URL like \"https://pypi.org/simple\"",
					  RE_INDEX_URL,
					  NULL,
					  2048,
					  rc_check_pip_index,
					  0};
static const struct rfmt fmt_fw_index = {
    "an index URL like \"https://download.pytorch.org/whl/{variant}\"",
    RE_INDEX_URL,
    NULL,
    2048,
    rc_check_fw_index,
    0};
static const struct rfmt fmt_network = {"a network mode", NULL, network_names, 0, NULL, 0};
static const struct rfmt fmt_engine = {ENGINE_SPEC_EXPECT, ENGINE_SPEC_RE, NULL, 1024, NULL, 0};
static const struct rfmt fmt_cache = {"a cache mode", NULL, cache_names, 0, NULL, 0};
static const struct rfmt fmt_cron = {"a cron expression", NULL, NULL, 255, rc_check_cron, 0};
static const struct rfmt fmt_compression = {"a compression", NULL, compression_names, 0, NULL, 0};
static const struct rfmt fmt_platform = {"a platform like \"linux/amd64\" or \"linux/arm64/v8\"",
					 RE_PLATFORM,
					 NULL,
					 0,
					 rc_check_platform,
					 0};

/* ---- sections ------------------------------------------------------------ */

static const char *const top_keys[] = {
    "name",
    "image",
    "tag",
    "base",
    "cuda",
    "cudnn",
    "python",
    "python_source",
    "frameworks",
    "system_packages",
    "python_packages",
    "pip",
    "app",
    "models",
    "capabilities",
    "final",
    "trim",
    "matrix",
    "budgets",
    "smoke",
    "rules",
    "labels",
    "output",
    "ci",
    NULL,
};
static const char *const base_keys[] = {"os", "registry", "repository", "flavor", NULL};
static const char *const app_keys[] = {"path",	     "git",	"copy", "build", "artifacts", "cmd",
				       "entrypoint", "workdir", "env",	"ports", NULL};
static const char *const git_keys[] = {"url", "ref", "subdir", NULL};
static const char *const model_keys[] = {"name", "path", "mode", "target", NULL};
static const char *const trim_keys[] = {"strip", "keep_symbols", "prune", NULL};
static const char *const final_keys[] = {"mode", "ca_certificates", "tmp", "keep_stdlib", NULL};
static const char *const budget_keys[] = {"size",  "compressed", "wasted", "layers",
					  "paths", "growth",	 NULL};
static const char *const smoke_keys[] = {"name", "run", "gpu", "expect", "timeout", NULL};
static const char *const output_keys[] = {
    "cache", "compression", "compression_level", "platforms", "network", "engines", NULL};
static const char *const ci_keys[] = {"schedule", NULL};
static const char *const pip_keys[] = {"index_url", "framework_index_url", NULL};

static void rc_pip(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;

	if (rc_map(c, n, "pip", pip_keys, "field", NULL))
		return;
	rc_setpos(&r->pip.pos, n);
	rc_str(c, ytree_get(n, "index_url"), "pip.index_url", &fmt_pip_index, &r->pip.index_url);
	rc_str(c, ytree_get(n, "framework_index_url"), "pip.framework_index_url", &fmt_fw_index,
	       &r->pip.framework_index_url);
}

static void rc_base(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;

	if (rc_map(c, n, "base", base_keys, "field", NULL))
		return;
	rc_setpos(&r->base.pos, n);
	rc_str(c, ytree_get(n, "os"), "base.os", &fmt_os, &r->base.os);
	rc_str(c, ytree_get(n, "registry"), "base.registry", &fmt_registry, &r->base.registry);
	rc_str(c, ytree_get(n, "repository"), "base.repository", &fmt_repository,
	       &r->base.repository);
	rc_str(c, ytree_get(n, "flavor"), "base.flavor", &fmt_flavor, &r->base.flavor);
}

static void rc_frameworks(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;
	char *ok;

	ok = xcalloc(n->type == YNODE_MAP && n->nr ? n->nr : 1, 1);
	if (rc_map(c, n, "frameworks", NULL, "key", ok))
		goto done;
	rc_setpos(&r->frameworks_pos, n);
	r->frameworks = xcalloc(n->nr ? n->nr : 1, sizeof(*r->frameworks));
	for (size_t i = 0; i < n->nr; i++) {
		struct recipe_framework *fw = &r->frameworks[r->frameworks_nr];
		const struct ynode *key = n->keys[i];
		char *field;

		if (!ok[i])
			continue;
		field = rc_field("frameworks", key->text);
		if (!rc_check_fmt(c, key, field, &fmt_fw_name, key->text)) {
			fw->name.v = xstrdup(key->text);
			rc_setpos(&fw->name.pos, key);
			rc_str(c, n->items[i], field, &fmt_fw_version, &fw->version);
			r->frameworks_nr++;
		}
		free(field);
	}
done:
	free(ok);
}

/*
 * app.git: the build context is a commit's tree. app.path names a
 * directory beside the recipe, so the two cannot both hold: the directory
 * inside the repository is app.git.subdir.
 */
static void rc_app_git(struct rctx *c, const struct ynode *app, const struct ynode *n)
{
	struct recipe *r = c->r;
	const struct ynode *path = ytree_get(app, "path");

	if (rc_map(c, n, "app.git", git_keys, "field", NULL))
		return;
	rc_setpos(&r->app.git.pos, n);
	rc_required(c, n, "app.git", "url");
	rc_str(c, ytree_get(n, "url"), "app.git.url", &fmt_git_url, &r->app.git.url);
	rc_str(c, ytree_get(n, "ref"), "app.git.ref", &fmt_git_ref, &r->app.git.ref);
	rc_str(c, ytree_get(n, "subdir"), "app.git.subdir", &fmt_git_subdir, &r->app.git.subdir);
	if (path)
		rc_diag(c, path->line, path->col, "app.path",
			"app.path and app.git exclude each other: with app.git the build context "
			"is the commit's tree; name a directory inside the repository with "
			"app.git.subdir");
}

static void rc_app(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;
	const struct ynode *build, *artifacts, *git;

	if (rc_map(c, n, "app", app_keys, "field", NULL))
		return;
	rc_setpos(&r->app.pos, n);
	rc_str(c, ytree_get(n, "path"), "app.path", &fmt_context, &r->app.path);
	if ((git = ytree_get(n, "git")))
		rc_app_git(c, n, git);
	rc_strlist(c, ytree_get(n, "copy"), "app.copy", &fmt_relpath, 0, &r->app.copy);
	rc_strlist(c, ytree_get(n, "build"), "app.build", &fmt_dockerline, 0, &r->app.build);
	rc_strlist(c, ytree_get(n, "artifacts"), "app.artifacts", &fmt_abspath, RC_UNIQUE,
		   &r->app.artifacts);
	rc_strlist(c, ytree_get(n, "cmd"), "app.cmd", &fmt_any, 0, &r->app.cmd);
	rc_strlist(c, ytree_get(n, "entrypoint"), "app.entrypoint", &fmt_any, 0,
		   &r->app.entrypoint);
	rc_str(c, ytree_get(n, "workdir"), "app.workdir", &fmt_abspath, &r->app.workdir);
	rc_strlist(c, ytree_get(n, "env"), "app.env", &fmt_env, RC_UNIQUE_KEY, &r->app.env);
	rc_strlist(c, ytree_get(n, "ports"), "app.ports", &fmt_port, RC_UNIQUE, &r->app.ports);

	/* Artifacts are copied out of the builder stage: without build
	 * commands there is nothing that could have made them. */
	build = ytree_get(n, "build");
	artifacts = ytree_get(n, "artifacts");
	if (artifacts && artifacts->type == YNODE_SEQ && artifacts->nr &&
	    (!build || (build->type == YNODE_SEQ && !build->nr)))
		rc_diag(c, artifacts->line, artifacts->col, "app.artifacts",
			"artifacts come from the builder stage; add the commands that make them "
			"under app.build");
}

struct rc_named {
	const struct ynode *seq;
	const char *field;
	const char *what;
};

static void rc_report_namedup(struct rctx *c, void *arg, size_t dup, size_t first)
{
	struct rc_named *d = arg;
	const struct ynode *name = ytree_get(d->seq->items[dup], "name");
	const struct ynode *prev = ytree_get(d->seq->items[first], "name");
	char *field = xstrfmt("%s[%zu].name", d->field, dup);
	char *q = rc_quote(name->text);

	rc_diag(c, name->line, name->col, field, "duplicate %s name %s; first used at line %d",
		d->what, q, prev->line);
	free(q);
	free(field);
}

static void rc_model(struct rctx *c, const struct ynode *n, size_t i, struct recipe_model *m)
{
	char *field = rc_index("models", i), *f;

	rc_setpos(&m->pos, n);
	if (rc_map(c, n, field, model_keys, "field", NULL))
		goto done;
	rc_required(c, n, field, "name");
	rc_required(c, n, field, "path");
	rc_str(c, ytree_get(n, "name"), f = rc_field(field, "name"), &fmt_name, &m->name);
	free(f);
	rc_str(c, ytree_get(n, "path"), f = rc_field(field, "path"), &fmt_relpath, &m->path);
	free(f);
	rc_str(c, ytree_get(n, "target"), f = rc_field(field, "target"), &fmt_abspath, &m->target);
	free(f);
	{
		struct rstr mode = {0};

		if (!rc_str(c, ytree_get(n, "mode"), f = rc_field(field, "mode"), &fmt_mode,
			    &mode) &&
		    mode.v) {
			m->mode = strcmp(mode.v, "volume") ? MODEL_BAKE : MODEL_VOLUME;
			m->mode_pos = mode.pos;
		}
		free(mode.v);
		free(f);
	}
done:
	free(field);
}

static void rc_models(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;
	struct rc_named d = {n, "models", "model"};
	const char **names;

	if (rc_seq_of_maps(c, n, "models", "a list of models"))
		return;
	r->models = xcalloc(n->nr ? n->nr : 1, sizeof(*r->models));
	r->models_nr = n->nr;
	names = xcalloc(n->nr ? n->nr : 1, sizeof(*names));
	for (size_t i = 0; i < n->nr; i++) {
		rc_model(c, n->items[i], i, &r->models[i]);
		names[i] = r->models[i].name.v;
	}
	rc_find_dups(c, names, n->nr, rc_report_namedup, &d);
	free(names);
}

static void rc_smoke_one(struct rctx *c, const struct ynode *n, size_t i, struct recipe_smoke *s)
{
	char *field = rc_index("smoke", i), *f;

	rc_setpos(&s->pos, n);
	if (rc_map(c, n, field, smoke_keys, "field", NULL))
		goto done;
	rc_required(c, n, field, "name");
	rc_required(c, n, field, "run");
	rc_str(c, ytree_get(n, "name"), f = rc_field(field, "name"), &fmt_line, &s->name);
	free(f);
	rc_strlist(c, ytree_get(n, "run"), f = rc_field(field, "run"), &fmt_any, RC_NONEMPTY,
		   &s->run);
	free(f);
	rc_bool(c, ytree_get(n, "gpu"), f = rc_field(field, "gpu"), &s->gpu);
	free(f);
	rc_str(c, ytree_get(n, "expect"), f = rc_field(field, "expect"), &fmt_any, &s->expect);
	free(f);
	rc_int(c, ytree_get(n, "timeout"), f = rc_field(field, "timeout"), 1, INT_MAX, &s->timeout,
	       &s->timeout_pos);
	free(f);
done:
	free(field);
}

static void rc_smoke(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;
	struct rc_named d = {n, "smoke", "smoke test"};
	const char **names;

	if (rc_seq_of_maps(c, n, "smoke", "a list of smoke tests"))
		return;
	r->smoke = xcalloc(n->nr ? n->nr : 1, sizeof(*r->smoke));
	r->smoke_nr = n->nr;
	names = xcalloc(n->nr ? n->nr : 1, sizeof(*names));
	for (size_t i = 0; i < n->nr; i++) {
		rc_smoke_one(c, n->items[i], i, &r->smoke[i]);
		names[i] = r->smoke[i].name.v;
	}
	rc_find_dups(c, names, n->nr, rc_report_namedup, &d);
	free(names);
}

static void rc_trim(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;

	if (rc_map(c, n, "trim", trim_keys, "field", NULL))
		return;
	rc_setpos(&r->trim.pos, n);
	if (!rc_str(c, ytree_get(n, "strip"), "trim.strip", &fmt_strip, &r->trim.strip) &&
	    r->trim.strip.v)
		r->trim.strip_v = !strcmp(r->trim.strip.v, "none")    ? STRIP_NONE
				  : !strcmp(r->trim.strip.v, "debug") ? STRIP_DEBUG
								      : STRIP_UNNEEDED;
	rc_strlist(c, ytree_get(n, "keep_symbols"), "trim.keep_symbols", &fmt_dockerline, 0,
		   &r->trim.keep_symbols);
	rc_strlist(c, ytree_get(n, "prune"), "trim.prune", &fmt_prune, RC_UNIQUE, &r->trim.prune);
}

static void rc_final(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;

	if (rc_map(c, n, "final", final_keys, "field", NULL))
		return;
	rc_setpos(&r->final.pos, n);
	if (!rc_str(c, ytree_get(n, "mode"), "final.mode", &fmt_final_mode, &r->final.mode) &&
	    r->final.mode.v)
		r->final.closure = !strcmp(r->final.mode.v, "closure");
	rc_bool(c, ytree_get(n, "ca_certificates"), "final.ca_certificates",
		&r->final.ca_certificates);
	rc_bool(c, ytree_get(n, "tmp"), "final.tmp", &r->final.tmp);
	rc_strlist(c, ytree_get(n, "keep_stdlib"), "final.keep_stdlib", &fmt_stdlib, RC_UNIQUE,
		   &r->final.keep_stdlib);
	if (r->final.closure)
		return;
	/* The options shape a closure image: one that asks for something on a
	 * base image would be ignored (their defaults are fine). */
	if (r->final.ca_certificates.set && r->final.ca_certificates.v)
		rc_diag(c, r->final.ca_certificates.pos.line, r->final.ca_certificates.pos.col,
			"final.ca_certificates",
			"only a closure image takes it: set final.mode: closure");
	if (r->final.tmp.set && r->final.tmp.v)
		rc_diag(c, r->final.tmp.pos.line, r->final.tmp.pos.col, "final.tmp",
			"only a closure image takes it: set final.mode: closure");
	if (r->final.keep_stdlib.nr)
		rc_diag(c, r->final.keep_stdlib.pos.line, r->final.keep_stdlib.pos.col,
			"final.keep_stdlib",
			"only a closure image takes it: set final.mode: closure");
}

static const char growth_expect[] =
    "a growth like \"10%\" (of the baseline's size) or a size like \"200MB\"";
static const char growth_limits_expect[] =
    "a growth like \"10%\" or \"200MB\", or a list of one of each";
static const char *const growth_keys[] = {"total", "package", NULL};

/* "10%", "2.5%" (one decimal at most), or a size. */
static int rc_parse_percent(const char *s, uint64_t *permille)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > 100000000)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	v *= 10;
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -1;
		v += (uint64_t)(p[1] - '0');
		p += 2;
	}
	if (strcmp(p, "%"))
		return -1;
	*permille = v;
	return 0;
}

/* One limit into the percent or the size slot of a pair. */
static void rc_growth_limit(struct rctx *c, const struct ynode *n, const char *field,
			    struct recipe_growth_limit *pct, struct recipe_growth_limit *size)
{
	struct recipe_growth_limit l;
	struct recipe_growth_limit *slot;
	const char *s;
	long v;

	memset(&l, 0, sizeof(l));
	if (n->type == YNODE_SCALAR && n->plain && ytree_yaml11_kind(n->text) == YAML11_INT) {
		if (ytree_yaml11_int(n->text, &v) || v < 0) {
			rc_expected(c, n, field, growth_expect);
			return;
		}
		l.bytes = (uint64_t)v;
	} else {
		if (!(s = rc_string(c, n, field, growth_expect)))
			return;
		if (!rc_parse_percent(s, &l.permille)) {
			l.percent = 1;
		} else if (recipe_parse_size(s, &l.bytes)) {
			char *q = rc_quote(s);

			rc_diag(c, n->line, n->col, field, "expected %s, got %s", growth_expect, q);
			free(q);
			return;
		}
	}
	slot = l.percent ? pct : size;
	if (slot->set) {
		rc_diag(c, n->line, n->col, field,
			"a second %s limit (the first is %s, line %d): give one percent and one "
			"size at most",
			l.percent ? "percent" : "size", slot->text, slot->pos.line);
		return;
	}
	l.set = 1;
	l.text = xstrdup(n->text);
	l.pos.line = n->line;
	l.pos.col = n->col;
	*slot = l;
}

/* A limit or a list of them (one percent and one size at most). */
static void rc_growth_limits(struct rctx *c, const struct ynode *n, const char *field,
			     struct recipe_growth_limit *pct, struct recipe_growth_limit *size)
{
	if (!n)
		return;
	if (n->type == YNODE_MAP) {
		rc_expected(c, n, field, growth_limits_expect);
		return;
	}
	if (n->type == YNODE_SCALAR) {
		rc_growth_limit(c, n, field, pct, size);
		return;
	}
	if (!n->nr || n->nr > 2) {
		rc_diag(c, n->line, n->col, field, "expected %s, got a list of %zu",
			growth_limits_expect, n->nr);
		return;
	}
	for (size_t i = 0; i < n->nr; i++) {
		char *f = rc_index(field, i);

		if (n->items[i]->type != YNODE_SCALAR)
			rc_expected(c, n->items[i], f, growth_expect);
		else
			rc_growth_limit(c, n->items[i], f, pct, size);
		free(f);
	}
}

/* "10%" or "200MB" (the total's), or {total: ..., package: ...}. */
static void rc_growth(struct rctx *c, const struct ynode *n, const char *field,
		      struct recipe_growth *out)
{
	if (!n)
		return;
	out->pos.line = n->line;
	out->pos.col = n->col;
	if (n->type == YNODE_MAP) {
		if (rc_map(c, n, field, growth_keys, "field", NULL))
			return;
		rc_growth_limits(c, ytree_get(n, "total"), "budgets.growth.total",
				 &out->total_percent, &out->total_size);
		rc_growth_limits(c, ytree_get(n, "package"), "budgets.growth.package",
				 &out->package_percent, &out->package_size);
	} else if (n->type == YNODE_SCALAR) {
		rc_growth_limit(c, n, field, &out->total_percent, &out->total_size);
	} else {
		rc_expected(c, n, field,
			    "a growth like \"10%\" or \"200MB\", or a mapping with total and "
			    "package");
		return;
	}
	out->set = out->total_percent.set || out->total_size.set || out->package_percent.set ||
		   out->package_size.set;
}

static void rc_budgets(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;
	const struct ynode *paths;
	char *ok = NULL;

	if (rc_map(c, n, "budgets", budget_keys, "field", NULL))
		return;
	rc_setpos(&r->budgets.pos, n);
	rc_size(c, ytree_get(n, "size"), "budgets.size", &r->budgets.size);
	rc_size(c, ytree_get(n, "compressed"), "budgets.compressed", &r->budgets.compressed);
	rc_size(c, ytree_get(n, "wasted"), "budgets.wasted", &r->budgets.wasted);
	rc_int(c, ytree_get(n, "layers"), "budgets.layers", 1, INT_MAX, &r->budgets.layers,
	       &r->budgets.layers_pos);
	rc_growth(c, ytree_get(n, "growth"), "budgets.growth", &r->budgets.growth);
	if (!(paths = ytree_get(n, "paths")))
		return;
	ok = xcalloc(paths->type == YNODE_MAP && paths->nr ? paths->nr : 1, 1);
	if (rc_map(c, paths, "budgets.paths", NULL, "key", ok))
		goto done;
	r->budgets.paths = xcalloc(paths->nr ? paths->nr : 1, sizeof(*r->budgets.paths));
	for (size_t i = 0; i < paths->nr; i++) {
		struct recipe_path_budget *pb = &r->budgets.paths[r->budgets.paths_nr];
		const struct ynode *key = paths->keys[i];
		char *field;

		if (!ok[i])
			continue;
		field = rc_field("budgets.paths", key->text);
		if (!rc_check_fmt(c, key, field, &fmt_line, key->text)) {
			pb->path.v = xstrdup(key->text);
			rc_setpos(&pb->path.pos, key);
			rc_size(c, paths->items[i], field, &pb->size);
			r->budgets.paths_nr++;
		}
		free(field);
	}
done:
	free(ok);
}

/* rules: {rule-id: error|warn|off}. A plain `off` is the boolean false
 * to YAML 1.1 tools, and the schema takes false for off too. */
static void rc_rules(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;
	char *ok;

	ok = xcalloc(n->type == YNODE_MAP && n->nr ? n->nr : 1, 1);
	if (rc_map(c, n, "rules", NULL, "key", ok))
		goto done;
	rc_setpos(&r->rules_pos, n);
	r->rules = xcalloc(n->nr ? n->nr : 1, sizeof(*r->rules));
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *key = n->keys[i], *val = n->items[i];
		struct recipe_rule *rule = &r->rules[r->rules_nr];
		char *field;
		const char *sev;

		if (!ok[i])
			continue;
		field = rc_field("rules", key->text);
		if (!rc_is_known(recipe_rule_ids, key->text)) {
			const char *near = rc_suggest(key->text, recipe_rule_ids);
			char *all = rc_join(recipe_rule_ids, ", ");

			if (near)
				rc_diag(c, key->line, key->col, field,
					"unknown rule; did you mean '%s'?", near);
			else
				rc_diag(c, key->line, key->col, field,
					"unknown rule; expected one of %s", all);
			free(all);
			free(field);
			continue;
		}
		if (val->type == YNODE_SCALAR && val->plain && ytree_yaml11_bool(val->text) == 0) {
			rule->severity = RULE_OFF;
		} else if (val->type == YNODE_SCALAR && val->plain &&
			   ytree_yaml11_bool(val->text) == 1) {
			rc_expected(c, val, field, "error, warn or off");
			free(field);
			continue;
		} else if (!(sev = rc_string(c, val, field, "error, warn or off")) ||
			   rc_check_fmt(c, val, field, &fmt_severity, sev)) {
			free(field);
			continue;
		} else {
			rule->severity = !strcmp(sev, "error")	? RULE_ERROR
					 : !strcmp(sev, "warn") ? RULE_WARN
								: RULE_OFF;
		}
		rule->id.v = xstrdup(key->text);
		rc_setpos(&rule->id.pos, key);
		rc_setpos(&rule->severity_pos, val);
		r->rules_nr++;
		free(field);
	}
done:
	free(ok);
}

static void rc_labels(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;
	char *ok = xcalloc(n->type == YNODE_MAP && n->nr ? n->nr : 1, 1);

	if (rc_map(c, n, "labels", NULL, "key", ok))
		goto done;
	r->labels = xcalloc(n->nr ? n->nr : 1, sizeof(*r->labels));
	for (size_t i = 0; i < n->nr; i++) {
		struct recipe_label *l = &r->labels[r->labels_nr];
		const struct ynode *key = n->keys[i];
		char *field;

		if (!ok[i])
			continue;
		field = rc_field("labels", key->text);
		if (!rc_check_fmt(c, key, field, &fmt_label_key, key->text)) {
			l->key.v = xstrdup(key->text);
			rc_setpos(&l->key.pos, key);
			rc_str(c, n->items[i], field, &fmt_label_value, &l->value);
			r->labels_nr++;
		}
		free(field);
	}
done:
	free(ok);
}

static void rc_output(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;
	const struct ynode *level;
	const char *comp;

	if (rc_map(c, n, "output", output_keys, "field", NULL))
		return;
	rc_setpos(&r->output.pos, n);
	rc_str(c, ytree_get(n, "cache"), "output.cache", &fmt_cache, &r->output.cache);
	rc_str(c, ytree_get(n, "compression"), "output.compression", &fmt_compression,
	       &r->output.compression);
	rc_strlist(c, ytree_get(n, "platforms"), "output.platforms", &fmt_platform,
		   RC_NONEMPTY | RC_UNIQUE, &r->output.platforms);
	rc_str(c, ytree_get(n, "network"), "output.network", &fmt_network, &r->output.network);
	rc_strlist(c, ytree_get(n, "engines"), "output.engines", &fmt_engine,
		   RC_NONEMPTY | RC_UNIQUE, &r->output.engines);
	level = ytree_get(n, "compression_level");
	if (rc_int(c, level, "output.compression_level", 0, 22, &r->output.compression_level,
		   &r->output.compression_level_pos) ||
	    !level)
		return;
	/* The level's range is the compressor's: zstd goes to 22, gzip (and
	 * estargz, which is gzip) to 9. */
	comp = r->output.compression.v ? r->output.compression.v : "zstd";
	if (!strcmp(comp, "uncompressed"))
		rc_diag(c, level->line, level->col, "output.compression_level",
			"has no effect with compression \"uncompressed\"; remove it");
	else if (strcmp(comp, "zstd") && r->output.compression_level > 9)
		rc_diag(c, level->line, level->col, "output.compression_level",
			"expected an integer from 0 to 9 for %s, got %ld", comp,
			r->output.compression_level);
}

static void rc_ci(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;

	if (rc_map(c, n, "ci", ci_keys, "field", NULL))
		return;
	rc_setpos(&r->ci.pos, n);
	rc_str(c, ytree_get(n, "schedule"), "ci.schedule", &fmt_cron, &r->ci.schedule);
}

/* ---- matrix -------------------------------------------------------------- */

enum rc_axis {
	AXIS_NONE,
	AXIS_CUDA,
	AXIS_OS,
	AXIS_PYTHON,
	AXIS_PYTHON_SOURCE,
	AXIS_CUDNN,
	AXIS_STRIP,
	AXIS_FRAMEWORK
};

/* In the order of enum rc_axis, from AXIS_CUDA. */
static const char *const axis_names[] = {"cuda",  "os",	   "python", "python_source",
					 "cudnn", "strip", NULL};

static enum rc_axis rc_axis_kind(struct rctx *c, const char *key)
{
	for (size_t i = 0; axis_names[i]; i++)
		if (!strcmp(axis_names[i], key))
			return (enum rc_axis)(AXIS_CUDA + i);
	return ytree_get(c->frameworks, key) ? AXIS_FRAMEWORK : AXIS_NONE;
}

/* One matrix value, as the top-level field of that name would take it
 * (strip as trim.strip); cudnn's booleans become "true"/"false". */
static int rc_axis_value(struct rctx *c, const struct ynode *n, const char *field,
			 enum rc_axis kind, struct rstr *out)
{
	static const struct rfmt *const fmts[] = {
	    [AXIS_CUDA] = &fmt_cuda,	 [AXIS_OS] = &fmt_os,
	    [AXIS_PYTHON] = &fmt_python, [AXIS_PYTHON_SOURCE] = &fmt_python_source,
	    [AXIS_STRIP] = &fmt_strip,	 [AXIS_FRAMEWORK] = &fmt_fw_axis,
	};
	struct rbool b = {0};

	if (kind != AXIS_CUDNN)
		return rc_str(c, n, field, fmts[kind], out);
	if (rc_bool(c, n, field, &b))
		return -1;
	out->v = xstrdup(b.v ? "true" : "false");
	rc_setpos(&out->pos, n);
	return 0;
}

static void rc_unknown_axis(struct rctx *c, const struct ynode *key, const char *field)
{
	struct vec known = VEC_INIT(NULL);
	const char *near;

	for (size_t i = 0; axis_names[i]; i++)
		vec_push(&known, (void *)axis_names[i]);
	if (c->frameworks && c->frameworks->type == YNODE_MAP)
		for (size_t i = 0; i < c->frameworks->nr; i++)
			if (c->frameworks->keys[i]->type == YNODE_SCALAR)
				vec_push(&known, c->frameworks->keys[i]->text);
	vec_push(&known, NULL);
	known.nr--;
	near = rc_suggest(key->text, (const char *const *)known.items);
	if (near)
		rc_diag(c, key->line, key->col, field, "unknown matrix axis; did you mean '%s'?",
			near);
	else
		rc_diag(c, key->line, key->col, field,
			"unknown matrix axis; axes are cuda, os, python, python_source, cudnn, "
			"strip and the names under 'frameworks'");
	vec_release(&known);
}

static void rc_axis(struct rctx *c, const struct ynode *key, const struct ynode *n,
		    struct recipe_axis *axis)
{
	char *field = rc_field("matrix", key->text);
	enum rc_axis kind = rc_axis_kind(c, key->text);
	struct rc_itemdup d = {n, field};
	const char **texts = NULL;

	axis->key.v = xstrdup(key->text);
	rc_setpos(&axis->key.pos, key);
	if (n->type != YNODE_SEQ) {
		rc_expected(c, n, field, "a non-empty list of values");
		goto done;
	}
	if (!n->nr) {
		rc_diag(c, n->line, n->col, field,
			"expected at least one value, got an empty list");
		goto done;
	}
	rc_setpos(&axis->values.pos, n);
	axis->values.items = xcalloc(n->nr, sizeof(*axis->values.items));
	texts = xcalloc(n->nr, sizeof(*texts));
	for (size_t i = 0; i < n->nr; i++) {
		char *ifield = rc_index(field, i);
		struct rstr *v = &axis->values.items[axis->values.nr];

		if (!rc_axis_value(c, n->items[i], ifield, kind, v)) {
			texts[i] = v->v;
			axis->values.nr++;
		}
		free(ifield);
	}
	rc_find_dups(c, texts, n->nr, rc_report_itemdup, &d);
done:
	free(texts);
	free(field);
}

/* include/exclude: a list of {axis: value} mappings. An exclude names axes
 * the matrix declares; an include may also add a cell along a field the
 * matrix does not vary. */
static void rc_cellspecs(struct rctx *c, const struct ynode *matrix, const struct ynode *n,
			 const char *field, int is_exclude, struct recipe_cellspec **out,
			 size_t *out_nr)
{
	if (rc_seq_of_maps(c, n, field, "a list of mappings like {cuda: \"12.4\"}"))
		return;
	*out = xcalloc(n->nr ? n->nr : 1, sizeof(**out));
	*out_nr = n->nr;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *e = n->items[i];
		struct recipe_cellspec *cs = &(*out)[i];
		char *ifield = rc_index(field, i);
		char *ok = xcalloc(e->type == YNODE_MAP && e->nr ? e->nr : 1, 1);

		rc_setpos(&cs->pos, e);
		if (rc_map(c, e, ifield, NULL, "axis", ok))
			goto next;
		if (!e->nr)
			rc_diag(c, e->line, e->col, ifield,
				"an empty entry matches every cell; name at least one axis");
		cs->keys = xcalloc(e->nr ? e->nr : 1, sizeof(*cs->keys));
		cs->values = xcalloc(e->nr ? e->nr : 1, sizeof(*cs->values));
		for (size_t j = 0; j < e->nr; j++) {
			const struct ynode *key = e->keys[j];
			enum rc_axis kind;
			char *kfield;

			if (!ok[j])
				continue;
			kfield = rc_field(ifield, key->text);
			kind = rc_axis_kind(c, key->text);
			if (kind == AXIS_NONE) {
				rc_unknown_axis(c, key, kfield);
			} else if (is_exclude && !ytree_get(matrix, key->text)) {
				rc_diag(c, key->line, key->col, kfield,
					"'%s' is not an axis of this matrix; an exclude names only "
					"axes declared under matrix",
					key->text);
			} else if (!rc_axis_value(c, e->items[j], kfield, kind,
						  &cs->values[cs->nr])) {
				cs->keys[cs->nr].v = xstrdup(key->text);
				rc_setpos(&cs->keys[cs->nr].pos, key);
				cs->nr++;
			}
			free(kfield);
		}
	next:
		free(ok);
		free(ifield);
	}
}

/*
 * A matrix is bounded: max_cells (or the default) caps the cells it asks
 * for, the product of the value counts its axes are written with plus one
 * per include, counted before anything is expanded (and before any value
 * is judged), so that a typo cannot ask for billions of builds. `axes` is
 * that product, `overflow` set when it passed UINT64_MAX (a few dozen
 * short axes).
 */
static void rc_matrix_bound(struct rctx *c, const struct ynode *n, uint64_t axes, int overflow)
{
	struct recipe *r = c->r;
	long cap = r->matrix.max_cells ? r->matrix.max_cells : RECIPE_MAX_CELLS_DEFAULT;
	const struct ynode *inc = ytree_get(n, "include");
	uint64_t cells = axes;

	if (inc && inc->type == YNODE_SEQ)
		overflow |= __builtin_add_overflow(cells, (uint64_t)inc->nr, &cells);
	if (overflow)
		rc_diag(c, n->line, n->col, "matrix",
			"expands to more than 2^64 cells (the product of its axes' value "
			"counts), more than %s (%ld); remove axes or values",
			r->matrix.max_cells ? "matrix.max_cells" : "the default max_cells", cap);
	else if (cells > (uint64_t)cap)
		rc_diag(c, n->line, n->col, "matrix",
			"expands to %llu cells (the product of its axes' value counts, plus its "
			"includes), more than %s (%ld); remove values or raise matrix.max_cells "
			"(at most %d)",
			(unsigned long long)cells,
			r->matrix.max_cells ? "matrix.max_cells" : "the default max_cells", cap,
			RECIPE_MAX_CELLS_LIMIT);
}

static void rc_matrix(struct rctx *c, const struct ynode *n)
{
	struct recipe *r = c->r;
	char *ok = xcalloc(n->type == YNODE_MAP && n->nr ? n->nr : 1, 1);
	const struct ynode *spec;
	uint64_t cells = 1;
	int have_axes = 0, overflow = 0;

	if (rc_map(c, n, "matrix", NULL, "axis", ok))
		goto done;
	rc_setpos(&r->matrix.pos, n);
	rc_int(c, ytree_get(n, "max_cells"), "matrix.max_cells", 1, RECIPE_MAX_CELLS_LIMIT,
	       &r->matrix.max_cells, &r->matrix.max_cells_pos);
	r->matrix.axes = xcalloc(n->nr ? n->nr : 1, sizeof(*r->matrix.axes));
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *key = n->keys[i];
		char *field;

		/* a repeated key was reported; only its first value counts */
		if (!ok[i] || ytree_get(n, key->text) != n->items[i] ||
		    !strcmp(key->text, "include") || !strcmp(key->text, "exclude") ||
		    !strcmp(key->text, "max_cells"))
			continue;
		if (n->items[i]->type == YNODE_SEQ) {
			have_axes = 1;
			overflow |=
			    __builtin_mul_overflow(cells, (uint64_t)n->items[i]->nr, &cells);
		}
		if (rc_axis_kind(c, key->text) == AXIS_NONE) {
			field = rc_field("matrix", key->text);
			rc_unknown_axis(c, key, field);
			free(field);
			continue;
		}
		rc_axis(c, key, n->items[i], &r->matrix.axes[r->matrix.axes_nr++]);
	}
	rc_matrix_bound(c, n, have_axes ? cells : 0, overflow);
	if ((spec = ytree_get(n, "include")))
		rc_cellspecs(c, n, spec, "matrix.include", 0, &r->matrix.include,
			     &r->matrix.include_nr);
	if ((spec = ytree_get(n, "exclude"))) {
		rc_setpos(&r->matrix.exclude_pos, spec);
		rc_cellspecs(c, n, spec, "matrix.exclude", 1, &r->matrix.exclude,
			     &r->matrix.exclude_nr);
	}
done:
	free(ok);
}

/* ---- the whole recipe ---------------------------------------------------- */

static void rc_top(struct rctx *c, const struct ynode *root)
{
	struct recipe *r = c->r;
	const struct ynode *n;

	if (rc_map(c, root, NULL, top_keys, "field", NULL))
		return;
	rc_setpos(&r->pos, root);
	rc_required(c, root, NULL, "name");
	rc_required(c, root, NULL, "cuda");
	c->frameworks = ytree_get(root, "frameworks");

	rc_str(c, ytree_get(root, "name"), "name", &fmt_name, &r->name);
	rc_str(c, ytree_get(root, "image"), "image", &fmt_image, &r->image);
	rc_str(c, ytree_get(root, "tag"), "tag", &fmt_tag, &r->tag);
	if ((n = ytree_get(root, "base")))
		rc_base(c, n);
	rc_str(c, ytree_get(root, "cuda"), "cuda", &fmt_cuda, &r->cuda);
	rc_bool(c, ytree_get(root, "cudnn"), "cudnn", &r->cudnn);
	rc_str(c, ytree_get(root, "python"), "python", &fmt_python, &r->python);
	if (!rc_str(c, ytree_get(root, "python_source"), "python_source", &fmt_python_source,
		    &r->python_source) &&
	    r->python_source.v && !strcmp(r->python_source.v, "managed"))
		r->python_source_v = PYTHON_SOURCE_MANAGED;
	if (c->frameworks)
		rc_frameworks(c, c->frameworks);
	rc_strlist(c, ytree_get(root, "system_packages"), "system_packages", &fmt_system_package, 0,
		   &r->system_packages);
	rc_strlist(c, ytree_get(root, "python_packages"), "python_packages", &fmt_python_package, 0,
		   &r->python_packages);
	if ((n = ytree_get(root, "pip")))
		rc_pip(c, n);
	if ((n = ytree_get(root, "app")))
		rc_app(c, n);
	if ((n = ytree_get(root, "models")))
		rc_models(c, n);
	rc_strlist(c, ytree_get(root, "capabilities"), "capabilities", &fmt_capability, RC_UNIQUE,
		   &r->capabilities);
	if ((n = ytree_get(root, "final")))
		rc_final(c, n);
	if ((n = ytree_get(root, "trim")))
		rc_trim(c, n);
	if ((n = ytree_get(root, "matrix")))
		rc_matrix(c, n);
	if ((n = ytree_get(root, "budgets")))
		rc_budgets(c, n);
	if ((n = ytree_get(root, "smoke")))
		rc_smoke(c, n);
	if ((n = ytree_get(root, "rules")))
		rc_rules(c, n);
	if ((n = ytree_get(root, "labels")))
		rc_labels(c, n);
	if ((n = ytree_get(root, "output")))
		rc_output(c, n);
	if ((n = ytree_get(root, "ci")))
		rc_ci(c, n);
}

/* Strict UTF-8: no overlongs, no surrogates, nothing past U+10FFFF. The
 * column counts characters, as libyaml's marks do. */
static int rc_check_utf8(struct rctx *c, const unsigned char *s, size_t len)
{
	int line = 1, col = 1;
	/* A byte order mark is no column (ytree_parse skips it too). */
	size_t i = len >= 3 && !memcmp(s, "\xef\xbb\xbf", 3) ? 3 : 0;

	while (i < len) {
		unsigned char b = s[i];
		size_t need = b < 0x80		       ? 0
			      : b >= 0xc2 && b <= 0xdf ? 1
			      : b >= 0xe0 && b <= 0xef ? 2
			      : b >= 0xf0 && b <= 0xf4 ? 3
						       : 9;
		unsigned char lo = 0x80, hi = 0xbf;

		if (b == 0xe0)
			lo = 0xa0;
		else if (b == 0xed)
			hi = 0x9f;
		else if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f;
		for (size_t k = 1; need != 9 && k <= need; k++, lo = 0x80, hi = 0xbf)
			if (i + k >= len || s[i + k] < lo || s[i + k] > hi)
				need = 9;
		if (need == 9) {
			rc_diag(c, line, col, NULL,
				"invalid UTF-8 (byte 0x%02x); save the recipe as UTF-8", b);
			return -1;
		}
		if (b == '\n')
			line++, col = 1;
		else
			col++;
		i += need + 1;
	}
	return 0;
}

/* YAML indents with spaces only. libyaml says "found character that cannot
 * start any token" at a tab; say what it is instead. */
static int rc_tab_at(const char *data, size_t len, int line, int *col)
{
	size_t i = 0;

	for (int l = 1; l < line && i < len; i++)
		if (data[i] == '\n')
			l++;
	for (*col = 1; i < len && (data[i] == ' ' || data[i] == '\t'); i++, (*col)++)
		if (data[i] == '\t')
			return 1;
	return 0;
}

static void rc_parse_tree(struct rctx *c, const char *data, size_t len)
{
	struct diag yerr;
	struct ynode *root = NULL;
	int col;

	if (ytree_parse(data, len, &root, &yerr)) {
		if (rc_tab_at(data, len, yerr.pos.line, &col))
			rc_diag(c, yerr.pos.line, col, NULL,
				"tab character in indentation; indent with spaces");
		else
			rc_diag(c, yerr.pos.line, yerr.pos.col, NULL, "%s", yerr.msg);
		diag_release(&yerr);
		return;
	}
	if (!root || (root->type == YNODE_SCALAR && root->plain &&
		      ytree_yaml11_kind(root->text) == YAML11_NULL))
		rc_diag(c, root ? root->line : 1, root ? root->col : 1, NULL,
			"recipe is empty; it needs at least name and cuda");
	else if (root->type != YNODE_MAP)
		rc_expected(c, root, "recipe", "a mapping of fields like 'name: my-app'");
	else
		rc_top(c, root);
	ytree_free(root);
}

int recipe_parse(const char *path, const char *data, size_t len, struct recipe **out,
		 struct vec *diags)
{
	struct rctx c = {0};
	struct recipe *r = xcalloc(1, sizeof(*r));
	int ret;

	*out = NULL;
	c.file = path;
	c.r = r;
	r->file = xstrdup(path);
	r->dir = fs_dirname(path);
	hash_sha256_hex(data, len, r->sha256);
	r->python_source_v = PYTHON_SOURCE_OS;
	r->trim.strip_v = STRIP_UNNEEDED;

	if (len > RECIPE_MAX_BYTES)
		rc_diag(&c, 1, 1, NULL, "recipe is larger than 1 MiB (%zu bytes)", len);
	else if (!rc_check_utf8(&c, (const unsigned char *)data, len))
		rc_parse_tree(&c, data, len);
	ret = rc_finish(&c, diags);
	if (ret)
		recipe_free(r);
	else
		*out = r;
	return ret;
}

int recipe_load(const char *path, struct recipe **out, struct vec *diags)
{
	struct strbuf sb = STRBUF_INIT;
	struct stat st;
	int ret;

	*out = NULL;
	/* Refuse a large file before reading it: the message is a diagnostic
	 * like any other problem with the recipe. */
	if (!stat(path, &st) && S_ISREG(st.st_mode) && st.st_size > RECIPE_MAX_BYTES) {
		struct rctx c = {0};

		c.file = path;
		rc_diag(&c, 1, 1, NULL, "recipe is larger than 1 MiB (%lld bytes)",
			(long long)st.st_size);
		return rc_finish(&c, diags);
	}
	ret = fs_read_file(path, &sb, RECIPE_MAX_BYTES);
	if (!ret)
		ret = recipe_parse(path, sb.buf ? sb.buf : "", sb.len, out, diags);
	strbuf_release(&sb);
	return ret;
}

struct rpos recipe_base_pos(const struct recipe *r)
{
	return r->base.repository.pos.line ? r->base.repository.pos
	       : r->base.pos.line	   ? r->base.pos
					   : r->pos;
}

/* ---- sizes --------------------------------------------------------------- */

int recipe_parse_size(const char *text, uint64_t *bytes)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
	    {"B", 1ULL},	   {"KB", 1000ULL},	     {"MB", 1000000ULL},
	    {"GB", 1000000000ULL}, {"TB", 1000000000000ULL}, {"KiB", 1ULL << 10},
	    {"MiB", 1ULL << 20},   {"GiB", 1ULL << 30},	     {"TiB", 1ULL << 40},
	};
	const char *p = text, *frac = NULL, *frac_end = NULL;
	uint64_t whole = 0, mult = 1, part = 0;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (whole > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		frac = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		frac_end = p;
		if (frac == frac_end)
			return -1;
	}
	if (*p == ' ' && p[1])
		p++;
	if (*p) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]) && strcmp(p, units[i].unit); i++)
			;
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;
		mult = units[i].mult;
	}
	/* The fraction times the unit, exactly: long multiplication from the
	 * last decimal digit, keeping only the carry into the integer part. */
	for (const char *d = frac_end; frac && d > frac; d--)
		part = ((uint64_t)(d[-1] - '0') * mult + part) / 10;
	if (whole > (UINT64_MAX - part) / mult)
		return -1;
	*bytes = whole * mult + part;
	return 0;
}

/* ---- freeing ------------------------------------------------------------- */

static void rc_free_list(struct rstrlist *l)
{
	for (size_t i = 0; i < l->nr; i++)
		free(l->items[i].v);
	free(l->items);
}

static void rc_free_cellspecs(struct recipe_cellspec *cs, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		for (size_t j = 0; j < cs[i].nr; j++) {
			free(cs[i].keys[j].v);
			free(cs[i].values[j].v);
		}
		free(cs[i].keys);
		free(cs[i].values);
	}
	free(cs);
}

void recipe_free(struct recipe *r)
{
	if (!r)
		return;
	free(r->file);
	free(r->dir);
	free(r->name.v);
	free(r->image.v);
	free(r->tag.v);
	free(r->base.os.v);
	free(r->base.registry.v);
	free(r->base.repository.v);
	free(r->base.flavor.v);
	free(r->cuda.v);
	free(r->python.v);
	free(r->python_source.v);
	for (size_t i = 0; i < r->frameworks_nr; i++) {
		free(r->frameworks[i].name.v);
		free(r->frameworks[i].version.v);
	}
	free(r->frameworks);
	rc_free_list(&r->system_packages);
	rc_free_list(&r->python_packages);
	free(r->app.path.v);
	free(r->app.git.url.v);
	free(r->app.git.ref.v);
	free(r->app.git.subdir.v);
	rc_free_list(&r->app.copy);
	rc_free_list(&r->app.build);
	rc_free_list(&r->app.artifacts);
	rc_free_list(&r->app.cmd);
	rc_free_list(&r->app.entrypoint);
	free(r->app.workdir.v);
	rc_free_list(&r->app.env);
	rc_free_list(&r->app.ports);
	for (size_t i = 0; i < r->models_nr; i++) {
		free(r->models[i].name.v);
		free(r->models[i].path.v);
		free(r->models[i].target.v);
	}
	free(r->models);
	rc_free_list(&r->capabilities);
	free(r->final.mode.v);
	rc_free_list(&r->final.keep_stdlib);
	free(r->trim.strip.v);
	rc_free_list(&r->trim.keep_symbols);
	rc_free_list(&r->trim.prune);
	for (size_t i = 0; i < r->matrix.axes_nr; i++) {
		free(r->matrix.axes[i].key.v);
		rc_free_list(&r->matrix.axes[i].values);
	}
	free(r->matrix.axes);
	rc_free_cellspecs(r->matrix.include, r->matrix.include_nr);
	rc_free_cellspecs(r->matrix.exclude, r->matrix.exclude_nr);
	free(r->budgets.size.text);
	free(r->budgets.compressed.text);
	free(r->budgets.wasted.text);
	for (size_t i = 0; i < r->budgets.paths_nr; i++) {
		free(r->budgets.paths[i].path.v);
		free(r->budgets.paths[i].size.text);
	}
	free(r->budgets.paths);
	free(r->budgets.growth.total_percent.text);
	free(r->budgets.growth.total_size.text);
	free(r->budgets.growth.package_percent.text);
	free(r->budgets.growth.package_size.text);
	for (size_t i = 0; i < r->rules_nr; i++)
		free(r->rules[i].id.v);
	free(r->rules);
	for (size_t i = 0; i < r->smoke_nr; i++) {
		free(r->smoke[i].name.v);
		rc_free_list(&r->smoke[i].run);
		free(r->smoke[i].expect.v);
	}
	free(r->smoke);
	for (size_t i = 0; i < r->labels_nr; i++) {
		free(r->labels[i].key.v);
		free(r->labels[i].value.v);
	}
	free(r->labels);
	free(r->output.cache.v);
	free(r->output.compression.v);
	free(r->output.network.v);
	free(r->pip.index_url.v);
	free(r->pip.framework_index_url.v);
	rc_free_list(&r->output.platforms);
	free(r->ci.schedule.v);
	rc_free_list(&r->output.engines);
	free(r);
}
