#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/gate.h"
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

static int smoke_one(const struct smoke_opts *o, const struct plan_smoke *t, size_t index,
		     struct vec *results)
{
	char *gname = xstrfmt("smoke %s", t->name), *cname, *last = NULL;
	long timeout = t->timeout > 0 ? t->timeout : SMOKE_DEFAULT_TIMEOUT;
	struct process p;
	struct process_result res;
	struct gate_result *g;
	long long t0;
	double secs;
	int ret = 0, code;

	if (t->gpu && (!o->gpu || !o->gpu->available)) {
		const char *why = o->gpu && o->gpu->why ? o->gpu->why : "not detected";

		if (o->require_gpu)
			gate_add(results, GATE_SMOKE, gname, GATE_FAIL,
				 "no GPU and --require-gpu: %s", why);
		else
			gate_add(results, GATE_SMOKE, gname, GATE_SKIP, "skipped: no GPU (%s)",
				 why);
		free(gname);
		return 0;
	}
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
	if (process_wait(&p, (int)(timeout > 2000000 ? 2000000000 : timeout * 1000), &res) < 0) {
		ret = error_setc(GS_EINFRA, "%s", error_last());
		goto done;
	}
	secs = (double)(smoke_now_ms() - t0) / 1000.0;
	if (res.timed_out || res.cancelled)
		smoke_remove(o->docker, cname);
	last = smoke_last_line(p.out.buf);
	code = res.exited ? res.exit_code : -1;
	if (res.cancelled) {
		g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL, "interrupted after %.1fs",
			     secs);
	} else if (t->reject && strstr(p.out.buf, t->reject)) {
		g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL, "the output has '%s': %s",
			     t->reject, last);
	} else if (res.exited && code >= 125 && code <= 127) {
		/* docker's own: the daemon refused, or the command cannot run */
		char *why = smoke_docker_error(p.out.buf);

		g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL,
			     "the container did not start (docker run exit %d): %s", code, why);
		free(why);
	} else if (res.timed_out && !t->any_exit) {
		g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL, "timed out after %lds: %s",
			     timeout, last);
	} else if (!res.timed_out && !t->any_exit && (!res.exited || code != 0)) {
		if (res.signaled)
			g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL,
				     "killed by signal %d after %.1fs: %s", res.signal, secs, last);
		else
			g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL,
				     "exit %d after %.1fs: %s", code, secs, last);
	} else if (t->expect && !strstr(p.out.buf, t->expect)) {
		g = gate_add(results, GATE_SMOKE, gname, GATE_FAIL,
			     "the output lacks '%s' (exit %d): %s", t->expect, code, last);
	} else if (res.timed_out) {
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
	g->has_value = res.exited;
	g->value = code;
	{
		size_t from = p.out.len > SMOKE_TAIL ? p.out.len - SMOKE_TAIL : 0;

		g->output = xstrdup(p.out.buf + from);
	}
done:
	process_release(&p);
	free(last);
	free(cname);
	free(gname);
	return ret;
}

int smoke_run(const struct smoke_opts *o, const struct plan_smoke *tests, size_t n,
	      struct vec *results)
{
	for (size_t i = 0; i < n; i++) {
		int ret = smoke_one(o, &tests[i], i, results);

		if (ret < 0)
			return ret;
	}
	return 0;
}
