/* The process API against real children: tests/fake/fake_child.c, built at start. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../fake/fake.h"
#include "unit.h"
#include "util/fs.h"
#include "util/process.h"

static const char *fake;

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start a struct process on the fake child with a NULL-terminated action list. */
static void fake_args(struct process *p, const char *first, ...)
{
	va_list ap;

	process_init(p);
	vec_pushstr(&p->argv, fake);
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		vec_pushstr(&p->argv, a);
	va_end(ap);
}

static void test_exit_and_signal(void)
{
	struct process p;
	struct process_result r;

	fake_args(&p, "exit", "0", NULL);
	CHECK(process_run(&p, 0, &r) == 0 && r.exited && r.exit_code == 0 && !r.signaled,
	      "exit 0 is a clean exit");
	CHECK(process_check_result(&p, &r) == 0, "a clean exit passes the check");
	process_release(&p);

	fake_args(&p, "exit", "3", NULL);
	CHECK(process_run(&p, 0, &r) == 0 && r.exited && r.exit_code == 3, "exit code 3 is kept");
	CHECK(process_check_result(&p, &r) < 0, "exit 3 fails the check");
	CHECK(strstr(error_last(), "' exited with code 3") != NULL, "the message names the code");
	process_release(&p);

	fake_args(&p, "kill", "9", NULL);
	CHECK(process_run(&p, 0, &r) == 0 && r.signaled && r.signal == SIGKILL && !r.exited,
	      "death by a signal is kept apart from the exit code");
	process_check_result(&p, &r);
	CHECK(strstr(error_last(), "' was killed by signal 9 (SIGKILL)") != NULL,
	      "the message names the signal");
	process_release(&p);
}

static void test_exec_failure(void)
{
	struct process p;
	struct process_result r;
	char *path;
	int rc;

	process_init(&p);
	vec_pushstr(&p.argv, "gpuslim-no-such-program");
	rc = process_run(&p, 0, &r);
	CHECK(rc == GS_ENOTFOUND && p.pid == -1, "a missing program fails to start");
	CHECK_STR(error_last(), "cannot run 'gpuslim-no-such-program': no such file or directory",
		  "the missing program's message");
	process_release(&p);

	process_init(&p);
	vec_pushstr(&p.argv, "/nonexistent/docker");
	process_run(&p, 0, &r);
	CHECK_STR(error_last(), "cannot run '/nonexistent/docker': no such file or directory",
		  "a missing path reports exec's own error through the error pipe");
	process_release(&p);

	process_init(&p);
	vec_pushstr(&p.argv, "/etc/passwd");
	CHECK(process_run(&p, 0, &r) < 0, "a file that is not executable fails to start");
	CHECK_STR(error_last(), "cannot run '/etc/passwd': permission denied",
		  "the not-executable message");
	process_release(&p);

	fake_args(&p, "cwd", NULL);
	p.cwd = "/nonexistent-dir";
	CHECK(process_run(&p, 0, &r) < 0, "a missing working directory fails to start");
	CHECK(strstr(error_last(), "' in '/nonexistent-dir': no such file or directory") != NULL,
	      "the message names the directory");
	process_release(&p);
	CHECK(no_children_left(), "a failed start leaves no child behind");

	path = process_find_in_path("sh");
	CHECK(path && path[0] == '/', "process_find_in_path finds sh");
	free(path);
	CHECK(!process_find_in_path("gpuslim-no-such-program"), "and not a missing program");
	CHECK_STR(error_last(), "cannot find 'gpuslim-no-such-program' on PATH", "its message");
}

static void test_capture(void)
{
	struct process p;
	struct process_result r;
	long long t0;

	fake_args(&p, "out", "to stdout", "err", "to stderr", "stdin", NULL);
	p.stdin_null = 1;
	process_run(&p, 0, &r);
	CHECK_STR(p.out.buf, "to stdout\nto stderr\nstdin 0\n",
		  "stdout and stderr are merged in order; stdin is /dev/null");
	process_release(&p);

	t0 = ms_now();
	fake_args(&p, "bytes", "5000000", "err", "end", NULL);
	CHECK(process_run(&p, 5000, &r) == 0 && r.exited && r.exit_code == 0,
	      "5 MB of output does not deadlock");
	CHECK(p.out.len == 5000004 && !p.out_truncated && ends_with(p.out.buf, "end\n"),
	      "all of it is captured (%zu bytes, %lld ms)", p.out.len, ms_now() - t0);
	process_release(&p);

	fake_args(&p, "bytes", "300000", "exit", "2", NULL);
	p.output_cap = 1000;
	CHECK(process_run(&p, 5000, &r) == 0 && r.exit_code == 2, "a capped capture still waits");
	CHECK(p.out.len == 1000 && p.out_truncated && p.out_total == 300000,
	      "the cap keeps the first 1000 bytes and records the truncation");
	process_release(&p);

	fake_args(&p, "bytes", "300000", NULL);
	p.output = PROCESS_OUTPUT_NULL;
	CHECK(process_run(&p, 5000, &r) == 0 && r.exit_code == 0 && p.out.len == 0,
	      "output to /dev/null is dropped");
	process_release(&p);
}

/* `input`: the child's stdin holds these bytes, then ends; too many is refused. */
static void test_input(void)
{
	static char big[PROCESS_INPUT_MAX + 1];
	struct process p;
	struct process_result r;

	fake_args(&p, "stdin", NULL);
	p.input = "127.0.0.1:5001";
	p.input_len = strlen(p.input);
	CHECK(process_run(&p, 5000, &r) == 0 && r.exit_code == 0, "a child given input runs");
	CHECK_STR(p.out.buf, "stdin 14\n", "it reads the input, then end of file");
	process_release(&p);

	memset(big, 'x', sizeof(big));
	fake_args(&p, "stdin", NULL);
	p.input = big;
	p.input_len = PROCESS_INPUT_MAX;
	CHECK(process_run(&p, 5000, &r) == 0 && !strcmp(p.out.buf, "stdin 4096\n"),
	      "PROCESS_INPUT_MAX bytes of input: %s", p.out.buf);
	process_release(&p);

	fake_args(&p, "stdin", NULL);
	p.input = big;
	p.input_len = sizeof(big);
	CHECK(process_start(&p) < 0 && p.pid < 0, "more input than PROCESS_INPUT_MAX: no child");
	CHECK(strstr(error_last(), "4097 bytes of input, more than 4096") != NULL,
	      "its message: %s", error_last());
	process_release(&p);
}

static void test_env_cwd(void)
{
	struct process p;
	struct process_result r;
	struct strbuf path = STRBUF_INIT;

	setenv("GS_TEST_UNSET", "present", 1);
	setenv("GS_TEST_OVER", "old", 1);
	fake_args(&p, "env", "GS_TEST_NEW", "env", "GS_TEST_UNSET", "env", "GS_TEST_OVER", "env",
		  "HOME", "cwd", NULL);
	vec_pushstr(&p.env, "GS_TEST_NEW=a=b");
	vec_pushstr(&p.env, "GS_TEST_UNSET");
	vec_pushstr(&p.env, "GS_TEST_OVER=new");
	p.cwd = "/tmp";
	process_run(&p, 0, &r);
	strbuf_addf(&path,
		    "GS_TEST_NEW=a=b\nGS_TEST_UNSET unset\nGS_TEST_OVER=new\nHOME=%s\n/tmp\n",
		    getenv("HOME") ? getenv("HOME") : "");
	if (!getenv("HOME"))
		path.len = 0, strbuf_addf(&path, "GS_TEST_NEW=a=b\nGS_TEST_UNSET unset\n"
						 "GS_TEST_OVER=new\nHOME unset\n/tmp\n");
	CHECK_STR(p.out.buf, path.buf, "env sets, unsets and overrides; cwd is applied");
	process_release(&p);
	unsetenv("GS_TEST_UNSET");
	unsetenv("GS_TEST_OVER");

	/* PATH from the child's env decides where the program is found. */
	process_init(&p);
	vec_pushstr(&p.argv, "fake_child");
	vec_pushstr(&p.argv, "out");
	vec_pushstr(&p.argv, "found");
	vec_pushf(&p.env, "PATH=%s", fake_dir);
	CHECK(process_run(&p, 0, &r) == 0 && !strcmp(p.out.buf, "found\n"),
	      "the program is looked up on the child's PATH");
	process_release(&p);
	strbuf_release(&path);
}

struct lines {
	int n;
	struct strbuf all;
};

static void on_line(void *data, const char *line)
{
	struct lines *l = data;

	l->n++;
	strbuf_addf(&l->all, "[%s]", line);
}

static void test_lines_and_file(void)
{
	struct process p;
	struct process_result r;
	struct lines l = {0, STRBUF_INIT};
	char log[] = "/tmp/gs-test-log-XXXXXX";
	struct strbuf content = STRBUF_INIT;
	int fd = mkstemp(log);

	close(fd);
	fake_args(&p, "out", "#5 [builder 2/7] RUN make", "out", "crlf\r", "bytes", "5000", "out",
		  "", NULL);
	p.output = PROCESS_OUTPUT_FILE;
	p.output_path = log;
	p.on_line = on_line;
	p.on_line_data = &l;
	CHECK(process_run(&p, 0, &r) == 0 && r.exit_code == 0, "a child logging to a file runs");
	CHECK(l.n == 53, "on_line sees every line (%d)", l.n);
	CHECK(starts_with(l.all.buf, "[#5 [builder 2/7] RUN make][crlf][xxx"),
	      "lines come without their newline or carriage return");
	process_release(&p);

	fake_args(&p, "out", "second run", NULL);
	p.output = PROCESS_OUTPUT_FILE;
	p.output_path = log;
	process_run(&p, 0, &r);
	process_release(&p);
	fs_read_file(log, &content, 0);
	CHECK(content.len == 26 + 6 + 5000 + 1 + 11 && ends_with(content.buf, "\n\nsecond run\n"),
	      "the log file is appended to, not truncated (%zu bytes)", content.len);
	unlink(log);

	fake_args(&p, "out", "x", NULL);
	p.output = PROCESS_OUTPUT_FILE;
	p.output_path = "/nonexistent-dir/log";
	CHECK(process_run(&p, 0, &r) < 0, "an unwritable log fails the start");
	CHECK(starts_with(error_last(), "cannot open '/nonexistent-dir/log': no such file"),
	      "and names the log: %s", error_last());
	process_release(&p);
	strbuf_release(&l.all);
	strbuf_release(&content);
}

static void test_timeout_group(void)
{
	struct process p;
	struct process_result r;
	long long t0 = ms_now();
	pid_t child, grandchild;

	/* The child ignores SIGTERM and leaves a grandchild that ignores it too. */
	fake_args(&p, "pid", "grandchild", "ignore-term", "sleep", "600000", NULL);
	p.new_pgroup = 1;
	p.kill_grace_ms = 200;
	CHECK(process_run(&p, 200, &r) == 0, "a child past its timeout is waited for");
	CHECK(r.timed_out && r.signaled && r.signal == SIGKILL,
	      "it gets SIGKILL after ignoring SIGTERM for the grace period");
	child = (pid_t)fake_field(p.out.buf, "pid");
	grandchild = (pid_t)fake_field(p.out.buf, "grandchild");
	CHECK(child > 0 && grandchild > 0 && !pid_alive(child) && !pid_alive(grandchild),
	      "nothing of the group survives (grandchild %ld)", (long)grandchild);
	CHECK(ms_now() - t0 < 60000, "the timeout, not the 600 s sleep, ended it (%lld ms)",
	      ms_now() - t0);
	process_check_result(&p, &r);
	CHECK(strstr(error_last(), "' timed out after 200 ms") != NULL, "the timeout message");
	process_release(&p);

	fake_args(&p, "sleep", "600000", NULL);
	p.new_pgroup = 1;
	/* A grace of 600 s: waiting it out would show, on any load. */
	p.kill_grace_ms = 600000;
	t0 = ms_now();
	CHECK(process_run(&p, 100, &r) == 0 && r.timed_out && r.signaled && r.signal == SIGTERM,
	      "a child that obeys SIGTERM dies of it, without waiting the grace");
	CHECK(ms_now() - t0 < 60000, "in %lld ms", ms_now() - t0);
	process_release(&p);

	/* A clean exit that leaves a grandchild holding the pipe. */
	fake_args(&p, "grandchild", "out", "bye", NULL);
	p.new_pgroup = 1;
	t0 = ms_now();
	CHECK(process_run(&p, 0, &r) == 0 && r.exited && r.exit_code == 0 && !r.timed_out,
	      "a child that exits leaving a grandchild is a clean exit");
	grandchild = (pid_t)fake_field(p.out.buf, "grandchild");
	CHECK(grandchild > 0 && !pid_alive(grandchild) && ms_now() - t0 < 60000,
	      "its leftover grandchild is killed after a short linger (%lld ms)", ms_now() - t0);
	process_release(&p);
}

static void test_cancel_kill_release(void)
{
	struct process p;
	struct process_result r;
	int fds[2];
	pid_t pid;

	if (pipe(fds) < 0) {
		CHECK(0, "pipe: %s", strerror(errno));
		return;
	}
	fake_args(&p, "sleep", "600000", NULL);
	p.new_pgroup = 1;
	p.cancel_fd = fds[0];
	CHECK(process_start(&p) == 0, "start a sleeper");
	CHECK(write(fds[1], "x", 1) == 1, "cancel it");
	CHECK(process_wait(&p, 0, &r) == 0 && r.cancelled && !r.timed_out && r.signal == SIGTERM,
	      "a readable cancel_fd terminates the child");
	process_check_result(&p, &r);
	CHECK(strstr(error_last(), "' was cancelled") != NULL, "the cancel message");
	process_release(&p);
	close(fds[0]);
	close(fds[1]);

	fake_args(&p, "sleep", "600000", NULL);
	process_start(&p);
	CHECK(process_kill_group(&p, SIGTERM) == 0, "process_kill_group signals the child");
	CHECK(process_wait(&p, 0, &r) == 0 && r.signaled && r.signal == SIGTERM && !r.cancelled,
	      "which dies of the signal");
	CHECK(process_kill_group(&p, SIGTERM) < 0, "a reaped child cannot be signalled");
	process_release(&p);

	fake_args(&p, "sleep", "600000", NULL);
	p.new_pgroup = 1;
	p.output = PROCESS_OUTPUT_INHERIT;
	process_start(&p);
	pid = p.pid;
	process_release(&p);
	CHECK(!pid_alive(pid) && no_children_left(),
	      "releasing a running process kills and reaps it");

	signal(SIGCHLD, SIG_IGN); /* the kernel reaps children itself */
	fake_args(&p, "exit", "0", NULL);
	CHECK(process_run(&p, 0, &r) < 0 && !r.exited,
	      "a lost exit status is an error, not a success");
	CHECK(ends_with(error_last(), "': its exit status was taken elsewhere"), "its message: %s",
	      error_last());
	process_release(&p);
	signal(SIGCHLD, SIG_DFL);
}

/* PROCESS_OUTPUT_PIPE: stdout streamed through stdout_fd, stderr captured apart,
 * a stderr larger than a pipe does not block the child while stdout is read. */
static void test_stdout_pipe(void)
{
	struct process p;
	struct process_result res;
	char buf[65536];
	size_t total = 0;
	long n;

	process_init(&p);
	vec_pushstr(&p.argv, "sh");
	vec_pushstr(&p.argv, "-c");
	vec_pushstr(&p.argv, "head -c 200000 /dev/zero >&2; head -c 3000000 /dev/zero; "
			     "echo done >&2; exit 3");
	p.output = PROCESS_OUTPUT_PIPE;
	p.stdin_null = 1;
	CHECK(process_start(&p) == 0 && p.stdout_fd >= 0, "pipe: started, stdout_fd open");
	while ((n = process_read_stdout(&p, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	CHECK(total == 3000000, "pipe: every stdout byte read (%zu)", total);
	CHECK(process_wait(&p, 10000, &res) == 0 && res.exited && res.exit_code == 3,
	      "pipe: exit code kept");
	CHECK(p.out_total == 200005 && p.out.len == 200005 &&
		  !memcmp(p.out.buf + p.out.len - 5, "done\n", 5),
	      "pipe: stderr captured apart (%zu bytes)", p.out_total);
	process_release(&p);
	CHECK(p.stdout_fd == -1, "pipe: release closes stdout_fd");
}

/* A reader blocked on a silent child returns once cancel_fd is readable, and
 * the wait then terminates the child's group (SIGINT while `docker save` runs). */
static void test_stdout_pipe_cancel(void)
{
	struct process p;
	struct process_result res;
	char buf[256];
	int fds[2];
	long n;

	if (pipe(fds) < 0) {
		CHECK(0, "pipe: %s", strerror(errno));
		return;
	}
	fake_args(&p, "sleep", "600000", NULL);
	p.output = PROCESS_OUTPUT_PIPE;
	p.stdin_null = 1;
	p.new_pgroup = 1;
	p.cancel_fd = fds[0];
	CHECK(process_start(&p) == 0, "pipe cancel: a silent child started");
	CHECK(write(fds[1], "x", 1) == 1, "pipe cancel: cancel it");
	n = process_read_stdout(&p, buf, sizeof(buf));
	CHECK(n < 0 && ends_with(error_last(), "' was interrupted"),
	      "pipe cancel: the blocked read returns 'was interrupted' (%ld, %s)", n, error_last());
	CHECK(process_wait(&p, 10000, &res) == 0 && res.cancelled && res.signal == SIGTERM,
	      "pipe cancel: the wait terminates the group");
	process_release(&p);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	long long t0 = ms_now();

	signal(SIGPIPE, SIG_IGN); /* children must not inherit this */
	fake = fake_build();
	if (!fake) {
		CHECK(0, "build tests/fake/fake_child.c");
		return unit_done();
	}
	test_exit_and_signal();
	test_exec_failure();
	test_capture();
	test_input();
	test_env_cwd();
	test_lines_and_file();
	test_timeout_group();
	test_cancel_kill_release();
	test_stdout_pipe();
	test_stdout_pipe_cancel();
	CHECK(no_children_left(), "no child is left to reap");
	printf("# test_process took %lld ms\n", ms_now() - t0);
	fake_cleanup();
	return unit_done();
}
