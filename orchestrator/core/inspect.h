#ifndef GS_INSPECT_H
#define GS_INSPECT_H

#include <jansson.h>
#include <stddef.h>

#include "core/image.h"
#include "core/knowledge.h"
#include "util/vec.h"

/*
 * One image from its name to its analysis report: open it (core/image.h),
 * find its base image's layers, analyze it (core/analyze.h). The base is
 * `base` when given, else the image's org.opencontainers.image.base.name
 * label (gpuslim sets it); either is resolved to its diff_ids the same
 * way: the engine's `docker image inspect` when a client is known and the
 * engine has it, else the image's own metadata through image_open().
 * Shared by `gpuslim inspect`, `gpuslim gate` and the build's gating.
 */

struct inspect_opts {
	enum image_source source;
	const char *docker; /* client for the engine; NULL: image_open() detects */
	const char *base;   /* --base REF, or NULL: the label, else no base */
	const struct knowledge *kb;
	size_t top;		 /* analyze_opts.top */
	const struct vec *paths; /* budgets.paths keys (strings) or NULL */
	const struct vec *commands; /* analyze_opts.commands or NULL */
	const int *abort_fd;	 /* image_opts.abort_fd */
	const char *platform;	 /* image_opts.platform (--platform), for the image and its base */
	int sizemap;		 /* analyze_opts.sizemap */
};

/*
 * The report of `name`, newly made. Errors as image_open()'s: GS_ENOTFOUND
 * (no such image), GS_EINVAL (not an image), GS_EINFRA (engine, registry).
 * A base that cannot be resolved is no error: the report then counts no
 * layer as base, and *note (newly allocated, may be NULL) says why.
 */
int inspect_image(const char *name, const struct inspect_opts *o, json_t **report, char **note);

/* "auto", "engine", ...: 0, or GS_EINVAL for another word. --platform's
 * value is checked by image_check_platform(). */
int inspect_parse_source(const char *s, enum image_source *out);

#endif
