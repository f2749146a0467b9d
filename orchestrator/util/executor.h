#ifndef GS_EXECUTOR_H
#define GS_EXECUTOR_H

#include <stddef.h>

#include "util/process.h"

/*
 * A bounded executor: at most `jobs` jobs run at once, each on a worker
 * thread, in the style of git's run_processes_parallel(). A job is either a
 * child process (its struct process filled by get_next) or a C function run
 * on the worker thread (in-process work such as image analysis).
 *
 * Thread model: every callback (get_next, started, progress, finished) runs
 * on the thread that called executor_run(), never concurrently, so the
 * caller's state needs no locks. Workers only run the job and post events
 * (output lines, completion) back to that thread. A function job must not
 * touch the caller's state without its own locking.
 *
 * Cancellation: when a job fails with fail_fast, when finished() returns
 * nonzero, when get_next() fails, or when `abort_fd` becomes readable (a
 * signal, see util/signals.h), no further job is handed out and every running
 * process job's group gets SIGTERM, then SIGKILL after `grace_ms`; such jobs
 * finish as EXEC_CANCELLED, not EXEC_FAILED. Function jobs are asked to stop
 * through exec_job_cancelled(). Every child is reaped and every worker joined
 * before executor_run() returns: nothing is left behind.
 *
 * Ownership: the executor owns each struct exec_job from get_next() until
 * finished() returns, then releases it (its process, its output); keep what
 * you need from it (strbuf_detach(&job->proc.out)) inside finished().
 */

enum exec_status {
	EXEC_OK,
	EXEC_FAILED,	/* nonzero exit, signal, timeout, start failure, fn < 0 */
	EXEC_CANCELLED, /* stopped by fail-fast, finished(), or an abort */
};

struct exec_job;

/* A function job: runs on a worker thread, returns 0 or a negative code with
 * error_last() set (copied into the result). It may write to job->proc.out
 * and should poll exec_job_cancelled(job) when it runs long. */
typedef int (*exec_fn)(struct exec_job *job);

struct exec_job {
	/* Filled by get_next(). A process job sets proc.argv (and env, cwd,
	 * output...); the executor has already set proc.new_pgroup = 1,
	 * proc.stdin_null = 1 and capture mode, which get_next may change.
	 * The executor sets proc.cancel_fd, proc.kill_grace_ms (when 0) and,
	 * with a progress callback, proc.on_line. */
	struct process proc;
	exec_fn fn;	/* non-NULL: a function job, proc.argv is ignored */
	void *data;	/* the caller's, untouched by the executor */
	int timeout_ms; /* process jobs: > 0 terminates the job after that long */

	/* Set by the executor. */
	size_t seq; /* 0, 1, 2... in the order get_next() handed jobs out */

	/* Private. */
	struct executor *ex_;
	struct exec_job *next_;
	int status_, code_;
	struct process_result res_;
	char *error_;
	long long start_ms_, end_ms_;
};

struct exec_result {
	enum exec_status status;
	int code;		    /* the job's return code: fn's, or process_start/wait's */
	struct process_result proc; /* process jobs: how the child ended */
	const char *error;	    /* the worker's error_last() when not OK, else ""; valid
				       during finished() */
	long long elapsed_ms;
};

struct exec_opts {
	int jobs;      /* at most this many at once; <= 0: the number of online CPUs */
	int fail_fast; /* the first failure cancels the rest; 0: keep going */
	int abort_fd;  /* -1, or an fd whose readability interrupts the run */
	int grace_ms;  /* SIGTERM -> SIGKILL for cancelled jobs; 0: the process default */

	/* 0 with `job` filled, 1 when no job is left, EXEC_NEXT_WAIT when none
	 * can start now but one may once a running job has finished (asked
	 * again then; with nothing running it means none is left), negative on
	 * error (the run stops as if aborted and returns that code). Required. */
	int (*get_next)(void *ctx, struct exec_job *job);
	/* Just before the job is handed to a worker. Optional. */
	void (*started)(void *ctx, struct exec_job *job);
	/* Each complete output line of a running process job, without its
	 * newline (e.g. BuildKit's "#5 [builder 2/7] RUN ..."). Optional. */
	void (*progress)(void *ctx, struct exec_job *job, const char *line);
	/* Once per started job, whatever its end; job->proc.out holds its whole
	 * output. Nonzero stops the run (cancels the others). Optional. */
	int (*finished)(void *ctx, struct exec_job *job, const struct exec_result *res);
	void *ctx;
	/* Every `tick_ms` (> 0) while the run lasts, whether or not a job said
	 * anything: a live display's clock keeps moving through a silent step.
	 * Optional; zero-initialized by EXEC_OPTS_INIT. */
	void (*tick)(void *ctx);
	int tick_ms;
};

#define EXEC_OPTS_INIT                                                                             \
	{                                                                                          \
		0, 0, -1, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0                                 \
	}

/* get_next(): nothing to start until a running job finishes. */
#define EXEC_NEXT_WAIT 2

/* executor_run()'s codes besides 0 and GS_ERR (an executor failure). */
enum {
	EXEC_EJOBS = -20,	 /* some job failed or was cancelled; see finished() */
	EXEC_EINTERRUPTED = -21, /* abort_fd fired: the CLI exits 130 after cleanup */
};

/*
 * Run jobs until get_next() has no more (or the run stops), `jobs` at a time.
 * Returns 0 when every job ended EXEC_OK, EXEC_EINTERRUPTED when abort_fd
 * fired, EXEC_EJOBS when a job failed or was cancelled, the code of a failed
 * get_next(), or GS_ERR when no worker thread could start. error_last() says
 * which: "2 of 10 jobs failed, 3 cancelled".
 */
int executor_run(const struct exec_opts *opts);

/* For a function job: 1 once the run is stopping and the job should return. */
int exec_job_cancelled(const struct exec_job *job);

#endif
