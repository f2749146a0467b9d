#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/gate.h"
#include "core/rootfs.h"
#include "core/sandbox.h"
#include "core/smoke.h"
#include "util/error.h"
#include "util/process.h"
#include "util/strbuf.h"

/* A test's output kept in memory; a chatty test is judged by its start. */
#define SMOKE_OUTPUT_CAP (1u << 20)
/* The output tail a result keeps for reports (JUnit system-out). */
#define SMOKE_TAIL     4000
#define SMOKE_PROBE_MS 15000

void smoke_gpu_release(struct smoke_gpu *g)
{
	free(g->why);
	g->why = NULL;
}

/* Run argv to completion with captured output; 0 when it exited 0. */
static int smoke_probe(struct vec *argv, struct strbuf *out)
{
	struct process p;
	struct process_result res;
	int ret;

	process_init(&p);
	for (size_t i = 0; i < argv->nr; i++)
		vec_pushstr(&p.argv, argv->items[i]);
	p.stdin_null = 1;
	p.output = PROCESS_OUTPUT_CAPTURE;
	p.output_cap = 64 * 1024;
	p.new_pgroup = 1;
	ret = process_run(&p, SMOKE_PROBE_MS, &res);
	if (!ret)
		ret = process_check_result(&p, &res);
	strbuf_addstr(out, p.out.buf);
	process_release(&p);
	return ret;
}

void smoke_detect_gpu(const char *docker, struct smoke_gpu *out)
{
	struct vec argv = VEC_INIT(free);
	struct strbuf sb = STRBUF_INIT, gpus = STRBUF_INIT;
	char *smi = NULL;
	const char *line;

	memset(out, 0, sizeof(*out));
	vec_pushstr(&argv, docker ? docker : "docker");
	vec_pushstr(&argv, "info");
	vec_pushstr(&argv, "--format");
	vec_pushstr(&argv, "{{json .Runtimes}}");
	if (smoke_probe(&argv, &sb) < 0) {
		out->why = xstrfmt("the engine did not say its runtimes: %s", error_last());
		goto done;
	}
	if (!strstr(sb.buf, "\"nvidia\"")) {
		out->why = xstrdup("the engine has no nvidia runtime");
		goto done;
	}
	smi = process_find_in_path("nvidia-smi");
	if (!smi) {
		out->why = xstrdup("no nvidia-smi on this host");
		goto done;
	}
	vec_release(&argv);
	vec_pushstr(&argv, smi);
	vec_pushstr(&argv, "-L");
	strbuf_reset(&sb);
	if (smoke_probe(&argv, &sb) < 0) {
		strbuf_rtrim(&sb);
		out->why = xstrfmt("nvidia-smi -L failed: %s", sb.len ? sb.buf : error_last());
		goto done;
	}
	for (line = sb.buf; *line;) {
		const char *nl = strchr(line, '\n');

		if (starts_with(line, "GPU ")) {
			strbuf_add(&gpus, line, strcspn(line, "\n"));
			break;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	if (!gpus.len) {
		out->why = xstrdup("nvidia-smi -L lists no GPU");
		goto done;
	}
	out->available = 1;
	out->why = strbuf_detach(&gpus, NULL);
done:
	error_clear();
	free(smi);
	strbuf_release(&sb);
	strbuf_release(&gpus);
	vec_release(&argv);
}

static atomic_uint smoke_seq;

static long long smoke_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last non-empty line of `s`, cut to 200 characters, newly allocated. */
static char *smoke_last_line(const char *s)
{
	size_t len = strlen(s), end, start;

	while (len && strchr("\r\n \t", s[len - 1]))
		len--;
	end = len;
	start = end;
	while (start && s[start - 1] != '\n')
		start--;
	if (end - start > 200)
		start = end - 200;
	return xstrndup(s + start, end - start);
}

/* docker run's own error ("docker: Error response from daemon: ..."), which
 * "See 'docker run --help'." follows; else the last line. */
static char *smoke_docker_error(const char *s)
{
	const char *p = s;

	while (p && *p) {
		if (starts_with(p, "docker: ")) {
			const char *end = strchrnul(p, '\n');

			return xstrndup(p, (size_t)(end - p) > 300 ? 300 : (size_t)(end - p));
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return smoke_last_line(s);
}

static void smoke_remove(const char *docker, const char *name)
{
	struct process p;
	struct process_result res;

	process_init(&p);
	vec_pushstr(&p.argv, docker);
	vec_pushstr(&p.argv, "rm");
	vec_pushstr(&p.argv, "-f");
	vec_pushstr(&p.argv, name);
	p.stdin_null = 1;
	p.output = PROCESS_OUTPUT_NULL;
	p.new_pgroup = 1;
	process_run(&p, SMOKE_PROBE_MS, &res);
	process_release(&p);
}

/* A gpu test without a GPU: a skip, or a failure with --require-gpu. 1 when it was. */
static int smoke_gpu_missing(const struct smoke_opts *o, const struct plan_smoke *t,
			     const char *gname, struct vec *results)
{
	const char *why = o->gpu && o->gpu->why ? o->gpu->why : "not detected";

	if (!t->gpu || (o->gpu && o->gpu->available))
		return 0;
	if (o->require_gpu)
		gate_add(results, GATE_SMOKE, gname, GATE_FAIL, "no GPU and --require-gpu: %s",
			 why);
	else
		gate_add(results, GATE_SMOKE, gname, GATE_SKIP, "skipped: no GPU (%s)", why);
	return 1;
}

/* How a test's command ended, whichever runner ran it. */
struct smoke_outcome {
	int exited, code; /* code: -1 unless exited */
	int signaled, signal;
	int timed_out, cancelled;
	double secs;
	char *not_started; /* the runner's reason the command never ran, or NULL */
	struct strbuf out; /* stdout and stderr, up to SMOKE_OUTPUT_CAP */
};

/* The verdict on one test, the same for every runner: one gate result. */
static void smoke_judge(const struct plan_smoke *t, long timeout, const char *gname,
			const struct smoke_outcome *oc, struct vec *results)
{
	const char *out = oc->out.buf;
	char *last = smoke_last_line(out);
	double secs = oc->secs;
	int code = oc->code;
	struct gate_result *g;
	size_t from;

	if (oc->cancelled) {
		g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL, "interrupted after %.1fs",
			     secs);
	} else if (t->reject && strstr(out, t->reject)) {
		g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL, "the output has '%s': %s",
			     t->reject, last);
	} else if (oc->not_started) {
		g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL, "%s", oc->not_started);
	} else if (oc->timed_out && !t->any_exit) {
		g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL, "timed out after %lds: %s",
			     timeout, last);
	} else if (!oc->timed_out && !t->any_exit && (!oc->exited || code != 0)) {
		if (oc->signaled)
			g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL,
				     "killed by signal %d after %.1fs: %s", oc->signal, secs, last);
		else
			g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL,
				     "exit %d after %.1fs: %s", code, secs, last);
	} else if (t->expect && !strstr(out, t->expect)) {
		g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL,
			     "the output lacks '%s' (exit %d): %s", t->expect, code, last);
	} else if (oc->timed_out) {
		g = gate_add(results, GATE_SMOKE, gname, GATE_PASS,
			     "passed: still running after %lds, it started (any exit accepted)",
			     timeout);
	} else if (t->any_exit && code != 0) {
		g = gate_add(
		    results, GATE_SMOKE, gname, GATE_PASS,
		    "passed in %.1fs: started and loaded its libraries (exit %d accepted: %s)",
		    secs, code, last);
	} else {
		g = gate_add(results, GATE_SMOKE, gname, GATE_PASS, "passed in %.1fs%s%s%s", secs,
			     t->expect ? " (output has '" : "", t->expect ? t->expect : "",
			     t->expect ? "')" : "");
	}
	g->seconds = secs;
	g->has_value = oc->exited;
	g->value = code;
	from = oc->out.len > SMOKE_TAIL ? oc->out.len - SMOKE_TAIL : 0;
	g->output = xstrdup(out + from);
	free(last);
}

static void smoke_outcome_init(struct smoke_outcome *oc)
{
	memset(oc, 0, sizeof(*oc));
	oc->code = -1;
	strbuf_init(&oc->out, 0);
}

static void smoke_outcome_release(struct smoke_outcome *oc)
{
	free(oc->not_started);
	strbuf_release(&oc->out);
}

static long smoke_timeout(const struct plan_smoke *t)
{
	long timeout = t->timeout > 0 ? t->timeout : SMOKE_DEFAULT_TIMEOUT;

	return timeout > 2000000 ? 2000000 : timeout;
}

/* ---- the docker runner ---- */

static int smoke_one_docker(const struct smoke_opts *o, const struct plan_smoke *t, size_t index,
			    struct vec *results)
{
	char *gname = xstrfmt("smoke %s", t->name), *cname;
	long timeout = smoke_timeout(t);
	struct smoke_outcome oc;
	struct process p;
	struct process_result res;
	long long t0;
	int ret = 0;

	if (smoke_gpu_missing(o, t, gname, results)) {
		free(gname);
		return 0;
	}
	smoke_outcome_init(&oc);
	/* Unique in the process: cells are gated on several threads at once. */
	cname = xstrfmt("gpuslim-smoke-%ld-%u-%zu", (long)getpid(), atomic_fetch_add(&smoke_seq, 1),
			index);
	process_init(&p);
	vec_pushstr(&p.argv, o->docker);
	vec_pushstr(&p.argv, "run");
	vec_pushstr(&p.argv, "--rm");
	vec_pushstr(&p.argv, "--name");
	vec_pushstr(&p.argv, cname);
	vec_pushstr(&p.argv, "--network");
	vec_pushstr(&p.argv, "none");
	if (t->gpu) {
		vec_pushstr(&p.argv, "--gpus");
		vec_pushstr(&p.argv, "all");
	}
	vec_pushstr(&p.argv, "--entrypoint");
	vec_pushstr(&p.argv, t->run.items[0]);
	vec_pushstr(&p.argv, o->image);
	for (size_t i = 1; i < t->run.nr; i++)
		vec_pushstr(&p.argv, t->run.items[i]);
	p.stdin_null = 1;
	p.output = PROCESS_OUTPUT_CAPTURE;
	p.output_cap = SMOKE_OUTPUT_CAP;
	p.new_pgroup = 1;
	p.cancel_fd = o->abort_fd;
	t0 = smoke_now_ms();
	if (process_start(&p) < 0) {
		ret = error_setc(GS_EINFRA, "%s", error_last());
		goto done;
	}
	if (process_wait(&p, (int)timeout * 1000, &res) < 0) {
		ret = error_setc(GS_EINFRA, "%s", error_last());
		goto done;
	}
	oc.secs = (double)(smoke_now_ms() - t0) / 1000.0;
	if (res.timed_out || res.cancelled)
		smoke_remove(o->docker, cname);
	oc.exited = res.exited;
	oc.code = res.exited ? res.exit_code : -1;
	oc.signaled = res.signaled;
	oc.signal = res.signal;
	oc.timed_out = res.timed_out;
	oc.cancelled = res.cancelled;
	strbuf_addstr(&oc.out, p.out.buf);
	if (res.exited && oc.code >= 125 && oc.code <= 127) {
		/* docker's own: the daemon refused, or the command cannot run */
		char *why = smoke_docker_error(p.out.buf);

		oc.not_started =
		    xstrfmt("the container did not start (docker run exit %d): %s", oc.code, why);
		free(why);
	}
	smoke_judge(t, timeout, gname, &oc, results);
done:
	smoke_outcome_release(&oc);
	process_release(&p);
	free(cname);
	free(gname);
	return ret;
}

/* ---- the rootfs runner ---- */

/* The cell's image, unpacked once for all its tests. */
struct smoke_tree {
	char *tmp;  /* $TMPDIR/gpuslim-smoke-XXXXXX: the tree and the spools */
	char *root; /* tmp/rootfs */
	json_t *config;
};

static int smoke_tree_unpack(const struct smoke_opts *o, struct smoke_tree *tr)
{
	const char *tmpdir = getenv("TMPDIR");
	struct image_opts io;
	struct rootfs_opts ro;
	int ret;

	tr->tmp = xstrfmt("%s/gpuslim-smoke-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(tr->tmp)) {
		ret = error_setc(GS_EINFRA, "cannot create a temporary directory '%s': %s", tr->tmp,
				 strerror(errno));

		free(tr->tmp);
		tr->tmp = NULL;
		return ret;
	}
	tr->root = xstrfmt("%s/rootfs", tr->tmp);
	if (mkdir(tr->root, 0755) < 0)
		return error_setc(GS_EINFRA, "cannot create '%s': %s", tr->root, strerror(errno));
	if (o->image_opts)
		io = *o->image_opts;
	else
		memset(&io, 0, sizeof(io));
	if (!io.docker)
		io.docker = o->docker;
	if (o->abort_fd >= 0)
		io.abort_fd = &o->abort_fd;
	memset(&ro, 0, sizeof(ro));
	ro.image = &io;
	ro.spool_dir = tr->tmp;
	ro.keep_owner = geteuid() == 0;
	ret = rootfs_unpack(o->image, &ro, tr->root, &tr->config, NULL);
	if (ret < 0)
		error_prefix("smoke tests (--runner rootfs)");
	return ret == GS_ERR ? GS_EINFRA : ret;
}

/* Remove the tree; an error only when something stays behind. */
static int smoke_tree_remove(struct smoke_tree *tr)
{
	int ret = 0;

	if (tr->tmp && rootfs_remove_tree(tr->tmp) < 0)
		ret = error_setc(GS_EINFRA, "smoke tests: %s", error_last());
	free(tr->tmp);
	free(tr->root);
	json_decref(tr->config);
	memset(tr, 0, sizeof(*tr));
	return ret;
}

static void smoke_one_rootfs(const struct smoke_opts *o, const struct smoke_tree *tr,
			     const struct plan_smoke *t, const char *gname, struct vec *results)
{
	long timeout = smoke_timeout(t);
	struct smoke_outcome oc;
	struct sandbox_opts so;
	struct sandbox_io io;
	struct sandbox_result res;
	struct sandbox sb;
	long long t0 = smoke_now_ms();
	int ret;

	smoke_outcome_init(&oc);
	sandbox_init(&sb);
	memset(&so, 0, sizeof(so));
	so.root = tr->root;
	so.config = tr->config;
	so.cmd = &t->run;
	so.driver_dirs = o->driver_dirs;
	so.driver_sonames = o->driver_sonames;
	so.kind = o->sandbox;
	/* as docker run without --gpus: no driver for a test that is not a gpu one */
	so.gpu = t->gpu ? SANDBOX_GPU_ON : SANDBOX_GPU_OFF;
	ret = sandbox_prepare(&sb, &so);
	if (ret < 0) {
		oc.exited = 1;
		oc.code = ret == GS_ENOTFOUND ? 127 : 125;
		oc.not_started =
		    xstrfmt("the command did not start in the unpacked image: %s", error_last());
		goto judge;
	}
	memset(&io, 0, sizeof(io));
	io.abort_fd = o->abort_fd;
	io.grace_ms = 5000;
	io.timeout_ms = (int)timeout * 1000;
	io.output = &oc.out;
	io.output_cap = SMOKE_OUTPUT_CAP;
	memset(&res, 0, sizeof(res));
	ret = sandbox_exec(&sb, &io, &res);
	oc.exited = res.exited;
	oc.code = res.exited ? res.exit_code : -1;
	oc.signaled = res.signaled;
	oc.signal = res.signal;
	oc.timed_out = res.timed_out;
	oc.cancelled = res.interrupted;
	if (ret < 0)
		oc.not_started =
		    xstrfmt("the sandbox did not start (%s, exit %d): %s",
			    sb.kind == SANDBOX_BWRAP ? "bwrap" : "chroot", oc.code, error_last());
judge:
	error_clear();
	oc.secs = (double)(smoke_now_ms() - t0) / 1000.0;
	smoke_judge(t, timeout, gname, &oc, results);
	smoke_outcome_release(&oc);
	sandbox_release(&sb);
}

static int smoke_run_rootfs(const struct smoke_opts *o, const struct plan_smoke *tests, size_t n,
			    struct vec *results)
{
	struct smoke_tree tr = {NULL, NULL, NULL};
	int ret = 0, rm;

	for (size_t i = 0; i < n && !ret; i++) {
		char *gname = xstrfmt("smoke %s", tests[i].name);

		if (!smoke_gpu_missing(o, &tests[i], gname, results)) {
			/* unpacked at the first test that runs, once */
			if (!tr.tmp)
				ret = smoke_tree_unpack(o, &tr);
			if (!ret)
				smoke_one_rootfs(o, &tr, &tests[i], gname, results);
		}
		free(gname);
	}
	rm = smoke_tree_remove(&tr);
	return ret ? ret : rm;
}

int smoke_parse_runner(const char *s, enum smoke_runner *out)
{
	if (!strcmp(s, "docker"))
		*out = SMOKE_RUNNER_DOCKER;
	else if (!strcmp(s, "rootfs"))
		*out = SMOKE_RUNNER_ROOTFS;
	else
		return error_setc(GS_EINVAL, "--runner wants docker or rootfs, not '%s'", s);
	return 0;
}

void smoke_detect_driver(const struct vec *driver_dirs, const struct vec *driver_sonames,
			 struct smoke_gpu *out)
{
	char *note = NULL;

	memset(out, 0, sizeof(*out));
	out->available = sandbox_find_driver(driver_dirs, driver_sonames, &note) > 0;
	out->why = note;
}

int smoke_run(const struct smoke_opts *o, const struct plan_smoke *tests, size_t n,
	      struct vec *results)
{
	if (o->runner == SMOKE_RUNNER_ROOTFS)
		return smoke_run_rootfs(o, tests, n, results);
	for (size_t i = 0; i < n; i++) {
		int ret = smoke_one_docker(o, &tests[i], i, results);

		if (ret < 0)
			return ret;
	}
	return 0;
}
