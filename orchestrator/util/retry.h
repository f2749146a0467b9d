#ifndef GS_RETRY_H
#define GS_RETRY_H

/*
 * When and how long to wait before asking a server again: one policy for
 * the registry client and the package index client. Transient failures are
 * retried (HTTP 408, 425, 429, 500, 502, 503, 504; connection refused or
 * reset, timeouts, a body cut short); everything else is final. The wait
 * is Retry-After when the server sends one (delay-seconds or an HTTP date
 * in any of RFC 9110's three formats), else exponential backoff with
 * "equal jitter" (base * 2^(tries-1), capped, then between half and all of
 * it); a wait longer than cap_ms (a Retry-After asking for more patience
 * than the policy has) or one that would take the sum of the waits past
 * total_ms is not made: the last answer is final.
 *
 * The defaults can be changed for a run with GPUSLIM_RETRIES (tries in
 * all, 1..100, 1 = no retry; default 4) and GPUSLIM_RETRY_MAX_WAIT
 * (seconds of waiting in all, 0..3600, 0 = no waiting; default 30). A
 * value that is not a number in range is ignored. The time of the tries
 * themselves is bounded by the clients' timeouts (GPUSLIM_HTTP_TIMEOUT_MS),
 * so one exchange takes at most tries * timeout + total_ms.
 *
 * Thread safety: every function may be called from any thread; the
 * jitter's random state is per thread.
 */

#include <stddef.h>

struct retry_policy {
	unsigned attempts; /* in all, first included; 0: the default (4) */
	long base_ms;	   /* first backoff; 0 or less: 500 */
	long cap_ms;	   /* longest single wait (Retry-After included); 0 or less: 10000 */
	long total_ms;	   /* longest sum of waits; 0: none may be made; negative: 30000 */
};

/* The process's policy: the defaults with the environment's overrides. */
void retry_policy_default(struct retry_policy *p);

/* 1 when an exchange that ended with libcurl code `curl_code` (CURLcode,
 * 0 when the transfer completed) and HTTP status `status` (0 when none)
 * is worth another try. */
int retry_transient(int curl_code, long status);

/*
 * Milliseconds to wait before try number `attempt` + 1 (attempt counts the
 * tries made so far, from 1), given the response's Retry-After header
 * (NULL when none) and the milliseconds already waited; -1 when no further
 * try is to be made (attempts or total spent, or a Retry-After longer than
 * cap_ms: the server asks for more patience than the policy has).
 */
long retry_delay_ms(const struct retry_policy *p, unsigned attempt, const char *retry_after,
		    long waited_ms);

/* What a Retry-After value asks for, in milliseconds (an HTTP date in the
 * past is 0, a delay over a day is a day); -1 when it is neither
 * delay-seconds nor an HTTP date. */
long retry_after_ms(const char *retry_after);

/* Sleep, restarting on EINTR; a signal that util/signals caught (Ctrl-C)
 * ends the sleep early, so the caller should check signals_caught(). */
void retry_sleep_ms(long ms);

/* The HTTP timeout a client uses: GPUSLIM_HTTP_TIMEOUT_MS (1..3600000)
 * when set and valid, else `dflt`. */
long retry_http_timeout_ms(long dflt);

/* The standard reason phrase of an HTTP status ("Service Unavailable"),
 * "" for one it does not know; never what the server sent, which could
 * say anything. */
const char *retry_status_reason(long status);

#endif
