#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/plan_load.h"
#include "core/build.h"
#include "core/buildreport.h"
#include "core/engine.h"
#include "core/gate.h"
#include "core/inspect.h"
#include "core/knowledge.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "core/registry.h"
#include "core/render.h"
#include "core/baseline.h"
#include "core/report.h"
#include "core/smoke.h"
#include "core/verify.h"
#include "util/executor.h"
#include "util/fs.h"
#include "util/signals.h"
#include "util/utf8.h"

/*
 * build: plan the recipe, resolve its base images against their registry
 * (with --locked: take every pin from gpuslim.lock), write the build files, then build every cell
 * on the executor (core/build) and show it: a live block on a terminal, plain lines otherwise. Only
 * this file prints; core/build reports through one callback on this thread.
 *
 * stderr: the backend line, notes, progress, failed cells' logs, the
 * closing line. stdout: the summary table and the pushed refs, so that
 * `gpuslim build R | ...` reads results only.
 */

static const char *recipe_path;
static const char *out_dir;
static const char *jobs_arg;
static const char *docker_path;
static const char *backend_arg;
static const char *network_arg;
static const char *progress_arg;
static const char *json_path;
static struct cli_report_files report_files;
static int keep_going, fail_fast, push, offline, no_cache, no_gate, require_gpu;
static int no_attach_report;
static int locked;
static const char *lock_path;
static struct vec plugin_dirs = VEC_INIT(free);
static const char *runner_arg;
static enum smoke_runner runner;
static struct vec driver_dirs = VEC_INIT(free);
static struct vec cell_ids = VEC_INIT(free);   /* --cell */
static struct vec matrix_ids = VEC_INIT(free); /* every cell of the recipe, with --cell */
static const char *stage;
static struct vec engine_args = VEC_INIT(free);
static const char *jobs_per_engine_arg;
static int retry_elsewhere;
static const char *builder_arg;

static const struct cli_opt build_opts_spec[] = {
    {CLI_OPT_ARG, "recipe", 0, &recipe_path, "RECIPE", "the recipe file (gpuslim.yaml)",
     CLI_REQUIRED},
    {CLI_OPT_VALUE, "out", 'o', &out_dir, "DIR",
     "build directory: Dockerfiles, logs/ (default <recipe dir>/.gpuslim/build)", 0},
    {CLI_OPT_VALUE, "jobs", 'j', &jobs_arg, "N", "build N cells at once (default: online CPUs)", 0},
    {CLI_OPT_SWITCH, "keep-going", 0, &keep_going, NULL,
     "when a cell fails, finish the others (the default)", 0},
    {CLI_OPT_SWITCH, "fail-fast", 0, &fail_fast, NULL, "when a cell fails, cancel the others", 0},
    {CLI_OPT_LIST, "cell", 0, &cell_ids, "ID",
     "build and gate only this cell (one CI job per cell: see plan --ci-matrix)", 0},
    {CLI_OPT_SWITCH, "push", 0, &push, NULL, "push every image, only if every cell built", 0},
    {CLI_OPT_VALUE, "stage", 0, &stage, "SUFFIX",
     "with --push: push each image as <tag>-SUFFIX, a staging tag, instead of its tag "
     "('gpuslim report promote' moves the tags later)",
     0},
    {CLI_OPT_VALUE, "json", 0, &json_path, "FILE",
     "write the build report (JSON) to FILE (\"-\": stdout)", 0},
    {CLI_OPT_SWITCH, "offline", 0, &offline, NULL,
     "ask no registry and no package index: build from the plan's tags, and let pip "
     "resolve the Python packages unpinned",
     0},
    CLI_OPTS_LOCKED(&locked, &lock_path),
    {CLI_OPT_VALUE, "docker", 0, &docker_path, "PATH", "the docker client to use", 0},
    {CLI_OPT_LIST, "engine", 0, &engine_args, "ENGINE[=JOBS]",
     "build on this engine too: a DOCKER_HOST URL (unix:///..., tcp://...) or a Docker "
     "context name, with at most JOBS builds on it (repeatable; default: GPUSLIM_ENGINES, "
     "else the recipe's output.engines, else the one engine the client finds)",
     0},
    {CLI_OPT_VALUE, "jobs-per-engine", 0, &jobs_per_engine_arg, "N",
     "builds at once on each engine without =JOBS (default: -j shared evenly)", 0},
    {CLI_OPT_SWITCH, "retry-elsewhere", 0, &retry_elsewhere, NULL,
     "a cell whose engine dies is built again on another live engine", 0},
    {CLI_OPT_VALUE, "builder", 0, &builder_arg, "NAME",
     "build through this buildx builder (a remote BuildKit); needs docker buildx", 0},
    {CLI_OPT_VALUE, "backend", 0, &backend_arg, "NAME", "buildx or buildkit (default: detected)",
     0},
    {CLI_OPT_VALUE, "network", 0, &network_arg, "MODE",
     "network for RUN steps (host, none, default; default: the recipe's output.network, "
     "else the engine's)",
     0},
    {CLI_OPT_VALUE, "progress", 0, &progress_arg, "MODE",
     "auto (live block on a terminal), tty or plain", 0},
    {CLI_OPT_SWITCH, "no-cache", 0, &no_cache, NULL, "build without the engine's cache", 0},
    {CLI_OPT_SWITCH, "no-attach-report", 0, &no_attach_report, NULL,
     "with --push, do not attach each cell's report to its pushed image", 0},
    {CLI_OPT_SWITCH, "no-gate", 0, &no_gate, NULL,
     "do not gate the built images (budgets, rules, smoke tests)", 0},
    {CLI_OPT_SWITCH, "require-gpu", 0, &require_gpu, NULL,
     "a gpu smoke test without a GPU fails instead of skipping", 0},
    {CLI_OPT_VALUE, "runner", 0, &runner_arg, "docker|rootfs",
     "run the smoke tests in containers (docker, the default) or in the image unpacked "
     "into a temporary directory (rootfs: bwrap or chroot, as gpuslim run)",
     0},
    {CLI_OPT_LIST, "driver-dir", 0, &driver_dirs, "DIR",
     "--runner rootfs: the GPU driver's libraries are in DIR (e.g. /usr/local/nvidia/lib64)", 0},
    CLI_OPT_JUNIT(report_files),
    CLI_OPTS_MARKDOWN(report_files),
    CLI_OPT_SARIF(report_files),
    CLI_OPTS_GITHUB_ANNOTATIONS(report_files),
    CLI_OPT_HTML(report_files),
    {CLI_OPT_LIST, "plugins", 0, &plugin_dirs, "DIR", "also load knowledge plugins from DIR", 0},
    {CLI_OPT_SWITCH, NULL, 0, NULL, NULL, NULL, 0},
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "41.2s", "3m07s". */
static void fmt_elapsed(char *buf, size_t n, long long ms)
{
	if (ms < 60000)
		snprintf(buf, n, "%.1fs", (double)ms / 1000.0);
	else
		snprintf(buf, n, "%lldm%02llds", ms / 60000, (ms / 1000) % 60);
}

/* Decimal units, as `docker images` shows them. */
static void fmt_size(char *buf, size_t n, long long bytes)
{
	if (bytes < 0)
		snprintf(buf, n, "?");
	else if (bytes < 1000 * 1000)
		snprintf(buf, n, "%.1f kB", (double)bytes / 1e3);
	else if (bytes < 1000LL * 1000 * 1000)
		snprintf(buf, n, "%.1f MB", (double)bytes / 1e6);
	else
		snprintf(buf, n, "%.2f GB", (double)bytes / 1e9);
}

/*
 * The display. Live: one line per cell at the bottom of the terminal,
 * redrawn in place (cursor up, clear line), at most every DRAW_MS for
 * progress alone; a cell that starts or ends is drawn at once. Plain: one
 * line per event.
 */
#define DRAW_MS 100
#define TICK_MS 500

struct display {
	int live;
	int cols;
	int drawn; /* lines of the block on screen */
	long long last_draw;
	size_t id_width;
	struct strbuf line;
};

/* With more than one engine, each cell's line names its engine. */
static const char **engines_shown;

static void cell_state_text(const struct build_cell *bc, struct strbuf *sb)
{
	char t[32], s[32];

	switch (bc->push) {
	case BUILD_PUSH_RUNNING:
		fmt_elapsed(t, sizeof(t), mono_ms() - bc->started_ms);
		strbuf_addf(sb, "pushing %s (%s)", bc->push_ref, t);
		return;
	case BUILD_PUSH_OK:
		strbuf_addf(sb, "pushed %s@%s", bc->push_ref, bc->digest ? bc->digest : "?");
		return;
	case BUILD_PUSH_FAILED:
		strbuf_addf(sb, "push FAILED: %s", bc->push_error ? bc->push_error : "");
		return;
	case BUILD_PUSH_CANCELLED:
		strbuf_addstr(sb, "push cancelled");
		return;
	default:
		break;
	}
	switch (bc->status) {
	case BUILD_QUEUED:
		strbuf_addstr(sb, "queued");
		break;
	case BUILD_RUNNING:
		fmt_elapsed(t, sizeof(t), mono_ms() - bc->started_ms);
		if (!bc->progress.step) {
			strbuf_addf(sb, "building (%s)", t);
			break;
		}
		strbuf_addf(sb, "building step %d/%d (%s)", bc->progress.step, bc->progress.steps,
			    t);
		if (bc->progress.stage[0])
			strbuf_addf(sb, " [%s]", bc->progress.stage);
		strbuf_addf(sb, " %s", bc->progress.text);
		break;
	case BUILD_OK:
		fmt_elapsed(t, sizeof(t), bc->elapsed_ms);
		fmt_size(s, sizeof(s), bc->size_bytes);
		strbuf_addf(sb, "done in %s, %s", t, s);
		break;
	case BUILD_FAILED:
		fmt_elapsed(t, sizeof(t), bc->elapsed_ms);
		if (bc->signal)
			strbuf_addf(sb, "FAILED (signal %d) after %s", bc->signal, t);
		else if (bc->exit_code >= 0)
			strbuf_addf(sb, "FAILED (exit %d) after %s", bc->exit_code, t);
		else
			strbuf_addf(sb, "FAILED: %s", bc->error ? bc->error : "");
		break;
	case BUILD_CANCELLED:
		strbuf_addstr(sb, bc->started_ms ? "cancelled" : "cancelled (not started)");
		break;
	}
	if (bc->engine >= 0 && bc->status != BUILD_QUEUED && engines_shown)
		strbuf_addf(sb, " [%s]", engines_shown[bc->engine]);
}

static void display_draw(struct display *d, const struct build *b)
{
	if (d->drawn)
		fprintf(stderr, "\033[%dA", d->drawn);
	for (size_t i = 0; i < b->cells_nr; i++) {
		const struct build_cell *bc = &b->cells[i];

		strbuf_reset(&d->line);
		strbuf_addf(&d->line, "  %-*s  ", (int)d->id_width, bc->cell->id);
		cell_state_text(bc, &d->line);
		/* Never wrap: a wrapped line would throw the cursor arithmetic off. */
		if (d->cols > 1 && d->line.len > (size_t)d->cols - 1)
			strbuf_setlen(&d->line, (size_t)d->cols - 1);
		fprintf(stderr, "\r\033[2K%s\n", d->line.buf);
	}
	fflush(stderr);
	d->drawn = (int)b->cells_nr;
	d->last_draw = mono_ms();
}

static void display_plain(struct display *d, const struct build *b, const struct build_cell *bc,
			  enum build_event ev)
{
	const char *id = bc->cell->id;
	char t[32], s[32];

	switch (ev) {
	case BUILD_EV_STARTED:
		if (b->engines_nr > 1)
			fprintf(stderr, "[%s] started on engine '%s'\n", id,
				build_cell_engine(b, bc)->name);
		else
			fprintf(stderr, "[%s] started\n", id);
		break;
	case BUILD_EV_RETRY:
		fprintf(stderr, "[%s] %s; building it on another engine\n", id, bc->retried);
		break;
	case BUILD_EV_PROGRESS:
		fprintf(stderr, "[%s] step %d/%d", id, bc->progress.step, bc->progress.steps);
		if (bc->progress.stage[0])
			fprintf(stderr, " [%s]", bc->progress.stage);
		fprintf(stderr, " %.60s\n", bc->progress.text);
		break;
	case BUILD_EV_FINISHED:
		fmt_elapsed(t, sizeof(t), bc->elapsed_ms);
		fmt_size(s, sizeof(s), bc->size_bytes);
		if (bc->status == BUILD_OK)
			fprintf(stderr, "[%s] done in %s (%s)\n", id, t, s);
		else if (bc->status == BUILD_FAILED && bc->signal)
			fprintf(stderr, "[%s] FAILED (signal %d), log: %s\n", id, bc->signal,
				bc->log_path);
		else if (bc->status == BUILD_FAILED && bc->exit_code >= 0)
			fprintf(stderr, "[%s] FAILED (exit %d), log: %s\n", id, bc->exit_code,
				bc->log_path);
		else if (bc->status == BUILD_FAILED)
			fprintf(stderr, "[%s] FAILED (%s), log: %s\n", id, bc->error, bc->log_path);
		else if (bc->started_ms)
			fprintf(stderr, "[%s] cancelled after %s\n", id, t);
		else
			fprintf(stderr, "[%s] cancelled (not started)\n", id);
		break;
	case BUILD_EV_PUSH_STARTED:
		fprintf(stderr, "[%s] pushing %s\n", id, bc->push_ref);
		break;
	case BUILD_EV_PUSH_FINISHED:
		if (bc->push == BUILD_PUSH_OK)
			fprintf(stderr, "[%s] pushed %s@%s\n", id, bc->push_ref,
				bc->digest ? bc->digest : "?");
		else if (bc->push == BUILD_PUSH_FAILED)
			fprintf(stderr, "[%s] push FAILED (%s), log: %s\n", id,
				bc->push_error ? bc->push_error : "", bc->log_path);
		else
			fprintf(stderr, "[%s] push cancelled\n", id);
		break;
	}
	(void)d;
	(void)b;
}

static void on_build_event(void *ctx, const struct build *b, size_t cell, enum build_event ev)
{
	struct display *d = ctx;

	if (!d->live) {
		display_plain(d, b, &b->cells[cell], ev);
		return;
	}
	if (ev == BUILD_EV_PROGRESS && mono_ms() - d->last_draw < DRAW_MS)
		return;
	display_draw(d, b);
}

/* The clock of the live block moves through a silent step. */
static void on_build_tick(void *ctx, const struct build *b)
{
	struct display *d = ctx;

	if (d->live)
		display_draw(d, b);
}

static void display_init(struct display *d, const struct build *b)
{
	struct winsize ws;
	int rows = 24;

	memset(d, 0, sizeof(*d));
	strbuf_init(&d->line, 256);
	d->cols = 80;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		d->cols = ws.ws_col;
		rows = ws.ws_row;
	}
	if (progress_arg && !strcmp(progress_arg, "tty"))
		d->live = 1;
	else if (progress_arg && !strcmp(progress_arg, "plain"))
		d->live = 0;
	else
		d->live = cli_term_redraws(STDERR_FILENO);
	/* A block taller than the screen cannot be redrawn in place. */
	if (d->live && rows > 0 && b->cells_nr + 2 > (size_t)rows)
		d->live = 0;
	for (size_t i = 0; i < b->cells_nr; i++)
		if (strlen(b->cells[i].cell->id) > d->id_width)
			d->id_width = strlen(b->cells[i].cell->id);
}

/* Each failed cell's whole log, after the block, under a header naming it. */
static void show_failed_logs(const struct build *b)
{
	/* A runaway log is shown by its end, where the error is. */
	const size_t cap = 8u << 20;
	char token[33] = "";

	/* Under GitHub Actions, a line of the log ("::error::", "::add-mask::") must not
	 * be taken as a workflow command: the runner ignores them between
	 * ::stop-commands::TOKEN and ::TOKEN::, with a token the log cannot guess. */
	if (report_files.annotate) {
		unsigned char rnd[16];

		if (getrandom(rnd, sizeof(rnd), 0) == (ssize_t)sizeof(rnd))
			for (size_t k = 0; k < sizeof(rnd); k++)
				snprintf(token + 2 * k, 3, "%02x", rnd[k]);
	}

	for (size_t i = 0; i < b->cells_nr; i++) {
		const struct build_cell *bc = &b->cells[i];
		struct strbuf log = STRBUF_INIT;
		size_t from = 0;

		if (bc->status != BUILD_FAILED)
			continue;
		fprintf(stderr, "\n==> cell '%s' failed: %s; its log (%s):\n", bc->cell->id,
			bc->error ? bc->error : "", bc->log_path);
		if (token[0])
			fprintf(stderr, "::stop-commands::%s\n", token);
		if (fs_read_file(bc->log_path, &log, 0) < 0) {
			fprintf(stderr, "gpuslim: %s\n", error_last());
		} else {
			if (log.len > cap) {
				from = log.len - cap;
				fprintf(stderr, "[... first %zu bytes left out ...]\n", from);
			}
			fwrite(log.buf + from, 1, log.len - from, stderr);
			if (log.len && log.buf[log.len - 1] != '\n')
				fputc('\n', stderr);
		}
		if (token[0])
			fprintf(stderr, "::%s::\n", token);
		fprintf(stderr, "<== end of the log of cell '%s'\n", bc->cell->id);
		if (bc->hint)
			fprintf(stderr, "hint: cell '%s': %s\n", bc->cell->id, bc->hint);
		strbuf_release(&log);
	}
}

/* The table on stdout: one row per cell. */
static void print_summary(const struct build *b, size_t id_width)
{
	char t[32], s[32];

	if (id_width < 4)
		id_width = 4;
	printf("%-*s  %-9s  %8s  %10s  %s%s\n", (int)id_width, "CELL", "STATUS", "TIME", "SIZE",
	       "IMAGE", b->engines_nr > 1 ? "  ENGINE" : "");
	for (size_t i = 0; i < b->cells_nr; i++) {
		const struct build_cell *bc = &b->cells[i];
		const struct build_engine *be = build_cell_engine(b, bc);

		fmt_elapsed(t, sizeof(t), bc->elapsed_ms);
		fmt_size(s, sizeof(s), bc->size_bytes);
		printf("%-*s  %-9s  %8s  %10s  %s", (int)id_width, bc->cell->id,
		       build_status_name(bc->status), bc->started_ms ? t : "-",
		       bc->status == BUILD_OK ? s : "-", bc->cell->image_ref);
		if (b->engines_nr > 1)
			printf("  %s", be ? be->name : "-");
		putchar('\n');
	}
	for (size_t i = 0; i < b->cells_nr; i++)
		if (b->cells[i].push == BUILD_PUSH_OK)
			printf("pushed %s@%s\n", b->cells[i].push_ref,
			       b->cells[i].digest ? b->cells[i].digest : "?");
}

/* "a, b, c" of the cells with status `s` (or push status `ps` when >= 0). */
static void list_cells(const struct build *b, int s, int ps, struct strbuf *out)
{
	for (size_t i = 0; i < b->cells_nr; i++) {
		const struct build_cell *bc = &b->cells[i];

		if (ps >= 0 ? (int)bc->push != ps : (int)bc->status != s)
			continue;
		strbuf_addf(out, "%s%s", out->len ? ", " : "",
			    ps >= 0 ? bc->push_ref : bc->cell->id);
	}
}

static int interrupted_exit(void)
{
	cli_error("interrupted by %s before any build started; nothing was built",
		  cli_signal_name(signals_caught()));
	return EXIT_INTERRUPTED;
}

/* --cell: narrow the plan to those cells, remembering the whole matrix for
 * the report (a merge of the jobs' reports knows what a whole run is). */
static int select_cells(struct plan *p)
{
	if (!cell_ids.nr)
		return EXIT_OK;
	for (size_t i = 0; i < p->cells_nr; i++)
		vec_pushstr(&matrix_ids, p->cells[i].id);
	if (plan_select_cells(p, &cell_ids) < 0) {
		cli_error_last();
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Load, plan, resolve, render and write: everything before the engine. */
static int prepare(struct cli_planned *pl, const char *dir, struct vec *diags)
{
	struct vec files = VEC_INIT(render_file_free);
	struct plan **p = &pl->plan;
	int code, ret;

	code = cli_load_plan(recipe_path, &plugin_dirs, pl);
	if (code != EXIT_OK)
		return code;
	if (signals_caught())
		return interrupted_exit();
	/* A lock is checked against the whole matrix, then narrowed. */
	if (locked && (code = cli_apply_lock(pl, recipe_path, lock_path)) != EXIT_OK)
		return code;
	if ((code = select_cells(*p)) != EXIT_OK)
		return code;
	if (stage && build_check_stage(*p, stage) < 0) {
		cli_error_last();
		return EXIT_USAGE;
	}
	if (locked) {
		/* Every pin from the lock: the registry is asked for nothing
		 * (the engine still pulls the bases by digest). */
	} else if (!offline) {
		struct registry_client *rc = registry_client_new(NULL);

		ret = plan_resolve_images(*p, rc, diags);
		registry_client_free(rc);
		if (ret < 0) {
			cli_print_diags(diags);
			if (ret == GS_EINFRA)
				fprintf(stderr, "gpuslim: (--offline builds from the plan's tags "
						"without asking the registry)\n");
			return ret == GS_EINFRA ? EXIT_INFRA : EXIT_USAGE;
		}
		if (signals_caught())
			return interrupted_exit();
		code = cli_resolve_wheels(*p);
		if (code != EXIT_OK) {
			if (code == EXIT_INFRA)
				fprintf(stderr,
					"gpuslim: (--offline builds without asking the package "
					"indexes: pip resolves at build time, unpinned)\n");
			return code;
		}
		if (signals_caught())
			return interrupted_exit();
	} else {
		cli_note_unpinned_wheels(*p, "--offline");
	}
	/* app.git: its commit's tree (the lock's with --locked), exported under
	 * the build directory, is the context (--offline is about the registry
	 * and the indexes only) */
	code = (*p)->git.commit ? EXIT_OK : cli_resolve_git(*p);
	if (code == EXIT_OK)
		code = cli_export_git(*p, dir);
	if (code != EXIT_OK)
		return code;
	if (signals_caught())
		return interrupted_exit();
	if (render_plan(*p, dir, GPUSLIM_VERSION, &files) < 0) {
		cli_error_last();
		code = EXIT_USAGE;
	} else if ((ret = fs_mkdir_p(dir, 0755) < 0 ? GS_EINFRA : render_write(&files, dir)) < 0) {
		cli_error_last();
		code = ret == GS_EINVAL ? EXIT_USAGE : EXIT_INFRA;
	}
	vec_release(&files);
	return code;
}

/*
 * The engines to build on: --engine, else GPUSLIM_ENGINES (comma-separated),
 * else the recipe's output.engines; none: the detected engine alone. Each
 * engine's limit: its =JOBS, else --jobs-per-engine, else -j (the online
 * CPUs without it) shared evenly, at least 1. Fills `specs` (names owned by
 * `names`) and says where they came from in `*from`.
 */
static int collect_engines(const struct recipe *r, long jobs, struct vec *names,
			   struct build_engine_spec **specs, size_t *nr, const char **from)
{
	struct vec raw = VEC_INIT(free);
	const char *env = getenv("GPUSLIM_ENGINES");
	long per = 0, total = jobs > 0 ? jobs : sysconf(_SC_NPROCESSORS_ONLN);
	int code = EXIT_OK;

	*specs = NULL;
	*nr = 0;
	*from = NULL;
	if (engine_args.nr) {
		*from = "--engine";
		for (size_t i = 0; i < engine_args.nr; i++)
			vec_pushstr(&raw, engine_args.items[i]);
	} else if (env && *env) {
		const char *p = env;

		*from = "GPUSLIM_ENGINES";
		while (1) {
			size_t n = strcspn(p, ","), k = n;
			const char *w = p;

			/* "a, b": the blanks around a name are the list's, not the name's */
			while (k && (*w == ' ' || *w == '\t'))
				w++, k--;
			while (k && (w[k - 1] == ' ' || w[k - 1] == '\t'))
				k--;
			vec_push(&raw, xstrfmt("%.*s", (int)k, w));
			if (!p[n])
				break;
			p += n + 1;
		}
	} else if (r->output.engines.nr) {
		*from = "output.engines";
		for (size_t i = 0; i < r->output.engines.nr; i++)
			vec_pushstr(&raw, r->output.engines.items[i].v);
	}
	if (jobs_per_engine_arg &&
	    cli_parse_number("--jobs-per-engine", jobs_per_engine_arg, 1, 1024, &per) < 0) {
		code = EXIT_USAGE;
		goto done;
	}
	if (!raw.nr) {
		if (jobs_per_engine_arg || retry_elsewhere) {
			cli_error("%s needs engines: --engine, GPUSLIM_ENGINES or output.engines",
				  jobs_per_engine_arg ? "--jobs-per-engine" : "--retry-elsewhere");
			code = EXIT_USAGE;
		}
		goto done;
	}
	if (total < 1)
		total = 1;
	*specs = xcalloc(raw.nr, sizeof(**specs));
	for (size_t i = 0; i < raw.nr; i++) {
		char *name;
		int j;

		if (engine_spec_parse(raw.items[i], &name, &j) < 0) {
			cli_error("%s: %s", *from, error_last());
			code = EXIT_USAGE;
			goto done;
		}
		vec_push(names, name);
		(*specs)[i].name = name;
		(*specs)[i].jobs = j	 ? j
				   : per ? (int)per
					 : (int)((total + (long)raw.nr - 1) / (long)raw.nr);
		(*nr)++;
	}
done:
	vec_release(&raw);
	return code;
}

/* Every engine answers before any build starts. */
static int check_engines(const struct engine *e, const struct build_engine_spec *specs, size_t nr,
			 const char *from)
{
	for (size_t i = 0; i < nr; i++) {
		struct vec env = VEC_INIT(free);
		const char **envp;
		struct engine v;
		int ret;

		engine_target_env(specs[i].name, &env);
		envp = xcalloc(env.nr + 1, sizeof(*envp));
		for (size_t k = 0; k < env.nr; k++)
			envp[k] = env.items[k];
		v = engine_view(e, specs[i].name, envp);
		ret = engine_ping(&v, e->timeout_ms);
		free(envp);
		vec_release(&env);
		if (ret < 0) {
			cli_error("engine '%s' (from %s): %s", specs[i].name, from, error_last());
			return EXIT_INFRA;
		}
	}
	return EXIT_OK;
}

static int detect_engine(struct engine *e)
{
	int ret = engine_detect(e, docker_path, backend_arg);
	char *desc;

	if (ret < 0) {
		cli_error_last(); /* it names the candidates passed over, and why */
		return ret == GS_EINVAL ? EXIT_USAGE : EXIT_INFRA;
	}
	desc = engine_describe(e);
	fprintf(stderr, "backend: %s\n", desc);
	free(desc);
	return EXIT_OK;
}

/* What gating leaves for the reports: per cell its analysis and gates. */
struct gating {
	json_t **reports;    /* per cell, NULL when not analyzed */
	struct vec *results; /* per cell, struct gate_result pointers */
	char **errors;	     /* per cell, why it has no gates */
	size_t nr;
	int done;
};

static void gating_release(struct gating *g)
{
	for (size_t i = 0; i < g->nr; i++) {
		json_decref(g->reports[i]);
		vec_release(&g->results[i]);
		free(g->errors[i]);
	}
	free(g->reports);
	free(g->results);
	free(g->errors);
}

/*
 * Gate every built cell, `jobs` at a time on the executor's worker threads:
 * analyze it from the engine, then its budgets, its rules, its smoke tests.
 * A worker writes only its own cell's slots in `g` (report, results, error);
 * started() and finished() run on this thread, print, and set the cell's
 * `gate` for the report and for build_push()'s all-or-nothing rule. An
 * interrupt hands out no further cell and stops the running ones' `docker
 * save` and smoke tests at once (abort_fd): they end as gate errors.
 */
struct gate_ctx {
	struct build *b;
	const struct recipe *r;
	const struct knowledge *kb;
	const struct engine *e;
	const struct smoke_gpu *gpu;
	struct gating *g;
	size_t next;
	int abort_fd; /* signals_fd(): an interrupt stops a running analysis too */
	int engine;   /* only the cells built on this engine; -1: every cell */
};

struct gate_job {
	struct gate_ctx *gc;
	size_t cell;
	char *note;
};

static int gate_one(struct exec_job *job)
{
	struct gate_job *gj = job->data;
	struct gate_ctx *gc = gj->gc;
	struct build_cell *bc = &gc->b->cells[gj->cell];
	struct verify_opts vo;
	struct smoke_opts so;

	memset(&vo, 0, sizeof(vo));
	vo.inspect.source = IMAGE_SOURCE_ENGINE;
	vo.inspect.docker = gc->e->docker;
	vo.inspect.kb = gc->kb;
	vo.inspect.abort_fd = &gc->abort_fd;
	vo.inspect.sizemap = report_files.html != NULL;
	vo.recipe = gc->r;
	vo.cell = bc->cell;
	memset(&so, 0, sizeof(so));
	so.runner = runner;
	so.docker = gc->e->docker;
	so.driver_dirs = &driver_dirs;
	so.driver_sonames = &gc->kb->driver_sonames;
	so.gpu = gc->gpu;
	so.require_gpu = require_gpu;
	so.abort_fd = gc->abort_fd;
	vo.smoke = &so;
	if (verify_cell(bc->cell->image_ref, &vo, &gc->g->reports[gj->cell], &gj->note,
			&gc->g->results[gj->cell]) < 0)
		gc->g->errors[gj->cell] = xstrdup(error_last());
	return 0; /* a gate's verdict or error is the cell's, not the run's */
}

static int gate_get_next(void *ctx, struct exec_job *job)
{
	struct gate_ctx *gc = ctx;
	struct gate_job *gj;

	while (gc->next < gc->b->cells_nr &&
	       (gc->b->cells[gc->next].status != BUILD_OK ||
		(gc->engine >= 0 && gc->b->cells[gc->next].engine != gc->engine)))
		gc->next++;
	if (gc->next == gc->b->cells_nr)
		return 1;
	gj = xcalloc(1, sizeof(*gj));
	gj->gc = gc;
	gj->cell = gc->next++;
	job->fn = gate_one;
	job->data = gj;
	return 0;
}

static void gate_started(void *ctx, struct exec_job *job)
{
	struct gate_ctx *gc = ctx;
	const struct build_cell *bc = &gc->b->cells[((struct gate_job *)job->data)->cell];

	fprintf(stderr, "[%s] gating %s\n", bc->cell->id, bc->cell->image_ref);
}

static void gate_set_error(struct build_cell *bc, const struct vec *results, const char *error)
{
	fprintf(stderr, "[%s] gates: ERROR: %s\n", bc->cell->id, error);
	bc->gate = json_object();
	json_object_set_new(bc->gate, "status", json_string("error"));
	json_object_set_new(bc->gate, "gates", gate_results_to_json_full(results));
	json_object_set_new(bc->gate, "error", utf8_json_string(error));
}

static int gate_finished(void *ctx, struct exec_job *job, const struct exec_result *res)
{
	struct gate_ctx *gc = ctx;
	struct gate_job *gj = job->data;
	struct build_cell *bc = &gc->b->cells[gj->cell];
	struct vec *results = &gc->g->results[gj->cell];

	if (gj->note)
		fprintf(stderr, "[%s] note: %s\n", bc->cell->id, gj->note);
	if (res->status != EXEC_OK && !gc->g->errors[gj->cell])
		gc->g->errors[gj->cell] = xstrfmt("gating stopped: %s", res->error);
	if (gc->g->reports[gj->cell])
		bc->analysis = build_report_analysis(gc->g->reports[gj->cell], REPORT_DEFAULT_TOP);
	if (gc->g->errors[gj->cell]) {
		gate_set_error(bc, results, gc->g->errors[gj->cell]);
	} else {
		bc->gate = json_object();
		json_object_set_new(bc->gate, "status",
				    json_string(gate_failed(results) ? "fail" : "pass"));
		json_object_set_new(bc->gate, "gates", gate_results_to_json_full(results));
		json_object_set_new(bc->gate, "error", json_null());
		fprintf(stderr,
			"[%s] gates: %s (%zu passed, %zu failed, %zu warnings, %zu skipped)\n",
			bc->cell->id, gate_failed(results) ? "FAIL" : "pass",
			gate_count(results, GATE_PASS), gate_count(results, GATE_FAIL),
			gate_count(results, GATE_WARN), gate_count(results, GATE_SKIP));
	}
	free(gj->note);
	free(gj);
	job->data = NULL;
	return 0;
}

/*
 * Gate the cells built on engine `k` (-1: all, one engine). The analysis and
 * the smoke tests run their docker children with the inherited environment,
 * so the cells of one engine are gated together with DOCKER_HOST or
 * DOCKER_CONTEXT pointing there: set here, on this thread, while no worker
 * runs, and put back by gate_cells().
 */
static void gate_engine_cells(struct build *b, const struct recipe *r, const struct knowledge *kb,
			      const struct engine *e, int jobs, struct gating *g, int k)
{
	struct smoke_gpu gpu = {0, NULL};
	struct gate_ctx gc = {b, r, kb, e, &gpu, g, 0, signals_fd(), k};
	struct exec_opts eo = EXEC_OPTS_INIT;
	int any = 0;

	for (size_t i = 0; i < b->cells_nr; i++)
		any |= b->cells[i].status == BUILD_OK && (k < 0 || b->cells[i].engine == k);
	if (!any)
		return;
	if (k >= 0) {
		const struct vec *env = &b->engines[k].env;

		for (size_t i = 0; i < env->nr; i++) {
			const char *kv = env->items[i], *eq = strchr(kv, '=');

			if (eq) {
				char *key = xstrndup(kv, (size_t)(eq - kv));

				setenv(key, eq + 1, 1);
				free(key);
			} else {
				unsetenv(kv);
			}
		}
		fprintf(stderr, "gating the cells built on engine '%s'\n", b->engines[k].name);
	}
	for (size_t i = 0; i < b->cells_nr; i++)
		if (b->cells[i].status == BUILD_OK && (k < 0 || b->cells[i].engine == k) &&
		    b->cells[i].cell->smoke_nr) {
			if (runner == SMOKE_RUNNER_ROOTFS)
				smoke_detect_driver(&driver_dirs, &kb->driver_sonames, &gpu);
			else
				smoke_detect_gpu(e->docker, &gpu);
			fprintf(stderr, "gpu: %s%s\n", gpu.available ? "" : "none: ", gpu.why);
			break;
		}
	eo.jobs = jobs;
	eo.abort_fd = signals_fd();
	eo.get_next = gate_get_next;
	eo.started = gate_started;
	eo.finished = gate_finished;
	eo.ctx = &gc;
	if (executor_run(&eo) == GS_ERR && !signals_caught()) {
		/* No worker could start: a built cell without a verdict must not pass. */
		char *why = xstrfmt("not gated: %s", error_last());

		for (size_t i = 0; i < b->cells_nr; i++)
			if (b->cells[i].status == BUILD_OK && !b->cells[i].gate) {
				g->errors[i] = xstrdup(why);
				gate_set_error(&b->cells[i], &g->results[i], why);
			}
		free(why);
	}
	smoke_gpu_release(&gpu);
}

/* --push: each pushed cell's report attached to its image in the registry
 * (core/baseline.h), where `gate --baseline` finds it for the next release.
 * The images stay pushed whatever happens here: a failure is exit 3. */
static int attach_reports(const struct build *b, const struct gating *g)
{
	struct registry_client *reg = NULL;
	int code = EXIT_OK;

	for (size_t i = 0; i < b->cells_nr && i < g->nr; i++) {
		const struct build_cell *bc = &b->cells[i];
		struct baseline_origin o;

		if (bc->push != BUILD_PUSH_OK || !g->reports[i] || !bc->digest)
			continue;
		if (!reg)
			reg = registry_client_new(NULL);
		/* push_ref: with --stage the final tag is not there yet; the
		 * report's subject is the digest, which promotion keeps. */
		if (baseline_attach_report(reg, bc->push_ref, NULL, g->reports[i], &o) < 0) {
			cli_error("pushed, but %s", error_last());
			code = EXIT_INFRA;
		} else {
			fprintf(stderr, "[%s] report attached to %s@%s as %s\n", bc->cell->id,
				bc->push_ref, o.manifest_digest, o.artifact);
			baseline_origin_release(&o);
		}
	}
	registry_client_free(reg);
	return code;
}

static void gate_restore_env(const char *key, const char *saved)
{
	if (saved)
		setenv(key, saved, 1);
	else
		unsetenv(key);
}

static void gate_cells(struct build *b, const struct recipe *r, const struct knowledge *kb,
		       const struct engine *e, int jobs, struct gating *g)
{
	char *host = getenv("DOCKER_HOST") ? xstrdup(getenv("DOCKER_HOST")) : NULL;
	char *context = getenv("DOCKER_CONTEXT") ? xstrdup(getenv("DOCKER_CONTEXT")) : NULL;

	g->nr = b->cells_nr;
	g->reports = xcalloc(g->nr ? g->nr : 1, sizeof(*g->reports));
	g->results = xcalloc(g->nr ? g->nr : 1, sizeof(*g->results));
	g->errors = xcalloc(g->nr ? g->nr : 1, sizeof(*g->errors));
	g->done = 1;
	for (size_t i = 0; i < b->cells_nr; i++)
		vec_init(&g->results[i], gate_result_free);
	if (!b->engines[0].env.nr) {
		gate_engine_cells(b, r, kb, e, jobs, g, -1);
	} else {
		for (size_t k = 0; k < b->engines_nr && !signals_caught(); k++)
			gate_engine_cells(b, r, kb, e, jobs, g, (int)k);
		gate_restore_env("DOCKER_HOST", host);
		gate_restore_env("DOCKER_CONTEXT", context);
	}
	free(host);
	free(context);
}

/* The gate reports: per gated cell its summary on stdout, and the files,
 * rendered from the build report as `gpuslim report merge` renders them. */
static int report_gates(const struct build *b, const struct gating *g)
{
	struct report_item *items = xcalloc(b->cells_nr ? b->cells_nr : 1, sizeof(*items));
	struct strbuf sb = STRBUF_INIT;
	struct buildreport_items bi;
	struct cli_report_files from_json, from_memory;
	json_t *j = NULL;
	size_t n = 0;
	int code = EXIT_OK;

	for (size_t i = 0; i < b->cells_nr; i++) {
		const struct build_cell *bc = &b->cells[i];

		if (!bc->gate && bc->status == BUILD_OK)
			continue;
		items[n].name = bc->cell->id;
		items[n].report = g->reports[i];
		items[n].gates = bc->gate ? &g->results[i] : NULL;
		items[n].error = g->errors[i]		  ? g->errors[i]
				 : bc->status != BUILD_OK ? "not built"
							  : NULL;
		if (bc->gate) {
			strbuf_reset(&sb);
			putchar('\n');
			report_human(&items[n], 5, &sb);
			fputs(sb.buf, stdout);
		}
		n++;
	}
	/* JUnit and Markdown from the build report, as `report merge` renders
	 * them from the jobs' reports; SARIF, the annotations and the HTML pages
	 * from the whole analyses (findings and sizemaps are not in the build
	 * report). */
	from_json = from_memory = report_files;
	from_json.sarif = from_json.html = NULL;
	from_json.annotate = 0;
	from_memory.junit = from_memory.markdown = from_memory.markdown_append = NULL;
	memset(&bi, 0, sizeof(bi));
	if (from_json.junit || from_json.markdown || from_json.markdown_append) {
		if (!(j = build_to_json(b)) || buildreport_items(j, &bi) < 0) {
			cli_error_last();
			code = EXIT_INFRA;
		} else if (cli_write_reports(bi.items, bi.nr, 0, &from_json) < 0) {
			code = EXIT_INFRA;
		}
	}
	if ((from_memory.sarif || from_memory.annotate || from_memory.html) &&
	    cli_write_reports(items, n, 0, &from_memory) < 0)
		code = EXIT_INFRA;
	buildreport_items_release(&bi);
	json_decref(j);
	strbuf_release(&sb);
	free(items);
	return code;
}

/* The closing line on stderr and the exit code of a finished run. */
static int conclude(const struct build *b, int build_ret, int push_ret)
{
	struct strbuf failed = STRBUF_INIT, cancelled = STRBUF_INIT, pushed = STRBUF_INIT;
	size_t nf = build_count(b, BUILD_FAILED), nc = build_count(b, BUILD_CANCELLED);
	char t[32];
	int code = EXIT_OK;

	list_cells(b, BUILD_FAILED, -1, &failed);
	list_cells(b, BUILD_CANCELLED, -1, &cancelled);
	list_cells(b, -1, BUILD_PUSH_OK, &pushed);
	fmt_elapsed(t, sizeof(t), b->elapsed_ms);
	if (b->interrupted) {
		cli_error("interrupted by %s: every build and push stopped; cancelled: %s%s%s",
			  cli_signal_name(signals_caught()), cancelled.len ? cancelled.buf : "none",
			  pushed.len ? "; already pushed: " : "", pushed.len ? pushed.buf : "");
		code = EXIT_INTERRUPTED;
	} else if (build_ret < 0) {
		if (nf)
			fprintf(stderr, "gpuslim: %zu of %zu cells failed: %s\n", nf, b->cells_nr,
				failed.buf);
		if (nc)
			fprintf(stderr, "gpuslim: %zu of %zu cells cancelled (fail-fast): %s\n", nc,
				b->cells_nr, cancelled.buf);
		if (!nf && !nc)
			cli_error("%s", error_last());
		if (push)
			fprintf(stderr, "gpuslim: not pushing: every cell must build first; "
					"nothing was pushed\n");
		code = EXIT_FAILED;
	} else if (build_count_gate_failed(b)) {
		struct strbuf gated = STRBUF_INIT;

		for (size_t i = 0; i < b->cells_nr; i++)
			if (b->cells[i].gate &&
			    strcmp(json_string_value(json_object_get(b->cells[i].gate, "status")),
				   "pass"))
				strbuf_addf(&gated, "%s%s", gated.len ? ", " : "",
					    b->cells[i].cell->id);
		fprintf(stderr, "gpuslim: built %zu of %zu cells; %zu failed their gates: %s\n",
			b->cells_nr, b->cells_nr, build_count_gate_failed(b), gated.buf);
		if (push)
			fprintf(stderr,
				"gpuslim: not pushing: every cell must pass its gates first; "
				"nothing was pushed\n");
		strbuf_release(&gated);
		code = EXIT_FAILED;
	} else if (push_ret < 0) {
		cli_error("%s; already pushed: %s", error_last(), pushed.len ? pushed.buf : "none");
		code = EXIT_FAILED;
	} else {
		fprintf(stderr, "built %zu of %zu cells in %s%s%s\n", b->cells_nr, b->cells_nr, t,
			no_gate ? "" : ", every gate passed", push ? ", pushed every image" : "");
	}
	strbuf_release(&failed);
	strbuf_release(&cancelled);
	strbuf_release(&pushed);
	return code;
}

int cmd_build(int argc, char **argv)
{
	struct vec diags = VEC_INIT(free);
	struct cli_planned pl = {0};
	struct recipe *r = NULL;
	struct knowledge *kb = NULL;
	struct plan *p = NULL;
	struct engine e;
	struct build b;
	struct build_opts bo;
	struct display d;
	char *dir = NULL, *log_dir = NULL, *ctx = NULL, *cache_dir = NULL, *netrc = NULL;
	struct gating gating;
	struct vec engine_names = VEC_INIT(free);
	struct build_engine_spec *specs = NULL;
	size_t specs_nr = 0;
	const char *specs_from = NULL;
	int ret, code, build_ret = 0, push_ret = 0, have_build = 0, gate_code, attach_code = 0;
	long jobs = 0; /* 0: online CPUs */

	memset(&e, 0, sizeof(e));
	vec_init(&e.notes, free);
	memset(&d, 0, sizeof(d));
	memset(&gating, 0, sizeof(gating));
	ret = cli_parse(cli_find_cmd("build"), build_opts_spec, argc, argv);
	if (ret) {
		/* --help has closed stdout already. */
		vec_release(&plugin_dirs);
		vec_release(&driver_dirs);
		vec_release(&engine_args);
		engine_release(&e);
		return ret < 0 ? EXIT_OK : ret;
	}
	if (lock_path)
		locked = 1;
	if (stage && !push) {
		cli_error("--stage names the tag a push goes to: it needs --push");
		code = EXIT_USAGE;
		goto done;
	}
	if (keep_going && fail_fast) {
		cli_error("--keep-going and --fail-fast contradict each other");
		code = EXIT_USAGE;
		goto done;
	}
	if (progress_arg && strcmp(progress_arg, "auto") && strcmp(progress_arg, "tty") &&
	    strcmp(progress_arg, "plain")) {
		cli_error("--progress wants auto, tty or plain, not '%s'", progress_arg);
		code = EXIT_USAGE;
		goto done;
	}
	if (jobs_arg && cli_parse_number("-j/--jobs", jobs_arg, 1, 1024, &jobs) < 0) {
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
	if (signals_install() < 0) {
		cli_error_last();
		code = EXIT_INFRA;
		goto done;
	}

	/* The default build directory lies in the recipe's directory; the
	 * generated .dockerignore keeps it out of the context. */
	if (out_dir) {
		dir = fs_abspath(out_dir);
	} else {
		char *rdir = fs_dirname(recipe_path), *rel = fs_join(rdir, ".gpuslim/build");

		dir = fs_abspath(rel);
		free(rdir);
		free(rel);
	}
	code = prepare(&pl, dir, &diags);
	if (code != EXIT_OK)
		goto done;
	r = pl.recipe;
	report_files.recipe = r;
	kb = pl.kb;
	p = pl.plan;
	code = collect_engines(r, jobs, &engine_names, &specs, &specs_nr, &specs_from);
	if (code != EXIT_OK)
		goto done;
	if (builder_arg && specs_nr) {
		cli_error("--builder and %s exclude each other: a buildx builder is where the "
			  "cells build",
			  specs_from);
		code = EXIT_USAGE;
		goto done;
	}
	code = detect_engine(&e);
	if (code != EXIT_OK)
		goto done;
	if (builder_arg && e.backend != ENGINE_BUILDX) {
		cli_error("--builder '%s' needs docker buildx, and the client '%s' has none "
			  "(install the buildx plugin; --engine spreads the cells over Docker "
			  "engines without it)",
			  builder_arg, e.docker);
		code = EXIT_INFRA;
		goto done;
	}
	if (specs_nr) {
		code = check_engines(&e, specs, specs_nr, specs_from);
		if (code != EXIT_OK)
			goto done;
	}
	if (signals_caught()) {
		code = interrupted_exit();
		goto done;
	}

	log_dir = fs_join(dir, "logs");
	cache_dir = fs_join(dir, "cache");
	ctx = render_context_abs(p);
	memset(&bo, 0, sizeof(bo));
	bo.engine = &e;
	bo.dockerfile_dir = dir;
	bo.log_dir = log_dir;
	bo.context = ctx;
	bo.jobs = (int)jobs;
	bo.fail_fast = fail_fast;
	bo.stage = stage;
	bo.matrix_cells = matrix_ids.nr ? &matrix_ids : NULL;
	bo.abort_fd = signals_fd();
	/* --network wins over the recipe's output.network; "default" is the
	 * engine's own, no flag at all. */
	bo.network = network_arg ? network_arg : r->output.network.v;
	if (bo.network && !strcmp(bo.network, "default"))
		bo.network = NULL;
	bo.cache = r->output.cache.v;
	bo.cache_dir = cache_dir;
	bo.no_cache = no_cache;
	bo.engines = specs;
	bo.engines_nr = specs_nr;
	bo.retry_elsewhere = retry_elsewhere;
	bo.builder = builder_arg;
	bo.on_event = on_build_event;
	bo.on_tick = on_build_tick;
	bo.tick_ms = TICK_MS;
	bo.ctx = &d;
	/* Index credentials reach pip as a BuildKit secret, removed below. */
	ret = build_netrc_write(p, &netrc);
	if (ret < 0) {
		cli_error_last();
		code = cli_exit_for(ret);
		goto done;
	}
	bo.netrc = netrc;
	ret = build_init(&b, p, &bo);
	have_build = 1;
	if (ret < 0) {
		cli_error_last();
		code = cli_exit_for(ret);
		goto done;
	}
	for (size_t i = 0; i < b.notes.nr; i++)
		fprintf(stderr, "note: %s\n", (const char *)b.notes.items[i]);
	display_init(&d, &b);
	fprintf(stderr, "building %zu cell%s, %d at a time; logs in %s\n", b.cells_nr,
		b.cells_nr == 1 ? "" : "s", b.jobs, log_dir);
	if (specs_nr) {
		engines_shown = xcalloc(b.engines_nr, sizeof(*engines_shown));
		for (size_t i = 0; i < b.engines_nr; i++) {
			engines_shown[i] = b.engines[i].name;
			fprintf(stderr, "engine '%s': %d at a time (from %s)\n", b.engines[i].name,
				b.engines[i].jobs, specs_from);
		}
	}
	if (d.live)
		display_draw(&d, &b);

	build_ret = build_run(&b);
	if (d.live)
		display_draw(&d, &b);
	if (build_ret < 0 && build_ret != BUILD_EFAILED && build_ret != BUILD_EINTERRUPTED) {
		/* Not a cell's failure: the log directory, a log file, the executor. */
		cli_error_last();
		code = cli_exit_for(build_ret) == EXIT_USAGE ? EXIT_USAGE : EXIT_INFRA;
		goto report;
	}
	show_failed_logs(&b);

	if (!no_gate && !b.interrupted) {
		gate_cells(&b, r, kb, &e, b.jobs, &gating);
		if (signals_caught())
			b.interrupted = 1;
	}
	if (push && !b.interrupted) {
		push_ret = build_push(&b);
		if (push_ret == GS_EINVAL) {
			push_ret = 0; /* conclude() says it: a cell did not build */
		} else if (d.live) {
			display_draw(&d, &b);
		}
		if (push_ret == BUILD_EINTERRUPTED)
			b.interrupted = 1;
	}
	attach_code = EXIT_OK;
	if (push && push_ret == 0 && !b.interrupted && !no_attach_report && gating.done)
		attach_code = attach_reports(&b, &gating);
	print_summary(&b, d.id_width);
	gate_code = gating.done ? report_gates(&b, &gating) : EXIT_OK;
	fflush(stdout);
	code = conclude(&b, build_ret, push_ret);
	if (code == EXIT_OK)
		code = gate_code;
	if (code == EXIT_OK)
		code = attach_code;
report:
	fflush(stdout); /* --json - shares stdout with the table */
	if (json_path && build_write_report(&b, json_path) < 0) {
		cli_error_last();
		if (code == EXIT_OK)
			code = EXIT_INFRA;
	}
done:
	build_netrc_remove(netrc);
	free(netrc);
	free(engines_shown);
	engines_shown = NULL;
	free(specs);
	vec_release(&engine_names);
	vec_release(&engine_args);
	gating_release(&gating);
	if (have_build)
		build_release(&b);
	strbuf_release(&d.line);
	engine_release(&e);
	cli_planned_release(&pl);
	vec_release(&diags);
	vec_release(&plugin_dirs);
	vec_release(&driver_dirs);
	vec_release(&cell_ids);
	vec_release(&matrix_ids);
	free(dir);
	free(log_dir);
	free(cache_dir);
	free(ctx);
	signals_uninstall();
	return cli_finish_stdout(code);
}
