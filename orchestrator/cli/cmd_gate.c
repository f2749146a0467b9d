#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/image_opts.h"
#include "cli/plan_load.h"
#include "core/baseline.h"
#include "core/engine.h"
#include "core/gate.h"
#include "core/inspect.h"
#include "core/knowledge.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "core/report.h"
#include "core/smoke.h"
#include "core/verify.h"
#include "util/fs.h"
#include "util/signals.h"

/*
 * gate: analyze an image and hold it to a recipe: budgets, rules, smoke
 * tests. stdout: the summary (or the report with "gates" and "status"
 * under --json); stderr: notes and the verdict line. Exit 0 when every
 * gate passed, 1 when one failed. --baseline REF reads the report attached
 * to the last release in its registry (else analyzes it), --attach-report
 * attaches this one to IMAGE (core/baseline.h).
 */

static const char *image_name;
static const char *recipe_path;
static const char *cell_id;
static const char *baseline_path;
static struct cli_report_files report_files;
static const char *source_arg;
static const char *platform_arg;
static const char *base_ref;
static const char *top_arg;
static const char *docker_path;
static const char *runner_arg;
static int json_out, require_gpu, no_smoke, attach_report;
static struct vec plugin_dirs = VEC_INIT(free);
static struct vec driver_dirs = VEC_INIT(free);

static const struct cli_opt gate_opts[] = {
    {CLI_OPT_ARG, "image", 0, &image_name, "IMAGE",
     "an image ref, a docker-save tar or an OCI layout directory", CLI_REQUIRED},
    {CLI_OPT_VALUE, "recipe", 0, &recipe_path, "RECIPE",
     "the recipe whose budgets, rules and smoke tests apply", CLI_REQUIRED},
    {CLI_OPT_VALUE, "cell", 0, &cell_id, "ID",
     "the matrix cell the image was built from (default: the only one, or the one whose "
     "image ref is IMAGE)",
     0},
    {CLI_OPT_VALUE, "baseline", 0, &baseline_path, "FILE|REF",
     "budgets.growth against a saved report (an existing file, or a name starting with / ./ "
     "../ or ending in .json) or an image in a registry (the last release): the report "
     "attached to it, else an analysis of it",
     0},
    {CLI_OPT_SWITCH, "attach-report", 0, &attach_report, NULL,
     "attach the report to IMAGE in its registry (an OCI artifact whose subject is the image; "
     "a later --baseline IMAGE finds it)",
     0},
    {CLI_OPT_SWITCH, "require-gpu", 0, &require_gpu, NULL,
     "a gpu smoke test without a GPU fails instead of skipping", 0},
    {CLI_OPT_SWITCH, "no-smoke", 0, &no_smoke, NULL, "do not run the smoke tests", 0},
    {CLI_OPT_VALUE, "runner", 0, &runner_arg, "docker|rootfs",
     "run the smoke tests in containers (docker, the default) or, with no engine, in the "
     "image unpacked into a temporary directory (rootfs: bwrap or chroot, as gpuslim run)",
     0},
    {CLI_OPT_LIST, "driver-dir", 0, &driver_dirs, "DIR",
     "--runner rootfs: the GPU driver's libraries are in DIR (e.g. /usr/local/nvidia/lib64)", 0},
    {CLI_OPT_SWITCH, "json", 0, &json_out, NULL,
     "print the report with \"gates\" and \"status\" as JSON", 0},
    CLI_OPT_JUNIT(report_files),
    CLI_OPTS_MARKDOWN(report_files),
    CLI_OPT_SARIF(report_files),
    CLI_OPTS_GITHUB_ANNOTATIONS(report_files),
    CLI_OPT_HTML(report_files),
    {CLI_OPT_VALUE, "source", 0, &source_arg, "SOURCE",
     "auto (default), engine, registry, archive or oci", 0},
    {CLI_OPT_VALUE, "platform", 0, &platform_arg, "OS/ARCH[/VARIANT]",
     "the platform's image of a multi-platform one (default linux/amd64)", 0},
    {CLI_OPT_VALUE, "base", 0, &base_ref, "REF",
     "the base image (default: the image's org.opencontainers.image.base.name label)", 0},
    {CLI_OPT_VALUE, "top", 0, &top_arg, "N", "entries in each biggest-first list (default 10)", 0},
    {CLI_OPT_VALUE, "docker", 0, &docker_path, "PATH", "the docker client to use", 0},
    {CLI_OPT_LIST, "plugins", 0, &plugin_dirs, "DIR", "also load knowledge plugins from DIR", 0},
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

/* The cell the image belongs to: --cell, the only one, or by image ref. */
static const struct plan_cell *pick_cell(const struct plan *p)
{
	struct strbuf ids = STRBUF_INIT;
	const struct plan_cell *c = NULL;

	for (size_t i = 0; i < p->cells_nr; i++) {
		const struct plan_cell *x = &p->cells[i];

		if (cell_id ? !strcmp(x->id, cell_id) : !strcmp(x->image_ref, image_name))
			c = x;
		strbuf_addf(&ids, "%s%s", i ? ", " : "", x->id);
	}
	if (!c && !cell_id && p->cells_nr == 1)
		c = &p->cells[0];
	if (!c && cell_id)
		cli_error("the recipe has no cell '%s'; it has %s", cell_id, ids.buf);
	else if (!c)
		cli_error("the recipe has %zu cells and none builds '%s': say which with --cell "
			  "(%s)",
			  p->cells_nr, image_name, ids.buf);
	strbuf_release(&ids);
	return c;
}

/* --baseline FILE: a saved report. */
static int load_baseline_file(json_t **out)
{
	struct strbuf sb = STRBUF_INIT;
	json_error_t err;

	if (fs_read_file(baseline_path, &sb, 256u << 20) < 0) {
		cli_error_last();
		return EXIT_USAGE;
	}
	if (!sb.len) {
		cli_error("baseline '%s' is empty: want a report (gpuslim gate --json)",
			  baseline_path);
		return EXIT_USAGE;
	}
	*out = json_loadb(sb.buf, sb.len, 0, &err);
	strbuf_release(&sb);
	if (!*out) {
		cli_error("baseline '%s': line %d, column %d: %s", baseline_path, err.line,
			  err.column, err.text);
		return EXIT_USAGE;
	}
	if (gate_check_baseline(*out) < 0) {
		cli_error("baseline '%s': %s", baseline_path, error_last());
		json_decref(*out);
		*out = NULL;
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int baseline_exit(int ret)
{
	return ret == GS_EINFRA ? EXIT_INFRA : EXIT_USAGE;
}

/* --baseline REF: the report attached to the image in its registry, else an
 * analysis of the image itself. *origin (a JSON object) says which. */
static int load_baseline_ref(struct registry_client *reg, const struct inspect_opts *io,
			     json_t **out, json_t **origin)
{
	struct baseline_origin o;
	struct inspect_opts bio = *io;
	char *note = NULL;
	int ret;

	ret = baseline_fetch_report(reg, baseline_path, platform_arg, out, &o);
	if (ret < 0) {
		cli_error("baseline '%s': %s", baseline_path, error_last());
		baseline_origin_release(&o);
		return baseline_exit(ret);
	}
	*origin = json_pack("{s:s,s:s,s:o,s:o,s:s}", "ref", baseline_path, "source",
			    *out ? "attached-report" : "analysis", "manifest_digest",
			    o.manifest_digest ? json_string(o.manifest_digest) : json_null(),
			    "artifact", o.artifact ? json_string(o.artifact) : json_null(),
			    "found_via", o.via_api ? "referrers-api" : "referrers-tag");
	if (*out) {
		fprintf(stderr, "baseline: the report attached to %s (%s, found through the %s)\n",
			baseline_path, o.artifact, o.via_api ? "referrers API" : "referrers tag");
		baseline_origin_release(&o);
		return EXIT_OK;
	}
	fprintf(stderr, "baseline: no report attached to %s (%s): analyzing it\n", baseline_path,
		o.manifest_digest);
	bio.source = IMAGE_SOURCE_REGISTRY;
	bio.base = NULL;
	bio.abort_fd = NULL;
	/* The manifest just read: a tag moved since would give another image. */
	{
		struct registry_ref r;
		char *pinned = NULL;

		if (registry_ref_parse(baseline_path, &r) == 0) {
			pinned = xstrfmt("%s/%s@%s", r.registry, r.repository, o.manifest_digest);
			registry_ref_release(&r);
		}
		ret = inspect_image(pinned ? pinned : baseline_path, &bio, out, &note);
		free(pinned);
	}
	baseline_origin_release(&o);
	free(note);
	if (ret < 0) {
		cli_error("baseline '%s': %s", baseline_path, error_last());
		return baseline_exit(ret);
	}
	return EXIT_OK;
}

/* --attach-report: the report onto IMAGE in its registry. */
static int attach_to_image(struct registry_client *reg, const json_t *report)
{
	struct baseline_origin o;
	int ret = baseline_attach_report(reg, image_name, platform_arg, report, &o);

	if (ret < 0) {
		cli_error_last();
		return baseline_exit(ret);
	}
	fprintf(stderr, "report attached to %s@%s as %s (%s)\n", image_name, o.manifest_digest,
		o.artifact, o.via_api ? "the registry indexes it" : "listed in the referrers tag");
	baseline_origin_release(&o);
	return EXIT_OK;
}

int cmd_gate(int argc, char **argv)
{
	struct vec results = VEC_INIT(gate_result_free);
	struct cli_planned pl = {0};
	const struct plan_cell *cell;
	struct engine e;
	struct smoke_gpu gpu = {0, NULL};
	struct smoke_opts so;
	struct verify_opts vo;
	json_t *report = NULL, *baseline = NULL, *origin = NULL;
	struct registry_client *reg = NULL;
	char *note = NULL;
	size_t top;
	enum smoke_runner runner = SMOKE_RUNNER_DOCKER;
	int ret, code = EXIT_OK, smoke = 0, is_file;

	memset(&e, 0, sizeof(e));
	vec_init(&e.notes, free);
	ret = cli_parse(cli_find_cmd("gate"), gate_opts, argc, argv);
	if (ret) {
		vec_release(&plugin_dirs);
		vec_release(&driver_dirs);
		engine_release(&e);
		return ret < 0 ? EXIT_OK : ret;
	}
	memset(&vo, 0, sizeof(vo));
	if (cli_image_source(&vo.inspect.source, source_arg, platform_arg) < 0) {
		code = EXIT_USAGE;
		goto done;
	}
	if ((code = cli_parse_runner(runner_arg, &driver_dirs, &runner)) != EXIT_OK)
		goto done;
	if (report_files.github_annotations && report_files.no_github_annotations) {
		cli_error("--github-annotations and --no-github-annotations contradict each other");
		code = EXIT_USAGE;
		goto done;
	}
	cli_want_annotations(&report_files);
	if (cli_parse_top(top_arg, &top) < 0) {
		code = EXIT_USAGE;
		goto done;
	}
	if (attach_report && image_name_is_file(image_name, vo.inspect.source)) {
		cli_error("--attach-report: '%s' is a file; a report is attached to an image in a "
			  "registry",
			  image_name);
		code = EXIT_USAGE;
		goto done;
	}
	if (baseline_path && baseline_arg_is_file(baseline_path) &&
	    (code = load_baseline_file(&baseline)) != EXIT_OK)
		goto done;
	code = cli_load_plan(recipe_path, &plugin_dirs, &pl);
	if (code != EXIT_OK)
		goto done;
	report_files.recipe = pl.recipe;
	if (!(cell = pick_cell(pl.plan))) {
		code = EXIT_USAGE;
		goto done;
	}
	/* docker runs the image in the engine: an archive or a layout is not there; the
	 * rootfs runner unpacks whatever the analysis reads. */
	is_file =
	    runner == SMOKE_RUNNER_DOCKER && image_name_is_file(image_name, vo.inspect.source);
	smoke = !no_smoke && cell->smoke_nr && !is_file;
	if (!no_smoke && cell->smoke_nr && is_file)
		fprintf(stderr,
			"note: smoke tests skipped: '%s' is a file, not an image in the "
			"engine (--runner rootfs runs them without one)\n",
			image_name);
	if ((smoke && runner == SMOKE_RUNNER_DOCKER) || vo.inspect.source == IMAGE_SOURCE_ENGINE) {
		if ((ret = engine_detect(&e, docker_path, NULL)) < 0) {
			cli_error_last();
			code = ret == GS_EINVAL ? EXIT_USAGE : EXIT_INFRA;
			goto done;
		}
	}
	vo.inspect.docker = e.docker	  ? e.docker
			    : docker_path ? docker_path
					  : getenv("GPUSLIM_DOCKER");
	vo.inspect.base = base_ref;
	vo.inspect.platform = platform_arg;
	vo.inspect.kb = pl.kb;
	vo.inspect.top = top;
	vo.inspect.sizemap = report_files.html != NULL;
	vo.recipe = pl.recipe;
	if (baseline_path && !baseline) {
		reg = registry_client_new(NULL);
		if ((code = load_baseline_ref(reg, &vo.inspect, &baseline, &origin)) != EXIT_OK)
			goto done;
	} else if (baseline) {
		origin = json_pack("{s:s,s:s}", "ref", baseline_path, "source", "file");
	}
	vo.cell = no_smoke ? NULL : cell;
	vo.baseline = baseline;
	if (smoke) {
		if (runner == SMOKE_RUNNER_ROOTFS)
			smoke_detect_driver(&driver_dirs, &pl.kb->driver_sonames, &gpu);
		else
			smoke_detect_gpu(e.docker, &gpu);
		fprintf(stderr, "gpu: %s%s\n", gpu.available ? "" : "none: ", gpu.why);
		memset(&so, 0, sizeof(so));
		so.runner = runner;
		so.driver_dirs = &driver_dirs;
		so.driver_sonames = &pl.kb->driver_sonames;
		so.docker = vo.inspect.docker;
		so.gpu = &gpu;
		so.require_gpu = require_gpu;
		so.abort_fd = -1;
		/* An interrupt stops the analysis and the smoke containers cleanly. */
		if (signals_install() == 0)
			so.abort_fd = signals_fd();
		vo.inspect.abort_fd = &so.abort_fd;
		vo.smoke = &so;
	}
	ret = verify_cell(image_name, &vo, &report, &note, &results);
	if (smoke) {
		int sig = signals_caught();

		signals_uninstall();
		if (sig) {
			code = cli_interrupted(sig);
			goto done;
		}
	}
	if (note)
		fprintf(stderr, "note: %s\n", note);
	if (ret < 0) {
		cli_error_last();
		code = ret == GS_EINFRA ? EXIT_INFRA : EXIT_USAGE;
		goto done;
	}
	if (origin) {
		json_t *cmp = json_object_get(report, "baseline");

		if (json_is_object(cmp))
			json_object_update(cmp, origin);
	}
	{
		struct report_item it = {image_name, report, &results, NULL};

		if (cli_print_report(&it, json_out, top, &report_files) < 0)
			code = EXIT_INFRA;
	}
	fprintf(stderr, "%s: %zu gates: %zu passed, %zu failed, %zu warnings, %zu skipped\n",
		gate_failed(&results) ? "FAIL" : "pass", results.nr,
		gate_count(&results, GATE_PASS), gate_count(&results, GATE_FAIL),
		gate_count(&results, GATE_WARN), gate_count(&results, GATE_SKIP));
	if (attach_report && code == EXIT_OK) {
		if (!reg)
			reg = registry_client_new(NULL);
		code = attach_to_image(reg, report);
	}
	if (code == EXIT_OK && gate_failed(&results))
		code = EXIT_FAILED;
done:
	registry_client_free(reg);
	json_decref(origin);
	json_decref(report);
	json_decref(baseline);
	free(note);
	smoke_gpu_release(&gpu);
	vec_release(&results);
	cli_planned_release(&pl);
	engine_release(&e);
	vec_release(&plugin_dirs);
	vec_release(&driver_dirs);
	return cli_finish_stdout(code);
}
