#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/gitsrc.h"
#include "core/plan.h"
#include "core/plan_private.h"
#include "core/pyindex.h"
#include "util/strbuf.h"

/* Where a managed interpreter lives in both stages: a project convention,
 * not knowledge about the outside world. */
#define PLAN_MANAGED_DIR	"/opt/python"
#define PLAN_DEFAULT_REGISTRY	"docker.io"
#define PLAN_DEFAULT_REPOSITORY "nvidia/cuda"

/* Where one value of a cell came from, so that an error points at it. */
struct plan_src {
	const char *value; /* NULL: absent */
	struct rpos pos;
	char field[128]; /* "cuda", "matrix.cuda[1]", "matrix.include[0].cuda" */
	int origin;	 /* PLAN_FROM_* */
};

enum { PLAN_FROM_NONE, PLAN_FROM_RECIPE, PLAN_FROM_MATRIX, PLAN_FROM_INCLUDE };

/* One key of a cell that the matrix sets. */
struct plan_kv {
	const char *key;
	struct rpos key_pos;
	struct plan_src src;
	int is_axis; /* shown in the cell's axes (id, tag) */
};

/* A cell before resolution: the matrix's values on top of the recipe's. */
struct plan_spec {
	struct plan_kv *kv;
	size_t nr;
};

/* A framework of one cell before resolution. */
struct plan_fw_src {
	const char *name;
	struct plan_src name_src;
	struct plan_src version;
	const struct kb_framework *fw;
	const struct kb_fw_release *rel;
	struct plan_framework *out;
};

struct plan_ctx {
	const struct recipe *r;
	const struct knowledge *kb;
	struct vec *diags;
	size_t diags_start;
	const struct kb_repository *repo;
	const char *registry;
	int cell_failed;
};

/* Keys a matrix may set besides framework names. */
static const char *const plan_cell_keys[] = {"cuda",  "os",    "python", "python_source",
					     "cudnn", "strip", NULL};

static int plan_is_cell_key(const char *key)
{
	for (size_t i = 0; plan_cell_keys[i]; i++)
		if (!strcmp(plan_cell_keys[i], key))
			return 1;
	return 0;
}

/* ---- diagnostics ------------------------------------------------------ */

void plan_diag_vadd(struct vec *diags, size_t start, const char *file, const char *field,
		    struct rpos pos, const char *fmt, va_list ap)
{
	struct diag d;

	diag_vset(&d, file, pos, field, fmt, ap);
	diag_push(diags, start, &d, 1);
	diag_release(&d);
}

static void plan_diag(struct plan_ctx *ctx, const struct plan_src *src, const char *fmt, ...)
    GS_FMT(3, 4);

static void plan_diag(struct plan_ctx *ctx, const struct plan_src *src, const char *fmt, ...)
{
	va_list ap;

	ctx->cell_failed = 1;
	va_start(ap, fmt);
	plan_diag_vadd(ctx->diags, ctx->diags_start, ctx->r->file, src->field, src->pos, fmt, ap);
	va_end(ap);
}

static void plan_src_set(struct plan_src *s, const char *value, struct rpos pos, int origin,
			 const char *fmt, ...) GS_FMT(5, 6);

static void plan_src_set(struct plan_src *s, const char *value, struct rpos pos, int origin,
			 const char *fmt, ...)
{
	va_list ap;

	s->value = value;
	s->pos = pos;
	s->origin = value ? origin : PLAN_FROM_NONE;
	va_start(ap, fmt);
	vsnprintf(s->field, sizeof(s->field), fmt, ap);
	va_end(ap);
}

/* Where a value came from, for reasons: "the recipe's cuda". */
static const char *plan_src_says(const struct plan_src *s, struct strbuf *sb)
{
	strbuf_reset(sb);
	switch (s->origin) {
	case PLAN_FROM_MATRIX:
		strbuf_addf(sb, "the matrix (%s)", s->field);
		break;
	case PLAN_FROM_INCLUDE:
		strbuf_addf(sb, "a matrix include (%s)", s->field);
		break;
	case PLAN_FROM_RECIPE:
		strbuf_addf(sb, "the recipe's %s", s->field);
		break;
	default:
		strbuf_addstr(sb, "the default");
		break;
	}
	return sb->buf;
}

/* ---- the recipe's own values ------------------------------------------ */

static void plan_top(const struct recipe *r, const char *key, struct plan_src *out)
{
	if (!strcmp(key, "cuda")) {
		plan_src_set(out, r->cuda.v, r->cuda.pos, PLAN_FROM_RECIPE, "cuda");
	} else if (!strcmp(key, "os")) {
		plan_src_set(out, r->base.os.v, r->base.os.pos, PLAN_FROM_RECIPE, "base.os");
	} else if (!strcmp(key, "python")) {
		plan_src_set(out, r->python.v, r->python.pos, PLAN_FROM_RECIPE, "python");
	} else if (!strcmp(key, "python_source")) {
		plan_src_set(out, r->python_source.v, r->python_source.pos, PLAN_FROM_RECIPE,
			     "python_source");
	} else if (!strcmp(key, "cudnn")) {
		plan_src_set(out, r->cudnn.set ? (r->cudnn.v ? "true" : "false") : NULL,
			     r->cudnn.pos, PLAN_FROM_RECIPE, "cudnn");
	} else if (!strcmp(key, "strip")) {
		plan_src_set(out, r->trim.strip.v, r->trim.strip.pos, PLAN_FROM_RECIPE,
			     "trim.strip");
	} else {
		plan_src_set(out, NULL, (struct rpos){0, 0}, PLAN_FROM_NONE, "frameworks.%s", key);
		for (size_t i = 0; i < r->frameworks_nr; i++)
			if (r->frameworks[i].name.v && !strcmp(r->frameworks[i].name.v, key))
				plan_src_set(out, r->frameworks[i].version.v,
					     r->frameworks[i].version.pos, PLAN_FROM_RECIPE,
					     "frameworks.%s", key);
	}
}

static const struct plan_kv *plan_spec_find(const struct plan_spec *spec, const char *key)
{
	for (size_t i = 0; i < spec->nr; i++)
		if (!strcmp(spec->kv[i].key, key))
			return &spec->kv[i];
	return NULL;
}

/* The cell's value for `key`: the matrix's, else the recipe's. */
static void plan_get(const struct plan_ctx *ctx, const struct plan_spec *spec, const char *key,
		     struct plan_src *out)
{
	const struct plan_kv *kv = plan_spec_find(spec, key);

	if (kv)
		*out = kv->src;
	else
		plan_top(ctx->r, key, out);
}

static struct plan_kv *plan_spec_add(struct plan_spec *spec, const char *key, struct rpos key_pos)
{
	struct plan_kv *kv;

	spec->kv = xrealloc(spec->kv, (spec->nr + 1) * sizeof(*spec->kv));
	kv = &spec->kv[spec->nr++];
	memset(kv, 0, sizeof(*kv));
	kv->key = key;
	kv->key_pos = key_pos;
	return kv;
}

static void plan_spec_release(struct plan_spec *spec)
{
	free(spec->kv);
	spec->kv = NULL;
	spec->nr = 0;
}

/* Two specs are the same cell when they show the same axes. */
static int plan_spec_same(const struct plan_spec *a, const struct plan_spec *b)
{
	size_t na = 0, nb = 0;

	for (size_t i = 0; i < a->nr; i++) {
		const struct plan_kv *o;

		if (!a->kv[i].is_axis)
			continue;
		na++;
		o = plan_spec_find(b, a->kv[i].key);
		if (!o || !o->is_axis || !o->src.value || !a->kv[i].src.value ||
		    strcmp(o->src.value, a->kv[i].src.value))
			return 0;
	}
	for (size_t i = 0; i < b->nr; i++)
		nb += b->kv[i].is_axis;
	return na == nb;
}

/* ---- matrix expansion ------------------------------------------------- */

static int plan_exclude_matches(const struct recipe_cellspec *ex, const struct plan_spec *spec)
{
	for (size_t k = 0; k < ex->nr; k++) {
		const struct plan_kv *kv = plan_spec_find(spec, ex->keys[k].v);

		if (!kv || !kv->src.value || strcmp(kv->src.value, ex->values[k].v))
			return 0;
	}
	return 1;
}

/* Expand the matrix: the cartesian product of the axes in the order
 * written (the first axis varies slowest), minus the excludes, plus the
 * includes. Appends to `specs` (an array grown here). */
static void plan_expand(struct plan_ctx *ctx, struct plan_spec **specs, size_t *specs_nr)
{
	const struct recipe *r = ctx->r;
	size_t axes_nr = r->matrix.axes_nr, total = 1;
	size_t *idx = xcalloc(axes_nr ? axes_nr : 1, sizeof(*idx));
	char *used = xcalloc(r->matrix.exclude_nr ? r->matrix.exclude_nr : 1, 1);
	size_t alloc = 0;

	*specs = NULL;
	*specs_nr = 0;
	for (size_t a = 0; a < axes_nr; a++)
		total *= r->matrix.axes[a].values.nr;
	/* No axes: one cell from the top-level values, unless includes list
	 * the cells themselves. */
	if (!axes_nr && r->matrix.include_nr)
		total = 0;

	for (size_t c = 0; c < total; c++) {
		struct plan_spec spec = {NULL, 0};
		size_t rem = c, e;

		for (size_t a = axes_nr; a-- > 0;) {
			idx[a] = rem % r->matrix.axes[a].values.nr;
			rem /= r->matrix.axes[a].values.nr;
		}
		for (size_t a = 0; a < axes_nr; a++) {
			const struct recipe_axis *ax = &r->matrix.axes[a];
			const struct rstr *v = &ax->values.items[idx[a]];
			struct plan_kv *kv = plan_spec_add(&spec, ax->key.v, ax->key.pos);

			kv->is_axis = 1;
			plan_src_set(&kv->src, v->v, v->pos, PLAN_FROM_MATRIX, "matrix.%s[%zu]",
				     ax->key.v, idx[a]);
		}
		for (e = 0; e < r->matrix.exclude_nr; e++)
			if (plan_exclude_matches(&r->matrix.exclude[e], &spec)) {
				used[e] = 1;
				break;
			}
		/* Mark every exclude that matches, not just the first. */
		for (size_t e2 = e + 1; e < r->matrix.exclude_nr && e2 < r->matrix.exclude_nr; e2++)
			if (!used[e2] && plan_exclude_matches(&r->matrix.exclude[e2], &spec))
				used[e2] = 1;
		if (e < r->matrix.exclude_nr) {
			plan_spec_release(&spec);
			continue;
		}
		ALLOC_GROW(*specs, *specs_nr + 1, alloc);
		(*specs)[(*specs_nr)++] = spec;
	}
	for (size_t e = 0; e < r->matrix.exclude_nr; e++)
		if (!used[e]) {
			struct plan_src src;

			plan_src_set(&src, "", r->matrix.exclude[e].pos, PLAN_FROM_RECIPE,
				     "matrix.exclude[%zu]", e);
			plan_diag(ctx, &src, "matches no cell of the matrix");
		}

	for (size_t i = 0; i < r->matrix.include_nr; i++) {
		const struct recipe_cellspec *inc = &r->matrix.include[i];
		struct plan_spec spec = {NULL, 0};
		size_t s;

		/* Axes first, in axis order, so that the id reads like the
		 * product's; then the include's other keys. */
		for (size_t a = 0; a < axes_nr; a++) {
			const struct recipe_axis *ax = &r->matrix.axes[a];
			struct plan_kv *kv = NULL;

			for (size_t k = 0; k < inc->nr; k++)
				if (!strcmp(inc->keys[k].v, ax->key.v)) {
					kv = plan_spec_add(&spec, ax->key.v, inc->keys[k].pos);
					plan_src_set(&kv->src, inc->values[k].v, inc->values[k].pos,
						     PLAN_FROM_INCLUDE, "matrix.include[%zu].%s", i,
						     ax->key.v);
				}
			if (!kv) {
				struct plan_src top;

				plan_top(r, ax->key.v, &top);
				if (!top.value)
					continue;
				kv = plan_spec_add(&spec, ax->key.v, ax->key.pos);
				kv->src = top;
			}
			kv->is_axis = 1;
		}
		for (size_t k = 0; k < inc->nr; k++) {
			struct plan_kv *kv;

			if (plan_spec_find(&spec, inc->keys[k].v))
				continue;
			kv = plan_spec_add(&spec, inc->keys[k].v, inc->keys[k].pos);
			kv->is_axis = 1;
			plan_src_set(&kv->src, inc->values[k].v, inc->values[k].pos,
				     PLAN_FROM_INCLUDE, "matrix.include[%zu].%s", i,
				     inc->keys[k].v);
		}
		for (s = 0; s < *specs_nr; s++)
			if (plan_spec_same(&(*specs)[s], &spec))
				break;
		if (s < *specs_nr) {
			plan_spec_release(&spec);
			continue;
		}
		ALLOC_GROW(*specs, *specs_nr + 1, alloc);
		(*specs)[(*specs_nr)++] = spec;
	}
	free(idx);
	free(used);
}

/* ---- ids and tags ----------------------------------------------------- */

/* One axis as a word of the id and tag: "cuda12.4", "python3.11", "torch2.4",
 * "strip-none". */
static void plan_axis_word(struct strbuf *sb, const char *key, const char *value)
{
	if (!strcmp(key, "os"))
		strbuf_addstr(sb, value);
	else if (!strcmp(key, "cudnn"))
		strbuf_addstr(sb, !strcmp(value, "true") ? "cudnn" : "nocudnn");
	else if (!strcmp(key, "python_source"))
		strbuf_addf(sb, "py-%s", value);
	else if (!strcmp(key, "strip"))
		strbuf_addf(sb, "strip-%s", value);
	else
		strbuf_addf(sb, "%s%s", key, value);
}

static void plan_sanitize(char *s, int keep_dot)
{
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || (keep_dot && c == '.')))
			*s = '-';
	}
}

static void plan_name_cell(struct plan_ctx *ctx, const struct plan_spec *spec, int has_matrix,
			   struct plan_cell *cell)
{
	const struct recipe *r = ctx->r;
	struct strbuf id = STRBUF_INIT, tag = STRBUF_INIT;

	strbuf_addstr(&id, r->name.v ? r->name.v : "image");
	if (!has_matrix) {
		strbuf_addstr(&tag, r->tag.v ? r->tag.v : "latest");
	} else {
		if (r->tag.v)
			strbuf_addstr(&tag, r->tag.v);
		for (size_t i = 0; i < spec->nr; i++) {
			if (!spec->kv[i].is_axis || !spec->kv[i].src.value)
				continue;
			strbuf_addch(&id, '-');
			plan_axis_word(&id, spec->kv[i].key, spec->kv[i].src.value);
			if (tag.len)
				strbuf_addch(&tag, '-');
			plan_axis_word(&tag, spec->kv[i].key, spec->kv[i].src.value);
			vec_pushf(&cell->axes, "%s=%s", spec->kv[i].key, spec->kv[i].src.value);
		}
		if (!tag.len)
			strbuf_addstr(&tag, "latest");
	}
	plan_sanitize(id.buf, 0);
	plan_sanitize(tag.buf, 1);
	/* A registry refuses tags over 128 characters or starting with . or -. */
	if (tag.len > 128)
		strbuf_setlen(&tag, 128);
	if (tag.buf[0] == '.' || tag.buf[0] == '-')
		tag.buf[0] = '_';
	cell->id = strbuf_detach(&id, NULL);
	cell->tag = strbuf_detach(&tag, NULL);
	if (r->image.v)
		cell->image_ref = xstrfmt("%s:%s", r->image.v, cell->tag);
	else
		cell->image_ref =
		    xstrfmt("local/%s:%s", r->name.v ? r->name.v : "image", cell->tag);
}

/* ---- resolution of one cell ------------------------------------------- */

static void plan_set_value(struct plan_value *pv, const char *value, char *reason)
{
	pv->value = value ? xstrdup(value) : NULL;
	pv->reason = reason;
}

/* Join the strings of a vec with ", ". */
static char *plan_join(const struct vec *v)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < v->nr; i++)
		strbuf_addf(&sb, "%s%s", i ? ", " : "", (const char *)v->items[i]);
	return strbuf_detach(&sb, NULL);
}

static int plan_cmp_version(const void *a, const void *b)
{
	return kb_version_cmp(*(char *const *)a, *(char *const *)b);
}

/* What a knowledge table knows, for "unknown X; known: ...": the `const
 * char *` at offset `off` of each of its `nr` entries of `size` bytes,
 * sorted by `cmp`, joined with ", ". Newly allocated. */
static char *plan_known(const void *table, size_t nr, size_t size, size_t off,
			int (*cmp)(const void *, const void *))
{
	struct vec names = VEC_INIT(NULL);
	char *known;

	for (size_t i = 0; i < nr; i++)
		vec_push(&names, *(char *const *)((const char *)table + i * size + off));
	vec_sort(&names, cmp);
	known = plan_join(&names);
	vec_release(&names);
	return known;
}

static void plan_push_unique(struct vec *v, const char *s)
{
	if (vec_findstr(v, s) < 0)
		vec_pushstr(v, s);
}

/* "unknown WHAT 'value'; known: ..." with the names of a knowledge table
 * (see plan_known). */
static void plan_diag_unknown(struct plan_ctx *ctx, const struct plan_src *src, const char *what,
			      const void *table, size_t nr, size_t size, size_t off)
{
	char *known = plan_known(table, nr, size, off, vec_cmpstr);

	plan_diag(ctx, src, "unknown %s '%s'; known: %s", what, src->value, known);
	free(known);
}

/* The OS `src` names, or NULL after a diagnostic. */
static const struct kb_os *plan_find_os(struct plan_ctx *ctx, const struct plan_src *src)
{
	const struct knowledge *kb = ctx->kb;
	const struct kb_os *os = kb_find_os(kb, src->value);

	if (!os)
		plan_diag_unknown(ctx, src, "OS", kb->systems, kb->systems_nr, sizeof(*kb->systems),
				  offsetof(struct kb_os, name));
	return os;
}

/* Whether the repository has CUDA `src` at all, for any OS: 0 with its
 * parts (patch -1 when not given), or -1 after a diagnostic that says
 * what exists (the patches of that minor, or the minors). */
static int plan_check_cuda(struct plan_ctx *ctx, const struct plan_src *src, int *major, int *minor,
			   int *patch)
{
	const struct kb_repository *repo = ctx->repo;
	struct vec others = VEC_INIT(free);
	char *list;

	if (kb_parse_version(src->value, major, minor, patch)) {
		plan_diag(ctx, src, "expected a CUDA version like 12.4 or 12.4.1, got '%s'",
			  src->value);
		return -1;
	}
	for (size_t i = 0; i < repo->images_nr; i++) {
		const struct kb_base_image *img = &repo->images[i];

		if (img->major == *major && img->minor == *minor &&
		    (*patch < 0 || img->patch == *patch)) {
			vec_release(&others);
			return 0;
		}
		if (*patch >= 0 && img->major == *major && img->minor == *minor)
			plan_push_unique(&others, img->version);
	}
	if (others.nr) {
		vec_sort(&others, plan_cmp_version);
		list = plan_join(&others);
		plan_diag(ctx, src, "CUDA %s is not in %s; %d.%d has %s", src->value, repo->name,
			  *major, *minor, list);
	} else {
		for (size_t i = 0; i < repo->images_nr; i++) {
			char *m = xstrfmt("%d.%d", repo->images[i].major, repo->images[i].minor);

			plan_push_unique(&others, m);
			free(m);
		}
		vec_sort(&others, plan_cmp_version);
		list = plan_join(&others);
		plan_diag(ctx, src, "CUDA %s is not in %s; it has %s", src->value, repo->name,
			  list);
	}
	free(list);
	vec_release(&others);
	return -1;
}

/* No base.os: the knowledge's default for the cell's CUDA (the newest LTS
 * of os.json's default_family that the repository has it for). */
static const struct kb_os *plan_default_os(struct plan_ctx *ctx, const struct plan_spec *spec,
					   struct plan_cell *cell)
{
	const struct knowledge *kb = ctx->kb;
	struct vec have = VEC_INIT(NULL);
	struct plan_src cuda;
	const struct kb_os *os;
	int major, minor, patch;
	char *list;

	plan_get(ctx, spec, "cuda", &cuda);
	if (!cuda.value || plan_check_cuda(ctx, &cuda, &major, &minor, &patch))
		return NULL; /* the cuda problem is reported */
	os = kb_default_os(kb, ctx->repo, major, minor, patch);
	if (os) {
		plan_set_value(
		    &cell->os, os->name,
		    xstrfmt("%s is the default, as base.os is not set: the newest %s LTS "
			    "release that %s has CUDA %s images for.",
			    os->name, os->family, ctx->repo->name, cuda.value));
		cell->pkg_manager = xstrdup(os->package_manager);
		return os;
	}
	for (size_t i = 0; i < ctx->repo->images_nr; i++) {
		const struct kb_base_image *img = &ctx->repo->images[i];

		if (img->major != major || img->minor != minor ||
		    (patch >= 0 && img->patch != patch))
			continue;
		for (size_t k = 0; k < img->os_nr; k++)
			if (vec_findstr(&have, img->os[k].os) < 0)
				vec_push(&have, (void *)img->os[k].os);
	}
	vec_sort(&have, vec_cmpstr);
	list = plan_join(&have);
	if (kb->default_os_family)
		plan_diag(ctx, &cuda,
			  "base.os is not set and %s has no %s LTS image for CUDA %s to default "
			  "to; set base.os (it has %s)",
			  ctx->repo->name, kb->default_os_family, cuda.value, list);
	else
		plan_diag(ctx, &cuda,
			  "base.os is not set and the knowledge plugins name no default family "
			  "(os.json default_family); set base.os (%s has %s for CUDA %s)",
			  ctx->repo->name, list, cuda.value);
	free(list);
	vec_release(&have);
	return NULL;
}

static const struct kb_os *plan_resolve_os(struct plan_ctx *ctx, const struct plan_spec *spec,
					   struct plan_cell *cell)
{
	struct strbuf from = STRBUF_INIT;
	struct plan_src src;
	const struct kb_os *os;

	plan_get(ctx, spec, "os", &src);
	if (!src.value)
		return plan_default_os(ctx, spec, cell);
	if (!(os = plan_find_os(ctx, &src)))
		return NULL;
	plan_set_value(&cell->os, os->name,
		       xstrfmt("%s comes from %s.", os->name, plan_src_says(&src, &from)));
	cell->pkg_manager = xstrdup(os->package_manager);
	strbuf_release(&from);
	return os;
}

/* CUDA "12.4" is the newest 12.4 patch the repository has for the OS;
 * "12.4.1" must exist as written. What the table says a registry has is
 * all an offline plan can know; the lock pins the digest. */
static const struct kb_cuda_release *
plan_resolve_cuda(struct plan_ctx *ctx, const struct plan_spec *spec, const struct kb_os *os,
		  struct plan_cell *cell, const struct kb_base_image **img_out,
		  const struct kb_image_os **ios_out)
{
	const struct kb_repository *repo = ctx->repo;
	const struct kb_base_image *best = NULL;
	const struct kb_image_os *best_os = NULL;
	struct vec others = VEC_INIT(free);
	struct strbuf from = STRBUF_INIT;
	struct plan_src src;
	const struct kb_cuda_release *rel = NULL;
	int major, minor, patch;
	char *list;

	*ios_out = NULL;
	*img_out = NULL;
	plan_get(ctx, spec, "cuda", &src);
	if (!src.value) {
		plan_diag(ctx, &src, "missing: set cuda");
		goto done;
	}
	cell->cuda_asked.value = xstrdup(src.value);
	cell->cuda_asked.field = xstrdup(src.field);
	cell->cuda_asked.says = xstrdup(plan_src_says(&src, &from));
	cell->cuda_asked.pos = src.pos;
	if (plan_check_cuda(ctx, &src, &major, &minor, &patch))
		goto done;
	for (size_t i = 0; i < repo->images_nr; i++) {
		const struct kb_base_image *img = &repo->images[i];
		const struct kb_image_os *ios;

		if (img->major != major || img->minor != minor ||
		    (patch >= 0 && img->patch != patch))
			continue;
		ios = kb_image_find_os(img, os->name);
		if (!ios) {
			for (size_t k = 0; k < img->os_nr; k++)
				plan_push_unique(&others, img->os[k].os);
			continue;
		}
		if (!best || kb_version_cmp(img->version, best->version) > 0) {
			best = img;
			best_os = ios;
		}
	}
	if (!best) {
		vec_sort(&others, vec_cmpstr);
		list = plan_join(&others);
		plan_diag(ctx, &src, "CUDA %s has no %s image in %s; it has %s", src.value,
			  os->name, repo->name, list);
		free(list);
		goto done;
	}
	rel = kb_find_cuda(ctx->kb, best->version);
	*ios_out = best_os;
	*img_out = best;
	if (patch >= 0)
		plan_set_value(&cell->cuda, best->version,
			       xstrfmt("%s is pinned by %s and %s has it for %s.", best->version,
				       plan_src_says(&src, &from), repo->name, os->name));
	else if (ctx->kb->refreshed[0])
		plan_set_value(
		    &cell->cuda, best->version,
		    xstrfmt("%s from %s resolves to %s, the newest %d.%d patch %s has "
			    "for %s as the tables refreshed %.10s know it (plan --resolve "
			    "asks the registry).",
			    src.value, plan_src_says(&src, &from), best->version, major, minor,
			    repo->name, os->name, ctx->kb->refreshed));
	else
		plan_set_value(
		    &cell->cuda, best->version,
		    xstrfmt("%s from %s resolves to %s, the newest %d.%d patch %s has "
			    "for %s as the hand-kept tables know it (plan --resolve asks "
			    "the registry).",
			    src.value, plan_src_says(&src, &from), best->version, major, minor,
			    repo->name, os->name));
	cell->cuda_minor = xstrfmt("%d.%d", major, minor);
done:
	strbuf_release(&from);
	vec_release(&others);
	return rel;
}

/* The cell's frameworks: the recipe's in order (versions the matrix may
 * override), then frameworks only the matrix names. */
static size_t plan_cell_frameworks(const struct plan_ctx *ctx, const struct plan_spec *spec,
				   struct plan_fw_src **out)
{
	const struct recipe *r = ctx->r;
	struct plan_fw_src *fws = xcalloc(r->frameworks_nr + spec->nr + 1, sizeof(*fws));
	size_t n = 0;

	for (size_t i = 0; i < r->frameworks_nr; i++) {
		struct plan_fw_src *f = &fws[n++];

		f->name = r->frameworks[i].name.v;
		plan_src_set(&f->name_src, f->name, r->frameworks[i].name.pos, PLAN_FROM_RECIPE,
			     "frameworks.%s", f->name);
		plan_get(ctx, spec, f->name, &f->version);
	}
	for (size_t i = 0; i < spec->nr; i++) {
		const struct plan_kv *kv = &spec->kv[i];
		size_t j;

		if (plan_is_cell_key(kv->key))
			continue;
		for (j = 0; j < n; j++)
			if (!strcmp(fws[j].name, kv->key))
				break;
		if (j < n)
			continue;
		fws[n].name = kv->key;
		fws[n].name_src = kv->src;
		fws[n].name_src.value = kv->key;
		fws[n].version = kv->src;
		n++;
	}
	*out = fws;
	return n;
}

/* The framework `name` names, or NULL after a diagnostic. */
static const struct kb_framework *plan_find_framework(struct plan_ctx *ctx,
						      const struct plan_src *name)
{
	const struct knowledge *kb = ctx->kb;
	const struct kb_framework *fw = kb_find_framework(kb, name->value);

	if (!fw)
		plan_diag_unknown(ctx, name, "framework", kb->frameworks, kb->frameworks_nr,
				  sizeof(*kb->frameworks), offsetof(struct kb_framework, name));
	return fw;
}

/* The release of `fw` that `version` names ("2.4": its newest 2.4.x), or
 * NULL after a diagnostic. */
static const struct kb_fw_release *plan_find_release(struct plan_ctx *ctx,
						     const struct kb_framework *fw,
						     const struct plan_src *version)
{
	const struct kb_fw_release *rel = kb_find_release(fw, version->value);
	char *known;

	if (!rel) {
		known = plan_known(fw->releases, fw->releases_nr, sizeof(*fw->releases),
				   offsetof(struct kb_fw_release, version), plan_cmp_version);
		plan_diag(ctx, version, "%s %s is not a known release; known: %s", fw->name,
			  version->value, known[0] ? known : "none");
		free(known);
	}
	return rel;
}

/* "cu124" -> 12, 4: the last digit is the minor. */
static void plan_variant_cuda(const char *variant, int *major, int *minor)
{
	size_t len = strlen(variant);

	*minor = variant[len - 1] - '0';
	*major = atoi(variant + 2) / 10;
}

/* The newest wheel variant built for the cell's CUDA major and no newer
 * minor: a newer minor's libraries could need a newer driver than the
 * base image promises. */
static const char *plan_pick_variant(const struct kb_fw_release *rel,
				     const struct kb_cuda_release *cuda)
{
	const char *best = NULL;
	int best_minor = -1;

	for (size_t i = 0; i < rel->variants.nr; i++) {
		int maj, min;

		plan_variant_cuda(rel->variants.items[i], &maj, &min);
		if (maj == cuda->major && min <= cuda->minor && min > best_minor) {
			best = rel->variants.items[i];
			best_minor = min;
		}
	}
	return best;
}

static int plan_release_fits_cuda(const struct kb_fw_release *rel,
				  const struct kb_cuda_release *cuda)
{
	if (rel->variants.nr)
		return plan_pick_variant(rel, cuda) != NULL;
	if (!rel->cuda_majors_nr)
		return 1;
	for (size_t i = 0; i < rel->cuda_majors_nr; i++)
		if (rel->cuda_majors[i] == cuda->major)
			return 1;
	return 0;
}

static void plan_fill_framework(struct plan_framework *out, const struct kb_framework *fw,
				const char *version, const char *variant, const char *index_tmpl)
{
	out->name = xstrdup(fw->name);
	out->pip_name = xstrdup(fw->pip_name);
	out->version = xstrdup(version);
	out->variant = variant ? xstrdup(variant) : NULL;
	out->pip_spec = variant ? xstrfmt("%s==%s+%s", fw->pip_name, version, variant)
				: xstrfmt("%s==%s", fw->pip_name, version);
	/* A template without {variant} (the recipe's pip.framework_index_url
	 * may be one) names one index for every release. */
	if (index_tmpl && (variant || !strstr(index_tmpl, "{variant}"))) {
		static const char *const keys[] = {"variant"};
		const char *values[] = {variant ? variant : ""};

		char *raw = kb_expand(index_tmpl, keys, values, 1);

		/* The plan goes to files, logs and the lock: no credentials.
		 * The resolver and the build take them from the recipe
		 * (plan_wheels.c, build.c). */
		out->index_url = pyindex_redact_url(raw);
		free(raw);
	}
	out->brings_cuda = fw->brings_cuda;
	out->needs_cudnn = fw->needs_cudnn;
}

char *plan_index_credentialed(const struct recipe *r, const char *index_url, const char *variant)
{
	static const char *const keys[] = {"variant"};
	const char *values[] = {variant ? variant : ""};
	char *cand[2] = {NULL, NULL}, *found = NULL;

	if (!index_url)
		return NULL;
	if (r->pip.index_url.v)
		cand[0] = xstrdup(r->pip.index_url.v);
	if (r->pip.framework_index_url.v)
		cand[1] = kb_expand(r->pip.framework_index_url.v, keys, values, 1);
	for (size_t i = 0; i < 2 && !found; i++) {
		char *shown;

		if (!cand[i])
			continue;
		shown = pyindex_redact_url(cand[i]);
		if (strcmp(shown, cand[i]) && !strcmp(shown, index_url)) {
			found = cand[i];
			cand[i] = NULL;
		}
		free(shown);
	}
	free(cand[0]);
	free(cand[1]);
	return found;
}

/* The recipe's pip.framework_index_url wins over frameworks.json's. */
static const char *plan_fw_index_template(const struct plan_ctx *ctx, const char *kb_tmpl)
{
	return ctx->r->pip.framework_index_url.v ? ctx->r->pip.framework_index_url.v : kb_tmpl;
}

/* The driver floor of CUDA `major`: its newest release's in cuda.json. */
static const char *plan_major_floor(const struct knowledge *kb, int major)
{
	const struct kb_cuda_release *best = NULL;

	for (size_t i = 0; i < kb->cuda_nr; i++)
		if (kb->cuda[i].major == major && kb->cuda[i].driver_floor &&
		    (!best || kb_version_cmp(kb->cuda[i].version, best->version) > 0))
			best = &kb->cuda[i];
	return best ? best->driver_floor : NULL;
}

/*
 * A release with no wheel for the cell's CUDA major, of a framework whose
 * wheels bring their own CUDA libraries (torch +cu118 on a CUDA 12 base):
 * the wheel runs on any driver new enough for its own CUDA, so it is taken,
 * with a warning. The newest older major first (the base's driver promise
 * covers it), else the oldest newer one (the cell's driver floor rises to
 * that major's).
 */
static const char *plan_cross_major(struct plan_ctx *ctx, const struct kb_framework *fw,
				    const struct kb_fw_release *rel,
				    const struct kb_cuda_release *cuda, struct plan_cell *cell)
{
	const char *older = NULL, *newer = NULL, *pick;
	int om = -1, on = -1, nm = 0, nn = 0, maj, min;
	const char *floor;

	for (size_t i = 0; i < rel->variants.nr; i++) {
		plan_variant_cuda(rel->variants.items[i], &maj, &min);
		if (maj < cuda->major && (maj > om || (maj == om && min > on))) {
			older = rel->variants.items[i];
			om = maj;
			on = min;
		} else if (maj > cuda->major && (!newer || maj < nm || (maj == nm && min < nn))) {
			newer = rel->variants.items[i];
			nm = maj;
			nn = min;
		}
	}
	pick = older ? older : newer;
	if (!pick)
		return NULL;
	plan_variant_cuda(pick, &maj, &min);
	floor = plan_major_floor(ctx->kb, maj);
	vec_pushf(&cell->warnings,
		  "%s %s has no CUDA %d wheel; %s brings its own CUDA %d.%d libraries (the base's "
		  "CUDA %s ones go unused by it) and needs a driver >= %s, CUDA %d's floor%s",
		  fw->name, rel->version, cuda->major, pick, maj, min, cuda->version,
		  floor ? floor : "(unknown)", maj,
		  maj > cuda->major ? ", newer than the base promises" : "");
	if (maj > cuda->major && floor) {
		free(cell->wheel_driver_floor);
		cell->wheel_driver_floor = xstrdup(floor);
	}
	return pick;
}

/* A top-level framework (torch, onnxruntime-gpu): its release and wheel. */
static void plan_resolve_parent(struct plan_ctx *ctx, struct plan_fw_src *f,
				const struct kb_cuda_release *cuda, const struct plan_src *cuda_src,
				const char *python, struct plan_cell *cell)
{
	/* A wheel missing for a CUDA the matrix varies is the matrix value's
	 * fault, not the framework line's that every cell shares. */
	const struct plan_src *blame =
	    f->version.origin == PLAN_FROM_RECIPE && cuda_src->origin != PLAN_FROM_RECIPE
		? cuda_src
		: &f->version;
	const struct kb_framework *fw = f->fw;
	const struct kb_fw_release *rel = NULL;
	const char *variant = NULL;
	struct strbuf from = STRBUF_INIT;

	if (!strcmp(f->version.value, "auto")) {
		/* The newest release with a wheel for this CUDA and Python. */
		for (size_t i = 0; i < fw->releases_nr; i++) {
			const struct kb_fw_release *c = &fw->releases[i];

			if (!plan_release_fits_cuda(c, cuda))
				continue;
			if (python &&
			    ((c->python_min && kb_version_cmp(python, c->python_min) < 0) ||
			     (c->python_max && kb_version_cmp(python, c->python_max) > 0)))
				continue;
			if (!rel || kb_version_cmp(c->version, rel->version) > 0)
				rel = c;
		}
		if (!rel) {
			plan_diag(ctx, &f->version, "no %s release has a wheel for CUDA %d.%d%s%s",
				  fw->name, cuda->major, cuda->minor, python ? " and python " : "",
				  python ? python : "");
			goto done;
		}
	} else {
		if (!(rel = plan_find_release(ctx, fw, &f->version)))
			goto done;
	}
	if (rel->variants.nr) {
		variant = plan_pick_variant(rel, cuda);
		if (!variant && fw->brings_cuda)
			variant = plan_cross_major(ctx, fw, rel, cuda, cell);
		if (!variant) {
			char *list = plan_join(&rel->variants);

			plan_diag(ctx, blame, "%s %s has no CUDA %d.%d wheel; it has %s", fw->name,
				  f->version.value, cuda->major, cuda->minor, list);
			free(list);
			goto done;
		}
	} else if (!plan_release_fits_cuda(rel, cuda)) {
		struct strbuf majors = STRBUF_INIT;

		for (size_t i = 0; i < rel->cuda_majors_nr; i++)
			strbuf_addf(&majors, "%s%ld", i ? ", " : "", rel->cuda_majors[i]);
		plan_diag(ctx, blame, "%s %s supports CUDA %s; the cell has CUDA %s", fw->name,
			  rel->version, majors.buf, cuda->version);
		strbuf_release(&majors);
		goto done;
	}
	f->rel = rel;
	plan_fill_framework(f->out, fw, rel->version, variant,
			    plan_fw_index_template(ctx, fw->index_url_template));
	if (variant && atoi(variant + 2) / 10 != cuda->major)
		f->out->reason =
		    xstrfmt("%s %s from %s resolves to %s; it has no CUDA %d.x wheel, so %s, which "
			    "brings its own CUDA libraries, is taken (see the cell's warnings).",
			    fw->name, f->version.value, plan_src_says(&f->version, &from),
			    rel->version, cuda->major, variant);
	else if (variant)
		f->out->reason = xstrfmt(
		    "%s %s from %s resolves to %s; %s is the newest wheel variant for CUDA "
		    "%d.x no newer than %d.%d, so its libraries need no newer driver than the "
		    "base promises.",
		    fw->name, f->version.value, plan_src_says(&f->version, &from), rel->version,
		    variant, cuda->major, cuda->major, cuda->minor);
	else
		f->out->reason = xstrfmt(
		    "%s %s from %s resolves to %s, built for CUDA %d.", fw->name, f->version.value,
		    plan_src_says(&f->version, &from), rel->version, cuda->major);
done:
	strbuf_release(&from);
}

/* A framework paired with a parent (torchvision with torch): the version
 * the parent release pairs with, and the parent's wheel variant. */
static void plan_resolve_child(struct plan_ctx *ctx, struct plan_fw_src *f, struct plan_fw_src *fws,
			       size_t n)
{
	const struct kb_framework *fw = f->fw;
	struct plan_fw_src *parent = NULL;
	const char *paired;

	for (size_t i = 0; i < n; i++)
		if (fws[i].fw && !strcmp(fws[i].name, fw->parent))
			parent = &fws[i];
	if (!parent) {
		plan_diag(ctx, &f->name_src, "%s needs %s in frameworks", fw->name, fw->parent);
		return;
	}
	if (!parent->rel)
		return; /* the parent's problem is already reported */
	paired = kb_release_pair(parent->rel, fw->name);
	if (!paired) {
		plan_diag(ctx, &f->version, "%s %s has no %s pairing in frameworks.json",
			  parent->fw->name, parent->rel->version, fw->name);
		return;
	}
	if (strcmp(f->version.value, "auto") && !kb_version_matches(paired, f->version.value)) {
		plan_diag(ctx, &f->version, "%s %s does not pair with %s %s; use %s or auto",
			  fw->name, f->version.value, parent->fw->name, parent->rel->version,
			  paired);
		return;
	}
	plan_fill_framework(f->out, fw, paired, parent->out->variant,
			    plan_fw_index_template(ctx, fw->index_url_template
							    ? fw->index_url_template
							    : parent->fw->index_url_template));
	f->out->reason =
	    xstrfmt("%s %s pairs with %s %s%s%s.", fw->name, paired, parent->fw->name,
		    parent->rel->version, parent->out->variant ? " and takes its variant " : "",
		    parent->out->variant ? parent->out->variant : "");
}

static void plan_resolve_frameworks(struct plan_ctx *ctx, const struct plan_spec *spec,
				    struct plan_fw_src *fws, size_t n,
				    const struct kb_cuda_release *cuda, const char *python,
				    struct plan_cell *cell)
{
	struct plan_src cuda_src;

	cell->frameworks = xcalloc(n ? n : 1, sizeof(*cell->frameworks));
	cell->frameworks_nr = n;
	for (size_t i = 0; i < n; i++) {
		struct plan_fw_src *f = &fws[i];

		f->out = &cell->frameworks[i];
		if (!(f->fw = plan_find_framework(ctx, &f->name_src)))
			continue;
		if (!f->version.value) {
			plan_diag(ctx, &f->name_src, "missing version");
			f->fw = NULL;
		}
	}
	if (!cuda)
		return;
	plan_get(ctx, spec, "cuda", &cuda_src);
	for (size_t i = 0; i < n; i++)
		if (fws[i].fw && !fws[i].fw->parent)
			plan_resolve_parent(ctx, &fws[i], cuda, &cuda_src, python, cell);
	for (size_t i = 0; i < n; i++)
		if (fws[i].fw && fws[i].fw->parent)
			plan_resolve_child(ctx, &fws[i], fws, n);
}

/* Python: in every framework's range, and from the OS's repositories
 * unless managed. A missing version is a failure here, not an apt-get
 * error ten minutes into a build. */
static void plan_resolve_python(struct plan_ctx *ctx, const struct plan_spec *spec,
				const struct kb_os *os, struct plan_fw_src *fws, size_t n,
				struct plan_cell *cell)
{
	const struct recipe *r = ctx->r;
	struct strbuf from = STRBUF_INIT, from2 = STRBUF_INIT;
	struct plan_src py, psrc;
	int major, minor, patch, managed;

	plan_get(ctx, spec, "python", &py);
	plan_get(ctx, spec, "python_source", &psrc);
	managed = psrc.value && !strcmp(psrc.value, "managed");
	if (psrc.value && !managed && strcmp(psrc.value, "os")) {
		plan_diag(ctx, &psrc, "expected os or managed, got '%s'", psrc.value);
		goto done;
	}
	if (!py.value) {
		if (r->python_packages.nr) {
			struct plan_src s;

			plan_src_set(&s, "", r->python_packages.pos, PLAN_FROM_RECIPE,
				     "python_packages");
			plan_diag(ctx, &s, "needs python: set python");
		}
		for (size_t i = 0; i < n; i++)
			if (fws[i].fw) {
				plan_diag(ctx, &fws[i].name_src, "%s needs python: set python",
					  fws[i].name);
				break;
			}
		plan_set_value(&cell->python, NULL, xstrdup("no Python: the recipe sets none."));
		plan_set_value(&cell->python_source, NULL, xstrdup("no Python in the image."));
		goto done;
	}
	if (kb_parse_version(py.value, &major, &minor, &patch) || patch >= 0) {
		plan_diag(ctx, &py, "expected a Python version like 3.11, got '%s'", py.value);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const struct kb_fw_release *rel = fws[i].rel;

		if (!rel)
			continue;
		if ((rel->python_min && kb_version_cmp(py.value, rel->python_min) < 0) ||
		    (rel->python_max && kb_version_cmp(py.value, rel->python_max) > 0))
			plan_diag(ctx, &py, "python %s is outside %s %s's range %s to %s", py.value,
				  fws[i].name, rel->version,
				  rel->python_min ? rel->python_min : "any",
				  rel->python_max ? rel->python_max : "any");
	}
	if (os && !managed && !kb_os_has_python(os, py.value)) {
		const struct kb_os *alt = NULL;

		for (size_t i = 0; i < ctx->kb->systems_nr && !alt; i++) {
			const struct kb_os *o = &ctx->kb->systems[i];

			if (o != os && !strcmp(o->family, os->family) &&
			    kb_os_has_python(o, py.value))
				alt = o;
		}
		if (alt)
			plan_diag(
			    ctx, &py,
			    "python %s is not in %s's repositories: set python_source: managed "
			    "or base.os: %s",
			    py.value, os->name, alt->name);
		else
			plan_diag(
			    ctx, &py,
			    "python %s is not in %s's repositories: set python_source: managed",
			    py.value, os->name);
		goto done;
	}
	if (managed) {
		plan_set_value(
		    &cell->python, py.value,
		    xstrfmt("python %s comes from %s.", py.value, plan_src_says(&py, &from)));
		plan_set_value(
		    &cell->python_source, "managed",
		    xstrfmt("%s asks for a managed interpreter: a standalone CPython "
			    "installed in the builder under %s and copied whole into the "
			    "final stage.",
			    plan_src_says(&psrc, &from2), PLAN_MANAGED_DIR));
		cell->managed_python_dir = xstrdup(PLAN_MANAGED_DIR);
		cell->python_bin = xstrfmt("%s/bin/python%s", PLAN_MANAGED_DIR, py.value);
	} else {
		static const char *const keys[] = {"v"};
		const char *values[] = {py.value};

		plan_set_value(
		    &cell->python, py.value,
		    xstrfmt("python %s comes from %s.", py.value, plan_src_says(&py, &from)));
		plan_set_value(&cell->python_source, "os",
			       xstrfmt("%s is in %s's repositories, so both stages install it with "
				       "%s (python_source os%s).",
				       py.value, os ? os->name : "the OS",
				       os ? os->package_manager : "the package manager",
				       psrc.value ? "" : ", the default"));
		if (os)
			cell->python_bin = kb_expand(os->python_bin, keys, values, 1);
	}
done:
	strbuf_release(&from);
	strbuf_release(&from2);
}

/* Symbol stripping of the cell: the matrix's or the recipe's trim.strip,
 * else unneeded. keep_symbols stays recipe-wide. */
static void plan_resolve_strip(struct plan_ctx *ctx, const struct plan_spec *spec,
			       struct plan_cell *cell)
{
	struct strbuf from = STRBUF_INIT;
	struct plan_src src;

	plan_get(ctx, spec, "strip", &src);
	if (!src.value) {
		plan_set_value(&cell->strip, "unneeded",
			       xstrdup("unneeded is the default: symbols cost megabytes and "
				       "nothing at run time."));
	} else if (strcmp(src.value, "none") && strcmp(src.value, "debug") &&
		   strcmp(src.value, "unneeded")) {
		plan_diag(ctx, &src, "expected one of none, debug, unneeded, got '%s'", src.value);
	} else {
		plan_set_value(&cell->strip, src.value,
			       xstrfmt("%s comes from %s.", src.value, plan_src_says(&src, &from)));
	}
	strbuf_release(&from);
}

void plan_set_cudnn(struct plan_value *cudnn, const char *final_flavor, const char *version,
		    const char *repository, const char *cuda)
{
	if (!starts_with(final_flavor, "cudnn-"))
		plan_set_value(cudnn, NULL, xstrdup("no cuDNN in the final image."));
	else if (version)
		plan_set_value(cudnn, version,
			       xstrfmt("the final image is %s, which carries cuDNN %s in %s %s "
				       "images.",
				       final_flavor, version, repository, cuda));
	else
		plan_set_value(
		    cudnn, NULL,
		    xstrfmt("the final image is %s, which carries cuDNN, but the plugins "
			    "do not know which version %s %s images carry (unverified).",
			    final_flavor, repository, cuda));
}

static void plan_image_set(struct plan_ctx *ctx, struct plan_image *img, const char *flavor,
			   const struct kb_cuda_release *cuda, const char *os, char *reason)
{
	img->flavor = xstrdup(flavor);
	img->registry = xstrdup(ctx->registry);
	img->repository = xstrdup(ctx->repo->name);
	img->tag = kb_format_tag(ctx->repo, cuda, flavor, os);
	img->ref = xstrfmt("%s/%s:%s", img->registry, img->repository, img->tag);
	img->digest = NULL;
	img->reason = reason;
}

/* The final flavor: the smallest that carries what the image loads. */
static void plan_choose_flavors(struct plan_ctx *ctx, const struct plan_spec *spec,
				const struct kb_cuda_release *cuda, const struct kb_base_image *img,
				const struct kb_image_os *ios, struct plan_fw_src *fws, size_t n,
				struct plan_cell *cell)
{
	const char *cudnn_version = kb_image_cudnn_version(img, cuda);
	const struct recipe *r = ctx->r;
	const struct plan_fw_src *needs_base = NULL, *needs_cudnn = NULL, *brings = NULL;
	struct plan_src cudnn_src, flavor_src, cuda_src;
	const struct plan_src *cause;
	const char *final, *builder;
	char *final_reason, *builder_reason;
	int want_cudnn, explicit;

	plan_get(ctx, spec, "cudnn", &cudnn_src);
	plan_get(ctx, spec, "cuda", &cuda_src);
	plan_src_set(&flavor_src, r->base.flavor.v, r->base.flavor.pos, PLAN_FROM_RECIPE,
		     "base.flavor");
	want_cudnn = cudnn_src.value && !strcmp(cudnn_src.value, "true");
	explicit = r->base.flavor.v && strcmp(r->base.flavor.v, "auto");
	for (size_t i = 0; i < n; i++) {
		if (!fws[i].out->name)
			continue;
		if (fws[i].fw->needs_base_cuda && !needs_base)
			needs_base = &fws[i];
		if (fws[i].fw->needs_cudnn && !needs_cudnn)
			needs_cudnn = &fws[i];
		if (fws[i].fw->brings_cuda && !brings)
			brings = &fws[i];
	}
	cause = &cuda_src;
	if (explicit) {
		final = r->base.flavor.v;
		cause = &flavor_src;
		if ((want_cudnn || needs_cudnn) && !starts_with(final, "cudnn-")) {
			if (want_cudnn)
				plan_diag(ctx, &flavor_src,
					  "flavor %s has no cuDNN but cudnn is true: use "
					  "cudnn-runtime or auto",
					  final);
			else
				plan_diag(
				    ctx, &flavor_src,
				    "flavor %s has no cuDNN but %s loads it from the base: use "
				    "cudnn-runtime or auto",
				    final, needs_cudnn->name);
			return;
		}
		if (needs_base && !strcmp(final, "base")) {
			plan_diag(
			    ctx, &flavor_src,
			    "flavor base has no CUDA libraries but %s loads them from the base: "
			    "use runtime or auto",
			    needs_base->name);
			return;
		}
		final_reason = xstrfmt("the recipe asks for base.flavor %s.", final);
	} else if (needs_base) {
		final = (want_cudnn || needs_cudnn) ? "cudnn-runtime" : "runtime";
		cause = &needs_base->name_src;
		final_reason = xstrfmt("%s loads the CUDA libraries%s from the base image, so the "
				       "final stage takes the %s flavor.",
				       needs_base->name, needs_cudnn ? " and cuDNN" : "", final);
	} else if (r->app.build.nr) {
		final = want_cudnn ? "cudnn-runtime" : "base";
		if (want_cudnn)
			cause = &cudnn_src;
		final_reason =
		    xstrfmt("the compiled program ships with its library closure, so the "
			    "final stage takes %s%s.",
			    final, want_cudnn ? " (cudnn is true)" : ", the smallest flavor");
	} else if (brings) {
		final = want_cudnn ? "cudnn-runtime" : "base";
		if (want_cudnn) {
			cause = &cudnn_src;
			final_reason =
			    xstrfmt("%s brings its own CUDA libraries, but cudnn is true, so "
				    "the final stage takes cudnn-runtime.",
				    brings->name);
		} else {
			final_reason =
			    xstrfmt("%s brings its own CUDA libraries (pip nvidia-* "
				    "wheels), so the final stage takes the base flavor; a "
				    "runtime base would ship CUDA twice.",
				    brings->name);
		}
	} else {
		final = want_cudnn ? "cudnn-runtime" : "base";
		if (want_cudnn)
			cause = &cudnn_src;
		final_reason = xstrdup(want_cudnn ? "cudnn is true, so the final stage takes "
						    "cudnn-runtime, the smallest flavor with cuDNN."
						  : "nothing in the image loads CUDA libraries "
						    "beyond cudart, so the final stage takes the "
						    "smallest flavor, base.");
	}
	if (r->app.build.nr) {
		builder = starts_with(final, "cudnn-") ? "cudnn-devel" : "devel";
		builder_reason = xstrfmt("app.build compiles in the builder, which needs nvcc and "
					 "the headers: %s.",
					 builder);
	} else if (r->final.closure) {
		builder = final;
		builder_reason =
		    xstrfmt("final.mode is closure: the builder takes %s, the flavor "
			    "the final stage would have, and the closure comes from it.",
			    builder);
	} else {
		builder = "base";
		builder_reason = xstrdup("nothing compiles, so the builder only installs packages "
					 "and takes the smallest flavor, base.");
	}
	if (r->final.closure) {
		char *why = final_reason;

		final_reason = xstrfmt("final.mode is closure: the final stage is FROM scratch and "
				       "holds the app and its library closure, taken from the "
				       "builder; without it, %s",
				       why);
		free(why);
	}
	for (int stage = 0; stage < 2; stage++) {
		const char *flavor = stage ? builder : final;

		if (!kb_image_os_has_flavor(ios, flavor)) {
			char *list = plan_join(&ios->flavors);

			plan_diag(ctx, stage ? &cuda_src : cause,
				  "%s has no %s image for CUDA %s on %s; it has %s",
				  ctx->repo->name, flavor, cuda->version, cell->os.value, list);
			free(list);
			free(final_reason);
			free(builder_reason);
			return;
		}
	}
	/* An unknown cuDNN version (a cudnn_tag without a version) cannot be
	 * checked: the images exist, and the reason below says it is unknown. */
	if (needs_cudnn && needs_cudnn->rel && needs_cudnn->rel->cudnn_major &&
	    (cudnn_version ? atol(cudnn_version) != needs_cudnn->rel->cudnn_major
			   : !cuda->cudnn_tag)) {
		plan_diag(ctx, &needs_cudnn->version,
			  "%s %s needs cuDNN %ld; CUDA %s images carry %s%s", needs_cudnn->name,
			  needs_cudnn->rel->version, needs_cudnn->rel->cudnn_major, cuda->version,
			  cudnn_version ? "cuDNN " : "no cuDNN",
			  cudnn_version ? cudnn_version : "");
		free(final_reason);
		free(builder_reason);
		return;
	}
	plan_image_set(ctx, &cell->final, final, cuda, cell->os.value, final_reason);
	plan_image_set(ctx, &cell->builder, builder, cuda, cell->os.value, builder_reason);
	plan_set_cudnn(&cell->cudnn, final, cudnn_version, ctx->repo->name, cuda->version);
}

static void plan_sort_unique(struct vec *v)
{
	size_t out = 0;

	vec_sort(v, vec_cmpstr);
	for (size_t i = 0; i < v->nr; i++) {
		if (out && !strcmp(v->items[out - 1], v->items[i])) {
			free(v->items[i]);
			continue;
		}
		v->items[out++] = v->items[i];
	}
	v->nr = out;
	if (v->items)
		v->items[out] = NULL;
}

static void plan_push_expanded(struct vec *v, const struct vec *tmpls, const char *const *keys,
			       const char *const *values, size_t n)
{
	for (size_t i = 0; i < tmpls->nr; i++)
		vec_push(v, kb_expand(tmpls->items[i], keys, values, n));
}

static void plan_packages(const struct plan_ctx *ctx, const struct kb_os *os,
			  struct plan_cell *cell)
{
	const struct recipe *r = ctx->r;
	int os_python = cell->python.value && cell->python_source.value &&
			!strcmp(cell->python_source.value, "os");
	/* The builder needs binutils' strip only when the cell strips. */
	int strip = !cell->strip.value || strcmp(cell->strip.value, "none");

	if (os_python) {
		static const char *const keys[] = {"v"};
		const char *values[] = {cell->python.value};
		const struct kb_python_pkgs *p = kb_os_python_pkgs(os, cell->python.value);

		plan_push_expanded(&cell->builder_packages, &p->builder, keys, values, 1);
		plan_push_expanded(&cell->final_packages, &p->final, keys, values, 1);
	}
	vec_pushstr(&cell->builder_packages, "ca-certificates");
	if (strip)
		vec_pushstr(&cell->builder_packages, "binutils");
	if (cell->managed_python_dir)
		vec_pushstr(&cell->builder_packages, "curl");
	for (size_t i = 0; i < r->system_packages.nr; i++)
		vec_pushstr(&cell->final_packages, r->system_packages.items[i].v);
	/* A closure image has no package manager: what the final stage would
	 * install, the builder installs, and the closure takes what runs. */
	if (cell->closure) {
		for (size_t i = 0; i < cell->final_packages.nr; i++)
			vec_pushstr(&cell->builder_packages, cell->final_packages.items[i]);
		vec_release(&cell->final_packages);
	}
	plan_sort_unique(&cell->builder_packages);
	plan_sort_unique(&cell->final_packages);

	for (size_t i = 0; i < cell->frameworks_nr; i++) {
		const struct plan_framework *f = &cell->frameworks[i];

		vec_pushstr(&cell->pip_requirements, f->pip_spec);
		if (f->index_url && vec_findstr(&cell->extra_index_urls, f->index_url) < 0)
			vec_pushstr(&cell->extra_index_urls, f->index_url);
	}
	for (size_t i = 0; i < r->python_packages.nr; i++)
		vec_pushstr(&cell->pip_requirements, r->python_packages.items[i].v);
}

/* The closure rules of a compiled program: what the final base and the
 * driver already provide (never copied) and what CUDA opens by dlopen(). */
static void plan_closure(const struct plan_ctx *ctx, const struct kb_cuda_release *cuda,
			 struct plan_cell *cell)
{
	static const char *const keys[] = {"cuda_major", "cuda_minor"};
	char major[16], minor[16];
	const char *values[] = {major, minor};
	const struct knowledge *kb = ctx->kb;
	size_t depth = 0;

	if (!cell->compiles && !cell->closure)
		return;
	snprintf(major, sizeof(major), "%d", cuda->major);
	snprintf(minor, sizeof(minor), "%d", cuda->minor);
	/* A closure image has no base: nothing but the driver is there already. */
	for (const struct kb_flavor_libs *fl =
		 cell->closure ? NULL : kb_find_flavor_libs(kb, cell->final.flavor);
	     fl && depth <= kb->flavor_libs_nr; depth++) {
		for (size_t i = 0; i < fl->provides.nr; i++)
			if (kb_flavor_provides_at(fl, fl->provides.items[i], cuda->major,
						  cuda->minor))
				vec_push(&cell->closure_skip,
					 kb_expand(fl->provides.items[i], keys, values, 2));
		fl = fl->inherits ? kb_find_flavor_libs(kb, fl->inherits) : NULL;
	}
	for (size_t i = 0; i < kb->driver_sonames.nr; i++)
		vec_pushstr(&cell->closure_skip, kb->driver_sonames.items[i]);
	plan_sort_unique(&cell->closure_skip);
	for (size_t i = 0; i < kb->driver_sonames.nr; i++)
		vec_pushstr(&cell->driver_sonames, kb->driver_sonames.items[i]);
	cell->dlopen = xcalloc(kb->dlopen_nr ? kb->dlopen_nr : 1, sizeof(*cell->dlopen));
	cell->dlopen_nr = kb->dlopen_nr;
	for (size_t i = 0; i < kb->dlopen_nr; i++) {
		cell->dlopen[i].soname = kb_expand(kb->dlopen[i].soname, keys, values, 2);
		vec_init(&cell->dlopen[i].loads, free);
		plan_push_expanded(&cell->dlopen[i].loads, &kb->dlopen[i].loads, keys, values, 2);
	}
}

/* What a compiled program must show without a GPU: it starts, the loader
 * finds every library; the CUDA no-driver error after that is fine. */
#define PLAN_PROGRAM_SMOKE   "program-starts"
#define PLAN_LOADER_ERROR    "error while loading shared libraries"
#define PLAN_PROGRAM_TIMEOUT 30

static struct plan_smoke *plan_smoke_add(struct plan_cell *cell, const char *name)
{
	struct plan_smoke *s;

	for (size_t i = 0; i < cell->smoke_nr; i++)
		if (!strcmp(cell->smoke[i].name, name))
			return NULL; /* the recipe's replaces the default */
	cell->smoke = xrealloc(cell->smoke, (cell->smoke_nr + 1) * sizeof(*cell->smoke));
	s = &cell->smoke[cell->smoke_nr++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	vec_init(&s->run, free);
	return s;
}

static void plan_smoke(const struct plan_ctx *ctx, struct plan_cell *cell)
{
	const struct recipe *r = ctx->r;

	for (size_t i = 0; i < r->smoke_nr; i++) {
		const struct recipe_smoke *rs = &r->smoke[i];
		struct plan_smoke *s = plan_smoke_add(cell, rs->name.v);

		if (!s)
			continue;
		for (size_t k = 0; k < rs->run.nr; k++)
			vec_pushstr(&s->run, rs->run.items[k].v);
		s->gpu = rs->gpu.v;
		s->expect = rs->expect.v ? xstrdup(rs->expect.v) : NULL;
		s->timeout = rs->timeout;
		s->origin = xstrfmt("recipe smoke[%zu]", i);
	}
	for (size_t i = 0; i < cell->frameworks_nr; i++) {
		const struct plan_framework *pf = &cell->frameworks[i];
		const struct kb_framework *fw = kb_find_framework(ctx->kb, pf->name);
		const char *keys[] = {"version", "variant", "name", "pip_name"};
		const char *values[] = {pf->version, pf->variant ? pf->variant : "", pf->name,
					pf->pip_name};

		for (size_t k = 0; fw && k < fw->smoke_nr; k++) {
			const struct kb_smoke *ks = &fw->smoke[k];
			char *name = kb_expand(ks->name, keys, values, 4);
			struct plan_smoke *s = plan_smoke_add(cell, name);

			free(name);
			if (!s)
				continue;
			for (size_t a = 0; a < ks->run.nr; a++)
				vec_push(&s->run, kb_expand(ks->run.items[a], keys, values, 4));
			s->gpu = ks->gpu;
			s->expect = ks->expect ? kb_expand(ks->expect, keys, values, 4) : NULL;
			s->reject = ks->reject ? kb_expand(ks->reject, keys, values, 4) : NULL;
			s->any_exit = ks->any_exit;
			s->timeout = ks->timeout;
			s->origin = xstrfmt("frameworks.json %s", pf->name);
		}
	}
	/* The program as the image starts it (entrypoint + cmd), else the
	 * first artifact. */
	if (cell->compiles && (r->app.entrypoint.nr || r->app.cmd.nr || r->app.artifacts.nr)) {
		struct plan_smoke *s = plan_smoke_add(cell, PLAN_PROGRAM_SMOKE);

		if (!s)
			return;
		for (size_t k = 0; k < r->app.entrypoint.nr; k++)
			vec_pushstr(&s->run, r->app.entrypoint.items[k].v);
		for (size_t k = 0; k < r->app.cmd.nr; k++)
			vec_pushstr(&s->run, r->app.cmd.items[k].v);
		if (!s->run.nr)
			vec_pushstr(&s->run, r->app.artifacts.items[0].v);
		s->reject = xstrdup(PLAN_LOADER_ERROR);
		s->any_exit = 1;
		s->timeout = PLAN_PROGRAM_TIMEOUT;
		s->origin = xstrdup("compiled program");
	}
}

static void plan_cell_init(struct plan_cell *cell, size_t index)
{
	memset(cell, 0, sizeof(*cell));
	cell->index = index;
	vec_init(&cell->axes, free);
	vec_init(&cell->builder_packages, free);
	vec_init(&cell->final_packages, free);
	vec_init(&cell->pip_requirements, free);
	vec_init(&cell->extra_index_urls, free);
	vec_init(&cell->wheel_prefer, free);
	vec_init(&cell->closure_skip, free);
	vec_init(&cell->driver_sonames, free);
	vec_init(&cell->unverified, free);
	vec_init(&cell->warnings, free);
}

/* Each fact the cell uses that its table entry marks unverified. */
static void plan_unverified(struct plan_cell *cell, const struct kb_os *os,
			    const struct kb_cuda_release *cuda, const struct kb_base_image *img,
			    const char *repo, const struct plan_fw_src *fws, size_t n)
{
	if (os && os->unverified)
		vec_pushf(&cell->unverified, "os.json %s: %s", os->name, os->unverified);
	if (cuda && cuda->unverified)
		vec_pushf(&cell->unverified, "cuda.json %s: %s", cuda->version, cuda->unverified);
	if (img && os && kb_image_unverified(img, os->name))
		vec_pushf(&cell->unverified, "bases.json %s %s %s: %s", repo, img->version,
			  os->name, kb_image_unverified(img, os->name));
	for (size_t i = 0; i < n; i++)
		if (fws[i].fw && fws[i].rel && fws[i].rel->unverified)
			vec_pushf(&cell->unverified, "frameworks.json %s %s: %s", fws[i].fw->name,
				  fws[i].rel->version, fws[i].rel->unverified);
}

static void plan_resolve_cell(struct plan_ctx *ctx, const struct plan_spec *spec,
			      struct plan_cell *cell)
{
	const struct kb_os *os;
	const struct kb_cuda_release *cuda = NULL;
	const struct kb_base_image *img = NULL;
	const struct kb_image_os *ios = NULL;
	struct plan_fw_src *fws = NULL;
	struct plan_src py;
	size_t n;

	ctx->cell_failed = 0;
	cell->compiles = ctx->r->app.build.nr > 0;
	cell->closure = ctx->r->final.closure;
	os = plan_resolve_os(ctx, spec, cell);
	if (os)
		cuda = plan_resolve_cuda(ctx, spec, os, cell, &img, &ios);
	plan_get(ctx, spec, "python", &py);
	n = plan_cell_frameworks(ctx, spec, &fws);
	plan_resolve_frameworks(ctx, spec, fws, n, cuda, py.value, cell);
	plan_resolve_python(ctx, spec, os, fws, n, cell);
	plan_resolve_strip(ctx, spec, cell);
	if (!cuda || ctx->cell_failed)
		goto done;
	plan_choose_flavors(ctx, spec, cuda, img, ios, fws, n, cell);
	if (ctx->cell_failed)
		goto done;
	cell->require_cuda = kb_require_cuda(ctx->kb, cuda);
	cell->driver_min = cuda->driver ? xstrdup(cuda->driver) : NULL;
	cell->driver_floor = cell->wheel_driver_floor ? xstrdup(cell->wheel_driver_floor)
			     : cuda->driver_floor     ? xstrdup(cuda->driver_floor)
						      : NULL;
	plan_packages(ctx, os, cell);
	plan_closure(ctx, cuda, cell);
	plan_smoke(ctx, cell);
	plan_unverified(cell, os, cuda, img, ctx->repo->name, fws, n);
done:
	free(fws);
}

static int plan_cmp_cell_id(const void *a, const void *b)
{
	const struct plan_cell *x = *(const struct plan_cell *const *)a;
	const struct plan_cell *y = *(const struct plan_cell *const *)b;

	return strcmp(x->id, y->id);
}

/* Ids name bake targets and must be unique; values such as "12.4" and
 * "12-4" would collide once sanitized. Sorted, so n log n for big plans. */
static void plan_check_ids(struct plan_ctx *ctx, struct plan *p)
{
	struct plan_cell **sorted = xcalloc(p->cells_nr ? p->cells_nr : 1, sizeof(*sorted));
	struct plan_src src;

	for (size_t i = 0; i < p->cells_nr; i++)
		sorted[i] = &p->cells[i];
	qsort(sorted, p->cells_nr, sizeof(*sorted), plan_cmp_cell_id);
	plan_src_set(&src, "", ctx->r->matrix.pos, PLAN_FROM_RECIPE, "matrix");
	for (size_t i = 1; i < p->cells_nr; i++)
		if (!strcmp(sorted[i - 1]->id, sorted[i]->id))
			plan_diag(ctx, &src,
				  "two cells get the id '%s'; make the axis values differ "
				  "by more than punctuation",
				  sorted[i]->id);
	free(sorted);
}

/* One matrix value on its own: the OS, CUDA version, framework release it
 * names exists (whether it fits the rest of a cell is the cell's business).
 * The other keys' formats are the recipe's checks. */
static void plan_check_value(struct plan_ctx *ctx, const char *key, const struct plan_src *src)
{
	const struct kb_framework *fw;
	struct plan_src name;
	int major, minor, patch;

	if (!src->value)
		return;
	if (!strcmp(key, "os")) {
		plan_find_os(ctx, src);
	} else if (!strcmp(key, "cuda")) {
		plan_check_cuda(ctx, src, &major, &minor, &patch);
	} else if (!plan_is_cell_key(key)) {
		plan_top(ctx->r, key, &name);
		name.value = key;
		for (size_t i = 0; i < ctx->r->frameworks_nr; i++)
			if (!strcmp(ctx->r->frameworks[i].name.v, key))
				name.pos = ctx->r->frameworks[i].name.pos;
		/* a paired framework's version is judged against its parent's */
		if ((fw = plan_find_framework(ctx, &name)) && !fw->parent &&
		    strcmp(src->value, "auto"))
			plan_find_release(ctx, fw, src);
	}
}

/*
 * Judge every value of the matrix once, before it is expanded: a bad value
 * is one error at once, not the same failure in each of thousands of cells.
 * The top-level values the matrix does not vary count too, since every cell
 * of the product takes them. 0, or -1 after diagnostics.
 */
static int plan_check_values(struct plan_ctx *ctx)
{
	const struct recipe *r = ctx->r;
	size_t start = ctx->diags->nr;
	struct plan_src src;

	for (size_t a = 0; a < r->matrix.axes_nr; a++) {
		const struct recipe_axis *ax = &r->matrix.axes[a];

		for (size_t i = 0; i < ax->values.nr; i++) {
			plan_src_set(&src, ax->values.items[i].v, ax->values.items[i].pos,
				     PLAN_FROM_MATRIX, "matrix.%s[%zu]", ax->key.v, i);
			plan_check_value(ctx, ax->key.v, &src);
		}
	}
	for (size_t i = 0; i < r->matrix.include_nr; i++) {
		const struct recipe_cellspec *inc = &r->matrix.include[i];

		for (size_t k = 0; k < inc->nr; k++) {
			plan_src_set(&src, inc->values[k].v, inc->values[k].pos, PLAN_FROM_INCLUDE,
				     "matrix.include[%zu].%s", i, inc->keys[k].v);
			plan_check_value(ctx, inc->keys[k].v, &src);
		}
	}
	for (size_t k = 0; r->matrix.axes_nr && k < 2 + r->frameworks_nr; k++) {
		const char *key = k == 0 ? "os" : k == 1 ? "cuda" : r->frameworks[k - 2].name.v;
		size_t a;

		for (a = 0; a < r->matrix.axes_nr && strcmp(r->matrix.axes[a].key.v, key); a++)
			;
		if (a < r->matrix.axes_nr)
			continue;
		plan_top(r, key, &src);
		plan_check_value(ctx, key, &src);
	}
	return ctx->diags->nr > start ? -1 : 0;
}

int plan_build(const struct recipe *r, const struct knowledge *kb, struct plan **out,
	       struct vec *diags)
{
	struct plan_ctx ctx = {r, kb, diags, diags->nr, NULL, NULL, 0};
	struct plan *p = xcalloc(1, sizeof(*p));
	struct plan_spec *specs = NULL;
	size_t specs_nr = 0;
	const char *repo_name =
	    r->base.repository.v ? r->base.repository.v : PLAN_DEFAULT_REPOSITORY;
	int has_matrix = r->matrix.axes_nr || r->matrix.include_nr;
	int ret = 0;

	*out = NULL;
	p->recipe = r;
	p->kb = kb;
	ctx.registry = r->base.registry.v ? r->base.registry.v : PLAN_DEFAULT_REGISTRY;
	ctx.repo = kb_find_repository(kb, repo_name);
	if (!ctx.repo) {
		struct plan_src src;

		plan_src_set(&src, repo_name, recipe_base_pos(r), PLAN_FROM_RECIPE,
			     r->base.repository.v ? "base.repository" : "base");
		plan_diag_unknown(&ctx, &src, "base repository", kb->repos, kb->repos_nr,
				  sizeof(*kb->repos), offsetof(struct kb_repository, name));
		goto done;
	}
	if ((r->matrix.axes_nr || r->matrix.include_nr) && plan_check_values(&ctx))
		goto done;
	plan_expand(&ctx, &specs, &specs_nr);
	if (!specs_nr) {
		struct plan_src src;

		plan_src_set(&src, "", r->matrix.exclude_pos, PLAN_FROM_RECIPE, "matrix.exclude");
		plan_diag(&ctx, &src,
			  "removes every cell of the matrix, which leaves nothing to build; drop "
			  "an exclude or add values");
		goto done;
	}
	p->cells = xcalloc(specs_nr ? specs_nr : 1, sizeof(*p->cells));
	for (size_t i = 0; i < specs_nr; i++) {
		struct plan_cell *cell = &p->cells[p->cells_nr];

		plan_cell_init(cell, p->cells_nr);
		p->cells_nr++;
		plan_name_cell(&ctx, &specs[i], has_matrix, cell);
		plan_resolve_cell(&ctx, &specs[i], cell);
	}
	plan_check_ids(&ctx, p);
	if (r->app.git.url.v) {
		p->git.url = gitsrc_redact_url(r->app.git.url.v);
		p->git.ref = r->app.git.ref.v ? xstrdup(r->app.git.ref.v) : NULL;
	}
done:
	for (size_t i = 0; i < specs_nr; i++)
		plan_spec_release(&specs[i]);
	free(specs);
	if (diags->nr > ctx.diags_start) {
		ret = GS_EINVAL;
		plan_free(p);
	} else {
		*out = p;
	}
	return ret;
}

/* ---- freeing ---------------------------------------------------------- */

static void plan_value_release(struct plan_value *v)
{
	free(v->value);
	free(v->reason);
}

static void plan_image_release(struct plan_image *img)
{
	free(img->flavor);
	free(img->registry);
	free(img->repository);
	free(img->tag);
	free(img->ref);
	free(img->digest);
	free(img->reason);
}

void plan_wheels_release(struct plan_wheel *w, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		free(w[i].name);
		free(w[i].version);
		free(w[i].filename);
		free(w[i].url);
		free(w[i].sha256);
		free(w[i].index_url);
		free(w[i].required_by);
		free(w[i].yanked);
	}
	free(w);
}

static void plan_cell_release(struct plan_cell *c)
{
	free(c->id);
	free(c->tag);
	free(c->image_ref);
	vec_release(&c->axes);
	plan_value_release(&c->os);
	plan_value_release(&c->cuda);
	free(c->cuda_minor);
	free(c->cuda_asked.value);
	free(c->cuda_asked.field);
	free(c->cuda_asked.says);
	plan_value_release(&c->cudnn);
	plan_value_release(&c->python);
	plan_value_release(&c->python_source);
	plan_value_release(&c->strip);
	free(c->python_bin);
	free(c->managed_python_dir);
	free(c->pkg_manager);
	for (size_t i = 0; i < c->frameworks_nr; i++) {
		struct plan_framework *f = &c->frameworks[i];

		free(f->name);
		free(f->pip_name);
		free(f->version);
		free(f->variant);
		free(f->pip_spec);
		free(f->index_url);
		free(f->reason);
	}
	free(c->frameworks);
	plan_image_release(&c->builder);
	plan_image_release(&c->final);
	free(c->require_cuda);
	free(c->driver_min);
	free(c->driver_floor);
	vec_release(&c->builder_packages);
	vec_release(&c->final_packages);
	vec_release(&c->pip_requirements);
	vec_release(&c->extra_index_urls);
	plan_wheels_release(c->wheels, c->wheels_nr);
	vec_release(&c->wheel_prefer);
	vec_release(&c->closure_skip);
	vec_release(&c->unverified);
	free(c->wheel_driver_floor);
	vec_release(&c->warnings);
	for (size_t i = 0; i < c->dlopen_nr; i++) {
		free(c->dlopen[i].soname);
		vec_release(&c->dlopen[i].loads);
	}
	free(c->dlopen);
	vec_release(&c->driver_sonames);
	for (size_t i = 0; i < c->smoke_nr; i++) {
		free(c->smoke[i].name);
		vec_release(&c->smoke[i].run);
		free(c->smoke[i].expect);
		free(c->smoke[i].reject);
		free(c->smoke[i].origin);
	}
	free(c->smoke);
}

void plan_free(struct plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->cells_nr; i++)
		plan_cell_release(&p->cells[i]);
	free(p->cells);
	free(p->git.url);
	free(p->git.ref);
	free(p->git.commit);
	free(p->context);
	free(p);
}

/* Cells named in an error about an unknown one, at most. */
#define PLAN_CELLS_NAMED 64

int plan_select_cells(struct plan *p, const struct vec *ids)
{
	size_t kept = 0;

	for (size_t i = 0; i < ids->nr; i++) {
		const char *id = ids->items[i];
		size_t k = 0;

		while (k < p->cells_nr && strcmp(p->cells[k].id, id))
			k++;
		if (k == p->cells_nr) {
			struct strbuf sb = STRBUF_INIT;
			int ret;

			for (size_t j = 0; j < p->cells_nr && j < PLAN_CELLS_NAMED; j++)
				strbuf_addf(&sb, "%s%s", j ? ", " : "", p->cells[j].id);
			if (p->cells_nr > PLAN_CELLS_NAMED)
				strbuf_addf(&sb, " and %zu more ('gpuslim plan' lists them)",
					    p->cells_nr - PLAN_CELLS_NAMED);
			ret = error_setc(GS_EINVAL, "no cell '%s' in the recipe; its %zu cells: %s",
					 id, p->cells_nr, sb.buf);
			strbuf_release(&sb);
			return ret;
		}
	}
	for (size_t i = 0; i < p->cells_nr; i++) {
		if (vec_findstr(ids, p->cells[i].id) < 0) {
			plan_cell_release(&p->cells[i]);
			continue;
		}
		if (kept != i)
			p->cells[kept] = p->cells[i];
		kept++;
	}
	p->cells_nr = kept;
	return 0;
}

/* ---- JSON ------------------------------------------------------------- */

static json_t *plan_jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *plan_wheels_to_json(const struct plan_wheel *w, size_t nr)
{
	json_t *a = json_array();

	for (size_t i = 0; i < nr; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "name", plan_jstr(w[i].name));
		json_object_set_new(o, "version", plan_jstr(w[i].version));
		json_object_set_new(o, "filename", plan_jstr(w[i].filename));
		json_object_set_new(o, "url", plan_jstr(w[i].url));
		json_object_set_new(o, "sha256", plan_jstr(w[i].sha256));
		json_object_set_new(o, "index_url", plan_jstr(w[i].index_url));
		json_object_set_new(o, "required_by", plan_jstr(w[i].required_by));
		json_object_set_new(o, "framework", json_boolean(w[i].framework));
		/* Only when yanked: the reason, or true when none is given. */
		if (w[i].yanked)
			json_object_set_new(o, "yanked",
					    *w[i].yanked ? json_string(w[i].yanked) : json_true());
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *plan_jvec(const struct vec *v)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < v->nr; i++)
		json_array_append_new(arr, json_string(v->items[i]));
	return arr;
}

static json_t *plan_jvalue(const struct plan_value *v)
{
	json_t *o = json_object();

	json_object_set_new(o, "value", plan_jstr(v->value));
	json_object_set_new(o, "reason", plan_jstr(v->reason));
	return o;
}

static json_t *plan_jimage(const struct plan_image *img)
{
	json_t *o = json_object();

	json_object_set_new(o, "flavor", plan_jstr(img->flavor));
	json_object_set_new(o, "registry", plan_jstr(img->registry));
	json_object_set_new(o, "repository", plan_jstr(img->repository));
	json_object_set_new(o, "tag", plan_jstr(img->tag));
	json_object_set_new(o, "ref", plan_jstr(img->ref));
	json_object_set_new(o, "digest", plan_jstr(img->digest));
	json_object_set_new(o, "reason", plan_jstr(img->reason));
	return o;
}

static json_t *plan_jcell(const struct plan_cell *c)
{
	json_t *o = json_object(), *axes = json_object(), *fws = json_array(), *x;

	json_object_set_new(o, "index", json_integer((json_int_t)c->index));
	json_object_set_new(o, "id", plan_jstr(c->id));
	json_object_set_new(o, "tag", plan_jstr(c->tag));
	json_object_set_new(o, "image", plan_jstr(c->image_ref));
	for (size_t i = 0; i < c->axes.nr; i++) {
		const char *kv = c->axes.items[i], *eq = strchr(kv, '=');
		char *key = xstrndup(kv, (size_t)(eq - kv));

		json_object_set_new(axes, key, json_string(eq + 1));
		free(key);
	}
	json_object_set_new(o, "axes", axes);

	x = plan_jvalue(&c->os);
	json_object_set_new(x, "package_manager", plan_jstr(c->pkg_manager));
	json_object_set_new(o, "os", x);
	x = plan_jvalue(&c->cuda);
	json_object_set_new(x, "minor", plan_jstr(c->cuda_minor));
	json_object_set_new(o, "cuda", x);
	json_object_set_new(o, "cudnn", plan_jvalue(&c->cudnn));
	x = plan_jvalue(&c->python);
	json_object_set_new(x, "bin", plan_jstr(c->python_bin));
	json_object_set_new(x, "managed_dir", plan_jstr(c->managed_python_dir));
	json_object_set_new(o, "python", x);
	json_object_set_new(o, "python_source", plan_jvalue(&c->python_source));
	json_object_set_new(o, "strip", plan_jvalue(&c->strip));
	for (size_t i = 0; i < c->frameworks_nr; i++) {
		const struct plan_framework *f = &c->frameworks[i];
		json_t *fo = json_object();

		json_object_set_new(fo, "name", plan_jstr(f->name));
		json_object_set_new(fo, "pip_name", plan_jstr(f->pip_name));
		json_object_set_new(fo, "version", plan_jstr(f->version));
		json_object_set_new(fo, "variant", plan_jstr(f->variant));
		json_object_set_new(fo, "pip_spec", plan_jstr(f->pip_spec));
		json_object_set_new(fo, "index_url", plan_jstr(f->index_url));
		json_object_set_new(fo, "brings_cuda", json_boolean(f->brings_cuda));
		json_object_set_new(fo, "needs_cudnn", json_boolean(f->needs_cudnn));
		json_object_set_new(fo, "reason", plan_jstr(f->reason));
		json_array_append_new(fws, fo);
	}
	json_object_set_new(o, "frameworks", fws);
	json_object_set_new(o, "compiles", json_boolean(c->compiles));
	json_object_set_new(o, "builder", plan_jimage(&c->builder));
	json_object_set_new(o, "final", plan_jimage(&c->final));
	if (c->closure)
		json_object_set_new(o, "final_mode", json_string("closure"));
	json_object_set_new(o, "require_cuda", plan_jstr(c->require_cuda));
	x = json_object();
	json_object_set_new(x, "min", plan_jstr(c->driver_min));
	json_object_set_new(x, "floor", plan_jstr(c->driver_floor));
	json_object_set_new(o, "driver", x);
	x = json_object();
	json_object_set_new(x, "builder", plan_jvec(&c->builder_packages));
	json_object_set_new(x, "final", plan_jvec(&c->final_packages));
	json_object_set_new(o, "packages", x);
	x = json_object();
	json_object_set_new(x, "requirements", plan_jvec(&c->pip_requirements));
	json_object_set_new(x, "extra_index_urls", plan_jvec(&c->extra_index_urls));
	if (c->wheels_nr)
		json_object_set_new(x, "wheels", plan_wheels_to_json(c->wheels, c->wheels_nr));
	json_object_set_new(o, "pip", x);
	x = json_object();
	json_object_set_new(x, "skip", plan_jvec(&c->closure_skip));
	{
		json_t *rules = json_array();

		for (size_t i = 0; i < c->dlopen_nr; i++) {
			json_t *ro = json_object();

			json_object_set_new(ro, "soname", plan_jstr(c->dlopen[i].soname));
			json_object_set_new(ro, "loads", plan_jvec(&c->dlopen[i].loads));
			json_array_append_new(rules, ro);
		}
		json_object_set_new(x, "dlopen", rules);
	}
	json_object_set_new(x, "driver", plan_jvec(&c->driver_sonames));
	json_object_set_new(o, "closure", x);
	json_object_set_new(o, "unverified", plan_jvec(&c->unverified));
	json_object_set_new(o, "warnings", plan_jvec(&c->warnings));
	return o;
}

json_t *plan_to_json(const struct plan *p)
{
	json_t *root = json_object(), *rec = json_object(), *cells = json_array();
	const struct recipe *r = p->recipe;

	json_object_set_new(rec, "file", plan_jstr(r->file));
	json_object_set_new(rec, "sha256", json_string(r->sha256));
	json_object_set_new(rec, "name", plan_jstr(r->name.v));
	json_object_set_new(root, "recipe", rec);
	{
		/* How old the facts are: the oldest plugin file's refresh. */
		json_t *k = json_object();
		const char *file =
		    p->kb->refreshed_file ? strrchr(p->kb->refreshed_file, '/') : NULL;

		json_object_set_new(k, "refreshed",
				    p->kb->refreshed[0] ? json_string(p->kb->refreshed)
							: json_null());
		json_object_set_new(k, "oldest_file",
				    p->kb->refreshed_file
					? json_string(file ? file + 1 : p->kb->refreshed_file)
					: json_null());
		json_object_set_new(root, "knowledge", k);
	}
	if (p->git.url) {
		json_t *g = json_object();

		json_object_set_new(g, "url", plan_jstr(p->git.url));
		json_object_set_new(g, "ref", plan_jstr(p->git.ref));
		json_object_set_new(g, "commit", plan_jstr(p->git.commit));
		json_object_set_new(root, "git", g);
	}
	for (size_t i = 0; i < p->cells_nr; i++)
		json_array_append_new(cells, plan_jcell(&p->cells[i]));
	json_object_set_new(root, "cells", cells);
	return root;
}
