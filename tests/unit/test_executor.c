/* The executor against real children (tests/fake/fake_child.c) and function jobs. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../fake/fake.h"
#include "unit.h"
#include "util/executor.h"
#include "util/signals.h"

#define MAXJOBS 16

static const char *fake;
static pthread_t main_thread;

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A run described as data: job i runs the fake child with actions[i] (a
 * space-separated list) or, when fn is set, that function. The callbacks
 * record what they saw, checking that they run on the main thread.
 */
struct run {
	int njobs;
	const char *actions[MAXJOBS];
	exec_fn fns[MAXJOBS];
	int timeout_ms[MAXJOBS];
	int next, get_next_error, stop_after;
	/* recorded */
	int nstarted, nfinished, running, max_running, off_thread, nlines;
	int status[MAXJOBS];
	char *out[MAXJOBS];
	char *error[MAXJOBS];
	struct process_result proc[MAXJOBS];
};

static void run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < MAXJOBS; i++)
		r->status[i] = -1;
}

static void run_release(struct run *r)
{
	for (int i = 0; i < MAXJOBS; i++) {
		free(r->out[i]);
		free(r->error[i]);
	}
}

static int get_next(void *ctx, struct exec_job *job)
{
	struct run *r = ctx;
	int i = r->next;

	if (!pthread_equal(pthread_self(), main_thread))
		r->off_thread++;
	if (r->get_next_error && i == r->get_next_error)
		return error_setc(GS_EINVAL, "cannot plan cell '%d': bad recipe", i);
	if (i >= r->njobs)
		return 1;
	r->next++;
	job->data = r;
	job->timeout_ms = r->timeout_ms[i];
	if (r->fns[i]) {
		job->fn = r->fns[i];
		return 0;
	}
	/* "!prog args": run prog instead of the fake child */
	if (r->actions[i][0] != '!')
		vec_pushstr(&job->proc.argv, fake);
	for (const char *p = r->actions[i] + (r->actions[i][0] == '!'); *p;) {
		const char *sp = strchrnul(p, ' ');

		vec_push(&job->proc.argv, xstrndup(p, (size_t)(sp - p)));
		p = *sp ? sp + 1 : sp;
	}
	return 0;
}

static void started(void *ctx, struct exec_job *job)
{
	struct run *r = ctx;

	r->nstarted++;
	if (++r->running > r->max_running)
		r->max_running = r->running;
}

static void progress(void *ctx, struct exec_job *job, const char *line)
{
	struct run *r = ctx;

	if (!pthread_equal(pthread_self(), main_thread))
		r->off_thread++;
	if (starts_with(line, "#5 [builder "))
		r->nlines++;
}

static int finished(void *ctx, struct exec_job *job, const struct exec_result *res)
{
	struct run *r = ctx;
	size_t i = job->seq;

	if (!pthread_equal(pthread_self(), main_thread))
		r->off_thread++;
	r->running--;
	r->nfinished++;
	r->status[i] = (int)res->status;
	r->out[i] = strbuf_detach(&job->proc.out, NULL);
	r->error[i] = xstrdup(res->error);
	r->proc[i] = res->proc;
	return r->stop_after && r->nfinished >= r->stop_after;
}

static int run_jobs(struct run *r, int jobs, int fail_fast, int abort_fd)
{
	struct exec_opts o = EXEC_OPTS_INIT;

	o.jobs = jobs;
	o.fail_fast = fail_fast;
	o.abort_fd = abort_fd;
	o.grace_ms = 200;
	o.get_next = get_next;
	o.started = started;
	o.progress = progress;
	o.finished = finished;
	o.ctx = r;
	return executor_run(&o);
}

/* The largest number of [first stamp, last stamp] intervals that overlap. */
static int max_overlap(struct run *r)
{
	long long b[MAXJOBS], e[MAXJOBS];
	int best = 0;

	for (int i = 0; i < r->njobs; i++) {
		const char *s = r->out[i] ? strstr(r->out[i], "stamp ") : NULL;
		const char *t = s ? strstr(s + 1, "stamp ") : NULL;

		if (!t)
			return -1;
		b[i] = atoll(s + 6);
		e[i] = atoll(t + 6);
	}
	for (int i = 0; i < r->njobs; i++) {
		int n = 0;

		for (int j = 0; j < r->njobs; j++)
			n += b[j] <= b[i] && b[i] < e[j];
		if (n > best)
			best = n;
	}
	return best;
}

static int count_status(struct run *r, int status)
{
	int n = 0;

	for (int i = 0; i < r->njobs; i++)
		n += r->status[i] == status;
	return n;
}

/* No process whose "pid N" or "grandchild N" a job printed is alive. */
static int survivors(struct run *r)
{
	int n = 0;

	for (int i = 0; i < r->njobs; i++) {
		if (!r->out[i])
			continue;
		n += pid_alive((pid_t)fake_field(r->out[i], "pid"));
		n += pid_alive((pid_t)fake_field(r->out[i], "grandchild"));
	}
	return n;
}

static void test_bound(int jobs)
{
	struct run r;
	long long t0 = ms_now();
	int rc, overlap;

	run_init(&r);
	r.njobs = 10;
	for (int i = 0; i < 10; i++)
		r.actions[i] = "stamp sleep 60 stamp";
	rc = run_jobs(&r, jobs, 0, -1);
	overlap = max_overlap(&r);
	CHECK(rc == 0 && r.nfinished == 10 && count_status(&r, EXEC_OK) == 10,
	      "%d worker(s) run 10 jobs to success", jobs);
	CHECK(overlap >= 1 && overlap <= jobs && r.max_running <= jobs,
	      "at most %d run at once (children overlapped %d, callbacks saw %d)", jobs, overlap,
	      r.max_running);
	if (jobs > 1)
		CHECK(overlap >= 2, "and they do run in parallel");
	CHECK(!r.off_thread, "every callback ran on the calling thread");
	printf("# %d worker(s): %lld ms\n", jobs, ms_now() - t0);
	run_release(&r);
}

static void test_keep_going(void)
{
	struct run r;
	int rc;

	run_init(&r);
	r.njobs = 6;
	for (int i = 0; i < 6; i++)
		r.actions[i] = i == 1 ? "out failing err boom exit 3" : "sleep 80 out fine";
	rc = run_jobs(&r, 2, 0, -1);
	CHECK(rc == EXEC_EJOBS && r.nfinished == 6,
	      "keep-going finishes every job after a failure");
	CHECK(count_status(&r, EXEC_OK) == 5 && r.status[1] == EXEC_FAILED,
	      "the failure is the only failure");
	CHECK(r.proc[1].exited && r.proc[1].exit_code == 3 &&
		  ends_with(r.error[1], "' exited with code 3"),
	      "its result keeps the exit code and the message: %s", r.error[1]);
	CHECK_STR(r.out[1], "failing\nboom\n", "its own output, whole, in its own buffer");
	CHECK_STR(r.out[4], "fine\n", "another job's output is its own");
	CHECK_STR(error_last(), "1 of 6 jobs failed, 0 cancelled", "the run's message");
	run_release(&r);
}

static void test_fail_fast(void)
{
	struct run r;
	long long t0 = ms_now();
	int rc;

	run_init(&r);
	r.njobs = 8;
	r.actions[0] = "sleep 100 exit 1";
	r.actions[1] = "pid grandchild ignore-term sleep 600000";
	r.actions[2] = "pid sleep 600000";
	for (int i = 3; i < 8; i++)
		r.actions[i] = "sleep 10";
	rc = run_jobs(&r, 3, 1, -1);
	CHECK(rc == EXEC_EJOBS && r.status[0] == EXEC_FAILED, "fail-fast reports the failure");
	CHECK(r.nstarted == 3 && r.nfinished == 3, "no job is handed out after it (%d started)",
	      r.nstarted);
	CHECK(r.status[1] == EXEC_CANCELLED && r.status[2] == EXEC_CANCELLED,
	      "the running ones are cancelled, not failed");
	CHECK(r.proc[1].signal == SIGKILL && r.proc[2].signal == SIGTERM,
	      "SIGTERM first, SIGKILL for the one that ignores it");
	CHECK(!survivors(&r) && no_children_left(), "no process is left behind");
	CHECK(ms_now() - t0 < 60000, "before the 600 s sleeps would end (%lld ms)", ms_now() - t0);
	CHECK_STR(error_last(), "1 of 3 jobs failed, 2 cancelled", "the run's message");
	run_release(&r);
}

static void *send_sigint(void *arg)
{
	struct timespec ts = {0, 150 * 1000000L};

	nanosleep(&ts, NULL);
	kill(getpid(), SIGINT);
	return arg;
}

static void test_abort(void)
{
	struct run r;
	pthread_t timer;
	long long t0 = ms_now();
	int rc;

	CHECK(signals_install() == 0 && signals_fd() >= 0, "install the signal handlers");
	run_init(&r);
	r.njobs = 6;
	for (int i = 0; i < 6; i++)
		r.actions[i] =
		    i == 0 ? "pid grandchild ignore-term sleep 600000" : "pid sleep 600000";
	pthread_create(&timer, NULL, send_sigint, NULL);
	rc = run_jobs(&r, 3, 0, signals_fd());
	pthread_join(timer, NULL);
	CHECK(rc == EXEC_EINTERRUPTED && signals_caught() == SIGINT,
	      "SIGINT interrupts the run with its own code");
	CHECK(r.nstarted == 3 && count_status(&r, EXEC_CANCELLED) == 3,
	      "every running job is cancelled and no other starts");
	CHECK(!survivors(&r) && no_children_left(), "no process is left behind");
	CHECK(ms_now() - t0 < 60000, "before the 600 s sleeps would end (%lld ms)", ms_now() - t0);
	CHECK_STR(error_last(), "interrupted: 3 of 3 jobs cancelled", "the run's message");
	signals_clear();
	CHECK(signals_caught() == 0, "signals_clear forgets it");
	signals_uninstall();
	run_release(&r);
}

static int fn_analyze(struct exec_job *job)
{
	if (pthread_equal(pthread_self(), main_thread))
		return error_set("function job ran on the calling thread");
	strbuf_addf(&job->proc.out, "analyzed %zu\n", job->seq);
	if (job->seq % 2)
		return error_setc(GS_EINVAL, "cannot analyze 'image-%zu': bad layer", job->seq);
	return 0;
}

static int fn_long(struct exec_job *job)
{
	struct timespec ts = {0, 5 * 1000000L};

	for (int i = 0; i < 400 && !exec_job_cancelled(job); i++)
		nanosleep(&ts, NULL);
	if (exec_job_cancelled(job))
		return error_set("analysis of 'big' stopped");
	return 0;
}

static void test_functions(void)
{
	struct run r;
	int rc;

	run_init(&r);
	r.njobs = 4;
	for (int i = 0; i < 4; i++)
		r.fns[i] = fn_analyze;
	rc = run_jobs(&r, 2, 0, -1);
	CHECK(rc == EXEC_EJOBS && count_status(&r, EXEC_OK) == 2 && r.status[1] == EXEC_FAILED,
	      "function jobs run and fail on their own");
	CHECK_STR(r.error[1], "cannot analyze 'image-1': bad layer",
		  "a worker's error_last() reaches the caller");
	CHECK_STR(r.error[0], "", "a success has no error");
	CHECK_STR(r.out[2], "analyzed 2\n", "a function job's output is its own");
	run_release(&r);

	/* Mixed: a failing process cancels a long function job under fail-fast. */
	run_init(&r);
	r.njobs = 2;
	r.fns[0] = fn_long;
	r.actions[1] = "sleep 50 exit 2";
	rc = run_jobs(&r, 2, 1, -1);
	CHECK(rc == EXEC_EJOBS && r.status[1] == EXEC_FAILED && r.status[0] == EXEC_CANCELLED,
	      "a function job that sees exec_job_cancelled() ends as cancelled");
	run_release(&r);
}

static void test_misc(void)
{
	struct run r;
	int rc;

	run_init(&r);
	r.njobs = 3;
	r.actions[0] = "exit 0";
	r.actions[1] = "!gpuslim-no-such-program --version";
	r.actions[2] = "sleep 600000";
	r.timeout_ms[2] = 100;
	rc = run_jobs(&r, 0, 0, -1);
	CHECK(rc == EXEC_EJOBS && r.nfinished == 3, "jobs = 0 uses the online CPUs");
	CHECK(r.status[0] == EXEC_OK && r.status[1] == EXEC_FAILED && r.proc[1].exit_code == 0,
	      "a job whose program is missing fails alone");
	CHECK_STR(r.error[1], "cannot run 'gpuslim-no-such-program': no such file or directory",
		  "with the exec failure's message");
	CHECK(r.status[2] == EXEC_FAILED && r.proc[2].timed_out &&
		  strstr(r.error[2], "' timed out after 100 ms"),
	      "a job past its timeout fails as timed out: %s", r.error[2]);
	run_release(&r);

	run_init(&r);
	r.njobs = 5;
	r.get_next_error = 2;
	for (int i = 0; i < 5; i++)
		r.actions[i] = "sleep 30";
	rc = run_jobs(&r, 1, 0, -1);
	CHECK(rc == GS_EINVAL && r.nfinished == r.nstarted,
	      "a failing get_next stops the run with its code");
	CHECK_STR(error_last(), "cannot plan cell '2': bad recipe", "and its message");
	run_release(&r);

	run_init(&r);
	r.njobs = 6;
	r.stop_after = 1;
	for (int i = 0; i < 6; i++)
		r.actions[i] = i ? "sleep 600000" : "exit 0";
	rc = run_jobs(&r, 2, 0, -1);
	CHECK(rc == EXEC_EJOBS && r.nstarted == 2 && r.status[0] == EXEC_OK &&
		  r.status[1] == EXEC_CANCELLED,
	      "finished() returning nonzero cancels the rest");
	run_release(&r);
}

static int progress_lines;

static int count_get_next(void *ctx, struct exec_job *job)
{
	int *n = ctx;

	if (*n >= 2)
		return 1;
	(*n)++;
	vec_pushstr(&job->proc.argv, fake);
	for (int i = 0; i < 3; i++) {
		vec_pushstr(&job->proc.argv, "out");
		vec_pushf(&job->proc.argv, "#5 [builder %d/3] RUN make", i + 1);
	}
	vec_pushstr(&job->proc.argv, "err");
	vec_pushstr(&job->proc.argv, "#6 DONE 0.1s");
	return 0;
}

static void count_progress(void *ctx, struct exec_job *job, const char *line)
{
	if (pthread_equal(pthread_self(), main_thread) && starts_with(line, "#5 [builder ") &&
	    ends_with(line, "/3] RUN make"))
		progress_lines++;
}

static void test_progress(void)
{
	struct exec_opts o = EXEC_OPTS_INIT;
	int n = 0, rc;

	o.jobs = 2;
	o.get_next = count_get_next;
	o.progress = count_progress;
	o.ctx = &n;
	rc = executor_run(&o);
	CHECK(rc == 0 && progress_lines == 6,
	      "progress() sees each output line, on the calling thread (%d)", progress_lines);
}

int main(void)
{
	long long t0 = ms_now();

	main_thread = pthread_self();
	fake = fake_build();
	if (!fake) {
		CHECK(0, "build tests/fake/fake_child.c");
		return unit_done();
	}
	test_bound(1);
	test_bound(3);
	test_keep_going();
	test_fail_fast();
	test_abort();
	test_functions();
	test_misc();
	test_progress();
	CHECK(no_children_left(), "no child is left to reap");
	printf("# test_executor took %lld ms\n", ms_now() - t0);
	fake_cleanup();
	return unit_done();
}
