#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/inspect.h"
#include "core/knowledge.h"
#include "core/report.h"

/*
 * inspect: analyze any image (engine, registry, docker-save archive, OCI
 * layout) and show it: a summary on stdout, or the report JSON with
 * --json; --markdown FILE for CI. No gates: exit 0 unless the image
 * cannot be read.
 */

static const char *image_name;
static const char *source_arg;
static const char *platform_arg;
static const char *base_ref;
static const char *markdown_path;
static const char *top_arg;
static const char *docker_path;
static int json_out;
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
    {CLI_OPT_VALUE, "markdown", 0, &markdown_path, "FILE", "also write a Markdown report", 0},
    {CLI_OPT_VALUE, "top", 0, &top_arg, "N", "entries in each biggest-first list (default 10)", 0},
    {CLI_OPT_VALUE, "docker", 0, &docker_path, "PATH", "the docker client to use", 0},
    {CLI_OPT_LIST, "plugins", 0, &plugin_dirs, "DIR", "also load knowledge plugins from DIR", 0},
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

int cli_parse_top(const char *arg, size_t *top)
{
	char *end;
	long v;

	*top = 0;
	if (!arg)
		return 0;
	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > 100000) {
		cli_error("--top wants a number from 1 to 100000, not '%s'", arg);
		return -1;
	}
	*top = (size_t)v;
	return 0;
}

int cli_print_report(const struct report_item *it, int as_json, size_t top, const char *junit,
		     const char *markdown)
{
	struct strbuf sb = STRBUF_INIT;
	int ret = 0;

	if (as_json) {
		char *s = json_dumps(it->report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (s)
			printf("%s\n", s);
		free(s);
	} else {
		report_human(it, top, &sb);
		fputs(sb.buf, stdout);
	}
	if (junit) {
		strbuf_reset(&sb);
		report_junit(it, 1, &sb);
		if (report_write(junit, &sb) < 0) {
			cli_error_last();
			ret = -1;
		}
	}
	if (markdown) {
		strbuf_reset(&sb);
		report_markdown(it, 1, top, &sb);
		if (report_write(markdown, &sb) < 0) {
			cli_error_last();
			ret = -1;
		}
	}
	strbuf_release(&sb);
	return ret;
}

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
	if ((source_arg && inspect_parse_source(source_arg, &io.source) < 0) ||
	    (platform_arg && image_check_platform(platform_arg) < 0)) {
		cli_error_last();
		code = EXIT_USAGE;
		goto done;
	}
	if (cli_parse_top(top_arg, &top) < 0) {
		code = EXIT_USAGE;
		goto done;
	}
	if (knowledge_load(&kb, &plugin_dirs) < 0) {
		cli_error_last();
		code = EXIT_USAGE;
		goto done;
	}
	io.docker = docker_path ? docker_path : getenv("GPUSLIM_DOCKER");
	io.base = base_ref;
	io.platform = platform_arg;
	io.kb = kb;
	io.top = top;
	ret = inspect_image(image_name, &io, &report, &note);
	if (note)
		fprintf(stderr, "note: %s\n", note);
	if (ret < 0) {
		cli_error_last();
		code = cli_exit_for(ret) == EXIT_OK ? EXIT_INFRA : cli_exit_for(ret);
		if (code == EXIT_FAILED)
			code = EXIT_INFRA;
		goto done;
	}
	{
		struct report_item it = {image_name, report, NULL, NULL};

		if (cli_print_report(&it, json_out, top, NULL, markdown_path) < 0)
			code = EXIT_INFRA;
	}
done:
	json_decref(report);
	free(note);
	knowledge_free(kb);
	vec_release(&plugin_dirs);
	return cli_finish_stdout(code);
}
