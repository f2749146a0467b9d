#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/annotate.h"
#include "core/recipe.h"
#include "cli/plan_load.h"
#include "core/report.h"
#include "core/sarif.h"
#include "util/fs.h"

/*
 * The reports a command writes to files (--junit, --markdown,
 * --markdown-append, --sarif) and the GitHub annotations on stderr, for
 * inspect, gate and build alike: each through
 * fs_write_output(), so a FIFO, a device, "-" or a link is written to and
 * never replaced.
 */

static int write_one(const char *path, const struct strbuf *sb, unsigned flags)
{
	/* "-" and /dev/stdout share stdout with what printf() buffered */
	fflush(stdout);
	if (report_write(path, sb, flags) < 0) {
		cli_error_last();
		return -1;
	}
	return 0;
}

/* The page of cell `name` beside the index `index`: "out/r.html" and
 * "a/b" give "out/r-a_b.html" (a byte other than [A-Za-z0-9._-] is '_'). */
static char *cell_page(const char *index, const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	size_t stem = strlen(index);

	if (stem > 5 && !strcmp(index + stem - 5, ".html"))
		stem -= 5;
	strbuf_add(&sb, index, stem);
	strbuf_addch(&sb, '-');
	for (const char *p = name; *p; p++)
		strbuf_addch(&sb, isalnum((unsigned char)*p) || strchr("._-", *p) ? *p : '_');
	strbuf_addstr(&sb, ".html");
	return strbuf_detach(&sb, NULL);
}

/* --html: one page, or for several items an index and a page per item. */
static int write_html(const struct report_item *items, size_t n, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	const char **pages;
	int ret = 0;

	if (n == 1) {
		if (report_html(&items[0], &sb) < 0) {
			cli_error_last();
			ret = -1;
		} else if (write_one(path, &sb, 0) < 0)
			ret = -1;
		strbuf_release(&sb);
		return ret;
	}
	if (!strcmp(path, "-")) {
		cli_error("--html -: a matrix has one page per cell; give a FILE for its index");
		return -1;
	}
	pages = xcalloc(n ? n : 1, sizeof(*pages));
	for (size_t i = 0; i < n; i++) {
		char *page = cell_page(path, items[i].name);
		const char *slash = strrchr(page, '/');

		strbuf_reset(&sb);
		if (report_html(&items[i], &sb) < 0) {
			cli_error_last();
			ret = -1;
		} else if (write_one(page, &sb, 0) < 0)
			ret = -1;
		pages[i] = xstrdup(slash ? slash + 1 : page);
		free(page);
	}
	strbuf_reset(&sb);
	report_html_index(items, pages, n, &sb);
	if (write_one(path, &sb, 0) < 0)
		ret = -1;
	for (size_t i = 0; i < n; i++)
		free((char *)pages[i]);
	free(pages);
	strbuf_release(&sb);
	return ret;
}

int cli_write_reports(const struct report_item *items, size_t n, size_t top,
		      const struct cli_report_files *f)
{
	struct strbuf sb = STRBUF_INIT;
	int ret = 0;

	if (f->junit) {
		report_junit(items, n, &sb);
		if (write_one(f->junit, &sb, 0) < 0)
			ret = -1;
	}
	if (f->markdown || f->markdown_append) {
		strbuf_reset(&sb);
		report_markdown(items, n, top, &sb);
		if (f->markdown && write_one(f->markdown, &sb, 0) < 0)
			ret = -1;
		if (f->markdown_append && write_one(f->markdown_append, &sb, FS_OUTPUT_APPEND) < 0)
			ret = -1;
	}
	if (f->sarif) {
		char *uri = f->recipe ? cli_repo_path(f->recipe->file) : NULL;
		struct sarif_opts so = {f->recipe, uri, GPUSLIM_VERSION};
		json_t *log = sarif_log(items, n, &so);
		char *s = log ? json_dumps(log, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

		strbuf_reset(&sb);
		if (!s) {
			cli_error("cannot encode the SARIF log");
			ret = -1;
		} else {
			strbuf_addstr(&sb, s);
			strbuf_addch(&sb, '\n');
			if (write_one(f->sarif, &sb, 0) < 0)
				ret = -1;
		}
		free(s);
		json_decref(log);
		free(uri);
	}
	if (f->annotate) {
		char *file = f->recipe ? cli_repo_path(f->recipe->file) : NULL;

		strbuf_reset(&sb);
		annotate_github(items, n, f->recipe, file, &sb);
		fflush(stdout);
		fputs(sb.buf, stderr);
		free(file);
	}
	if (f->html && write_html(items, n, f->html) < 0)
		ret = -1;
	strbuf_release(&sb);
	return ret;
}

int cli_want_annotations(struct cli_report_files *f)
{
	const char *gha = getenv("GITHUB_ACTIONS");

	f->annotate =
	    f->github_annotations || (!f->no_github_annotations && gha && !strcmp(gha, "true"));
	return f->annotate;
}

char *cli_repo_path(const char *path)
{
	char *rel;

	if (!strcmp(path, CLI_STDIN_NAME))
		return xstrdup(path);
	rel = fs_relpath(".", path);
	if (!strcmp(rel, "..") || starts_with(rel, "../")) {
		free(rel);
		return xstrdup(path);
	}
	return rel;
}

int cli_print_report(const struct report_item *it, int as_json, size_t top,
		     const struct cli_report_files *f)
{
	struct strbuf sb = STRBUF_INIT;

	if (as_json) {
		char *s = json_dumps(it->report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (!s) {
			strbuf_release(&sb);
			cli_error("cannot encode the report as JSON");
			return -1;
		}
		printf("%s\n", s);
		free(s);
	} else {
		report_human(it, top, &sb);
		fputs(sb.buf, stdout);
	}
	strbuf_release(&sb);
	return cli_write_reports(it, 1, top, f);
}
