/*
 * The build scheduler (core/build) against a fake docker client
 * (tests/fake/docker-builds) alone on PATH: no engine is needed. The fake
 * prints BuildKit-style progress, fails, sleeps or pushes as its knobs say
 * and remembers what it did in a state directory. Then the `build` command
 * end to end (./gpuslim with the same fake) for its output and exit codes.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/build.h"
#include "core/engine.h"
#include "core/knowledge.h"
#include "core/plan.h"
#include "core/recipe.h"
#include "core/render.h"
#include "unit.h"
#include "util/fs.h"
#include "util/process.h"

static char fakes[PATH_MAX]; /* absolute tests/fake */
static char root[PATH_MAX];  /* the repository root */
static char tmp[64];	     /* scratch for this run */
static char state[128];	     /* FAKE_BUILD_STATE */
static char pathdir[128];    /* PATH: docker -> tests/fake/docker-builds */
static char recipe_file[128];

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char recipe_text[] = "name: fakeb\n"
				  "image: 127.0.0.1:5999/test/fakeb\n"
				  "base:\n"
				  "  os: debian12\n"
				  "  registry: 127.0.0.1:5000\n"
				  "  repository: gpuslim-fixtures/cuda\n"
				  "cuda: \"13.0\"\n"
				  "python: \"3.11\"\n"
				  "app:\n"
				  "  copy: [\"app/\"]\n"
				  "  cmd: [\"python3\", \"app/main.py\"]\n"
				  "matrix:\n"
				  "  cudnn: [false, true]\n"
				  "  python_source: [os, managed]\n"
				  "output:\n"
				  "  cache: none\n";

static int setup(void)
{
	const char *src = getenv("GS_SRCDIR");
	char *dir = src && *src ? xstrfmt("%s/tests/fake", src) : xstrdup("tests/fake");
	char *link, *target, *app, *main_py;
	int ok = realpath(dir, fakes) != NULL;

	free(dir);
	if (!ok)
		return -1;
	snprintf(root, sizeof(root), "%s", fakes);
	*strrchr(root, '/') = '\0';
	*strrchr(root, '/') = '\0';
	snprintf(tmp, sizeof(tmp), "/tmp/gs-test-build.XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(pathdir, sizeof(pathdir), "%s/bin", tmp);
	snprintf(state, sizeof(state), "%s/state", tmp);
	snprintf(recipe_file, sizeof(recipe_file), "%s/recipe/gpuslim.yaml", tmp);
	mkdir(pathdir, 0755);
	link = xstrfmt("%s/docker", pathdir);
	target = xstrfmt("%s/docker-builds", fakes);
	ok = symlink(target, link) == 0;
	app = xstrfmt("%s/recipe/app", tmp);
	main_py = xstrfmt("%s/main.py", app);
	fs_mkdir_p(app, 0755);
	ok = ok && fs_write_atomic(main_py, "print('hi')\n", 12) == 0 &&
	     fs_write_atomic(recipe_file, recipe_text, sizeof(recipe_text) - 1) == 0;
	free(link);
	free(target);
	free(app);
	free(main_py);
	if (!getenv("GPUSLIM_PLUGIN_DIR")) {
		char *plugins = xstrfmt("%s/plugins", root);

		setenv("GPUSLIM_PLUGIN_DIR", plugins, 1);
		free(plugins);
	}
	return ok ? 0 : -1;
}

static void rm_rf(const char *path)
{
	struct process p;
	struct process_result res;

	process_init(&p);
	vec_pushstr(&p.argv, "/bin/rm");
	vec_pushstr(&p.argv, "-rf");
	vec_pushstr(&p.argv, path);
	p.output = PROCESS_OUTPUT_NULL;
	process_run(&p, 10000, &res);
	process_release(&p);
}

/* A fresh fake: empty state, knobs cleared, PATH = the fake alone. */
static void fake_reset(void)
{
	rm_rf(state);
	mkdir(state, 0755);
	setenv("PATH", pathdir, 1);
	setenv("FAKE_BUILD_STATE", state, 1);
	unsetenv("FAKE_BUILD_SLEEP");
	unsetenv("FAKE_BUILD_FAIL");
	unsetenv("FAKE_BUILD_SLOW");
	unsetenv("FAKE_PUSH_FAIL");
	unsetenv("FAKE_BUILDX");
	unsetenv("FAKE_DEAD_HOST");
	unsetenv("FAKE_DOCKER_SERVER");
	unsetenv("GPUSLIM_DOCKER");
	unsetenv("DOCKER_HOST");
	{
		char *log = xstrfmt("%s/calls", state);

		setenv("FAKE_DOCKER_LOG", log, 1);
		free(log);
	}
}

static char *state_file(const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	char *path = xstrfmt("%s/%s", state, name);

	fs_read_file(path, &sb, 0);
	free(path);
	return strbuf_detach(&sb, NULL);
}

static int count_lines_with(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* No pid the fake ever ran is still alive (a zombie would show as 'Z'). */
static int no_orphans(void)
{
	char *pids = state_file("pids");
	int alive = 0;

	for (char *line = pids, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		pid_t pid = (pid_t)atoi(line);
		char path[64];
		struct strbuf st = STRBUF_INIT;

		nl = strchr(line, '\n');
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (fs_read_file(path, &st, 0) == 0) {
			const char *paren = strrchr(st.buf, ')');

			if (paren && paren[1] == ' ' && paren[2] != 'Z') {
				printf("# pid %d still alive: %s\n", (int)pid, st.buf);
				alive++;
			}
		}
		strbuf_release(&st);
	}
	free(pids);
	return !alive;
}

/* What the run saw through on_event. */
struct seen {
	int ticks;
	int started, finished, progress, running, max_running;
	int push_started, push_finished;
	int retried;
	int step3_builder; /* a progress event with [builder 2/3]-style data */
	int off_order;	   /* an event for a cell in an impossible state */
};

static void on_event(void *ctx, const struct build *b, size_t cell, enum build_event ev)
{
	struct seen *s = ctx;
	const struct build_cell *bc = &b->cells[cell];

	switch (ev) {
	case BUILD_EV_STARTED:
		s->started++;
		if (++s->running > s->max_running)
			s->max_running = s->running;
		if (bc->status != BUILD_RUNNING)
			s->off_order++;
		break;
	case BUILD_EV_PROGRESS:
		s->progress++;
		if (bc->progress.step == 2 && bc->progress.steps == 3 &&
		    !strcmp(bc->progress.stage, "builder") &&
		    !strcmp(bc->progress.text, "RUN make"))
			s->step3_builder++;
		break;
	case BUILD_EV_FINISHED:
		s->finished++;
		if (bc->started_ms)
			s->running--;
		if (bc->status == BUILD_QUEUED || bc->status == BUILD_RUNNING)
			s->off_order++;
		break;
	case BUILD_EV_PUSH_STARTED:
		s->push_started++;
		break;
	case BUILD_EV_RETRY:
		s->retried++;
		if (bc->started_ms)
			s->running--;
		if (bc->status != BUILD_QUEUED)
			s->off_order++;
		break;
	case BUILD_EV_PUSH_FINISHED:
		s->push_finished++;
		break;
	}
}

static void on_tick(void *ctx, const struct build *b)
{
	struct seen *s = ctx;

	s->ticks++;
	(void)b;
}

/* A plan of the test recipe (4 cells), rendered into <tmp>/out. */
struct fixture {
	struct recipe *r;
	struct knowledge *kb;
	struct plan *p;
	struct engine e;
	char *out, *logs, *ctx;
};

static int fixture_load(struct fixture *f)
{
	struct vec diags = VEC_INIT(free);
	struct vec files = VEC_INIT(render_file_free);
	int ret;

	memset(f, 0, sizeof(*f));
	vec_init(&f->e.notes, free);
	f->out = xstrfmt("%s/recipe/.gpuslim/build", tmp);
	f->logs = xstrfmt("%s/logs", f->out);
	f->ctx = xstrfmt("%s/recipe", tmp);
	ret = recipe_load(recipe_file, &f->r, &diags);
	if (!ret)
		ret = knowledge_load(&f->kb, NULL);
	if (!ret)
		ret = plan_build(f->r, f->kb, &f->p, &diags);
	if (!ret)
		ret = render_plan(f->p, f->out, "test", &files);
	if (!ret)
		ret = fs_mkdir_p(f->out, 0755);
	if (!ret)
		ret = render_write(&files, f->out);
	for (size_t i = 0; i < diags.nr; i++)
		printf("# %s\n", (char *)diags.items[i]);
	if (ret)
		printf("# fixture: %s\n", error_last());
	vec_release(&files);
	vec_release(&diags);
	return ret;
}

static void fixture_free(struct fixture *f)
{
	engine_release(&f->e);
	plan_free(f->p);
	knowledge_free(f->kb);
	recipe_free(f->r);
	free(f->out);
	free(f->logs);
	free(f->ctx);
}

static void opts_for(struct build_opts *o, struct fixture *f, int jobs, struct seen *s)
{
	memset(o, 0, sizeof(*o));
	o->engine = &f->e;
	o->dockerfile_dir = f->out;
	o->log_dir = f->logs;
	o->context = f->ctx;
	o->jobs = jobs;
	o->abort_fd = -1;
	o->grace_ms = 1000;
	o->cache = "none";
	o->on_event = on_event;
	o->on_tick = on_tick;
	o->tick_ms = 100;
	o->ctx = s;
}

static void test_engine_spec(void)
{
	char *name = NULL;
	int jobs = -1;

	CHECK(engine_spec_parse("unix:///run/e2.sock=3", &name, &jobs) == 0 &&
		  !strcmp(name, "unix:///run/e2.sock") && jobs == 3,
	      "engine spec: a unix URL with =JOBS");
	free(name);
	CHECK(engine_spec_parse("tcp://10.0.0.5:2375", &name, &jobs) == 0 &&
		  !strcmp(name, "tcp://10.0.0.5:2375") && jobs == 0,
	      "engine spec: a tcp URL without jobs");
	free(name);
	CHECK(engine_spec_parse("builder-2", &name, &jobs) == 0 && !strcmp(name, "builder-2"),
	      "engine spec: a context name");
	free(name);
	CHECK(engine_spec_parse("http://h:2375", &name, &jobs) == GS_EINVAL &&
		  strstr(error_last(), "engine 'http://h:2375' is not"),
	      "engine spec: http:// refused (%s)", error_last());
	CHECK(engine_spec_parse("ctx=0", &name, &jobs) == GS_EINVAL, "engine spec: =0 refused");
}

/*
 * Two engines, one of them dead (the fake's FAKE_DEAD_HOST: the client fails
 * at once, before it logs anything): its cells fail naming it, the others
 * build on the live one; with retry_elsewhere they all build there, and
 * every build and push that ran talked to the live engine.
 */
static void test_engines(struct fixture *f)
{
	struct build_engine_spec specs[] = {{"unix:///fake/live", 2}, {"unix:///fake/dead", 2}};
	struct build b;
	struct build_opts o;
	struct seen s = {0};
	char *calls, *want;
	int ret;

	fake_reset();
	setenv("FAKE_DEAD_HOST", "unix:///fake/dead", 1);
	opts_for(&o, f, 0, &s);
	o.engines = specs;
	o.engines_nr = 2;
	ret = build_init(&b, f->p, &o);
	CHECK(ret == 0 && b.jobs == 4 && b.engines_nr == 2, "engines: 2+2 builds at once");
	ret = build_run(&b);
	CHECK(ret == BUILD_EFAILED && b.cells[0].status == BUILD_OK &&
		  b.cells[1].status == BUILD_FAILED && b.cells[2].status == BUILD_OK &&
		  b.cells[3].status == BUILD_FAILED,
	      "engines: cells 1 and 3 went to the dead engine and failed (%s)", error_last());
	CHECK(b.cells[1].error &&
		  starts_with(b.cells[1].error,
			      "engine 'unix:///fake/dead' died during the build: no Docker engine "
			      "answers at 'unix:///fake/dead'"),
	      "engines: the error names the dead engine (%s)",
	      b.cells[1].error ? b.cells[1].error : "");
	CHECK(b.engines[1].dead && !b.engines[0].dead && b.cells[0].engine == 0,
	      "engines: the dead one is marked, the live one built cell 0");
	ret = build_push(&b);
	calls = state_file("calls");
	CHECK(ret == GS_EINVAL && !strstr(calls, "push "), "engines: nothing pushed");
	free(calls);
	build_release(&b);

	fake_reset();
	setenv("FAKE_DEAD_HOST", "unix:///fake/dead", 1);
	memset(&s, 0, sizeof(s));
	o.retry_elsewhere = 1;
	build_init(&b, f->p, &o);
	ret = build_run(&b);
	CHECK(ret == 0 && build_count(&b, BUILD_OK) == 4 && b.cells[1].engine == 0 &&
		  b.cells[1].attempts == 2 && b.cells[1].retried &&
		  strstr(b.cells[1].retried, "died during the build") && s.retried == 2 &&
		  !s.off_order,
	      "retry elsewhere: every cell built on the live engine, 2 retried (%s)", error_last());
	ret = build_push(&b);
	calls = state_file("calls");
	want = xstrfmt("push-host %s unix:///fake/live", f->p->cells[3].image_ref);
	CHECK(ret == 0 && build_count_push(&b, BUILD_PUSH_OK) == 4 && strstr(calls, want) &&
		  count_lines_with(calls, "build-host ") == 4 &&
		  count_lines_with(calls, " unix:///fake/live\n") == 4 + 4,
	      "retry elsewhere: every build that ran and every push ran on the live engine");
	free(want);
	free(calls);
	build_release(&b);
	unsetenv("FAKE_DEAD_HOST");
}

static void test_pip_hint(void)
{
	struct strbuf sb = STRBUF_INIT;

	CHECK(build_pip_hint(
		  "#8 0.469 Looking in indexes: http://127.0.0.1:9/simple\n"
		  "#8 0.565 ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS "
		  "FILE. If you have updated...\n"
		  "#8 0.565     gsfx-core==1.2.0 from http://127.0.0.1:9/packages/"
		  "gsfx_core-1.2.0-py3-none-any.whl (from -r /tmp/w.txt (line 2)):\n"
		  "#8 0.565         Expected sha256 48715d\n",
		  &sb) == 1 &&
		  !strcmp(sb.buf,
			  "pip: 'gsfx-core==1.2.0' does not match the sha256 the lock pins: "
			  "the index serves another file under that name; check the wheel "
			  "on the index, or pin what it serves now with 'gpuslim lock "
			  "--update gsfx-core'"),
	      "pip hint: a hash mismatch names the requirement and lock --update of its project");
	strbuf_reset(&sb);
	CHECK(build_pip_hint("#8 0.770   ERROR: HTTP error 404 while getting http://h/p/a.whl "
			     "(from http://h/simple/a/) (requires-python:>=3.8)\n",
			     &sb) == 1 &&
		  !strcmp(sb.buf, "pip: 'http://h/p/a.whl' is gone from the index (404): a wheel "
				  "the lock pins vanished; pin what the index has with 'gpuslim "
				  "lock --update'"),
	      "pip hint: a 404 names the URL alone");
	strbuf_reset(&sb);
	CHECK(build_pip_hint("#8 0.5 ERROR: No matching distribution found for gsfx_core==1.2.0",
			     &sb) == 1 &&
		  strstr(sb.buf, "'gsfx_core==1.2.0'") &&
		  strstr(sb.buf, "'gpuslim lock --update gsfx_core'"),
	      "pip hint: no matching distribution names it, the last line without a newline too");
	strbuf_reset(&sb);
	CHECK(build_pip_hint("#8 ERROR: executor failed running [/bin/sh -c false]: exit code: 1\n"
			     "ERROR: THESE PACKAGES",
			     &sb) == 0 &&
		  !sb.len,
	      "pip hint: none for other failures or a cut line");
	strbuf_release(&sb);
}

static void test_parse_progress(void)
{
	struct build_progress pr;

	CHECK(build_parse_progress("#5 [builder 3/9] RUN apt-get update", &pr) == 1 &&
		  pr.vertex == 5 && pr.step == 3 && pr.steps == 9 && !strcmp(pr.stage, "builder") &&
		  !strcmp(pr.text, "RUN apt-get update"),
	      "progress: '#5 [builder 3/9] RUN ...' is builder step 3 of 9");
	CHECK(build_parse_progress("#12 [2/5] COPY . .", &pr) == 1 && pr.step == 2 &&
		  pr.steps == 5 && !pr.stage[0] && !strcmp(pr.text, "COPY . ."),
	      "progress: single-stage '[2/5]' has no stage name");
	CHECK(build_parse_progress("#7 [stage-1 10/12] COPY --from=builder /a /b", &pr) == 1 &&
		  pr.step == 10 && pr.steps == 12 && !strcmp(pr.stage, "stage-1"),
	      "progress: two-digit steps");
	CHECK(build_parse_progress("#9 [builder  1/10] FROM x", &pr) == 1 && pr.step == 1 &&
		  pr.steps == 10 && !strcmp(pr.stage, "builder"),
	      "progress: the padding BuildKit puts after a stage name is not part of it");
	CHECK(!build_parse_progress("#1 [internal] load build definition from Dockerfile", &pr),
	      "progress: [internal] is no step");
	CHECK(!build_parse_progress("#5 DONE 0.1s", &pr) &&
		  !build_parse_progress("#5 0.123 compiling", &pr) &&
		  !build_parse_progress("#5 [builder 0/9] RUN x", &pr) &&
		  !build_parse_progress("#5 [builder 4/3] RUN x", &pr) &&
		  !build_parse_progress("#5 [builder 3/9 RUN x", &pr) &&
		  !build_parse_progress("Step 3/9 : RUN x", &pr) && !build_parse_progress("", &pr),
	      "progress: DONE, output, 0/n, k>n, unclosed and classic-builder lines are not steps");
}

static void test_all_ok(struct fixture *f, int jobs)
{
	struct build b;
	struct build_opts o;
	struct seen s = {0};
	char *conc, *log;
	int ret, ok = 1, maxc = 0;

	fake_reset();
	setenv("FAKE_BUILD_SLEEP", "0.2", 1);
	opts_for(&o, f, jobs, &s);
	ret = build_init(&b, f->p, &o);
	CHECK(ret == 0 && b.cells_nr == 4, "-j%d: build_init of 4 cells (%s)", jobs,
	      ret ? error_last() : "");
	ret = build_run(&b);
	CHECK(ret == 0, "-j%d: every cell builds (%s)", jobs, ret ? error_last() : "");
	for (size_t i = 0; i < b.cells_nr; i++) {
		const struct build_cell *bc = &b.cells[i];

		ok = ok && bc->status == BUILD_OK && bc->exit_code == 0 &&
		     bc->size_bytes == 4242424 && bc->image_id &&
		     starts_with(bc->image_id, "sha256:") && !bc->error;
	}
	CHECK(ok, "-j%d: each cell ok, exit 0, with its image id and size from the engine", jobs);
	CHECK(s.started == 4 && s.finished == 4 && !s.off_order,
	      "-j%d: started and finished once per cell (%d, %d)", jobs, s.started, s.finished);
	CHECK(s.max_running <= jobs && s.max_running == (jobs < 4 ? jobs : 4),
	      "-j%d: at most %d at once (saw %d)", jobs, jobs, s.max_running);
	conc = state_file("concurrency");
	for (char *l = conc; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (atoi(l) > maxc)
			maxc = atoi(l);
	CHECK(maxc >= 1 && maxc <= jobs, "-j%d: the fake never saw more than %d builds (saw %d)",
	      jobs, jobs, maxc);
	CHECK(s.step3_builder == 4 && s.progress >= 4 * 4,
	      "-j%d: progress events per step, deduplicated (%d)", jobs, s.progress);
	log = xstrdup("");
	{
		struct strbuf sb = STRBUF_INIT;

		fs_read_file(b.cells[0].log_path, &sb, 0);
		free(log);
		log = strbuf_detach(&sb, NULL);
	}
	CHECK(starts_with(log, "# gpuslim build: ") && strstr(log, "#3 [builder 2/3] RUN make") &&
		  strstr(log, "naming to"),
	      "-j%d: the log holds the command and the whole output", jobs);
	CHECK(no_orphans(), "-j%d: no process left", jobs);
	free(log);
	free(conc);
	build_release(&b);
}

static void test_keep_going(struct fixture *f)
{
	struct build b;
	struct build_opts o;
	struct seen s = {0};
	struct strbuf log = STRBUF_INIT;
	char *calls;
	int ret;

	fake_reset();
	setenv("FAKE_BUILD_FAIL", f->p->cells[1].tag, 1);
	opts_for(&o, f, 2, &s);
	build_init(&b, f->p, &o);
	ret = build_run(&b);
	CHECK(ret == BUILD_EFAILED && strstr(error_last(), "1 of 4 cells failed, 0 cancelled"),
	      "keep-going: BUILD_EFAILED, '1 of 4 cells failed' (%s)", error_last());
	CHECK(b.cells[1].status == BUILD_FAILED && b.cells[1].exit_code == 1 && b.cells[1].error &&
		  strstr(b.cells[1].error, "exited with code 1"),
	      "keep-going: the failing cell is FAILED with exit code 1 (%s)",
	      b.cells[1].error ? b.cells[1].error : "");
	CHECK(b.cells[0].status == BUILD_OK && b.cells[2].status == BUILD_OK &&
		  b.cells[3].status == BUILD_OK,
	      "keep-going: the other cells finish");
	fs_read_file(b.cells[1].log_path, &log, 0);
	CHECK(strstr(log.buf, "ERROR: process \"/bin/sh -c make\"") &&
		  strstr(log.buf, "failed to solve"),
	      "keep-going: the failed cell's log has its error, stderr included");

	ret = build_push(&b);
	calls = state_file("calls");
	CHECK(ret == GS_EINVAL && strstr(error_last(), "not pushing: 1 of 4 cells did not build"),
	      "push: refused when a cell failed (%s)", error_last());
	CHECK(build_count_push(&b, BUILD_PUSH_SKIPPED) == 4 && !strstr(calls, "push "),
	      "push: every push skipped, no docker push ran");
	free(calls);
	strbuf_release(&log);
	build_release(&b);
}

static void test_fail_fast(struct fixture *f)
{
	struct build b;
	struct build_opts o;
	struct seen s = {0};
	long long t0, elapsed;
	int ret;

	fake_reset();
	/* Cell 0 fails quickly while cell 1 is in a 30 s step; 2 and 3 wait. */
	setenv("FAKE_BUILD_FAIL", f->p->cells[0].tag, 1);
	setenv("FAKE_BUILD_SLOW", f->p->cells[1].tag, 1);
	setenv("FAKE_BUILD_SLEEP", "0.1", 1);
	opts_for(&o, f, 2, &s);
	o.fail_fast = 1;
	build_init(&b, f->p, &o);
	t0 = ms_now();
	ret = build_run(&b);
	elapsed = ms_now() - t0;
	CHECK(ret == BUILD_EFAILED && elapsed < 10000,
	      "fail-fast: BUILD_EFAILED well before the slow build would end (%lld ms)", elapsed);
	CHECK(b.cells[0].status == BUILD_FAILED, "fail-fast: the failing cell is FAILED");
	CHECK(b.cells[1].status == BUILD_CANCELLED && b.cells[1].started_ms,
	      "fail-fast: the running cell is cancelled (%s)",
	      build_status_name(b.cells[1].status));
	CHECK(b.cells[2].status == BUILD_CANCELLED && !b.cells[2].started_ms &&
		  b.cells[3].status == BUILD_CANCELLED && b.cells[2].error &&
		  strstr(b.cells[2].error, "not started"),
	      "fail-fast: the queued cells are cancelled, never started");
	CHECK(s.finished == 4 && !s.off_order, "fail-fast: every cell reported finished once");
	/* How many ticks fit depends on the machine's load; that some come while
	 * every child is silent does not. */
	CHECK(s.ticks >= 1 || elapsed < 200, "ticks: through a silent step (%d in %lld ms)",
	      s.ticks, elapsed);
	CHECK(no_orphans(), "fail-fast: the cancelled build's processes are gone");
	build_release(&b);
}

static void test_push(struct fixture *f)
{
	struct build b;
	struct build_opts o;
	struct seen s = {0};
	char *calls;
	int ret, digests = 1;

	fake_reset();
	opts_for(&o, f, 3, &s);
	build_init(&b, f->p, &o);
	ret = build_run(&b);
	CHECK(ret == 0, "push: the build succeeds first");
	ret = build_push(&b);
	calls = state_file("calls");
	CHECK(ret == 0 && build_count_push(&b, BUILD_PUSH_OK) == 4, "push: every image pushed (%s)",
	      ret ? error_last() : "");
	for (size_t i = 0; i < b.cells_nr; i++)
		digests = digests && b.cells[i].digest && strlen(b.cells[i].digest) == 71 &&
			  starts_with(b.cells[i].digest, "sha256:");
	CHECK(digests, "push: each pushed ref has its digest from the push output");
	CHECK(count_lines_with(calls, "push 127.0.0.1:5999/test/fakeb:") == 4 &&
		  s.push_started == 4 && s.push_finished == 4,
	      "push: one 'docker push REF' per cell");
	free(calls);
	build_release(&b);

	/* One push fails: exit names the ref, the rest is pushed or cancelled. */
	fake_reset();
	setenv("FAKE_PUSH_FAIL", f->p->cells[2].tag, 1);
	memset(&s, 0, sizeof(s));
	opts_for(&o, f, 1, &s);
	build_init(&b, f->p, &o);
	build_run(&b);
	ret = build_push(&b);
	CHECK(ret == BUILD_EFAILED && strstr(error_last(), f->p->cells[2].image_ref),
	      "push: a failed push is BUILD_EFAILED naming the ref (%s)", error_last());
	CHECK(b.cells[0].push == BUILD_PUSH_OK && b.cells[1].push == BUILD_PUSH_OK &&
		  b.cells[2].push == BUILD_PUSH_FAILED && b.cells[3].push == BUILD_PUSH_CANCELLED,
	      "push: -j1: two pushed, the third failed, the fourth never started");
	build_release(&b);
}

struct delayed_write {
	int fd, ms;
};

static void *write_later(void *arg)
{
	struct delayed_write *dw = arg;
	struct timespec ts = {dw->ms / 1000, (long)(dw->ms % 1000) * 1000000L};
	ssize_t n;

	nanosleep(&ts, NULL);
	n = write(dw->fd, "x", 1);
	(void)n;
	return NULL;
}

static void test_interrupt(struct fixture *f)
{
	struct build b;
	struct build_opts o;
	struct seen s = {0};
	struct delayed_write dw;
	pthread_t th;
	int fds[2];
	long long t0;
	int ret;

	fake_reset();
	{
		char *all = xstrfmt("%s %s %s %s", f->p->cells[0].tag, f->p->cells[1].tag,
				    f->p->cells[2].tag, f->p->cells[3].tag);

		setenv("FAKE_BUILD_SLOW", all, 1); /* every cell */
		free(all);
	}
	if (pipe(fds) < 0)
		return;
	opts_for(&o, f, 2, &s);
	o.abort_fd = fds[0];
	build_init(&b, f->p, &o);
	dw.fd = fds[1];
	dw.ms = 500;
	pthread_create(&th, NULL, write_later, &dw);
	t0 = ms_now();
	ret = build_run(&b);
	pthread_join(th, NULL);
	CHECK(ret == BUILD_EINTERRUPTED && b.interrupted && ms_now() - t0 < 10000,
	      "interrupt: BUILD_EINTERRUPTED soon after the abort fd fires (%lld ms, %s)",
	      ms_now() - t0, error_last());
	CHECK(build_count(&b, BUILD_CANCELLED) == 4 &&
		  strstr(error_last(), "4 of 4 cells cancelled"),
	      "interrupt: every cell cancelled, running or not");
	CHECK(no_orphans(), "interrupt: every child build stopped, no orphan");
	close(fds[0]);
	close(fds[1]);
	build_release(&b);
}

static void test_cache(struct fixture *f)
{
	struct build b;
	struct build_opts o;
	struct seen s = {0};
	char *calls, *want;
	int ret;

	/* registry on the built-in BuildKit: import the cache ref and the
	 * image's inline cache, export inline, and say so once. */
	fake_reset();
	opts_for(&o, f, 1, &s);
	o.cache = "registry";
	ret = build_init(&b, f->p, &o);
	CHECK(ret == 0 && b.cache == BUILD_CACHE_REGISTRY && b.notes.nr == 1 &&
		  strstr(b.notes.items[0], "exports inline only"),
	      "cache registry on buildkit: one note");
	build_run(&b);
	calls = state_file("calls");
	want = xstrfmt("--cache-from 127.0.0.1:5999/test/fakeb:buildcache-%s --cache-from %s "
		       "--build-arg BUILDKIT_INLINE_CACHE=1",
		       f->p->cells[0].tag, f->p->cells[0].image_ref);
	CHECK(strstr(calls, want) != NULL && strstr(calls, "build-env DOCKER_BUILDKIT=1"),
	      "cache registry on buildkit: --cache-from buildcache-<tag> and the image, inline "
	      "export");
	free(want);
	free(calls);
	build_release(&b);

	/* local on buildkit: skipped with a note, no cache flags. */
	fake_reset();
	o.cache = "local";
	o.cache_dir = f->out;
	ret = build_init(&b, f->p, &o);
	CHECK(ret == 0 && b.cache == BUILD_CACHE_NONE && b.notes.nr == 1 &&
		  strstr(b.notes.items[0], "needs buildx"),
	      "cache local on buildkit: skipped with a note");
	build_run(&b);
	calls = state_file("calls");
	CHECK(!strstr(calls, "--cache"), "cache local on buildkit: no cache flags");
	free(calls);
	build_release(&b);

	/* buildx: the registry cache is exported to the cache ref; local goes
	 * before the context. */
	fake_reset();
	setenv("FAKE_BUILDX", "1", 1);
	engine_release(&f->e);
	ret = engine_detect(&f->e, NULL, NULL);
	CHECK(ret == 0 && f->e.backend == ENGINE_BUILDX, "cache: the fake is a buildx client");
	o.cache = "registry";
	build_init(&b, f->p, &o);
	ret = build_run(&b);
	calls = state_file("calls");
	want =
	    xstrfmt("--cache-to type=registry,ref=127.0.0.1:5999/test/fakeb:buildcache-%s,mode=max",
		    f->p->cells[0].tag);
	CHECK(ret == 0 && strstr(calls, want) && !b.notes.nr,
	      "cache registry on buildx: exported to buildcache-<tag>");
	free(want);
	free(calls);
	build_release(&b);
	fake_reset();
	setenv("FAKE_BUILDX", "1", 1);
	o.cache = "local";
	build_init(&b, f->p, &o);
	ret = build_run(&b);
	calls = state_file("calls");
	want = xstrfmt("--cache-to type=local,dest=%s/%s,mode=max %s\n", f->out, f->p->cells[0].id,
		       f->ctx);
	CHECK(ret == 0 && b.cache == BUILD_CACHE_LOCAL && strstr(calls, want),
	      "cache local on buildx: type=local under the build dir, before the context");
	free(want);
	free(calls);
	build_release(&b);
	unsetenv("FAKE_BUILDX");
	engine_release(&f->e);
	engine_detect(&f->e, NULL, NULL);
}

static void test_report(struct fixture *f)
{
	struct build b;
	struct build_opts o;
	struct seen s = {0};
	char *path = xstrfmt("%s/report.json", tmp);
	json_t *j, *cells;
	json_error_t jerr;
	int ret;

	fake_reset();
	setenv("FAKE_BUILD_FAIL", f->p->cells[3].tag, 1);
	opts_for(&o, f, 2, &s);
	build_init(&b, f->p, &o);
	build_run(&b);
	ret = build_write_report(&b, path);
	j = json_load_file(path, 0, &jerr);
	cells = j ? json_object_get(j, "cells") : NULL;
	CHECK(ret == 0 && j && json_array_size(cells) == 4, "report: written, 4 cells");
	if (cells && json_array_size(cells) == 4) {
		json_t *c0 = json_array_get(cells, 0), *c3 = json_array_get(cells, 3);

		CHECK(!strcmp(json_string_value(json_object_get(j, "status")), "failed") &&
			  !strcmp(json_string_value(json_object_get(j, "backend")), "buildkit") &&
			  json_integer_value(json_object_get(j, "jobs")) == 2,
		      "report: run status, backend, jobs");
		CHECK(!strcmp(json_string_value(json_object_get(c0, "status")), "ok") &&
			  json_integer_value(json_object_get(c0, "size_bytes")) == 4242424 &&
			  json_integer_value(json_object_get(c0, "exit_code")) == 0 &&
			  json_is_null(json_object_get(c0, "signal")) &&
			  starts_with(json_string_value(json_object_get(c0, "image_id")),
				      "sha256:") &&
			  json_is_string(json_object_get(c0, "log")) &&
			  !strcmp(json_string_value(
				      json_object_get(json_object_get(c0, "push"), "status")),
				  "none"),
		      "report: an ok cell: id, size, exit code, image id, log, push");
		CHECK(!strcmp(json_string_value(json_object_get(c3, "status")), "failed") &&
			  json_integer_value(json_object_get(c3, "exit_code")) == 1 &&
			  json_is_null(json_object_get(c3, "image_id")) &&
			  json_is_string(json_object_get(c3, "error")),
		      "report: a failed cell: exit code 1, no image, its error");
	}
	json_decref(j);
	free(path);
	build_release(&b);
}

static void test_no_engine(void)
{
	struct engine e;
	int ret;

	fake_reset();
	setenv("FAKE_DOCKER_SERVER", "none", 1);
	memset(&e, 0, sizeof(e));
	ret = engine_detect(&e, NULL, NULL);
	CHECK(ret == GS_EINFRA && strstr(error_last(), "no Docker engine answers"),
	      "no engine: GS_EINFRA with the engine's message (%s)", error_last());
	engine_release(&e);
}

/* ./gpuslim build, end to end, on the fake. */
static int run_cli(const char *const *args, struct strbuf *out, struct strbuf *err)
{
	struct process p;
	struct process_result res;
	char *exe = xstrfmt("%s/gpuslim", root);
	char *errfile = xstrfmt("%s/cli.err", tmp);
	int code = -1;

	process_init(&p);
	vec_pushstr(&p.argv, exe);
	for (const char *const *a = args; *a; a++)
		vec_pushstr(&p.argv, *a);
	unlink(errfile);
	/* stdout captured; stderr through a shell-free trick: the log file. */
	p.output = PROCESS_OUTPUT_FILE;
	p.output_path = errfile;
	p.stdin_null = 1;
	if (process_run(&p, 60000, &res) == 0 && res.exited)
		code = res.exit_code;
	fs_read_file(errfile, err, 0);
	(void)out;
	process_release(&p);
	free(exe);
	free(errfile);
	return code;
}

static void test_cli(struct fixture *f)
{
	char *exe = xstrfmt("%s/gpuslim", root);
	char *report = xstrfmt("%s/cli-report.json", tmp);
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	char *want;
	int code;

	if (access(exe, X_OK) < 0) {
		SKIP("the CLI checks: %s is not built", exe);
		free(exe);
		free(report);
		return;
	}
	fake_reset();
	{
		const char *args[] = {"build",	recipe_file, "--offline",  "--no-gate",
				      "-j",	"2",	     "--progress", "plain",
				      "--json", report,	     NULL};

		code = run_cli(args, &out, &err);
	}
	want = xstrfmt("[%s] done in", f->p->cells[0].id);
	CHECK(code == 0 && strstr(err.buf, "backend: docker build with BuildKit") &&
		  strstr(err.buf, want) && strstr(err.buf, "] step 2/3 [builder] RUN make") &&
		  strstr(err.buf, "built 4 of 4 cells") && fs_exists(report),
	      "cli: exit 0, backend line, plain progress, closing line, report");
	if (code != 0)
		printf("# %s\n", err.buf);
	free(want);

	fake_reset();
	setenv("FAKE_BUILD_FAIL", f->p->cells[2].tag, 1);
	strbuf_reset(&err);
	{
		const char *args[] = {"build", recipe_file,  "--offline", "--no-gate", "-j",
				      "2",     "--progress", "plain",	  "--push",    NULL};

		code = run_cli(args, &out, &err);
	}
	want = xstrfmt("[%s] FAILED (exit 1), log: ", f->p->cells[2].id);
	CHECK(code == 1 && strstr(err.buf, want) && strstr(err.buf, "==> cell '") &&
		  strstr(err.buf, "#3 0.202 make: *** [all] Error 2") &&
		  strstr(err.buf, "1 of 4 cells failed") && strstr(err.buf, "nothing was pushed"),
	      "cli: a failed cell: exit 1, its whole log, nothing pushed");
	free(want);

	fake_reset();
	setenv("FAKE_BUILD_FAIL", f->p->cells[0].tag, 1);
	setenv("FAKE_BUILD_SLOW", f->p->cells[1].tag, 1);
	strbuf_reset(&err);
	{
		const char *args[] = {"build", recipe_file,  "--offline", "--no-gate",	 "-j",
				      "2",     "--progress", "plain",	  "--fail-fast", NULL};

		code = run_cli(args, &out, &err);
	}
	want = xstrfmt("[%s] cancelled (not started)", f->p->cells[3].id);
	CHECK(code == 1 && strstr(err.buf, want) && strstr(err.buf, "cancelled (fail-fast)"),
	      "cli: --fail-fast: exit 1, the others cancelled");
	free(want);
	CHECK(no_orphans(), "cli: --fail-fast leaves no process");

	/* Ctrl-C: every build stopped, exit 130, a line saying what was cancelled. */
	fake_reset();
	{
		char *all = xstrfmt("%s %s %s %s", f->p->cells[0].tag, f->p->cells[1].tag,
				    f->p->cells[2].tag, f->p->cells[3].tag);
		char *errfile = xstrfmt("%s/cli-int.err", tmp);
		struct process p;
		struct process_result res;
		struct timespec ts = {1, 500000000L};

		setenv("FAKE_BUILD_SLOW", all, 1);
		process_init(&p);
		vec_pushstr(&p.argv, exe);
		vec_pushstr(&p.argv, "build");
		vec_pushstr(&p.argv, recipe_file);
		vec_pushstr(&p.argv, "--offline");
		vec_pushstr(&p.argv, "--progress=plain");
		vec_pushstr(&p.argv, "--json");
		vec_pushstr(&p.argv, report);
		p.output = PROCESS_OUTPUT_FILE;
		p.output_path = errfile;
		p.new_pgroup = 1;
		code = -1;
		if (process_start(&p) == 0) {
			nanosleep(&ts, NULL);
			kill(p.pid, SIGINT);
			if (process_wait(&p, 20000, &res) == 0 && res.exited)
				code = res.exit_code;
		}
		strbuf_reset(&err);
		fs_read_file(errfile, &err, 0);
		CHECK(code == 130 && strstr(err.buf, "interrupted by SIGINT") &&
			  strstr(err.buf, "cancelled: fakeb-"),
		      "cli: SIGINT: exit 130, says what was cancelled (exit %d)", code);
		if (code != 130)
			printf("# %s\n", err.buf);
		CHECK(no_orphans(), "cli: SIGINT leaves no build running");
		strbuf_reset(&out);
		fs_read_file(report, &out, 0);
		CHECK(strstr(out.buf, "\"interrupted\": true") != NULL,
		      "cli: SIGINT: the report is written whole, saying so");
		process_release(&p);
		free(errfile);
		free(all);
	}

	fake_reset();
	setenv("FAKE_DOCKER_SERVER", "none", 1);
	strbuf_reset(&err);
	{
		const char *args[] = {"build", recipe_file, "--offline", "--no-gate", NULL};

		code = run_cli(args, &out, &err);
	}
	CHECK(code == 3 && strstr(err.buf, "no Docker engine answers"),
	      "cli: no engine: exit 3 with the engine's message");

	strbuf_reset(&err);
	{
		const char *args[] = {"build", recipe_file, "-j", "zero", NULL};

		code = run_cli(args, &out, &err);
	}
	CHECK(code == 2, "cli: a bad -j is exit 2");

	strbuf_release(&out);
	strbuf_release(&err);
	free(exe);
	free(report);
}

int main(void)
{
	struct fixture f;
	char *saved_path = getenv("PATH") ? xstrdup(getenv("PATH")) : NULL;

	test_parse_progress();
	test_pip_hint();
	if (setup() < 0) {
		printf("not ok 1 - cannot set up the fake docker: %s\n", strerror(errno));
		return 1;
	}
	if (fixture_load(&f) < 0) {
		CHECK(0, "fixture: plan the test recipe");
		return unit_done();
	}
	CHECK(f.p->cells_nr == 4, "fixture: the test recipe has 4 cells");
	fake_reset();
	CHECK(engine_detect(&f.e, NULL, NULL) == 0 && f.e.backend == ENGINE_BUILDKIT,
	      "fixture: the fake is a 20.10 client with built-in BuildKit (%s)", error_last());

	test_all_ok(&f, 1);
	test_all_ok(&f, 3);
	test_keep_going(&f);
	test_fail_fast(&f);
	test_push(&f);
	test_interrupt(&f);
	test_cache(&f);
	test_report(&f);
	test_no_engine();
	test_engine_spec();
	test_engines(&f);
	test_cli(&f);

	fixture_free(&f);
	if (saved_path)
		setenv("PATH", saved_path, 1);
	free(saved_path);
	rm_rf(tmp);
	return unit_done();
}
