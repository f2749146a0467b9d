#include <stdlib.h>

#include "cli/cli.h"
#include "cli/image_opts.h"
#include "core/image.h"

int cli_image_source(enum image_source *source, const char *arg, const char *platform)
{
	if ((arg && inspect_parse_source(arg, source) < 0) ||
	    (platform && image_check_platform(platform) < 0)) {
		cli_error_last();
		return -1;
	}
	return 0;
}

int cli_image_knowledge(struct inspect_opts *io, struct knowledge **kb,
			const struct vec *plugin_dirs, const char *docker, const char *platform,
			size_t top)
{
	if (knowledge_load(kb, plugin_dirs) < 0) {
		cli_error_last();
		return -1;
	}
	io->docker = docker ? docker : getenv("GPUSLIM_DOCKER");
	io->platform = platform;
	io->kb = *kb;
	io->top = top;
	return 0;
}

int cli_exit_for_image(int ret)
{
	int code = cli_exit_for(ret);

	return code == EXIT_OK || code == EXIT_FAILED ? EXIT_INFRA : code;
}
