#ifndef GS_RENDER_H
#define GS_RENDER_H

#include <stddef.h>

#include "core/plan.h"
#include "util/strbuf.h"
#include "util/vec.h"

/*
 * The renderer: a resolved plan in, build files out. It reads only the plan
 * and the recipe the plan borrows (never the knowledge plugins), touches no
 * disk until render_write(), and is deterministic: the same plan gives the
 * same bytes (no time, no user, no absolute path of this machine).
 *
 * Files, for `gpuslim generate RECIPE -o OUT`:
 *
 *   OUT/Dockerfile.<cell id>  one per cell; builds on Docker Engine 20.10's
 *                             built-in BuildKit frontend (no `# syntax=`, no
 *                             COPY --link, no heredocs)
 *   OUT/docker-bake.hcl       every cell as a target, group "default" of all
 *   OUT/.dockerignore         for the build context (app.path)
 *
 * Paths in docker-bake.hcl are relative, so the file can be committed:
 * bake runs from the recipe's directory (`docker buildx bake -f
 * OUT/docker-bake.hcl`), each `context` is app.path relative to that
 * directory, and each `dockerfile` is "${GPUSLIM_DOCKERFILE_DIR}/Dockerfile.<id>"
 * where the variable is OUT relative to the context. Its default is written
 * only when OUT lies inside the context; otherwise (OUT elsewhere, e.g. under
 * /tmp) the default is empty and the caller sets GPUSLIM_DOCKERFILE_DIR in
 * the environment, since any literal path would encode this machine's layout.
 *
 *   OUT/Dockerfile.<id>.dockerignore  the same rules, where BuildKit looks
 *                             first for that Dockerfile (Engine 20.10 too)
 *
 * Docker's classic builder reads only the context's .dockerignore: a user
 * of it copies OUT/.dockerignore to the root of the context.
 */

/* One rendered file. `name` is relative to the output directory. */
struct render_file {
	char *name;
	char *content;
	size_t len;
	long same_as; /* index of an earlier file with the same bytes, or -1 */
};

/* vec free_item for a vector of struct render_file. */
void render_file_free(void *file);

/*
 * Render every file of the plan into `files` (a vector initialized with
 * VEC_INIT(render_file_free); files are appended, in a fixed order).
 * `out_dir` is only used to compute relative paths, `version` is the tool
 * version named in the headers. Returns 0, or GS_EINVAL with error_last()
 * naming the recipe value that cannot be rendered (e.g. a newline in a
 * label); `files` then holds whatever was rendered before.
 */
int render_plan(const struct plan *p, const char *out_dir, const char *version, struct vec *files);

/*
 * Write each file under `out_dir`: an empty `out_dir` is filled at once
 * (fs_fill_empty_dir, copies as hard links), else the files go as one
 * fs_batch, where a file that already has the same bytes is not rewritten.
 * Either way every file is the old one or the new one, never half-written.
 * Returns 0 or GS_EINFRA with "cannot write '<path>': <reason>".
 */
int render_write(const struct vec *files, const char *out_dir);

/* The parts, for tests and for other front ends. Each appends to `out`. */
int render_dockerfile(const struct plan *p, const struct plan_cell *c, const char *version,
		      struct strbuf *out);
int render_bake(const struct plan *p, const char *out_dir, const char *version, struct strbuf *out);
int render_dockerignore(const struct plan *p, const char *out_dir, struct strbuf *out);

/*
 * Quoting, one helper per target syntax. Each appends `s` to `out`.
 *
 * render_shell_quote: one POSIX shell word in single quotes; a `'` inside
 *   becomes '\''. Every recipe value that reaches a RUN line goes through it.
 * render_docker_quote: a double-quoted Dockerfile value (LABEL, ENV), with
 *   `\`, `"` and `$` escaped so BuildKit neither expands nor ends it.
 * render_docker_word: one unquoted Dockerfile word that BuildKit expands
 *   (COPY/VOLUME JSON items, WORKDIR): `\`, `$`, quotes and blanks escaped.
 * render_json_string: a JSON string (exec-form CMD/ENTRYPOINT).
 * render_hcl_string: an HCL string: `\\`, `\"`, `\n`..., and the template
 *   openers `${` and `%{` doubled to `$${` and `%%{`.
 */
void render_shell_quote(struct strbuf *out, const char *s);
void render_docker_quote(struct strbuf *out, const char *s);
void render_docker_word(struct strbuf *out, const char *s);
void render_json_string(struct strbuf *out, const char *s);
void render_hcl_string(struct strbuf *out, const char *s);

/* The recipe's file name without its directory (headers name no machine path). */
const char *render_recipe_name(const struct plan *p);
/* app.path relative to the recipe's directory ("." by default); newly allocated. */
char *render_context_dir(const struct plan *p);
/* `out_dir` relative to the build context when it lies inside it ("." when it
 * is the context), else NULL; newly allocated. */
char *render_out_in_context(const struct plan *p, const char *out_dir);

/* 1 when `name` is a valid bake target name: [a-zA-Z0-9_-]+. */
int render_is_target_name(const char *name);

#endif
