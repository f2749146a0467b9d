#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/executor.h"

/*
 * The coordinating thread (the caller of executor_run) hands jobs to a FIFO
 * that idle workers take from, and waits in poll() on two fds: `wake`, which
 * workers write after posting an event, and the caller's abort_fd. Workers
 * never call back into the caller: they post events (an output line, a
 * finished job) that the coordinating thread dispatches. Stopping writes one
 * byte to `cancel`, which is never drained: every running process job polls
 * its read end (struct process's cancel_fd) and terminates its group when it
 * becomes readable.
 */

struct exec_event {
	struct exec_job *job;
	char *line; /* an output line; NULL: the job is done */
	struct exec_event *next;
};

struct executor {
	const struct exec_opts *o;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* workers wait on it for a job, or for shutdown */
	struct exec_job *todo_head, *todo_tail;
	struct exec_event *ev_head, *ev_tail;
	int stopping; /* under mu */
	int shutdown; /* under mu */
	int wake[2];
	int cancel[2];
	pthread_t *threads;
	int nthreads, max;
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void post_event(struct executor *ex, struct exec_job *job, char *line)
{
	struct exec_event *ev = xmalloc(sizeof(*ev));
	int was_empty;
	ssize_t n;

	ev->job = job;
	ev->line = line;
	ev->next = NULL;
	pthread_mutex_lock(&ex->mu);
	was_empty = !ex->ev_head;
	if (ex->ev_tail)
		ex->ev_tail->next = ev;
	else
		ex->ev_head = ev;
	ex->ev_tail = ev;
	pthread_mutex_unlock(&ex->mu);
	/* One byte per batch is enough; a full pipe (EAGAIN) wakes it too. */
	if (was_empty)
		n = write(ex->wake[1], "", 1), (void)n;
}

static void worker_on_line(void *data, const char *line)
{
	struct exec_job *job = data;

	post_event(job->ex_, job, xstrdup(line));
}

int exec_job_cancelled(const struct exec_job *job)
{
	int stopping;

	pthread_mutex_lock(&job->ex_->mu);
	stopping = job->ex_->stopping;
	pthread_mutex_unlock(&job->ex_->mu);
	return stopping;
}

static void job_fail(struct exec_job *job, int status, int code)
{
	job->status_ = status;
	job->code_ = code;
	if (status != EXEC_OK && *error_last())
		job->error_ = xstrdup(error_last());
}

/* On a worker thread: run one job to its end; never exits the process. */
static void run_job(struct executor *ex, struct exec_job *job)
{
	struct process *p = &job->proc;
	int code;

	error_clear();
	job->start_ms_ = mono_ms();
	if (exec_job_cancelled(job)) {
		error_set("'%s' was cancelled before it started", job->fn ? "function job"
								  : p->argv.nr
								      ? (char *)p->argv.items[0]
								      : "");
		job_fail(job, EXEC_CANCELLED, 0);
	} else if (job->fn) {
		code = job->fn(job);
		if (code >= 0)
			job_fail(job, EXEC_OK, code);
		else
			job_fail(job, exec_job_cancelled(job) ? EXEC_CANCELLED : EXEC_FAILED, code);
	} else if (p->argv.nr) {
		p->cancel_fd = ex->cancel[0];
		if (!p->kill_grace_ms)
			p->kill_grace_ms = ex->o->grace_ms;
		if (ex->o->progress) {
			p->on_line = worker_on_line;
			p->on_line_data = job;
		}
		code = process_start(p);
		if (!code)
			code = process_wait(p, job->timeout_ms, &job->res_);
		if (code < 0)
			job_fail(job, EXEC_FAILED, code);
		else if (job->res_.cancelled && process_check_result(p, &job->res_) < 0)
			job_fail(job, EXEC_CANCELLED, 0);
		else if (process_check_result(p, &job->res_) < 0)
			job_fail(job, EXEC_FAILED, 0);
		else
			job_fail(job, EXEC_OK, 0);
	} else {
		error_set("cannot run a job without a program or a function");
		job_fail(job, EXEC_FAILED, GS_EINVAL);
	}
	job->end_ms_ = mono_ms();
}

static void *worker_main(void *arg)
{
	struct executor *ex = arg;

	pthread_mutex_lock(&ex->mu);
	for (;;) {
		struct exec_job *job;

		while (!ex->todo_head && !ex->shutdown)
			pthread_cond_wait(&ex->cv, &ex->mu);
		if (!ex->todo_head)
			break;
		job = ex->todo_head;
		ex->todo_head = job->next_;
		if (!ex->todo_head)
			ex->todo_tail = NULL;
		pthread_mutex_unlock(&ex->mu);
		run_job(ex, job);
		post_event(ex, job, NULL);
		pthread_mutex_lock(&ex->mu);
	}
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}

static int spawn_worker(struct executor *ex)
{
	sigset_t block, old;
	int err;

	/* Workers take no asynchronous signal: the handler runs elsewhere and
	 * their poll() is never interrupted. Synchronous faults stay deliverable. */
	sigfillset(&block);
	sigdelset(&block, SIGSEGV);
	sigdelset(&block, SIGBUS);
	sigdelset(&block, SIGFPE);
	sigdelset(&block, SIGILL);
	sigdelset(&block, SIGABRT);
	sigdelset(&block, SIGTRAP);
	sigdelset(&block, SIGSYS);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	err = pthread_create(&ex->threads[ex->nthreads], NULL, worker_main, ex);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return error_set("cannot start a worker thread: %s", strerror(err));
	ex->nthreads++;
	return 0;
}

static void exec_stop(struct executor *ex)
{
	ssize_t n;

	pthread_mutex_lock(&ex->mu);
	if (!ex->stopping) {
		ex->stopping = 1;
		n = write(ex->cancel[1], "", 1);
		(void)n;
	}
	pthread_mutex_unlock(&ex->mu);
}

struct exec_counts {
	size_t started, failed, cancelled;
};

/* On the coordinating thread: report a job that is done, then free it. */
static void complete_job(struct executor *ex, struct exec_job *job, struct exec_counts *c)
{
	struct exec_result res;

	memset(&res, 0, sizeof(res));
	res.status = (enum exec_status)job->status_;
	res.code = job->code_;
	res.proc = job->res_;
	res.error = job->error_ ? job->error_ : "";
	res.elapsed_ms = job->end_ms_ - job->start_ms_;
	if (res.status == EXEC_FAILED) {
		c->failed++;
		if (ex->o->fail_fast)
			exec_stop(ex);
	} else if (res.status == EXEC_CANCELLED) {
		c->cancelled++;
	}
	if (ex->o->finished && ex->o->finished(ex->o->ctx, job, &res))
		exec_stop(ex);
	process_release(&job->proc);
	free(job->error_);
	free(job);
}

static int pipe_nonblock(int fds[2])
{
	return pipe2(fds, O_CLOEXEC | O_NONBLOCK);
}

int executor_run(const struct exec_opts *o)
{
	struct executor ex;
	struct exec_counts counts = {0, 0, 0};
	size_t running = 0, seq = 0;
	int ret = 0, no_more = 0, interrupted = 0, stopping = 0;
	long long next_tick = -1;
	char *next_error = NULL;

	if (!o->get_next)
		return error_set("cannot run jobs without a get_next callback");
	memset(&ex, 0, sizeof(ex));
	ex.o = o;
	ex.wake[0] = ex.wake[1] = ex.cancel[0] = ex.cancel[1] = -1;
	ex.max = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ex.max < 1)
		ex.max = 1;
	if (pipe_nonblock(ex.wake) < 0 || pipe_nonblock(ex.cancel) < 0) {
		ret = error_set("cannot start the executor: %s", strerror(errno));
		goto done;
	}
	pthread_mutex_init(&ex.mu, NULL);
	pthread_cond_init(&ex.cv, NULL);
	ex.threads = xcalloc((size_t)ex.max, sizeof(*ex.threads));

	for (;;) {
		struct pollfd fds[2];
		struct exec_event *ev;
		int nfds = 1, n, wait_ms = -1;
		char buf[256];

		while (!stopping && !no_more && running < (size_t)ex.max) {
			struct exec_job *job = xcalloc(1, sizeof(*job));

			process_init(&job->proc);
			job->proc.new_pgroup = 1;
			job->proc.stdin_null = 1;
			job->ex_ = &ex;
			job->seq = seq;
			error_clear();
			n = o->get_next(o->ctx, job);
			if (n == EXEC_NEXT_WAIT && running) {
				process_release(&job->proc);
				free(job);
				break;
			}
			if (n) {
				if (n < 0) {
					ret = n;
					next_error = xstrdup(error_last());
					exec_stop(&ex);
					stopping = 1;
				}
				no_more = 1;
				process_release(&job->proc);
				free(job);
				break;
			}
			seq++;
			counts.started++;
			if (o->started)
				o->started(o->ctx, job);
			if (running + 1 > (size_t)ex.nthreads && spawn_worker(&ex) < 0 &&
			    !ex.nthreads) {
				/* Nobody could ever run it: fail it here and stop. */
				ret = GS_ERR;
				next_error = xstrdup(error_last());
				job_fail(job, EXEC_FAILED, GS_ERR);
				exec_stop(&ex);
				stopping = 1;
				complete_job(&ex, job, &counts);
				break;
			}
			running++;
			pthread_mutex_lock(&ex.mu);
			if (ex.todo_tail)
				ex.todo_tail->next_ = job;
			else
				ex.todo_head = job;
			ex.todo_tail = job;
			pthread_cond_signal(&ex.cv);
			pthread_mutex_unlock(&ex.mu);
		}
		if (!running && (no_more || stopping))
			break;

		fds[0] = (struct pollfd){ex.wake[0], POLLIN, 0};
		if (o->abort_fd >= 0 && !interrupted)
			fds[nfds++] = (struct pollfd){o->abort_fd, POLLIN, 0};
		if (o->tick && o->tick_ms > 0) {
			long long now = mono_ms();

			if (next_tick < 0)
				next_tick = now + o->tick_ms;
			if (now >= next_tick) {
				o->tick(o->ctx);
				next_tick = now + o->tick_ms;
			}
			wait_ms = (int)(next_tick - now);
		}
		n = poll(fds, (nfds_t)nfds, wait_ms);
		if (n < 0 && errno != EINTR) {
			/* Without poll we cannot wait well: stop, and wait for the
			 * workers with a blocking join below. */
			ret = error_set("cannot wait for jobs: %s", strerror(errno));
			next_error = xstrdup(error_last());
			exec_stop(&ex);
			break;
		}
		if (n > 0 && nfds > 1 && fds[1].revents) {
			interrupted = 1;
			exec_stop(&ex);
		}
		while (read(ex.wake[0], buf, sizeof(buf)) > 0)
			;
		pthread_mutex_lock(&ex.mu);
		ev = ex.ev_head;
		ex.ev_head = ex.ev_tail = NULL;
		stopping = ex.stopping;
		pthread_mutex_unlock(&ex.mu);
		while (ev) {
			struct exec_event *next = ev->next;

			if (ev->line) {
				o->progress(o->ctx, ev->job, ev->line);
				free(ev->line);
			} else {
				running--;
				complete_job(&ex, ev->job, &counts);
			}
			free(ev);
			ev = next;
		}
		pthread_mutex_lock(&ex.mu);
		stopping = ex.stopping;
		pthread_mutex_unlock(&ex.mu);
	}

	pthread_mutex_lock(&ex.mu);
	ex.shutdown = 1;
	pthread_cond_broadcast(&ex.cv);
	pthread_mutex_unlock(&ex.mu);
	for (int i = 0; i < ex.nthreads; i++)
		pthread_join(ex.threads[i], NULL);
	/* After a failed poll, jobs may have finished unreported: report them. */
	while (ex.ev_head) {
		struct exec_event *ev = ex.ev_head;

		ex.ev_head = ev->next;
		if (ev->line)
			free(ev->line);
		else
			complete_job(&ex, ev->job, &counts);
		free(ev);
	}
	free(ex.threads);
	pthread_cond_destroy(&ex.cv);
	pthread_mutex_destroy(&ex.mu);

	if (interrupted)
		ret = error_setc(EXEC_EINTERRUPTED, "interrupted: %zu of %zu jobs cancelled",
				 counts.cancelled, counts.started);
	else if (ret < 0)
		error_setc(ret, "%s", next_error ? next_error : "cannot run jobs");
	else if (counts.failed || counts.cancelled)
		ret = error_setc(EXEC_EJOBS, "%zu of %zu jobs failed, %zu cancelled", counts.failed,
				 counts.started, counts.cancelled);
done:
	free(next_error);
	for (int i = 0; i < 2; i++) {
		if (ex.wake[i] >= 0)
			close(ex.wake[i]);
		if (ex.cancel[i] >= 0)
			close(ex.cancel[i]);
	}
	return ret;
}
