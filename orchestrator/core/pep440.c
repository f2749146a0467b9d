#include "core/pep440.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/strbuf.h"

/*
 * Versions are parsed into spans of the text they came from: a number is
 * its digits less leading zeros (n == 0 is zero), so that numbers of any
 * length compare without overflow (dates like 20240101123456 are common).
 */
struct pnum {
	const char *p;
	size_t n;
};

enum { PRE_NONE, PRE_A, PRE_B, PRE_RC };

struct pv {
	struct pnum epoch;
	struct pnum *rel;
	size_t rel_nr;
	int pre;
	struct pnum pre_n;
	int post;
	struct pnum post_n;
	int dev;
	struct pnum dev_n;
	const char *local; /* after '+', NULL when none */
	size_t local_len;
	const char *text; /* the version less surrounding blanks */
	size_t text_len;
};

static void pv_release(struct pv *v)
{
	free(v->rel);
	v->rel = NULL;
	v->rel_nr = 0;
}

static int is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_sep(int c)
{
	return c == '-' || c == '_' || c == '.';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_alnum_ascii(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Digits at s[*i]; 0 when there are none. */
static int take_num(const char *s, size_t end, size_t *i, struct pnum *out)
{
	size_t j = *i;

	if (j >= end || !is_digit(s[j]))
		return 0;
	while (j < end && is_digit(s[j]))
		j++;
	out->p = s + *i;
	out->n = j - *i;
	while (out->n && *out->p == '0') {
		out->p++;
		out->n--;
	}
	*i = j;
	return 1;
}

/* The first of `words` that s[*i..] starts with, case-insensitively: its index, or -1. */
static int take_word(const char *s, size_t end, size_t *i, const char *const *words)
{
	for (int w = 0; words[w]; w++) {
		size_t n = strlen(words[w]);

		if (end - *i >= n && !strncasecmp(s + *i, words[w], n)) {
			*i += n;
			return w;
		}
	}
	return -1;
}

/* "[-_.]? LABEL [-_.]? N?" at s[*i]; the label's index, or -1 (nothing taken). */
static int take_segment(const char *s, size_t end, size_t *i, const char *const *labels,
			struct pnum *n)
{
	size_t j = *i;
	int w;

	if (j < end && is_sep(s[j]))
		j++;
	w = take_word(s, end, &j, labels);
	if (w < 0)
		return -1;
	if (j < end && is_sep(s[j]) && j + 1 < end && is_digit(s[j + 1]))
		j++;
	else if (j < end && is_sep(s[j]) && (j + 1 == end || !is_alnum_ascii(s[j + 1])))
		j++; /* "1.0a-": a separator with no number, as PEP 440's regex allows */
	n->p = NULL;
	n->n = 0;
	take_num(s, end, &j, n);
	*i = j;
	return w;
}

static int pv_parse(const char *s, struct pv *v)
{
	static const char *const pre_labels[] = {"alpha", "a", "beta", "b", "preview",
						 "pre",	  "c", "rc",   NULL};
	static const int pre_kind[] = {PRE_A, PRE_A, PRE_B, PRE_B, PRE_RC, PRE_RC, PRE_RC, PRE_RC};
	static const char *const post_labels[] = {"post", "rev", "r", NULL};
	static const char *const dev_labels[] = {"dev", NULL};
	size_t start = 0, end = strlen(s), i;
	struct pnum n;
	size_t alloc = 0;
	int w;

	memset(v, 0, sizeof(*v));
	while (start < end && is_blank(s[start]))
		start++;
	while (end > start && is_blank(s[end - 1]))
		end--;
	v->text = s + start;
	v->text_len = end - start;
	i = start;
	if (i < end && (s[i] == 'v' || s[i] == 'V'))
		i++;
	if (!take_num(s, end, &i, &n))
		goto bad;
	if (i < end && s[i] == '!') {
		v->epoch = n;
		i++;
		if (!take_num(s, end, &i, &n))
			goto bad;
	}
	for (;;) {
		ALLOC_GROW(v->rel, v->rel_nr + 1, alloc);
		v->rel[v->rel_nr++] = n;
		if (i + 1 < end && s[i] == '.' && is_digit(s[i + 1])) {
			i++;
			take_num(s, end, &i, &n);
			continue;
		}
		break;
	}
	w = take_segment(s, end, &i, pre_labels, &v->pre_n);
	if (w >= 0)
		v->pre = pre_kind[w];
	if (i + 1 < end && s[i] == '-' && is_digit(s[i + 1])) {
		i++;
		take_num(s, end, &i, &v->post_n);
		v->post = 1;
	} else if (take_segment(s, end, &i, post_labels, &v->post_n) >= 0) {
		v->post = 1;
	}
	if (take_segment(s, end, &i, dev_labels, &v->dev_n) >= 0)
		v->dev = 1;
	if (i < end && s[i] == '+') {
		size_t j = ++i;

		/* [a-z0-9]+ ([-_.][a-z0-9]+)* */
		for (;;) {
			size_t k = j;

			while (k < end && is_alnum_ascii(s[k]))
				k++;
			if (k == j)
				goto bad;
			j = k;
			if (j < end && is_sep(s[j])) {
				j++;
				continue;
			}
			break;
		}
		v->local = s + i;
		v->local_len = j - i;
		i = j;
	}
	if (i != end)
		goto bad;
	return 0;
bad:
	pv_release(v);
	return -1;
}

static int num_cmp(struct pnum a, struct pnum b)
{
	int c;

	if (a.n != b.n)
		return a.n < b.n ? -1 : 1;
	c = a.n ? memcmp(a.p, b.p, a.n) : 0;
	return c < 0 ? -1 : c > 0;
}

/* Release segments, the shorter one padded with zeros. */
static int rel_cmp(const struct pv *a, const struct pv *b, size_t upto)
{
	static const struct pnum zero = {NULL, 0};
	size_t n = a->rel_nr > b->rel_nr ? a->rel_nr : b->rel_nr;

	if (upto < n)
		n = upto;
	for (size_t i = 0; i < n; i++) {
		int c = num_cmp(i < a->rel_nr ? a->rel[i] : zero, i < b->rel_nr ? b->rel[i] : zero);

		if (c)
			return c;
	}
	return 0;
}

/* PEP 440's order of the pre-release part: a dev release of a final
 * (1.0.dev0) before its pre-releases, a final after them. */
static int pre_rank(const struct pv *v)
{
	if (v->pre)
		return 1;
	return !v->post && v->dev ? 0 : 2;
}

/* One local segment: alphanumeric ones sort before numeric ones. */
static int local_seg_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int anum = 1, bnum = 1;

	for (size_t i = 0; i < an; i++)
		anum &= is_digit(a[i]);
	for (size_t i = 0; i < bn; i++)
		bnum &= is_digit(b[i]);
	if (anum && bnum) {
		struct pnum x = {a, an}, y = {b, bn};

		while (x.n && *x.p == '0')
			x.p++, x.n--;
		while (y.n && *y.p == '0')
			y.p++, y.n--;
		return num_cmp(x, y);
	}
	if (anum != bnum)
		return anum ? 1 : -1;
	for (size_t i = 0; i < an && i < bn; i++) {
		int ca = tolower((unsigned char)a[i]), cb = tolower((unsigned char)b[i]);

		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return an == bn ? 0 : an < bn ? -1 : 1;
}

static int local_cmp(const struct pv *a, const struct pv *b)
{
	size_t i = 0, j = 0;

	if (!a->local || !b->local)
		return a->local ? 1 : b->local ? -1 : 0;
	for (;;) {
		size_t ie = i, je = j;
		int c;

		if (i >= a->local_len || j >= b->local_len)
			return i >= a->local_len ? (j >= b->local_len ? 0 : -1) : 1;
		while (ie < a->local_len && !is_sep(a->local[ie]))
			ie++;
		while (je < b->local_len && !is_sep(b->local[je]))
			je++;
		c = local_seg_cmp(a->local + i, ie - i, b->local + j, je - j);
		if (c)
			return c;
		i = ie + 1;
		j = je + 1;
	}
}

/* PEP 440 order; `with_local` 0 compares the public parts alone. */
static int pv_cmp(const struct pv *a, const struct pv *b, int with_local)
{
	int c = num_cmp(a->epoch, b->epoch);

	if (c)
		return c;
	c = rel_cmp(a, b, (size_t)-1);
	if (c)
		return c;
	c = pre_rank(a) - pre_rank(b);
	if (c)
		return c < 0 ? -1 : 1;
	if (a->pre && b->pre) {
		if (a->pre != b->pre)
			return a->pre < b->pre ? -1 : 1;
		c = num_cmp(a->pre_n, b->pre_n);
		if (c)
			return c;
	}
	if (a->post != b->post)
		return a->post ? 1 : -1;
	if (a->post) {
		c = num_cmp(a->post_n, b->post_n);
		if (c)
			return c;
	}
	if (a->dev != b->dev)
		return a->dev ? -1 : 1;
	if (a->dev) {
		c = num_cmp(a->dev_n, b->dev_n);
		if (c)
			return c;
	}
	return with_local ? local_cmp(a, b) : 0;
}

static int pv_is_pre(const struct pv *v)
{
	return v->pre || v->dev;
}

/* Same epoch and release (zero-padded): PEP 440's "base version". */
static int pv_same_base(const struct pv *a, const struct pv *b)
{
	return !num_cmp(a->epoch, b->epoch) && !rel_cmp(a, b, (size_t)-1);
}

static int pv_parse_or_fail(const char *s, struct pv *v)
{
	if (pv_parse(s, v) < 0)
		return error_setc(GS_EINVAL, "invalid version '%.200s'", s);
	return 0;
}

int pep440_valid(const char *v)
{
	struct pv p;

	if (pv_parse_or_fail(v, &p) < 0)
		return GS_EINVAL;
	pv_release(&p);
	return 0;
}

int pep440_cmp(const char *a, const char *b)
{
	struct pv x, y;
	int xa = pv_parse(a, &x) == 0, ya = pv_parse(b, &y) == 0, c;

	if (!xa || !ya) {
		if (xa)
			pv_release(&x);
		if (ya)
			pv_release(&y);
		if (xa != ya)
			return xa ? 1 : -1;
		c = strcmp(a, b); /* two invalid ones: some stable order */
		return c < 0 ? -1 : c > 0;
	}
	c = pv_cmp(&x, &y, 1);
	pv_release(&x);
	pv_release(&y);
	return c;
}

int pep440_is_prerelease(const char *v)
{
	struct pv p;
	int pre;

	if (pv_parse(v, &p) < 0)
		return 0;
	pre = pv_is_pre(&p);
	pv_release(&p);
	return pre;
}

char *pep440_public(const char *v)
{
	const char *plus = strchr(v, '+');
	size_t n = plus ? (size_t)(plus - v) : strlen(v);

	while (n && is_blank(v[n - 1]))
		n--;
	while (n && is_blank(*v))
		v++, n--;
	return xstrndup(v, n);
}

const char *pep440_local(const char *v)
{
	const char *plus = strchr(v, '+');

	return plus && plus[1] ? plus + 1 : NULL;
}

static void add_num(struct strbuf *sb, struct pnum n)
{
	if (n.n)
		strbuf_add(sb, n.p, n.n);
	else
		strbuf_addch(sb, '0');
}

char *pep440_normalize(const char *v)
{
	static const char *const pre_names[] = {"", "a", "b", "rc"};
	struct strbuf sb = STRBUF_INIT;
	struct pv p;

	if (pv_parse_or_fail(v, &p) < 0)
		return NULL;
	strbuf_init(&sb, 32);
	if (p.epoch.n) {
		add_num(&sb, p.epoch);
		strbuf_addch(&sb, '!');
	}
	for (size_t i = 0; i < p.rel_nr; i++) {
		if (i)
			strbuf_addch(&sb, '.');
		add_num(&sb, p.rel[i]);
	}
	if (p.pre) {
		strbuf_addstr(&sb, pre_names[p.pre]);
		add_num(&sb, p.pre_n);
	}
	if (p.post) {
		strbuf_addstr(&sb, ".post");
		add_num(&sb, p.post_n);
	}
	if (p.dev) {
		strbuf_addstr(&sb, ".dev");
		add_num(&sb, p.dev_n);
	}
	if (p.local) {
		strbuf_addch(&sb, '+');
		for (size_t i = 0; i < p.local_len; i++) {
			char c = p.local[i];

			strbuf_addch(&sb, is_sep(c) ? '.' : tolower((unsigned char)c));
		}
	}
	pv_release(&p);
	return strbuf_detach(&sb, NULL);
}

/* ---- specifiers ---- */

enum spec_op { OP_EQ, OP_NE, OP_LE, OP_GE, OP_LT, OP_GT, OP_COMPAT, OP_ARB };

struct spec_clause {
	enum spec_op op;
	int wildcard; /* ==X.* / !=X.* */
	char *text;   /* the version as written (less ".*") */
	struct pv v;  /* parsed from `text`; unused for === */
};

struct pep440_spec {
	struct spec_clause *c;
	size_t nr, alloc;
	int names_pre; /* a clause names a pre-release: they may match */
};

void pep440_spec_free(struct pep440_spec *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nr; i++) {
		if (s->c[i].op != OP_ARB)
			pv_release(&s->c[i].v);
		free(s->c[i].text);
	}
	free(s->c);
	free(s);
}

/* One clause of a set, blanks around it already gone; -1 when it is not one. */
static int spec_clause_parse(const char *s, size_t n, struct spec_clause *out)
{
	static const struct {
		const char *op;
		enum spec_op code;
	} ops[] = {{"===", OP_ARB}, {"~=", OP_COMPAT}, {"==", OP_EQ}, {"!=", OP_NE},
		   {"<=", OP_LE},   {">=", OP_GE},     {"<", OP_LT},  {">", OP_GT}};
	size_t i = 0, k;

	memset(out, 0, sizeof(*out));
	for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		size_t ol = strlen(ops[k].op);

		if (n >= ol && !strncmp(s, ops[k].op, ol)) {
			i = ol;
			break;
		}
	}
	if (k == sizeof(ops) / sizeof(ops[0]))
		return -1;
	out->op = ops[k].code;
	while (i < n && is_blank(s[i]))
		i++;
	if (i == n)
		return -1;
	for (size_t j = i; j < n; j++)
		if (is_blank(s[j]) || s[j] == ',' || s[j] == ';' || s[j] == ')' || !s[j])
			return -1;
	if (out->op == OP_ARB) {
		out->text = xstrndup(s + i, n - i);
		return 0;
	}
	if ((out->op == OP_EQ || out->op == OP_NE) && n - i > 2 && !strncmp(s + n - 2, ".*", 2)) {
		out->wildcard = 1;
		n -= 2;
	}
	out->text = xstrndup(s + i, n - i);
	if (pv_parse(out->text, &out->v) < 0)
		goto bad;
	if (out->wildcard && (out->v.pre || out->v.post || out->v.dev || out->v.local))
		goto bad_v;
	if (out->v.local && out->op != OP_EQ && out->op != OP_NE)
		goto bad_v;
	if (out->op == OP_COMPAT && out->v.rel_nr < 2)
		goto bad_v;
	return 0;
bad_v:
	pv_release(&out->v);
bad:
	free(out->text);
	out->text = NULL;
	return -1;
}

int pep440_spec_parse(const char *s, struct pep440_spec **out)
{
	struct pep440_spec *spec = xcalloc(1, sizeof(*spec));
	const char *p = s;

	*out = NULL;
	while (*p) {
		size_t n = strcspn(p, ","), a = 0, b = n;

		while (a < b && is_blank(p[a]))
			a++;
		while (b > a && is_blank(p[b - 1]))
			b--;
		if (b > a) {
			struct spec_clause c;

			if (spec_clause_parse(p + a, b - a, &c) < 0) {
				pep440_spec_free(spec);
				return error_setc(GS_EINVAL, "invalid specifier '%.*s' in '%.200s'",
						  (int)(b - a > 200 ? 200 : b - a), p + a, s);
			}
			ALLOC_GROW(spec->c, spec->nr + 1, spec->alloc);
			spec->c[spec->nr++] = c;
			if ((c.op == OP_EQ && !c.wildcard) || c.op == OP_GE || c.op == OP_LE ||
			    c.op == OP_COMPAT) {
				spec->names_pre |= pv_is_pre(&c.v);
			} else if (c.op == OP_ARB) {
				spec->names_pre |= pep440_is_prerelease(c.text);
			}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	*out = spec;
	return 0;
}

/* ==V.* : the same epoch, and V's release a prefix of v's (zero-padded). */
static int spec_prefix_match(const struct pv *v, const struct pv *prefix, size_t n)
{
	return !num_cmp(v->epoch, prefix->epoch) && !rel_cmp(v, prefix, n);
}

static int spec_clause_contains(const struct spec_clause *c, const struct pv *v)
{
	const struct pv *s = &c->v;

	switch (c->op) {
	case OP_EQ:
	case OP_NE: {
		int eq;

		if (c->wildcard)
			eq = spec_prefix_match(v, s, s->rel_nr);
		else
			eq = pv_cmp(v, s, s->local != NULL) == 0;
		return c->op == OP_EQ ? eq : !eq;
	}
	case OP_LE:
		return pv_cmp(v, s, 0) <= 0;
	case OP_GE:
		return pv_cmp(v, s, 0) >= 0;
	case OP_LT:
		if (pv_cmp(v, s, 1) >= 0)
			return 0;
		/* <V excludes V's own pre-releases unless V is one; a pre-release of
		 * V.postN is V.postN.devM. */
		if (!pv_is_pre(s) && pv_is_pre(v) && pv_same_base(v, s)) {
			if (!s->post)
				return 0;
			if (!v->pre && v->post && !num_cmp(v->post_n, s->post_n))
				return 0;
		}
		return 1;
	case OP_GT:
		if (pv_cmp(v, s, 1) <= 0)
			return 0;
		/* >V excludes V's own post-releases unless V is one, and V's local versions. */
		if (!s->post && v->post && !s->dev && pv_same_base(v, s) && v->pre == s->pre &&
		    (!s->pre || !num_cmp(v->pre_n, s->pre_n)))
			return 0;
		if (v->local && pv_cmp(v, s, 0) == 0)
			return 0;
		return 1;
	case OP_COMPAT:
		return pv_cmp(v, s, 0) >= 0 && spec_prefix_match(v, s, s->rel_nr - 1);
	case OP_ARB:
		break;
	}
	return 0;
}

int pep440_spec_contains(const struct pep440_spec *s, const char *version, int prereleases)
{
	struct pv v;
	int ok = 1;

	if (pv_parse(version, &v) < 0) {
		/* Only === speaks of what is not a version. */
		size_t n = v.text_len;

		if (!s->nr)
			return 0;
		for (size_t i = 0; i < s->nr && ok; i++)
			ok = s->c[i].op == OP_ARB && strlen(s->c[i].text) == n &&
			     !strncasecmp(s->c[i].text, v.text, n);
		return ok;
	}
	if (pv_is_pre(&v) && !prereleases && !s->names_pre)
		ok = 0;
	for (size_t i = 0; i < s->nr && ok; i++) {
		const struct spec_clause *c = &s->c[i];

		if (c->op == OP_ARB)
			ok = strlen(c->text) == v.text_len &&
			     !strncasecmp(c->text, v.text, v.text_len);
		else
			ok = spec_clause_contains(c, &v);
	}
	pv_release(&v);
	return ok;
}

/* ---- names ---- */

char *pyname_normalize(const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_init(&sb, strlen(name));
	for (const char *p = name; *p; p++) {
		if (is_sep(*p)) {
			if (!sb.len || sb.buf[sb.len - 1] != '-')
				strbuf_addch(&sb, '-');
			while (is_sep(p[1]))
				p++;
		} else {
			strbuf_addch(&sb, tolower((unsigned char)*p));
		}
	}
	return strbuf_detach(&sb, NULL);
}

/* ---- markers (PEP 508) ---- */

struct mk {
	const char *s; /* the whole marker */
	size_t i;
	const struct pyenv *env; /* NULL: check the syntax alone */
	const char *extra;
	char *py_full; /* python_version + ".0" when the env gives no full version */
};

static void mk_blanks(struct mk *m)
{
	while (is_blank(m->s[m->i]))
		m->i++;
}

static int mk_fail(struct mk *m, const char *what)
{
	return error_setc(GS_EINVAL, "invalid marker '%.200s': %s at column %zu", m->s, what,
			  m->i + 1);
}

/* A keyword at the cursor, whole (not the start of a longer name). */
static int mk_keyword(struct mk *m, const char *kw)
{
	size_t n = strlen(kw);
	char c;

	if (strncmp(m->s + m->i, kw, n))
		return 0;
	c = m->s[m->i + n];
	if (is_alnum_ascii(c) || c == '_' || c == '.')
		return 0;
	m->i += n;
	return 1;
}

static const char *mk_env_value(struct mk *m, const char *var)
{
	const struct pyenv *e = m->env;
	const char *v = NULL;

	if (!strcmp(var, "python_version"))
		v = e->python_version;
	else if (!strcmp(var, "python_full_version") || !strcmp(var, "implementation_version"))
		v = e->python_full_version ? e->python_full_version : m->py_full;
	else if (!strcmp(var, "os_name"))
		v = e->os_name;
	else if (!strcmp(var, "sys_platform"))
		v = e->sys_platform;
	else if (!strcmp(var, "platform_machine"))
		v = e->platform_machine;
	else if (!strcmp(var, "platform_system"))
		v = e->platform_system;
	else if (!strcmp(var, "implementation_name"))
		v = e->implementation_name;
	else if (!strcmp(var, "platform_python_implementation"))
		v = e->platform_python_implementation;
	else if (!strcmp(var, "extra"))
		v = m->extra;
	/* platform_release and platform_version are the build host's kernel: unknown for a target.
	 */
	return v ? v : "";
}

/* A value: a quoted string or an environment variable. `*is_extra` when it is `extra`. */
static int mk_value(struct mk *m, char **out, int *is_extra)
{
	static const char *const vars[] = {"python_version",
					   "python_full_version",
					   "os_name",
					   "sys_platform",
					   "platform_release",
					   "platform_system",
					   "platform_version",
					   "platform_machine",
					   "platform_python_implementation",
					   "implementation_name",
					   "implementation_version",
					   "extra",
					   NULL};
	/* Old spellings packaging still reads. */
	static const char *const aliases[][2] = {
	    {"os.name", "os_name"},
	    {"sys.platform", "sys_platform"},
	    {"platform.version", "platform_version"},
	    {"platform.machine", "platform_machine"},
	    {"platform.python_implementation", "platform_python_implementation"},
	    {"python_implementation", "platform_python_implementation"},
	};
	const char *s = m->s;
	size_t start;
	char *name;
	const char *var = NULL;

	mk_blanks(m);
	*is_extra = 0;
	if (s[m->i] == '\'' || s[m->i] == '"') {
		char q = s[m->i];
		const char *end = strchr(s + m->i + 1, q);

		if (!end)
			return mk_fail(m, "unterminated string");
		*out = xstrndup(s + m->i + 1, end - (s + m->i + 1));
		m->i = end - s + 1;
		return 0;
	}
	start = m->i;
	while (is_alnum_ascii(s[m->i]) || s[m->i] == '_' || s[m->i] == '.')
		m->i++;
	if (m->i == start)
		return mk_fail(m, "expected a quoted string or a variable");
	name = xstrndup(s + start, m->i - start);
	for (size_t k = 0; vars[k] && !var; k++)
		if (!strcmp(name, vars[k]))
			var = vars[k];
	for (size_t k = 0; k < sizeof(aliases) / sizeof(aliases[0]) && !var; k++)
		if (!strcmp(name, aliases[k][0]))
			var = aliases[k][1];
	free(name);
	if (!var) {
		m->i = start;
		return mk_fail(m, "unknown variable");
	}
	*is_extra = !strcmp(var, "extra");
	*out = xstrdup(m->env ? mk_env_value(m, var) : "");
	return 0;
}

enum mk_op { MK_VERSION, MK_IN, MK_NOT_IN };

static int mk_op(struct mk *m, char op[4], enum mk_op *kind)
{
	static const char *const ops[] = {"===", "==", "!=", "<=", ">=", "~=", "<", ">", NULL};

	mk_blanks(m);
	for (int k = 0; ops[k]; k++) {
		size_t n = strlen(ops[k]);

		if (!strncmp(m->s + m->i, ops[k], n)) {
			memcpy(op, ops[k], n + 1);
			m->i += n;
			*kind = MK_VERSION;
			return 0;
		}
	}
	if (mk_keyword(m, "in")) {
		*kind = MK_IN;
		return 0;
	}
	if (mk_keyword(m, "not")) {
		mk_blanks(m);
		if (mk_keyword(m, "in")) {
			*kind = MK_NOT_IN;
			return 0;
		}
	}
	return mk_fail(m, "expected a comparison operator");
}

/* packaging's _eval_op: a version comparison when the right side makes a
 * specifier, else Python's string comparison. */
static int mk_compare(struct mk *m, const char *lhs, const char *op, enum mk_op kind,
		      const char *rhs, int *result)
{
	struct pep440_spec *spec = NULL;
	char *text;
	int c;

	if (kind == MK_IN || kind == MK_NOT_IN) {
		*result = (strstr(rhs, lhs) != NULL) == (kind == MK_IN);
		return 0;
	}
	text = xstrfmt("%s%s", op, rhs);
	if (pep440_spec_parse(text, &spec) == 0 && spec->nr == 1) {
		*result = pep440_spec_contains(spec, lhs, 1);
		pep440_spec_free(spec);
		free(text);
		return 0;
	}
	pep440_spec_free(spec);
	free(text);
	error_clear();
	c = strcmp(lhs, rhs);
	if (!strcmp(op, "=="))
		*result = c == 0;
	else if (!strcmp(op, "!="))
		*result = c != 0;
	else if (!strcmp(op, "<"))
		*result = c < 0;
	else if (!strcmp(op, "<="))
		*result = c <= 0;
	else if (!strcmp(op, ">"))
		*result = c > 0;
	else if (!strcmp(op, ">="))
		*result = c >= 0;
	else
		return error_setc(GS_EINVAL,
				  "invalid marker '%.200s': '%s' cannot compare '%s' with '%s'",
				  m->s, op, lhs, rhs);
	return 0;
}

static int mk_or(struct mk *m, int *result, int depth);

static int mk_atom(struct mk *m, int *result, int depth)
{
	char *lhs = NULL, *rhs = NULL, op[4] = "";
	enum mk_op kind = MK_VERSION;
	int lx, rx, ret;

	mk_blanks(m);
	if (m->s[m->i] == '(') {
		if (depth > 64)
			return mk_fail(m, "too deeply nested");
		m->i++;
		ret = mk_or(m, result, depth + 1);
		if (ret < 0)
			return ret;
		mk_blanks(m);
		if (m->s[m->i] != ')')
			return mk_fail(m, "expected ')'");
		m->i++;
		return 0;
	}
	ret = mk_value(m, &lhs, &lx);
	if (ret == 0)
		ret = mk_op(m, op, &kind);
	if (ret == 0)
		ret = mk_value(m, &rhs, &rx);
	if (ret == 0 && m->env) {
		if (lx || rx) {
			/* PEP 685: extras compare normalized. */
			char *a = pyname_normalize(lhs), *b = pyname_normalize(rhs);

			free(lhs);
			free(rhs);
			lhs = a;
			rhs = b;
		}
		ret = mk_compare(m, lhs, op, kind, rhs, result);
	}
	free(lhs);
	free(rhs);
	return ret;
}

static int mk_and(struct mk *m, int *result, int depth)
{
	int r, ret = mk_atom(m, result, depth);

	while (ret == 0) {
		mk_blanks(m);
		if (!mk_keyword(m, "and"))
			break;
		ret = mk_atom(m, &r, depth);
		*result = *result && r;
	}
	return ret;
}

static int mk_or(struct mk *m, int *result, int depth)
{
	int r, ret = mk_and(m, result, depth);

	while (ret == 0) {
		mk_blanks(m);
		if (!mk_keyword(m, "or"))
			break;
		ret = mk_and(m, &r, depth);
		*result = *result || r;
	}
	return ret;
}

/* Parse `marker` whole; evaluate it when `env` is set. */
static int marker_run(const char *marker, const struct pyenv *env, const char *extra, int *result)
{
	struct mk m = {marker, 0, env, extra ? extra : "", NULL};
	int r = 0, ret;

	if (env && !env->python_full_version)
		m.py_full = xstrfmt("%s.0", env->python_version ? env->python_version : "");
	ret = mk_or(&m, &r, 0);
	if (ret == 0) {
		mk_blanks(&m);
		if (marker[m.i])
			ret = mk_fail(&m, "unexpected text");
	}
	free(m.py_full);
	if (ret == 0 && result)
		*result = r;
	return ret;
}

int pyreq_marker_eval(const char *marker, const struct pyenv *env, const char *extra, int *result)
{
	*result = 0;
	return marker_run(marker, env, extra, result);
}

/* ---- requirements (PEP 508) ---- */

void pyreq_release(struct pyreq *r)
{
	free(r->name);
	free(r->name_raw);
	vec_release(&r->extras);
	free(r->spec);
	free(r->url);
	free(r->marker);
	memset(r, 0, sizeof(*r));
	vec_init(&r->extras, free);
}

/* A PEP 508 name at s[*i]: [A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?; its length, 0 when none. */
static size_t req_name(const char *s, size_t i)
{
	size_t j = i, last = 0;

	while (is_alnum_ascii(s[j]) || is_sep(s[j])) {
		if (is_alnum_ascii(s[j]))
			last = j + 1;
		else if (j == i)
			return 0;
		j++;
	}
	return last ? last - i : 0;
}

static int req_fail(const char *s, size_t i, const char *what)
{
	return error_setc(GS_EINVAL, "invalid requirement '%.200s': %s at column %zu", s, what,
			  i + 1);
}

static void req_blanks(const char *s, size_t *i)
{
	while (is_blank(s[*i]))
		(*i)++;
}

/* A specifier list, one clause per iteration, into `spec` without blanks:
 * ">= 1.0 , <2" -> ">=1.0,<2". Stops at what cannot continue it. */
static int req_specs(const char *s, size_t *i, struct strbuf *spec)
{
	for (;;) {
		size_t op = *i, v;

		while (strchr("<>=!~", s[*i]) && s[*i])
			(*i)++;
		if (*i == op)
			return req_fail(s, *i, "expected a version operator");
		if (spec->len)
			strbuf_addch(spec, ',');
		strbuf_add(spec, s + op, *i - op);
		req_blanks(s, i);
		v = *i;
		while (s[*i] && !is_blank(s[*i]) && !strchr(",;)(", s[*i]))
			(*i)++;
		if (*i == v)
			return req_fail(s, *i, "expected a version");
		strbuf_add(spec, s + v, *i - v);
		req_blanks(s, i);
		if (s[*i] != ',')
			return 0;
		(*i)++;
		req_blanks(s, i);
	}
}

int pyreq_parse(const char *s, struct pyreq *out)
{
	struct strbuf spec = STRBUF_INIT;
	struct pep440_spec *parsed = NULL;
	size_t i = 0, n;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	vec_init(&out->extras, free);
	req_blanks(s, &i);
	n = req_name(s, i);
	if (!n) {
		ret = req_fail(s, i, "expected a package name");
		goto done;
	}
	out->name_raw = xstrndup(s + i, n);
	out->name = pyname_normalize(out->name_raw);
	i += n;
	req_blanks(s, &i);
	if (s[i] == '[') {
		i++;
		req_blanks(s, &i);
		while (s[i] != ']') {
			char *raw;

			n = req_name(s, i);
			if (!n) {
				ret = req_fail(s, i, "expected an extra's name");
				goto done;
			}
			raw = xstrndup(s + i, n);
			vec_push(&out->extras, pyname_normalize(raw));
			free(raw);
			i += n;
			req_blanks(s, &i);
			if (s[i] == ',') {
				i++;
				req_blanks(s, &i);
			} else if (s[i] != ']') {
				ret = req_fail(s, i, "expected ',' or ']'");
				goto done;
			}
		}
		i++;
		req_blanks(s, &i);
	}
	strbuf_init(&spec, 0);
	if (s[i] == '@') {
		size_t u;

		i++;
		req_blanks(s, &i);
		u = i;
		while (s[i] && !is_blank(s[i]))
			i++;
		if (i == u) {
			ret = req_fail(s, i, "expected a URL after '@'");
			goto done;
		}
		out->url = xstrndup(s + u, i - u);
		/* The URL runs to a blank: "x @ URL;marker" is all URL. */
		if (s[i] && !is_blank(s[i])) {
			ret = req_fail(s, i, "expected a blank after the URL");
			goto done;
		}
		req_blanks(s, &i);
	} else if (s[i] == '(') {
		i++;
		req_blanks(s, &i);
		if (s[i] != ')') {
			ret = req_specs(s, &i, &spec);
			if (ret < 0)
				goto done;
		}
		if (s[i] != ')') {
			ret = req_fail(s, i, "expected ')'");
			goto done;
		}
		i++;
		req_blanks(s, &i);
	} else if (s[i] && strchr("<>=!~", s[i])) {
		ret = req_specs(s, &i, &spec);
		if (ret < 0)
			goto done;
	}
	if (spec.len && pep440_spec_parse(spec.buf, &parsed) < 0) {
		error_prefix("invalid requirement '%.200s'", s);
		ret = GS_EINVAL;
		goto done;
	}
	out->spec = strbuf_detach(&spec, NULL);
	if (s[i] == ';') {
		size_t a = ++i, b = strlen(s);

		while (is_blank(s[a]))
			a++;
		while (b > a && is_blank(s[b - 1]))
			b--;
		if (a == b) {
			ret = req_fail(s, a, "expected a marker after ';'");
			goto done;
		}
		out->marker = xstrndup(s + a, b - a);
		if (marker_run(out->marker, NULL, NULL, NULL) < 0) {
			error_prefix("invalid requirement '%.200s'", s);
			ret = GS_EINVAL;
			goto done;
		}
		i = b;
		req_blanks(s, &i);
	}
	if (s[i]) {
		ret = req_fail(s, i, "unexpected text");
		goto done;
	}
done:
	pep440_spec_free(parsed);
	strbuf_release(&spec);
	if (ret < 0)
		pyreq_release(out);
	return ret;
}
