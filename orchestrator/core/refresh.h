#ifndef GS_REFRESH_H
#define GS_REFRESH_H

#include <jansson.h>

#include "util/strbuf.h"
#include "util/vec.h"

/*
 * `gpuslim knowledge refresh`: the plugin files rebuilt from their sources
 * of truth with gpuslim's own clients.
 *
 * CUDA (core/registry.h, core/image.h): the tag list of a base repository
 * parsed into versions x flavors x OSes ("13.0.2-cudnn-runtime-ubuntu24.04");
 * for the newest patch of each minor, and for each version cuda.json does
 * not know, one image's config is read and its Env (CUDA_VERSION,
 * NV_CUDNN_VERSION, NVIDIA_REQUIRE_CUDA) gives the cuDNN version, the
 * driver branches and the brands. bases.json's entry of that repository is
 * rebuilt from the tags alone (a tag gone from the registry is gone from
 * the table); cuda.json gains the versions it lacks and, with `releases`,
 * takes cudnn_tag, cudnn_version, require_branches and brands of every
 * version whose config was read. driver and driver_floor stay hand-kept
 * (NVIDIA's release notes); a new version takes the floor of its major.
 *
 * Frameworks (core/pyindex.h): the torch pages of the index's variant
 * indexes (<index>/cuXYZ/torch/), the newest patch of every minor with its
 * variants and CPython tags; torchvision and torchaudio pair by the
 * Requires-Dist "torch==X" of their metadata (PEP 658 where served).
 * Releases the index does not have stay as they were.
 *
 * Output: the same JSON, entries sorted, one entry per line, so a refresh
 * without an upstream change gives the same bytes ("refreshed" is the time
 * of the refresh that last changed the file, "sources" what it read).
 */

struct refresh_opts {
	const char *registry;	/* "docker.io" */
	const char *repository; /* "nvidia/cuda"; NULL: no CUDA refresh */
	int releases;		/* update cuda.json's known releases from the images */
	const char *index_url;	/* "https://download.pytorch.org/whl"; NULL: no frameworks */
	struct vec variants;	/* strings; empty: cuXY of every CUDA minor cuda.json knows */
	const char *now;	/* RFC 3339 UTC time of this refresh */
};

/* One plugin file: its bytes before and after. */
struct refresh_file {
	const char *name; /* "cuda.json" */
	struct strbuf old, new;
	int refreshed; /* a source was read for it (else it is as read) */
	int changed;
};

struct refresh_result {
	struct refresh_file files[3]; /* cuda.json, bases.json, frameworks.json */
	struct vec notes;	      /* what was skipped and why, owned strings */
};

/* Read the three files from `dir`, refresh them into `out`. Nothing is
 * written. Errors name the source (registry, tag, index page). */
int knowledge_refresh(const char *dir, const struct refresh_opts *opts, struct refresh_result *out);
void refresh_result_release(struct refresh_result *r);

/* The JSON as the plugin files are written: objects and arrays that fit
 * on one line of 100 columns are, the rest one member per line. */
void refresh_format(const json_t *doc, struct strbuf *out);

/* A line diff of `a` and `b` ("-" and "+" lines, " " context of one
 * line), with "--- a/NAME" / "+++ b/NAME" headers; nothing when equal. */
void refresh_diff(const char *name, const struct strbuf *a, const struct strbuf *b,
		  struct strbuf *out);

#endif
