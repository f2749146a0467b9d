#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/plan.h"
#include "core/plan_private.h"
#include "core/registry.h"
#include "util/strbuf.h"

/*
 * plan_resolve_images(): the offline plan meets the registries. The tables
 * in plugins/ say which tags should exist; the registry says which do.
 * Each (registry, repository) is listed once and each reference resolved
 * once, however many cells share them.
 */

/* The tags of one repository, sorted for bsearch. */
struct resolve_repo {
	char *registry;
	char *repository;
	int missing; /* the registry has no such repository */
	struct vec tags;
};

struct resolve_digest {
	char *ref; /* registry/repository:tag */
	char *digest;
};

struct resolve_ctx {
	struct plan *p;
	const struct knowledge *kb;
	struct registry_client *rc;
	struct vec *diags;
	size_t diags_start;
	struct resolve_repo *repos;
	size_t repos_nr;
	struct resolve_digest *digests;
	size_t digests_nr;
};

static void resolve_diag(struct resolve_ctx *ctx, const char *field, struct rpos pos,
			 const char *fmt, ...) GS_FMT(4, 5);

/* "file:line:col: field: message", said once however many cells hit it. */
static void resolve_diag(struct resolve_ctx *ctx, const char *field, struct rpos pos,
			 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	plan_diag_vadd(ctx->diags, ctx->diags_start, ctx->p->recipe->file, field, pos, fmt, ap);
	va_end(ap);
}

/* The tags of registry/repository, listed on first use. NULL with
 * `*ret` set when the registry fails; a repository the registry lacks
 * comes back with `missing` set. */
static struct resolve_repo *resolve_repo(struct resolve_ctx *ctx, const char *registry,
					 const char *repository, int *ret)
{
	struct resolve_repo *rr;
	int rc;

	*ret = 0;
	for (size_t i = 0; i < ctx->repos_nr; i++)
		if (!strcmp(ctx->repos[i].registry, registry) &&
		    !strcmp(ctx->repos[i].repository, repository))
			return &ctx->repos[i];
	ctx->repos = xrealloc(ctx->repos, (ctx->repos_nr + 1) * sizeof(*ctx->repos));
	rr = &ctx->repos[ctx->repos_nr];
	memset(rr, 0, sizeof(*rr));
	vec_init(&rr->tags, free);
	rc = registry_list_tags(ctx->rc, registry, repository, 0, &rr->tags);
	if (rc == GS_ENOTFOUND) {
		rr->missing = 1;
	} else if (rc < 0) {
		vec_release(&rr->tags);
		*ret = rc;
		return NULL;
	}
	rr->registry = xstrdup(registry);
	rr->repository = xstrdup(repository);
	vec_sort(&rr->tags, vec_cmpstr);
	ctx->repos_nr++;
	return rr;
}

static int resolve_has_tag(const struct resolve_repo *rr, const char *tag)
{
	return rr->tags.nr &&
	       bsearch(&tag, rr->tags.items, rr->tags.nr, sizeof(*rr->tags.items), vec_cmpstr);
}

/* The digest of `img`'s reference, asked once per reference. */
static int resolve_digest(struct resolve_ctx *ctx, const struct plan_image *img,
			  const char **digest)
{
	struct resolve_digest *rd;
	char *d = NULL;
	int ret;

	for (size_t i = 0; i < ctx->digests_nr; i++)
		if (!strcmp(ctx->digests[i].ref, img->ref)) {
			*digest = ctx->digests[i].digest;
			return 0;
		}
	ret = registry_resolve_digest(ctx->rc, img->registry, img->repository, img->tag, &d, NULL);
	if (ret < 0)
		return ret;
	ctx->digests = xrealloc(ctx->digests, (ctx->digests_nr + 1) * sizeof(*ctx->digests));
	rd = &ctx->digests[ctx->digests_nr++];
	rd->ref = xstrdup(img->ref);
	rd->digest = d;
	*digest = d;
	return 0;
}

/* A cell's image at `version`: `rel` spells its cuDNN flavors. NULL when
 * that release has no cuDNN images and the flavor wants them. */
static char *resolve_tag(const struct kb_repository *repo, const struct kb_cuda_release *rel,
			 const char *flavor, const char *os)
{
	if (starts_with(flavor, "cudnn-") && !rel->cudnn_tag)
		return NULL;
	return kb_format_tag(repo, rel, flavor, os);
}

/* "X.Y.Z" and nothing else. */
static int resolve_is_patch(const char *s, size_t len, int major, int minor)
{
	int dots = 0, ma, mi, pa;
	char buf[32];

	if (!len || len >= sizeof(buf))
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (!i || s[i - 1] == '.')
				return 0;
			dots++;
		} else if (s[i] < '0' || s[i] > '9') {
			return 0;
		}
	}
	if (dots != 2 || s[len - 1] == '.')
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return !kb_parse_version(buf, &ma, &mi, &pa) && ma == major && mi == minor;
}

/* Versions of the cell's CUDA minor that `rr` has a tag of `img`'s
 * flavor for, spelled as `rel` spells it; appended to `out` (unique). */
static void resolve_versions_of(const struct kb_repository *repo, const struct resolve_repo *rr,
				const struct kb_cuda_release *rel, const struct plan_image *img,
				const char *os, struct vec *out)
{
	static const char *const keys[] = {"flavor", "os"};
	const char *values[2] = {NULL, os};
	char *spelled = NULL, *pattern, *at;
	size_t pre, post;

	if (starts_with(img->flavor, "cudnn-") && rel->cudnn_tag)
		spelled = xstrfmt("%s-%s", rel->cudnn_tag, img->flavor + strlen("cudnn-"));
	values[0] = spelled ? spelled : img->flavor;
	pattern = kb_expand(repo->tag_template, keys, values, 2);
	at = strstr(pattern, "{version}");
	if (!at)
		goto done;
	pre = (size_t)(at - pattern);
	post = strlen(at + strlen("{version}"));
	for (size_t i = 0; i < rr->tags.nr; i++) {
		const char *t = rr->tags.items[i];
		size_t len = strlen(t);
		char *v;

		if (len <= pre + post || strncmp(t, pattern, pre) ||
		    strcmp(t + len - post, at + strlen("{version}")) ||
		    !resolve_is_patch(t + pre, len - pre - post, rel->major, rel->minor))
			continue;
		v = xstrndup(t + pre, len - pre - post);
		if (vec_findstr(out, v) < 0)
			vec_push(out, v);
		else
			free(v);
	}
done:
	free(pattern);
	free(spelled);
}

static int resolve_cmp_version(const void *a, const void *b)
{
	return kb_version_cmp(*(char *const *)a, *(char *const *)b);
}

/* The release a tag of `version` is written with: cuda.json's, or for a
 * patch it does not know, the planned release under the new version. */
static const struct kb_cuda_release *resolve_release(const struct knowledge *kb,
						     const struct kb_cuda_release *planned,
						     const char *version,
						     struct kb_cuda_release *scratch)
{
	const struct kb_cuda_release *rel = kb_find_cuda(kb, version);

	if (rel)
		return rel;
	*scratch = *planned;
	scratch->version = version;
	kb_parse_version(version, &scratch->major, &scratch->minor, &scratch->patch);
	return scratch;
}

/* Patches of the cell's minor, other than the planned one, for which the
 * registry has both the builder and the final image; newest last. */
static void resolve_candidates(struct resolve_ctx *ctx, const struct plan_cell *c,
			       const struct kb_repository *repo,
			       const struct kb_cuda_release *planned, const struct resolve_repo *rb,
			       const struct resolve_repo *rf, struct vec *out)
{
	struct vec seen = VEC_INIT(free);

	resolve_versions_of(repo, rb, planned, &c->builder, c->os.value, &seen);
	resolve_versions_of(repo, rf, planned, &c->final, c->os.value, &seen);
	for (size_t i = 0; i < seen.nr; i++) {
		struct kb_cuda_release scratch;
		const struct kb_cuda_release *rel;
		char *bt, *ft;

		if (!strcmp(seen.items[i], planned->version))
			continue;
		rel = resolve_release(ctx->kb, planned, seen.items[i], &scratch);
		bt = resolve_tag(repo, rel, c->builder.flavor, c->os.value);
		ft = resolve_tag(repo, rel, c->final.flavor, c->os.value);
		if (bt && ft && resolve_has_tag(rb, bt) && resolve_has_tag(rf, ft))
			vec_pushstr(out, seen.items[i]);
		free(bt);
		free(ft);
	}
	vec_sort(out, resolve_cmp_version);
	vec_release(&seen);
}

static void resolve_retag(struct plan_image *img, const struct kb_repository *repo,
			  const struct kb_cuda_release *rel, const char *os)
{
	free(img->tag);
	free(img->ref);
	img->tag = kb_format_tag(repo, rel, img->flavor, os);
	img->ref = xstrfmt("%s/%s:%s", img->registry, img->repository, img->tag);
}

/* Move the cell to `version`, a patch of its minor the registry has. */
static int resolve_substitute(struct resolve_ctx *ctx, struct plan_cell *c,
			      const struct kb_repository *repo,
			      const struct kb_cuda_release *planned, const char *version)
{
	const struct kb_cuda_release *known = kb_find_cuda(ctx->kb, version);
	struct kb_cuda_release scratch;
	const struct kb_cuda_release *rel = resolve_release(ctx->kb, planned, version, &scratch);
	const struct kb_base_image *img = kb_repo_find_image(repo, version);
	const char *cudnn = kb_image_cudnn_version(img, known);
	struct strbuf reason = STRBUF_INIT;
	char *old = c->cuda.value;

	strbuf_addf(&reason,
		    "%s from %s resolves to %s: %s is not in %s/%s any more; %s is the newest %s "
		    "patch it has for %s.",
		    c->cuda_asked.value, c->cuda_asked.says, version, old, c->final.registry,
		    c->final.repository, version, c->cuda_minor, c->os.value);
	if (!known)
		strbuf_addf(&reason,
			    " cuda.json does not know %s, so the driver and NVIDIA_REQUIRE_CUDA "
			    "are %s's.",
			    version, planned->version);

	/* A framework that loads cuDNN from the base needs the major it was
	 * built for; a patch may carry another. */
	if (cudnn && starts_with(c->final.flavor, "cudnn-")) {
		for (size_t i = 0; i < c->frameworks_nr; i++) {
			const struct kb_framework *fw =
			    kb_find_framework(ctx->kb, c->frameworks[i].name);
			const struct kb_fw_release *fr =
			    fw ? kb_find_release(fw, c->frameworks[i].version) : NULL;

			if (fw && fw->needs_cudnn && fr && fr->cudnn_major &&
			    atol(cudnn) != fr->cudnn_major) {
				resolve_diag(
				    ctx, c->cuda_asked.field, c->cuda_asked.pos,
				    "'%s' does not exist in the registry, and %s, the newest "
				    "%s patch it has for %s, carries cuDNN %s; %s %s needs "
				    "cuDNN %ld",
				    c->final.ref, version, c->cuda_minor, c->os.value, cudnn,
				    fw->name, fr->version, fr->cudnn_major);
				strbuf_release(&reason);
				return GS_EINVAL;
			}
		}
	}

	c->cuda.value = xstrdup(version);
	free(old);
	free(c->cuda.reason);
	c->cuda.reason = strbuf_detach(&reason, NULL);
	resolve_retag(&c->builder, repo, rel, c->os.value);
	resolve_retag(&c->final, repo, rel, c->os.value);
	free(c->cudnn.value);
	free(c->cudnn.reason);
	c->cudnn.value = NULL;
	c->cudnn.reason = NULL;
	plan_set_cudnn(&c->cudnn, c->final.flavor, cudnn, repo->name, version);
	if (known) {
		free(c->require_cuda);
		free(c->driver_min);
		free(c->driver_floor);
		c->require_cuda = kb_require_cuda(ctx->kb, known);
		c->driver_min = known->driver ? xstrdup(known->driver) : NULL;
		c->driver_floor = known->driver_floor ? xstrdup(known->driver_floor) : NULL;
	}
	return 0;
}

/* "…, base." -> "…, base; pinned by digest from 127.0.0.1:5000." */
static void resolve_pin(struct plan_image *img, const char *digest, const char *source)
{
	size_t len = img->reason ? strlen(img->reason) : 0;
	char *reason;

	free(img->digest);
	img->digest = xstrdup(digest);
	if (len && img->reason[len - 1] == '.')
		len--;
	reason = xstrfmt("%.*s%spinned by digest from %s.", (int)len,
			 img->reason ? img->reason : "", len ? "; " : "", source);
	free(img->reason);
	img->reason = reason;
}

/* A repository the registry does not have: the recipe's base.repository
 * (or its default) is wrong for that registry. */
static void resolve_repo_missing(struct resolve_ctx *ctx, const struct plan_image *img)
{
	const struct recipe *r = ctx->p->recipe;

	if (r->base.repository.v)
		resolve_diag(ctx, "base.repository", r->base.repository.pos,
			     "'%s/%s' does not exist in the registry", img->registry,
			     img->repository);
	else
		resolve_diag(ctx, "base", recipe_base_pos(r),
			     "'%s/%s' does not exist in the registry (the default base.repository)",
			     img->registry, img->repository);
}

static int resolve_cell(struct resolve_ctx *ctx, struct plan_cell *c)
{
	const struct kb_repository *repo;
	const struct kb_cuda_release *planned;
	struct resolve_repo *rb, *rf;
	const struct plan_image *missing;
	struct plan_image *imgs[2] = {&c->builder, &c->final};
	struct vec cands = VEC_INIT(free);
	int major, minor, patch, ret;

	if (!c->builder.tag || !c->final.tag || !c->cuda.value || !c->cuda_asked.value)
		return 0;
	if (c->builder.digest && c->final.digest)
		return 0; /* pinned already (by the lock) */
	rb = resolve_repo(ctx, c->builder.registry, c->builder.repository, &ret);
	if (!rb)
		return ret;
	rf = resolve_repo(ctx, c->final.registry, c->final.repository, &ret);
	if (!rf)
		return ret;
	if (rb->missing || rf->missing) {
		resolve_repo_missing(ctx, rb->missing ? &c->builder : &c->final);
		return 0;
	}
	missing = !resolve_has_tag(rb, c->builder.tag) ? &c->builder
		  : !resolve_has_tag(rf, c->final.tag) ? &c->final
						       : NULL;
	if (missing) {
		repo = kb_find_repository(ctx->kb, c->final.repository);
		planned = kb_find_cuda(ctx->kb, c->cuda.value);
		if (!repo || !planned) {
			/* Only a plan built with other knowledge gets here. */
			resolve_diag(ctx, c->cuda_asked.field, c->cuda_asked.pos,
				     "'%s' does not exist in the registry", missing->ref);
			return 0;
		}
		resolve_candidates(ctx, c, repo, planned, rb, rf, &cands);
		kb_parse_version(c->cuda_asked.value, &major, &minor, &patch);
		if (patch >= 0 || !cands.nr) {
			/* An exact pin that vanished fails loudly: building another
			 * patch than the one written down is not what was asked. */
			char *list = NULL;

			if (cands.nr) {
				struct strbuf sb = STRBUF_INIT;

				for (size_t i = 0; i < cands.nr; i++)
					strbuf_addf(&sb, "%s%s", i ? ", " : "",
						    (const char *)cands.items[i]);
				list = strbuf_detach(&sb, NULL);
				resolve_diag(
				    ctx, c->cuda_asked.field, c->cuda_asked.pos,
				    "'%s' does not exist in the registry; it has %s for %s",
				    missing->ref, list, c->os.value);
			} else {
				resolve_diag(
				    ctx, c->cuda_asked.field, c->cuda_asked.pos,
				    "'%s' does not exist in the registry, nor does any other "
				    "%s patch with %s and %s images for %s",
				    missing->ref, c->cuda_minor, c->builder.flavor, c->final.flavor,
				    c->os.value);
			}
			free(list);
			vec_release(&cands);
			return 0;
		}
		ret = resolve_substitute(ctx, c, repo, planned, cands.items[cands.nr - 1]);
		vec_release(&cands);
		if (ret < 0)
			return 0; /* a diagnostic */
	}
	for (int i = 0; i < 2; i++) {
		const char *digest;

		ret = resolve_digest(ctx, imgs[i], &digest);
		if (ret == GS_ENOTFOUND) {
			/* Listed, yet no manifest: deleted between the two calls. */
			resolve_diag(ctx, c->cuda_asked.field, c->cuda_asked.pos, "%s",
				     error_last());
			return 0;
		}
		if (ret < 0)
			return ret;
		resolve_pin(imgs[i], digest, imgs[i]->registry);
	}
	return 0;
}

int plan_resolve_images(struct plan *p, struct registry_client *rc, struct vec *diags)
{
	struct resolve_ctx ctx = {p, p->kb, rc, diags, diags->nr, NULL, 0, NULL, 0};
	int ret = 0;

	for (size_t i = 0; i < p->cells_nr && !ret; i++)
		ret = resolve_cell(&ctx, &p->cells[i]);
	if (!ret && diags->nr > ctx.diags_start)
		ret = GS_EINVAL;
	for (size_t i = 0; i < ctx.repos_nr; i++) {
		free(ctx.repos[i].registry);
		free(ctx.repos[i].repository);
		vec_release(&ctx.repos[i].tags);
	}
	free(ctx.repos);
	for (size_t i = 0; i < ctx.digests_nr; i++) {
		free(ctx.digests[i].ref);
		free(ctx.digests[i].digest);
	}
	free(ctx.digests);
	return ret;
}

int plan_pin_cell(struct plan *p, struct plan_cell *c, const char *cuda, const char *builder_digest,
		  const char *final_digest, const char *source)
{
	struct vec diags = VEC_INIT(free);
	struct resolve_ctx ctx = {p, p->kb, NULL, &diags, 0, NULL, 0, NULL, 0};
	int ret = 0;

	if (!c->builder.tag || !c->final.tag || !c->cuda.value)
		return error_setc(GS_EINVAL, "cell '%s' has no base images to pin", c->id);
	if (strcmp(cuda, c->cuda.value)) {
		const struct kb_repository *repo = kb_find_repository(p->kb, c->final.repository);
		const struct kb_cuda_release *planned = kb_find_cuda(p->kb, c->cuda.value);
		int major, minor, patch;

		/* Only a patch of the planned minor: what the registry could have
		 * substituted. */
		if (!repo || !planned || kb_parse_version(cuda, &major, &minor, &patch) < 0 ||
		    major != planned->major || minor != planned->minor || patch < 0) {
			ret = error_setc(
			    GS_EINVAL,
			    "cell '%s': CUDA %s is not a patch of %s, which the plan has", c->id,
			    cuda, c->cuda_minor ? c->cuda_minor : c->cuda.value);
			goto done;
		}
		if (resolve_substitute(&ctx, c, repo, planned, cuda) < 0) {
			ret =
			    error_setc(GS_EINVAL, "cell '%s': %s", c->id,
				       diags.nr ? (const char *)diags.items[0] : "cannot move it");
			goto done;
		}
	}
	resolve_pin(&c->builder, builder_digest, source);
	resolve_pin(&c->final, final_digest, source);
done:
	vec_release(&diags);
	return ret;
}
