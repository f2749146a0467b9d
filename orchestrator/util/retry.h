#ifndef GS_RETRY_H
#define GS_RETRY_H

/*
 * When and how long to wait before asking a server again: one policy for
 * the registry client and the package index client. Transient failures are
 * retried (HTTP 408, 425, 429, 500, 502, 503, 504; connection refused or
 * reset, timeouts, a body cut short); everything else is final. The wait
 * is Retry-After when the server sends one (seconds or an HTTP date),
 * capped, else exponential backoff with jitter; a retry that would take
 * the whole exchange past the policy's total is not made.
 *
 * The defaults can be changed for a run with GPUSLIM_RETRIES (attempts in
 * all, 1 = no retry) and GPUSLIM_RETRY_MAX_WAIT (seconds, total).
 */

#include <stddef.h>

struct retry_policy {
	unsigned attempts; /* in all, first included; 0: the default (4) */
	long base_ms;	   /* first backoff; 0: 500 */
	long cap_ms;	   /* longest single wait (Retry-After included); 0: 10000 */
	long total_ms;	   /* longest sum of waits; 0: none may be made */
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

/* Sleep, restarting on EINTR. */
void retry_sleep_ms(long ms);

#endif
