#ifndef GS_ANALYZE_H
#define GS_ANALYZE_H

#include <jansson.h>

#include "core/image.h"
#include "core/knowledge.h"
#include "util/vec.h"

/*
 * The analyzer: one pass over an image's layers (core/image.h), memory
 * bounded, producing the report document that schemas/report.schema.json
 * describes. The report is the contract between the analyzer and the
 * gates (core/gate.h): gates read only the JSON, so a saved report works
 * as a baseline (`gpuslim gate --baseline old.json`).
 *
 * The report (keys in this order; sizes in bytes; "null" where unknown;
 * a byte of a name that is not UTF-8 written as \xNN, util/utf8.h):
 *
 * {
 *   "schema_version": 1,
 *   "tool": "gpuslim 0.1.0",
 *   "image": {"name", "source", "id", "manifest_digest", "repo_tags": [...]},
 *   "summary": {
 *     "size",             sum of the layers' regular-file bytes (what `docker images` shows)
 *     "compressed_size",  sum of the layer blobs (registry/oci sources), else null
 *     "layers", "files",  layer count; paths visible in the final filesystem
 *     "base": {"name", "layers", "matched_by": "digest"|"label"|"none"},
 *     "base_bytes", "own_bytes",   every layer of the FROM image vs the rest
 *     "wasted_bytes",     copies overwritten or deleted by later layers, each counted once
 *     "visible_bytes",    bytes of the files visible at the end (hardlinked content once)
 *     "unowned_bytes"     visible file bytes no package owns
 *   },
 *   "layers": [{"index", "diff_id", "blob_digest", "media_type", "created_by", "size",
 *               "compressed_size", "files", "base": true|false, "wasted_bytes"}],
 *   "wasted": [{"path", "bytes", "layer", "by_layer", "reason": "overwritten"|"deleted"}],
 *                      the biggest first, at most opts->top
 *   "packages": [{"manager": "dpkg"|"pip", "name", "version", "bytes", "files"}],
 *                      visible bytes per package, biggest first
 *   "paths": [{"path", "bytes", "files"}],
 *                      per key of opts->paths (each once, in order): the regular files
 *                      visible at the end whose path contains the key, hardlinked
 *                      content once; [] without keys (gate_path_bytes() reads it)
 *   "cuda": {
 *     "components": [{"name": "cudnn"|"cublas"|..., "bytes", "files"}],
 *     "duplicates": [{"soname", "version", "paths": [...], "copies": [{"path", "bytes"}], "bytes"}]
 *                      the same library (soname and version) at several paths; bytes =
 *                      all copies but the biggest
 *   },
 *   "elf": {"files", "bytes", "unstripped_files", "unstripped_bytes"},
 *   "closure": {
 *     "checked_files",
 *     "missing": [{"file", "needed", "via": "DT_NEEDED"|"dlopen"}],        DT_NEEDED (and dlopen
 * rules) not resolvable "driver_expected": [...],               driver sonames needed: come from
 * the host "driver_in_image": [{"path", "bytes"}], a driver library inside the image
 *     "dangling_interpreters": [{"path", "target"}],
 *     "not_checked": [{"path", "reason"}]  ELFs whose DT_NEEDED list could not be read
 *   },
 *   "config": {"user", "root": bool, "entrypoint": [...]|null, "cmd": [...]|null,
 *              "workdir", "env": {"NVIDIA_VISIBLE_DEVICES": ..., "NVIDIA_DRIVER_CAPABILITIES": ...,
 *              "NVIDIA_REQUIRE_CUDA": ..., "LD_LIBRARY_PATH": ..., "PATH": ...},
 *              "command": the resolved path of entrypoint[0] or cmd[0], or null,
 *              "command_exists": bool|null},
 *   "runtime": {"commands": [{"command", "path", "exists", "interpreter", "interpreter_exists"}],
 *               "ld_so_cache": {"present": bool, "unlisted": [dirs]},
 *               "user_entry": bool|null (null: root, or no USER)},
 *   "devel": {"tools": [{"path", "bytes"}], "headers": {"files", "bytes"},
 *             "static_libs": {"files", "bytes"}},
 *   "caches": [{"kind": "apt-lists"|"pip-cache"|"uv-cache"|"huggingface-cache"|"pycache",
 *               "bytes", "files"}],
 *   "tests_examples": {"files", "bytes", "dirs": [...]},
 *   "findings": [{"rule", "severity": "error"|"warn"|"info", "message", "path", "bytes"}],
 *   "sizemap": {      only with opts->sizemap: every layer's bytes as a tree
 *     "min_bytes",    a file or directory under it is folded into its directory's rest
 *     "owners": [[kind, name]],  kind "base" (no package, a base layer), "app" (no
 *                      package, the image's own layers), "wasted" (a later layer
 *                      overwrote or deleted it), "cuda" (name: the component), "dpkg"
 *                      or "pip" (name: the package)
 *     "layers": [[node...]]  per layer (report "layers" order) its top entries; a node is
 *                      [name, bytes, owner] (a file), [name, bytes, owner, [node...]]
 *                      (a directory; name may be "a/b/c" for a chain of single
 *                      directories) or ["", bytes, owner, files] (the rest: files and
 *                      directories under min_bytes); owner indexes "owners" (for a
 *                      directory and a rest: that of its biggest file). Each layer's
 *                      nodes add up to its "size", the layers to summary.size.
 *   }
 * }
 *
 * Finding rules (ids are stable; gates may change their severity):
 *   devel-toolchain (error)   nvcc, compilers, linkers, CUDA/C headers, static libraries
 *   driver-in-image (error)   libcuda.so*, libnvidia-*.so* inside the image
 *   missing-library (error)   a DT_NEEDED (or dlopen rule) no path in the image resolves
 *                             (warn) an ELF not checked (closure.not_checked)
 *   dangling-interpreter (error)  an interpreter symlink (bin/python3.11, bin/node...) or
 *                             a symlink to one, whose final target is not there (a venv
 *                             copied without its Python); other dangling links are no finding
 *   duplicate-library (error) the same soname and version twice (CUDA twice);
 *                             (warn) one soname at versions that disagree
 *   missing-command (error)   entrypoint/cmd[0] does not exist in the image
 *   unstripped-elf (warn)     ELF files with symbol tables or debug info
 *   caches (warn)             apt lists, pip/uv caches, model hub caches, __pycache__
 *   tests-examples (warn)     tests/ and examples/ directories in site-packages
 *   root-user (warn)          the image runs as root
 *   nvidia-env (warn)         NVIDIA_VISIBLE_DEVICES / NVIDIA_DRIVER_CAPABILITIES unset or "all"
 *   missing-runtime-file (error)  what a closure image can lack that ELF does not show:
 *                             a command of opts->commands, or the interpreter its "#!" or
 *                             PT_INTERP names, not in the image (judged in a closure image,
 *                             label io.gpuslim.final=closure); a directory ld.so.conf
 *                             names that holds libraries /etc/ld.so.cache does not list
 *                             (the loader reads only the cache); a non-root USER (or a
 *                             group name) without its /etc/passwd (/etc/group) entry
 */

struct analyze_opts {
	/* diff_ids of the FROM image, bottom first; NULL when unknown (then the
	 * analyzer tries the image's org.opencontainers.image.base.name label via
	 * `resolve_base`, else treats no layer as base) */
	const struct vec *base_diff_ids;
	/* Without base_diff_ids and base_name: the diff_ids (strings, bottom
	 * first, pushed into `out`, which frees them) of the base that the
	 * image's label names, asked once after the walk, when the config is
	 * known; 0, or < 0 when it cannot be had (no layer counts as base).
	 * It spares a caller a walk of its own just to read the label (a
	 * docker-save archive has its config at the end). NULL: not asked. */
	int (*resolve_base)(void *ctx, const char *name, struct vec *out);
	void *resolve_base_ctx;
	const char *base_name;
	/* how the caller found base_diff_ids: "digest" (NULL: the default) or
	 * "label" (resolved from the org.opencontainers.image.base.* labels) */
	const char *base_matched_by;
	const struct knowledge *kb; /* library rules: driver sonames, dlopen, components */
	size_t top;		    /* longest lists (wasted); 0: 50 */
	/* The recipe's budgets.paths keys (strings; NULL: none): each gets one
	 * "paths" entry of the report, a repeated key once. Borrowed. */
	const struct vec *paths;
	/* Commands the image must be able to start (strings: argv[0] of the
	 * recipe's smoke tests; NULL: none): missing-runtime-file checks each
	 * and its interpreter. Borrowed. */
	const struct vec *commands;
	/* Add "sizemap" to the report (the HTML page's treemap, gpuslim diff). */
	int sizemap;
};

/* Analyze `img` (opened, not yet walked) into a new report document. */
int analyze_image(struct image *img, const struct analyze_opts *opts, json_t **report);

#endif
