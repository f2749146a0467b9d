#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buildreport.h"
#include "core/promote.h"
#include "core/registry.h"
#include "util/fs.h"
#include "util/signals.h"

/*
 * report: what a CI matrix does with the build reports of its jobs.
 *
 *   gpuslim report merge A.json B.json ... [--json F] [--junit F] [--markdown F]
 *	the reports of `build --cell ID` jobs as the one report (and JUnit and
 *	Markdown) a single build of those cells writes; exit 1 when a cell of
 *	the matrix failed or is missing, as build's.
 *   gpuslim report promote MERGED.json
 *	move every cell's final tag to its staged digest, all or nothing
 *	(core/promote.h).
 */

static const struct cli_cmd report_merge_cmd = {
    "report merge", NULL,
    "merge the build reports of a CI matrix's jobs (build --cell ID --json F) into one: "
    "JSON, JUnit and Markdown as one build of the same cells writes them",
    "Refused (exit 2): reports of different recipes (recipe_sha256) or one cell in two "
    "reports.\n"
    "exit codes: 0 every cell of the matrix built and passed its gates, 1 a cell failed, was\n"
    "cancelled or is in no report, 2 bad usage or a report that is not one, 3 a file cannot\n"
    "be read or written.\n"};

static const struct cli_cmd report_promote_cmd = {
    "report promote", NULL,
    "move every cell's final tag to exactly the digest its job staged (build --cell ID --push "
    "--stage SUFFIX), only when every cell of the matrix passed and every staged image is "
    "still in the registry",
    "All or nothing: every staged manifest and every final tag is read first, then the\n"
    "manifests are PUT through the registry API (no engine). When a PUT fails, the tags\n"
    "moved so far are put back; a tag that did not exist before stays at its new digest\n"
    "(the registry API cannot remove a tag alone), and the output says so, tag by tag.\n"
    "exit codes: 0 every tag moved, 1 refused (a cell failed, was not pushed, is missing,\n"
    "or its staged image is gone; nothing written), 2 bad usage or report, or a registry\n"
    "refused the credentials, 3 a registry failed (a PUT failed midway: see what was put\n"
    "back), 130 interrupted (what moved was put back).\n"};

static const struct cli_cmd report_cmd = {
    "report", NULL, "merge a CI matrix's build reports, promote its staged images",
    "subcommands:\n"
    "  merge A.json B.json ... [--json F] [--junit F] [--markdown F]\n"
    "  promote MERGED.json\n"
    "'gpuslim report merge --help' and 'gpuslim report promote --help' show their options.\n"};

static void report_usage(FILE *out)
{
	static const struct cli_opt none[] = {{CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0}};

	cli_usage(out, &report_cmd, none);
}

/* Read every report, or print the first problem: EXIT_OK, EXIT_USAGE, EXIT_INFRA. */
static int read_reports(const struct vec *paths, json_t **reports)
{
	for (size_t i = 0; i < paths->nr; i++) {
		int ret = buildreport_read(paths->items[i], &reports[i]);

		if (ret < 0) {
			cli_error_last();
			return ret == GS_EINFRA ? EXIT_INFRA : EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

static int report_merge(int argc, char **argv)
{
	struct vec paths = VEC_INIT(free), missing = VEC_INIT(NULL);
	struct cli_report_files files;
	const char *json_path = NULL;
	const struct cli_opt opts[] = {
	    {CLI_OPT_ARGS, "reports", 0, &paths, "REPORT.json",
	     "the build reports of the jobs (gpuslim build --cell ID --json F)", 0},
	    {CLI_OPT_VALUE, "json", 0, &json_path, "FILE",
	     "write the merged build report (JSON) to FILE (\"-\": stdout)", 0},
	    CLI_OPT_JUNIT(files),
	    CLI_OPTS_MARKDOWN(files),
	    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
	};
	json_t **reports = NULL, *merged = NULL;
	struct buildreport_items bi;
	char *text = NULL;
	size_t failed = 0, n;
	int ret, code = EXIT_OK;

	memset(&bi, 0, sizeof(bi));
	memset(&files, 0, sizeof(files)); /* before cli_parse() fills it */
	ret = cli_parse(&report_merge_cmd, opts, argc, argv);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (!paths.nr) {
		fprintf(stderr, "gpuslim report merge: name the reports to merge\n\n");
		cli_usage(stderr, &report_merge_cmd, opts);
		code = EXIT_USAGE;
		goto done;
	}
	reports = xcalloc(paths.nr, sizeof(*reports));
	if ((code = read_reports(&paths, reports)) != EXIT_OK)
		goto done;
	if (buildreport_merge(reports, (const char *const *)paths.items, paths.nr, &merged) < 0) {
		cli_error_last();
		code = EXIT_USAGE;
		goto done;
	}
	if (buildreport_items(merged, &bi) < 0) {
		cli_error_last();
		code = EXIT_USAGE;
		goto done;
	}
	if (json_path) {
		text = json_dumps(merged, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (!text) {
			cli_error("cannot encode the merged report");
			code = EXIT_INFRA;
			goto done;
		} else {
			struct strbuf sb = STRBUF_INIT;

			strbuf_addf(&sb, "%s\n", text);
			if (fs_write_output(json_path, sb.buf, sb.len, 0) < 0) {
				cli_error_last();
				code = EXIT_INFRA;
			}
			strbuf_release(&sb);
		}
	}
	if (cli_write_reports(bi.items, bi.nr, 0, &files) < 0)
		code = EXIT_INFRA;
	/* What a reader of the CI log wants: which cells failed, which are missing. */
	buildreport_missing(merged, &missing);
	n = json_array_size(json_object_get(merged, "cells"));
	for (size_t i = 0; i < n; i++) {
		const json_t *c = json_array_get(json_object_get(merged, "cells"), i);

		if (!buildreport_cell_passed(c)) {
			const json_t *gate = json_object_get(c, "gate");

			fprintf(stderr, "gpuslim: cell '%s': %s\n",
				json_string_value(json_object_get(c, "id")),
				strcmp(json_string_value(json_object_get(c, "status")), "ok")
				    ? json_string_value(json_object_get(c, "status"))
				    : json_string_value(json_object_get(gate, "status")));
			failed++;
		}
	}
	for (size_t i = 0; i < missing.nr; i++)
		fprintf(stderr, "gpuslim: cell '%s' is in none of the reports\n",
			(const char *)missing.items[i]);
	if (failed || missing.nr) {
		fprintf(stderr,
			"gpuslim: merged %zu reports: %zu of %zu cells failed, %zu missing\n",
			paths.nr, failed, n + missing.nr, missing.nr);
		if (code == EXIT_OK)
			code = EXIT_FAILED;
	} else {
		fprintf(stderr, "merged %zu report%s: %zu of %zu cells built, every gate passed\n",
			paths.nr, paths.nr == 1 ? "" : "s", n, n);
	}
done:
	buildreport_items_release(&bi);
	free(text);
	json_decref(merged);
	for (size_t i = 0; reports && i < paths.nr; i++)
		json_decref(reports[i]);
	free(reports);
	vec_release(&missing);
	vec_release(&paths);
	return cli_finish_stdout(code);
}

static const char *short_digest(const char *d)
{
	return d ? d : "none";
}

/* After a failed PUT: each touched tag, where it points now, and why. */
static void print_aftermath(const struct promotion *pr)
{
	for (size_t i = 0; i < pr->nr; i++) {
		const struct promote_cell *pc = &pr->cells[i];

		switch (pc->state) {
		case PROMOTE_PENDING:
			fprintf(stderr, "gpuslim: %s: not touched (still %s)\n", pc->image,
				short_digest(pc->old_digest));
			break;
		case PROMOTE_MOVED:
			break;
		case PROMOTE_FAILED:
			fprintf(stderr,
				"gpuslim: %s: its PUT failed; it points at %s (before: %s)\n",
				pc->image, short_digest(pc->now), short_digest(pc->old_digest));
			break;
		case PROMOTE_RESTORED:
			fprintf(stderr, "gpuslim: %s: put back to %s (now %s)\n", pc->image,
				pc->old_digest, short_digest(pc->now));
			break;
		case PROMOTE_LEFT:
			fprintf(stderr,
				"gpuslim: %s: LEFT at the staged %s: the tag did not exist before, "
				"and the registry API cannot remove a tag alone\n",
				pc->image, short_digest(pc->now));
			break;
		case PROMOTE_RESTORE_FAILED:
			fprintf(stderr,
				"gpuslim: %s: could NOT be put back to %s (%s); it points at %s\n",
				pc->image, pc->old_digest, pc->error, short_digest(pc->now));
			break;
		}
	}
}

static int report_promote(int argc, char **argv)
{
	const char *path = NULL;
	const struct cli_opt opts[] = {
	    {CLI_OPT_ARG, "report", 0, &path, "MERGED.json",
	     "the merged build report (gpuslim report merge ... --json F)", CLI_REQUIRED},
	    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
	};
	struct vec problems = VEC_INIT(free), paths = VEC_INIT(NULL);
	struct promotion pr;
	struct registry_client *rc = NULL;
	json_t *report = NULL;
	int ret, code = EXIT_OK;

	memset(&pr, 0, sizeof(pr));
	ret = cli_parse(&report_promote_cmd, opts, argc, argv);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	vec_push(&paths, (void *)path);
	if ((code = read_reports(&paths, &report)) != EXIT_OK)
		goto done;
	if (promote_from_report(report, path, &pr, &problems) < 0) {
		for (size_t i = 0; i < problems.nr; i++)
			fprintf(stderr, "gpuslim: %s\n", (const char *)problems.items[i]);
		cli_error("not promoting: %s; no tag was touched", error_last());
		code = EXIT_FAILED;
		goto done;
	}
	/* From here an interrupt is ours to handle: between two PUTs it stops
	 * the moves and puts back what moved (exit 130), never leaves half. */
	if (signals_install() < 0) {
		cli_error_last();
		code = EXIT_INFRA;
		goto done;
	}
	rc = registry_client_new(NULL);
	ret = promote_fetch(rc, &pr, &problems);
	if (ret == GS_ENOTFOUND) {
		for (size_t i = 0; i < problems.nr; i++)
			fprintf(stderr, "gpuslim: %s\n", (const char *)problems.items[i]);
		cli_error("not promoting: %s; no tag was touched", error_last());
		code = EXIT_FAILED;
		goto done;
	}
	if (ret < 0) {
		cli_error("not promoting: %s; no tag was touched", error_last());
		code = ret == GS_EINFRA ? EXIT_INFRA : EXIT_USAGE;
		goto done;
	}
	if (signals_caught()) {
		cli_error("interrupted before any tag was touched");
		code = EXIT_INTERRUPTED;
		goto done;
	}
	ret = promote_apply(rc, &pr);
	for (size_t i = 0; i < pr.nr; i++)
		if (pr.cells[i].state == PROMOTE_MOVED)
			printf("promoted %s@%s (was %s)\n", pr.cells[i].image, pr.cells[i].digest,
			       short_digest(pr.cells[i].old_digest));
	if (ret < 0) {
		cli_error("promotion failed: %s", error_last());
		print_aftermath(&pr);
		code = signals_caught() ? EXIT_INTERRUPTED : EXIT_INFRA;
		goto done;
	}
	fprintf(stderr, "promoted %zu cell%s: every tag points at its staged digest\n", pr.nr,
		pr.nr == 1 ? "" : "s");
done:
	signals_uninstall();
	promote_release(&pr);
	registry_client_free(rc);
	json_decref(report);
	vec_release(&problems);
	vec_release(&paths);
	return cli_finish_stdout(code);
}

int cmd_report(int argc, char **argv)
{
	if (argc < 2) {
		report_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		report_usage(stdout);
		return cli_finish_stdout(EXIT_OK);
	}
	if (!strcmp(argv[1], "merge"))
		return report_merge(argc - 1, argv + 1);
	if (!strcmp(argv[1], "promote"))
		return report_promote(argc - 1, argv + 1);
	fprintf(stderr, "gpuslim report: '%s' is not a subcommand (merge, promote)\n\n", argv[1]);
	report_usage(stderr);
	return EXIT_USAGE;
}
