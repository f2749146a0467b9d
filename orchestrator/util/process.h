#ifndef GS_PROCESS_H
#define GS_PROCESS_H

#include <stddef.h>
#include <sys/types.h>

#include "util/strbuf.h"
#include "util/vec.h"

/*
 * Running one child program: an argv vector, an env vector, fd rules and a
 * result that keeps the exit code and the signal apart (git run-command.h,
 * libgit2 process.h). The program is found on PATH by the parent and started
 * with fork + execve: never through a shell.
 *
 * Ownership: a struct process owns its argv and env strings, its captured
 * output and its file descriptors; process_release() frees them all and, if
 * the child still runs, kills its group and waits for it. `cwd` and
 * `output_path` are borrowed and must outlive process_start().
 *
 * A struct process runs once: process_init(), fill, process_start(),
 * process_wait(), process_release(). It is not thread-safe, but different
 * threads may run different struct process at the same time. The program
 * must not ignore SIGCHLD nor reap with waitpid(-1): each child is waited
 * for by its own pid.
 */

enum process_output {
	PROCESS_OUTPUT_CAPTURE, /* stdout+stderr merged into `out`, capped */
	PROCESS_OUTPUT_FILE,	/* stdout+stderr appended to `output_path` */
	PROCESS_OUTPUT_INHERIT, /* the parent's stdout and stderr */
	PROCESS_OUTPUT_NULL,	/* /dev/null */
	/* stdout to a pipe (`stdout_fd`) that the caller streams with
	 * process_read_stdout(); stderr captured into `out` as with CAPTURE,
	 * read meanwhile so a chatty stderr never blocks the child. Call
	 * process_wait() once stdout is done (or closed). */
	PROCESS_OUTPUT_PIPE,
};

/* Captured output is kept up to this many bytes by default. */
#define PROCESS_OUTPUT_CAP (16u << 20)
/* The most bytes of `input` a child may be given (one pipe buffer is never less). */
#define PROCESS_INPUT_MAX 4096
/* Default wait between SIGTERM and SIGKILL when a child is terminated. */
#define PROCESS_GRACE_MS 5000

struct process_result {
	int exited; /* the child called exit(); exit_code is valid */
	int exit_code;
	int signaled; /* the child died of a signal; `signal` is valid */
	int signal;
	int timed_out; /* process_wait()'s timeout expired and the group was terminated */
	int cancelled; /* `cancel_fd` became readable and the group was terminated */
};

struct process {
	struct vec argv; /* owned strings; argv.items[0] is looked up on PATH */
	struct vec env;	 /* owned "K=V" (set) or "K" (unset), applied to a copy of environ */
	const char *cwd; /* borrowed; NULL: the parent's */
	int stdin_null;	 /* 1: stdin is /dev/null; 0: the parent's */
	/* Borrowed; non-NULL: stdin is a pipe holding these `input_len` bytes, then end of
	 * file (a credential helper's question). At most PROCESS_INPUT_MAX: they are
	 * written before the child starts, into the pipe's buffer. */
	const char *input;
	size_t input_len;
	enum process_output output;
	const char *output_path; /* borrowed; PROCESS_OUTPUT_FILE only, opened O_APPEND */
	size_t output_cap; /* PROCESS_OUTPUT_CAPTURE: bytes kept (default PROCESS_OUTPUT_CAP) */
	int new_pgroup;	   /* 1: the child leads its own process group */
	int kill_grace_ms; /* SIGTERM -> SIGKILL wait; 0: PROCESS_GRACE_MS */
	int cancel_fd;	   /* -1, or an fd whose readability means "terminate now" */
	/* Called from process_wait() for each complete output line (CAPTURE and
	 * FILE modes), without its newline; lines past 4 KiB are cut. */
	void (*on_line)(void *data, const char *line);
	void *on_line_data;

	/* Set by the process functions; read-only for callers. */
	pid_t pid;	   /* > 0 once started; also the group id with new_pgroup */
	struct strbuf out; /* the captured output (owned; strbuf_detach() to keep it) */
	size_t out_total;  /* bytes the child wrote, kept or not */
	int out_truncated; /* out_total > output_cap: only the first bytes are in `out` */
	int stdout_fd;	   /* PROCESS_OUTPUT_PIPE: read end of the child's stdout, else -1;
			      owned: process_release() closes it */

	/* Private. */
	int out_fd_, file_fd_, pidfd_, reaped_, status_, status_lost_, file_errno_, timeout_ms_;
	struct strbuf line_;
	int line_cut_;
};

void process_init(struct process *p);
/* Frees everything; a child still running has its group killed and is waited for. */
void process_release(struct process *p);

/*
 * Start the child. Fails (negative, error_last() set) when the program cannot
 * be found or executed, the directory or the log file cannot be opened:
 * "cannot run 'docker': no such file or directory". On failure no child is
 * left behind.
 */
int process_start(struct process *p);

/*
 * Wait for the child, reading its output meanwhile (so a chatty child never
 * blocks on a full pipe). With timeout_ms > 0, or when `cancel_fd` becomes
 * readable, the child's group (or the child alone without new_pgroup) gets
 * SIGTERM, then SIGKILL after kill_grace_ms. When the child has exited,
 * members of its group still alive after a short linger are killed: a
 * process group leaves nothing behind. Returns 0 once the child is reaped,
 * with `res` filled; negative on a system error (the child is still reaped).
 */
int process_wait(struct process *p, int timeout_ms, struct process_result *res);

/*
 * PROCESS_OUTPUT_PIPE: read up to `len` bytes of the child's stdout,
 * blocking until some arrive, while keeping its stderr drained into `out`.
 * Returns the count, 0 at end of stdout, -1 with error_last() set on error,
 * or on "was interrupted" as soon as `cancel_fd` is readable (process_wait()
 * then terminates the group and reports it cancelled).
 */
long process_read_stdout(struct process *p, void *buf, size_t len);

/* process_start() then process_wait(). */
int process_run(struct process *p, int timeout_ms, struct process_result *res);

/* Send `sig` to the child's group (or to the child alone without new_pgroup). */
int process_kill_group(struct process *p, int sig);

/*
 * 0 when `res` is a clean exit with code 0; otherwise set error_last() to
 * "'docker' exited with code 1" (or "was killed by signal 9 (killed)",
 * "timed out after N ms", "was cancelled") and return GS_ERR.
 */
int process_check_result(const struct process *p, const struct process_result *res);

/* Newly allocated path of the executable `name` on PATH (a name with a '/'
 * is checked as is); NULL with error_last() set when there is none. */
char *process_find_in_path(const char *name);

#endif
