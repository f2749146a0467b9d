#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "core/report.h"
#include "util/fs.h"

/*
 * The reports a command writes to files (--junit, --markdown,
 * --markdown-append), for inspect, gate and build alike: each through
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
	strbuf_release(&sb);
	return ret;
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
