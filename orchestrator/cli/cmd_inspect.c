#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/image_opts.h"
#include "core/inspect.h"
#include "core/knowledge.h"
#include "core/report.h"

/*
 * inspect: analyze any image (engine, registry, docker-save archive, OCI
 * layout) and show it: a summary on stdout, or the report JSON with
 * --json; --markdown FILE for CI, --html FILE for people. No gates: exit 0 unless the image
 * cannot be read.
 */

static const char *image_name;
static const char *source_arg;
static const char *platform_arg;
static const char *base_ref;
static struct cli_report_files report_files;
static const char *top_arg;
static const char *docker_path;
static int json_out;
static int sizemap;
static struct vec plugin_dirs = VEC_INIT(free);

static const struct cli_opt inspect_opts[] = {
    {CLI_OPT_ARG, "image", 0, &image_name, "IMAGE",
     "an image ref, a docker-save tar or an OCI layout directory", CLI_REQUIRED},
    {CLI_OPT_VALUE, "source", 0, &source_arg, "SOURCE",
     "auto (default), engine, registry, archive or oci", 0},
    {CLI_OPT_VALUE, "platform", 0, &platform_arg, "OS/ARCH[/VARIANT]",
     "the platform's image of a multi-platform one (default linux/amd64)", 0},
    {CLI_OPT_VALUE, "base", 0, &base_ref, "REF",
     "the base image (default: the image's org.opencontainers.image.base.name label)", 0},
    {CLI_OPT_SWITCH, "json", 0, &json_out, NULL, "print the report as JSON", 0},
    CLI_OPTS_MARKDOWN(report_files),
    CLI_OPT_SARIF(report_files),
    CLI_OPT_HTML(report_files),
    {CLI_OPT_SWITCH, "sizemap", 0, &sizemap, NULL,
     "add the sizemap (bytes per layer, directory and file) to the report", 0},
    {CLI_OPT_VALUE, "top", 0, &top_arg, "N", "entries in each biggest-first list (default 10)", 0},
    {CLI_OPT_VALUE, "docker", 0, &docker_path, "PATH", "the docker client to use", 0},
    {CLI_OPT_LIST, "plugins", 0, &plugin_dirs, "DIR", "also load knowledge plugins from DIR", 0},
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

int cmd_inspect(int argc, char **argv)
{
	struct knowledge *kb = NULL;
	struct inspect_opts io;
	json_t *report = NULL;
	char *note = NULL;
	size_t top;
	int ret, code = EXIT_OK;

	ret = cli_parse(cli_find_cmd("inspect"), inspect_opts, argc, argv);
	if (ret) {
		vec_release(&plugin_dirs);
		return ret < 0 ? EXIT_OK : ret;
	}
	memset(&io, 0, sizeof(io));
	if (cli_image_source(&io.source, source_arg, platform_arg) < 0 ||
	    cli_parse_top(top_arg, &top) < 0 ||
	    cli_image_knowledge(&io, &kb, &plugin_dirs, docker_path, platform_arg, top) < 0) {
		code = EXIT_USAGE;
		goto done;
	}
	io.base = base_ref;
	io.sizemap = sizemap || report_files.html;
	ret = inspect_image(image_name, &io, &report, &note);
	if (note)
		fprintf(stderr, "note: %s\n", note);
	if (ret < 0) {
		cli_error_last();
		code = cli_exit_for_image(ret);
		goto done;
	}
	{
		struct report_item it = {image_name, report, NULL, NULL};

		if (cli_print_report(&it, json_out, top, &report_files) < 0)
			code = EXIT_INFRA;
	}
done:
	json_decref(report);
	free(note);
	knowledge_free(kb);
	vec_release(&plugin_dirs);
	return cli_finish_stdout(code);
}
