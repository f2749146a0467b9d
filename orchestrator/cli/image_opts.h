#ifndef GS_CLI_IMAGE_OPTS_H
#define GS_CLI_IMAGE_OPTS_H

#include <stddef.h>

#include "core/inspect.h"
#include "core/knowledge.h"
#include "util/vec.h"

/*
 * The options every command that reads an image takes the same way
 * (inspect, diff, run, gate): --source, --platform, --docker, --plugins,
 * --top, into the struct inspect_opts (or image_opts) the caller owns and
 * has zeroed.
 * Each function says its error (cli_error_last()) before it returns -1.
 */

/* --source `arg` (NULL: auto) into *source (struct inspect_opts' or
 * struct image_opts'), --platform (NULL: the default) checked: 0, or -1
 * said. */
int cli_image_source(enum image_source *source, const char *arg, const char *platform);

/* The knowledge (the packaged one and the --plugins directories) into *kb,
 * which the caller frees with knowledge_free(), and into io->kb; the docker
 * client (`docker`, else $GPUSLIM_DOCKER), the platform and top into io:
 * 0, or -1 said. */
int cli_image_knowledge(struct inspect_opts *io, struct knowledge **kb,
			const struct vec *plugin_dirs, const char *docker, const char *platform,
			size_t top);

/* The exit code for inspect_image()'s return `ret` (< 0): EXIT_USAGE for a
 * name that is no image, else EXIT_INFRA (no gate ran, so never
 * EXIT_FAILED). */
int cli_exit_for_image(int ret);

#endif
