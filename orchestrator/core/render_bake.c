#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "core/render.h"
#include "util/fs.h"

/* docker-bake.hcl: one target per cell, a default group of them all.
 * Every string goes through render_hcl_string(): the file has no template
 * and no variable, it is correct as written (paths: see render.h). */

static void render_hcl_list(struct strbuf *out, const char *key, const struct vec *items)
{
	strbuf_addf(out, "  %-10s = [", key);
	for (size_t i = 0; i < items->nr; i++) {
		if (i)
			strbuf_addstr(out, ", ");
		render_hcl_string(out, items->items[i]);
	}
	strbuf_addstr(out, "]\n");
}

static void render_hcl_list1(struct strbuf *out, const char *key, const char *item)
{
	struct vec v = VEC_INIT(free);

	vec_pushstr(&v, item);
	render_hcl_list(out, key, &v);
	vec_release(&v);
}

static const char *render_cache_mode(const struct recipe *r)
{
	return r->output.cache.v ? r->output.cache.v : "registry";
}

/* The image repository: recipe `image`, else local/<name>. */
static char *render_image_repo(const struct plan *p)
{
	const struct recipe *r = p->recipe;

	if (r->image.v)
		return xstrdup(r->image.v);
	return xstrfmt("local/%s", r->name.v ? r->name.v : "gpuslim");
}

/*
 * The cache of one target. A registry cache (cache: registry, and the
 * cache-from of cache: inline) only for an image that names its registry
 * host; without one it would be Docker Hub's, so cache: registry becomes
 * the local cache beside this file and cache: inline exports only.
 */
static void render_bake_cache(struct strbuf *out, const struct plan *p, const struct plan_cell *c)
{
	const char *mode = render_cache_mode(p->recipe);
	char *repo = render_image_repo(p), *from = NULL, *to = NULL;
	int hosted = registry_ref_names_host(repo);

	if ((!strcmp(mode, "registry") || !strcmp(mode, "inline")) && !hosted)
		strbuf_addf(out,
			    "  # cache: %s, but %s names no registry host (it would be Docker "
			    "Hub's): %s\n",
			    mode, repo, strcmp(mode, "inline") ? "a local cache" : "no cache-from");
	if (!strcmp(mode, "registry") && hosted) {
		from = xstrfmt("type=registry,ref=%s:buildcache-%s", repo, c->tag);
		to = xstrfmt("type=registry,ref=%s:buildcache-%s,mode=max", repo, c->tag);
	} else if (!strcmp(mode, "inline")) {
		if (hosted)
			from = xstrfmt("type=registry,ref=%s", c->image_ref);
		to = xstrdup("type=inline");
	} else if (!strcmp(mode, "local") || !strcmp(mode, "registry")) {
		from = xstrfmt("type=local,src=.gpuslim-cache/%s", c->id);
		to = xstrfmt("type=local,dest=.gpuslim-cache/%s,mode=max", c->id);
	}
	if (from)
		render_hcl_list1(out, "cache-from", from);
	if (to)
		render_hcl_list1(out, "cache-to", to);
	free(from);
	free(to);
	free(repo);
}

/* The exporter: force-compression, else the base's layers stay gzip. No
 * level in the recipe: the compressor's own default. */
static void render_bake_output(struct strbuf *out, const struct recipe *r)
{
	const char *comp = r->output.compression.v ? r->output.compression.v : "zstd";
	long level = r->output.compression_level;
	struct strbuf o = STRBUF_INIT;

	strbuf_addf(&o, "type=image,compression=%s", comp);
	if (level && strcmp(comp, "uncompressed"))
		strbuf_addf(&o, ",compression-level=%ld", level);
	strbuf_addstr(&o, ",force-compression=true,oci-mediatypes=true");
	render_hcl_list1(out, "output", o.buf);
	strbuf_release(&o);
}

static void render_bake_labels(struct strbuf *out, const struct recipe *r)
{
	if (!r->labels_nr)
		return;
	strbuf_addstr(out, "  labels = {\n");
	for (size_t i = 0; i < r->labels_nr; i++) {
		strbuf_addstr(out, "    ");
		render_hcl_string(out, r->labels[i].key.v);
		strbuf_addstr(out, " = ");
		render_hcl_string(out, r->labels[i].value.v ? r->labels[i].value.v : "");
		strbuf_addch(out, '\n');
	}
	strbuf_addstr(out, "  }\n");
}

static void render_bake_platforms(struct strbuf *out, const struct recipe *r)
{
	struct vec v = VEC_INIT(free);

	for (size_t i = 0; i < r->output.platforms.nr; i++)
		vec_pushstr(&v, r->output.platforms.items[i].v);
	if (!v.nr)
		vec_pushstr(&v, "linux/amd64");
	render_hcl_list(out, "platforms", &v);
	vec_release(&v);
}

static void render_bake_target(struct strbuf *out, const struct plan *p, const struct plan_cell *c,
			       const char *out_abs, const char *ctx_abs)
{
	char *context = render_path_from(out_abs, ctx_abs);
	char *df = xstrfmt("%s/Dockerfile.%s", out_abs, c->id);
	char *dockerfile = render_path_from(ctx_abs, df);

	strbuf_addf(out, "\ntarget \"%s\" {\n", c->id);
	strbuf_addf(out, "  %-10s = ", "context");
	render_hcl_string(out, context);
	strbuf_addf(out, "\n  %-10s = ", "dockerfile");
	render_hcl_string(out, dockerfile);
	strbuf_addch(out, '\n');
	render_hcl_list1(out, "tags", c->image_ref);
	render_bake_platforms(out, p->recipe);
	if (p->recipe->output.network.v && strcmp(p->recipe->output.network.v, "default")) {
		/* RUN steps reach what the host reaches: an index on 127.0.0.1. */
		strbuf_addf(out, "  %-10s = ", "network");
		render_hcl_string(out, p->recipe->output.network.v);
		strbuf_addch(out, '\n');
	}
	render_bake_labels(out, p->recipe);
	render_bake_cache(out, p, c);
	render_bake_output(out, p->recipe);
	strbuf_addstr(out, "}\n");
	free(context);
	free(df);
	free(dockerfile);
}

static void render_bake_header(struct strbuf *out, const struct plan *p, const char *version)
{
	strbuf_addf(out, RENDER_MARK " %s from %s (sha256 %s): do not edit.\n", version,
		    render_recipe_name(p), p->recipe->sha256);
	strbuf_addstr(
	    out,
	    "# Run from this file's directory: docker buildx bake. Each context is relative\n"
	    "# to it (or absolute, when only / is in common), each dockerfile to its context.\n"
	    "# Needs a docker-container builder (docker buildx create --driver docker-container\n"
	    "# --use): the default docker driver exports no cache and cannot force compression.\n"
	    "# The images stay in the builder: add --push to publish them, or --load.\n");
}

int render_bake(const struct plan *p, const char *out_dir, const char *version, struct strbuf *out)
{
	char *ctx_abs = render_context_abs(p), *out_abs = fs_abspath(out_dir);
	struct vec ids = VEC_INIT(NULL);
	int ret = 0;

	for (size_t i = 0; i < p->cells_nr; i++) {
		if (!render_is_target_name(p->cells[i].id)) {
			ret = error_setc(GS_EINVAL, "cell '%s': not a bake target name",
					 p->cells[i].id ? p->cells[i].id : "");
			goto done;
		}
		vec_push(&ids, p->cells[i].id);
	}
	render_bake_header(out, p, version);
	strbuf_addstr(out, "\ngroup \"default\" {\n");
	render_hcl_list(out, "targets", &ids);
	strbuf_addstr(out, "}\n");
	for (size_t i = 0; i < p->cells_nr; i++)
		render_bake_target(out, p, &p->cells[i], out_abs, ctx_abs);
done:
	free(ctx_abs);
	free(out_abs);
	vec_release(&ids);
	return ret;
}
