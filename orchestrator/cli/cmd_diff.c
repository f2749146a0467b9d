#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/image_opts.h"
#include "core/diff.h"
#include "core/gate.h"
#include "core/inspect.h"
#include "core/knowledge.h"
#include "core/recipe.h"
#include "core/report.h"
#include "util/fs.h"

/*
 * diff: what changed between two images (any source inspect reads) or two
 * saved reports (inspect --json; with --sizemap for the paths): by layer,
 * package, CUDA component and path, biggest first. Text on stdout, or the
 * document as JSON; --markdown FILE, --html FILE. Exit 1 when B grew more
 * than --fail-on-growth allows.
 */

static const char *arg_a, *arg_b;
static const char *source_arg;
static const char *platform_arg;
static const char *top_arg;
static const char *docker_path;
static const char *fail_on_growth;
static const char *markdown_path;
static const char *html_path;
static int json_out;
static struct vec plugin_dirs = VEC_INIT(free);

static const struct cli_opt diff_opts[] = {
    {CLI_OPT_ARG, "A", 0, &arg_a, "A",
     "the image before: an image ref, a docker-save tar, an OCI layout or a saved report",
     CLI_REQUIRED},
    {CLI_OPT_ARG, "B", 0, &arg_b, "B", "the image after, the same kinds", CLI_REQUIRED},
    {CLI_OPT_VALUE, "source", 0, &source_arg, "SOURCE",
     "where images are read: auto (default), engine, registry, archive or oci", 0},
    {CLI_OPT_VALUE, "platform", 0, &platform_arg, "OS/ARCH[/VARIANT]",
     "the platform's image of a multi-platform one (default linux/amd64)", 0},
    {CLI_OPT_SWITCH, "json", 0, &json_out, NULL, "print the difference as JSON", 0},
    {CLI_OPT_VALUE, "markdown", 0, &markdown_path, "FILE",
     "write the difference as Markdown (\"-\": stdout)", 0},
    {CLI_OPT_VALUE, "html", 0, &html_path, "FILE",
     "write the difference as one self-contained HTML page (a treemap of it)", 0},
    {CLI_OPT_VALUE, "fail-on-growth", 0, &fail_on_growth, "SIZE|PCT",
     "exit 1 when B is bigger than A by more than SIZE (500MB) or PCT (5%)", 0},
    {CLI_OPT_VALUE, "top", 0, &top_arg, "N",
     "entries in each biggest-first list (default 10; --json and --html: 50 paths)", 0},
    {CLI_OPT_VALUE, "docker", 0, &docker_path, "PATH", "the docker client to use", 0},
    {CLI_OPT_LIST, "plugins", 0, &plugin_dirs, "DIR", "also load knowledge plugins from DIR", 0},
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

/* --fail-on-growth: "5%" (a number, then '%') or a size: 0, or -1 said. */
static int parse_growth(const char *s, int *pct, double *percent, uint64_t *bytes)
{
	size_t n = strlen(s);

	*pct = n > 1 && s[n - 1] == '%';
	if (*pct) {
		char *end;

		if (strspn(s, "0123456789.") != n - 1)
			goto bad;
		*percent = strtod(s, &end);
		if (end != s + n - 1 || *percent < 0)
			goto bad;
		return 0;
	}
	if (recipe_parse_size(s, bytes) == 0)
		return 0;
bad:
	cli_error("--fail-on-growth wants a size (500MB) or a percentage (5%%), not '%s'", s);
	return -1;
}

/* A saved report: a regular file whose first non-blank byte is '{'. */
static int is_report_file(const char *path)
{
	struct stat st;
	char buf[64];
	ssize_t n;
	int fd, ret = 0;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r')
			continue;
		ret = buf[i] == '{';
		break;
	}
	close(fd);
	return ret;
}

/* One side: a saved report, else an image analyzed with its sizemap. The
 * exit code for a failure (said), or EXIT_OK. */
static int load_side(const char *name, const struct inspect_opts *io, json_t **out)
{
	*out = NULL;
	if (is_report_file(name)) {
		struct strbuf sb = STRBUF_INIT;
		json_error_t err;

		if (fs_read_file(name, &sb, 512u << 20) < 0) {
			cli_error_last();
			return EXIT_USAGE;
		}
		*out = json_loadb(sb.buf, sb.len, 0, &err);
		strbuf_release(&sb);
		if (!*out) {
			cli_error("report '%s': line %d, column %d: %s", name, err.line, err.column,
				  err.text);
			return EXIT_USAGE;
		}
		if (!json_is_integer(json_object_get(json_object_get(*out, "summary"), "size"))) {
			cli_error(
			    "report '%s': no summary.size: want a report (gpuslim inspect --json)",
			    name);
			json_decref(*out);
			*out = NULL;
			return EXIT_USAGE;
		}
		return EXIT_OK;
	}
	{
		char *note = NULL;
		int ret = inspect_image(name, io, out, &note);

		if (note)
			fprintf(stderr, "note: %s: %s\n", name, note);
		free(note);
		if (ret >= 0)
			return EXIT_OK;
		cli_error_last();
		return cli_exit_for_image(ret);
	}
}

int cmd_diff(int argc, char **argv)
{
	struct knowledge *kb = NULL;
	struct inspect_opts io;
	json_t *ra = NULL, *rb = NULL, *d = NULL;
	struct strbuf sb = STRBUF_INIT;
	size_t top;
	int ret, code = EXIT_OK, pct = 0;
	double percent = 0;
	uint64_t limit = 0;

	ret = cli_parse(cli_find_cmd("diff"), diff_opts, argc, argv);
	if (ret) {
		vec_release(&plugin_dirs);
		return ret < 0 ? EXIT_OK : ret;
	}
	memset(&io, 0, sizeof(io));
	if (cli_image_source(&io.source, source_arg, platform_arg) < 0 ||
	    cli_parse_top(top_arg, &top) < 0 ||
	    (fail_on_growth && parse_growth(fail_on_growth, &pct, &percent, &limit) < 0) ||
	    cli_image_knowledge(&io, &kb, &plugin_dirs, docker_path, platform_arg, top) < 0) {
		code = EXIT_USAGE;
		goto done;
	}
	io.sizemap = 1;
	if ((code = load_side(arg_a, &io, &ra)) != EXIT_OK ||
	    (code = load_side(arg_b, &io, &rb)) != EXIT_OK)
		goto done;
	if (diff_reports(ra, rb, arg_a, arg_b, top ? top : 50, &d) < 0) {
		cli_error_last();
		code = EXIT_USAGE;
		goto done;
	}
	if (json_out) {
		char *s = json_dumps(d, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (!s) {
			cli_error("cannot encode the difference as JSON");
			code = EXIT_INFRA;
			goto done;
		}
		printf("%s\n", s);
		free(s);
	} else {
		diff_human(d, top, &sb);
		fputs(sb.buf, stdout);
	}
	if (markdown_path) {
		strbuf_reset(&sb);
		diff_markdown(d, top, &sb);
		fflush(stdout);
		if (report_write(markdown_path, &sb, 0) < 0) {
			cli_error_last();
			code = EXIT_INFRA;
		}
	}
	if (html_path) {
		strbuf_reset(&sb);
		fflush(stdout);
		if (report_html_diff(d, &sb) < 0 || report_write(html_path, &sb, 0) < 0) {
			cli_error_last();
			code = EXIT_INFRA;
		}
	}
	if (code == EXIT_OK && fail_on_growth) {
		long long a =
		    json_integer_value(json_object_get(json_object_get(ra, "summary"), "size"));
		long long b =
		    json_integer_value(json_object_get(json_object_get(rb, "summary"), "size"));
		long long growth = b - a;
		int over = pct ? (double)growth * 100.0 > percent * (double)a
			       : growth > 0 && (uint64_t)growth > limit;
		char g[64], l[64];

		gate_human_size(g, sizeof(g), growth);
		if (over) {
			if (pct)
				fprintf(stderr,
					"gpuslim: '%s' grew by %s (%lld bytes, %.2f%%) over '%s': "
					"more than --fail-on-growth %s\n",
					arg_b, g, growth,
					a ? (double)growth * 100.0 / (double)a : 100.0, arg_a,
					fail_on_growth);
			else {
				gate_human_size(l, sizeof(l), (long long)limit);
				fprintf(
				    stderr,
				    "gpuslim: '%s' grew by %s (%lld bytes) over '%s': more than "
				    "--fail-on-growth %s (%s)\n",
				    arg_b, g, growth, arg_a, fail_on_growth, l);
			}
			code = EXIT_FAILED;
		}
	}
done:
	json_decref(ra);
	json_decref(rb);
	json_decref(d);
	strbuf_release(&sb);
	knowledge_free(kb);
	vec_release(&plugin_dirs);
	return cli_finish_stdout(code);
}
