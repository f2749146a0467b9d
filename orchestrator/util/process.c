#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/process.h"

extern char **environ;

/* After the child exits, how long its group may keep the output pipe open
 * (or keep running) before it is killed. */
#define PROCESS_LINGER_MS 200
/* Poll period when the kernel has no pidfd_open(). */
#define PROCESS_TICK_MS	 10
#define PROCESS_LINE_MAX 4096
#define DEFAULT_PATH	 "/usr/local/bin:/usr/bin:/bin"

/* What the child reports through the close-on-exec error pipe. */
enum child_stage { STAGE_SETUP, STAGE_CHDIR, STAGE_EXEC };
struct child_error {
	int stage;
	int err;
};

/* strerror() in lowercase, as our messages want it, thread-safely. */
static const char *errstr(int err, char *buf, size_t size)
{
	const char *s = strerror_r(err, buf, size);

	if (s != buf) {
		snprintf(buf, size, "%s", s);
	}
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

void process_init(struct process *p)
{
	memset(p, 0, sizeof(*p));
	vec_init(&p->argv, free);
	vec_init(&p->env, free);
	p->output = PROCESS_OUTPUT_CAPTURE;
	p->output_cap = PROCESS_OUTPUT_CAP;
	p->cancel_fd = -1;
	p->pid = -1;
	strbuf_init(&p->out, 0);
	strbuf_init(&p->line_, 0);
	p->out_fd_ = p->file_fd_ = p->pidfd_ = -1;
	p->stdout_fd = -1;
}

static int is_running(const struct process *p)
{
	return p->pid > 0 && !p->reaped_;
}

void process_release(struct process *p)
{
	if (is_running(p)) {
		process_kill_group(p, SIGKILL);
		while (waitpid(p->pid, &p->status_, 0) < 0 && errno == EINTR)
			;
		p->reaped_ = 1;
	}
	close_fd(&p->out_fd_);
	close_fd(&p->file_fd_);
	close_fd(&p->pidfd_);
	close_fd(&p->stdout_fd);
	vec_release(&p->argv);
	vec_release(&p->env);
	strbuf_release(&p->out);
	strbuf_release(&p->line_);
}

static int is_executable(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK);
}

/* The executable `name` in the directories of `path`, or NULL. */
static char *find_in(const char *name, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = path ? path : DEFAULT_PATH;

	if (!*name)
		return NULL;
	for (;;) {
		const char *colon = strchrnul(p, ':');

		strbuf_reset(&sb);
		if (colon == p)
			strbuf_addch(&sb, '.');
		else
			strbuf_add(&sb, p, (size_t)(colon - p));
		strbuf_addf(&sb, "/%s", name);
		if (is_executable(sb.buf))
			return strbuf_detach(&sb, NULL);
		if (!*colon)
			break;
		p = colon + 1;
	}
	strbuf_release(&sb);
	return NULL;
}

char *process_find_in_path(const char *name)
{
	char *found;

	if (strchr(name, '/')) {
		if (is_executable(name))
			return xstrdup(name);
		error_setc(GS_ENOTFOUND, "cannot find '%s': not an executable file", name);
		return NULL;
	}
	found = find_in(name, getenv("PATH"));
	if (!found)
		error_setc(GS_ENOTFOUND, "cannot find '%s' on PATH", name);
	return found;
}

static size_t env_key_len(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq ? (size_t)(eq - s) : strlen(s);
}

/*
 * The child's environment: a copy of environ with p->env applied. The array
 * is newly allocated; its strings are borrowed from environ and p->env.
 */
static char **build_env(const struct process *p, const char **path)
{
	struct vec env = VEC_INIT(NULL);

	for (char **e = environ; e && *e; e++)
		vec_push(&env, *e);
	for (size_t i = 0; i < p->env.nr; i++) {
		const char *kv = p->env.items[i];
		size_t klen = env_key_len(kv);
		size_t j = 0;

		while (j < env.nr) {
			const char *cur = env.items[j];

			if (env_key_len(cur) == klen && !memcmp(cur, kv, klen)) {
				memmove(&env.items[j], &env.items[j + 1],
					(env.nr - j) * sizeof(*env.items));
				env.nr--;
			} else {
				j++;
			}
		}
		if (kv[klen] == '=')
			vec_push(&env, (void *)kv);
	}
	*path = NULL;
	for (size_t i = 0; i < env.nr; i++)
		if (starts_with(env.items[i], "PATH="))
			*path = (const char *)env.items[i] + 5;
	return (char **)vec_detach(&env, NULL);
}

/* dup2() that also works when from == to (then it only clears close-on-exec). */
static int child_dup(int from, int to)
{
	if (from == to) {
		int fl = fcntl(from, F_GETFD);

		return fl < 0 ? -1 : fcntl(from, F_SETFD, fl & ~FD_CLOEXEC);
	}
	return dup2(from, to) < 0 ? -1 : 0;
}

static void child_fail(int fd, int stage)
{
	struct child_error ce = {stage, errno};
	ssize_t n;

	do {
		n = write(fd, &ce, sizeof(ce));
	} while (n < 0 && errno == EINTR);
	_exit(127);
}

/*
 * Between fork() and execve() in a threaded parent: async-signal-safe calls
 * only; everything was prepared before the fork.
 */
static void child_exec(const struct process *p, const char *prog, char **envp, int in_fd,
		       int out_fd, int stdout_fd, int err_fd, const sigset_t *empty)
{
	struct sigaction dfl;

	if (p->new_pgroup && setpgid(0, 0) < 0)
		child_fail(err_fd, STAGE_SETUP);
	/* Handlers are reset by exec, but ignored signals stay ignored: the
	 * parent may ignore SIGPIPE, which a child must not inherit. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigprocmask(SIG_SETMASK, empty, NULL);
	if (in_fd >= 0 && child_dup(in_fd, 0) < 0)
		child_fail(err_fd, STAGE_SETUP);
	if (out_fd >= 0 && (child_dup(out_fd, 1) < 0 || child_dup(out_fd, 2) < 0))
		child_fail(err_fd, STAGE_SETUP);
	if (stdout_fd >= 0 && child_dup(stdout_fd, 1) < 0)
		child_fail(err_fd, STAGE_SETUP);
	if (p->cwd && chdir(p->cwd) < 0)
		child_fail(err_fd, STAGE_CHDIR);
	execve(prog, (char *const *)p->argv.items, envp);
	child_fail(err_fd, STAGE_EXEC);
}

/* Kernels before 5.3 (and valgrind 3.19) lack pidfd_open: ask only once. */
static atomic_int pidfd_missing;

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	long fd;

	if (atomic_load(&pidfd_missing))
		return -1;
	fd = syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 && errno == ENOSYS)
		atomic_store(&pidfd_missing, 1);
	return fd < 0 ? -1 : (int)fd;
#else
	(void)pid;
	return -1;
#endif
}

/* A pipe already holding p->input, its write end closed: the child's stdin. */
static int input_pipe(const struct process *p, const char *name, int *in_fd)
{
	int fds[2];
	size_t done = 0;
	char eb[128];

	if (p->input_len > PROCESS_INPUT_MAX)
		return error_set("cannot run '%s': %zu bytes of input, more than %d", name,
				 p->input_len, PROCESS_INPUT_MAX);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return error_set("cannot run '%s': %s", name, errstr(errno, eb, sizeof(eb)));
	while (done < p->input_len) {
		ssize_t n = write(fds[1], p->input + done, p->input_len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set("cannot run '%s': %s", name, errstr(errno, eb, sizeof(eb)));
			close(fds[0]);
			close(fds[1]);
			return GS_ERR;
		}
		done += (size_t)n;
	}
	close(fds[1]);
	*in_fd = fds[0];
	return 0;
}

int process_start(struct process *p)
{
	int ret = 0;
	int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, std_pipe[2] = {-1, -1};
	int in_fd = -1, null_out = -1, file_fd = -1, child_out = -1, child_stdout = -1;
	char **envp = NULL;
	char *prog = NULL;
	const char *name, *path;
	sigset_t all, old, empty;
	struct child_error ce;
	char eb[128];
	pid_t pid;
	ssize_t n;

	if (p->pid > 0)
		return error_set("cannot start a process twice");
	if (!p->argv.nr || !p->argv.items[0])
		return error_set("cannot run a process without a program");
	name = p->argv.items[0];

	envp = build_env(p, &path);
	prog = strchr(name, '/') ? xstrdup(name) : find_in(name, path);
	if (!prog) {
		ret = error_setc(GS_ENOTFOUND, "cannot run '%s': %s", name,
				 errstr(ENOENT, eb, sizeof(eb)));
		goto done;
	}
	if (p->input) {
		ret = input_pipe(p, name, &in_fd);
		if (ret < 0)
			goto done;
	} else if (p->stdin_null && (in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		ret = error_set("cannot open '/dev/null': %s", errstr(errno, eb, sizeof(eb)));
		goto done;
	}
	switch (p->output) {
	case PROCESS_OUTPUT_FILE:
		if (!p->output_path) {
			ret = error_set("cannot run '%s': no log file given", name);
			goto done;
		}
		file_fd = open(p->output_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
		if (file_fd < 0) {
			ret = error_set("cannot open '%s': %s", p->output_path,
					errstr(errno, eb, sizeof(eb)));
			goto done;
		}
		/* The child writes to a pipe that the parent copies into
		 * the file, so that on_line sees the lines too. */
		__attribute__((fallthrough));
	case PROCESS_OUTPUT_PIPE:
		if (p->output == PROCESS_OUTPUT_PIPE) {
			if (pipe2(std_pipe, O_CLOEXEC) < 0) {
				ret = error_set("cannot run '%s': %s", name,
						errstr(errno, eb, sizeof(eb)));
				goto done;
			}
			child_stdout = std_pipe[1];
		}
		__attribute__((fallthrough));
	case PROCESS_OUTPUT_CAPTURE:
		if (pipe2(out_pipe, O_CLOEXEC) < 0) {
			ret = error_set("cannot run '%s': %s", name, errstr(errno, eb, sizeof(eb)));
			goto done;
		}
		child_out = out_pipe[1];
		break;
	case PROCESS_OUTPUT_NULL:
		if ((null_out = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
			ret =
			    error_set("cannot open '/dev/null': %s", errstr(errno, eb, sizeof(eb)));
			goto done;
		}
		child_out = null_out;
		break;
	case PROCESS_OUTPUT_INHERIT:
		break;
	}
	if (pipe2(err_pipe, O_CLOEXEC) < 0) {
		ret = error_set("cannot run '%s': %s", name, errstr(errno, eb, sizeof(eb)));
		goto done;
	}

	/* No signal handler of ours may run in the child before exec. */
	sigfillset(&all);
	sigemptyset(&empty);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		child_exec(p, prog, envp, in_fd, child_out, child_stdout, err_pipe[1], &empty);
	ce.err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		ret = error_set("cannot run '%s': %s", name, errstr(ce.err, eb, sizeof(eb)));
		goto done;
	}
	/* Set the group from both sides so that a kill(-pid) right after
	 * we return cannot miss it; EACCES means the child already exec'd. */
	if (p->new_pgroup)
		setpgid(pid, pid);
	close_fd(&err_pipe[1]);
	close_fd(&out_pipe[1]);
	close_fd(&std_pipe[1]);
	do {
		n = read(err_pipe[0], &ce, sizeof(ce));
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(ce)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (ce.stage == STAGE_CHDIR)
			ret = error_setc(ce.err == ENOENT ? GS_ENOTFOUND : GS_ERR,
					 "cannot run '%s' in '%s': %s", name, p->cwd,
					 errstr(ce.err, eb, sizeof(eb)));
		else
			ret =
			    error_setc(ce.err == ENOENT ? GS_ENOTFOUND : GS_ERR,
				       "cannot run '%s': %s", name, errstr(ce.err, eb, sizeof(eb)));
		goto done;
	}

	p->pid = pid;
	p->reaped_ = 0;
	p->out_fd_ = out_pipe[0];
	out_pipe[0] = -1;
	if (p->out_fd_ >= 0)
		fcntl(p->out_fd_, F_SETFL, fcntl(p->out_fd_, F_GETFL) | O_NONBLOCK);
	p->file_fd_ = file_fd;
	file_fd = -1;
	p->stdout_fd = std_pipe[0];
	std_pipe[0] = -1;
	p->pidfd_ = open_pidfd(pid);

done:
	close_fd(&out_pipe[0]);
	close_fd(&out_pipe[1]);
	close_fd(&err_pipe[0]);
	close_fd(&err_pipe[1]);
	close_fd(&std_pipe[0]);
	close_fd(&std_pipe[1]);
	close_fd(&in_fd);
	close_fd(&null_out);
	close_fd(&file_fd);
	free(prog);
	free(envp);
	return ret;
}

static int group_alive(const struct process *p)
{
	return p->new_pgroup && p->pid > 0 && kill(-p->pid, 0) == 0;
}

/*
 * SIGKILL what is left of the group of a reaped leader and give the kernel a
 * moment to finish them, so that callers never see a survivor. A killed
 * orphan stays in the group as a zombie until its reaper (init) collects it,
 * so the wait is bounded (100 ms) rather than "until the group is empty".
 */
static void kill_leftovers(const struct process *p)
{
	struct timespec tick = {0, 2 * 1000000L};

	kill(-p->pid, SIGKILL);
	for (int i = 0; i < 50 && kill(-p->pid, 0) == 0; i++)
		nanosleep(&tick, NULL);
}

int process_kill_group(struct process *p, int sig)
{
	char eb[128];

	if (!is_running(p))
		return error_set("cannot signal '%s': not running",
				 p->argv.nr ? (const char *)p->argv.items[0] : "");
	if (kill(p->new_pgroup ? -p->pid : p->pid, sig) < 0 && errno != ESRCH)
		return error_set("cannot signal '%s': %s", (const char *)p->argv.items[0],
				 errstr(errno, eb, sizeof(eb)));
	return 0;
}

static void emit_line(struct process *p)
{
	if (p->line_.len && p->line_.buf[p->line_.len - 1] == '\r')
		strbuf_setlen(&p->line_, p->line_.len - 1);
	p->on_line(p->on_line_data, p->line_.buf);
	strbuf_reset(&p->line_);
	p->line_cut_ = 0;
}

static void split_lines(struct process *p, const char *buf, size_t len)
{
	while (len) {
		const char *nl = memchr(buf, '\n', len);
		size_t take = nl ? (size_t)(nl - buf) : len;
		size_t room = PROCESS_LINE_MAX - p->line_.len;

		if (!p->line_cut_)
			strbuf_add(&p->line_, buf, take < room ? take : room);
		if (take > room)
			p->line_cut_ = 1;
		if (!nl)
			return;
		emit_line(p);
		buf = nl + 1;
		len -= take + 1;
	}
}

static void keep_output(struct process *p, const char *buf, size_t len)
{
	p->out_total += len;
	if (p->output == PROCESS_OUTPUT_FILE && p->file_fd_ >= 0 && !p->file_errno_) {
		const char *q = buf;
		size_t left = len;

		while (left) {
			ssize_t w = write(p->file_fd_, q, left);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				p->file_errno_ = errno;
				break;
			}
			q += w;
			left -= (size_t)w;
		}
	} else if (p->output == PROCESS_OUTPUT_CAPTURE || p->output == PROCESS_OUTPUT_PIPE) {
		size_t room = p->output_cap > p->out.len ? p->output_cap - p->out.len : 0;

		if (len > room)
			p->out_truncated = 1;
		if (len && room)
			strbuf_add(&p->out, buf, len < room ? len : room);
	}
	if (p->on_line)
		split_lines(p, buf, len);
}

/* Read what the pipe holds; 1 at end of file (the pipe is closed then). */
static int pump_output(struct process *p)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(p->out_fd_, buf, sizeof(buf));

		if (n > 0) {
			keep_output(p, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		/* EOF, or an error that will not go away */
		close_fd(&p->out_fd_);
		if (p->on_line && (p->line_.len || p->line_cut_))
			emit_line(p);
		return 1;
	}
}

long process_read_stdout(struct process *p, void *buf, size_t len)
{
	char eb[128];

	if (p->stdout_fd < 0)
		return error_set("cannot read the output of '%s': not piped",
				 p->argv.nr ? (const char *)p->argv.items[0] : "");
	for (;;) {
		struct pollfd fds[3] = {
		    {p->stdout_fd, POLLIN, 0}, {p->cancel_fd, POLLIN, 0}, {p->out_fd_, POLLIN, 0}};
		/* A negative fd is ignored by poll(). */
		int n = poll(fds, 3, -1);
		ssize_t r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_set("cannot read the output of '%s': %s",
					 (const char *)p->argv.items[0],
					 errstr(errno, eb, sizeof(eb)));
		if (p->cancel_fd >= 0 && fds[1].revents)
			return error_set("'%s' was interrupted", (const char *)p->argv.items[0]);
		if (p->out_fd_ >= 0 && fds[2].revents)
			pump_output(p);
		if (!fds[0].revents)
			continue;
		do {
			r = read(p->stdout_fd, buf, len);
		} while (r < 0 && errno == EINTR);
		if (r < 0)
			return error_set("cannot read the output of '%s': %s",
					 (const char *)p->argv.items[0],
					 errstr(errno, eb, sizeof(eb)));
		return (long)r;
	}
}

static void try_reap(struct process *p)
{
	pid_t r;

	do {
		r = waitpid(p->pid, &p->status_, WNOHANG);
	} while (r < 0 && errno == EINTR);
	if (r == p->pid) {
		p->reaped_ = 1;
	} else if (r < 0 && errno == ECHILD) {
		/* someone else reaped it (SIGCHLD ignored, waitpid(-1)) */
		p->reaped_ = 1;
		p->status_lost_ = 1;
	}
}

static int min_wait(int cur, long long until, long long now)
{
	long long d = until - now;

	if (d < 0)
		d = 0;
	if (d > 1000000)
		d = 1000000;
	return cur < 0 || d < cur ? (int)d : cur;
}

int process_wait(struct process *p, int timeout_ms, struct process_result *res)
{
	int ret = 0;
	int grace = p->kill_grace_ms > 0 ? p->kill_grace_ms : PROCESS_GRACE_MS;
	long long now = now_ms();
	long long deadline = timeout_ms > 0 ? now + timeout_ms : -1;
	long long kill_at = -1, tail_until = -1;
	int terminating = 0, killed = 0;
	char eb[128];

	memset(res, 0, sizeof(*res));
	if (p->pid <= 0)
		return error_set("cannot wait for a process that was not started");
	p->timeout_ms_ = timeout_ms;

	for (;;) {
		struct pollfd fds[3];
		int nfds = 0, wait_ms = -1, i_out = -1, i_cancel = -1, n;

		if (p->reaped_ && tail_until < 0)
			tail_until = terminating ? kill_at : now + PROCESS_LINGER_MS;
		/* The child is done once it is reaped, its pipe is closed and
		 * nothing of its group survives, or the tail time is up. */
		if (p->reaped_ && p->out_fd_ < 0 && !group_alive(p))
			break;
		if (p->reaped_ && now >= tail_until) {
			if (group_alive(p))
				kill_leftovers(p);
			if (p->out_fd_ >= 0) {
				pump_output(p);
				close_fd(&p->out_fd_);
				if (p->on_line && (p->line_.len || p->line_cut_))
					emit_line(p);
			}
			break;
		}

		if (p->out_fd_ >= 0) {
			i_out = nfds;
			fds[nfds++] = (struct pollfd){p->out_fd_, POLLIN, 0};
		}
		if (!p->reaped_) {
			if (p->pidfd_ >= 0)
				fds[nfds++] = (struct pollfd){p->pidfd_, POLLIN, 0};
			else
				wait_ms = PROCESS_TICK_MS;
			if (!terminating && p->cancel_fd >= 0) {
				i_cancel = nfds;
				fds[nfds++] = (struct pollfd){p->cancel_fd, POLLIN, 0};
			}
			if (!terminating && deadline >= 0)
				wait_ms = min_wait(wait_ms, deadline, now);
			if (terminating && !killed)
				wait_ms = min_wait(wait_ms, kill_at, now);
		} else {
			if (p->out_fd_ < 0) /* only the group is left: poll it */
				wait_ms = PROCESS_TICK_MS;
			wait_ms = min_wait(wait_ms, tail_until, now);
		}

		n = poll(fds, (nfds_t)nfds, wait_ms);
		if (n < 0 && errno != EINTR) {
			/* Cannot wait properly: do not leave the child behind. */
			ret = error_set("cannot wait for '%s': %s", (const char *)p->argv.items[0],
					errstr(errno, eb, sizeof(eb)));
			if (!p->reaped_) {
				process_kill_group(p, SIGKILL);
				while (waitpid(p->pid, &p->status_, 0) < 0 && errno == EINTR)
					;
				p->reaped_ = 1;
			}
			close_fd(&p->out_fd_);
			break;
		}
		if (n > 0 && i_out >= 0 && fds[i_out].revents)
			pump_output(p);
		if (!p->reaped_)
			try_reap(p);
		now = now_ms();
		if (!p->reaped_ && !terminating) {
			int cancel = n > 0 && i_cancel >= 0 && fds[i_cancel].revents;
			int expired = deadline >= 0 && now >= deadline;

			if (cancel || expired) {
				res->cancelled = cancel;
				res->timed_out = !cancel;
				terminating = 1;
				kill_at = now + grace;
				process_kill_group(p, SIGTERM);
			}
		}
		if (terminating && !killed && now >= kill_at) {
			killed = 1;
			if (!p->reaped_)
				process_kill_group(p, SIGKILL);
		}
	}

	if (p->status_lost_) {
		if (!ret)
			ret = error_set("cannot wait for '%s': its exit status was taken elsewhere",
					(const char *)p->argv.items[0]);
	} else if (WIFEXITED(p->status_)) {
		res->exited = 1;
		res->exit_code = WEXITSTATUS(p->status_);
	} else if (WIFSIGNALED(p->status_)) {
		res->signaled = 1;
		res->signal = WTERMSIG(p->status_);
	}
	close_fd(&p->pidfd_);
	close_fd(&p->file_fd_);
	if (!ret && p->file_errno_)
		ret = error_set("cannot write '%s': %s", p->output_path,
				errstr(p->file_errno_, eb, sizeof(eb)));
	return ret;
}

int process_run(struct process *p, int timeout_ms, struct process_result *res)
{
	int ret = process_start(p);

	if (ret < 0) {
		memset(res, 0, sizeof(*res));
		return ret;
	}
	return process_wait(p, timeout_ms, res);
}

int process_check_result(const struct process *p, const struct process_result *res)
{
	const char *name = p->argv.nr ? (const char *)p->argv.items[0] : "";

	if (res->cancelled)
		return error_set("'%s' was cancelled", name);
	if (res->timed_out)
		return error_set("'%s' timed out after %d ms", name, p->timeout_ms_);
	if (res->signaled) {
		const char *desc = sigabbrev_np(res->signal);

		return error_set("'%s' was killed by signal %d (SIG%s)", name, res->signal,
				 desc ? desc : "unknown");
	}
	if (!res->exited)
		return error_set("'%s' ended in an unknown way", name);
	if (res->exit_code)
		return error_set("'%s' exited with code %d", name, res->exit_code);
	return 0;
}
