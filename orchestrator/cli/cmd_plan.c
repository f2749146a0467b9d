#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/plan_load.h"
#include "core/knowledge.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "util/strbuf.h"

/*
 * plan: expand the matrix and resolve every version offline (with
 * --resolve, then ask the registries and pin the base images by digest, and
 * the package indexes and pin every wheel by sha256; with --locked, take
 * every pin from gpuslim.lock),
 * and show one line per cell, or the whole plan as JSON
 * (schemas/plan.schema.json).
 */

static const char *recipe_path;
static struct vec plugin_dirs = VEC_INIT(free);
static int as_json;
static int ci_matrix;
static int resolve;
static int locked;
static const char *lock_path;

static const struct cli_opt plan_opts[] = {
    {CLI_OPT_ARG, "recipe", 0, &recipe_path, "RECIPE", "the recipe file (gpuslim.yaml)",
     CLI_REQUIRED},
    {CLI_OPT_SWITCH, "json", 0, &as_json, NULL, "print the plan as JSON", 0},
    {CLI_OPT_SWITCH, "ci-matrix", 0, &ci_matrix, NULL,
     "print the cells as a GitHub Actions matrix on one line: {\"include\": [{\"cell\", "
     "\"image\", \"tag\", \"cuda\", \"os\", \"python\", \"framework\"}]} (for fromJSON)",
     0},
    {CLI_OPT_SWITCH, "resolve", 0, &resolve, NULL,
     "ask the registries and package indexes: pin base images by digest (replacing "
     "deleted tags) and every wheel by sha256",
     0},
    CLI_OPTS_LOCKED(&locked, &lock_path),
    {CLI_OPT_LIST, "plugins", 0, &plugin_dirs, "DIR",
     "also load knowledge plugins from DIR (later directories win)", 0},
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

static char *plan_cell_frameworks_text(const struct plan_cell *c)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < c->frameworks_nr; i++)
		strbuf_addf(&sb, "%s%s", i ? " " : "", c->frameworks[i].pip_spec);
	if (!sb.len)
		strbuf_addstr(&sb, "-");
	return strbuf_detach(&sb, NULL);
}

static int plan_print_width(size_t w)
{
	return w > 200 ? 200 : (int)w;
}

static void plan_print_table(const struct plan *p)
{
	size_t wid = strlen("ID"), wcuda = strlen("CUDA"), wpy = strlen("PYTHON"),
	       wfinal = strlen("FINAL");

	for (size_t i = 0; i < p->cells_nr; i++) {
		const struct plan_cell *c = &p->cells[i];

		if (strlen(c->id) > wid)
			wid = strlen(c->id);
		if (strlen(c->cuda.value) > wcuda)
			wcuda = strlen(c->cuda.value);
		if (c->python.value && strlen(c->python.value) > wpy)
			wpy = strlen(c->python.value);
		if (strlen(c->final.ref) > wfinal)
			wfinal = strlen(c->final.ref);
	}
	printf("%-*s  %-*s  %-*s  %-*s  %s\n", plan_print_width(wid), "ID", plan_print_width(wcuda),
	       "CUDA", plan_print_width(wpy), "PYTHON", plan_print_width(wfinal), "FINAL",
	       "FRAMEWORKS");
	for (size_t i = 0; i < p->cells_nr; i++) {
		const struct plan_cell *c = &p->cells[i];
		char *fws = plan_cell_frameworks_text(c);

		printf("%-*s  %-*s  %-*s  %-*s  %s\n", plan_print_width(wid), c->id,
		       plan_print_width(wcuda), c->cuda.value, plan_print_width(wpy),
		       c->python.value ? c->python.value : "-", plan_print_width(wfinal),
		       c->final.ref, fws);
		free(fws);
	}
}

/* After the table: how old the knowledge is, then the unverified facts
 * each cell uses (its warnings went to stderr: cli_load_plan()). */
static void plan_print_notes(const struct plan *p)
{
	const struct knowledge *kb = p->kb;

	if (kb->refreshed[0]) {
		struct tm tm = {0};
		time_t now = time(NULL), then;
		const char *file = strrchr(kb->refreshed_file, '/');

		strptime(kb->refreshed, "%Y-%m-%dT%H:%M:%SZ", &tm);
		then = timegm(&tm);
		printf("knowledge: refreshed %s (%ld days ago, %s)\n", kb->refreshed,
		       now > then ? (long)((now - then) / 86400) : 0L,
		       file ? file + 1 : kb->refreshed_file);
	} else {
		printf("knowledge: hand-kept tables, no refresh time\n");
	}
	for (size_t i = 0; i < p->cells_nr; i++) {
		const struct plan_cell *c = &p->cells[i];

		for (size_t k = 0; k < c->unverified.nr; k++)
			printf("unverified: %s: %s\n", c->id, (const char *)c->unverified.items[k]);
	}
}

/*
 * The matrix a CI job per cell runs over: every cell in the plan's order,
 * each entry with the same keys ("" where a value does not apply), so a
 * workflow can say ${{ matrix.python }} for every cell. One line.
 */
static json_t *plan_ci_matrix(const struct plan *p)
{
	json_t *include = json_array();

	for (size_t i = 0; include && i < p->cells_nr; i++) {
		const struct plan_cell *c = &p->cells[i];
		struct strbuf fw = STRBUF_INIT;
		json_t *o;

		for (size_t k = 0; k < c->frameworks_nr; k++)
			strbuf_addf(&fw, "%s%s", k ? " " : "", c->frameworks[k].pip_spec);
		o = json_pack(
		    "{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "cell", c->id, "image", c->image_ref, "tag",
		    c->tag, "cuda", c->cuda.value, "os", c->os.value ? c->os.value : "", "python",
		    c->python.value ? c->python.value : "", "framework", fw.buf ? fw.buf : "");
		strbuf_release(&fw);
		if (!o || json_array_append_new(include, o) < 0) {
			json_decref(include);
			include = NULL;
		}
	}
	return include ? json_pack("{s:o}", "include", include) : NULL;
}

int cmd_plan(int argc, char **argv)
{
	struct cli_planned pl = {0};
	struct plan *p;
	json_t *doc = NULL;
	char *text = NULL;
	int ret, code = EXIT_OK;

	ret = cli_parse(cli_find_cmd("plan"), plan_opts, argc, argv);
	if (ret) {
		vec_release(&plugin_dirs);
		return ret < 0 ? EXIT_OK : ret;
	}
	if (as_json && ci_matrix) {
		cli_error("--json and --ci-matrix are two outputs: give one");
		code = EXIT_USAGE;
		goto done;
	}
	if ((code = cli_check_locked(&locked, lock_path, resolve)) != EXIT_OK)
		goto done;
	code = cli_load_plan(recipe_path, &plugin_dirs, &pl);
	if (code != EXIT_OK)
		goto done;
	p = pl.plan;
	if (locked && (code = cli_apply_lock(&pl, recipe_path, lock_path)) != EXIT_OK)
		goto done;
	if (resolve && (code = cli_resolve(p)) != EXIT_OK)
		goto done;
	if (as_json || ci_matrix) {
		doc = ci_matrix ? plan_ci_matrix(p) : plan_to_json(p);
		text = doc ? json_dumps(doc, ci_matrix ? JSON_COMPACT | JSON_PRESERVE_ORDER
						       : JSON_INDENT(2) | JSON_PRESERVE_ORDER)
			   : NULL;
		if (!text) {
			cli_error("cannot format the plan as JSON");
			code = EXIT_FAILED;
			goto done;
		}
		fputs(text, stdout);
		fputc('\n', stdout);
	} else {
		plan_print_table(p);
		plan_print_notes(p);
	}
done:
	free(text);
	json_decref(doc);
	cli_planned_release(&pl);
	vec_release(&plugin_dirs);
	return cli_finish_stdout(code);
}
