#include <stdlib.h>
#include <string.h>

#include "core/analyze.h"
#include "core/inspect.h"
#include "util/error.h"
#include "util/process.h"
#include "util/strbuf.h"

#define INSPECT_PROBE_MS   30000
#define INSPECT_BASE_LABEL "org.opencontainers.image.base.name"
/* The meta visitor's way to stop a walk once it has what it came for. */
#define INSPECT_STOP (-1000)

int inspect_parse_source(const char *s, enum image_source *out)
{
	static const char *const names[] = {"auto", "engine", "registry", "archive", "oci", NULL};

	for (size_t i = 0; names[i]; i++)
		if (!strcmp(s, names[i])) {
			*out = (enum image_source)i;
			return 0;
		}
	return error_setc(GS_EINVAL,
			  "--source wants auto, engine, registry, archive or oci, not '%s'", s);
}

/* `docker image inspect --format FMT REF` as JSON; NULL when the engine
 * does not have it or does not answer. */
static json_t *inspect_engine_json(const char *docker, const char *ref, const char *fmt)
{
	struct process p;
	struct process_result res;
	json_t *j = NULL;

	if (!docker)
		return NULL;
	process_init(&p);
	vec_pushstr(&p.argv, docker);
	vec_pushstr(&p.argv, "image");
	vec_pushstr(&p.argv, "inspect");
	vec_pushstr(&p.argv, "--format");
	vec_pushstr(&p.argv, fmt);
	vec_pushstr(&p.argv, ref);
	p.stdin_null = 1;
	p.output = PROCESS_OUTPUT_CAPTURE;
	p.output_cap = 1 << 20;
	p.new_pgroup = 1;
	if (!process_run(&p, INSPECT_PROBE_MS, &res) && res.exited && !res.exit_code)
		j = json_loads(p.out.buf, JSON_DECODE_ANY, NULL);
	process_release(&p);
	error_clear();
	return j;
}

struct inspect_meta {
	struct vec *diff_ids;
	char *label;
	int want_label;
};

static void inspect_take_meta(struct inspect_meta *m, const struct image_meta *meta)
{
	for (size_t i = 0; m->diff_ids && i < meta->diff_ids.nr; i++)
		vec_pushstr(m->diff_ids, meta->diff_ids.items[i]);
	if (m->want_label) {
		json_t *labels = json_object_get(json_object_get(meta->config, "config"), "Labels");
		const char *v = json_string_value(json_object_get(labels, INSPECT_BASE_LABEL));

		m->label = v && *v ? xstrdup(v) : NULL;
	}
}

static int inspect_on_meta(void *ctx, const struct image_meta *meta)
{
	inspect_take_meta(ctx, meta);
	return INSPECT_STOP;
}

/* The metadata of `ref` through image_open(), walking only as far as the
 * metadata when it is not known at open; without `walk`, 1 then (a
 * docker-save archive names its config in manifest.json, its last member:
 * that walk would read every layer). */
static int inspect_meta_of(const char *ref, enum image_source source, const struct inspect_opts *o,
			   struct inspect_meta *m, int walk)
{
	struct image_opts io;
	struct image *img = NULL;
	const struct image_meta *meta;
	struct image_visitor v;
	int ret;

	memset(&io, 0, sizeof(io));
	io.source = source;
	io.docker = o->docker;
	io.platform = o->platform;
	if ((ret = image_open(ref, &io, &img)) < 0)
		return ret;
	if ((meta = image_get_meta(img))) {
		inspect_take_meta(m, meta);
	} else if (!walk) {
		ret = 1;
	} else {
		memset(&v, 0, sizeof(v));
		v.ctx = m;
		v.meta = inspect_on_meta;
		ret = image_walk(img, &v);
		if (ret == INSPECT_STOP)
			ret = 0;
	}
	image_close(img);
	return ret;
}

/* The diff_ids of a base image: the engine's, else its metadata. */
static int inspect_base_layers(const char *ref, const struct inspect_opts *o, struct vec *out)
{
	json_t *layers = inspect_engine_json(o->docker, ref, "{{json .RootFS.Layers}}");
	struct inspect_meta m = {out, NULL, 0};
	json_t *v;
	size_t i;

	if (json_is_array(layers)) {
		json_array_foreach(layers, i, v) if (json_is_string(v))
		    vec_pushstr(out, json_string_value(v));
		json_decref(layers);
		return 0;
	}
	json_decref(layers);
	/* Not in the engine: ask where it lives (a base is usually a registry ref). */
	return inspect_meta_of(
	    ref, o->source == IMAGE_SOURCE_ENGINE ? IMAGE_SOURCE_ENGINE : IMAGE_SOURCE_AUTO, o, &m,
	    1);
}

/* The base label of `name` when the engine or the image's opening knows it;
 * *later set when only a walk would tell (the analysis reads it then). An
 * image that cannot be opened leaves its error in *err: opening it again
 * would fail the same way, after the registry client's retries again. */
static char *inspect_label(const char *name, const struct inspect_opts *o, int *later, int *err)
{
	/* A file or a layout is no engine image: no need to ask the engine. */
	json_t *labels = image_name_is_file(name, o->source)
			     ? NULL
			     : inspect_engine_json(o->docker, name, "{{json .Config.Labels}}");
	struct inspect_meta m = {NULL, NULL, 1};
	const char *v;
	char *label = NULL;

	*err = 0;
	if (json_is_object(labels)) {
		v = json_string_value(json_object_get(labels, INSPECT_BASE_LABEL));
		label = v && *v ? xstrdup(v) : NULL;
		json_decref(labels);
		return label;
	}
	json_decref(labels);
	*err = inspect_meta_of(name, o->source, o, &m, 0);
	switch (*err) {
	case 0:
		return m.label;
	case 1:
		*later = 1;
		*err = 0;
		break;
	default:
		break;
	}
	return NULL;
}

struct inspect_later {
	const struct inspect_opts *o;
	char **note;
};

/* analyze_opts.resolve_base: the label's base, once the analysis has read it. */
static int inspect_resolve_base(void *ctx, const char *name, struct vec *out)
{
	struct inspect_later *l = ctx;
	int ret = inspect_base_layers(name, l->o, out);

	if (ret < 0 || !out->nr) {
		if (l->note)
			*l->note = xstrfmt("base image '%s' cannot be read (%s): no layer counts "
					   "as base",
					   name, *error_last() ? error_last() : "no layers");
		error_clear();
		return GS_ENOTFOUND;
	}
	return 0;
}

int inspect_image(const char *name, const struct inspect_opts *o, json_t **report, char **note)
{
	struct vec base_ids = VEC_INIT(free);
	struct inspect_opts local;
	char *found = NULL;
	struct analyze_opts ao;
	struct image_opts io;
	struct image *img = NULL;
	struct inspect_later later = {NULL, note};
	char *label = NULL;
	const char *base = o->base;
	int ret, label_later = 0;

	*report = NULL;
	if (note)
		*note = NULL;
	/* A client for the cheap questions (labels, base layers): any docker
	 * answers `image inspect`, whatever it builds with. */
	if (!o->docker) {
		local = *o;
		local.docker = found = getenv("GPUSLIM_DOCKER") ? xstrdup(getenv("GPUSLIM_DOCKER"))
								: process_find_in_path("docker");
		error_clear();
		o = &local;
	}
	memset(&ao, 0, sizeof(ao));
	if (!base) {
		base = label = inspect_label(name, o, &label_later, &ret);
		if (ret < 0)
			goto done;
	}
	if (label_later) {
		later.o = o;
		ao.resolve_base = inspect_resolve_base;
		ao.resolve_base_ctx = &later;
	} else if (base) {
		if (inspect_base_layers(base, o, &base_ids) < 0 || !base_ids.nr) {
			if (note)
				*note =
				    xstrfmt("base image '%s' cannot be read (%s): no layer counts "
					    "as base",
					    base, *error_last() ? error_last() : "no layers");
			error_clear();
		} else {
			ao.base_diff_ids = &base_ids;
			ao.base_name = base;
			ao.base_matched_by = label ? "label" : NULL;
		}
	}
	ao.kb = o->kb;
	ao.top = o->top;
	ao.paths = o->paths;
	ao.commands = o->commands;
	ao.sizemap = o->sizemap;
	memset(&io, 0, sizeof(io));
	io.source = o->source;
	io.docker = o->docker;
	io.abort_fd = o->abort_fd;
	io.platform = o->platform;
	if ((ret = image_open(name, &io, &img)) < 0)
		goto done;
	ret = analyze_image(img, &ao, report);
done:
	if (img)
		image_close(img);
	vec_release(&base_ids);
	free(label);
	free(found);
	return ret;
}
