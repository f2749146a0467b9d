#ifndef GS_SIGNALS_H
#define GS_SIGNALS_H

/*
 * Turning SIGINT, SIGTERM and SIGHUP into data. The handler only records the
 * first signal and writes one byte to a self-pipe (async-signal-safe both);
 * the code that waits (executor_run's poll) watches signals_fd() and does the
 * cleanup on an ordinary thread. Repeated signals are recorded once: cleanup
 * is bounded by the executor's SIGTERM-to-SIGKILL grace, not cut short.
 *
 * Ownership: the module owns the pipe and the previous handlers; install
 * once from the main thread, before starting threads, and uninstall at exit.
 */

/* Install the handlers; calling it again while installed is a no-op. */
int signals_install(void);
/* Restore the previous handlers and close the pipe. */
void signals_uninstall(void);
/* The read end of the self-pipe (readable once a signal came), -1 when not installed. */
int signals_fd(void);
/* The first signal caught since install or signals_clear(), 0 when none. */
int signals_caught(void);
/* Forget the caught signal and drain the pipe. */
void signals_clear(void);

#endif
