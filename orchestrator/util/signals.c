#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "util/signals.h"

static const int handled[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NHANDLED (sizeof(handled) / sizeof(handled[0]))

static struct sigaction previous[NHANDLED];
static int pipe_fds[2] = {-1, -1};
static int installed;
/* Lock-free atomics are the one shared state C11 allows a handler to touch. */
static atomic_int caught;

static void on_signal(int sig)
{
	int saved = errno;
	int none = 0;
	ssize_t n;

	atomic_compare_exchange_strong(&caught, &none, sig);
	n = write(pipe_fds[1], "", 1); /* a full pipe already says enough */
	(void)n;
	errno = saved;
}

int signals_install(void)
{
	struct sigaction sa;
	size_t i;

	if (installed)
		return 0;
	if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return error_set("cannot create the signal pipe: %s", strerror(errno));
	atomic_store(&caught, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < NHANDLED; i++)
		sigaction(handled[i], &sa, &previous[i]);
	installed = 1;
	return 0;
}

void signals_uninstall(void)
{
	if (!installed)
		return;
	for (size_t i = 0; i < NHANDLED; i++)
		sigaction(handled[i], &previous[i], NULL);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	pipe_fds[0] = pipe_fds[1] = -1;
	installed = 0;
}

int signals_fd(void)
{
	return installed ? pipe_fds[0] : -1;
}

int signals_caught(void)
{
	return atomic_load(&caught);
}

void signals_clear(void)
{
	char buf[64];

	atomic_store(&caught, 0);
	if (installed)
		while (read(pipe_fds[0], buf, sizeof(buf)) > 0)
			;
}
