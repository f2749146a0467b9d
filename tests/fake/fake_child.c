/*
 * A child program for the process and executor tests: it runs its arguments
 * as a little script of actions, in order, so that a test can make it print,
 * sleep, exit with a code, die of a signal, ignore SIGTERM or leave a
 * grandchild behind.
 *
 *   pid               print "pid N"
 *   out TEXT          print TEXT on stdout      err TEXT   the same on stderr
 *   bytes N           print N bytes ('x', a newline every 100)
 *   sleep MS          sleep MS milliseconds
 *   stamp             print "stamp NS" (CLOCK_MONOTONIC, comparable across processes)
 *   exit N            exit with code N
 *   kill SIG          raise signal SIG
 *   ignore-term       ignore SIGTERM from now on
 *   grandchild        fork a child (in this process group) that ignores SIGTERM and
 *                     sleeps 600 s holding stdout; print "grandchild N"
 *   env NAME          print "NAME=value" or "NAME unset"
 *   cwd               print the working directory
 *   stdin             print "stdin N" with the number of bytes read from stdin
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0)
		;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *arg = i + 1 < argc ? argv[i + 1] : "";

		if (!strcmp(a, "pid")) {
			printf("pid %ld\n", (long)getpid());
		} else if (!strcmp(a, "out")) {
			printf("%s\n", arg), i++;
		} else if (!strcmp(a, "err")) {
			fprintf(stderr, "%s\n", arg), i++;
		} else if (!strcmp(a, "bytes")) {
			static char line[100];
			long n = atol(arg);

			memset(line, 'x', sizeof(line) - 1);
			line[sizeof(line) - 1] = '\n';
			for (; n > 0; n -= (long)sizeof(line))
				fwrite(line, 1, n < (long)sizeof(line) ? (size_t)n : sizeof(line),
				       stdout);
			i++;
		} else if (!strcmp(a, "sleep")) {
			sleep_ms(atol(arg)), i++;
		} else if (!strcmp(a, "stamp")) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			printf("stamp %lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
		} else if (!strcmp(a, "exit")) {
			return atoi(arg);
		} else if (!strcmp(a, "kill")) {
			signal(atoi(arg), SIG_DFL);
			raise(atoi(arg)), i++;
		} else if (!strcmp(a, "ignore-term")) {
			signal(SIGTERM, SIG_IGN);
		} else if (!strcmp(a, "grandchild")) {
			pid_t pid = fork();

			if (pid == 0) {
				signal(SIGTERM, SIG_IGN);
				sleep_ms(600000);
				_exit(0);
			}
			printf("grandchild %ld\n", (long)pid);
		} else if (!strcmp(a, "env")) {
			const char *v = getenv(arg);

			if (v)
				printf("%s=%s\n", arg, v);
			else
				printf("%s unset\n", arg);
			i++;
		} else if (!strcmp(a, "cwd")) {
			char buf[4096];

			printf("%s\n", getcwd(buf, sizeof(buf)) ? buf : "?");
		} else if (!strcmp(a, "stdin")) {
			char buf[4096];
			long total = 0;
			ssize_t n;

			while ((n = read(0, buf, sizeof(buf))) > 0)
				total += n;
			printf("stdin %ld\n", total);
		} else {
			fprintf(stderr, "fake_child: unknown action '%s'\n", a);
			return 99;
		}
	}
	return 0;
}
